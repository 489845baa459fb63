//! The call's WebRTC in the browser (created by an effect, so never on the server).
//!
//! Two peer connections to the media server, as it expects (`kino_rtc`): a *publish* one where
//! this browser offers its microphone and camera — both transceivers from the first offer, so
//! turning the camera on later needs no renegotiation: the track is swapped in with
//! `replaceTrack` — and a *subscribe* one where the server offers everyone else's tracks and the
//! browser answers. The server is ICE-lite with one host candidate in its SDP: it learns this
//! browser's address from the browser's own checks, so no candidates are trickled. What arrives
//! on the subscribe connection is found by its transceiver's `mid`, which the server's track
//! list names for each track (the `msid` stream id is the peer's name, but with the characters
//! SDP does not allow taken out, so it cannot be matched reliably).
//!
//! Turning a device off stops its track (the camera light goes out), takes it off its sender,
//! and tells the server (`CallMute`), which stops forwarding and tells everyone at once.

use super::duck::{duck_step, settled};
use super::signal::{Kind, Signal};
use super::{Call, Device, Problem, Toggle};
use crate::rooms::live::{now, CallNews};
use crate::rooms::protocol::{ClientMsg, IceServer, ProtoError, ServerMsg};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcConfiguration, RtcIceTransportPolicy,
    RtcPeerConnection, RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

/// How often the film's volume moves while it ducks or comes back.
const DUCK_TICK: Duration = Duration::from_millis(40);
/// Echo cancellation and noise suppression: the film plays through the same speakers.
const AUDIO: &str =
    r#"{"audio":{"echoCancellation":true,"noiseSuppression":true,"autoGainControl":true}}"#;
/// Small, slow camera video: thirty people fit.
const VIDEO: &str = r#"{"video":{"width":{"ideal":640,"max":640},"height":{"ideal":360,"max":360},"frameRate":{"ideal":15,"max":15}}}"#;

/// A peer connection and the callbacks it calls, which live as long as it does.
struct Connection {
    pc: RtcPeerConnection,
    _on_track: Option<Closure<dyn FnMut(RtcTrackEvent)>>,
    _on_state: Closure<dyn FnMut(web_sys::Event)>,
    _on_candidate: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_onicecandidate(None);
        self.pc.close();
    }
}

/// The publish connection's two senders.
struct Senders {
    audio: RtcRtpSender,
    video: RtcRtpSender,
}

pub(super) struct Engine {
    call: Call,
    /// Bumped whenever the seat's connections go: answers for older ones are dropped.
    generation: Cell<u64>,
    /// This socket's seat, once joined.
    peer: RefCell<Option<String>>,
    joining: Cell<bool>,
    publish: RefCell<Option<Connection>>,
    senders: RefCell<Option<Senders>>,
    subscribe: RefCell<Option<Connection>>,
    mic: RefCell<Option<MediaStreamTrack>>,
    cam: RefCell<Option<MediaStreamTrack>>,
    /// The others' streams, by the subscribe connection's `mid` that carries them.
    remote: RefCell<Vec<(String, MediaStream)>>,
    /// The TURN servers of this seat (with its own credentials), and whether every connection
    /// must go through them.
    ice: RefCell<(Vec<IceServer>, bool)>,
    /// The media server's caps (audio, video), bits per second.
    caps: Cell<Option<(u64, u64)>>,
    /// Push-to-talk's key is held.
    talking: Cell<bool>,
    closed: Cell<bool>,
    /// When the current seat was taken (ms since the epoch), and the last wait before joining
    /// again (`super::rejoin_delay`).
    seated_at: Cell<f64>,
    rejoin_wait: Cell<Option<Duration>>,
}

impl Engine {
    pub(super) fn new(call: Call) -> Rc<Self> {
        Rc::new(Engine {
            call,
            generation: Cell::new(0),
            peer: RefCell::new(None),
            joining: Cell::new(false),
            publish: RefCell::new(None),
            senders: RefCell::new(None),
            subscribe: RefCell::new(None),
            mic: RefCell::new(None),
            cam: RefCell::new(None),
            remote: RefCell::new(Vec::new()),
            ice: RefCell::new((Vec::new(), false)),
            caps: Cell::new(None),
            talking: Cell::new(false),
            closed: Cell::new(false),
            seated_at: Cell::new(0.0),
            rejoin_wait: Cell::new(None),
        })
    }

