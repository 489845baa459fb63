//! Three people in one room (issue 6): Vasily pauses and the others are paused at his frame
//! within a second; Petr seeks and everyone is there (and Vasily's J key takes them all back); Vasily's "hello" is read by Masha, who
//! comes later; Petr's reload puts him back in sync. And choosing together (issue 22): a queue,
//! votes, a majority's skip and the next film starting for all three at once — real Chromium,
//! the release build.

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
    browser.room_video().await
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

/// Which film this browser's room video plays (its source's file name), if any.
async fn playing_file(browser: &Browser) -> Result<String> {
    let src = browser
        .client
        .execute(
            "const v = document.querySelector('video.room-video');
             return v ? (v.currentSrc || '') : '';",
            vec![],
        )
        .await?;
    Ok(src.as_str().unwrap_or_default().to_owned())
}

/// The vote count shown on the queue entry for `title`.
async fn votes_shown(browser: &Browser, title: &str) -> Result<Option<i64>> {
    let count = browser
        .client
        .execute(
            "const b = document.querySelector(`button[aria-label=\"Vote for ${arguments[0]}\"]`);
             return b ? b.querySelector('.vote-count').textContent : null;",
            vec![serde_json::json!(title)],
        )
        .await?;
    Ok(count.as_str().and_then(|c| c.trim().parse().ok()))
}

#[tokio::test]
async fn three_people_queue_vote_skip_and_move_to_the_next_film_as_one() -> Result {
    let server = Server::start().await?;
    let vasily = person(&server, "vasily", "Василий").await?;
    let petr = person(&server, "petr", "Пётр").await?;
    let masha = person(&server, "masha", "Маша").await?;
    let room = vasily.create_room_at(&server.url).await?.to_string();
    settled(&vasily).await?;
    for b in [&petr, &masha] {
        b.goto(&room).await?;
        b.wait_hydrated().await?;
        settled(b).await?;
    }
    vasily.wait_text_in(".chat-log", "Маша joined").await?;

    // Vasily adds two films from "Find a film".
    vasily
        .wait_for("//summary[normalize-space(.)='Add to queue']")
        .await?
        .click()
        .await?;
    for (search, choice) in [
        ("Nosferatu", "Nosferatu (1922)"),
        ("General", "The General (1926)"),
    ] {
        vasily.fill("Find a film", search).await?;
        vasily.click_button(choice).await?;
        vasily
            .wait_text_in(
                ".chat-log",
                &format!("Василий added {} to the queue", &choice[..choice.len() - 7]),
            )
            .await?;
    }
    // Petr and Masha vote for the second; everyone sees its two votes.
    for b in [&petr, &masha] {
        b.labelled("Vote for The General").await?.click().await?;
    }
    for b in [&vasily, &petr, &masha] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while votes_shown(b, "The General").await? != Some(2) {
            if Instant::now() > deadline {
                return Err("the two votes never showed".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Vasily plays Metropolis; Petr and Masha — a majority of three — skip it.
    vasily.labelled("Play").await?.click().await?;
    until(&vasily, Duration::from_secs(5), "playing", |paused, p| {
        !paused && p > 0.3
    })
    .await?;
    for b in [&petr, &masha] {
        b.wait_for("//button[contains(@class, 'skip') and @aria-pressed='false']")
            .await?
            .click()
            .await?;
        b.wait_for("//button[contains(@class, 'skip') and @aria-pressed='true'] | //li[contains(@class, 'now-playing')]")
            .await?;
    }
    // The General (the most votes) starts for all three, from its beginning, together.
    for b in [&vasily, &petr, &masha] {
        b.wait_text_in(".chat-log", "Now playing: The General")
            .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !playing_file(b).await?.contains("the-general-1926") {
            if Instant::now() > deadline {
                return Err("the next film never loaded".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        until(
            b,
            Duration::from_secs(10),
            "the next film plays",
            |paused, p| !paused && p > 0.2,
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, _, now) = video(&vasily).await?;
    let v = position_at(&vasily, now).await?;
    let p = position_at(&petr, now).await?;
    let m = position_at(&masha, now).await?;
    assert!(
        (v - p).abs() <= 0.1 && (v - m).abs() <= 0.1,
        "after the switch: Vasily {v:.3}, Petr {p:.3}, Masha {m:.3}"
    );
    assert!(v < 10.0, "The General started from its beginning: {v:.3}");
    // Metropolis is in "Watched here"; the queue keeps Nosferatu.
    for b in [&vasily, &petr, &masha] {
        b.wait_text_in(".watched-here", "Metropolis").await?;
        b.labelled("Vote for Nosferatu").await?;
    }

    vasily.close().await?;
    petr.close().await?;
    masha.close().await
}
