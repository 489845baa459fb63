//! The room itself for a member: the stage and chat, the participants, the link and the
//! owner's controls.

use super::call::{Call, CallSection};
use super::chat::ChatPane;
use super::domain::Phase;
use super::live::Live;
use super::page::{reload, RoomMeta};
use super::player::SyncPlayer;
use super::queue::{ChoosingStage, UpNext, WatchedHere};
use super::*;
use crate::dates::LocalTime;
use crate::friends::Avatar;
use crate::i18n::*;
use crate::library::domain::Readiness;
use crate::ui::{Alert, CopyButton, PageTitle};
use leptos::prelude::*;
use leptos_router::components::A;
use std::collections::BTreeSet;

/// The room for a member: the stage (video, or a countdown before a scheduled start, or the end
/// notice), the participants, the chat pane, the link, the room's facts and the owner's controls.
#[component]
pub(super) fn RoomView(view: RoomView) -> impl IntoView {
    let i18n = use_i18n();
    let v = view;
    // Before a scheduled start: tick each second from the server's clock, then the browser's.
    let now = RwSignal::new(v.server_now);
    Effect::new(move |_| {
        now.set(crate::dates::now_ms());
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(crate::dates::now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let (starts_at, ended_at) = (v.starts_at, v.ended_at);
    let phase = Memo::new(move |_| domain::phase(starts_at, ended_at, now.get()));
    let name = RwSignal::new(v.name.clone());
    // The room channel: playback, chat and presence (the ended room's chat too).
    let live = Live::new(name, ended_at.is_some(), v.controls_locked);
    if !v.purged {
        let code = v.code.clone();
        Effect::new(move |_| live.connect(&code));
    }
    // The room's call: joined once the channel is welcomed.
    let call = Call::new(live);
    if !v.purged {
        Effect::new(move |_| call.start());
    }
    let page_title = move || format!("{} — {}", name.get(), t_string!(i18n, app_name));
    // Two people called the same are told apart by their usernames, in the list and the chat.
    let shown = domain::shown_names(v.members.iter().map(|m| {
        (
            m.person.id.as_str(),
            m.person.display_name.as_str(),
            m.person.username.as_str(),
        )
    }));
    let owner_controls = v.i_own && v.phase != Phase::Ended;
    let call_names = shown.clone();
    let queue_names = StoredValue::new(shown.clone());
    // The film on now: the page's until the channel says, then the channel's (none while the
    // room is still choosing).
    let (first_film, first_choosing) = (v.film.clone(), v.choosing);
    let on_now = Memo::new(move |_| {
        if live.welcomed() {
            live.queue.with(|q| q.film.clone())
        } else {
            (!first_choosing).then(|| first_film.clone())
        }
    });
    // In full screen (the whole room: film, chat, people, call), H hides and shows what floats
    // over the film.
    let overlays_hidden = RwSignal::new(false);
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |e| {
            let in_full_screen = document().fullscreen_element().is_some();
            if in_full_screen
                && matches!(e.key().as_str(), "h" | "H" | "р" | "Р")
                && !e.repeat()
                && !crate::ui::typing_into_field(&e)
            {
                overlays_hidden.update(|h| *h = !*h);
            }
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        <RoomMeta
            film=Some(v.film.clone())
            owner=Some(v.owner_name.clone())
            starts_at=v.starts_at
            image=Some(v.share_image.clone())
        />
        <PageTitle text=page_title />
        <section class="room">
            <header class="room-head">
                <h1>{move || name.get()}</h1>
                <p class="room-film">
                    {move || match on_now.get() {
                        Some(film) => view! {
                            <A href=format!("/films/{}", film.id)>
                                {film.title(i18n.get_locale()).to_owned()}
                            </A>
                        }
                        .into_any(),
                        None => view! { <span>{t!(i18n, choosing_together)}</span> }.into_any(),
                    }}
                    " · "
                    {if v.private {
                        view! { <span class="chip">{t!(i18n, private_chip)}</span> }.into_any()
                    } else {
                        view! { <span class="chip">{t!(i18n, public_chip)}</span> }.into_any()
                    }}
                </p>
            </header>
            <div class="room-grid" class:overlays-hidden=move || overlays_hidden.get()>
                <p class="fullscreen-hint" aria-hidden="true">{t!(i18n, fullscreen_hint)}</p>
                <div class="room-main">
                    <div class="room-stage">
                        <Stage view=v.clone() phase now live gain=call.film_gain on_now />
                    </div>
                </div>
                <aside class="room-side">
                    {(!v.purged).then(|| view! {
                        <Show when=move || !live.ended.get()>
                            <CallSection call names=call_names.clone() />
                        </Show>
                    })}
                    <Participants view=v.clone() shown=shown.clone() live owner_controls />
                    {(!v.purged && v.phase != Phase::Ended).then(|| view! {
                        <UpNext live code=v.code.clone() names=queue_names i_own=v.i_own />
                    })}
                    <section class="chat-pane" aria-labelledby="chat-title">
                        <h2 id="chat-title">{t!(i18n, chat)}</h2>
                        {if v.purged {
                            view! { <p class="muted">{t!(i18n, chat_purged)}</p> }.into_any()
                        } else {
                            view! { <ChatPane live=live names=shown /> }.into_any()
                        }}
                    </section>
                </aside>
            </div>
            <div class="room-info">
                <ShareLinks url=v.url.clone() key_url=v.key_url.clone() has_password=v.has_password />
                <RoomFacts view=v.clone() />
                <WatchedHere live />
                {owner_controls.then(|| view! {
                    <OwnerControls code=v.code.clone() name locked=v.controls_locked private=v.private />
                })}
            </div>
        </section>
    }
}

/// What of the room's film the stage plays: its files (signed, for a room's own video) and
/// whether it is ready.
#[derive(Debug, Clone, PartialEq)]
struct StageMedia {
    film_id: String,
    renditions: Vec<crate::catalog::Rendition>,
    subtitles: Vec<crate::catalog::SubtitleTrack>,
    previews: Option<String>,
    poster: String,
    video: Readiness,
}

impl StageMedia {
    fn of(view: &RoomView) -> Self {
        StageMedia {
            film_id: view.film.id.clone(),
            renditions: view.renditions.clone(),
            subtitles: view.subtitles.clone(),
            previews: view.previews.clone(),
            poster: view.film.poster_url(),
            video: view.video.clone(),
        }
    }
}

/// How often the room asks how far its video's preparation is.
const PREPARING_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// What the room shows now: the countdown before a scheduled start, the synchronized player
/// (or "Preparing the video… 34 %" until a room's own video can play), or the end notice.
#[component]
fn Stage(
    view: RoomView,
    phase: Memo<Phase>,
    now: RwSignal<i64>,
    live: Live,
    /// The film's share of its chosen volume (the call lowers it while people talk).
    gain: RwSignal<f64>,
    /// The film on now (none while the room is choosing).
    on_now: Memo<Option<crate::catalog::FilmCard>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let v = view;
    let media = RwSignal::new(StageMedia::of(&v));
    let code = StoredValue::new(v.code.clone());
    // The room afresh: new signed URLs, or the video that just became ready.
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(RoomAccess::Member(fresh)) = open_room(code.get_value()).await {
                media.set(StageMedia::of(&fresh));
            }
        })
    };
    if !matches!(v.video, Readiness::Ready) {
        Effect::new(move |_| {
            let poll = move || {
                if !media.with_untracked(|m| matches!(m.video, Readiness::Preparing { .. })) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    match room_video(code.get_value()).await {
                        Ok(Readiness::Ready) => refresh(),
                        Ok(video) => media.update(|m| m.video = video),
                        // A dropped request: the next poll asks again.
                        Err(_) => {}
                    }
                });
            };
            if let Ok(handle) = set_interval_with_handle(poll, PREPARING_POLL) {
                on_cleanup(move || handle.clear());
            }
        });
    }
    // The room changed film: fetch the new one's files (and signed URLs).
    Effect::new(move |_| {
        if let Some(film) = on_now.get() {
            if media.with_untracked(|m| m.film_id != film.id) {
                refresh();
            }
        }
    });
    let on_expired = Callback::new(move |_: ()| refresh());
    move || match phase.get() {
        Phase::Live if on_now.with(Option::is_none) => view! { <ChoosingStage live /> }.into_any(),
        Phase::Live
            if on_now.with(|f| {
                f.as_ref()
                    .is_some_and(|f| media.with(|m| m.film_id != f.id))
            }) =>
        {
            view! {
                <div class="room-preparing">
                    <p role="status">{t!(i18n, loading_next_film)}</p>
                </div>
            }
            .into_any()
        }
        Phase::Scheduled => {
            let at = v.starts_at.unwrap_or_default();
            view! { <Countdown at now poster=v.film.poster_url() /> }.into_any()
        }
        Phase::Live => {
            let m = media.get();
            match m.video {
                Readiness::Ready => view! {
                    <SyncPlayer
                        live=live
                        renditions=m.renditions
                        subtitles=m.subtitles
                        previews=m.previews
                        poster=m.poster
                        gain
                        on_expired
                    />
                }
                .into_any(),
                Readiness::Preparing { percent } => view! {
                    <div class="room-preparing">
                        <p role="status">{t!(i18n, preparing_video, percent = move || percent)}</p>
                        <progress max="100" value=percent.to_string() aria-hidden="true"></progress>
                        <p class="muted">{t!(i18n, preparing_text)}</p>
                    </div>
                }
                .into_any(),
                Readiness::Failed { why } => view! {
                    <div class="room-preparing">
                        <p class="error" role="alert">
                            {t!(i18n, video_failed, why = move || why.clone())}
                        </p>
                    </div>
                }
                .into_any(),
                Readiness::Removed => view! {
                    <div class="room-preparing">
                        <p>{t!(i18n, video_removed)}</p>
                    </div>
                }
                .into_any(),
            }
        }
        Phase::Ended => view! {
            <div class="room-ended">
                <img class="room-poster" src=v.film.poster_url() alt="" width="200" height="300" />
                <p>
                    {t!(i18n, room_ended)} " "
                    {v.ended_at.map(|ms| view! { <LocalTime ms /> })}
                </p>
            </div>
        }
        .into_any(),
    }
}

