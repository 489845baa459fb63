//! Player events and where each user stopped, in the database.

use super::domain::{PlayerEvent, RESUME_MIN_MS};
use super::{ContinueItem, Resume};
use crate::accounts::session::{current_user, require_user};
use crate::catalog::ssr::{CardRow, CARD_COLUMNS};
use crate::catalog::FilmCard;
use crate::context::{config, db};
use crate::dates::now_ms;
use crate::error::{AppError, OnConstraint};

/// The cookie that tells one guest's player events from another's (no account, no name).
pub use crate::events::ANON_COOKIE;

/// The guest's anonymous id from its cookie, or a new one (and the cookie to keep it).
fn anonymous_id() -> String {
    if let Some(id) =
        use_context_parts().and_then(|parts| crate::events::anonymous_id(&parts.headers))
    {
        return id;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let secure = if config().public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{ANON_COOKIE}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
    if let (Some(res), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        res.append_header(http::header::SET_COOKIE, value);
    }
    id
}

/// Where a user stopped in a film: the `watch_progress` columns every reader of it selects.
#[derive(Debug, sqlx::FromRow)]
struct PlaybackRow {
    position_ms: i64,
    /// 0 while unknown.
    duration_ms: i64,
}

/// "Resume": the position, and whether the film was ever watched to the end.
#[derive(Debug, sqlx::FromRow)]
struct ResumeRow {
    #[sqlx(flatten)]
    playback: PlaybackRow,
    watched_at: Option<i64>,
}

/// "Continue watching": the film's card and where the user stopped.
#[derive(Debug, sqlx::FromRow)]
struct ContinueRow {
    #[sqlx(flatten)]
    film: CardRow,
    #[sqlx(flatten)]
    playback: PlaybackRow,
}

fn use_context_parts() -> Option<http::request::Parts> {
    leptos::prelude::use_context::<http::request::Parts>()
}

/// Logs the event; for a signed-in user, also moves "where I stopped" and marks the film
/// watched once the end or 90 % is reached.
pub async fn record(film_id: &str, event: PlayerEvent) -> Result<(), AppError> {
    let user = current_user().await?;
    let anon_id = match &user {
        Some(_) => None,
        None => Some(anonymous_id()),
    };
    let pool = &db().pool;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO player_events (id, film_id, user_id, anon_id, kind, position_ms, \
         duration_ms, quality, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(film_id)
    .bind(user.as_ref().map(|u| u.id.clone()))
    .bind(anon_id)
    .bind(event.kind.as_str())
    .bind(event.position_ms)
    .bind(event.duration_ms)
    .bind(event.quality.clone())
    .bind(now)
    .execute(pool)
    .await
    .on_missing_ref(AppError::NotFound)?;

    let Some(user) = user else { return Ok(()) };
    if !event.kind.moves_position() {
        return Ok(());
    }
    let watched_at = event.completes_film().then_some(now);
    sqlx::query(
        "INSERT INTO watch_progress (user_id, film_id, position_ms, duration_ms, updated_at, \
         watched_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, film_id) DO UPDATE SET \
           position_ms = excluded.position_ms, \
           duration_ms = CASE WHEN excluded.duration_ms > 0 THEN excluded.duration_ms \
                              ELSE watch_progress.duration_ms END, \
           updated_at = excluded.updated_at, \
           watched_at = COALESCE(watch_progress.watched_at, excluded.watched_at)",
    )
    .bind(&user.id)
    .bind(film_id)
    .bind(event.position_ms)
    .bind(event.duration_ms)
    .bind(now)
    .bind(watched_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Where the signed-in user can pick this film up again (none for a guest, or when the film was
/// barely started or played to the end).
pub async fn resume(film_id: &str) -> Result<Option<Resume>, AppError> {
    let Some(user) = current_user().await? else {
        return Ok(None);
    };
    let row = sqlx::query_as::<_, ResumeRow>(
        "SELECT position_ms, duration_ms, watched_at FROM watch_progress \
         WHERE user_id = $1 AND film_id = $2",
    )
    .bind(&user.id)
    .bind(film_id)
    .fetch_optional(&db().pool)
    .await?;
    Ok(row.map(|row| Resume {
        position_ms: row.playback.position_ms,
        duration_ms: row.playback.duration_ms,
        watched: row.watched_at.is_some(),
    }))
}

/// Films the user started and has not finished, most recently watched first.
pub async fn continue_watching() -> Result<Vec<ContinueItem>, AppError> {
    let Some(user) = current_user().await? else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query_as::<_, ContinueRow>(&format!(
        "SELECT {CARD_COLUMNS}, p.position_ms, p.duration_ms \
         FROM watch_progress p JOIN films f ON f.id = p.film_id \
         WHERE p.user_id = $1 AND p.position_ms >= $2 \
           AND (p.duration_ms = 0 OR p.position_ms * 10 < p.duration_ms * 9) \
         ORDER BY p.updated_at DESC, f.id LIMIT 12"
    ))
    .bind(&user.id)
    .bind(RESUME_MIN_MS)
    .fetch_all(&db().pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ContinueItem {
            film: row.film.into(),
            position_ms: row.playback.position_ms,
            duration_ms: row.playback.duration_ms,
        })
        .collect())
}

/// Films the user has watched, most recent first.
pub async fn watched() -> Result<Vec<FilmCard>, AppError> {
    let user = require_user().await?;
    let rows = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM watch_progress p JOIN films f ON f.id = p.film_id \
         WHERE p.user_id = $1 AND p.watched_at IS NOT NULL \
         ORDER BY p.watched_at DESC, f.id"
    ))
    .bind(&user.id)
    .fetch_all(&db().pool)
    .await?;
    Ok(rows.into_iter().map(FilmCard::from).collect())
}
