//! The room's shared player, driven by the room channel ([`Live`]).
//!
//! The player has Kino's own controls: a press sends an intent, the server orders it, and every
//! browser — this one included — applies the state that comes back. Several times a second the
//! drift loop ([`Steering::tick`]) compares the `<video>` with where the room says it should be
//! and nudges its speed or seeks ([`crate::sync::correct`]).

use super::live::{now, Link, Live};
use super::protocol::{ClientMsg, REACTIONS};
use crate::catalog::{Rendition, SubtitleTrack};
use crate::dates::clock;
use crate::i18n::*;
use crate::icons::{Icon, IconSvg};
use crate::playback::previews::{load_previews, PreviewCue, SeekBar};
use crate::playback::quality::{Quality, QualityMenu};
use crate::playback::{SubtitlePicker, SubtitleTracks};
use crate::sync::{correct, Correction, Playback, Tuning};
use leptos::html::{Div, Video};
use leptos::prelude::*;
use std::time::Duration;

/// How often the drift loop looks.
const DRIFT_EVERY: Duration = Duration::from_millis(100);
/// A stall shorter than this (an ordinary seek) is not reported.
const STALL_REPORT_AFTER: Duration = Duration::from_millis(600);
/// Keyboard steps, in ms.
const SMALL_STEP: f64 = 5_000.0;
const BIG_STEP: f64 = 10_000.0;
/// `HTMLMediaElement.readyState` values.
const HAVE_METADATA: u16 = 1;
const HAVE_FUTURE_DATA: u16 = 3;

/// The video the whole room watches, with Kino's controls and the reactions floating over it.
#[component]
pub fn SyncPlayer(
    live: Live,
    renditions: Vec<Rendition>,
    subtitles: Vec<SubtitleTrack>,
    previews: Option<String>,
    poster: String,
    /// The share of the chosen volume the film plays at (lowered while people in the call talk).
    #[prop(into)]
    gain: Signal<f64>,
    /// The video's (signed) URLs stopped working: the room fetches fresh ones, and the player
    /// comes back with them where the room is.
    on_expired: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    let steer = Steering::new(live);
    // Each person's own quality; a switch lands where the room is (the drift loop sees to it).
    let quality = Quality::new(renditions);
    quality.attach(steer.video);
    quality.drive(steer.video, |_, _| {});
    let expired_once = StoredValue::new(false);
    let on_error = move |_| {
        let Some(v) = steer.video.get_untracked() else {
            return;
        };
        // A network error or a refused source on a signed URL: most likely it expired.
        let signed = v.current_src().contains("/media/private/");
        let network = v.error().is_some_and(|e| {
            e.code() == web_sys::MediaError::MEDIA_ERR_NETWORK
                || e.code() == web_sys::MediaError::MEDIA_ERR_SRC_NOT_SUPPORTED
        });
        if signed && network && !expired_once.get_value() {
            expired_once.set_value(true);
            on_expired.run(());
        }
    };
    let stage = NodeRef::<Div>::new();
    // What the element shows (seconds), for the controls.
    let shown = RwSignal::new(0.0f64);
    let stall = Stall::new(live, steer.video);
    let preview_cues = RwSignal::new(Vec::new());
    load_previews(previews, preview_cues);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || steer.tick(), DRIFT_EVERY) {
            on_cleanup(move || handle.clear());
        }
    });
    listen_to_keys(steer);
    // A reconnect forgets who was stalled: say it again.
    Effect::new(move |_| {
        if live.link.get() == Link::Open && stall.stalled.get_value() {
            live.buffering(true);
        }
    });
    let refresh_time = move || {
        if let Some(v) = steer.video.get_untracked() {
            shown.set(v.current_time());
        }
    };
    let waiting_for = move || {
        if !live.holding.get() {
            return None;
        }
        let names: Vec<String> = live.present.with(|p| {
            p.iter()
                .filter(|p| p.buffering)
                .map(|p| p.name.clone())
                .collect()
        });
        (!names.is_empty()).then(|| names.join(", "))
    };
    view! {
        <div class="player" node_ref=stage>
            <video
                class="room-video"
                node_ref=steer.video
                preload="auto"
                playsinline=true
                poster=poster
                on:loadedmetadata=move |_| steer.note_duration()
                on:durationchange=move |_| steer.note_duration()
                on:timeupdate=move |_| refresh_time()
                on:seeked=move |_| {
                    steer.seeked();
                    refresh_time();
                }
                on:waiting=move |_| {
                    stall.waiting();
                    if steer.video.get_untracked().is_some_and(|v| !v.seeking()) {
                        quality.stalled();
                    }
                }
                on:error=on_error
                on:playing=move |_| stall.ready()
                on:canplay=move |_| stall.ready()
                on:click=move |_| if live.may_control() { steer.toggle() }
            >
                <SubtitleTracks tracks=subtitles.clone() />
            </video>
            <div class="floating" aria-hidden="true">
                <For each=move || live.floating.get() key=|f| f.id let:f>
                    <span class="float" style=format!("left: {}%", f.left)>{f.emoji}</span>
                </For>
            </div>
            {move || waiting_for().map(|names| view! {
                <p class="player-banner" role="status">{t!(i18n, waiting_for, names = move || names.clone())}</p>
            })}
            {move || steer.blocked.get().then(|| view! {
                <button type="button" class="player-start" on:click=move |_| steer.start_here()>
                    {t!(i18n, start_watching)}
                </button>
            })}
            <PlayerControls steer shown stage previews=preview_cues gain />
            <div class="player-options">
                <QualityMenu quality id="room-quality" />
                <SubtitlePicker video=steer.video tracks=subtitles />
            </div>
            <Reactions steer />
        </div>
    }
}