    /// The page goes: devices off, connections closed.
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.reset();
        for kind in [Kind::Audio, Kind::Video] {
            self.stop_device(kind);
        }
    }

    /// The stream that carries `peer`'s microphone or camera here, once it arrived.
    pub(super) fn stream_of(&self, peer: &str, kind: Kind) -> Option<MediaStream> {
        let mid = self.call.tracks.with_untracked(|tracks| {
            tracks
                .iter()
                .find(|t| t.peer == peer && t.kind == kind)
                .and_then(|t| t.mid.clone())
        })?;
        self.remote
            .borrow()
            .iter()
            .find(|(m, _)| *m == mid)
            .map(|(_, stream)| stream.clone())
    }

    /// This browser's camera, for its own tile.
    pub(super) fn own_video(&self) -> Option<MediaStream> {
        let track = self.cam.borrow().clone()?;
        let tracks = js_sys::Array::of1(&track);
        MediaStream::new_with_tracks(&tracks).ok()
    }

    pub(super) fn on_news(self: &Rc<Self>, news: CallNews) {
        if self.closed.get() {
            return;
        }
        match news {
            CallNews::Welcome { ended } => {
                // A new socket: the old one's seat went with it.
                self.reset();
                if ended || self.call.available.get_untracked() == Some(false) {
                    for kind in [Kind::Audio, Kind::Video] {
                        self.turn_off(kind);
                    }
                    return;
                }
                self.join();
            }
            CallNews::Refused(ProtoError::CallsOff) => {
                self.reset();
                for kind in [Kind::Audio, Kind::Video] {
                    self.turn_off(kind);
                }
                self.call.available.set(Some(false));
                self.call.problem.set(Some(Problem::CallsOff));
            }
            CallNews::Refused(_) => {
                // A message of a seat the server no longer knows: take a new one.
                if !self.joining.get() {
                    self.reset();
                    self.join();
                }
            }
            CallNews::Server(msg) => self.on_server(msg),
        }
    }

    fn on_server(self: &Rc<Self>, msg: ServerMsg) {
        match msg {
            ServerMsg::CallJoined {
                peer,
                ice,
                relay_only,
            } => {
                if self.peer.borrow().as_deref() == Some(peer.as_str()) {
                    return;
                }
                *self.ice.borrow_mut() = (ice, relay_only);
                self.joining.set(false);
                self.seated_at.set(js_sys::Date::now());
                *self.peer.borrow_mut() = Some(peer.clone());
                self.call.me.set(Some(peer));
                self.call.available.set(Some(true));
                self.open_subscribe();
                if self.call.mic.get_untracked() == Toggle::On
                    || self.call.cam.get_untracked() == Toggle::On
                {
                    self.start_publish();
                }
            }
            ServerMsg::CallAnswer { sdp } => self.accept_answer(sdp),
            ServerMsg::CallSignal { signal } => {
                if let Some(signal) = Signal::parse(&signal) {
                    self.on_signal(signal);
                }
            }
            ServerMsg::CallError { message } => {
                self.joining.set(false);
                self.call.problem.set(Some(Problem::Server(message)));
            }
            ServerMsg::CallLeft => {
                let had_seat = self.peer.borrow().is_some();
                self.reset();
                if had_seat {
                    self.rejoin_later();
                }
            }
            _ => {}
        }
    }

    fn on_signal(self: &Rc<Self>, signal: Signal) {
        match signal {
            Signal::SubscribeOffer { sdp } => self.answer_offer(sdp),
            Signal::Tracks { tracks } => {
                self.remote
                    .borrow_mut()
                    .retain(|(mid, _)| tracks.iter().any(|t| t.mid.as_ref() == Some(mid)));
                let me = self.peer.borrow().clone();
                self.call.speaking.update(|s| {
                    s.retain(|p| me.as_ref() == Some(p) || tracks.iter().any(|t| &t.peer == p))
                });
                self.call.tracks.set(tracks);
                self.call.streams.update(|n| *n += 1);
            }
            Signal::Speaking { peer, speaking } => self.call.speaking.update(|s| {
                s.retain(|p| *p != peer);
                if speaking {
                    s.push(peer);
                }
            }),
            Signal::BitrateCaps {
                audio_bps,
                video_bps,
            } => {
                self.caps.set(Some((audio_bps, video_bps)));
                self.apply_caps();
            }
            Signal::Error { message } => self.call.problem.set(Some(Problem::Server(message))),
            Signal::Removed { .. } | Signal::Other => {}
        }
    }

    /// Asks for a seat in the call (once at a time).
    fn join(&self) {
        if self.joining.get() || self.peer.borrow().is_some() {
            return;
        }
        if self.call.live.send_call(&ClientMsg::CallJoin) {
            self.joining.set(true);
        }
    }

    fn rejoin_later(self: &Rc<Self>) {
        let generation = self.generation.get();
        let lasted =
            Duration::from_millis((js_sys::Date::now() - self.seated_at.get()).max(0.0) as u64);
        let wait = super::rejoin_delay(self.rejoin_wait.get(), lasted);
        self.rejoin_wait.set(Some(wait));
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(engine) = weak.upgrade() {
                    if engine.generation.get() == generation && !engine.closed.get() {
                        engine.join();
                    }
                }
            },
            wait,
        );
    }

    /// Forgets the seat and closes its connections (the devices stay as they are).
    fn reset(&self) {
        self.generation.set(self.generation.get() + 1);
        self.senders.borrow_mut().take();
        self.publish.borrow_mut().take();
        self.subscribe.borrow_mut().take();
        self.remote.borrow_mut().clear();
        self.peer.borrow_mut().take();
        self.joining.set(false);
        self.call.me.set(None);
        self.call.tracks.set(Vec::new());
        self.call.speaking.set(Default::default());
        self.call.streams.update(|n| *n += 1);
    }

    /// A new peer connection to the media server (through the seat's TURN servers, if any),
    /// which says so on the page when it cannot get through.
    fn connection(
        self: &Rc<Self>,
        on_track: Option<Closure<dyn FnMut(RtcTrackEvent)>>,
    ) -> Option<Connection> {
        let config = RtcConfiguration::new();
        let (servers, relay_only) = self.ice.borrow().clone();
        if !servers.is_empty() {
            let list = js_sys::Array::new();
            for server in servers {
                let entry = web_sys::RtcIceServer::new();
                let urls = js_sys::Array::new();
                for url in server.urls {
                    urls.push(&JsValue::from_str(&url));
                }
                entry.set_urls(&urls);
                entry.set_username(&server.username);
                entry.set_credential(&server.credential);
                list.push(&entry);
            }
            config.set_ice_servers(&list);
        }
        if relay_only {
            config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
        }
        let Ok(pc) = RtcPeerConnection::new_with_configuration(&config) else {
            self.call.problem.set(Some(Problem::NoConnection));
            return None;
        };
        if let Some(on_track) = &on_track {
            pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        }
        let weak = Rc::downgrade(self);
        let watched = pc.clone();
        let on_state = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let Some(engine) = weak.upgrade() else { return };
            let problem = engine.call.problem;
            match watched.connection_state() {
                // No path to the media server: not through this network, nor a relay.
                RtcPeerConnectionState::Failed => problem.set(Some(Problem::Unreachable)),
                RtcPeerConnectionState::Connected
                    if problem.get_untracked() == Some(Problem::Unreachable) =>
                {
                    problem.set(None)
                }
                _ => {}
            }
        });
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        // Gathering that ends without a single way out (a relay-only policy whose TURN server
        // refused the credentials, or is unreachable) can never connect: said at once, rather
        // than after the browser's long wait for a connection that has nothing to try.
        let weak = Rc::downgrade(self);
        let found = Cell::new(0u32);
        let on_candidate = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let candidate = js_sys::Reflect::get(&e, &"candidate".into()).unwrap_or(JsValue::NULL);
            if !candidate.is_null() && !candidate.is_undefined() {
                found.set(found.get() + 1);
            } else if found.get() == 0 {
                if let Some(engine) = weak.upgrade() {
                    engine.call.problem.set(Some(Problem::Unreachable));
                }
            }
        });
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        Some(Connection {
            pc,
            _on_track: on_track,
            _on_state: on_state,
            _on_candidate: on_candidate,
        })
    }

    fn open_subscribe(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |e: RtcTrackEvent| {
            if let Some(engine) = weak.upgrade() {
                engine.on_track(e);
            }
        });
        *self.subscribe.borrow_mut() = self.connection(Some(on_track));
    }

    /// A track of someone else arrived: kept by its `mid` (in its stream, which holds the same
    /// person's other track too).
    fn on_track(&self, e: RtcTrackEvent) {
        let Some(mid) = e.transceiver().mid() else {
            return;
        };
        let stream = match e.streams().get(0).dyn_into::<MediaStream>() {
            Ok(stream) => stream,
            Err(_) => match MediaStream::new_with_tracks(&js_sys::Array::of1(&e.track())) {
                Ok(stream) => stream,
                Err(_) => return,
            },
        };
        let mut remote = self.remote.borrow_mut();
        remote.retain(|(m, _)| *m != mid);
        remote.push((mid, stream));
        drop(remote);
        self.call.streams.update(|n| *n += 1);
    }

    /// Answers the server's offer on the subscribe connection.
    fn answer_offer(self: &Rc<Self>, sdp: String) {
        let Some(pc) = self.subscribe.borrow().as_ref().map(|c| c.pc.clone()) else {
            return;
        };
        let generation = self.generation.get();
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let answered = answer(&pc, &sdp).await;
            let Some(engine) = weak.upgrade() else { return };
            if engine.generation.get() != generation {
                return;
            }
            match answered {
                Some(sdp) => {
                    engine
                        .call
                        .live
                        .send_call(&ClientMsg::CallSubscribeAnswer { sdp });
                }
                // The browser refused the media server's offer.
                None => engine.call.problem.set(Some(Problem::NoConnection)),
            }
        });
    }

    /// Offers the microphone and camera on a new publish connection.
    fn start_publish(self: &Rc<Self>) {
        if self.publish.borrow().is_some() || self.peer.borrow().is_none() {
            return;
        }
        let Some(connection) = self.connection(None) else {
            return;
        };
        let pc = connection.pc.clone();
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendonly);
        let audio = pc
            .add_transceiver_with_str_and_init("audio", &init)
            .sender();
        let video = pc
            .add_transceiver_with_str_and_init("video", &init)
            .sender();
        *self.senders.borrow_mut() = Some(Senders { audio, video });
        *self.publish.borrow_mut() = Some(connection);
        for kind in [Kind::Audio, Kind::Video] {
            self.put_on_sender(kind);
        }
        let generation = self.generation.get();
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let offer = offer(&pc).await;
            let Some(engine) = weak.upgrade() else { return };
            if engine.generation.get() != generation {
                return;
            }
            match offer {
                Some(sdp) => {
                    engine.call.live.send_call(&ClientMsg::CallPublish { sdp });
                }
                None => engine.call.problem.set(Some(Problem::NoConnection)),
            }
        });
    }

    fn accept_answer(self: &Rc<Self>, sdp: String) {
        let Some(pc) = self.publish.borrow().as_ref().map(|c| c.pc.clone()) else {
            return;
        };
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let description = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            description.set_sdp(&sdp);
            let applied = JsFuture::from(pc.set_remote_description(&description)).await;
            if let Some(engine) = weak.upgrade() {
                match applied {
                    Ok(_) => engine.apply_caps(),
                    // The browser refused the media server's answer.
                    Err(_) => engine.call.problem.set(Some(Problem::NoConnection)),
                }
            }
        });
    }

    /// Keeps each sender under the server's cap (browsers ignore the server's hints for audio).
    fn apply_caps(&self) {
        let (Some((audio_bps, video_bps)), Some(senders)) = (
            self.caps.get(),
            self.senders
                .borrow()
                .as_ref()
                .map(|s| (s.audio.clone(), s.video.clone())),
        ) else {
            return;
        };
        for (sender, bps) in [(senders.0, audio_bps), (senders.1, video_bps)] {
            let params = sender.get_parameters();
            let encodings = js_sys::Reflect::get(&params, &"encodings".into())
                .ok()
                .and_then(|e| e.dyn_into::<js_sys::Array>().ok());
            let Some(first) = encodings.and_then(|e| (e.length() > 0).then(|| e.get(0))) else {
                continue;
            };
            let _ =
                js_sys::Reflect::set(&first, &"maxBitrate".into(), &JsValue::from_f64(bps as f64));
            let _ = sender.set_parameters_with_parameters(&params);
        }
    }

    /// Is this device's media going out now (on, and for the microphone in push-to-talk mode,
    /// its key held)?
    fn sending(&self, kind: Kind) -> bool {
        match kind {
            Kind::Audio => {
                self.call.mic.get_untracked() == Toggle::On
                    && (!self.call.push_to_talk.get_untracked() || self.talking.get())
            }
            Kind::Video => self.call.cam.get_untracked() == Toggle::On,
        }
    }

    /// Puts the device's track on its sender, or takes it off, as `sending` says; and tells the
    /// server.
    fn put_on_sender(&self, kind: Kind) {
        let sending = self.sending(kind);
        if let Some(senders) = self.senders.borrow().as_ref() {
            let (sender, track) = match kind {
                Kind::Audio => (&senders.audio, self.mic.borrow().clone()),
                Kind::Video => (&senders.video, self.cam.borrow().clone()),
            };
            let track = track.filter(|_| sending);
            let _ = sender.replace_track(track.as_ref());
        }
        if self.peer.borrow().is_some() {
            self.call.live.send_call(&ClientMsg::CallMute {
                video: kind == Kind::Video,
                muted: !sending,
            });
        }
    }

    fn state(&self, kind: Kind) -> RwSignal<Toggle> {
        match kind {
            Kind::Audio => self.call.mic,
            Kind::Video => self.call.cam,
        }
    }

    fn slot(&self, kind: Kind) -> &RefCell<Option<MediaStreamTrack>> {
        match kind {
            Kind::Audio => &self.mic,
            Kind::Video => &self.cam,
        }
    }

    /// The toggle was pressed.
    pub(super) fn toggle(self: &Rc<Self>, kind: Kind) {
        match self.state(kind).get_untracked() {
            // Still asking: the answer decides.
            Toggle::Asking => {}
            Toggle::On => self.turn_off(kind),
            Toggle::Off => self.turn_on(kind),
        }
    }

    fn turn_off(&self, kind: Kind) {
        let was = self.state(kind).get_untracked();
        self.state(kind).set(Toggle::Off);
        self.stop_device(kind);
        if was == Toggle::On {
            self.put_on_sender(kind);
        }
    }

    fn stop_device(&self, kind: Kind) {
        if let Some(track) = self.slot(kind).borrow_mut().take() {
            track.stop();
        }
    }

    /// Another device was chosen: a device that is on is opened anew from it and replaces the
    /// old one on its sender (no renegotiation); one that is off just remembers the choice.
    pub(super) fn switch_device(self: &Rc<Self>, kind: Kind) {
        if self.state(kind).get_untracked() != Toggle::On {
            return;
        }
        let id = self.chosen(kind);
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let Some((engine, got)) = Self::open_chosen(weak, kind, id).await else {
                return;
            };
            match got {
                Ok(track) if engine.state(kind).get_untracked() == Toggle::On => {
                    if let Some(old) = engine.slot(kind).borrow_mut().replace(track) {
                        old.stop();
                    }
                    engine.put_on_sender(kind);
                    list_devices_now(engine.call);
                }
                // Turned off meanwhile.
                Ok(track) => track.stop(),
                // The old device goes on; the line says why the new one did not.
                Err(problem) => engine.call.problem.set(Some(problem)),
            }
        });
    }

    /// Opens the device `id` (or the default) for `kind`: the engine and what came of it, unless
    /// the page went meanwhile (a track that was opened is then stopped again).
    async fn open_chosen(
        weak: Weak<Self>,
        kind: Kind,
        id: Option<String>,
    ) -> Option<(Rc<Self>, Result<MediaStreamTrack, Problem>)> {
        let got = open_device(kind, id.as_deref()).await;
        match weak.upgrade() {
            Some(engine) => Some((engine, got)),
            None => {
                if let Ok(track) = got {
                    track.stop();
                }
                None
            }
        }
    }

    fn chosen(&self, kind: Kind) -> Option<String> {
        match kind {
            Kind::Audio => self.call.mic_device.get_untracked(),
            Kind::Video => self.call.cam_device.get_untracked(),
        }
    }

    fn turn_on(self: &Rc<Self>, kind: Kind) {
        self.state(kind).set(Toggle::Asking);
        self.call.problem.set(None);
        let id = self.chosen(kind);
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let Some((engine, got)) = Self::open_chosen(weak, kind, id).await else {
                return;
            };
            if engine.closed.get() {
                if let Ok(track) = got {
                    track.stop();
                }
                return;
            }
            let state = engine.state(kind);
            match got {
                // Turned off meanwhile.
                Ok(track) if state.get_untracked() != Toggle::Asking => track.stop(),
                Ok(track) => {
                    *engine.slot(kind).borrow_mut() = Some(track);
                    state.set(Toggle::On);
                    // Permission given: the devices now have their names.
                    list_devices_now(engine.call);
                    if engine.publish.borrow().is_some() {
                        engine.put_on_sender(kind);
                    } else if engine.peer.borrow().is_some() {
                        engine.start_publish();
                    } else {
                        engine.join();
                    }
                }
                Err(problem) => {
                    state.set(Toggle::Off);
                    engine.call.problem.set(Some(problem));
                }
            }
        });
    }

    /// Push-to-talk's key went down (`true`) or up.
    pub(super) fn talk_key(&self, held: bool) {
        self.talking.set(held);
        if self.call.mic.get_untracked() == Toggle::On {
            self.put_on_sender(Kind::Audio);
        }
    }
}

