//! Attempt budgets: a key (an account and a client, a room, an address…) may spend `max`
//! attempts per window. An attempt is taken out of the budget *before* the guarded work (a
//! password check, a registration) in one atomic upsert, so fifty parallel requests cannot all
//! pass a check that none of them has been counted in yet; a success may give its attempt back.
//! The counts live in the database (`attempt_budgets`), so a limit holds across every node.

use crate::dates::now_ms;
use crate::db::Db;
use crate::error::AppError;
use std::time::Duration;

/// A budget's count after spending one attempt.
#[derive(Debug, sqlx::FromRow)]
struct SpentRow {
    spent: i64,
    window_started_at: i64,
}

/// A limit: `max` attempts per `window` for each key of one `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Names the limit in the key, so two limits never share a count.
    pub kind: &'static str,
    pub max: u32,
    pub window: Duration,
}

/// An attempt that was allowed, to give back if it succeeded.
#[derive(Debug)]
#[must_use = "an allowed attempt may be given back on success"]
pub struct Attempt {
    key: String,
}

impl Budget {
    pub const fn new(kind: &'static str, max: u32, window: Duration) -> Self {
        Self { kind, max, window }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.kind)
    }

    /// Spends one attempt of `key`'s budget; `RateLimited` (with the seconds until the window
    /// ends) when it is used up. A refused attempt is counted too, and changes nothing.
    pub async fn take(&self, db: &Db, key: &str) -> Result<Attempt, AppError> {
        let key = self.key(key);
        let now = now_ms();
        let window_ms = self.window.as_millis() as i64;
        let SpentRow {
            spent,
            window_started_at: started,
        } = sqlx::query_as::<_, SpentRow>(
            "INSERT INTO attempt_budgets (key, window_started_at, spent) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               spent = CASE WHEN attempt_budgets.window_started_at <= $3 THEN 1 \
                            ELSE attempt_budgets.spent + 1 END, \
               window_started_at = CASE WHEN attempt_budgets.window_started_at <= $3 THEN $2 \
                                        ELSE attempt_budgets.window_started_at END \
             RETURNING spent, window_started_at",
        )
        .bind(&key)
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(&db.pool)
        .await?;
        if spent > i64::from(self.max) {
            let left_ms = (started + window_ms - now).max(1000);
            return Err(AppError::RateLimited {
                retry_after_secs: (left_ms as u64).div_ceil(1000),
            });
        }
        Ok(Attempt { key })
    }

    /// How many attempts `key` has spent in its current window (0 once the window has ended).
    pub async fn spent(&self, db: &Db, key: &str) -> Result<u32, AppError> {
        let since = now_ms() - self.window.as_millis() as i64;
        let spent: Option<i64> = sqlx::query_scalar(
            "SELECT spent FROM attempt_budgets WHERE key = $1 AND window_started_at > $2",
        )
        .bind(self.key(key))
        .bind(since)
        .fetch_optional(&db.pool)
        .await?;
        Ok(match spent {
            Some(spent) => u32::try_from(spent).unwrap_or(u32::MAX),
            None => 0,
        })
    }
}

impl Attempt {
    /// Gives the attempt back (the right password: only failures should use the budget up).
    pub async fn give_back(self, db: &Db) -> Result<(), AppError> {
        sqlx::query("UPDATE attempt_budgets SET spent = spent - 1 WHERE key = $1 AND spent > 0")
            .bind(&self.key)
            .execute(&db.pool)
            .await?;
        Ok(())
    }
}

/// Deletes budgets whose window ended long ago (the maintenance job calls it).
pub async fn forget_old(db: &Db, older_than: Duration) -> Result<u64, sqlx::Error> {
    let before = now_ms() - older_than.as_millis() as i64;
    let done = sqlx::query("DELETE FROM attempt_budgets WHERE window_started_at < $1")
        .bind(before)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}
