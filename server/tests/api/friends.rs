//! Friends, invite links, the "Watch together" match, starting a session and notifications, on
//! SQLite or (with KINO_TEST_POSTGRES_URL) PostgreSQL.

use crate::common::{befriend, browser, error_of, json_of, person, spawn_app, TestApp};
use reqwest::Client;
use serde_json::{json, Value};

async fn want(app: &TestApp, who: &(Client, String), film: &str) {
    json_of(
        app,
        &who.0,
        "watchlist/set",
        &[("film_id", film), ("want", "true")],
    )
    .await;
}

#[tokio::test]
async fn find_people_by_name_prefix_in_either_alphabet() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily", "Василий Тёркин").await;
    person(&app, "petr", "Пётр").await;
    person(&app, "peter_pan", "Peter Pan").await;
    for (q, expected) in [
        ("пЁт", vec!["petr"]),
        ("петр", vec!["petr"]),
        ("PET", vec!["peter_pan", "petr"]),
        ("@peter", vec!["peter_pan"]),
        ("ан", vec![]),
        ("%", vec![]),
    ] {
        let found = json_of(&app, &vasily.0, "friends/search", &[("q", q)]).await;
        let mut names: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["person"]["username"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, expected, "search {q:?}");
    }
    let own = json_of(&app, &vasily.0, "friends/search", &[("q", "vas")]).await;
    assert_eq!(own, json!([]), "I don't find myself");
    let (status, _) = error_of(
        app.call_as(&browser(), "friends/search", &[("q", "p")])
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn requests_accept_decline_cancel_and_no_duplicates() {
    let app = spawn_app().await;
    let a = person(&app, "anna", "Анна").await;
    let b = person(&app, "boris", "Борис").await;

    let (status, error) = error_of(
        app.call_as(&a.0, "friends/request", &[("user_id", &a.1)])
            .await,
    )
    .await;
    assert_eq!((status, error), (400, json!({"Invalid": "SelfFriend"})));
    let (status, _) = error_of(
        app.call_as(&a.0, "friends/request", &[("user_id", "nobody")])
            .await,
    )
    .await;
    assert_eq!(status, 404);

    for _ in 0..2 {
        assert_eq!(
            json_of(&app, &a.0, "friends/request", &[("user_id", &b.1)]).await,
            json!("RequestSent")
        );
    }
    assert_eq!(json_of(&app, &b.0, "friends/incoming", &[]).await, json!(1));
    let overview = json_of(&app, &b.0, "friends", &[]).await;
    assert_eq!(overview["incoming"][0]["display_name"], "Анна");
    assert_eq!(
        overview["incoming"].as_array().unwrap().len(),
        1,
        "one request, not two"
    );

    // Declined: strangers again, and the request is gone.
    json_of(&app, &b.0, "friends/remove", &[("user_id", &a.1)]).await;
    assert_eq!(json_of(&app, &b.0, "friends/incoming", &[]).await, json!(0));
    let (status, _) = error_of(
        app.call_as(&b.0, "friends/accept", &[("user_id", &a.1)])
            .await,
    )
    .await;
    assert_eq!(status, 404, "nothing to accept");

    // Asked again, then cancelled by the asker.
    json_of(&app, &a.0, "friends/request", &[("user_id", &b.1)]).await;
    json_of(&app, &a.0, "friends/remove", &[("user_id", &b.1)]).await;
    assert_eq!(json_of(&app, &b.0, "friends/incoming", &[]).await, json!(0));

    // Accepted: friends both ways; the page shows it.
    befriend(&app, &a, &b).await;
    let a_view = json_of(&app, &a.0, "friends", &[]).await;
    let b_view = json_of(&app, &b.0, "friends", &[]).await;
    assert_eq!(a_view["friends"][0]["username"], "boris");
    assert_eq!(b_view["friends"][0]["username"], "anna");
    assert_eq!(a_view["friends"][0]["presence"], "Online");
    assert_eq!(
        json_of(&app, &a.0, "friends/request", &[("user_id", &b.1)]).await,
        json!("Friend"),
        "asking a friend again changes nothing"
    );

    // Removed: gone on both sides.
    json_of(&app, &b.0, "friends/remove", &[("user_id", &a.1)]).await;
    assert_eq!(
        json_of(&app, &a.0, "friends", &[]).await["friends"],
        json!([])
    );
}

#[tokio::test]
async fn two_people_asking_each_other_become_friends() {
    let app = spawn_app().await;
    let a = person(&app, "anna", "Анна").await;
    let b = person(&app, "boris", "Борис").await;
    json_of(&app, &a.0, "friends/request", &[("user_id", &b.1)]).await;
    assert_eq!(
        json_of(&app, &b.0, "friends/request", &[("user_id", &a.1)]).await,
        json!("Friend")
    );

    // At the same moment, from two browsers.
    let c = person(&app, "clara", "Клара").await;
    let d = person(&app, "denis", "Денис").await;
    let (to_d, to_c) = ([("user_id", d.1.as_str())], [("user_id", c.1.as_str())]);
    let (x, y) = tokio::join!(
        app.call_as(&c.0, "friends/request", &to_d),
        app.call_as(&d.0, "friends/request", &to_c),
    );
    assert_eq!((x.status().as_u16(), y.status().as_u16()), (200, 200));
    let c_view = json_of(&app, &c.0, "friends", &[]).await;
    assert_eq!(c_view["friends"][0]["username"], "denis");
    assert_eq!(
        c_view["friends"].as_array().unwrap().len(),
        1,
        "one friendship"
    );
    assert_eq!(c_view["incoming"], json!([]));
    assert_eq!(c_view["outgoing"], json!([]));
}

#[tokio::test]
async fn invite_links_work_once_per_person_and_not_after_revocation() {
    let app = spawn_app().await;
    let a = person(&app, "anna", "Анна").await;
    let b = person(&app, "boris", "Борис").await;
    let c = person(&app, "clara", "Клара").await;
    let invite = json_of(&app, &a.0, "friends/invite/new", &[]).await;
    let code = invite["code"].as_str().unwrap().to_owned();
    assert!(invite["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/f/{code}")));

    // A guest sees who invites and is asked to log in, coming back to the link.
    let guest = browser();
    let html = guest
        .get(app.url(&format!("/f/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("<!>", "");
    assert!(
        html.contains("Анна invites you to be friends on Kino"),
        "{html}"
    );
    assert!(html.contains(&format!("/login?next=/f/{code}")));

    let info = json_of(&app, &b.0, "friends/invite", &[("code", &code)]).await;
    assert_eq!(info["relation"], "None");
    assert_eq!(
        json_of(&app, &b.0, "friends/invite/accept", &[("code", &code)]).await,
        json!("Friend")
    );
    assert_eq!(
        json_of(&app, &b.0, "friends/invite/accept", &[("code", &code)]).await,
        json!("Friend"),
        "a second use by the same person changes nothing"
    );
    let a_view = json_of(&app, &a.0, "friends", &[]).await;
    assert_eq!(a_view["friends"].as_array().unwrap().len(), 1);
    let (status, error) = error_of(
        app.call_as(&a.0, "friends/invite/accept", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!((status, error), (400, json!({"Invalid": "SelfFriend"})));

    // Revoked: the link no longer works for anyone.
    app.call_as(&a.0, "friends/invite/revoke", &[]).await;
    let (status, _) = error_of(
        app.call_as(&c.0, "friends/invite/accept", &[("code", &code)])
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, html) = app.page(&format!("/f/{code}")).await;
    assert_eq!(status, 404);
    assert!(html.contains("This invite link does not work"));

    // A new link works, and differs from the old one.
    let fresh = json_of(&app, &a.0, "friends/invite/new", &[]).await;
    assert_ne!(fresh["code"], invite["code"]);
    json_of(
        &app,
        &c.0,
        "friends/invite/accept",
        &[("code", fresh["code"].as_str().unwrap())],
    )
    .await;
    assert_eq!(
        json_of(&app, &a.0, "friends", &[]).await["friends"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn the_match_lists_only_friends_wanting_first_and_respects_hidden_lists() {
    let app = spawn_app().await;
    let me = person(&app, "vasily", "Василий").await;
    let petr = person(&app, "petr", "Пётр").await;
    let anna = person(&app, "anna", "Анна").await;
    let olga = person(&app, "olga", "Ольга").await;
    let stranger = person(&app, "stranger", "Чужой").await;
    let pending = person(&app, "pending", "Ждущий").await;
    befriend(&app, &me, &petr).await;
    befriend(&app, &me, &anna).await;
    befriend(&app, &me, &olga).await;
    json_of(&app, &me.0, "friends/request", &[("user_id", &pending.1)]).await;

    for who in [&me, &petr, &olga, &stranger, &pending] {
        want(&app, who, "metropolis-1927").await;
    }
    want(&app, &me, "nosferatu-1922").await;
    want(&app, &anna, "nosferatu-1922").await;
    want(&app, &petr, "nosferatu-1922").await;
    want(&app, &me, "the-general-1926").await;
    want(&app, &anna, "the-general-1926").await;

    let names = |v: &Value| -> Vec<(String, bool)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["person"]["username"].as_str().unwrap().to_owned(),
                    m["wants"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let matched = json_of(
        &app,
        &me.0,
        "friends/match",
        &[("film_id", "metropolis-1927")],
    )
    .await;
    assert_eq!(
        names(&matched),
        [
            ("olga".to_owned(), true),
            ("petr".to_owned(), true),
            ("anna".to_owned(), false)
        ],
        "friends who want it first (by name: Ольга before Пётр), then the others; \
         never strangers or pending requests"
    );

    // Home's "Watch with friends": most wanted first, ties by film id.
    let all = json_of(&app, &me.0, "friends/match/all", &[]).await;
    let ranked: Vec<(&str, usize)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["film"]["id"].as_str().unwrap(),
                m["friends"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            ("metropolis-1927", 2),
            ("nosferatu-1922", 2),
            ("the-general-1926", 1)
        ]
    );

    // Olga hides her list: she is still my friend, but no longer matched.
    json_of(&app, &olga.0, "friends/hide", &[("hide", "true")]).await;
    let matched = json_of(
        &app,
        &me.0,
        "friends/match",
        &[("film_id", "metropolis-1927")],
    )
    .await;
    assert_eq!(
        names(&matched),
        [
            ("petr".to_owned(), true),
            ("anna".to_owned(), false),
            ("olga".to_owned(), false)
        ]
    );
    let both = json_of(&app, &me.0, "friends/both", &[("username", "olga")]).await;
    assert_eq!(
        both["films"],
        json!([]),
        "a hidden list shows nothing in common"
    );
    let both = json_of(&app, &me.0, "friends/both", &[("username", "anna")]).await;
    assert_eq!(both["films"].as_array().unwrap().len(), 2);
    let (status, _) = error_of(
        app.call_as(&me.0, "friends/both", &[("username", "stranger")])
            .await,
    )
    .await;
    assert_eq!(status, 404, "a stranger's list stays private");

    let (_, home) = {
        let res =
            me.0.get(app.url("/"))
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
        (res.status(), res.text().await.unwrap().replace("<!>", ""))
    };
    assert!(home.contains("Watch with friends"));
    assert!(home.contains("/films/nosferatu-1922?together=1"));
}

#[tokio::test]
async fn start_session_invites_friends_only_and_notifies_them() {
    let app = spawn_app().await;
    let me = person(&app, "vasily", "Василий").await;
    let petr = person(&app, "petr", "Пётр").await;
    let stranger = person(&app, "stranger", "Чужой").await;
    befriend(&app, &me, &petr).await;

    let (status, _) = error_of(
        app.call_as(
            &browser(),
            "rooms/start",
            &[("film_id", "metropolis-1927"), ("friends[0]", &petr.1)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    let (status, error) = error_of(
        app.call_as(
            &me.0,
            "rooms/start",
            &[("film_id", "metropolis-1927"), ("friends[0]", &stranger.1)],
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, json!({"Invalid": "NotAFriend"})));
    let (status, _) = error_of(
        app.call_as(
            &me.0,
            "rooms/start",
            &[("film_id", "no-such-film"), ("friends[0]", &petr.1)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);

    let code = json_of(
        &app,
        &me.0,
        "rooms/start",
        &[("film_id", "metropolis-1927"), ("friends[0]", &petr.1)],
    )
    .await;
    let code = code.as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);
    assert!(code
        .bytes()
        .all(|b| b"23456789abcdefghjkmnpqrstuvwxyz".contains(&b)));

    assert_eq!(
        json_of(&app, &petr.0, "notifications/unread", &[]).await,
        json!(1)
    );
    let list = json_of(&app, &petr.0, "notifications", &[]).await;
    assert_eq!(list[0]["kind"], "room_invite");
    assert_eq!(list[0]["room_code"], code.as_str());
    assert_eq!(list[0]["actor"], "Василий");
    json_of(&app, &petr.0, "notifications/read", &[]).await;
    assert_eq!(
        json_of(&app, &petr.0, "notifications/unread", &[]).await,
        json!(0)
    );
    assert_eq!(
        json_of(&app, &stranger.0, "notifications/unread", &[]).await,
        json!(0)
    );

    // The room lists its owner and who is invited; Petr joins by opening the link.
    let room = json_of(&app, &me.0, "rooms/open", &[("code", &code)]).await;
    let room = &room["Member"];
    assert_eq!(room["film"]["id"], "metropolis-1927");
    assert_eq!(room["members"][0]["owner"], true);
    assert_eq!(room["members"][1]["person"]["username"], "petr");
    assert_eq!(room["members"][1]["joined"], false);
    json_of(&app, &petr.0, "rooms/open", &[("code", &code)]).await;
    let room = json_of(&app, &me.0, "rooms/open", &[("code", &code)]).await;
    assert_eq!(room["Member"]["members"][1]["joined"], true);

    // A guest following the link sees who invites to what, and is offered to log in and back.
    let res = browser()
        .get(app.url(&format!("/r/{code}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/login?next=/r/{code}\"")),
        "{page}"
    );
    let res = me.0.get(app.url("/r/zzzzzzzzzz")).send().await.unwrap();
    assert_eq!(res.status(), 404, "no such room");
}
