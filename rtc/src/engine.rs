//! The media task: one tokio task that owns the UDP socket and every `Rtc`.
//!
//! str0m is sans-IO: an `Rtc` never touches the network or the clock. This
//! task is the "IO" around all of them. It waits for one of three things —
//! a command from the API, a datagram, or the earliest timer — performs that
//! one mutation on the `Rtc` it concerns, and then drains that `Rtc`'s output
//! (`poll_output` until `Output::Timeout`), as str0m requires after *every*
//! mutation. Drained events are turned into [`Happening`]s and queued; the
//! queue is worked off before the task waits again. Queueing instead of
//! reacting inline is what lets a frame from one participant's `Rtc` be
//! written into another participant's `Rtc` without holding two mutable
//! borrows at once.
//!
//! Owning everything from one task means no locks and a strict order of
//! events, which keeps renegotiation simple. One task is plenty for a watch
//! party (a dozen people, a few hundred packets per second); a bigger
//! deployment would shard calls over several such tasks.
//!
//! Robustness: everything a remote peer controls (SDP, candidates,
//! datagrams) is parsed with fallible parsers, and every call into str0m runs
//! under `catch_unwind`. str0m promises not to panic on input, but if a bug
//! ever makes it panic, only that participant is dropped, not the whole
//! server. (This needs the default `panic = "unwind"`.)

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::CryptoProvider;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::{
    choose_video_senders, Config, Conn, IceState, Kind, PeerId, RtcError, Signal, Stats, TrackInfo,
};

/// SDPs larger than this are refused before parsing; real offers are a few KiB.
const MAX_SDP_LEN: usize = 64 * 1024;
/// Signals queued for one participant before it is considered stuck and removed.
const SIGNAL_QUEUE: usize = 1024;
/// Trickled publish candidates kept while the publish offer has not arrived.
const MAX_EARLY_CANDIDATES: usize = 32;
/// How often idle bookkeeping runs (speaking decay, timeouts, REMB refresh).
const HOUSEKEEPING: Duration = Duration::from_millis(250);
/// Keyframe requests to one publisher track are at most this frequent: one
/// keyframe serves every subscriber that asked meanwhile.
const KEYFRAME_THROTTLE: Duration = Duration::from_millis(500);
/// REMB is a soft-state message; browsers forget it unless it is repeated.
const REMB_INTERVAL: Duration = Duration::from_secs(2);
/// Audio louder than this (RFC 6464 level, -dBov; 0 is loudest) counts as talking.
const SPEAKING_LEVEL: i8 = -50;
/// Talking ends after this long without a loud packet.
const SPEAKING_HOLD: Duration = Duration::from_millis(800);
/// Upper bound on outputs drained in one go, so one endless `Rtc` cannot stall the task.
const MAX_DRAIN: usize = 20_000;
/// Receive buffer: bigger than any WebRTC datagram (they stay under ~1200 bytes).
const RECV_BUF: usize = 4096;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, RtcError>>;

/// Requests from [`crate::MediaServer`] to the task.
pub(crate) enum Command {
    Join {
        call: String,
        peer: String,
        reply: Reply<mpsc::Receiver<Signal>>,
    },
    PublishOffer {
        call: String,
        peer: String,
        sdp: String,
        reply: Reply<String>,
    },
    SubscribeAnswer {
        call: String,
        peer: String,
        sdp: String,
        reply: Reply<()>,
    },
    Candidate {
        call: String,
        peer: String,
        conn: Conn,
        candidate: String,
        reply: Reply<()>,
    },
    SetMuted {
        call: String,
        peer: String,
        kind: Kind,
        muted: bool,
        reply: Reply<()>,
    },
    Leave {
        call: String,
        peer: String,
        reply: Reply<()>,
    },
    Stats {
        reply: Reply<Stats>,
    },
    Calls {
        reply: Reply<Vec<(String, usize)>>,
    },
}

/// Binds the socket, validates the config and spawns the task.
pub(crate) fn start(
    cfg: Config,
) -> Result<(mpsc::Sender<Command>, SocketAddr, SocketAddr), RtcError> {
    if cfg.max_peers_per_call == 0 {
        return Err(RtcError::InvalidConfig(
            "max_peers_per_call must be at least 1".into(),
        ));
    }
    if let Some(ip) = cfg.public_ip {
        if ip.is_unspecified() {
            return Err(RtcError::InvalidConfig(format!(
                "public_ip {ip} is unspecified; give the address browsers can reach"
            )));
        }
    } else if cfg.bind.ip().is_unspecified() {
        return Err(RtcError::NoPublicAddress { bind: cfg.bind });
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| RtcError::NoRuntime)?;

    let bind_err = |source| RtcError::Bind {
        addr: cfg.bind,
        source,
    };
    let std_socket = StdUdpSocket::bind(cfg.bind).map_err(bind_err)?;
    let local = std_socket.local_addr().map_err(bind_err)?;
    std_socket.set_nonblocking(true).map_err(bind_err)?;
    let socket = {
        let _inside = runtime.enter();
        UdpSocket::from_std(std_socket).map_err(bind_err)?
    };
    let advertised = SocketAddr::new(cfg.public_ip.unwrap_or(local.ip()), local.port());

    let (tx, rx) = mpsc::channel(256);
    let socket = Arc::new(socket);
    let engine = Engine {
        crypto: Arc::new(str0m::crypto::from_feature_flags()),
        socket: socket.clone(),
        advertised,
        cfg,
        calls: HashMap::new(),
        peers: HashMap::new(),
        next_no: 1,
        routes: HashMap::new(),
        queue: VecDeque::new(),
        doomed: Vec::new(),
        counters: Stats::default(),
        next_housekeeping: Instant::now() + HOUSEKEEPING,
    };
    info!(%local, %advertised, "media server listening");
    runtime.spawn(engine.run(rx, socket));
    Ok((tx, local, advertised))
}

/// Internal participant number; names are only unique within a call.
type PeerNo = u64;

struct CallState {
    /// Participants in join order.
    members: Vec<PeerNo>,
    /// Peer names, most recent speaker first.
    speakers: Vec<PeerId>,
    /// Peer names whose camera is currently forwarded (last-N).
    video_senders: Vec<PeerId>,
}

/// One `Rtc` plus what the task tracks about it.
struct Endpoint {
    rtc: Rtc,
    next_timeout: Instant,
    ever_connected: bool,
    disconnected_since: Option<Instant>,
}

