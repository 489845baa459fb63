//! Rooms: "Watch together" on a film page starts one with the friends I pick; the short link
//! `/r/<code>` leads into it. (Private and scheduled rooms and the lifecycle come with the rooms
//! issue; synchronized playback and chat with the room channel.)

#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::{login_link, use_auth};
use crate::catalog::FilmCard;
use crate::error::AppError;
use crate::friends::{copy_to_clipboard, Avatar, MatchFriend, Person};
use crate::i18n::*;
use crate::ui::ErrorMessage;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub person: Person,
    pub owner: bool,
    pub joined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub code: String,
    /// The full short link, built from the configured public URL.
    pub url: String,
    pub film: FilmCard,
    pub members: Vec<Member>,
}

/// Starts a room for the film with the chosen friends invited; returns its short code.
#[server(endpoint = "rooms/start")]
pub async fn start_session(film_id: String, friends: Vec<String>) -> Result<String, AppError> {
    crate::accounts::ssr::respond(ssr::start_session(&film_id, &friends).await)
}

#[server(endpoint = "rooms/open")]
pub async fn open_room(code: String) -> Result<RoomView, AppError> {
    crate::accounts::ssr::respond(ssr::open_room(&code).await)
}

/// The film page's "Watch together": a panel listing my friends — those who want this film
/// first, marked — each a checkbox; "Start session" creates the room and goes there.
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
        start.dispatch(StartSession {
            film_id: film.get_value(),
            friends: chosen.get_untracked().into_iter().collect(),
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
                                    <button type="submit" class="primary" disabled=move || start.pending().get()>
                                        {t!(i18n, start_session)}
                                    </button>
                                }.into_any(),
                                Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                            }
                        })}
                    </Transition>
                    {move || match start.value().get() {
                        Some(Err(error)) => Some(view! { <p class="error" role="alert"><ErrorMessage error /></p> }),
                        _ => None,
                    }}
                </form>
            </Show>
        </div>
    }
}

/// `/r/<code>`: the room. A guest is sent to log in (or register) and straight back.
#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let room = Resource::new(move || code.get(), open_room);
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match room.await {
                    Ok(room) => view! { <RoomView room /> }.into_any(),
                    Err(AppError::Unauthorized) => {
                        let here = format!("/r/{}", code.get_untracked());
                        view! { <leptos_router::components::Redirect path=login_link(&here) /> }.into_any()
                    }
                    Err(AppError::NotFound) => view! { <crate::pages::NotFound /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RoomView(room: RoomView) -> impl IntoView {
    let i18n = use_i18n();
    let film = room.film.clone();
    let title = {
        let film = film.clone();
        move || film.title(i18n.get_locale()).to_owned()
    };
    let page_title = {
        let title = title.clone();
        move || format!("{} — {}", title(), t_string!(i18n, app_name))
    };
    let heading = title.clone();
    let copied = RwSignal::new(false);
    let url = room.url.clone();
    view! {
        <Title text=page_title />
        <Meta property="og:title" content=title.clone() />
        <section class="room">
            <div class="room-main">
                <h1>{t!(i18n, room_title, film = move || heading())}</h1>
                <img class="room-poster" src=film.poster_url() alt="" width="300" height="450" />
                <p class="muted">{t!(i18n, room_sync_soon)}</p>
                <A href=format!("/films/{}", film.id)>{t!(i18n, open_film)}</A>
            </div>
            <aside class="room-side">
                <h2>{t!(i18n, room_link)}</h2>
                <p class="share-link"><code>{room.url.clone()}</code></p>
                <button
                    type="button"
                    class="primary small"
                    on:click=move |_| {
                        copy_to_clipboard(&url);
                        copied.set(true);
                    }
                >
                    {t!(i18n, copy_link)}
                </button>
                <Show when=move || copied.get()>
                    <span class="ok" role="status">" " {t!(i18n, copied)}</span>
                </Show>
                <h2 id="participants-title">{t!(i18n, participants)}</h2>
                <ul class="people" aria-labelledby="participants-title">
                    {room.members.into_iter().map(|m| view! {
                        <li class="person">
                            <Avatar person=m.person.clone() />
                            <span class="person-name">
                                <strong>{m.person.display_name.clone()}</strong>
                                {m.owner.then(|| view! { <span class="chip">{t!(i18n, owner)}</span> })}
                                {(!m.joined).then(|| view! { <span class="muted">" · " {t!(i18n, invited)}</span> })}
                            </span>
                        </li>
                    }).collect_view()}
                </ul>
            </aside>
        </section>
    }
}
