//! Room records: starting a session with friends, joining by the short link.

use super::{Member, RoomView};
use crate::accounts::ssr::{require_user, state};
use crate::catalog::ssr::{card, CARD_COLUMNS};
use crate::db::now_ms;
use crate::error::{on_unique_violation, AppError, Invalid};
use crate::friends::domain::{is_code, presence};
use crate::friends::ssr::{are_friends, new_code, notify_room_invite};
use crate::friends::Person;
use crate::opinions::ssr::missing_film_is_not_found;
use sqlx::Row;

/// How many friends one "Start session" may invite (the room's default limit less its owner).
pub const MAX_INVITED: usize = 29;

/// Creates a room for `film_id` owned by the signed-in user, invites the chosen friends (each must
/// be a friend) and notifies them. Returns the room's short code.
pub async fn start_session(film_id: &str, friends: &[String]) -> Result<String, AppError> {
    let me = require_user().await?;
    let mut invited: Vec<&str> = friends.iter().map(String::as_str).collect();
    invited.sort_unstable();
    invited.dedup();
    if invited.len() > MAX_INVITED {
        return Err(AppError::Invalid(Invalid::NotAFriend));
    }
    for friend in &invited {
        if !are_friends(&me.id, friend).await? {
            return Err(AppError::Invalid(Invalid::NotAFriend));
        }
    }
    let pool = &state().db.pool;
    let title: String = sqlx::query("SELECT title_en FROM films WHERE id = $1")
        .bind(film_id)
        .fetch_optional(pool)
        .await?
        .ok_or(AppError::NotFound)?
        .try_get("title_en")?;
    let room_id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    // A clash of 10 random characters is all but impossible; retry a few times all the same.
    let mut code = new_code();
    let mut tx = pool.begin().await?;
    for attempt in 0.. {
        let inserted = sqlx::query(
            "INSERT INTO rooms (id, code, film_id, owner_id, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&room_id)
        .bind(&code)
        .bind(film_id)
        .bind(&me.id)
        .bind(&title)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(missing_film_is_not_found)?
        .rows_affected();
        if inserted == 1 {
            break;
        }
        if attempt >= 5 {
            return Err(AppError::Internal);
        }
        code = new_code();
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
        .await
        .map_err(|e| on_unique_violation(e, AppError::Internal))?;
    }
    tx.commit().await?;
    for friend in &invited {
        notify_room_invite(friend, &me.id, &room_id).await?;
    }
    Ok(code)
}

/// The room behind a short link. Opening it makes the signed-in user a participant.
pub async fn open_room(code: &str) -> Result<RoomView, AppError> {
    if !is_code(code) {
        return Err(AppError::NotFound);
    }
    let me = require_user().await?;
    let pool = &state().db.pool;
    let room = sqlx::query("SELECT id, film_id, owner_id FROM rooms WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let room_id: String = room.try_get("id")?;
    let film_id: String = room.try_get("film_id")?;
    let owner_id: String = room.try_get("owner_id")?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO room_members (room_id, user_id, invited_at, joined_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (room_id, user_id) DO UPDATE SET joined_at = excluded.joined_at",
    )
    .bind(&room_id)
    .bind(&me.id)
    .bind(now)
    .execute(pool)
    .await?;
    let film = sqlx::query(&format!(
        "SELECT {CARD_COLUMNS} FROM films f WHERE f.id = $1"
    ))
    .bind(&film_id)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at, m.joined_at \
         FROM room_members m JOIN users u ON u.id = m.user_id \
         WHERE m.room_id = $1 ORDER BY m.invited_at, u.name_fold",
    )
    .bind(&room_id)
    .fetch_all(pool)
    .await?;
    let members = rows
        .iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let joined = row.try_get::<Option<i64>, _>("joined_at")?.is_some();
            Ok(Member {
                owner: id == owner_id,
                joined,
                person: Person {
                    presence: presence(now, row.try_get("last_seen_at")?, joined),
                    id,
                    username: row.try_get("username")?,
                    display_name: row.try_get("display_name")?,
                },
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(RoomView {
        code: code.to_owned(),
        url: format!("{}/r/{code}", state().config.public_url),
        film: card(&film)?,
        members,
    })
}