/// Members (invited and joined, with the owner's "Remove"), then whoever joined since the page
/// was loaded; each with "here" or "buffering…".
#[component]
fn Participants(
    view: RoomView,
    shown: std::collections::HashMap<String, String>,
    live: Live,
    owner_controls: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let v = view;
    let member_ids: BTreeSet<String> = v.members.iter().map(|m| m.person.id.clone()).collect();
    let newcomers = move || {
        live.present.with(|p| {
            p.iter()
                .filter(|p| !member_ids.contains(&p.user))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let members_label = format!("{} / {}", v.participants, v.max_participants);
    let code = StoredValue::new(v.code.clone());
    let remove = ServerAction::<RemoveParticipant>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            reload();
        }
    });
    view! {
        <div class="side-head">
            <h2 id="participants-title">{t!(i18n, participants)}</h2>
            <span class="muted seats">{members_label}</span>
        </div>
        <ul class="people" aria-labelledby="participants-title">
            {v.members.iter().map(|m| {
                let user_id = m.person.id.clone();
                let name = shown.get(&m.person.id).cloned().unwrap_or_default();
                view! {
                    <li class="person">
                        <Avatar person=m.person.clone() />
                        <span class="person-name">
                            <strong>{name.clone()}</strong>
                            {m.owner.then(|| view! { " " <span class="chip">{t!(i18n, owner)}</span> })}
                            {(!m.joined).then(|| view! { <span class="muted">" · " {t!(i18n, invited)}</span> })}
                            <LiveStatus live=live user=m.person.id.clone() />
                        </span>
                        {(owner_controls && !m.owner).then(|| view! {
                            <button
                                type="button"
                                class="small"
                                aria-label=move || t_string!(i18n, remove_person, name = name.clone()).to_string()
                                on:click=move |_| {
                                    if window().confirm_with_message(t_string!(i18n, remove_confirm)).unwrap_or(false) {
                                        remove.dispatch(RemoveParticipant { code: code.get_value(), user_id: user_id.clone() });
                                    }
                                }
                            >
                                {t!(i18n, remove)}
                            </button>
                        })}
                    </li>
                }
            }).collect_view()}
            // Whoever joined after this page was loaded.
            <For
                each=newcomers
                key=|p| p.user.clone()
                let:p
            >
                <li class="person">
                    <crate::ui::Avatar name=p.name.clone() class="in-room" />
                    <span class="person-name">
                        <strong>{p.name.clone()}</strong>
                        <LiveStatus live=live user=p.user.clone() />
                    </span>
                </li>
            </For>
        </ul>
    }
}