/// What steers this browser's `<video>` toward where the room says it should be, and turns a
/// press into an intent for the room. `Copy`, like the signals it holds.
#[derive(Clone, Copy)]
struct Steering {
    live: Live,
    video: NodeRef<Video>,
    duration: RwSignal<f64>,
    /// The browser refused to start playback without a click here.
    blocked: RwSignal<bool>,
    /// How long a seek takes here (ms): a seek while playing aims that far ahead.
    seek_lead: StoredValue<f64>,
    seek_started: StoredValue<Option<f64>>,
    play_requested: StoredValue<f64>,
    /// This browser has told the room that the film reached its end.
    end_reported: StoredValue<bool>,
}

impl Steering {
    fn new(live: Live) -> Self {
        Self {
            live,
            video: NodeRef::new(),
            duration: RwSignal::new(0.0),
            blocked: RwSignal::new(false),
            seek_lead: StoredValue::new(0.0),
            seek_started: StoredValue::new(None),
            play_requested: StoredValue::new(0.0),
            end_reported: StoredValue::new(false),
        }
    }

    fn local_ms(self) -> f64 {
        self.video
            .get_untracked()
            .map_or(0.0, |v| v.current_time() * 1000.0)
    }

    fn duration_ms(self) -> Option<f64> {
        self.video.get_untracked().and_then(|v| {
            let d = v.duration();
            (d.is_finite() && d > 0.0).then_some(d * 1000.0)
        })
    }

    fn note_duration(self) {
        if let Some(d) = self.duration_ms() {
            self.duration.set(d / 1000.0);
        }
    }

