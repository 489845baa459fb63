//! Analytics: the dashboard's figures agree with the raw events they come from (on both
//! databases), guests' page views are counted by an anonymous cookie and bots' are not, the
//! figures and their CSV are for admins only, and monitoring (`/metrics`, `/status`) says what
//! an operator needs.

use crate::common::{create, signed_in, spawn_app, spawn_app_with, Person, TestApp};
use app::analytics::domain::{format_day, DAY_MS};
use app::db::Db;
use serde_json::Value;
use std::future::IntoFuture;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const METROPOLIS: &str = "metropolis-1927";
const NOSFERATU: &str = "nosferatu-1922";

/// A page as a guest's browser loads it (a browser's User-Agent, no cookie).
async fn a_guest_loads(app: &TestApp, path: &str) -> reqwest::Response {
    crate::common::browser()
        .get(app.url(path))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap()
}

async fn database(app: &TestApp) -> Db {
    Db::connect(&app.database_url)
        .await
        .expect("the test database")
}

/// One player report, as the film page's player sends them.
async fn report(db: &Db, actor: (&str, Option<&str>), film: &str, kind: &str, s: i64, at: i64) {
    let (user, anon) = match actor {
        (user, None) => (Some(user), None),
        (_, Some(anon)) => (None, Some(anon)),
    };
    sqlx::query(
        "INSERT INTO player_events (id, film_id, user_id, anon_id, kind, position_ms, \
         duration_ms, quality, created_at) VALUES ($1, $2, $3, $4, $5, $6, 600000, NULL, $7)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(film)
    .bind(user)
    .bind(anon)
    .bind(kind)
    .bind(s * 1000)
    .bind(at)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn page_view(db: &Db, actor: &str, page: &str, at: i64) {
    sqlx::query(
        "INSERT INTO analytics_events (id, kind, actor, page, created_at) \
         VALUES ($1, 'page_view', $2, $3, $4)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(actor)
    .bind(page)
    .bind(at)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn room_event(db: &Db, room: &str, seq: i64, user: &str, body: Value, at: i64) {
    let kind = body["kind"].as_str().unwrap().to_owned();
    sqlx::query(
        "INSERT INTO room_events (room_id, seq, kind, user_id, client_id, body, created_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6)",
    )
    .bind(room)
    .bind(seq)
    .bind(kind)
    .bind(user)
    .bind(body.to_string())
    .bind(at)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn scalar(db: &Db, sql: &str, a: i64, b: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(a)
        .bind(b)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Waits (bounded) until the node has written the page views it buffers.
async fn page_views_written(db: &Db, at_least: i64) {
    for _ in 0..100 {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events WHERE kind = 'page_view'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if n >= at_least {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page views were not written within 10 s");
}

async fn dashboard(app: &TestApp, admin: &Person, from: i64, to: i64) -> Value {
    let (from, to) = (format_day(from), format_day(to));
    let res = app
        .call_as(
            &admin.client,
            "analytics/dashboard",
            &[("range", "custom"), ("from", &from), ("to", &to)],
        )
        .await;
    assert_eq!(res.status(), 200, "the dashboard answers");
    res.json().await.unwrap()
}

fn film<'a>(dashboard: &'a Value, id: &str) -> &'a Value {
    dashboard["films"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} in the films table: {dashboard}"))
}

#[tokio::test]
async fn the_figures_agree_with_the_raw_events() {
    let app = spawn_app().await;
    // The first account is the admin; the admin's own use is then ignored.
    let admin = signed_in(&app, "boss", "Boss").await;
    let ann = signed_in(&app, "ann", "Ann").await;
    let bob = signed_in(&app, "bob", "Bob").await;
    let db = database(&app).await;
    let today = app::analytics::domain::day_of(app::dates::now_ms());
    let yesterday = today - 1;
    let y = yesterday * DAY_MS + 10 * 3_600_000;
    let d = today * DAY_MS + 60_000;

    // Alone, yesterday: Ann plays Metropolis for 150 s in 10 s reports, seeks to 590 s and plays
    // the last 10 s: 160 s played, completed (the end).
    report(&db, (&ann.id, None), METROPOLIS, "open", 0, y).await;
    for i in 1..=15 {
        report(
            &db,
            (&ann.id, None),
            METROPOLIS,
            "progress",
            i * 10,
            y + i * 10_000,
        )
        .await;
    }
    report(&db, (&ann.id, None), METROPOLIS, "seek", 590, y + 151_000).await;
    report(&db, (&ann.id, None), METROPOLIS, "end", 600, y + 161_000).await;
    // Today a guest plays 40 s of Nosferatu (not a view: under 2 minutes); another guest's
    // player jumps 300 s in 10 s with no seek reported (not play: not active either).
    let guest = uuid::Uuid::new_v4().to_string();
    let jumper = uuid::Uuid::new_v4().to_string();
    report(&db, ("", Some(&guest)), NOSFERATU, "open", 0, d).await;
    report(
        &db,
        ("", Some(&guest)),
        NOSFERATU,
        "progress",
        10,
        d + 10_000,
    )
    .await;
    report(
        &db,
        ("", Some(&guest)),
        NOSFERATU,
        "progress",
        30,
        d + 30_000,
    )
    .await;
    report(&db, ("", Some(&guest)), NOSFERATU, "pause", 40, d + 40_000).await;
    report(&db, ("", Some(&jumper)), NOSFERATU, "open", 0, d).await;
    report(
        &db,
        ("", Some(&jumper)),
        NOSFERATU,
        "progress",
        300,
        d + 10_000,
    )
    .await;

    // In a room, yesterday: Ann and Bob join, it plays; Bob leaves after 140 s, Ann pauses
    // after 180 s. Three chat messages.
    let code = create(&app, &(ann.client.clone(), ann.id.clone()), &[]).await;
    let room: String = sqlx::query_scalar("SELECT id FROM rooms WHERE code = $1")
        .bind(&code)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let r = y + 2 * 3_600_000;
    let steps = [
        (&ann.id, serde_json::json!({"kind": "join"}), 0),
        (&bob.id, serde_json::json!({"kind": "join"}), 1_000),
        (
            &ann.id,
            serde_json::json!({"kind": "play", "position": 0.0}),
            2_000,
        ),
        (
            &bob.id,
            serde_json::json!({"kind": "chat", "id": "c1", "text": "=1+1", "position": 5.0}),
            7_000,
        ),
        (
            &ann.id,
            serde_json::json!({"kind": "chat", "id": "c2", "text": "hi", "position": 6.0}),
            8_000,
        ),
        (
            &bob.id,
            serde_json::json!({"kind": "chat", "id": "c3", "text": "bye", "position": 100.0}),
            102_000,
        ),
        (&bob.id, serde_json::json!({"kind": "leave"}), 142_000),
        (
            &ann.id,
            serde_json::json!({"kind": "pause", "position": 180.0}),
            182_000,
        ),
        (&ann.id, serde_json::json!({"kind": "leave"}), 190_000),
    ];
    for (seq, (user, body, after)) in steps.into_iter().enumerate() {
        room_event(&db, &room, 1000 + seq as i64, user, body, r + after).await;
    }

    // Page views: yesterday Ann, the admin and a guest; today the playing guest, and a real
    // page load by a browser without the cookie (it gets one) and one by a link-preview bot.
    let guest2 = format!("a:{}", uuid::Uuid::new_v4());
    page_view(&db, &format!("u:{}", ann.id), "/films", y).await;
    page_view(&db, &format!("u:{}", admin.id), "/films", y).await;
    page_view(&db, &guest2, "/", y + 1).await;
    page_view(&db, &format!("a:{guest}"), "/films/:id", d).await;
    let res = a_guest_loads(&app, "/films").await;
    assert_eq!(res.status(), 200);
    let cookie = crate::common::set_cookie(&res, app::playback::ssr::ANON_COOKIE)
        .expect("a guest gets the anonymous cookie with the first page");
    let visitor = format!("a:{}", cookie.0);
    let bot = crate::common::browser()
        .get(app.url("/films"))
        .header("user-agent", "TelegramBot (like TwitterBot)")
        .send()
        .await
        .unwrap();
    assert_eq!(bot.status(), 200);
    page_views_written(&db, 5).await;

    let ignore = app
        .call_as(
            &admin.client,
            "analytics/ignore",
            &[("username", "boss"), ("ignore", "true")],
        )
        .await;
    assert_eq!(ignore.status(), 200);
    let recompute = app.call_as(&admin.client, "analytics/recompute", &[]).await;
    assert_eq!(recompute.status(), 200);
    let board = dashboard(&app, &admin, yesterday - 1, today).await;
    let h = &board["headline"];

    // From the raw events: who loaded a page each day (not the ignored admin, not the bot) …
    let ignored = "actor NOT IN (SELECT 'u:' || user_id FROM analytics_ignored)";
    let page_actors = |day: i64| {
        let db = db.clone();
        async move {
            let actors: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT DISTINCT actor FROM analytics_events WHERE kind = 'page_view' \
                 AND created_at >= $1 AND created_at < $2 AND {ignored}"
            ))
            .bind(day * DAY_MS)
            .bind((day + 1) * DAY_MS)
            .fetch_all(&db.pool)
            .await
            .unwrap();
            actors
        }
    };
    let mut active_yesterday = page_actors(yesterday).await;
    let mut active_today = page_actors(today).await;
    assert!(
        active_today.contains(&visitor),
        "the browser's page view counts"
    );
    assert_eq!(
        active_today.len(),
        2,
        "the guest and the browser; not the bot: {active_today:?}"
    );
    // … and who played a second or more (by the definition: Ann and Bob in the room and alone,
    // the guest; not the player that only jumped).
    for p in [format!("u:{}", ann.id), format!("u:{}", bob.id)] {
        if !active_yesterday.contains(&p) {
            active_yesterday.push(p);
        }
    }
    if !active_today.contains(&format!("a:{guest}")) {
        active_today.push(format!("a:{guest}"));
    }
    let days: Vec<(i64, i64)> = board["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["day"].as_i64().unwrap(), d["active"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        days,
        vec![
            (yesterday - 1, 0),
            (yesterday, active_yesterday.len() as i64),
            (today, active_today.len() as i64)
        ],
        "DAU per day"
    );
    let mut everyone = active_yesterday.clone();
    everyone.extend(active_today.iter().cloned());
    everyone.sort();
    everyone.dedup();
    assert_eq!(
        h["mau"],
        everyone.len() as i64,
        "MAU: distinct over 30 days"
    );
    assert_eq!(h["active"], everyone.len() as i64);
    // A day, a week and a month read the people the job counted for each day's windows.
    for (from, people) in [
        (today, active_today.len()),
        (today - 6, everyone.len()),
        (today - 29, everyone.len()),
    ] {
        let board = dashboard(&app, &admin, from, today).await;
        assert_eq!(board["headline"]["active"], people as i64, "from {from}");
        assert_eq!(board["headline"]["mau"], everyone.len() as i64);
    }

    // Views: Ann (160 s alone + 180 s in the room, more than half in the room) and Bob (140 s
    // in the room); the guest's 40 s is not one. One completion (Ann reached the end).
    assert_eq!(h["views"], 2, "{h}");
    assert_eq!(h["room_views"], 2);
    assert_eq!(h["completions"], 1);
    assert_eq!(h["watched_ms"], (160 + 180 + 140 + 40) * 1000);
    let metropolis = film(&board, METROPOLIS);
    assert_eq!(metropolis["views"], 2);
    assert_eq!(metropolis["completions"], 1);
    assert_eq!(metropolis["watched_ms"], (160 + 180 + 140) * 1000);
    let nosferatu = film(&board, NOSFERATU);
    assert_eq!(nosferatu["views"], 0);
    assert_eq!(nosferatu["watched_ms"], 40_000);

    // The site's counts, straight from their tables.
    let (from, to) = ((yesterday - 1) * DAY_MS, (today + 1) * DAY_MS);
    let page_views = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM analytics_events WHERE kind = 'page_view' \
             AND created_at >= $1 AND created_at < $2 AND {ignored}"
        ),
        from,
        to,
    )
    .await;
    assert_eq!(h["page_views"], page_views);
    let sign_ins = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM analytics_events WHERE kind = 'sign_in' \
             AND created_at >= $1 AND created_at < $2 AND {ignored}"
        ),
        from,
        to,
    )
    .await;
    assert_eq!(sign_ins, 2, "Ann's and Bob's sign-ins on registering");
    assert_eq!(h["sign_ins"], sign_ins);
    assert_eq!(h["new_users"], 2, "the ignored admin is not counted");
    assert_eq!(h["total_users"], 2);
    let chat = scalar(
        &db,
        "SELECT COUNT(*) FROM room_events WHERE kind = 'chat' \
         AND created_at >= $1 AND created_at < $2",
        from,
        to,
    )
    .await;
    assert_eq!(h["chat_messages"], chat);
    assert_eq!(h["rooms_created"], 1);
    let rooms = board["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0]["code"], code.as_str());
    assert_eq!(rooms[0]["people"], 2);
    assert_eq!(rooms[0]["played_ms"], (180 + 140) * 1000);
    assert_eq!(rooms[0]["chat_messages"], 3);
    let films_page: i64 = board["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["page"] == "/films")
        .map(|p| p["views"].as_i64().unwrap())
        .unwrap();
    assert_eq!(
        films_page, 2,
        "Ann's and the browser's; not the admin's or the bot's"
    );

    // Recomputing changes nothing (the job may run any number of times).
    let again = app.call_as(&admin.client, "analytics/recompute", &[]).await;
    assert_eq!(again.status(), 200);
    let board_again = dashboard(&app, &admin, yesterday - 1, today).await;
    assert_eq!(board_again["headline"], board["headline"]);
    assert_eq!(board_again["films"], board["films"]);

    // The CSV of the films says the same, and a room's name cannot become a formula.
    let range = format!(
        "range=custom&from={}&to={}",
        format_day(yesterday - 1),
        format_day(today)
    );
    let csv = admin
        .client
        .get(app.url(&format!("/admin/analytics/films.csv?{range}")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with(METROPOLIS))
        .expect("Metropolis in the CSV");
    assert!(
        row.starts_with("metropolis-1927,Metropolis,Метрополис,2,2,1,"),
        "{row}"
    );

    // The page shows them to the admin, with the chart and its table.
    let html = admin
        .client
        .get(app.url(&format!("/admin/analytics?{range}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<svg"), "the chart is drawn on the server");
    assert!(
        html.contains(&format!("{}: ", format_day(yesterday))),
        "each day says its numbers"
    );
    assert!(html.contains("href=\"/films/metropolis-1927\""));
}

#[tokio::test]
async fn analytics_are_for_admins_only_and_ranges_are_checked() {
    let app = spawn_app().await;
    let admin = signed_in(&app, "boss", "Boss").await;
    let ann = signed_in(&app, "ann", "Ann").await;
    let guest = crate::common::browser();
    for (client, status) in [(&ann.client, 403), (&guest, 401)] {
        let res = app
            .call_as(client, "analytics/dashboard", &[("range", "7d")])
            .await;
        assert_eq!(res.status(), status);
        let res = app.call_as(client, "analytics/recompute", &[]).await;
        assert_eq!(res.status(), status);
        let csv = client
            .get(app.url("/admin/analytics/films.csv?range=7d"))
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), status);
        assert!(!csv.text().await.unwrap().contains("film_id"));
    }
    for form in [
        vec![("range", "week")],
        vec![
            ("range", "custom"),
            ("from", "2026-12-04"),
            ("to", "2026-12-01"),
        ],
        vec![
            ("range", "custom"),
            ("from", "2020-01-01"),
            ("to", "2026-12-01"),
        ],
        vec![
            ("range", "custom"),
            ("from", "not a date"),
            ("to", "2026-12-01"),
        ],
    ] {
        let res = app
            .call_as(&admin.client, "analytics/dashboard", &form)
            .await;
        assert_eq!(res.status(), 400, "{form:?}");
    }
    let res = app
        .call_as(
            &admin.client,
            "analytics/ignore",
            &[("username", "nobody_here"), ("ignore", "true")],
        )
        .await;
    assert_eq!(res.status(), 404);
    let unknown = admin
        .client
        .get(app.url("/admin/analytics/secrets.csv?range=7d"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// A free port on 127.0.0.1 (for a listener whose address the test must know beforehand).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every metric a query in the deploy files names (`kino_…`), without the histogram suffixes.
fn metrics_named_in(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("kino_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let mut name = text[start..end].to_owned();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                name = base.to_owned();
            }
        }
        if !names.contains(&name) {
            names.push(name);
        }
        i = end;
    }
    names
}

#[tokio::test]
async fn metrics_are_served_apart_and_name_what_the_dashboard_uses() {
    let port = free_port();
    let app =
        spawn_app_with(|c| c.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap()))
            .await;
    // Some traffic: a page, a refused server function, a room event.
    let (status, _) = app.page("/films").await;
    assert_eq!(status, 200);
    let refused = app.call("analytics/dashboard", &[]).await;
    assert_eq!(refused.status(), 401);
    // Ann, the first account, is the admin: her recompute sets the figures' age.
    let ann = signed_in(&app, "ann", "Ann").await;
    let code = create(&app, &(ann.client.clone(), ann.id.clone()), &[]).await;
    let (mut ws, _) = crate::channel::connect(&app, &code, &ann, 0).await;
    crate::channel::send(
        &mut ws,
        serde_json::json!({"t": "chat", "id": "m1", "text": "hi", "position": 0}),
    )
    .await;
    let said = crate::channel::next_of(&mut ws, "event").await;
    assert_eq!(said["kind"], "chat");
    let recompute = app.call_as(&ann.client, "analytics/recompute", &[]).await;
    assert_eq!(recompute.status(), 200);

    // Not on the public port.
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let scrape = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("kino_http_requests_total{")
                && l.contains("route=\"/films\"")
                && l.contains("status=\"200\"")),
        "requests by route and status:\n{text}"
    );
    assert!(text.contains("kino_server_fn_errors_total{kind=\"unauthorized\"}"));
    assert!(text.contains("kino_http_request_duration_seconds_bucket{"));
    assert!(text.contains("kino_build_info{version="));

    // Every metric the Grafana dashboard and the alerts ask for is really there.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["deploy/grafana/kino.json", "deploy/prometheus/alerts.yml"] {
        let deploy = std::fs::read_to_string(root.join(file)).unwrap();
        let named = metrics_named_in(&deploy);
        assert!(named.len() >= 4, "{file} names the metrics it shows");
        for name in named {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("{name}{{"))
                    || l.starts_with(&format!("{name} "))
                    || l.starts_with(&format!("{name}_bucket{{"))
                    || l.starts_with(&format!("{name}_count"))),
                "{file} uses {name}, which /metrics does not have"
            );
        }
    }
}

