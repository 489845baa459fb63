//! The chat beside the player: the room's whole history (older pages on scroll), system lines
//! for what people did, reactions counted, and the box to write in — driven by the room channel
//! ([`Live`]).

use super::domain::{linkify, Piece};
use super::live::{Link, Live, Refusal};
use super::protocol::{ClientMsg, EventKind, ProtoError, RoomEvent, CHAT_MAX_CHARS, REACTIONS};
use crate::dates::clock;
use crate::i18n::*;
use leptos::prelude::*;
use std::collections::HashMap;

/// The chat beside the player: the room's whole history (older pages on scroll), system lines
/// for what people did, reactions counted, and the box to write in.
#[component]
pub fn ChatPane(live: Live, names: HashMap<String, String>) -> impl IntoView {
    let i18n = use_i18n();
    let log = NodeRef::<leptos::html::Ol>::new();
    let names = StoredValue::new(names);
    let lines = Memo::new(move |_| {
        live.events.with(|events| {
            events
                .iter()
                .filter(|e| {
                    !matches!(
                        e.kind,
                        EventKind::React { .. }
                            | EventKind::QueueVote { .. }
                            | EventKind::QueueRemove { .. }
                            | EventKind::SkipVote { skip: false }
                            | EventKind::NextUp { .. }
                    )
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    follow_new_lines(live, log, lines);
    let on_scroll = move |_| {
        if let Some(log) = log.get_untracked() {
            if log.scroll_top() < 40 {
                live.load_older();
            }
        }
    };
    let link_state = move || match live.link.get() {
        Link::Open => None,
        Link::Connecting => Some(t_string!(i18n, connecting).to_string()),
        Link::Reconnecting => Some(t_string!(i18n, reconnecting).to_string()),
        Link::Removed => Some(t_string!(i18n, room_removed).to_string()),
        Link::Refused(Refusal::SignedOut) => {
            Some(t_string!(i18n, room_refused_signed_out).to_string())
        }
        Link::Refused(Refusal::NotMember) => {
            Some(t_string!(i18n, room_refused_not_member).to_string())
        }
        Link::Refused(Refusal::Gone) => Some(t_string!(i18n, room_refused_gone).to_string()),
        Link::Refused(Refusal::Address) => Some(t_string!(i18n, room_refused_address).to_string()),
    };
    view! {
        <div class="chat">
            {move || link_state().map(|text| view! { <p class="link-state" role="status">{text}</p> })}
            <ReactionCounts live />
            {move || live.more.get().then(|| view! {
                <button type="button" class="small older" on:click=move |_| live.load_older()>
                    {t!(i18n, earlier_messages)}
                </button>
            })}
            <ol class="chat-log" node_ref=log on:scroll=on_scroll aria-live="polite">
                <For each=move || lines.get() key=|e| e.seq let:event>
                    <ChatLine event live names />
                </For>
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
            <Notice live />
            <ChatForm live />
        </div>
    }
}

/// Follows the conversation when something new arrives (not when older pages come in), unless
/// the reader has scrolled up.
fn follow_new_lines(live: Live, log: NodeRef<leptos::html::Ol>, lines: Memo<Vec<RoomEvent>>) {
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
}

/// How many of each reaction the room has sent.
#[component]
fn ReactionCounts(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    let counts = move || {
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
    move || {
        let counts = counts();
        (!counts.is_empty()).then(|| view! {
            <p class="reaction-counts" aria-label=move || t_string!(i18n, reactions).to_string()>
                {counts.into_iter().map(|(emoji, n)| view! {
                    <span class="count">{emoji} " " {n}</span>
                }).collect_view()}
            </p>
        })
    }
}

/// One line of the log: a message (its film time a button that jumps there), or a system line
/// for what someone did.
#[component]
fn ChatLine(
    event: RoomEvent,
    live: Live,
    names: StoredValue<HashMap<String, String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let name_of = move |user: &str| {
        live.name_of(names, user)
            .unwrap_or_else(|| t_string!(i18n, someone).to_string())
    };
    let who = event
        .user
        .as_deref()
        .map(|u| event.name.clone().unwrap_or_else(|| name_of(u)))
        .unwrap_or_default();
    let at = |ms: f64| clock(ms as i64);
    let jump = move |position: f64| {
        if live.may_control() {
            live.command(ClientMsg::Seek { position });
        } else {
            live.notice
                .set(Some((u64::MAX, ProtoError::ControlsLocked)));
        }
    };
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
        EventKind::Remove { user } => {
            system(t_string!(i18n, sys_removed, name = who, who = name_of(&user)).to_string())
        }
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
        EventKind::QueueAdd { film, .. } => {
            let title = film.title(i18n.get_locale_untracked()).to_owned();
            system(t_string!(i18n, sys_queued, name = who, title = title).to_string())
        }
        EventKind::NowPlaying { film, .. } => {
            let title = film.title(i18n.get_locale_untracked()).to_owned();
            view! { <li class="sys now-playing">{t_string!(i18n, sys_now_playing, title = title).to_string()}</li> }
                .into_any()
        }
        EventKind::SkipVote { skip: true } => {
            system(t_string!(i18n, sys_wants_skip, name = who).to_string())
        }
        EventKind::NextCancelled => {
            system(t_string!(i18n, sys_next_cancelled, name = who).to_string())
        }
        EventKind::React { .. }
        | EventKind::QueueVote { .. }
        | EventKind::QueueRemove { .. }
        | EventKind::SkipVote { skip: false }
        | EventKind::NextUp { .. } => ().into_any(),
    }
}

/// Why the room refused the last thing this person tried (too fast, controls locked, …).
#[component]
fn Notice(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        live.notice.get().map(|(_, error)| {
            let text = match error {
                ProtoError::RateLimited => t_string!(i18n, chat_too_fast).to_string(),
                ProtoError::ControlsLocked => t_string!(i18n, controls_locked_hint).to_string(),
                ProtoError::RoomEnded => t_string!(i18n, chat_read_only).to_string(),
                ProtoError::ChatLength => t_string!(i18n, chat_length).to_string(),
                ProtoError::Unavailable => t_string!(i18n, channel_unavailable).to_string(),
                ProtoError::QueueFull => t_string!(i18n, queue_full).to_string(),
                ProtoError::QueueFullForYou => t_string!(i18n, queue_full_for_you).to_string(),
                ProtoError::AlreadyQueued => t_string!(i18n, already_queued).to_string(),
                ProtoError::UnknownFilm => t_string!(i18n, unknown_film).to_string(),
                ProtoError::NoSuchEntry => t_string!(i18n, no_such_entry).to_string(),
                ProtoError::OwnerOnly => t_string!(i18n, owner_only).to_string(),
                ProtoError::QueueEmpty => t_string!(i18n, queue_empty_hint).to_string(),
                _ => t_string!(i18n, channel_refused).to_string(),
            };
            view! { <p class="notice" role="alert">{text}</p> }
        })
    }
}

/// The box to write in; read-only once the room has ended.
#[component]
fn ChatForm(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    let draft = RwSignal::new(String::new());
    let too_long = move || draft.with(|d| d.trim().chars().count() > CHAT_MAX_CHARS);
    let send = move || {
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() || too_long() || live.ended.get_untracked() {
            return;
        }
        let position = live.expected().unwrap_or(0.0);
        live.say(text, position);
        draft.set(String::new());
    };
    view! {
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
