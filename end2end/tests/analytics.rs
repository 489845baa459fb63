//! The admin's "Analytics" page in a real browser against the release build: what one person
//! did (pages, a few seconds of a film) shows up as figures, in the chart and in the tables,
//! and the chart still says its numbers to someone who cannot see it.

use end2end::{Browser, Result, Server};
use fantoccini::Locator;
use std::time::Duration;

#[tokio::test]
async fn an_admin_sees_what_people_did_today() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;
    // The first account is the admin.
    browser.register(&server, "boss", "Boss").await?;

    // A film page, and a few seconds of its video.
    browser
        .goto(&format!("{}/films/metropolis-1927", server.url))
        .await?;
    browser.wait_hydrated().await?;
    browser
        .client
        .execute("document.querySelector('video').play()", vec![])
        .await?;
    browser
        .wait_js(
            "document.querySelector('video').currentTime > 2.5",
            Duration::from_secs(15),
        )
        .await?;

    browser.link("Analytics").await?.click().await?;
    browser.wait_path("/admin/analytics").await?;
    browser.wait_hydrated().await?;
    // Page views reach the database within a second: recompute until the film page is there.
    let mut counted = false;
    for _ in 0..20 {
        browser.click_button("Recompute now").await?;
        let found = browser
            .wait_js(
                "[...document.querySelectorAll('table.data code')].some(c => c.textContent === '/films/{id}')",
                Duration::from_millis(1500),
            )
            .await;
        if found.is_ok() {
            counted = true;
            break;
        }
    }
    assert!(counted, "the film page's view is counted");

    // One active person today; Metropolis in the films table with its link.
    let active = browser
        .wait_for("//div[@class='figure'][dt[normalize-space(.)='Active in the range']]/dd")
        .await?;
    assert_eq!(active.text().await?, "1");
    browser
        .wait_for("//table//a[@href='/films/metropolis-1927'][normalize-space(.)='Metropolis']")
        .await?;
    // Each day of the chart is focusable and says its numbers.
    let days = browser.client.find_all(Locator::Css("svg g.day")).await?;
    assert_eq!(days.len(), 7, "the last 7 days");
    let today = days.last().expect("today").attr("aria-label").await?;
    let today = today.unwrap_or_default();
    assert!(today.ends_with(": 1 active, 0 views"), "{today}");
    assert_eq!(
        days.last()
            .expect("today")
            .attr("tabindex")
            .await?
            .as_deref(),
        Some("0")
    );

    // The films table sorts by title through its header link.
    browser.link("Film").await?.click().await?;
    browser
        .wait_js(
            "location.search.includes('sort=title')",
            Duration::from_secs(5),
        )
        .await?;
    if let Ok(dir) = std::env::var("KINO_SCREENSHOT_DIR") {
        let png = browser.client.screenshot().await?;
        std::fs::write(std::path::Path::new(&dir).join("analytics.png"), png)?;
    }
    browser.close().await
}
