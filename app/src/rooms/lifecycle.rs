//! The room lifecycle job: the server runs it every half minute, on every node. Each duty is
//! idempotent, and the one that notifies claims its rooms first, so several nodes do each
//! thing once.

use super::channel::{end_room, Hub, LogError};
use super::domain;
use crate::dates::now_ms;
use crate::db::{Db, Flag};
use crate::notifications::ssr::notify;
use crate::notifications::NotificationKind;
use crate::sync::Playback;
use std::time::Duration;

/// What one run of the lifecycle job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// Scheduled rooms whose invitees were told they began.
    pub started: u64,
    /// Rooms whose film reached its end.
    pub finished: u64,
    /// Rooms ended after their grace period.
    pub ended: u64,
    /// Ended rooms whose chat and events were deleted.
    pub purged: u64,
    /// Rooms whose next film was due yet had not started (its node stopped).
    pub next_started: u64,
}

/// `maintain_on` with no sockets to tell of the rooms it ends.
pub async fn maintain(
    db: &Db,
    grace: Duration,
    retention: Option<Duration>,
    now: i64,
) -> Result<Maintenance, sqlx::Error> {
    maintain_on(db, &Hub::default(), grace, retention, now).await
}

/// One run: tells invitees when a scheduled session begins, notes rooms whose film has finished,
/// ends finished rooms nobody has been in for `grace` (through the room log, so sockets in
/// `hub` hear of it at once), and deletes the chat and events of rooms ended longer ago than
/// `retention`. Each step is idempotent.
pub async fn maintain_on(
    db: &Db,
    hub: &Hub,
    grace: Duration,
    retention: Option<Duration>,
    now: i64,
) -> Result<Maintenance, sqlx::Error> {
    Ok(Maintenance {
        started: announce_starts(db, now).await?,
        finished: note_finished(db, now).await?,
        ended: end_idle(db, hub, grace, now).await?,
        purged: match retention {
            Some(retention) => purge(db, retention, now).await?,
            None => 0,
        },
        next_started: super::channel::start_due(db, hub, now).await?,
    })
}

/// Scheduled rooms that began: each invitee is told, once (the room is claimed first, so two
/// nodes running the job notify once).
async fn announce_starts(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let pool = &db.pool;
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, owner_id FROM rooms \
         WHERE starts_at IS NOT NULL AND starts_at <= $1 AND start_notified_at IS NULL \
           AND ended_at IS NULL",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut started = 0;
    for (room_id, owner_id) in &due {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE rooms SET start_notified_at = $1 WHERE id = $2 AND start_notified_at IS NULL",
        )
        .bind(now)
        .bind(room_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            let invitees: Vec<String> = sqlx::query_scalar(
                "SELECT user_id FROM room_members \
                 WHERE room_id = $1 AND user_id <> $2 AND removed_at IS NULL",
            )
            .bind(room_id)
            .bind(owner_id)
            .fetch_all(&mut *tx)
            .await?;
            for invitee in &invitees {
                let kind = NotificationKind::RoomStarting;
                notify(&mut *tx, invitee, kind, owner_id, Some(room_id)).await?;
            }
            started += 1;
        }
        tx.commit().await?;
    }
    Ok(started)
}

/// A running room's playback and its film's length.
#[derive(sqlx::FromRow)]
struct RunningRow {
    id: String,
    paused: Flag,
    position_ms: i64,
    anchor_ms: i64,
    rate: f64,
    duration_secs: i64,
}

/// Rooms whose film has finished: the room's position (as the channel ordered it) reached the
/// end.
async fn note_finished(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let running: Vec<RunningRow> = sqlx::query_as(
        "SELECT r.id, r.paused, r.position_ms, r.anchor_ms, r.rate, f.duration_secs \
         FROM rooms r JOIN films f ON f.id = r.film_id \
         WHERE r.ended_at IS NULL AND r.finished_at IS NULL AND r.last_seq > 0 \
           AND r.choosing = 0",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut finished = 0;
    for room in &running {
        let playback = Playback {
            paused: room.paused.0,
            position: room.position_ms as f64,
            anchor: room.anchor_ms as f64,
            rate: room.rate,
        };
        let duration_ms = room.duration_secs * 1000;
        if duration_ms > 0 && playback.expected(now as f64) >= duration_ms as f64 {
            sqlx::query("UPDATE rooms SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL")
                .bind(now)
                .bind(&room.id)
                .execute(&db.pool)
                .await?;
            finished += 1;
        }
    }
    Ok(finished)
}

/// Finished rooms nobody has been in for `grace`: ended through the room log.
async fn end_idle(db: &Db, hub: &Hub, grace: Duration, now: i64) -> Result<u64, sqlx::Error> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let finished: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT id, finished_at, last_active_at FROM rooms \
         WHERE ended_at IS NULL AND finished_at IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut ended = 0;
    for (room_id, finished_at, last_active_at) in &finished {
        if domain::grace_expired(*finished_at, *last_active_at, grace_ms, now) {
            match end_room(db, hub, room_id, now).await {
                Ok(()) => ended += 1,
                // Its owner ended it meanwhile.
                Err(LogError::Ended | LogError::Refused(_)) => {}
                Err(LogError::Db(e)) => return Err(e),
            }
        }
    }
    Ok(ended)
}

/// Rooms ended longer ago than `retention`: their chat and events are deleted.
async fn purge(db: &Db, retention: Duration, now: i64) -> Result<u64, sqlx::Error> {
    let cutoff = now - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2);
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "DELETE FROM room_events WHERE room_id IN \
         (SELECT id FROM rooms WHERE ended_at IS NOT NULL AND ended_at < $1)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    let purged = sqlx::query(
        "UPDATE rooms SET purged_at = $1 \
         WHERE ended_at IS NOT NULL AND ended_at < $2 AND purged_at IS NULL",
    )
    .bind(now)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(purged)
}

/// Runs `maintain_on` every `every` until the process ends, then removes the own videos of
/// purged rooms; a failed run is logged and retried.
pub async fn run_maintenance_on(
    db: Db,
    hub: std::sync::Arc<Hub>,
    library: std::sync::Arc<crate::library::ssr::Library>,
    grace: Duration,
    retention: Option<Duration>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match maintain_on(&db, &hub, grace, retention, now_ms()).await {
            Ok(report) if report != Maintenance::default() => {
                tracing::info!(?report, "room lifecycle")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "room lifecycle job failed"),
        }
        // Purged rooms' own videos go with their chat.
        match crate::library::own::forget_purged(&db, &library).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "purged rooms' own videos removed"),
            Err(e) => tracing::warn!(error = %e, "cannot remove purged rooms' own videos"),
        }
    }
}
