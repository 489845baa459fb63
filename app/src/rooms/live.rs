//! The room channel in the browser: one websocket to `/ws/rooms/<code>`, reconnected with
//! backoff, the room's events in sequence order, the clock estimate and the chat outbox.
//!
//! Everything the page shows is in the signals of [`Live`]; the socket itself lives in a
//! browser-only [`Channel`] created by an effect (so never on the server).

use super::protocol::{
    ClientMsg, EventKind, Present, ProtoError, QueueState, RoomEvent, ServerMsg, PROTOCOL_VERSION,
};
use crate::sync::{Clock, Playback, Sample};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

/// The state of the connection, as the page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Open,
    Reconnecting,
    /// The owner removed this person: no more reconnecting.
    Removed,
    /// The server refuses this page a socket, for a reason reconnecting cannot fix.
    Refused(Refusal),
}

/// Why the server refuses a socket that never opened (asked of `rooms/open` once refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Signed out (elsewhere, or the session expired).
    SignedOut,
    /// Not, or no longer, a member.
    NotMember,
    /// The room is gone.
    Gone,
    /// A member, yet refused: the page was opened at an address Kino does not accept as its own.
    Address,
}

impl Refusal {
    /// What `rooms/open` says about a member whose socket was refused; `None`: reconnect
    /// (the server is down or restarting, or the refusal was a passing one).
    fn from_access(access: &Result<super::RoomAccess, crate::error::AppError>) -> Option<Self> {
        use super::RoomAccess;
        use crate::error::AppError;
        match access {
            Ok(RoomAccess::Guest(_)) | Err(AppError::Unauthorized) => Some(Self::SignedOut),
            Ok(RoomAccess::Locked(_)) | Err(AppError::Forbidden) => Some(Self::NotMember),
            Err(AppError::NotFound) => Some(Self::Gone),
            Ok(RoomAccess::Member(_)) => Some(Self::Address),
            Err(_) => None,
        }
    }
}

/// What the channel tells the room's call.
#[derive(Debug, Clone)]
pub enum CallNews {
    /// A (re)connected socket's welcome: a seat in the call is per socket, so join again.
    Welcome { ended: bool },
    /// The server refused a call message (no calls here, or not in the call).
    Refused(ProtoError),
    /// One of the call's own messages.
    Server(ServerMsg),
}

/// Who hears what the channel tells the call.
type CallHandler = Rc<dyn Fn(CallNews)>;

/// A chat message sent but not yet seen come back in the room's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: String,
    pub text: String,
    pub position: f64,
}

/// A reaction floating over the video for a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Floating {
    pub id: u64,
    pub emoji: String,
    /// Horizontal place over the video, 0–100 %.
    pub left: u32,
}

/// Clock pings: this many quickly after connecting, then one every `PING_EVERY`.
const FAST_PINGS: usize = Clock::KEEP;
const FAST_PING_GAP: Duration = Duration::from_millis(120);
const PING_EVERY: Duration = Duration::from_secs(3);
/// No answer for this long: the connection is dead even if the browser has not noticed.
const SILENCE_LIMIT_MS: f64 = 10_000.0;
/// Reconnect backoff: doubling from the first, never above the last.
const BACKOFF_FIRST_MS: f64 = 500.0;
const BACKOFF_MAX_MS: f64 = 10_000.0;
/// After "too fast", the outbox is sent again this much later.
const RATE_LIMIT_RETRY: Duration = Duration::from_millis(1200);
const FLOAT_FOR: Duration = Duration::from_millis(2600);

/// The room as the channel tells it; every field is a signal the page reads.
#[derive(Clone, Copy)]
pub struct Live {
    pub link: RwSignal<Link>,
    /// The room's events in sequence order (the chat shows them).
    pub events: RwSignal<Vec<RoomEvent>>,
    /// There are older events to page in.
    pub more: RwSignal<bool>,
    pub loading_more: RwSignal<bool>,
    pub present: RwSignal<Vec<Present>>,
    pub holding: RwSignal<bool>,
    /// The room's playback state (none until the first welcome).
    pub playback: RwSignal<Option<Playback>>,
    pub locked: RwSignal<bool>,
    pub ended: RwSignal<bool>,
    pub me: RwSignal<String>,
    pub owner: RwSignal<String>,
    pub name: RwSignal<String>,
    pub pending: RwSignal<Vec<Pending>>,
    /// The last refusal from the server, numbered so the same one twice still shows.
    pub notice: RwSignal<Option<(u64, ProtoError)>>,
    pub floating: RwSignal<Vec<Floating>>,
    /// The film on now, the queue, its votes, the countdown and what the room has played.
    pub queue: RwSignal<QueueState>,
    /// The room's call, told what the channel hears about it (browser only: the call sets it).
    call: StoredValue<Option<SendWrapper<CallHandler>>>,
    /// The browser's socket. Only `connect` (an effect, so the browser) fills it: a value that
    /// may not leave its thread is never created while the server renders the page, where the
    /// render can move between threads.
    channel: StoredValue<Option<SendWrapper<Rc<Channel>>>>,
}

