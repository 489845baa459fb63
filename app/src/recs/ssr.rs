//! Recommendations in the database: the model job (claimed, so several nodes build once),
//! a person's "For you", a film's "More like this", a group's ideas, and "Not interested".
//!
//! The signals and their weights (judgement, written down; `cargo make bench-recs` measures the
//! model on MovieLens, which has ratings only): a like and a film watched past 90 % count 1, a
//! film on "Want to watch" 0.5 — an intention, not yet a taste. A dislike takes the film out
//! of the model for that person and, when their list is scored, pushes its neighbours down
//! (−0.5); "Not interested" takes it out and hides it, nothing more (it may be a film one has
//! seen elsewhere, not a dislike).

use super::{Because, ListKind, RebuildReport, Recommendation, Recommendations};
use crate::accounts::session::{current_user, require_admin, require_user};
use crate::catalog::ssr::{CardRow, CARD_COLUMNS};
use crate::catalog::FilmCard;
use crate::context::db;
use crate::dates::now_ms;
use crate::db::{Db, Lease};
use crate::error::{AppError, Invalid, OnConstraint};
use futures::TryStreamExt;
use kino_recs::content::{most_similar, Features};
use kino_recs::{build, group_ranking, score, GroupSettings, Settings, Signals};
use sqlx::FromRow;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub const LIKE: f32 = 1.0;
pub const WATCHED: f32 = 1.0;
pub const WANT: f32 = 0.5;
pub const DISLIKE: f32 = -0.5;

/// Films on Home's list, on a film page's "More like this", and among a group's ideas.
const LIST_LEN: usize = 12;
const SIMILAR_LEN: usize = 8;
const IDEAS_LEN: usize = 6;
/// Positive signals (likes, watched, wanted films) before "For you" replaces "Popular this week".
const ENOUGH_SIGNALS: usize = 2;
/// The most friends one group may hold besides oneself.
pub const MAX_GROUP_FRIENDS: usize = 20;
/// Films a list may show: listed in the catalog, not a room's own video.
const LISTED: &str = "f.published = 1 AND f.personal = 0";
/// "This week" for what is popular.
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// The claim on a build: how long a node may hold it before another node may take it over.
const BUILD: Lease = Lease {
    table: "recs_model",
    id: 1,
    ms: 30 * 60 * 1000,
};
/// Films' lists per INSERT and per transaction while a build is stored.
const ROWS_PER_INSERT: usize = 200;
const ROWS_PER_TRANSACTION: usize = 2_000;

// ---------------------------------------------------------------------------------------------
// The model job

/// Rebuilds the model whenever the last build is older than `every`, checking each minute (or
/// each `every`, when shorter) until the process ends. `every` zero: only an admin's
/// "rebuild now" builds.
pub async fn run_every(db: Db, every: Duration) {
    if every.is_zero() {
        return;
    }
    let node = format!("node-{}", uuid::Uuid::new_v4());
    let mut ticks = tokio::time::interval(every.min(Duration::from_secs(60)));
    loop {
        ticks.tick().await;
        match rebuild_if_due(&db, &node, every, false).await {
            Ok(Some(report)) => tracing::info!(?report, "recommendations rebuilt"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "recommendations job failed"),
        }
    }
}

/// Builds and stores the model if it is due (or `force`d) and no other node holds the claim.
/// `None`: not due, or another node is building.
pub async fn rebuild_if_due(
    db: &Db,
    node: &str,
    every: Duration,
    force: bool,
) -> Result<Option<RebuildReport>, sqlx::Error> {
    let now = now_ms();
    let due_before = if force {
        i64::MAX
    } else {
        now - i64::try_from(every.as_millis()).unwrap_or(i64::MAX)
    };
    let not_built_since = Some(("built_at IS NULL OR built_at <= $4", due_before));
    if !BUILD
        .claim_when(db, node, now, false, not_built_since)
        .await?
    {
        return Ok(None);
    }
    let result = rebuild(db, node).await;
    if result.is_err() {
        // Let the next tick (of any node) try again.
        BUILD.release(db, node).await?;
    }
    result.map(Some)
}

/// Everyone's signals, numbered: people and films by first appearance.
struct AllSignals {
    films: Vec<String>,
    signals: Signals,
    /// Positive signals of the last 7 days per film (numbered as `films`).
    this_week: Vec<u32>,
}

#[derive(FromRow)]
struct SignalRow {
    user_id: String,
    film_id: String,
    weight: f64,
    at: i64,
}

