//! The room's voice and camera call (issue 16) in real Chromium with fake devices: Anna turns
//! her microphone on and Boris and Vera receive her voice; she turns it off and Boris sees it at
//! once and hears nothing more; with push-to-talk her voice goes out only while V is held; her
//! camera on, Boris decodes her video in her tile; off, the video goes — and while she talks,
//! Boris's film is lowered. Vera lowers Anna and mutes her for herself; a reload keeps both and
//! rejoins the call. When Boris's connection to the room drops, his page joins the call again
//! by itself. With `--turn-relay-only`, a call goes through coturn.
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
async fn three_people_hear_and_see_each_other() -> Result {
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
    let vera = person(&server, &audio, "vera", "Вера").await?;
    let outcome = call(&server, &anna, &boris, &vera).await;
    // Closed whatever happened: a browser left running would hold the namespace and its CPU.
    let closed = (anna.close().await, boris.close().await, vera.close().await);
    outcome?;
    closed.0?;
    closed.1?;
    closed.2
}

/// Energy that `browser` received over `window`, per second.
async fn energy_rate(browser: &Browser, window: Duration) -> Result<f64> {
    let (e0, t0) = (
        inbound(browser, "audio", "totalAudioEnergy").await?,
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    let e1 = inbound(browser, "audio", "totalAudioEnergy").await?;
    Ok((e1 - e0) / t0.elapsed().as_secs_f64())
}

/// Waits until `browser` receives (almost) no sound: over half a second, less than a fiftieth
/// of what a voice brings (`voice`, per second) — the decoder's fading out adds a trace. Within
/// 3 s, or it fails saying `when`.
async fn falls_silent(browser: &Browser, voice: f64, when: &str) -> Result {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let rate = energy_rate(browser, Duration::from_millis(500)).await?;
        if rate < voice / 50.0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return fail(format!(
                "sound still arrives {when}: {rate} a second (a voice: {voice})"
            ));
        }
    }
}

/// How `name`'s voice is set to play on this page: its `<audio>`'s volume and muted, and the
/// volume slider's value.
async fn hearing_of(browser: &Browser, name: &str) -> Result<(f64, bool, f64)> {
    let found = browser
        .client
        .execute(
            "const li = [...document.querySelectorAll('li.tile')]
                 .find(l => l.querySelector('figcaption').textContent.trim() === arguments[0]);
             if (!li) return null;
             const a = li.querySelector('audio');
             return [a.volume, a.muted, Number(li.querySelector('input.volume').value)];",
            vec![name.into()],
        )
        .await?;
    match (found[0].as_f64(), found[1].as_bool(), found[2].as_f64()) {
        (Some(v), Some(m), Some(s)) => Ok((v, m, s)),
        _ => Err(format!("no tile of {name}").into()),
    }
}

fn fail(why: String) -> Result {
    Err(why.into())
}

/// `owner` opens a room and the `others` follow its link; each page is in the call, its
/// devices off, its peer connections watched.
async fn in_a_call(server: &Server, owner: &Browser, others: &[&Browser]) -> Result {
    let room = owner.create_room_at(&server.url).await?.to_string();
    for b in others {
        b.goto(&room).await?;
        b.wait_hydrated().await?;
    }
    for b in std::iter::once(owner).chain(others.iter().copied()) {
        b.wait_text_in(".call", "Your microphone and camera are off.")
            .await?;
        b.client.execute(WATCH_CONNECTIONS, vec![]).await?;
        // In the call (the media server says who publishes what: nobody yet).
        b.wait_text_in(".call", "Nobody has turned on a microphone or camera yet.")
            .await?;
    }
    Ok(())
}

