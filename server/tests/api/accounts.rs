//! Accounts over HTTP against the real server, on SQLite or (with KINO_TEST_POSTGRES_URL)
//! PostgreSQL.

use crate::common::{error_of, set_cookie, spawn_app, spawn_app_with, spawn_on};
use kino_server::SESSION_COOKIE;
use serde_json::json;

const PASSWORD: &str = "correct horse";

#[tokio::test]
async fn registering_signs_in_and_the_header_shows_the_display_name() {
    let app = spawn_app().await;
    let res = app.register("Vasily_K", "Василий", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["location"],
        "/",
        "goes home after registering"
    );

    let me = app.me().await;
    assert_eq!(me["username"], "vasily_k", "usernames are stored lowercase");
    assert_eq!(me["display_name"], "Василий");

    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Василий"),
        "the server-rendered header names the user"
    );
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case() {
    let app = spawn_app().await;
    assert_eq!(app.register("petr", "Пётр", PASSWORD).await.status(), 200);
    let other = crate::common::browser();
    let res = app
        .call_as(
            &other,
            "register",
            &[
                ("username", "PETR"),
                ("display_name", "Другой Пётр"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let (status, error) = error_of(res).await;
    assert_eq!(status, 409);
    assert_eq!(error, json!("UsernameTaken"));
    assert!(
        app.me_as(&other).await.is_null(),
        "the second browser is not signed in"
    );
}

#[tokio::test]
async fn bad_registration_input_is_refused_clearly_and_creates_nothing() {
    let app = spawn_app().await;
    let long_name = "я".repeat(65);
    let cases = [
        ("ab", "Ann", PASSWORD, json!({"Invalid": "UsernameFormat"})),
        (
            "has space",
            "Ann",
            PASSWORD,
            json!({"Invalid": "UsernameFormat"}),
        ),
        (
            "ann",
            "   ",
            PASSWORD,
            json!({"Invalid": "DisplayNameLength"}),
        ),
        (
            "ann",
            long_name.as_str(),
            PASSWORD,
            json!({"Invalid": "DisplayNameLength"}),
        ),
        (
            "ann",
            "Ann",
            "short",
            json!({"Invalid": "PasswordTooShort"}),
        ),
    ];
    for (username, display_name, password, expected) in cases {
        let (status, error) = error_of(app.register(username, display_name, password).await).await;
        assert_eq!(status, 400, "{username:?}/{display_name:?}");
        assert_eq!(error, expected);
    }
    assert!(app.me().await.is_null());
    let (status, _) = error_of(app.login("ann", PASSWORD).await).await;
    assert_eq!(
        status, 401,
        "no account was created by the refused attempts"
    );

    // A request missing a field is an error too, not a crash.
    let res = app.call("register", &[("username", "ann")]).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn login_logout_and_the_wrong_password_message_never_says_which() {
    let app = spawn_app().await;
    app.register("masha", "Маша", PASSWORD).await;
    app.call("logout", &[]).await;
    assert!(app.me().await.is_null(), "logged out");

    let wrong_password = error_of(app.login("masha", "not the password").await).await;
    let unknown_user = error_of(app.login("nobody_here", PASSWORD).await).await;
    assert_eq!(wrong_password, (401, json!("WrongCredentials")));
    assert_eq!(unknown_user, wrong_password, "same answer for both");

    let res = app.login("MASHA", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me().await["display_name"], "Маша");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_account() {
    let app = spawn_app().await;
    app.register("target", "Target", PASSWORD).await;
    app.call("logout", &[]).await;
    for _ in 0..5 {
        let (status, _) = error_of(app.login("target", "guess-guess").await).await;
        assert_eq!(status, 401);
    }
    let res = app.login("target", PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits out the lock"
    );
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
    let (_, error) = error_of(res).await;
    assert!(error["RateLimited"]["retry_after_secs"].as_u64().unwrap() > 0);
    assert!(app.me().await.is_null());

    // Another account from elsewhere is not affected by this account's lock.
    app.register("bystander", "Bystander", PASSWORD).await;
    assert_eq!(app.me().await["username"], "bystander");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address() {
    let app = spawn_app_with(|_| {}).await;
    // 30 failures per address per window, spread over many account names.
    for i in 0..30 {
        let (status, _) = error_of(app.login(&format!("user{i}"), "guess-guess").await).await;
        assert_eq!(status, 401);
    }
    let (status, error) = error_of(app.login("someone_else", "guess-guess").await).await;
    assert_eq!(status, 429);
    assert!(error.get("RateLimited").is_some());
}

#[tokio::test]
async fn next_accepts_local_paths_and_rejects_open_redirects() {
    let app = spawn_app().await;
    app.register("nav", "Nav", PASSWORD).await;
    for (next, expected) in [
        ("/r/Ab3dEf7h", "/r/Ab3dEf7h"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        // Resolved like a browser would: these are `//evil.example`.
        ("/.//evil.example", "/"),
        ("/..//evil.example", "/"),
        // Letters survive the Location header.
        ("/фильм", "/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC"),
    ] {
        let res = app
            .call(
                "login",
                &[("username", "nav"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["location"], expected, "next={next:?}");
    }
}

#[tokio::test]
async fn session_cookie_is_http_only_lax_and_changes_at_login() {
    let app = spawn_app().await;
    let res = app.register("cookie", "Cookie", PASSWORD).await;
    let (first, attrs) = set_cookie(&res, SESSION_COOKIE).expect("session cookie set");
    assert!(attrs.contains_key("httponly"));
    assert_eq!(attrs["samesite"].to_ascii_lowercase(), "lax");
    assert!(!attrs.contains_key("secure"), "plain http: no Secure flag");

    let res = app.login("cookie", PASSWORD).await;
    let (second, _) = set_cookie(&res, SESSION_COOKIE).expect("a new session cookie at login");
    assert_ne!(first, second, "the session id changes at login");

    // The old id is worth nothing now.
    assert!(me_with_session_id(&app, &first).await.is_null());
    assert_eq!(
        me_with_session_id(&app, &second).await["username"],
        "cookie"
    );

    // Logging out deletes the session: replaying its cookie finds nobody.
    let res = app.call("logout", &[]).await;
    assert_eq!(res.status(), 200);
    assert!(me_with_session_id(&app, &second).await.is_null());
}

/// Who the server thinks a replayed session cookie belongs to.
async fn me_with_session_id(app: &crate::common::TestApp, id: &str) -> serde_json::Value {
    crate::common::browser()
        .post(app.url("/api/me"))
        .header("cookie", format!("{SESSION_COOKIE}={id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn cookie_is_secure_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|c| c.public_url = Some("https://kino.example.org".parse().unwrap())).await;
    let res = app.register("secure", "Secure", PASSWORD).await;
    let (_, attrs) = set_cookie(&res, SESSION_COOKIE).expect("session cookie set");
    assert!(attrs.contains_key("secure"));
}

#[tokio::test]
async fn mutating_server_functions_refuse_get() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/login?username=a&password=b"))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "GET on a server function must not run it, got {}",
        res.status()
    );
}

#[tokio::test]
async fn profile_changes_display_name_and_password() {
    let app = spawn_app().await;
    app.register("olga", "Olga", PASSWORD).await;
    let res = app
        .call("profile/display-name", &[("display_name", "Ольга")])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me().await["display_name"], "Ольга");

    let (status, error) = error_of(
        app.call(
            "profile/password",
            &[
                ("current_password", "wrong-wrong"),
                ("new_password", "new password 1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (400, json!({"Invalid": "WrongCurrentPassword"}))
    );

    let res = app
        .call(
            "profile/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "new password 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.call("logout", &[]).await;
    assert_eq!(error_of(app.login("olga", PASSWORD).await).await.0, 401);
    assert_eq!(app.login("olga", "new password 1").await.status(), 200);

    // A guest cannot change anything.
    app.call("logout", &[]).await;
    let (status, error) = error_of(
        app.call("profile/display-name", &[("display_name", "X")])
            .await,
    )
    .await;
    assert_eq!((status, error), (401, json!("Unauthorized")));
}

#[tokio::test]
async fn pages_render_with_the_right_status_and_language() {
    let app = spawn_app().await;
    for probe in ["/livez", "/readyz", "/healthz"] {
        let (status, body) = app.page(probe).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{probe}");
    }

    let (status, html) = app.page("/login").await;
    assert_eq!(status, 200);
    assert!(html.contains(">Username<") && html.contains(">Password<"));

    let (status, html) = app.page("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));

    let res = app
        .client
        .get(app.url("/login"))
        .header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(">Имя пользователя<"),
        "Russian from Accept-Language"
    );

    // A guest asking for the profile is sent to log in and back.
    let res = app
        .client
        .get(app.url("/profile"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/login?next=/profile");
}

#[tokio::test]
async fn sessions_survive_a_server_restart() {
    let app = spawn_app().await;
    app.register("stays", "Stays", PASSWORD).await;
    let client = app.client.clone();
    let (database_url, dir) = app.stop().await;
    let mut app = spawn_on(database_url, dir, |_| {}).await;
    // Same cookie jar, new server on another port: cookies are per host, so carry it over.
    app.client = client;
    let me = app.client.post(app.url("/api/me")).send().await.unwrap();
    // reqwest's jar keys cookies by host (127.0.0.1), not port, so the session cookie is sent.
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["username"],
        "stays"
    );
}

#[tokio::test]
async fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::common::fresh_database(dir.path()).await;
    // Someone else's table where ours must go.
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = if database_url.starts_with("sqlite") {
            format!("{database_url}?mode=rwc")
        } else {
            database_url.clone()
        };
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE users (something TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let config = kino_server::config::Config::for_database(database_url);
    let err = kino_server::open_database(&config)
        .await
        .expect_err("start-up must fail");
    let message = err.to_string();
    assert!(message.contains("migration"), "says what failed: {message}");
}
