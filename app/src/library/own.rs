//! A person's own video for a room ("New room" → a video file or link): a film that is never
//! listed, lives under `private/`, is served to the room's members through signed URLs
//! ([`super::signing`]), counts against its owner's quota (`--upload-quota-mb`) and is deleted
//! when retention purges the room.

use super::domain::{FilmDetailsInput, Readiness, VideoSource};
use super::queue;
use super::signing::{SigningKey, URL_LIFETIME_SECS};
use super::ssr::{create_film, url_file_name, FilmKind, Library, NewSource};
use crate::accounts::User;
use crate::catalog::FilmDetails;
use crate::dates::now_ms;
use crate::db::Db;
use crate::error::{AppError, Invalid};

const MB: u64 = 1_000_000;

/// What is left of `user`'s quota: the quota less the sources of their own videos still kept.
pub async fn quota_left(db: &Db, user: &str, quota: u64) -> Result<u64, sqlx::Error> {
    let used: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(m.bytes), 0) AS BIGINT) FROM film_media m \
         JOIN films f ON f.id = m.film_id WHERE m.added_by = $1 AND f.personal = 1",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await?;
    Ok(quota.saturating_sub(u64::try_from(used).unwrap_or(0)))
}

fn over_quota(quota: u64, left: u64) -> AppError {
    AppError::OverQuota {
        quota_mb: quota / MB,
        left_mb: left / MB,
    }
}

/// Makes `user`'s own video from a finished upload of theirs or a link, titled `title` (or the
/// file's name). Returns the new film's id; its jobs start at once.
pub async fn add(
    db: &Db,
    library: &Library,
    user: &User,
    source: VideoSource,
    title: Option<&str>,
) -> Result<String, AppError> {
    let left = quota_left(db, &user.id, library.quota_bytes).await?;
    let (name, placed, length) = match source {
        VideoSource::Upload(id) => {
            let info = library
                .uploads
                .info(&id)
                .await
                .map_err(|_| AppError::NotFound)?;
            if info.owner != user.id {
                return Err(AppError::Forbidden);
            }
            if !info.complete {
                return Err(AppError::Invalid(Invalid::VideoSource));
            }
            (info.filename, NewSource::Upload(id), info.length)
        }
        VideoSource::Url(url) => (url_file_name(&url), NewSource::Url(url), 0),
    };
    if left == 0 || length > left {
        return Err(over_quota(library.quota_bytes, left));
    }
    let details = details(title, &name)?;
    let film = create_film(
        db,
        library,
        &user.id,
        &details,
        &name,
        placed,
        FilmKind::Own { byte_limit: left },
    )
    .await?;
    if length > 0 {
        // The upload's size counts against the quota (an import records what it downloaded).
        sqlx::query("UPDATE film_media SET bytes = $1 WHERE film_id = $2")
            .bind(i64::try_from(length).unwrap_or(i64::MAX))
            .bind(&film)
            .execute(&db.pool)
            .await?;
    }
    tracing::info!(film = %film, user = %user.username, "own video added for a room");
    Ok(film)
}

/// The new film's details: the title given, else the file's name without its extension.
fn details(title: Option<&str>, file_name: &str) -> Result<FilmDetailsInput, AppError> {
    let title = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) => title.to_owned(),
        None => {
            let stem = file_name
                .rsplit_once('.')
                .map_or(file_name, |(stem, _)| stem)
                .trim();
            let stem: String = stem
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(super::domain::TITLE_MAX_CHARS)
                .collect();
            if stem.trim().is_empty() {
                "Video".to_owned()
            } else {
                stem.trim().to_owned()
            }
        }
    };
    if title.chars().count() > super::domain::TITLE_MAX_CHARS || title.chars().any(char::is_control)
    {
        return Err(AppError::Invalid(Invalid::FilmText));
    }
    let year = chrono::DateTime::from_timestamp_millis(now_ms())
        .map(|t| i64::from(chrono::Datelike::year(&t)))
        .unwrap_or(2026);
    Ok(FilmDetailsInput {
        title_en: title.clone(),
        title_ru: title,
        original_title: String::new(),
        year,
        genres: Vec::new(),
        countries: Vec::new(),
        director: String::new(),
        description_en: String::new(),
        description_ru: String::new(),
    })
}

/// Deletes an own video that was made for a room that could not be created.
pub async fn discard(db: &Db, library: &Library, film: &str) {
    let _ = sqlx::query("DELETE FROM films WHERE id = $1 AND personal = 1")
        .bind(film)
        .execute(&db.pool)
        .await;
    let _ = tokio::fs::remove_dir_all(own_dir(library, film)).await;
}

/// Where an own video's files are.
fn own_dir(library: &Library, film: &str) -> std::path::PathBuf {
    library.film_dir(&FilmKind::Own { byte_limit: 0 }.dir(film))
}

/// Whether the film can be played yet, and if not how far its preparation is.
pub async fn readiness(db: &Db, film: &str) -> Result<Readiness, sqlx::Error> {
    let renditions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM renditions WHERE film_id = $1")
        .bind(film)
        .fetch_one(&db.pool)
        .await?;
    if renditions > 0 {
        return Ok(Readiness::Ready);
    }
    let media: Option<String> =
        sqlx::query_scalar("SELECT film_id FROM film_media WHERE film_id = $1")
            .bind(film)
            .fetch_optional(&db.pool)
            .await?;
    let jobs = queue::jobs(db, Some(film)).await?;
    Ok(Readiness::of(false, media.is_some(), &jobs))
}

/// Signs every media URL of a room's own video for a member, valid for [`URL_LIFETIME_SECS`].
pub fn sign(details: &mut FilmDetails, key: &SigningKey) {
    let expires = now_ms() / 1000 + URL_LIFETIME_SECS;
    for rendition in &mut details.renditions {
        rendition.url = key.sign(&rendition.url, expires);
    }
    for track in &mut details.subtitles {
        track.url = key.sign(&track.url, expires);
    }
    if let Some(previews) = &mut details.previews {
        *previews = key.sign(previews, expires);
    }
    if let Some(poster) = &mut details.card.poster {
        *poster = key.sign(poster, expires);
    }
}

/// Retention: the own videos of purged rooms lose their files and media (the film's row stays,
/// so the ended room still opens and says its video was removed). A room that moved on to other
/// films still played its own video, so `room_plays` (not the film on now) says whose it is.
/// Returns how many.
pub async fn forget_purged(db: &Db, library: &Library) -> Result<u64, sqlx::Error> {
    let films: Vec<String> = sqlx::query_scalar(
        "SELECT m.film_id FROM film_media m JOIN films f ON f.id = m.film_id \
         WHERE f.personal = 1 AND EXISTS (SELECT 1 FROM room_plays p WHERE p.film_id = f.id) \
         AND NOT EXISTS (SELECT 1 FROM room_plays p JOIN rooms r ON r.id = p.room_id \
                         WHERE p.film_id = f.id AND r.purged_at IS NULL)",
    )
    .fetch_all(&db.pool)
    .await?;
    for film in &films {
        let mut tx = db.pool.begin().await?;
        for table in ["renditions", "subtitles", "media_jobs", "film_media"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE film_id = $1"))
                .bind(film)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE films SET poster_url = NULL WHERE id = $1")
            .bind(film)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let dir = own_dir(library, film);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(film = %film, error = %e, "cannot remove a purged room's video");
            }
        }
    }
    Ok(films.len() as u64)
}
