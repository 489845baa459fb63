//! Finding a film, keeping it in "Want to watch" and picking it up where one stopped, in a real
//! browser against the release build.

use end2end::{Browser, Result, Server};
use fantoccini::Locator;
use std::time::{Duration, Instant};

#[tokio::test]
async fn search_in_cyrillic_want_to_watch_play_and_continue() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;

    browser.goto(&format!("{}/register", server.url)).await?;
    browser.wait_hydrated().await?;
    browser.fill("Username", "masha").await?;
    browser.fill("Display name", "Маша").await?;
    browser.fill("Password", "немое кино 1927").await?;
    browser.click_button("Register").await?;
    browser.wait_text_in("header", "Маша").await?;

    browser.goto(&format!("{}/films", server.url)).await?;
    browser.wait_hydrated().await?;
    browser.fill("Search", "метрополис").await?;
    browser.click_button("Show").await?;
    browser.wait_text_in("main", "Films found: 1").await?;
    let url = browser.client.current_url().await?;
    assert_eq!(
        url.query(),
        Some("q=%D0%BC%D0%B5%D1%82%D1%80%D0%BE%D0%BF%D0%BE%D0%BB%D0%B8%D1%81"),
        "the search is in the URL, to share"
    );

    browser
        .client
        .find(Locator::Css("a[href='/films/metropolis-1927']"))
        .await?
        .click()
        .await?;
    browser.wait_path("/films/metropolis-1927").await?;
    browser.wait_text_in("main", "Metropolis").await?;
    browser.wait_text_in(".watchlist-link", "0").await?;

    let want = browser
        .client
        .find(Locator::XPath("//button[contains(., 'Want to watch')]"))
        .await?;
    assert_eq!(want.attr("aria-pressed").await?.as_deref(), Some("false"));
    want.click().await?;
    browser.wait_text_in(".watchlist-link", "1").await?;
    let want = browser
        .client
        .find(Locator::XPath("//button[contains(., 'Want to watch')]"))
        .await?;
    assert_eq!(want.attr("aria-pressed").await?.as_deref(), Some("true"));

    // Play the demo video for two seconds.
    browser
        .client
        .execute("document.querySelector('video').play()", vec![])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let t = browser
            .client
            .execute("return document.querySelector('video').currentTime", vec![])
            .await?
            .as_f64()
            .unwrap_or(0.0);
        if t >= 2.0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the video did not play: currentTime {t}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.client.refresh().await?;
    browser.wait_hydrated().await?;
    // Its play icon is drawn (an inline SVG), not a character.
    let button = browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//button[*[local-name()='svg'] and starts-with(normalize-space(.), 'Continue from 0:0')]",
        ))
        .await?;
    // It takes the video to where it stopped.
    button.click().await?;
    let t = browser
        .client
        .execute("return document.querySelector('video').currentTime", vec![])
        .await?
        .as_f64()
        .unwrap_or(0.0);
    assert!(t >= 1.0, "continued from the saved place, at {t}");
    browser.close().await
}
