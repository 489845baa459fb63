//! `/r/<code>`: what the room page shows before the room itself — the guest's landing, the
//! password, a refusal — and the page's meta tags.

use super::domain::Phase;
use super::view::RoomView;
use super::*;
use crate::catalog::FilmCard;
use crate::dates::LocalTime;
use crate::error::AppError;
use crate::i18n::*;
use crate::links::with_next;
use crate::ui::{Alert, ErrorMessage, PageTitle};
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

/// Loads the page afresh: after entering a room (or changing who is in it) the server renders
/// what the member now sees.
pub(super) fn reload() {
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
                    Err(AppError::NotFound) => view! { <crate::ui::NotFound /> }.into_any(),
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
pub(super) fn RoomMeta(
    film: Option<FilmCard>,
    owner: Option<String>,
    starts_at: Option<i64>,
    image: Option<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let title = Memo::new(move |_| invite_title(&film, &owner));
    let description = Memo::new(move |_| match starts_at {
        Some(at) => {
            let when = crate::dates::date_time_utc(at, i18n.get_locale());
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
                Some(Err(error)) => Some(view! { <Alert error /> }),
                _ => None,
            }}
        </section>
    }
}

/// The room said no: full, or I was removed.
#[component]
fn RoomRefusal(error: AppError) -> impl IntoView {
    let i18n = use_i18n();
    crate::ui::page_status(&error);
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