#[tokio::test]
async fn the_status_page_says_what_answers() {
    let app = spawn_app().await;
    let (status, html) = app.page("/status").await;
    assert_eq!(status, 200);
    assert!(html.contains("Kino is up"), "{html}");
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    let res = app.call("status", &[]).await;
    assert_eq!(res.status(), 200);
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["up"], true);
    assert!(status["database"]["latency_ms"].as_i64().is_some());
    assert_eq!(status["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(status["nodes"][0]["this_node"], true);
}

/// A DSN for the tests; nothing is sent to it (the transport keeps the reports).
const DSN: &str = "https://public@sentry.invalid/1";

/// Error reporting with the server's own options, into a transport the test reads. Bound to
/// the test's thread, where its server runs (a current-thread runtime); keep the guard.
fn reporting_to_a_test_transport() -> (
    std::sync::Arc<sentry::test::TestTransport>,
    sentry::ClientInitGuard,
) {
    let transport = sentry::test::TestTransport::new();
    let mut options = kino_server::errors::options(DSN);
    options.transport = Some(std::sync::Arc::new(transport.clone()));
    (transport, sentry::init(options))
}

/// Fails if a report's JSON carries any of `secrets`.
fn carries_none_of(event: &sentry::protocol::Event<'static>, secrets: &[&str]) {
    let text = serde_json::to_string(event).unwrap();
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the report carries {secret}: {text}"
        );
    }
}

