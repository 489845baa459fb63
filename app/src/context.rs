//! What a server function or a page's server side reaches in leptos' context: the database and
//! the settings. The server provides each part to every request (`kino_server::router`);
//! features ask through these helpers instead of cloning the whole server state. Base layer.

use crate::config::AppConfig;
use crate::db::Db;
use leptos::prelude::expect_context;
use std::sync::Arc;

/// The database pool (cheap to clone: a handle).
pub fn db() -> Db {
    expect_context::<Db>()
}

/// The app's settings.
pub fn config() -> Arc<AppConfig> {
    expect_context::<Arc<AppConfig>>()
}
