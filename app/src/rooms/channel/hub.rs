//! The hub: what this node keeps in memory about its rooms. For each room with someone connected
//! (or being written to): the broadcast every socket of the room listens to, who is connected,
//! the token buckets that slow a flood down, and whether playback is held for someone whose
//! video stalled. Also the broadcast of sessions that ended, whose sockets close.
//!
//! No database here: the log (`log.rs`) writes an event and then publishes it through the hub.
//! With several nodes (`cluster.rs`) the hub also tells the other nodes what it published and
//! who is connected here, and shows the people connected through them beside its own.
//! Whether a stall holds the room and when the hold ends are plain functions of what the hub
//! knows (`Waiting`, `stalled`, `hold_at`, `resume_from`), so they are tested without a socket.

use super::cluster::{Link, Note};
use super::commit::Committer;
use crate::rooms::protocol::{EventKind, Present, RoomEvent, ServerMsg};
use crate::sync::Playback;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How many events a socket may fall behind before it is resent from the database.
const BUFFER: usize = 256;
/// How often a connected room notes that someone is there (for the lifecycle job).
const TOUCH_EVERY_MS: i64 = 60_000;
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
pub(super) struct Outgoing {
    pub(super) seq: i64,
    pub(super) json: String,
    /// Someone removed from the room by this event: their sockets close after it.
    pub(super) removes: Option<String>,
}

#[derive(Debug, Default)]
struct PresentEntry {
    name: String,
    sockets: usize,
    buffering: bool,
}

/// Who the room would wait for: people connected whose video stalled.
fn stalled(present: &HashMap<String, PresentEntry>) -> Vec<String> {
    present
        .iter()
        .filter(|(_, e)| e.sockets > 0 && e.buffering)
        .map(|(user, _)| user.clone())
        .collect()
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
    holds_by: HashMap<String, Vec<Instant>>,
}

/// Whether a hold ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Release {
    /// No: there is no hold (or another one than the timer's), or someone is still stalled.
    Keep,
    /// Yes; `excuse` are the people no longer waited for (their stall timed out).
    End { excuse: Vec<String> },
}

impl Waiting {
    /// Is a stall by `user` worth considering at all? Not when the room never waits (`wait` is
    /// zero), already holds, or stopped waiting for them.
    fn considers(&self, user: &str, wait: Duration) -> bool {
        !wait.is_zero() && self.hold.is_none() && !self.excused.contains(user)
    }

    /// May `user`'s stall hold the room now? Not when they held it `STALL_HOLDS` times within
    /// `STALL_WINDOW`; otherwise it is noted as one more hold of theirs.
    fn note_hold(&mut self, user: &str, now: Instant) -> bool {
        let recent = self.holds_by.entry(user.to_owned()).or_default();
        recent.retain(|at| now.duration_since(*at) < STALL_WINDOW);
        if recent.len() >= STALL_HOLDS {
            return false;
        }
        recent.push(now);
        true
    }

    /// Does the hold end, with `stalled` the people stalled now? With `timed_out` set to the
    /// hold's number, that hold ends and whoever is still stalled is no longer waited for;
    /// without, it ends once nobody the room still waits for is stalled.
    fn release(&self, stalled: &[String], timed_out: Option<u64>) -> Release {
        match (self.hold, timed_out) {
            (Some(hold), Some(id)) if hold == id => Release::End {
                excuse: stalled.to_vec(),
            },
            (Some(_), None) if stalled.iter().all(|user| self.excused.contains(user)) => {
                Release::End { excuse: Vec::new() }
            }
            _ => Release::Keep,
        }
    }
}

/// What a hold writes at server time `now`: playback paused where the film is — or nothing when
/// it is paused already.
pub(super) fn hold_at(current: Playback, now: f64) -> Option<(EventKind, Playback)> {
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
}

/// What the end of a hold writes at server time `now`: playback going on from where it was held
/// — or nothing when it is playing already.
pub(super) fn resume_from(
    current: Playback,
    now: f64,
    timed_out: bool,
) -> Option<(EventKind, Playback)> {
    current.paused.then_some((
        EventKind::Resume {
            position: current.position,
            timed_out,
        },
        Playback {
            paused: false,
            anchor: now,
            ..current
        },
    ))
}

/// One room on this node.
#[derive(Debug)]
pub(super) struct RoomHub {
    tx: broadcast::Sender<Arc<Outgoing>>,
    write: Arc<tokio::sync::Mutex<()>>,
    present: Mutex<HashMap<String, PresentEntry>>,
    last_touch: Mutex<i64>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    waiting: Mutex<Waiting>,
    /// The newest event sent to this room's sockets (0: none yet): what another node wrote
    /// after it is read from the database and sent on.
    published: AtomicI64,
    /// People connected to the room through other nodes (none with one node).
    elsewhere: Mutex<Vec<Present>>,
}