async fn call(server: &Server, anna: &Browser, boris: &Browser, vera: &Browser) -> Result {
    in_a_call(server, anna, &[boris, vera]).await?;

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
    // Vera hears her too.
    until_xpath(vera, &tile("Анна"), true, Duration::from_secs(10)).await?;
    let start = inbound(vera, "audio", "totalAudioEnergy").await?;
    grows(vera, "audio", "totalAudioEnergy", start, 0.01).await?;

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
    let per_second = energy_rate(boris, Duration::from_millis(500)).await?;
    if per_second <= 0.0 {
        return fail(format!("no sound while Anna talks: {per_second} a second"));
    }

    // Push-to-talk: her voice goes out only while V is held.
    let push_to_talk =
        Locator::XPath("//label[contains(normalize-space(.), 'Push to talk')]/input");
    anna.client.find(push_to_talk).await?.click().await?;
    until_xpath(
        boris,
        &format!("{}//*[@aria-label='Microphone off']", tile("Анна")),
        true,
        Duration::from_secs(2),
    )
    .await?;
    falls_silent(boris, per_second, "with push-to-talk on and V not held").await?;
    let key = |kind: &str| {
        format!("window.dispatchEvent(new KeyboardEvent('{kind}', {{ key: 'v', bubbles: true }}));")
    };
    anna.client.execute(&key("keydown"), vec![]).await?;
    let before = inbound(boris, "audio", "totalAudioEnergy").await?;
    grows(boris, "audio", "totalAudioEnergy", before, 0.01).await?;
    anna.client.execute(&key("keyup"), vec![]).await?;
    falls_silent(boris, per_second, "after V was let go").await?;
    anna.client.find(push_to_talk).await?.click().await?;
    grows(boris, "audio", "totalAudioEnergy", before, 0.02).await?;

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
    // What was on its way arrives (three browsers on two cores buffer some), then nothing more.
    falls_silent(boris, per_second, "after Anna turned her microphone off").await?;
    let later = inbound(boris, "audio", "totalAudioEnergy").await?;
    if later < heard {
        return fail(format!(
            "Boris's received sound went back: {heard} → {later}"
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

    // She picks another microphone (Chromium's fake devices, named once she allowed one): the
    // sound goes on from it, and the choice is kept for her next visit.
    let picked = anna
        .client
        .execute(
            "const select = [...document.querySelectorAll('.device-choice')]
                 .find(l => l.textContent.trim().startsWith('Microphone')).querySelector('select');
             const other = [...select.options].find(o => o.value && !o.selected && o.textContent.trim());
             if (!other) return null;
             select.value = other.value;
             select.dispatchEvent(new Event('change', { bubbles: true }));
             return other.value;",
            vec![],
        )
        .await?;
    let Some(picked) = picked.as_str().map(str::to_owned) else {
        return fail(format!(
            "no other named microphone to choose; {}",
            anna.client.source().await?
        ));
    };
    anna.wait_js(
        &format!("localStorage.getItem('kino.call.mic') === {picked:?}"),
        Duration::from_secs(2),
    )
    .await?;
    let sent_from_it = anna
        .wait_js(
            &format!(
                "[...window.__pcs].some(pc => pc.getSenders().some(s => s.track
                     && s.track.kind === 'audio' && s.track.getSettings().deviceId === {picked:?}))"
            ),
            Duration::from_secs(5),
        )
        .await;
    if sent_from_it.is_err() {
        let senders = anna
            .client
            .execute(
                "return JSON.stringify([...window.__pcs].map(pc => pc.getSenders().map(s => s.track
                     && [s.track.kind, s.track.label, s.track.readyState, s.track.getSettings().deviceId])))
                     + ' ' + document.querySelector('.call').textContent;",
                vec![],
            )
            .await?;
        return fail(format!("Anna's microphone is not {picked}: {senders}"));
    }
    let switched = inbound(boris, "audio", "totalAudioEnergy").await?;
    grows(boris, "audio", "totalAudioEnergy", switched, 0.01).await?;

    // Her camera: Boris decodes her video, in her tile; off, the video goes.
    let frames = inbound(boris, "video", "framesDecoded").await?;
    anna.button("Camera").await?.click().await?;
    until_xpath(anna, &toggle("Camera", true), true, Duration::from_secs(5)).await?;
    let video = format!("{}/video", tile("Анна"));
    until_xpath(boris, &video, true, Duration::from_secs(10)).await?;
    grows(boris, "video", "framesDecoded", frames, 10.0).await?;
    anna.button("Camera").await?.click().await?;
    until_xpath(boris, &video, false, Duration::from_secs(2)).await?;

    // Vera turns Anna down and mutes her for herself: only on her page, and kept on a reload,
    // which takes her back into the call.
    vera.client
        .execute(
            "const li = [...document.querySelectorAll('li.tile')]
                 .find(l => l.querySelector('figcaption').textContent.trim() === 'Анна');
             const r = li.querySelector('input.volume');
             r.value = '0.3';
             r.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await?;
    vera.client
        .find(Locator::XPath(&format!(
            "{}/ancestor::li//button[normalize-space(.)='Mute for me']",
            tile("Анна")
        )))
        .await?
        .click()
        .await?;
    vera.wait_js(
        "[...document.querySelectorAll('li.tile audio')].some(a => a.muted && Math.abs(a.volume - 0.3) < 0.01)",
        Duration::from_secs(2),
    )
    .await?;
    let (volume, muted, _) = hearing_of(boris, "Анна").await?;
    if volume < 0.99 || muted {
        return fail(format!(
            "Vera's choice changed Boris's page: {volume} {muted}"
        ));
    }
    vera.client.refresh().await?;
    vera.wait_hydrated().await?;
    until_xpath(vera, &tile("Анна"), true, Duration::from_secs(10)).await?;
    // Back in the call: Anna's voice arrives again (a received track is `muted` until its
    // packets flow).
    vera.wait_js(
        "[...document.querySelectorAll('li.tile audio')].some(a => a.srcObject
             && a.srcObject.getAudioTracks().some(t => t.readyState === 'live' && !t.muted))",
        Duration::from_secs(10),
    )
    .await?;
    let (volume, muted, slider) = hearing_of(vera, "Анна").await?;
    if (volume - 0.3).abs() > 0.01 || !muted || (slider - 0.3).abs() > 0.01 {
        return fail(format!(
            "after a reload Vera hears Anna at {volume} (slider {slider}), muted: {muted}"
        ));
    }

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

    // Full screen is the whole room: the chat and the call float over the film; H hides them
    // and brings them back.
    let full_screen = "//button[@aria-label='Full screen']";
    boris.wait_for(full_screen).await?.click().await?;
    let shown = "(() => { const f = document.fullscreenElement;
        return !!f && f.classList.contains('room-grid')
            && f.querySelector('.room-side').checkVisibility()
            && f.querySelector('.call').checkVisibility()
            && f.querySelector('.chat-pane').checkVisibility()
            && f.querySelector('.room-video').getBoundingClientRect().width > window.innerWidth * 0.9; })()";
    boris.wait_js(shown, Duration::from_secs(3)).await?;
    let press_h =
        "document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'h', bubbles: true }));";
    boris.client.execute(press_h, vec![]).await?;
    boris
        .wait_js(
            "!document.querySelector('.call').checkVisibility()
             && !document.querySelector('.chat-pane').checkVisibility()",
            Duration::from_secs(2),
        )
        .await?;
    boris.client.execute(press_h, vec![]).await?;
    boris.wait_js(shown, Duration::from_secs(2)).await?;
    boris.wait_for(full_screen).await?.click().await?;
    boris
        .wait_js(
            "document.fullscreenElement === null",
            Duration::from_secs(3),
        )
        .await?;
    Ok(())
}

