//! Monitoring: Prometheus metrics on their own address (`--metrics-listen`, never the public
//! port), and the middleware that counts and times every HTTP request by route.
//!
//! The app records through the `metrics` macros wherever something happens (room events
//! written, analytics jobs); the figures that are a state rather than an event (open sockets,
//! live rooms, the database pool, the job queues) are read when Prometheus scrapes.

use app::db::Db;
use app::state::AppState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Latency buckets (seconds) for every `*_seconds` histogram: from a fast query to a slow page.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder: installed once, the first time a server asks for metrics (the
/// `metrics` macros record nothing until then).
fn handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::error!(error = %e, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .clone()
}

/// Starts `/metrics` on `address`; the task serving it (stopped with the server).
pub async fn serve(
    address: SocketAddr,
    state: AppState,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let Some(handle) = handle() else {
        return Err(std::io::Error::other(
            "the metrics recorder is not installed",
        ));
    };
    let started = Instant::now();
    metrics::gauge!("kino_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (handle, state) = (handle.clone(), state.clone());
            async move {
                // A slow database must not hold the scrape: it answers with what it has.
                let _ = tokio::time::timeout(SCRAPE_TIMEOUT, read_states(&state, started)).await;
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    );
    tracing::info!(address = %bound, "metrics at /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    }))
}

/// The figures that are states, read at each scrape.
async fn read_states(state: &AppState, started: Instant) {
    metrics::gauge!("kino_uptime_seconds").set(started.elapsed().as_secs_f64());
    metrics::gauge!("kino_websockets_open").set(state.hub.sockets() as f64);
    metrics::gauge!("kino_rooms_live").set(state.hub.live().len() as f64);
    let pool = &state.db.pool;
    let (size, idle) = (pool.size(), pool.num_idle() as u32);
    metrics::gauge!("kino_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("kino_db_pool_connections", "state" => "used")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("kino_analytics_events_waiting").set(state.analytics.waiting() as f64);
    match job_counts(&state.db).await {
        Ok(counts) => {
            for state_name in ["queued", "running", "failed"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == state_name)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("kino_transcode_jobs", "state" => state_name).set(n as f64);
            }
            metrics::gauge!("kino_database_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the job queue");
            metrics::gauge!("kino_database_up").set(0.0);
        }
    }
    match analytics_age(&state.db).await {
        Ok(Some(age)) => metrics::gauge!("kino_analytics_rollup_age_seconds").set(age),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the analytics job"),
    }
}

async fn job_counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT state, COUNT(*) FROM media_jobs GROUP BY state")
        .fetch_all(&db.pool)
        .await
}

/// Seconds since the analytics figures were last computed.
async fn analytics_age(db: &Db) -> Result<Option<f64>, sqlx::Error> {
    let at: Option<i64> = sqlx::query_scalar("SELECT rolled_at FROM analytics_job WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    Ok(at.map(|at| (app::dates::now_ms() - at).max(0) as f64 / 1000.0))
}

/// Middleware: every request counted and timed by its route (the route's pattern, not the
/// path: `/films/{id}` is one series; anything no route matched is `unmatched`).
pub async fn track_requests(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    let route = if path.starts_with("/pkg/") {
        "/pkg".to_owned()
    } else if path.starts_with("/media/") {
        "/media".to_owned()
    } else {
        match req.extensions().get::<axum::extract::MatchedPath>() {
            Some(matched) => matched.as_str().to_owned(),
            None => "unmatched".to_owned(),
        }
    };
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!(
        "kino_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status
    )
    .increment(1);
    metrics::histogram!("kino_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// A server function's failure, by kind (the `AppError` it answered with).
pub fn server_fn_error(error: &app::error::AppError) {
    metrics::counter!("kino_server_fn_errors_total", "kind" => error.kind()).increment(1);
}

/// How long a scrape may wait for the database before it answers with what it has.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