    /// The drift loop's one look: hold or play as the room does, then correct the drift.
    fn tick(self) {
        let (Some(v), Some(state)) = (
            self.video.get_untracked(),
            self.live.playback.get_untracked(),
        ) else {
            return;
        };
        if v.ready_state() < HAVE_METADATA {
            return;
        }
        // The metadata may have loaded before hydration attached the listeners.
        if self.duration.get_untracked() == 0.0 {
            self.note_duration();
        }
        if !self.live.clock_ready() {
            return;
        }
        let server_now = self.live.server_now();
        let mut expected = state.expected(server_now);
        let at_end = self.duration_ms().is_some_and(|d| {
            expected = expected.min(d);
            expected >= d - 50.0
        });
        // A new film starts at the same instant everywhere: until then, wait at its start.
        let waiting = !state.paused && server_now < state.anchor;
        // At the end with something in the queue (now, or added later): the countdown to it.
        // Once per arrival at the end, so a cancelled countdown stays cancelled.
        let next_waits = self
            .live
            .queue
            .with_untracked(|q| q.next.is_none() && !q.entries.is_empty());
        if !at_end {
            self.end_reported.set_value(false);
        } else if !state.paused && next_waits && !self.end_reported.get_value() {
            self.end_reported.set_value(true);
            self.live.film_ended(self.duration_ms().unwrap_or_default());
        }
        let hold = state.paused || at_end || waiting;
        self.follow_play_state(&v, hold);
        // Mid-seek, or stalled while the room plays: nothing to steer until frames come.
        if v.seeking() || (!hold && v.ready_state() < HAVE_FUTURE_DATA) {
            return;
        }
        self.correct_drift(&v, state, expected, hold);
    }

    /// Pauses the element when the room holds; otherwise starts it (at most once a second, and
    /// not once the browser has refused to autoplay).
    fn follow_play_state(self, v: &web_sys::HtmlVideoElement, hold: bool) {
        if hold {
            if !v.paused() {
                let _ = v.pause();
            }
            return;
        }
        if v.paused()
            && !self.blocked.get_untracked()
            && now() - self.play_requested.get_value() > 1000.0
        {
            self.play_requested.set_value(now());
            if let Ok(promise) = v.play() {
                let blocked = self.blocked;
                leptos::task::spawn_local(async move {
                    if wasm_bindgen_futures::JsFuture::from(promise).await.is_err() {
                        // Autoplay with sound needs a click on this page first.
                        blocked.set(true);
                    }
                });
            }
        }
    }

    fn correct_drift(
        self,
        v: &web_sys::HtmlVideoElement,
        state: Playback,
        expected: f64,
        hold: bool,
    ) {
        let steer = Playback {
            paused: hold,
            ..state
        };
        match correct(
            &steer,
            expected,
            v.current_time() * 1000.0,
            &Tuning::default(),
        ) {
            Correction::Rate(rate) => {
                if (v.playback_rate() - rate).abs() > 1e-4 {
                    v.set_playback_rate(rate);
                }
            }
            Correction::Seek(position) => {
                let lead = if hold {
                    0.0
                } else {
                    self.seek_lead.get_value()
                };
                self.seek_started.set_value(Some(now()));
                v.set_playback_rate(state.rate);
                v.set_current_time((position + lead) / 1000.0);
            }
        }
    }

    /// A seek finished: learn how long seeks take here while playing.
    fn seeked(self) {
        if let (Some(started), Some(v)) =
            (self.seek_started.get_value(), self.video.get_untracked())
        {
            self.seek_started.set_value(None);
            if !v.paused() {
                let took = (now() - started).clamp(0.0, 2_000.0);
                self.seek_lead
                    .update_value(|lead| *lead = 0.5 * *lead + 0.5 * took);
            }
        }
    }

    /// "Start watching" after the browser refused to autoplay.
    fn start_here(self) {
        self.blocked.set(false);
        self.play_requested.set_value(0.0);
        if let Some(v) = self.video.get_untracked() {
            let _ = v.play();
        }
    }

    /// Is the room paused? Its state decides what the button does, not the local element.
    fn room_paused(self) -> bool {
        self.live.playback.get().is_none_or(|p| p.paused)
    }

