//! The `kino` server as a library: `serve` runs the whole app on a listener until `shutdown`
//! resolves. `main.rs` calls it with the flags; the integration tests call it on 127.0.0.1:0.

// The pages' view types are deeply nested generics (as in `frontend`).
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod errors;
pub mod media;
pub mod metrics;
pub mod publish;
pub mod security;

use app::config::AppConfig;
use app::db::{Db, DbError};
use app::session_store::DbSessionStore;
use app::state::AppState;
use app::{shell, App};
use axum::routing::get;
use axum::Router;
use config::Config;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "kino_session";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot prepare the data (demo films, search names): {0}")]
    Seed(sqlx::Error),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot join the other nodes (LISTEN on PostgreSQL): {0}")]
    Cluster(sqlx::Error),
    #[error(transparent)]
    Events(#[from] publish::PublishError),
}

/// Connects to the database, applies the migrations and (unless `--no-seed`) fills an empty
/// catalog with the demo films: the part of start-up that can fail.
pub async fn open_database(config: &Config) -> Result<Db, ServeError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    app::accounts::ssr::backfill_name_fold(&db)
        .await
        .map_err(ServeError::Seed)?;
    if !config.no_seed {
        let added = app::catalog::ssr::seed_demo_catalog(&db)
            .await
            .map_err(ServeError::Seed)?;
        if added > 0 {
            tracing::info!(films = added, "added the demo catalog");
        }
    }
    Ok(db)
}

/// The server's state for a database that is ready: the app's settings from the flags, the
/// hashing pool, this node's room hub.
pub fn app_state(config: &Config, db: Db, bound: SocketAddr) -> AppState {
    let site_root = config.site_root.to_string_lossy().into_owned();
    let leptos_options = LeptosOptions::builder()
        .output_name("kino")
        .site_root(site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    let mut app_config = AppConfig::new(config.public_url(bound));
    app_config.chat_per_second = config.chat_per_second;
    app_config.chat_burst = config.chat_burst;
    app_config.buffer_wait = std::time::Duration::from_secs(config.buffer_wait_seconds);
    app_config.next_countdown = std::time::Duration::from_secs(config.next_countdown_seconds);
    app_config.limits.register_per_client.max = config.registrations_per_hour;
    app_config.limits.register_overall.max = config.registrations_per_hour_total;
    if let Some(threads) = config.hashing_threads {
        app_config.hashing_threads = threads.max(1);
    }
    app_config.media = media_config(config);
    app_config.analytics_retention_days = config.analytics_retention_days;
    app_config.turn = config
        .turn_secret
        .clone()
        .filter(|_| !config.turn_url.is_empty())
        .map(|secret| app::config::TurnConfig {
            urls: config.turn_url.clone(),
            secret,
            ttl: std::time::Duration::from_secs(3600),
            relay_only: config.turn_relay_only,
        });
    let mut state = AppState::new(leptos_options, db, app_config);
    if config.no_analytics {
        state.analytics = app::events::Recorder::off();
    }
    state
}

/// The library's settings from the flags.
pub fn media_config(config: &Config) -> app::config::MediaConfig {
    app::config::MediaConfig {
        dir: config.media_dir.clone(),
        max_upload_bytes: config.max_upload_mb.saturating_mul(1_000_000),
        upload_quota_bytes: config.upload_quota_mb.saturating_mul(1_000_000),
        min_free_bytes: config.min_free_disk_mb.saturating_mul(1_000_000),
        import_allow_private: config.import_allow_private,
        renditions_2160: config.renditions.contains(&2160),
        vp9_fast: config.vp9_speed == config::Vp9Speed::Fast,
        ..Default::default()
    }
}

/// Builds the whole HTTP app around `state`.
pub fn router(config: &Config, state: AppState) -> Router {
    let guard = security::Guard {
        origin: origin_of(&state.config.public_url),
        trusted_proxies: std::sync::Arc::new(config.trusted_proxy.clone()),
    };
    let store = DbSessionStore::new(state.db.clone());
    let sessions = SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.is_https())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(30)));

    let routes = route_list();
    let context_state = state.clone();
    let analytics_state = state.clone();
    let context = move || {
        context_state.provide_parts();
        provide_context(app::accounts::session::RequestUser::default());
        // A page gets a policy that allows only its own nonce's scripts (set before the
        // security layer, which leaves a page's policy alone).
        if let (Some(nonce), Some(res)) = (
            leptos::nonce::use_nonce(),
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            if let Ok(policy) = http::HeaderValue::from_str(&security::page_policy(&nonce)) {
                res.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
            }
        }
    };
    let router = Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        // The older name of `/readyz`.
        .route("/healthz", get(readyz))
        .route("/posters/{file}", get(poster))
        .route(
            "/admin/analytics/{file}",
            get(app::analytics::ssr::csv_export),
        )
        .route(
            "/r/{code}/calendar.ics",
            get(app::rooms::calendar::calendar),
        )
        .route("/ws/rooms/{code}", get(app::rooms::channel::upgrade))
        .merge(app::library::uploads::routes())
        .route(
            "/media/private/{expires}/{signature}/{film}/{*file}",
            get(media::private_file),
        )
        // The library's files: versioned names, so caches may keep them forever.
        .nest_service(
            "/media/films",
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn(media::only_finished_files))
                .service(ServeDir::new(config.media_dir.join("films"))),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        // Demo videos ship in public/media; ServeDir answers Range requests, so players can seek.
        .nest_service("/media", ServeDir::new(config.site_root.join("media")))
        .nest_service(
            "/pkg",
            ServeDir::new(config.site_root.join("pkg")).precompressed_br(),
        )
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .layer(axum::middleware::from_fn(
            server_fn_errors_carry_their_status,
        ))
        .layer(axum::middleware::from_fn_with_state(
            analytics_state,
            app::analytics::ssr::count_page_views,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            security::same_origin_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            security::remember_client,
        ))
        .layer(axum::middleware::from_fn(security::security_headers))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_READ_TIMEOUT,
        ))
        // Video and audio are compressed already, and a compressed body loses its length and
        // byte ranges, which players need to seek.
        .layer(
            CompressionLayer::new().compress_when(
                DefaultPredicate::new()
                    .and(NotForContentType::const_new("video/"))
                    .and(NotForContentType::const_new("audio/")),
            ),
        )
        .layer(TraceLayer::new_for_http());
    // A panic answers 500 (reported to Sentry with the route when a DSN is set), and the
    // request metrics count that answer too.
    errors::layers(router, config.sentry_dsn.is_some())
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .with_state(state)
}

