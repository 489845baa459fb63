//! The film page's "Watch together" panel: friends to invite and the room's settings.

use super::*;
use crate::accounts::SignedIn;
use crate::error::AppError;
use crate::friends::{Avatar, MatchFriend};
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{alert, Alert};
use leptos::prelude::*;
use leptos_router::components::A;
use std::collections::BTreeSet;

/// Reads a `datetime-local` value ("2026-11-22T20:00") as the browser's local time.
pub(super) fn local_input_to_ms(value: &str) -> Option<i64> {
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
    let start = ServerAction::<StartSession>::new();
    let chosen = RwSignal::new(BTreeSet::<String>::new());
    let private = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    let limit = RwSignal::new(domain::DEFAULT_LIMIT.to_string());
    let choose = RwSignal::new(false);
    let here = format!("/films/{film_id}?together=1");
    let film = StoredValue::new(film_id);
    Effect::new(move |_| {
        if let Some(Ok(code)) = start.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/r/{code}"), Default::default());
        }
    });
    // The session starts with this page's film, or with one of the group's ideas.
    let start_with = move |film_id: String| {
        let is_private = private.get_untracked();
        start.dispatch(StartSession {
            film_id,
            friends: chosen.get_untracked().into_iter().collect(),
            private: is_private,
            password: is_private.then(|| password.get_untracked()),
            starts_at: local_input_to_ms(&starts.get_untracked()),
            max_participants: limit.get_untracked().trim().parse().ok(),
            choose: choose.get_untracked(),
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        start_with(film.get_value());
    };
    let pick = Callback::new(start_with);
    let guest = move || {
        view! { <a class="button primary" href=login_link(&here)>{t!(i18n, watch_together)}</a> }
    };
    view! {
        <div class="watch-together">
            <SignedIn guest>
                <button
                    type="button"
                    class="primary"
                    aria-expanded=move || open.get().to_string()
                    aria-controls="together-panel"
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    {t!(i18n, watch_together)}
                </button>
            </SignedIn>
            <Show when=move || open.get()>
                <form id="together-panel" class="together-panel" on:submit=submit>
                    <FriendChoices friends chosen />
                    <crate::recs::GroupIdeas chosen pick />
                    <div class="check">
                        <input
                            type="checkbox"
                            id="together-choose"
                            prop:checked=move || choose.get()
                            on:change=move |ev| choose.set(event_target_checked(&ev))
                        />
                        <label for="together-choose">{t!(i18n, choose_together)}</label>
                    </div>
                    <RoomSettings private password starts limit />
                    <button type="submit" class="primary" disabled=move || start.pending().get()>
                        {move || if chosen.with(BTreeSet::is_empty) {
                            t_string!(i18n, create_room)
                        } else {
                            t_string!(i18n, start_session)
                        }}
                    </button>
                    {alert(start.value())}
                </form>
            </Show>
        </div>
    }
}

/// My friends, those who want this film first and marked, each a checkbox.
#[component]
fn FriendChoices(
    friends: Resource<Result<Vec<MatchFriend>, AppError>>,
    chosen: RwSignal<BTreeSet<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let choice = move |m: MatchFriend| {
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
                    if on {
                        c.insert(id.clone());
                    } else {
                        c.remove(&id);
                    }
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
    };
    view! {
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
                            <ul class="people">{list.into_iter().map(choice).collect_view()}</ul>
                        </fieldset>
                    }.into_any(),
                    Err(error) => view! { <Alert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Private (with a password), when it starts, how many may come.
#[component]
pub(super) fn RoomSettings(
    private: RwSignal<bool>,
    password: RwSignal<String>,
    starts: RwSignal<String>,
    limit: RwSignal<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
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
    }
}