impl Live {
    /// A person's name as the room shows it: the page's names (two people called the same told
    /// apart by their usernames), then the name of someone who joined after the page loaded.
    pub fn name_of(
        self,
        names: StoredValue<std::collections::HashMap<String, String>>,
        user: &str,
    ) -> Option<String> {
        names.with_value(|n| n.get(user).cloned()).or_else(|| {
            self.present
                .with_untracked(|p| p.iter().find(|p| p.user == user).map(|p| p.name.clone()))
        })
    }

    /// The signals, on the server and in the browser alike; `connect` starts the channel.
    pub fn new(name: RwSignal<String>, ended: bool, locked: bool) -> Self {
        Self {
            link: RwSignal::new(Link::Connecting),
            events: RwSignal::new(Vec::new()),
            more: RwSignal::new(false),
            loading_more: RwSignal::new(false),
            present: RwSignal::new(Vec::new()),
            holding: RwSignal::new(false),
            playback: RwSignal::new(None),
            locked: RwSignal::new(locked),
            ended: RwSignal::new(ended),
            me: RwSignal::new(String::new()),
            owner: RwSignal::new(String::new()),
            name,
            pending: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            floating: RwSignal::new(Vec::new()),
            queue: RwSignal::new(QueueState::default()),
            call: StoredValue::new(None),
            channel: StoredValue::new(None),
        }
    }

    /// Opens the room's channel (browser only: call from an effect). It closes with the page.
    pub fn connect(self, code: &str) {
        let Some(url) = socket_url(code) else { return };
        let channel = Rc::new(Channel {
            url,
            code: code.to_owned(),
            opened: Cell::new(false),
            live: self,
            ws: RefCell::new(None),
            handlers: RefCell::new(None),
            clock: RefCell::new(Clock::default()),
            last_seq: Cell::new(0),
            attempt: Cell::new(0),
            stopped: Cell::new(false),
            last_heard: Cell::new(now()),
            fast_pings: Cell::new(0),
            counter: Cell::new(0),
            timer: RefCell::new(None),
        });
        channel.connect();
        let weak = Rc::downgrade(&channel);
        if let Ok(timer) = set_interval_with_handle(
            move || {
                if let Some(channel) = weak.upgrade() {
                    channel.heartbeat();
                }
            },
            PING_EVERY,
        ) {
            *channel.timer.borrow_mut() = Some(timer);
        }
        self.channel.set_value(Some(SendWrapper::new(channel)));
        on_cleanup(move || {
            if let Some(Some(channel)) = self.channel.try_get_value() {
                channel.stop();
            }
        });
    }

    fn with_channel(&self, f: impl FnOnce(&Rc<Channel>)) {
        if let Some(Some(channel)) = self.channel.try_get_value() {
            f(&channel);
        }
    }

    /// Who hears the call's messages from now on (browser only: call from an effect).
    pub fn on_call(&self, handler: impl Fn(CallNews) + 'static) {
        let handler: CallHandler = Rc::new(handler);
        self.call.set_value(Some(SendWrapper::new(handler)));
    }

    /// Sends a call message; `false` if the socket is not open (the next welcome says so).
    pub fn send_call(&self, msg: &ClientMsg) -> bool {
        let mut sent = false;
        self.with_channel(|c| sent = c.send(msg));
        sent
    }

    fn tell_call(&self, news: CallNews) {
        if let Some(Some(call)) = self.call.try_get_value() {
            call(news);
        }
    }

    /// The server's clock now, as well as this browser knows it (ms since the epoch).
    pub fn server_now(&self) -> f64 {
        let mut at = now();
        self.with_channel(|c| at = c.clock.borrow().server_time(now()));
        at
    }

    /// Has the clock been measured at least once?
    pub fn clock_ready(&self) -> bool {
        let mut ready = false;
        self.with_channel(|c| ready = c.clock.borrow().samples() > 0);
        ready
    }