/// The room's facts: owner, when it was made and starts, who controls playback; "Add to
/// calendar" for a scheduled room.
#[component]
fn RoomFacts(view: RoomView) -> impl IntoView {
    let i18n = use_i18n();
    let v = view;
    let not_ended = v.phase != Phase::Ended;
    view! {
        <section>
            <h2>{t!(i18n, room_info)}</h2>
            <dl>
                <dt>{t!(i18n, owner_label)}</dt>
                <dd>{v.owner_name.clone()}</dd>
                <dt>{t!(i18n, created)}</dt>
                <dd><LocalTime ms=v.created_at /></dd>
                {v.starts_at.map(|at| view! {
                    <dt>{t!(i18n, starts_at)}</dt>
                    <dd><LocalTime ms=at /></dd>
                })}
                <dt>{t!(i18n, controls)}</dt>
                <dd>
                    {if v.controls_locked {
                        t!(i18n, controls_owner).into_any()
                    } else {
                        t!(i18n, controls_everyone).into_any()
                    }}
                </dd>
            </dl>
            {(v.starts_at.is_some() && not_ended).then(|| view! {
                <a class="button small" href=format!("/r/{}/calendar.ics", v.code) download>
                    {t!(i18n, add_to_calendar)}
                </a>
            })}
        </section>
    }
}

