//! The analytics rollup (issue 20) on a month of generated raw events: how long the job takes
//! to compute every day the first time (a backfill) and then in its usual run (today and
//! yesterday), how much memory it takes, and how fast the dashboard's figures answer over them.
//!
//! The raw events are generated inside the database (recursive CTEs on SQLite,
//! `generate_series` on PostgreSQL), deterministically: `--users` people, each active on about
//! a sixth of the 30 days with 4 page views a day; a third of them play a film on about 3 days
//! (20 reports 10 s apart: 200 s, a view) — as the same guest (`a:<i>`) as their page views.
//! With the defaults: 100 000 people, ~2 M page views, ~2 M player reports. It runs the server's own code (`app::analytics::ssr`) on the server's
//! pool, without HTTP. Not a timed test: `cargo make bench-analytics`.

use app::analytics::domain::{day_of, Days, DAY_MS};
use app::db::Db;
use clap::Parser;
use hdrhistogram::Histogram;
use kino_bench::database::FreshDatabase;
use kino_bench::Result;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(about = "Kino's analytics: a month of raw events, the rollup job and the dashboard")]
struct Args {
    /// `sqlite` for a fresh temporary SQLite file, or a PostgreSQL URL where a fresh database
    /// `kino_bench_<random>` is created (and dropped afterwards).
    #[arg(long, default_value = "sqlite")]
    database_url: String,
    /// People (signed in or guests) who use Kino during the month.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Dashboard queries timed (30-day range).
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

/// The process's resident memory now and at its peak (MiB), from /proc.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The page views and player reports of the month before `today`, made by the database.
async fn generate(db: &Db, users: u64, today: i64) -> Result<(i64, i64)> {
    let first_day = today - 30;
    let films: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM films")
        .fetch_one(&db.pool)
        .await?;
    let (series_users, series_days, series_k, series_r) = match db.backend {
        app::db::Backend::Postgres => (
            format!("generate_series(0, {}) AS u(i)", users - 1),
            "generate_series(0, 29) AS d(d)".to_owned(),
            "generate_series(0, 3) AS k(k)".to_owned(),
            "generate_series(0, 19) AS r(r)".to_owned(),
        ),
        app::db::Backend::Sqlite => (
            format!(
                "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) \
                 SELECT i FROM s) AS u",
                users - 1
            ),
            "(WITH RECURSIVE s(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM s WHERE d < 29) \
             SELECT d FROM s) AS d"
                .to_owned(),
            "(WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 3) \
             SELECT k FROM s) AS k"
                .to_owned(),
            "(WITH RECURSIVE s(r) AS (SELECT 0 UNION ALL SELECT r + 1 FROM s WHERE r < 19) \
             SELECT r FROM s) AS r"
                .to_owned(),
        ),
    };
    // Page views: person i is active on day d when (7i + 13d) mod 6 = 0, four pages a day.
    let pages = sqlx::query(&format!(
        "INSERT INTO analytics_events (id, kind, actor, page, created_at) \
         SELECT 'g-' || u.i || '-' || d.d || '-' || k.k, 'page_view', 'a:' || u.i, \
                CASE k.k WHEN 0 THEN '/' WHEN 1 THEN '/films' WHEN 2 THEN '/films/{{id}}' \
                         ELSE '/r/{{code}}' END, \
                CAST({first_day} + d.d AS BIGINT) * {DAY_MS} + (u.i % 80000) * 1000 + k.k * 60000 \
         FROM {series_users} CROSS JOIN {series_days} CROSS JOIN {series_k} \
         WHERE (u.i * 7 + d.d * 13) % 6 = 0"
    ))
    .execute(&db.pool)
    .await?
    .rows_affected();
    // Player reports: a third of the people play a film on the days where (i + d) mod 10 = 0.
    let reports = sqlx::query(&format!(
        "INSERT INTO player_events (id, film_id, user_id, anon_id, kind, position_ms, \
         duration_ms, quality, created_at) \
         SELECT 'p-' || u.i || '-' || d.d || '-' || r.r, f.id, NULL, CAST(u.i AS TEXT), \
                CASE WHEN r.r = 0 THEN 'open' ELSE 'progress' END, r.r * 10000, 600000, NULL, \
                CAST({first_day} + d.d AS BIGINT) * {DAY_MS} + (u.i % 70000) * 1000 + r.r * 10000 \
         FROM {series_users} CROSS JOIN {series_days} CROSS JOIN {series_r} \
         JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM films) AS f \
           ON f.n = u.i % {films} \
         WHERE u.i % 3 = 0 AND (u.i + d.d) % 10 = 0"
    ))
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok((pages as i64, reports as i64))
}

fn millis(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    let postgres = (!args.database_url.starts_with("sqlite")).then_some(args.database_url.as_str());
    let fresh = FreshDatabase::create(postgres).await?;
    let outcome = bench(&args, &fresh).await;
    fresh.remove().await?;
    outcome
}

async fn bench(args: &Args, fresh: &FreshDatabase) -> Result {
    let db = Db::connect(fresh.url()).await?;
    db.migrate().await?;
    app::catalog::ssr::seed_demo_catalog(&db).await?;
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("load average before the run: {}", load.join(" "));
    }
    let now = app::dates::now_ms();
    let today = day_of(now);
    let started = Instant::now();
    let (pages, reports) = generate(&db, args.users, today).await?;
    println!(
        "{}: {} people, {pages} page views and {reports} player reports over 30 days, generated \
         in {:.1} s",
        fresh.kind(),
        args.users,
        started.elapsed().as_secs_f64()
    );

