//! The header: app name, navigation, the user menu and the language switch.

use crate::accounts::use_auth;
use crate::i18n::*;
use crate::links::with_next;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let watchlist = crate::catalog::use_watchlist();
    let requests = expect_context::<crate::friends::FriendRequests>();
    let notifications = expect_context::<crate::notifications::Notifications>();
    let back = back_here();
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <span class="logo" aria-hidden="true">"▶"</span>
                <span>{t!(i18n, app_name)}</span>
            </A>
            <nav class="main-nav" aria-label=move || t_string!(i18n, nav_label).to_string()>
                <A href="/">{t!(i18n, nav_home)}</A>
                <A href="/films">{t!(i18n, films_title)}</A>
                <A href="/rooms/new">{t!(i18n, new_room)}</A>
            </nav>
            <div class="header-right">
                <LanguageSwitch />
                <Transition>
                    // One suspend for the menu and all its counts: a suspense nested inside it
                    // renders without the markers hydration looks for.
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => {
                                let wanted = watchlist.count.await.unwrap_or(0);
                                let requests = requests.count.await.unwrap_or(0);
                                let unread = notifications.unread.await.unwrap_or(0);
                                view! {
                                    <div class="user-menu">
                                        {user
                                            .is_admin
                                            .then(|| {
                                                view! {
                                                    <A href="/library">{t!(i18n, library_title)}</A>
                                                    <A href="/admin/analytics">{t!(i18n, analytics_title)}</A>
                                                }
                                            })}
                                        <crate::catalog::WatchlistLink count=wanted />
                                        <A href="/watched">{t!(i18n, watched_title)}</A>
                                        <FriendsLink count=requests />
                                        <crate::notifications::Bell count=unread />
                                        <A href="/profile" attr:class="user-name">
                                            {user.display_name}
                                        </A>
                                        <ActionForm action=auth.logout attr:class="inline">
                                            <button type="submit" class="ghost">
                                                {t!(i18n, log_out)}
                                            </button>
                                        </ActionForm>
                                    </div>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <div class="user-menu">
                                        <a href=move || with_next("/login", &back.get())>
                                            {t!(i18n, log_in)}
                                        </a>
                                        <a
                                            href=move || with_next("/register", &back.get())
                                            class="button primary small"
                                        >
                                            {t!(i18n, register)}
                                        </a>
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </header>
    }
}

/// Where the header's "Log in" and "Register" bring you back to: the page they were pressed on,
/// with its query and fragment (a private room's key rides in its fragment). On the log-in and
/// register pages themselves, wherever those were going to return.
fn back_here() -> Memo<String> {
    let location = leptos_router::hooks::use_location();
    Memo::new(move |_| {
        let path = location.pathname.get();
        if path == "/login" || path == "/register" {
            return location.query.with(|q| q.get("next").unwrap_or_default());
        }
        let search = location.search.get();
        let query = if search.is_empty() {
            String::new()
        } else {
            format!("?{search}")
        };
        let here = format!("{path}{query}{}", location.hash.get());
        if here == "/" {
            String::new()
        } else {
            here
        }
    })
}

/// Switches the language in place; leptos_i18n remembers the choice in a cookie, so the server
/// renders the next page in it too.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let button = move |locale: Locale, label: &'static str, title: &'static str| {
        view! {
            <button
                type="button"
                class="lang"
                lang=locale.as_str()
                title=title
                aria-pressed=move || (i18n.get_locale() == locale).to_string()
                on:click=move |_| i18n.set_locale(locale)
            >
                {label}
            </button>
        }
    };
    view! {
        <div class="lang-switch" role="group" aria-label="Language / Язык">
            {button(Locale::en, "EN", "English")}
            {button(Locale::ru, "RU", "Русский")}
        </div>
    }
}

/// The header's link to Friends with the number of requests waiting.
#[component]
fn FriendsLink(count: i64) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <A href="/friends" attr:class="friends-link">
            {t!(i18n, friends_title)}
            {(count > 0).then(|| view! { <span class="count">{count}</span> })}
        </A>
    }
}