/// "here" or "buffering…" beside a participant connected to the room right now.
#[component]
fn LiveStatus(live: Live, user: String) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let state = live
            .present
            .with(|p| p.iter().find(|p| p.user == user).map(|p| p.buffering));
        state.map(|buffering| {
            if buffering {
                view! { <span class="presence buffering">" · " {t!(i18n, buffering)}</span> }
                    .into_any()
            } else {
                view! { <span class="presence in-room">" · " {t!(i18n, here)}</span> }.into_any()
            }
        })
    }
}

/// The countdown to a scheduled start, over the poster.
#[component]
fn Countdown(at: i64, now: RwSignal<i64>, poster: String) -> impl IntoView {
    let i18n = use_i18n();
    let text = move || {
        let (d, h, m, s) = domain::countdown(at - now.get());
        let clock = format!("{h:02}:{m:02}:{s:02}");
        if d > 0 {
            t_string!(i18n, countdown_days, days = d, clock = clock).to_string()
        } else {
            clock
        }
    };
    view! {
        <div class="room-countdown">
            <img class="room-poster" src=poster alt="" width="200" height="300" />
            <p>{t!(i18n, starts_in)}</p>
            <p class="countdown" role="timer" aria-live="off">{text}</p>
            <p class="muted">{t!(i18n, starts)} " " <LocalTime ms=at /></p>
        </div>
    }
}

