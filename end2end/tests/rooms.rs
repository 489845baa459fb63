//! A private, scheduled room: Vasily creates it and copies the link; Petr, logged out, follows
//! it, registers, gives the room password and lands in the room — in two real browsers against
//! the release build.

use end2end::{Browser, Result, Server, PASSWORD};
use fantoccini::Locator;

#[tokio::test]
async fn a_friend_follows_a_private_room_link_through_registration_into_the_room() -> Result {
    let server = Server::start().await?;
    let vasily = Browser::start().await?;
    let petr = Browser::start().await?;

    vasily.register(&server, "vasily", "Василий").await?;

    // Film page → "Watch together" → a private room with a password, two hours from now.
    vasily
        .goto(&format!("{}/films/metropolis-1927", server.url))
        .await?;
    vasily.wait_hydrated().await?;
    vasily.click_button("Watch together").await?;
    vasily.field("Private room").await?.click().await?;
    vasily.fill("Room password", "попкорн").await?;
    let starts = vasily.field("Starts at").await?;
    vasily
        .client
        .execute(
            "const input = arguments[0];
             const at = new Date(Date.now() + 2 * 3600 * 1000);
             const pad = n => String(n).padStart(2, '0');
             input.value = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
             input.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![serde_json::to_value(&starts)?],
        )
        .await?;
    vasily.click_button("Create room").await?;
    let room_path = vasily.wait_path_prefix("/r/").await?.path().to_owned();
    // Before its time: a countdown, and who is in.
    vasily.wait_text_in(".room-countdown", "Starts in").await?;
    let countdown = vasily.client.find(Locator::Css(".countdown")).await?;
    let shown = countdown.text().await?;
    assert!(
        shown.starts_with("01:5") || shown.starts_with("02:00"),
        "{shown}"
    );
    vasily.wait_text_in(".room-side", "Василий").await?;
    vasily.link("Add to calendar").await?;

    // The link without the key asks for the password: that is the one Vasily sends.
    vasily.click_button("Copy link without key").await?;
    vasily.wait_text_in(".share", "Copied.").await?;
    let links = vasily
        .client
        .find_all(Locator::Css(".share-link code"))
        .await?;
    assert_eq!(links.len(), 2, "the link with the key, and the one without");
    let with_key = links[0].text().await?;
    let bare = links[1].text().await?;
    assert!(
        with_key.starts_with(&format!("{}{room_path}#k=", server.url)),
        "{with_key}"
    );
    assert_eq!(bare, format!("{}{room_path}", server.url));

    // Petr, logged out, follows it: nothing of the room shows, only the way in.
    petr.goto(&bare).await?;
    petr.wait_hydrated().await?;
    petr.wait_text_in("main", "A private room").await?;
    let page = petr.client.source().await?;
    assert!(
        !page.contains("Metropolis"),
        "a private room's film stays hidden"
    );
    // The invitation's own "Register" (the header has one too, without the way back).
    let register = petr
        .client
        .find(Locator::Css(".room-landing a[href^='/register']"))
        .await?;
    assert_eq!(register.text().await?, "Register");
    register.click().await?;
    petr.wait_path("/register").await?;
    petr.wait_hydrated().await?;
    petr.fill("Username", "petr").await?;
    petr.fill("Display name", "Пётр").await?;
    petr.fill("Password", PASSWORD).await?;
    petr.click_button("Register").await?;
    petr.wait_path(&room_path).await?;

    // A wrong password says so; the right one lets him in.
    petr.fill("Room password", "попкорм").await?;
    petr.click_button("Join").await?;
    petr.wait_text_in("main", "Wrong room password.").await?;
    petr.fill("Room password", "попкорн").await?;
    petr.click_button("Join").await?;
    petr.wait_text_in(".room-side", "Participants").await?;
    petr.wait_text_in(".room-side", "2 / 30").await?;
    petr.wait_text_in(".room-side", "Пётр").await?;
    petr.wait_text_in(".room-head", "Metropolis").await?;

    // And Vasily sees him among the participants.
    vasily.client.refresh().await?;
    vasily.wait_hydrated().await?;
    vasily.wait_text_in(".room-side", "Пётр").await?;

    vasily.close().await?;
    petr.close().await
}