/// coturn (the OS package's `turnserver`) on the namespace's address, checking credentials made
/// with `secret` (`use-auth-secret`), killed when dropped.
struct Coturn {
    url: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Coturn {
    async fn start(ip: &str, secret: &str) -> Result<Self> {
        // A free port on the address (given back at once: nothing else runs in the namespace).
        let port = std::net::UdpSocket::bind((ip, 0))?.local_addr()?.port();
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("turn.log");
        let mut child = tokio::process::Command::new("turnserver")
            .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint"])
            .arg(format!("--listening-ip={ip}"))
            .arg(format!("--relay-ip={ip}"))
            .arg(format!("--listening-port={port}"))
            .args(["--min-port=49200", "--max-port=49400", "--realm=kino.test"])
            .arg("--use-auth-secret")
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--log-file={}", log.display()))
            .arg("--simple-log")
            .arg(format!(
                "--pidfile={}",
                dir.path().join("turn.pid").display()
            ))
            .arg(format!("--userdb={}", dir.path().join("turn.db").display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start turnserver (apt-get install coturn): {e}"))?;
        // Listening once its log says so.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            if said.contains("Total General servers") {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("turnserver exited ({status}): {said}").into());
            }
            if Instant::now() > deadline {
                return Err(format!("turnserver did not start within 10 s: {said}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            url: format!("turn:{ip}:{port}?transport=udp"),
            _child: child,
            _dir: dir,
        })
    }
}

/// The kinds of the local candidates of the page's connections that carry media (their selected
/// pairs'), e.g. `["relay", "relay"]`, and of every local candidate gathered.
async fn local_candidates(browser: &Browser) -> Result<(Vec<String>, Vec<String>)> {
    let found = browser
        .client
        .execute_async(
            "const done = arguments[0];
             (async () => {
                 const used = [], all = [];
                 for (const pc of (window.__pcs || [])) {
                     if (pc.connectionState === 'closed') continue;
                     const stats = await pc.getStats();
                     stats.forEach(r => {
                         if (r.type === 'local-candidate') all.push(r.candidateType);
                         if (r.type === 'transport' && r.selectedCandidatePairId) {
                             const pair = stats.get(r.selectedCandidatePairId);
                             const local = pair && stats.get(pair.localCandidateId);
                             if (local) used.push(local.candidateType);
                         }
                     });
                 }
                 return [used, all];
             })().then(done, e => done(String(e)));",
            vec![],
        )
        .await?;
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok((list(&found[0]), list(&found[1])))
}

/// With `--turn-relay-only`, every call goes through coturn with the credentials Kino hands each
/// seat: Boris hears Anna through the relay. With a wrong secret coturn refuses them: no relay,
/// and the page says the call cannot be reached.
#[tokio::test]
async fn a_call_through_turn_only_and_a_wrong_secret_gets_no_relay() -> Result {
    let Ok(ip) = std::env::var("KINO_CALL_NETNS") else {
        eprintln!("skipped: needs `bash scripts/in-netns.sh` (see the top of this file)");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let audio = voice(dir.path())?;
    let turn = Coturn::start(&ip, "the-turn-secret").await?;
    let flags = |secret: &str| {
        vec![
            "--rtc-udp".to_owned(),
            format!("{ip}:0"),
            "--rtc-public-ip".to_owned(),
            ip.clone(),
            "--turn-url".to_owned(),
            turn.url.clone(),
            "--turn-secret".to_owned(),
            secret.to_owned(),
            "--turn-relay-only".to_owned(),
        ]
    };
    let (right_flags, wrong_flags) = (flags("the-turn-secret"), flags("not-the-secret"));
    let (server, wrong) = tokio::try_join!(
        Server::start_with(&right_flags),
        Server::start_with(&wrong_flags),
    )?;
    let anna = person(&server, &audio, "anna", "Анна").await?;
    let boris = person(&server, &audio, "boris", "Борис").await?;
    let outcome = relayed(&server, &anna, &boris).await;
    let closed = (anna.close().await, boris.close().await);
    outcome?;
    closed.0?;
    closed.1?;

    let vera = person(&wrong, &audio, "vera", "Вера").await?;
    let outcome = refused(&wrong, &vera).await;
    vera.close().await?;
    outcome
}

async fn relayed(server: &Server, anna: &Browser, boris: &Browser) -> Result {
    in_a_call(server, anna, &[boris]).await?;
    anna.button("Microphone").await?.click().await?;
    until_xpath(boris, &tile("Анна"), true, Duration::from_secs(10)).await?;
    let start = inbound(boris, "audio", "totalAudioEnergy").await?;
    grows(boris, "audio", "totalAudioEnergy", start, 0.01).await?;
    // What carries it, on both ends: coturn's relay, nothing else.
    for (who, b) in [("Anna", anna), ("Boris", boris)] {
        let (used, all) = local_candidates(b).await?;
        if used.is_empty() || used.iter().any(|kind| kind != "relay") {
            return fail(format!(
                "{who}'s call did not go through the relay: used {used:?}, gathered {all:?}"
            ));
        }
    }
    Ok(())
}

async fn refused(server: &Server, vera: &Browser) -> Result {
    vera.create_room_at(&server.url).await?;
    vera.wait_text_in(".call", "Your microphone and camera are off.")
        .await?;
    vera.client.execute(WATCH_CONNECTIONS, vec![]).await?;
    vera.button("Microphone").await?.click().await?;
    let started = Instant::now();
    // The browser gives up on a connection with no candidate pair to try after a while.
    vera.wait_js(
        "(document.querySelector('.call') || {}).textContent.includes('cannot be reached from this network')",
        Duration::from_secs(60),
    )
    .await?;
    eprintln!(
        "with a wrong TURN secret the page said so after {:?}",
        started.elapsed()
    );
    let (used, all) = local_candidates(vera).await?;
    if !used.is_empty() || all.iter().any(|kind| kind == "relay") {
        return fail(format!(
            "a relay was allocated with a wrong secret: used {used:?}, gathered {all:?}"
        ));
    }
    Ok(())
}
