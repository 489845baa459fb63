//! Three people in one room (issue 6): Vasily pauses and the others are paused at his frame
//! within a second; Petr seeks and everyone is there (and Vasily's J key takes them all back); Vasily's "hello" is read by Masha, who
//! comes later; Petr's reload puts him back in sync — real Chromium, the release build.

use end2end::{Browser, Result, Server};
use fantoccini::Locator;
use std::time::{Duration, Instant};

/// Registers someone and returns their browser, signed in.
async fn person(server: &Server, username: &str, name: &str) -> Result<Browser> {
    let browser = Browser::start().await?;
    browser.register(server, username, name).await?;
    Ok(browser)
}

/// The room's video in this browser: (paused, position in s, the machine's clock in ms when read).
/// Every browser runs on this machine, so their clocks are one clock.
async fn video(browser: &Browser) -> Result<(bool, f64, f64)> {
    let v = browser
        .client
        .execute(
            "const v = document.querySelector('video.room-video');
             if (!v) return null;
             return [v.paused, v.currentTime, performance.timeOrigin + performance.now()];",
            vec![],
        )
        .await?;
    let v = v.as_array().ok_or("no video in the room")?;
    Ok((
        v[0].as_bool().unwrap_or(true),
        v[1].as_f64().unwrap_or(-1.0),
        v[2].as_f64().unwrap_or(0.0),
    ))
}

/// Where the video is at the machine's time `at` (a playing video moves on at speed 1).
async fn position_at(browser: &Browser, at: f64) -> Result<f64> {
    let (paused, position, read_at) = video(browser).await?;
    Ok(if paused {
        position
    } else {
        position + (at - read_at) / 1000.0
    })
}

/// Waits until `check` holds for this browser's video.
async fn until(
    browser: &Browser,
    within: Duration,
    what: &str,
    check: impl Fn(bool, f64) -> bool,
) -> Result<(bool, f64)> {
    let deadline = Instant::now() + within;
    loop {
        let (paused, position, _) = video(browser).await?;
        if check(paused, position) {
            return Ok((paused, position));
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: still paused={paused} at {position:.3} s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the player is in step with the room: the clock measured and the element ready.
async fn settled(browser: &Browser) -> Result {
    browser.labelled("Seek").await?;
    until(browser, Duration::from_secs(15), "video ready", |_, p| {
        p >= 0.0
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn three_people_play_pause_seek_and_talk_as_one() -> Result {
    let server = Server::start().await?;
    let vasily = person(&server, "vasily", "Василий").await?;
    let petr = person(&server, "petr", "Пётр").await?;
    let masha = person(&server, "masha", "Маша").await?;

    // Vasily opens a public room for Metropolis.
    let room = vasily.create_room_at(&server.url).await?.to_string();
    settled(&vasily).await?;

    // Petr follows the link; the room is paused at the start for both.
    petr.goto(&room).await?;
    petr.wait_hydrated().await?;
    settled(&petr).await?;
    vasily.wait_text_in(".chat-log", "Пётр joined").await?;

    // Vasily presses play: both play.
    vasily.labelled("Play").await?.click().await?;
    for b in [&vasily, &petr] {
        until(b, Duration::from_secs(5), "playing", |paused, p| {
            !paused && p > 0.5
        })
        .await?;
    }
    vasily.labelled("Pause").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Vasily pauses: within a second Petr is paused too, within 0.1 s of Vasily's frame.
    vasily.labelled("Pause").await?.click().await?;
    let pressed = Instant::now();
    let (_, at_petr) = until(
        &petr,
        Duration::from_secs(1),
        "paused within 1 s",
        |paused, _| paused,
    )
    .await?;
    assert!(pressed.elapsed() <= Duration::from_secs(1));
    // Paused players settle on the room's frame (a paused player more than 40 ms off is moved).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (v_paused, at_vasily, _) = video(&vasily).await?;
    let (p_paused, at_petr_now, _) = video(&petr).await?;
    assert!(v_paused && p_paused);
    assert!(
        (at_vasily - at_petr_now).abs() <= 0.1,
        "paused at {at_vasily:.3} and {at_petr_now:.3} (first seen paused at {at_petr:.3})"
    );
    vasily
        .client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::XPath(
            "//ol[contains(@class, 'chat-log')]/li[starts-with(normalize-space(.), 'Василий paused at 0:0')]",
        ))
        .await?;

    // Petr seeks to 0:30: everyone is there.
    let seek = petr.labelled("Seek").await?;
    petr.client
        .execute(
            "const s = arguments[0]; s.value = '30';
             s.dispatchEvent(new Event('input', { bubbles: true }));
             s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![serde_json::to_value(&seek)?],
        )
        .await?;
    for b in [&vasily, &petr] {
        until(b, Duration::from_secs(5), "at 0:30", |paused, p| {
            paused && (p - 30.0).abs() <= 0.1
        })
        .await?;
    }
    petr.wait_text_in(".chat-log", "Пётр jumped to 0:30")
        .await?;

    // Vasily says hello; Masha, coming later, reads it — and is at 0:30 too.
    vasily.fill("Message", "hello").await?;
    vasily.click_button("Send").await?;
    vasily.wait_text_in(".chat-log .msg", "hello").await?;
    masha.goto(&room).await?;
    masha.wait_hydrated().await?;
    masha.wait_text_in(".chat-log .msg", "hello").await?;
    masha
        .wait_text_in(".chat-log", "Пётр jumped to 0:30")
        .await?;
    settled(&masha).await?;
    until(
        &masha,
        Duration::from_secs(5),
        "late joiner at 0:30",
        |paused, p| paused && (p - 30.0).abs() <= 0.1,
    )
    .await?;

    // The keyboard: J twice is 20 s back, for everyone (the demo film is only 40 s long).
    for _ in 0..2 {
        vasily
            .client
            .execute(
                "document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'j', bubbles: true }));",
                vec![],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for b in [&vasily, &petr, &masha] {
        until(b, Duration::from_secs(5), "at 0:10", |paused, p| {
            paused && (p - 10.0).abs() <= 0.1
        })
        .await?;
    }

    // Playing again; Petr reloads and is back in step with the others.
    masha.labelled("Play").await?.click().await?;
    for b in [&vasily, &petr, &masha] {
        until(b, Duration::from_secs(5), "playing", |paused, p| {
            !paused && p > 10.2
        })
        .await?;
    }
    petr.client.refresh().await?;
    petr.wait_hydrated().await?;
    settled(&petr).await?;
    until(
        &petr,
        Duration::from_secs(5),
        "playing after reload",
        |paused, _| !paused,
    )
    .await?;
    // Give the drift loop a moment after the first seek, then compare at one instant.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, _, now) = video(&vasily).await?;
    let v = position_at(&vasily, now).await?;
    let p = position_at(&petr, now).await?;
    let m = position_at(&masha, now).await?;
    assert!(
        (v - p).abs() <= 0.1 && (v - m).abs() <= 0.1,
        "after Petr's reload: Vasily {v:.3}, Petr {p:.3}, Masha {m:.3}"
    );

    vasily.close().await?;
    petr.close().await?;
    masha.close().await
}
