//! Rooms: "Watch together" on a film page creates one (public or private, now or scheduled) with
//! the friends I pick; the short link `/r/<code>` leads into it. The room page shows the film, the
//! participants, the link and the owner's controls; synchronized playback and the chat come with
//! the room channel.
//!
//! A private room's shared link carries its access key in the fragment, `/r/<code>#k=<key>`: a
//! fragment is never sent to any server — not ours (so it is in no access log), not a link
//! preview bot, not a `Referer` — yet the page reads it and enters with it. Without the key the
//! room asks for its password.

#[cfg(feature = "ssr")]
pub mod calendar;
#[cfg(feature = "ssr")]
pub mod channel;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod lifecycle;
pub mod live;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod ssr;

mod call;
mod chat;
mod lists;
mod new_room;
mod page;
mod player;
mod queue;
mod together;
mod view;

pub use lists::HomeRoomLists;
pub use new_room::NewRoomPage;
pub use page::RoomPage;
pub use together::WatchTogether;

use crate::catalog::{FilmCard, Rendition};
use crate::error::AppError;
use crate::friends::Person;
use domain::Phase;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub person: Person,
    pub owner: bool,
    pub joined: bool,
}

/// The room, as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub code: String,
    /// The full short link, built from the configured public URL.
    pub url: String,
    /// A private room's link with its access key (`…#k=<key>`): enough on its own to enter.
    pub key_url: Option<String>,
    pub name: String,
    pub film: FilmCard,
    pub renditions: Vec<Rendition>,
    /// Whether the video can be played yet (a room's own video is prepared first).
    pub video: crate::library::domain::Readiness,
    pub subtitles: Vec<crate::catalog::SubtitleTrack>,
    /// The seek previews' index (WebVTT), when the film has them.
    pub previews: Option<String>,
    pub share_image: String,
    pub owner_name: String,
    pub i_own: bool,
    pub private: bool,
    pub has_password: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    /// Retention deleted the chat and events of this ended room.
    pub purged: bool,
    pub controls_locked: bool,
    /// No film is on yet: the room is choosing one together (the stage shows the queue).
    pub choosing: bool,
    pub max_participants: i64,
    pub participants: i64,
    pub members: Vec<Member>,
    /// The server's clock when this was read (the countdown starts from it).
    pub server_now: i64,
}

/// What a link shows someone who is not (yet) in the room. For a private room: nothing but that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPreview {
    pub code: String,
    pub url: String,
    pub private: bool,
    pub has_password: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub name: Option<String>,
    pub film: Option<FilmCard>,
    pub owner: Option<String>,
    pub share_image: Option<String>,
    /// Signed in and free to join (invited, or a public room): the page joins with a POST once
    /// it runs, because a plain `GET` of a link never changes anything.
    #[serde(default)]
    pub joinable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomAccess {
    /// A member: the whole room.
    Member(RoomView),
    /// Not signed in: log in or register and come back.
    Guest(RoomPreview),
    /// Signed in but not admitted: a private room (password or key) or one that has ended.
    Locked(RoomPreview),
}

/// A room in a list on Home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub code: String,
    pub name: String,
    pub film: FilmCard,
    pub private: bool,
    pub phase: Phase,
    pub starts_at: Option<i64>,
    pub created_at: i64,
    pub owner_name: String,
    /// I own it.
    pub mine: bool,
    pub participants: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLists {
    pub public: Vec<RoomSummary>,
    pub mine: Vec<RoomSummary>,
}

/// Creates a room for the film — public, or private with a password and/or its link's key;
/// now or at `starts_at` (ms since the epoch); for up to `max_participants` — with the chosen
/// friends invited. Returns its short code.
#[server(endpoint = "rooms/start")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn start_session(
    film_id: String,
    #[server(default)] friends: Vec<String>,
    #[server(default)] private: bool,
    password: Option<String>,
    starts_at: Option<i64>,
    max_participants: Option<i64>,
    #[server(default)] choose: bool,
) -> Result<String, AppError> {
    ssr::create(ssr::NewRoom {
        film_id: &film_id,
        friends: &friends,
        private,
        password: password.as_deref(),
        starts_at,
        max_participants,
        own_video: false,
        choose,
    })
    .await
}

/// "New room" with a video of one's own: a finished upload of mine (`upload`, its id) or a
/// link (`url`) — exactly one — titled `title` (or the file's name), for a room with the same
/// settings as [`start_session`] (friends are invited from the room, by its link). The video
/// is private to the room's members and counts against my quota. Returns the room's code.
#[server(endpoint = "rooms/start-own")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn start_own_session(
    upload: Option<String>,
    url: Option<String>,
    title: Option<String>,
    #[server(default)] private: bool,
    password: Option<String>,
    starts_at: Option<i64>,
    max_participants: Option<i64>,
) -> Result<String, AppError> {
    let source = crate::library::domain::VideoSource::parse(upload.as_deref(), url.as_deref())?;
    ssr::create_with_own_video(
        source,
        title.as_deref(),
        ssr::NewRoom {
            film_id: "",
            friends: &[],
            private,
            password: password.as_deref(),
            starts_at,
            max_participants,
            own_video: true,
            choose: false,
        },
    )
    .await
}

/// How far the room's video is ("Preparing the video… 34 %"), for its members.
#[server(endpoint = "rooms/video")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn room_video(code: String) -> Result<crate::library::domain::Readiness, AppError> {
    ssr::video(&code).await
}

/// "Ideas for all of you": what the people in the room now would like together.
#[server(endpoint = "rooms/ideas")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn room_ideas(code: String) -> Result<Vec<FilmCard>, AppError> {
    ssr::ideas(&code).await
}

#[server(endpoint = "rooms/open")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn open_room(code: String) -> Result<RoomAccess, AppError> {
    ssr::open(&code).await
}

/// Enters a private room with its password or the key from its link.
#[server(endpoint = "rooms/enter")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn enter_room(
    code: String,
    password: Option<String>,
    key: Option<String>,
) -> Result<(), AppError> {
    ssr::enter(&code, password.as_deref(), key.as_deref()).await
}

#[server(endpoint = "rooms/rename")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn rename_room(code: String, name: String) -> Result<String, AppError> {
    ssr::rename(&code, &name).await
}

#[server(endpoint = "rooms/lock")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn lock_room_controls(code: String, locked: bool) -> Result<bool, AppError> {
    ssr::lock_controls(&code, locked).await
}

#[server(endpoint = "rooms/remove")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_participant(code: String, user_id: String) -> Result<(), AppError> {
    ssr::remove(&code, &user_id).await
}

/// A private room's new key link (and, if given, a new password); the old link stops working.
#[server(endpoint = "rooms/new-link")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn new_room_link(code: String, password: Option<String>) -> Result<String, AppError> {
    ssr::new_link(&code, password.as_deref()).await
}

#[server(endpoint = "rooms/end")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn end_room(code: String) -> Result<(), AppError> {
    ssr::end(&code).await
}

#[server(endpoint = "rooms/home")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn home_rooms() -> Result<RoomLists, AppError> {
    ssr::home().await
}
