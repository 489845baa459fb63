//! Rooms: "Watch together" on a film page creates one (public or private, now or scheduled) with
//! the friends I pick; the short link `/r/<code>` leads into it. The room page shows the film, the
//! participants, the link and the owner's controls; synchronized playback and the chat come with
//! the room channel.
//!
//! A private room's shared link carries its access key in the fragment, `/r/<code>#k=<key>`: a
//! fragment is never sent to any server — not ours (so it is in no access log), not a link
//! preview bot, not a `Referer` — yet the page reads it and enters with it. Without the key the
//! room asks for its password.

#[cfg(feature = "ssr")]
pub mod channel;
pub mod domain;
pub mod live;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod stage;

use crate::accounts::{login_link, use_auth, with_next};
use crate::catalog::{FilmCard, Rendition};
use crate::error::AppError;
use crate::friends::{copy_to_clipboard, Avatar, MatchFriend, Person};
use crate::i18n::*;
use crate::ui::PageTitle;
use crate::ui::{ErrorMessage, LocalTime};
use domain::Phase;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use live::Live;
use serde::{Deserialize, Serialize};
use stage::{ChatPane, SyncPlayer};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub person: Person,
    pub owner: bool,
    pub joined: bool,
}

/// The room, as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub code: String,
    /// The full short link, built from the configured public URL.
    pub url: String,
    /// A private room's link with its access key (`…#k=<key>`): enough on its own to enter.
    pub key_url: Option<String>,
    pub name: String,
    pub film: FilmCard,
    pub renditions: Vec<Rendition>,
    pub share_image: String,
    pub owner_name: String,
    pub i_own: bool,
    pub private: bool,
    pub has_password: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    /// Retention deleted the chat and events of this ended room.
    pub purged: bool,
    pub controls_locked: bool,
    pub max_participants: i64,
    pub participants: i64,
    pub members: Vec<Member>,
    /// The server's clock when this was read (the countdown starts from it).
    pub server_now: i64,
}

/// What a link shows someone who is not (yet) in the room. For a private room: nothing but that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPreview {
    pub code: String,
    pub url: String,
    pub private: bool,
    pub has_password: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub name: Option<String>,
    pub film: Option<FilmCard>,
    pub owner: Option<String>,
    pub share_image: Option<String>,
    /// Signed in and free to join (invited, or a public room): the page joins with a POST once
    /// it runs, because a plain `GET` of a link never changes anything.
    #[serde(default)]
    pub joinable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomAccess {
    /// A member: the whole room.
    Member(RoomView),
    /// Not signed in: log in or register and come back.
    Guest(RoomPreview),
    /// Signed in but not admitted: a private room (password or key) or one that has ended.
    Locked(RoomPreview),
}

/// A room in a list on Home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub code: String,
    pub name: String,
    pub film: FilmCard,
    pub private: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub created_at: i64,
    pub owner_name: String,
    /// I own it.
    pub mine: bool,
    pub participants: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLists {
    pub public: Vec<RoomSummary>,
    pub mine: Vec<RoomSummary>,
}

/// Creates a room for the film — public, or private with a password and/or its link's key;
/// now or at `starts_at` (ms since the epoch); for up to `max_participants` — with the chosen
/// friends invited. Returns its short code.
#[server(endpoint = "rooms/start")]
pub async fn start_session(
    film_id: String,
    #[server(default)] friends: Vec<String>,
    #[server(default)] private: bool,
    password: Option<String>,
    starts_at: Option<i64>,
    max_participants: Option<i64>,
) -> Result<String, AppError> {
    crate::accounts::ssr::respond(
        ssr::create(ssr::NewRoom {
            film_id: &film_id,
            friends: &friends,
            private,
            password: password.as_deref(),
            starts_at,
            max_participants,
        })
        .await,
    )
}

#[server(endpoint = "rooms/open")]
pub async fn open_room(code: String) -> Result<RoomAccess, AppError> {
    crate::accounts::ssr::respond(ssr::open(&code).await)
}

/// Enters a private room with its password or the key from its link.
#[server(endpoint = "rooms/enter")]
pub async fn enter_room(
    code: String,
    password: Option<String>,
    key: Option<String>,
) -> Result<(), AppError> {
    crate::accounts::ssr::respond(ssr::enter(&code, password.as_deref(), key.as_deref()).await)
}

#[server(endpoint = "rooms/rename")]
pub async fn rename_room(code: String, name: String) -> Result<String, AppError> {
    crate::accounts::ssr::respond(ssr::rename(&code, &name).await)
}

