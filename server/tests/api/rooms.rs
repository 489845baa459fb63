//! Rooms: short links, private rooms (password, key, rate limits, nothing shown to strangers),
//! participant limits, the owner's controls, the lifecycle job and retention — on SQLite or (with
//! KINO_TEST_POSTGRES_URL) PostgreSQL.

use crate::common::{
    befriend, browser, create, error_of, json_of, person, spawn_app, TestApp, PASSWORD,
};
use app::dates::now_ms;
use app::db::Db;
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const FILM: &str = "metropolis-1927";
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

async fn open(app: &TestApp, who: &Client, code: &str) -> Value {
    json_of(app, who, "rooms/open", &[("code", code)]).await
}

async fn db(app: &TestApp) -> Db {
    Db::connect(&app.database_url).await.expect("database")
}

async fn count(db: &Db, sql: &str, bind: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .bind(bind.to_owned())
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn room_id(db: &Db, code: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT id FROM rooms WHERE code = $1")
        .bind(code.to_owned())
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get("id")
        .unwrap()
}

#[tokio::test]
async fn codes_are_short_random_unique_and_settings_are_checked() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Василий").await;
    let mut codes = HashSet::new();
    for _ in 0..40 {
        let code = create(&app, &vasily, &[]).await;
        assert_eq!(code.len(), 10, "{code}");
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        codes.insert(code);
    }
    assert_eq!(codes.len(), 40, "every code is new");

    // The defaults: public, live, for 30, the link built from the public URL.
    let code = codes.iter().next().unwrap();
    let room = open(&app, &vasily.0, code).await;
    let room = &room["Member"];
    assert_eq!(room["max_participants"], 30);
    assert_eq!(room["private"], false);
    assert_eq!(room["phase"], "Live");
    assert_eq!(room["key_url"], Value::Null);
    assert_eq!(room["url"], app.url(&format!("/r/{code}")));

    // A private room's link carries a 16-character key after `#k=`.
    let code = create(&app, &vasily, &[("private", "true")]).await;
    let room = open(&app, &vasily.0, &code).await;
    let key_url = room["Member"]["key_url"].as_str().unwrap().to_owned();
    let key = key_url
        .strip_prefix(&app.url(&format!("/r/{code}#k=")))
        .unwrap();
    assert_eq!(key.len(), 16);
    assert!(key.bytes().all(|b| ALPHABET.contains(&b)));

    let later = (now_ms() + 3_600_000).to_string();
    let past = (now_ms() - 3_600_000).to_string();
    for (form, expected) in [
        (
            vec![("max_participants", "4")],
            json!({"Invalid": "ParticipantLimit"}),
        ),
        (
            vec![("max_participants", "101")],
            json!({"Invalid": "ParticipantLimit"}),
        ),
        (
            vec![("starts_at", past.as_str())],
            json!({"Invalid": "StartsAt"}),
        ),
        (
            vec![("private", "true"), ("password", "abc")],
            json!({"Invalid": "RoomPasswordLength"}),
        ),
    ] {
        let mut full = vec![("film_id", FILM)];
        full.extend(form.iter().copied());
        let (status, error) = error_of(app.call_as(&vasily.0, "rooms/start", &full).await).await;
        assert_eq!((status, &error), (400, &expected), "{form:?}");
    }
    let (status, _) = error_of(
        app.call_as(&browser(), "rooms/start", &[("film_id", FILM)])
            .await,
    )
    .await;
    assert_eq!(status, 401, "guests cannot create rooms");
    let code = create(
        &app,
        &vasily,
        &[("starts_at", &later), ("max_participants", "5")],
    )
    .await;
    let room = open(&app, &vasily.0, &code).await;
    assert_eq!(room["Member"]["phase"], "Scheduled");
    assert_eq!(room["Member"]["max_participants"], 5);
}

