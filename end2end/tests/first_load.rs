//! What a newcomer meets first: Kino opened at `localhost` works as well as at the address it
//! printed, the header's "Log in" brings you back, and control icons need no emoji font.

use end2end::{Browser, Result, Server, PASSWORD};
use fantoccini::Locator;

/// The same server at `localhost` instead of `127.0.0.1`.
fn at_localhost(server: &Server) -> String {
    server.url.replace("127.0.0.1", "localhost")
}

#[tokio::test]
async fn a_room_works_through_localhost_and_through_127_0_0_1() -> Result {
    let server = Server::start().await?;
    let local = at_localhost(&server);
    assert_ne!(local, server.url);
    let vasily = Browser::start().await?;
    let petr = Browser::start().await?;

    // Vasily typed "localhost" — the most natural thing to type — and starts a room.
    vasily.register_at(&local, "vasily", "Василий").await?;
    let room = vasily.create_room_at(&local).await?;
    assert_eq!(room.host_str(), Some("localhost"));
    // The socket is admitted: a message goes out and comes back in the room's order.
    vasily.fill("Message", "привет из localhost").await?;
    vasily.click_button("Send").await?;
    vasily
        .wait_text_in(".chat-log .msg", "привет из localhost")
        .await?;

    // Petr follows the link as Kino shares it (the printed address, 127.0.0.1).
    petr.register(&server, "petr", "Пётр").await?;
    petr.goto(&format!("{}{}", server.url, room.path())).await?;
    petr.wait_hydrated().await?;
    petr.wait_text_in(".chat-log .msg", "привет из localhost")
        .await?;
    petr.fill("Message", "и тебе").await?;
    petr.click_button("Send").await?;
    vasily.wait_text_in(".chat-log", "и тебе").await?;
    let state = vasily.client.find_all(Locator::Css(".link-state")).await?;
    assert!(state.is_empty(), "no 'Reconnecting…' at localhost");

    vasily.close().await?;
    petr.close().await
}

#[tokio::test]
async fn the_headers_log_in_returns_to_the_page_it_was_pressed_on() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    browser.register(&server, "masha", "Маша").await?;
    browser.click_button("Log out").await?;
    browser.wait_text_in("header", "Log in").await?;

    let film = format!("{}/films/nosferatu-1922?from=home", server.url);
    browser.goto(&film).await?;
    browser.wait_hydrated().await?;
    let login = browser
        .client
        .find(Locator::Css("header .user-menu a[href^='/login']"))
        .await?;
    login.click().await?;
    browser.wait_path("/login").await?;
    browser.wait_hydrated().await?;
    browser.fill("Username", "masha").await?;
    browser.fill("Password", PASSWORD).await?;
    browser.click_button("Log in").await?;
    browser.wait_path("/films/nosferatu-1922").await?;
    let url = browser.client.current_url().await?;
    assert_eq!(url.query(), Some("from=home"));
    browser.wait_text_in("header", "Маша").await?;
    browser.close().await
}

#[tokio::test]
async fn control_icons_are_drawn_not_emoji() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    browser.register(&server, "vasily", "Василий").await?;
    browser.create_room_at(&server.url).await?;

    for label in ["Play", "Mute", "Full screen"] {
        let button = browser.labelled(label).await?;
        assert!(
            button.find(Locator::Css("svg.icon path")).await.is_ok(),
            "{label} draws its icon"
        );
        assert_eq!(
            button.text().await?.trim(),
            "",
            "{label} shows no character"
        );
    }
    // Pressing play swaps the drawing and the name together.
    browser.labelled("Play").await?.click().await?;
    let pause = browser.labelled("Pause").await?;
    assert!(pause.find(Locator::Css("svg.icon")).await.is_ok());

    let bell = browser.client.find(Locator::Css("header .bell")).await?;
    assert!(bell.find(Locator::Css("svg.icon")).await.is_ok());
    assert!(!bell.text().await?.contains('🔔'));
    browser.close().await
}

#[tokio::test]
async fn friend_search_shows_people_as_you_type() -> Result {
    let server = Server::start().await?;
    let petr = Browser::start().await?;
    let masha = Browser::start().await?;
    petr.register(&server, "petr", "Пётр Ильич").await?;
    masha.register(&server, "masha", "Маша").await?;

    masha.goto(&format!("{}/friends", server.url)).await?;
    masha.wait_hydrated().await?;
    // Typed, never submitted: no "Search" pressed, no Enter.
    masha.field("Find friends").await?.send_keys("пётр").await?;
    masha.wait_text_in(".people", "Add friend").await?;
    masha.wait_text_in(".people", "Пётр Ильич").await?;
    let url = masha.client.current_url().await?;
    assert_eq!(
        url.query(),
        Some("q=%D0%BF%D1%91%D1%82%D1%80"),
        "the search is in the address"
    );

    petr.close().await?;
    masha.close().await
}

/// How far the page reaches past the right edge of the window, in CSS pixels.
async fn overflow(browser: &Browser) -> Result<f64> {
    let reach = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await?;
    Ok(reach.as_f64().unwrap_or(f64::MAX))
}

#[tokio::test]
async fn nothing_runs_off_a_phone_sized_screen() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    browser.client.set_window_size(390, 844).await?;
    browser
        .register(&server, "konstantin", "Константин Константинопольский")
        .await?;
    browser.click_button("RU").await?;
    for path in ["/", "/films", "/friends", "/films/metropolis-1927"] {
        browser.goto(&format!("{}{path}", server.url)).await?;
        browser.wait_hydrated().await?;
        assert!(
            overflow(&browser).await? <= 0.0,
            "{path} is wider than the phone"
        );
    }
    browser.click_button("Смотреть вместе").await?;
    browser.click_button("Создать комнату").await?;
    browser.wait_path_prefix("/r/").await?;
    browser.wait_hydrated().await?;
    browser.labelled("Громкость").await?;
    assert!(
        overflow(&browser).await? <= 0.0,
        "the room is wider than the phone"
    );
    browser.close().await
}

#[tokio::test]
async fn a_room_whose_socket_is_refused_says_why_instead_of_reconnecting() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    browser.register(&server, "vasily", "Василий").await?;
    browser.create_room_at(&server.url).await?;
    let room_tab = browser.client.window().await?;

    // Logging out in another tab ends the session the room's socket was opened in.
    let other = browser.client.new_window(true).await?;
    browser.client.switch_to_window(other.handle).await?;
    browser.goto(&server.url).await?;
    browser.wait_hydrated().await?;
    browser.click_button("Log out").await?;
    browser.wait_text_in("header", "Log in").await?;

    browser.client.switch_to_window(room_tab).await?;
    browser
        .wait_text_in(
            ".chat",
            "You are signed out. Log in again to come back to this room.",
        )
        .await?;
    browser.close().await
}
