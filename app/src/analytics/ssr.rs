//! Analytics on the server: the events buffer every node appends through, the page-view
//! counter, the rollup job (one node at a time) and the dashboard's queries over the rollups.

use super::domain::{
    self, day_of, Days, FilmDay, Played, Report, RoomEntry, RoomStep, DAY_MS, MONTH, WEEK,
};
use super::{Dashboard, DayFigures, FilmFigures, Headline, PageFigures, RoomFigures};
use crate::dates::now_ms;
use crate::db::{Backend, Db, Lease};
use crate::events::Recorder;
use crate::rooms::protocol::EventKind;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Link previews, crawlers and scripts are not people.
fn looks_like_a_person(headers: &http::HeaderMap) -> bool {
    let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let agent = agent.to_ascii_lowercase();
    agent.starts_with("mozilla/")
        && ![
            "bot",
            "spider",
            "crawl",
            "preview",
            "facebookexternalhit",
            "slack",
            "whatsapp",
            "discord",
            "telegram",
        ]
        .iter()
        .any(|word| agent.contains(word))
}

/// Middleware: counts each page a person loads (a GET answered with an HTML page of one of the
/// app's routes), by route, for guests too — a guest without the anonymous cookie gets one. Runs
/// inside the session layer, whose record the page has loaded already.
pub async fn count_page_views(
    axum::extract::State(recorder): axum::extract::State<Arc<Recorder>>,
    axum::extract::State(config): axum::extract::State<Arc<crate::config::AppConfig>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let page = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let counts = !recorder.is_off()
        && req.method() == http::Method::GET
        && page.as_deref().is_some_and(|p| {
            !p.starts_with("/api/") && !p.starts_with("/ws/") && !p.starts_with("/media")
        })
        && looks_like_a_person(req.headers());
    let anonymous = crate::events::anonymous_id(req.headers());
    let session = req.extensions().get::<tower_sessions::Session>().cloned();
    let mut res = next.run(req).await;
    let is_page = res.status() == http::StatusCode::OK
        && res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
    if !counts || !is_page {
        return res;
    }
    let user = match &session {
        Some(session) => crate::accounts::session::session_user_id(session)
            .await
            .map(|(id, _)| id),
        None => None,
    };
    let actor = match (user, anonymous) {
        (Some(user), _) => format!("u:{user}"),
        (None, Some(anon)) => format!("a:{anon}"),
        (None, None) => {
            // The page's own code may have given the cookie already (the player's reports).
            let given = res
                .headers()
                .get_all(http::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    c.strip_prefix(crate::events::ANON_COOKIE)
                        .and_then(|rest| rest.strip_prefix('='))
                        .and_then(|rest| rest.split(';').next())
                        .map(str::to_owned)
                });
            let id = given.unwrap_or_else(|| {
                let id = uuid::Uuid::new_v4().to_string();
                let secure = if config.public_url.starts_with("https://") {
                    "; Secure"
                } else {
                    ""
                };
                let cookie = format!(
                    "{}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}",
                    crate::events::ANON_COOKIE
                );
                if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                    res.headers_mut().append(http::header::SET_COOKIE, value);
                }
                id
            });
            format!("a:{id}")
        }
    };
    recorder.record("page_view", actor, page);
    res
}

/// How long the rollup job's claim holds.
const ROLLUP: Lease = Lease {
    table: "analytics_job",
    id: 1,
    ms: 10 * 60 * 1000,
};

/// What one run of the rollup job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupReport {
    pub days: Vec<i64>,
    pub raw_deleted: u64,
}

/// The rollup job: every `every`, one node (whichever claims it) recomputes today and yesterday
/// (and older days when asked) from the raw events, then deletes raw events older than
/// `retention_days`.
pub async fn run_every(db: Db, every: Duration, retention_days: u32) {
    if every.is_zero() {
        return;
    }
    let node = format!("node-{}", uuid::Uuid::new_v4());
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let started = std::time::Instant::now();
        match roll_up(&db, &node, now_ms(), retention_days).await {
            Ok(Some(report)) => {
                metrics::counter!("kino_analytics_rollups_total", "result" => "ok").increment(1);
                metrics::histogram!("kino_analytics_rollup_seconds")
                    .record(started.elapsed().as_secs_f64());
                tracing::debug!(?report, "analytics rolled up");
            }
            Ok(None) => {}
            Err(e) => {
                metrics::counter!("kino_analytics_rollups_total", "result" => "error").increment(1);
                tracing::warn!(error = %e, "analytics rollup failed");
            }
        }
    }
}

