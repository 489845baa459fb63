//! `GET /r/<code>/calendar.ics`: a scheduled session as a calendar event.

use super::channel::Parts;
use crate::accounts::session::signed_in_user_id;
use crate::codes::is_code;
use crate::db::Flag;
use crate::error::AppError;

/// `GET /r/<code>/calendar.ics`: the scheduled session as a calendar event with the room link —
/// for members only (of a public room, for anyone signed in).
pub async fn calendar(
    axum::extract::State(app): axum::extract::State<Parts>,
    session: tower_sessions::Session,
    axum::extract::Path(code): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match calendar_file(&app, &session, &code).await {
        Ok(ics) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    "text/calendar; charset=utf-8".to_owned(),
                ),
                (
                    http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"kino-{code}.ics\""),
                ),
            ],
            ics,
        )
            .into_response(),
        Err(e) => (
            http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::NOT_FOUND),
            e.to_string(),
        )
            .into_response(),
    }
}

/// What the calendar file needs of a room, and whether `user` may see it.
#[derive(sqlx::FromRow)]
struct CalendarRow {
    id: String,
    name: String,
    is_private: Flag,
    starts_at: Option<i64>,
    created_at: i64,
    duration_secs: i64,
    title_en: String,
    title_ru: String,
    removed_at: Option<i64>,
    member: Option<String>,
}

async fn calendar_file(
    app: &Parts,
    session: &tower_sessions::Session,
    code: &str,
) -> Result<String, AppError> {
    use icalendar::{Calendar, Component, EventLike};
    if !is_code(code) {
        return Err(AppError::NotFound);
    }
    let user = signed_in_user_id(&app.db, session)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let room = sqlx::query_as::<_, CalendarRow>(
        "SELECT r.id, r.name, r.is_private, r.starts_at, r.created_at, f.duration_secs, \
                f.title_en, f.title_ru, m.removed_at, m.user_id AS member \
         FROM rooms r JOIN films f ON f.id = r.film_id \
         LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = $2 \
         WHERE r.code = $1",
    )
    .bind(code)
    .bind(&user)
    .fetch_optional(&app.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let member = room.member.is_some() && room.removed_at.is_none();
    if !member && room.is_private.0 {
        return Err(AppError::NotFound);
    }
    let start_ms = room.starts_at.unwrap_or(room.created_at);
    let duration_ms = room.duration_secs.max(60) * 1000;
    let start = chrono::DateTime::from_timestamp_millis(start_ms).ok_or(AppError::Internal)?;
    let end = chrono::DateTime::from_timestamp_millis(start_ms + duration_ms)
        .ok_or(AppError::Internal)?;
    let url = format!("{}/r/{code}", app.config.public_url);
    let event = icalendar::Event::new()
        .uid(&format!("{}@kino", room.id))
        .summary(&format!("Кино вместе: {}", room.name))
        .description(&format!("{} / {}\n{url}", room.title_ru, room.title_en))
        .url(&url)
        .location(&url)
        .starts(start)
        .ends(end)
        .done();
    Ok(Calendar::new().name("Kino").push(event).done().to_string())
}
