//! Catalog queries, the demo seed and generated posters.

use super::domain::{ParsedQuery, Sort, PAGE_SIZE};
use super::{CatalogPage, FilmCard, FilmDetails, Rendition, SubtitleTrack};
use crate::accounts::session::{current_user, require_user};
use crate::context::{config, db};
use crate::dates::now_ms;
use crate::db::Db;
use crate::error::AppError;
use crate::text::fold;
use leptos::prelude::expect_context;
use serde::Deserialize;
use sqlx::FromRow;

/// One film of `app/seed/films.json` (real metadata of public-domain films).
#[derive(Debug, Deserialize)]
struct SeedFilm {
    slug: String,
    title_en: String,
    title_ru: String,
    original_title: String,
    year: i64,
    genres: Vec<String>,
    countries: Vec<String>,
    director: String,
    description_en: String,
    description_ru: String,
    duration_min: i64,
    poster_color: String,
    media: Vec<SeedMedia>,
}

#[derive(Debug, Deserialize)]
struct SeedMedia {
    file: String,
    container: String,
    width: i64,
    height: i64,
}

const SEED: &str = include_str!("../../seed/films.json");

/// Fills an empty catalog with the demo films; does nothing when there are films already.
/// Returns how many films it added.
pub async fn seed_demo_catalog(db: &Db) -> Result<usize, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) AS n FROM films")
        .fetch_one(&db.pool)
        .await?;
    if count > 0 {
        return Ok(0);
    }
    let films: Vec<SeedFilm> = serde_json::from_str(SEED)
        .map_err(|e| sqlx::Error::Protocol(format!("app/seed/films.json is invalid: {e}")))?;
    let mut tx = db.pool.begin().await?;
    for film in &films {
        let search_text = fold(&format!(
            "{} {} {}",
            film.title_en, film.title_ru, film.original_title
        ));
        sqlx::query(
            "INSERT INTO films (id, title_en, title_ru, original_title, search_text, year, genres, \
             countries, director, description_en, description_ru, duration_secs, poster_color, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&film.slug)
        .bind(&film.title_en)
        .bind(&film.title_ru)
        .bind(&film.original_title)
        .bind(&search_text)
        .bind(film.year)
        .bind(format!(",{},", film.genres.join(",")))
        .bind(film.countries.join(","))
        .bind(&film.director)
        .bind(&film.description_en)
        .bind(&film.description_ru)
        .bind(film.duration_min * 60)
        .bind(&film.poster_color)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for media in &film.media {
            sqlx::query(
                "INSERT INTO renditions (id, film_id, url, container, width, height) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&film.slug)
            .bind(format!("/media/{}", media.file))
            .bind(&media.container)
            .bind(media.width)
            .bind(media.height)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(films.len())
}

/// (A room's own video keeps its poster to its room: lists show the generated one.)
pub const CARD_COLUMNS: &str = "f.id, f.title_en, f.title_ru, f.year, f.genres, f.duration_secs, \
     CASE WHEN f.personal = 1 THEN NULL ELSE f.poster_url END AS poster_url, \
     (SELECT COUNT(*) FROM renditions r WHERE r.film_id = f.id) AS renditions";

/// A row of [`CARD_COLUMNS`]; other row types take it in with `#[sqlx(flatten)]`.
#[derive(Debug, FromRow)]
pub(crate) struct CardRow {
    id: String,
    title_en: String,
    title_ru: String,
    year: i64,
    /// `,drama,comedy,`: every genre between commas.
    genres: String,
    duration_secs: i64,
    poster_url: Option<String>,
    /// How many renditions the film has.
    renditions: i64,
}

impl From<CardRow> for FilmCard {
    fn from(row: CardRow) -> Self {
        FilmCard {
            id: row.id,
            title_en: row.title_en,
            title_ru: row.title_ru,
            year: row.year,
            genres: split_list(&row.genres),
            duration_secs: row.duration_secs,
            playable: row.renditions > 0,
            poster: row.poster_url,
        }
    }
}

/// A stored comma-separated list, without its empty items.
fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A film page's row: [`CARD_COLUMNS`] and the details (`poster_color` is selected but unused).
#[derive(Debug, FromRow)]
struct FilmRow {
    #[sqlx(flatten)]
    card: CardRow,
    original_title: String,
    /// Comma-separated.
    countries: String,
    director: String,
    description_en: String,
    description_ru: String,
    published: crate::db::Flag,
    personal: crate::db::Flag,
    /// The stored poster, for a room's own video (which `CARD_COLUMNS` leaves out).
    own_poster_url: Option<String>,
}

#[derive(Debug, FromRow)]
struct SubtitleRow {
    lang: String,
    url: String,
    cues: i64,
}

#[derive(Debug, FromRow)]
struct RenditionRow {
    url: String,
    container: String,
    width: i64,
    height: i64,
}

impl From<RenditionRow> for Rendition {
    fn from(row: RenditionRow) -> Self {
        Rendition {
            url: row.url,
            container: row.container,
            width: row.width,
            height: row.height,
        }
    }
}

#[derive(Debug, FromRow)]
struct PosterRow {
    title_en: String,
    year: i64,
    poster_color: String,
}

pub async fn list_films(query: ParsedQuery, russian: bool) -> Result<CatalogPage, AppError> {
    let db = &db();
    // The ORDER BY comes from a fixed list, never from the request's text.
    let order = match (query.sort, russian) {
        (Sort::YearDesc, _) => "f.year DESC, f.id",
        (Sort::YearAsc, _) => "f.year ASC, f.id",
        (Sort::Title, true) => "f.title_ru, f.id",
        (Sort::Title, false) => "f.title_en, f.id",
    };
    // A film an admin is still preparing is not listed until its first MP4 is ready.
    let filter =
        "f.published = 1 AND f.search_text LIKE $1 ESCAPE '\\' AND ($2 = '' OR f.genres LIKE $3)";
    let genre = query.genre.unwrap_or_default();
    let genre_pattern = format!("%,{genre},%");
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) AS n FROM films f WHERE {filter}"))
            .bind(&query.like_pattern)
            .bind(genre)
            .bind(&genre_pattern)
            .fetch_one(&db.pool)
            .await?;
    let rows = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM films f WHERE {filter} ORDER BY {order} LIMIT $4 OFFSET $5"
    ))
    .bind(&query.like_pattern)
    .bind(genre)
    .bind(&genre_pattern)
    .bind(PAGE_SIZE)
    .bind((query.page - 1) * PAGE_SIZE)
    .fetch_all(&db.pool)
    .await?;
    Ok(CatalogPage {
        films: rows.into_iter().map(FilmCard::from).collect(),
        total,
        page: query.page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// The poster for link previews: the pre-rendered PNG when there is one (Telegram and most
/// messengers ignore SVG), else the SVG. Absolute, as previews need.
pub fn share_image(id: &str, poster: Option<&str>) -> String {
    if let Some(poster) = poster {
        return format!("{}{poster}", config().public_url);
    }
    let options = expect_context::<leptos::config::LeptosOptions>();
    let png = std::path::Path::new(&*options.site_root)
        .join("posters")
        .join(format!("{id}.png"));
    let ext = if png.is_file() { "png" } else { "svg" };
    format!("{}/posters/{id}.{ext}", config().public_url)
}

pub async fn film(id: &str) -> Result<FilmDetails, AppError> {
    let (details, _) = film_details(id, Audience::FilmPage).await?;
    Ok(details)
}

/// A room's film for the room's members (who may see it whether it is listed or not), and
/// whether it is a room's own video (whose media URLs must be signed before they are shown).
pub async fn film_in_room(id: &str) -> Result<(FilmDetails, bool), AppError> {
    film_details(id, Audience::RoomMembers).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Anyone on the film's page: a film still being prepared only for admins, a room's own
    /// video for nobody.
    FilmPage,
    /// A room's members: the caller has checked that.
    RoomMembers,
}

async fn film_details(id: &str, audience: Audience) -> Result<(FilmDetails, bool), AppError> {
    let db = &db();
    let row = sqlx::query_as::<_, FilmRow>(&format!(
        "SELECT {CARD_COLUMNS}, f.original_title, f.countries, f.director, f.description_en, \
         f.description_ru, f.poster_color, f.published, f.personal, \
         f.poster_url AS own_poster_url FROM films f WHERE f.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let user = current_user().await?;
    let personal = bool::from(row.personal);
    if audience == Audience::FilmPage {
        if personal {
            return Err(AppError::NotFound);
        }
        if !bool::from(row.published) && !user.as_ref().is_some_and(|u| u.is_admin) {
            // Still being prepared: only the library's admins see it.
            return Err(AppError::NotFound);
        }
    }
    let renditions = sqlx::query_as::<_, RenditionRow>(
        "SELECT url, container, width, height FROM renditions WHERE film_id = $1 \
         ORDER BY height DESC, container",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(Rendition::from)
    .collect();
    let subtitles = sqlx::query_as::<_, SubtitleRow>(
        "SELECT lang, url, cues FROM subtitles WHERE film_id = $1 ORDER BY lang",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|row| SubtitleTrack {
        lang: row.lang,
        url: row.url,
        cues: row.cues,
    })
    .collect();
    let previews: Option<String> =
        sqlx::query_scalar("SELECT sprite_url FROM film_media WHERE film_id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?
            .flatten();
    let wanted = match &user {
        Some(user) => {
            sqlx::query("SELECT 1 AS x FROM watchlist WHERE user_id = $1 AND film_id = $2")
                .bind(&user.id)
                .bind(id)
                .fetch_optional(&db.pool)
                .await?
                .is_some()
        }
        None => false,
    };
    let share_image = share_image(id, row.card.poster_url.as_deref());
    let mut card = FilmCard::from(row.card);
    if personal {
        card.poster = row.own_poster_url;
    }
    let details = FilmDetails {
        card,
        original_title: row.original_title,
        countries: split_list(&row.countries),
        director: row.director,
        description_en: row.description_en,
        description_ru: row.description_ru,
        share_image,
        subtitles,
        previews,
        renditions,
        wanted,
    };
    Ok((details, personal))
}

/// Puts the film on (or takes it off) the signed-in user's list. Setting the same state twice
/// changes nothing, so a retried click is harmless.
pub async fn set_want(film_id: &str, want: bool) -> Result<bool, AppError> {
    let user = require_user().await?;
    let db = &db();
    if want {
        let exists = sqlx::query("SELECT 1 AS x FROM films WHERE id = $1")
            .bind(film_id)
            .fetch_optional(&db.pool)
            .await?;
        if exists.is_none() {
            return Err(AppError::NotFound);
        }
        sqlx::query(
            "INSERT INTO watchlist (user_id, film_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, film_id) DO NOTHING",
        )
        .bind(&user.id)
        .bind(film_id)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    } else {
        sqlx::query("DELETE FROM watchlist WHERE user_id = $1 AND film_id = $2")
            .bind(&user.id)
            .bind(film_id)
            .execute(&db.pool)
            .await?;
    }
    Ok(want)
}

pub async fn watchlist() -> Result<Vec<FilmCard>, AppError> {
    let user = require_user().await?;
    let rows = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM watchlist w JOIN films f ON f.id = w.film_id \
         WHERE w.user_id = $1 ORDER BY w.added_at DESC, f.id"
    ))
    .bind(&user.id)
    .fetch_all(&db().pool)
    .await?;
    Ok(rows.into_iter().map(FilmCard::from).collect())
}

/// How many films the signed-in user wants to watch (0 for a guest).
pub async fn watchlist_count() -> Result<i64, AppError> {
    let Some(user) = current_user().await? else {
        return Ok(0);
    };
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM watchlist WHERE user_id = $1")
            .bind(&user.id)
            .fetch_one(&db().pool)
            .await?,
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A poster: the title and year on the film's colour, as SVG.
pub async fn poster_svg(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    let Some(PosterRow {
        title_en: title,
        year,
        poster_color: color,
    }) = sqlx::query_as::<_, PosterRow>(
        "SELECT title_en, year, poster_color FROM films WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let color = if color.len() == 7
        && color.starts_with('#')
        && color[1..].chars().all(|c| c.is_ascii_hexdigit())
    {
        color
    } else {
        "#333344".to_owned()
    };
    // Wrap the title into lines of at most ~14 characters.
    let mut lines: Vec<String> = Vec::new();
    for word in title.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= 14 => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            format!(
                r#"<text x="24" y="{}" font-size="34" font-weight="700">{}</text>"#,
                190 + i * 42,
                xml_escape(line)
            )
        })
        .collect();
    Ok(Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 450" width="300" height="450"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{color}"/><stop offset="1" stop-color="#0b0b10"/></linearGradient></defs><rect width="300" height="450" fill="url(#g)"/><g fill="#fff" font-family="Georgia, 'DejaVu Serif', serif">{text}</g><text x="24" y="420" fill="#ffffffb0" font-family="system-ui, sans-serif" font-size="22">{year}</text></svg>"##
    )))
}