async fn all_signals(db: &Db, now: i64) -> Result<AllSignals, sqlx::Error> {
    // The listed films, numbered; signals for other films (a room's own video, a film still
    // being prepared) are skipped as they stream by. Joining each signal table to `films`
    // instead made SQLite look every signal up by film: 82 s for 10 M rows.
    let films: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT f.id FROM films f WHERE {LISTED} ORDER BY f.id"
    ))
    .fetch_all(&db.pool)
    .await?;
    let film_ids: HashMap<&str, u32> = films
        .iter()
        .enumerate()
        .map(|(n, id)| (id.as_str(), n as u32))
        .collect();
    // One stream, never all rows in memory at once: 10 M "Want to watch" rows are ~1.5 GB as
    // strings, ~120 MB as numbered triples. Weight 0 marks a dislike or an exclusion.
    let sql = format!(
        "SELECT user_id, film_id, \
                CAST(CASE WHEN value = 1 THEN {LIKE} ELSE 0 END AS DOUBLE PRECISION) AS weight, \
                updated_at AS at FROM reactions \
         UNION ALL SELECT user_id, film_id, CAST({WANT} AS DOUBLE PRECISION), added_at \
         FROM watchlist \
         UNION ALL SELECT user_id, film_id, CAST({WATCHED} AS DOUBLE PRECISION), watched_at \
         FROM watch_progress WHERE watched_at IS NOT NULL \
         UNION ALL SELECT user_id, film_id, CAST(0 AS DOUBLE PRECISION), created_at \
         FROM recs_excluded"
    );
    let mut people: HashMap<String, u32> = HashMap::new();
    let mut positive: Vec<(u32, u32, f32)> = Vec::new();
    let mut blocked: Vec<(u32, u32)> = Vec::new();
    let mut this_week: Vec<u32> = vec![0; films.len()];
    let mut rows = sqlx::query_as::<_, SignalRow>(&sql).fetch(&db.pool);
    while let Some(row) = rows.try_next().await? {
        let Some(&film) = film_ids.get(row.film_id.as_str()) else {
            continue;
        };
        let next = people.len() as u32;
        let person = *people.entry(row.user_id).or_insert(next);
        if row.weight > 0.0 {
            positive.push((person, film, row.weight as f32));
            if row.at >= now - WEEK_MS {
                this_week[film as usize] += 1;
            }
        } else {
            blocked.push((person, film));
        }
    }
    drop(rows);
    drop(film_ids);
    let blocked: HashSet<(u32, u32)> = blocked.into_iter().collect();
    positive.retain(|&(p, f, _)| !blocked.contains(&(p, f)));
    Ok(AllSignals {
        signals: Signals {
            people: people.len(),
            films: films.len(),
            entries: positive,
        },
        films,
        this_week,
    })
}

