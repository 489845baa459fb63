//! The catalog and "Want to watch" over HTTP, on SQLite or (with KINO_TEST_POSTGRES_URL)
//! PostgreSQL.

use crate::common::{error_of, spawn_app, spawn_app_with};
use serde_json::json;

const PASSWORD: &str = "correct horse";

#[tokio::test]
async fn the_demo_catalog_is_seeded_and_paged() {
    let app = spawn_app().await;
    let (status, html) = app.page("/films").await;
    assert_eq!(status, 200);
    assert!(html.contains("Films found: 24"), "24 demo films");
    assert_eq!(
        html.matches("class=\"film-card\"").count(),
        12,
        "12 per page"
    );
    assert!(
        html.contains(r#"<option value="year_desc" selected"#),
        "with no sort in the URL the sort menu shows the default, not a blank"
    );
    let (_, page3) = app.page("/films?page=3").await;
    assert_eq!(page3.matches("class=\"film-card\"").count(), 0);
    assert!(page3.contains("Nothing found"));
}

#[tokio::test]
async fn search_ignores_case_in_cyrillic_and_latin() {
    let app = spawn_app().await;
    for query in ["метрополис", "МЕТРОПОЛИС", "metropolis", "Metro"] {
        let (status, html) = app.page(&format!("/films?q={}", urlencode(query))).await;
        assert_eq!(status, 200);
        assert!(html.contains("Films found: 1"), "{query:?} finds one film");
        assert!(
            html.contains("/films/metropolis-1927"),
            "{query:?} finds Metropolis"
        );
    }
    // Wildcards typed by a user are literal characters, not patterns.
    let (_, html) = app.page("/films?q=%25").await;
    assert!(html.contains("Films found: 0"));
}

#[tokio::test]
async fn genre_filter_and_sort() {
    let app = spawn_app().await;
    let (_, html) = app.page("/films?genre=horror&sort=year_asc").await;
    assert!(html.contains("/films/nosferatu-1922"));
    assert!(
        !html.contains("/films/the-general-1926"),
        "a comedy is not horror"
    );
    let nosferatu = html.find("/films/nosferatu-1922").unwrap();
    let night = html.find("/films/night-of-the-living-dead-1968").unwrap();
    assert!(nosferatu < night, "oldest first");

    let (status, html) = app.page("/films?genre=%27%3B%20DROP%20TABLE%20films").await;
    assert_eq!(status, 400);
    assert!(html.contains("There is no such genre."));
}

#[tokio::test]
async fn film_page_has_details_player_and_link_preview() {
    let app = spawn_app().await;
    let (status, html) = app.page("/films/metropolis-1927").await;
    assert_eq!(status, 200);
    assert!(html.contains("<title>Metropolis (1927) — Kino</title>"));
    assert!(html.contains(r#"property="og:title" content="Metropolis""#));
    // Link previews need an absolute image URL.
    assert!(html.contains(&format!(
        r#"property="og:image" content="{}/posters/metropolis-1927.svg""#,
        app.address
    )));
    assert!(html.contains("Fritz Lang"));
    // The player is there; which file it plays the browser decides once it knows its size and
    // codecs ("Quality"), so the server's page names none and starts no wasted download.
    assert!(html.contains("<video"));
    assert!(!html.contains(r#"src="/media/metropolis-1927"#));
    let film =
        crate::common::json_of(&app, &app.client, "film", &[("id", "metropolis-1927")]).await;
    let containers: Vec<&str> = film["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["container"].as_str().unwrap())
        .collect();
    assert_eq!(containers, ["mp4", "webm"], "both containers are offered");

    let (_, html) = app.page("/films/charade-1963").await;
    assert!(html.contains("There is no video for this film yet."));
    assert!(!html.contains("<video"));

    let (status, _) = app.page("/films/no-such-film").await;
    assert_eq!(status, 404);

    let res = app
        .client
        .get(app.url("/posters/nosferatu-1922.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().contains("Nosferatu"));
}

#[tokio::test]
async fn want_to_watch_is_idempotent_and_needs_an_account() {
    let app = spawn_app().await;
    let (status, error) = error_of(
        app.call(
            "watchlist/set",
            &[("film_id", "metropolis-1927"), ("want", "true")],
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (401, json!("Unauthorized")));

    app.register("vasily", "Василий", PASSWORD).await;
    for _ in 0..2 {
        let res = app
            .call(
                "watchlist/set",
                &[("film_id", "metropolis-1927"), ("want", "true")],
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    app.call(
        "watchlist/set",
        &[("film_id", "nosferatu-1922"), ("want", "true")],
    )
    .await;
    let count: i64 = app.call("watchlist/count", &[]).await.json().await.unwrap();
    assert_eq!(count, 2, "setting the same film twice keeps one entry");

    let list: serde_json::Value = app.call("watchlist", &[]).await.json().await.unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["nosferatu-1922", "metropolis-1927"], "newest first");

    for _ in 0..2 {
        let res = app
            .call(
                "watchlist/set",
                &[("film_id", "metropolis-1927"), ("want", "false")],
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let count: i64 = app.call("watchlist/count", &[]).await.json().await.unwrap();
    assert_eq!(count, 1);

    let (status, _) = error_of(
        app.call(
            "watchlist/set",
            &[("film_id", "no-such-film"), ("want", "true")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);

    // The page shows the state a screen reader announces.
    let (_, html) = app.page("/films/nosferatu-1922").await;
    assert!(html.contains(r#"aria-pressed="true""#));
}

#[tokio::test]
async fn no_seed_leaves_the_catalog_empty() {
    let app = spawn_app_with(|c| c.no_seed = true).await;
    let (_, html) = app.page("/films").await;
    assert!(html.contains("Films found: 0"));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn link_previews_use_the_pre_rendered_png_poster() {
    // The built site holds public/ (posters included); point the server at public/ itself.
    let public = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
    let app = spawn_app_with(|c| c.site_root = public).await;
    let (_, html) = app.page("/films/metropolis-1927").await;
    assert!(html.contains(&format!(
        r#"property="og:image" content="{}/posters/metropolis-1927.png""#,
        app.address
    )));
    let res = app
        .client
        .get(app.url("/posters/metropolis-1927.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let png = res.bytes().await.unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    for bad in [
        "/posters/..%2F..%2FCargo.toml.png",
        "/posters/no-such-film.png",
    ] {
        let res = app.client.get(app.url(bad)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{bad}");
    }
}
