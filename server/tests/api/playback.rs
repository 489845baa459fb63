//! Player events, "Continue from", "Continue watching" and "Watched", on SQLite or (with
//! KINO_TEST_POSTGRES_URL) PostgreSQL.

use crate::common::{browser, error_of, set_cookie, spawn_app, spawn_on};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse";
const FILM: &str = "nosferatu-1922";

async fn event(
    app: &crate::common::TestApp,
    client: &reqwest::Client,
    kind: &str,
    position: &str,
    duration: &str,
) -> reqwest::Response {
    app.call_as(
        client,
        "playback/event",
        &[
            ("film_id", FILM),
            ("kind", kind),
            ("position", position),
            ("duration", duration),
            ("quality", "360p MP4"),
        ],
    )
    .await
}

#[tokio::test]
async fn where_i_stopped_survives_a_restart() {
    let app = spawn_app().await;
    app.register("vasily", "Василий", PASSWORD).await;
    let client = app.client.clone();
    assert_eq!(event(&app, &client, "open", "0", "60").await.status(), 200);
    assert_eq!(
        event(&app, &client, "progress", "10.2", "60")
            .await
            .status(),
        200
    );
    assert_eq!(
        event(&app, &client, "seek", "33.5", "60").await.status(),
        200
    );
    assert_eq!(
        event(&app, &client, "pause", "34.0", "60").await.status(),
        200
    );
    // Opening the player again (at 0:00) does not lose the place.
    assert_eq!(event(&app, &client, "open", "0", "60").await.status(), 200);

    let (_, html) = app.page(&format!("/films/{FILM}")).await;
    assert!(html.contains("Continue from 0:34"), "{html}");
    let (_, home) = app.page("/").await;
    assert!(home.contains("Continue watching"));
    assert!(home.contains(&format!("/films/{FILM}")));
    assert!(home.contains("0:34 of 1:00"));

    // Restart on the same database: the session and the position are still there.
    let (url, dir) = app.stop().await;
    let mut app = spawn_on(url, dir, |_| {}).await;
    app.client = client;
    let resume: Value = app
        .call("playback/resume", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        resume,
        json!({"position_ms": 34000, "duration_ms": 60000, "watched": false})
    );
    let (_, html) = app.page(&format!("/films/{FILM}")).await;
    assert!(html.contains("Continue from 0:34"));
}

#[tokio::test]
async fn a_film_is_watched_at_ninety_percent_or_the_end() {
    let app = spawn_app().await;
    app.register("vasily", "Василий", PASSWORD).await;
    let client = app.client.clone();
    event(&app, &client, "progress", "53.9", "60").await;
    let watched: Value = app
        .call("playback/watched", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(watched, json!([]), "89.8 % is not yet watched");

    event(&app, &client, "progress", "54", "60").await;
    let watched: Value = app
        .call("playback/watched", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(watched[0]["id"], FILM);
    let (_, html) = app.page("/watched").await;
    assert!(html.contains(&format!("/films/{FILM}")));
    // Nearly at the end there is nothing to continue.
    let (_, html) = app.page(&format!("/films/{FILM}")).await;
    assert!(!html.contains("Continue from"));

    // Watching again from the start keeps it watched, and offers to continue the new viewing.
    event(&app, &client, "progress", "12", "60").await;
    let resume: Value = app
        .call("playback/resume", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resume["watched"], true);
    assert_eq!(resume["position_ms"], 12000);

    // "end" counts whatever the position.
    app.call(
        "playback/event",
        &[
            ("film_id", "metropolis-1927"),
            ("kind", "end"),
            ("position", "3"),
            ("duration", "0"),
        ],
    )
    .await;
    let watched: Value = app
        .call("playback/watched", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(watched.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn guests_events_are_recorded_under_an_anonymous_id() {
    let app = spawn_app().await;
    let guest = browser();
    let res = event(&app, &guest, "open", "0", "60").await;
    assert_eq!(res.status(), 200);
    let (anon, attrs) = set_cookie(&res, "kino_anon").expect("a guest gets an anonymous id");
    assert!(uuid::Uuid::parse_str(&anon).is_ok());
    assert!(attrs.contains_key("httponly"));
    let res = event(&app, &guest, "progress", "10", "60").await;
    assert!(set_cookie(&res, "kino_anon").is_none(), "the id is kept");

    // Both events are stored with that id, and no position is kept for a guest.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let (n, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT anon_id) FROM player_events WHERE anon_id = $1",
    )
    .bind(&anon)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((n, distinct), (2, 1));
    let (progress,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM watch_progress")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(progress, 0);
    pool.close().await;

    let (status, _) = error_of(app.call_as(&guest, "playback/watched", &[]).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_player_events_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.register("vasily", "Василий", PASSWORD).await;
    let client = app.client.clone();
    event(&app, &client, "pause", "20", "60").await;
    for (kind, position, duration) in [
        ("rewind", "1", "60"),
        ("progress", "NaN", "60"),
        ("progress", "-5", "60"),
        ("progress", "1", "inf"),
        ("progress", "1e12", "60"),
    ] {
        let (status, error) = error_of(event(&app, &client, kind, position, duration).await).await;
        assert_eq!(
            (status, error),
            (400, json!({"Invalid": "PlayerEvent"})),
            "{kind} {position} {duration}"
        );
    }
    let res = event(&app, &client, "progress", "not a number", "60").await;
    assert_eq!(res.status(), 400);
    let res = app
        .call(
            "playback/event",
            &[
                ("film_id", "no-such-film"),
                ("kind", "open"),
                ("position", "0"),
                ("duration", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    let resume: Value = app
        .call("playback/resume", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resume["position_ms"], 20000);
}
