//! Kino's pages, components and server functions, shared by the server (feature `ssr`) and the
//! browser (feature `hydrate`). Features live in folders: `accounts/`, `catalog/`, `opinions/`
//! (likes, reviews), `playback/` (where I stopped), `friends/` (and the "Watch together"
//! match), `rooms/`, `notifications/`.

// The base layer: used by every feature, uses none of them.
pub mod codes;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod context;
pub mod dates;
#[cfg(feature = "ssr")]
pub mod db;
pub mod error;
pub mod icons;
pub mod links;
#[cfg(feature = "ssr")]
pub mod ratelimit;
#[cfg(feature = "ssr")]
pub mod session_store;
pub mod sync;
pub mod text;
pub mod ui;

// The features, each in its folder; see docs/ARCHITECTURE.md for which may use which.
pub mod accounts;
pub mod catalog;
pub mod friends;
pub mod library;
pub mod notifications;
pub mod opinions;
pub mod playback;
pub mod rooms;

// What composes the features: the pages made of several, the header, the server's state.
pub mod layout;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

use crate::i18n::*;
use crate::ui::PageTitle;
use accounts::{Auth, LoginPage, ProfilePage, RegisterPage};
use catalog::{CatalogPage, Watchlist, WatchlistPage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use pages::{FilmPage, HomePage};
use playback::WatchedPage;
use ui::NotFound;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <I18nContextProvider>
            <AppBody />
        </I18nContextProvider>
    }
}

#[component]
fn AppBody() -> impl IntoView {
    let i18n = use_i18n();
    Auth::provide();
    Watchlist::provide();
    let tick = notifications::provide_tick();
    friends::FriendRequests::provide(tick);
    notifications::Notifications::provide(tick);
    view! {
        <Stylesheet id="leptos" href="/pkg/kino.css" />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <PageTitle text=move || t_string!(i18n, app_name).to_string() />
        <Meta name="description" content=move || t_string!(i18n, home_lead).to_string() />
        <Router>
            <layout::Header />
            <main class="page">
                // Async: the whole page is rendered before the first byte, so the status code
                // and the <head> tags can depend on what the page loads.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async />
                    <Route path=path!("/films") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/films/:id") view=FilmPage ssr=SsrMode::Async />
                    <Route path=path!("/films/:id/edit") view=library::EditFilmPage ssr=SsrMode::Async />
                    <Route path=path!("/library") view=library::LibraryPage ssr=SsrMode::Async />
                    <Route path=path!("/library/new") view=library::AddFilmPage ssr=SsrMode::Async />
                    <Route path=path!("/watchlist") view=WatchlistPage ssr=SsrMode::Async />
                    <Route path=path!("/watched") view=WatchedPage ssr=SsrMode::Async />
                    <Route path=path!("/friends") view=friends::FriendsPage ssr=SsrMode::Async />
                    <Route path=path!("/friends/:username") view=friends::FriendPage ssr=SsrMode::Async />
                    <Route path=path!("/f/:code") view=friends::InvitePage ssr=SsrMode::Async />
                    <Route path=path!("/r/:code") view=rooms::RoomPage ssr=SsrMode::Async />
                    <Route path=path!("/rooms/new") view=rooms::NewRoomPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/notifications")
                        view=notifications::NotificationsPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="site-footer">
                <p class="muted">{t!(i18n, footer)}</p>
            </footer>
        </Router>
    }
}