    fn toggle(self) {
        let position = self.local_ms();
        if self.live.playback.get_untracked().is_none_or(|p| p.paused) {
            self.live.command(ClientMsg::Play { position });
        } else {
            self.live.command(ClientMsg::Pause { position });
        }
    }

    fn seek_to(self, position: f64) {
        let end = self.duration_ms().unwrap_or(f64::MAX);
        self.live.command(ClientMsg::Seek {
            position: position.clamp(0.0, end),
        });
    }

    fn step(self, by: f64) {
        let from = self.live.expected().unwrap_or_else(|| self.local_ms());
        self.seek_to(from + by);
    }
}

/// Stalls: reported after a moment (a seek's short wait is not one), cleared when playing.
#[derive(Clone, Copy)]
struct Stall {
    live: Live,
    video: NodeRef<Video>,
    stalled: StoredValue<bool>,
    timer: StoredValue<Option<TimeoutHandle>>,
}

impl Stall {
    fn new(live: Live, video: NodeRef<Video>) -> Self {
        Self {
            live,
            video,
            stalled: StoredValue::new(false),
            timer: StoredValue::new(None),
        }
    }

    fn waiting(self) {
        let report = move || {
            let Some(v) = self.video.get_untracked() else {
                return;
            };
            if v.ready_state() < HAVE_FUTURE_DATA && !self.stalled.get_value() {
                self.stalled.set_value(true);
                self.live.buffering(true);
            }
        };
        if let Ok(handle) = set_timeout_with_handle(report, STALL_REPORT_AFTER) {
            if let Some(Some(old)) = self.timer.try_get_value() {
                old.clear();
            }
            self.timer.set_value(Some(handle));
        }
    }

    fn ready(self) {
        if let Some(Some(timer)) = self.timer.try_get_value() {
            timer.clear();
        }
        if self.stalled.get_value() {
            self.stalled.set_value(false);
            self.live.buffering(false);
        }
    }
}

/// The player's keys: Space/K play and pause, ←/→ five seconds, J/L ten (and the same keys on a
/// Russian layout), unless a text field has the focus.
fn listen_to_keys(steer: Steering) {
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |e| {
            if e.ctrl_key() || e.meta_key() || e.alt_key() || typing(&e) {
                return;
            }
            // A focused button acts on Space itself (a second toggle here would undo it).
            if e.key() == " " && focused_button(&e) {
                return;
            }
            let step = match e.key().as_str() {
                " " | "k" | "K" | "л" | "Л" => None,
                "ArrowLeft" => Some(-SMALL_STEP),
                "ArrowRight" => Some(SMALL_STEP),
                "j" | "J" | "о" | "О" => Some(-BIG_STEP),
                "l" | "L" | "д" | "Д" => Some(BIG_STEP),
                _ => return,
            };
            e.prevent_default();
            if steer.live.may_control() {
                match step {
                    Some(by) => steer.step(by),
                    None => steer.toggle(),
                }
            }
        });
        on_cleanup(move || handle.remove());
    });
}