#[tokio::test]
async fn server_errors_reach_sentry_with_the_route_and_no_secrets() {
    let (transport, _guard) = reporting_to_a_test_transport();
    let app = spawn_app_with(|c| c.sentry_dsn = Some(DSN.to_owned())).await;
    let admin = signed_in(&app, "boss", "Boss").await;
    let session = admin.cookie.split_once('=').unwrap().1.to_owned();

    // A refusal is not an error of the server: nothing is reported.
    let refused = app.call("analytics/dashboard", &[]).await;
    assert_eq!(refused.status(), 401);
    assert!(transport.fetch_and_clear_events().is_empty());

    // A table the page needs is gone: the server fails (500), with a cookie, a query and a
    // password-like field in the request.
    let db = database(&app).await;
    sqlx::query("DROP TABLE analytics_ignored")
        .execute(&db.pool)
        .await
        .unwrap();
    let res = admin
        .client
        .post(app.url("/api/analytics/ignored?token=sekrit-token"))
        .header("accept", "application/json")
        .form(&[("password", "hunter22-secret")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let events = transport.fetch_and_clear_events();
    let event = events
        .iter()
        .find(|e| e.tags.get("route").map(String::as_str) == Some("/api/analytics/ignored"))
        .unwrap_or_else(|| panic!("a report for the route: {events:?}"));
    assert_eq!(event.level, sentry::Level::Error);
    assert_eq!(event.tags.get("method").map(String::as_str), Some("POST"));
    carries_none_of(
        event,
        &[
            session.as_str(),
            "hunter22-secret",
            "sekrit-token",
            "kino_session",
        ],
    );
}

/// Serves a route whose handler panics, with the layers the server puts around its own routes
/// (nothing in Kino panics on purpose); its address.
async fn serve_a_panic_at(route: &str, report: bool) -> std::net::SocketAddr {
    let broken = axum::Router::new().route(
        route,
        axum::routing::get(|| async {
            if true {
                panic!("the handler broke");
            }
            "never"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = kino_server::errors::layers(broken, report);
    tokio::spawn(axum::serve(listener, app).into_future());
    address
}

#[tokio::test]
async fn a_panic_answers_500_and_reaches_sentry_once_with_its_route() {
    let (transport, _guard) = reporting_to_a_test_transport();
    let address = serve_a_panic_at("/films/{id}", true).await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!(
            "http://{address}/films/metropolis?token=sekrit-token"
        ))
        .header("cookie", "kino_session=sekrit-session")
        .send()
        .await
        .expect("an answer, not a reset connection");
    assert_eq!(res.status(), 500);
    assert!(res.text().await.unwrap().contains("Something went wrong"));
    let events = transport.fetch_and_clear_events();
    assert_eq!(events.len(), 1, "one report of the panic: {events:?}");
    let event = &events[0];
    assert_eq!(
        event.tags.get("route").map(String::as_str),
        Some("/films/{id}")
    );
    assert_eq!(event.level, sentry::Level::Fatal);
    let text = serde_json::to_string(event).unwrap();
    assert!(text.contains("the handler broke"), "{text}");
    carries_none_of(event, &["sekrit-token", "sekrit-session"]);

    // The same layers without a DSN still answer a panic with 500.
    let address = serve_a_panic_at("/", false).await;
    let res = client
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
}

#[tokio::test]
async fn with_analytics_off_no_page_or_sign_in_is_recorded() {
    let app = spawn_app_with(|c| c.no_analytics = true).await;
    signed_in(&app, "ann", "Ann").await;
    let page = a_guest_loads(&app, "/films").await;
    assert_eq!(page.status(), 200);
    assert!(
        crate::common::set_cookie(&page, app::playback::ssr::ANON_COOKIE).is_none(),
        "a guest gets no anonymous id when nothing is counted"
    );
    // A stopping server writes what it gathered after its last request: after this, anything
    // recorded would be in the table.
    let (database_url, _dir) = app.stop().await;
    let db = Db::connect(&database_url).await.unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
}

/// NATS with JetStream for the events test (the machine's own server by default).
fn nats_url() -> String {
    std::env::var("KINO_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Every analytics event the database holds, by id.
async fn all_event_ids(db: &Db) -> Vec<String> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM analytics_events UNION ALL SELECT id FROM player_events \
         UNION ALL SELECT 'room:' || room_id || ':' || CAST(seq AS TEXT) FROM room_events",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    ids.sort();
    ids
}

/// Waits (bounded) until every event is marked published.
async fn all_published(db: &Db) {
    for _ in 0..150 {
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM analytics_events WHERE published_at IS NULL) + \
                    (SELECT COUNT(*) FROM player_events WHERE published_at IS NULL) + \
                    (SELECT COUNT(*) FROM rooms r LEFT JOIN room_events_published p \
                       ON p.room_id = r.id WHERE r.last_seq > COALESCE(p.seq, 0))",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("events were still unpublished after 15 s");
}

/// Some of each kind of event: a page view, sign-ups and sign-ins, a player report, a room's
/// events with a chat message. The room's socket is handed back: while it is open, nobody
/// leaves (a leave would be one more event).
async fn make_events(app: &TestApp, username: &str) -> crate::channel::Ws {
    let person = signed_in(app, username, "Someone").await;
    let code = crate::channel::room(app, &person, &[]).await;
    let (mut ws, _) = crate::channel::connect(app, &code, &person, 0).await;
    crate::channel::send(
        &mut ws,
        serde_json::json!({"t": "chat", "id": "c1", "text": "секрет чата", "position": 0}),
    )
    .await;
    loop {
        let event = crate::channel::next_of(&mut ws, "event").await;
        if event["kind"] == "chat" {
            break;
        }
    }
    let page = a_guest_loads(app, "/films").await;
    assert_eq!(page.status(), 200);
    let report = app
        .call(
            "playback/event",
            &[
                ("film_id", METROPOLIS),
                ("kind", "progress"),
                ("position", "12.5"),
                ("duration", "600"),
            ],
        )
        .await;
    assert_eq!(report.status(), 200);
    ws
}

#[tokio::test]
async fn every_event_reaches_nats_once_across_a_restart() {
    let url = nats_url();
    let Ok(client) = async_nats::connect(&url).await else {
        eprintln!("skipped: no NATS at {url} (set KINO_TEST_NATS_URL)");
        return;
    };
    let js = async_nats::jetstream::new(client);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (stream, subject) = (format!("KINO_TEST_{tag}"), format!("kinotest.{tag}"));
    let configure = {
        let (url, stream, subject) = (url.clone(), stream.clone(), subject.clone());
        move |c: &mut kino_server::config::Config| {
            c.events_nats_url = Some(url);
            c.events_nats_stream = stream;
            c.events_nats_subject = subject;
        }
    };
    let app = spawn_app_with(configure.clone()).await;
    let ann = make_events(&app, "ann").await;
    let db = database(&app).await;
    page_views_written(&db, 1).await;
    all_published(&db).await;
    db.pool.close().await;

    // A restart: what the new process records is published too; nothing is sent twice.
    drop(ann);
    let (database_url, dir) = app.stop().await;
    let app = crate::common::spawn_on(database_url, dir, configure).await;
    let _bob = make_events(&app, "bob").await;
    let db = database(&app).await;
    page_views_written(&db, 2).await;
    all_published(&db).await;
    // As if a node died between publishing and marking: those go again, and the stream keeps
    // one copy of each (the event's id is its Nats-Msg-Id).
    for forget in [
        "UPDATE analytics_events SET published_at = NULL",
        "DELETE FROM room_events_published",
    ] {
        sqlx::query(forget).execute(&db.pool).await.unwrap();
    }
    all_published(&db).await;

    let mut info = js.get_stream(&stream).await.unwrap();
    let count = info.info().await.unwrap().state.messages;
    let mut seen = Vec::new();
    let mut chats = 0;
    for seq in 1..=count {
        let message = info.get_raw_message(seq).await.unwrap();
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        assert_eq!(
            message
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.as_str().to_owned()),
            Some(id.clone())
        );
        assert_eq!(
            message.subject.as_str(),
            format!("{subject}.{}", event["kind"].as_str().unwrap())
        );
        if event["kind"] == "room.chat" {
            chats += 1;
            assert!(
                event["room_id"].is_string() && event["seq"].is_i64(),
                "{event}"
            );
            assert!(
                event["actor"].as_str().unwrap().starts_with("u:"),
                "{event}"
            );
        }
        // What was said stays in the room.
        assert!(!message.payload.windows(6).any(|w| w == "секрет".as_bytes()));
        seen.push(id);
    }
    seen.sort();
    let expected = all_event_ids(&db).await;
    // Twice: a sign-up, a sign-in, a page view, a player report, and a room's events.
    assert_eq!(chats, 2, "both chat messages");
    assert!(expected.len() > 8 + 2, "{expected:?}");
    assert_eq!(seen, expected, "every event in the stream, once");

    // A room whose log was deleted after it ended (--room-retention-days) holds nobody up.
    for forget in [
        "DELETE FROM room_events WHERE room_id = (SELECT MIN(id) FROM rooms)",
        "UPDATE rooms SET last_seq = last_seq + 5 WHERE id = (SELECT MIN(id) FROM rooms)",
    ] {
        sqlx::query(forget).execute(&db.pool).await.unwrap();
    }
    all_published(&db).await;
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test]
async fn a_guest_who_signs_up_is_one_person() {
    let app = spawn_app().await;
    let admin = signed_in(&app, "boss", "Boss").await;
    let visitor = crate::common::browser();
    let look = |client: reqwest::Client| {
        let url = app.url("/films");
        async move {
            let res = client
                .get(url)
                .header("user-agent", FIREFOX)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
    };
    // As a guest (the first page gives the anonymous cookie), then signed up, then again.
    look(visitor.clone()).await;
    let res = app
        .call_as(
            &visitor,
            "register",
            &[
                ("username", "newbie"),
                ("display_name", "Newbie"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    look(visitor.clone()).await;
    let db = database(&app).await;
    page_views_written(&db, 2).await;
    let actors: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT actor) FROM analytics_events WHERE kind = 'page_view'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(actors, 2, "the raw events have the guest and the person");
    let recompute = app.call_as(&admin.client, "analytics/recompute", &[]).await;
    assert_eq!(recompute.status(), 200);
    let today = app::analytics::domain::day_of(app::dates::now_ms());
    let board = dashboard(&app, &admin, today, today).await;
    assert_eq!(
        board["headline"]["active"], 1,
        "one person: {}",
        board["headline"]
    );
    assert_eq!(board["headline"]["page_views"], 2);
}
