//! The signed-in user's notifications.

use super::{Notification, NotificationKind};
use crate::accounts::session::{current_user, require_user};
use crate::context::db;
use crate::dates::now_ms;
use crate::error::AppError;

#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: String,
    kind: String,
    created_at: i64,
    read_at: Option<i64>,
    /// The actor's display name; NULL when the notification names nobody (then "").
    actor: Option<String>,
    room_code: Option<String>,
    title_en: Option<String>,
    title_ru: Option<String>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = sqlx::Error;

    fn try_from(row: NotificationRow) -> Result<Self, sqlx::Error> {
        Ok(Notification {
            id: row.id,
            kind: kind(&row.kind)?,
            actor: row.actor.unwrap_or_default(),
            room_code: row.room_code,
            film_title_en: row.title_en,
            film_title_ru: row.title_ru,
            created_at: row.created_at,
            read: row.read_at.is_some(),
        })
    }
}

pub async fn list() -> Result<Vec<Notification>, AppError> {
    let me = require_user().await?;
    let rows = sqlx::query_as::<_, NotificationRow>(
        "SELECT n.id, n.kind, n.created_at, n.read_at, u.display_name AS actor, \
                r.code AS room_code, f.title_en, f.title_ru \
         FROM notifications n \
         LEFT JOIN users u ON u.id = n.actor_id \
         LEFT JOIN rooms r ON r.id = n.room_id \
         LEFT JOIN films f ON f.id = r.film_id \
         WHERE n.user_id = $1 ORDER BY n.created_at DESC, n.id LIMIT 50",
    )
    .bind(&me.id)
    .fetch_all(&db().pool)
    .await?;
    rows.into_iter()
        .map(Notification::try_from)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

pub async fn unread() -> Result<i64, AppError> {
    let Some(me) = current_user().await? else {
        return Ok(0);
    };
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(&me.id)
    .fetch_one(&db().pool)
    .await?)
}

pub async fn mark_all_read() -> Result<(), AppError> {
    let me = require_user().await?;
    sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
        .bind(now_ms())
        .bind(&me.id)
        .execute(&db().pool)
        .await?;
    Ok(())
}

/// A stored kind; one this version does not know is an error, never a default.
fn kind(stored: &str) -> Result<NotificationKind, sqlx::Error> {
    NotificationKind::parse(stored)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown notification kind {stored:?}").into()))
}

/// Tells `to` something `actor` did (in a room, when `room_id` is given). Takes any executor,
/// so the caller can write it inside the transaction that makes it true.
pub async fn notify<'c, E>(
    db: E,
    to: &str,
    kind: NotificationKind,
    actor_id: &str,
    room_id: Option<&str>,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, actor_id, room_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(to)
    .bind(kind.as_str())
    .bind(actor_id)
    .bind(room_id)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}
