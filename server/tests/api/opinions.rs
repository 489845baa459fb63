//! Likes and reviews over HTTP, on SQLite or (with KINO_TEST_POSTGRES_URL) PostgreSQL.

use crate::common::{browser, error_of, spawn_app};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse";
const FILM: &str = "metropolis-1927";

async fn react(app: &crate::common::TestApp, reaction: &str) -> Value {
    let res = app
        .call("films/react", &[("film_id", FILM), ("reaction", reaction)])
        .await;
    assert_eq!(res.status(), 200, "{reaction} is accepted");
    res.json().await.unwrap()
}

#[tokio::test]
async fn one_reaction_per_user_even_when_clicked_concurrently() {
    let app = spawn_app().await;
    app.register("vasily", "Василий", PASSWORD).await;

    // Twenty likes at once from the same account: one row, one like.
    let clicks =
        (0..20).map(|_| app.call("films/react", &[("film_id", FILM), ("reaction", "like")]));
    for res in futures::future::join_all(clicks).await {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        react(&app, "like").await,
        json!({"likes": 1, "dislikes": 0, "mine": "like"}),
        "liking again changes nothing"
    );

    // A like and a dislike racing: whichever lands last wins, never both.
    let (a, b) = tokio::join!(
        app.call("films/react", &[("film_id", FILM), ("reaction", "dislike")]),
        app.call("films/react", &[("film_id", FILM), ("reaction", "like")]),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let now: Value = app
        .call("films/reactions", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        now["likes"].as_i64().unwrap() + now["dislikes"].as_i64().unwrap(),
        1
    );

    // A second person's dislike counts beside it; switching and taking back work.
    let petr = browser();
    app.call_as(
        &petr,
        "register",
        &[
            ("username", "petr"),
            ("display_name", "Пётр"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let theirs: Value = app
        .call_as(
            &petr,
            "films/react",
            &[("film_id", FILM), ("reaction", "dislike")],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["mine"], "dislike");
    assert_eq!(react(&app, "dislike").await["dislikes"], 2);
    assert_eq!(
        react(&app, "none").await,
        json!({"likes": 0, "dislikes": 1, "mine": null})
    );

    // The page shows the counts to a guest, whose buttons lead to log in and back.
    let guest = browser();
    let html = guest
        .get(app.url(&format!("/films/{FILM}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("<!>", "");
    assert!(
        html.contains("Dislike <span class=\"count\">1</span>"),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/login?next=/films/metropolis-1927" class="button reaction">"#),
        "{html}"
    );
}

#[tokio::test]
async fn reactions_need_an_account_a_known_film_and_a_known_kind() {
    let app = spawn_app().await;
    let (status, error) = error_of(
        app.call("films/react", &[("film_id", FILM), ("reaction", "like")])
            .await,
    )
    .await;
    assert_eq!((status, error), (401, json!("Unauthorized")));

    app.register("vasily", "Василий", PASSWORD).await;
    let (status, _) = error_of(
        app.call(
            "films/react",
            &[("film_id", "no-such-film"), ("reaction", "like")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, error) = error_of(
        app.call("films/react", &[("film_id", FILM), ("reaction", "love")])
            .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (400, json!({"Invalid": "UnknownReaction"}))
    );
}

#[tokio::test]
async fn reviews_are_limited_listed_newest_first_and_only_the_author_changes_them() {
    let app = spawn_app().await;
    let (status, error) = error_of(
        app.call("reviews/add", &[("film_id", FILM), ("body", "Шедевр")])
            .await,
    )
    .await;
    assert_eq!((status, error), (401, json!("Unauthorized")));

    app.register("vasily", "Василий", PASSWORD).await;
    for body in ["", "   \n  ", &"ж".repeat(5001)] {
        let (status, error) = error_of(
            app.call("reviews/add", &[("film_id", FILM), ("body", body)])
                .await,
        )
        .await;
        assert_eq!((status, error), (400, json!({"Invalid": "ReviewLength"})));
    }
    let longest = "ж".repeat(5000);
    let res = app
        .call("reviews/add", &[("film_id", FILM), ("body", &longest)])
        .await;
    assert_eq!(res.status(), 200, "5000 characters are allowed");
    let first: Value = app
        .call(
            "reviews/add",
            &[("film_id", FILM), ("body", "  Шедевр немого кино.  ")],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["body"], "Шедевр немого кино.", "trimmed");
    assert_eq!(first["author_name"], "Василий");
    assert_eq!(first["mine"], true);

    let list: Value = app
        .call("reviews", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], first["id"], "newest first");

    // Nothing was saved for bad input, and nothing for an unknown film.
    let (status, _) = error_of(
        app.call("reviews/add", &[("film_id", "no-such-film"), ("body", "?")])
            .await,
    )
    .await;
    assert_eq!(status, 404);

    let id = first["id"].as_str().unwrap();
    let edited: Value = app
        .call(
            "reviews/edit",
            &[("id", id), ("body", "Шедевр. Пересмотрел.")],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["body"], "Шедевр. Пересмотрел.");

    // Someone else can neither edit nor delete it.
    let petr = browser();
    app.call_as(
        &petr,
        "register",
        &[
            ("username", "petr"),
            ("display_name", "Пётр"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let res = app
        .call_as(&petr, "reviews/edit", &[("id", id), ("body", "взлом")])
        .await;
    assert_eq!(res.status(), 403);
    let res = app.call_as(&petr, "reviews/delete", &[("id", id)]).await;
    assert_eq!(res.status(), 403);
    let theirs: Value = app
        .call_as(&petr, "reviews", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs[0]["mine"], false);
    assert_eq!(theirs[0]["body"], "Шедевр. Пересмотрел.");

    let res = app.call("reviews/delete", &[("id", id)]).await;
    assert_eq!(res.status(), 200);
    let res = app.call("reviews/delete", &[("id", id)]).await;
    assert_eq!(res.status(), 404, "gone");
    let list: Value = app
        .call("reviews", &[("film_id", FILM)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_review_with_markup_shows_as_text() {
    let app = spawn_app().await;
    app.register("mallory", "<b>Mallory</b>", PASSWORD).await;
    let evil = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    let res = app
        .call("reviews/add", &[("film_id", FILM), ("body", evil)])
        .await;
    assert_eq!(res.status(), 200);
    let (status, html) = app.page(&format!("/films/{FILM}")).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("<script>alert"),
        "no script element from a review"
    );
    assert!(!html.contains("<img src=x"), "no element from a review");
    assert!(
        html.contains("&lt;script&gt;alert(\"x\")&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        "the review's text is on the page, escaped"
    );
    assert!(
        html.contains("&lt;b&gt;Mallory&lt;/b&gt;"),
        "so is the author's name"
    );
}
