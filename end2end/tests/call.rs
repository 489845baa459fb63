//! The room's voice and camera call (issue 16) in real Chromium with fake devices: Anna turns
//! her microphone on and Boris receives her voice; she turns it off and Boris sees it at once
//! and hears nothing more; her camera on, Boris decodes her video in her tile; off, the video
//! goes — and while she talks, Boris's film is lowered. When Boris's connection to the room
//! drops, his page joins the call again by itself.
//!
//! Chromium never offers a 127.0.0.1 ICE candidate, so this test runs only inside a network
//! namespace of its own with a local address (`scripts/in-netns.sh`, which sets
//! `KINO_CALL_NETNS` to that address): `bash scripts/in-netns.sh cargo test -p end2end --test call`.
//! Elsewhere it says so and passes without doing anything.

use end2end::{xpath_literal, Browser, Result, Server};
use fantoccini::Locator;
use std::time::{Duration, Instant};

/// Records every peer connection the page uses (the call's are the app's own, inside its WASM):
/// each one calls `setRemoteDescription` — the subscribe connection at every offer — so patching
/// the prototype finds the existing connections too, at their next negotiation.
const WATCH_CONNECTIONS: &str = "
    if (!window.__pcs) {
        window.__pcs = new Set();
        const set = RTCPeerConnection.prototype.setRemoteDescription;
        RTCPeerConnection.prototype.setRemoteDescription = function (...args) {
            window.__pcs.add(this);
            window.__sdps = (window.__sdps || []).concat([args[0] && args[0].sdp]);
            return set.apply(this, args);
        };
        const data = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data');
        window.__said = [];
        Object.defineProperty(MessageEvent.prototype, 'data', { get() {
            const d = data.get.call(this);
            if (this.target instanceof WebSocket) window.__ws = this.target;
            if (typeof d === 'string' && d.includes('call_')) window.__said.push(performance.now().toFixed(0) + ' ' + d.slice(0, 160));
            return d;
        } });
    }";

/// Sums a field of the page's inbound RTP streams of one kind (`totalAudioEnergy`,
/// `framesDecoded`) over every connection seen.
async fn inbound(browser: &Browser, kind: &str, field: &str) -> Result<f64> {
    let value = browser
        .client
        .execute_async(
            "const [kind, field, done] = arguments;
             (async () => {
                 let sum = 0;
                 for (const pc of (window.__pcs || [])) {
                     if (pc.connectionState === 'closed') continue;
                     (await pc.getStats()).forEach(r => {
                         if (r.type === 'inbound-rtp' && r.kind === kind) sum += r[field] || 0;
                     });
                 }
                 return sum;
             })().then(done, () => done(-1));",
            vec![kind.into(), field.into()],
        )
        .await?;
    Ok(value.as_f64().unwrap_or(-1.0))
}

/// The page's peer connections and their inbound streams, for a failure's message.
async fn connections(browser: &Browser) -> String {
    let described = browser
        .client
        .execute_async(
            "const done = arguments[0];
             (async () => {
                 const out = [];
                 for (const pc of (window.__pcs || [])) {
                     const rtp = [];
                     (await pc.getStats()).forEach(r => {
                         if (r.type === 'inbound-rtp') rtp.push(`${r.kind}: ${r.packetsReceived} packets, energy ${r.totalAudioEnergy}, frames ${r.framesDecoded}`);
                     });
                     out.push(`${pc.connectionState}/${pc.iceConnectionState}, ${pc.getTransceivers().length} transceivers [${rtp.join('; ')}]`);
                 }
                 for (const a of document.querySelectorAll('audio')) {
                     out.push(`audio ${a.srcObject ? a.srcObject.id + ' ' + a.srcObject.getTracks().map(t => t.kind + ':' + t.readyState + ':' + t.muted).join(',') : 'no stream'} paused=${a.paused} muted=${a.muted} volume=${a.volume}`);
                 }
                 out.push((window.__said || []).filter(l => !l.includes('subscribe_offer')).join('\\n'));
                 out.push((window.__sdps || []).map(s => (s || '').split('\\r\\n').filter(l => /^(m=|a=msid|a=mid|a=ssrc:.*msid|a=send|a=recv)/.test(l)).join(' | ')).join('\\n'));
                 return out.join('\\n') || 'no connection seen';
             })().then(done, e => done(String(e)));",
            vec![],
        )
        .await;
    match described {
        Ok(v) => v.as_str().unwrap_or_default().to_owned(),
        Err(e) => e.to_string(),
    }
}

