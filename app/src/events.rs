//! Raw analytics events — page views, sign-ups, sign-ins — on their way to the database. A
//! request only puts its event in the node's buffer (`Recorder::record` never waits for the
//! database); a task writes what gathered every second, or sooner when a batch fills, in one
//! transaction. The rollups that turn them into figures are the analytics feature's
//! (`analytics::ssr`). Base layer: any feature may record.

use crate::dates::now_ms;
use crate::db::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Events kept in memory while the database is slow or away; past this, new ones are dropped
/// (and counted) rather than slow the requests down.
const BUFFER_CAPACITY: usize = 20_000;
/// A batch this large is written at once, without waiting for the next second.
const BATCH: usize = 500;
/// Rows per INSERT statement (SQLite allows 32 766 parameters).
const ROWS_PER_INSERT: usize = 200;

/// One raw event waiting to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub kind: &'static str,
    pub actor: String,
    pub page: Option<String>,
    /// For a sign-up or a sign-in: the guest (`a:<anonymous id>`) the person was until then,
    /// so the figures count them once.
    pub alias: Option<String>,
    pub at: i64,
}

/// The node's buffer of analytics events: `record` never waits for the database; a task writes
/// what gathered every second (or every `BATCH` events) in one transaction.
#[derive(Debug, Default)]
pub struct Recorder {
    buffer: Mutex<Vec<Event>>,
    bell: Notify,
    dropped: AtomicU64,
    /// Records nothing (`--no-analytics`).
    off: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A recorder that records nothing: analytics are turned off on this node.
    pub fn off() -> Arc<Self> {
        Arc::new(Self {
            off: true,
            ..Self::default()
        })
    }

    /// Queues one event: `kind` is `page_view`, `sign_up` or `sign_in`; `actor` is `u:<id>` or
    /// `a:<anonymous id>`.
    pub fn record(&self, kind: &'static str, actor: String, page: Option<String>) {
        self.push(Event {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            actor,
            page,
            alias: None,
            at: now_ms(),
        });
    }

    /// Whether analytics are turned off on this node.
    pub fn is_off(&self) -> bool {
        self.off
    }

    fn push(&self, event: Event) {
        if self.off {
            return;
        }
        let mut buffer = lock(&self.buffer);
        if buffer.len() >= BUFFER_CAPACITY {
            drop(buffer);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("kino_analytics_events_dropped_total").increment(1);
            return;
        }
        buffer.push(event);
        let full = buffer.len() >= BATCH;
        drop(buffer);
        if full {
            self.bell.notify_one();
        }
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events waiting to be written.
    pub fn waiting(&self) -> usize {
        lock(&self.buffer).len()
    }

    /// Writes what is waiting, in one transaction; on failure the events go back to the front of
    /// the buffer (as many as fit) for the next try.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch = std::mem::take(&mut *lock(&self.buffer));
        if batch.is_empty() {
            return Ok(0);
        }
        match write_events(db, &batch).await {
            Ok(()) => {
                metrics::counter!("kino_analytics_events_written_total")
                    .increment(batch.len() as u64);
                Ok(batch.len())
            }
            Err(e) => {
                let mut buffer = lock(&self.buffer);
                let room = BUFFER_CAPACITY.saturating_sub(buffer.len());
                let keep = batch.len().min(room);
                self.dropped
                    .fetch_add((batch.len() - keep) as u64, Ordering::Relaxed);
                let newer = std::mem::take(&mut *buffer);
                buffer.extend(batch.into_iter().take(keep));
                buffer.extend(newer);
                Err(e)
            }
        }
    }
}

async fn write_events(db: &Db, events: &[Event]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO analytics_events (id, kind, actor, page, alias, created_at) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            let n = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
        }
        // A retried batch must not fail on the events that did land.
        sql.push_str(" ON CONFLICT (id) DO NOTHING");
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(&e.id)
                .bind(e.kind)
                .bind(&e.actor)
                .bind(e.page.clone())
                .bind(e.alias.clone())
                .bind(e.at);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Records an event from a server function (the request's context holds the node's recorder).
/// Records a sign-up or sign-in from a server function (the request's context holds the node's
/// recorder), with the guest the person was before, if their browser had the anonymous cookie.
pub fn note(kind: &'static str, actor: String) {
    let Some(recorder) = leptos::prelude::use_context::<Arc<Recorder>>() else {
        return;
    };
    let alias = leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| anonymous_id(&parts.headers))
        .map(|id| format!("a:{id}"));
    recorder.push(Event {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        actor,
        page: None,
        alias,
        at: now_ms(),
    });
}

/// The cookie that tells one guest from another (no account, no name): their page views and
/// player reports are theirs by it.
pub const ANON_COOKIE: &str = "kino_anon";

/// The guest's anonymous id from the request's cookies.
pub fn anonymous_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ANON_COOKIE)
        .and_then(|(_, value)| uuid::Uuid::parse_str(value).ok())
        .map(|id| id.to_string())
}

/// Writes the buffer every `every` (sooner when a batch fills) until the process ends; the
/// server flushes once more after its last request.
pub async fn flush_every(recorder: Arc<Recorder>, db: Db, every: Duration) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = recorder.bell.notified() => {}
        }
        if let Err(e) = recorder.flush(&db).await {
            tracing::warn!(error = %e, waiting = recorder.waiting(), "cannot write analytics events");
        }
    }
}
