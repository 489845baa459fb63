//! The server's integration tests, in one binary (one link of the whole server instead of one
//! per file): each module speaks HTTP and websockets to a real server on 127.0.0.1:0 with a
//! fresh database — a temporary SQLite file, or, with KINO_TEST_POSTGRES_URL, a new PostgreSQL
//! database per test.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod analytics;
mod catalog;
mod channel;
mod friends;
mod library;
mod opinions;
mod own_videos;
mod playback;
mod queue;
mod recs;
mod rooms;
mod security;