async fn rebuild(db: &Db, node: &str) -> Result<RebuildReport, sqlx::Error> {
    let started = Instant::now();
    let now = now_ms();
    let all = all_signals(db, now).await?;
    let read_ms = started.elapsed().as_millis() as i64;
    let settings = Settings::default();
    // The inverse takes seconds on a large catalog: off the async workers.
    let (model, all) = tokio::task::spawn_blocking(move || (build(&all.signals, &settings), all))
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("the model build stopped: {e}")))?;
    let model_ms = started.elapsed().as_millis() as i64 - read_ms;
    let generation: i64 = sqlx::query_scalar("SELECT generation FROM recs_model WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    let next = generation + 1;
    // Leftovers of a build that failed half-way.
    sqlx::query("DELETE FROM film_neighbours WHERE generation = $1")
        .bind(next)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM recs_popular WHERE generation = $1")
        .bind(next)
        .execute(&db.pool)
        .await?;
    // One row per film: its whole list as text ("<film id> <weight>" lines), so a person's
    // list reads one row per film of theirs, not fifty.
    let mut batch: Vec<(usize, String)> = Vec::with_capacity(ROWS_PER_TRANSACTION);
    let mut stored = 0usize;
    for film in 0..model.neighbours.len() {
        let list = &model.neighbours[film];
        if list.is_empty() {
            continue;
        }
        stored += list.len();
        batch.push((
            film,
            pack(
                list.iter()
                    .map(|&(o, w)| (all.films[o as usize].as_str(), w)),
            ),
        ));
        if batch.len() == ROWS_PER_TRANSACTION {
            store_neighbours(db, next, &all.films, &batch).await?;
            batch.clear();
        }
    }
    store_neighbours(db, next, &all.films, &batch).await?;
    // Popular this week, all-time popularity breaking ties, then the film's number (stable).
    let mut popular: Vec<usize> = (0..all.films.len())
        .filter(|&f| model.popularity[f] > 0.0)
        .collect();
    popular.sort_by(|&a, &b| {
        all.this_week[b]
            .cmp(&all.this_week[a])
            .then(model.popularity[b].total_cmp(&model.popularity[a]))
            .then(a.cmp(&b))
    });
    popular.truncate(100);
    let mut tx = db.pool.begin().await?;
    for (rank, &film) in popular.iter().enumerate() {
        sqlx::query("INSERT INTO recs_popular (generation, rank, film_id) VALUES ($1, $2, $3)")
            .bind(next)
            .bind(rank as i64)
            .bind(&all.films[film])
            .execute(&mut *tx)
            .await?;
    }
    let method = format!("{:?}", model.method);
    let films_with_signals = model.popularity.iter().filter(|&&p| p > 0.0).count() as i64;
    let build_ms = started.elapsed().as_millis() as i64;
    sqlx::query(
        "UPDATE recs_model SET generation = $1, built_at = $2, claimed_by = NULL, \
         claimed_until = NULL, method = $3, films = $4, people = $5, build_ms = $6 \
         WHERE id = 1 AND claimed_by = $7",
    )
    .bind(next)
    .bind(now_ms())
    .bind(&method)
    .bind(films_with_signals)
    .bind(all.signals.people as i64)
    .bind(build_ms)
    .bind(node)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // The old generation goes a few films at a time, each delete short.
    let old: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT film_id FROM film_neighbours WHERE generation < $1")
            .bind(next)
            .fetch_all(&db.pool)
            .await?;
    for films in old.chunks(100) {
        let list = placeholders(2, films.len());
        let sql =
            format!("DELETE FROM film_neighbours WHERE generation < $1 AND film_id IN ({list})");
        let mut query = sqlx::query(&sql).bind(next);
        for film in films {
            query = query.bind(film);
        }
        query.execute(&db.pool).await?;
    }
    sqlx::query("DELETE FROM recs_popular WHERE generation < $1")
        .bind(next)
        .execute(&db.pool)
        .await?;
    Ok(RebuildReport {
        method,
        films: films_with_signals,
        people: all.signals.people as i64,
        neighbours: stored as i64,
        build_ms,
        read_ms,
        model_ms,
    })
}

/// A neighbour list as stored: a `<film id> <weight>` line per neighbour (film ids hold no
/// whitespace: slugs and UUIDs).
fn pack<'a>(list: impl Iterator<Item = (&'a str, f32)>) -> String {
    let mut text = String::new();
    for (film, weight) in list {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(film);
        text.push(' ');
        text.push_str(&weight.to_string());
    }
    text
}

/// A stored list back; a line that does not parse is skipped (and logged), never fatal.
fn unpack(text: &str) -> Vec<(String, f32)> {
    text.lines()
        .filter_map(|line| {
            let parsed = line
                .rsplit_once(' ')
                .and_then(|(film, w)| Some((film.to_owned(), w.parse::<f32>().ok()?)));
            if parsed.is_none() {
                tracing::warn!(line, "an unreadable stored neighbour");
            }
            parsed
        })
        .collect()
}

