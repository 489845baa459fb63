//! The room's voice and camera call, in the page: "Microphone" and "Camera", the tiles of the
//! people who talk or show themselves, everyone's voice, and the film lowered while they talk.
//!
//! The browser joins the call as soon as the room's socket is welcomed (so it hears the others
//! with its own microphone off), and again after every reconnect; its microphone and camera are
//! off until turned on, and only then does the browser ask for them. The WebRTC side lives in
//! [`media`] (browser only); this module holds the state every view reads — plain signals — and
//! the views.

pub mod duck;
mod media;
pub mod signal;

use super::live::Live;
use crate::i18n::*;
use crate::icons::{Icon, IconSvg};
use leptos::html::{Audio, Video};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use signal::{Kind, TrackInfo};
use std::collections::HashMap;
use std::rc::Rc;

/// A microphone or camera toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    Off,
    /// Turned on; the browser is asking for the device (and perhaps the person for permission).
    Asking,
    On,
}

/// Why the call section shows a line of trouble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The person (or the browser's settings) refused the device.
    Refused(Kind),
    /// There is no such device.
    Missing(Kind),
    /// The device exists but could not be started.
    Failed(Kind),
    /// The browser could not make a peer connection, or refused what the media server said.
    NoConnection,
    /// A connection to the media server failed: no path from this network (nor through TURN).
    Unreachable,
    /// This server runs no media server.
    CallsOff,
    /// The media server refused something (its own words, shown as text).
    Server(String),
}

/// One person's seat in the call as a tile shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub peer: String,
    /// Their microphone is published and on.
    pub speaks: bool,
    /// Their camera's video reaches this browser.
    pub video: bool,
}

/// The seats of everyone else who publishes something, in the server's order.
pub fn seats(tracks: &[TrackInfo]) -> Vec<Seat> {
    let mut seats: Vec<Seat> = Vec::new();
    for t in tracks {
        let at = match seats.iter().position(|s| s.peer == t.peer) {
            Some(at) => at,
            None => {
                seats.push(Seat {
                    peer: t.peer.clone(),
                    speaks: false,
                    video: false,
                });
                seats.len() - 1
            }
        };
        match t.kind {
            Kind::Audio => seats[at].speaks = !t.muted,
            Kind::Video => seats[at].video = t.forwarded && !t.muted,
        }
    }
    seats
}

/// How one person sounds here: "Mute for me" and their volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hearing {
    pub muted: bool,
    pub volume: f64,
}

impl Default for Hearing {
    fn default() -> Self {
        Hearing {
            muted: false,
            volume: 1.0,
        }
    }
}

const DUCK_KEY: &str = "kino.call.duck";
const TOLD_KEY: &str = "kino.call.told";
/// How each person sounds here, kept across visits: `user<TAB>volume<TAB>1|0` lines.
const HEARING_KEY: &str = "kino.call.hearing";
/// The chosen microphone and camera (a browser's device ids, which only mean something to it).
const MIC_KEY: &str = "kino.call.mic";
const CAM_KEY: &str = "kino.call.cam";

/// A microphone or camera the browser has, for the device selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: Kind,
    pub id: String,
    pub label: String,
}

/// `HEARING_KEY`'s text → the hearings it keeps (lines that do not parse are dropped).
pub fn read_hearing(text: &str) -> Vec<(String, Hearing)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let user = parts.next().filter(|u| !u.is_empty())?;
            let volume = parts
                .next()?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())?;
            let muted = parts.next()? == "1";
            Some((
                user.to_owned(),
                Hearing {
                    muted,
                    volume: volume.clamp(0.0, 1.0),
                },
            ))
        })
        .collect()
}

/// The hearings worth keeping (not the default) as `HEARING_KEY`'s text.
pub fn write_hearing(hearing: &[(String, Hearing)]) -> String {
    hearing
        .iter()
        .filter(|(_, h)| *h != Hearing::default())
        .map(|(user, h)| format!("{user}\t{}\t{}\n", h.volume, u8::from(h.muted)))
        .collect()
}

