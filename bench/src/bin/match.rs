//! The friend match (issue 4): how fast the two match queries answer on a big database.
//!
//! A deterministic generator (seeded RNG) fills a fresh database, migrated with the real
//! migrations, with users who each have about `--friends` friends (stored in both directions, as
//! the app does) and `--wants` films on their "Want to watch" list, drawn from a skewed
//! (Zipf–Mandelbrot) film popularity so that friends really share films. Then, for `--samples`
//! random users, it runs the server's own query texts (`app::friends::ssr::MATCH_FILM_SQL` and
//! `MATCH_ALL_SQL`) one at a time through the server's pool (`app::db::Db`) and prints p50/p99/max
//! latency and the rows returned, and the query plans. Not a timed test: `cargo make bench-match`.

use app::db::Db;
use app::friends::ssr::{MATCH_ALL_SQL, MATCH_FILM_SQL};
use clap::Parser;
use hdrhistogram::Histogram;
use kino_bench::database::FreshDatabase;
use kino_bench::Result;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor, Row};
use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Kino's friend match: generate a big database, time the two match queries")]
struct Args {
    /// `sqlite` for a fresh temporary SQLite file (in $TMPDIR), or a PostgreSQL URL where a
    /// fresh database `kino_bench_<random>` is created (and dropped afterwards), e.g.
    /// postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, default_value = "sqlite")]
    database_url: String,
    /// Accounts.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Average friends per user (random pairs, so about Poisson-distributed).
    #[arg(long, default_value_t = 50)]
    friends: usize,
    /// Films in the catalog.
    #[arg(long, default_value_t = 20_000)]
    films: usize,
    /// Films on each user's "Want to watch" list (distinct, at most half the catalog).
    #[arg(long, default_value_t = 100)]
    wants: usize,
    /// Film popularity: the film of popularity rank r (1 = most wanted) is drawn with weight
    /// 1 / (r + q)^s. With the defaults the top film is on about 29 % of the lists, the 100th
    /// on 11 % and the median film on 0.2 %.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// See --zipf-s.
    #[arg(long, default_value_t = 50.0)]
    zipf_q: f64,
    /// Percent of users who keep their list out of friends' matches (`hide_watchlist`).
    #[arg(long, default_value_t = 5)]
    hidden_percent: u32,
    /// Random users measured (each: one film match and one match of all their films).
    #[arg(long, default_value_t = 2_000)]
    samples: usize,
    /// Random users queried before measuring (not recorded).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Seed of the generated data and of the measured users.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also measure rewrites of both queries (checked to return the same rows).
    #[arg(long)]
    candidate: bool,
    /// Also run the recommendations job on this graph (its time and memory) and time "For you"
    /// for random users (`app::recs::ssr::for_person`: the server's code, without HTTP).
    #[arg(long)]
    recs: bool,
    /// Keep the database afterwards (prints where it is) instead of removing it.
    #[arg(long)]
    keep: bool,
}

/// Times are epoch milliseconds; the generated ones lie in the two years before this one
/// (2026-01-01), not around "now", so that runs are identical.
const EPOCH_MS: i64 = 1_767_225_600_000;
const TWO_YEARS_MS: i64 = 2 * 365 * 24 * 3600 * 1000;
/// Films drawn for "a popular film" in the one-film query: the most wanted ones.
const POPULAR: usize = 100;
/// SQLite's limit on bound parameters per statement is 32 766.
const SQLITE_PARAMS_PER_STATEMENT: usize = 32_000;
const FIRST_NAMES: [&str; 16] = [
    "Anna", "Boris", "Clara", "Dmitri", "Elena", "Felix", "Galina", "Hugo", "Irina", "Jonas",
    "Katya", "Leo", "Maria", "Nikolai", "Olga", "Pavel",
];

/// The generated data. Films and users are numbered in the order of their ids, so that rows can
/// be written in primary-key order.
struct World {
    film_ids: Vec<String>,
    /// Film numbers, most wanted first.
    popular: Vec<u32>,
    user_ids: Vec<String>,
    hidden: Vec<bool>,
    /// Per user, friends' numbers, ascending.
    friends: Vec<Vec<u32>>,
    /// Per user, the films on their list, ascending.
    wants: Vec<Vec<u32>>,
}

