//! What every request handler and server function can reach (`expect_context::<AppState>()`).

use crate::db::Db;
use crate::ratelimit::FailureLimiter;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<AppConfig>,
    pub login_failures_per_account: Arc<FailureLimiter>,
    pub login_failures_per_ip: Arc<FailureLimiter>,
    pub room_password_failures_per_user: Arc<FailureLimiter>,
    pub room_password_failures_per_room: Arc<FailureLimiter>,
    /// The rooms with sockets on this node (the room channel).
    pub hub: Arc<crate::rooms::channel::Hub>,
}

/// Settings the app itself needs (the server's flags carry the rest).
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Used to build share links, e.g. `https://kino.example.org`.
    pub public_url: String,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_failure_window: Duration,
    /// Wrong room passwords (or keys) one person may try on one room, and everyone together on
    /// one room, per `login_failure_window`.
    pub room_password_max_failures_per_user: u32,
    pub room_password_max_failures_per_room: u32,
    /// Chat messages and reactions per person and room: the average rate and the burst.
    pub chat_per_second: f64,
    pub chat_burst: f64,
    /// How long a room waits for a participant whose video stalls (zero: never waits).
    pub buffer_wait: Duration,
}

impl AppConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 30,
            login_failure_window: Duration::from_secs(15 * 60),
            room_password_max_failures_per_user: 5,
            room_password_max_failures_per_room: 20,
            chat_per_second: 2.0,
            chat_burst: 8.0,
            buffer_wait: Duration::from_secs(10),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, db: Db, config: AppConfig) -> Self {
        Self {
            login_failures_per_account: Arc::new(FailureLimiter::new(
                config.login_max_failures_per_account,
                config.login_failure_window,
            )),
            login_failures_per_ip: Arc::new(FailureLimiter::new(
                config.login_max_failures_per_ip,
                config.login_failure_window,
            )),
            room_password_failures_per_user: Arc::new(FailureLimiter::new(
                config.room_password_max_failures_per_user,
                config.login_failure_window,
            )),
            room_password_failures_per_room: Arc::new(FailureLimiter::new(
                config.room_password_max_failures_per_room,
                config.login_failure_window,
            )),
            hub: Arc::default(),
            leptos_options,
            db,
            config: Arc::new(config),
        }
    }
}
