//! Analytics, for admins: who uses Kino and what they watch. Raw events (page views, sign-ins,
//! the players' reports, the rooms' logs) are rolled up per day by a job (`ssr`); the
//! "Analytics" page shows the figures for a range of days, with their definitions beside them,
//! a chart drawn as SVG on the server, tables (sortable, with CSV exports) and the accounts left
//! out of the figures.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::error::AppError;
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{Alert, PageError, PageTitle};
use domain::format_day;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The headline figures for a range of days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// Active people per day, on average over the range.
    pub dau: f64,
    /// Distinct active people in the 30 days that end with the range.
    pub mau: i64,
    pub dau_mau: f64,
    /// Distinct active people in the whole range.
    pub active: i64,
    pub views: i64,
    pub room_views: i64,
    pub completions: i64,
    pub watched_ms: i64,
    pub new_users: i64,
    pub sign_ins: i64,
    pub total_users: i64,
    pub page_views: i64,
    pub rooms_created: i64,
    pub chat_messages: i64,
    pub rooms_live: i64,
    pub people_live: i64,
    /// People per room and day, on average.
    pub room_size: f64,
    pub room_span_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    pub day: i64,
    pub active: i64,
    pub views: i64,
    pub watched_ms: i64,
    pub new_users: i64,
    pub sign_ins: i64,
    pub page_views: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilmFigures {
    pub id: String,
    pub title_en: String,
    pub title_ru: String,
    /// Still in the catalog (a deleted film keeps its figures).
    pub exists: bool,
    pub views: i64,
    pub room_views: i64,
    pub completions: i64,
    pub watched_ms: i64,
    pub length_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomFigures {
    pub id: String,
    pub code: Option<String>,
    pub name: String,
    pub people: i64,
    pub played_ms: i64,
    pub span_ms: i64,
    pub chat_messages: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFigures {
    pub page: String,
    pub views: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub from: i64,
    pub to: i64,
    pub headline: Headline,
    pub days: Vec<DayFigures>,
    pub films: Vec<FilmFigures>,
    pub rooms: Vec<RoomFigures>,
    pub pages: Vec<PageFigures>,
    /// When the job last computed the figures (epoch ms).
    pub rolled_at: Option<i64>,
}

#[cfg(feature = "ssr")]
fn days_asked(range: &str, from: &str, to: &str) -> Result<domain::Days, AppError> {
    let today = domain::day_of(crate::dates::now_ms());
    domain::days_for(range, from, to, today)
        .ok_or(AppError::Invalid(crate::error::Invalid::DateRange))
}

/// The figures for a range: `range` is `today`, `7d` (the default), `30d` or `custom` with
/// `from` and `to` as `YYYY-MM-DD` (UTC days, both included).
#[server(endpoint = "analytics/dashboard")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_dashboard(
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<Dashboard, AppError> {
    crate::accounts::session::require_admin().await?;
    let days = days_asked(
        range.as_deref().unwrap_or_default(),
        from.as_deref().unwrap_or_default(),
        to.as_deref().unwrap_or_default(),
    )?;
    let hub = leptos::prelude::expect_context::<std::sync::Arc<crate::rooms::channel::Hub>>();
    Ok(ssr::dashboard(&crate::context::db(), &hub, days).await?)
}

/// Computes the figures now instead of at the job's next run.
#[server(endpoint = "analytics/recompute")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn recompute_analytics() -> Result<(), AppError> {
    crate::accounts::session::require_admin().await?;
    let config = crate::context::config();
    let node = format!("admin-{}", uuid::Uuid::new_v4());
    match ssr::roll_up(
        &crate::context::db(),
        &node,
        crate::dates::now_ms(),
        config.analytics_retention_days,
    )
    .await?
    {
        Some(_) => Ok(()),
        // Another node is computing them right now.
        None => Err(AppError::Busy {
            retry_after_secs: 5,
        }),
    }
}

/// The accounts left out of the figures (usernames).
#[server(endpoint = "analytics/ignored")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_ignored() -> Result<Vec<String>, AppError> {
    crate::accounts::session::require_admin().await?;
    Ok(ssr::ignored_usernames(&crate::context::db()).await?)
}

/// Leaves an account out of the figures, or counts it again.
#[server(endpoint = "analytics/ignore")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn set_ignored(username: String, ignore: bool) -> Result<(), AppError> {
    crate::accounts::session::require_admin().await?;
    let db = crate::context::db();
    let name = crate::accounts::domain::Username::parse(&username)?;
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name.as_str())
        .fetch_optional(&db.pool)
        .await?;
    let id = id.ok_or(AppError::NotFound)?;
    Ok(ssr::set_ignored(&db, &id, ignore).await?)
}