/// Polls `inbound` until it has grown by more than `by` from `from`.
async fn grows(browser: &Browser, kind: &str, field: &str, from: f64, by: f64) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = inbound(browser, kind, field).await?;
        if now > from + by {
            return Ok(now);
        }
        if Instant::now() > deadline {
            let seen = connections(browser).await;
            return Err(format!("{kind} {field} stayed at {now} (from {from}); {seen}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Someone's tile, by the name under it.
fn tile(name: &str) -> String {
    format!(
        "//figure[figcaption[normalize-space(.)={}]]",
        xpath_literal(name)
    )
}

/// Waits until an element matching `xpath` exists (`present`) or does not; how long it took.
async fn until_xpath(
    browser: &Browser,
    xpath: &str,
    present: bool,
    within: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let found = browser.client.find(Locator::XPath(xpath)).await.is_ok();
        if found == present {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            let page = browser.client.source().await.unwrap_or_default();
            let what = if present { "appeared" } else { "went" };
            return Err(format!("{xpath} never {what}; page:\n{page}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A toggle of the call, by its text, pressed or not.
fn toggle(name: &str, pressed: bool) -> String {
    format!(
        "//button[normalize-space(.)={} and @aria-pressed='{pressed}']",
        xpath_literal(name)
    )
}

/// A person in the call: a browser with fake devices, registered and signed in.
async fn person(
    server: &Server,
    audio: &std::path::Path,
    username: &str,
    name: &str,
) -> Result<Browser> {
    let browser = Browser::start_with_fake_media(Some(audio)).await?;
    browser.register(server, username, name).await?;
    Ok(browser)
}

/// A voice-like test sound: a buzz at a voice's pitch (a sawtooth, rich in harmonics, as the
/// vocal folds make) whose loudness rises and falls like syllables, four times a second. A pure
/// tone will not do: the browser's encoder marks what it hears as voice or not in every packet
/// (Opus's voice activity detection), the media server believes it, and a tone it only
/// sometimes takes for a voice.
fn voice(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let out = dir.join("voice.wav");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("aevalsrc=0.5*(2*(t*(120+10*sin(2*PI*t))-floor(t*(120+10*sin(2*PI*t))+0.5)))*(0.55+0.45*sin(2*PI*4*t)):s=48000:d=10")
        .args(["-ac", "1", "-c:a", "pcm_s16le"])
        .arg(&out)
        .status()?;
    if !status.success() {
        return Err("ffmpeg could not make the test sound".into());
    }
    Ok(out)
}

#[tokio::test]
async fn two_people_hear_and_see_each_other() -> Result {
    let Ok(ip) = std::env::var("KINO_CALL_NETNS") else {
        eprintln!(
            "skipped: the call test needs a network namespace with a local address; run it as \
             `bash scripts/in-netns.sh cargo test -p end2end --test call`"
        );
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let audio = voice(dir.path())?;
    let server = Server::start_with(&[
        "--rtc-udp".into(),
        format!("{ip}:0"),
        "--rtc-public-ip".into(),
        ip.clone(),
    ])
    .await?;
    let anna = person(&server, &audio, "anna", "Анна").await?;
    let boris = person(&server, &audio, "boris", "Борис").await?;
    let outcome = call(&server, &anna, &boris).await;
    // Closed whatever happened: a browser left running would hold the namespace and its CPU.
    let closed = (anna.close().await, boris.close().await);
    outcome?;
    closed.0?;
    closed.1
}

fn fail(why: String) -> Result {
    Err(why.into())
}

async fn call(server: &Server, anna: &Browser, boris: &Browser) -> Result {
    let room = anna.create_room_at(&server.url).await?.to_string();
    boris.goto(&room).await?;
    boris.wait_hydrated().await?;
    for b in [anna, boris] {
        b.wait_text_in(".call", "Your microphone and camera are off.")
            .await?;
        b.client.execute(WATCH_CONNECTIONS, vec![]).await?;
        // In the call (the media server says who publishes what: nobody yet).
        b.wait_text_in(".call", "Nobody has turned on a microphone or camera yet.")
            .await?;
    }

    // Anna's microphone on: Boris receives her voice.
    anna.button("Microphone").await?.click().await?;
    until_xpath(
        anna,
        &toggle("Microphone", true),
        true,
        Duration::from_secs(5),
    )
    .await?;
    until_xpath(boris, &tile("Анна"), true, Duration::from_secs(10)).await?;
    let start = inbound(boris, "audio", "totalAudioEnergy").await?;
    let heard = grows(boris, "audio", "totalAudioEnergy", start, 0.01).await?;

    // Her film is lowered for Boris while she talks.
    let ducked = boris
        .wait_js(
            "document.querySelector('video.room-video').volume < 0.5",
            Duration::from_secs(5),
        )
        .await;
    if ducked.is_err() {
        return fail(format!(
            "the film was not lowered; {}",
            connections(boris).await
        ));
    }

    // How much sound a second of her voice brings.
    let (e0, t0) = (
        inbound(boris, "audio", "totalAudioEnergy").await?,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e1 = inbound(boris, "audio", "totalAudioEnergy").await?;
    let per_second = (e1 - e0) / t0.elapsed().as_secs_f64();
    if per_second <= 0.0 {
        return fail(format!("no sound while Anna talks: {e0} → {e1}"));
    }

    // Off: within a second Boris sees her microphone off, and hears nothing more.
    let mic_off = format!("{}//*[@aria-label='Microphone off']", tile("Анна"));
    anna.button("Microphone").await?.click().await?;
    let took = until_xpath(boris, &mic_off, true, Duration::from_secs(1)).await?;
    eprintln!("Boris saw Anna's microphone off {took:?} after she pressed it");
    until_xpath(
        anna,
        &toggle("Microphone", false),
        true,
        Duration::from_secs(1),
    )
    .await?;
    // What was on its way has arrived; from now on nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quiet = inbound(boris, "audio", "totalAudioEnergy").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = inbound(boris, "audio", "totalAudioEnergy").await?;
    // The decoder's fading out of the last packets adds a trace; her voice would add a second.
    if quiet < heard || later - quiet >= per_second / 50.0 {
        return fail(format!(
            "Boris still received sound after Anna turned her microphone off: {quiet} → {later} \
             (her voice: {per_second} a second)"
        ));
    }
    // And his film comes back up.
    boris
        .wait_js(
            "document.querySelector('video.room-video').volume > 0.9",
            Duration::from_secs(3),
        )
        .await?;

    // On again: her voice comes back.
    anna.button("Microphone").await?.click().await?;
    until_xpath(boris, &mic_off, false, Duration::from_secs(2)).await?;
    grows(boris, "audio", "totalAudioEnergy", later, 0.01).await?;

    // Her camera: Boris decodes her video, in her tile; off, the video goes.
    let frames = inbound(boris, "video", "framesDecoded").await?;
    anna.button("Camera").await?.click().await?;
    until_xpath(anna, &toggle("Camera", true), true, Duration::from_secs(5)).await?;
    let video = format!("{}/video", tile("Анна"));
    until_xpath(boris, &video, true, Duration::from_secs(10)).await?;
    grows(boris, "video", "framesDecoded", frames, 10.0).await?;
    anna.button("Camera").await?.click().await?;
    until_xpath(boris, &video, false, Duration::from_secs(2)).await?;

    // Boris's connection to the room drops: his page joins the call again by itself, on new
    // peer connections, and hears her again — no reload.
    boris.client.execute("window.__ws.close();", vec![]).await?;
    boris
        .wait_js(
            "[...window.__pcs].some(pc => pc.connectionState === 'closed')",
            Duration::from_secs(5),
        )
        .await?;
    grows(boris, "audio", "totalAudioEnergy", 0.0, 0.01).await?;
    until_xpath(boris, &tile("Анна"), true, Duration::from_secs(2)).await?;
    Ok(())
}