    /// Where the room's film should be now, in ms.
    pub fn expected(&self) -> Option<f64> {
        let playback = self.playback.get_untracked()?;
        Some(playback.expected(self.server_now()))
    }

    /// Sends a playback command (play, pause, seek, rate).
    pub fn command(&self, msg: ClientMsg) {
        self.with_channel(|c| {
            c.send(&msg);
        });
    }

    /// Sends a chat message; it stays in the outbox (and is sent again after a reconnect, with
    /// the same id) until it comes back in the room's order.
    pub fn say(&self, text: String, position: f64) {
        let id = new_id();
        let pending = Pending { id, text, position };
        self.pending.update(|p| p.push(pending.clone()));
        self.with_channel(|c| {
            c.send(&chat_msg(&pending));
        });
    }

    pub fn react(&self, emoji: &str, position: f64) {
        self.command(ClientMsg::React {
            emoji: emoji.to_owned(),
            position,
        });
    }

    pub fn buffering(&self, stalled: bool) {
        self.command(ClientMsg::Buffering { stalled });
    }

    /// Has the first welcome come (so the queue and the film on now are known)?
    pub fn welcomed(&self) -> bool {
        self.playback.with(Option::is_some)
    }

    /// This browser reached the end of the film, `duration` ms long here (the server decides
    /// whether the room's has ended).
    pub fn film_ended(&self, duration: f64) {
        self.command(ClientMsg::FilmEnded { duration });
    }

    /// Asks for the page of events before the oldest one shown.
    pub fn load_older(&self) {
        if self.loading_more.get_untracked() || !self.more.get_untracked() {
            return;
        }
        let Some(first) = self.events.with_untracked(|e| e.first().map(|e| e.seq)) else {
            return;
        };
        if first <= 1 {
            return;
        }
        self.loading_more.set(true);
        self.command(ClientMsg::History { before_seq: first });
    }

    /// May this person press play, pause or seek?
    pub fn may_control(&self) -> bool {
        !self.ended.get() && (!self.locked.get() || self.me.with(|me| self.owner.with(|o| me == o)))
    }
}

fn chat_msg(p: &Pending) -> ClientMsg {
    ClientMsg::Chat {
        id: p.id.clone(),
        text: p.text.clone(),
        position: p.position,
    }
}

/// This browser's clock, in ms since the epoch, with sub-millisecond resolution.
pub fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.time_origin() + p.now())
        .unwrap_or_else(js_sys::Date::now)
}

fn new_id() -> String {
    // Unique per person and room is all the server needs; a v4 UUID is far more than that.
    uuid::Uuid::new_v4().simple().to_string()
}

/// `ws(s)://<this host>/ws/rooms/<code>`.
fn socket_url(code: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}/ws/rooms/{code}",
        location.host().ok()?
    ))
}

