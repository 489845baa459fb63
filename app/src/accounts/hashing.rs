//! Password hashing on a few dedicated threads. argon2id with OWASP's parameters takes 19 MiB
//! and ~50 ms of CPU per hash; run on the blocking pool (up to 512 threads), 150 registrations
//! at once took gigabytes that stayed resident. Here at most `threads` hashes run at once, `queue`
//! more may wait, and anything beyond that is refused at once with `Busy` (503 and
//! `Retry-After`), so other requests keep answering. Each thread hashes in one 19 MiB buffer of
//! its own, allocated once: letting argon2 allocate per hash left glibc holding ~20 of those
//! blocks (420 MiB for two threads), never reused.

use super::domain::Password;
use crate::error::AppError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// The most memory a stored hash may ask for (a hash from elsewhere must not take gigabytes).
const MAX_BLOCKS: usize = 64 * 1024;

/// How long a refused caller is told to wait.
const BUSY_RETRY_SECS: u64 = 2;

pub struct HashPool {
    jobs: SyncSender<Job>,
}

impl HashPool {
    /// Starts `threads` hashing threads (at least one) that take jobs from a queue of `queue`.
    /// They end when the pool is dropped.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, inbox) = sync_channel::<Job>(queue);
        let inbox = Arc::new(Mutex::new(inbox));
        for n in 0..threads.max(1) {
            let inbox = inbox.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kino-hash-{n}"))
                .spawn(move || work(&inbox));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Worker) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move |worker| {
            let _ = done.send(job(worker));
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("password hashing queue is full: answering 503");
                return Err(AppError::Busy {
                    retry_after_secs: BUSY_RETRY_SECS,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("no password hashing thread is running");
                return Err(AppError::Internal);
            }
        }
        answer.await.map_err(|_| AppError::Internal)
    }

    /// Hashes a secret (an account or a room password) with argon2id.
    pub async fn hash(&self, secret: String) -> Result<String, AppError> {
        self.run(move |worker| {
            let salt = SaltString::generate(&mut OsRng);
            worker.hash(secret.as_bytes(), &salt)
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            AppError::Internal
        })
    }

    /// Checks a secret against a stored hash. `hash = None` (no such user) still spends the same
    /// work, so the answer time does not reveal whether a username exists.
    pub async fn verify(&self, secret: String, hash: Option<String>) -> Result<bool, AppError> {
        self.run(move |worker| {
            let stored = match &hash {
                Some(hash) => hash.clone(),
                None => dummy_hash(worker),
            };
            let ok = PasswordHash::new(&stored)
                .is_ok_and(|parsed| worker.verify(secret.as_bytes(), &parsed));
            ok && hash.is_some()
        })
        .await
    }
}

fn work(inbox: &Mutex<Receiver<Job>>) {
    let mut worker = Worker { blocks: Vec::new() };
    loop {
        // A panic in a job cannot leave the receiver inconsistent; keep serving.
        let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = next else { return };
        let run = std::panic::AssertUnwindSafe(|| job(&mut worker));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!("a password hashing job panicked");
        }
    }
}

/// One hashing thread's state: the argon2 memory, reused by every hash it computes.
pub struct Worker {
    blocks: Vec<Block>,
}

impl Worker {
    /// argon2id with OWASP's parameters (19 MiB, 2 iterations, 1 lane), as a PHC string.
    fn hash(&mut self, secret: &[u8], salt: &SaltString) -> argon2::password_hash::Result<String> {
        let params = Params::new(19 * 1024, 2, 1, None)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt: Salt<'_> = salt.as_salt();
        let output = self.compute(&argon2, secret, salt)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// Does `secret` hash to `stored` (with the parameters `stored` names)?
    fn verify(&mut self, secret: &[u8], stored: &PasswordHash<'_>) -> bool {
        let (Some(salt), Some(expected)) = (stored.salt, &stored.hash) else {
            return false;
        };
        let argon2 = match (
            Algorithm::try_from(stored.algorithm),
            stored.version.map(Version::try_from).transpose(),
            Params::try_from(stored),
        ) {
            (Ok(algorithm), Ok(version), Ok(params)) => {
                Argon2::new(algorithm, version.unwrap_or_default(), params)
            }
            _ => return false,
        };
        // `Output`'s equality is constant-time.
        self.compute(&argon2, secret, salt)
            .is_ok_and(|output| &output == expected)
    }

    fn compute(
        &mut self,
        argon2: &Argon2<'_>,
        secret: &[u8],
        salt: Salt<'_>,
    ) -> argon2::password_hash::Result<Output> {
        let needed = argon2.params().block_count();
        if needed > MAX_BLOCKS {
            return Err(argon2::password_hash::Error::ParamValueInvalid(
                argon2::password_hash::errors::InvalidValue::TooLong,
            ));
        }
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let len = argon2
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let blocks = &mut self.blocks[..needed];
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(secret, salt, out, &mut *blocks)
                .map_err(Into::into)
        })
    }
}

/// A hash of nothing anyone can type, verified in place of a missing account's.
fn dummy_hash(worker: &mut Worker) -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            worker.hash(b"no such user", &salt).unwrap_or_default()
        })
        .clone()
}

/// The hashing pool the server made (provided to every request).
fn pool() -> Arc<HashPool> {
    leptos::prelude::expect_context::<Arc<HashPool>>()
}

/// Hashes an account password (on the hashing threads; `Busy` when they are swamped).
pub async fn hash_password(password: &Password) -> Result<String, AppError> {
    hash_secret(password.expose().to_owned()).await
}

/// Hashes any secret (an account or a room password) with argon2id.
pub async fn hash_secret(secret: String) -> Result<String, AppError> {
    pool().hash(secret).await
}

/// Verifies a secret; `hash = None` (no such user) costs the same as a real check.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    pool().verify(password, hash).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_own_secret_and_read_the_standard_format() {
        let mut worker = Worker { blocks: Vec::new() };
        let salt = SaltString::generate(&mut OsRng);
        let hash = worker.hash(b"correct horse", &salt).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(worker.verify(b"correct horse", &parsed));
        assert!(!worker.verify(b"correct horsf", &parsed));
        // The argon2 crate's own hashes (every stored password so far) still verify.
        use argon2::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password(b"old one", &salt)
            .unwrap()
            .to_string();
        assert!(worker.verify(b"old one", &PasswordHash::new(&theirs).unwrap()));
        assert!(!worker.verify(b"old two", &PasswordHash::new(&theirs).unwrap()));
    }
}
