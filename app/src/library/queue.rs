//! The transcoding work queue: one table (`media_jobs`) in the same database as everything else,
//! so it needs no other service and survives restarts.
//!
//! A worker *claims* a job: it sets the state to `running`, its own name and a lease (a time by
//! which it promises to say it is still alive). While the job runs, a heartbeat renews the lease
//! and writes the progress; when a worker dies, its lease runs out and another worker claims the
//! job again. Two workers never take the same job: on PostgreSQL the claim skips rows another
//! transaction holds (`FOR UPDATE SKIP LOCKED`), on SQLite it runs inside `BEGIN IMMEDIATE`,
//! which makes the claiming transactions take turns.
//!
//! (The published Rust job-queue crates either need sqlx 0.9 or PostgreSQL only; a table of our
//! own is a few statements and works on both databases.)

use super::domain::{JobKind, JobState, JobView};
use crate::dates::now_ms;
use crate::db::{Backend, Db};

/// A failed attempt is tried again this many times in all, with a growing pause between.
pub const MAX_ATTEMPTS: i64 = 3;
/// How long a claim holds without a heartbeat.
pub const LEASE_MS: i64 = 30_000;
/// The first pause after a failed attempt; it doubles with each attempt.
const BACKOFF_MS: i64 = 15_000;

/// A job a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    pub film_id: String,
    pub kind: JobKind,
    /// This attempt's number, from 1.
    pub attempt: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    film_id: String,
    kind: String,
    height: i64,
    container: String,
    attempts: i64,
}

/// Adds a job for `film_id` (or, when the film already has that job, queues it again from the
/// start: a new source replaces the old one's work).
pub async fn enqueue(db: &Db, film_id: &str, kind: JobKind) -> Result<(), sqlx::Error> {
    let (name, height, container) = kind.columns();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO media_jobs (id, film_id, kind, height, container, state, priority, run_after, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $7, $7) \
         ON CONFLICT (film_id, kind, height, container) DO UPDATE SET state = 'queued', \
         progress = 0, attempts = 0, run_after = $7, lease_until = 0, worker = NULL, error = NULL, \
         updated_at = $7",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(film_id)
    .bind(name)
    .bind(height)
    .bind(container)
    .bind(kind.priority())
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Jobs that may be claimed at `$3`: queued and due, or running with a lease that ran out.
const CLAIMABLE: &str =
    "(state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)";

/// Takes the most urgent job that is due, for `worker`, or `None` when there is none.
pub async fn claim(db: &Db, worker: &str) -> Result<Option<Claimed>, sqlx::Error> {
    let now = now_ms();
    let row = match db.backend {
        Backend::Postgres => {
            let sql = format!(
                "UPDATE media_jobs SET state = 'running', worker = $1, lease_until = $2, \
                 attempts = attempts + 1, progress = 0, updated_at = $3 \
                 WHERE id = (SELECT id FROM media_jobs WHERE {CLAIMABLE} \
                 ORDER BY priority, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, film_id, kind, height, container, attempts"
            );
            sqlx::query_as::<_, ClaimedRow>(&sql)
                .bind(worker)
                .bind(now + LEASE_MS)
                .bind(now)
                .fetch_optional(&db.pool)
                .await?
        }
        Backend::Sqlite => {
            // IMMEDIATE takes the write lock at BEGIN, so two claims cannot both read the same
            // row as free before either writes.
            let mut tx = db.pool.begin_with("BEGIN IMMEDIATE").await?;
            let sql = format!(
                "UPDATE media_jobs SET state = 'running', worker = $1, lease_until = $2, \
                 attempts = attempts + 1, progress = 0, updated_at = $3 \
                 WHERE id = (SELECT id FROM media_jobs WHERE {CLAIMABLE} \
                 ORDER BY priority, created_at LIMIT 1) \
                 RETURNING id, film_id, kind, height, container, attempts"
            );
            let row = sqlx::query_as::<_, ClaimedRow>(&sql)
                .bind(worker)
                .bind(now + LEASE_MS)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        }
    };
    let Some(row) = row else { return Ok(None) };
    let Some(kind) = JobKind::from_columns(&row.kind, row.height, &row.container) else {
        // Written by a newer version of Kino: leave it to that version.
        finish(
            db,
            &row.id,
            worker,
            Outcome::Failed(format!(
                "this version of Kino cannot do '{}' jobs",
                row.kind
            )),
        )
        .await?;
        return Ok(None);
    };
    let claimed = Claimed {
        id: row.id,
        film_id: row.film_id,
        kind,
        attempt: row.attempts,
    };
    if claimed.attempt > MAX_ATTEMPTS {
        // Its workers died each time (crashed, killed, out of memory): stop trying.
        finish(
            db,
            &claimed.id,
            worker,
            Outcome::Failed(format!(
                "the worker stopped {MAX_ATTEMPTS} times while doing this (crashed or was killed)"
            )),
        )
        .await?;
        return Ok(None);
    }
    Ok(Some(claimed))
}

/// Renews `worker`'s lease on a running job and records its progress (0..=1000). `false` when
/// the job is no longer this worker's (cancelled, or its lease ran out and someone else took it):
/// the worker must stop.
pub async fn heartbeat(
    db: &Db,
    job: &str,
    worker: &str,
    progress: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE media_jobs SET lease_until = $1, progress = $2, updated_at = $3 \
         WHERE id = $4 AND worker = $5 AND state = 'running'",
    )
    .bind(now + LEASE_MS)
    .bind(progress.clamp(0, 1000))
    .bind(now)
    .bind(job)
    .bind(worker)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Something that may pass on another try (a full disk, a network error, a killed process).
    Retry(String),
    /// Something that will not change by trying again (not a video, no video stream).
    Failed(String),
}

