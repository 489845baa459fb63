//! The media library in a real browser against the release build: the instance's first account
//! uploads a film through "Add a film", watches the upload's and the jobs' progress, and then
//! plays it at the quality and with the subtitles it picks.

use end2end::{Browser, Result, Server};
use fantoccini::Locator;
use std::time::Duration;

#[tokio::test]
async fn an_admin_uploads_a_film_and_watches_it_at_a_chosen_quality_with_subtitles() -> Result {
    let server = Server::start_with(&["--vp9-speed".into(), "fast".into()]).await?;
    let browser = Browser::start().await?;
    let dir = tempfile::tempdir()?;
    let video = end2end::test_clip(dir.path(), "test-card.mp4", "1280x720", 3)?;

    // The first account of the instance is its admin; its header has "Library".
    browser.goto(&format!("{}/register", server.url)).await?;
    browser.wait_hydrated().await?;
    browser
        .wait_text_in("main", "Nobody has an account here yet: this one will be the instance's admin (it can add films to the library).")
        .await?;
    browser.register(&server, "anna", "Anna").await?;
    browser.link("Library").await?.click().await?;
    browser.wait_path("/library").await?;
    browser.link("Add a film").await?.click().await?;
    browser.wait_path("/library/new").await?;
    browser.wait_hydrated().await?;

    // Choosing the file starts the upload; its progress bar shows, then "Uploaded".
    browser
        .field("Video file")
        .await?
        .send_keys(&video.display().to_string())
        .await?;
    browser
        .wait_text_in("main", "Uploaded: test-card.mp4")
        .await?;
    browser.fill("Title (English)", "Test Card").await?;
    browser.fill("Title (Russian)", "Тестовая таблица").await?;
    browser.fill("Year", "2026").await?;
    browser.click_button("Save").await?;
    browser.wait_path("/library").await?;

    // The library shows the jobs moving until the film is in the catalog.
    browser.wait_text_in("main", "Test Card").await?;
    browser
        .wait_js(
            "document.querySelectorAll('.library-film [role=progressbar]').length >= 4",
            Duration::from_secs(20),
        )
        .await?;
    browser.wait_js("[...document.querySelectorAll('.chip')].some(c => c.textContent.trim() === 'In the catalog') \
         && ![...document.querySelectorAll('.job td:nth-child(2)')].some(td => /Waiting|Running/.test(td.textContent))",
        Duration::from_secs(180),
    )
    .await?;

    // Subtitles from the edit page (a Russian .srt in CP1251).
    browser
        .goto(&format!("{}/films/test-card-2026/edit", server.url))
        .await?;
    browser.wait_hydrated().await?;
    let srt = dir.path().join("ru.srt");
    std::fs::write(
        &srt,
        cp1251("1\r\n00:00:00,000 --> 00:00:02,500\r\nПривет, кино!\r\n\r\n"),
    )?;
    browser
        .client
        .find(Locator::Css("#subtitles-lang"))
        .await?
        .select_by_value("ru")
        .await?;
    browser
        .field("Subtitles file (.srt or .vtt)")
        .await?
        .send_keys(&srt.display().to_string())
        .await?;
    browser.wait_text_in("main", "Russian").await?;

    // The film page plays it: the quality menu offers both heights, subtitles show the cue.
    browser
        .goto(&format!("{}/films/test-card-2026", server.url))
        .await?;
    browser.wait_hydrated().await?;
    let options = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#quality option')].map(o => o.textContent.trim());",
            vec![],
        )
        .await?;
    let options: Vec<String> = serde_json::from_value(options)?;
    assert!(
        options.first().is_some_and(|o| o.starts_with("Auto")),
        "Auto comes first: {options:?}"
    );
    for wanted in ["720p", "480p"] {
        assert!(
            options.iter().any(|o| o == wanted),
            "{wanted} in {options:?}"
        );
    }
    // The scenes bar under the film page's player shows the frame under the pointer.
    browser.wait_js("(() => { const bar = document.querySelector('.scenes input.seek'); if (!bar || bar.max < 2) return false; \
           const r = bar.getBoundingClientRect(); \
           bar.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + r.width * 0.5, clientY: r.top + r.height / 2 })); \
           const frame = document.querySelector('.scenes .seek-preview .seek-frame'); \
           return frame && frame.style.background.includes('sprite-0.jpg'); })()",
        Duration::from_secs(15),
    )
    .await?;
    // Choosing a height plays that height (and is remembered for the next film).
    browser
        .client
        .find(Locator::Css("#quality"))
        .await?
        .select_by_value("480")
        .await?;
    browser
        .wait_js(
            "document.querySelector('video').currentSrc.includes('/480p-') \
         && localStorage.getItem('kino.quality') === '480'",
            Duration::from_secs(10),
        )
        .await?;
    browser
        .client
        .find(Locator::Css("#subtitles-choice"))
        .await?
        .select_by_value("ru")
        .await?;
    browser
        .client
        .execute(
            "const v = document.querySelector('video'); v.muted = true; v.play();",
            vec![],
        )
        .await?;
    browser
        .wait_js(
            "(() => { const t = document.querySelector('video').textTracks[0]; \
           return t && t.mode === 'showing' && t.activeCues && t.activeCues.length > 0 \
             && t.activeCues[0].text === 'Привет, кино!'; })()",
            Duration::from_secs(10),
        )
        .await?;

    // In a room for the film, the seek bar shows the frame under the pointer.
    browser.click_button("Watch together").await?;
    browser.click_button("Create room").await?;
    browser.wait_path_prefix("/r/").await?;
    browser.wait_hydrated().await?;
    browser.wait_js("(() => { const bar = document.querySelector('input.seek'); if (!bar || bar.max < 2) return false; \
           const r = bar.getBoundingClientRect(); \
           bar.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2 })); \
           const frame = document.querySelector('.seek-preview .seek-frame'); \
           return frame && frame.style.background.includes('sprite-0.jpg'); })()",
        Duration::from_secs(15),
    )
    .await?;
    browser.close().await?;
    Ok(())
}

/// `text` in Windows-1251 (the charset of many Russian .srt files), encoded by hand so the test
/// needs no encoding crate: Cyrillic А..я map to 0xC0..0xFF, Ё/ё to 0xA8/0xB8.
fn cp1251(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for c in text.chars() {
        let byte = match c {
            'А'..='я' => (c as u32 - 'А' as u32 + 0xC0) as u8,
            'Ё' => 0xA8,
            'ё' => 0xB8,
            c if c.is_ascii() => c as u8,
            _ => b'?',
        };
        out.push(byte);
    }
    out
}
