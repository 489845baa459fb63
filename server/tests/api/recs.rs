//! Recommendations over HTTP on a planted data set: two taste clusters that cut across genres
//! (so only what people like together can explain the lists, not the catalog's genres), and
//! two films both clusters like.

use crate::common::{error_of, json_of, signed_in, spawn_app_with, Person, TestApp};
use serde_json::Value;

/// Cluster A's and B's films: each mixes genres (horror, comedy, documentary, thriller…).
const A: [&str; 6] = [
    "nosferatu-1922",
    "the-general-1926",
    "his-girl-friday-1940",
    "man-with-a-movie-camera-1929",
    "doa-1950",
    "charade-1963",
];
const B: [&str; 6] = [
    "battleship-potemkin-1925",
    "house-on-haunted-hill-1959",
    "sherlock-jr-1924",
    "the-stranger-1946",
    "nanook-of-the-north-1922",
    "carnival-of-souls-1962",
];
/// Liked in both clusters.
const BOTH: [&str; 2] = ["metropolis-1927", "the-kid-1921"];

async fn like(app: &TestApp, who: &Person, film: &str) {
    let res = app
        .call_as(
            &who.client,
            "films/react",
            &[("film_id", film), ("reaction", "like")],
        )
        .await;
    assert_eq!(res.status(), 200, "liking {film}");
}

