//! The room channel: `GET /ws/rooms/<code>`, one websocket per participant.
//!
//! Every change (playback commands, chat, reactions, joins and leaves, the owner's settings) is
//! written as the room's next event and only then broadcast. On one node a per-room lock around
//! "write, commit, broadcast" makes the broadcast order the sequence order; a client that falls
//! behind the broadcast buffer is resent what it missed from the database. A client says which
//! sequence it saw last whenever it (re)connects and gets the state and everything after it.

use super::protocol::{
    ClientMsg, EventKind, Present, ProtoError, RoomEvent, ServerMsg, Snapshot, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use crate::accounts::User;
use crate::db::{flag, now_ms};
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::Playback;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How many events a socket may fall behind before it is resent from the database.
const BUFFER: usize = 256;
/// The latest page of events a (re)connecting client gets at most.
const PAGE: i64 = 200;
/// A participant whose last socket closed counts as gone after this (a reload is not a leave).
const LEAVE_GRACE: Duration = Duration::from_secs(5);
/// How often a connected room notes that someone is there (for the lifecycle job).
const TOUCH_EVERY_MS: i64 = 60_000;
/// The first message must come this soon.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Playback commands (play, pause, seek, rate) and stall reports one person may send: the
/// average per second and the burst. Enough for a person at the controls; a script flooding the
/// room with seeks is answered `rate_limited` and nothing is written.
const CONTROL_PER_SECOND: f64 = 3.0;
const CONTROL_BURST: f64 = 12.0;
/// Someone whose video stalled this many times within `STALL_WINDOW` is not waited for again
/// in that window: one person's bad connection (or fake reports) cannot keep freezing the room.
const STALL_HOLDS: usize = 3;
const STALL_WINDOW: Duration = Duration::from_secs(5 * 60);

/// One message for every socket of a room: `seq` 0 for what is not an event (presence).
#[derive(Debug)]
struct Outgoing {
    seq: i64,
    json: String,
    /// Someone removed from the room by this event: their sockets close after it.
    removes: Option<String>,
}

#[derive(Debug, Default)]
struct PresentEntry {
    name: String,
    sockets: usize,
    buffering: bool,
}

#[derive(Debug)]
pub struct RoomHub {
    tx: broadcast::Sender<Arc<Outgoing>>,
    write: Arc<tokio::sync::Mutex<()>>,
    present: Mutex<HashMap<String, PresentEntry>>,
    last_touch: Mutex<i64>,
    chat_buckets: Mutex<HashMap<String, (f64, std::time::Instant)>>,
    waiting: Mutex<Waiting>,
}

/// A room holding playback for someone whose video stalled.
#[derive(Debug, Default)]
struct Waiting {
    /// The current hold, by number (a timeout only ends the hold it was set for).
    hold: Option<u64>,
    next: u64,
    /// People the room stopped waiting for (their stall timed out) until they can play again.
    excused: HashSet<String>,
    /// When each person's stalls held the room, recently.
    holds_by: HashMap<String, Vec<std::time::Instant>>,
}

impl Waiting {
    /// May `user`'s stall hold the room now? Not when they held it `STALL_HOLDS` times within
    /// `STALL_WINDOW`; otherwise it is noted as one more hold of theirs.
    fn note_hold(&mut self, user: &str, now: std::time::Instant) -> bool {
        let recent = self.holds_by.entry(user.to_owned()).or_default();
        recent.retain(|at| now.duration_since(*at) < STALL_WINDOW);
        if recent.len() >= STALL_HOLDS {
            return false;
        }
        recent.push(now);
        true
    }
}

impl RoomHub {
    fn new() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            write: Arc::new(tokio::sync::Mutex::new(())),
            present: Mutex::new(HashMap::new()),
            last_touch: Mutex::new(0),
            chat_buckets: Mutex::new(HashMap::new()),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn holding(&self) -> bool {
        lock(&self.waiting).hold.is_some()
    }

    fn present(&self) -> Vec<Present> {
        let map = lock(&self.present);
        let mut list: Vec<Present> = map
            .iter()
            .filter(|(_, e)| e.sockets > 0)
            .map(|(user, e)| Present {
                user: user.clone(),
                name: e.name.clone(),
                buffering: e.buffering,
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.user.cmp(&b.user)));
        list
    }

    /// Takes one token from `key`'s bucket (a bucket of `burst`, refilled at `per_second`);
    /// `false` when they are sending too fast. Chat and playback commands have a bucket each.
    fn take_token(&self, key: &str, per_second: f64, burst: f64) -> bool {
        let mut buckets = lock(&self.chat_buckets);
        let now = std::time::Instant::now();
        let (tokens, since) = buckets.entry(key.to_owned()).or_insert((burst, now));
        let refill = now.duration_since(*since).as_secs_f64() * per_second;
        *tokens = (*tokens + refill).min(burst);
        *since = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sessions that ended: their sockets close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOut {
    /// One session (logged out, or its id was replaced at sign-in).
    Session(String),
    /// Every session of a user but `keep` (a password change, "Sign out other devices").
    UserExcept { user: String, keep: Option<String> },
}

impl SignOut {
    fn ends(&self, user: &str, session: Option<&str>) -> bool {
        match self {
            SignOut::Session(id) => session == Some(id.as_str()),
            SignOut::UserExcept { user: u, keep } => u == user && session != keep.as_deref(),
        }
    }
}

/// Every room with someone connected (or being written to) on this node.
#[derive(Debug)]
pub struct Hub {
    rooms: Mutex<HashMap<String, Arc<RoomHub>>>,
    signed_out: broadcast::Sender<Arc<SignOut>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            rooms: Mutex::default(),
            signed_out: broadcast::channel(64).0,
        }
    }
}

impl Hub {
    /// Closes the sockets of sessions that ended.
    pub fn sign_out(&self, which: SignOut) {
        // No receivers is fine: no socket is open.
        let _ = self.signed_out.send(Arc::new(which));
    }

    pub fn room(&self, room_id: &str) -> Arc<RoomHub> {
        lock(&self.rooms)
            .entry(room_id.to_owned())
            .or_insert_with(|| Arc::new(RoomHub::new()))
            .clone()
    }

    /// Holds the room's write lock: take it before writing an event, keep it until broadcast.
    pub async fn lock(&self, room_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.room(room_id).write.clone().lock_owned().await
    }

    /// Sends a written event to every socket of the room.
    pub fn send_event(&self, room_id: &str, event: RoomEvent) {
        let seq = event.seq;
        let removes = match &event.kind {
            EventKind::Remove { user } => Some(user.clone()),
            _ => None,
        };
        self.send_removing(room_id, seq, &ServerMsg::Event(event), removes);
    }

    fn send(&self, room_id: &str, seq: i64, msg: &ServerMsg) {
        self.send_removing(room_id, seq, msg, None)
    }

    fn send_removing(&self, room_id: &str, seq: i64, msg: &ServerMsg, removes: Option<String>) {
        let room = lock(&self.rooms).get(room_id).cloned();
        if let Some(room) = room {
            if let Ok(json) = serde_json::to_string(msg) {
                // No receivers is fine: nobody is connected.
                let _ = room.tx.send(Arc::new(Outgoing { seq, json, removes }));
            }
        }
    }

    /// Forgets a room nobody is connected to.
    fn tidy(&self, room_id: &str) {
        let mut rooms = lock(&self.rooms);
        if let Some(room) = rooms.get(room_id) {
            if room.tx.receiver_count() == 0 && lock(&room.present).is_empty() {
                rooms.remove(room_id);
            }
        }
    }

    /// Is anyone connected to the room on this node?
    pub fn occupied(&self, room_id: &str) -> bool {
        lock(&self.rooms)
            .get(room_id)
            .is_some_and(|r| lock(&r.present).values().any(|e| e.sockets > 0))
    }
}

/// Writes `kind` as the room's next event inside `tx` (which must hold the room's hub lock).
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    kind: &EventKind,
    user_id: Option<&str>,
    client_id: Option<&str>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let seq = next_seq(tx, room_id).await?;
    insert_event(tx, room_id, seq, kind, user_id, client_id, now).await?;
    Ok(seq)
}

