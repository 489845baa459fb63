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
        AppError::UsernameTaken => t!(i18n, err_username_taken).into_any(),
        AppError::WrongCredentials => t!(i18n, err_wrong_credentials).into_any(),
        AppError::RateLimited { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60);
            t!(i18n, err_rate_limited, minutes = move || minutes).into_any()
        }
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