/// The call as the page shows it. `Copy`, like the signals it holds.
#[derive(Clone, Copy)]
pub struct Call {
    pub live: Live,
    pub mic: RwSignal<Toggle>,
    pub cam: RwSignal<Toggle>,
    /// This socket's seat (`None` while joining, or with calls off).
    pub me: RwSignal<Option<String>>,
    /// `Some(false)`: this server has no calls.
    pub available: RwSignal<Option<bool>>,
    pub problem: RwSignal<Option<Problem>>,
    /// What the others publish (from the media server).
    pub tracks: RwSignal<Vec<TrackInfo>>,
    /// Who is talking now (peers; this seat too). Lists, not maps: a call has a few dozen
    /// people at most, and every map type costs the page's WASM its own code.
    pub speaking: RwSignal<Vec<String>>,
    /// Bumped whenever a received stream arrives or goes.
    pub streams: RwSignal<u64>,
    /// "Lower the film while people talk".
    pub duck_on: RwSignal<bool>,
    /// The film's share of its chosen volume (1, or less while people talk).
    pub film_gain: RwSignal<f64>,
    /// Per person (user id): "Mute for me" and volume.
    pub hearing: RwSignal<Vec<(String, Hearing)>>,
    /// Push-to-talk: the microphone sends only while V is held.
    pub push_to_talk: RwSignal<bool>,
    /// The browser's microphones and cameras (names once it has been given one of them).
    pub devices: RwSignal<Vec<Device>>,
    /// The chosen microphone and camera (`None`: the browser's default).
    pub mic_device: RwSignal<Option<String>>,
    pub cam_device: RwSignal<Option<String>>,
    /// The browser refused to start the call's sound without a click.
    pub sound_blocked: RwSignal<bool>,
    /// Bumped to try starting the sound again.
    pub replay: RwSignal<u64>,
    /// "Your microphone and camera are off" has been said on an earlier visit.
    told: RwSignal<bool>,
    engine: StoredValue<Option<SendWrapper<Rc<media::Engine>>>>,
}

impl Call {
    /// The signals, on the server and in the browser alike; `start` joins (browser only).
    pub fn new(live: Live) -> Self {
        Call {
            live,
            mic: RwSignal::new(Toggle::Off),
            cam: RwSignal::new(Toggle::Off),
            me: RwSignal::new(None),
            available: RwSignal::new(None),
            problem: RwSignal::new(None),
            tracks: RwSignal::new(Vec::new()),
            speaking: RwSignal::new(Vec::new()),
            streams: RwSignal::new(0),
            duck_on: RwSignal::new(true),
            film_gain: RwSignal::new(1.0),
            hearing: RwSignal::new(Vec::new()),
            push_to_talk: RwSignal::new(false),
            devices: RwSignal::new(Vec::new()),
            mic_device: RwSignal::new(None),
            cam_device: RwSignal::new(None),
            sound_blocked: RwSignal::new(false),
            replay: RwSignal::new(0),
            told: RwSignal::new(false),
            engine: StoredValue::new(None),
        }
    }

    /// Starts the browser side (call from an effect): the room's channel tells it when to join.
    pub fn start(self) {
        if let Some(storage) = storage() {
            if storage.get_item(DUCK_KEY).ok().flatten().as_deref() == Some("0") {
                self.duck_on.set(false);
            }
            if let Ok(Some(text)) = storage.get_item(HEARING_KEY) {
                self.hearing.set(read_hearing(&text));
            }
            let chosen = |key| {
                storage
                    .get_item(key)
                    .ok()
                    .flatten()
                    .filter(|id| !id.is_empty())
            };
            self.mic_device.set(chosen(MIC_KEY));
            self.cam_device.set(chosen(CAM_KEY));
            if storage.get_item(TOLD_KEY).ok().flatten().is_some() {
                self.told.set(true);
            } else {
                let _ = storage.set_item(TOLD_KEY, "1");
            }
        }
        let engine = media::Engine::new(self);
        let weak = Rc::downgrade(&engine);
        self.live.on_call(move |news| {
            if let Some(engine) = weak.upgrade() {
                engine.on_news(news);
            }
        });
        self.engine.set_value(Some(SendWrapper::new(engine)));
        media::duck_the_film(self);
        media::listen_for_push_to_talk(self);
        media::list_devices(self);
        on_cleanup(move || {
            if let Some(Some(engine)) = self.engine.try_get_value() {
                engine.close();
            }
        });
    }

