//! Two friends find each other and start a session through "Watch together", in two real
//! browsers against the release build.

use end2end::{xpath_literal, Browser, Result, Server};
use fantoccini::Locator;
use std::time::Duration;

async fn want_metropolis(browser: &Browser, server: &Server) -> Result {
    browser
        .goto(&format!("{}/films/metropolis-1927", server.url))
        .await?;
    browser.wait_hydrated().await?;
    browser
        .client
        .find(Locator::XPath("//button[contains(., 'Want to watch')]"))
        .await?
        .click()
        .await?;
    browser.wait_text_in(".watchlist-link", "1").await?;
    Ok(())
}

#[tokio::test]
async fn friends_who_both_want_a_film_start_a_session_in_two_clicks() -> Result {
    let server = Server::start().await?;
    let vasily = Browser::start().await?;
    let petr = Browser::start().await?;
    vasily.register(&server, "vasily", "Василий").await?;
    petr.register(&server, "petr", "Пётр Ильич").await?;

    // Vasily finds Petr by the start of his name and asks; Petr accepts.
    vasily.goto(&format!("{}/friends", server.url)).await?;
    vasily.wait_hydrated().await?;
    vasily.fill("Find friends", "пётр").await?;
    vasily.click_button("Search").await?;
    vasily.click_button("Add friend").await?;
    vasily.wait_text_in("main", "Sent requests").await?;

    petr.goto(&format!("{}/friends", server.url)).await?;
    petr.wait_hydrated().await?;
    petr.wait_text_in("header", "Friends1").await?;
    petr.click_button("Accept").await?;
    petr.wait_text_in("main", "My friends").await?;
    petr.wait_text_in(".person-name", "Василий").await?;

    want_metropolis(&vasily, &server).await?;
    want_metropolis(&petr, &server).await?;
    // Petr waits on the home page; nothing reloads it from here on.
    petr.goto(&format!("{}/", server.url)).await?;
    petr.wait_hydrated().await?;

    // Vasily: "Watch together" → Petr is marked as wanting it → pick him → "Start session".
    vasily.client.refresh().await?;
    vasily.wait_hydrated().await?;
    vasily.click_button("Watch together").await?;
    let row = vasily
        .wait_text_in(".together-panel", "wants to watch")
        .await?;
    assert_eq!(row.text().await?, "wants to watch");
    let checkbox = vasily
        .client
        .find(Locator::XPath(&format!(
            "//input[@type='checkbox'][@id=//label[normalize-space(.)={}]/@for]",
            xpath_literal("Пётр Ильич")
        )))
        .await?;
    checkbox.click().await?;
    // With a friend picked, the group's ideas appear (films for both of them).
    vasily
        .wait_text_in(".together-panel", "Ideas for all of you")
        .await?;
    vasily.click_button("Start session").await?;
    let room_path = vasily.wait_path_prefix("/r/").await?.path().to_owned();
    vasily.wait_text_in(".room-side", "Participants").await?;
    vasily.wait_text_in(".room-side", "Пётр Ильич").await?;

    // Petr's bell shows the invitation without a reload, and it leads into the room.
    let bell = petr
        .client
        .wait()
        .at_most(Duration::from_secs(40))
        .for_element(Locator::Css(".bell .count"))
        .await?;
    assert_eq!(bell.text().await?, "1");
    petr.client
        .find(Locator::Css(".bell"))
        .await?
        .click()
        .await?;
    petr.wait_path("/notifications").await?;
    let invite = petr
        .wait_text_in("main", "Василий invites you to watch Metropolis")
        .await?;
    invite.click().await?;
    petr.wait_path(&room_path).await?;
    petr.wait_text_in(".room-side", "Participants").await?;

    vasily.close().await?;
    petr.close().await
}
