//! Rooms in the database: creating, opening and joining them (with passwords, keys and limits),
//! the owner's controls (`owner.rs`) and the lists on Home. The calendar file is in
//! `rooms/calendar.rs`, the periodic lifecycle job in `rooms/lifecycle.rs`.
//!
//! Who sees what: a member (invited, or joined) sees the room; a signed-in visitor of a public
//! room becomes a member by opening it; anyone else sees only what a link preview needs — and of a
//! private room not even that: no film, no name, no people.

use super::channel::{write_event, Parts, RoomUpdate};
use super::domain::{self, Phase, KEY_LEN};
use super::protocol::EventKind;
use super::{Member, RoomAccess, RoomLists, RoomPreview, RoomSummary, RoomView};
use crate::accounts::hashing::{hash_secret, verify_password};
use crate::accounts::session::{client_addr, current_user, require_user};
use crate::accounts::User;
use crate::catalog::ssr::{share_image, CardRow, CARD_COLUMNS};
use crate::catalog::FilmCard;
use crate::codes::{is_code, new_code, random_code};
use crate::context::{config, db};
use crate::dates::now_ms;
use crate::db::Flag;
use crate::error::{AppError, Invalid, OnConstraint};
use crate::friends::domain::presence;
use crate::friends::ssr::friends_among;
use crate::friends::Person;
use crate::library::domain::Readiness;
use crate::notifications::ssr::notify;
use crate::notifications::NotificationKind;
use sqlx::FromRow;

mod owner;

pub use owner::{end, lock_controls, new_link, remove, rename};

/// How many friends one "Start session" may invite (the largest limit less its owner).
pub const MAX_INVITED: usize = (domain::MAX_LIMIT - 1) as usize;

/// What "Create room" / "Start session" asks for.
#[derive(Debug, Default)]
pub struct NewRoom<'a> {
    pub film_id: &'a str,
    pub friends: &'a [String],
    pub private: bool,
    pub password: Option<&'a str>,
    pub starts_at: Option<i64>,
    pub max_participants: Option<i64>,
    /// The film is the owner's own video, made for this room (others' own videos are refused).
    pub own_video: bool,
    /// "We'll choose together": the film is only the queue's first suggestion; nothing plays
    /// until the room picks.
    pub choose: bool,
}

/// A film's titles, for a new room's name.
#[derive(Debug, FromRow)]
struct TitlesRow {
    title_en: String,
    title_ru: String,
    personal: Flag,
}

fn room_url(code: &str) -> String {
    format!("{}/r/{code}", config().public_url)
}