/// One run of the job at `now`, unless another node holds the claim (`None`).
pub async fn roll_up(
    db: &Db,
    node: &str,
    now: i64,
    retention_days: u32,
) -> Result<Option<RollupReport>, sqlx::Error> {
    if !ROLLUP.claim(db, node, now, false).await? {
        return Ok(None);
    }
    let result = roll_up_claimed(db, now, retention_days).await;
    // Free the claim whatever happened, so the next tick (here or elsewhere) may try again.
    ROLLUP.release(db, node).await?;
    result.map(Some)
}

async fn roll_up_claimed(
    db: &Db,
    now: i64,
    retention_days: u32,
) -> Result<RollupReport, sqlx::Error> {
    let today = day_of(now);
    let dirty_from: Option<i64> =
        sqlx::query_scalar("SELECT dirty_from FROM analytics_job WHERE id = 1")
            .fetch_one(&db.pool)
            .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(at) FROM (SELECT MIN(created_at) AS at FROM analytics_events \
         UNION ALL SELECT MIN(created_at) AS at FROM player_events) AS raw",
    )
    .fetch_one(&db.pool)
    .await?;
    let oldest_day = oldest.map(day_of).unwrap_or(today);
    let first = match dirty_from {
        Some(day) => day.max(oldest_day),
        None => oldest_day,
    }
    .min(today - 1);
    let days: Vec<i64> = (first..=today).collect();
    let aliases = aliases(db, now).await?;
    for &day in &days {
        roll_up_day(db, day, now, &aliases).await?;
    }
    let keep_from = now - i64::from(retention_days) * DAY_MS;
    let mut raw_deleted = 0;
    if retention_days > 0 {
        for table in ["analytics_events", "player_events"] {
            raw_deleted += sqlx::query(&format!("DELETE FROM {table} WHERE created_at < $1"))
                .bind(keep_from)
                .execute(&db.pool)
                .await?
                .rows_affected();
        }
    }
    sqlx::query("UPDATE analytics_job SET rolled_at = $1, dirty_from = $2 WHERE id = 1")
        .bind(now)
        .bind(today - 1)
        .execute(&db.pool)
        .await?;
    Ok(RollupReport { days, raw_deleted })
}

/// A player report as read for the rollup.
#[derive(sqlx::FromRow)]
struct ReportRow {
    user_id: Option<String>,
    anon_id: Option<String>,
    film_id: String,
    kind: String,
    position_ms: i64,
    duration_ms: i64,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct RoomEventRow {
    kind: String,
    user_id: Option<String>,
    body: String,
    created_at: i64,
}

/// The room log's events that move the playback or the people in it.
const ROOM_STEPS: &str =
    "'join','leave','play','pause','seek','rate','hold','resume','now_playing','end'";

fn room_step(row: &RoomEventRow) -> Option<RoomEntry> {
    let step = match EventKind::from_stored(&row.kind, &row.body)? {
        EventKind::Join => RoomStep::Join,
        EventKind::Leave => RoomStep::Leave,
        EventKind::Play { position } => RoomStep::Play(position * 1000.0),
        EventKind::Pause { position } => RoomStep::Pause(position * 1000.0),
        EventKind::Seek { to, .. } => RoomStep::Seek(to * 1000.0),
        EventKind::Rate { rate } => RoomStep::Rate(rate),
        EventKind::Hold { position } => RoomStep::Hold(position * 1000.0),
        EventKind::Resume { position, .. } => RoomStep::Resume(position * 1000.0),
        EventKind::NowPlaying { film, .. } => RoomStep::Film(film.id),
        EventKind::End => RoomStep::End,
        _ => return None,
    };
    Some(RoomEntry {
        at: row.created_at,
        user: row.user_id.clone(),
        step,
    })
}

/// The actors left out of every figure.
async fn ignored(db: &Db) -> Result<HashSet<String>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT user_id FROM analytics_ignored")
        .fetch_all(&db.pool)
        .await?;
    Ok(ids.into_iter().map(|id| format!("u:{id}")).collect())
}