#[server(endpoint = "rooms/lock")]
pub async fn lock_room_controls(code: String, locked: bool) -> Result<bool, AppError> {
    crate::accounts::ssr::respond(ssr::lock_controls(&code, locked).await)
}

#[server(endpoint = "rooms/remove")]
pub async fn remove_participant(code: String, user_id: String) -> Result<(), AppError> {
    crate::accounts::ssr::respond(ssr::remove(&code, &user_id).await)
}

/// A private room's new key link (and, if given, a new password); the old link stops working.
#[server(endpoint = "rooms/new-link")]
pub async fn new_room_link(code: String, password: Option<String>) -> Result<String, AppError> {
    crate::accounts::ssr::respond(ssr::new_link(&code, password.as_deref()).await)
}

#[server(endpoint = "rooms/end")]
pub async fn end_room(code: String) -> Result<(), AppError> {
    crate::accounts::ssr::respond(ssr::end(&code).await)
}

#[server(endpoint = "rooms/home")]
pub async fn home_rooms() -> Result<RoomLists, AppError> {
    crate::accounts::ssr::respond(ssr::home().await)
}

/// Reads a `datetime-local` value ("2026-11-22T20:00") as the browser's local time.
fn local_input_to_ms(value: &str) -> Option<i64> {
    if value.is_empty() {
        return None;
    }
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::new(&web_sys::wasm_bindgen::JsValue::from_str(value)).get_time();
        ms.is_finite().then_some(ms as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// The film page's "Watch together": a panel listing my friends — those who want this film
/// first, marked — each a checkbox, and the room's settings; "Start session" (with friends) or
/// "Create room" creates the room and goes there.
#[component]
pub fn WatchTogether(
    film_id: String,
    open: RwSignal<bool>,
    friends: Resource<Result<Vec<MatchFriend>, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let start = ServerAction::<StartSession>::new();
    let chosen = RwSignal::new(BTreeSet::<String>::new());
    let private = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    let limit = RwSignal::new(domain::DEFAULT_LIMIT.to_string());
    let here = format!("/films/{film_id}?together=1");
    let film = StoredValue::new(film_id);
    Effect::new(move |_| {
        if let Some(Ok(code)) = start.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/r/{code}"), Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let is_private = private.get_untracked();
        start.dispatch(StartSession {
            film_id: film.get_value(),
            friends: chosen.get_untracked().into_iter().collect(),
            private: is_private,
            password: is_private.then(|| password.get_untracked()),
            starts_at: local_input_to_ms(&starts.get_untracked()),
            max_participants: limit.get_untracked().trim().parse().ok(),
        });
    };
    view! {
        <div class="watch-together">
            <Suspense>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(_)) => view! {
                                <button
                                    type="button"
                                    class="primary"
                                    aria-expanded=move || open.get().to_string()
                                    aria-controls="together-panel"
                                    on:click=move |_| open.update(|o| *o = !*o)
                                >
                                    {t!(i18n, watch_together)}
                                </button>
                            }.into_any(),
                            _ => view! {
                                <a class="button primary" href=login_link(&here)>{t!(i18n, watch_together)}</a>
                            }.into_any(),
                        }
                    })
                }}
            </Suspense>
            <Show when=move || open.get()>
                <form id="together-panel" class="together-panel" on:submit=submit>
                    <Transition>
                        {move || Suspend::new(async move {
                            match friends.await {
                                Ok(list) if list.is_empty() => view! {
                                    <p class="muted">
                                        {t!(i18n, no_friends_for_match)} " "
                                        <A href="/friends">{t!(i18n, find_friends)}</A>
                                    </p>
                                }.into_any(),
                                Ok(list) => view! {
                                    <fieldset>
                                        <legend>{t!(i18n, choose_friends)}</legend>
                                        <ul class="people">
                                            {list.into_iter().map(|m| {
                                                let id = m.person.id.clone();
                                                let input_id = format!("together-{id}");
                                                let checked = {
                                                    let id = id.clone();
                                                    move || chosen.with(|c| c.contains(&id))
                                                };
                                                let toggle = {
                                                    let id = id.clone();
                                                    move |ev: leptos::ev::Event| {
                                                        let on = event_target_checked(&ev);
                                                        chosen.update(|c| {
                                                            if on { c.insert(id.clone()); } else { c.remove(&id); }
                                                        });
                                                    }
                                                };
                                                view! {
                                                    <li class=if m.wants { "person wants" } else { "person" }>
                                                        <input type="checkbox" id=input_id.clone() value=id prop:checked=checked on:change=toggle />
                                                        <Avatar person=m.person.clone() />
                                                        <label for=input_id>{m.person.display_name.clone()}</label>
                                                        {m.wants.then(|| view! { <span class="chip wants-chip">{t!(i18n, wants_to_watch)}</span> })}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    </fieldset>
                                }.into_any(),
                                Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                            }
                        })}
                    </Transition>
                    <fieldset class="room-settings">
                        <legend>{t!(i18n, room_settings)}</legend>
                        <div class="check">
                            <input
                                type="checkbox"
                                id="room-private"
                                name="private"
                                prop:checked=move || private.get()
                                on:change=move |ev| private.set(event_target_checked(&ev))
                            />
                            <label for="room-private">{t!(i18n, private_room)}</label>
                        </div>
                        <Show when=move || private.get()>
                            <label for="room-password">{t!(i18n, room_password)}</label>
                            <input
                                    type="password"
                                    id="room-password"
                                    name="password"
                                    autocomplete="new-password"
                                    maxlength="128"
                                    prop:value=move || password.get()
                                    on:input=move |ev| password.set(event_target_value(&ev))
                                />
                            <p class="hint">{t!(i18n, room_password_hint)}</p>
                        </Show>
                        <label for="room-starts">{t!(i18n, starts_at)}</label>
                        <input
                                type="datetime-local"
                                id="room-starts"
                                name="starts_at"
                                prop:value=move || starts.get()
                                on:input=move |ev| starts.set(event_target_value(&ev))
                            />
                        <label for="room-limit">{t!(i18n, participant_limit)}</label>
                        <input
                                type="number"
                                id="room-limit"
                                name="max_participants"
                                min=domain::MIN_LIMIT
                                max=domain::MAX_LIMIT
                                prop:value=move || limit.get()
                                on:input=move |ev| limit.set(event_target_value(&ev))
                            />
                    </fieldset>
                    <button type="submit" class="primary" disabled=move || start.pending().get()>
                        {move || if chosen.with(BTreeSet::is_empty) {
                            t_string!(i18n, create_room)
                        } else {
                            t_string!(i18n, start_session)
                        }}
                    </button>
                    {move || match start.value().get() {
                        Some(Err(error)) => Some(view! { <p class="error" role="alert"><ErrorMessage error /></p> }),
                        _ => None,
                    }}
                </form>
            </Show>
        </div>
    }
}

/// Loads the page afresh: after entering a room (or changing who is in it) the server renders
/// what the member now sees.
fn reload() {
    let _ = window().location().reload();
}

/// The access key in the address bar's fragment, if the page was opened with one.
fn key_in_location() -> Option<String> {
    let hash = window().location().hash().ok()?;
    domain::key_from_fragment(&hash)
}

/// `/r/<code>`: the room. A guest sees who invites to what (for a public room) and is sent to
/// log in or register and straight back; a private room asks for its password.
#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let room = Resource::new(move || code.get(), open_room);
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match room.await {
                    Ok(RoomAccess::Member(view)) => view! { <RoomView view /> }.into_any(),
                    Ok(RoomAccess::Guest(preview)) => view! { <GuestLanding preview /> }.into_any(),
                    Ok(RoomAccess::Locked(preview)) => view! { <Locked preview /> }.into_any(),
                    Err(AppError::NotFound) => view! { <crate::pages::NotFound /> }.into_any(),
                    Err(error) => view! { <RoomRefusal error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "Vasily invites you to watch Metropolis", or "A private room" when nothing may be said.
fn invite_title(film: &Option<FilmCard>, owner: &Option<String>) -> String {
    let i18n = use_i18n();
    match (film, owner) {
        (Some(film), Some(owner)) => {
            let film = film.title(i18n.get_locale()).to_owned();
            t_string!(i18n, room_invite_title, name = owner.clone(), film = film).to_string()
        }
        _ => t_string!(i18n, private_room_title).to_string(),
    }
}

/// Link-preview meta for a room: who invites to which film, and when.
#[component]
fn RoomMeta(
    film: Option<FilmCard>,
    owner: Option<String>,
    starts_at: Option<i64>,
    image: Option<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let title = Memo::new(move |_| invite_title(&film, &owner));
    let description = Memo::new(move |_| match starts_at {
        Some(at) => {
            let when = crate::ui::date_time_utc(at, i18n.get_locale());
            t_string!(i18n, room_starts_preview, when = when).to_string()
        }
        None => t_string!(i18n, room_preview_text).to_string(),
    });
    let page_title = move || format!("{} — {}", title.get(), t_string!(i18n, app_name));
    view! {
        <PageTitle text=page_title />
        <Meta name="description" content=description />
        <Meta property="og:type" content="website" />
        <Meta property="og:title" content=title />
        <Meta property="og:description" content=description />
        <Meta name="twitter:title" content=title />
        <Meta name="twitter:description" content=description />
        {image.map(|image| view! {
            <Meta property="og:image" content=image.clone() />
            <Meta name="twitter:image" content=image />
            <Meta name="twitter:card" content="summary" />
        })}
    }
}

/// A guest following a link: what it is (for a public room), then "Log in" / "Register", both
/// returning here — with the key, if the link carried one.
#[component]
fn GuestLanding(preview: RoomPreview) -> impl IntoView {
    let i18n = use_i18n();
    let here = RwSignal::new(format!("/r/{}", preview.code));
    Effect::new(move |_| {
        if let Some(key) = key_in_location() {
            here.update(|h| *h = format!("{}#k={key}", h.split('#').next().unwrap_or_default()));
        }
    });
    let heading = {
        let (film, owner) = (preview.film.clone(), preview.owner.clone());
        move || invite_title(&film, &owner)
    };
    view! {
        <RoomMeta
            film=preview.film.clone()
            owner=preview.owner.clone()
            starts_at=preview.starts_at
            image=preview.share_image.clone()
        />
        <section class="card narrow room-landing">
            {preview.film.clone().map(|film| view! {
                <img class="room-poster" src=film.poster_url() alt="" width="200" height="300" />
            })}
            <h1>{heading}</h1>
            <PhaseLine phase=preview.phase starts_at=preview.starts_at />
            <p>{t!(i18n, room_guest_text)}</p>
            <div class="actions">
                <a class="button primary" href=move || with_next("/login", &here.get())>{t!(i18n, log_in)}</a>
                <a class="button" href=move || with_next("/register", &here.get())>{t!(i18n, register)}</a>
            </div>
        </section>
    }
}

/// "Starts 22.11.2026 20:00" / "Ended".
#[component]
fn PhaseLine(phase: Phase, starts_at: Option<i64>) -> impl IntoView {
    let i18n = use_i18n();
    match (phase, starts_at) {
        (Phase::Scheduled, Some(at)) => Some(
            view! { <p class="phase">{t!(i18n, starts)} " " <LocalTime ms=at /></p> }.into_any(),
        ),
        (Phase::Ended, _) => Some(view! { <p class="phase">{t!(i18n, room_ended)}</p> }.into_any()),
        _ => None,
    }
}

/// Signed in, not admitted: the password form (or, with `#k=` in the address, entering with the
/// key at once), or the news that the room has ended.
#[component]
fn Locked(preview: RoomPreview) -> impl IntoView {
    let i18n = use_i18n();
    let enter = ServerAction::<EnterRoom>::new();
    let code = StoredValue::new(preview.code.clone());
    let ended = preview.phase == Phase::Ended;
    let with_key = RwSignal::new(false);
    let joinable = preview.joinable;
    Effect::new(move |_| {
        if ended {
            return;
        }
        if joinable {
            enter.dispatch(EnterRoom {
                code: code.get_value(),
                password: None,
                key: None,
            });
        } else if let Some(key) = key_in_location() {
            with_key.set(true);
            enter.dispatch(EnterRoom {
                code: code.get_value(),
                password: None,
                key: Some(key),
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = enter.value().get() {
            reload();
        }
    });
    let heading = {
        let (film, owner) = (preview.film.clone(), preview.owner.clone());
        move || invite_title(&film, &owner)
    };
    let has_password = preview.has_password;
    view! {
        <RoomMeta
            film=preview.film.clone()
            owner=preview.owner.clone()
            starts_at=preview.starts_at
            image=preview.share_image.clone()
        />
        <section class="card narrow room-landing">
            <h1>{heading}</h1>
            <PhaseLine phase=preview.phase starts_at=preview.starts_at />
            {if ended {
                view! { <p>{t!(i18n, room_ended_text)}</p> }.into_any()
            } else if joinable {
                // Joins by itself once the page runs; the button is for a browser without it.
                view! {
                    <ActionForm action=enter>
                        <input type="hidden" name="code" value=preview.code.clone() />
                        <button type="submit" class="primary" disabled=move || enter.pending().get()>
                            {t!(i18n, join)}
                        </button>
                    </ActionForm>
                }.into_any()
            } else if has_password {
                view! {
                    <ActionForm action=enter>
                        <input type="hidden" name="code" value=preview.code.clone() />
                        <label for="enter-password">{t!(i18n, room_password)}</label>
                        <input type="password" id="enter-password" name="password" required autocomplete="off" maxlength="128" />
                        <button type="submit" class="primary" disabled=move || enter.pending().get()>
                            {t!(i18n, join)}
                        </button>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <Show when=move || !with_key.get()>
                        <p>{t!(i18n, room_key_only)}</p>
                    </Show>
                }.into_any()
            }}
            <Show when=move || with_key.get() && enter.pending().get()>
                <p class="muted" role="status">{t!(i18n, entering)}</p>
            </Show>
            {move || match enter.value().get() {
                Some(Err(error)) => Some(view! { <p class="error" role="alert"><ErrorMessage error /></p> }),
                _ => None,
            }}
        </section>
    }
}

/// The room said no: full, or I was removed.
#[component]
fn RoomRefusal(error: AppError) -> impl IntoView {
    let i18n = use_i18n();
    let text = match error {
        AppError::Forbidden => t!(i18n, room_removed).into_any(),
        error => view! { <ErrorMessage error /> }.into_any(),
    };
    view! {
        <PageTitle text=move || t_string!(i18n, app_name).to_string() />
        <section class="card narrow room-landing">
            <p class="error" role="alert">{text}</p>
            <a class="button" href="/">{t!(i18n, go_home)}</a>
        </section>
    }
}

/// The room for a member: the stage (video, or a countdown before a scheduled start, or the end
/// notice), the participants, the chat pane, the link, the room's facts and the owner's controls.
#[component]
fn RoomView(view: RoomView) -> impl IntoView {
    let i18n = use_i18n();
    let v = view;
    let film = v.film.clone();
    let film_title = {
        let film = film.clone();
        move || film.title(i18n.get_locale()).to_owned()
    };
    // Before a scheduled start: tick each second from the server's clock, then the browser's.
    let now = RwSignal::new(v.server_now);
    Effect::new(move |_| {
        now.set(crate::ui::now_ms());
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(crate::ui::now_ms()),
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
    let stage = {
        let v = v.clone();
        move || {
            match phase.get() {
            Phase::Scheduled => {
                let at = v.starts_at.unwrap_or_default();
                view! { <Countdown at now poster=v.film.poster_url() /> }.into_any()
            }
            Phase::Live => view! {
                <SyncPlayer live=live renditions=v.renditions.clone() poster=v.film.poster_url() />
            }.into_any(),
            Phase::Ended => view! {
                <div class="room-ended">
                    <img class="room-poster" src=v.film.poster_url() alt="" width="200" height="300" />
                    <p>
                        {t!(i18n, room_ended)} " "
                        {v.ended_at.map(|ms| view! { <LocalTime ms /> })}
                    </p>
                </div>
            }.into_any(),
        }
        }
    };
    let heading = move || name.get();
    let page_title = move || format!("{} — {}", name.get(), t_string!(i18n, app_name));
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
    // Two people called the same are told apart by their usernames, in the list and the chat.
    let shown = domain::shown_names(v.members.iter().map(|m| {
        (
            m.person.id.as_str(),
            m.person.display_name.as_str(),
            m.person.username.as_str(),
        )
    }));
    let not_ended = v.phase != Phase::Ended;
    let owner_controls = v.i_own && not_ended;
    let code = StoredValue::new(v.code.clone());
    let remove = ServerAction::<RemoveParticipant>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            reload();
        }
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
                <h1>{heading}</h1>
                <p class="room-film">
                    <A href=format!("/films/{}", film.id)>{film_title}</A>
                    " · "
                    {if v.private {
                        view! { <span class="chip">{t!(i18n, private_chip)}</span> }.into_any()
                    } else {
                        view! { <span class="chip">{t!(i18n, public_chip)}</span> }.into_any()
                    }}
                </p>
            </header>
            <div class="room-grid">
                <div class="room-stage">{stage}</div>
                <aside class="room-side">
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
                                <span class="avatar in-room" aria-hidden="true">{crate::friends::domain::initials(&p.name)}</span>
                                <span class="person-name">
                                    <strong>{p.name.clone()}</strong>
                                    <LiveStatus live=live user=p.user.clone() />
                                </span>
                            </li>
                        </For>
                    </ul>
                    <section class="chat-pane" aria-labelledby="chat-title">
                        <h2 id="chat-title">{t!(i18n, chat)}</h2>
                        {if v.purged {
                            view! { <p class="muted">{t!(i18n, chat_purged)}</p> }.into_any()
                        } else {
                            view! { <ChatPane live=live names=shown.clone() /> }.into_any()
                        }}
                    </section>
                </aside>
            </div>
            <div class="room-info">
                <ShareLinks url=v.url.clone() key_url=v.key_url.clone() has_password=v.has_password />
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
                {owner_controls.then(|| view! {
                    <OwnerControls code=v.code.clone() name locked=v.controls_locked private=v.private />
                })}
            </div>
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
    let copied = RwSignal::new(None::<&'static str>);
    let primary = key_url.clone().unwrap_or_else(|| url.clone());
    let copy_primary = primary.clone();
    view! {
        <section class="share">
            <h2>{t!(i18n, room_link)}</h2>
            <p class="share-link"><code>{primary.clone()}</code></p>
            <button
                type="button"
                class="primary small"
                on:click=move |_| {
                    copy_to_clipboard(&copy_primary);
                    copied.set(Some("main"));
                }
            >
                {t!(i18n, copy_link)}
            </button>
            <Show when=move || copied.get() == Some("main")>
                <span class="ok" role="status">" " {t!(i18n, copied)}</span>
            </Show>
            {key_url.is_some().then(|| view! { <p class="hint">{t!(i18n, key_link_hint)}</p> })}
            {(key_url.is_some() && has_password).then(|| {
                let bare = url.clone();
                view! {
                    <p class="hint">{t!(i18n, bare_link_hint)}</p>
                    <p class="share-link"><code>{url.clone()}</code></p>
                    <button
                        type="button"
                        class="small"
                        on:click=move |_| {
                            copy_to_clipboard(&bare);
                            copied.set(Some("bare"));
                        }
                    >
                        {t!(i18n, copy_link_without_key)}
                    </button>
                    <Show when=move || copied.get() == Some("bare")>
                        <span class="ok" role="status">" " {t!(i18n, copied)}</span>
                    </Show>
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
        .map(|error| view! { <p class="error" role="alert"><ErrorMessage error /></p> })
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

/// Home: my rooms and the public rooms open now.
#[component]
pub fn HomeRoomLists() -> impl IntoView {
    let i18n = use_i18n();
    let rooms = Resource::new(|| (), |_| home_rooms());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let Ok(rooms) = rooms.await else { return None };
                Some(view! {
                    {(!rooms.mine.is_empty()).then(|| view! {
                        <section class="room-list" aria-labelledby="my-rooms-title">
                            <h2 id="my-rooms-title">{t!(i18n, my_rooms)}</h2>
                            <RoomCards rooms=rooms.mine.clone() />
                        </section>
                    })}
                    <section class="room-list" aria-labelledby="public-rooms-title">
                        <h2 id="public-rooms-title">{t!(i18n, public_rooms)}</h2>
                        {if rooms.public.is_empty() {
                            view! { <p class="muted">{t!(i18n, no_public_rooms)}</p> }.into_any()
                        } else {
                            view! { <RoomCards rooms=rooms.public.clone() /> }.into_any()
                        }}
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
fn RoomCards(rooms: Vec<RoomSummary>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ul class="room-cards">
            {rooms.into_iter().map(|r| {
                let film = r.film.clone();
                let title = move || film.title(i18n.get_locale()).to_owned();
                let count = r.participants;
                view! {
                    <li class="room-card">
                        <a href=format!("/r/{}", r.code)>
                            <img src=r.film.poster_url() alt="" width="80" height="120" loading="lazy" />
                            <span class="room-card-text">
                                <strong>{r.name.clone()}</strong>
                                <span class="muted">{title}</span>
                                <span class="muted">
                                    {r.owner_name.clone()} " · "
                                    {t!(i18n, participants_count, count = count)}
                                    {r.private.then(|| view! { " · " {t!(i18n, private_chip)} })}
                                </span>
                                <span class="muted">
                                    {match r.phase {
                                        Phase::Scheduled => view! {
                                            {t!(i18n, starts)} " " <LocalTime ms=r.starts_at.unwrap_or_default() />
                                        }.into_any(),
                                        Phase::Live => view! {
                                            {t!(i18n, started)} " " <LocalTime ms=r.starts_at.unwrap_or(r.created_at) />
                                        }.into_any(),
                                        Phase::Ended => t!(i18n, room_ended).into_any(),
                                    }}
                                </span>
                            </span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