/// The admin (the instance's first account) and 8 people per cluster, each liking 4 of their
/// cluster's 6 films and one of the films both like; then the model is built.
async fn planted() -> (TestApp, Person) {
    let app = spawn_app_with(|c| {
        c.registrations_per_hour = 1_000;
        c.registrations_per_hour_total = 1_000;
        // The tests build the model themselves (an admin's "rebuild now").
        c.recs_interval_minutes = 0;
    })
    .await;
    let admin = signed_in(&app, "admin", "Admin").await;
    for (name, films) in [("a", A), ("b", B)] {
        for i in 0..8 {
            let who = signed_in(&app, &format!("fan{name}{i}"), &format!("Fan {name}{i}")).await;
            for k in 0..4 {
                like(&app, &who, films[(i + k) % 6]).await;
            }
            like(&app, &who, BOTH[i % 2]).await;
        }
    }
    let report = json_of(&app, &admin.client, "recs/rebuild", &[]).await;
    assert_eq!(
        report["films"], 14,
        "every liked film is in the model: {report}"
    );
    assert!(report["neighbours"].as_i64().unwrap() > 0, "{report}");
    (app, admin)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| {
            let card = item.get("card").unwrap_or(item);
            card["id"].as_str().expect("a film id").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_person_gets_their_clusters_films_with_reasons_and_can_steer_the_list() {
    let (app, _admin) = planted().await;
    let guest = crate::common::browser();

    // A guest sees what is popular: the two films everyone likes first.
    let popular = json_of(&app, &guest, "recs/for-you", &[]).await;
    assert_eq!(popular["kind"], "Popular");
    assert_eq!(
        popular["can_exclude"], false,
        "a guest has nothing to exclude with"
    );
    let mut top: Vec<String> = ids(&popular["items"])[..2].to_vec();
    top.sort();
    assert_eq!(top, BOTH, "{popular}");

    // Alice likes two of cluster A's films: "For you" starts with cluster A's other films and
    // the two films everyone likes (cluster B's come later, if at all: by genre alone), each
    // with the liked film it comes from.
    let alice = signed_in(&app, "alice", "Alice").await;
    let one = json_of(&app, &alice.client, "recs/for-you", &[]).await;
    assert_eq!(one["kind"], "Popular", "one signal is not enough yet");
    assert_eq!(
        one["can_exclude"], true,
        "but popular films can be turned down already"
    );
    like(&app, &alice, A[0]).await;
    like(&app, &alice, A[1]).await;
    let mine = json_of(&app, &alice.client, "recs/for-you", &[]).await;
    assert_eq!(mine["kind"], "ForYou", "{mine}");
    let got = ids(&mine["items"]);
    let mut first: Vec<&str> = got[..6].iter().map(String::as_str).collect();
    first.sort();
    let mut expected: Vec<&str> = A[2..].iter().chain(&BOTH).copied().collect();
    expected.sort();
    assert_eq!(first, expected, "cluster A's other films first: {got:?}");
    assert!(
        !got.contains(&A[0].to_owned()) && !got.contains(&A[1].to_owned()),
        "{got:?}"
    );
    let reason = &mine["items"][0]["because"];
    assert!(
        A[..2].contains(&reason["film_id"].as_str().unwrap()),
        "the reason is a film Alice liked: {reason}"
    );
    assert!(reason["title_en"].as_str().is_some_and(|t| !t.is_empty()));
    let top_film = got[0].clone();

    // A dislike: that film never appears.
    let disliked = got[1].clone();
    let res = app
        .call_as(
            &alice.client,
            "films/react",
            &[("film_id", &disliked), ("reaction", "dislike")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let after = ids(&json_of(&app, &alice.client, "recs/for-you", &[]).await["items"]);
    assert!(
        !after.contains(&disliked),
        "{disliked} was disliked: {after:?}"
    );

    // "Not interested": gone at once, from every list, and listed on the profile; undo
    // brings it back.
    let hide = [("film_id", top_film.as_str()), ("excluded", "true")];
    assert_eq!(
        json_of(&app, &alice.client, "recs/exclude", &hide).await,
        true
    );
    let after = ids(&json_of(&app, &alice.client, "recs/for-you", &[]).await["items"]);
    assert!(
        !after.contains(&top_film),
        "{top_film} was excluded: {after:?}"
    );
    let similar = json_of(&app, &alice.client, "recs/similar", &[("film_id", A[0])]).await;
    assert!(
        !ids(&similar).contains(&top_film),
        "excluded everywhere: {similar}"
    );
    let excluded = json_of(&app, &alice.client, "recs/excluded", &[]).await;
    assert_eq!(ids(&excluded), std::slice::from_ref(&top_film));
    let (_, profile) = {
        let res = alice
            .client
            .get(app.url("/profile"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert!(
        profile.contains("Hidden from recommendations"),
        "the profile lists them"
    );
    assert!(profile.contains(&format!("/films/{top_film}")));
    let undo = [("film_id", top_film.as_str()), ("excluded", "false")];
    assert_eq!(
        json_of(&app, &alice.client, "recs/exclude", &undo).await,
        false
    );
    let back = ids(&json_of(&app, &alice.client, "recs/for-you", &[]).await["items"]);
    assert_eq!(back[0], top_film, "undo restores it: {back:?}");
    assert!(ids(&json_of(&app, &alice.client, "recs/excluded", &[]).await).is_empty());

    // "More like this", for everyone: a cluster's films next to each other.
    let similar = json_of(&app, &guest, "recs/similar", &[("film_id", B[0])]).await;
    let similar = ids(&similar);
    assert!(
        similar[..3]
            .iter()
            .all(|f| B.contains(&f.as_str()) || BOTH.contains(&f.as_str())),
        "{similar:?}"
    );
    assert!(!similar.contains(&B[0].to_owned()));
}

#[tokio::test]
async fn a_group_of_both_tastes_gets_films_both_like_and_hidden_lists_leak_nothing() {
    let (app, _admin) = planted().await;
    let alice = signed_in(&app, "alice", "Alice").await;
    let boris = signed_in(&app, "boris", "Boris").await;
    let carol = signed_in(&app, "carol", "Carol").await;
    like(&app, &alice, A[0]).await;
    like(&app, &alice, A[1]).await;
    like(&app, &boris, B[0]).await;
    like(&app, &boris, B[1]).await;
    crate::common::befriend(
        &app,
        &(alice.client.clone(), alice.id.clone()),
        &(boris.client.clone(), boris.id.clone()),
    )
    .await;
    // Boris keeps his "Want to watch" list hidden; one film on it.
    json_of(&app, &boris.client, "friends/hide", &[("hide", "true")]).await;
    json_of(
        &app,
        &boris.client,
        "watchlist/set",
        &[("film_id", "safety-last-1923"), ("want", "true")],
    )
    .await;

    // Alone, each would get their own cluster's films; together, the films both clusters like.
    let ideas = json_of(
        &app,
        &alice.client,
        "recs/group",
        &[("friends[0]", &boris.id)],
    )
    .await;
    let got = ids(&ideas);
    let mut top: Vec<String> = got[..2].to_vec();
    top.sort();
    assert_eq!(top, BOTH, "{got:?}");
    assert!(
        !got.iter()
            .any(|f| A[..2].contains(&f.as_str()) || B[..2].contains(&f.as_str())),
        "nothing either has seen: {got:?}"
    );

    // The answer is films only: nothing says whose signals moved it.
    let text = ideas.to_string();
    assert!(!text.contains(&boris.id) && !text.contains("boris") && !text.contains("Boris"));
    for card in ideas.as_array().unwrap() {
        let mut keys: Vec<&str> = card
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "duration_secs",
                "genres",
                "id",
                "playable",
                "poster",
                "title_en",
                "title_ru",
                "year"
            ]
        );
    }
    // …and the film page's panel does not mark Boris as wanting the film on his hidden list.
    let page = alice
        .client
        .get(app.url("/films/safety-last-1923?together=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Boris"),
        "Boris is among the friends to choose"
    );
    assert!(!page.contains("wants-chip"), "nobody is shown wanting it");

    // Only friends; not too many; signed in.
    let (status, error) = error_of(
        app.call_as(&alice.client, "recs/group", &[("friends[0]", &carol.id)])
            .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (400, serde_json::json!({"Invalid": "NotAFriend"}))
    );
    let many: Vec<String> = (0..21).map(|i| format!("friends[{i}]")).collect();
    let form: Vec<(&str, &str)> = many
        .iter()
        .map(|k| (k.as_str(), boris.id.as_str()))
        .collect();
    let res = app.call_as(&alice.client, "recs/group", &form).await;
    assert_eq!(res.status(), 200, "the same friend twice is one friend");
    let guest = crate::common::browser();
    let (status, _) = error_of(
        app.call_as(&guest, "recs/group", &[("friends[0]", &boris.id)])
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_input_and_other_peoples_rights_are_refused() {
    let app = spawn_app_with(|c| c.recs_interval_minutes = 0).await;
    let admin = signed_in(&app, "admin", "Admin").await;
    let someone = signed_in(&app, "someone", "Someone").await;
    let guest = crate::common::browser();

    // Only admins rebuild.
    let (status, _) = error_of(app.call_as(&someone.client, "recs/rebuild", &[]).await).await;
    assert_eq!(status, 403);
    let (status, _) = error_of(app.call_as(&guest, "recs/rebuild", &[]).await).await;
    assert_eq!(status, 401);
    // An instance nobody has rated: the newest films, and an empty model builds.
    let fresh = json_of(&app, &guest, "recs/for-you", &[]).await;
    assert_eq!(fresh["kind"], "New");
    assert_eq!(fresh["items"].as_array().unwrap().len(), 12);
    let report = json_of(&app, &admin.client, "recs/rebuild", &[]).await;
    assert_eq!(report["method"], "Empty");

    // Unknown films, guests, malformed flags.
    let hide = [("film_id", "no-such-film"), ("excluded", "true")];
    let (status, _) = error_of(app.call_as(&someone.client, "recs/exclude", &hide).await).await;
    assert_eq!(status, 404);
    let hide = [("film_id", "metropolis-1927"), ("excluded", "true")];
    let (status, _) = error_of(app.call_as(&guest, "recs/exclude", &hide).await).await;
    assert_eq!(status, 401);
    let odd = [("film_id", "metropolis-1927"), ("excluded", "perhaps")];
    let res = app.call_as(&someone.client, "recs/exclude", &odd).await;
    assert_eq!(res.status(), 400, "a malformed flag is a clear 400");
    let (status, _) = error_of(
        app.call_as(&guest, "recs/similar", &[("film_id", "no-such-film")])
            .await,
    )
    .await;
    assert_eq!(status, 404);
    // Content alone fills "More like this" before anyone has liked anything: Murnau's horror
    // is next to the other horror films.
    let similar = ids(&json_of(
        &app,
        &guest,
        "recs/similar",
        &[("film_id", "nosferatu-1922")],
    )
    .await);
    assert!(similar.len() >= 3, "{similar:?}");
    assert!(
        similar[..3].iter().all(|f| [
            "the-cabinet-of-dr-caligari-1920",
            "the-phantom-of-the-opera-1925",
            "night-of-the-living-dead-1968",
            "carnival-of-souls-1962",
            "house-on-haunted-hill-1959",
            "the-little-shop-of-horrors-1960",
            "the-last-man-on-earth-1964"
        ]
        .contains(&f.as_str())),
        "{similar:?}"
    );
}

#[tokio::test]
async fn one_node_builds_at_a_time_and_only_when_due() {
    let app = spawn_app_with(|c| c.recs_interval_minutes = 0).await;
    let admin = signed_in(&app, "admin", "Admin").await;
    let db = app::db::Db::connect(&app.database_url)
        .await
        .expect("the test database");
    let hour = std::time::Duration::from_secs(3600);
    // Never built: due.
    let built = app::recs::ssr::rebuild_if_due(&db, "node-a", hour, false)
        .await
        .unwrap();
    assert!(built.is_some(), "a first build runs");
    // Just built: not due for another hour, on any node.
    let again = app::recs::ssr::rebuild_if_due(&db, "node-b", hour, false)
        .await
        .unwrap();
    assert!(again.is_none(), "not due yet");
    // Another node holds the claim: nobody else builds, not even an admin's "rebuild now".
    sqlx::query("UPDATE recs_model SET claimed_by = 'node-c', claimed_until = $1 WHERE id = 1")
        .bind(app::dates::now_ms() + 3_600_000)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        json_of(&app, &admin.client, "recs/rebuild", &[]).await,
        Value::Null
    );
    // Its lease ran out (the node died): the next one takes over.
    sqlx::query("UPDATE recs_model SET claimed_until = $1 WHERE id = 1")
        .bind(app::dates::now_ms() - 1)
        .execute(&db.pool)
        .await
        .unwrap();
    let report = json_of(&app, &admin.client, "recs/rebuild", &[]).await;
    assert_eq!(report["method"], "Empty");
    db.pool.close().await;
}
