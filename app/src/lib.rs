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
#[cfg(feature = "ssr")]
pub mod events;
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
pub mod analytics;
pub mod catalog;
pub mod friends;
pub mod library;
pub mod notifications;
pub mod opinions;
pub mod playback;
pub mod recs;
pub mod rooms;

// What composes the features: the pages made of several, the header, the server's state.
pub mod layout;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;
pub mod status;

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

use crate::i18n::*;
use crate::ui::PageTitle;
use accounts::{Auth, LoginPage, RegisterPage};
use analytics::AnalyticsPage;
use catalog::{CatalogPage, Watchlist, WatchlistPage};
use friends::{FriendPage, FriendsPage, InvitePage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};
use library::{AddFilmPage, EditFilmPage, LibraryPage};
use notifications::NotificationsPage;
use pages::{FilmPage, HomePage, ProfilePage};
use playback::WatchedPage;
use rooms::{NewRoomPage, RoomPage};
use status::StatusPage;
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
                    <Route path=path!("/profile") view={Lazy::<ProfileRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/films") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/films/:id") view=FilmPage ssr=SsrMode::Async />
                    <Route path=path!("/films/:id/edit") view={Lazy::<EditFilmRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/library") view={Lazy::<LibraryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/library/new") view={Lazy::<AddFilmRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/watchlist") view=WatchlistPage ssr=SsrMode::Async />
                    <Route path=path!("/watched") view=WatchedPage ssr=SsrMode::Async />
                    <Route path=path!("/friends") view=FriendsPage ssr=SsrMode::Async />
                    <Route path=path!("/friends/:username") view=FriendPage ssr=SsrMode::Async />
                    <Route path=path!("/f/:code") view=InvitePage ssr=SsrMode::Async />
                    <Route path=path!("/r/:code") view={Lazy::<RoomRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/rooms/new") view={Lazy::<NewRoomRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/status") view={Lazy::<StatusRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/analytics") view={Lazy::<AnalyticsRoute>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/notifications")
                        view=NotificationsPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="site-footer">
                <p class="muted">
                    {t!(i18n, footer)} " · " <a href="/status">{t!(i18n, footer_status)}</a>
                </p>
            </footer>
        </Router>
    }
}

/// The room, the library's pages and the profile are lazy routes: their code is a chunk of the
/// browser's WASM that is loaded when such a page is opened (the server's HTML preloads the open
/// page's chunks), so nobody downloads the room's channel, chat and call to read a film page, the
/// admin pages ever, or the profile's forms and hidden films on every visit. The other pages stay in the main module: made lazy one by one, every page shared code with
/// others in a different way and the split made 287 chunks (163 requests to open a room) that
/// compressed worse than the whole (docs/BENCHMARKS.md). `cargo xtask site` does the splitting;
/// `cargo xtask wasm-size` prints what each page needs.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    EditFilmRoute => EditFilmPage,
    LibraryRoute => LibraryPage,
    AddFilmRoute => AddFilmPage,
    RoomRoute => RoomPage,
    NewRoomRoute => NewRoomPage,
    ProfileRoute => ProfilePage,
    AnalyticsRoute => AnalyticsPage,
    StatusRoute => StatusPage,
}
