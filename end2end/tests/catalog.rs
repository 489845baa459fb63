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

/// Two likes turn Home's "Popular" list into "For you", each film with the liked film it comes
/// from; "Not interested" takes a card away at once and "Undo" brings it back.
#[tokio::test]
async fn two_likes_make_for_you_with_reasons_and_not_interested_removes_a_card() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    browser.register(&server, "lena", "Лена").await?;
    browser.goto(&format!("{}/", server.url)).await?;
    browser.wait_hydrated().await?;
    let heading = || async {
        let h = browser.client.find(Locator::Css("#recs-title")).await?;
        Result::<String>::Ok(h.text().await?)
    };
    assert_ne!(heading().await?, "For you", "nothing liked yet");

    for film in ["nosferatu-1922", "the-cabinet-of-dr-caligari-1920"] {
        browser
            .goto(&format!("{}/films/{film}", server.url))
            .await?;
        browser.wait_hydrated().await?;
        let like = "//button[starts-with(normalize-space(.), 'Like')]";
        browser
            .client
            .find(Locator::XPath(like))
            .await?
            .click()
            .await?;
        browser
            .wait_js(
                "[...document.querySelectorAll('button.reaction')].some(b => \
                 b.textContent.trim().startsWith('Like') && b.getAttribute('aria-pressed') === 'true')",
                Duration::from_secs(10),
            )
            .await?;
    }

    browser.goto(&format!("{}/", server.url)).await?;
    browser.wait_hydrated().await?;
    assert_eq!(heading().await?, "For you");
    let reason = browser
        .client
        .find(Locator::Css(".recommendation .reason"))
        .await?
        .text()
        .await?;
    assert!(
        ["Nosferatu", "Caligari"].iter().any(|t| reason.contains(t))
            && reason.starts_with("Because you liked "),
        "the reason names a liked film: {reason:?}"
    );
    let cards = ".recommendation a[href^='/films/']";
    let before = browser.client.find_all(Locator::Css(cards)).await?.len();
    assert!(before >= 3, "several films: {before}");
    let first = browser
        .client
        .find(Locator::Css(cards))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    browser.click_button("Not interested").await?;
    browser
        .wait_js(
            &format!(
                "document.querySelectorAll('.recommendation .removed').length === 1 && \
                 document.querySelectorAll(\"{cards}\").length === {}",
                before - 1
            ),
            Duration::from_secs(10),
        )
        .await?;
    let gone = browser
        .client
        .find(Locator::Css(".recommendation .removed"))
        .await?
        .text()
        .await?;
    assert!(
        gone.ends_with("will not be recommended to you."),
        "{gone:?}"
    );
    assert!(
        browser
            .client
            .find(Locator::Css(&format!(".recommendation a[href='{first}']")))
            .await
            .is_err(),
        "the card is gone"
    );
    browser.click_button("Undo").await?;
    browser
        .wait_js(
            &format!(
                "document.querySelectorAll('.recommendation .removed').length === 0 && \
                 document.querySelector(\".recommendation a[href='{first}']\") !== null"
            ),
            Duration::from_secs(10),
        )
        .await?;
    Ok(())
}