/// Asks the browser for the microphone or camera: the chosen one (`id`), or its default when
/// none is chosen or the chosen one is gone (unplugged since); why not, if it will not give it.
async fn open_device(kind: Kind, id: Option<&str>) -> Result<MediaStreamTrack, Problem> {
    if let Some(id) = id {
        match open_one(kind, Some(id)).await {
            Err(name) if name == "NotFoundError" || name == "OverconstrainedError" => {}
            opened => return opened.map_err(|name| problem_of(kind, &name)),
        }
    }
    open_one(kind, None)
        .await
        .map_err(|name| problem_of(kind, &name))
}

/// What a `getUserMedia` error's name means for the person.
fn problem_of(kind: Kind, name: &str) -> Problem {
    match name {
        "NotAllowedError" | "SecurityError" => Problem::Refused(kind),
        "NotFoundError" | "OverconstrainedError" => Problem::Missing(kind),
        _ => Problem::Failed(kind),
    }
}

/// One `getUserMedia` for exactly the device `id` (or the default); the error's name if not.
async fn open_one(kind: Kind, id: Option<&str>) -> Result<MediaStreamTrack, String> {
    let failed = || String::from("Failed");
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or_else(|| String::from("NotFoundError"))?;
    let constraints = js_sys::JSON::parse(match kind {
        Kind::Audio => AUDIO,
        Kind::Video => VIDEO,
    })
    .map_err(|_| failed())?;
    if let Some(id) = id {
        let wanted = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&wanted, &"exact".into(), &JsValue::from_str(id));
        let kind_name = match kind {
            Kind::Audio => "audio",
            Kind::Video => "video",
        };
        if let Ok(track) = js_sys::Reflect::get(&constraints, &kind_name.into()) {
            let _ = js_sys::Reflect::set(&track, &"deviceId".into(), &wanted);
        }
    }
    let constraints = constraints.unchecked_into::<MediaStreamConstraints>();
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| failed())?;
    let stream = match JsFuture::from(promise).await {
        Ok(stream) => stream.unchecked_into::<MediaStream>(),
        Err(e) => {
            return Err(js_sys::Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_else(failed))
        }
    };
    let tracks = match kind {
        Kind::Audio => stream.get_audio_tracks(),
        Kind::Video => stream.get_video_tracks(),
    };
    tracks
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| String::from("NotFoundError"))
}