/// Hours with one decimal.
fn hours(ms: i64) -> String {
    format!("{:.1}", ms as f64 / 3_600_000.0)
}

/// A length as `1 h 05 min` / `12 min` / `40 s`.
fn span(ms: i64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{} h {:02} min", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The query string for the same range with `extra` set (the table links keep the range).
fn with_range(range: &str, from: &str, to: &str, extra: &str) -> String {
    let mut query = format!("range={range}");
    if range == "custom" {
        query.push_str(&format!("&from={from}&to={to}"));
    }
    if !extra.is_empty() {
        query.push('&');
        query.push_str(extra);
    }
    query
}

/// "Analytics" (admins): `/admin/analytics?range=7d`.
#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let param = move |name: &str| query.with(|q| q.get(name).unwrap_or_default());
    let recompute = ServerAction::<RecomputeAnalytics>::new();
    let ignore = ServerAction::<SetIgnored>::new();
    let dashboard = Resource::new(
        move || {
            (
                param("range"),
                param("from"),
                param("to"),
                recompute.version().get(),
                ignore.version().get(),
            )
        },
        |(range, from, to, _, _)| get_dashboard(Some(range), Some(from), Some(to)),
    );
    let ignored = Resource::new(move || ignore.version().get(), |_| get_ignored());
    view! {
        <PageTitle text=move || t_string!(i18n, analytics_title).to_string() />
        <section class="analytics">
            <div class="section-head">
                <h1>{t!(i18n, analytics_title)}</h1>
                <ActionForm action=recompute attr:class="inline">
                    <button type="submit" class="ghost">{t!(i18n, an_recompute)}</button>
                </ActionForm>
            </div>
            <RangeForm range=param("range") from=param("from") to=param("to") />
            {move || recompute.value().get().and_then(Result::err).map(|error| view! { <Alert error /> })}
            <Transition>
                {move || Suspend::new(async move {
                    match dashboard.await {
                        Ok(dashboard) => {
                            let link = with_range(&param("range"), &param("from"), &param("to"), "");
                            view! { <DashboardView dashboard sort=param("sort") link /> }.into_any()
                        }
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/admin/analytics") /> }
                                .into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Transition>
            <section class="panel">
                <h2>{t!(i18n, an_ignored)}</h2>
                <p class="muted">{t!(i18n, an_ignored_lead)}</p>
                <Transition>
                    {move || Suspend::new(async move {
                        let names = ignored.await.unwrap_or_default();
                        view! {
                            <ul class="ignored">
                                {names
                                    .into_iter()
                                    .map(|name| {
                                        view! {
                                            <li>
                                                <span>{name.clone()}</span>
                                                <ActionForm action=ignore attr:class="inline">
                                                    <input type="hidden" name="username" value=name />
                                                    <input type="hidden" name="ignore" value="false" />
                                                    <button type="submit" class="ghost">{t!(i18n, an_unignore)}</button>
                                                </ActionForm>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })}
                </Transition>
                <ActionForm action=ignore attr:class="inline-form">
                    <label>
                        {t!(i18n, an_username)}
                        <input type="text" name="username" required maxlength="64" />
                    </label>
                    <input type="hidden" name="ignore" value="true" />
                    <button type="submit">{t!(i18n, an_ignore)}</button>
                </ActionForm>
                {move || ignore.value().get().and_then(Result::err).map(|error| view! { <Alert error /> })}
            </section>
            <Definitions />
        </section>
    }
}

/// The range chooser: a plain GET form, so it works before (and without) the WASM.
#[component]
fn RangeForm(range: String, from: String, to: String) -> impl IntoView {
    let i18n = use_i18n();
    let range = if range.is_empty() {
        "7d".to_owned()
    } else {
        range
    };
    let option = move |value: &'static str, label: AnyView| {
        let selected = range == value;
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <form method="get" action="/admin/analytics" class="range-form">
            <label>
                {t!(i18n, an_range)}
                <select name="range">
                    {option("today", t!(i18n, an_range_today).into_any())}
                    {option("7d", t!(i18n, an_range_7d).into_any())}
                    {option("30d", t!(i18n, an_range_30d).into_any())}
                    {option("custom", t!(i18n, an_range_custom).into_any())}
                </select>
            </label>
            <label>{t!(i18n, an_from)} <input type="date" name="from" value=from /></label>
            <label>{t!(i18n, an_to)} <input type="date" name="to" value=to /></label>
            <button type="submit">{t!(i18n, an_show)}</button>
        </form>
    }
}

#[component]
fn DashboardView(dashboard: Dashboard, sort: String, link: String) -> impl IntoView {
    let i18n = use_i18n();
    let h = dashboard.headline.clone();
    let updated = dashboard
        .rolled_at
        .map(|at| crate::dates::date_time_utc(at, i18n.get_locale_untracked()))
        .unwrap_or_else(|| "—".to_owned());
    let figure = |label: AnyView, value: String| {
        view! {
            <div class="figure">
                <dt>{label}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    view! {
        <p class="muted">
            {format_day(dashboard.from)} " — " {format_day(dashboard.to)} " (UTC) · "
            {t!(i18n, an_updated)} " " {updated}
        </p>
        <dl class="figures">
            {figure(t!(i18n, an_dau).into_any(), format!("{:.1}", h.dau))}
            {figure(t!(i18n, an_mau).into_any(), h.mau.to_string())}
            {figure(t!(i18n, an_dau_mau).into_any(), format!("{:.0} %", h.dau_mau * 100.0))}
            {figure(t!(i18n, an_active).into_any(), h.active.to_string())}
            {figure(t!(i18n, an_views).into_any(), format!("{} ({} {})", h.views, h.room_views, t_string!(i18n, an_room_views)))}
            {figure(t!(i18n, an_completions).into_any(), h.completions.to_string())}
            {figure(t!(i18n, an_hours).into_any(), hours(h.watched_ms))}
            {figure(t!(i18n, an_new_users).into_any(), h.new_users.to_string())}
            {figure(t!(i18n, an_total_users).into_any(), h.total_users.to_string())}
            {figure(t!(i18n, an_sign_ins).into_any(), h.sign_ins.to_string())}
            {figure(t!(i18n, an_page_views).into_any(), h.page_views.to_string())}
            {figure(t!(i18n, an_live).into_any(), format!("{} / {}", h.rooms_live, h.people_live))}
            {figure(t!(i18n, an_rooms_created).into_any(), h.rooms_created.to_string())}
            {figure(t!(i18n, an_chat).into_any(), h.chat_messages.to_string())}
            {figure(t!(i18n, an_room_size).into_any(), format!("{:.1}", h.room_size))}
            {figure(t!(i18n, an_room_length).into_any(), span(h.room_span_ms))}
        </dl>
        <Chart days=dashboard.days.clone() />
        <FilmsTable films=dashboard.films.clone() sort link=link.clone() />
        <RoomsTable rooms=dashboard.rooms.clone() link=link.clone() />
        <PagesTable pages=dashboard.pages.clone() link />
    }
}

/// A round upper bound for an axis: 1, 2, 5 × 10ⁿ.
fn nice_max(value: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= value.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 240.0;
const PAD_L: f64 = 44.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 32.0;

/// Active people (line) and views (bars) per day, drawn on the server; each day is focusable
/// and says its numbers (a tooltip on hover), and a table says the same for screen readers.
#[component]
fn Chart(days: Vec<DayFigures>) -> impl IntoView {
    let i18n = use_i18n();
    let top = nice_max(
        days.iter()
            .map(|d| d.active.max(d.views))
            .max()
            .unwrap_or(0),
    );
    let n = days.len().max(1) as f64;
    let slot = (CHART_W - PAD_L - PAD_R) / n;
    let y = move |v: i64| PAD_T + (CHART_H - PAD_T - PAD_B) * (1.0 - v as f64 / top as f64);
    let x = move |i: usize| PAD_L + slot * (i as f64 + 0.5);
    let line = days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.active)))
        .collect::<Vec<_>>()
        .join(" ");
    let ticks = [0, top / 2, top];
    let label_every = (days.len() / 7).max(1);
    let active_label = t_string!(i18n, an_chart_active).to_string();
    let views_label = t_string!(i18n, an_chart_views).to_string();
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let date = format_day(d.day);
            let says = format!("{date}: {} {active_label}, {} {views_label}", d.active, d.views);
            let label = says.clone();
            let bar_w = (slot * 0.6).max(1.0);
            let show_label = i % label_every == 0 || i + 1 == days.len();
            view! {
                <g class="day" tabindex="0" aria-label=label>
                    <title>{says}</title>
                    <rect
                        class="hit"
                        x=format!("{:.1}", x(i) - slot / 2.0)
                        y=format!("{PAD_T:.1}")
                        width=format!("{slot:.1}")
                        height=format!("{:.1}", CHART_H - PAD_T - PAD_B)
                    />
                    <rect
                        class="bar"
                        x=format!("{:.1}", x(i) - bar_w / 2.0)
                        y=format!("{:.1}", y(d.views))
                        width=format!("{bar_w:.1}")
                        height=format!("{:.1}", CHART_H - PAD_B - y(d.views))
                    />
                    <circle class="point" cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y(d.active)) r="3" />
                    {show_label
                        .then(|| {
                            view! {
                                <text class="x-label" x=format!("{:.1}", x(i)) y=format!("{:.1}", CHART_H - 10.0)>
                                    {date[5..].to_owned()}
                                </text>
                            }
                        })}
                </g>
            }
        })
        .collect_view();
    let rows = days
        .iter()
        .map(|d| {
            view! {
                <tr>
                    <th scope="row">{format_day(d.day)}</th>
                    <td>{d.active}</td>
                    <td>{d.views}</td>
                    <td>{hours(d.watched_ms)}</td>
                    <td>{d.new_users}</td>
                    <td>{d.sign_ins}</td>
                    <td>{d.page_views}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>
                {t!(i18n, an_chart_title)}
                <span class="legend">
                    <span class="key active">{active_label.clone()}</span>
                    <span class="key views">{views_label.clone()}</span>
                </span>
            </figcaption>
            <svg
                viewBox=format!("0 0 {CHART_W} {CHART_H}")
                role="img"
                aria-label=move || t_string!(i18n, an_chart_title).to_string()
            >
                {ticks
                    .into_iter()
                    .map(|v| {
                        view! {
                            <line class="grid" x1=PAD_L x2=CHART_W - PAD_R y1=y(v) y2=y(v) />
                            <text class="y-label" x=PAD_L - 6.0 y=y(v) + 4.0>{v}</text>
                        }
                    })
                    .collect_view()}
                {bars}
                <polyline class="line" points=line />
            </svg>
            <details>
                <summary>{t!(i18n, an_as_table)}</summary>
                <table class="data">
                    <thead>
                        <tr>
                            <th scope="col">{t!(i18n, an_day)}</th>
                            <th scope="col">{t!(i18n, an_active_day)}</th>
                            <th scope="col">{t!(i18n, an_views)}</th>
                            <th scope="col">{t!(i18n, an_hours)}</th>
                            <th scope="col">{t!(i18n, an_new_users)}</th>
                            <th scope="col">{t!(i18n, an_sign_ins)}</th>
                            <th scope="col">{t!(i18n, an_page_views)}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

/// How the films table is sorted (`?sort=`).
fn sort_films(films: &mut [FilmFigures], sort: &str, locale: Locale) {
    match sort {
        "hours" => films.sort_by_key(|f| std::cmp::Reverse(f.watched_ms)),
        "completions" => films.sort_by_key(|f| std::cmp::Reverse(f.completions)),
        "title" => films.sort_by(|a, b| {
            let (a, b) = match locale {
                Locale::ru => (&a.title_ru, &b.title_ru),
                _ => (&a.title_en, &b.title_en),
            };
            a.to_lowercase().cmp(&b.to_lowercase())
        }),
        _ => films.sort_by(|a, b| b.views.cmp(&a.views).then(b.watched_ms.cmp(&a.watched_ms))),
    }
}

#[component]
fn FilmsTable(films: Vec<FilmFigures>, sort: String, link: String) -> impl IntoView {
    let i18n = use_i18n();
    let mut films = films;
    sort_films(&mut films, &sort, i18n.get_locale_untracked());
    let sort = if sort.is_empty() {
        "views".to_owned()
    } else {
        sort
    };
    let header = |key: &'static str, label: AnyView| {
        let current = sort == key;
        let href = format!("/admin/analytics?{link}&sort={key}");
        view! {
            <th scope="col" aria-sort=if current { "descending" } else { "none" }>
                <a href=href>{label}{current.then_some(" ↓")}</a>
            </th>
        }
    };
    let rows = films
        .into_iter()
        .map(|f| {
            let title = match i18n.get_locale_untracked() {
                Locale::ru => f.title_ru.clone(),
                _ => f.title_en.clone(),
            };
            let full = if f.length_ms > 0 {
                format!("{:.1}", f.watched_ms as f64 / f.length_ms as f64)
            } else {
                "—".to_owned()
            };
            view! {
                <tr>
                    <th scope="row">
                        {if f.exists {
                            view! { <a href=format!("/films/{}", f.id)>{title}</a> }.into_any()
                        } else {
                            view! { <span>{title} " " {t!(i18n, an_deleted)}</span> }.into_any()
                        }}
                    </th>
                    <td>{f.views}</td>
                    <td>{f.room_views}</td>
                    <td>{f.completions}</td>
                    <td>{hours(f.watched_ms)}</td>
                    <td>{full}</td>
                </tr>
            }
        })
        .collect_view();
    let head = view! {
        {header("title", t!(i18n, an_film).into_any())}
        {header("views", t!(i18n, an_views).into_any())}
        <th scope="col">{t!(i18n, an_in_rooms)}</th>
        {header("completions", t!(i18n, an_completions).into_any())}
        {header("hours", t!(i18n, an_hours).into_any())}
        <th scope="col">{t!(i18n, an_full)}</th>
    };
    view! {
        <TablePanel
            title=t!(i18n, an_films).into_any()
            downloads=vec![("films.csv", t!(i18n, an_csv).into_any())]
            link=link.clone()
            head=head.into_any()
            rows=rows.into_any()
        />
    }
}

/// One of the dashboard's tables in its panel: the heading, its CSV downloads (for the same
/// range: `link` is the range's query), the table's head row and its rows.
#[component]
fn TablePanel(
    title: AnyView,
    downloads: Vec<(&'static str, AnyView)>,
    link: String,
    head: AnyView,
    rows: AnyView,
) -> impl IntoView {
    let downloads = downloads
        .into_iter()
        .map(|(file, label)| {
            view! {
                <a class="button ghost" href=format!("/admin/analytics/{file}?{link}") download=file>
                    {label}
                </a>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <div class="section-head">
                <h2>{title}</h2>
                {downloads}
            </div>
            <table class="data">
                <thead>
                    <tr>{head}</tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[component]
fn RoomsTable(rooms: Vec<RoomFigures>, link: String) -> impl IntoView {
    let i18n = use_i18n();
    let rows = rooms
        .into_iter()
        .map(|r| {
            view! {
                <tr>
                    <th scope="row">
                        {match r.code.clone() {
                            Some(code) => view! { <a href=format!("/r/{code}")>{r.name.clone()}</a> }.into_any(),
                            None => view! { <span>{r.name.clone()}</span> }.into_any(),
                        }}
                    </th>
                    <td>{r.people}</td>
                    <td>{hours(r.played_ms)}</td>
                    <td>{span(r.span_ms)}</td>
                    <td>{r.chat_messages}</td>
                </tr>
            }
        })
        .collect_view();
    let head = view! {
        <th scope="col">{t!(i18n, an_room)}</th>
        <th scope="col">{t!(i18n, an_people)}</th>
        <th scope="col">{t!(i18n, an_played)}</th>
        <th scope="col">{t!(i18n, an_length)}</th>
        <th scope="col">{t!(i18n, an_chat)}</th>
    };
    view! {
        <TablePanel
            title=t!(i18n, an_rooms).into_any()
            downloads=vec![("rooms.csv", t!(i18n, an_csv).into_any())]
            link=link
            head=head.into_any()
            rows=rows.into_any()
        />
    }
}

#[component]
fn PagesTable(pages: Vec<PageFigures>, link: String) -> impl IntoView {
    let i18n = use_i18n();
    let rows = pages
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <th scope="row"><code>{p.page}</code></th>
                    <td>{p.views}</td>
                </tr>
            }
        })
        .collect_view();
    let head = view! {
        <th scope="col">{t!(i18n, an_page)}</th>
        <th scope="col">{t!(i18n, an_page_views)}</th>
    };
    view! {
        <TablePanel
            title=t!(i18n, an_pages).into_any()
            downloads=vec![
                ("days.csv", t!(i18n, an_csv_days).into_any()),
                ("pages.csv", t!(i18n, an_csv).into_any()),
            ]
            link=link
            head=head.into_any()
            rows=rows.into_any()
        />
    }
}

/// What each number means, next to the numbers.
#[component]
fn Definitions() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="panel definitions">
            <h2>{t!(i18n, an_definitions)}</h2>
            <ul>
                <li>{t!(i18n, an_def_active)}</li>
                <li>{t!(i18n, an_def_view)}</li>
                <li>{t!(i18n, an_def_completion)}</li>
                <li>{t!(i18n, an_def_rooms)}</li>
                <li>{t!(i18n, an_def_days)}</li>
            </ul>
        </section>
    }
}
