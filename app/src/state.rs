//! The server's state: every part the handlers need, made once at start-up. The server gives
//! axum handlers the parts through `FromRef`, and server functions through leptos' context
//! (`crate::context`); no feature names `AppState`, so this module can see them all.

use crate::config::AppConfig;
use crate::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<AppConfig>,
    /// Password hashing: a few at a time, so a burst of registrations cannot eat the memory.
    pub hashing: Arc<crate::accounts::hashing::HashPool>,
    /// The rooms with sockets on this node (the room channel).
    pub hub: Arc<crate::rooms::channel::Hub>,
    /// Where ended sessions are announced (their room sockets close).
    pub sign_outs: crate::accounts::session::SignOuts,
    /// The media library: its directory, uploads in progress, the workers' bell.
    pub library: Arc<crate::library::ssr::Library>,
    /// This node's media server for the rooms' voice and camera calls (none: calls are off).
    pub calls: Option<kino_rtc::MediaServer>,
    /// Analytics events waiting to be written (page views, sign-ins).
    pub analytics: Arc<crate::events::Recorder>,
}

/// Each part an axum handler may extract with `State<Part>`.
macro_rules! parts {
    ($($field:ident: $part:ty),* $(,)?) => {$(
        impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        }
    )*};
}

parts! {
    leptos_options: LeptosOptions,
    db: Db,
    config: Arc<AppConfig>,
    hashing: Arc<crate::accounts::hashing::HashPool>,
    hub: Arc<crate::rooms::channel::Hub>,
    sign_outs: crate::accounts::session::SignOuts,
    library: Arc<crate::library::ssr::Library>,
    analytics: Arc<crate::events::Recorder>,
}

impl FromRef<AppState> for crate::library::uploads::LibraryParts {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            library: state.library.clone(),
        }
    }
}

impl FromRef<AppState> for crate::rooms::channel::Parts {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            hub: state.hub.clone(),
            config: state.config.clone(),
            sign_outs: state.sign_outs.clone(),
            calls: state.calls.clone(),
        }
    }
}

impl AppState {
    /// Puts each part into the request's leptos context, where `crate::context` and the
    /// features' own helpers find them (each a cheap handle, not a copy of the whole state).
    pub fn provide_parts(&self) {
        use leptos::prelude::provide_context;
        provide_context(self.leptos_options.clone());
        provide_context(self.db.clone());
        provide_context(self.config.clone());
        provide_context(self.hashing.clone());
        provide_context(self.hub.clone());
        provide_context(self.sign_outs.clone());
        provide_context(self.library.clone());
        provide_context(self.calls.clone());
        provide_context(self.analytics.clone());
    }

    pub fn new(leptos_options: LeptosOptions, db: Db, config: AppConfig) -> Self {
        Self {
            hashing: Arc::new(crate::accounts::hashing::HashPool::new(
                config.hashing_threads,
                config.hashing_queue,
            )),
            hub: Arc::default(),
            sign_outs: Default::default(),
            library: Arc::new(crate::library::ssr::Library::new(&config.media)),
            calls: None,
            analytics: crate::events::Recorder::new(),
            leptos_options,
            db,
            config: Arc::new(config),
        }
    }
}
