//! Analytics events to NATS JetStream (`--events-nats-url`): the path to an external analytics
//! engine (ClickHouse reads the stream; docs/ANALYTICS.md). Every raw event the database keeps
//! for analytics — page views, sign-ups, sign-ins (`analytics_events`) and the players' reports
//! (`player_events`) — is published once the stream acknowledges it, then marked
//! `published_at` — and the rooms' activity (every event of every room's log: joins, leaves,
//! play, pause, chat, … without the chat's text), marked per room by the last sequence
//! number published: at least once, across restarts. Each message carries the event's id as
//! `Nats-Msg-Id`, so the stream drops a repeat within its duplicate window and a consumer can
//! drop any other by id. One node publishes at a time (a lease in `analytics_job`, row 2).

use app::db::{Db, Lease};
use async_nats::jetstream;
use std::time::Duration;

/// Events read and published per round.
const BATCH: i64 = 500;
/// How long the publishing claim holds without being renewed (every round renews it; a node that
/// died hands over after this).
const PUBLISHING: Lease = Lease {
    table: "analytics_job",
    id: 2,
    ms: 10_000,
};
/// How often the publisher looks for new events when it has caught up.
const EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot reach NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot create the JetStream stream {stream}: {source}")]
    Stream {
        stream: String,
        source: jetstream::context::CreateStreamError,
    },
}

/// Where events go: the stream (created when missing, over `<subject>.>`) and the subject
/// prefix (`kino.events.page_view`, `kino.events.player.progress`, …).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub stream: String,
    pub subject: String,
}

/// One event as published: the message's JSON.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Message {
    id: String,
    kind: String,
    /// `u:<user id>` or `a:<anonymous id>`; none for a room's own events (a countdown's end).
    #[serde(skip_serializing_if = "String::is_empty")]
    actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// A sign-up's or sign-in's guest before (`a:<anonymous id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    film_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_id: Option<String>,
    /// The event's number in its room's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    /// Epoch milliseconds.
    at: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    kind: String,
    actor: String,
    page: Option<String>,
    alias: Option<String>,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: String,
    film_id: String,
    user_id: Option<String>,
    anon_id: Option<String>,
    kind: String,
    position_ms: i64,
    duration_ms: i64,
    quality: Option<String>,
    created_at: i64,
}

/// Connects and makes sure the stream exists; the publisher then runs until aborted.
pub async fn start(
    target: Target,
    db: Db,
    node: String,
) -> Result<tokio::task::JoinHandle<()>, PublishError> {
    let client =
        async_nats::connect(&target.url)
            .await
            .map_err(|source| PublishError::Connect {
                url: target.url.clone(),
                source,
            })?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: target.stream.clone(),
        subjects: vec![format!("{}.>", target.subject)],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|source| PublishError::Stream {
        stream: target.stream.clone(),
        source,
    })?;
    tracing::info!(url = %target.url, stream = %target.stream, "analytics events go to NATS");
    Ok(tokio::spawn(async move {
        loop {
            match publish_round(&js, &target.subject, &db, &node).await {
                // A full batch: more are waiting.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    metrics::counter!("kino_events_publish_failures_total").increment(1);
                    tracing::warn!(error = %e, "cannot publish analytics events; retrying");
                }
            }
            tokio::time::sleep(EVERY).await;
        }
    }))
}

