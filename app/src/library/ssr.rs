//! Server side of the library: adding, editing and deleting films, their subtitles and posters,
//! and what the library page shows. Every function here is for admins only.

use super::domain::{FilmDetailsInput, FilmForm, JobKind, VideoSource};
use super::queue;
use super::signing::SigningKey;
use super::{DiskInfo, FilmEdit, LibraryFilm, LibraryOverview, SubtitleTrack};
use crate::accounts::session::require_admin;
use crate::context::db;
use crate::dates::now_ms;
use crate::db::Db;
use crate::error::{AppError, Invalid, OnConstraint};
use crate::text::fold;
use kino_media::uploads::UploadStore;
use leptos::prelude::expect_context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The library's parts on this node: where media lives, the uploads in progress, and the bell
/// that wakes this node's workers when a job is queued here (other nodes' workers poll).
pub struct Library {
    /// `--media-dir`.
    pub dir: PathBuf,
    pub uploads: UploadStore,
    pub wake: tokio::sync::Notify,
    /// Why the workers are not taking jobs right now (a nearly full disk), for the page.
    pub waiting: std::sync::Mutex<Option<String>>,
    /// Jobs wait while the disk has less than this free.
    pub min_free_bytes: u64,
    /// How much of their own video one person may keep (`--upload-quota-mb`).
    pub quota_bytes: u64,
    /// The key that signs private media URLs, read from the database when first needed.
    signing_key: tokio::sync::OnceCell<SigningKey>,
}

impl Library {
    pub fn new(media: &crate::config::MediaConfig) -> Self {
        Self {
            uploads: UploadStore::new(media.dir.join("uploads"), media.max_upload_bytes),
            dir: media.dir.clone(),
            wake: tokio::sync::Notify::new(),
            waiting: std::sync::Mutex::new(None),
            min_free_bytes: media.min_free_bytes,
            quota_bytes: media.upload_quota_bytes,
            signing_key: tokio::sync::OnceCell::new(),
        }
    }

    /// The instance's key for private media URLs.
    pub async fn signing_key(&self, db: &Db) -> Result<&SigningKey, sqlx::Error> {
        self.signing_key
            .get_or_try_init(|| SigningKey::load(db))
            .await
    }

    /// A film's directory, from its `film_media.dir`.
    pub fn film_dir(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// Free and total bytes of the disk that holds the media directory.
    pub fn disk_space(&self) -> std::io::Result<(u64, u64)> {
        Ok((
            fs4::available_space(&self.dir)?,
            fs4::total_space(&self.dir)?,
        ))
    }
}

pub fn library() -> Arc<Library> {
    expect_context::<Arc<Library>>()
}

/// The URL path a file of a film's directory (`films/<id>` or `private/<id>`, relative to
/// `--media-dir`) is served at: `/media/films/…` as it is (see `kino_server`'s `/media/films`),
/// `/media/private/…` only once signed ([`super::signing`]).
pub fn media_url(dir: &str, file: &str) -> String {
    format!("/media/{dir}/{file}")
}

/// A short random tag that makes each output's file name new, so its URL can be cached forever.
pub fn version_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// The poster's background while the film has no picture, from its id.
fn poster_color(id: &str) -> &'static str {
    const COLORS: [&str; 6] = [
        "#2b2433", "#1f2a3a", "#33261f", "#203327", "#2f2f2f", "#3a1f2a",
    ];
    let sum: usize = id.bytes().map(usize::from).sum();
    COLORS[sum % COLORS.len()]
}

/// Adds a film from a finished upload or a link, with its details; its jobs start at once.
/// Returns the new film's id.
pub async fn add_film(
    form: FilmForm,
    upload: Option<String>,
    url: Option<String>,
) -> Result<String, AppError> {
    let admin = require_admin().await?;
    let details = FilmDetailsInput::parse(&form)?;
    let source = VideoSource::parse(upload.as_deref(), url.as_deref())?;
    let (db, library) = (db(), library());
    let (name, placed) = match source {
        VideoSource::Upload(id) => {
            let info = library.uploads.info(&id).await.map_err(upload_error)?;
            if info.owner != admin.id {
                return Err(AppError::Forbidden);
            }
            if !info.complete {
                return Err(AppError::Invalid(Invalid::VideoSource));
            }
            (info.filename, NewSource::Upload(id))
        }
        VideoSource::Url(url) => (url_file_name(&url), NewSource::Url(url)),
    };
    let id = create_film(
        &db,
        &library,
        &admin.id,
        &details,
        &name,
        placed,
        FilmKind::Library,
    )
    .await?;
    tracing::info!(film = %id, admin = %admin.username, "film added to the library");
    Ok(id)
}