/// `scheme://host[:port]` of a URL (the public URL has no path, but be sure).
fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.trim_end_matches('/').to_owned())
}

/// The app's routes, worked out once per process. Working them out renders the app in a special
/// "collect the routes" mode; doing that again while another server in the same process renders
/// pages (as the tests do) could leave those pages waiting forever.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Ready for requests: the database answers. (`/livez` only says the process runs.)
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (http::StatusCode, &'static str) {
    if state.hub.draining() != app::rooms::channel::Drain::Serving {
        return (http::StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    match sqlx::query("SELECT 1").execute(&state.db.pool).await {
        Ok(_) => (http::StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable",
            )
        }
    }
}

/// `/posters/<film id>.svg`: the film's generated poster; `.png`: the same, pre-rendered.
async fn poster(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(id) = file.strip_suffix(".png") {
        // Rendered ahead of time for link previews (scripts/make-posters.sh); ids are slugs.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return http::StatusCode::NOT_FOUND.into_response();
        }
        let path = std::path::Path::new(&*state.leptos_options.site_root)
            .join("posters")
            .join(&file);
        return match tokio::fs::read(path).await {
            Ok(png) => (
                [
                    (http::header::CONTENT_TYPE, "image/png"),
                    (http::header::CACHE_CONTROL, "public, max-age=86400"),
                ],
                png,
            )
                .into_response(),
            Err(_) => http::StatusCode::NOT_FOUND.into_response(),
        };
    }
    let Some(id) = file.strip_suffix(".svg") else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    match app::catalog::ssr::poster_svg(&state.db, id).await {
        Ok(Some(svg)) => (
            [
                (http::header::CONTENT_TYPE, "image/svg+xml"),
                (http::header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            svg,
        )
            .into_response(),
        Ok(None) => http::StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "poster query failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The one place a server function's failure gets its HTTP status. leptos answers every
/// failure with a 500 carrying the error (`AppError` as JSON) and the `serverfnerror` header;
/// this reads the error back and answers with its own status (400 for a request that could not
/// even be decoded, 404, 429 with `Retry-After`, …). A plain HTML form's post keeps leptos'
/// redirect back to the form (it is not a 500).
async fn server_fn_errors_carry_their_status(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api
        || res.status() != http::StatusCode::INTERNAL_SERVER_ERROR
        || !res
            .headers()
            .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        metrics::server_fn_error(&error);
        parts.status = http::StatusCode::from_u16(error.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = error.retry_after_secs() {
            parts
                .headers
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Runs Kino on `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let db = open_database(&config).await?;
    serve_with_database(config, db, listener, shutdown).await
}

/// `serve` for a database that `open_database` has already prepared.
pub async fn serve_with_database(
    config: Config,
    db: Db,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let bound = listener.local_addr()?;
    std::fs::create_dir_all(&config.media_dir)?;

    let cleanup = tokio::spawn(delete_expired_sessions(
        DbSessionStore::new(db.clone()),
        db.clone(),
    ));
    let mut state = app_state(&config, db.clone(), bound);
    state.calls = start_calls(&config);
    // Where this node's calls are, kept fresh in the database for the other nodes.
    let call_homes = state.calls.clone().map(|server| {
        tokio::spawn(app::rooms::channel::call_home::keep_every(
            db.clone(),
            state.config.node.clone(),
            server,
            app::rooms::channel::call_home::REFRESH,
        ))
    });
    // With PostgreSQL, any number of nodes may serve the same rooms: this one hears the others.
    let cluster = match db.backend {
        app::db::Backend::Postgres => app::rooms::channel::cluster::start(
            &config.database_url,
            db.clone(),
            state.hub.clone(),
            state.sign_outs.clone(),
            &state.config.node,
            Duration::from_secs(config.node_timeout_seconds),
        )
        .await
        .map_err(ServeError::Cluster)?,
        app::db::Backend::Sqlite => Vec::new(),
    };
    // Through this node's hub, so the sockets of a room it ends hear of it at once.
    let lifecycle = tokio::spawn(app::rooms::lifecycle::run_maintenance_on(
        db.clone(),
        state.hub.clone(),
        state.library.clone(),
        config.room_grace(),
        config.room_retention(),
        Duration::from_secs(30),
    ));
    // Each node runs the job; the claim in the database makes one of them build.
    let recs = tokio::spawn(app::recs::ssr::run_every(
        db.clone(),
        config.recs_interval(),
    ));
    let workers = app::library::worker::spawn(
        db.clone(),
        state.library.clone(),
        state.config.clone(),
        config.transcode_workers,
    );
    // Page views and sign-ins reach the database in batches, written by this task.
    let analytics = state.analytics.clone();
    let flusher = tokio::spawn(app::events::flush_every(
        analytics.clone(),
        db.clone(),
        Duration::from_secs(1),
    ));
    // Each node runs the rollup; the claim in the database makes one of them compute.
    let rollup_every = if config.no_analytics {
        0
    } else {
        config.analytics_every_seconds
    };
    let rollups = tokio::spawn(app::analytics::ssr::run_every(
        db.clone(),
        Duration::from_secs(rollup_every),
        config.analytics_retention_days,
    ));
    // Analytics events to an external engine through NATS JetStream, when asked.
    let publisher = match &config.events_nats_url {
        Some(url) => Some(
            publish::start(
                publish::Target {
                    url: url.clone(),
                    stream: config.events_nats_stream.clone(),
                    subject: config.events_nats_subject.clone(),
                },
                db.clone(),
                state.config.node.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let scrapes = match config.metrics_listen {
        Some(address) => Some(metrics::serve(address, state.clone()).await?),
        None => None,
    };
    let hub = state.hub.clone();
    let node = state.config.node.clone();
    let app = router(&config, state);
    tracing::info!(address = %bound, public_url = %config.public_url(bound), "Kino is listening");
    let header_timeout = Duration::from_secs(config.header_read_timeout_seconds.max(1));
    // One node (SQLite) has nobody to hand its clients to: it stops at once.
    let notice = match db.backend {
        app::db::Backend::Postgres => Duration::from_secs(config.drain_notice_seconds),
        app::db::Backend::Sqlite => Duration::ZERO,
    };
    accept_loop(
        listener,
        app,
        header_timeout,
        drain(shutdown, hub.clone(), notice),
    )
    .await;
    hub.retire().await;
    flusher.abort();
    rollups.abort();
    if let Some(task) = publisher {
        task.abort();
        publish::release(&db, &node).await;
    }
    // What gathered since the last write, after the last request.
    if let Err(e) = analytics.flush(&db).await {
        tracing::warn!(error = %e, "cannot write the last analytics events");
    }
    cleanup.abort();
    lifecycle.abort();
    recs.abort();
    for task in call_homes.into_iter().chain(scrapes) {
        task.abort();
    }
    for task in workers.into_iter().chain(cluster) {
        task.abort();
    }
    db.pool.close().await;
    Ok(())
}

/// This node's media server for the rooms' voice and camera calls, or none (saying why).
fn start_calls(config: &Config) -> Option<kino_rtc::MediaServer> {
    if config.no_calls {
        tracing::info!("voice and camera calls are off (--no-calls)");
        return None;
    }
    let mut rtc = kino_rtc::Config::new(config.rtc_udp);
    rtc.public_ip = config
        .rtc_public_ip
        .or_else(|| guess_public_ip(config.rtc_udp));
    rtc.max_peers_per_call = usize::try_from(app::rooms::domain::MAX_LIMIT).unwrap_or(30);
    match kino_rtc::MediaServer::start(rtc) {
        Ok(server) => {
            if !config.turn_url.is_empty() {
                tracing::info!(
                    turn = ?config.turn_url,
                    relay_only = config.turn_relay_only,
                    "calls may relay through TURN (credentials per seat, an hour each)"
                );
            }
            tracing::info!(
                udp = %server.local_addr(),
                advertised = %server.advertised_addr(),
                "voice and camera calls are on (set --rtc-public-ip if browsers reach this \
                 machine at another address)"
            );
            Some(server)
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "voice and camera calls are off: set --rtc-udp and --rtc-public-ip, or --no-calls"
            );
            None
        }
    }
}

/// For a media server listening on every interface: the address of the interface this machine
/// routes outward through (a UDP socket's `connect` picks it without sending anything), which is
/// what browsers on its network reach. `--rtc-public-ip` says otherwise behind NAT.
fn guess_public_ip(bind: SocketAddr) -> Option<std::net::IpAddr> {
    if !bind.ip().is_unspecified() {
        return None;
    }
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // TEST-NET-1: only routing is consulted; no packet leaves.
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Stopping without dropping anyone: once `shutdown` resolves, `/readyz` answers 503 for
/// `notice` (the balancer's health checks see it and send new clients elsewhere, while requests
/// still arriving here are served), then the sockets close with 1012 over a couple of seconds and
/// reconnect through another node; this resolves when they are gone (or after 8 s more).
async fn drain(
    shutdown: impl Future<Output = ()>,
    hub: std::sync::Arc<app::rooms::channel::Hub>,
    notice: Duration,
) {
    use app::rooms::channel::Drain;
    shutdown.await;
    tracing::info!(
        seconds = notice.as_secs(),
        "draining: not ready, then closing the sockets"
    );
    hub.drain(Drain::NotReady);
    tokio::time::sleep(notice).await;
    hub.drain(Drain::Closing);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while hub.sockets() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!(
        left_open = hub.sockets(),
        "the sockets are closed; stopping"
    );
}

/// A client must send a request's body with no pause longer than this (and its headers within
/// `--header-read-timeout-seconds`): hundreds of half-sent requests cannot hold connections.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown`, then lets the requests in flight finish (for at
/// most 10 s). Like `axum::serve`, plus the header read timeout it does not set.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            app.clone()
                .map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req.map(axum::body::Body::new)
                });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(done);
        });
    }
    let _ = stop_tx.send(true);
    drop(done_tx);
    let mut done_rx = done_rx;
    let finished = tokio::time::timeout(Duration::from_secs(10), done_rx.recv()).await;
    if finished.is_err() {
        tracing::warn!("some connections were still open 10 s after the shutdown began");
    }
}

/// Deletes expired sessions and spent attempt budgets once an hour (and once at start).
async fn delete_expired_sessions(store: DbSessionStore, db: Db) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        // Every budget's window is at most an hour.
        if let Err(e) = app::ratelimit::forget_old(&db, Duration::from_secs(2 * 3600)).await {
            tracing::warn!(error = %e, "could not delete old attempt budgets");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