    let (rss_before, _) = memory_mib();
    let started = Instant::now();
    let report = app::analytics::ssr::roll_up(&db, "bench", now, 0)
        .await?
        .ok_or("the rollup job is claimed by someone else")?;
    let backfill = started.elapsed();
    let backfill_days = report.days.len();
    let (_, rss_peak) = memory_mib();
    println!(
        "backfill: {} days in {:.1} s ({:.2} s a day); memory {rss_before:.0} MiB before, \
         {rss_peak:.0} MiB at the peak",
        report.days.len(),
        backfill.as_secs_f64(),
        backfill.as_secs_f64() / report.days.len() as f64
    );
    let started = Instant::now();
    let report = app::analytics::ssr::roll_up(&db, "bench", now + 1, 0)
        .await?
        .ok_or("the rollup job is claimed by someone else")?;
    let steady = started.elapsed();
    println!(
        "the usual run ({} days: yesterday and today): {:.2} s",
        report.days.len(),
        steady.as_secs_f64()
    );

    let hub = app::rooms::channel::Hub::default();
    let mut month = Histogram::<u64>::new(3)?;
    let mut week = Histogram::<u64>::new(3)?;
    let mut figures = None;
    for i in 0..args.samples.max(1) {
        for (days, histogram) in [(30, &mut month), (7, &mut week)] {
            let started = Instant::now();
            let dashboard = app::analytics::ssr::dashboard(
                &db,
                &hub,
                Days {
                    from: today - days + 1,
                    to: today,
                },
            )
            .await?;
            histogram.record(started.elapsed().as_micros() as u64)?;
            if i == 0 && days == 30 {
                figures = Some(dashboard.headline);
            }
        }
    }
    let figures = figures.ok_or("no dashboard")?;
    println!(
        "dashboard over 30 days: p50 {:.1} ms, p99 {:.1} ms; over 7 days: p50 {:.1} ms, p99 \
         {:.1} ms ({} samples each)",
        millis(&month, 0.5),
        millis(&month, 0.99),
        millis(&week, 0.5),
        millis(&week, 0.99),
        args.samples
    );
    println!(
        "figures: DAU {:.0}, MAU {}, views {}, hours watched {:.0}, page views {}",
        figures.dau,
        figures.mau,
        figures.views,
        figures.watched_ms as f64 / 3_600_000.0,
        figures.page_views
    );
    let json = serde_json::json!({
        "database": fresh.kind(),
        "people": args.users,
        "page_views": pages,
        "player_reports": reports,
        "backfill_days": backfill_days,
        "backfill_seconds": backfill.as_secs_f64(),
        "usual_run_seconds": steady.as_secs_f64(),
        "rss_mib_before": rss_before,
        "rss_mib_peak": rss_peak,
        "dashboard_30d_p50_ms": millis(&month, 0.5),
        "dashboard_30d_p99_ms": millis(&month, 0.99),
        "dashboard_7d_p50_ms": millis(&week, 0.5),
        "dashboard_7d_p99_ms": millis(&week, 0.99),
        "mau": figures.mau,
        "views": figures.views,
    });
    println!("{json}");
    Ok(())
}
