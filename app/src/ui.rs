//! Small pieces the pages share: error messages in the user's language.

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
        AppError::Invalid(Invalid::SelfRemove) => t!(i18n, err_self_remove).into_any(),
        AppError::WrongRoomPassword => t!(i18n, err_wrong_room_password).into_any(),
        AppError::RoomFull { max } => t!(i18n, err_room_full, max = move || max).into_any(),
        AppError::RoomEnded => t!(i18n, err_room_ended).into_any(),
        AppError::UsernameTaken => t!(i18n, err_username_taken).into_any(),
        AppError::WrongCredentials => t!(i18n, err_wrong_credentials).into_any(),
        AppError::RateLimited { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60);
            t!(i18n, err_rate_limited, minutes = move || minutes).into_any()
        }
        AppError::Busy { .. } => t!(i18n, err_busy).into_any(),
        AppError::CrossSite => t!(i18n, err_cross_site).into_any(),
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
                Some(view! { <p class="error" role="alert"><ErrorMessage error /></p> })
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
                view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any()
            }
            Some(Ok(())) => view! { <p class="ok" role="status">{t!(i18n, saved)}</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// A moment as "22.11.2026 17:00 UTC" (ru) or "Nov 22, 2026 17:00 UTC": what the server can
/// render without knowing the reader's time zone.
pub fn date_time_utc(ms: i64, locale: Locale) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return String::new();
    };
    format!(
        "{} {:02}:{:02} UTC",
        crate::opinions::date_text(ms, locale),
        at.hour(),
        at.minute()
    )
}

/// The same moment in the browser's own time zone and language (`None` on the server).
pub fn date_time_local(ms: i64, locale: Locale) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use web_sys::wasm_bindgen::JsValue;
        let options = js_sys::Object::new();
        for (key, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
            js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value))
                .ok()?;
        }
        let tag = match locale {
            Locale::ru => "ru-RU",
            _ => "en-GB",
        };
        let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
        date.to_locale_string(tag, &options).as_string()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ms, locale);
        None
    }
}

/// A `<time>`: rendered in UTC on the server, then shown in the reader's own time zone once the
/// page runs in the browser (after hydration, so both renders agree first).
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let i18n = use_i18n();
    let local = RwSignal::new(None::<String>);
    Effect::new(move |_| local.set(date_time_local(ms, i18n.get_locale())));
    let iso = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            format!(
                "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    view! {
        <time datetime=iso>
            {move || local.get().unwrap_or_else(|| date_time_utc(ms, i18n.get_locale()))}
        </time>
    }
}

/// Milliseconds since the epoch by the browser's clock (the server's own on the server).
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
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