/// Takes the room's next sequence number; also locks the room's row (PostgreSQL) or takes the
/// write lock (SQLite) for the rest of `tx`. An ended room is read-only: `RowNotFound`.
async fn next_seq(tx: &mut Transaction<'_, Any>, room_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 AND ended_at IS NULL \
         RETURNING last_seq",
    )
    .bind(room_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("last_seq")
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

/// Writes a playback command: the new state is worked out from the state inside the same
/// transaction, under the room's lock, so simultaneous commands apply one after another in
/// sequence order — never two from the same stale state.
pub async fn write_control(
    app: &AppState,
    room_id: &str,
    user: &User,
    msg: &ClientMsg,
) -> Result<(), sqlx::Error> {
    write_transition(app, room_id, Some(user), |current, now| {
        apply(msg, current, now)
    })
    .await
    .map(|_| ())
}

/// Writes a change of playback worked out by `transition` from the room's state at server time
/// `now` (none: nothing to do), under the room's lock, and broadcasts the event and the new
/// state. Returns the new state if there was a change.
async fn write_transition(
    app: &AppState,
    room_id: &str,
    user: Option<&User>,
    transition: impl FnOnce(Playback, f64) -> Option<(EventKind, Playback)>,
) -> Result<Option<Playback>, sqlx::Error> {
    let _guard = app.hub.lock(room_id).await;
    let now = now_ms();
    let mut tx = app.db.pool.begin().await?;
    let seq = next_seq(&mut tx, room_id).await?;
    let row = sqlx::query("SELECT paused, position_ms, anchor_ms, rate FROM rooms WHERE id = $1")
        .bind(room_id)
        .fetch_one(&mut *tx)
        .await?;
    let current = Playback {
        paused: flag(&row, "paused")?,
        position: row.try_get::<i64, _>("position_ms")? as f64,
        anchor: row.try_get::<i64, _>("anchor_ms")? as f64,
        rate: row.try_get("rate")?,
    };
    let Some((kind, playback)) = transition(current, now as f64) else {
        tx.rollback().await?;
        return Ok(None);
    };
    let user_id = user.map(|u| u.id.as_str());
    insert_event(&mut tx, room_id, seq, &kind, user_id, None, now).await?;
    sqlx::query(
        "UPDATE rooms SET paused = $1, position_ms = $2, anchor_ms = $3, rate = $4 WHERE id = $5",
    )
    .bind(i64::from(playback.paused))
    .bind(playback.position.round() as i64)
    .bind(playback.anchor.round() as i64)
    .bind(playback.rate)
    .bind(room_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    app.hub.send_event(
        room_id,
        RoomEvent {
            seq,
            at: now,
            user: user.map(|u| u.id.clone()),
            name: user.map(|u| u.display_name.clone()),
            kind,
        },
    );
    app.hub
        .send(room_id, 0, &ServerMsg::Playback { playback, seq });
    Ok(Some(playback))
}

/// Someone's video stalled while the room plays: hold playback where it is and wait — for
/// everyone stalled, but never longer than `buffer_wait`.
async fn hold_for(app: &AppState, room_id: &str, room: &Arc<RoomHub>, user: &User) {
    let wait = app.config.buffer_wait;
    if wait.is_zero() || room.holding() || lock(&room.waiting).excused.contains(&user.id) {
        return;
    }
    // A hold pauses the room: in a room whose controls are locked only the owner's stall may.
    match room_row(app, room_id).await {
        Ok(Some(row)) if !row.controls_locked || row.owner_id == user.id => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "room channel: hold not considered");
            return;
        }
    }
    if !lock(&room.waiting).note_hold(&user.id, std::time::Instant::now()) {
        return;
    }
    let held = write_transition(app, room_id, Some(user), |current, now| {
        (!current.paused).then(|| {
            let position = current.expected(now);
            (
                EventKind::Hold { position },
                Playback {
                    paused: true,
                    position,
                    anchor: now,
                    rate: current.rate,
                },
            )
        })
    })
    .await;
    match held {
        Ok(Some(_)) => {}
        Ok(None) => return,
        Err(e) => {
            if !matches!(e, sqlx::Error::RowNotFound) {
                tracing::warn!(error = %e, "room channel: hold not written");
            }
            return;
        }
    }
    let id = {
        let mut waiting = lock(&room.waiting);
        waiting.next += 1;
        waiting.hold = Some(waiting.next);
        waiting.next
    };
    broadcast_presence(app, room_id, room);
    let (app, room_id, room) = (app.clone(), room_id.to_owned(), room.clone());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        release(&app, &room_id, &room, Some(id)).await;
    });
}