    fn with_engine<T>(&self, f: impl FnOnce(&Rc<media::Engine>) -> T) -> Option<T> {
        match self.engine.try_get_value() {
            Some(Some(engine)) => Some(f(&engine)),
            _ => None,
        }
    }

    fn toggle(&self, kind: Kind) {
        self.told.set(true);
        self.with_engine(|e| e.toggle(kind));
    }

    fn set_push_to_talk(&self, on: bool) {
        self.push_to_talk.set(on);
        self.with_engine(|e| e.talk_key(false));
    }

    fn hearing_of(&self, user: &str) -> Hearing {
        self.hearing
            .with(|h| h.iter().find(|(u, _)| u == user).map(|(_, h)| *h))
            .unwrap_or_default()
    }

    fn set_hearing(&self, user: &str, f: impl FnOnce(&mut Hearing)) {
        self.hearing.update(|h| {
            let at = match h.iter().position(|(u, _)| u == user) {
                Some(at) => at,
                None => {
                    h.push((user.to_owned(), Hearing::default()));
                    h.len() - 1
                }
            };
            f(&mut h[at].1)
        });
        if let Some(storage) = storage() {
            let _ = storage.set_item(
                HEARING_KEY,
                &self.hearing.with_untracked(|h| write_hearing(h)),
            );
        }
    }

