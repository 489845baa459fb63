//! Home and the error pages. The error pages set their HTTP status while rendering on the server.

use crate::accounts::use_auth;
use crate::i18n::*;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn set_status(code: http::StatusCode) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(code);
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    view! {
        <section class="hero">
            <h1>{t!(i18n, home_title)}</h1>
            <p class="lead">{t!(i18n, home_lead)}</p>
            <Suspense>
                {move || Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(user)) => {
                            let name = user.display_name;
                            view! {
                                <p class="welcome">{t!(i18n, home_welcome, name = move || name.clone())}</p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <div class="actions">
                                    <a class="button primary" href="/register">
                                        {t!(i18n, register)}
                                    </a>
                                    <a class="button" href="/login">
                                        {t!(i18n, log_in)}
                                    </a>
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
        <crate::playback::ContinueWatching />
        <crate::friends::WatchWithFriends />
        <crate::rooms::HomeRoomLists />
        <section class="features">
            <article>
                <h2>{t!(i18n, feature_sync_title)}</h2>
                <p>{t!(i18n, feature_sync_text)}</p>
            </article>
            <article>
                <h2>{t!(i18n, feature_friends_title)}</h2>
                <p>{t!(i18n, feature_friends_text)}</p>
            </article>
            <article>
                <h2>{t!(i18n, feature_chat_title)}</h2>
                <p>{t!(i18n, feature_chat_text)}</p>
            </article>
        </section>
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
