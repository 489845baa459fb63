//! A room from a video link (issue 15) in real Chromium against the release build: Boris makes
//! a room from a link through "New room"; while Kino downloads and prepares the video, he and
//! Anna both see "Preparing the video… N %"; then it plays for both, in sync.

use end2end::{Browser, Result, Server};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The test's own "internet" on loopback: one file, of which the first half is sent at once and
/// the rest only when `release` is notified — a slow link whose pace the test decides, so the
/// room is certainly still preparing while both people look.
async fn gated_file_server(
    bytes: Vec<u8>,
    release: tokio::sync::watch::Receiver<bool>,
) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/summer.mp4", listener.local_addr()?);
    tokio::spawn(async move {
        let bytes = std::sync::Arc::new(bytes);
        while let Ok((mut stream, _)) = listener.accept().await {
            let (bytes, mut release) = (bytes.clone(), release.clone());
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    bytes.len()
                );
                let half = bytes.len() / 2;
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&bytes[..half]).await;
                let _ = stream.flush().await;
                let _ = release.wait_for(|go| *go).await;
                let _ = stream.write_all(&bytes[half..]).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(url)
}

/// (position in s, the machine's clock in ms when read) of the room's video, if it plays.
async fn playing_at(browser: &Browser) -> Result<Option<(f64, f64)>> {
    let v = browser
        .client
        .execute(
            "const v = document.querySelector('video.room-video');
             if (!v || v.paused) return null;
             return [v.currentTime, performance.timeOrigin + performance.now()];",
            vec![],
        )
        .await?;
    Ok(v.as_array()
        .map(|v| (v[0].as_f64().unwrap_or(-1.0), v[1].as_f64().unwrap_or(0.0))))
}

#[tokio::test]
async fn a_room_from_a_link_prepares_the_video_then_plays_it_for_both_in_sync() -> Result {
    let dir = tempfile::tempdir()?;
    let (release, gate) = tokio::sync::watch::channel(false);
    let clip = end2end::test_clip(dir.path(), "summer.mp4", "640x360", 8)?;
    let link = gated_file_server(std::fs::read(clip)?, gate).await?;
    let server = Server::start_with(&[
        "--import-allow-private".into(),
        "--vp9-speed".into(),
        "fast".into(),
    ])
    .await?;
    let anna = Browser::start().await?;
    anna.register(&server, "anna", "Anna").await?;
    let boris = Browser::start().await?;
    boris.register(&server, "boris", "Борис").await?;

    // Boris (not an admin) makes a room from a link on "New room".
    boris.link("New room").await?.click().await?;
    boris.wait_path("/rooms/new").await?;
    boris.wait_hydrated().await?;
    boris.field("Video URL").await?.click().await?;
    boris.fill("Link to the video (https://…)", &link).await?;
    boris.fill("Title (optional)", "Лето").await?;
    boris.click_button("Create room").await?;
    let room = boris.wait_path_prefix("/r/").await?;

    // Both see the video being prepared, the download half done, in the room named after it.
    anna.goto(room.as_str()).await?;
    anna.wait_hydrated().await?;
    for who in [&boris, &anna] {
        who.wait_text_in(".room-head", "Лето").await?;
        who.wait_js(
            "[...document.querySelectorAll('[role=status]')].some(s => \
               /^Preparing the video… [1-9][0-9]? %$/.test(s.textContent.trim()))",
            Duration::from_secs(20),
        )
        .await?;
    }

    // The rest arrives: within a while the video plays, for both.
    release.send(true)?;
    for who in [&boris, &anna] {
        who.wait_js(
            "(() => { const v = document.querySelector('video.room-video'); \
               return v && v.readyState >= 1; })()",
            Duration::from_secs(120),
        )
        .await?;
    }
    boris.labelled("Play").await?.click().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let (Some((b, b_at)), Some((a, a_at))) =
            (playing_at(&boris).await?, playing_at(&anna).await?)
        {
            // Every browser runs on this machine: one clock, so the positions compare.
            let gap = (b + (a_at - b_at) / 1000.0 - a).abs();
            if b > 0.5 && a > 0.5 && gap < 0.25 {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err("the video did not play in sync for both within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anna.close().await?;
    boris.close().await?;
    Ok(())
}