/// Ends a hold: with `timed_out` set to the hold's number, only that hold, and whoever is still
/// stalled is no longer waited for; without, only once nobody is stalled.
async fn release(app: &AppState, room_id: &str, room: &Arc<RoomHub>, timed_out: Option<u64>) {
    let ended = {
        let present = lock(&room.present);
        let mut waiting = lock(&room.waiting);
        match (waiting.hold, timed_out) {
            (Some(hold), Some(id)) if hold == id => {
                let stalled = present
                    .iter()
                    .filter(|(_, e)| e.sockets > 0 && e.buffering)
                    .map(|(user, _)| user.clone())
                    .collect::<Vec<_>>();
                waiting.excused.extend(stalled);
                waiting.hold = None;
                true
            }
            (Some(_), None) => {
                let excused = &waiting.excused;
                let stalled = present
                    .iter()
                    .any(|(user, e)| e.sockets > 0 && e.buffering && !excused.contains(user));
                if !stalled {
                    waiting.hold = None;
                }
                !stalled
            }
            _ => false,
        }
    };
    if !ended {
        return;
    }
    let resumed = write_transition(app, room_id, None, |current, now| {
        current.paused.then(|| {
            (
                EventKind::Resume {
                    position: current.position,
                    timed_out: timed_out.is_some(),
                },
                Playback {
                    paused: false,
                    anchor: now,
                    ..current
                },
            )
        })
    })
    .await;
    if let Err(e) = resumed {
        if !matches!(e, sqlx::Error::RowNotFound) {
            tracing::warn!(error = %e, "room channel: resume not written");
        }
    }
    broadcast_presence(app, room_id, room);
}

