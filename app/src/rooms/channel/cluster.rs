//! Several nodes on one PostgreSQL database. The database stays the log and the order (each
//! room's `room_events` and its `last_seq` row lock); what this module adds is the wake-up.
//!
//! After an event's transaction commits, the node that wrote it says so with `pg_notify` — as
//! a statement of its own, never inside the event's transaction (a NOTIFY there serialises every
//! commit on one lock). Each node listens on its own connection and, for the rooms it has
//! sockets in, reads what it lacks from `room_events` and sends it on in sequence order: on a
//! notification, after its listener reconnects (notifications sent while it was away are lost),
//! and on a short poll, so a lost notification is at most one poll late.
//!
//! The same channel carries who is connected where (`room_presence`, each node writing its own
//! rows), and sessions that ended (their sockets close on every node). Each node says it is
//! alive in `nodes`; a node silent for longer than the timeout is removed by whichever node
//! notices first, which also writes the Leave of everyone who was only there.
//!
//! With SQLite (one node) none of this runs: the hub has no link and behaves as it always did.

use super::hub::Hub;
use super::log;
use crate::accounts::session::{SignOut, SignOuts};
use crate::accounts::User;
use crate::dates::now_ms;
use crate::db::Db;
use crate::rooms::protocol::Present;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The notification channel every node listens on.
const CHANNEL: &str = "kino_nodes";
/// Notes waiting to be sent; beyond this they are dropped (the poll makes up for them).
const OUTBOX: usize = 4096;
/// How often each node compares its rooms with the database.
pub const POLL: Duration = Duration::from_secs(2);

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Note {
    /// The room's events up to `seq` are committed.
    Event { room: String, seq: i64 },
    /// Who is connected to the room through the sending node changed.
    Presence { room: String },
    /// A session (or every session of a user but one) ended.
    SignOut(SignOut),
}

impl Note {
    /// The notification's payload: fields separated by tabs, the sender first.
    fn encode(&self, node: &str) -> String {
        match self {
            Note::Event { room, seq } => format!("e\t{node}\t{room}\t{seq}"),
            Note::Presence { room } => format!("p\t{node}\t{room}"),
            Note::SignOut(SignOut::Session(id)) => format!("s\t{node}\t{id}"),
            Note::SignOut(SignOut::UserExcept { user, keep }) => {
                format!("u\t{node}\t{user}\t{}", keep.as_deref().unwrap_or(""))
            }
        }
    }

    /// The sender and the note; `None` for a payload this version does not understand.
    fn decode(payload: &str) -> Option<(&str, Note)> {
        let mut fields = payload.split('\t');
        let (kind, node) = (fields.next()?, fields.next()?);
        let note = match (kind, fields.next()?, fields.next()) {
            ("e", room, Some(seq)) => Note::Event {
                room: room.to_owned(),
                seq: seq.parse().ok()?,
            },
            ("p", room, None) => Note::Presence {
                room: room.to_owned(),
            },
            ("s", id, None) => Note::SignOut(SignOut::Session(id.to_owned())),
            ("u", user, Some(keep)) => Note::SignOut(SignOut::UserExcept {
                user: user.to_owned(),
                keep: (!keep.is_empty()).then(|| keep.to_owned()),
            }),
            _ => return None,
        };
        (fields.next().is_none() && !node.is_empty()).then_some((node, note))
    }
}

/// A node's way to the others: where it drops its notes, and what it needs to ask the
/// database about them.
#[derive(Debug, Clone)]
pub struct Link {
    outbox: mpsc::Sender<Note>,
    pool: PgPool,
    node: Arc<str>,
    timeout: Duration,
}

impl Link {
    pub(super) fn tell(&self, note: Note) {
        if self.outbox.try_send(note).is_err() {
            tracing::debug!("cluster: outbox full, a note waits for the next poll");
        }
    }

    /// This node stops: marked silent since forever, so the next sweep (on any node) removes
    /// it and writes the Leave of whoever does not come back through another node.
    pub(super) async fn retire(&self) {
        let retired = sqlx::query("UPDATE nodes SET seen_at = 0 WHERE id = $1")
            .bind(&*self.node)
            .execute(&self.pool)
            .await;
        if let Err(e) = retired {
            tracing::warn!(error = %e, "cluster: could not say this node stops");
        }
    }

