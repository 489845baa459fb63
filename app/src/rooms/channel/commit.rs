//! Group commit: the plain events (chat, reactions, joins and leaves, the owner's settings, the
//! end) that this node's rooms are waiting to write at one moment go into one transaction, and
//! each is acknowledged, and broadcast, only after that commit. A transaction per event made
//! its begin, commit, pool turn and statements the cost of a chat message; with a hundred rooms
//! talking at once a handful of statements serve the hundred: one lookup for retries, one
//! UPDATE that numbers every room's event, one INSERT of them all.
//!
//! The order within a room does not change: its writer holds the room's lock from before the
//! event is queued until it is broadcast (`log::write`), so a room has at most one event in a
//! batch, and the batch takes its sequence numbers inside the
//! transaction as a lone write does. On PostgreSQL a batch locks its rooms' rows in the order of
//! their ids, the same on every node, so two nodes' batches cannot deadlock; on SQLite it takes
//! the write lock first (`BEGIN IMMEDIATE`), so its reads never stand in a writer's way. If a
//! batch fails, each of its events is written again on its own: one bad event costs only itself.

use super::log::{update_room, EventRow, LogError, RoomUpdate, Written, EVENT_COLUMNS};
use crate::db::{Backend, Db};
use crate::rooms::protocol::EventKind;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Most events in one transaction (a node rarely has more waiting at once; 7 parameters each
/// stay far below SQLite's 32 766).
const MAX_BATCH: usize = 512;

/// One event waiting for its turn, and where its outcome goes.
#[derive(Debug)]
struct Job {
    room_id: String,
    kind: EventKind,
    user_id: Option<String>,
    client_id: Option<String>,
    update: Option<RoomUpdate>,
    now: i64,
    reply: oneshot::Sender<Result<Written, LogError>>,
}

/// The node's writer of plain events: a task that takes whatever is queued and commits it as
/// one transaction.
#[derive(Debug)]
pub(super) struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Starts the writing task on `db` (it ends when the committer is dropped).
    pub(super) fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(db, queue));
        Self { jobs }
    }

    /// Writes `kind` as the room's next event (with what it changes in the room): `New` with
    /// its sequence number once it is committed, or `Duplicate` with the event this user
    /// already wrote with `client_id`. The caller holds the room's lock.
    pub(super) async fn write(
        &self,
        room_id: &str,
        kind: &EventKind,
        user_id: Option<&str>,
        client_id: Option<&str>,
        update: Option<RoomUpdate>,
        now: i64,
    ) -> Result<Written, LogError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            room_id: room_id.to_owned(),
            kind: kind.clone(),
            user_id: user_id.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            update,
            now,
            reply,
        };
        let stopped = || LogError::Db(sqlx::Error::PoolClosed);
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: Db, mut queue: mpsc::UnboundedReceiver<Job>) {
    // A room has at most one event waiting (its writer holds the room's lock), so a batch has
    // at most one per room. (Were there two, they would take one number: the INSERT would fail
    // and each would be written alone, in order.)
    while let Some(first) = queue.recv().await {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("kino_room_event_batch_size").record(batch.len() as f64);
        match write_batch(&db, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    // A writer that stopped waiting (its socket closed) needs no answer.
                    let _ = job.reply.send(outcome);
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "a batch of room events failed; writing each alone");
                for job in batch {
                    let outcome = match write_batch(&db, std::slice::from_ref(&job)).await {
                        Ok(mut outcomes) => outcomes.pop().unwrap_or(Err(LogError::Ended)),
                        Err(e) => Err(e),
                    };
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }
}

/// Writes `batch` (one event per room) in one transaction: each event's outcome — `New`,
/// `Duplicate` (a retry; nothing written) or `Ended` (a read-only room; nothing written) — or
/// the error that failed the transaction.
async fn write_batch(db: &Db, batch: &[Job]) -> Result<Vec<Result<Written, LogError>>, LogError> {
    let mut tx = match db.backend {
        Backend::Sqlite => db.pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => db.pool.begin().await?,
    };
    let mut earlier = written_before(&mut tx, batch).await?;
    let fresh: Vec<&Job> = batch
        .iter()
        .filter(|job| !earlier.contains_key(&job.room_id))
        .collect();
    let seqs = next_seqs(&mut tx, db.backend, &fresh).await?;
    insert_events(&mut tx, &fresh, &seqs).await?;
    for job in &fresh {
        if let (Some(update), true) = (&job.update, seqs.contains_key(&job.room_id)) {
            update_room(&mut tx, &job.room_id, update.clone()).await?;
        }
    }
    tx.commit().await?;
    Ok(batch
        .iter()
        .map(|job| match earlier.remove(&job.room_id) {
            Some(original) => Ok(Written::Duplicate(original)),
            None => seqs
                .get(&job.room_id)
                .map(|&seq| Written::New(seq))
                .ok_or(LogError::Ended),
        })
        .collect())
}

/// A stored event and the room it is in.
#[derive(sqlx::FromRow)]
struct EarlierRow {
    room_id: String,
    #[sqlx(flatten)]
    event: EventRow,
}

/// The events the batch's writers already wrote with the same client ids (retries), by room.
async fn written_before(
    tx: &mut Transaction<'_, Any>,
    batch: &[Job],
) -> Result<HashMap<String, crate::rooms::protocol::RoomEvent>, LogError> {
    let retries: Vec<(&str, &str, &str)> = batch
        .iter()
        .filter_map(|job| {
            Some((
                job.room_id.as_str(),
                job.user_id.as_deref()?,
                job.client_id.as_deref()?,
            ))
        })
        .collect();
    if retries.is_empty() {
        return Ok(HashMap::new());
    }
    let matches: Vec<String> = (0..retries.len())
        .map(|i| {
            format!(
                "(e.room_id = ${} AND e.user_id = ${} AND e.client_id = ${})",
                3 * i + 1,
                3 * i + 2,
                3 * i + 3
            )
        })
        .collect();
    let sql = format!(
        "SELECT e.room_id, {EVENT_COLUMNS} WHERE {}",
        matches.join(" OR ")
    );
    let mut query = sqlx::query_as::<_, EarlierRow>(&sql);
    for (room, user, client) in retries {
        query = query.bind(room).bind(user).bind(client);
    }
    let mut found = HashMap::new();
    for row in query.fetch_all(&mut **tx).await? {
        // Written, yet unreadable: not something to write again.
        let event = row
            .event
            .event()
            .ok_or_else(|| sqlx::Error::Decode("a stored event of an unknown kind".into()))?;
        found.insert(row.room_id, event);
    }
    Ok(found)
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes each room's next sequence number (rooms that have ended get none), in one statement.
async fn next_seqs(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    jobs: &[&Job],
) -> Result<HashMap<String, i64>, LogError> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let list = placeholders(1, jobs.len());
    if backend == Backend::Postgres {
        // Row locks in id order: another node's batch waits instead of deadlocking.
        let sql = format!("SELECT id FROM rooms WHERE id IN ({list}) ORDER BY id FOR UPDATE");
        let mut query = sqlx::query(&sql);
        for job in jobs {
            query = query.bind(job.room_id.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    let sql = format!(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id IN ({list}) AND ended_at IS NULL \
         RETURNING id, last_seq"
    );
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
    for job in jobs {
        query = query.bind(job.room_id.as_str());
    }
    Ok(query.fetch_all(&mut **tx).await?.into_iter().collect())
}

/// Inserts the events that got a sequence number, in one statement.
async fn insert_events(
    tx: &mut Transaction<'_, Any>,
    jobs: &[&Job],
    seqs: &HashMap<String, i64>,
) -> Result<(), LogError> {
    let rows: Vec<(&Job, i64)> = jobs
        .iter()
        .filter_map(|job| Some((*job, *seqs.get(&job.room_id)?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("({})", placeholders(7 * i + 1, 7)))
        .collect();
    let sql = format!(
        "INSERT INTO room_events (room_id, seq, kind, user_id, client_id, body, created_at) \
         VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (job, seq) in rows {
        query = query
            .bind(job.room_id.as_str())
            .bind(seq)
            .bind(job.kind.tag())
            .bind(job.user_id.as_deref())
            .bind(job.client_id.as_deref())
            .bind(serde_json::to_string(&job.kind).unwrap_or_default())
            .bind(job.now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
