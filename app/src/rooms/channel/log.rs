//! The room log: every change to a room is the room's next row of `room_events`, written in one
//! transaction with what it changes in the room itself (playback, name, lock, end, removal), and
//! only then published through the hub. This is the only code that writes `room_events`.
//!
//! Every event takes one path (`write`): the room's lock in the hub → a transaction → the next
//! sequence number, which also locks the room's row (PostgreSQL) or takes the write lock
//! (SQLite) → the event and its change → commit → publish. Holding the hub's lock until the
//! event is published makes, on one node, the publish order the sequence order. A plain event
//! (chat, a reaction, a join…) shares its transaction with the other rooms' plain events that
//! wait at the same moment (`commit`); a change decided from the room's state (playback, the
//! queue) has one of its own.

use super::hub::{self, Hub};
use super::queue::QueueChange;
use super::Parts;
use crate::accounts::User;
use crate::dates::now_ms;
use crate::db::{Db, Flag};
use crate::error::AppError;
use crate::rooms::protocol::{ClientMsg, EventKind, RoomEvent};
use crate::sync::Playback;
use sqlx::{Any, FromRow, Transaction};

/// Why an event was not written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The room has ended (or is gone): it is read-only.
    #[error("the room has ended")]
    Ended,
    /// The room's rules refuse it (a full queue, an entry gone, not the owner…).
    #[error("refused: {0:?}")]
    Refused(crate::rooms::protocol::ProtoError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<LogError> for AppError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Ended => AppError::RoomEnded,
            LogError::Refused(_) => AppError::Forbidden,
            LogError::Db(e) => e.into(),
        }
    }
}

/// What an event changes in the room itself, written in the same transaction.
#[derive(Debug, Clone)]
pub enum RoomUpdate {
    Name(String),
    ControlsLocked(bool),
    Ended(i64),
    Removed { user: String, at: i64 },
}

/// The outcome of writing an event.
#[derive(Debug)]
pub enum Written {
    New(i64),
    /// A retry of a message already written: here it is.
    Duplicate(RoomEvent),
    /// A change of playback that changed nothing (a hold while paused): nothing written.
    Unchanged,
}

/// A change of playback, worked out from the room's state inside the transaction.
#[derive(Debug, Clone, Copy)]
enum Transition<'a> {
    /// Play, pause, seek, rate.
    Command(&'a ClientMsg),
    /// Someone stalled: hold playback where the film is.
    Hold,
    /// The hold ends.
    Resume { timed_out: bool },
}

impl Transition<'_> {
    fn apply(self, current: Playback, now: f64) -> Option<(EventKind, Playback)> {
        match self {
            Transition::Command(msg) => apply(msg, current, now),
            Transition::Hold => hub::hold_at(current, now),
            Transition::Resume { timed_out } => hub::resume_from(current, now, timed_out),
        }
    }
}