/// A track a participant publishes (an m-line of its publish connection).
struct Published {
    mid: Mid,
    kind: Kind,
    last_keyframe_request: Option<Instant>,
    last_remb: Option<Instant>,
    /// Simulcast is not supported yet: if the browser sends several layers
    /// (RIDs) on one track, only the first layer seen is forwarded, so
    /// subscribers never get layers mixed into one stream.
    rid: Option<Rid>,
}

/// A track forwarded to a participant (an m-line of its subscribe connection).
struct Out {
    from: PeerNo,
    from_name: PeerId,
    from_mid: Mid,
    kind: Kind,
    state: OutState,
    /// The source went away while the m-line was being negotiated: stop it
    /// once that negotiation completes.
    orphaned: bool,
}

/// Life of a subscribe m-line. Only one offer is outstanding at a time, so a
/// track is added (`ToOpen`) or removed (`ToStop`) in the next offer made
/// after the current one is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

impl OutState {
    fn mid(self) -> Option<Mid> {
        match self {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::NegotiatingStop(m) => Some(m),
        }
    }
}

struct PeerState {
    name: PeerId,
    call: String,
    signals: mpsc::Sender<Signal>,
    publish: Option<Endpoint>,
    subscribe: Endpoint,
    early_candidates: Vec<Candidate>,
    published: Vec<Published>,
    muted_audio: bool,
    muted_video: bool,
    outs: Vec<Out>,
    pending: Option<SdpPendingOffer>,
    app_negotiated: bool,
    joined_at: Instant,
    last_loud: Option<Instant>,
    speaking: bool,
    last_tracks: Option<Vec<TrackInfo>>,
}

impl PeerState {
    fn endpoint_mut(&mut self, conn: Conn) -> Option<&mut Endpoint> {
        match conn {
            Conn::Publish => self.publish.as_mut(),
            Conn::Subscribe => Some(&mut self.subscribe),
        }
    }

    fn endpoint(&self, conn: Conn) -> Option<&Endpoint> {
        match conn {
            Conn::Publish => self.publish.as_ref(),
            Conn::Subscribe => Some(&self.subscribe),
        }
    }

    fn muted(&self, kind: Kind) -> bool {
        match kind {
            Kind::Audio => self.muted_audio,
            Kind::Video => self.muted_video,
        }
    }

    fn has_video(&self) -> bool {
        self.published.iter().any(|p| p.kind == Kind::Video)
    }
}

/// Something drained out of an `Rtc` that the task reacts to after the drain.
enum Happening {
    Media(PeerNo, Box<MediaData>),
    /// The kind is looked up from the `Rtc` when the event does not carry it.
    TrackAdded(PeerNo, Mid, Option<Kind>),
    TrackRemoved(PeerNo, Mid),
    KeyframeWanted(PeerNo, Mid),
    Ice(PeerNo, Conn, IceConnectionState),
    Connected(PeerNo, Conn),
    Gone(PeerNo, Conn, String),
}

struct Engine {
    cfg: Config,
    crypto: Arc<CryptoProvider>,
    socket: Arc<UdpSocket>,
    advertised: SocketAddr,
    calls: HashMap<String, CallState>,
    peers: HashMap<PeerNo, PeerState>,
    next_no: PeerNo,
    /// Remembers which connection last accepted a source address, so most
    /// datagrams find their `Rtc` without asking every one of them.
    routes: HashMap<SocketAddr, (PeerNo, Conn)>,
    queue: VecDeque<Happening>,
    /// Participants to remove once the current step is done (with a reason
    /// for their browser, if it should be told).
    doomed: Vec<(PeerNo, Option<String>)>,
    counters: Stats,
    next_housekeeping: Instant,
}

fn to_media_kind(kind: Kind) -> MediaKind {
    match kind {
        Kind::Audio => MediaKind::Audio,
        Kind::Video => MediaKind::Video,
    }
}

fn from_media_kind(kind: MediaKind) -> Kind {
    if kind.is_audio() {
        Kind::Audio
    } else {
        Kind::Video
    }
}

fn to_ice_state(s: IceConnectionState) -> IceState {
    match s {
        IceConnectionState::New => IceState::New,
        IceConnectionState::Checking => IceState::Checking,
        IceConnectionState::Connected => IceState::Connected,
        IceConnectionState::Completed => IceState::Completed,
        IceConnectionState::Disconnected => IceState::Disconnected,
    }
}

fn valid_name(what: &'static str, name: &str) -> Result<(), RtcError> {
    let ok = !name.is_empty() && name.len() <= 128 && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(RtcError::InvalidName {
            what,
            name: name.chars().take(140).collect(),
        })
    }
}

fn check_sdp_len(what: &'static str, sdp: &str) -> Result<(), RtcError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(RtcError::InvalidSdp {
            what,
            reason: format!("{} bytes is more than the {MAX_SDP_LEN} allowed", sdp.len()),
        });
    }
    Ok(())
}

/// Sends a datagram without waiting. UDP may drop anyway; a full socket
/// buffer is just another drop that RTCP/NACK recover from.
fn transmit(socket: &UdpSocket, contents: &[u8], destination: SocketAddr) {
    if let Err(e) = socket.try_send_to(contents, destination) {
        debug!(%destination, "udp send failed: {e}");
    }
}

/// Starts str0m's graceful close and flushes what it wants to send (RTCP BYE,
/// DTLS close_notify), ignoring events: the `Rtc` is dropped right after.
fn close_endpoint(socket: &UdpSocket, ep: &mut Endpoint) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let _ = ep.rtc.close();
        for _ in 0..1000 {
            match ep.rtc.poll_output() {
                Ok(Output::Transmit(t)) => transmit(socket, &t.contents, t.destination),
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => break,
            }
        }
    }));
}

