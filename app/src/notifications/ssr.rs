//! The signed-in user's notifications.

use super::Notification;
use crate::accounts::ssr::{current_user, require_user, state};
use crate::db::now_ms;
use crate::error::AppError;
use sqlx::Row;

pub async fn list() -> Result<Vec<Notification>, AppError> {
    let me = require_user().await?;
    let rows = sqlx::query(
        "SELECT n.id, n.kind, n.created_at, n.read_at, u.display_name AS actor, \
                r.code AS room_code, f.title_en, f.title_ru \
         FROM notifications n \
         LEFT JOIN users u ON u.id = n.actor_id \
         LEFT JOIN rooms r ON r.id = n.room_id \
         LEFT JOIN films f ON f.id = r.film_id \
         WHERE n.user_id = $1 ORDER BY n.created_at DESC, n.id LIMIT 50",
    )
    .bind(&me.id)
    .fetch_all(&state().db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Notification {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                actor: row
                    .try_get::<Option<String>, _>("actor")?
                    .unwrap_or_default(),
                room_code: row.try_get("room_code")?,
                film_title_en: row.try_get("title_en")?,
                film_title_ru: row.try_get("title_ru")?,
                created_at: row.try_get("created_at")?,
                read: row.try_get::<Option<i64>, _>("read_at")?.is_some(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

pub async fn unread() -> Result<i64, AppError> {
    let Some(me) = current_user().await? else {
        return Ok(0);
    };
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(&me.id)
    .fetch_one(&state().db.pool)
    .await?
    .try_get("n")?)
}

pub async fn mark_all_read() -> Result<(), AppError> {
    let me = require_user().await?;
    sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
        .bind(now_ms())
        .bind(&me.id)
        .execute(&state().db.pool)
        .await?;
    Ok(())
}
