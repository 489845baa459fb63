//! The public status page (`/status`): whether Kino is up, its version and uptime, the
//! database, each node's last heartbeat (several nodes on PostgreSQL), the media queue and the
//! analytics job. Nothing on it is private: no names, no rooms, no addresses.

use crate::error::AppError;
use crate::i18n::*;
use crate::ui::{PageError, PageTitle};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The first characters of the node's id (enough to tell nodes apart).
    pub id: String,
    pub this_node: bool,
    pub started_at: i64,
    /// Milliseconds since its last heartbeat.
    pub silent_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Everything answers: the database, and no job has failed in the last day.
    pub up: bool,
    pub version: String,
    pub uptime_ms: i64,
    pub database: Option<DatabaseStatus>,
    pub nodes: Vec<NodeStatus>,
    pub jobs_queued: i64,
    pub jobs_running: i64,
    /// Transcoding jobs that failed in the last 24 hours.
    pub jobs_failed_recently: i64,
    pub rooms_live: i64,
    pub analytics_at: Option<i64>,
    pub checked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// `SQLite` or `PostgreSQL`.
    pub kind: String,
    /// How long a trivial query took.
    pub latency_ms: i64,
}

#[cfg(feature = "ssr")]
async fn read_status() -> Status {
    use crate::context::{config, db};
    use crate::dates::now_ms;
    let (db, config) = (db(), config());
    let now = now_ms();
    let started = std::time::Instant::now();
    let database = match sqlx::query("SELECT 1").execute(&db.pool).await {
        Ok(_) => Some(DatabaseStatus {
            kind: match db.backend {
                crate::db::Backend::Sqlite => "SQLite",
                crate::db::Backend::Postgres => "PostgreSQL",
            }
            .to_owned(),
            latency_ms: started.elapsed().as_millis() as i64,
        }),
        Err(e) => {
            tracing::error!(error = %e, "status: database unreachable");
            None
        }
    };
    let this_node = config.node.clone();
    let nodes: Vec<(String, i64, i64)> = match db.backend {
        crate::db::Backend::Postgres => {
            sqlx::query_as("SELECT id, started_at, seen_at FROM nodes ORDER BY started_at")
                .fetch_all(&db.pool)
                .await
                .unwrap_or_default()
        }
        crate::db::Backend::Sqlite => Vec::new(),
    };
    let mut nodes: Vec<NodeStatus> = nodes
        .into_iter()
        .map(|(id, started_at, seen_at)| NodeStatus {
            this_node: id == this_node,
            id: id.chars().take(8).collect(),
            started_at,
            silent_ms: (now - seen_at).max(0),
        })
        .collect();
    if nodes.is_empty() {
        nodes.push(NodeStatus {
            id: this_node.chars().take(8).collect(),
            this_node: true,
            started_at: config.started_at,
            silent_ms: 0,
        });
    }
    let jobs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM media_jobs \
         WHERE state IN ('queued', 'running') OR (state = 'failed' AND updated_at >= $1) \
         GROUP BY state",
    )
    .bind(now - 86_400_000)
    .fetch_all(&db.pool)
    .await
    .unwrap_or_default();
    let count = |state: &str| jobs.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
    let analytics_at: Option<i64> =
        sqlx::query_scalar("SELECT rolled_at FROM analytics_job WHERE id = 1")
            .fetch_optional(&db.pool)
            .await
            .ok()
            .flatten()
            .flatten();
    let hub = expect_context::<std::sync::Arc<crate::rooms::channel::Hub>>();
    let jobs_failed_recently = count("failed");
    Status {
        up: database.is_some() && jobs_failed_recently == 0,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_ms: now - config.started_at,
        database,
        nodes,
        jobs_queued: count("queued"),
        jobs_running: count("running"),
        jobs_failed_recently,
        rooms_live: hub.live().len() as i64,
        analytics_at,
        checked_at: now,
    }
}

#[server(endpoint = "status")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_status() -> Result<Status, AppError> {
    Ok(read_status().await)
}

fn duration_text(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[component]
pub fn StatusPage() -> impl IntoView {
    let i18n = use_i18n();
    let status = Resource::new(|| (), |_| get_status());
    view! {
        <PageTitle text=move || t_string!(i18n, status_title).to_string() />
        <section class="status-page">
            <h1>{t!(i18n, status_title)}</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) => view! { <StatusView s /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn StatusView(s: Status) -> impl IntoView {
    let i18n = use_i18n();
    let locale = i18n.get_locale_untracked();
    let headline = if s.up {
        view! { <p class="status-badge up" role="status">{t!(i18n, status_up)}</p> }.into_any()
    } else {
        view! { <p class="status-badge degraded" role="status">{t!(i18n, status_degraded)}</p> }
            .into_any()
    };
    let database = match &s.database {
        Some(d) => format!("{} · {} ms", d.kind, d.latency_ms),
        None => t_string!(i18n, status_unreachable).to_string(),
    };
    let analytics = s
        .analytics_at
        .map(|at| crate::dates::date_time_utc(at, locale))
        .unwrap_or_else(|| "—".to_owned());
    let nodes = s
        .nodes
        .iter()
        .map(|n| {
            view! {
                <tr>
                    <th scope="row">
                        <code>{n.id.clone()}</code>
                        {n.this_node.then(|| view! { " " <span class="muted">{t!(i18n, status_this_node)}</span> })}
                    </th>
                    <td>{crate::dates::date_time_utc(n.started_at, locale)}</td>
                    <td>{duration_text(n.silent_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {headline}
        <dl class="figures">
            <div class="figure"><dt>{t!(i18n, status_version)}</dt><dd>{s.version.clone()}</dd></div>
            <div class="figure"><dt>{t!(i18n, status_uptime)}</dt><dd>{duration_text(s.uptime_ms)}</dd></div>
            <div class="figure"><dt>{t!(i18n, status_database)}</dt><dd>{database}</dd></div>
            <div class="figure">
                <dt>{t!(i18n, status_media_queue)}</dt>
                <dd>{format!("{} / {} / {}", s.jobs_queued, s.jobs_running, s.jobs_failed_recently)}</dd>
            </div>
            <div class="figure"><dt>{t!(i18n, status_rooms)}</dt><dd>{s.rooms_live}</dd></div>
            <div class="figure"><dt>{t!(i18n, status_analytics)}</dt><dd>{analytics}</dd></div>
        </dl>
        <table class="data">
            <caption>{t!(i18n, status_nodes)}</caption>
            <thead>
                <tr>
                    <th scope="col">{t!(i18n, status_node)}</th>
                    <th scope="col">{t!(i18n, status_started)}</th>
                    <th scope="col">{t!(i18n, status_heartbeat)}</th>
                </tr>
            </thead>
            <tbody>{nodes}</tbody>
        </table>
        <p class="muted">
            {t!(i18n, status_checked)} " " {crate::dates::date_time_utc(s.checked_at, locale)}
        </p>
    }
}