#[tokio::test]
async fn a_private_room_shows_strangers_nothing_and_admits_with_password_or_key() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Василий Тёркин").await;
    let petr = person(&app, "petr", "Пётр").await;
    let olga = person(&app, "olga", "Ольга").await;
    let later = (now_ms() + 3_600_000).to_string();
    let code = create(
        &app,
        &vasily,
        &[
            ("private", "true"),
            ("password", "кинолента"),
            ("starts_at", &later),
        ],
    )
    .await;

    // A guest (a link preview bot, say) and a signed-in stranger learn only that it is private.
    for (who, variant) in [(browser(), "Guest"), (petr.0.clone(), "Locked")] {
        let access = open(&app, &who, &code).await;
        let preview = &access[variant];
        assert_eq!(preview["private"], true, "{access}");
        assert_eq!(preview["has_password"], true);
        for field in ["film", "name", "owner", "share_image"] {
            assert_eq!(
                preview[field],
                Value::Null,
                "{field} is not shown: {access}"
            );
        }
        let html = who
            .get(app.url(&format!("/r/{code}")))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for secret in ["Metropolis", "Метрополис", "Тёркин", "metropolis-1927"] {
            assert!(!html.contains(secret), "{secret} leaks into the page");
        }
    }
    // Nor do the owner's functions or the calendar tell a stranger anything.
    for (endpoint, form) in [
        ("rooms/rename", vec![("code", code.as_str()), ("name", "x")]),
        (
            "rooms/lock",
            vec![("code", code.as_str()), ("locked", "true")],
        ),
        (
            "rooms/remove",
            vec![("code", code.as_str()), ("user_id", vasily.1.as_str())],
        ),
        ("rooms/end", vec![("code", code.as_str())]),
    ] {
        let (status, _) = error_of(app.call_as(&petr.0, endpoint, &form).await).await;
        assert_eq!(status, 404, "{endpoint}");
    }
    let ics = petr
        .0
        .get(app.url(&format!("/r/{code}/calendar.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(ics.status(), 404);

    // A wrong password says so; the right one lets Petr in.
    let (status, error) = error_of(
        app.call_as(
            &petr.0,
            "rooms/enter",
            &[("code", &code), ("password", "кинолентa")],
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (403, json!("WrongRoomPassword")));
    json_of(
        &app,
        &petr.0,
        "rooms/enter",
        &[("code", &code), ("password", "кинолента")],
    )
    .await;
    let room = open(&app, &petr.0, &code).await;
    let room = &room["Member"];
    assert_eq!(room["film"]["id"], FILM);
    assert_eq!(room["phase"], "Scheduled");
    let names: Vec<&str> = room["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["vasily", "petr"]);

    // The key from the shared link is enough on its own; a wrong key is not.
    let key_url = room["key_url"].as_str().unwrap().to_owned();
    let key = key_url.rsplit("#k=").next().unwrap();
    let (status, _) = error_of(
        app.call_as(
            &olga.0,
            "rooms/enter",
            &[("code", &code), ("key", "abcdefghjkmnpqrs")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    json_of(
        &app,
        &olga.0,
        "rooms/enter",
        &[("code", &code), ("key", key)],
    )
    .await;
    assert!(open(&app, &olga.0, &code).await.get("Member").is_some());

    // The calendar file, for a member: the room link and the scheduled time.
    let ics = petr
        .0
        .get(app.url(&format!("/r/{code}/calendar.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(ics.status(), 200);
    assert!(ics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = ics.text().await.unwrap();
    assert!(ics.contains("BEGIN:VEVENT"), "{ics}");
    assert!(ics.contains(&format!("/r/{code}")), "{ics}");
    assert!(!ics.contains("#k="), "the calendar never carries the key");
    let start =
        time::OffsetDateTime::from_unix_timestamp(later.parse::<i64>().unwrap() / 1000).unwrap();
    let stamp = format!(
        "DTSTART:{}{:02}{:02}T{:02}{:02}{:02}Z",
        start.year(),
        u8::from(start.month()),
        start.day(),
        start.hour(),
        start.minute(),
        start.second()
    );
    assert!(ics.contains(&stamp), "{stamp} in {ics}");
}

#[tokio::test]
async fn wrong_room_passwords_are_limited_per_person_and_per_room() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Vasily").await;
    let code = create(
        &app,
        &vasily,
        &[("private", "true"), ("password", "secret-word")],
    )
    .await;
    let petr = person(&app, "petr", "Petr").await;
    for _ in 0..5 {
        let (status, _) = error_of(
            app.call_as(
                &petr.0,
                "rooms/enter",
                &[("code", &code), ("password", "guess")],
            )
            .await,
        )
        .await;
        assert_eq!(status, 403);
    }
    // Locked out now — even the right password waits.
    let res = app
        .call_as(
            &petr.0,
            "rooms/enter",
            &[("code", &code), ("password", "secret-word")],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());

    // Others may still try, until their address (all of these share 127.0.0.1) has made 20
    // wrong guesses on the room.
    for i in 0..3 {
        let guesser = person(&app, &format!("guesser{i}"), "Guesser").await;
        for _ in 0..5 {
            let (status, _) = error_of(
                app.call_as(
                    &guesser.0,
                    "rooms/enter",
                    &[("code", &code), ("password", "guess")],
                )
                .await,
            )
            .await;
            assert_eq!(status, 403);
        }
    }
    let olga = person(&app, "olga", "Olga").await;
    let (status, error) = error_of(
        app.call_as(
            &olga.0,
            "rooms/enter",
            &[("code", &code), ("password", "secret-word")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 429, "{error}");
    assert!(open(&app, &olga.0, &code).await.get("Locked").is_some());
}

#[tokio::test]
async fn a_full_room_says_so_and_never_takes_more_than_its_limit() {
    let app = spawn_app().await;
    let owner = person(&app, "owner", "Owner").await;
    let code = create(&app, &owner, &[("max_participants", "5")]).await;
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(person(&app, &format!("viewer{i}"), "Viewer").await);
    }
    // Eight people follow the link at once for four seats.
    let form = [("code", code.as_str())];
    let answers = futures::future::join_all(
        people
            .iter()
            .map(|p| app.call_as(&p.0, "rooms/open", &form)),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 409, 409, 409, 409]);
    let refused = &people[answers.iter().position(|r| r.status() == 409).unwrap()];
    let (status, error) = error_of(
        app.call_as(&refused.0, "rooms/open", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!((status, error), (409, json!({"RoomFull": {"max": 5}})));
    let room = open(&app, &owner.0, &code).await;
    assert_eq!(room["Member"]["participants"], 5);
    let html = refused
        .0
        .get(app.url(&format!("/r/{code}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("<!>", "");
    assert!(
        html.contains("This room is full: 5 participants."),
        "{html}"
    );
}

#[tokio::test]
async fn owners_rename_lock_remove_and_end_and_an_ended_room_is_read_only() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Vasily").await;
    let petr = person(&app, "petr", "Petr").await;
    let olga = person(&app, "olga", "Olga").await;
    befriend(&app, &vasily, &petr).await;
    let code = create(&app, &vasily, &[("friends[0]", &petr.1)]).await;
    open(&app, &petr.0, &code).await;
    open(&app, &olga.0, &code).await;

    // Only the owner changes the room.
    let (status, _) = error_of(
        app.call_as(
            &petr.0,
            "rooms/rename",
            &[("code", &code), ("name", "Petr's")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    let (status, error) = error_of(
        app.call_as(
            &vasily.0,
            "rooms/rename",
            &[("code", &code), ("name", "   ")],
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, json!({"Invalid": "RoomName"})));
    assert_eq!(
        json_of(
            &app,
            &vasily.0,
            "rooms/rename",
            &[("code", &code), ("name", " Пятничное кино ")]
        )
        .await,
        json!("Пятничное кино")
    );
    assert_eq!(
        json_of(
            &app,
            &vasily.0,
            "rooms/lock",
            &[("code", &code), ("locked", "true")]
        )
        .await,
        json!(true)
    );
    let room = open(&app, &petr.0, &code).await;
    assert_eq!(room["Member"]["name"], "Пятничное кино");
    assert_eq!(room["Member"]["controls_locked"], true);

    // Olga is removed: she is gone from the list and the link no longer lets her in.
    json_of(
        &app,
        &vasily.0,
        "rooms/remove",
        &[("code", &code), ("user_id", &olga.1)],
    )
    .await;
    let (status, _) = error_of(app.call_as(&olga.0, "rooms/open", &[("code", &code)]).await).await;
    assert_eq!(status, 403);
    let room = open(&app, &petr.0, &code).await;
    assert_eq!(room["Member"]["members"].as_array().unwrap().len(), 2);
    let (status, error) = error_of(
        app.call_as(
            &vasily.0,
            "rooms/remove",
            &[("code", &code), ("user_id", &vasily.1)],
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, json!({"Invalid": "SelfRemove"})));

    // The owner leaves (logs out): the room stays for Petr.
    app.call_as(&vasily.0, "logout", &[]).await;
    let room = open(&app, &petr.0, &code).await;
    assert_eq!(room["Member"]["phase"], "Live");
    app.call_as(
        &vasily.0,
        "login",
        &[("username", "vasily"), ("password", PASSWORD)],
    )
    .await;

    // Ended: still readable by its members, changed by no one, entered by no one new.
    json_of(&app, &vasily.0, "rooms/end", &[("code", &code)]).await;
    let room = open(&app, &petr.0, &code).await;
    assert_eq!(room["Member"]["phase"], "Ended");
    assert_eq!(room["Member"]["film"]["id"], FILM);
    assert_eq!(room["Member"]["members"].as_array().unwrap().len(), 2);
    for (endpoint, form) in [
        (
            "rooms/rename",
            vec![("code", code.as_str()), ("name", "again")],
        ),
        (
            "rooms/lock",
            vec![("code", code.as_str()), ("locked", "false")],
        ),
        ("rooms/end", vec![("code", code.as_str())]),
    ] {
        let (status, error) = error_of(app.call_as(&vasily.0, endpoint, &form).await).await;
        assert_eq!((status, error), (409, json!("RoomEnded")), "{endpoint}");
    }
    let late = person(&app, "late", "Late").await;
    let access = open(&app, &late.0, &code).await;
    assert_eq!(access["Locked"]["phase"], "Ended");
    let (status, error) = error_of(
        app.call_as(&late.0, "rooms/enter", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!((status, error), (409, json!("RoomEnded")));
    let room = open(&app, &vasily.0, &code).await;
    assert_eq!(
        room["Member"]["members"].as_array().unwrap().len(),
        2,
        "nobody joined after the end"
    );

    // Every change went into the room's sequence, numbered 1, 2, 3… without gaps.
    let db = db(&app).await;
    let id = room_id(&db, &code).await;
    let events = count(
        &db,
        "SELECT COUNT(*) FROM room_events WHERE room_id = $1",
        &id,
    )
    .await;
    let last = count(
        &db,
        "SELECT MAX(seq) FROM room_events WHERE room_id = $1",
        &id,
    )
    .await;
    assert_eq!(events, last);
    assert_eq!(events, 4, "rename, lock, remove, end");
}

#[tokio::test]
async fn home_lists_open_public_rooms_and_mine() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Vasily").await;
    let petr = person(&app, "petr", "Petr").await;
    let public = create(&app, &vasily, &[]).await;
    let private = create(&app, &vasily, &[("private", "true")]).await;
    let ended = create(&app, &vasily, &[]).await;
    json_of(&app, &vasily.0, "rooms/end", &[("code", &ended)]).await;

    let lists = json_of(&app, &petr.0, "rooms/home", &[]).await;
    let codes = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        codes(&lists["public"]),
        std::slice::from_ref(&public),
        "only the open public room"
    );
    assert!(codes(&lists["mine"]).is_empty());
    assert_eq!(lists["public"][0]["participants"], 1);
    assert_eq!(lists["public"][0]["owner_name"], "Vasily");

    let mine = json_of(&app, &vasily.0, "rooms/home", &[]).await;
    let mine = codes(&mine["mine"]);
    for code in [&public, &private, &ended] {
        assert!(mine.contains(code), "{code} in my rooms");
    }
    let guest = json_of(&app, &browser(), "rooms/home", &[]).await;
    assert_eq!(codes(&guest["public"]), [public]);
}

#[tokio::test]
async fn following_a_link_logged_out_returns_to_the_room_after_login() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Василий").await;
    let code = create(&app, &vasily, &[]).await;
    app.register("petr", "Пётр", PASSWORD).await;
    let guest = browser();
    let res = guest
        .get(app.url(&format!("/r/{code}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap().replace("<!>", "");
    assert!(
        html.contains("Василий invites you to watch Metropolis"),
        "{html}"
    );
    assert!(
        html.contains(r#"property="og:title" content="Василий invites you to watch Metropolis""#)
    );
    assert!(
        html.contains(r#"property="og:image" content="http"#),
        "an absolute poster"
    );
    let next = format!("/r/{code}");
    assert!(html.contains(&format!(r#"href="/login?next={next}""#)));
    let res = app
        .call_as(
            &guest,
            "login",
            &[
                ("username", "petr"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(res.headers()["location"], next.as_str());
    let room = open(&app, &guest, &code).await;
    assert_eq!(room["Member"]["members"][1]["person"]["username"], "petr");
    assert_eq!(room["Member"]["members"][1]["joined"], true);
}

#[tokio::test]
async fn the_lifecycle_job_starts_ends_and_forgets_exactly_what_it_should() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Vasily").await;
    let petr = person(&app, "petr", "Petr").await;
    befriend(&app, &vasily, &petr).await;
    let db = db(&app).await;
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    let minute = 60_000;
    let grace = Duration::from_secs(30 * 60);
    let retention = Some(Duration::from_secs(7 * 24 * 3600));

    // A scheduled session tells Petr when it begins — once.
    let later = now + 3_600_000;
    let scheduled = create(
        &app,
        &vasily,
        &[("friends[0]", &petr.1), ("starts_at", &later.to_string())],
    )
    .await;
    assert_eq!(
        json_of(&app, &petr.0, "notifications/unread", &[]).await,
        json!(1),
        "the invitation"
    );
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, now)
        .await
        .unwrap();
    assert_eq!(report.started, 0);
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, later + 1)
        .await
        .unwrap();
    assert_eq!(report.started, 1);
    app::rooms::lifecycle::maintain(&db, grace, retention, later + 2)
        .await
        .unwrap();
    assert_eq!(
        json_of(&app, &petr.0, "notifications/unread", &[]).await,
        json!(2),
        "…and the start, once"
    );
    let list = json_of(&app, &petr.0, "notifications", &[]).await;
    assert_eq!(list[0]["kind"], "room_starting");
    assert_eq!(list[0]["room_code"], scheduled.as_str());

    // A room playing past the end of its film is noted as finished (Metropolis: 148 min).
    let played_out = create(&app, &vasily, &[]).await;
    json_of(
        &app,
        &vasily.0,
        "rooms/rename",
        &[("code", &played_out), ("name", "Marathon")],
    )
    .await;
    sqlx::query("UPDATE rooms SET paused = 0, position_ms = 0, anchor_ms = $1 WHERE code = $2")
        .bind(now - 154 * minute)
        .bind(played_out.clone())
        .execute(&db.pool)
        .await
        .unwrap();
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, now)
        .await
        .unwrap();
    assert_eq!(report.finished, 1, "only the room that played past the end");

    // Rooms whose film finished: ended once everyone has been gone for the grace period.
    let finished_and_left = create(&app, &vasily, &[]).await;
    let finished_but_here = create(&app, &vasily, &[]).await;
    let watching = create(&app, &vasily, &[]).await;
    json_of(
        &app,
        &vasily.0,
        "rooms/rename",
        &[("code", &watching), ("name", "Still on")],
    )
    .await;
    for (code, finished, active) in [
        (&finished_and_left, now - 40 * minute, now - 31 * minute),
        (&finished_but_here, now - 40 * minute, now - 10 * minute),
    ] {
        sqlx::query("UPDATE rooms SET finished_at = $1, last_active_at = $2 WHERE code = $3")
            .bind(finished)
            .bind(active)
            .bind(code.clone())
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, now)
        .await
        .unwrap();
    assert_eq!(report.ended, 1);
    assert_eq!(
        open(&app, &vasily.0, &finished_and_left).await["Member"]["phase"],
        "Ended"
    );
    assert_eq!(
        open(&app, &vasily.0, &finished_but_here).await["Member"]["phase"],
        "Live"
    );
    assert_eq!(
        open(&app, &vasily.0, &watching).await["Member"]["phase"],
        "Live"
    );

    // Retention: rooms ended more than 7 days ago lose their events; nothing else does.
    let long_ago = create(&app, &vasily, &[]).await;
    let recently = create(&app, &vasily, &[]).await;
    for code in [&long_ago, &recently] {
        json_of(&app, &vasily.0, "rooms/end", &[("code", code)]).await;
    }
    for (code, ended) in [(&long_ago, now - 8 * day), (&recently, now - 6 * day)] {
        sqlx::query("UPDATE rooms SET ended_at = $1 WHERE code = $2")
            .bind(ended)
            .bind(code.clone())
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let events_of = |code: String| {
        let db = db.clone();
        async move {
            let id = room_id(&db, &code).await;
            count(
                &db,
                "SELECT COUNT(*) FROM room_events WHERE room_id = $1",
                &id,
            )
            .await
        }
    };
    let before: Vec<i64> = futures::future::join_all(
        [&long_ago, &recently, &watching, &finished_and_left].map(|c| events_of(c.clone())),
    )
    .await;
    assert!(before.iter().all(|&n| n > 0), "{before:?}");
    let report = app::rooms::lifecycle::maintain(&db, grace, None, now)
        .await
        .unwrap();
    assert_eq!(
        report.purged, 0,
        "no retention configured: everything is kept"
    );
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, now)
        .await
        .unwrap();
    assert_eq!(report.purged, 1);
    let after: Vec<i64> = futures::future::join_all(
        [&long_ago, &recently, &watching, &finished_and_left].map(|c| events_of(c.clone())),
    )
    .await;
    assert_eq!(after[0], 0, "the old room's events are gone");
    assert_eq!(after[1..], before[1..], "the others keep theirs");
    // The old room's page still says what it was and who was there.
    let room = open(&app, &vasily.0, &long_ago).await;
    assert_eq!(room["Member"]["purged"], true);
    assert_eq!(room["Member"]["film"]["id"], FILM);
    assert_eq!(room["Member"]["members"].as_array().unwrap().len(), 1);
    let report = app::rooms::lifecycle::maintain(&db, grace, retention, now)
        .await
        .unwrap();
    assert_eq!(report.purged, 0, "idempotent");
}