fn broadcast_presence(app: &AppState, room_id: &str, room: &RoomHub) {
    app.hub.send(
        room_id,
        0,
        &ServerMsg::Presence {
            present: room.present(),
            holding: room.holding(),
        },
    );
}

fn event_from_row(row: &AnyRow) -> Result<Option<RoomEvent>, sqlx::Error> {
    let tag: String = row.try_get("kind")?;
    let body: String = row.try_get("body")?;
    Ok(EventKind::from_stored(&tag, &body).map(|kind| RoomEvent {
        seq: row.try_get::<i64, _>("seq").unwrap_or_default(),
        at: row.try_get::<i64, _>("created_at").unwrap_or_default(),
        user: row.try_get("user_id").ok().flatten(),
        name: row.try_get("display_name").ok().flatten(),
        kind,
    }))
}

const EVENT_COLUMNS: &str =
    "e.seq, e.kind, e.body, e.created_at, e.user_id, u.display_name FROM room_events e \
     LEFT JOIN users u ON u.id = e.user_id";

/// Which events a page holds: those after a sequence number (what a client missed) or before
/// one (scrolling back).
#[derive(Debug, Clone, Copy)]
enum Bound {
    After(i64),
    Before(i64),
}

/// Up to `limit` events on the given side of a sequence number — the ones nearest the newest —
/// oldest first, and whether there are more.
async fn events_page(
    app: &AppState,
    room_id: &str,
    bound: Bound,
    limit: i64,
) -> Result<(Vec<RoomEvent>, bool), sqlx::Error> {
    let (condition, seq) = match bound {
        Bound::After(seq) => ("e.seq > $2", seq),
        Bound::Before(seq) => ("e.seq < $2", seq),
    };
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} WHERE e.room_id = $1 AND {condition} ORDER BY e.seq DESC LIMIT $3"
    ))
    .bind(room_id)
    .bind(seq)
    .bind(limit + 1)
    .fetch_all(&app.db.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut events = rows
        .iter()
        .take(limit as usize)
        .filter_map(|r| event_from_row(r).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok((events, more))
}

/// The room as the channel needs it.
struct RoomRow {
    owner_id: String,
    controls_locked: bool,
    ended: bool,
    playback: Playback,
    last_seq: i64,
}

async fn room_row(app: &AppState, room_id: &str) -> Result<Option<RoomRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT owner_id, controls_locked, ended_at, paused, position_ms, anchor_ms, rate, \
                last_seq FROM rooms WHERE id = $1",
    )
    .bind(room_id)
    .fetch_optional(&app.db.pool)
    .await?;
    row.map(|row| {
        Ok(RoomRow {
            owner_id: row.try_get("owner_id")?,
            controls_locked: flag(&row, "controls_locked")?,
            ended: row.try_get::<Option<i64>, _>("ended_at")?.is_some(),
            playback: Playback {
                paused: flag(&row, "paused")?,
                position: row.try_get::<i64, _>("position_ms")? as f64,
                anchor: row.try_get::<i64, _>("anchor_ms")? as f64,
                rate: row.try_get("rate")?,
            },
            last_seq: row.try_get("last_seq")?,
        })
    })
    .transpose()
}

/// Who may connect: a signed-in member of the room (not removed), from the app's own origin.
async fn admit(
    app: &AppState,
    session: &tower_sessions::Session,
    code: &str,
    origin: Option<&str>,
) -> Result<(User, String), AppError> {
    let own = app.config.public_url.trim_end_matches('/');
    if origin.map(|o| o.trim_end_matches('/')) != Some(own) {
        return Err(AppError::Forbidden);
    }
    if !crate::friends::domain::is_code(code) {
        return Err(AppError::NotFound);
    }
    let (user_id, epoch) = crate::accounts::ssr::session_user_id(session)
        .await
        .ok_or(AppError::Unauthorized)?;
    let row = sqlx::query(
        "SELECT r.id AS room_id, m.joined_at, m.removed_at, u.username, u.display_name, \
                u.session_epoch \
         FROM rooms r JOIN users u ON u.id = $2 \
         LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = u.id \
         WHERE r.code = $1",
    )
    .bind(code)
    .bind(&user_id)
    .fetch_optional(&app.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.try_get::<i64, _>("session_epoch")? != epoch {
        // Signed out elsewhere (a password change).
        return Err(AppError::Unauthorized);
    }
    let member = row.try_get::<Option<i64>, _>("joined_at")?.is_some()
        && row.try_get::<Option<i64>, _>("removed_at")?.is_none();
    if !member {
        return Err(AppError::Forbidden);
    }
    Ok((
        User {
            id: user_id,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
        },
        row.try_get("room_id")?,
    ))
}

/// `GET /ws/rooms/<code>`: upgrades for a member from the app's own origin; anyone else gets
/// 401/403/404 and no socket.
pub async fn upgrade(
    State(app): State<AppState>,
    session: tower_sessions::Session,
    Path(code): Path<String>,
    headers: http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let session_id = session.id().map(|id| id.to_string());
    match admit(&app, &session, &code, origin).await {
        Ok((user, room_id)) => ws
            .read_buffer_size(4 * 1024)
            .write_buffer_size(4 * 1024)
            .max_write_buffer_size(1024 * 1024)
            .max_message_size(MAX_FRAME_BYTES)
            .max_frame_size(MAX_FRAME_BYTES)
            .on_upgrade(move |socket| async move {
                let hub = app.hub.clone();
                Connection::run(app, user, session_id, room_id.clone(), socket).await;
                hub.tidy(&room_id);
            }),
        Err(e) => (
            http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::FORBIDDEN),
            e.to_string(),
        )
            .into_response(),
    }
}