/// What a write records.
enum Change<'a> {
    /// This event, and what it changes in the room.
    Event(EventKind, Option<RoomUpdate>),
    /// Whatever the transition makes of the room's playback (nothing, perhaps).
    Playback(Transition<'a>),
    /// A change to the room's queue or its film, decided by `queue` from the room's state.
    Queue(QueueChange<'a>),
}

/// The one path every event takes (see the module's comment). `user` and `client_id` say who
/// wrote it; a chat message whose `client_id` that user already wrote is not written twice:
/// the original comes back. `now` is the event's time.
async fn write(
    db: &Db,
    hub: &Hub,
    room_id: &str,
    user: Option<&User>,
    client_id: Option<&str>,
    change: Change<'_>,
    now: i64,
) -> Result<Written, LogError> {
    let started = std::time::Instant::now();
    let guard = hub.lock(room_id).await;
    let user_id = user.map(|u| u.id.as_str());
    let (seq, kind, playback) = match change {
        // A plain event waits for the node's next batch (`commit`), which also finds a retry.
        Change::Event(kind, update) => {
            let committer = hub.committer(db);
            match committer
                .write(room_id, &kind, user_id, client_id, update, now)
                .await?
            {
                Written::New(seq) => (seq, kind, None),
                other => return Ok(other),
            }
        }
        change => {
            // A retry is looked up before the transaction: SQLite refuses at once (no busy
            // wait) a transaction that read first and then wants to write while another one
            // writes, so every transaction here starts with its write.
            if let (Some(client_id), Some(user)) = (client_id, user) {
                if let Some(original) = written_before(db, room_id, &user.id, client_id).await? {
                    return Ok(Written::Duplicate(original));
                }
            }
            match write_alone(db, room_id, user, client_id, change, now).await? {
                Some(written) => written,
                None => return Ok(Written::Unchanged),
            }
        }
    };
    // From the write's turn (the room's lock waited for included) to its commit.
    metrics::histogram!("kino_room_event_write_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("kino_room_events_written_total").increment(1);
    hub.publish(
        room_id,
        RoomEvent {
            seq,
            at: now,
            user: user.map(|u| u.id.clone()),
            name: user.map(|u| u.display_name.clone()),
            kind,
        },
    );
    if let Some(playback) = playback {
        hub.send_playback(room_id, playback, seq);
    }
    drop(guard);
    // A room written to with nobody connected (an owner's change from the page, the lifecycle
    // job) is not kept in memory for it.
    hub.tidy(room_id);
    Ok(Written::New(seq))
}

/// A change that is decided from the room's state (playback, the queue) in a transaction of its
/// own: the event's number, the event and the playback it leads to, or `None` when it changes
/// nothing (rolled back).
async fn write_alone(
    db: &Db,
    room_id: &str,
    user: Option<&User>,
    client_id: Option<&str>,
    change: Change<'_>,
    now: i64,
) -> Result<Option<(i64, EventKind, Option<Playback>)>, LogError> {
    let mut tx = db.pool.begin().await?;
    let seq = next_seq(&mut tx, room_id).await?;
    let (kind, playback) = match change {
        Change::Event(kind, update) => {
            if let Some(update) = update {
                update_room(&mut tx, room_id, update).await?;
            }
            (kind, None)
        }
        Change::Queue(change) => {
            match super::queue::decide(&mut tx, room_id, user, change, seq, now).await? {
                Some((kind, playback)) => (kind, playback),
                None => {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        }
        Change::Playback(transition) => {
            let current = playback_of(&mut tx, room_id).await?;
            match transition.apply(current, now as f64) {
                Some((kind, playback)) => (kind, Some(playback)),
                None => {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        }
    };
    let user_id = user.map(|u| u.id.as_str());
    insert_event(&mut tx, room_id, seq, &kind, user_id, client_id, now).await?;
    if let Some(playback) = playback {
        set_playback(&mut tx, room_id, playback).await?;
    }
    tx.commit().await?;
    Ok(Some((seq, kind, playback)))
}

/// Writes an event (with what it changes in the room) as `user`, and publishes it.
pub async fn write_event(
    app: &Parts,
    room_id: &str,
    user: Option<&User>,
    kind: EventKind,
    client_id: Option<&str>,
    update: Option<RoomUpdate>,
) -> Result<Written, LogError> {
    let change = Change::Event(kind, update);
    write(
        &app.db,
        &app.hub,
        room_id,
        user,
        client_id,
        change,
        now_ms(),
    )
    .await
}

/// `write` now, as `user`, with no client id (what the socket's own playback changes need).
async fn write_now(
    app: &Parts,
    room_id: &str,
    user: Option<&User>,
    change: Change<'_>,
) -> Result<Written, LogError> {
    write(&app.db, &app.hub, room_id, user, None, change, now_ms()).await
}

/// Ends a room at `now` (the lifecycle job: no one did it), and tells whoever is connected
/// through `hub`. `Ended` if it had ended already.
pub async fn end_room(db: &Db, hub: &Hub, room_id: &str, now: i64) -> Result<(), LogError> {
    let change = Change::Event(EventKind::End, Some(RoomUpdate::Ended(now)));
    write(db, hub, room_id, None, None, change, now).await?;
    Ok(())
}

/// Writes that `user` left the room (a node that fell silent took them with it).
pub(super) async fn write_leave(
    db: &Db,
    hub: &Hub,
    room_id: &str,
    user: &User,
) -> Result<(), LogError> {
    let change = Change::Event(EventKind::Leave, None);
    write(db, hub, room_id, Some(user), None, change, now_ms()).await?;
    Ok(())
}

/// Sends this node's sockets of the room the events another node wrote, up to at least `upto`,
/// in sequence order: read from the database after the last one they were sent, under the
/// room's lock (so they do not cross this node's own writes), then the playback state they
/// led to. A room nobody here is connected to is left alone. Answers when the last countdown
/// to a next film among them ends, if one began.
pub(super) async fn catch_up(
    db: &Db,
    hub: &Hub,
    room_id: &str,
    upto: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(room) = hub.existing(room_id) else {
        return Ok(None);
    };
    let _guard = hub.lock(room_id).await;
    let mut after = room.published();
    if after >= upto {
        return Ok(None);
    }
    // No socket greeted yet: they are greeted with the database's state, so only the news.
    if after == 0 {
        after = upto - 1;
    }
    let mut playback_changed = false;
    let mut countdown = None;
    loop {
        let (events, more) = events_page(db, room_id, Bound::After(after), CATCH_UP_PAGE).await?;
        for event in events {
            after = event.seq;
            playback_changed |= event.kind.changes_playback();
            if let EventKind::NextUp { starts_at, .. } = &event.kind {
                countdown = Some(*starts_at);
            }
            hub.deliver(room_id, event);
        }
        if !more {
            break;
        }
    }
    if playback_changed {
        if let Some(row) = room_row(db, room_id).await? {
            hub.send_playback(room_id, row.playback, row.last_seq);
        }
    }
    Ok(countdown)
}

/// Events read at once when catching up with another node.
const CATCH_UP_PAGE: i64 = 200;

/// Writes a playback command: the new state is worked out from the state inside the same
/// transaction, under the room's lock, so simultaneous commands apply one after another in
/// sequence order — never two from the same stale state.
pub async fn write_control(
    app: &Parts,
    room_id: &str,
    user: &User,
    msg: &ClientMsg,
) -> Result<(), LogError> {
    let change = Change::Playback(Transition::Command(msg));
    write_now(app, room_id, Some(user), change).await?;
    Ok(())
}

/// Holds playback for `user`, who stalled; `false` when there was nothing to hold (paused).
pub(super) async fn write_hold(app: &Parts, room_id: &str, user: &User) -> Result<bool, LogError> {
    let change = Change::Playback(Transition::Hold);
    let written = write_now(app, room_id, Some(user), change).await?;
    Ok(matches!(written, Written::New(_)))
}

/// A change to the room's queue or its film, as `user` (none: the room's own countdown).
pub(super) async fn write_queue(
    db: &Db,
    hub: &Hub,
    room_id: &str,
    user: Option<&User>,
    change: QueueChange<'_>,
) -> Result<Written, LogError> {
    write(
        db,
        hub,
        room_id,
        user,
        None,
        Change::Queue(change),
        now_ms(),
    )
    .await
}

/// Ends a hold: playback goes on (if it is still paused).
pub(super) async fn write_resume(
    db: &Db,
    hub: &Hub,
    room_id: &str,
    timed_out: bool,
) -> Result<(), LogError> {
    let change = Change::Playback(Transition::Resume { timed_out });
    write(db, hub, room_id, None, None, change, now_ms()).await?;
    Ok(())
}

/// What a playback command does to the room's state at server time `now`: the event to record
/// and the new state. `None` for messages that are not playback commands.
pub fn apply(msg: &ClientMsg, current: Playback, now: f64) -> Option<(EventKind, Playback)> {
    Some(match *msg {
        ClientMsg::Play { position } => (
            EventKind::Play { position },
            Playback {
                paused: false,
                position,
                anchor: now,
                rate: current.rate,
            },
        ),
        ClientMsg::Pause { position } => (
            EventKind::Pause { position },
            Playback {
                paused: true,
                position,
                anchor: now,
                rate: current.rate,
            },
        ),
        ClientMsg::Seek { position } => (
            EventKind::Seek {
                from: current.expected(now),
                to: position,
            },
            Playback {
                position,
                anchor: now,
                ..current
            },
        ),
        ClientMsg::Rate { rate } => (
            EventKind::Rate { rate },
            Playback {
                position: current.expected(now),
                anchor: now,
                rate,
                ..current
            },
        ),
        _ => return None,
    })
}

/// Writes `kind` as the room's next event inside `tx`, for a caller whose transaction does
/// more; it must hold the room's lock in the hub and publish the event after its commit.
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    kind: &EventKind,
    user_id: Option<&str>,
    client_id: Option<&str>,
    now: i64,
) -> Result<i64, LogError> {
    let seq = next_seq(tx, room_id).await?;
    insert_event(tx, room_id, seq, kind, user_id, client_id, now).await?;
    Ok(seq)
}

/// Takes the room's next sequence number; also locks the room's row (PostgreSQL) or takes the
/// write lock (SQLite) for the rest of `tx`. An ended room is read-only: `Ended`.
async fn next_seq(tx: &mut Transaction<'_, Any>, room_id: &str) -> Result<i64, LogError> {
    sqlx::query_scalar(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 AND ended_at IS NULL \
         RETURNING last_seq",
    )
    .bind(room_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(LogError::Ended)
}

async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    seq: i64,
    kind: &EventKind,
    user_id: Option<&str>,
    client_id: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO room_events (room_id, seq, kind, user_id, client_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(room_id)
    .bind(seq)
    .bind(kind.tag())
    .bind(user_id.map(str::to_owned))
    .bind(client_id.map(str::to_owned))
    .bind(serde_json::to_string(kind).unwrap_or_default())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn update_room(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    update: RoomUpdate,
) -> Result<(), sqlx::Error> {
    let query = match update {
        RoomUpdate::Name(name) => sqlx::query("UPDATE rooms SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(room_id),
        RoomUpdate::ControlsLocked(locked) => {
            sqlx::query("UPDATE rooms SET controls_locked = $1 WHERE id = $2")
                .bind(i64::from(locked))
                .bind(room_id)
        }
        RoomUpdate::Ended(at) => {
            sqlx::query("UPDATE rooms SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(at)
                .bind(room_id)
        }
        RoomUpdate::Removed { user, at } => sqlx::query(
            "UPDATE room_members SET removed_at = $1 \
             WHERE room_id = $2 AND user_id = $3 AND removed_at IS NULL",
        )
        .bind(at)
        .bind(room_id)
        .bind(user),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// The room's playback state as stored: `paused` is a 0/1 flag, the times are whole ms.
#[derive(Debug, FromRow)]
struct PlaybackRow {
    paused: Flag,
    position_ms: i64,
    anchor_ms: i64,
    rate: f64,
}

impl From<PlaybackRow> for Playback {
    fn from(row: PlaybackRow) -> Self {
        Playback {
            paused: row.paused.0,
            position: row.position_ms as f64,
            anchor: row.anchor_ms as f64,
            rate: row.rate,
        }
    }
}

pub(super) async fn playback_of(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
) -> Result<Playback, sqlx::Error> {
    let row = sqlx::query_as::<_, PlaybackRow>(
        "SELECT paused, position_ms, anchor_ms, rate FROM rooms WHERE id = $1",
    )
    .bind(room_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Playback::from(row))
}

async fn set_playback(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    playback: Playback,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET paused = $1, position_ms = $2, anchor_ms = $3, rate = $4 WHERE id = $5",
    )
    .bind(i64::from(playback.paused))
    .bind(playback.position.round() as i64)
    .bind(playback.anchor.round() as i64)
    .bind(playback.rate)
    .bind(room_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Not an event: someone is (or was until now) in the room, for the lifecycle job.
pub(super) async fn note_active(db: &Db, room_id: &str, now: i64) {
    // Best effort: a missed note only lets the room end a little sooner after its film.
    let _ = sqlx::query("UPDATE rooms SET last_active_at = $1 WHERE id = $2")
        .bind(now)
        .bind(room_id)
        .execute(&db.pool)
        .await;
}

pub(super) const EVENT_COLUMNS: &str =
    "e.seq, e.kind, e.body, e.created_at, e.user_id, u.display_name FROM room_events e \
     LEFT JOIN users u ON u.id = e.user_id";

/// A row of [`EVENT_COLUMNS`]: a stored event, and its writer's name (NULL for the room's own
/// events, or a writer since deleted).
#[derive(Debug, FromRow)]
pub(super) struct EventRow {
    seq: i64,
    kind: String,
    body: String,
    created_at: i64,
    user_id: Option<String>,
    display_name: Option<String>,
}

impl EventRow {
    /// The event; `None` for a kind this version does not know.
    pub(super) fn event(self) -> Option<RoomEvent> {
        EventKind::from_stored(&self.kind, &self.body).map(|kind| RoomEvent {
            seq: self.seq,
            at: self.created_at,
            user: self.user_id,
            name: self.display_name,
            kind,
        })
    }
}

/// The event `user` already wrote with `client_id`, if any.
async fn written_before(
    db: &Db,
    room_id: &str,
    user_id: &str,
    client_id: &str,
) -> Result<Option<RoomEvent>, sqlx::Error> {
    let row = sqlx::query_as::<_, EventRow>(&format!(
        "SELECT {EVENT_COLUMNS} WHERE e.room_id = $1 AND e.user_id = $2 AND e.client_id = $3"
    ))
    .bind(room_id)
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // Written, yet unreadable: not something to write again.
    row.event()
        .map(Some)
        .ok_or_else(|| sqlx::Error::Decode("a stored event of an unknown kind".into()))
}

/// Which events a page holds: those after a sequence number (what a client missed) or before
/// one (scrolling back).
#[derive(Debug, Clone, Copy)]
pub(super) enum Bound {
    After(i64),
    Before(i64),
}

/// Up to `limit` events on the given side of a sequence number — the ones nearest the newest —
/// oldest first, and whether there are more.
pub(super) async fn events_page(
    db: &Db,
    room_id: &str,
    bound: Bound,
    limit: i64,
) -> Result<(Vec<RoomEvent>, bool), sqlx::Error> {
    let (condition, seq) = match bound {
        Bound::After(seq) => ("e.seq > $2", seq),
        Bound::Before(seq) => ("e.seq < $2", seq),
    };
    let rows = sqlx::query_as::<_, EventRow>(&format!(
        "SELECT {EVENT_COLUMNS} WHERE e.room_id = $1 AND {condition} ORDER BY e.seq DESC LIMIT $3"
    ))
    .bind(room_id)
    .bind(seq)
    .bind(limit + 1)
    .fetch_all(&db.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut events = rows
        .into_iter()
        .take(limit as usize)
        .filter_map(EventRow::event)
        .collect::<Vec<_>>();
    events.reverse();
    Ok((events, more))
}

/// The room as the channel needs it.
pub(super) struct RoomRow {
    pub(super) owner_id: String,
    pub(super) controls_locked: bool,
    pub(super) ended: bool,
    pub(super) playback: Playback,
    pub(super) last_seq: i64,
}

/// [`room_row`]'s row: the room's columns as stored.
#[derive(Debug, FromRow)]
struct RoomStateRow {
    owner_id: String,
    controls_locked: Flag,
    ended_at: Option<i64>,
    #[sqlx(flatten)]
    playback: PlaybackRow,
    last_seq: i64,
}

impl From<RoomStateRow> for RoomRow {
    fn from(row: RoomStateRow) -> Self {
        RoomRow {
            owner_id: row.owner_id,
            controls_locked: row.controls_locked.0,
            ended: row.ended_at.is_some(),
            playback: Playback::from(row.playback),
            last_seq: row.last_seq,
        }
    }
}

pub(super) async fn room_row(db: &Db, room_id: &str) -> Result<Option<RoomRow>, sqlx::Error> {
    let row = sqlx::query_as::<_, RoomStateRow>(
        "SELECT owner_id, controls_locked, ended_at, paused, position_ms, anchor_ms, rate, \
                last_seq FROM rooms WHERE id = $1",
    )
    .bind(room_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(RoomRow::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYING: Playback = Playback {
        paused: false,
        position: 10_000.0,
        anchor: 1_000.0,
        rate: 1.0,
    };

    #[test]
    fn playback_commands_start_from_where_the_film_is() {
        let now = 3_000.0;
        let (kind, paused) =
            apply(&ClientMsg::Pause { position: 11_900.0 }, PLAYING, now).expect("a command");
        assert_eq!(kind, EventKind::Pause { position: 11_900.0 });
        assert!(paused.paused);
        assert_eq!((paused.position, paused.anchor), (11_900.0, now));

        let (kind, sought) =
            apply(&ClientMsg::Seek { position: 500.0 }, PLAYING, now).expect("a command");
        assert_eq!(
            kind,
            EventKind::Seek {
                from: 12_000.0,
                to: 500.0
            },
            "the seek says where the room was"
        );
        assert!(!sought.paused, "a seek keeps playing");

        let (_, faster) = apply(&ClientMsg::Rate { rate: 2.0 }, PLAYING, now).expect("a command");
        assert_eq!((faster.position, faster.rate), (12_000.0, 2.0));
        assert_eq!(apply(&ClientMsg::Ping { t0: 0.0 }, PLAYING, now), None);
    }
}