    /// A node that has not said it is alive since this is gone.
    fn alive_since(&self) -> i64 {
        now_ms() - i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Is `user` in the room through another node that is alive (connected, or closed a
    /// socket moments ago)? Decides whether a first socket here is a Join and a last one a
    /// Leave. When the database cannot say, no: a Join or Leave too many beats one missing.
    pub(super) async fn elsewhere(&self, room_id: &str, user: &str) -> bool {
        let found = sqlx::query_scalar::<_, i32>(
            "SELECT 1 FROM room_presence p JOIN nodes n ON n.id = p.node \
             WHERE p.room_id = $1 AND p.user_id = $2 AND p.node <> $3 AND n.seen_at > $4 \
             LIMIT 1",
        )
        .bind(room_id)
        .bind(user)
        .bind(&*self.node)
        .bind(self.alive_since())
        .fetch_optional(&self.pool)
        .await;
        match found {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "cluster: presence elsewhere unknown");
                false
            }
        }
    }
}

/// What the cluster's tasks share.
struct Node {
    db: Db,
    hub: Arc<Hub>,
    sign_outs: SignOuts,
    link: Link,
    url: String,
}

/// Joins the nodes on the PostgreSQL database at `url`: links `hub` and `sign_outs` to them
/// and starts this node's tasks (sending notes, listening, polling, the heartbeat and the
/// sweep of silent nodes). `timeout`: how long a silent node counts as alive.
pub async fn start(
    url: &str,
    db: Db,
    hub: Arc<Hub>,
    sign_outs: SignOuts,
    node: &str,
    timeout: Duration,
) -> Result<Vec<tokio::task::JoinHandle<()>>, sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
    let now = now_ms();
    sqlx::query("INSERT INTO nodes (id, started_at, seen_at) VALUES ($1, $2, $2)")
        .bind(node)
        .bind(now)
        .execute(&pool)
        .await?;
    let (outbox, notes) = mpsc::channel(OUTBOX);
    let link = Link {
        outbox,
        pool,
        node: node.into(),
        timeout,
    };
    hub.link(link.clone());
    let (signed_out_tx, signed_out) = mpsc::channel(OUTBOX);
    sign_outs.forward_to(signed_out_tx);
    let node = Arc::new(Node {
        db,
        hub,
        sign_outs,
        link,
        url: url.to_owned(),
    });
    let listener = listen(&node.url).await?;
    tracing::info!(node = %node.link.node, "joined the other nodes on PostgreSQL");
    Ok(vec![
        tokio::spawn(send_notes(node.clone(), notes, signed_out)),
        tokio::spawn(receive(node.clone(), listener)),
        tokio::spawn(poll(node)),
    ])
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends this node's notes, a batch at a time: the events of a room as one note with the newest
/// sequence, and its presence once, written first.
async fn send_notes(
    node: Arc<Node>,
    mut notes: mpsc::Receiver<Note>,
    mut signed_out: mpsc::Receiver<SignOut>,
) {
    loop {
        let first = tokio::select! {
            Some(note) = notes.recv() => note,
            Some(ended) = signed_out.recv() => Note::SignOut(ended),
            else => return,
        };
        let mut batch = vec![first];
        while let Ok(note) = notes.try_recv() {
            batch.push(note);
        }
        while let Ok(ended) = signed_out.try_recv() {
            batch.push(Note::SignOut(ended));
        }
        for note in coalesce(batch) {
            if let Note::Presence { room } = &note {
                if let Err(e) = write_presence(&node, room).await {
                    tracing::warn!(error = %e, "cluster: presence not written");
                }
            }
            let payload = note.encode(&node.link.node);
            // Its own statement, after the event's commit: never inside the transaction.
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&node.link.pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cluster: a note was not sent (the poll makes up for it)");
            }
        }
    }
}

/// A batch of notes with each room's events as one (the newest) and its presence once.
fn coalesce(batch: Vec<Note>) -> Vec<Note> {
    let mut newest: BTreeMap<String, i64> = BTreeMap::new();
    let mut presence = BTreeSet::new();
    let mut others = Vec::new();
    for note in batch {
        match note {
            Note::Event { room, seq } => {
                let at = newest.entry(room).or_insert(seq);
                *at = (*at).max(seq);
            }
            Note::Presence { room } => {
                presence.insert(room);
            }
            note => others.push(note),
        }
    }
    let events = newest
        .into_iter()
        .map(|(room, seq)| Note::Event { room, seq });
    let presence = presence.into_iter().map(|room| Note::Presence { room });
    others.into_iter().chain(presence).chain(events).collect()
}