/// Records how `worker`'s attempt at `job` ended. `false` when the job was no longer this
/// worker's (cancelled meanwhile): nothing is recorded.
pub async fn finish(
    db: &Db,
    job: &str,
    worker: &str,
    outcome: Outcome,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let query = match &outcome {
        Outcome::Done => sqlx::query(
            "UPDATE media_jobs SET state = 'done', progress = 1000, lease_until = 0, \
             error = NULL, updated_at = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(job)
        .bind(worker),
        Outcome::Retry(error) => sqlx::query(
            "UPDATE media_jobs SET \
             state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END, \
             run_after = $2 + $3 * (CASE WHEN attempts >= 3 THEN 4 WHEN attempts = 2 THEN 2 \
             ELSE 1 END), lease_until = 0, error = $4, updated_at = $2 \
             WHERE id = $5 AND worker = $6 AND state = 'running'",
        )
        .bind(MAX_ATTEMPTS)
        .bind(now)
        .bind(BACKOFF_MS)
        .bind(error.as_str())
        .bind(job)
        .bind(worker),
        Outcome::Failed(error) => sqlx::query(
            "UPDATE media_jobs SET state = 'failed', lease_until = 0, error = $1, updated_at = $2 \
             WHERE id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(error.as_str())
        .bind(now)
        .bind(job)
        .bind(worker),
    };
    Ok(query.execute(&db.pool).await?.rows_affected() == 1)
}

/// "Retry": a failed or cancelled job starts again from its first attempt. `false` when the job
/// is not failed or cancelled (or does not exist).
pub async fn retry(db: &Db, job: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE media_jobs SET state = 'queued', attempts = 0, progress = 0, run_after = $1, \
         lease_until = 0, worker = NULL, error = NULL, updated_at = $1 \
         WHERE id = $2 AND state IN ('failed', 'cancelled')",
    )
    .bind(now)
    .bind(job)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// "Cancel": a queued job will not run; a running one is stopped by its worker's next heartbeat.
pub async fn cancel(db: &Db, job: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE media_jobs SET state = 'cancelled', lease_until = 0, updated_at = $1 \
         WHERE id = $2 AND state IN ('queued', 'running')",
    )
    .bind(now_ms())
    .bind(job)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a job is running under a live lease (its temporary files are in use).
pub async fn is_live(db: &Db, job: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 AS x FROM media_jobs WHERE id = $1 AND state = 'running' AND lease_until >= $2",
    )
    .bind(job)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Whether `id` names a job at all (temporary files are named after their job).
pub async fn is_job(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS x FROM media_jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    id: String,
    film_id: String,
    kind: String,
    height: i64,
    container: String,
    state: String,
    progress: i64,
    attempts: i64,
    error: Option<String>,
    updated_at: i64,
}

/// Every job of the films in the library (the newest films first), or of one film.
pub async fn jobs(db: &Db, film: Option<&str>) -> Result<Vec<JobView>, sqlx::Error> {
    let rows = sqlx::query_as::<_, JobRow>(
        "SELECT j.id, j.film_id, j.kind, j.height, j.container, j.state, j.progress, j.attempts, \
         j.error, j.updated_at FROM media_jobs j JOIN film_media m ON m.film_id = j.film_id \
         WHERE ($1 = '' OR j.film_id = $1) ORDER BY m.created_at DESC, j.priority, j.created_at",
    )
    .bind(film.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(JobView {
                kind: JobKind::from_columns(&row.kind, row.height, &row.container)?,
                id: row.id,
                film_id: row.film_id,
                state: JobState::parse(&row.state),
                progress: row.progress,
                attempts: row.attempts,
                error: row.error,
                updated_at: row.updated_at,
            })
        })
        .collect())
}