struct Connection {
    app: AppState,
    user: User,
    room_id: String,
    room: Arc<RoomHub>,
    /// The last event sequence this socket has been sent.
    sent: i64,
}

impl Connection {
    async fn run(
        app: AppState,
        user: User,
        session_id: Option<String>,
        room_id: String,
        socket: WebSocket,
    ) {
        let room = app.hub.room(&room_id);
        let mut signed_out = app.hub.signed_out.subscribe();
        let mut conn = Connection {
            app,
            user,
            room_id,
            room,
            sent: 0,
        };
        let (mut sink, mut stream) = socket.split();
        // Subscribe before reading the backlog, so nothing falls between the two.
        let mut rx = conn.room.tx.subscribe();
        let last_seq = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => match ClientMsg::parse(text.as_str()) {
                Ok(ClientMsg::Hello { last_seq, .. }) => last_seq,
                Ok(_) => {
                    let _ = send(&mut sink, &error(ProtoError::Malformed)).await;
                    return;
                }
                Err(e) => {
                    let _ = send(&mut sink, &error(e)).await;
                    return;
                }
            },
            _ => return,
        };
        conn.enter().await;
        match conn.welcome(last_seq).await {
            Ok(msg) => {
                if send(&mut sink, &msg).await.is_err() {
                    conn.leave();
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "room channel: welcome failed");
                conn.leave();
                return;
            }
        }
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            if send(&mut sink, &error(ProtoError::Malformed)).await.is_err() { break; }
                            continue;
                        }
                        Some(Ok(Message::Close(_))) | None => break,
                        Some(Ok(_)) => continue,
                        // Oversized frames and protocol errors end up here.
                        Some(Err(_)) => {
                            let _ = send(&mut sink, &error(ProtoError::TooLarge)).await;
                            break;
                        }
                    };
                    let replies = conn.handle(text.as_str()).await;
                    let mut failed = false;
                    for reply in replies {
                        if send(&mut sink, &reply).await.is_err() { failed = true; break; }
                    }
                    if failed { break; }
                }
                out = rx.recv() => match out {
                    Ok(out) => {
                        if out.seq != 0 && out.seq <= conn.sent { continue; }
                        if out.seq > conn.sent + 1 {
                            // A gap (another writer's event not broadcast yet): fill it from the database.
                            if conn.resend_from_db(&mut sink).await.is_err() { break; }
                            if out.seq <= conn.sent { continue; }
                        }
                        if sink.send(Message::Text(out.json.clone().into())).await.is_err() { break; }
                        if out.seq != 0 { conn.sent = out.seq; }
                        // Removed from the room: they see that they were, and nothing after it.
                        if out.removes.as_deref() == Some(conn.user.id.as_str()) {
                            let _ = sink.send(Message::Close(None)).await;
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if conn.resend_from_db(&mut sink).await.is_err() { break; }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                ended = signed_out.recv() => match ended {
                    Ok(which) if which.ends(&conn.user.id, session_id.as_deref()) => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                    Ok(_) => {}
                    // Missed some: the session may be among them; the database knows.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !conn.session_still_valid(session_id.as_deref()).await {
                            let _ = sink.send(Message::Close(None)).await;
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        conn.leave();
    }

    /// Is the session this socket was opened in still signed in as its user?
    async fn session_still_valid(&self, session_id: Option<&str>) -> bool {
        let Some(id) = session_id else { return false };
        let row = sqlx::query("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now_ms())
            .fetch_optional(&self.app.db.pool)
            .await;
        match row {
            Ok(Some(row)) => row
                .try_get::<String, _>("data")
                .ok()
                .and_then(|data| serde_json::from_str::<serde_json::Value>(&data).ok())
                .is_some_and(|data| data["user_id"] == self.user.id.as_str()),
            Ok(None) => false,
            // The database is unreachable: keep the socket rather than guess.
            Err(_) => true,
        }
    }

    /// Notes this socket as present; the person's first socket writes a Join.
    async fn enter(&mut self) {
        let first = {
            let mut present = lock(&self.room.present);
            // An entry with no sockets is a leave still in its grace period (a reload): the
            // person never left, so no second Join.
            let first = !present.contains_key(&self.user.id);
            let entry = present.entry(self.user.id.clone()).or_default();
            entry.name = self.user.display_name.clone();
            entry.sockets += 1;
            first
        };
        if first {
            // An ended room records no more joins (`RowNotFound`); anything else is worth a line.
            if let Err(e) = self.write(EventKind::Join, None, None).await {
                if !matches!(e, sqlx::Error::RowNotFound) {
                    tracing::warn!(error = %e, "room channel: join not written");
                }
            }
        }
        self.broadcast_presence();
        self.touch(true).await;
    }

    /// This socket is gone; when the person's last socket has been gone for a moment, a Leave.
    fn leave(&self) {
        let last = {
            let mut present = lock(&self.room.present);
            match present.get_mut(&self.user.id) {
                Some(entry) => {
                    entry.sockets = entry.sockets.saturating_sub(1);
                    entry.sockets == 0
                }
                None => false,
            }
        };
        self.broadcast_presence();
        if last {
            let app = self.app.clone();
            let user = self.user.clone();
            let room_id = self.room_id.clone();
            let room = self.room.clone();
            tokio::spawn(async move {
                tokio::time::sleep(LEAVE_GRACE).await;
                let gone = {
                    let mut present = lock(&room.present);
                    match present.get(&user.id) {
                        Some(entry) if entry.sockets == 0 => {
                            present.remove(&user.id);
                            true
                        }
                        _ => false,
                    }
                };
                if gone {
                    // They may have been the one the room was waiting for.
                    release(&app, &room_id, &room, None).await;
                    if let Err(e) =
                        write_event(&app, &room_id, Some(&user), EventKind::Leave, None, None).await
                    {
                        if !matches!(e, sqlx::Error::RowNotFound) {
                            tracing::warn!(error = %e, "room channel: leave not written");
                        }
                    }
                    let _ = sqlx::query("UPDATE rooms SET last_active_at = $1 WHERE id = $2")
                        .bind(now_ms())
                        .bind(&room_id)
                        .execute(&app.db.pool)
                        .await;
                    app.hub.tidy(&room_id);
                }
            });
        }
    }

    fn broadcast_presence(&self) {
        broadcast_presence(&self.app, &self.room_id, &self.room);
    }

    /// Notes that someone is in the room, at most once a minute per room (or now, if `force`).
    async fn touch(&self, force: bool) {
        let now = now_ms();
        {
            let mut last = lock(&self.room.last_touch);
            if !force && now - *last < TOUCH_EVERY_MS {
                return;
            }
            *last = now;
        }
        let _ = sqlx::query("UPDATE rooms SET last_active_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&self.room_id)
            .execute(&self.app.db.pool)
            .await;
    }

    async fn welcome(&mut self, last_seq: i64) -> Result<ServerMsg, sqlx::Error> {
        let row = room_row(&self.app, &self.room_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let after = if last_seq > row.last_seq { 0 } else { last_seq };
        let (events, more) =
            events_page(&self.app, &self.room_id, Bound::After(after), PAGE).await?;
        self.sent = events.last().map_or(after.max(0), |e| e.seq);
        Ok(ServerMsg::Welcome {
            v: PROTOCOL_VERSION,
            snapshot: Snapshot {
                me: self.user.id.clone(),
                owner: row.owner_id,
                playback: row.playback,
                controls_locked: row.controls_locked,
                ended: row.ended,
                present: self.room.present(),
                holding: self.room.holding(),
                seq: row.last_seq,
            },
            events,
            more,
        })
    }

    async fn resend_from_db(
        &mut self,
        sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    ) -> Result<(), axum::Error> {
        loop {
            let (events, more) =
                match events_page(&self.app, &self.room_id, Bound::After(self.sent), PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, "room channel: resend failed");
                        return Ok(());
                    }
                };
            for event in events {
                self.sent = event.seq;
                send(sink, &ServerMsg::Event(event)).await?;
            }
            if !more {
                break;
            }
        }
        // Whatever playback state those events led to.
        if let Ok(Some(row)) = room_row(&self.app, &self.room_id).await {
            send(
                sink,
                &ServerMsg::Playback {
                    playback: row.playback,
                    seq: row.last_seq,
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn handle(&mut self, text: &str) -> Vec<ServerMsg> {
        let t1 = now_ms() as f64;
        let msg = match ClientMsg::parse(text) {
            Ok(msg) => msg,
            Err(e) => return vec![error(e)],
        };
        self.touch(false).await;
        let result = match msg {
            ClientMsg::Hello { .. } => Err(ProtoError::Malformed),
            ClientMsg::Ping { t0 } => {
                return vec![ServerMsg::Pong {
                    t0,
                    t1,
                    t2: now_ms() as f64,
                }]
            }
            ClientMsg::History { before_seq } => {
                return match events_page(&self.app, &self.room_id, Bound::Before(before_seq), PAGE)
                    .await
                {
                    Ok((events, more)) => vec![ServerMsg::History { events, more }],
                    Err(e) => {
                        tracing::warn!(error = %e, "room channel: history failed");
                        vec![]
                    }
                };
            }
            ClientMsg::Buffering { stalled } => {
                if !self.take_control_token() {
                    return vec![error(ProtoError::RateLimited)];
                }
                if let Some(entry) = lock(&self.room.present).get_mut(&self.user.id) {
                    entry.buffering = stalled;
                }
                if !stalled {
                    lock(&self.room.waiting).excused.remove(&self.user.id);
                }
                self.broadcast_presence();
                if stalled {
                    hold_for(&self.app, &self.room_id, &self.room, &self.user).await;
                } else {
                    release(&self.app, &self.room_id, &self.room, None).await;
                }
                return vec![];
            }
            ClientMsg::Chat { id, text, position } => {
                if !self.take_chat_token() {
                    return vec![error(ProtoError::RateLimited)];
                }
                let kind = EventKind::Chat {
                    id: id.clone(),
                    text: text.trim().to_owned(),
                    position,
                };
                self.command(kind, Some(&id)).await
            }
            ClientMsg::React { emoji, position } => {
                if !self.take_chat_token() {
                    return vec![error(ProtoError::RateLimited)];
                }
                self.command(EventKind::React { emoji, position }, None)
                    .await
            }
            control => {
                if !self.take_control_token() {
                    return vec![error(ProtoError::RateLimited)];
                }
                self.control(control).await
            }
        };
        match result {
            Ok(replies) => replies,
            Err(e) => vec![error(e)],
        }
    }

    fn take_chat_token(&self) -> bool {
        let config = &self.app.config;
        self.room
            .take_token(&self.user.id, config.chat_per_second, config.chat_burst)
    }

    fn take_control_token(&self) -> bool {
        let key = format!("{}\ncontrol", self.user.id);
        self.room
            .take_token(&key, CONTROL_PER_SECOND, CONTROL_BURST)
    }

    /// Play, pause, seek, rate: checked against locked controls, then written with the new state.
    async fn control(&mut self, msg: ClientMsg) -> Result<Vec<ServerMsg>, ProtoError> {
        let row = room_row(&self.app, &self.room_id)
            .await
            .ok()
            .flatten()
            .ok_or(ProtoError::Malformed)?;
        if row.ended {
            return Err(ProtoError::RoomEnded);
        }
        if row.controls_locked && row.owner_id != self.user.id {
            return Err(ProtoError::ControlsLocked);
        }
        write_control(&self.app, &self.room_id, &self.user, &msg)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "room channel: command not written");
                ProtoError::Malformed
            })?;
        // Someone pressed play or pause: their decision ends any wait for a stalled player.
        if matches!(msg, ClientMsg::Play { .. } | ClientMsg::Pause { .. })
            && lock(&self.room.waiting).hold.take().is_some()
        {
            self.broadcast_presence();
        }
        Ok(vec![])
    }

    /// Chat and reactions: refused in an ended room; a retried chat message is not written
    /// twice — its sender gets the original back.
    async fn command(
        &mut self,
        kind: EventKind,
        client_id: Option<&str>,
    ) -> Result<Vec<ServerMsg>, ProtoError> {
        match write_event(
            &self.app,
            &self.room_id,
            Some(&self.user),
            kind,
            client_id,
            None,
        )
        .await
        {
            Ok(Written::New(_)) => Ok(vec![]),
            Ok(Written::Duplicate(original)) => Ok(vec![ServerMsg::Event(original)]),
            Err(sqlx::Error::RowNotFound) => Err(ProtoError::RoomEnded),
            Err(e) => {
                tracing::warn!(error = %e, "room channel: message not written");
                Err(ProtoError::Malformed)
            }
        }
    }

    async fn write(
        &self,
        kind: EventKind,
        client_id: Option<&str>,
        update: Option<RoomUpdate>,
    ) -> Result<Written, sqlx::Error> {
        write_event(
            &self.app,
            &self.room_id,
            Some(&self.user),
            kind,
            client_id,
            update,
        )
        .await
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
pub enum Written {
    New(i64),
    /// A retry of a message already written: here it is.
    Duplicate(RoomEvent),
}

/// Writes an event (and, for playback commands, the new state) under the room's lock, commits,
/// then broadcasts it — and the new playback state after it.
pub async fn write_event(
    app: &AppState,
    room_id: &str,
    user: Option<&User>,
    kind: EventKind,
    client_id: Option<&str>,
    update: Option<RoomUpdate>,
) -> Result<Written, sqlx::Error> {
    let _guard = app.hub.lock(room_id).await;
    let now = now_ms();
    // A retry is looked up before the transaction: SQLite refuses at once (no busy wait) a
    // transaction that read first and then wants to write while another one writes, so every
    // transaction here starts with its write.
    if let (Some(client_id), Some(user)) = (client_id, user) {
        let existing = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} WHERE e.room_id = $1 AND e.user_id = $2 AND e.client_id = $3"
        ))
        .bind(room_id)
        .bind(&user.id)
        .bind(client_id)
        .fetch_optional(&app.db.pool)
        .await?;
        if let Some(row) = existing {
            return event_from_row(&row)?
                .map(Written::Duplicate)
                .ok_or(sqlx::Error::RowNotFound);
        }
    }
    let mut tx = app.db.pool.begin().await?;
    let seq = append(
        &mut tx,
        room_id,
        &kind,
        user.map(|u| u.id.as_str()),
        client_id,
        now,
    )
    .await?;
    match update {
        Some(RoomUpdate::Name(name)) => {
            sqlx::query("UPDATE rooms SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
        }
        Some(RoomUpdate::ControlsLocked(locked)) => {
            sqlx::query("UPDATE rooms SET controls_locked = $1 WHERE id = $2")
                .bind(i64::from(locked))
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
        }
        Some(RoomUpdate::Ended(at)) => {
            sqlx::query("UPDATE rooms SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(at)
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
        }
        Some(RoomUpdate::Removed { user, at }) => {
            sqlx::query(
                "UPDATE room_members SET removed_at = $1 \
                 WHERE room_id = $2 AND user_id = $3 AND removed_at IS NULL",
            )
            .bind(at)
            .bind(room_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        None => {}
    }
    tx.commit().await?;
    app.hub.send_event(
        room_id,
        RoomEvent {
            seq,
            at: now,
            user: user.map(|u| u.id.clone()),
            name: user.map(|u| u.display_name.clone()),
            kind,
        },
    );
    Ok(Written::New(seq))
}

fn error(error: ProtoError) -> ServerMsg {
    ServerMsg::Error { error }
}

async fn send(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    msg: &ServerMsg,
) -> Result<(), axum::Error> {
    let json = serde_json::to_string(msg).unwrap_or_default();
    sink.send(Message::Text(json.into())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn someone_who_keeps_stalling_is_not_waited_for_again_in_the_window() {
        let mut waiting = Waiting::default();
        let t0 = std::time::Instant::now();
        for i in 0..STALL_HOLDS {
            assert!(waiting.note_hold("vasya", t0 + Duration::from_secs(i as u64)));
        }
        assert!(!waiting.note_hold("vasya", t0 + Duration::from_secs(60)));
        assert!(
            waiting.note_hold("petya", t0),
            "others are still waited for"
        );
        assert!(
            waiting.note_hold("vasya", t0 + STALL_WINDOW + Duration::from_secs(5)),
            "a new window"
        );
    }

    #[test]
    fn a_token_bucket_refuses_a_flood_and_keeps_buckets_apart() {
        let room = RoomHub::new();
        let allowed = (0..100)
            .filter(|_| room.take_token("vasya\ncontrol", CONTROL_PER_SECOND, CONTROL_BURST))
            .count();
        assert!(
            (CONTROL_BURST as usize..CONTROL_BURST as usize + 2).contains(&allowed),
            "{allowed} of 100 commands at once got through"
        );
        assert!(
            room.take_token("vasya", 2.0, 8.0),
            "chat has its own bucket"
        );
    }

    #[test]
    fn sign_out_ends_the_right_sockets() {
        let one = SignOut::Session("s1".into());
        assert!(one.ends("u", Some("s1")));
        assert!(!one.ends("u", Some("s2")));
        let others = SignOut::UserExcept {
            user: "u".into(),
            keep: Some("s1".into()),
        };
        assert!(!others.ends("u", Some("s1")));
        assert!(others.ends("u", Some("s2")));
        assert!(!others.ends("v", Some("s2")));
    }
}
