//! Two nodes, two browsers: Anna's page is served by one kino process and Boris's by another,
//! both on one PostgreSQL database. Play, pause and chat cross from one node to the other.
//! Needs `KINO_TEST_POSTGRES_URL` (the test command sets it).

use end2end::{fresh_postgres, Browser, Result, Server};
use std::time::{Duration, Instant};

async fn until(browser: &Browser, what: &str, check: impl Fn(bool, f64) -> bool) -> Result {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (paused, position, _) = browser.room_video().await?;
        if check(paused, position) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: paused={paused} at {position:.2} s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn people_on_two_nodes_watch_and_talk_as_one_room() -> Result {
    let Some(database) = fresh_postgres().await? else {
        eprintln!("skipped: two nodes need PostgreSQL (KINO_TEST_POSTGRES_URL)");
        return Ok(());
    };
    // One after the other: the first prepares the database.
    let a = Server::start_on(&database, &[]).await?;
    let b = Server::start_on(&database, &[]).await?;
    let anna = Browser::start().await?;
    let boris = Browser::start().await?;
    anna.register(&a, "anna", "Анна").await?;
    boris.register(&b, "boris", "Борис").await?;

    // Anna opens a room on node A; Boris follows its link on node B.
    let room = anna.create_room_at(&a.url).await?;
    let on_b = format!("{}{}", b.url, room.path());
    boris.goto(&on_b).await?;
    boris.wait_hydrated().await?;
    anna.wait_text_in(".chat-log", "Борис joined").await?;
    anna.wait_text_in(".room-side", "Борис").await?;
    boris.wait_text_in(".room-side", "Анна").await?;
    for browser in [&anna, &boris] {
        browser.labelled("Seek").await?;
        until(browser, "ready", |_, p| p >= 0.0).await?;
    }

    // Anna presses play on A: Boris's video plays on B; Boris pauses: Anna's stops.
    anna.labelled("Play").await?.click().await?;
    until(&boris, "Boris plays", |paused, p| !paused && p > 0.5).await?;
    boris.labelled("Pause").await?.click().await?;
    until(&anna, "Anna is paused", |paused, _| paused).await?;

    // Chat both ways.
    boris.fill("Message", "Привет с узла B").await?;
    boris.click_button("Send").await?;
    anna.wait_text_in(".chat-log", "Привет с узла B").await?;
    anna.fill("Message", "Слышу тебя на A").await?;
    anna.click_button("Send").await?;
    boris.wait_text_in(".chat-log", "Слышу тебя на A").await?;

    anna.close().await?;
    boris.close().await
}