impl World {
    fn generate(args: &Args) -> Result<Self> {
        if args.users < 2 || args.films < 2 {
            return Err("--users and --films must be at least 2".into());
        }
        if args.wants > args.films / 2 {
            return Err("--wants may be at most half of --films".into());
        }
        let mut rng = StdRng::seed_from_u64(args.seed);
        let film_ids: Vec<String> = (0..args.films)
            .map(|i| format!("film-{i:06}-{}", 1920 + i % 105))
            .collect();
        let mut popular: Vec<u32> = (0..args.films as u32).collect();
        popular.shuffle(&mut rng);
        let weights = (1..=args.films).map(|r| 1.0 / (r as f64 + args.zipf_q).powf(args.zipf_s));
        let popularity = WeightedIndex::new(weights)?;

        let mut user_ids: Vec<String> = (0..args.users)
            .map(|_| {
                uuid::Builder::from_random_bytes(rng.gen())
                    .into_uuid()
                    .to_string()
            })
            .collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        if user_ids.len() != args.users {
            return Err("two generated user ids collided; try another --seed".into());
        }
        let hidden = (0..args.users)
            .map(|_| rng.gen_range(0..100) < args.hidden_percent)
            .collect();

        let mut friends = vec![Vec::new(); args.users];
        for _ in 0..args.users * args.friends / 2 {
            let a = rng.gen_range(0..args.users as u32);
            let b = rng.gen_range(0..args.users as u32);
            if a != b {
                friends[a as usize].push(b);
                friends[b as usize].push(a);
            }
        }
        for list in &mut friends {
            list.sort_unstable();
            list.dedup();
        }

        let mut seen = vec![u32::MAX; args.films];
        let wants = (0..args.users as u32)
            .map(|user| {
                let mut list = Vec::with_capacity(args.wants);
                while list.len() < args.wants {
                    let film = popular[popularity.sample(&mut rng)];
                    if seen[film as usize] != user {
                        seen[film as usize] = user;
                        list.push(film);
                    }
                }
                list.sort_unstable();
                list
            })
            .collect();
        Ok(Self {
            film_ids,
            popular,
            user_ids,
            hidden,
            friends,
            wants,
        })
    }
}

/// One value of a generated row.
enum Val {
    Text(String),
    Int(i64),
}

fn film_rows<'a>(world: &'a World, rng: &mut StdRng) -> impl Iterator<Item = Vec<Val>> + 'a {
    let created: Vec<i64> = (0..world.film_ids.len())
        .map(|_| EPOCH_MS - rng.gen_range(TWO_YEARS_MS..2 * TWO_YEARS_MS))
        .collect();
    world.film_ids.iter().enumerate().map(move |(i, id)| {
        let title = format!("Film {i}");
        let title_ru = format!("Фильм {i}");
        vec![
            Val::Text(id.clone()),
            Val::Text(title.clone()),
            Val::Text(title_ru.clone()),
            Val::Text(title.clone()),
            Val::Text(format!(
                "{} {}",
                title.to_lowercase(),
                title_ru.to_lowercase()
            )),
            Val::Int(1920 + (i % 105) as i64),
            Val::Text([",drama,", ",comedy,", ",horror,", ",drama,romance,"][i % 4].into()),
            Val::Text(["US", "FR", "DE,US", "RU"][i % 4].into()),
            Val::Text(format!("Director {}", i % 997)),
            Val::Text(String::new()),
            Val::Text(String::new()),
            Val::Int(3_600 + (i % 60) as i64 * 60),
            Val::Text("#3a4a5c".into()),
            Val::Int(created[i]),
        ]
    })
}
const FILM_COLUMNS: &[&str] = &[
    "id",
    "title_en",
    "title_ru",
    "original_title",
    "search_text",
    "year",
    "genres",
    "countries",
    "director",
    "description_en",
    "description_ru",
    "duration_secs",
    "poster_color",
    "created_at",
];

fn user_rows<'a>(world: &'a World, rng: &'a mut StdRng) -> impl Iterator<Item = Vec<Val>> + 'a {
    world.user_ids.iter().enumerate().map(move |(i, id)| {
        let display_name = format!("{} {i}", FIRST_NAMES[i % FIRST_NAMES.len()]);
        vec![
            Val::Text(id.clone()),
            Val::Text(format!("user{i}")),
            Val::Text(display_name.to_lowercase()),
            Val::Text(display_name),
            // Never checked: nobody signs in.
            Val::Text("$argon2id$v=19$m=19456,t=2,p=1$bench$bench".into()),
            Val::Int(EPOCH_MS - rng.gen_range(0..TWO_YEARS_MS)),
            Val::Int(world.hidden[i] as i64),
            Val::Int(EPOCH_MS - rng.gen_range(0..TWO_YEARS_MS / 24)),
        ]
    })
}
const USER_COLUMNS: &[&str] = &[
    "id",
    "username",
    "name_fold",
    "display_name",
    "password_hash",
    "created_at",
    "hide_watchlist",
    "last_seen_at",
];

