//! The media library over HTTP: who may add films, resumable uploads, the transcoding queue
//! with real ffmpeg, URL imports, and how the files are served. Fixtures are made with ffmpeg's
//! test sources inside each test; nothing is committed.

use crate::common::{browser, error_of, json_of, signed_in, spawn_app_with, Person, TestApp};
use app::library::domain::JobKind;
use app::library::queue::{self, Outcome};
use reqwest::{header, Client};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A short test clip made by ffmpeg: `size` like "1280x720", `seconds` long, with a tone.
pub(crate) fn clip(dir: &Path, name: &str, size: &str, seconds: u32) -> PathBuf {
    let out = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size={size}:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg made the clip");
    out
}

/// A server whose transcoder uses VP9's fast preset (the tests' clips are tiny either way).
pub(crate) async fn library_app(adjust: impl FnOnce(&mut kino_server::config::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.vp9_speed = kino_server::config::Vp9Speed::Fast;
        adjust(c);
    })
    .await
}

/// Uploads `bytes` through the resumable endpoint in `pieces`; the upload's id.
pub(crate) async fn upload(
    app: &TestApp,
    client: &Client,
    name: &str,
    bytes: &[u8],
    pieces: usize,
) -> String {
    use base64::Engine;
    let res = client
        .post(app.url("/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .header(
            "Upload-Metadata",
            format!(
                "filename {}",
                base64::engine::general_purpose::STANDARD.encode(name)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the upload is created");
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let piece = bytes.len().div_ceil(pieces.max(1)).max(1);
    let mut offset = 0;
    while offset < bytes.len() {
        let end = (offset + piece).min(bytes.len());
        let res = client
            .patch(app.url(&location))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header(header::CONTENT_TYPE, "application/offset+octet-stream")
            .body(bytes[offset..end].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "a piece is taken");
        offset = res.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(offset, end);
    }
    location.rsplit('/').next().unwrap().to_owned()
}

async fn add_film(app: &TestApp, admin: &Client, title: &str, source: (&str, &str)) -> String {
    let res = app
        .call_as(
            admin,
            "library/add",
            &[
                ("form[title_en]", title),
                ("form[title_ru]", ""),
                ("form[original_title]", ""),
                ("form[year]", "2026"),
                ("form[genres]", "documentary"),
                ("form[countries]", "RU"),
                ("form[director]", "Kino Tests"),
                ("form[description_en]", "A test card."),
                ("form[description_ru]", "Тестовая таблица."),
                source,
            ],
        )
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "library/add answers: {body}");
    serde_json::from_str::<String>(&body).expect("the new film's id")
}

/// The library page's data for the film.
async fn film_of(app: &TestApp, admin: &Client, film: &str) -> Value {
    let overview = json_of(app, admin, "library", &[]).await;
    overview["films"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == film)
        .cloned()
        .unwrap_or_else(|| panic!("{film} is in the library: {overview}"))
}

/// Waits (polling the library, at most `limit`) until no job of the film is queued or running.
async fn settled(app: &TestApp, admin: &Client, film: &str, limit: Duration) -> Value {
    let start = std::time::Instant::now();
    loop {
        let film = film_of(app, admin, film).await;
        let open = film["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["state"] == "Queued" || j["state"] == "Running");
        if !open && !film["jobs"].as_array().unwrap().is_empty() {
            return film;
        }
        assert!(
            start.elapsed() < limit,
            "the film's jobs did not finish within {limit:?}: {film}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn job<'a>(film: &'a Value, kind: &Value) -> &'a Value {
    film["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| &j["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} job: {film}"))
}

fn rendition(height: i64, container: &str) -> Value {
    serde_json::json!({ "Rendition": { "height": height, "container": container } })
}

#[tokio::test]
async fn the_first_account_is_the_admin_and_nobody_else_may_touch_the_library() {
    let app = library_app(|_| {}).await;
    let (_, html) = app.page("/register").await;
    assert!(
        html.contains("this one will be the instance") || html.contains("admin"),
        "the register page of an empty instance says the account will be its admin"
    );
    let admin = signed_in(&app, "anna", "Anna").await;
    let viewer = signed_in(&app, "boris", "Boris").await;
    assert_eq!(app.me_as(&admin.client).await["is_admin"], true);
    assert_eq!(app.me_as(&viewer.client).await["is_admin"], false);
    let (_, html) = app.page("/register").await;
    assert!(
        !html.contains("will be the instance"),
        "only while nobody has an account"
    );

    let calls: &[(&str, &[(&str, &str)])] = &[
        ("library", &[]),
        (
            "library/add",
            &[
                ("form[title_en]", "X"),
                ("url", "https://example.org/x.mp4"),
            ],
        ),
        ("library/film", &[("id", "metropolis-1927")]),
        (
            "library/update",
            &[("id", "metropolis-1927"), ("form[title_en]", "Pwned")],
        ),
        ("library/delete", &[("id", "metropolis-1927")]),
        ("library/retry", &[("id", "x")]),
        ("library/cancel", &[("id", "x")]),
        (
            "library/subtitles",
            &[
                ("film", "metropolis-1927"),
                ("lang", "ru"),
                ("upload", "ab"),
            ],
        ),
        (
            "library/subtitles/remove",
            &[("film", "metropolis-1927"), ("lang", "ru")],
        ),
        (
            "library/poster",
            &[("film", "metropolis-1927"), ("upload", "ab")],
        ),
    ];
    for (endpoint, form) in calls {
        let (status, _) = error_of(app.call_as(&viewer.client, endpoint, form).await).await;
        assert_eq!(status, 403, "{endpoint} refuses a non-admin");
        let (status, _) = error_of(app.call_as(&browser(), endpoint, form).await).await;
        assert_eq!(status, 401, "{endpoint} refuses a guest");
    }
    // Anyone may upload (a video of their own, for a room), but not into the library.
    let theirs = upload(&app, &viewer.client, "poster.png", b"\x89PNG not really", 1).await;
    let (status, _) = error_of(
        app.call_as(
            &viewer.client,
            "library/poster",
            &[("film", "metropolis-1927"), ("upload", theirs.as_str())],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "a non-admin's upload does not become a poster");
    let res = browser()
        .post(app.url("/uploads"))
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a guest cannot upload");
    let (_, html) = app.page("/films/metropolis-1927").await;
    assert!(
        html.contains("Metropolis"),
        "nothing was changed or deleted"
    );

    // The header shows "Library" to the admin only.
    let page = |client: &Client| {
        let url = app.url("/films");
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(page(&admin.client).await.contains("href=\"/library\""));
    assert!(!page(&viewer.client).await.contains("href=\"/library\""));
}

#[tokio::test]
async fn admin_roles_change_from_the_command_line() {
    let app = library_app(|_| {}).await;
    let _first = signed_in(&app, "anna", "Anna").await;
    let boris = signed_in(&app, "boris", "Boris").await;
    let kino = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kino"))
            .args(args)
            .args(["--database-url", &app.database_url, "--no-seed"])
            .output()
            .expect("kino runs")
    };
    let out = kino(&["admin", "grant", "boris"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("boris is now an admin"));
    assert_eq!(app.me_as(&boris.client).await["is_admin"], true);
    assert_eq!(
        app.call_as(&boris.client, "library", &[]).await.status(),
        200
    );

    let out = kino(&["admin", "revoke", "boris"]);
    assert!(out.status.success());
    assert_eq!(
        app.call_as(&boris.client, "library", &[]).await.status(),
        403
    );

    let out = kino(&["admin", "grant", "nobody"]);
    assert!(!out.status.success(), "an unknown name fails");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account named"));
}

/// Sends a PATCH's headers for the whole rest but only `send` bytes of it, then hangs up — a
/// dropped connection in the middle of an upload.
async fn cut_patch(
    app: &TestApp,
    admin: &Person,
    location: &str,
    offset: usize,
    rest: &[u8],
    send: usize,
) {
    use tokio::io::AsyncWriteExt;
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {host}\r\nCookie: {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        admin.cookie,
        rest.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&rest[..send]).await.unwrap();
    stream.flush().await.unwrap();
    drop(stream);
}

#[tokio::test]
async fn an_upload_cut_halfway_resumes_and_arrives_byte_identical() {
    let app = library_app(|c| c.transcode_workers = 0).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let res = admin
        .client
        .post(app.url("/uploads"))
        .header("Upload-Length", bytes.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();

    cut_patch(&app, &admin, &location, 0, &bytes, bytes.len() / 2).await;
    // The server keeps what it received; HEAD says how much (wait for the cut to be noticed).
    let mut has = 0;
    for _ in 0..100 {
        let res = admin.client.head(app.url(&location)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        has = res.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap();
        if has == bytes.len() / 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        has > 0 && has <= bytes.len() / 2,
        "the server kept the first part: {has}"
    );

    // A PATCH at the wrong offset is refused and says where to go on.
    let res = admin
        .client
        .patch(app.url(&location))
        .header("Upload-Offset", "0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.headers()["upload-offset"].to_str().unwrap(),
        has.to_string()
    );

    let res = admin
        .client
        .patch(app.url(&location))
        .header("Upload-Offset", has.to_string())
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .body(bytes[has..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["upload-offset"].to_str().unwrap(),
        bytes.len().to_string()
    );

    // Turned into a film, the upload becomes its source, byte for byte.
    let id = location.rsplit('/').next().unwrap();
    let film = add_film(&app, &admin.client, "Noise", ("upload", id)).await;
    let source = app.media_dir().join("films").join(&film).join("source");
    assert_eq!(std::fs::read(&source).unwrap(), bytes, "byte-identical");
    // ...which is never served as it is.
    let res = app
        .client
        .get(app.url(&format!("/media/films/{film}/source")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Someone else's upload cannot be looked at, continued or given up.
    let res = admin
        .client
        .post(app.url("/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let annas = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let other = signed_in(&app, "boris", "Boris").await;
    let res = other.client.head(app.url(&annas)).send().await.unwrap();
    assert_eq!(res.status(), 403, "not his upload");
    let res = other
        .client
        .patch(app.url(&annas))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "not his to continue");
    let res = other.client.delete(app.url(&annas)).send().await.unwrap();
    assert_eq!(res.status(), 403, "not his to give up");
}

#[tokio::test]
async fn a_720p_film_is_transcoded_published_and_served_for_seeking() {
    let app = library_app(|_| {}).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let dir = tempfile::tempdir().unwrap();
    let source = clip(dir.path(), "card.mp4", "1280x720", 2);
    let bytes = std::fs::read(&source).unwrap();
    let id = upload(&app, &admin.client, "card.mp4", &bytes, 3).await;
    let film = add_film(&app, &admin.client, "Test Card", ("upload", &id)).await;
    assert_eq!(film, "test-card-2026");

    // Not listed while it is being prepared.
    let (_, html) = app.page("/films?q=test+card").await;
    let film_listed = |html: &str| html.contains(&format!("/films/{film}\""));
    if !film_listed(&html) {
        let (status, _) = app.page(&format!("/films/{film}")).await;
        let published = film_of(&app, &admin.client, &film).await["published"] == true;
        assert!(
            status == 404 || published,
            "a guest does not see an unpublished film"
        );
    }

    let done = settled(&app, &admin.client, &film, Duration::from_secs(180)).await;
    for job in done["jobs"].as_array().unwrap() {
        assert_eq!(job["state"], "Done", "every job finished: {job}");
        assert_eq!(job["progress"], 1000);
    }
    for (height, container) in [(480, "Mp4"), (720, "Mp4"), (480, "Webm"), (720, "Webm")] {
        job(&done, &rendition(height, container));
    }
    assert!(
        !done["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == rendition(1080, "Mp4")),
        "never upscaled"
    );
    assert_eq!(done["published"], true);
    assert_eq!(done["duration_secs"], 2);

    // The catalog lists it, its page plays it in both containers and both heights.
    let (_, html) = app.page("/films?q=test+card").await;
    assert!(film_listed(&html), "search finds the published film");
    let details = json_of(&app, &app.client, "film", &[("id", &film)]).await;
    let renditions = details["renditions"].as_array().unwrap();
    assert_eq!(renditions.len(), 4, "{details}");
    let poster = details["card"]["poster"]
        .as_str()
        .expect("a poster frame was picked");
    let res = app.client.get(app.url(poster)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert!(details["previews"]
        .as_str()
        .is_some_and(|p| p.ends_with(".vtt")));
    let vtt = app
        .client
        .get(app.url(details["previews"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(vtt.starts_with("WEBVTT") && vtt.contains("#xywh="), "{vtt}");

    let mp4 = renditions
        .iter()
        .find(|r| r["container"] == "mp4" && r["height"] == 720)
        .unwrap();
    let url = app.url(mp4["url"].as_str().unwrap());
    let full = app
        .client
        .get(&url)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert!(
        full.headers().get(header::CONTENT_ENCODING).is_none(),
        "video is never compressed"
    );
    assert_eq!(full.headers()[header::ACCEPT_RANGES], "bytes");
    assert!(full.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let modified = full.headers()[header::LAST_MODIFIED].clone();
    let length: usize = full.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(full.bytes().await.unwrap().len(), length);
    let part = app
        .client
        .get(&url)
        .header(header::RANGE, "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().len(), 100);
    let again = app
        .client
        .get(&url)
        .header(header::IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "a cache can revalidate");

    // No temporary file is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(app.media_dir().join("films").join(&film))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_playlist_named_mp4_fails_with_a_reason_and_retry_runs_it_again() {
    let app = library_app(|_| {}).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let playlist =
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n";
    let id = upload(&app, &admin.client, "film.mp4", playlist, 1).await;
    let film = add_film(&app, &admin.client, "Not A Film", ("upload", &id)).await;
    let done = settled(&app, &admin.client, &film, Duration::from_secs(30)).await;
    let probe = job(&done, &Value::from("Probe"));
    assert_eq!(probe["state"], "Failed");
    assert!(
        probe["error"].as_str().unwrap().contains("playlist"),
        "the admin reads why: {probe}"
    );
    assert_eq!(done["published"], false);
    let (status, _) = app.page(&format!("/films/{film}")).await;
    assert_eq!(status, 404, "viewers see nothing of it");

    let res = app
        .call_as(
            &admin.client,
            "library/retry",
            &[("id", probe["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(res.status(), 200);
    let after = film_of(&app, &admin.client, &film).await;
    let probe = job(&after, &Value::from("Probe"));
    assert!(
        probe["state"] == "Queued" || probe["state"] == "Running" || probe["attempts"] == 1,
        "Retry queues it again from its first attempt: {probe}"
    );
    let done = settled(&app, &admin.client, &film, Duration::from_secs(30)).await;
    assert_eq!(
        job(&done, &Value::from("Probe"))["state"],
        "Failed",
        "and it fails the same way"
    );
}

#[tokio::test]
async fn a_link_is_imported_only_from_allowed_addresses() {
    // A file server on loopback, as the test's own "internet".
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), "clip.mp4", "640x360", 1);
    let files =
        axum::Router::new().nest_service("/v", tower_http::services::ServeDir::new(dir.path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, files).await });
    assert!(clip.exists());
    let link = format!("{origin}/v/clip.mp4");

    // By default Kino refuses to fetch from a private or loopback address.
    let app = library_app(|_| {}).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let film = add_film(&app, &admin.client, "Refused", ("url", &link)).await;
    let done = settled(&app, &admin.client, &film, Duration::from_secs(30)).await;
    let import = job(&done, &Value::from("Import"));
    assert_eq!(import["state"], "Failed");
    assert!(
        import["error"].as_str().unwrap().contains("127.0.0.1"),
        "{import}"
    );

    // With --import-allow-private (a LAN setup) the same link is downloaded and transcoded.
    let app = library_app(|c| c.import_allow_private = true).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let film = add_film(&app, &admin.client, "Fetched", ("url", &link)).await;
    let done = settled(&app, &admin.client, &film, Duration::from_secs(120)).await;
    assert_eq!(
        job(&done, &Value::from("Import"))["state"],
        "Done",
        "{done}"
    );
    assert_eq!(
        job(&done, &rendition(360, "Mp4"))["state"],
        "Done",
        "{done}"
    );
    assert_eq!(done["published"], true);
    let source = app.media_dir().join("films").join(&film).join("source");
    assert_eq!(
        std::fs::read(source).unwrap(),
        std::fs::read(&clip).unwrap()
    );
}

#[tokio::test]
async fn the_queue_hands_each_job_to_one_worker_and_takes_back_a_dead_workers_job() {
    let app = library_app(|c| c.transcode_workers = 0).await;
    let db = app::db::Db::connect(&app.database_url).await.unwrap();
    let films = ["metropolis-1927", "nosferatu-1922", "the-general-1926"];
    for film in films {
        for height in [480, 720, 1080] {
            for container in [
                app::library::domain::Container::Mp4,
                app::library::domain::Container::Webm,
            ] {
                queue::enqueue(&db, film, JobKind::Rendition { height, container })
                    .await
                    .unwrap();
            }
        }
    }
    // Eight workers claim at once until nothing is left: every job exactly once.
    let claimers = (0..8).map(|n| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = queue::claim(&db, &format!("w{n}")).await.unwrap() {
                mine.push(job.id);
            }
            mine
        })
    });
    let mut all: Vec<String> = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, 18, "every job was claimed");
    assert_eq!(all.len(), 18, "and none twice");

    // A worker that stops renewing its lease loses the job to the next worker.
    queue::enqueue(&db, "metropolis-1927", JobKind::Poster)
        .await
        .unwrap();
    let first = queue::claim(&db, "dead")
        .await
        .unwrap()
        .expect("the poster job");
    assert_eq!(first.attempt, 1);
    assert!(
        queue::claim(&db, "other").await.unwrap().is_none(),
        "held by its lease"
    );
    sqlx::query("UPDATE media_jobs SET lease_until = 1 WHERE id = $1")
        .bind(&first.id)
        .execute(&db.pool)
        .await
        .unwrap();
    let second = queue::claim(&db, "other")
        .await
        .unwrap()
        .expect("taken again");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert!(
        !queue::heartbeat(&db, &first.id, "dead", 500).await.unwrap(),
        "the old worker learns it lost the job"
    );
    assert!(
        !queue::finish(&db, &first.id, "dead", Outcome::Done)
            .await
            .unwrap(),
        "and cannot finish it"
    );
    assert!(queue::heartbeat(&db, &first.id, "other", 500)
        .await
        .unwrap());

    // A failure that may pass is tried again later, up to three attempts; then it stays failed.
    assert!(
        queue::finish(&db, &first.id, "other", Outcome::Retry("disk busy".into()))
            .await
            .unwrap()
    );
    let state: String = sqlx::query_scalar("SELECT state FROM media_jobs WHERE id = $1")
        .bind(&first.id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "queued");
    assert!(
        queue::claim(&db, "other").await.unwrap().is_none(),
        "not before its backoff"
    );
    sqlx::query("UPDATE media_jobs SET run_after = 0 WHERE id = $1")
        .bind(&first.id)
        .execute(&db.pool)
        .await
        .unwrap();
    let third = queue::claim(&db, "other").await.unwrap().unwrap();
    assert_eq!(third.attempt, 3);
    assert!(
        queue::finish(&db, &first.id, "other", Outcome::Retry("disk busy".into()))
            .await
            .unwrap()
    );
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, error FROM media_jobs WHERE id = $1")
            .bind(&first.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), error.as_str()), ("failed", "disk busy"));

    // Cancelling a running job: its worker's next heartbeat says stop.
    queue::enqueue(&db, "nosferatu-1922", JobKind::Sprite)
        .await
        .unwrap();
    let running = queue::claim(&db, "w").await.unwrap().unwrap();
    assert!(queue::cancel(&db, &running.id).await.unwrap());
    assert!(!queue::heartbeat(&db, &running.id, "w", 10).await.unwrap());
    assert!(
        queue::retry(&db, &running.id).await.unwrap(),
        "a cancelled job can be retried"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_no_part_file_and_the_job_is_done_by_the_next() {
    let app = library_app(|_| {}).await;
    let admin = signed_in(&app, "anna", "Anna").await;
    let dir = tempfile::tempdir().unwrap();
    let source = clip(dir.path(), "long.mp4", "1280x720", 6);
    let id = upload(
        &app,
        &admin.client,
        "long.mp4",
        &std::fs::read(&source).unwrap(),
        2,
    )
    .await;
    let film = add_film(&app, &admin.client, "Interrupted", ("upload", &id)).await;
    // Wait until a rendition is running, then stop the server (its workers and their ffmpeg).
    let start = std::time::Instant::now();
    loop {
        let now = film_of(&app, &admin.client, &film).await;
        if now["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["state"] == "Running" && j["kind"].get("Rendition").is_some())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "a rendition started: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let media = app.media_dir();
    let (database_url, dir2) = app.stop().await;
    // The lease of the dead worker's job runs out (here: is made to).
    let db = app::db::Db::connect(&database_url).await.unwrap();
    sqlx::query("UPDATE media_jobs SET lease_until = 1 WHERE state = 'running'")
        .execute(&db.pool)
        .await
        .unwrap();
    drop(db);
    let app = crate::common::spawn_on(database_url, dir2, |c| {
        c.media_dir = media.clone();
        c.vp9_speed = kino_server::config::Vp9Speed::Fast;
    })
    .await;
    let admin = crate::common::browser();
    let res = app
        .call_as(
            &admin,
            "login",
            &[("username", "anna"), ("password", crate::common::PASSWORD)],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let done = settled(&app, &admin, &film, Duration::from_secs(240)).await;
    for job in done["jobs"].as_array().unwrap() {
        assert_eq!(job["state"], "Done", "{job}");
    }
    let leftovers: Vec<String> = std::fs::read_dir(media.join("films").join(&film))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn kino_import_adds_a_film_from_a_shell_and_says_why_when_it_cannot() {
    let app = library_app(|c| c.transcode_workers = 0).await;
    let _admin = signed_in(&app, "anna", "Anna").await;
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), "shell.mp4", "640x360", 1);
    let media = app.media_dir();
    let kino = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kino"))
            .args(args)
            .args([
                "--database-url",
                &app.database_url,
                "--no-seed",
                "--vp9-speed",
                "fast",
            ])
            .arg("--media-dir")
            .arg(&media)
            .output()
            .expect("kino runs")
    };
    let out = kino(&[
        "import",
        clip.to_str().unwrap(),
        "--title",
        "From A Shell",
        "--title-ru",
        "Из консоли",
        "--year",
        "2026",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ready: /films/from-a-shell-2026"),
        "{stdout}"
    );
    let details = json_of(&app, &app.client, "film", &[("id", "from-a-shell-2026")]).await;
    assert_eq!(details["card"]["title_ru"], "Из консоли");
    assert!(
        !details["renditions"].as_array().unwrap().is_empty(),
        "playable: {details}"
    );

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a film at all").unwrap();
    let out = kino(&["import", text.to_str().unwrap(), "--title", "Notes"]);
    assert!(!out.status.success(), "a file that is not a video fails");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("inspect failed") && stderr.contains("not a video"),
        "{stderr}"
    );
    let out = kino(&["import", "/no/such/file.mkv", "--title", "Nothing"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no file"));
}
