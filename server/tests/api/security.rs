//! What an attacker tries, as the issue lists it: markup in names and reviews reaching HTML
//! unescaped, guessing passwords in parallel, cross-origin writes, the headers every page
//! carries, the room page rendered many times over — on SQLite or (with KINO_TEST_POSTGRES_URL)
//! PostgreSQL.

use crate::common::{
    browser, create, error_of, json_of, key_of, person, spawn_app, spawn_app_with, TestApp,
    PASSWORD,
};
use reqwest::{header, Client};

const FILM: &str = "metropolis-1927";
const PAYLOADS: [&str; 3] = [
    "</title><script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "</script><script>alert(3)</script>",
];

/// The raw HTML of `path` for `who`.
async fn html(
    app: &TestApp,
    who: &Client,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let res = who
        .get(app.url(path))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("page answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// No payload appears as markup anywhere in the page, and the title holds them only escaped.
fn assert_only_escaped(page: &str, what: &str) {
    for raw in ["<script>alert(", "<img src=x", "</title><script"] {
        assert!(
            !page.contains(raw),
            "{what}: {raw:?} reached the HTML unescaped"
        );
    }
    let title = page
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("{what}: no <title>"));
    assert!(!title.contains('<'), "{what}: title {title:?}");
}

#[tokio::test]
async fn markup_in_names_rooms_and_reviews_reaches_pages_only_as_text() {
    let app = spawn_app().await;
    let owner = person(&app, "owner", PAYLOADS[0]).await;
    let code = create(&app, &owner, &[]).await;
    for (i, body) in PAYLOADS.iter().enumerate() {
        let writer = person(&app, &format!("critic{i}"), body).await;
        let res = app
            .call_as(
                &writer.0,
                "reviews/add",
                &[("film_id", FILM), ("body", body)],
            )
            .await;
        assert_eq!(res.status(), 200, "review {i}");
    }
    // The room renamed to the worst of them.
    let res = app
        .call_as(
            &owner.0,
            "rooms/rename",
            &[("code", &code), ("name", PAYLOADS[0])],
        )
        .await;
    assert_eq!(res.status(), 200);

    let guest = browser();
    let member = person(&app, "member", PAYLOADS[2]).await;
    for (who, label) in [
        (&guest, "guest"),
        (&member.0, "member"),
        (&owner.0, "owner"),
    ] {
        for path in [
            format!("/r/{code}"),
            format!("/films/{FILM}"),
            "/friends/owner".to_owned(),
            "/".to_owned(),
        ] {
            let (status, _, page) = html(&app, who, &path).await;
            assert!(status < 500, "{label} {path}: {status}");
            assert_only_escaped(&page, &format!("{label} {path}"));
        }
    }
    // The names are still there, as text.
    let (_, _, page) = html(&app, &member.0, &format!("/r/{code}")).await;
    assert!(page.contains("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_the_hardening_headers() {
    let app = spawn_app().await;
    let (status, headers, page) = html(&app, &app.client, "/").await;
    assert_eq!(status, 200);
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce");
    assert!(nonce.len() >= 16, "{nonce}");
    for part in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    assert!(
        !policy.contains("'unsafe-inline' 'self' 'nonce")
            && !policy.contains("script-src 'unsafe-inline'")
    );
    // Every script of the page carries that nonce. (leptos_i18n leaves an empty
    // `<script></script>` where it would embed translations we compile in: nothing to run.)
    let page = page.replace("<script></script>", "");
    let scripts = page.matches("<script").count();
    let with_nonce = page.matches(&format!("nonce=\"{nonce}\"")).count();
    let unsigned: Vec<&str> = page
        .split("<script")
        .skip(1)
        .filter(|s| !s.starts_with(&format!(" nonce=\"{nonce}\"")))
        .map(|s| &s[..s.len().min(120)])
        .collect();
    assert!(
        scripts > 0 && with_nonce >= scripts,
        "{with_nonce} of {scripts} scripts carry the nonce; without: {unsigned:?}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");

    // A second page gets a different nonce; non-pages get a policy that runs nothing.
    let (_, again, _) = html(&app, &app.client, "/").await;
    assert_ne!(
        again[header::CONTENT_SECURITY_POLICY],
        headers[header::CONTENT_SECURITY_POLICY]
    );
    let res = app
        .client
        .get(app.url(&format!("/posters/{FILM}.svg")))
        .send()
        .await
        .unwrap();
    let policy = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

/// Sends every `(browser, form)` to the server function `endpoint` at once, as the client at
/// `ip` (behind the test's trusted "proxy"); their statuses.
async fn post_at_once(
    app: &TestApp,
    endpoint: &str,
    ip: &str,
    posts: impl IntoIterator<Item = (Client, Vec<(&'static str, String)>)>,
) -> Vec<u16> {
    let tasks = posts.into_iter().map(|(client, form)| {
        let (url, ip) = (app.url(&format!("/api/{endpoint}")), ip.to_owned());
        tokio::spawn(async move {
            client
                .post(url)
                .header(header::ACCEPT, "application/json")
                .header("x-forwarded-for", ip)
                .form(&form)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// Parallel logins for `username`, one per password, from `client_ip`: how many were checked
/// (answered other than 429) and how many were let in.
async fn parallel_logins(
    app: &TestApp,
    username: &str,
    passwords: &[&str],
    client_ip: &str,
) -> (usize, usize) {
    let posts = passwords.iter().map(|password| {
        let form = vec![
            ("username", username.to_owned()),
            ("password", password.to_string()),
        ];
        (browser(), form)
    });
    let statuses = post_at_once(app, "login", client_ip, posts).await;
    let checked = statuses.iter().filter(|s| **s != 429).count();
    let let_in = statuses.iter().filter(|s| **s == 200).count();
    (checked, let_in)
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    // The test's clients come through a "proxy" on 127.0.0.1 that names them.
    let app = spawn_app_with(|c| c.trusted_proxy = vec!["127.0.0.1".parse().unwrap()]).await;
    app.register("target", "Target", PASSWORD).await;
    // 49 wrong passwords and the right one, all at once, from one client.
    let mut passwords = vec!["guess-guess"; 49];
    passwords.insert(25, PASSWORD);
    let (checked, _) = parallel_logins(&app, "target", &passwords, "198.51.100.1").await;
    assert!(
        checked <= 5,
        "{checked} of 50 parallel attempts were checked (limit 5)"
    );

    // That client is locked out of this account; the owner elsewhere is not.
    let (checked, let_in) = parallel_logins(&app, "target", &[PASSWORD], "203.0.113.5").await;
    assert_eq!(
        (checked, let_in),
        (1, 1),
        "the owner from another address gets in"
    );
    // A stranger's address cannot lock everyone out either: 30 failures from one address.
    let (_, _) = parallel_logins(&app, "nobody", &["guess-guess"; 40], "198.51.100.2").await;
    let (_, let_in) = parallel_logins(&app, "target", &[PASSWORD], "203.0.113.6").await;
    assert_eq!(let_in, 1);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    app.register("target", "Target", PASSWORD).await;
    // Each guess claims another address, but nobody trusts 127.0.0.1 as a proxy here.
    for i in 0..5 {
        let (status, _) = error_of(
            browser()
                .post(app.url("/api/login"))
                .header(header::ACCEPT, "application/json")
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .form(&[("username", "target"), ("password", "guess-guess")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 401);
    }
    let res = app.login("target", PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "the five guesses were counted as one client's"
    );
}

#[tokio::test]
async fn parallel_room_password_guesses_are_counted_first_and_the_key_always_admits() {
    let app = spawn_app_with(|c| c.trusted_proxy = vec!["127.0.0.1".parse().unwrap()]).await;
    let owner = person(&app, "owner", "Owner").await;
    let code = create(&app, &owner, &[("private", "true"), ("password", "abcd")]).await;
    let room = json_of(&app, &owner.0, "rooms/open", &[("code", &code)]).await;
    let key = key_of(room["Member"]["key_url"].as_str().unwrap());

    let guesser = person(&app, "guesser", "Guesser").await;
    let posts = (0..50).map(|i| {
        let password = if i == 30 {
            "abcd".to_owned()
        } else {
            format!("g{i:03}")
        };
        let form = vec![("code", code.clone()), ("password", password)];
        (guesser.0.clone(), form)
    });
    let statuses = post_at_once(&app, "rooms/enter", "198.51.100.9", posts).await;
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        checked <= 5,
        "{checked} of 50 parallel room passwords were checked: {statuses:?}"
    );

    // Four throwaway accounts from other addresses use up their tries...
    for n in 0..4 {
        let throwaway = person(&app, &format!("throwaway{n}"), "T").await;
        for i in 0..5 {
            let res = throwaway
                .0
                .post(app.url("/api/rooms/enter"))
                .header(header::ACCEPT, "application/json")
                .header("x-forwarded-for", format!("192.0.2.{n}"))
                .form(&[("code", code.as_str()), ("password", &format!("x{i}"))])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403);
        }
    }
    // ...and a newcomer still gets in with the password, and another with the key.
    let newcomer = person(&app, "newcomer", "Newcomer").await;
    let res = newcomer
        .0
        .post(app.url("/api/rooms/enter"))
        .header(header::ACCEPT, "application/json")
        .header("x-forwarded-for", "203.0.113.20")
        .form(&[("code", code.as_str()), ("password", "abcd")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Even the locked-out guesser gets in with the key from the link.
    let res = app
        .call_as(&guesser.0, "rooms/enter", &[("code", &code), ("key", &key)])
        .await;
    assert_eq!(res.status(), 200, "the key is checked before any limit");
}

#[tokio::test]
async fn registrations_are_limited_per_client() {
    let app = spawn_app_with(|c| c.registrations_per_hour = 3).await;
    for i in 0..3 {
        let res = app
            .call_as(
                &browser(),
                "register",
                &[
                    ("username", &format!("new{i}")),
                    ("display_name", "N"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    let res = app
        .call_as(
            &browser(),
            "register",
            &[
                ("username", "new3"),
                ("display_name", "N"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn writes_from_another_origin_are_refused() {
    let app = spawn_app().await;
    app.register("victim", "Victim", PASSWORD).await;
    // A login form on another site (login CSRF), a sibling port calling a server function.
    for origin in ["https://evil.example", "http://127.0.0.1:1", "null"] {
        let res = browser()
            .post(app.url("/api/login"))
            .header(header::ORIGIN, origin)
            .form(&[("username", "victim"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{origin}");
        assert!(crate::common::set_cookie(&res, kino_server::SESSION_COOKIE).is_none());
        let (_, error) = error_of(res).await;
        assert_eq!(error, "CrossSite");
    }
    let res = app
        .client
        .post(app.url("/api/profile/display-name"))
        .header("sec-fetch-site", "same-site")
        .form(&[("display_name", "Pwned")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.me().await["display_name"], "Victim");

    // The app's own origin (as a browser sends it) works.
    let res = app
        .client
        .post(app.url("/api/profile/display-name"))
        .header(header::ORIGIN, &app.address)
        .header("sec-fetch-site", "same-origin")
        .form(&[("display_name", "Vika")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.me().await["display_name"], "Vika");
}

// Several threads, as in production: a value that may not leave its thread, created while the
// page renders, panicked when the render moved to another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_renders_hundreds_of_times_without_a_failure() {
    let app = spawn_app().await;
    let owner = person(&app, "owner", "Owner").await;
    let code = create(&app, &owner, &[]).await;
    let guest = browser();
    let mut failures = Vec::new();
    // In waves of ten at once, as a member and as a guest.
    for wave in 0..30 {
        let who = if wave % 3 == 2 {
            guest.clone()
        } else {
            owner.0.clone()
        };
        let loads = (0..10).map(|_| {
            let (who, url) = (who.clone(), app.url(&format!("/r/{code}")));
            tokio::spawn(async move {
                match who
                    .get(url)
                    .header(header::ACCEPT, "text/html")
                    .send()
                    .await
                {
                    Ok(res) if res.status() == 200 => match res.text().await {
                        Ok(body) if body.contains("</html>") => None,
                        Ok(_) => Some("cut short".to_owned()),
                        Err(e) => Some(e.to_string()),
                    },
                    Ok(res) => Some(res.status().to_string()),
                    Err(e) => Some(e.to_string()),
                }
            })
        });
        for result in futures::future::join_all(loads).await {
            if let Some(failure) = result.unwrap() {
                failures.push(failure);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 300 loads failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // (The harness fails the test if the server panicked meanwhile.)
}

#[tokio::test]
async fn a_password_change_signs_out_the_other_devices_and_their_sockets() {
    let app = spawn_app().await;
    let laptop = person(&app, "masha", "Маша").await;
    let phone = browser();
    let res = app
        .call_as(
            &phone,
            "login",
            &[("username", "masha"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me_as(&phone).await["username"], "masha");

    let res = app
        .call_as(
            &laptop.0,
            "profile/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new passphrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.me_as(&laptop.0).await["username"],
        "masha",
        "this device stays in"
    );
    assert!(
        app.me_as(&phone).await.is_null(),
        "the other device is signed out"
    );

    // Keeping the others signed in is a choice.
    let res = app
        .call_as(
            &phone,
            "login",
            &[("username", "masha"), ("password", "a new passphrase")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .call_as(
            &laptop.0,
            "profile/password",
            &[
                ("current_password", "a new passphrase"),
                ("new_password", PASSWORD),
                ("keep_other_devices", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me_as(&phone).await["username"], "masha");
    // And "Sign out other devices" on its own.
    let res = app.call_as(&laptop.0, "profile/sign-out-others", &[]).await;
    assert_eq!(res.status(), 200);
    assert!(app.me_as(&phone).await.is_null());
    assert_eq!(app.me_as(&laptop.0).await["username"], "masha");
}

#[tokio::test]
async fn display_names_with_invisible_characters_are_refused() {
    let app = spawn_app().await;
    let res = app
        .register("sneaky", "Ва\u{200B}ся\u{202E}", PASSWORD)
        .await;
    let (status, error) = error_of(res).await;
    assert_eq!(status, 400);
    assert_eq!(error["Invalid"], "DisplayNameCharacters");
    app.register("wide", "Ｖａｓｙａ", PASSWORD).await;
    assert_eq!(app.me().await["display_name"], "Vasya");
}

#[tokio::test]
async fn invited_friends_keep_their_seats_and_a_new_link_shuts_out_the_old_one() {
    let app = spawn_app().await;
    let owner = person(&app, "owner", "Owner").await;
    let friend = person(&app, "friend", "Friend").await;
    crate::common::befriend(&app, &owner, &friend).await;
    let code = create(
        &app,
        &owner,
        &[("max_participants", "5"), ("friends[0]", &friend.1)],
    )
    .await;
    // Owner + the invited friend's kept seat: three seats are left for strangers.
    for i in 0..3 {
        let stranger = person(&app, &format!("stranger{i}"), "Stranger").await;
        assert_eq!(
            app.call_as(&stranger.0, "rooms/open", &[("code", &code)])
                .await
                .status(),
            200
        );
    }
    let second = person(&app, "second", "Second").await;
    let (status, _) = error_of(
        app.call_as(&second.0, "rooms/open", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!(
        status, 409,
        "the invited friend's seat is not for strangers"
    );
    let room = json_of(&app, &friend.0, "rooms/open", &[("code", &code)]).await;
    assert_eq!(
        room["Member"]["participants"], 5,
        "the friend still gets in"
    );

    // A private room: a removed person with the old link cannot come back as someone else.
    let private = create(&app, &owner, &[("private", "true")]).await;
    let room = json_of(&app, &owner.0, "rooms/open", &[("code", &private)]).await;
    let old_key = key_of(room["Member"]["key_url"].as_str().unwrap());
    let new_link = json_of(&app, &owner.0, "rooms/new-link", &[("code", &private)]).await;
    let new_key = key_of(new_link.as_str().unwrap());
    assert_ne!(old_key, new_key);
    let again = person(&app, "again", "Again").await;
    let (status, _) = error_of(
        app.call_as(
            &again.0,
            "rooms/enter",
            &[("code", &private), ("key", &old_key)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "the old link no longer admits");
    let res = app
        .call_as(
            &again.0,
            "rooms/enter",
            &[("code", &private), ("key", &new_key)],
        )
        .await;
    assert_eq!(res.status(), 200);
    // Only the owner makes a new link.
    let (status, _) = error_of(
        app.call_as(&again.0, "rooms/new-link", &[("code", &private)])
            .await,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn logging_out_closes_that_sessions_room_sockets() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let app = spawn_app().await;
    // Registered by hand below, to keep the session cookie for the socket.
    let owner = (browser(), String::new());
    let res = app
        .call_as(
            &owner.0,
            "register",
            &[
                ("username", "owner"),
                ("display_name", "Owner"),
                ("password", PASSWORD),
            ],
        )
        .await;
    // The session cookie the browser holds, for the socket.
    let (value, _) =
        crate::common::set_cookie(&res, kino_server::SESSION_COOKIE).expect("a session");
    let cookie = format!("{}={value}", kino_server::SESSION_COOKIE);
    let code = create(&app, &owner, &[]).await;
    let ws_url = format!(
        "{}/ws/rooms/{code}",
        app.address.replace("http://", "ws://")
    );
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", app.address.parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("socket opens");
    socket
        .send(Message::Text(r#"{"t":"hello","v":1,"last_seq":0}"#.into()))
        .await
        .unwrap();
    let welcome = socket.next().await.unwrap().unwrap();
    assert!(
        welcome.to_text().unwrap().contains("welcome"),
        "{welcome:?}"
    );

    assert_eq!(app.call_as(&owner.0, "logout", &[]).await.status(), 200);
    // The socket is closed by the server; chatting on it is impossible.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(msg) = socket.next().await {
            match msg {
                Ok(Message::Close(_)) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
        true
    })
    .await
    .expect("the server closes the socket after logout");
    assert!(closed);
}

#[tokio::test]
async fn half_sent_requests_do_not_hold_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.header_read_timeout_seconds = 1).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // A slowloris: headers begun, never finished.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: kino\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // The server closes each of them (reads end), well before a generous deadline...
    for mut stream in stalled {
        let mut buf = [0u8; 512];
        let closed = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a half-sent request still holds its connection"
        );
    }
    // ...and keeps answering everyone else.
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn loading_a_room_page_joins_nobody_until_the_page_asks() {
    let app = spawn_app().await;
    let owner = person(&app, "owner", "Owner").await;
    let code = create(&app, &owner, &[]).await;
    let passer_by = person(&app, "passer", "Passer-by").await;
    // An <img src="/r/…"> on another site, or a preview fetch, is a plain GET with the cookie.
    let (status, _, page) = html(&app, &passer_by.0, &format!("/r/{code}")).await;
    assert_eq!(status, 200);
    // (Hydration markers, `<!>`, may follow a text; they are not what a person sees.)
    assert!(
        page.replace("<!>", "").contains(">Join</button>"),
        "the page offers to join"
    );
    let room = json_of(&app, &owner.0, "rooms/open", &[("code", &code)]).await;
    assert_eq!(room["Member"]["participants"], 1, "nobody joined by a GET");
    // The page's own POST joins.
    let res = app
        .call_as(&passer_by.0, "rooms/enter", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 200);
    let room = json_of(&app, &owner.0, "rooms/open", &[("code", &code)]).await;
    assert_eq!(room["Member"]["participants"], 2);
}