fn friendship_rows(world: &World) -> impl Iterator<Item = Vec<Val>> + '_ {
    world.friends.iter().enumerate().flat_map(move |(a, list)| {
        list.iter().map(move |&b| {
            // The same `since` in both directions, as the app writes it.
            let (lo, hi) = (a.min(b as usize) as i64, a.max(b as usize) as i64);
            vec![
                Val::Text(world.user_ids[a].clone()),
                Val::Text(world.user_ids[b as usize].clone()),
                Val::Int(EPOCH_MS - (lo * 7_919 + hi * 104_729) % TWO_YEARS_MS),
            ]
        })
    })
}
const FRIENDSHIP_COLUMNS: &[&str] = &["user_id", "friend_id", "since"];

fn watchlist_rows(world: &World) -> impl Iterator<Item = Vec<Val>> + '_ {
    world
        .wants
        .iter()
        .enumerate()
        .flat_map(move |(user, list)| {
            list.iter().map(move |&film| {
                vec![
                    Val::Text(world.user_ids[user].clone()),
                    Val::Text(world.film_ids[film as usize].clone()),
                    Val::Int(
                        EPOCH_MS - (user as i64 * 7_919 + film as i64 * 104_729) % TWO_YEARS_MS,
                    ),
                ]
            })
        })
}
const WATCHLIST_COLUMNS: &[&str] = &["user_id", "film_id", "added_at"];

/// The schema exactly as the server creates it (`app::db::Db::migrate` runs the same migrator).
/// On the load connection: SQLite cannot leave the WAL journal while another connection may
/// still hold the file.
async fn migrate<C: sqlx::migrate::Migrate>(conn: &mut C) -> Result {
    let started = Instant::now();
    sqlx::migrate!("../migrations").run_direct(conn).await?;
    println!("  migrated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A connection for the bulk load, with the fastest settings each database allows.
enum Loader {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Loader {
    async fn open(db: &FreshDatabase) -> Result<Self> {
        match db {
            FreshDatabase::Sqlite { url, .. } => {
                let path = url.strip_prefix("sqlite://").unwrap_or(url);
                // A fresh file and no other connection: no journal, no fsync, foreign keys
                // unchecked (the generator only writes existing ids), one big transaction.
                let mut conn = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Off)
                    .synchronous(SqliteSynchronous::Off)
                    .foreign_keys(false)
                    .pragma("cache_size", "-1048576")
                    .pragma("temp_store", "MEMORY")
                    .connect()
                    .await?;
                migrate(&mut conn).await?;
                conn.execute("BEGIN").await?;
                Ok(Self::Sqlite(conn))
            }
            FreshDatabase::Postgres { url, .. } => {
                let mut conn = PgConnection::connect(url).await?;
                migrate(&mut conn).await?;
                // `replica` skips the foreign-key triggers (the generator only writes existing
                // ids); needs a superuser, as the local test server's `postgres` is.
                conn.execute(
                    "SET session_replication_role = replica; SET synchronous_commit = off; \
                     SET maintenance_work_mem = '512MB'",
                )
                .await?;
                Ok(Self::Postgres(conn))
            }
        }
    }

    /// Inserts all `rows` into `table`; returns how many.
    async fn load(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl Iterator<Item = Vec<Val>>,
    ) -> Result<u64> {
        let started = Instant::now();
        let count = match self {
            Self::Sqlite(conn) => sqlite_insert(conn, table, columns, rows).await?,
            Self::Postgres(conn) => postgres_copy(conn, table, columns, rows).await?,
        };
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {table:<12} {count:>11} rows in {secs:>6.1} s ({:.0} rows/s)",
            count as f64 / secs
        );
        Ok(count)
    }

    /// Commits (SQLite) and closes; SQLite goes back to the WAL journal the server uses.
    async fn finish(self) -> Result {
        match self {
            Self::Sqlite(mut conn) => {
                conn.execute("COMMIT").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.close().await?;
            }
            Self::Postgres(conn) => conn.close().await?,
        }
        Ok(())
    }
}

async fn sqlite_insert(
    conn: &mut SqliteConnection,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Val>>,
) -> Result<u64> {
    let per_statement = SQLITE_PARAMS_PER_STATEMENT / columns.len();
    let statement = |n: usize| {
        let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
        format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![tuple; n].join(", ")
        )
    };
    let full = statement(per_statement);
    let mut count = 0u64;
    let mut batch = Vec::with_capacity(per_statement);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        batch.extend(rows.by_ref().take(per_statement));
        let partial;
        let sql = if batch.len() == per_statement {
            &full
        } else {
            partial = statement(batch.len());
            &partial
        };
        let mut query = sqlx::query(sql);
        for value in batch.drain(..).flatten() {
            query = match value {
                Val::Text(s) => query.bind(s),
                Val::Int(i) => query.bind(i),
            };
        }
        count += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(count)
}