/// Creates a room for a film owned by the signed-in user, invites the chosen friends (each must
/// be a friend) and notifies them. Returns the room's short code.
pub async fn create(new: NewRoom<'_>) -> Result<String, AppError> {
    let me = require_user().await?;
    let now = now_ms();
    let max_participants = domain::participant_limit(new.max_participants)?;
    let starts_at = domain::starts_at(new.starts_at, now)?;
    let password = if new.private {
        domain::room_password(new.password)?
    } else {
        None
    };
    let mut invited: Vec<&str> = new.friends.iter().map(String::as_str).collect();
    invited.sort_unstable();
    invited.dedup();
    invited.retain(|id| *id != me.id);
    if invited.len() > MAX_INVITED || invited.len() as i64 >= max_participants {
        return Err(AppError::Invalid(Invalid::ParticipantLimit));
    }
    if friends_among(&me.id, &invited).await? != invited.len() {
        return Err(AppError::Invalid(Invalid::NotAFriend));
    }
    let pool = &db().pool;
    let russian =
        leptos_i18n::locale::resolve_locale::<crate::i18n::Locale>() == crate::i18n::Locale::ru;
    let titles = sqlx::query_as::<_, TitlesRow>(
        "SELECT title_en, title_ru, personal FROM films WHERE id = $1",
    )
    .bind(new.film_id)
    .fetch_optional(pool)
    .await?
    .ok_or(AppError::NotFound)?;
    if titles.personal.0 && !new.own_video {
        // Someone's own video is for the room it was brought to, nobody else's.
        return Err(AppError::NotFound);
    }
    let title = if russian {
        titles.title_ru
    } else {
        titles.title_en
    };
    let password_hash = match password {
        Some(p) => Some(hash_secret(p).await?),
        None => None,
    };
    let access_key = new.private.then(|| random_code(KEY_LEN));
    let room_id = uuid::Uuid::new_v4().to_string();
    let mut tx = pool.begin().await?;
    // A clash of 10 random characters is all but impossible; retry a few times all the same.
    let mut code = new_code();
    for attempt in 0.. {
        let inserted = sqlx::query(
            "INSERT INTO rooms (id, code, film_id, owner_id, name, max_participants, created_at, \
                                is_private, password_hash, access_key, starts_at, choosing) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&room_id)
        .bind(&code)
        .bind(new.film_id)
        .bind(&me.id)
        .bind(&title)
        .bind(max_participants)
        .bind(now)
        .bind(i64::from(new.private))
        .bind(password_hash.clone())
        .bind(access_key.clone())
        .bind(starts_at)
        .bind(i64::from(new.choose))
        .execute(&mut *tx)
        .await
        .on_missing_ref(AppError::NotFound)?
        .rows_affected();
        if inserted == 1 {
            break;
        }
        if attempt >= 5 {
            return Err(AppError::Internal);
        }
        code = new_code();
    }
    // The film is on from the start ("Watched here" lists it), or the queue's first entry.
    let first_at = starts_at.unwrap_or(now);
    if new.choose {
        sqlx::query(
            "INSERT INTO room_queue (room_id, id, film_id, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&room_id)
        .bind(uuid::Uuid::new_v4().simple().to_string()[..12].to_owned())
        .bind(new.film_id)
        .bind(&me.id)
        .bind(first_at)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO room_plays (room_id, seq, film_id, started_at) VALUES ($1, 0, $2, $3)",
        )
        .bind(&room_id)
        .bind(new.film_id)
        .bind(first_at)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO room_members (room_id, user_id, invited_by, invited_at, joined_at) \
         VALUES ($1, $2, NULL, $3, $3)",
    )
    .bind(&room_id)
    .bind(&me.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for friend in &invited {
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, invited_by, invited_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&room_id)
        .bind(*friend)
        .bind(&me.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        notify(
            &mut *tx,
            friend,
            NotificationKind::RoomInvite,
            &me.id,
            Some(&room_id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(code)
}

/// A room's row, as the functions below need it.
struct Room {
    id: String,
    code: String,
    film_id: String,
    owner_id: String,
    name: String,
    private: bool,
    password_hash: Option<String>,
    access_key: Option<String>,
    starts_at: Option<i64>,
    ended_at: Option<i64>,
    purged: bool,
    controls_locked: bool,
    max_participants: i64,
    created_at: i64,
    choosing: bool,
}

impl Room {
    fn phase(&self, now: i64) -> Phase {
        domain::phase(self.starts_at, self.ended_at, now)
    }
}

/// [`room_by_code`]'s row: the room's columns as stored. Not `Debug`: it holds the password's
/// hash and the access key.
#[derive(FromRow)]
struct RoomRow {
    id: String,
    code: String,
    film_id: String,
    owner_id: String,
    name: String,
    is_private: Flag,
    password_hash: Option<String>,
    access_key: Option<String>,
    starts_at: Option<i64>,
    ended_at: Option<i64>,
    purged_at: Option<i64>,
    controls_locked: Flag,
    max_participants: i64,
    created_at: i64,
    choosing: Flag,
}

impl From<RoomRow> for Room {
    fn from(row: RoomRow) -> Self {
        Room {
            id: row.id,
            code: row.code,
            film_id: row.film_id,
            owner_id: row.owner_id,
            name: row.name,
            private: row.is_private.0,
            password_hash: row.password_hash,
            access_key: row.access_key,
            starts_at: row.starts_at,
            ended_at: row.ended_at,
            purged: row.purged_at.is_some(),
            controls_locked: row.controls_locked.0,
            max_participants: row.max_participants,
            created_at: row.created_at,
            choosing: row.choosing.0,
        }
    }
}

async fn room_by_code(code: &str) -> Result<Room, AppError> {
    if !is_code(code) {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query_as::<_, RoomRow>(
        "SELECT id, code, film_id, owner_id, name, is_private, password_hash, access_key, \
                starts_at, ended_at, purged_at, controls_locked, max_participants, created_at, \
                choosing \
         FROM rooms WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(&db().pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Room::from(row))
}

/// Someone's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Stranger,
    Invited,
    Joined,
    Removed,
}

/// Someone's membership of a room: when they joined and when they were removed (NULL: not).
#[derive(Debug, FromRow)]
struct MembershipRow {
    joined_at: Option<i64>,
    removed_at: Option<i64>,
}

async fn standing(room_id: &str, user_id: &str) -> Result<Standing, AppError> {
    let row = sqlx::query_as::<_, MembershipRow>(
        "SELECT joined_at, removed_at FROM room_members WHERE room_id = $1 AND user_id = $2",
    )
    .bind(room_id)
    .bind(user_id)
    .fetch_optional(&db().pool)
    .await?;
    Ok(match row {
        None => Standing::Stranger,
        Some(row) if row.removed_at.is_some() => Standing::Removed,
        Some(row) if row.joined_at.is_some() => Standing::Joined,
        Some(_) => Standing::Invited,
    })
}

/// Makes `user_id` a participant unless the room is full. An invited friend's seat is kept for
/// them until they come (throwaway accounts cannot fill a room ahead of the invited), so the
/// seats taken are everyone else in the room or invited to it. Counting and joining happen
/// under the room's lock, so two people cannot both take the last seat.
async fn join(room: &Room, user_id: &str) -> Result<(), AppError> {
    let now = now_ms();
    let mut tx = db().pool.begin().await?;
    // An update that changes nothing still locks the room's row (PostgreSQL) or takes the
    // write lock (SQLite): the seats counted next cannot change under this transaction.
    sqlx::query("UPDATE rooms SET last_seq = last_seq WHERE id = $1")
        .bind(&room.id)
        .execute(&mut *tx)
        .await?;
    if seats_taken(&mut *tx, &room.id, user_id).await? >= room.max_participants {
        tx.rollback().await?;
        return Err(AppError::RoomFull {
            max: room.max_participants,
        });
    }
    sqlx::query(
        "INSERT INTO room_members (room_id, user_id, invited_at, joined_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (room_id, user_id) DO UPDATE SET joined_at = excluded.joined_at",
    )
    .bind(&room.id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What anyone may learn from a link: for a public room the film, its name, who invites and
/// when; for a private room only that it is private (and whether it asks for a password).
async fn preview(room: &Room, reveal: bool) -> Result<RoomPreview, AppError> {
    let now = now_ms();
    let (film, owner) = if reveal {
        let pool = &db().pool;
        let film = sqlx::query_as::<_, CardRow>(&format!(
            "SELECT {CARD_COLUMNS} FROM films f WHERE f.id = $1"
        ))
        .bind(&room.film_id)
        .fetch_one(pool)
        .await?;
        let owner: String = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
            .bind(&room.owner_id)
            .fetch_one(pool)
            .await?;
        (Some(FilmCard::from(film)), Some(owner))
    } else {
        (None, None)
    };
    Ok(RoomPreview {
        code: room.code.clone(),
        url: room_url(&room.code),
        private: room.private,
        has_password: room.password_hash.is_some(),
        phase: room.phase(now),
        starts_at: room.starts_at,
        name: reveal.then(|| room.name.clone()),
        share_image: reveal.then(|| {
            share_image(
                &room.film_id,
                film.as_ref().and_then(|f| f.poster.as_deref()),
            )
        }),
        film,
        owner,
        joinable: false,
    })
}

/// A member of a room: the person, and when they joined (NULL: invited, not come yet).
#[derive(Debug, FromRow)]
struct MemberRow {
    id: String,
    username: String,
    display_name: String,
    last_seen_at: i64,
    joined_at: Option<i64>,
}

/// The whole room, for a member.
async fn view(room: &Room, me: &User) -> Result<RoomView, AppError> {
    let pool = &db().pool;
    let now = now_ms();
    let (mut details, personal) = crate::catalog::ssr::film_in_room(&room.film_id).await?;
    if personal {
        let key = crate::library::ssr::library()
            .signing_key(&db())
            .await?
            .clone();
        crate::library::own::sign(&mut details, &key);
    }
    let video = if details.renditions.is_empty() {
        crate::library::own::readiness(&db(), &room.film_id).await?
    } else {
        Readiness::Ready
    };
    let rows = sqlx::query_as::<_, MemberRow>(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at, m.joined_at \
         FROM room_members m JOIN users u ON u.id = m.user_id \
         WHERE m.room_id = $1 AND m.removed_at IS NULL ORDER BY m.invited_at, u.name_fold",
    )
    .bind(&room.id)
    .fetch_all(pool)
    .await?;
    let members = rows
        .into_iter()
        .map(|row| {
            let joined = row.joined_at.is_some();
            Member {
                owner: row.id == room.owner_id,
                joined,
                person: Person {
                    presence: presence(now, row.last_seen_at, joined),
                    id: row.id,
                    username: row.username,
                    display_name: row.display_name,
                },
            }
        })
        .collect::<Vec<_>>();
    let owner_name = members
        .iter()
        .find(|m| m.owner)
        .map(|m| m.person.display_name.clone())
        .unwrap_or_default();
    let url = room_url(&room.code);
    Ok(RoomView {
        key_url: room.access_key.as_ref().map(|key| format!("{url}#k={key}")),
        url,
        code: room.code.clone(),
        name: room.name.clone(),
        film: details.card,
        renditions: details.renditions,
        video,
        subtitles: details.subtitles,
        previews: details.previews,
        share_image: details.share_image,
        owner_name,
        i_own: room.owner_id == me.id,
        private: room.private,
        has_password: room.password_hash.is_some(),
        phase: room.phase(now),
        starts_at: room.starts_at,
        created_at: room.created_at,
        ended_at: room.ended_at,
        purged: room.purged,
        controls_locked: room.controls_locked,
        choosing: room.choosing,
        max_participants: room.max_participants,
        participants: members.iter().filter(|m| m.joined).count() as i64,
        members,
        server_now: now,
    })
}

/// The room behind a short link. A signed-in member (or anyone, for a public room that has not
/// ended) gets the room and is counted as a participant; others get a preview. Loading the page
/// (a `GET`) never joins: it answers a joinable preview and the page joins with a POST, so a
/// link or an image on another site cannot put someone into a room.
pub async fn open(code: &str) -> Result<RoomAccess, AppError> {
    let room = room_by_code(code).await?;
    let Some(me) = current_user().await? else {
        return Ok(RoomAccess::Guest(preview(&room, !room.private).await?));
    };
    let ended = room.ended_at.is_some();
    let standing = standing(&room.id, &me.id).await?;
    match standing {
        Standing::Removed => return Err(AppError::Forbidden),
        Standing::Joined => return Ok(RoomAccess::Member(view(&room, &me).await?)),
        Standing::Invited if ended => return Ok(RoomAccess::Member(view(&room, &me).await?)),
        Standing::Stranger if ended || room.private => {
            return Ok(RoomAccess::Locked(preview(&room, !room.private).await?))
        }
        // Free to join: an invitation, or a public room.
        Standing::Invited | Standing::Stranger => {}
    }
    if is_page_load() {
        let taken = seats_taken(&db().pool, &room.id, &me.id).await?;
        if taken >= room.max_participants {
            return Err(AppError::RoomFull {
                max: room.max_participants,
            });
        }
        let invited = standing == Standing::Invited;
        let mut preview = preview(&room, invited || !room.private).await?;
        preview.joinable = true;
        return Ok(RoomAccess::Locked(preview));
    }
    join(&room, &me.id).await?;
    Ok(RoomAccess::Member(view(&room, &me).await?))
}

/// A room's own video from the signed-in person's finished upload or a link, and the room for
/// it (with the same choices as "Watch together"). Returns the room's short code; the room
/// shows "Preparing the video…" until the first rendition is ready.
pub async fn create_with_own_video(
    source: crate::library::domain::VideoSource,
    title: Option<&str>,
    room: NewRoom<'_>,
) -> Result<String, AppError> {
    let me = require_user().await?;
    let (db, library) = (db(), crate::library::ssr::library());
    // The room's choices are checked before any file moves.
    domain::participant_limit(room.max_participants)?;
    domain::starts_at(room.starts_at, now_ms())?;
    if room.private {
        domain::room_password(room.password)?;
    }
    let film = crate::library::own::add(&db, &library, &me, source, title).await?;
    let created = create(NewRoom {
        film_id: &film,
        own_video: true,
        ..room
    })
    .await;
    if created.is_err() {
        crate::library::own::discard(&db, &library, &film).await;
    }
    created
}

/// How far the room's video is (for "Preparing the video… 34 %"): members only.
pub async fn video(code: &str) -> Result<Readiness, AppError> {
    let me = require_user().await?;
    let room = room_by_code(code).await?;
    match standing(&room.id, &me.id).await? {
        Standing::Joined | Standing::Invited => {}
        Standing::Stranger | Standing::Removed => return Err(AppError::Forbidden),
    }
    Ok(crate::library::own::readiness(&db(), &room.film_id).await?)
}

/// "Ideas for all of you" in a room: films for the signed-in member and everyone connected to
/// the room now (members only; the answer names no one).
pub async fn ideas(code: &str) -> Result<Vec<crate::catalog::FilmCard>, AppError> {
    let me = require_user().await?;
    let room = room_by_code(code).await?;
    if standing(&room.id, &me.id).await? != Standing::Joined {
        return Err(AppError::Forbidden);
    }
    let hub: std::sync::Arc<crate::rooms::channel::Hub> = leptos::prelude::expect_context();
    let present = hub.present_users(&room.id);
    let mut people: Vec<&str> = vec![me.id.as_str()];
    people.extend(present.iter().map(String::as_str).filter(|u| *u != me.id));
    crate::recs::ssr::ideas_for(&db(), &people).await
}

/// Is this request a page load (`GET`) rather than a server function call?
fn is_page_load() -> bool {
    leptos::prelude::use_context::<http::request::Parts>()
        .is_some_and(|p| p.method == http::Method::GET)
}

/// Seats taken in the room by everyone but `user_id`: people in it and invited friends who have
/// not come yet (their seats are kept for them).
async fn seats_taken<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    room_id: &str,
    user_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM room_members \
         WHERE room_id = $1 AND removed_at IS NULL AND user_id <> $2",
    )
    .bind(room_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Enters a private room with its password or the key from a shared link. The key (79 random
/// bits) cannot be guessed, so a right key is admitted before any limit. Password attempts are
/// taken out of three budgets before they are checked: the person's on this room, their
/// address's on this room (throwaway accounts share it), and a generous one for the whole room,
/// so a few strangers' wrong guesses never lock out everyone.
pub async fn enter(code: &str, password: Option<&str>, key: Option<&str>) -> Result<(), AppError> {
    let me = require_user().await?;
    let room = room_by_code(code).await?;
    match standing(&room.id, &me.id).await? {
        Standing::Joined => return Ok(()),
        Standing::Removed => return Err(AppError::Forbidden),
        Standing::Invited | Standing::Stranger if room.ended_at.is_some() => {
            return Err(AppError::RoomEnded)
        }
        Standing::Invited => return join(&room, &me.id).await,
        Standing::Stranger if !room.private => return join(&room, &me.id).await,
        Standing::Stranger => {}
    }
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if let (Some(given), Some(k)) = (key, room.access_key.as_deref()) {
        if domain::keys_match(given, k) {
            return join(&room, &me.id).await;
        }
    }
    let password = password.filter(|p| !p.is_empty());
    if key.is_none() && password.is_none() {
        return Err(AppError::WrongRoomPassword);
    }
    let (db, config) = (db(), config());
    let limits = &config.limits;
    let client = client_addr().await;
    let per_person = limits
        .room_password_per_person
        .take(&db, &format!("{}\n{}", me.id, room.id))
        .await?;
    let per_client = limits
        .room_password_per_client
        .take(&db, &format!("{client}\n{}", room.id))
        .await?;
    let per_room = limits.room_password_per_room.take(&db, &room.id).await?;
    let admitted = match password {
        Some(p)
            if p.chars().count() <= domain::PASSWORD_MAX_CHARS && room.password_hash.is_some() =>
        {
            verify_password(p.to_owned(), room.password_hash.clone()).await?
        }
        _ => false,
    };
    if !admitted {
        return Err(AppError::WrongRoomPassword);
    }
    for attempt in [per_person, per_client, per_room] {
        attempt.give_back(&db).await?;
    }
    join(&room, &me.id).await
}

const SUMMARY_COLUMNS: &str =
    "r.code, r.name, r.is_private, r.starts_at, r.created_at, r.ended_at, \
     r.owner_id, o.display_name AS owner_name, \
     (SELECT COUNT(*) FROM room_members p \
      WHERE p.room_id = r.id AND p.joined_at IS NOT NULL AND p.removed_at IS NULL) AS participants";

/// A row of [`SUMMARY_COLUMNS`] and [`CARD_COLUMNS`]: a room on Home, with its film.
#[derive(Debug, FromRow)]
struct SummaryRow {
    code: String,
    name: String,
    is_private: Flag,
    starts_at: Option<i64>,
    created_at: i64,
    ended_at: Option<i64>,
    owner_id: String,
    owner_name: String,
    participants: i64,
    #[sqlx(flatten)]
    film: CardRow,
}

impl SummaryRow {
    /// The room as `me` sees it listed at `now`.
    fn summary(self, me: Option<&str>, now: i64) -> RoomSummary {
        RoomSummary {
            phase: domain::phase(self.starts_at, self.ended_at, now),
            mine: me == Some(self.owner_id.as_str()),
            code: self.code,
            name: self.name,
            private: self.is_private.0,
            starts_at: self.starts_at,
            created_at: self.created_at,
            owner_name: self.owner_name,
            participants: self.participants,
            film: FilmCard::from(self.film),
        }
    }
}

/// Home: public rooms that are live or scheduled, and the signed-in user's own rooms (owned or
/// invited, newest first, ended ones included for a while).
pub async fn home() -> Result<RoomLists, AppError> {
    let me = current_user().await?;
    let pool = &db().pool;
    let now = now_ms();
    let film_columns = CARD_COLUMNS;
    let public = sqlx::query_as::<_, SummaryRow>(&format!(
        "SELECT {SUMMARY_COLUMNS}, {film_columns} FROM rooms r \
         JOIN users o ON o.id = r.owner_id JOIN films f ON f.id = r.film_id \
         WHERE r.ended_at IS NULL AND r.is_private = 0 \
         ORDER BY COALESCE(r.starts_at, r.created_at) DESC, r.code LIMIT 12"
    ))
    .fetch_all(pool)
    .await?;
    let public = public
        .into_iter()
        .map(|row| row.summary(me.as_ref().map(|u| u.id.as_str()), now))
        .collect::<Vec<_>>();
    let mine = match &me {
        Some(me) => sqlx::query_as::<_, SummaryRow>(&format!(
            "SELECT {SUMMARY_COLUMNS}, {film_columns} FROM room_members m \
             JOIN rooms r ON r.id = m.room_id \
             JOIN users o ON o.id = r.owner_id JOIN films f ON f.id = r.film_id \
             WHERE m.user_id = $1 AND m.removed_at IS NULL \
               AND (r.ended_at IS NULL OR r.ended_at > $2) \
             ORDER BY COALESCE(m.joined_at, m.invited_at) DESC, r.code LIMIT 12"
        ))
        .bind(&me.id)
        .bind(now - 30 * 24 * 3600 * 1000)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| row.summary(Some(&me.id), now))
        .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    Ok(RoomLists { public, mine })
}
