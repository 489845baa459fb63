//! Signed, expiring URLs for private media: a person's own video for a room is served only to
//! whoever holds a URL the server signed for a member of that room, and only until it expires.
//!
//! A stored URL `/media/private/<film>/<file>` is handed out as
//! `/media/private/<expires>/<signature>/<film>/<file>`, where the signature is an HMAC-SHA256
//! of the film's directory and the expiry (seconds since the epoch) under the instance's key.
//! The signature covers the film's whole directory, not one file, so the files a signed file
//! names relatively (the seek previews' index names its sprite) are reachable with the same
//! token. The key is made once per instance and kept in the database (`instance_secrets`), so
//! every node signs and checks alike.

use crate::db::Db;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where private films' files live under `--media-dir`, and the URL prefix they are served at.
pub const PRIVATE_DIR: &str = "private";
const PREFIX: &str = "/media/private/";
/// How long a signed URL works. The room's player asks for fresh ones when they run out.
pub const URL_LIFETIME_SECS: i64 = 4 * 3600;
/// Bytes of the HMAC kept in the URL (128 bits).
const SIGNATURE_BYTES: usize = 16;
const KEY_NAME: &str = "media_url_key";

/// Why a private media URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    Expired,
    Forged,
}

/// The instance's key for media URLs.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        SigningKey(bytes)
    }

    /// The instance's key: made by the first node that needs it, read by every other.
    pub async fn load(db: &Db) -> Result<Self, sqlx::Error> {
        use rand::RngCore;
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let fresh = base64::engine::general_purpose::STANDARD.encode(fresh);
        sqlx::query(
            "INSERT INTO instance_secrets (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(KEY_NAME)
        .bind(&fresh)
        .execute(&db.pool)
        .await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = $1")
                .bind(KEY_NAME)
                .fetch_one(&db.pool)
                .await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored.trim())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(SigningKey(bytes))
    }

    fn mac(&self, film: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(film.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A stored private URL made usable until `expires` (seconds since the epoch). Any other
    /// URL (a catalog film's, a demo clip's) is returned as it is.
    pub fn sign(&self, url: &str, expires: i64) -> String {
        let Some((film, file)) = url
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('/'))
        else {
            return url.to_owned();
        };
        let tag = self.mac(film, expires).finalize().into_bytes();
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..SIGNATURE_BYTES]);
        format!("{PREFIX}{expires}/{signature}/{film}/{file}")
    }

    /// Checks a signed URL's parts (compared in constant time) at `now` (seconds).
    pub fn verify(
        &self,
        expires: &str,
        signature: &str,
        film: &str,
        now: i64,
    ) -> Result<(), Refused> {
        let expires: i64 = expires.parse().map_err(|_| Refused::Malformed)?;
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refused::Malformed)?;
        if signature.len() != SIGNATURE_BYTES || film.is_empty() {
            return Err(Refused::Malformed);
        }
        self.mac(film, expires)
            .verify_truncated_left(&signature)
            .map_err(|_| Refused::Forged)?;
        if expires <= now {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

/// The URL path of a file in a private film's directory, as stored (unsigned).
pub fn private_url(film: &str, file: &str) -> String {
    format!("{PREFIX}{film}/{file}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    fn parts(url: &str) -> (String, String, String) {
        let rest = url.strip_prefix(PREFIX).unwrap();
        let mut it = rest.splitn(4, '/');
        (
            it.next().unwrap().into(),
            it.next().unwrap().into(),
            it.next().unwrap().into(),
        )
    }

    #[test]
    fn a_signed_url_is_accepted_until_it_expires() {
        let url = key().sign(&private_url("own-abc", "720.mp4"), 1_000);
        assert!(url.ends_with("/own-abc/720.mp4"), "{url}");
        let (expires, signature, film) = parts(&url);
        assert_eq!(key().verify(&expires, &signature, &film, 999), Ok(()));
        assert_eq!(
            key().verify(&expires, &signature, &film, 1_000),
            Err(Refused::Expired)
        );
    }

    #[test]
    fn another_film_a_later_expiry_or_another_key_is_refused() {
        let url = key().sign(&private_url("own-abc", "720.mp4"), 1_000);
        let (expires, signature, _) = parts(&url);
        assert_eq!(
            key().verify(&expires, &signature, "own-abd", 0),
            Err(Refused::Forged)
        );
        assert_eq!(
            key().verify("2000", &signature, "own-abc", 0),
            Err(Refused::Forged)
        );
        let other = SigningKey::from_bytes(b"another key".to_vec());
        assert_eq!(
            other.verify(&expires, &signature, "own-abc", 0),
            Err(Refused::Forged)
        );
        assert_eq!(
            key().verify("soon", &signature, "own-abc", 0),
            Err(Refused::Malformed)
        );
        assert_eq!(
            key().verify(&expires, "AAAA", "own-abc", 0),
            Err(Refused::Malformed)
        );
    }

    #[test]
    fn public_urls_are_left_alone() {
        assert_eq!(
            key().sign("/media/films/a/b.mp4", 5),
            "/media/films/a/b.mp4"
        );
        assert_eq!(key().sign("/media/demo.mp4", 5), "/media/demo.mp4");
    }
}
