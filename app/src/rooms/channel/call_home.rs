//! Where each room's call lives (`room_calls`): the node whose media server holds it, and that
//! server's address. A seat is taken on the node that serves the socket; the row says where the
//! call is, so with several nodes every participant of the room can be sent to that one media
//! server (a call's media cannot be split between two).
//!
//! The row is written when a call starts here, refreshed while it goes on (`keep_every`), and
//! deleted when its last seat goes; a node that stops leaves a row nobody refreshes, which is
//! stale after `STALE` and then taken over by the next node to start the room's call.

use crate::dates::now_ms;
use crate::db::Db;
use std::time::Duration;

/// A call whose row was not refreshed for this long is no longer anywhere.
pub const STALE: Duration = Duration::from_secs(30);
/// How often each node refreshes the rows of its calls.
pub const REFRESH: Duration = Duration::from_secs(10);

/// A room's call as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHome {
    pub node: String,
    pub media_addr: String,
    pub people: i64,
    pub started_at: i64,
    pub seen_at: i64,
}

fn stale_before() -> i64 {
    now_ms() - i64::try_from(STALE.as_millis()).unwrap_or(i64::MAX)
}

/// Records that `node` holds the room's call (unless another node's row is fresh: then that
/// one stays) and returns where the call is.
pub async fn claim(
    db: &Db,
    room_id: &str,
    node: &str,
    media_addr: &str,
    people: usize,
) -> Result<CallHome, sqlx::Error> {
    let now = now_ms();
    let people = i64::try_from(people).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO room_calls (room_id, node, media_addr, people, started_at, seen_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (room_id) DO UPDATE SET
             node = excluded.node,
             media_addr = excluded.media_addr,
             people = excluded.people,
             started_at = CASE WHEN room_calls.node = excluded.node
                               THEN room_calls.started_at ELSE excluded.started_at END,
             seen_at = excluded.seen_at
         WHERE room_calls.node = excluded.node OR room_calls.seen_at < $6",
    )
    .bind(room_id)
    .bind(node)
    .bind(media_addr)
    .bind(people)
    .bind(now)
    .bind(stale_before())
    .execute(&db.pool)
    .await?;
    of_room(db, room_id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Where the room's call is now, if it has one that is not stale.
pub async fn of_room(db: &Db, room_id: &str) -> Result<Option<CallHome>, sqlx::Error> {
    let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT node, media_addr, people, started_at, seen_at FROM room_calls
         WHERE room_id = $1 AND seen_at >= $2",
    )
    .bind(room_id)
    .bind(stale_before())
    .fetch_optional(&db.pool)
    .await?;
    Ok(
        row.map(|(node, media_addr, people, started_at, seen_at)| CallHome {
            node,
            media_addr,
            people,
            started_at,
            seen_at,
        }),
    )
}

/// Brings `node`'s rows in line with the calls its media server holds (`live`: room id and
/// seats): refreshed, or deleted when the call is over.
pub async fn refresh(db: &Db, node: &str, live: &[(String, usize)]) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let recorded: Vec<(String,)> = sqlx::query_as("SELECT room_id FROM room_calls WHERE node = $1")
        .bind(node)
        .fetch_all(&db.pool)
        .await?;
    for (room_id,) in recorded {
        match live.iter().find(|(call, _)| *call == room_id) {
            Some((_, people)) => {
                sqlx::query(
                    "UPDATE room_calls SET people = $1, seen_at = $2
                     WHERE room_id = $3 AND node = $4",
                )
                .bind(i64::try_from(*people).unwrap_or(i64::MAX))
                .bind(now)
                .bind(&room_id)
                .bind(node)
                .execute(&db.pool)
                .await?;
            }
            None => forget(db, node, &room_id).await?,
        }
    }
    Ok(())
}

/// A seat in the room's call was given up here: the row goes if it was the last one.
pub async fn left(db: &Db, node: &str, room_id: &str, server: &kino_rtc::MediaServer) {
    let live = match server.calls().await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!(error = %e, "asking the media server for its calls");
            return;
        }
    };
    if live.iter().any(|(call, _)| call == room_id) {
        return;
    }
    if let Err(e) = forget(db, node, room_id).await {
        tracing::warn!(error = %e, "recording the end of a call");
    }
}

/// The room's call is no longer on `node`.
async fn forget(db: &Db, node: &str, room_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM room_calls WHERE room_id = $1 AND node = $2")
        .bind(room_id)
        .bind(node)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Asks the media server which calls it holds and records them, now.
pub async fn sync(db: &Db, node: &str, server: &kino_rtc::MediaServer) {
    match server.calls().await {
        Ok(live) => {
            if let Err(e) = refresh(db, node, &live).await {
                tracing::warn!(error = %e, "recording where the calls are");
            }
        }
        Err(e) => tracing::warn!(error = %e, "asking the media server for its calls"),
    }
}

/// Keeps `node`'s rows fresh for as long as the server runs.
pub async fn keep_every(db: Db, node: String, server: kino_rtc::MediaServer, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sync(&db, &node, &server).await;
    }
}