impl Engine {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, socket: Arc<UdpSocket>) {
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let deadline = tokio::time::Instant::from_std(self.next_deadline());
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd),
                    None => break,
                },
                res = socket.recv_from(&mut buf) => match res {
                    Ok((n, source)) => self.handle_datagram(&buf[..n], source),
                    Err(e) => debug!("udp receive error: {e}"),
                },
                _ = tokio::time::sleep_until(deadline) => self.handle_timers(),
            }
            self.settle();
        }
        info!("media server stopping: all handles dropped");
        let nos: Vec<PeerNo> = self.peers.keys().copied().collect();
        for no in nos {
            self.remove_peer(no, Some("the media server stopped".into()));
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut t = self.next_housekeeping;
        for peer in self.peers.values() {
            t = t.min(peer.subscribe.next_timeout);
            if let Some(ep) = &peer.publish {
                t = t.min(ep.next_timeout);
            }
        }
        t
    }

    /// Works off queued happenings and removals until nothing is left.
    fn settle(&mut self) {
        loop {
            if let Some(h) = self.queue.pop_front() {
                self.handle_happening(h);
            } else if let Some((no, reason)) = self.doomed.pop() {
                self.remove_peer(no, reason);
            } else {
                break;
            }
        }
    }

    // ---------------------------------------------------------------- str0m glue

    fn new_endpoint(&self) -> Endpoint {
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            // The server has a public address and never needs to discover a
            // path itself: ICE-lite answers the browser's checks only.
            .set_ice_lite(true)
            .set_crypto_provider(self.crypto.clone())
            .build(now);
        match Candidate::host(self.advertised, "udp") {
            Ok(c) => {
                rtc.add_local_candidate(c);
            }
            Err(e) => warn!("cannot make a host candidate for {}: {e}", self.advertised),
        }
        Endpoint {
            rtc,
            next_timeout: now,
            ever_connected: false,
            disconnected_since: None,
        }
    }

    /// Performs one mutation on one `Rtc` (guarded against panics) and drains it.
    /// `None` means the connection does not exist or the mutation panicked.
    fn with_rtc<T>(&mut self, no: PeerNo, conn: Conn, f: impl FnOnce(&mut Rtc) -> T) -> Option<T> {
        let ep = self.peers.get_mut(&no)?.endpoint_mut(conn)?;
        match catch_unwind(AssertUnwindSafe(|| f(&mut ep.rtc))) {
            Ok(v) => {
                self.drain(no, conn);
                Some(v)
            }
            Err(_) => {
                warn!(peer = no, ?conn, "str0m panicked; dropping the connection");
                self.queue.push_back(Happening::Gone(
                    no,
                    conn,
                    "internal error in the WebRTC stack".into(),
                ));
                None
            }
        }
    }

    /// `poll_output` until `Timeout`: transmits go to the socket, events to the queue.
    fn drain(&mut self, no: PeerNo, conn: Conn) {
        let Some(peer) = self.peers.get_mut(&no) else {
            return;
        };
        let Some(ep) = peer.endpoint_mut(conn) else {
            return;
        };
        let socket = &self.socket;
        let queue = &mut self.queue;
        for _ in 0..MAX_DRAIN {
            let out = catch_unwind(AssertUnwindSafe(|| ep.rtc.poll_output()));
            match out {
                Ok(Ok(Output::Timeout(t))) => {
                    ep.next_timeout = t;
                    if !ep.rtc.is_alive() {
                        queue.push_back(Happening::Gone(no, conn, "connection closed".into()));
                    }
                    return;
                }
                Ok(Ok(Output::Transmit(t))) => transmit(socket, &t.contents, t.destination),
                Ok(Ok(Output::Event(e))) => {
                    if let Some(h) = translate(no, conn, e) {
                        queue.push_back(h);
                    }
                }
                Ok(Err(e)) => {
                    queue.push_back(Happening::Gone(no, conn, format!("WebRTC error: {e}")));
                    ep.next_timeout = Instant::now() + Duration::from_secs(3600);
                    return;
                }
                Err(_) => {
                    warn!(peer = no, ?conn, "str0m panicked while polling");
                    queue.push_back(Happening::Gone(
                        no,
                        conn,
                        "internal error in the WebRTC stack".into(),
                    ));
                    ep.next_timeout = Instant::now() + Duration::from_secs(3600);
                    return;
                }
            }
        }
        // Still producing output: come back to it on the next turn of the loop.
        ep.next_timeout = Instant::now();
    }

    // ---------------------------------------------------------------- network and time

    fn handle_datagram(&mut self, data: &[u8], source: SocketAddr) {
        self.counters.packets_in += 1;
        let Ok(contents) = DatagramRecv::try_from(data) else {
            self.counters.packets_dropped += 1;
            return;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                // The candidate address, not the bound one: str0m matches this
                // against its local candidates, and with a 0.0.0.0 bind or 1:1
                // NAT the socket's own address would never match.
                destination: self.advertised,
                contents,
            },
        );
        let Some((no, conn)) = self.route(&input, source) else {
            self.counters.packets_dropped += 1;
            return;
        };
        if let Some(Err(e)) = self.with_rtc(no, conn, |rtc| rtc.handle_input(input)) {
            // Usually a bad packet; if it was fatal, str0m has closed the
            // connection and the drain reported it.
            debug!(peer = no, ?conn, "input rejected: {e}");
        }
    }

    fn route(&mut self, input: &Input, source: SocketAddr) -> Option<(PeerNo, Conn)> {
        if let Some(&(no, conn)) = self.routes.get(&source) {
            let hit = self
                .peers
                .get(&no)
                .and_then(|p| p.endpoint(conn))
                .is_some_and(|ep| ep.rtc.accepts(input));
            if hit {
                return Some((no, conn));
            }
        }
        for (&no, peer) in &self.peers {
            for conn in [Conn::Publish, Conn::Subscribe] {
                if peer.endpoint(conn).is_some_and(|ep| ep.rtc.accepts(input)) {
                    self.routes.insert(source, (no, conn));
                    return Some((no, conn));
                }
            }
        }
        None
    }

    fn handle_timers(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for (&no, peer) in &self.peers {
            for conn in [Conn::Publish, Conn::Subscribe] {
                if peer.endpoint(conn).is_some_and(|ep| ep.next_timeout <= now) {
                    due.push((no, conn));
                }
            }
        }
        for (no, conn) in due {
            if let Some(Err(e)) =
                self.with_rtc(no, conn, |rtc| rtc.handle_input(Input::Timeout(now)))
            {
                self.queue
                    .push_back(Happening::Gone(no, conn, format!("WebRTC error: {e}")));
            }
        }
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING;
            self.housekeeping(now);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        let mut stopped_speaking = Vec::new();
        let mut remb = Vec::new();
        for (&no, peer) in &mut self.peers {
            if peer.signals.is_closed() {
                self.doomed.push((no, None));
                continue;
            }
            if !peer.subscribe.ever_connected
                && now.duration_since(peer.joined_at) > self.cfg.connect_timeout
            {
                let reason = format!(
                    "media connection not established within {} s",
                    self.cfg.connect_timeout.as_secs()
                );
                self.doomed.push((no, Some(reason)));
                continue;
            }
            let lost = [peer.publish.as_ref(), Some(&peer.subscribe)]
                .into_iter()
                .flatten()
                .filter_map(|ep| ep.disconnected_since)
                .any(|since| now.duration_since(since) > self.cfg.ice_disconnect_grace);
            if lost {
                self.doomed
                    .push((no, Some("media connection lost (ICE disconnected)".into())));
                continue;
            }
            if peer.speaking
                && peer
                    .last_loud
                    .is_none_or(|t| now.duration_since(t) > SPEAKING_HOLD)
            {
                peer.speaking = false;
                stopped_speaking.push((peer.call.clone(), peer.name.clone()));
            }
            if peer
                .publish
                .as_ref()
                .is_some_and(|ep| ep.rtc.is_connected())
            {
                for p in &mut peer.published {
                    let due = p
                        .last_remb
                        .is_none_or(|t| now.duration_since(t) >= REMB_INTERVAL);
                    if p.kind == Kind::Video && due {
                        p.last_remb = Some(now);
                        remb.push((no, p.mid));
                    }
                }
            }
        }
        for (call, name) in stopped_speaking {
            self.broadcast(
                &call,
                Signal::Speaking {
                    peer: name,
                    speaking: false,
                },
            );
        }
        let cap = Bitrate::bps(self.cfg.video_bitrate_cap);
        for (no, mid) in remb {
            self.with_rtc(no, Conn::Publish, |rtc| {
                if let Some(rx) = rtc.direct_api().stream_rx_by_mid(mid, None) {
                    rx.request_remb(cap);
                }
            });
        }
    }

    // ---------------------------------------------------------------- commands

    fn lookup(&self, call: &str, peer: &str) -> Result<PeerNo, RtcError> {
        let state = self
            .calls
            .get(call)
            .ok_or_else(|| RtcError::UnknownCall(call.to_owned()))?;
        state
            .members
            .iter()
            .copied()
            .find(|no| self.peers.get(no).is_some_and(|p| p.name == peer))
            .ok_or_else(|| RtcError::UnknownPeer {
                call: call.to_owned(),
                peer: peer.to_owned(),
            })
    }

    fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::Join { call, peer, reply } => {
                let r = self.join(call, peer);
                let _ = reply.send(r);
            }
            Command::PublishOffer {
                call,
                peer,
                sdp,
                reply,
            } => {
                let r = self.publish_offer(&call, &peer, &sdp);
                // Answer only after the new tracks have been offered to the
                // others, so the caller observes a consistent state.
                self.settle();
                let _ = reply.send(r);
            }
            Command::SubscribeAnswer {
                call,
                peer,
                sdp,
                reply,
            } => {
                let r = self.subscribe_answer(&call, &peer, &sdp);
                self.settle();
                let _ = reply.send(r);
            }
            Command::Candidate {
                call,
                peer,
                conn,
                candidate,
                reply,
            } => {
                let r = self.candidate(&call, &peer, conn, &candidate);
                let _ = reply.send(r);
            }
            Command::SetMuted {
                call,
                peer,
                kind,
                muted,
                reply,
            } => {
                let r = self.set_muted(&call, &peer, kind, muted);
                let _ = reply.send(r);
            }
            Command::Leave { call, peer, reply } => {
                let r = self
                    .lookup(&call, &peer)
                    .map(|no| self.remove_peer(no, None));
                self.settle();
                let _ = reply.send(r);
            }
            Command::Stats { reply } => {
                let rtcs = self
                    .peers
                    .values()
                    .map(|p| 1 + usize::from(p.publish.is_some()))
                    .sum();
                let _ = reply.send(Ok(Stats {
                    calls: self.calls.len(),
                    peers: self.peers.len(),
                    rtcs_alive: rtcs,
                    ..self.counters
                }));
            }
            Command::Calls { reply } => {
                let mut calls: Vec<(String, usize)> = self
                    .calls
                    .iter()
                    .map(|(call, state)| (call.clone(), state.members.len()))
                    .collect();
                calls.sort();
                let _ = reply.send(Ok(calls));
            }
        }
    }

    fn join(&mut self, call: String, peer: String) -> Result<mpsc::Receiver<Signal>, RtcError> {
        valid_name("call", &call)?;
        valid_name("peer", &peer)?;
        if let Some(state) = self.calls.get(&call) {
            if state
                .members
                .iter()
                .any(|no| self.peers.get(no).is_some_and(|p| p.name == peer))
            {
                return Err(RtcError::AlreadyJoined { call, peer });
            }
            if state.members.len() >= self.cfg.max_peers_per_call {
                return Err(RtcError::CallFull {
                    call,
                    max: self.cfg.max_peers_per_call,
                });
            }
        }
        let no = self.next_no;
        self.next_no += 1;

        // Everything already published in the call goes into the first offer.
        let mut outs = Vec::new();
        if let Some(state) = self.calls.get(&call) {
            for other in &state.members {
                let Some(o) = self.peers.get(other) else {
                    continue;
                };
                for p in &o.published {
                    outs.push(Out {
                        from: *other,
                        from_name: o.name.clone(),
                        from_mid: p.mid,
                        kind: p.kind,
                        state: OutState::ToOpen,
                        orphaned: false,
                    });
                }
            }
        }

        let (tx, rx) = mpsc::channel(SIGNAL_QUEUE);
        let _ = tx.try_send(Signal::BitrateCaps {
            audio_bps: self.cfg.audio_bitrate_cap,
            video_bps: self.cfg.video_bitrate_cap,
        });
        let state = PeerState {
            name: peer,
            call: call.clone(),
            signals: tx,
            publish: None,
            subscribe: self.new_endpoint(),
            early_candidates: Vec::new(),
            published: Vec::new(),
            muted_audio: false,
            muted_video: false,
            outs,
            pending: None,
            app_negotiated: false,
            joined_at: Instant::now(),
            last_loud: None,
            speaking: false,
            last_tracks: None,
        };
        self.peers.insert(no, state);
        self.calls
            .entry(call.clone())
            .or_insert_with(|| CallState {
                members: Vec::new(),
                speakers: Vec::new(),
                video_senders: Vec::new(),
            })
            .members
            .push(no);
        self.drain(no, Conn::Subscribe);
        self.negotiate(no);
        self.broadcast_tracks(&call);
        // Who is talking already: `Speaking` is sent when it changes, so the newcomer would
        // otherwise not know until they next start (their tile without its ring meanwhile).
        let talking: Vec<PeerId> = self
            .calls
            .get(&call)
            .map(|c| {
                c.members
                    .iter()
                    .filter_map(|m| self.peers.get(m))
                    .filter(|p| p.speaking)
                    .map(|p| p.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = self.peers.get(&no) {
            for peer in talking {
                let speaking = Signal::Speaking {
                    peer,
                    speaking: true,
                };
                send(&mut self.doomed, no, p, speaking);
            }
        }
        Ok(rx)
    }

    fn publish_offer(&mut self, call: &str, peer: &str, sdp: &str) -> Result<String, RtcError> {
        let no = self.lookup(call, peer)?;
        check_sdp_len("offer", sdp)?;
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| RtcError::InvalidSdp {
            what: "offer",
            reason: e.to_string(),
        })?;
        let fresh = self.peers.get(&no).is_some_and(|p| p.publish.is_none());
        if fresh {
            let ep = self.new_endpoint();
            if let Some(p) = self.peers.get_mut(&no) {
                p.publish = Some(ep);
            }
        }
        let result = self.with_rtc(no, Conn::Publish, |rtc| rtc.sdp_api().accept_offer(offer));
        match result {
            Some(Ok(answer)) => {
                let early = self
                    .peers
                    .get_mut(&no)
                    .map(|p| std::mem::take(&mut p.early_candidates))
                    .unwrap_or_default();
                for c in early {
                    self.with_rtc(no, Conn::Publish, |rtc| rtc.add_remote_candidate(c));
                }
                Ok(answer.to_sdp_string())
            }
            Some(Err(e)) => {
                let alive = self
                    .peers
                    .get(&no)
                    .and_then(|p| p.publish.as_ref())
                    .is_some_and(|ep| ep.rtc.is_alive());
                if fresh || !alive {
                    // A connection that never worked is not worth keeping; a
                    // renegotiation the stack refused leaves the old one as it was.
                    self.drop_publish(no);
                }
                Err(RtcError::SdpRejected {
                    what: "offer",
                    reason: e.to_string(),
                })
            }
            None => {
                self.drop_publish(no);
                Err(RtcError::SdpRejected {
                    what: "offer",
                    reason: "internal error in the WebRTC stack".into(),
                })
            }
        }
    }

    fn subscribe_answer(&mut self, call: &str, peer: &str, sdp: &str) -> Result<(), RtcError> {
        let no = self.lookup(call, peer)?;
        check_sdp_len("answer", sdp)?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| RtcError::InvalidSdp {
            what: "answer",
            reason: e.to_string(),
        })?;
        // A malformed answer leaves the offer outstanding (the browser may
        // retry); only a parsed answer consumes it.
        let pending = self
            .peers
            .get_mut(&no)
            .and_then(|p| p.pending.take())
            .ok_or(RtcError::NoPendingOffer)?;
        let result = self.with_rtc(no, Conn::Subscribe, |rtc| {
            rtc.sdp_api().accept_answer(pending, answer)
        });
        let Some(peer_state) = self.peers.get_mut(&no) else {
            return Ok(());
        };
        let mut opened = Vec::new();
        let outcome = match result {
            Some(Ok(())) => {
                peer_state.app_negotiated = true;
                peer_state.outs.retain_mut(|o| match o.state {
                    OutState::Negotiating(m) if o.orphaned => {
                        o.state = OutState::ToStop(m);
                        true
                    }
                    OutState::Negotiating(m) => {
                        o.state = OutState::Open(m);
                        if o.kind == Kind::Video {
                            opened.push((o.from, o.from_mid));
                        }
                        true
                    }
                    OutState::NegotiatingStop(_) => false,
                    _ => true,
                });
                if !peer_state.subscribe.rtc.is_connected() {
                    // Keyframes are requested when the connection comes up.
                    opened.clear();
                }
                Ok(())
            }
            Some(Err(e)) => {
                // The pending offer is gone: roll the m-lines back so the
                // next offer carries the same changes again.
                rollback(&mut peer_state.outs);
                Err(RtcError::SdpRejected {
                    what: "answer",
                    reason: e.to_string(),
                })
            }
            None => {
                rollback(&mut peer_state.outs);
                Err(RtcError::SdpRejected {
                    what: "answer",
                    reason: "internal error in the WebRTC stack".into(),
                })
            }
        };
        for (from, mid) in opened {
            self.request_keyframe(from, mid, true);
        }
        if outcome.is_err() {
            if let Some(p) = self.peers.get(&no) {
                let _ = p.signals.try_send(Signal::Error {
                    message: "the subscribe answer was rejected; a new offer follows".into(),
                });
            }
        }
        self.negotiate(no);
        let call = call.to_owned();
        self.broadcast_tracks(&call);
        outcome
    }

    fn candidate(
        &mut self,
        call: &str,
        peer: &str,
        conn: Conn,
        line: &str,
    ) -> Result<(), RtcError> {
        let no = self.lookup(call, peer)?;
        let line = line.trim();
        let line = line.strip_prefix("a=").unwrap_or(line);
        if line.is_empty() {
            return Ok(()); // end of candidates
        }
        let candidate = match Candidate::from_sdp_string(line) {
            Ok(c) => c,
            // Browsers hide host addresses behind mDNS names; an ICE-lite
            // server cannot resolve them and does not need them (it learns
            // the browser's address from its connectivity checks).
            Err(_) if line.split_whitespace().any(|w| w.ends_with(".local")) => return Ok(()),
            Err(e) => {
                return Err(RtcError::InvalidCandidate {
                    candidate: line.chars().take(200).collect(),
                    reason: e.to_string(),
                })
            }
        };
        let Some(p) = self.peers.get_mut(&no) else {
            return Ok(());
        };
        if conn == Conn::Publish && p.publish.is_none() {
            if p.early_candidates.len() < MAX_EARLY_CANDIDATES {
                p.early_candidates.push(candidate);
            }
            return Ok(());
        }
        self.with_rtc(no, conn, |rtc| rtc.add_remote_candidate(candidate))
            .ok_or(RtcError::NoConnection(conn))
    }

    fn set_muted(
        &mut self,
        call: &str,
        peer: &str,
        kind: Kind,
        muted: bool,
    ) -> Result<(), RtcError> {
        let no = self.lookup(call, peer)?;
        let Some(p) = self.peers.get_mut(&no) else {
            return Ok(());
        };
        let was = p.muted(kind);
        match kind {
            Kind::Audio => p.muted_audio = muted,
            Kind::Video => p.muted_video = muted,
        }
        if was == muted {
            return Ok(());
        }
        let name = p.name.clone();
        let stopped_speaking = kind == Kind::Audio && muted && p.speaking;
        if stopped_speaking {
            p.speaking = false;
        }
        let unmuted_video: Vec<Mid> = if kind == Kind::Video && !muted {
            p.published
                .iter()
                .filter(|t| t.kind == Kind::Video)
                .map(|t| t.mid)
                .collect()
        } else {
            Vec::new()
        };
        if stopped_speaking {
            self.broadcast(
                call,
                Signal::Speaking {
                    peer: name,
                    speaking: false,
                },
            );
        }
        self.update_video_senders(call);
        // Subscribers' decoders need a fresh keyframe after a gap (throttled:
        // entering the last-N set above may have asked already).
        for mid in unmuted_video {
            self.request_keyframe(no, mid, false);
        }
        self.broadcast_tracks(call);
        Ok(())
    }

    // ---------------------------------------------------------------- reacting to str0m

    fn handle_happening(&mut self, h: Happening) {
        match h {
            Happening::Media(from, data) => self.forward(from, data),
            Happening::TrackAdded(no, mid, kind) => self.track_added(no, mid, kind),
            Happening::TrackRemoved(no, mid) => self.track_removed(no, mid),
            Happening::KeyframeWanted(sub, mid) => {
                let source = self.peers.get(&sub).and_then(|p| {
                    p.outs
                        .iter()
                        .find(|o| o.state == OutState::Open(mid))
                        .map(|o| (o.from, o.from_mid))
                });
                if let Some((from, from_mid)) = source {
                    self.request_keyframe(from, from_mid, false);
                }
            }
            Happening::Ice(no, conn, state) => {
                let Some(p) = self.peers.get_mut(&no) else {
                    return;
                };
                if let Some(ep) = p.endpoint_mut(conn) {
                    match state {
                        IceConnectionState::Disconnected => {
                            ep.disconnected_since.get_or_insert(Instant::now());
                        }
                        IceConnectionState::Connected | IceConnectionState::Completed => {
                            ep.disconnected_since = None;
                        }
                        _ => {}
                    }
                }
                send(
                    &mut self.doomed,
                    no,
                    p,
                    Signal::Ice {
                        conn,
                        state: to_ice_state(state),
                    },
                );
            }
            Happening::Connected(no, conn) => {
                let Some(p) = self.peers.get_mut(&no) else {
                    return;
                };
                if let Some(ep) = p.endpoint_mut(conn) {
                    ep.ever_connected = true;
                }
                if conn == Conn::Subscribe {
                    // Frames written before this were dropped by str0m; ask
                    // every forwarded camera for a keyframe so video starts now.
                    let wanted: Vec<(PeerNo, Mid)> = p
                        .outs
                        .iter()
                        .filter(|o| o.kind == Kind::Video && matches!(o.state, OutState::Open(_)))
                        .map(|o| (o.from, o.from_mid))
                        .collect();
                    for (from, mid) in wanted {
                        self.request_keyframe(from, mid, true);
                    }
                }
            }
            Happening::Gone(no, conn, reason) => match conn {
                Conn::Publish => {
                    if self.peers.get(&no).is_some_and(|p| p.publish.is_some()) {
                        info!(peer = no, "publish connection ended: {reason}");
                        self.drop_publish(no);
                    }
                }
                Conn::Subscribe => {
                    if self.peers.contains_key(&no) {
                        info!(peer = no, "subscribe connection ended: {reason}");
                        self.doomed.push((no, Some(reason)));
                    }
                }
            },
        }
    }

    fn forward(&mut self, from: PeerNo, data: Box<MediaData>) {
        self.counters.media_in += 1;
        let now = Instant::now();
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        let Some(track) = p.published.iter_mut().find(|t| t.mid == data.mid) else {
            return;
        };
        if let Some(rid) = data.rid {
            if *track.rid.get_or_insert(rid) != rid {
                return;
            }
        }
        let kind = track.kind;
        if p.muted(kind) {
            return;
        }
        let call = p.call.clone();
        let name = p.name.clone();
        if kind == Kind::Audio {
            // Browsers put their own voice-activity verdict next to the
            // level; trust a "no voice" verdict over a loud noise.
            let loud = data
                .ext_vals
                .audio_level
                .is_some_and(|level| level >= SPEAKING_LEVEL)
                && data.ext_vals.voice_activity != Some(false);
            if loud {
                p.last_loud = Some(now);
                if !p.speaking {
                    p.speaking = true;
                    self.started_speaking(&call, &name);
                }
            }
        }
        let Some(state) = self.calls.get(&call) else {
            return;
        };
        if kind == Kind::Video {
            if !state.video_senders.contains(&name) {
                return;
            }
            if !data.contiguous {
                // Lost packets broke the picture for everyone downstream.
                self.request_keyframe(from, data.mid, false);
            }
        }
        let Some(state) = self.calls.get(&call) else {
            return;
        };
        let targets: Vec<(PeerNo, Mid)> = state
            .members
            .iter()
            .filter(|&&s| s != from)
            .filter_map(|s| {
                let sub = self.peers.get(s)?;
                if !sub.subscribe.rtc.is_connected() {
                    return None; // str0m would drop it anyway
                }
                sub.outs.iter().find_map(|o| match o.state {
                    OutState::Open(m) if o.from == from && o.from_mid == data.mid => Some((*s, m)),
                    _ => None,
                })
            })
            .collect();
        for (sub, mid) in targets {
            let written = self.with_rtc(sub, Conn::Subscribe, |rtc| {
                let Some(mut writer) = rtc.writer(mid) else {
                    return Ok(false);
                };
                // Payload type numbers differ between negotiations; match by codec.
                let Some(pt) = writer.match_params(data.params) else {
                    return Ok(false);
                };
                if let (Some(level), Some(voice)) =
                    (data.ext_vals.audio_level, data.ext_vals.voice_activity)
                {
                    writer = writer.audio_level(level, voice);
                }
                writer
                    .write(pt, data.network_time, data.time, data.data.clone())
                    .map(|()| true)
            });
            match written {
                Some(Ok(true)) => self.counters.packets_forwarded += 1,
                Some(Ok(false)) => debug!(sub, "no matching codec on the subscribe side"),
                Some(Err(e)) => debug!(sub, "forwarding failed: {e}"),
                None => {}
            }
        }
    }

    fn started_speaking(&mut self, call: &str, name: &str) {
        if let Some(state) = self.calls.get_mut(call) {
            state.speakers.retain(|s| s != name);
            state.speakers.insert(0, name.to_owned());
        }
        self.broadcast(
            call,
            Signal::Speaking {
                peer: name.to_owned(),
                speaking: true,
            },
        );
        if self.update_video_senders(call) {
            self.broadcast_tracks(call);
        }
    }

    fn track_added(&mut self, no: PeerNo, mid: Mid, kind: Option<Kind>) {
        let Some(p) = self.peers.get_mut(&no) else {
            return;
        };
        if p.published.iter().any(|t| t.mid == mid) {
            return;
        }
        let kind = kind.or_else(|| {
            let media = p.publish.as_ref()?.rtc.media(mid)?;
            Some(from_media_kind(media.kind()))
        });
        let Some(kind) = kind else {
            return;
        };
        p.published.push(Published {
            mid,
            kind,
            last_keyframe_request: None,
            last_remb: None,
            rid: None,
        });
        let call = p.call.clone();
        let name = p.name.clone();
        let others: Vec<PeerNo> = self
            .calls
            .get(&call)
            .map(|c| c.members.iter().copied().filter(|&s| s != no).collect())
            .unwrap_or_default();
        for s in others {
            if let Some(sub) = self.peers.get_mut(&s) {
                sub.outs.push(Out {
                    from: no,
                    from_name: name.clone(),
                    from_mid: mid,
                    kind,
                    state: OutState::ToOpen,
                    orphaned: false,
                });
            }
            self.negotiate(s);
        }
        self.update_video_senders(&call);
        self.broadcast_tracks(&call);
    }

    fn track_removed(&mut self, no: PeerNo, mid: Mid) {
        let Some(p) = self.peers.get_mut(&no) else {
            return;
        };
        let before = p.published.len();
        p.published.retain(|t| t.mid != mid);
        if p.published.len() == before {
            return;
        }
        let call = p.call.clone();
        self.detach_source(&call, no, Some(mid));
        self.update_video_senders(&call);
        self.broadcast_tracks(&call);
    }

    /// Stops forwarding `from`'s tracks (one, or all) to everybody in the call.
    fn detach_source(&mut self, call: &str, from: PeerNo, mid: Option<Mid>) {
        let members: Vec<PeerNo> = self
            .calls
            .get(call)
            .map(|c| c.members.clone())
            .unwrap_or_default();
        for s in members {
            let Some(sub) = self.peers.get_mut(&s) else {
                continue;
            };
            let mut changed = false;
            sub.outs.retain_mut(|o| {
                if o.from != from || mid.is_some_and(|m| m != o.from_mid) {
                    return true;
                }
                changed = true;
                match o.state {
                    OutState::ToOpen => false,
                    OutState::Negotiating(_) => {
                        o.orphaned = true;
                        true
                    }
                    OutState::Open(m) => {
                        o.state = OutState::ToStop(m);
                        true
                    }
                    OutState::ToStop(_) | OutState::NegotiatingStop(_) => true,
                }
            });
            if changed {
                self.negotiate(s);
            }
        }
    }

    /// Makes the next subscribe offer if there is something to change and no
    /// offer is outstanding. This is the only place offers are made, which is
    /// what serializes renegotiation.
    fn negotiate(&mut self, no: PeerNo) {
        let Some(p) = self.peers.get_mut(&no) else {
            return;
        };
        if p.pending.is_some() || !p.subscribe.rtc.is_alive() {
            return;
        }
        let needs_app = !p.app_negotiated;
        let has_work = needs_app
            || p.outs
                .iter()
                .any(|o| matches!(o.state, OutState::ToOpen | OutState::ToStop(_)));
        if !has_work {
            return;
        }
        let outs = &mut p.outs;
        let made = catch_unwind(AssertUnwindSafe(|| {
            let mut api = p.subscribe.rtc.sdp_api();
            if needs_app {
                // A data channel gives the first offer an m-line even when
                // nobody publishes yet, so the subscribe connection (and its
                // ICE liveness) is up from the moment of joining.
                api.add_channel("kino".into());
            }
            for o in outs.iter_mut() {
                match o.state {
                    OutState::ToOpen => {
                        let track = format!("{}-{}", o.from_name, kind_str(o.kind));
                        let mid = api.add_media(
                            to_media_kind(o.kind),
                            Direction::SendOnly,
                            Some(o.from_name.clone()),
                            Some(track),
                            None,
                        );
                        o.state = OutState::Negotiating(mid);
                    }
                    OutState::ToStop(m) => {
                        api.stop_media(m);
                        o.state = OutState::NegotiatingStop(m);
                    }
                    _ => {}
                }
            }
            api.apply()
        }));
        match made {
            Ok(Some((offer, pending))) => {
                p.pending = Some(pending);
                let sdp = offer.to_sdp_string();
                send(&mut self.doomed, no, p, Signal::SubscribeOffer { sdp });
                self.drain(no, Conn::Subscribe);
            }
            Ok(None) => {
                // Nothing needed negotiating after all (e.g. a stop of an
                // m-line that was already stopped).
                p.outs
                    .retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
                rollback(&mut p.outs);
                self.drain(no, Conn::Subscribe);
            }
            Err(_) => {
                warn!(peer = no, "str0m panicked while making an offer");
                self.doomed
                    .push((no, Some("internal error in the WebRTC stack".into())));
            }
        }
    }

    fn request_keyframe(&mut self, from: PeerNo, mid: Mid, force: bool) {
        let now = Instant::now();
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        let Some(track) = p.published.iter_mut().find(|t| t.mid == mid) else {
            return;
        };
        if track.kind != Kind::Video {
            return;
        }
        let recent = track
            .last_keyframe_request
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_THROTTLE);
        if recent && !force {
            return;
        }
        track.last_keyframe_request = Some(now);
        let rid = track.rid;
        self.with_rtc(from, Conn::Publish, |rtc| {
            let Some(mut writer) = rtc.writer(mid) else {
                return;
            };
            let kind = if writer.is_request_keyframe_possible(KeyframeRequestKind::Pli) {
                KeyframeRequestKind::Pli
            } else {
                KeyframeRequestKind::Fir
            };
            if let Err(e) = writer.request_keyframe(rid, kind) {
                debug!("keyframe request not possible: {e}");
            }
        });
    }

    /// Recomputes the last-N camera set; returns whether it changed.
    /// Cameras that just entered the set are asked for a keyframe.
    fn update_video_senders(&mut self, call: &str) -> bool {
        let Some(state) = self.calls.get(call) else {
            return false;
        };
        let publishers: Vec<PeerId> = state
            .members
            .iter()
            .filter_map(|no| self.peers.get(no))
            .filter(|p| p.has_video() && !p.muted_video)
            .map(|p| p.name.clone())
            .collect();
        let chosen = choose_video_senders(&state.speakers, &publishers, self.cfg.last_n);
        if chosen == state.video_senders {
            return false;
        }
        let entered: Vec<PeerNo> = state
            .members
            .iter()
            .copied()
            .filter(|no| {
                self.peers.get(no).is_some_and(|p| {
                    chosen.contains(&p.name) && !state.video_senders.contains(&p.name)
                })
            })
            .collect();
        if let Some(state) = self.calls.get_mut(call) {
            state.video_senders = chosen;
        }
        for no in entered {
            let mids: Vec<Mid> = self
                .peers
                .get(&no)
                .map(|p| {
                    p.published
                        .iter()
                        .filter(|t| t.kind == Kind::Video)
                        .map(|t| t.mid)
                        .collect()
                })
                .unwrap_or_default();
            for mid in mids {
                self.request_keyframe(no, mid, true);
            }
        }
        true
    }

    // ---------------------------------------------------------------- signals

    fn broadcast(&mut self, call: &str, signal: Signal) {
        let Some(state) = self.calls.get(call) else {
            return;
        };
        for no in &state.members {
            if let Some(p) = self.peers.get_mut(no) {
                send(&mut self.doomed, *no, p, signal.clone());
            }
        }
    }

    /// Tells every member of the call what is published, if that changed for them.
    fn broadcast_tracks(&mut self, call: &str) {
        let Some(state) = self.calls.get(call) else {
            return;
        };
        let members = state.members.clone();
        let senders = state.video_senders.clone();
        for &r in &members {
            let mut tracks = Vec::new();
            for &o in &members {
                if o == r {
                    continue;
                }
                let (Some(src), Some(rcv)) = (self.peers.get(&o), self.peers.get(&r)) else {
                    continue;
                };
                for t in &src.published {
                    let muted = src.muted(t.kind);
                    let forwarded =
                        !muted && (t.kind == Kind::Audio || senders.contains(&src.name));
                    let mid = rcv
                        .outs
                        .iter()
                        .find(|x| x.from == o && x.from_mid == t.mid)
                        .and_then(|x| x.state.mid())
                        .map(|m| m.to_string());
                    tracks.push(TrackInfo {
                        peer: src.name.clone(),
                        kind: t.kind,
                        muted,
                        forwarded,
                        mid,
                    });
                }
            }
            let Some(p) = self.peers.get_mut(&r) else {
                continue;
            };
            if p.last_tracks.as_ref() != Some(&tracks) {
                p.last_tracks = Some(tracks.clone());
                send(&mut self.doomed, r, p, Signal::Tracks { tracks });
            }
        }
    }

    // ---------------------------------------------------------------- teardown

    /// Closes the publish connection and unpublishes its tracks; the
    /// participant stays in the call and may publish again with a new offer.
    fn drop_publish(&mut self, no: PeerNo) {
        let Some(p) = self.peers.get_mut(&no) else {
            return;
        };
        let Some(mut ep) = p.publish.take() else {
            return;
        };
        close_endpoint(&self.socket, &mut ep);
        let had_tracks = !p.published.is_empty();
        p.published.clear();
        let call = p.call.clone();
        self.routes.retain(|_, route| *route != (no, Conn::Publish));
        if had_tracks {
            self.detach_source(&call, no, None);
            self.update_video_senders(&call);
            self.broadcast_tracks(&call);
        }
    }

    /// Removes a participant entirely. `reason` is told to its browser; a
    /// voluntary leave passes `None`.
    fn remove_peer(&mut self, no: PeerNo, reason: Option<String>) {
        let Some(mut p) = self.peers.remove(&no) else {
            return;
        };
        info!(call = %p.call, peer = %p.name, reason = reason.as_deref().unwrap_or("left"), "participant removed");
        if let Some(ep) = p.publish.as_mut() {
            close_endpoint(&self.socket, ep);
        }
        close_endpoint(&self.socket, &mut p.subscribe);
        if let Some(reason) = reason {
            let _ = p.signals.try_send(Signal::Removed { reason });
        }
        self.routes.retain(|_, (n, _)| *n != no);
        let call = p.call.clone();
        let empty = match self.calls.get_mut(&call) {
            Some(state) => {
                state.members.retain(|&m| m != no);
                state.speakers.retain(|s| *s != p.name);
                state.video_senders.retain(|s| *s != p.name);
                state.members.is_empty()
            }
            None => false,
        };
        if empty {
            self.calls.remove(&call);
            return;
        }
        self.detach_source(&call, no, None);
        self.update_video_senders(&call);
        self.broadcast_tracks(&call);
    }
}

