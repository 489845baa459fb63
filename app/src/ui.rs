//! Small pieces every page may use: error messages in the user's language, the error pages,
//! the page title, copy buttons, avatars. Base layer: uses no feature.

use crate::error::{AppError, Invalid};
use crate::i18n::*;
use leptos::prelude::*;

/// One sentence for an error, in the current language.
#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    let i18n = use_i18n();
    match error {
        AppError::NotFound => t!(i18n, err_not_found).into_any(),
        AppError::Unauthorized => t!(i18n, err_unauthorized).into_any(),
        AppError::Forbidden => t!(i18n, err_forbidden).into_any(),
        AppError::Invalid(Invalid::UsernameFormat) => t!(i18n, username_hint).into_any(),
        AppError::Invalid(Invalid::DisplayNameLength) => {
            t!(i18n, err_display_name_length).into_any()
        }
        AppError::Invalid(Invalid::DisplayNameCharacters) => {
            t!(i18n, err_display_name_chars).into_any()
        }
        AppError::Invalid(Invalid::PasswordTooShort) => t!(i18n, err_password_short).into_any(),
        AppError::Invalid(Invalid::PasswordTooLong) => t!(i18n, err_password_long).into_any(),
        AppError::Invalid(Invalid::WrongCurrentPassword) => {
            t!(i18n, err_wrong_current_password).into_any()
        }
        AppError::Invalid(Invalid::SearchTooLong) => t!(i18n, err_search_too_long).into_any(),
        AppError::Invalid(Invalid::UnknownGenre) => t!(i18n, err_unknown_genre).into_any(),
        AppError::Invalid(Invalid::ReviewLength) => t!(i18n, err_review_length).into_any(),
        AppError::Invalid(Invalid::UnknownReaction) | AppError::Invalid(Invalid::PlayerEvent) => {
            t!(i18n, err_request).into_any()
        }
        AppError::Invalid(Invalid::SelfFriend) => t!(i18n, err_self_friend).into_any(),
        AppError::Invalid(Invalid::NotAFriend) => t!(i18n, err_not_a_friend).into_any(),
        AppError::Invalid(Invalid::RoomName) => t!(i18n, err_room_name).into_any(),
        AppError::Invalid(Invalid::ParticipantLimit) => t!(i18n, err_participant_limit).into_any(),
        AppError::Invalid(Invalid::RoomPasswordLength) => {
            t!(i18n, err_room_password_length).into_any()
        }
        AppError::Invalid(Invalid::StartsAt) => t!(i18n, err_starts_at).into_any(),
        AppError::Invalid(Invalid::DateRange) => t!(i18n, err_date_range).into_any(),
        AppError::Invalid(Invalid::SelfRemove) => t!(i18n, err_self_remove).into_any(),
        AppError::Invalid(Invalid::FilmTitle) => t!(i18n, err_film_title).into_any(),
        AppError::Invalid(Invalid::FilmYear) => t!(i18n, err_film_year).into_any(),
        AppError::Invalid(Invalid::FilmText) => t!(i18n, err_film_text).into_any(),
        AppError::Invalid(Invalid::Countries) => t!(i18n, err_countries).into_any(),
        AppError::Invalid(Invalid::VideoSource) => t!(i18n, err_video_source).into_any(),
        AppError::Invalid(Invalid::VideoUrl) => t!(i18n, err_video_url).into_any(),
        AppError::Invalid(Invalid::SubtitlesFile) => t!(i18n, err_subtitles_file).into_any(),
        AppError::Invalid(Invalid::PosterFile) => t!(i18n, err_poster_file).into_any(),
        AppError::WrongRoomPassword => t!(i18n, err_wrong_room_password).into_any(),
        AppError::RoomFull { max } => t!(i18n, err_room_full, max = move || max).into_any(),
        AppError::RoomEnded => t!(i18n, err_room_ended).into_any(),
        AppError::OverQuota { quota_mb, left_mb } => t!(
            i18n,
            err_over_quota,
            quota = move || quota_mb,
            left = move || left_mb
        )
        .into_any(),
        AppError::UsernameTaken => t!(i18n, err_username_taken).into_any(),
        AppError::WrongCredentials => t!(i18n, err_wrong_credentials).into_any(),
        AppError::RateLimited { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60);
            t!(i18n, err_rate_limited, minutes = move || minutes).into_any()
        }
        AppError::Busy { .. } => t!(i18n, err_busy).into_any(),
        AppError::CrossSite => t!(i18n, err_cross_site).into_any(),
        AppError::Conflict => t!(i18n, err_conflict).into_any(),
        AppError::Internal => t!(i18n, err_internal).into_any(),
        AppError::Request(_) => t!(i18n, err_request).into_any(),
    }
}

/// The error of a form's last submission, announced to screen readers.
#[component]
pub fn ErrorText(#[prop(into)] result: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
    view! {
        {move || match result.get() {
            Some(Err(error)) => {
                Some(view! { <Alert error /> })
            }
            _ => None,
        }}
    }
}