type Handlers = (
    Closure<dyn FnMut(web_sys::Event)>,
    Closure<dyn FnMut(MessageEvent)>,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// The browser side of one room channel.
struct Channel {
    url: String,
    code: String,
    /// The current socket has opened (a socket closed before it ever opened was refused, or the
    /// server is down: `closed` asks which).
    opened: Cell<bool>,
    live: Live,
    ws: RefCell<Option<WebSocket>>,
    /// The current socket's callbacks, kept alive as long as it is.
    handlers: RefCell<Option<Handlers>>,
    clock: RefCell<Clock>,
    /// The last event sequence received (0: none yet).
    last_seq: Cell<i64>,
    attempt: Cell<u32>,
    stopped: Cell<bool>,
    /// When the server was last heard from (local clock).
    last_heard: Cell<f64>,
    /// Fast pings still to send after connecting.
    fast_pings: Cell<usize>,
    /// Numbers for notices and floating reactions.
    counter: Cell<u64>,
    timer: RefCell<Option<IntervalHandle>>,
}

impl Channel {
    fn connect(self: &Rc<Self>) {
        if self.stopped.get() {
            return;
        }
        let ws = match WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(_) => {
                self.retry();
                return;
            }
        };
        let weak = Rc::downgrade(self);
        let on_open = {
            let weak = weak.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if let Some(channel) = weak.upgrade() {
                    channel.opened.set(true);
                    channel.last_heard.set(now());
                    channel.send(&ClientMsg::Hello {
                        v: PROTOCOL_VERSION,
                        last_seq: channel.last_seq.get(),
                    });
                }
            })
        };
        let on_message = {
            let weak = weak.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let (Some(channel), Some(text)) = (weak.upgrade(), event.data().as_string()) else {
                    return;
                };
                channel.last_heard.set(now());
                if let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) {
                    channel.handle(msg);
                }
            })
        };
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(channel) = weak.upgrade() {
                channel.closed();
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.ws.borrow_mut() = Some(ws);
        // The old socket's callbacks go only now, outside of them (this runs from a timer).
        *self.handlers.borrow_mut() = Some((on_open, on_message, on_close));
    }

    fn closed(self: &Rc<Self>) {
        if let Some(ws) = self.ws.borrow_mut().take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
        }
        if self.stopped.get() {
            return;
        }
        self.live.link.set(Link::Reconnecting);
        if self.opened.replace(false) {
            self.retry();
        } else {
            self.ask_why();
        }
    }

    /// The socket closed before it opened: refused, or no server. The room's page function says
    /// which; a refusal that reconnecting cannot fix ends the channel with its reason.
    fn ask_why(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let code = self.code.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let access = super::open_room(code).await;
            let Some(channel) = weak.upgrade() else {
                return;
            };
            if channel.stopped.get() {
                return;
            }
            match Refusal::from_access(&access) {
                // Once is a race (a restart between the two requests); twice is the address.
                Some(Refusal::Address) if channel.attempt.get() < 2 => channel.retry(),
                Some(refusal) => {
                    channel.stop();
                    channel.live.link.set(Link::Refused(refusal));
                }
                None => channel.retry(),
            }
        });
    }

    /// Tries again after a backoff that doubles up to 10 s, with jitter so a restarted server
    /// is not hit by everyone at once.
    fn retry(self: &Rc<Self>) {
        let attempt = self.attempt.get();
        self.attempt.set(attempt.saturating_add(1));
        let base = (BACKOFF_FIRST_MS * 2f64.powi(attempt.min(10) as i32)).min(BACKOFF_MAX_MS);
        let delay = base * (0.5 + js_sys::Math::random() * 0.5);
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(channel) = weak.upgrade() {
                    channel.connect();
                }
            },
            Duration::from_millis(delay as u64),
        );
    }

    fn stop(&self) {
        self.stopped.set(true);
        if let Some(timer) = self.timer.borrow_mut().take() {
            timer.clear();
        }
        if let Some(ws) = self.ws.borrow_mut().take() {
            ws.set_onclose(None);
            ws.set_onmessage(None);
            ws.set_onopen(None);
            let _ = ws.close();
        }
    }

    fn is_open(&self) -> bool {
        self.ws
            .borrow()
            .as_ref()
            .is_some_and(|ws| ws.ready_state() == WebSocket::OPEN)
    }

    fn send(&self, msg: &ClientMsg) -> bool {
        let Ok(json) = serde_json::to_string(msg) else {
            return false;
        };
        match self.ws.borrow().as_ref() {
            Some(ws) if ws.ready_state() == WebSocket::OPEN => ws.send_with_str(&json).is_ok(),
            _ => false,
        }
    }

    fn ping(&self) {
        self.send(&ClientMsg::Ping { t0: now() });
    }

    /// Every few seconds: a clock ping, and a dead connection noticed.
    fn heartbeat(&self) {
        if !self.is_open() {
            return;
        }
        if now() - self.last_heard.get() > SILENCE_LIMIT_MS {
            // `onclose` follows and reconnects.
            if let Some(ws) = self.ws.borrow().as_ref() {
                let _ = ws.close();
            }
            return;
        }
        self.ping();
    }

    fn next_number(&self) -> u64 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    fn handle(self: &Rc<Self>, msg: ServerMsg) {
        let live = self.live;
        match msg {
            ServerMsg::Welcome {
                snapshot,
                events,
                more,
                ..
            } => {
                let known = self.last_seq.get();
                live.me.set(snapshot.me);
                live.owner.set(snapshot.owner);
                live.locked.set(snapshot.controls_locked);
                live.ended.set(snapshot.ended);
                live.present.set(snapshot.present);
                live.holding.set(snapshot.holding);
                // The events that come with it re-apply to this state harmlessly.
                live.queue.set(snapshot.queue);
                if known == 0 || more {
                    // A first connect, or away so long that the page is the latest only.
                    if let Some(last) = events.last() {
                        self.last_seq.set(last.seq);
                    }
                    live.events.set(Vec::new());
                    live.more.set(more);
                    self.take_events(events);
                } else {
                    self.take_events(events);
                }
                live.playback.set(Some(snapshot.playback));
                live.link.set(Link::Open);
                self.attempt.set(0);
                // Whatever was said while offline goes out now, with its original id.
                for pending in live.pending.get_untracked() {
                    self.send(&chat_msg(&pending));
                }
                self.fast_pings.set(FAST_PINGS);
                self.ping();
                live.tell_call(CallNews::Welcome {
                    ended: snapshot.ended,
                });
            }
            ServerMsg::Pong { t0, t1, t2 } => {
                self.clock.borrow_mut().add(Sample::new(t0, t1, t2, now()));
                let left = self.fast_pings.get();
                if left > 1 {
                    self.fast_pings.set(left - 1);
                    let weak = Rc::downgrade(self);
                    set_timeout(
                        move || {
                            if let Some(channel) = weak.upgrade() {
                                channel.ping();
                            }
                        },
                        FAST_PING_GAP,
                    );
                } else {
                    self.fast_pings.set(0);
                }
            }
            ServerMsg::Event(event) => self.take_events(vec![event]),
            ServerMsg::Playback { playback, .. } => live.playback.set(Some(playback)),
            ServerMsg::Presence { present, holding } => {
                live.present.set(present);
                live.holding.set(holding);
            }
            ServerMsg::History { events, more } => {
                live.events.update(|list| {
                    let first = list.first().map_or(i64::MAX, |e| e.seq);
                    let older: Vec<RoomEvent> =
                        events.into_iter().filter(|e| e.seq < first).collect();
                    list.splice(0..0, older);
                });
                live.more.set(more);
                live.loading_more.set(false);
            }
            ServerMsg::Error {
                error: error @ (ProtoError::CallsOff | ProtoError::NotInCall),
            } => live.tell_call(CallNews::Refused(error)),
            ServerMsg::Error { error } => {
                if error == ProtoError::RateLimited {
                    // Nothing is dropped: the outbox goes again a little later.
                    let weak: Weak<Channel> = Rc::downgrade(self);
                    set_timeout(
                        move || {
                            if let Some(channel) = weak.upgrade() {
                                for pending in channel.live.pending.get_untracked() {
                                    channel.send(&chat_msg(&pending));
                                }
                            }
                        },
                        RATE_LIMIT_RETRY,
                    );
                }
                live.notice.set(Some((self.next_number(), error)));
            }
            call @ (ServerMsg::CallJoined { .. }
            | ServerMsg::CallAnswer { .. }
            | ServerMsg::CallSignal { .. }
            | ServerMsg::CallError { .. }
            | ServerMsg::CallLeft) => live.tell_call(CallNews::Server(call)),
        }
    }

    /// Takes events in order: new ones are shown and acted on; one already seen is only a
    /// confirmation (a retried chat message) and leaves the outbox.
    fn take_events(self: &Rc<Self>, events: Vec<RoomEvent>) {
        let live = self.live;
        let me = live.me.get_untracked();
        for event in events {
            if let (EventKind::Chat { id, .. }, Some(user)) = (&event.kind, &event.user) {
                if *user == me {
                    live.pending.update(|p| p.retain(|p| &p.id != id));
                }
            }
            let known = live
                .events
                .with_untracked(|list| list.last().map_or(0, |e| e.seq));
            if event.seq <= known {
                continue;
            }
            self.last_seq.set(self.last_seq.get().max(event.seq));
            match &event.kind {
                EventKind::Controls { locked } => live.locked.set(*locked),
                EventKind::End => live.ended.set(true),
                EventKind::Rename { name } => live.name.set(name.clone()),
                EventKind::Remove { user } if *user == me => {
                    live.link.set(Link::Removed);
                    self.stop();
                }
                EventKind::React { emoji, .. } if live.link.get_untracked() == Link::Open => {
                    self.float(emoji.clone());
                }
                EventKind::QueueAdd { .. }
                | EventKind::QueueVote { .. }
                | EventKind::QueueRemove { .. }
                | EventKind::SkipVote { .. }
                | EventKind::NextUp { .. }
                | EventKind::NextCancelled
                | EventKind::NowPlaying { .. } => live.queue.update(|q| q.apply(&event)),
                _ => {}
            }
            live.events.update(|list| list.push(event));
        }
    }

    fn float(&self, emoji: String) {
        let id = self.next_number();
        let left = 10 + (js_sys::Math::random() * 80.0) as u32;
        let floating = self.live.floating;
        floating.update(|f| f.push(Floating { id, emoji, left }));
        set_timeout(
            move || {
                let _ = floating.try_update(|f| f.retain(|x| x.id != id));
            },
            FLOAT_FOR,
        );
    }
}