/// One short transaction of films' neighbour lists.
async fn store_neighbours(
    db: &Db,
    generation: i64,
    films: &[String],
    rows: &[(usize, String)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = db.pool.begin().await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO film_neighbours (generation, film_id, neighbours) VALUES {values}"
        );
        let mut query = sqlx::query(&sql).bind(generation);
        for (film, list) in chunk {
            query = query.bind(&films[*film]).bind(list);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// One person's signals and the neighbours of their films

/// What one person's signals say: their films with a weight for scoring, and what never to
/// recommend them.
#[derive(Default)]
struct Mine {
    history: Vec<(String, f32)>,
    /// Liked, disliked, wanted, watched or excluded: never recommended to them.
    skip: HashSet<String>,
    /// Never offered to a group they are in: seen (liked, watched), disliked or excluded.
    seen_or_refused: HashSet<String>,
    /// Liked or watched films, the latest first: the reasons for content top-ups.
    liked_latest: Vec<String>,
    positives: usize,
}

#[derive(FromRow)]
struct MineRow {
    film_id: String,
    kind: i64,
    at: i64,
}

const KIND_LIKE: i64 = 1;
const KIND_DISLIKE: i64 = 2;
const KIND_WANT: i64 = 3;
const KIND_WATCHED: i64 = 4;
const KIND_EXCLUDED: i64 = 5;

async fn mine(db: &Db, user_id: &str) -> Result<Mine, sqlx::Error> {
    let rows = sqlx::query_as::<_, MineRow>(
        "SELECT film_id, CAST(CASE WHEN value = 1 THEN 1 ELSE 2 END AS BIGINT) AS kind, \
                updated_at AS at FROM reactions WHERE user_id = $1 \
         UNION ALL SELECT film_id, CAST(3 AS BIGINT), added_at FROM watchlist WHERE user_id = $1 \
         UNION ALL SELECT film_id, CAST(4 AS BIGINT), watched_at FROM watch_progress \
             WHERE user_id = $1 AND watched_at IS NOT NULL \
         UNION ALL SELECT film_id, CAST(5 AS BIGINT), created_at FROM recs_excluded \
             WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    // film -> (the largest positive weight, disliked, excluded)
    let mut weights: HashMap<&str, (f32, bool, bool)> = HashMap::new();
    let mut mine = Mine::default();
    let mut liked: Vec<(&str, i64)> = Vec::new();
    for row in &rows {
        let entry = weights.entry(&row.film_id).or_insert((0.0, false, false));
        match row.kind {
            KIND_LIKE | KIND_WATCHED => {
                entry.0 = entry
                    .0
                    .max(if row.kind == KIND_LIKE { LIKE } else { WATCHED });
                liked.push((&row.film_id, row.at));
                mine.seen_or_refused.insert(row.film_id.clone());
            }
            KIND_WANT => entry.0 = entry.0.max(WANT),
            KIND_DISLIKE => {
                entry.1 = true;
                mine.seen_or_refused.insert(row.film_id.clone());
            }
            KIND_EXCLUDED => {
                entry.2 = true;
                mine.seen_or_refused.insert(row.film_id.clone());
            }
            _ => {}
        }
        mine.skip.insert(row.film_id.clone());
    }
    let mut refused: HashSet<&str> = HashSet::new();
    for (film, (weight, disliked, excluded)) in weights {
        if disliked {
            mine.history.push((film.to_owned(), DISLIKE));
            refused.insert(film);
        } else if excluded {
            refused.insert(film);
        } else if weight > 0.0 {
            mine.positives += 1;
            mine.history.push((film.to_owned(), weight));
        }
    }
    mine.history.sort_by(|a, b| a.0.cmp(&b.0));
    liked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut latest: Vec<String> = Vec::new();
    for (film, _) in liked {
        if !refused.contains(film) && !latest.iter().any(|l| l == film) {
            latest.push(film.to_owned());
        }
    }
    mine.liked_latest = latest;
    Ok(mine)
}

#[derive(FromRow)]
struct NeighbourRow {
    film_id: String,
    neighbours: String,
}

/// The current model's neighbour lists of `films`.
async fn neighbours_of(
    db: &Db,
    films: &[&str],
) -> Result<HashMap<String, Vec<(String, f32)>>, sqlx::Error> {
    let mut lists: HashMap<String, Vec<(String, f32)>> = HashMap::new();
    for chunk in films.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT n.film_id, n.neighbours FROM film_neighbours n \
             JOIN recs_model m ON m.id = 1 AND n.generation = m.generation \
             WHERE n.film_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, NeighbourRow>(&sql);
        for film in chunk {
            query = query.bind(*film);
        }
        for row in query.fetch_all(&db.pool).await? {
            lists.insert(row.film_id, unpack(&row.neighbours));
        }
    }
    Ok(lists)
}

/// The catalog cards of `ids` that lists may show, in the order given.
async fn cards(db: &Db, ids: &[String]) -> Result<Vec<FilmCard>, sqlx::Error> {
    let mut found: HashMap<String, FilmCard> = HashMap::new();
    for chunk in ids.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM films f WHERE {LISTED} AND f.id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, CardRow>(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(&db.pool).await? {
            let card = FilmCard::from(row);
            found.insert(card.id.clone(), card);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

#[derive(FromRow)]
struct FeaturesRow {
    id: String,
    genres: String,
    director: String,
    countries: String,
    year: i64,
}

impl FeaturesRow {
    fn features(&self) -> Features {
        let list = |s: &str| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Features {
            genres: list(&self.genres),
            director: self.director.clone(),
            countries: list(&self.countries),
            year: i32::try_from(self.year).unwrap_or_default(),
        }
    }
}

/// Films like `film` by what the catalog says (genres, director, countries, year), leaving out
/// `skip`: a bounded look at the listed films that share its director or one of its genres.
async fn content_like(
    db: &Db,
    film: &str,
    skip: &HashSet<String>,
    limit: usize,
) -> Result<Vec<(String, f32)>, sqlx::Error> {
    let columns = "f.id, f.genres, f.director, f.countries, f.year";
    let Some(target) =
        sqlx::query_as::<_, FeaturesRow>(&format!("SELECT {columns} FROM films f WHERE f.id = $1"))
            .bind(film)
            .fetch_optional(&db.pool)
            .await?
    else {
        return Ok(Vec::new());
    };
    let features = target.features();
    let genres: Vec<String> = features
        .genres
        .iter()
        .take(3)
        .map(|g| format!("%,{},%", g.replace(['%', '_', '\\'], "")))
        .collect();
    let mut filter = String::from("f.director = $2");
    for i in 0..genres.len() {
        filter.push_str(&format!(" OR f.genres LIKE ${}", i + 3));
    }
    let sql = format!(
        "SELECT {columns} FROM films f WHERE {LISTED} AND f.id <> $1 AND ({filter}) \
         ORDER BY ABS(f.year - {year}) LIMIT 500",
        year = features.year
    );
    let mut query = sqlx::query_as::<_, FeaturesRow>(&sql)
        .bind(film)
        .bind(&features.director);
    for genre in &genres {
        query = query.bind(genre);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let candidates: Vec<(String, Features)> = rows
        .iter()
        .filter(|r| !skip.contains(&r.id))
        .map(|r| (r.id.clone(), r.features()))
        .collect();
    Ok(most_similar(
        &film.to_owned(),
        &features,
        candidates.iter().map(|(k, f)| (k, f)),
        limit,
    ))
}

/// The model's popular list (this week first), then — on an instance nobody has rated yet —
/// the newest films. `false`: the list is only the newest films.
async fn popular(
    db: &Db,
    skip: &HashSet<String>,
    limit: usize,
) -> Result<(Vec<String>, bool), sqlx::Error> {
    let ranked: Vec<String> = sqlx::query_scalar(
        "SELECT p.film_id FROM recs_popular p \
         JOIN recs_model m ON m.id = 1 AND p.generation = m.generation ORDER BY p.rank",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut films: Vec<String> = ranked.into_iter().filter(|f| !skip.contains(f)).collect();
    let popular = !films.is_empty();
    if films.len() < limit {
        let newest: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT f.id FROM films f WHERE {LISTED} ORDER BY f.created_at DESC, f.id LIMIT $1"
        ))
        .bind((limit + skip.len() + films.len()) as i64)
        .fetch_all(&db.pool)
        .await?;
        for film in newest {
            if films.len() >= limit {
                break;
            }
            if !skip.contains(&film) && !films.contains(&film) {
                films.push(film);
            }
        }
    }
    films.truncate(limit);
    Ok((films, popular))
}

/// `because` ids become titles.
async fn with_reasons(
    db: &Db,
    ranked: Vec<(String, Option<String>)>,
    limit: usize,
) -> Result<Vec<Recommendation>, sqlx::Error> {
    // The films and the films they come from, in one query.
    let mut ids: Vec<String> = ranked.iter().map(|(f, _)| f.clone()).collect();
    ids.extend(ranked.iter().filter_map(|(_, b)| b.clone()));
    let found: HashMap<String, FilmCard> = cards(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    Ok(ranked
        .iter()
        .filter_map(|(film, because)| {
            let card = found.get(film)?.clone();
            let because = because
                .as_ref()
                .and_then(|b| found.get(b))
                .map(|r| Because {
                    film_id: r.id.clone(),
                    title_en: r.title_en.clone(),
                    title_ru: r.title_ru.clone(),
                });
            Some(Recommendation { card, because })
        })
        .take(limit)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// What the server functions answer

/// Home's list: "For you" with enough signals, otherwise "Popular this week" (or, on an
/// instance nobody has rated yet, the newest films).
pub async fn for_you() -> Result<Recommendations, AppError> {
    let user = current_user().await?;
    for_person(&db(), user.as_ref().map(|u| u.id.as_str())).await
}

/// [`for_you`] for a given person (`None`: a guest); the benchmark calls it directly.
pub async fn for_person(db: &Db, user_id: Option<&str>) -> Result<Recommendations, AppError> {
    let mine = match user_id {
        Some(user_id) => mine(db, user_id).await?,
        None => Mine::default(),
    };
    if mine.positives >= ENOUGH_SIGNALS {
        let ranked = personal(db, &mine).await?;
        if !ranked.is_empty() {
            return Ok(Recommendations {
                kind: ListKind::ForYou,
                items: with_reasons(db, ranked, LIST_LEN).await?,
                can_exclude: true,
            });
        }
    }
    let (films, popular) = popular(db, &mine.skip, LIST_LEN).await?;
    Ok(Recommendations {
        kind: if popular {
            ListKind::Popular
        } else {
            ListKind::New
        },
        items: with_reasons(db, films.into_iter().map(|f| (f, None)).collect(), LIST_LEN).await?,
        can_exclude: user_id.is_some(),
    })
}

/// A person's ranking: the model's neighbours of their films, topped up with films like their
/// latest liked ones by content, then with popular films.
async fn personal(db: &Db, mine: &Mine) -> Result<Vec<(String, Option<String>)>, AppError> {
    let films: Vec<&str> = mine.history.iter().map(|(f, _)| f.as_str()).collect();
    let neighbours = neighbours_of(db, &films).await?;
    // More than the list holds: some may no longer be listed.
    let mut ranked: Vec<(String, Option<String>)> =
        score(&mine.history, &neighbours, &mine.skip, LIST_LEN * 2)
            .into_iter()
            .map(|s| (s.film, s.because))
            .collect();
    let mut taken: HashSet<String> = ranked.iter().map(|(f, _)| f.clone()).collect();
    if ranked.len() < LIST_LEN * 2 {
        for liked in mine.liked_latest.iter().take(3) {
            for (film, _) in content_like(db, liked, &mine.skip, LIST_LEN).await? {
                if taken.insert(film.clone()) {
                    ranked.push((film, Some(liked.clone())));
                }
            }
        }
    }
    if ranked.len() < LIST_LEN {
        let (popular, _) = popular(db, &mine.skip, LIST_LEN).await?;
        for film in popular {
            if taken.insert(film.clone()) {
                ranked.push((film, None));
            }
        }
    }
    Ok(ranked)
}

/// "More like this": the film's neighbours, topped up by content; minus what the signed-in
/// person asked not to see or disliked.
pub async fn more_like_this(film_id: &str) -> Result<Vec<FilmCard>, AppError> {
    let db = &db();
    sqlx::query(&format!(
        "SELECT 1 AS x FROM films f WHERE f.id = $1 AND {LISTED}"
    ))
    .bind(film_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let mut skip: HashSet<String> = match current_user().await? {
        Some(user) => sqlx::query_scalar(
            "SELECT film_id FROM recs_excluded WHERE user_id = $1 \
             UNION ALL SELECT film_id FROM reactions WHERE user_id = $1 AND value = -1",
        )
        .bind(&user.id)
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .collect(),
        None => HashSet::new(),
    };
    skip.insert(film_id.to_owned());
    let lists = neighbours_of(db, &[film_id]).await?;
    let mut ids: Vec<String> = lists
        .get(film_id)
        .map(|l| {
            l.iter()
                .filter(|(f, _)| !skip.contains(f))
                .map(|(f, _)| f.clone())
                .collect()
        })
        .unwrap_or_default();
    if ids.len() < SIMILAR_LEN * 2 {
        for (film, _) in content_like(db, film_id, &skip, SIMILAR_LEN * 2).await? {
            if !ids.contains(&film) {
                ids.push(film);
            }
        }
    }
    let mut cards = cards(db, &ids).await?;
    cards.truncate(SIMILAR_LEN);
    Ok(cards)
}

/// "Ideas for all of you": films the signed-in person and `friends` would like together
/// (average without misery), leaving out what any of them has seen, disliked or excluded. The
/// answer names no one and says nothing of whose signals moved it, so hidden "Want to watch"
/// lists stay hidden.
pub async fn group_ideas(friends: &[String]) -> Result<Vec<FilmCard>, AppError> {
    let user = require_user().await?;
    let db = &db();
    let mut others: Vec<&str> = friends.iter().map(String::as_str).collect();
    others.sort_unstable();
    others.dedup();
    others.retain(|f| *f != user.id);
    if others.len() > MAX_GROUP_FRIENDS {
        return Err(AppError::Invalid(Invalid::ParticipantLimit));
    }
    if crate::friends::ssr::friends_among(&user.id, &others).await? != others.len() {
        return Err(AppError::Invalid(Invalid::NotAFriend));
    }
    others.insert(0, &user.id);
    ideas_for(db, &others).await
}

/// The films `people` would like together, as [`group_ideas`] ranks them, for a caller that
/// has checked they may be asked about together (friends of the asker, or people in one room).
pub async fn ideas_for(db: &Db, people: &[&str]) -> Result<Vec<FilmCard>, AppError> {
    let mut members = Vec::with_capacity(people.len());
    for person in people.iter().take(MAX_GROUP_FRIENDS + 1) {
        members.push(mine(db, person).await?);
    }
    let skip: HashSet<String> = members
        .iter()
        .flat_map(|m| m.seen_or_refused.iter().cloned())
        .collect();
    let films: Vec<&str> = members
        .iter()
        .flat_map(|m| m.history.iter().map(|(f, _)| f.as_str()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let neighbours = neighbours_of(db, &films).await?;
    let rankings: Vec<_> = members
        .iter()
        .map(|m| score(&m.history, &neighbours, &skip, usize::MAX))
        .collect();
    let mut ids: Vec<String> =
        group_ranking(&rankings, &skip, &GroupSettings::default(), IDEAS_LEN * 2)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
    if ids.len() < IDEAS_LEN {
        let (popular, _) = popular(db, &skip, IDEAS_LEN * 2).await?;
        for film in popular {
            if !ids.contains(&film) {
                ids.push(film);
            }
        }
    }
    let mut cards = cards(db, &ids).await?;
    cards.truncate(IDEAS_LEN);
    Ok(cards)
}

/// "Not interested" (`excluded`) or its undo; answers the new state.
pub async fn set_excluded(film_id: &str, excluded: bool) -> Result<bool, AppError> {
    let user = require_user().await?;
    let db = &db();
    if excluded {
        sqlx::query(
            "INSERT INTO recs_excluded (user_id, film_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, film_id) DO NOTHING",
        )
        .bind(&user.id)
        .bind(film_id)
        .bind(now_ms())
        .execute(&db.pool)
        .await
        .on_missing_ref(AppError::NotFound)?;
    } else {
        sqlx::query("DELETE FROM recs_excluded WHERE user_id = $1 AND film_id = $2")
            .bind(&user.id)
            .bind(film_id)
            .execute(&db.pool)
            .await?;
    }
    Ok(excluded)
}

/// The films the signed-in person asked not to be recommended, the latest first.
pub async fn excluded() -> Result<Vec<FilmCard>, AppError> {
    let user = require_user().await?;
    let rows = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM recs_excluded e JOIN films f ON f.id = e.film_id \
         WHERE e.user_id = $1 ORDER BY e.created_at DESC, f.id"
    ))
    .bind(&user.id)
    .fetch_all(&db().pool)
    .await?;
    Ok(rows.into_iter().map(FilmCard::from).collect())
}

/// An admin's "rebuild now": builds unless another node is building at this moment.
pub async fn rebuild_now() -> Result<Option<RebuildReport>, AppError> {
    require_admin().await?;
    let node = format!("admin-{}", uuid::Uuid::new_v4());
    Ok(rebuild_if_due(&db(), &node, Duration::ZERO, true).await?)
}

#[cfg(test)]
mod tests {
    use super::{pack, unpack};

    #[test]
    fn a_packed_list_reads_back_and_bad_lines_are_skipped() {
        let list = [("metropolis-1927", 0.25f32), ("nosferatu-1922", 1e-7)];
        let text = pack(list.iter().map(|&(f, w)| (f, w)));
        assert_eq!(text, "metropolis-1927 0.25\nnosferatu-1922 0.0000001");
        let back = unpack(&text);
        assert_eq!(
            back,
            [
                ("metropolis-1927".to_owned(), 0.25),
                ("nosferatu-1922".to_owned(), 1e-7)
            ]
        );
        assert_eq!(unpack("x 1\nbroken\ny nan?\nz 2").len(), 2);
        assert!(unpack("").is_empty());
    }
}
