//! The room channel: `GET /ws/rooms/<code>`, one websocket per participant.
//!
//! Every change (playback commands, chat, reactions, joins and leaves, the owner's settings, the
//! end) is written as the room's next event and only then broadcast. Three parts:
//! - `hub`: this node's memory of its rooms — the broadcast to their sockets, who is connected,
//!   the rate limits, sign-outs, and the decisions about holding playback for a stalled player;
//! - `log`: the only writer of `room_events` (and of the room state an event changes), one path
//!   from the room's lock to the broadcast; `commit` writes the plain events of all the node's
//!   rooms that wait at one moment in one transaction (group commit);
//! - `admission` lets a member open a socket, and `socket` serves their connection;
//! - `cluster`: with several nodes on PostgreSQL, how each hears the others' events, presence
//!   and sign-outs (with one node it does not run).
//!
//! On one node a per-room lock around "write, commit, broadcast" makes the broadcast order the
//! sequence order; a client that falls behind the broadcast buffer is resent what it missed from
//! the database. A client says which sequence it saw last whenever it (re)connects and gets the
//! state and everything after it.

mod admission;
pub mod call_home;
pub mod cluster;
mod commit;
mod hub;
mod log;
mod queue;
mod socket;

pub use admission::upgrade;
pub use hub::{Drain, Hub};
pub use log::{append, apply, end_room, write_control, write_event, LogError, RoomUpdate, Written};
pub use queue::{start_due, state as queue_state};

use crate::accounts::session::SignOuts;
use crate::config::AppConfig;
use crate::db::Db;
use std::sync::Arc;

/// What the channel needs of the server: the database, this node's rooms, the settings and
/// where ended sessions are announced. Axum handlers extract it from the server's state; server
/// functions take it from their context (`Parts::from_context`).
#[derive(Clone)]
pub struct Parts {
    pub db: Db,
    pub hub: Arc<Hub>,
    pub config: Arc<AppConfig>,
    pub sign_outs: SignOuts,
    /// This node's media server for the room's call, when calls are on.
    pub calls: Option<kino_rtc::MediaServer>,
}

impl Parts {
    pub fn from_context() -> Self {
        use leptos::prelude::expect_context;
        Self {
            db: expect_context(),
            hub: expect_context(),
            config: expect_context(),
            sign_outs: expect_context(),
            calls: leptos::prelude::use_context::<Option<kino_rtc::MediaServer>>().flatten(),
        }
    }
}