/// The SDP of a description object (`{type, sdp}`).
fn sdp_of(description: &JsValue) -> Option<String> {
    js_sys::Reflect::get(description, &"sdp".into())
        .ok()?
        .as_string()
}

/// Makes and applies the publish connection's offer; its SDP.
async fn offer(pc: &RtcPeerConnection) -> Option<String> {
    let offer = JsFuture::from(pc.create_offer()).await.ok()?;
    JsFuture::from(pc.set_local_description(offer.unchecked_ref()))
        .await
        .ok()?;
    sdp_of(&offer)
}

/// Applies the server's offer on the subscribe connection and answers it; the answer's SDP.
async fn answer(pc: &RtcPeerConnection, sdp: &str) -> Option<String> {
    let offer = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    offer.set_sdp(sdp);
    JsFuture::from(pc.set_remote_description(&offer))
        .await
        .ok()?;
    let answer = JsFuture::from(pc.create_answer()).await.ok()?;
    JsFuture::from(pc.set_local_description(answer.unchecked_ref()))
        .await
        .ok()?;
    sdp_of(&answer)
}

/// While anyone else talks (and "Lower the film while people talk" is on), the film's gain
/// moves along [`duck_step`] until it settles.
pub(super) fn duck_the_film(call: Call) {
    let others_talking = Memo::new(move |_| {
        let me = call.me.get();
        call.speaking
            .with(|s| s.iter().any(|p| Some(p) != me.as_ref()))
    });
    let ticker = StoredValue::new(None::<IntervalHandle>);
    let last = StoredValue::new(0.0f64);
    Effect::new(move |_| {
        let talking = call.duck_on.get() && others_talking.get();
        stop(ticker);
        ticker.set_value(None);
        if settled(call.film_gain.get_untracked(), talking) {
            return;
        }
        last.set_value(now());
        let tick = move || {
            let at = now();
            let dt = at - last.try_get_value().unwrap_or(at);
            let _ = last.try_set_value(at);
            let gain = call
                .film_gain
                .try_get_untracked()
                .map(|gain| duck_step(gain, talking, dt));
            if let Some(gain) = gain {
                call.film_gain.set(gain);
            }
            // Arrived, or the page has gone.
            if gain.is_none_or(|gain| settled(gain, talking)) {
                stop(ticker);
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, DUCK_TICK) {
            ticker.set_value(Some(handle));
        }
    });
    on_cleanup(move || stop(ticker));
}

fn stop(ticker: StoredValue<Option<IntervalHandle>>) {
    if let Some(Some(handle)) = ticker.try_get_value() {
        handle.clear();
    }
}

/// Push-to-talk: V (or its key on a Russian layout) held sends the microphone, unless a text
/// field has the focus.
pub(super) fn listen_for_push_to_talk(call: Call) {
    let is_talk_key = |e: &web_sys::KeyboardEvent| {
        matches!(e.key().as_str(), "v" | "V" | "м" | "М") && !crate::ui::typing_into_field(e)
    };
    let down = window_event_listener(leptos::ev::keydown, move |e| {
        if call.push_to_talk.get_untracked() && is_talk_key(&e) && !e.repeat() {
            call.with_engine(|engine| engine.talk_key(true));
        }
    });
    let up = window_event_listener(leptos::ev::keyup, move |e| {
        if call.push_to_talk.get_untracked() && is_talk_key(&e) {
            call.with_engine(|engine| engine.talk_key(false));
        }
    });
    on_cleanup(move || {
        down.remove();
        up.remove();
    });
}

/// Keeps `call.devices` up to date: now, and whenever a device comes or goes.
pub(super) fn list_devices(call: Call) {
    list_devices_now(call);
    let Some(media) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) else {
        return;
    };
    let changed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| list_devices_now(call));
    media.set_ondevicechange(Some(changed.as_ref().unchecked_ref()));
    let kept = SendWrapper::new((media, changed));
    on_cleanup(move || {
        let (media, changed) = kept.take();
        media.set_ondevicechange(None);
        drop(changed);
    });
}

/// Asks the browser for its microphones and cameras (named once one has been allowed).
fn list_devices_now(call: Call) {
    let Some(media) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) else {
        return;
    };
    let Ok(promise) = media.enumerate_devices() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let Ok(list) = JsFuture::from(promise).await else {
            return;
        };
        let list: js_sys::Array = list.unchecked_into();
        let found: Vec<Device> = list
            .iter()
            .filter_map(|d| {
                let d: web_sys::MediaDeviceInfo = d.dyn_into().ok()?;
                let kind = match d.kind() {
                    web_sys::MediaDeviceKind::Audioinput => Kind::Audio,
                    web_sys::MediaDeviceKind::Videoinput => Kind::Video,
                    _ => return None,
                };
                // The "default" entry is the browser's own default, which "Default" already is.
                let id = d.device_id();
                (!id.is_empty() && id != "default").then(|| Device {
                    kind,
                    id,
                    label: d.label(),
                })
            })
            .collect();
        if call.devices.try_with_untracked(|d| *d != found) == Some(true) {
            call.devices.set(found);
        }
    });
}