/// Where a new film's source comes from, on the server's side.
pub enum NewSource {
    /// A finished upload of `owner` (the admin creating the film), by id.
    Upload(String),
    /// A file on this machine (`kino import FILE`), copied so the original stays.
    LocalFile(PathBuf),
    /// A link, downloaded by the import job.
    Url(url::Url),
}

/// The last part of a link's path, as the film's source name ("film.mkv").
pub fn url_file_name(url: &url::Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| url.host_str().unwrap_or("video").to_owned())
}

/// Whose a new film is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilmKind {
    /// The library's: the catalog lists it once its first MP4 is ready.
    Library,
    /// A person's own video for a room: never listed, kept under `private/`, served through
    /// signed URLs; an import of it downloads at most `byte_limit` bytes.
    Own { byte_limit: u64 },
}

impl FilmKind {
    /// The film's directory under `--media-dir` (also its files' URL path under `/media/`).
    pub fn dir(self, id: &str) -> String {
        match self {
            FilmKind::Library => format!("films/{id}"),
            FilmKind::Own { .. } => format!("{}/{id}", super::signing::PRIVATE_DIR),
        }
    }
}

/// Creates the film (unpublished), puts its source in place and queues its first job.
/// `owner` is the admin adding it, or the person bringing their own video.
pub async fn create_film(
    db: &Db,
    library: &Library,
    owner: &str,
    details: &FilmDetailsInput,
    source_name: &str,
    source: NewSource,
    kind: FilmKind,
) -> Result<String, AppError> {
    let source_url = match &source {
        NewSource::Url(url) => Some(url.as_str().to_owned()),
        _ => None,
    };
    let id = insert_film(db, details, owner, source_name, source_url.as_deref(), kind).await?;
    let dir = library.film_dir(&kind.dir(&id));
    let placed = async {
        tokio::fs::create_dir_all(&dir).await?;
        match &source {
            NewSource::Upload(upload) => {
                let file = library
                    .uploads
                    .finish(upload, owner)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                tokio::fs::rename(&file, dir.join("source")).await?;
            }
            NewSource::LocalFile(path) => {
                tokio::fs::copy(path, dir.join("source.part")).await?;
                tokio::fs::rename(dir.join("source.part"), dir.join("source")).await?;
            }
            NewSource::Url(_) => {}
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    if let Err(e) = placed {
        tracing::error!(film = %id, error = %e, "cannot place the new film's source");
        let _ = sqlx::query("DELETE FROM films WHERE id = $1")
            .bind(&id)
            .execute(&db.pool)
            .await;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(AppError::Internal);
    }
    let first = match source {
        NewSource::Url(_) => JobKind::Import,
        _ => JobKind::Probe,
    };
    queue::enqueue(db, &id, first).await?;
    library.wake.notify_waiters();
    Ok(id)
}

/// Inserts the film (unpublished) and its media row under a free id: `title-year`, then
/// `title-year-2`, … .
async fn insert_film(
    db: &Db,
    details: &FilmDetailsInput,
    admin: &str,
    source_name: &str,
    source_url: Option<&str>,
    kind: FilmKind,
) -> Result<String, AppError> {
    let (base, personal, byte_limit) = match kind {
        FilmKind::Library => (details.slug(), 0i64, 0i64),
        // Unguessable, and saying nothing of what it is.
        FilmKind::Own { byte_limit } => (
            format!("own-{}", version_tag()),
            1,
            i64::try_from(byte_limit).unwrap_or(i64::MAX),
        ),
    };
    for n in 1..=20 {
        let id = if n == 1 {
            base.clone()
        } else if n < 20 {
            format!("{base}-{n}")
        } else {
            format!("{base}-{}", &version_tag()[..6])
        };
        let mut tx = db.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO films (id, title_en, title_ru, original_title, search_text, year, \
             genres, countries, director, description_en, description_ru, duration_secs, \
             poster_color, created_at, published, personal) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, 0, $14)",
        )
        .bind(&id)
        .bind(&details.title_en)
        .bind(&details.title_ru)
        .bind(&details.original_title)
        .bind(search_text(details))
        .bind(details.year)
        .bind(genres_column(details))
        .bind(details.countries.join(","))
        .bind(&details.director)
        .bind(&details.description_en)
        .bind(&details.description_ru)
        .bind(poster_color(&id))
        .bind(now_ms())
        .bind(personal)
        .execute(&mut *tx)
        .await
        .on_unique(AppError::Conflict);
        match inserted {
            Ok(_) => {}
            Err(AppError::Conflict) => continue,
            Err(e) => return Err(e),
        }
        sqlx::query(
            "INSERT INTO film_media (film_id, dir, source_name, source_url, added_by, \
             created_at, byte_limit) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(kind.dir(&id))
        .bind(source_name)
        .bind(source_url)
        .bind(admin)
        .bind(now_ms())
        .bind(byte_limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(id);
    }
    Err(AppError::Conflict)
}

fn search_text(details: &FilmDetailsInput) -> String {
    fold(&format!(
        "{} {} {}",
        details.title_en, details.title_ru, details.original_title
    ))
}

fn genres_column(details: &FilmDetailsInput) -> String {
    if details.genres.is_empty() {
        String::new()
    } else {
        format!(",{},", details.genres.join(","))
    }
}

fn upload_error(e: kino_media::uploads::UploadError) -> AppError {
    use kino_media::uploads::UploadError as E;
    match e {
        E::NotFound { .. } | E::InvalidId { .. } => AppError::NotFound,
        E::Forbidden { .. } => AppError::Forbidden,
        E::Incomplete { .. } => AppError::Invalid(Invalid::VideoSource),
        other => {
            tracing::error!(error = %other, "upload store");
            AppError::Internal
        }
    }
}

/// Changes a film's details (any film, the demo ones too); search finds the new titles at once.
pub async fn update_film(id: &str, form: FilmForm) -> Result<(), AppError> {
    require_admin().await?;
    let details = FilmDetailsInput::parse(&form)?;
    let done = sqlx::query(
        "UPDATE films SET title_en = $1, title_ru = $2, original_title = $3, search_text = $4, \
         year = $5, genres = $6, countries = $7, director = $8, description_en = $9, \
         description_ru = $10 WHERE id = $11",
    )
    .bind(&details.title_en)
    .bind(&details.title_ru)
    .bind(&details.original_title)
    .bind(search_text(&details))
    .bind(details.year)
    .bind(genres_column(&details))
    .bind(details.countries.join(","))
    .bind(&details.director)
    .bind(&details.description_en)
    .bind(&details.description_ru)
    .bind(id)
    .execute(&db().pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct EditRow {
    id: String,
    title_en: String,
    title_ru: String,
    original_title: String,
    year: i64,
    genres: String,
    countries: String,
    director: String,
    description_en: String,
    description_ru: String,
    poster_url: Option<String>,
    rooms: i64,
    own_media: i64,
}

/// What the edit page starts from.
pub async fn film_edit(id: &str) -> Result<FilmEdit, AppError> {
    require_admin().await?;
    let db = db();
    let row = sqlx::query_as::<_, EditRow>(
        "SELECT f.id, f.title_en, f.title_ru, f.original_title, f.year, f.genres, f.countries, \
         f.director, f.description_en, f.description_ru, f.poster_url, \
         (SELECT COUNT(*) FROM rooms r WHERE r.film_id = f.id) AS rooms, \
         (SELECT COUNT(*) FROM film_media m WHERE m.film_id = f.id) AS own_media \
         FROM films f WHERE f.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let subtitles = subtitle_tracks(&db, id).await?;
    Ok(FilmEdit {
        form: FilmForm {
            title_en: row.title_en,
            title_ru: row.title_ru,
            original_title: row.original_title,
            year: if row.year > 0 {
                row.year.to_string()
            } else {
                String::new()
            },
            genres: row.genres.trim_matches(',').to_owned(),
            countries: row.countries.replace(',', ", "),
            director: row.director,
            description_en: row.description_en,
            description_ru: row.description_ru,
        },
        id: row.id,
        poster_url: row.poster_url,
        rooms: row.rooms,
        own_media: row.own_media > 0,
        subtitles,
    })
}

#[derive(Debug, sqlx::FromRow)]
struct SubtitleRow {
    lang: String,
    url: String,
    cues: i64,
}

pub async fn subtitle_tracks(db: &Db, film: &str) -> Result<Vec<SubtitleTrack>, sqlx::Error> {
    Ok(sqlx::query_as::<_, SubtitleRow>(
        "SELECT lang, url, cues FROM subtitles WHERE film_id = $1 ORDER BY lang",
    )
    .bind(film)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|row| SubtitleTrack {
        lang: row.lang,
        url: row.url,
        cues: row.cues,
    })
    .collect())
}

/// Deletes a film with everything that hangs on it (its rooms and their chat, likes, lists) and
/// its files.
pub async fn delete_film(id: &str) -> Result<(), AppError> {
    let admin = require_admin().await?;
    let (db, library) = (db(), library());
    let dir: Option<String> = sqlx::query_scalar("SELECT dir FROM film_media WHERE film_id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    let done = sqlx::query("DELETE FROM films WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    if let Some(dir) = dir {
        // Running jobs of the film find their rows gone at the next heartbeat and stop.
        if let Err(e) = tokio::fs::remove_dir_all(library.film_dir(&dir)).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(film = %id, error = %e, "cannot delete the film's files");
            }
        }
    }
    tracing::info!(film = %id, admin = %admin.username, "film deleted");
    Ok(())
}

/// Adds (or replaces) a film's subtitles in one language from a finished upload of a `.srt` or
/// `.vtt` file, whatever its character set.
pub async fn add_subtitles(film: &str, lang: &str, upload: &str) -> Result<(), AppError> {
    let admin = require_admin().await?;
    let lang = super::domain::subtitle_language(lang)?;
    let (db, library) = (db(), library());
    let dir = film_dir_of(&db, film).await?;
    let file = library
        .uploads
        .finish(upload, &admin.id)
        .await
        .map_err(upload_error)?;
    let bytes = tokio::fs::read(&file).await.map_err(internal)?;
    let _ = tokio::fs::remove_file(&file).await;
    let subtitles = kino_media::subtitles::to_webvtt(&bytes, "upload")
        .map_err(|_| AppError::Invalid(Invalid::SubtitlesFile))?;
    let name = format!("subtitles-{lang}-{}.vtt", version_tag());
    write_new(
        &library.film_dir(&dir).join(&name),
        subtitles.vtt.as_bytes(),
    )
    .await?;
    save_subtitles(
        &db,
        film,
        &lang,
        &media_url(&dir, &name),
        subtitles.cues as i64,
    )
    .await?;
    Ok(())
}

pub async fn save_subtitles(
    db: &Db,
    film: &str,
    lang: &str,
    url: &str,
    cues: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subtitles (film_id, lang, url, cues, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (film_id, lang) DO UPDATE SET url = $3, cues = $4, created_at = $5",
    )
    .bind(film)
    .bind(lang)
    .bind(url)
    .bind(cues)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn remove_subtitles(film: &str, lang: &str) -> Result<(), AppError> {
    require_admin().await?;
    sqlx::query("DELETE FROM subtitles WHERE film_id = $1 AND lang = $2")
        .bind(film)
        .bind(lang)
        .execute(&db().pool)
        .await?;
    Ok(())
}

/// Replaces the film's poster with an uploaded JPEG or PNG.
pub async fn set_poster(film: &str, upload: &str) -> Result<(), AppError> {
    let admin = require_admin().await?;
    let (db, library) = (db(), library());
    let dir = film_dir_of(&db, film).await?;
    let file = library
        .uploads
        .finish(upload, &admin.id)
        .await
        .map_err(upload_error)?;
    let bytes = tokio::fs::read(&file).await.map_err(internal)?;
    let _ = tokio::fs::remove_file(&file).await;
    let ext = match bytes.as_slice() {
        [0xFF, 0xD8, 0xFF, ..] => "jpg",
        [0x89, b'P', b'N', b'G', ..] => "png",
        _ => return Err(AppError::Invalid(Invalid::PosterFile)),
    };
    if bytes.len() > 10 * 1024 * 1024 {
        return Err(AppError::Invalid(Invalid::PosterFile));
    }
    let name = format!("poster-{}.{ext}", version_tag());
    write_new(&library.film_dir(&dir).join(&name), &bytes).await?;
    sqlx::query("UPDATE films SET poster_url = $1 WHERE id = $2")
        .bind(media_url(&dir, &name))
        .bind(film)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The film's media directory (relative), creating a media row for a film that had none (a
/// demo film getting subtitles or a poster).
async fn film_dir_of(db: &Db, film: &str) -> Result<String, AppError> {
    let exists = sqlx::query("SELECT 1 AS x FROM films WHERE id = $1")
        .bind(film)
        .fetch_optional(&db.pool)
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound);
    }
    sqlx::query(
        "INSERT INTO film_media (film_id, dir, source_name, created_at) VALUES ($1, $2, '', $3) \
         ON CONFLICT (film_id) DO NOTHING",
    )
    .bind(film)
    .bind(format!("films/{film}"))
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    let dir: String = sqlx::query_scalar("SELECT dir FROM film_media WHERE film_id = $1")
        .bind(film)
        .fetch_one(&db.pool)
        .await?;
    Ok(dir)
}

/// Writes a whole small file through `<name>.part`, so nobody ever reads half of it.
pub async fn write_new(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let part = path.with_extension("part");
    let written = async {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&part, bytes).await?;
        tokio::fs::rename(&part, path).await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(internal(e));
    }
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "library file");
    AppError::Internal
}

pub async fn retry_job(id: &str) -> Result<(), AppError> {
    require_admin().await?;
    if !queue::retry(&db(), id).await? {
        return Err(AppError::NotFound);
    }
    library().wake.notify_waiters();
    Ok(())
}

pub async fn cancel_job(id: &str) -> Result<(), AppError> {
    require_admin().await?;
    if !queue::cancel(&db(), id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct LibraryRow {
    film_id: String,
    title_en: String,
    title_ru: String,
    published: crate::db::Flag,
    source_name: String,
    source_url: Option<String>,
    duration_ms: i64,
    width: i64,
    height: i64,
    bytes: i64,
    renditions_bytes: i64,
    created_at: i64,
}

/// Every film with media of its own, newest first, with its jobs; and the disk. (People's own
/// videos for their rooms are theirs: they count on the disk but are not listed.)
pub async fn overview() -> Result<LibraryOverview, AppError> {
    require_admin().await?;
    let (db, library) = (db(), library());
    let rows = sqlx::query_as::<_, LibraryRow>(
        "SELECT m.film_id, f.title_en, f.title_ru, f.published, m.source_name, m.source_url, \
         m.duration_ms, m.width, m.height, m.bytes, \
         CAST(COALESCE((SELECT SUM(r.bytes) FROM renditions r WHERE r.film_id = m.film_id), 0) \
         AS BIGINT) AS renditions_bytes, m.created_at \
         FROM film_media m JOIN films f ON f.id = m.film_id WHERE f.personal = 0 \
         ORDER BY m.created_at DESC",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut jobs = queue::jobs(&db, None).await?;
    let films = rows
        .into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                jobs.drain(..).partition(|j| j.film_id == row.film_id);
            jobs = rest;
            LibraryFilm {
                id: row.film_id,
                title_en: row.title_en,
                title_ru: row.title_ru,
                published: row.published.into(),
                source_name: row.source_name,
                source_url: row.source_url,
                duration_secs: row.duration_ms / 1000,
                width: row.width,
                height: row.height,
                bytes: row.bytes + row.renditions_bytes,
                added_at: row.created_at,
                jobs: mine,
            }
        })
        .collect();
    let (free, total) = library.disk_space().unwrap_or((0, 0));
    let waiting = library
        .waiting
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    Ok(LibraryOverview {
        films,
        disk: DiskInfo {
            free_bytes: free,
            total_bytes: total,
            min_free_bytes: library.min_free_bytes,
            waiting,
        },
    })
}
