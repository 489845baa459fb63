//! Group commit: the plain events (chat, reactions, joins and leaves, the owner's settings, the
//! end) that this node's rooms are waiting to write at one moment go into one transaction,
//! and each is acknowledged, and broadcast, only after that commit. A transaction per event
//! made its begin, commit and pool turn the cost of a chat message; with a hundred rooms
//! talking at once they are shared by the hundred.
//!
//! The order within a room does not change: its writer holds the room's lock from before the
//! event is queued until it is broadcast (`log::write`), so a room has at most one event in a
//! batch, and the batch takes its sequence number inside the transaction as a lone write does.
//! A batch locks its rooms' rows (PostgreSQL) in the order of their ids, the same on every
//! node, so two nodes' batches cannot deadlock. If a batch fails, each of its events is written
//! again on its own, so one bad event costs only itself.

use super::log::{insert_event, next_seq, update_room, LogError, RoomUpdate};
use crate::db::Db;
use crate::rooms::protocol::EventKind;
use tokio::sync::{mpsc, oneshot};

/// Most events in one transaction (a node rarely has more waiting at once).
const MAX_BATCH: usize = 512;

/// One event waiting for its turn, and where its sequence number (or why not) goes.
#[derive(Debug)]
struct Job {
    room_id: String,
    kind: EventKind,
    user_id: Option<String>,
    client_id: Option<String>,
    update: Option<RoomUpdate>,
    now: i64,
    reply: oneshot::Sender<Result<i64, LogError>>,
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

    /// Writes `kind` as the room's next event (with what it changes in the room) and answers
    /// with its sequence number once it is committed. The caller holds the room's lock.
    pub(super) async fn write(
        &self,
        room_id: &str,
        kind: &EventKind,
        user_id: Option<&str>,
        client_id: Option<&str>,
        update: Option<RoomUpdate>,
        now: i64,
    ) -> Result<i64, LogError> {
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
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        metrics::histogram!("kino_room_event_batch_size").record(batch.len() as f64);
        match write_batch(&db, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    // A writer that stopped waiting (its socket closed) needs no answer.
                    let _ = job.reply.send(outcome);
                }
            }
            Err(e) if batch.len() == 1 => {
                let job = batch.pop().expect("one job");
                let _ = job.reply.send(Err(e));
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "a batch of room events failed; writing each alone");
                for job in batch.drain(..) {
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

/// Writes `batch` in one transaction: each event's outcome (its sequence number, or `Ended` for
/// a room that is read-only, which writes nothing), or the error that failed the transaction.
async fn write_batch(db: &Db, batch: &[Job]) -> Result<Vec<Result<i64, LogError>>, LogError> {
    let mut tx = db.pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        // The first statement writes (SQLite takes its write lock at once; see `log::write`).
        let seq = match next_seq(&mut tx, &job.room_id).await {
            Ok(seq) => seq,
            Err(LogError::Ended) => {
                outcomes.push(Err(LogError::Ended));
                continue;
            }
            Err(e) => return Err(e),
        };
        insert_event(
            &mut tx,
            &job.room_id,
            seq,
            &job.kind,
            job.user_id.as_deref(),
            job.client_id.as_deref(),
            job.now,
        )
        .await?;
        if let Some(update) = job.update.clone() {
            update_room(&mut tx, &job.room_id, update).await?;
        }
        outcomes.push(Ok(seq));
    }
    tx.commit().await?;
    Ok(outcomes)
}