/// Like `ErrorText`, plus a "Saved" note after success.
#[component]
pub fn FieldError(#[prop(into)] result: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        {move || match result.get() {
            Some(Err(error)) => {
                view! { <Alert error /> }.into_any()
            }
            Some(Ok(())) => view! { <p class="ok" role="status">{t!(i18n, saved)}</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// The page's `<title>`: the one way pages set it. leptos_meta writes a title's text into the
/// server-rendered `<head>` without escaping it, so a room or a person named
/// `</title><script>…` would become markup there; on the server the text is escaped here and
/// read once, while the page renders (a reactive value read later, after the page's owner is
/// gone, panics). In the browser the title stays reactive: `document.title` takes plain text.
#[component]
pub fn PageTitle(#[prop(into)] text: Signal<String>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let text = html_escape::encode_text(&text.get_untracked()).into_owned();
    #[cfg(not(feature = "ssr"))]
    let text = move || text.get();
    view! { <leptos_meta::Title text /> }
}

/// An action's or a resource's error, as an alert (nothing while it is pending or fine).
pub fn alert<T, S>(value: S) -> impl IntoView
where
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(error)) => Some(view! { <Alert error /> }),
        _ => None,
    }
}

/// One error, announced to screen readers.
#[component]
pub fn Alert(error: AppError) -> impl IntoView {
    view! { <p class="error" role="alert"><ErrorMessage error /></p> }
}

/// Copies `text` to the clipboard (a no-op where the browser does not allow it).
pub fn copy_to_clipboard(text: &str) {
    let clipboard = window().navigator().clipboard();
    let _ = clipboard.write_text(text);
}

/// A button that copies `text` and then says "Copied" beside itself.
#[component]
pub fn CopyButton(
    text: String,
    #[prop(default = "small")] class: &'static str,
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    view! {
        <button
            type="button"
            class=class
            on:click=move |_| {
                copy_to_clipboard(&text);
                copied.set(true);
            }
        >
            {children()}
        </button>
        <Show when=move || copied.get()>
            <span class="ok" role="status">" " {t!(i18n, copied)}</span>
        </Show>
    }
}

/// Up to two capital letters of a name: `Пётр Ильич Чайковский` → `ПИ`.
pub fn initials(display_name: &str) -> String {
    display_name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// A person's initials in a circle; `class` adds a state (`online`, `in-room`).
#[component]
pub fn Avatar(name: String, #[prop(optional)] class: &'static str) -> impl IntoView {
    let class = if class.is_empty() {
        "avatar".to_owned()
    } else {
        format!("avatar {class}")
    };
    view! {
        <span class=class title=name.clone() aria-hidden="true">
            {initials(&name)}
        </span>
    }
}

#[cfg(feature = "ssr")]
fn set_status(code: http::StatusCode) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(code);
    }
}

/// Gives the page the error's HTTP status (while rendering on the server; nothing in the
/// browser). Only what stops a page's main content should: a side panel's failure leaves the
/// page's status alone.
pub fn page_status(error: &AppError) {
    #[cfg(feature = "ssr")]
    set_status(
        http::StatusCode::from_u16(error.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    #[cfg(not(feature = "ssr"))]
    let _ = error;
}

/// The error that stopped a page's main content, in its place; the page answers with the
/// error's status.
#[component]
pub fn PageAlert(error: AppError) -> impl IntoView {
    page_status(&error);
    view! { <Alert error /> }
}

/// The page for an error that stops a whole page: 404 for `NotFound`, 403 for `Forbidden`,
/// 500 for the rest. Sets the HTTP status while rendering on the server.
#[component]
pub fn PageError(error: AppError) -> impl IntoView {
    match error {
        AppError::NotFound => view! { <NotFound /> }.into_any(),
        AppError::Forbidden => view! { <Forbidden /> }.into_any(),
        _ => view! { <ServerError /> }.into_any(),
    }
}

#[component]
fn ErrorPage(code: u16, title: AnyView, text: AnyView) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="card narrow error-page">
            <p class="code">{code}</p>
            <h1>{title}</h1>
            <p class="muted">{text}</p>
            <a class="button primary" href="/">
                {t!(i18n, go_home)}
            </a>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(http::StatusCode::NOT_FOUND);
    let i18n = use_i18n();
    view! {
        <ErrorPage
            code=404
            title=t!(i18n, not_found_title).into_any()
            text=t!(i18n, not_found_text).into_any()
        />
    }
}

#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(http::StatusCode::FORBIDDEN);
    let i18n = use_i18n();
    view! {
        <ErrorPage
            code=403
            title=t!(i18n, forbidden_title).into_any()
            text=t!(i18n, forbidden_text).into_any()
        />
    }
}

#[component]
pub fn ServerError() -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
    let i18n = use_i18n();
    view! {
        <ErrorPage
            code=500
            title=t!(i18n, server_error_title).into_any()
            text=t!(i18n, server_error_text).into_any()
        />
    }
}

/// Is a key meant for a text field (the chat's, a search) rather than a page's shortcut? A
/// checkbox, radio button, slider or button with the focus is not one.
pub fn typing_into_field(e: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    let Some(el) = e
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return false;
    };
    match el.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => true,
        "INPUT" => !matches!(
            el.get_attribute("type").as_deref(),
            Some("checkbox" | "radio" | "range" | "button")
        ),
        _ => el.has_attribute("contenteditable"),
    }
}