/// Lets go of the publishing claim (a node that stops hands over at once).
pub async fn release(db: &Db, node: &str) {
    if let Err(e) = PUBLISHING.release(db, node).await {
        tracing::warn!(error = %e, "cannot release the publishing claim");
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Claims the publishing lease and publishes one batch of each table; how many were published.
async fn publish_round(
    js: &jetstream::Context,
    subject: &str,
    db: &Db,
    node: &str,
) -> Result<usize, Failure> {
    let now = app::dates::now_ms();
    if !PUBLISHING.claim(db, node, now, true).await? {
        return Ok(0);
    }
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT id, kind, actor, page, alias, created_at FROM analytics_events \
         WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&db.pool)
    .await?;
    let events: Vec<Message> = events
        .into_iter()
        .map(|e| Message {
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            page: e.page,
            alias: e.alias,
            at: e.created_at,
            ..Message::default()
        })
        .collect();
    let published = publish(js, subject, &events).await?;
    mark(db, "analytics_events", &published, now).await?;

    let reports: Vec<ReportRow> = sqlx::query_as(
        "SELECT id, film_id, user_id, anon_id, kind, position_ms, duration_ms, quality, \
         created_at FROM player_events WHERE published_at IS NULL \
         ORDER BY created_at, id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&db.pool)
    .await?;
    let reports: Vec<Message> = reports
        .into_iter()
        .map(|r| Message {
            id: r.id,
            kind: format!("player.{}", r.kind),
            actor: match (r.user_id, r.anon_id) {
                (Some(user), _) => format!("u:{user}"),
                (None, Some(anon)) => format!("a:{anon}"),
                (None, None) => "a:".to_owned(),
            },
            film_id: Some(r.film_id),
            position_ms: Some(r.position_ms),
            duration_ms: Some(r.duration_ms),
            quality: r.quality,
            at: r.created_at,
            ..Message::default()
        })
        .collect();
    let published_reports = publish(js, subject, &reports).await?;
    mark(db, "player_events", &published_reports, now).await?;
    let published_room_events = publish_rooms(js, subject, db).await?;
    Ok(published
        .len()
        .max(published_reports.len())
        .max(published_room_events))
}

#[derive(sqlx::FromRow)]
struct RoomEventRow {
    seq: i64,
    kind: String,
    user_id: Option<String>,
    created_at: i64,
}

/// Publishes up to a batch of the rooms' events after what each room has published, and moves
/// each room's mark to the last one the stream acknowledged; how many were published.
async fn publish_rooms(js: &jetstream::Context, subject: &str, db: &Db) -> Result<usize, Failure> {
    let behind: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.id, COALESCE(p.seq, 0), r.last_seq FROM rooms r \
         LEFT JOIN room_events_published p ON p.room_id = r.id \
         WHERE r.last_seq > COALESCE(p.seq, 0) ORDER BY r.id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&db.pool)
    .await?;
    let mut total = 0;
    for (room_id, after, last_seq) in behind {
        if total as i64 >= BATCH {
            break;
        }
        let rows: Vec<RoomEventRow> = sqlx::query_as(
            "SELECT seq, kind, user_id, created_at FROM room_events \
             WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(&room_id)
        .bind(after)
        .bind(BATCH)
        .fetch_all(&db.pool)
        .await?;
        let messages: Vec<Message> = rows
            .iter()
            .map(|e| Message {
                id: format!("room:{room_id}:{}", e.seq),
                kind: format!("room.{}", e.kind),
                actor: e
                    .user_id
                    .as_ref()
                    .map_or_else(String::new, |user| format!("u:{user}")),
                room_id: Some(room_id.clone()),
                seq: Some(e.seq),
                at: e.created_at,
                ..Message::default()
            })
            .collect();
        let acknowledged = publish(js, subject, &messages).await?;
        // Acknowledgements come in order, up to the first failure: the mark is the last of them.
        // A room whose events are gone (`--room-retention-days`) has nothing left to publish.
        let last = match acknowledged.len().checked_sub(1) {
            Some(i) => rows[i].seq,
            None if rows.is_empty() => last_seq,
            None => break,
        };
        sqlx::query(
            "INSERT INTO room_events_published (room_id, seq) VALUES ($1, $2) \
             ON CONFLICT (room_id) DO UPDATE SET seq = excluded.seq",
        )
        .bind(&room_id)
        .bind(last)
        .execute(&db.pool)
        .await?;
        total += acknowledged.len();
        if acknowledged.len() < messages.len() {
            break;
        }
    }
    Ok(total)
}

/// Publishes every message (all sent, then every acknowledgement awaited); the ids the stream
/// acknowledged, in order, up to the first failure.
async fn publish(
    js: &jetstream::Context,
    subject: &str,
    messages: &[Message],
) -> Result<Vec<String>, Failure> {
    let mut pending = Vec::with_capacity(messages.len());
    for m in messages {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, m.id.as_str());
        let payload = serde_json::to_vec(m)?;
        let ack = js
            .publish_with_headers(format!("{subject}.{}", m.kind), headers, payload.into())
            .await?;
        pending.push((m.id.clone(), ack));
    }
    let mut acknowledged = Vec::with_capacity(pending.len());
    for (id, ack) in pending {
        match ack.await {
            Ok(_) => acknowledged.push(id),
            Err(e) => {
                // The rest stay unpublished and go again in the next round (the stream drops
                // the ones it did store).
                tracing::warn!(error = %e, "NATS did not acknowledge an event");
                break;
            }
        }
    }
    metrics::counter!("kino_events_published_total").increment(acknowledged.len() as u64);
    Ok(acknowledged)
}

async fn mark(db: &Db, table: &str, ids: &[String], now: i64) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE {table} SET published_at = $1 WHERE id IN ({})",
            placeholders.join(",")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}