/// How long each film runs, as the server knows it: its own video's length, else the longest a
/// player reported, else the catalog's running time.
async fn film_lengths(
    db: &Db,
    films: &HashSet<String>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut lengths = HashMap::new();
    for film in films {
        let length: Option<i64> = sqlx::query_scalar(
            "SELECT COALESCE( \
               (SELECT NULLIF(duration_ms, 0) FROM film_media WHERE film_id = $1), \
               (SELECT NULLIF(MAX(duration_ms), 0) FROM player_events WHERE film_id = $1), \
               (SELECT CAST(duration_secs AS BIGINT) * 1000 FROM films WHERE id = $1))",
        )
        .bind(film)
        .fetch_one(&db.pool)
        .await?;
        lengths.insert(film.clone(), length.unwrap_or(0));
    }
    Ok(lengths)
}

/// A room's day as the rollup keeps it.
#[derive(Default)]
struct RoomDay {
    people: HashSet<String>,
    played_ms: i64,
    first_at: Option<i64>,
    last_at: i64,
    chat: i64,
}

/// Who each guest became: the anonymous actor a sign-up or sign-in came from, and the person.
async fn aliases(db: &Db, now: i64) -> Result<HashMap<String, String>, sqlx::Error> {
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT alias, actor FROM analytics_events \
         WHERE alias IS NOT NULL AND created_at <= $1 ORDER BY created_at",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    // The latest sign-in decides (a shared computer's guest may become several people).
    Ok(pairs.into_iter().collect())
}