/// The link to share (and, for a private room, the one that carries its key).
#[component]
fn ShareLinks(url: String, key_url: Option<String>, has_password: bool) -> impl IntoView {
    let i18n = use_i18n();
    let primary = key_url.clone().unwrap_or_else(|| url.clone());
    view! {
        <section class="share">
            <h2>{t!(i18n, room_link)}</h2>
            <p class="share-link"><code>{primary.clone()}</code></p>
            <CopyButton text=primary class="primary small">
                {t!(i18n, copy_link)}
            </CopyButton>
            {key_url.is_some().then(|| view! { <p class="hint">{t!(i18n, key_link_hint)}</p> })}
            {(key_url.is_some() && has_password).then(|| {
                view! {
                    <p class="hint">{t!(i18n, bare_link_hint)}</p>
                    <p class="share-link"><code>{url.clone()}</code></p>
                    <CopyButton text=url.clone()>{t!(i18n, copy_link_without_key)}</CopyButton>
                }
            })}
        </section>
    }
}

/// The owner's settings: rename, who controls playback, a new link, end the room.
#[component]
fn OwnerControls(
    code: String,
    name: RwSignal<String>,
    locked: bool,
    private: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let new_link = ServerAction::<NewRoomLink>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = new_link.value().get() {
            reload();
        }
    });
    let rename = ServerAction::<RenameRoom>::new();
    let lock = ServerAction::<LockRoomControls>::new();
    let end = ServerAction::<EndRoom>::new();
    let code = StoredValue::new(code);
    let draft = RwSignal::new(name.get_untracked());
    let locked = RwSignal::new(locked);
    Effect::new(move |_| {
        if let Some(Ok(new_name)) = rename.value().get() {
            name.set(new_name);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(now_locked)) = lock.value().get() {
            locked.set(now_locked);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = end.value().get() {
            reload();
        }
    });
    let error = move || {
        [
            rename.value().get().map(|r| r.map(|_| ())),
            lock.value().get().map(|r| r.map(|_| ())),
            new_link.value().get().map(|r| r.map(|_| ())),
            end.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|error| view! { <Alert error /> })
    };
    view! {
        <section class="owner-controls">
            <h2>{t!(i18n, room_owner_settings)}</h2>
            <form on:submit=move |ev| {
                ev.prevent_default();
                rename.dispatch(RenameRoom { code: code.get_value(), name: draft.get_untracked() });
            }>
                <label for="room-name">{t!(i18n, room_name)}</label>
                <input
                        type="text"
                        id="room-name"
                        name="name"
                        maxlength="100"
                        required
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                    />
                <button type="submit" class="small" disabled=move || rename.pending().get()>{t!(i18n, rename)}</button>
            </form>
            <div class="check">
                <input
                    type="checkbox"
                    id="room-locked"
                    prop:checked=move || locked.get()
                    on:change=move |ev| {
                        lock.dispatch(LockRoomControls { code: code.get_value(), locked: event_target_checked(&ev) });
                    }
                />
                <label for="room-locked">{t!(i18n, lock_controls)}</label>
            </div>
            {private.then(|| view! {
                <ActionForm action=new_link>
                    <input type="hidden" name="code" value=code.get_value() />
                    <p class="hint">{t!(i18n, new_link_hint)}</p>
                    <label for="room-new-password">{t!(i18n, new_room_password)}</label>
                    <input type="password" id="room-new-password" name="password" autocomplete="new-password" maxlength="128" />
                    <button type="submit" class="small" disabled=move || new_link.pending().get()>
                        {t!(i18n, new_link)}
                    </button>
                </ActionForm>
            })}
            <button
                type="button"
                class="danger small"
                disabled=move || end.pending().get()
                on:click=move |_| {
                    if window().confirm_with_message(t_string!(i18n, end_room_confirm)).unwrap_or(false) {
                        end.dispatch(EndRoom { code: code.get_value() });
                    }
                }
            >
                {t!(i18n, end_room)}
            </button>
            {error}
        </section>
    }
}