impl RoomHub {
    fn new() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            write: Arc::new(tokio::sync::Mutex::new(())),
            present: Mutex::new(HashMap::new()),
            last_touch: Mutex::new(0),
            buckets: Mutex::new(HashMap::new()),
            waiting: Mutex::new(Waiting::default()),
            published: AtomicI64::new(0),
            elsewhere: Mutex::new(Vec::new()),
        }
    }

    /// The newest event this room's sockets have been sent (or greeted with).
    pub(super) fn published(&self) -> i64 {
        self.published.load(Ordering::SeqCst)
    }

    /// The room's sockets have been sent everything up to `seq`.
    pub(super) fn saw(&self, seq: i64) {
        self.published.fetch_max(seq, Ordering::SeqCst);
    }

    /// A socket was greeted with the room as of `seq`. For the room's first socket here that
    /// is where sending begins; later ones change nothing (the sockets already here may lack
    /// events up to `seq` that are still being caught up with, and must get them).
    pub(super) fn greeted(&self, seq: i64) {
        let _ = self
            .published
            .compare_exchange(0, seq, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The people connected through other nodes; `true` if that changed who is here.
    pub(super) fn set_elsewhere(&self, mut people: Vec<Present>) -> bool {
        people.sort_by(|a, b| a.user.cmp(&b.user));
        {
            // Someone stalled through another node who can play again is waited for again.
            let mut waiting = lock(&self.waiting);
            for p in people.iter().filter(|p| !p.buffering) {
                waiting.excused.remove(&p.user);
            }
        }
        let mut elsewhere = lock(&self.elsewhere);
        let changed = *elsewhere != people;
        *elsewhere = people;
        changed
    }

    /// This node's own people, for the other nodes: (user, name, sockets, buffering) — with
    /// those whose last socket closed moments ago (sockets 0), who have not left yet.
    pub(super) fn local(&self) -> Vec<(String, String, usize, bool)> {
        lock(&self.present)
            .iter()
            .map(|(user, e)| (user.clone(), e.name.clone(), e.sockets, e.buffering))
            .collect()
    }

    /// Is playback held for someone stalled?
    pub(super) fn holding(&self) -> bool {
        lock(&self.waiting).hold.is_some()
    }

    /// Who is connected (here or through another node), by name.
    pub(super) fn present(&self) -> Vec<Present> {
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
        for other in lock(&self.elsewhere).iter() {
            match list.iter_mut().find(|p| p.user == other.user) {
                Some(here) => here.buffering |= other.buffering,
                None => list.push(other.clone()),
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.user.cmp(&b.user)));
        list
    }

    /// Notes one more socket of `user`; `true` for their first (they join).
    pub(super) fn enter(&self, user: &str, name: &str) -> bool {
        let mut present = lock(&self.present);
        // An entry with no sockets is a leave still in its grace period (a reload): the person
        // never left, so no second Join.
        let first = !present.contains_key(user);
        let entry = present.entry(user.to_owned()).or_default();
        entry.name = name.to_owned();
        entry.sockets += 1;
        first
    }

    /// One socket of `user` closed; `true` when it was their last (they may be leaving).
    pub(super) fn leave(&self, user: &str) -> bool {
        match lock(&self.present).get_mut(user) {
            Some(entry) => {
                entry.sockets = entry.sockets.saturating_sub(1);
                entry.sockets == 0
            }
            None => false,
        }
    }

    /// After the grace period: forgets `user` if they still have no socket; `true` if so (they
    /// left).
    pub(super) fn forget(&self, user: &str) -> bool {
        let mut present = lock(&self.present);
        match present.get(user) {
            Some(entry) if entry.sockets == 0 => {
                present.remove(user);
                true
            }
            _ => false,
        }
    }

    /// `user`'s video stalled, or can play again (and is waited for again from now on).
    pub(super) fn set_buffering(&self, user: &str, stalled: bool) {
        if let Some(entry) = lock(&self.present).get_mut(user) {
            entry.buffering = stalled;
        }
        if !stalled {
            lock(&self.waiting).excused.remove(user);
        }
    }

    /// Should the room note now (`now`, ms) that someone is in it? At most once a minute, or
    /// whenever `force`d.
    pub(super) fn touch_due(&self, now: i64, force: bool) -> bool {
        let mut last = lock(&self.last_touch);
        if !force && now - *last < TOUCH_EVERY_MS {
            return false;
        }
        *last = now;
        true
    }

    /// Takes one token from `key`'s bucket (a bucket of `burst`, refilled at `per_second`);
    /// `false` when they are sending too fast. Chat and playback commands have a bucket each.
    fn take_token(&self, key: &str, per_second: f64, burst: f64) -> bool {
        let mut buckets = lock(&self.buckets);
        let now = Instant::now();
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

    /// A chat message or reaction from `user` (the rate is the server's setting).
    pub(super) fn take_chat_token(&self, user: &str, per_second: f64, burst: f64) -> bool {
        self.take_token(user, per_second, burst)
    }

    /// A playback command or stall report from `user`.
    pub(super) fn take_control_token(&self, user: &str) -> bool {
        self.take_token(
            &format!("{user}\ncontrol"),
            CONTROL_PER_SECOND,
            CONTROL_BURST,
        )
    }

    /// Is `user`'s stall worth asking the database about (see `Waiting::considers`)?
    pub(super) fn considers_hold(&self, user: &str, wait: Duration) -> bool {
        lock(&self.waiting).considers(user, wait)
    }

    /// Notes a hold by `user`; `false` when they held the room too often lately.
    pub(super) fn note_hold(&self, user: &str, now: Instant) -> bool {
        lock(&self.waiting).note_hold(user, now)
    }

    /// A hold was written: its number, for the timer that ends it.
    pub(super) fn start_hold(&self) -> u64 {
        let mut waiting = lock(&self.waiting);
        waiting.next += 1;
        waiting.hold = Some(waiting.next);
        waiting.next
    }

    /// Someone pressed play or pause: their decision ends any wait. `true` if there was one.
    pub(super) fn interrupt_hold(&self) -> bool {
        lock(&self.waiting).hold.take().is_some()
    }

    /// Ends the hold if it should end now (see `Waiting::release`); `true` if it did, and the
    /// room should resume.
    pub(super) fn release(&self, timed_out: Option<u64>) -> bool {
        let present = lock(&self.present);
        let mut stalled = stalled(&present);
        // Whoever stalled through another node is waited for too.
        for other in lock(&self.elsewhere).iter() {
            if other.buffering && !stalled.contains(&other.user) {
                stalled.push(other.user.clone());
            }
        }
        let mut waiting = lock(&self.waiting);
        match waiting.release(&stalled, timed_out) {
            Release::Keep => false,
            Release::End { excuse } => {
                waiting.excused.extend(excuse);
                waiting.hold = None;
                true
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a node that is stopping is: still serving, telling the balancer it is not ready, or
/// closing its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drain {
    Serving,
    NotReady,
    Closing,
}

/// Every room with someone connected (or being written to) on this node.
#[derive(Debug)]
pub struct Hub {
    rooms: Mutex<HashMap<String, Arc<RoomHub>>>,
    /// The other nodes, when there are any (PostgreSQL); unset, the hub is the only one.
    cluster: OnceLock<Link>,
    drain: tokio::sync::watch::Sender<Drain>,
    /// The node's writer of plain room events, started with the first one.
    committer: OnceLock<Committer>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            rooms: Mutex::default(),
            cluster: OnceLock::new(),
            drain: tokio::sync::watch::channel(Drain::Serving).0,
            committer: OnceLock::new(),
        }
    }
}

impl Hub {
    /// The node is stopping: `NotReady` first (the balancer stops sending new clients), then
    /// `Closing` (every socket closes, each after its own short pause, and reconnects elsewhere).
    pub fn drain(&self, step: Drain) {
        self.drain.send_if_modified(|now| {
            let later = step > *now;
            if later {
                *now = step;
            }
            later
        });
    }

    /// Where the node is in stopping.
    pub fn draining(&self) -> Drain {
        *self.drain.borrow()
    }

    /// For a socket: changes while the node stops.
    pub(super) fn drain_signal(&self) -> tokio::sync::watch::Receiver<Drain> {
        self.drain.subscribe()
    }

    /// How many sockets are open on this node.
    pub fn sockets(&self) -> usize {
        lock(&self.rooms)
            .values()
            .map(|room| room.tx.receiver_count())
            .sum()
    }

    /// This node stops for good: the other nodes may count it gone at once (its people leave
    /// the rooms they do not come back to). Nothing to do with one node.
    pub async fn retire(&self) {
        if let Some(link) = self.cluster.get() {
            link.retire().await;
        }
    }

    /// The node's group-committing writer of plain events on `db` (the node's one database).
    pub(super) fn committer(&self, db: &crate::db::Db) -> &Committer {
        self.committer.get_or_init(|| Committer::start(db.clone()))
    }

    /// From now on the hub tells the other nodes through `link` (once, at start).
    pub(super) fn link(&self, link: Link) {
        let _ = self.cluster.set(link);
    }

    /// Is `user` in the room through another node (never, with one node)?
    pub(super) async fn in_room_elsewhere(&self, room_id: &str, user: &str) -> bool {
        match self.cluster.get() {
            Some(link) => link.elsewhere(room_id, user).await,
            None => false,
        }
    }

    fn tell(&self, note: Note) {
        if let Some(link) = self.cluster.get() {
            link.tell(note);
        }
    }

    /// The room, if anyone is connected to it here.
    pub(super) fn existing(&self, room_id: &str) -> Option<Arc<RoomHub>> {
        lock(&self.rooms).get(room_id).cloned()
    }

    /// Every room with someone connected here, with the newest event its sockets were sent.
    pub(super) fn rooms(&self) -> Vec<(String, i64)> {
        lock(&self.rooms)
            .iter()
            .map(|(id, room)| (id.clone(), room.published()))
            .collect()
    }

    fn room(&self, room_id: &str) -> Arc<RoomHub> {
        lock(&self.rooms)
            .entry(room_id.to_owned())
            .or_insert_with(|| Arc::new(RoomHub::new()))
            .clone()
    }

    /// The room and its broadcast, for a new socket. Subscribed while the rooms are locked, so
    /// `tidy` cannot forget the room between the two.
    pub(super) fn join(&self, room_id: &str) -> (Arc<RoomHub>, broadcast::Receiver<Arc<Outgoing>>) {
        let mut rooms = lock(&self.rooms);
        let room = rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| Arc::new(RoomHub::new()))
            .clone();
        let rx = room.tx.subscribe();
        (room, rx)
    }

    /// Holds the room's write lock: take it before writing an event, keep it until published.
    pub(super) async fn lock(&self, room_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.room(room_id).write.clone().lock_owned().await
    }

    /// Sends an event written here to every socket of the room, and tells the other nodes.
    pub(super) fn publish(&self, room_id: &str, event: RoomEvent) {
        let seq = event.seq;
        self.deliver(room_id, event);
        self.tell(Note::Event {
            room: room_id.to_owned(),
            seq,
        });
    }

    /// Sends an event (written here or by another node) to every socket of the room.
    pub(super) fn deliver(&self, room_id: &str, event: RoomEvent) {
        let seq = event.seq;
        if let Some(room) = self.existing(room_id) {
            room.saw(seq);
        }
        let removes = match &event.kind {
            EventKind::Remove { user } => Some(user.clone()),
            _ => None,
        };
        let new_film = matches!(event.kind, EventKind::NowPlaying { .. });
        self.send(room_id, seq, &ServerMsg::Event(event), removes);
        // A new film: any wait for a stalled player of the old one is over.
        if new_film {
            let room = lock(&self.rooms).get(room_id).cloned();
            if let Some(room) = room.filter(|room| room.interrupt_hold()) {
                self.send_presence(room_id, &room);
            }
        }
    }

    /// Sends the playback state that the event `seq` led to.
    pub(super) fn send_playback(&self, room_id: &str, playback: Playback, seq: i64) {
        self.send(room_id, 0, &ServerMsg::Playback { playback, seq }, None);
    }

    /// Someone came, went or stalled here: every socket of the room and the other nodes hear.
    pub(super) fn presence_changed(&self, room_id: &str, room: &RoomHub) {
        self.send_presence(room_id, room);
        self.tell(Note::Presence {
            room: room_id.to_owned(),
        });
    }

    /// Sends who is connected to `room` (and whether it holds for someone).
    pub(super) fn send_presence(&self, room_id: &str, room: &RoomHub) {
        let msg = ServerMsg::Presence {
            present: room.present(),
            holding: room.holding(),
        };
        self.send(room_id, 0, &msg, None);
    }

    fn send(&self, room_id: &str, seq: i64, msg: &ServerMsg, removes: Option<String>) {
        let room = lock(&self.rooms).get(room_id).cloned();
        if let Some(room) = room {
            if let Ok(json) = serde_json::to_string(msg) {
                // No receivers is fine: nobody is connected.
                let _ = room.tx.send(Arc::new(Outgoing { seq, json, removes }));
            }
        }
    }

    /// The rooms with someone in them now, and how many people each (including those connected
    /// through other nodes that this node knows of).
    pub fn live(&self) -> Vec<(String, usize)> {
        let rooms: Vec<(String, Arc<RoomHub>)> = lock(&self.rooms)
            .iter()
            .map(|(id, room)| (id.clone(), room.clone()))
            .collect();
        rooms
            .into_iter()
            .map(|(id, room)| (id, room.present().len()))
            .filter(|(_, people)| *people > 0)
            .collect()
    }

    /// Who is connected to the room on this node now.
    pub fn present_users(&self, room_id: &str) -> Vec<String> {
        let room = lock(&self.rooms).get(room_id).cloned();
        room.map(|r| r.present().into_iter().map(|p| p.user).collect())
            .unwrap_or_default()
    }

    /// Forgets a room nobody is connected to.
    pub(super) fn tidy(&self, room_id: &str) {
        let mut rooms = lock(&self.rooms);
        if let Some(room) = rooms.get(room_id) {
            if room.tx.receiver_count() == 0 && lock(&room.present).is_empty() {
                rooms.remove(room_id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