/// Recomputes one day's rollups from the raw events, replacing what was there. A guest who
/// signed up or in (`aliases`) counts as the person they became.
pub async fn roll_up_day(
    db: &Db,
    day: i64,
    now: i64,
    aliases: &HashMap<String, String>,
) -> Result<(), sqlx::Error> {
    let person = |actor: String| aliases.get(&actor).cloned().unwrap_or(actor);
    let start = day * DAY_MS;
    let end = start + DAY_MS;
    let until = end.min(now.max(start));
    let ignored = ignored(db).await?;

    // Alone: each viewer's reports of each film (from an hour before, for where they were).
    let rows: Vec<ReportRow> = sqlx::query_as(
        "SELECT user_id, anon_id, film_id, kind, position_ms, duration_ms, created_at \
         FROM player_events WHERE created_at >= $1 AND created_at < $2 \
         ORDER BY created_at, id",
    )
    .bind(start - 3_600_000)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let mut reports: HashMap<(String, String), Vec<Report>> = HashMap::new();
    for row in rows {
        let actor = match (row.user_id, row.anon_id) {
            (Some(user), _) => format!("u:{user}"),
            (None, Some(anon)) => person(format!("a:{anon}")),
            (None, None) => continue,
        };
        reports
            .entry((actor, row.film_id))
            .or_default()
            .push(Report {
                kind: row.kind,
                position_ms: row.position_ms,
                duration_ms: row.duration_ms,
                at: row.created_at,
            });
    }
    let mut plays: HashMap<(String, String), Played> = HashMap::new();
    for (key, list) in &reports {
        let played = domain::played_alone(list, start);
        if played.played_ms > 0 || played.completed {
            plays.entry(key.clone()).or_default().add(played);
        }
    }

    // In rooms: every room with playback or people that day (or the day before, for a film
    // that played on past midnight), replayed from its start.
    let rooms: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT r.id, COALESCE((SELECT film_id FROM room_plays p WHERE p.room_id = r.id \
                                ORDER BY seq LIMIT 1), r.film_id) \
         FROM rooms r WHERE r.id IN (SELECT room_id FROM room_events \
           WHERE created_at >= $1 AND created_at < $2 AND kind IN ({ROOM_STEPS}))"
    ))
    .bind(start - DAY_MS)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let mut room_days: HashMap<String, RoomDay> = HashMap::new();
    for (room_id, first_film) in rooms {
        let rows: Vec<RoomEventRow> = sqlx::query_as(&format!(
            "SELECT kind, user_id, body, created_at FROM room_events \
             WHERE room_id = $1 AND created_at < $2 AND kind IN ({ROOM_STEPS}) ORDER BY seq"
        ))
        .bind(&room_id)
        .bind(end)
        .fetch_all(&db.pool)
        .await?;
        let log: Vec<RoomEntry> = rows.iter().filter_map(room_step).collect();
        let mut films: HashSet<String> = HashSet::from([first_film.clone()]);
        for entry in &log {
            if let RoomStep::Film(film) = &entry.step {
                films.insert(film.clone());
            }
        }
        let lengths = film_lengths(db, &films).await?;
        let played = domain::played_in_room(&first_film, &lengths, &log, start, until);
        let room_day = room_days.entry(room_id).or_default();
        for entry in log.iter().filter(|e| e.at >= start) {
            room_day.first_at.get_or_insert(entry.at);
            room_day.last_at = entry.at;
            if let (RoomStep::Join, Some(user)) = (&entry.step, &entry.user) {
                room_day.people.insert(format!("u:{user}"));
            }
        }
        for ((person, film), p) in played {
            if ignored.contains(&person) || p.played_ms == 0 {
                continue;
            }
            room_day.people.insert(person.clone());
            room_day.played_ms += p.played_ms;
            plays.entry((person, film)).or_default().add(p);
        }
    }
    let chat: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT room_id, COUNT(*), MIN(created_at), MAX(created_at) FROM room_events \
         WHERE created_at >= $1 AND created_at < $2 AND kind = 'chat' \
           AND (user_id IS NULL OR user_id NOT IN (SELECT user_id FROM analytics_ignored)) \
         GROUP BY room_id",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    for (room_id, count, first, last) in chat {
        let room_day = room_days.entry(room_id).or_default();
        room_day.chat = count;
        room_day.first_at = Some(room_day.first_at.map_or(first, |f| f.min(first)));
        room_day.last_at = room_day.last_at.max(last);
    }
    plays.retain(|(actor, _), _| !ignored.contains(actor));

    // Active: loaded a page, or played a second.
    let page_actors: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT actor FROM analytics_events \
         WHERE kind = 'page_view' AND created_at >= $1 AND created_at < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let mut active: HashSet<String> = page_actors.into_iter().map(person).collect();
    for ((actor, _), p) in &plays {
        if p.played_ms >= domain::ACTIVE_PLAY_MS {
            active.insert(actor.clone());
        }
    }
    active.retain(|a| !ignored.contains(a));

    let not_ignored = "actor NOT IN (SELECT 'u:' || user_id FROM analytics_ignored)";
    let pages: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT page, COUNT(*) FROM analytics_events \
         WHERE kind = 'page_view' AND page IS NOT NULL AND created_at >= $1 AND created_at < $2 \
           AND {not_ignored} GROUP BY page"
    ))
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let count = |sql: String| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(start)
                .bind(end)
                .fetch_one(&pool)
                .await
        }
    };
    let sign_ins = count(format!(
        "SELECT COUNT(*) FROM analytics_events WHERE kind = 'sign_in' \
         AND created_at >= $1 AND created_at < $2 AND {not_ignored}"
    ))
    .await?;
    let new_users = count(
        "SELECT COUNT(*) FROM users WHERE created_at >= $1 AND created_at < $2 \
         AND id NOT IN (SELECT user_id FROM analytics_ignored)"
            .to_owned(),
    )
    .await?;
    let rooms_created =
        count("SELECT COUNT(*) FROM rooms WHERE created_at >= $1 AND created_at < $2".to_owned())
            .await?;
    let chat_messages: i64 = room_days.values().map(|r| r.chat).sum();

    let mut tx = db.pool.begin().await?;
    let mut film_days: HashMap<&str, FilmDay> = HashMap::new();
    for ((_, film), played) in &plays {
        film_days.entry(film.as_str()).or_default().add(played);
    }
    for table in [
        "analytics_active",
        "analytics_plays",
        "analytics_film_days",
        "analytics_pages",
        "analytics_rooms",
        "analytics_days",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE day = $1"))
            .bind(day)
            .execute(&mut *tx)
            .await?;
    }
    let active: Vec<Vec<Value>> = active
        .iter()
        .map(|actor| vec![Value::Int(day), Value::Text(actor)])
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO analytics_active (day, actor)",
        &active,
    )
    .await?;
    let plays: Vec<Vec<Value>> = plays
        .iter()
        .map(|((actor, film), p)| {
            vec![
                Value::Int(day),
                Value::Text(actor),
                Value::Text(film),
                Value::Int(p.played_ms),
                Value::Int(p.room_ms),
                Value::Int(p.length_ms),
                Value::Int(i64::from(p.viewed())),
                Value::Int(i64::from(p.completed)),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO analytics_plays (day, actor, film_id, played_ms, room_ms, length_ms, \
         viewed, completed)",
        &plays,
    )
    .await?;
    let film_rows: Vec<Vec<Value>> = film_days
        .iter()
        .map(|(film, f)| {
            vec![
                Value::Int(day),
                Value::Text(film),
                Value::Int(f.views),
                Value::Int(f.room_views),
                Value::Int(f.completions),
                Value::Int(f.watched_ms),
                Value::Int(f.length_ms),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO analytics_film_days (day, film_id, views, room_views, completions, \
         watched_ms, length_ms)",
        &film_rows,
    )
    .await?;
    let page_rows: Vec<Vec<Value>> = pages
        .iter()
        .map(|(page, views)| vec![Value::Int(day), Value::Text(page), Value::Int(*views)])
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO analytics_pages (day, page, views)",
        &page_rows,
    )
    .await?;
    let rooms: Vec<Vec<Value>> = room_days
        .iter()
        .filter(|(_, r)| !r.people.is_empty() || r.chat > 0)
        .filter_map(|(room_id, r)| {
            let first_at = r.first_at?;
            Some(vec![
                Value::Int(day),
                Value::Text(room_id),
                Value::Int(r.people.len() as i64),
                Value::Int(r.played_ms),
                Value::Int(r.last_at - first_at),
                Value::Int(r.chat),
            ])
        })
        .collect();
    insert_rows(
        &mut tx,
        "INSERT INTO analytics_rooms (day, room_id, people, played_ms, span_ms, chat_messages)",
        &rooms,
    )
    .await?;
    // The week's and month's distinct people ending with this day, counted once here (with
    // this day's rows just written) rather than on every visit to the dashboard.
    let mut active_in = Vec::with_capacity(2);
    for window in [WEEK, MONTH] {
        let days = Days {
            from: day - window + 1,
            to: day,
        };
        active_in.push(distinct_active(&mut *tx, days).await?);
    }
    sqlx::query(
        "INSERT INTO analytics_days (day, page_views, sign_ins, new_users, rooms_created, \
         chat_messages, active, active_week, active_month) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(day)
    .bind(pages.iter().map(|(_, v)| v).sum::<i64>())
    .bind(sign_ins)
    .bind(new_users)
    .bind(rooms_created)
    .bind(chat_messages)
    .bind(active.len() as i64)
    .bind(active_in[0])
    .bind(active_in[1])
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// One value of a row to insert.
enum Value<'a> {
    Int(i64),
    Text(&'a str),
}

/// Rows per INSERT statement (SQLite allows 32 766 parameters; the widest table has 8 columns).
const ROWS_PER_INSERT: usize = 500;

/// Inserts `rows` with `head` (`INSERT INTO t (a, b)`), many rows per statement: a day of a
/// large instance has tens of thousands, and one statement each would take seconds.
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    rows: &[Vec<Value<'_>>],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = format!("{head} VALUES ");
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for value in chunk.iter().flatten() {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(*v),
            };
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Rooms open now and the people in them, on every node.
async fn live_now(db: &Db, hub: &crate::rooms::channel::Hub) -> Result<(i64, i64), sqlx::Error> {
    match db.backend {
        // Each node writes its own people (issue 17); a silent node's rows are swept.
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT COUNT(DISTINCT room_id), COUNT(DISTINCT room_id || ' ' || user_id) \
                 FROM room_presence WHERE sockets > 0",
            )
            .fetch_one(&db.pool)
            .await
        }
        Backend::Sqlite => {
            let live = hub.live();
            Ok((
                live.len() as i64,
                live.iter().map(|(_, people)| *people as i64).sum(),
            ))
        }
    }
}

/// A film's figures over a range, as read (a deleted film has no titles).
#[derive(sqlx::FromRow)]
struct FilmRow {
    id: String,
    title_en: Option<String>,
    title_ru: Option<String>,
    views: i64,
    watched_ms: i64,
    completions: i64,
    room_views: i64,
    length_ms: i64,
}

/// A room's figures over a range, as read (a deleted room has no code or name).
#[derive(sqlx::FromRow)]
struct RoomRow {
    id: String,
    code: Option<String>,
    name: Option<String>,
    people: i64,
    played_ms: i64,
    span_ms: i64,
    chat_messages: i64,
}

/// A day of `analytics_days` as the dashboard reads it.
#[derive(sqlx::FromRow)]
struct SiteDay {
    day: i64,
    new_users: i64,
    sign_ins: i64,
    page_views: i64,
    rooms_created: i64,
    chat_messages: i64,
    active: i64,
    active_week: i64,
    active_month: i64,
}

/// Distinct active people in `days`: counted by the job for each day's week and month, and for
/// a custom range by the dashboard.
async fn distinct_active<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    days: Days,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT actor) FROM analytics_active WHERE day >= $1 AND day <= $2",
    )
    .bind(days.from)
    .bind(days.to)
    .fetch_one(db)
    .await
}

