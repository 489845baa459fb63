//! Imports from links and resumable uploads, end to end.
//!
//! Every network test talks only to servers on 127.0.0.1 started here. Targets that must be
//! refused (loopback without `allow_private`, cloud metadata addresses) are refused before any
//! connection is made; the counting listener below checks that for loopback.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use kino_media::import::{check_target, download, is_forbidden, ImportError, ImportPolicy};
use kino_media::uploads::{UploadError, UploadStore};
use url::Url;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Deterministic pseudo-random bytes (xorshift), so a shifted or duplicated block shows.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

const FILE_LEN: usize = 3 * 1024 * 1024 + 12_345;
const MIB: u64 = 1024 * 1024;

fn video() -> Bytes {
    Bytes::from(random_bytes(FILE_LEN, 7))
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

/// A test server on 127.0.0.1 with the responses the import tests need.
async fn spawn_server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/a.mp4",
            get(|| async { ([(header::CONTENT_TYPE, "video/mp4")], video()) }),
        )
        .route(
            "/octet",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    video(),
                )
            }),
        )
        .route(
            "/page",
            get(|| async { Html("<html><body>a video page</body></html>") }),
        )
        .route(
            "/big",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "video/mp4")],
                    Bytes::from(vec![0u8; 2 * MIB as usize]),
                )
            }),
        )
        .route(
            "/chunked",
            get(|| async {
                // 40 × 64 KiB = 2.5 MiB, without a Content-Length.
                let chunks = stream::iter(
                    (0..40).map(|_| Ok::<_, io::Error>(Bytes::from(vec![1u8; 64 * 1024]))),
                );
                (
                    [(header::CONTENT_TYPE, "video/mp4")],
                    Body::from_stream(chunks),
                )
            }),
        )
        .route(
            "/stall",
            get(|| async {
                let first =
                    stream::once(async { Ok::<_, io::Error>(Bytes::from_static(b"start")) });
                (
                    [(header::CONTENT_TYPE, "video/mp4")],
                    Body::from_stream(first.chain(stream::pending())),
                )
            }),
        )
        .route(
            "/redirect/{n}",
            get(|UrlPath(n): UrlPath<u32>| async move {
                if n == 0 {
                    redirect("/a.mp4")
                } else {
                    redirect(&format!("/redirect/{}", n - 1))
                }
            }),
        )
        .route("/dir/relative", get(|| async { redirect("../a.mp4") }))
        .route(
            "/to-metadata",
            get(|| async { redirect("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/to-aws-v6",
            get(|| async { redirect("http://[fd00:ec2::254]/latest/meta-data/") }),
        )
        .route(
            "/to-alibaba",
            get(|| async { redirect("http://100.100.100.200/latest/meta-data/") }),
        )
        .route(
            "/to-mapped",
            get(|| async { redirect("http://[::ffff:169.254.169.254]/") }),
        )
        .route(
            "/to-ftp",
            get(|| async { redirect("ftp://127.0.0.1/a.mp4") }),
        )
        .route("/no-location", get(|| async { StatusCode::FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A listener on 127.0.0.1 that only counts the connections it accepts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

fn policy(allow_private: bool) -> ImportPolicy {
    ImportPolicy {
        allow_private,
        max_bytes: 16 * MIB,
        max_redirects: 5,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
    }
}

fn assert_no_file(path: &Path) {
    assert!(!path.exists(), "{} was left behind", path.display());
}

// ---------------------------------------------------------------------------------------------
// Import: refusals that happen before any connection

#[tokio::test]
async fn loopback_in_every_spelling_is_refused_without_connecting() {
    let (port, accepted) = counting_listener().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    for url in [
        format!("http://127.0.0.1:{port}/a.mp4"),
        format!("http://localhost:{port}/a.mp4"),
        format!("http://LOCALHOST:{port}/a.mp4"),
        format!("http://[::ffff:127.0.0.1]:{port}/a.mp4"),
        format!("http://[::1]:{port}/a.mp4"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("https://127.0.0.1:{port}/a.mp4"),
    ] {
        let error = download(&url, &dest, &policy(false), |_, _| {})
            .await
            .expect_err(&url);
        assert!(
            matches!(
                error,
                ImportError::ForbiddenAddress { .. } | ImportError::NeverAllowed { .. }
            ),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains("Kino"), "{error}");
        assert_no_file(&dest);
    }
    // The decimal form is normalised and reported as the address it is.
    let error = download(
        &format!("http://2130706433:{port}/"),
        &dest,
        &policy(false),
        |_, _| {},
    )
    .await
    .expect_err("decimal loopback");
    assert_eq!(
        error.to_string(),
        "the address 127.0.0.1 is a loopback address of this machine; Kino does not fetch from there (--import-allow-private lifts this)"
    );
    tokio::task::yield_now().await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a refused target was connected to"
    );
}

#[tokio::test]
async fn bad_links_are_refused() {
    let (port, accepted) = counting_listener().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let open = policy(true);

    let error = download(
        &format!("http://admin:hunter2@127.0.0.1:{port}/a.mp4"),
        &dest,
        &open,
        |_, _| {},
    )
    .await
    .expect_err("credentials");
    assert!(
        matches!(error, ImportError::Credentials { .. }),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("hunter2"),
        "the password leaked: {error}"
    );

    for url in [
        "ftp://127.0.0.1/a.mp4",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
    ] {
        let error = download(url, &dest, &open, |_, _| {}).await.expect_err(url);
        assert!(
            matches!(error, ImportError::UnsupportedScheme { .. }),
            "{url}: {error:?}"
        );
    }
    let error = download("not a link", &dest, &open, |_, _| {})
        .await
        .expect_err("garbage");
    assert!(matches!(error, ImportError::InvalidUrl { .. }), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    assert_no_file(&dest);
}

#[tokio::test]
async fn check_target_refuses_metadata_services_whatever_the_setting() {
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://169.254.170.2/v2/credentials",
    ] {
        let url = Url::parse(url).expect("url");
        for allow_private in [false, true] {
            let error = check_target(&url, allow_private)
                .await
                .expect_err(url.as_str());
            assert!(
                matches!(error, ImportError::NeverAllowed { .. }),
                "{url}: {error:?}"
            );
        }
    }
    // Private addresses: refused by default, allowed when the admin says so.
    let nas = Url::parse("http://192.168.1.20:8080/films/a.mkv").expect("url");
    assert!(matches!(
        check_target(&nas, false).await,
        Err(ImportError::ForbiddenAddress { .. })
    ));
    let addrs = check_target(&nas, true)
        .await
        .expect("allowed with allow_private");
    assert_eq!(
        addrs,
        vec!["192.168.1.20:8080".parse::<SocketAddr>().expect("addr")]
    );
    // A public literal passes and gets the scheme's port.
    let public = Url::parse("https://93.184.215.14/a.mp4").expect("url");
    assert_eq!(
        check_target(&public, false).await.expect("public"),
        vec!["93.184.215.14:443".parse::<SocketAddr>().expect("addr")]
    );
}

#[test]
fn is_forbidden_table() {
    let table = [
        ("127.0.0.1", true),
        ("10.1.2.3", true),
        ("172.20.0.1", true),
        ("192.168.0.1", true),
        ("169.254.169.254", true),
        ("100.64.1.1", true),
        ("0.0.0.0", true),
        ("224.0.0.251", true),
        ("255.255.255.255", true),
        ("198.18.5.5", true),
        ("203.0.113.1", true),
        ("::1", true),
        ("::", true),
        ("fd12:3456::1", true),
        ("fe80::1", true),
        ("::ffff:192.168.0.1", true),
        ("64:ff9b::c0a8:1", true),
        ("2002:a00:1::", true),
        ("8.8.8.8", false),
        ("172.32.0.1", false),
        ("::ffff:8.8.8.8", false),
        ("2606:4700:4700::1111", false),
    ];
    for (text, forbidden) in table {
        assert_eq!(is_forbidden(text.parse().expect(text)), forbidden, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Import: downloads from the loopback test server (allow_private = true)

#[tokio::test]
async fn downloads_a_file_byte_identical_with_progress() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let mut seen: Vec<(u64, Option<u64>)> = Vec::new();
    let done = download(
        &format!("http://{addr}/a.mp4"),
        &dest,
        &policy(true),
        |n, total| seen.push((n, total)),
    )
    .await
    .expect("download");
    let total = FILE_LEN as u64;
    assert_eq!(done.bytes, total);
    assert_eq!(done.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(done.final_url.path(), "/a.mp4");
    assert!(
        std::fs::read(&dest).expect("read") == video(),
        "the file differs"
    );
    assert_eq!(seen.first(), Some(&(0, Some(total))));
    assert_eq!(seen.last(), Some(&(total, Some(total))));
    assert!(
        seen.len() > 2,
        "progress was reported only {} times",
        seen.len()
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went backwards"
    );

    // Also through localhost (a name, so through the pinned resolver), and as octet-stream.
    let done = download(
        &format!("http://localhost:{}/octet", addr.port()),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect("download via localhost");
    assert_eq!(
        done.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert!(
        std::fs::read(&dest).expect("read") == video(),
        "the file differs"
    );
}

#[tokio::test]
async fn announced_size_over_the_limit_is_refused_before_downloading() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let mut calls = 0;
    let limited = ImportPolicy {
        max_bytes: MIB,
        ..policy(true)
    };
    let error = download(&format!("http://{addr}/big"), &dest, &limited, |_, _| {
        calls += 1
    })
    .await
    .expect_err("too large");
    assert!(
        matches!(error, ImportError::TooLarge { declared: Some(n), max_bytes, .. } if n == 2 * MIB && max_bytes == MIB),
        "{error:?}"
    );
    assert!(error.to_string().contains("2.0 MiB"), "{error}");
    assert_eq!(calls, 0, "the download started");
    assert_no_file(&dest);
}

#[tokio::test]
async fn unannounced_size_over_the_limit_stops_mid_stream() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let mut last = 0;
    let limited = ImportPolicy {
        max_bytes: MIB,
        ..policy(true)
    };
    let error = download(
        &format!("http://{addr}/chunked"),
        &dest,
        &limited,
        |n, total| {
            assert_eq!(total, None);
            last = n;
        },
    )
    .await
    .expect_err("too large");
    assert!(
        matches!(error, ImportError::TooLarge { declared: None, .. }),
        "{error:?}"
    );
    assert!(last > 0 && last <= MIB, "progress {last}");
    assert_no_file(&dest);
}

#[tokio::test]
async fn web_pages_and_errors_are_refused() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");

    let error = download(
        &format!("http://{addr}/page"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("page");
    assert!(
        matches!(&error, ImportError::NotAVideo { content_type, .. } if content_type.starts_with("text/html")),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("web page, not a video file"),
        "{error}"
    );
    assert_no_file(&dest);

    let error = download(
        &format!("http://{addr}/nothing-here.mp4"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("404");
    assert!(
        matches!(error, ImportError::Http { status: 404, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("404 Not Found"), "{error}");
    assert_no_file(&dest);

    let error = download(
        &format!("http://{addr}/no-location"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("redirect without location");
    assert!(
        matches!(error, ImportError::BadRedirect { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn https_is_spoken() {
    // The test server speaks plain HTTP, so the TLS handshake fails: proof that the client
    // tried TLS at all (without a TLS backend, reqwest refuses https links outright).
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let error = download(
        &format!("https://{addr}/a.mp4"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("no TLS on the test server");
    assert!(matches!(error, ImportError::Connect { .. }), "{error:?}");
    assert_no_file(&dest);
}

/// Handlers and `tokio::spawn` need these futures to be `Send`; this does not compile if not.
#[allow(dead_code)]
fn futures_are_send(
    store: &UploadStore,
    body: impl Stream<Item = Result<Bytes, io::Error>> + Send,
) {
    fn send<T: Send>(_: T) {}
    send(store.append("id", "owner", 0, body));
    send(store.finish("id", "owner"));
    send(store.sweep(Duration::from_secs(1)));
    send(download(
        "http://example.com/",
        Path::new("x"),
        &ImportPolicy::default(),
        |_, _| {},
    ));
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");

    // /redirect/4 → … → /redirect/0 → /a.mp4: exactly 5 redirects.
    let done = download(
        &format!("http://{addr}/redirect/4"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect("5 redirects");
    assert_eq!(done.final_url.path(), "/a.mp4");
    assert_eq!(done.bytes, FILE_LEN as u64);

    // A failed import leaves no file of its own (this dest was never written).
    let other = dir.path().join("other");
    let error = download(
        &format!("http://{addr}/redirect/5"),
        &other,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("6 redirects");
    assert!(
        matches!(error, ImportError::TooManyRedirects { max: 5, .. }),
        "{error:?}"
    );
    assert_no_file(&other);

    let none = ImportPolicy {
        max_redirects: 0,
        ..policy(true)
    };
    let error = download(
        &format!("http://{addr}/redirect/0"),
        &dest,
        &none,
        |_, _| {},
    )
    .await
    .expect_err("no redirects allowed");
    assert!(
        matches!(error, ImportError::TooManyRedirects { max: 0, .. }),
        "{error:?}"
    );

    // A relative Location is resolved against the current URL.
    let done = download(
        &format!("http://{addr}/dir/relative"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect("relative redirect");
    assert_eq!(done.final_url.as_str(), format!("http://{addr}/a.mp4"));
    assert!(
        std::fs::read(&dest).expect("read") == video(),
        "the file differs"
    );
}

#[tokio::test]
async fn redirects_to_metadata_services_are_refused_even_with_allow_private() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    for (path, shown) in [
        ("/to-metadata", "169.254.169.254"),
        ("/to-aws-v6", "fd00:ec2::254"),
        ("/to-alibaba", "100.100.100.200"),
        ("/to-mapped", "::ffff:169.254.169.254"),
    ] {
        let error = download(
            &format!("http://{addr}{path}"),
            &dest,
            &policy(true),
            |_, _| {},
        )
        .await
        .expect_err(path);
        assert!(
            matches!(error, ImportError::NeverAllowed { .. }),
            "{path}: {error:?}"
        );
        assert!(error.to_string().contains(shown), "{error}");
        assert_no_file(&dest);
    }
    let error = download(
        &format!("http://{addr}/to-ftp"),
        &dest,
        &policy(true),
        |_, _| {},
    )
    .await
    .expect_err("ftp");
    assert!(
        matches!(error, ImportError::UnsupportedScheme { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stalled_download_times_out_and_leaves_nothing() {
    let addr = spawn_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("film");
    let hasty = ImportPolicy {
        timeout: Duration::from_millis(500),
        ..policy(true)
    };
    let error = download(&format!("http://{addr}/stall"), &dest, &hasty, |_, _| {})
        .await
        .expect_err("stall");
    assert!(matches!(error, ImportError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("500 ms"), "{error}");
    assert_no_file(&dest);
}

// ---------------------------------------------------------------------------------------------
// Uploads

/// `data` as a request body in chunks of `size` bytes.
fn body(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let chunks: Vec<_> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks)
}

async fn store(max_bytes: u64) -> (tempfile::TempDir, UploadStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = UploadStore::open(dir.path().join("uploads"), max_bytes)
        .await
        .expect("open");
    (dir, store)
}

#[tokio::test]
async fn upload_in_two_parts_with_a_wrong_offset_between() {
    let (_dir, store) = store(64 * MIB).await;
    let data = random_bytes(4 * MIB as usize + 321, 42);
    let half = data.len() / 2;
    let created = store
        .create(
            "alice",
            data.len() as u64,
            "../Holiday\u{202e}.mp4",
            Some("video/mp4"),
        )
        .await
        .expect("create");
    assert_eq!(created.offset, 0);
    assert_eq!(created.filename, "Holiday.mp4");
    let id = created.id.clone();

    let offset = store
        .append(&id, "alice", 0, body(&data[..half], 60_000))
        .await
        .expect("first half");
    assert_eq!(offset, half as u64);

    for wrong in [0, half as u64 - 1, half as u64 + 1] {
        let error = store
            .append(&id, "alice", wrong, body(&data[half..], 60_000))
            .await
            .expect_err("wrong offset");
        assert!(
            matches!(error, UploadError::Conflict { expected, got, .. } if expected == half as u64 && got == wrong),
            "{error:?}"
        );
    }
    let info = store.info(&id).await.expect("info");
    assert_eq!((info.offset, info.complete), (half as u64, false));
    let error = store.finish(&id, "alice").await.expect_err("incomplete");
    assert!(matches!(error, UploadError::Incomplete { .. }), "{error:?}");

    let offset = store
        .append(&id, "alice", half as u64, body(&data[half..], 70_001))
        .await
        .expect("second half");
    assert_eq!(offset, data.len() as u64);
    let info = store.info(&id).await.expect("info");
    assert!(info.complete);
    assert_eq!(info.content_type.as_deref(), Some("video/mp4"));

    let path = store.finish(&id, "alice").await.expect("finish");
    assert!(
        std::fs::read(&path).expect("read") == data,
        "the file differs"
    );
    assert!(matches!(
        store.info(&id).await,
        Err(UploadError::NotFound { .. })
    ));
}

#[tokio::test]
async fn an_interrupted_body_keeps_what_arrived_and_resumes() {
    let (_dir, store) = store(64 * MIB).await;
    let data = random_bytes(3 * MIB as usize, 9);
    let cut = 1_500_000;
    let id = store
        .create("alice", data.len() as u64, "film.mkv", None)
        .await
        .expect("create")
        .id;

    let broken = body(&data[..cut], 64 * 1024)
        .chain(stream::iter([Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        ))]))
        .chain(body(&data[cut..], 64 * 1024));
    let error = store
        .append(&id, "alice", 0, broken)
        .await
        .expect_err("interrupted");
    assert!(
        matches!(error, UploadError::Interrupted { offset, .. } if offset == cut as u64),
        "{error:?}"
    );
    let info = store.info(&id).await.expect("info");
    assert_eq!(info.offset, cut as u64);

    let offset = store
        .append(&id, "alice", info.offset, body(&data[cut..], 64 * 1024))
        .await
        .expect("resume");
    assert_eq!(offset, data.len() as u64);
    let path = store.finish(&id, "alice").await.expect("finish");
    assert!(
        std::fs::read(&path).expect("read") == data,
        "the file differs"
    );
}

#[tokio::test]
async fn limits_owners_and_ids_are_enforced() {
    let (_dir, store) = store(MIB).await;

    let error = store
        .create("alice", MIB + 1, "big.mp4", None)
        .await
        .expect_err("too large");
    assert!(matches!(error, UploadError::TooLarge { .. }), "{error:?}");
    assert_eq!(
        std::fs::read_dir(store.dir()).expect("dir").count(),
        0,
        "files were created"
    );

    let id = store
        .create("alice", 100, "small.mp4", None)
        .await
        .expect("create")
        .id;
    let error = store
        .append(&id, "bob", 0, body(&[1; 10], 10))
        .await
        .expect_err("bob appends");
    assert!(matches!(error, UploadError::Forbidden { .. }), "{error:?}");
    assert!(matches!(
        store.finish(&id, "bob").await,
        Err(UploadError::Forbidden { .. })
    ));
    assert!(matches!(
        store.cancel(&id, "bob").await,
        Err(UploadError::Forbidden { .. })
    ));
    assert_eq!(store.info(&id).await.expect("info").offset, 0);

    // 150 bytes for a 100-byte upload: the first 100 are kept, the rest refused.
    let data = random_bytes(150, 3);
    let error = store
        .append(&id, "alice", 0, body(&data, 64))
        .await
        .expect_err("too long");
    assert!(
        matches!(error, UploadError::ExceedsLength { length: 100, .. }),
        "{error:?}"
    );
    assert_eq!(store.info(&id).await.expect("info").offset, 100);
    let path = store.finish(&id, "alice").await.expect("finish");
    assert!(
        std::fs::read(&path).expect("read") == data[..100],
        "the file differs"
    );

    for bad in [
        "../../etc/passwd",
        "..",
        "/etc/passwd",
        "",
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        assert!(
            matches!(store.info(bad).await, Err(UploadError::InvalidId { .. })),
            "{bad}"
        );
        assert!(matches!(
            store.append(bad, "alice", 0, body(b"x", 1)).await,
            Err(UploadError::InvalidId { .. })
        ));
        assert!(matches!(
            store.finish(bad, "alice").await,
            Err(UploadError::InvalidId { .. })
        ));
        assert!(matches!(
            store.cancel(bad, "alice").await,
            Err(UploadError::InvalidId { .. })
        ));
    }
    assert!(matches!(
        store.info("0123456789abcdef0123456789abcdef").await,
        Err(UploadError::NotFound { .. })
    ));
}

#[tokio::test]
async fn cancel_removes_the_upload() {
    let (_dir, store) = store(MIB).await;
    let id = store
        .create("alice", 1000, "x.mp4", None)
        .await
        .expect("create")
        .id;
    store
        .append(&id, "alice", 0, body(&[5; 500], 100))
        .await
        .expect("append");
    store.cancel(&id, "alice").await.expect("cancel");
    assert!(matches!(
        store.info(&id).await,
        Err(UploadError::NotFound { .. })
    ));
    assert_eq!(
        std::fs::read_dir(store.dir()).expect("dir").count(),
        0,
        "files were left"
    );
}

/// Moves a file's modification time into the past.
fn age_file(path: &Path, age: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(SystemTime::now() - age)
        .expect("set mtime");
}

#[tokio::test]
async fn sweep_removes_abandoned_uploads_and_leftovers_only() {
    let (_dir, store) = store(MIB).await;
    let three_days = Duration::from_secs(3 * 24 * 3600);
    let old = store
        .create("alice", 1000, "old.mp4", None)
        .await
        .expect("create")
        .id;
    store
        .append(&old, "alice", 0, body(&[1; 300], 100))
        .await
        .expect("append");
    let fresh = store
        .create("bob", 1000, "new.mp4", None)
        .await
        .expect("create")
        .id;

    // Age the old upload: its recorded creation time and its last received byte.
    let sidecar = store.dir().join(format!("{old}.json"));
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).expect("read")).expect("json");
    let then = (SystemTime::now() - three_days)
        .duration_since(UNIX_EPOCH)
        .expect("epoch");
    record["created_at_ms"] = serde_json::json!(then.as_millis() as u64);
    std::fs::write(&sidecar, serde_json::to_vec(&record).expect("json")).expect("write");
    age_file(&store.dir().join(format!("{old}.part")), three_days);

    // An old upload that is still being fed (recent byte) stays.
    let slow = store
        .create("carol", 1000, "slow.mp4", None)
        .await
        .expect("create")
        .id;
    let sidecar = store.dir().join(format!("{slow}.json"));
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).expect("read")).expect("json");
    record["created_at_ms"] = serde_json::json!(then.as_millis() as u64);
    std::fs::write(&sidecar, serde_json::to_vec(&record).expect("json")).expect("write");
    store
        .append(&slow, "carol", 0, body(&[2; 10], 10))
        .await
        .expect("append");

    // Leftovers: an old part without a record, an old never-collected finished file, a fresh
    // orphan part (maybe a create in progress), and a file that is not ours.
    let orphan = store.dir().join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.part");
    std::fs::write(&orphan, b"x").expect("write");
    age_file(&orphan, three_days);
    let uncollected = store.dir().join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.upload");
    std::fs::write(&uncollected, b"x").expect("write");
    age_file(&uncollected, three_days);
    let new_orphan = store.dir().join("cccccccccccccccccccccccccccccccc.part");
    std::fs::write(&new_orphan, b"x").expect("write");
    let foreign = store.dir().join("README.txt");
    std::fs::write(&foreign, b"not an upload").expect("write");
    age_file(&foreign, three_days);

    let removed = store
        .sweep(Duration::from_secs(24 * 3600))
        .await
        .expect("sweep");
    assert_eq!(removed, 3);
    assert!(matches!(
        store.info(&old).await,
        Err(UploadError::NotFound { .. })
    ));
    assert!(!store.dir().join(format!("{old}.part")).exists());
    assert!(!store.dir().join(format!("{old}.json")).exists());
    assert!(!orphan.exists() && !uncollected.exists());
    assert_eq!(store.info(&fresh).await.expect("fresh stays").offset, 0);
    assert_eq!(store.info(&slow).await.expect("slow stays").offset, 10);
    assert!(new_orphan.exists() && foreign.exists());
}

#[tokio::test]
async fn concurrent_appends_one_wins_and_nothing_interleaves() {
    let (_dir, store) = store(16 * MIB).await;
    let len = 2 * MIB as usize;
    let id = store
        .create("alice", len as u64, "x.mp4", None)
        .await
        .expect("create")
        .id;
    let first = random_bytes(len, 1);
    let second = random_bytes(len, 2);

    // The first body is held open until the second append has run, so they overlap.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, io::Error>>();
    tx.unbounded_send(Ok(Bytes::copy_from_slice(&first[..len / 2])))
        .expect("send");
    let a = store.append(&id, "alice", 0, rx);
    let b = async {
        let result = store
            .append(&id, "alice", 0, body(&second, 64 * 1024))
            .await;
        tx.unbounded_send(Ok(Bytes::copy_from_slice(&first[len / 2..])))
            .expect("send");
        drop(tx);
        result
    };
    let (ra, rb) = tokio::join!(a, b);
    let (winner, loser) = match (&ra, &rb) {
        (Ok(_), Err(e)) => (&first, e),
        (Err(e), Ok(_)) => (&second, e),
        other => panic!("expected exactly one winner: {other:?}"),
    };
    assert!(
        matches!(
            loser,
            UploadError::Locked { .. } | UploadError::Conflict { .. }
        ),
        "{loser:?}"
    );
    let path = store.finish(&id, "alice").await.expect("finish");
    assert!(
        &std::fs::read(&path).expect("read") == winner,
        "the file is a mix"
    );
}