/// Play/pause, the seek bar and the time, sound, full screen.
#[component]
fn PlayerControls(
    steer: Steering,
    shown: RwSignal<f64>,
    stage: NodeRef<Div>,
    previews: RwSignal<Vec<PreviewCue>>,
    gain: Signal<f64>,
) -> impl IntoView {
    let i18n = use_i18n();
    let live = steer.live;
    let duration = steer.duration;
    let scrubbing = RwSignal::new(None::<f64>);
    let muted = RwSignal::new(false);
    let volume = RwSignal::new(1.0f64);
    // Volume is each person's own, and remembered.
    Effect::new(move |_| {
        if let Some(saved) = storage()
            .and_then(|s| s.get_item("kino.volume").ok().flatten())
            .and_then(|v| v.parse::<f64>().ok())
        {
            volume.set(saved.clamp(0.0, 1.0));
        }
    });
    Effect::new(move |_| {
        if let Some(v) = steer.video.get() {
            v.set_volume((volume.get() * gain.get()).clamp(0.0, 1.0));
            v.set_muted(muted.get());
        }
    });
    let position_text = move || {
        let at = scrubbing.get().unwrap_or_else(|| shown.get());
        format!(
            "{} / {}",
            clock((at * 1000.0) as i64),
            clock((duration.get() * 1000.0) as i64)
        )
    };
    let controls_off = move || !live.may_control();
    let locked_hint =
        move || controls_off().then(|| t_string!(i18n, controls_locked_hint).to_string());
    view! {
        <div class="player-controls">
            <button
                type="button"
                class="play"
                aria-label=move || if steer.room_paused() { t_string!(i18n, play).to_string() } else { t_string!(i18n, pause).to_string() }
                title=locked_hint
                disabled=controls_off
                on:click=move |_| steer.toggle()
            >
                <IconSvg icon=Signal::derive(move || if steer.room_paused() { Icon::Play } else { Icon::Pause }) />
            </button>
            <div class="seek-box">
                <SeekBar
                    cues=previews
                    time=shown
                    duration=duration
                    scrubbing
                    on_seek=Callback::new(move |at: f64| steer.seek_to(at * 1000.0))
                    disabled=Signal::derive(controls_off)
                    title=Signal::derive(locked_hint)
                />
            </div>
            <span class="time" aria-live="off">{position_text}</span>
            <button
                type="button"
                class="mute"
                aria-label=move || if muted.get() { t_string!(i18n, unmute).to_string() } else { t_string!(i18n, mute).to_string() }
                on:click=move |_| muted.update(|m| *m = !*m)
            >
                <IconSvg icon=Signal::derive(move || if muted.get() { Icon::VolumeOff } else { Icon::VolumeOn }) />
            </button>
            <input
                type="range"
                class="volume"
                aria-label=move || t_string!(i18n, volume).to_string()
                min="0"
                max="1"
                step="0.05"
                prop:value=move || volume.get()
                on:input=move |e| {
                    if let Ok(v) = event_target_value(&e).parse::<f64>() {
                        volume.set(v.clamp(0.0, 1.0));
                        muted.set(false);
                        if let Some(s) = storage() { let _ = s.set_item("kino.volume", &v.to_string()); }
                    }
                }
            />
            <button
                type="button"
                class="fullscreen"
                aria-label=move || t_string!(i18n, full_screen).to_string()
                on:click=move |_| {
                    // The whole room goes full screen (chat, people and faces float over the
                    // film), or the player alone where it is on a page of its own.
                    if document().fullscreen_element().is_some() {
                        document().exit_fullscreen();
                    } else if let Some(el) = stage.get_untracked() {
                        let whole = el.closest(".room-grid").ok().flatten();
                        let _ = match whole {
                            Some(room) => room.request_fullscreen(),
                            None => el.request_fullscreen(),
                        };
                    }
                }
            >
                <IconSvg icon=Icon::Fullscreen />
            </button>
        </div>
    }
}

/// The reaction buttons under the player: each floats over everyone's video.
#[component]
fn Reactions(steer: Steering) -> impl IntoView {
    let i18n = use_i18n();
    let live = steer.live;
    view! {
        <div class="reactions" role="group" aria-label=move || t_string!(i18n, reactions).to_string()>
            {REACTIONS.iter().map(|emoji| {
                let emoji = *emoji;
                view! {
                    <button
                        type="button"
                        class="reaction"
                        aria-label=move || t_string!(i18n, react_with, emoji = emoji).to_string()
                        disabled=move || live.ended.get()
                        on:click=move |_| live.react(emoji, steer.local_ms())
                    >
                        {emoji}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn focused_button(e: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| el.tag_name() == "BUTTON")
}

/// Is the keypress meant for a text field rather than the player?
fn typing(e: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    let Some(target) = e
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return false;
    };
    matches!(target.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        || target.has_attribute("contenteditable")
}
