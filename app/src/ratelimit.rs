//! Counting failures (wrong passwords) per key in a fixed window. A key that has failed `max`
//! times is refused until its window ends, even with the right password, so guessing stays slow.
//! Kept in memory: on several nodes each node counts its own share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct FailureLimiter {
    max: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while `key` is locked out.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    pub fn record_failure(&self, key: &str) {
        self.record_failure_at(key, Instant::now())
    }

    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        // A panic while holding this lock cannot leave the map inconsistent; keep serving.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.lock().get(key) {
            Some(&(count, start)) if count >= self.max => {
                let ends = start + self.window;
                if now < ends {
                    Err(ends - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, start)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("vasya", t0).is_ok());
            limiter.record_failure_at("vasya", t0);
        }
        let retry = limiter
            .check_at("vasya", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(
            limiter.check_at("petya", t0).is_ok(),
            "other keys are not affected"
        );
        assert!(limiter
            .check_at("vasya", t0 + Duration::from_secs(61))
            .is_ok());
        limiter.record_failure_at("vasya", t0 + Duration::from_secs(61));
        assert!(
            limiter
                .check_at("vasya", t0 + Duration::from_secs(62))
                .is_ok(),
            "new window"
        );
    }

    #[test]
    fn reset_clears_a_key() {
        let limiter = FailureLimiter::new(1, Duration::from_secs(60));
        limiter.record_failure("k");
        assert!(limiter.check("k").is_err());
        limiter.reset("k");
        assert!(limiter.check("k").is_ok());
    }
}