    /// A microphone or camera was chosen (`""`: the browser's default); a device that is on
    /// switches at once.
    fn choose_device(&self, kind: Kind, id: String) {
        let (chosen, key) = match kind {
            Kind::Audio => (self.mic_device, MIC_KEY),
            Kind::Video => (self.cam_device, CAM_KEY),
        };
        if let Some(storage) = storage() {
            let _ = storage.set_item(key, &id);
        }
        chosen.set(Some(id).filter(|id| !id.is_empty()));
        self.with_engine(|e| e.switch_device(kind));
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The call beside the film: the toggles, what went wrong, the tiles, the options.
#[component]
pub fn CallSection(call: Call, names: HashMap<String, String>) -> impl IntoView {
    let i18n = use_i18n();
    let live = call.live;
    let names = StoredValue::new(names);
    let name_of = move |peer: &str| {
        live.name_of(names, signal::user_of(peer))
            .unwrap_or_else(|| t_string!(i18n, someone).to_string())
    };
    let off = move || call.available.get() == Some(false) || live.ended.get();
    let first_time =
        move || !call.told.get() && call.mic.get() == Toggle::Off && call.cam.get() == Toggle::Off;
    let others = Memo::new(move |_| call.tracks.with(|t| seats(t)));
    let shown_me = move || call.mic.get() != Toggle::Off || call.cam.get() != Toggle::Off;
    view! {
        <details class="call" open>
            <summary><h2>{t!(i18n, call)}</h2></summary>
            <div class="call-controls">
                <DeviceToggle call kind=Kind::Audio disabled=Signal::derive(off) />
                <DeviceToggle call kind=Kind::Video disabled=Signal::derive(off) />
                {move || call.sound_blocked.get().then(|| view! {
                    <button
                        type="button"
                        class="small primary"
                        on:click=move |_| {
                            call.sound_blocked.set(false);
                            call.replay.update(|n| *n += 1);
                        }
                    >
                        {t!(i18n, call_play_sound)}
                    </button>
                })}
            </div>
            {move || first_time().then(|| view! { <p class="muted" role="status">{t!(i18n, call_off_first)}</p> })}
            <ProblemLine call />
            <ul class="tiles">
                {move || shown_me().then(|| view! { <MyTile call /> })}
                <For each=move || others.get() key=|s| s.peer.clone() let:seat>
                    <Tile call seats=others peer=seat.peer.clone() name=name_of(&seat.peer) />
                </For>
            </ul>
            {move || (call.available.get() == Some(true) && others.with(|o| o.is_empty()) && !shown_me())
                .then(|| view! { <p class="muted">{t!(i18n, call_nobody)}</p> })}
            <div class="call-options">
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || call.duck_on.get()
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            call.duck_on.set(on);
                            if let Some(s) = storage() {
                                let _ = s.set_item(DUCK_KEY, if on { "1" } else { "0" });
                            }
                        }
                    />
                    {t!(i18n, call_duck)}
                </label>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || call.push_to_talk.get()
                        on:change=move |e| call.set_push_to_talk(event_target_checked(&e))
                    />
                    {t!(i18n, call_ptt)}
                </label>
                <DeviceSelect call kind=Kind::Audio />
                <DeviceSelect call kind=Kind::Video />
            </div>
        </details>
    }
}

/// "Microphone" or "Camera", pressed while on.
#[component]
fn DeviceToggle(call: Call, kind: Kind, disabled: Signal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let state = match kind {
        Kind::Audio => call.mic,
        Kind::Video => call.cam,
    };
    let icon = move || match (kind, state.get() == Toggle::Off) {
        (Kind::Audio, false) => Icon::Mic,
        (Kind::Audio, true) => Icon::MicOff,
        (Kind::Video, false) => Icon::Camera,
        (Kind::Video, true) => Icon::CameraOff,
    };
    view! {
        <button
            type="button"
            class="device"
            aria-pressed=move || if state.get() == Toggle::On { "true" } else { "false" }
            aria-busy=move || (state.get() == Toggle::Asking).then_some("true")
            disabled=disabled
            on:click=move |_| call.toggle(kind)
        >
            <IconSvg icon=Signal::derive(icon) />
            " "
            {match kind {
                Kind::Audio => t!(i18n, call_microphone).into_any(),
                Kind::Video => t!(i18n, call_camera).into_any(),
            }}
        </button>
    }
}

/// "Microphone" or "Camera": which of the browser's devices (shown once it has some).
#[component]
fn DeviceSelect(call: Call, kind: Kind) -> impl IntoView {
    let i18n = use_i18n();
    let chosen = match kind {
        Kind::Audio => call.mic_device,
        Kind::Video => call.cam_device,
    };
    let word = move || match kind {
        Kind::Audio => t_string!(i18n, call_microphone).to_string(),
        Kind::Video => t_string!(i18n, call_camera).to_string(),
    };
    let mine = Memo::new(move |_| {
        call.devices.with(|d| {
            d.iter()
                .filter(|d| d.kind == kind)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    move || {
        let devices = mine.get();
        (!devices.is_empty()).then(|| {
            let selected = chosen.get_untracked().unwrap_or_default();
            let count = devices.len();
            let options = devices
                .into_iter()
                .enumerate()
                .map(|(n, d)| {
                    let label = if d.label.is_empty() {
                        format!("{} {}", word(), n + 1)
                    } else {
                        d.label
                    };
                    let is = d.id == selected;
                    view! { <option value=d.id selected=is>{label}</option> }
                })
                .collect_view();
            view! {
                <label class="device-choice">
                    {word()}
                    <select
                        data-count=count
                        on:change=move |e| call.choose_device(kind, event_target_value(&e))
                    >
                        <option value="" selected=selected.is_empty()>{t!(i18n, call_device_default)}</option>
                        {options}
                    </select>
                </label>
            }
        })
    }
}

/// What went wrong last, as a sentence.
#[component]
fn ProblemLine(call: Call) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        call.problem.get().map(|problem| {
            let text = match problem {
                Problem::Refused(Kind::Audio) => t_string!(i18n, call_mic_refused).to_string(),
                Problem::Refused(Kind::Video) => t_string!(i18n, call_cam_refused).to_string(),
                Problem::Missing(Kind::Audio) => t_string!(i18n, call_mic_missing).to_string(),
                Problem::Missing(Kind::Video) => t_string!(i18n, call_cam_missing).to_string(),
                Problem::Failed(Kind::Audio) => t_string!(i18n, call_mic_failed).to_string(),
                Problem::Failed(Kind::Video) => t_string!(i18n, call_cam_failed).to_string(),
                Problem::NoConnection => t_string!(i18n, call_no_connection).to_string(),
                Problem::Unreachable => t_string!(i18n, call_unreachable).to_string(),
                Problem::CallsOff => t_string!(i18n, call_off_here).to_string(),
                Problem::Server(message) => {
                    t_string!(i18n, call_error, message = message).to_string()
                }
            };
            view! { <p class="notice" role="alert">{text}</p> }
        })
    }
}

/// The mic-off mark of a tile.
#[component]
fn MicOffMark() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <span class="mic-off" role="img" aria-label=move || t_string!(i18n, call_mic_off).to_string()>
            <IconSvg icon=Icon::MicOff />
        </span>
    }
}

/// This browser's own tile: its camera (muted, mirrored) and whether its microphone is on.
#[component]
fn MyTile(call: Call) -> impl IntoView {
    let i18n = use_i18n();
    let video = NodeRef::<Video>::new();
    let speaking = move || {
        call.me.with(|me| {
            me.as_ref()
                .is_some_and(|me| call.speaking.with(|s| s.contains(me)))
        })
    };
    Effect::new(move |_| {
        let on = call.cam.get() == Toggle::On;
        if let Some(el) = video.get() {
            let stream = if on {
                call.with_engine(|e| e.own_video()).flatten()
            } else {
                None
            };
            el.set_src_object(stream.as_ref());
        }
    });
    view! {
        <li class="tile mine" class:speaking=speaking>
            <figure>
                {move || (call.cam.get() == Toggle::On).then(|| view! {
                    <video node_ref=video autoplay=true playsinline=true muted=true></video>
                })}
                <figcaption>
                    {move || (call.mic.get() != Toggle::On).then(|| view! { <MicOffMark /> })}
                    {t!(i18n, call_you)}
                </figcaption>
            </figure>
        </li>
    }
}

/// Someone else's tile: their video if it reaches us, their name, whether they talk, and how
/// they sound here. Their voice plays from a hidden `<audio>` (it plays with the video off).
#[component]
fn Tile(call: Call, seats: Memo<Vec<Seat>>, peer: String, name: String) -> impl IntoView {
    let i18n = use_i18n();
    let user = StoredValue::new(signal::user_of(&peer).to_owned());
    let peer = StoredValue::new(peer);
    let seat =
        move || peer.with_value(|p| seats.with(|s| s.iter().find(|s| &s.peer == p).cloned()));
    let shows_video = move || seat().is_some_and(|s| s.video);
    let speaks = move || seat().is_some_and(|s| s.speaks);
    let audio = NodeRef::<Audio>::new();
    let video = NodeRef::<Video>::new();
    let speaking = move || peer.with_value(|p| call.speaking.with(|s| s.contains(p)));
    let stream = move |kind: Kind| {
        call.streams.track();
        peer.with_value(|p| call.with_engine(|e| e.stream_of(p, kind)).flatten())
    };
    let hearing = move || user.with_value(|u| call.hearing_of(u));
    Effect::new(move |_| {
        call.replay.track();
        let stream = stream(Kind::Audio);
        let Some(el) = audio.get() else { return };
        if el.src_object() != stream {
            el.set_src_object(stream.as_ref());
        }
        let h = hearing();
        el.set_muted(h.muted);
        el.set_volume(h.volume.clamp(0.0, 1.0));
        if stream.is_some() && el.paused() {
            if let Ok(promise) = el.play() {
                let blocked = call.sound_blocked;
                leptos::task::spawn_local(async move {
                    if wasm_bindgen_futures::JsFuture::from(promise).await.is_err() {
                        blocked.set(true);
                    }
                });
            }
        }
    });
    Effect::new(move |_| {
        let stream = stream(Kind::Video);
        if let Some(el) = video.get() {
            if el.src_object() != stream {
                el.set_src_object(stream.as_ref());
            }
        }
    });
    let shown_name = name.clone();
    let volume_label = move || t_string!(i18n, call_volume_of, name = name.clone()).to_string();
    view! {
        <li class="tile" class:speaking=speaking>
            <figure>
                {move || shows_video().then(|| view! {
                    <video node_ref=video autoplay=true playsinline=true muted=true></video>
                })}
                <figcaption>
                    {move || (!speaks()).then(|| view! { <MicOffMark /> })}
                    {shown_name}
                </figcaption>
            </figure>
            <audio node_ref=audio autoplay=true></audio>
            <div class="tile-controls">
                <button
                    type="button"
                    class="small"
                    aria-pressed=move || if hearing().muted { "true" } else { "false" }
                    on:click=move |_| user.with_value(|u| call.set_hearing(u, |h| h.muted = !h.muted))
                >
                    {t!(i18n, call_mute_for_me)}
                </button>
                <input
                    type="range"
                    class="volume"
                    min="0"
                    max="1"
                    step="0.05"
                    aria-label=volume_label
                    prop:value=move || hearing().volume
                    on:input=move |e| {
                        if let Ok(v) = event_target_value(&e).parse::<f64>() {
                            user.with_value(|u| call.set_hearing(u, |h| h.volume = v.clamp(0.0, 1.0)));
                        }
                    }
                />
            </div>
        </li>
    }
}

/// The first wait before joining the call again after the media server let this seat go.
pub const REJOIN_FIRST: std::time::Duration = std::time::Duration::from_secs(3);
/// The longest wait between attempts.
pub const REJOIN_MOST: std::time::Duration = std::time::Duration::from_secs(300);
/// A seat that lasted this long was working: the next loss starts the waits afresh.
const SEAT_WORKED: std::time::Duration = std::time::Duration::from_secs(60);

/// How long to wait before joining again, when the seat just lost lasted `seat_lasted` and the
/// wait before it was `previous`: a seat that worked for a while is retaken after a few seconds;
/// one that never worked (the media server's address cannot be reached from here, so it drops
/// the seat after its ICE timeout) is retried ever more rarely, doubling up to five minutes.
pub fn rejoin_delay(
    previous: Option<std::time::Duration>,
    seat_lasted: std::time::Duration,
) -> std::time::Duration {
    match previous {
        Some(previous) if seat_lasted < SEAT_WORKED => (previous * 2).min(REJOIN_MOST),
        _ => REJOIN_FIRST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(peer: &str, kind: Kind, muted: bool, forwarded: bool) -> TrackInfo {
        TrackInfo {
            peer: peer.into(),
            kind,
            muted,
            forwarded,
            mid: None,
        }
    }

    #[test]
    fn a_seat_per_person_with_what_reaches_us() {
        let tracks = [
            track("a~1", Kind::Audio, false, true),
            track("a~1", Kind::Video, false, true),
            track("b~2", Kind::Audio, true, false),
            track("b~2", Kind::Video, false, false),
            track("c~3", Kind::Video, true, false),
        ];
        assert_eq!(
            seats(&tracks),
            vec![
                Seat {
                    peer: "a~1".into(),
                    speaks: true,
                    video: true
                },
                // Outside the cameras forwarded to us: a name only.
                Seat {
                    peer: "b~2".into(),
                    speaks: false,
                    video: false
                },
                Seat {
                    peer: "c~3".into(),
                    speaks: false,
                    video: false
                },
            ]
        );
    }

    #[test]
    fn how_each_person_sounds_is_kept_and_read_back() {
        let hearing = vec![
            (
                "u1".to_owned(),
                Hearing {
                    muted: false,
                    volume: 0.35,
                },
            ),
            ("u2".to_owned(), Hearing::default()),
            (
                "u3".to_owned(),
                Hearing {
                    muted: true,
                    volume: 1.0,
                },
            ),
        ];
        let text = write_hearing(&hearing);
        // The default needs no line.
        assert_eq!(text, "u1\t0.35\t0\nu3\t1\t1\n");
        assert_eq!(
            read_hearing(&text),
            vec![hearing[0].clone(), hearing[2].clone()]
        );
        // Whatever else is in the browser's storage is dropped, and volumes stay in 0..=1.
        assert_eq!(
            read_hearing("garbage\n\t1\t0\nu4\tNaN\t0\nu5\t7\t0\nu6\t0.5"),
            vec![(
                "u5".to_owned(),
                Hearing {
                    muted: false,
                    volume: 1.0
                }
            )]
        );
    }

    #[test]
    fn a_seat_that_never_works_is_retried_ever_more_rarely() {
        use std::time::Duration;
        let dropped_quickly = Duration::from_secs(33);
        let mut wait = rejoin_delay(None, dropped_quickly);
        assert_eq!(wait, REJOIN_FIRST);
        let mut waits = vec![wait];
        for _ in 0..8 {
            wait = rejoin_delay(Some(wait), dropped_quickly);
            waits.push(wait);
        }
        assert_eq!(waits[1], Duration::from_secs(6));
        assert_eq!(waits[4], Duration::from_secs(48));
        assert_eq!(*waits.last().unwrap(), REJOIN_MOST);
        // A seat that worked for minutes is retaken at once when it goes.
        assert_eq!(
            rejoin_delay(Some(REJOIN_MOST), Duration::from_secs(600)),
            REJOIN_FIRST
        );
    }
}