async fn postgres_copy(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Val>>,
) -> Result<u64> {
    const CHUNK: usize = 1 << 20;
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
        .await?;
    let mut buf = String::with_capacity(CHUNK + 4096);
    for row in rows {
        for (i, value) in row.into_iter().enumerate() {
            if i > 0 {
                buf.push('\t');
            }
            match value {
                Val::Text(s) => {
                    for c in s.chars() {
                        match c {
                            '\\' => buf.push_str("\\\\"),
                            '\t' => buf.push_str("\\t"),
                            '\n' => buf.push_str("\\n"),
                            '\r' => buf.push_str("\\r"),
                            c => buf.push(c),
                        }
                    }
                }
                Val::Int(i) => write!(buf, "{i}")?,
            }
        }
        buf.push('\n');
        if buf.len() >= CHUNK {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            buf.reserve(CHUNK + 4096);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

/// Statistics for the planner: SQLite's `ANALYZE`; on PostgreSQL `VACUUM (ANALYZE)`, which also
/// sets the visibility map (autovacuum does both after a bulk insert).
async fn analyze(pool: &AnyPool, is_sqlite: bool) -> Result {
    let started = Instant::now();
    if is_sqlite {
        pool.execute("ANALYZE").await?;
    } else {
        pool.execute("VACUUM (ANALYZE)").await?;
    }
    println!(
        "  {:<12} in {:.1} s",
        if is_sqlite {
            "ANALYZE"
        } else {
            "VACUUM (ANALYZE)"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn print_sizes(pool: &AnyPool, is_sqlite: bool) -> Result {
    if is_sqlite {
        let row = sqlx::query(
            "SELECT CAST(page_count * page_size AS BIGINT) AS bytes \
             FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(pool)
        .await?;
        println!("  database file: {}", mib(row.try_get("bytes")?));
        // The `dbstat` table exists when SQLite was built with it (the bundled one is).
        let sizes = sqlx::query(
            "SELECT name, CAST(SUM(pgsize) AS BIGINT) AS bytes FROM dbstat \
             WHERE name LIKE '%watchlist%' OR name LIKE '%friendships%' OR name LIKE '%users%' \
             GROUP BY name ORDER BY name",
        )
        .fetch_all(pool)
        .await;
        if let Ok(rows) = sizes {
            for row in rows {
                let name: String = row.try_get("name")?;
                println!("    {name:<34} {}", mib(row.try_get("bytes")?));
            }
        }
    } else {
        let row =
            sqlx::query("SELECT CAST(pg_database_size(current_database()) AS BIGINT) AS bytes")
                .fetch_one(pool)
                .await?;
        println!("  database: {}", mib(row.try_get("bytes")?));
        let rows = sqlx::query(
            "SELECT CAST(c.relname AS TEXT) AS name, \
               CAST(pg_relation_size(c.oid) AS BIGINT) AS bytes \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') \
               AND (c.relname LIKE 'watchlist%' OR c.relname LIKE 'friendships%' \
                    OR c.relname LIKE 'users%') \
             ORDER BY c.relname",
        )
        .fetch_all(pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            println!("    {name:<34} {}", mib(row.try_get("bytes")?));
        }
    }
    Ok(())
}

fn mib(bytes: i64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Prints the plan of `sql` with `binds`: SQLite's `EXPLAIN QUERY PLAN` as a tree; PostgreSQL's
/// `EXPLAIN (ANALYZE, BUFFERS)` of the custom plan (planned for these values) and of the generic
/// plan (planned for any values), which a prepared statement, as sqlx keeps them, may switch to
/// from its sixth execution on. Warns about full scans.
async fn print_plan(
    pool: &AnyPool,
    is_sqlite: bool,
    name: &str,
    sql: &str,
    binds: &[&str],
) -> Result {
    if is_sqlite {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for bind in binds {
            query = query.bind(*bind);
        }
        let mut depth = std::collections::HashMap::new();
        let mut lines = Vec::new();
        for (id, parent, _, detail) in query.fetch_all(pool).await? {
            let d = depth.get(&parent).map_or(0, |d| d + 1);
            depth.insert(id, d);
            lines.push(format!("{}{detail}", "  ".repeat(d)));
        }
        print_plan_lines(name, &lines, true);
        return Ok(());
    }
    let mut conn = pool.acquire().await?;
    let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
    let mut query = sqlx::query(&explain);
    for bind in binds {
        query = query.bind(*bind);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    print_plan_lines(&format!("{name}, custom plan"), &text_lines(&rows)?, false);
    // EXPLAIN of a statement with parameters always plans for the values: the generic plan
    // needs a named statement (PostgreSQL 16 would have `EXPLAIN (GENERIC_PLAN)`).
    conn.execute(format!("PREPARE kino_match AS {sql}").as_str())
        .await?;
    conn.execute("SET plan_cache_mode = force_generic_plan")
        .await?;
    let values: Vec<String> = binds
        .iter()
        .map(|b| format!("'{}'", b.replace('\'', "''")))
        .collect();
    let explain = format!(
        "EXPLAIN (ANALYZE, BUFFERS) EXECUTE kino_match({})",
        values.join(", ")
    );
    let rows = sqlx::raw_sql(&explain).fetch_all(&mut *conn).await?;
    print_plan_lines(&format!("{name}, generic plan"), &text_lines(&rows)?, false);
    // Not back into the pool with the forced mode.
    conn.close().await?;
    Ok(())
}

fn text_lines(rows: &[sqlx::any::AnyRow]) -> Result<Vec<String>> {
    Ok(rows
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<std::result::Result<_, _>>()?)
}

fn print_plan_lines(title: &str, lines: &[String], is_sqlite: bool) {
    println!("  -- {title}");
    for line in lines {
        println!("  {line}");
    }
    for line in lines {
        let l = line.trim_start();
        let full_scan = if is_sqlite {
            l.starts_with("SCAN ") && !l.starts_with("SCAN CONSTANT")
        } else {
            l.contains("Seq Scan")
        };
        if full_scan {
            println!("  !! full scan: {l}");
        }
    }
}

/// PostgreSQL: how often each match statement on one of the measuring connections was planned
/// custom (for its values) and generic (once, for any values).
async fn print_plan_cache(pool: &AnyPool) -> Result {
    let rows = sqlx::query(
        "SELECT CAST(generic_plans AS BIGINT) AS generic, CAST(custom_plans AS BIGINT) AS custom, \
           statement FROM pg_prepared_statements",
    )
    .fetch_all(pool)
    .await?;
    println!("plans of the prepared statements on one measuring connection (generic / custom):");
    for row in rows {
        let statement: String = row.try_get("statement")?;
        let Some(query) = SERVER_QUERIES
            .iter()
            .chain(&CANDIDATE_QUERIES)
            .find(|q| q.sql == statement)
        else {
            continue;
        };
        let generic: i64 = row.try_get("generic")?;
        let custom: i64 = row.try_get("custom")?;
        println!("  {:<12} {generic:>6} / {custom}", query.name);
    }
    Ok(())
}

/// Rewrites measured beside the server's queries with `--candidate` (not what the server runs),
/// each checked to return the same rows in the same order for every user measured.
///
/// The one-film match asks "does this friend want it?" as a scalar subquery: one index probe per
/// friend, which no planner can turn into reading every user who wants the film. With the LEFT
/// JOIN (and with EXISTS, which it hashes) PostgreSQL's generic plan reads the film's whole
/// `watchlist_film` range and hashes it against my friends: ~29 000 entries for the top film.
const MATCH_FILM_CANDIDATE_SQL: &str = "SELECT u.id, u.username, u.display_name, \
       u.last_seen_at, \
       CAST(CASE WHEN u.hide_watchlist = 0 AND (SELECT 1 FROM watchlist w \
         WHERE w.user_id = f.friend_id AND w.film_id = $2) = 1 THEN 1 ELSE 0 END AS BIGINT) AS wants \
     FROM friendships f \
     JOIN users u ON u.id = f.friend_id \
     WHERE f.user_id = $1 \
     ORDER BY wants DESC, u.name_fold, u.id";

/// The all-films match reads each friend's list as one primary-key range and looks each film up
/// in my list, held as a small in-memory IN list. `|| ''` keeps SQLite from turning the IN into
/// friends × films index probes (and from picking the film-first index for them); PostgreSQL
/// hashes the list, as it already does for `MATCH_ALL_SQL`.
const MATCH_ALL_CANDIDATE_SQL: &str = "SELECT w2.film_id, u.id, u.username, u.display_name, \
       u.last_seen_at \
     FROM friendships f \
     JOIN users u ON u.id = f.friend_id \
     JOIN watchlist w2 ON w2.user_id = f.friend_id \
     WHERE f.user_id = $1 AND u.hide_watchlist = 0 \
       AND w2.film_id || '' IN (SELECT w1.film_id FROM watchlist w1 WHERE w1.user_id = $1) \
     ORDER BY w2.film_id, u.name_fold, u.id";

/// One measured query: its name in the table, its text, and whether it is the one-film match
/// (binds my id and a film) or the all-films match (binds my id).
#[derive(Debug, Clone, Copy)]
struct Query {
    name: &'static str,
    sql: &'static str,
    one_film: bool,
}

const SERVER_QUERIES: [Query; 2] = [
    Query {
        name: "match film",
        sql: MATCH_FILM_SQL,
        one_film: true,
    },
    Query {
        name: "match all",
        sql: MATCH_ALL_SQL,
        one_film: false,
    },
];
const CANDIDATE_QUERIES: [Query; 2] = [
    Query {
        name: "film (cand.)",
        sql: MATCH_FILM_CANDIDATE_SQL,
        one_film: true,
    },
    Query {
        name: "all (cand.)",
        sql: MATCH_ALL_CANDIDATE_SQL,
        one_film: false,
    },
];

/// Latencies (µs) and rows returned of one query.
struct Measured {
    query: Query,
    latencies: Histogram<u64>,
    rows: u64,
    /// One-film match only: friends who want the film.
    wanting: u64,
}

impl Measured {
    fn new(query: Query) -> Self {
        Self {
            query,
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("constant histogram bounds are valid"),
            rows: 0,
            wanting: 0,
        }
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latencies.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// The users and films measured: `samples` random users, each with a film from their own list
/// half the time and one of the most wanted films otherwise.
fn pick_samples(world: &World, samples: usize, seed: u64) -> Vec<(usize, u32)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..samples)
        .map(|_| {
            let user = rng.gen_range(0..world.user_ids.len());
            let film = if rng.gen_bool(0.5) {
                *world.wants[user]
                    .choose(&mut rng)
                    .expect("lists are not empty")
            } else {
                world.popular[rng.gen_range(0..POPULAR.min(world.popular.len()))]
            };
            (user, film)
        })
        .collect()
}

/// Runs `queries` (a one-film and an all-films match) for every sample, one query at a time,
/// reading every column of every row as the server does. Returns the measurements and a
/// fingerprint of each answer (to compare rewrites with).
async fn measure(
    pool: &AnyPool,
    world: &World,
    samples: &[(usize, u32)],
    queries: [Query; 2],
) -> Result<(Vec<Measured>, Vec<u64>)> {
    let mut measured = queries.map(Measured::new);
    let mut fingerprints = Vec::with_capacity(samples.len() * 2);
    for &(user, film) in samples {
        let user_id = &world.user_ids[user];
        let film_id = &world.film_ids[film as usize];
        for m in &mut measured {
            let mut query = sqlx::query(m.query.sql).bind(user_id);
            if m.query.one_film {
                query = query.bind(film_id);
            }
            let started = Instant::now();
            let rows = query.fetch_all(pool).await?;
            let mut answer = DefaultHasher::new();
            for row in &rows {
                let film: String = if m.query.one_film {
                    film_id.clone()
                } else {
                    row.try_get("film_id")?
                };
                let friend: String = row.try_get("id")?;
                let _: String = row.try_get("username")?;
                let _: String = row.try_get("display_name")?;
                let _: i64 = row.try_get("last_seen_at")?;
                let wants: i64 = if m.query.one_film {
                    row.try_get("wants")?
                } else {
                    1
                };
                m.wanting += wants as u64;
                (film, friend, wants).hash(&mut answer);
            }
            m.latencies.saturating_record(micros(started.elapsed()));
            m.rows += rows.len() as u64;
            fingerprints.push(answer.finish());
        }
    }
    Ok((measured.into(), fingerprints))
}

/// The machine's load average, to read the latencies against (the machine may be shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

fn print_results(kind: &str, label: &str, results: &[Measured]) {
    println!("\n== {kind}{label}: one query at a time through the server's pool");
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "query", "samples", "p50 ms", "p99 ms", "max ms", "rows avg"
    );
    for m in results {
        let n = m.latencies.len().max(1) as f64;
        let mut rows = format!("{:.1}", m.rows as f64 / n);
        if m.query.one_film {
            write!(rows, " ({:.1} want it)", m.wanting as f64 / n).ok();
        }
        println!(
            "{:<12} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>10}",
            m.query.name,
            m.latencies.len(),
            m.ms(0.5),
            m.ms(0.99),
            m.ms(1.0),
            rows
        );
    }
    for m in results {
        let verdict = if m.ms(0.99) <= 5.0 { "meets" } else { "MISSES" };
        println!(
            "{}: p99 {:.2} ms {verdict} the 5 ms aim",
            m.query.name,
            m.ms(0.99)
        );
    }
}

/// Prints the plans (for user 0 and a film on their list), then measures the queries for the same
/// random users and films on every database (the warm-up users are others).
async fn plans_and_latency(
    pool: &AnyPool,
    world: &World,
    args: &Args,
    kind: &str,
    label: &str,
) -> Result {
    let is_sqlite = kind == "SQLite";
    let me = &world.user_ids[0];
    let my_film = &world.film_ids[world.wants[0][0] as usize];
    println!("\n== {kind} query plans{label} (user 0 = {me}, film {my_film})");
    print_plan(
        pool,
        is_sqlite,
        "MATCH_FILM_SQL",
        MATCH_FILM_SQL,
        &[me, my_film],
    )
    .await?;
    print_plan(pool, is_sqlite, "MATCH_ALL_SQL", MATCH_ALL_SQL, &[me]).await?;
    if args.candidate {
        for (name, sql, binds) in [
            (
                "MATCH_FILM_CANDIDATE_SQL",
                MATCH_FILM_CANDIDATE_SQL,
                &[me.as_str(), my_film][..],
            ),
            (
                "MATCH_ALL_CANDIDATE_SQL",
                MATCH_ALL_CANDIDATE_SQL,
                &[me.as_str()][..],
            ),
        ] {
            print_plan(pool, is_sqlite, name, sql, binds).await?;
        }
    }
    println!(
        "load average (1, 5, 15 min) before measuring: {}",
        load_average()
    );
    let warmup = pick_samples(world, args.warmup, args.seed.wrapping_add(2));
    let samples = pick_samples(world, args.samples, args.seed.wrapping_add(1));
    measure(pool, world, &warmup, SERVER_QUERIES).await?;
    let (mut results, expected) = measure(pool, world, &samples, SERVER_QUERIES).await?;
    if args.candidate {
        // A separate pass, so that the rewrites do not find the pages the server's queries
        // just read for the same user (at least not more than the other way round).
        measure(pool, world, &warmup, CANDIDATE_QUERIES).await?;
        let (candidates, answers) = measure(pool, world, &samples, CANDIDATE_QUERIES).await?;
        if answers != expected {
            return Err("a candidate query answers differently from the server's".into());
        }
        results.extend(candidates);
    }
    print_results(kind, label, &results);
    if !is_sqlite {
        print_plan_cache(pool).await?;
    }
    println!(
        "load average (1, 5, 15 min) after measuring: {}",
        load_average()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    let postgres = (!args.database_url.starts_with("sqlite")).then_some(args.database_url.as_str());
    let db = FreshDatabase::create(postgres).await?;
    // Interrupted, the database is still removed.
    let outcome = tokio::select! {
        outcome = bench(&args, &db) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    if args.keep {
        match db {
            FreshDatabase::Sqlite { url, _dir } => {
                let _ = _dir.keep();
                println!("kept {url}");
            }
            FreshDatabase::Postgres { url, .. } => println!("kept {url}"),
        }
    } else {
        db.remove().await?;
    }
    outcome
}

async fn bench(args: &Args, db: &FreshDatabase) -> Result {
    let kind = db.kind();
    let is_sqlite = matches!(db, FreshDatabase::Sqlite { .. });
    println!(
        "== {kind}: {} users × ~{} friends, {} films, {} wanted films each (seed {})",
        args.users, args.friends, args.films, args.wants, args.seed
    );

    let started = Instant::now();
    let world = World::generate(args)?;
    let friendships: usize = world.friends.iter().map(Vec::len).sum();
    println!(
        "  generated in {:.1} s: {} friendship rows ({:.1} friends per user), {} watchlist rows",
        started.elapsed().as_secs_f64(),
        friendships,
        friendships as f64 / args.users as f64,
        world.wants.iter().map(Vec::len).sum::<usize>()
    );

    println!("  loading:");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let mut loader = Loader::open(db).await?;
    loader
        .load("films", FILM_COLUMNS, film_rows(&world, &mut rng))
        .await?;
    loader
        .load("users", USER_COLUMNS, user_rows(&world, &mut rng))
        .await?;
    loader
        .load("friendships", FRIENDSHIP_COLUMNS, friendship_rows(&world))
        .await?;
    loader
        .load("watchlist", WATCHLIST_COLUMNS, watchlist_rows(&world))
        .await?;
    loader.finish().await?;
    println!("  loaded in {:.1} s", started.elapsed().as_secs_f64());

    // From here on, the pool the server would open on this database.
    let mut server = Db::connect(db.url()).await?;
    if is_sqlite {
        // The server never runs ANALYZE: show what SQLite does without statistics too.
        plans_and_latency(&server.pool, &world, args, kind, " without statistics").await?;
        println!();
    }
    analyze(&server.pool, is_sqlite).await?;
    print_sizes(&server.pool, is_sqlite).await?;
    if is_sqlite {
        // A fresh pool: statements prepared again, planned with the statistics.
        server.pool.close().await;
        server = Db::connect(db.url()).await?;
    }
    let label = if is_sqlite { " after ANALYZE" } else { "" };
    plans_and_latency(&server.pool, &world, args, kind, label).await?;
    if args.recs {
        recommendations(&server, &world, args, kind).await?;
    }
    server.pool.close().await;
    Ok(())
}

/// A line of /proc/self/status in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The recommendations job on this graph (the server's own code: stream every signal, build,
/// store the neighbours), then "For you" for random users through the server's pool.
async fn recommendations(server: &Db, world: &World, args: &Args, kind: &str) -> Result {
    println!(
        "\n== {kind}: recommendations (load average {})",
        load_average()
    );
    // Resets this process's peak RSS, so VmHWM below is the job's own peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_kb("VmRSS");
    let started = Instant::now();
    let report = app::recs::ssr::rebuild_if_due(server, "bench", Duration::ZERO, true)
        .await?
        .ok_or("another node holds the claim")?;
    let job_s = started.elapsed().as_secs_f64();
    let peak_mb = status_kb("VmHWM").saturating_sub(rss_before) as f64 / 1024.0;
    println!(
        "  job: {job_s:.1} s ({} ms reading the signals, {} ms building the model, {} ms \
         storing), {} films, {} people, {} neighbours, method {}, peak memory {peak_mb:.0} MB \
         over the {:.0} MB before",
        report.read_ms,
        report.model_ms,
        report.build_ms - report.read_ms - report.model_ms,
        report.films,
        report.people,
        report.neighbours,
        report.method,
        rss_before as f64 / 1024.0
    );
    let samples = pick_samples(world, args.samples.min(1_000), args.seed.wrapping_add(3));
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut personal = 0;
    for (i, &(user, _)) in samples.iter().enumerate() {
        let started = Instant::now();
        let list = app::recs::ssr::for_person(server, Some(&world.user_ids[user])).await?;
        if i >= 50 {
            latencies.saturating_record(micros(started.elapsed()));
        }
        if list.kind == app::recs::ListKind::ForYou && !list.items.is_empty() {
            personal += 1;
        }
    }
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "  For you: {} users (after 50 unrecorded), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         {personal} of {} got a personal list",
        latencies.len(),
        ms(0.5),
        ms(0.99),
        ms(1.0),
        samples.len()
    );
    println!(
        "{{\"bench\":\"match-recs\",\"database\":\"{kind}\",\"users\":{},\"films\":{},\
         \"job_s\":{job_s:.2},\"read_ms\":{},\"model_ms\":{},\"peak_mb\":{peak_mb:.0},\"neighbours\":{},\"method\":\"{}\",\
         \"for_you_p50_ms\":{:.3},\"for_you_p99_ms\":{:.3}}}",
        args.users,
        args.films,
        report.read_ms,
        report.model_ms,
        report.neighbours,
        report.method.replace('"', "'"),
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}
