//! The room's shared player and its chat, both driven by the room channel ([`Live`]).
//!
//! The player has Kino's own controls: a press sends an intent, the server orders it, and every
//! browser — this one included — applies the state that comes back. Several times a second the
//! drift loop compares the `<video>` with where the room says it should be and nudges its speed
//! or seeks ([`crate::sync::correct`]).

use super::domain::{linkify, Piece};
use super::live::{now, Link, Live};
use super::protocol::{ClientMsg, EventKind, ProtoError, RoomEvent, CHAT_MAX_CHARS, REACTIONS};
use crate::catalog::Rendition;
use crate::i18n::*;
use crate::playback::domain::clock;
use crate::sync::{correct, Correction, Playback, Tuning};
use leptos::prelude::*;
use std::collections::HashMap;
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
pub fn SyncPlayer(live: Live, renditions: Vec<Rendition>, poster: String) -> impl IntoView {
    let i18n = use_i18n();
    let video = NodeRef::<leptos::html::Video>::new();
    let stage = NodeRef::<leptos::html::Div>::new();
    // What the element shows (seconds), for the controls.
    let shown = RwSignal::new(0.0f64);
    let duration = RwSignal::new(0.0f64);
    let scrubbing = RwSignal::new(None::<f64>);
    let local_paused = RwSignal::new(true);
    // The browser refused to start playback without a click here.
    let blocked = RwSignal::new(false);
    let muted = RwSignal::new(false);
    let volume = RwSignal::new(1.0f64);
    // How long a seek takes here (ms): a seek while playing aims that far ahead.
    let seek_lead = StoredValue::new(0.0f64);
    let seek_started = StoredValue::new(None::<f64>);
    let play_requested = StoredValue::new(0.0f64);
    let stalled = StoredValue::new(false);
    let stall_timer = StoredValue::new(None::<TimeoutHandle>);

    let local_ms = move || {
        video
            .get_untracked()
            .map_or(0.0, |v| v.current_time() * 1000.0)
    };
    let duration_ms = move || {
        video.get_untracked().and_then(|v| {
            let d = v.duration();
            (d.is_finite() && d > 0.0).then_some(d * 1000.0)
        })
    };

    // The drift loop.
    let tick = move || {
        let (Some(v), Some(state)) = (video.get_untracked(), live.playback.get_untracked()) else {
            return;
        };
        if v.ready_state() < HAVE_METADATA {
            return;
        }
        // The metadata may have loaded before hydration attached the listeners.
        if duration.get_untracked() == 0.0 {
            if let Some(d) = duration_ms() {
                duration.set(d / 1000.0);
            }
        }
        if !live.clock_ready() {
            return;
        }
        let mut expected = state.expected(live.server_now());
        let at_end = duration_ms().is_some_and(|d| {
            expected = expected.min(d);
            expected >= d - 50.0
        });
        let hold = state.paused || at_end;
        if hold {
            if !v.paused() {
                let _ = v.pause();
            }
        } else if v.paused()
            && !blocked.get_untracked()
            && now() - play_requested.get_value() > 1000.0
        {
            play_requested.set_value(now());
            if let Ok(promise) = v.play() {
                leptos::task::spawn_local(async move {
                    if wasm_bindgen_futures::JsFuture::from(promise).await.is_err() {
                        // Autoplay with sound needs a click on this page first.
                        blocked.set(true);
                    }
                });
            }
        }
        // Mid-seek, or stalled while the room plays: nothing to steer until frames come.
        if v.seeking() || (!hold && v.ready_state() < HAVE_FUTURE_DATA) {
            return;
        }
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
                let lead = if hold { 0.0 } else { seek_lead.get_value() };
                seek_started.set_value(Some(now()));
                v.set_playback_rate(state.rate);
                v.set_current_time((position + lead) / 1000.0);
            }
        }
    };
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(tick, DRIFT_EVERY) {
            on_cleanup(move || handle.clear());
        }
        // Volume is each person's own, and remembered.
        if let Some(saved) = storage()
            .and_then(|s| s.get_item("kino.volume").ok().flatten())
            .and_then(|v| v.parse::<f64>().ok())
        {
            volume.set(saved.clamp(0.0, 1.0));
        }
    });
    Effect::new(move |_| {
        if let Some(v) = video.get() {
            v.set_volume(volume.get());
            v.set_muted(muted.get());
        }
    });

    // Intents. The room's state decides what the button does, not the local element.
    let room_paused = move || live.playback.get().is_none_or(|p| p.paused);
    let toggle = move || {
        if live.playback.get_untracked().is_none_or(|p| p.paused) {
            live.command(ClientMsg::Play {
                position: local_ms(),
            });
        } else {
            live.command(ClientMsg::Pause {
                position: local_ms(),
            });
        }
    };
    let seek_to = move |position: f64| {
        let end = duration_ms().unwrap_or(f64::MAX);
        live.command(ClientMsg::Seek {
            position: position.clamp(0.0, end),
        });
    };
    let step = move |by: f64| {
        let from = live.expected().unwrap_or_else(local_ms);
        seek_to(from + by);
    };
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |e| {
            if e.ctrl_key() || e.meta_key() || e.alt_key() || typing(&e) {
                return;
            }
            // A focused button acts on Space itself (a second toggle here would undo it).
            if e.key() == " " && focused_button(&e) {
                return;
            }
            let act: Option<Box<dyn Fn()>> = match e.key().as_str() {
                " " | "k" | "K" | "л" | "Л" => Some(Box::new(toggle)),
                "ArrowLeft" => Some(Box::new(move || step(-SMALL_STEP))),
                "ArrowRight" => Some(Box::new(move || step(SMALL_STEP))),
                "j" | "J" | "о" | "О" => Some(Box::new(move || step(-BIG_STEP))),
                "l" | "L" | "д" | "Д" => Some(Box::new(move || step(BIG_STEP))),
                _ => None,
            };
            if let Some(act) = act {
                e.prevent_default();
                if live.may_control() {
                    act();
                }
            }
        });
        on_cleanup(move || handle.remove());
    });

    let refresh_time = move || {
        if let Some(v) = video.get_untracked() {
            shown.set(v.current_time());
        }
    };
    let on_time = move |_| refresh_time();
    let on_metadata = move |_| {
        if let Some(d) = duration_ms() {
            duration.set(d / 1000.0);
        }
    };
    let on_seeked = move |_| {
        if let (Some(started), Some(v)) = (seek_started.get_value(), video.get_untracked()) {
            seek_started.set_value(None);
            if !v.paused() {
                let took = (now() - started).clamp(0.0, 2_000.0);
                seek_lead.update_value(|lead| *lead = 0.5 * *lead + 0.5 * took);
            }
        }
        refresh_time();
    };
    // Stalls: reported after a moment (a seek's short wait is not one), cleared when playing.
    let on_waiting = move |_| {
        if let Ok(handle) = set_timeout_with_handle(
            move || {
                let Some(v) = video.get_untracked() else {
                    return;
                };
                if v.ready_state() < HAVE_FUTURE_DATA && !stalled.get_value() {
                    stalled.set_value(true);
                    live.buffering(true);
                }
            },
            STALL_REPORT_AFTER,
        ) {
            if let Some(Some(old)) = stall_timer.try_get_value() {
                old.clear();
            }
            stall_timer.set_value(Some(handle));
        }
    };
    let on_ready = move |_| {
        if let Some(Some(timer)) = stall_timer.try_get_value() {
            timer.clear();
        }
        if stalled.get_value() {
            stalled.set_value(false);
            live.buffering(false);
        }
    };
    // A reconnect forgets who was stalled: say it again.
    Effect::new(move |_| {
        if live.link.get() == Link::Open && stalled.get_value() {
            live.buffering(true);
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
    let controls_off = move || !live.may_control();
    let locked_hint =
        move || controls_off().then(|| t_string!(i18n, controls_locked_hint).to_string());

    view! {
        <div class="player" node_ref=stage>
            <video
                class="room-video"
                node_ref=video
                preload="auto"
                playsinline=true
                poster=poster
                on:loadedmetadata=on_metadata
                on:durationchange=on_metadata
                on:timeupdate=on_time
                on:seeked=on_seeked
                on:waiting=on_waiting
                on:playing=on_ready
                on:canplay=on_ready
                on:play=move |_| local_paused.set(false)
                on:pause=move |_| local_paused.set(true)
                on:click=move |_| if live.may_control() { toggle() }
            >
                {renditions.iter().map(|r| view! {
                    <source src=r.url.clone() type=format!("video/{}", r.container) />
                }).collect_view()}
            </video>
            <div class="floating" aria-hidden="true">
                <For each=move || live.floating.get() key=|f| f.id let:f>
                    <span class="float" style=format!("left: {}%", f.left)>{f.emoji}</span>
                </For>
            </div>
            {move || waiting_for().map(|names| view! {
                <p class="player-banner" role="status">{t!(i18n, waiting_for, names = move || names.clone())}</p>
            })}
            {move || blocked.get().then(|| view! {
                <button
                    type="button"
                    class="player-start"
                    on:click=move |_| {
                        blocked.set(false);
                        play_requested.set_value(0.0);
                        if let Some(v) = video.get_untracked() { let _ = v.play(); }
                    }
                >
                    {t!(i18n, start_watching)}
                </button>
            })}
            <div class="player-controls">
                <button
                    type="button"
                    class="play"
                    aria-label=move || if room_paused() { t_string!(i18n, play).to_string() } else { t_string!(i18n, pause).to_string() }
                    title=locked_hint
                    disabled=controls_off
                    on:click=move |_| toggle()
                >
                    {move || if room_paused() { "▶" } else { "⏸" }}
                </button>
                <input
                    type="range"
                    class="seek"
                    aria-label=move || t_string!(i18n, seek).to_string()
                    min="0"
                    step="0.1"
                    max=move || duration.get().max(0.1)
                    prop:value=move || scrubbing.get().unwrap_or_else(|| shown.get())
                    disabled=controls_off
                    on:input=move |e| scrubbing.set(event_target_value(&e).parse::<f64>().ok())
                    on:change=move |e| {
                        scrubbing.set(None);
                        if let Ok(at) = event_target_value(&e).parse::<f64>() {
                            seek_to(at * 1000.0);
                        }
                    }
                />
                <span class="time" aria-live="off">{position_text}</span>
                <button
                    type="button"
                    class="mute"
                    aria-label=move || if muted.get() { t_string!(i18n, unmute).to_string() } else { t_string!(i18n, mute).to_string() }
                    on:click=move |_| muted.update(|m| *m = !*m)
                >
                    {move || if muted.get() { "🔇" } else { "🔊" }}
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
                        if let Some(el) = stage.get_untracked() { let _ = el.request_fullscreen(); }
                    }
                >
                    "⛶"
                </button>
            </div>
            <div class="reactions" role="group" aria-label=move || t_string!(i18n, reactions).to_string()>
                {REACTIONS.iter().map(|emoji| {
                    let emoji = *emoji;
                    view! {
                        <button
                            type="button"
                            class="reaction"
                            aria-label=move || t_string!(i18n, react_with, emoji = emoji).to_string()
                            disabled=move || live.ended.get()
                            on:click=move |_| live.react(emoji, local_ms())
                        >
                            {emoji}
                        </button>
                    }
                }).collect_view()}
            </div>
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

/// The chat beside the player: the room's whole history (older pages on scroll), system lines
/// for what people did, reactions counted, and the box to write in.
#[component]
pub fn ChatPane(live: Live, names: HashMap<String, String>) -> impl IntoView {
    let i18n = use_i18n();
    let log = NodeRef::<leptos::html::Ol>::new();
    let draft = RwSignal::new(String::new());
    let too_long = move || draft.with(|d| d.trim().chars().count() > CHAT_MAX_CHARS);
    let names = StoredValue::new(names);
    // The members' names as the page shows them (told apart when two share one), then the name
    // of someone who joined after the page loaded.
    let name_of = move |user: &str| {
        names
            .with_value(|n| n.get(user).cloned())
            .or_else(|| {
                live.present
                    .with_untracked(|p| p.iter().find(|p| p.user == user).map(|p| p.name.clone()))
            })
            .unwrap_or_else(|| t_string!(i18n, someone).to_string())
    };

    let lines = Memo::new(move |_| {
        live.events.with(|events| {
            events
                .iter()
                .filter(|e| !matches!(e.kind, EventKind::React { .. }))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let reaction_counts = move || {
        let mut counts: Vec<(&'static str, usize)> = REACTIONS.iter().map(|r| (*r, 0)).collect();
        live.events.with(|events| {
            for e in events {
                if let EventKind::React { emoji, .. } = &e.kind {
                    if let Some(c) = counts.iter_mut().find(|(r, _)| r == emoji) {
                        c.1 += 1;
                    }
                }
            }
        });
        counts.retain(|(_, n)| *n > 0);
        counts
    };

    // Follow the conversation when something new arrives (not when older pages come in),
    // unless the reader has scrolled up.
    Effect::new(move |previous: Option<(Option<i64>, usize)>| {
        let newest = (
            lines.with(|l| l.last().map(|e| e.seq)),
            live.pending.with(|p| p.len()),
        );
        if previous != Some(newest) {
            if let Some(log) = log.get_untracked() {
                let near_bottom =
                    log.scroll_height() - log.scroll_top() - log.client_height() < 160;
                if near_bottom || previous.is_none() || previous.is_some_and(|p| p.0.is_none()) {
                    request_animation_frame(move || log.set_scroll_top(log.scroll_height()));
                }
            }
        }
        newest
    });
    let on_scroll = move |_| {
        if let Some(log) = log.get_untracked() {
            if log.scroll_top() < 40 {
                live.load_older();
            }
        }
    };
    let jump = move |position: f64| {
        if live.may_control() {
            live.command(ClientMsg::Seek { position });
        } else {
            live.notice
                .set(Some((u64::MAX, ProtoError::ControlsLocked)));
        }
    };
    let send = move || {
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() || too_long() || live.ended.get_untracked() {
            return;
        }
        let position = live.expected().unwrap_or(0.0);
        live.say(text, position);
        draft.set(String::new());
    };

    let line = move |event: RoomEvent| {
        let who = event
            .user
            .as_deref()
            .map(|u| event.name.clone().unwrap_or_else(|| name_of(u)))
            .unwrap_or_default();
        let at = |ms: f64| clock(ms as i64);
        let system = |text: String| view! { <li class="sys">{text}</li> }.into_any();
        match event.kind {
            EventKind::Chat { text, position, .. } => view! {
                <li class="msg">
                    <span class="msg-head">
                        <strong>{who}</strong>
                        <button
                            type="button"
                            class="at"
                            aria-label=move || t_string!(i18n, jump_to, time = at(position)).to_string()
                            on:click=move |_| jump(position)
                        >
                            {at(position)}
                        </button>
                    </span>
                    <span class="msg-text"><MessageText text /></span>
                </li>
            }
            .into_any(),
            EventKind::Join => system(t_string!(i18n, sys_joined, name = who).to_string()),
            EventKind::Leave => system(t_string!(i18n, sys_left, name = who).to_string()),
            EventKind::Play { position } => {
                system(t_string!(i18n, sys_played, name = who, time = at(position)).to_string())
            }
            EventKind::Pause { position } => {
                system(t_string!(i18n, sys_paused, name = who, time = at(position)).to_string())
            }
            EventKind::Seek { to, .. } => {
                system(t_string!(i18n, sys_jumped, name = who, time = at(to)).to_string())
            }
            EventKind::Rate { rate } => {
                system(t_string!(i18n, sys_rate, name = who, rate = rate).to_string())
            }
            EventKind::Rename { name } => {
                system(t_string!(i18n, sys_renamed, name = who, title = name).to_string())
            }
            EventKind::Controls { locked: true } => {
                system(t_string!(i18n, sys_locked, name = who).to_string())
            }
            EventKind::Controls { locked: false } => {
                system(t_string!(i18n, sys_unlocked, name = who).to_string())
            }
            EventKind::Remove { user } => system(
                t_string!(i18n, sys_removed, name = who, who = name_of(&user)).to_string(),
            ),
            EventKind::End => system(t_string!(i18n, sys_ended).to_string()),
            EventKind::Hold { position } => {
                system(t_string!(i18n, sys_waiting, name = who, time = at(position)).to_string())
            }
            EventKind::Resume {
                position,
                timed_out: false,
            } => system(t_string!(i18n, sys_resumed, time = at(position)).to_string()),
            EventKind::Resume {
                position,
                timed_out: true,
            } => system(t_string!(i18n, sys_resumed_without, time = at(position)).to_string()),
            EventKind::React { .. } => ().into_any(),
        }
    };

    let notice = move || {
        live.notice.get().map(|(_, error)| {
            let text = match error {
                ProtoError::RateLimited => t_string!(i18n, chat_too_fast).to_string(),
                ProtoError::ControlsLocked => t_string!(i18n, controls_locked_hint).to_string(),
                ProtoError::RoomEnded => t_string!(i18n, chat_read_only).to_string(),
                ProtoError::ChatLength => t_string!(i18n, chat_length).to_string(),
                _ => t_string!(i18n, channel_refused).to_string(),
            };
            view! { <p class="notice" role="alert">{text}</p> }
        })
    };
    let link_state = move || match live.link.get() {
        Link::Open => None,
        Link::Connecting => Some(t_string!(i18n, connecting).to_string()),
        Link::Reconnecting => Some(t_string!(i18n, reconnecting).to_string()),
        Link::Removed => Some(t_string!(i18n, room_removed).to_string()),
    };

    view! {
        <div class="chat">
            {move || link_state().map(|text| view! { <p class="link-state" role="status">{text}</p> })}
            {move || {
                let counts = reaction_counts();
                (!counts.is_empty()).then(|| view! {
                    <p class="reaction-counts" aria-label=move || t_string!(i18n, reactions).to_string()>
                        {counts.into_iter().map(|(emoji, n)| view! {
                            <span class="count">{emoji} " " {n}</span>
                        }).collect_view()}
                    </p>
                })
            }}
            {move || live.more.get().then(|| view! {
                <button type="button" class="small older" on:click=move |_| live.load_older()>
                    {t!(i18n, earlier_messages)}
                </button>
            })}
            <ol class="chat-log" node_ref=log on:scroll=on_scroll aria-live="polite">
                <For each=move || lines.get() key=|e| e.seq children=move |e| line(e) />
                <For each=move || live.pending.get() key=|p| p.id.clone() let:p>
                    <li class="msg pending">
                        <span class="msg-head">
                            <strong>{t!(i18n, you)}</strong>
                            <span class="muted">{t!(i18n, sending)}</span>
                        </span>
                        <span class="msg-text"><MessageText text=p.text /></span>
                    </li>
                </For>
            </ol>
            {notice}
            <form
                class="chat-form"
                on:submit=move |e| {
                    e.prevent_default();
                    send();
                }
            >
                <label class="sr-only" for="chat-input">{t!(i18n, message)}</label>
                <input
                    id="chat-input"
                    type="text"
                    autocomplete="off"
                    maxlength=CHAT_MAX_CHARS.to_string()
                    placeholder=move || t_string!(i18n, message).to_string()
                    prop:value=move || draft.get()
                    disabled=move || live.ended.get()
                    on:input=move |e| draft.set(event_target_value(&e))
                />
                <button
                    type="submit"
                    disabled=move || live.ended.get() || too_long() || draft.with(|d| d.trim().is_empty())
                >
                    {t!(i18n, send)}
                </button>
            </form>
            {move || too_long().then(|| view! { <p class="error">{t!(i18n, chat_length)}</p> })}
            {move || live.ended.get().then(|| view! { <p class="muted">{t!(i18n, chat_read_only)}</p> })}
        </div>
    }
}

/// A message as text, with its web links clickable (and nothing else ever markup).
#[component]
fn MessageText(text: String) -> impl IntoView {
    linkify(&text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.into_any(),
            Piece::Link(url) => view! {
                <a href=url.clone() target="_blank" rel="noopener noreferrer nofollow ugc">{url.clone()}</a>
            }
            .into_any(),
        })
        .collect_view()
}
