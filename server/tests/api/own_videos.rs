//! A room from a video of one's own ("New room" → a file or a link): private to the room's
//! members through signed, expiring URLs, counted against its owner's quota, prepared before it
//! plays, and deleted with the room's chat. Real ffmpeg, clips made in the tests.

use crate::common::{error_of, json_of, signed_in, Person, TestApp};
use crate::library::{clip, library_app, upload};
use app::db::Db;
use reqwest::header;
use serde_json::Value;
use std::time::Duration;

async fn start_own(app: &TestApp, owner: &Person, form: &[(&str, &str)]) -> String {
    let res = app.call_as(&owner.client, "rooms/start-own", form).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "rooms/start-own answers: {body}");
    serde_json::from_str::<String>(&body).expect("the room's code")
}

async fn video(app: &TestApp, who: &Person, code: &str) -> Value {
    json_of(app, &who.client, "rooms/video", &[("code", code)]).await
}

/// Polls "how far is the video" (at most `limit`) until it is no longer being prepared; every
/// answer on the way, in order.
async fn until_prepared(app: &TestApp, who: &Person, code: &str, limit: Duration) -> Vec<Value> {
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        let now = video(app, who, code).await;
        let preparing = now.get("Preparing").is_some();
        seen.push(now);
        if !preparing {
            return seen;
        }
        assert!(
            start.elapsed() < limit,
            "still preparing after {limit:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn member_view(app: &TestApp, who: &Person, code: &str) -> Value {
    let room = json_of(app, &who.client, "rooms/open", &[("code", code)]).await;
    room.get("Member")
        .cloned()
        .unwrap_or_else(|| panic!("a member's view: {room}"))
}

#[tokio::test]
async fn an_uploaded_video_plays_only_for_the_rooms_members_through_signed_urls() {
    let app = library_app(|_| {}).await;
    let _admin = signed_in(&app, "anna", "Anna").await;
    let boris = signed_in(&app, "boris", "Борис").await;
    let stranger = signed_in(&app, "vera", "Vera").await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(clip(dir.path(), "dacha.mp4", "640x360", 2)).unwrap();

    // Anyone signed in may upload a video of their own and start a room with it.
    let upload_id = upload(&app, &boris.client, "Дача 2026.mp4", &bytes, 2).await;
    let code = start_own(
        &app,
        &boris,
        &[("upload", upload_id.as_str()), ("private", "true")],
    )
    .await;
    let seen = until_prepared(&app, &boris, &code, Duration::from_secs(90)).await;
    assert!(
        seen[0].get("Preparing").is_some(),
        "the room says the video is being prepared first: {seen:?}"
    );
    assert_eq!(seen.last().unwrap(), &Value::from("Ready"), "{seen:?}");

    let room = member_view(&app, &boris, &code).await;
    assert_eq!(room["name"], "Дача 2026", "named after the file");
    assert_eq!(room["video"], "Ready");
    let url = room["renditions"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/media/private/"), "{url}");

    // The member's signed URL plays, with byte ranges, and no shared cache may keep it.
    let res = app
        .client
        .get(app.url(&url))
        .header(header::RANGE, "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    let cache = res.headers()[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    assert_eq!(res.bytes().await.unwrap().len(), 100);
    let full = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert!(full.headers().get(header::CONTENT_ENCODING).is_none());

    // A forged, altered, expired or missing signature gets 403 or nothing at all.
    let parts: Vec<&str> = url
        .trim_start_matches("/media/private/")
        .splitn(4, '/')
        .collect();
    let (expires, signature, film, file) = (parts[0], parts[1], parts[2], parts[3]);
    let mut forged = signature.to_owned();
    let last = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., last);
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    let db = Db::connect(&app.database_url).await.unwrap();
    let key = app::library::signing::SigningKey::load(&db).await.unwrap();
    let expired = key.sign(
        &app::library::signing::private_url(film, file),
        app::dates::now_ms() / 1000 - 1,
    );
    for (bad, status) in [
        (
            format!("/media/private/{expires}/{forged}/{film}/{file}"),
            403,
        ),
        (
            format!("/media/private/{later}/{signature}/{film}/{file}"),
            403,
        ),
        (expired, 403),
        (format!("/media/private/{film}/{file}"), 404),
        (format!("/media/films/{film}/{file}"), 404),
        (
            format!("/media/private/{expires}/{signature}/{film}/source"),
            404,
        ),
    ] {
        let res = stranger.client.get(app.url(&bad)).send().await.unwrap();
        assert_eq!(res.status(), status, "{bad}");
    }

    // Nobody finds the video outside its room: not the catalog, not its page, not another room.
    let (status, _) = error_of(app.call_as(&stranger.client, "film", &[("id", film)]).await).await;
    assert_eq!(status, 404);
    let (_, html) = app.page("/films?q=dacha").await;
    assert!(!html.contains(film), "the catalog does not list it");
    let (status, _) = error_of(
        app.call_as(&stranger.client, "rooms/start", &[("film_id", film)])
            .await,
    )
    .await;
    assert_eq!(status, 404, "another room cannot take someone's own video");
    let (status, _) = error_of(
        app.call_as(&stranger.client, "rooms/video", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!(
        status, 403,
        "a stranger learns nothing of the private room's video"
    );
    let locked = json_of(&app, &stranger.client, "rooms/open", &[("code", &code)]).await;
    assert!(locked["Locked"]["film"].is_null(), "{locked}");
}

#[tokio::test]
async fn a_linked_video_is_bounded_by_the_quota_and_leaves_with_the_rooms_retention() {
    // The test's own "internet" on loopback: a short clip, and a file larger than the quota.
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), "clip.mp4", "640x360", 2);
    std::fs::write(dir.path().join("big.mp4"), vec![7u8; 1_500_000]).unwrap();
    let files =
        axum::Router::new().nest_service("/v", tower_http::services::ServeDir::new(dir.path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, files).await });

    let app = library_app(|c| {
        c.import_allow_private = true;
        c.upload_quota_mb = 1;
    })
    .await;
    let _admin = signed_in(&app, "anna", "Anna").await;
    let boris = signed_in(&app, "boris", "Boris").await;
    let link = format!("{origin}/v/clip.mp4");
    let code = start_own(&app, &boris, &[("url", link.as_str()), ("title", "Summer")]).await;
    let seen = until_prepared(&app, &boris, &code, Duration::from_secs(90)).await;
    assert_eq!(seen.last().unwrap(), &Value::from("Ready"), "{seen:?}");
    let room = member_view(&app, &boris, &code).await;
    assert_eq!(room["name"], "Summer");
    let film = room["film"]["id"].as_str().unwrap().to_owned();
    let kept = app.media_dir().join("private").join(&film);
    assert_eq!(
        std::fs::read(kept.join("source")).unwrap(),
        std::fs::read(&clip).unwrap(),
        "the link's file is downloaded to Kino's own storage"
    );

    // An upload larger than what is left of the quota is refused at once…
    let res = boris
        .client
        .post(app.url("/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "1500000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("quota"));
    // …and a link stops downloading at that size, with a reason the room shows.
    let big = format!("{origin}/v/big.mp4");
    let second = start_own(&app, &boris, &[("url", big.as_str())]).await;
    let seen = until_prepared(&app, &boris, &second, Duration::from_secs(60)).await;
    let why = seen.last().unwrap()["Failed"]["why"]
        .as_str()
        .unwrap_or_else(|| panic!("failed: {seen:?}"))
        .to_owned();
    assert!(why.contains("larger"), "{why}");

    // Retention purges the ended room: its video goes with its chat, and the quota is free.
    let db = Db::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE rooms SET ended_at = 1, purged_at = 2 WHERE code = $1")
        .bind(&code)
        .execute(&db.pool)
        .await
        .unwrap();
    let media = app::config::MediaConfig {
        dir: app.media_dir(),
        ..Default::default()
    };
    let library = app::library::ssr::Library::new(&media);
    let removed = app::library::own::forget_purged(&db, &library)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!kept.exists(), "its files are deleted");
    let room = member_view(&app, &boris, &code).await;
    assert_eq!(room["video"], "Removed");
    assert!(room["renditions"].as_array().unwrap().is_empty());
    let left = app::library::own::quota_left(&db, &boris.id, 1_000_000)
        .await
        .unwrap();
    let other_room_source = std::fs::metadata(
        app.media_dir().join("private").join(
            member_view(&app, &boris, &second).await["film"]["id"]
                .as_str()
                .unwrap(),
        ),
    )
    .is_ok();
    assert!(other_room_source, "the other room's video is untouched");
    assert_eq!(
        left, 1_000_000,
        "nothing of the purged video counts any more"
    );
}
