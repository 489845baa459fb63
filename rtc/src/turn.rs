//! Short-lived TURN credentials in coturn's "REST API" scheme.
//!
//! The media server itself does not relay through TURN (it has a public UDP
//! port); browsers behind strict firewalls do, and they need credentials that
//! expire so they cannot be reused forever. coturn (`use-auth-secret` +
//! `static-auth-secret`) checks them without any shared database.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Makes a TURN username/password pair valid until `now_unix + ttl_secs`.
///
/// The username is `"<expiry unix seconds>:<user>"` and the password is
/// `base64(HMAC-SHA1(secret, username))`, exactly what coturn recomputes when
/// it is configured with `use-auth-secret` and the same `static-auth-secret`.
/// Pass them to the browser as an `RTCIceServer { urls, username, credential }`.
pub fn turn_credentials(
    secret: &str,
    user: &str,
    now_unix: u64,
    ttl_secs: u64,
) -> (String, String) {
    let expiry = now_unix.saturating_add(ttl_secs);
    let username = format!("{expiry}:{user}");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA1 accepts keys of any length"),
    };
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::turn_credentials;

    /// Vector computed independently with Python:
    /// `python3 -c 'import hmac,hashlib,base64; u="1700086400:alice";
    ///  print(base64.b64encode(hmac.new(b"s3cr3t-turn", u.encode(), hashlib.sha1).digest()).decode())'`
    #[test]
    fn coturn_rest_vector() {
        let (user, pass) = turn_credentials("s3cr3t-turn", "alice", 1_700_000_000, 86_400);
        assert_eq!(user, "1700086400:alice");
        assert_eq!(pass, PY_PASSWORD);
    }

    #[test]
    fn expiry_saturates_instead_of_overflowing() {
        let (user, _) = turn_credentials("k", "bob", u64::MAX - 1, 10);
        assert_eq!(user, format!("{}:bob", u64::MAX));
    }

    const PY_PASSWORD: &str = "5PH/+Kuz2qMgeNdqP0QIv6NsJnM=";
}