/// Queues a signal for one participant; a participant whose queue is full or
/// closed is removed (its browser is not listening any more).
fn send(doomed: &mut Vec<(PeerNo, Option<String>)>, no: PeerNo, p: &PeerState, signal: Signal) {
    match p.signals.try_send(signal) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Closed(_)) => doomed.push((no, None)),
        Err(mpsc::error::TrySendError::Full(_)) => {
            warn!(peer = %p.name, "signal queue full; removing the participant");
            doomed.push((no, Some("too many undelivered signals".into())));
        }
    }
}

/// Undoes the state changes of a subscribe offer that will never be answered.
fn rollback(outs: &mut Vec<Out>) {
    outs.retain_mut(|o| match o.state {
        OutState::Negotiating(_) if o.orphaned => false,
        OutState::Negotiating(_) => {
            o.state = OutState::ToOpen;
            true
        }
        OutState::NegotiatingStop(m) => {
            o.state = OutState::ToStop(m);
            true
        }
        _ => true,
    });
}

fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
    }
}

/// Turns a str0m event into what the task reacts to; the rest is ignored.
fn translate(no: PeerNo, conn: Conn, e: Event) -> Option<Happening> {
    match e {
        Event::Connected => Some(Happening::Connected(no, conn)),
        Event::IceConnectionStateChange(s) => Some(Happening::Ice(no, conn, s)),
        Event::MediaAdded(m) if conn == Conn::Publish => {
            if m.direction.is_receiving() {
                Some(Happening::TrackAdded(
                    no,
                    m.mid,
                    Some(from_media_kind(m.kind)),
                ))
            } else {
                None
            }
        }
        Event::MediaChanged(m) if conn == Conn::Publish => {
            if m.direction.is_receiving() {
                Some(Happening::TrackAdded(no, m.mid, None))
            } else {
                Some(Happening::TrackRemoved(no, m.mid))
            }
        }
        Event::MediaData(d) if conn == Conn::Publish => Some(Happening::Media(no, Box::new(d))),
        Event::KeyframeRequest(r) if conn == Conn::Subscribe => {
            Some(Happening::KeyframeWanted(no, r.mid))
        }
        Event::Closed => Some(Happening::Gone(no, conn, "closed by the browser".into())),
        _ => None,
    }
}