/// Everything the dashboard shows for `days` (rollups only; live figures from now).
pub async fn dashboard(
    db: &Db,
    hub: &crate::rooms::channel::Hub,
    days: Days,
) -> Result<Dashboard, sqlx::Error> {
    let pool = &db.pool;
    let (from, to) = (days.from, days.to);
    // The site's days, with their active people counted by the job.
    let site_days: Vec<SiteDay> = sqlx::query_as(
        "SELECT day, new_users, sign_ins, page_views, rooms_created, chat_messages, active, \
                active_week, active_month \
         FROM analytics_days WHERE day >= $1 AND day <= $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let last = site_days.iter().find(|d| d.day == to);
    let active_days: i64 = site_days.iter().map(|d| d.active).sum();
    let counted = match (days.count(), last) {
        (1, Some(last)) => Some(last.active),
        (WEEK, Some(last)) => Some(last.active_week),
        (MONTH, Some(last)) => Some(last.active_month),
        _ => None,
    };
    let active_in_range = match counted {
        Some(n) => n,
        None => distinct_active(pool, days).await?,
    };
    let mau = match last {
        Some(last) => last.active_month,
        // The range ends on a day the job has not reached yet (or never will: before the first
        // event): count it now.
        None => {
            distinct_active(
                pool,
                Days {
                    from: to - MONTH + 1,
                    to,
                },
            )
            .await?
        }
    };
    let sum = |field: fn(&SiteDay) -> i64| site_days.iter().map(field).sum::<i64>();
    let (new_users, sign_ins, page_views) = (
        sum(|d| d.new_users),
        sum(|d| d.sign_ins),
        sum(|d| d.page_views),
    );
    let (rooms_created, chat_messages) = (sum(|d| d.rooms_created), sum(|d| d.chat_messages));
    let total_users: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE id NOT IN (SELECT user_id FROM analytics_ignored)",
    )
    .fetch_one(pool)
    .await?;
    let (room_days, people_sum, span_sum): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(people), 0) AS BIGINT), CAST(COALESCE(SUM(span_ms), 0) AS BIGINT) \
         FROM analytics_rooms WHERE day >= $1 AND day <= $2 AND people > 0",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let (rooms_live, people_live) = live_now(db, hub).await?;
    let rolled_at: Option<i64> =
        sqlx::query_scalar("SELECT rolled_at FROM analytics_job WHERE id = 1")
            .fetch_one(pool)
            .await?;
    let films: Vec<FilmRow> = sqlx::query_as(
        "SELECT p.film_id AS id, f.title_en, f.title_ru, CAST(SUM(p.views) AS BIGINT) AS views, \
                CAST(SUM(p.watched_ms) AS BIGINT) AS watched_ms, \
                CAST(SUM(p.completions) AS BIGINT) AS completions, \
                CAST(SUM(p.room_views) AS BIGINT) AS room_views, \
                MAX(p.length_ms) AS length_ms \
         FROM analytics_film_days p LEFT JOIN films f ON f.id = p.film_id \
         WHERE p.day >= $1 AND p.day <= $2 \
         GROUP BY p.film_id, f.title_en, f.title_ru",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let films: Vec<FilmFigures> = films
        .into_iter()
        .map(|f| FilmFigures {
            exists: f.title_en.is_some(),
            title_en: f.title_en.unwrap_or_else(|| f.id.clone()),
            title_ru: f.title_ru.unwrap_or_else(|| f.id.clone()),
            id: f.id,
            views: f.views,
            room_views: f.room_views,
            completions: f.completions,
            watched_ms: f.watched_ms,
            length_ms: f.length_ms,
        })
        .collect();
    // The headline's plays are the films' summed.
    let total = |field: fn(&FilmFigures) -> i64| films.iter().map(field).sum::<i64>();
    let (views, room_views) = (total(|f| f.views), total(|f| f.room_views));
    let (completions, watched_ms) = (total(|f| f.completions), total(|f| f.watched_ms));
    let dau_avg = active_days as f64 / days.count() as f64;
    let headline = Headline {
        dau: dau_avg,
        mau,
        dau_mau: if mau > 0 { dau_avg / mau as f64 } else { 0.0 },
        active: active_in_range,
        views,
        room_views,
        completions,
        watched_ms,
        new_users,
        sign_ins,
        total_users,
        page_views,
        rooms_created,
        chat_messages,
        rooms_live,
        people_live,
        room_size: if room_days > 0 {
            people_sum as f64 / room_days as f64
        } else {
            0.0
        },
        room_span_ms: if room_days > 0 {
            span_sum / room_days
        } else {
            0
        },
    };

    let mut per_day: HashMap<i64, DayFigures> = (from..=to)
        .map(|day| {
            (
                day,
                DayFigures {
                    day,
                    ..Default::default()
                },
            )
        })
        .collect();
    let day_views: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT day, CAST(COALESCE(SUM(views), 0) AS BIGINT), CAST(COALESCE(SUM(watched_ms), 0) AS BIGINT) \
         FROM analytics_film_days WHERE day >= $1 AND day <= $2 GROUP BY day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    for (day, v, ms) in day_views {
        if let Some(d) = per_day.get_mut(&day) {
            d.views = v;
            d.watched_ms = ms;
        }
    }
    for site in &site_days {
        if let Some(d) = per_day.get_mut(&site.day) {
            d.active = site.active;
            d.new_users = site.new_users;
            d.sign_ins = site.sign_ins;
            d.page_views = site.page_views;
        }
    }
    let mut days_list: Vec<DayFigures> = per_day.into_values().collect();
    days_list.sort_by_key(|d| d.day);

    let rooms: Vec<RoomRow> = sqlx::query_as(
        "SELECT a.room_id AS id, r.code, r.name, MAX(a.people) AS people, \
                CAST(SUM(a.played_ms) AS BIGINT) AS played_ms, \
                CAST(SUM(a.span_ms) AS BIGINT) AS span_ms, \
                CAST(SUM(a.chat_messages) AS BIGINT) AS chat_messages \
         FROM analytics_rooms a LEFT JOIN rooms r ON r.id = a.room_id \
         WHERE a.day >= $1 AND a.day <= $2 \
         GROUP BY a.room_id, r.code, r.name \
         ORDER BY SUM(a.played_ms) DESC, SUM(a.chat_messages) DESC, a.room_id LIMIT 20",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let rooms = rooms
        .into_iter()
        .map(|r| RoomFigures {
            name: r.name.unwrap_or_else(|| r.id.clone()),
            id: r.id,
            code: r.code,
            people: r.people,
            played_ms: r.played_ms,
            span_ms: r.span_ms,
            chat_messages: r.chat_messages,
        })
        .collect();
    let pages: Vec<(String, i64)> = sqlx::query_as(
        "SELECT page, CAST(SUM(views) AS BIGINT) FROM analytics_pages WHERE day >= $1 AND day <= $2 \
         GROUP BY page ORDER BY SUM(views) DESC, page",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let pages = pages
        .into_iter()
        .map(|(page, views)| PageFigures { page, views })
        .collect();
    Ok(Dashboard {
        from,
        to,
        headline,
        days: days_list,
        films,
        rooms,
        pages,
        rolled_at,
    })
}

/// Leaves an account out of the figures (or puts it back); the days whose raw events are still
/// kept are recomputed on the next run.
pub async fn set_ignored(db: &Db, user_id: &str, ignore: bool) -> Result<(), sqlx::Error> {
    if ignore {
        sqlx::query(
            "INSERT INTO analytics_ignored (user_id, added_at) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    } else {
        sqlx::query("DELETE FROM analytics_ignored WHERE user_id = $1")
            .bind(user_id)
            .execute(&db.pool)
            .await?;
    }
    sqlx::query("UPDATE analytics_job SET dirty_from = 0 WHERE id = 1")
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The ignored accounts' usernames.
pub async fn ignored_usernames(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT u.username FROM analytics_ignored i JOIN users u ON u.id = i.user_id \
         ORDER BY u.username",
    )
    .fetch_all(&db.pool)
    .await
}

/// One CSV field: quoted when it must be, and never read as a formula by a spreadsheet (room
/// names are anyone's text).
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The query of a CSV export: the dashboard's range.
#[derive(Debug, serde::Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    range: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `/admin/analytics/{films,rooms,days,pages}.csv?range=…`: a dashboard table as CSV (admins).
pub async fn csv_export(
    axum::extract::State(db): axum::extract::State<Db>,
    axum::extract::State(hub): axum::extract::State<Arc<crate::rooms::channel::Hub>>,
    session: tower_sessions::Session,
    axum::extract::Path(file): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<RangeQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::StatusCode;
    let user = match crate::accounts::session::signed_in_user_id(&db, &session).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "log in first").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let is_admin: Option<crate::db::Flag> =
        match sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1")
            .bind(&user)
            .fetch_optional(&db.pool)
            .await
        {
            Ok(flag) => flag,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    if !is_admin.is_some_and(|f| f.0) {
        return (StatusCode::FORBIDDEN, "admins only").into_response();
    }
    let Some(days) = domain::days_for(&query.range, &query.from, &query.to, day_of(now_ms()))
    else {
        return (StatusCode::BAD_REQUEST, "choose a range of up to 366 days").into_response();
    };
    let dashboard = match dashboard(&db, &hub, days).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "analytics export failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let body = match file.as_str() {
        "films.csv" => csv_table(
            &[
                "film_id",
                "title_en",
                "title_ru",
                "views",
                "room_views",
                "completions",
                "watched_hours",
                "length_minutes",
            ],
            dashboard.films.into_iter().map(|f| {
                vec![
                    f.id,
                    f.title_en,
                    f.title_ru,
                    f.views.to_string(),
                    f.room_views.to_string(),
                    f.completions.to_string(),
                    format!("{:.3}", f.watched_ms as f64 / 3_600_000.0),
                    format!("{:.1}", f.length_ms as f64 / 60_000.0),
                ]
            }),
        ),
        "rooms.csv" => csv_table(
            &[
                "room_id",
                "code",
                "name",
                "people",
                "played_hours",
                "length_minutes",
                "chat_messages",
            ],
            dashboard.rooms.into_iter().map(|r| {
                vec![
                    r.id,
                    r.code.unwrap_or_default(),
                    r.name,
                    r.people.to_string(),
                    format!("{:.3}", r.played_ms as f64 / 3_600_000.0),
                    format!("{:.1}", r.span_ms as f64 / 60_000.0),
                    r.chat_messages.to_string(),
                ]
            }),
        ),
        "days.csv" => csv_table(
            &[
                "day",
                "active",
                "views",
                "watched_hours",
                "new_users",
                "sign_ins",
                "page_views",
            ],
            dashboard.days.into_iter().map(|d| {
                vec![
                    domain::format_day(d.day),
                    d.active.to_string(),
                    d.views.to_string(),
                    format!("{:.3}", d.watched_ms as f64 / 3_600_000.0),
                    d.new_users.to_string(),
                    d.sign_ins.to_string(),
                    d.page_views.to_string(),
                ]
            }),
        ),
        "pages.csv" => csv_table(
            &["page", "views"],
            dashboard
                .pages
                .into_iter()
                .map(|p| vec![p.page, p.views.to_string()]),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