/// Replaces this node's rows of the room with who is connected here now.
async fn write_presence(node: &Node, room_id: &str) -> Result<(), sqlx::Error> {
    let people = node
        .hub
        .existing(room_id)
        .map(|room| room.local())
        .unwrap_or_default();
    let mut tx = node.link.pool.begin().await?;
    sqlx::query("DELETE FROM room_presence WHERE room_id = $1 AND node = $2")
        .bind(room_id)
        .bind(&*node.link.node)
        .execute(&mut *tx)
        .await?;
    for (user, name, sockets, buffering) in people {
        sqlx::query(
            "INSERT INTO room_presence (room_id, user_id, node, name, sockets, buffering) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(room_id)
        .bind(&user)
        .bind(&*node.link.node)
        .bind(&name)
        .bind(i64::try_from(sockets).unwrap_or(i64::MAX))
        .bind(i32::from(buffering))
        .execute(&mut *tx)
        .await?;
    }
    match tx.commit().await {
        // The room was deleted meanwhile: nothing to say about it.
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(()),
        other => other,
    }
}

/// Listens for the other nodes' notes until the node stops; after a lost connection, listens
/// again and reads everything it may have missed.
async fn receive(node: Arc<Node>, mut listener: PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match Note::decode(notification.payload()) {
                Some((from, _)) if from == &*node.link.node => {}
                Some((_, note)) => heard(&node, note),
                None => tracing::debug!(payload = notification.payload(), "cluster: unknown note"),
            },
            Ok(None) | Err(_) => {
                tracing::warn!("cluster: the listener's connection was lost; listening again");
                listener = loop {
                    match listen(&node.url).await {
                        Ok(listener) => break listener,
                        Err(e) => {
                            tracing::warn!(error = %e, "cluster: cannot listen yet");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                };
                // Whatever was said while it was away.
                catch_up_all(&node).await;
            }
        }
    }
}

/// What another node said.
fn heard(node: &Arc<Node>, note: Note) {
    match note {
        Note::Event { room, seq } => {
            let behind = node
                .hub
                .existing(&room)
                .is_some_and(|r| r.published() < seq);
            if behind {
                // Its own task: one room's reading does not hold up the others' notes.
                let node = node.clone();
                tokio::spawn(async move { catch_up(&node, &room, seq).await });
            }
        }
        Note::Presence { room } => {
            if node.hub.existing(&room).is_some() {
                // Its own task too: a burst of joins elsewhere does not hold up the events.
                let node = node.clone();
                tokio::spawn(async move { refresh_presence(&node, &[room]).await });
            }
        }
        Note::SignOut(ended) => node.sign_outs.deliver(ended),
    }
}

async fn catch_up(node: &Node, room: &str, upto: i64) {
    match log::catch_up(&node.db, &node.hub, room, upto).await {
        // Another node began a countdown to the next film: this node keeps time for it too,
        // so the film starts on time even if that node stops (the first timer starts it; the
        // others find it started).
        Ok(Some(at)) => {
            super::queue::start_at(node.db.clone(), Arc::clone(&node.hub), room.to_owned(), at)
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cluster: events not read (the poll retries)"),
    }
}

/// Compares every room this node has sockets in with the database: events it lacks are read
/// and sent on, and who is connected through the other nodes is read again.
async fn catch_up_all(node: &Node) {
    let rooms = node.hub.rooms();
    if rooms.is_empty() {
        return;
    }
    let ids: Vec<String> = rooms.iter().map(|(id, _)| id.clone()).collect();
    let last =
        sqlx::query_as::<_, (String, i64)>("SELECT id, last_seq FROM rooms WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&node.link.pool)
            .await;
    match last {
        Ok(last) => {
            let published: BTreeMap<_, _> = rooms.into_iter().collect();
            for (room, seq) in last {
                if published.get(&room).is_some_and(|p| *p < seq) {
                    catch_up(node, &room, seq).await;
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cluster: rooms not compared"),
    }
    refresh_presence(node, &ids).await;
}

/// Reads who is connected to `rooms` through the other (living) nodes, and tells this node's
/// sockets of each room where that changed.
async fn refresh_presence(node: &Node, rooms: &[String]) {
    let rows = sqlx::query_as::<_, (String, String, String, i64, i32)>(
        "SELECT p.room_id, p.user_id, p.name, p.sockets, p.buffering \
         FROM room_presence p JOIN nodes n ON n.id = p.node \
         WHERE p.room_id = ANY($1) AND p.node <> $2 AND n.seen_at > $3 AND p.sockets > 0",
    )
    .bind(rooms)
    .bind(&*node.link.node)
    .bind(node.link.alive_since())
    .fetch_all(&node.link.pool)
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cluster: presence not read");
            return;
        }
    };
    let mut by_room: BTreeMap<&str, Vec<Present>> =
        rooms.iter().map(|r| (r.as_str(), Vec::new())).collect();
    for (room, user, name, _, buffering) in rows {
        let Some(people) = by_room.get_mut(room.as_str()) else {
            continue;
        };
        match people.iter_mut().find(|p| p.user == user) {
            Some(p) => p.buffering |= buffering != 0,
            None => people.push(Present {
                user,
                name,
                buffering: buffering != 0,
            }),
        }
    }
    for (room_id, people) in by_room {
        let Some(room) = node.hub.existing(room_id) else {
            continue;
        };
        if !room.set_elsewhere(people) {
            continue;
        }
        // A hold here that waited for someone stalled on another node ends when they can play.
        if room.holding() && room.release(None) {
            if let Err(log::LogError::Db(e)) =
                log::write_resume(&node.db, &node.hub, room_id, false).await
            {
                tracing::warn!(error = %e, "cluster: resume not written");
            }
        }
        node.hub.send_presence(room_id, &room);
    }
}

/// Every `POLL`: the rooms compared with the database, this node's heartbeat, and the sweep of
/// nodes gone silent.
async fn poll(node: Arc<Node>) {
    let beat = (node.link.timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut every = tokio::time::interval(POLL.min(beat));
    let mut last_beat = std::time::Instant::now();
    loop {
        every.tick().await;
        catch_up_all(&node).await;
        if last_beat.elapsed() >= beat {
            last_beat = std::time::Instant::now();
            heartbeat(&node).await;
            sweep(&node).await;
        }
    }
}

async fn heartbeat(node: &Node) {
    let now = now_ms();
    // Inserted again if a sweep took this node for dead (it was paused for too long).
    let beat = sqlx::query(
        "INSERT INTO nodes (id, started_at, seen_at) VALUES ($1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(&*node.link.node)
    .bind(now)
    .execute(&node.link.pool)
    .await;
    if let Err(e) = beat {
        tracing::warn!(error = %e, "cluster: heartbeat not written");
    }
}

/// Removes the nodes that fell silent: whoever was in a room only through one of them has
/// left it (a Leave is written), and the other nodes are told.
async fn sweep(node: &Node) {
    let gone =
        sqlx::query_scalar::<_, String>("DELETE FROM nodes WHERE seen_at <= $1 RETURNING id")
            .bind(node.link.alive_since())
            .fetch_all(&node.link.pool)
            .await;
    let gone = match gone {
        Ok(gone) => gone,
        Err(e) => {
            tracing::warn!(error = %e, "cluster: silent nodes not swept");
            return;
        }
    };
    for dead in gone {
        tracing::info!(node = %dead, "cluster: a node fell silent; its people leave its rooms");
        let rows = sqlx::query_as::<_, (String, String, String)>(
            "DELETE FROM room_presence WHERE node = $1 RETURNING room_id, user_id, name",
        )
        .bind(&dead)
        .fetch_all(&node.link.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: a silent node's presence not swept");
                continue;
            }
        };
        let mut rooms = BTreeSet::new();
        for (room, user, name) in rows {
            let here = node
                .hub
                .existing(&room)
                .is_some_and(|r| r.local().iter().any(|(u, ..)| *u == user));
            if !here && !node.link.elsewhere(&room, &user).await {
                let person = User {
                    id: user,
                    username: String::new(),
                    display_name: name,
                    is_admin: false,
                };
                if let Err(e) = log::write_leave(&node.db, &node.hub, &room, &person).await {
                    tracing::debug!(error = %e, "cluster: a silent node's leave not written");
                }
            }
            rooms.insert(room);
        }
        for room in rooms {
            node.link.tell(Note::Presence { room });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_survive_the_trip_and_strange_payloads_are_ignored() {
        let notes = [
            Note::Event {
                room: "r1".into(),
                seq: 42,
            },
            Note::Presence { room: "r1".into() },
            Note::SignOut(SignOut::Session("abc".into())),
            Note::SignOut(SignOut::UserExcept {
                user: "u1".into(),
                keep: Some("s9".into()),
            }),
            Note::SignOut(SignOut::UserExcept {
                user: "u1".into(),
                keep: None,
            }),
        ];
        for note in notes {
            let payload = note.encode("node-a");
            assert_eq!(Note::decode(&payload), Some(("node-a", note)), "{payload}");
        }
        for bad in [
            "",
            "e",
            "e\tn",
            "e\tn\tr",
            "e\tn\tr\tx",
            "e\tn\tr\t1\textra",
            "p\t\tr",
            "z\tn\tr",
            "s\tn\tid\tmore",
        ] {
            assert_eq!(Note::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_batch_says_each_rooms_newest_event_once() {
        let batch = vec![
            Note::Event {
                room: "a".into(),
                seq: 3,
            },
            Note::Presence { room: "a".into() },
            Note::Event {
                room: "a".into(),
                seq: 5,
            },
            Note::Event {
                room: "b".into(),
                seq: 1,
            },
            Note::Presence { room: "a".into() },
            Note::Event {
                room: "a".into(),
                seq: 4,
            },
        ];
        assert_eq!(
            coalesce(batch),
            vec![
                Note::Presence { room: "a".into() },
                Note::Event {
                    room: "a".into(),
                    seq: 5
                },
                Note::Event {
                    room: "b".into(),
                    seq: 1
                },
            ]
        );
    }
}
