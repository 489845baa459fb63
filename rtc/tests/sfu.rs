//! End-to-end tests of the media server over loopback UDP, with str0m-based
//! test clients standing in for browsers (see `harness`).

mod harness;

use std::time::Duration;

use harness::{
    audio_payload, offline_answer, offline_offer, seq_of, video_payload, Client, TestPeer, WAIT,
};
use kino_rtc::{Config, Conn, Kind, MediaServer, RtcError, Signal};

fn server_with(tweak: impl FnOnce(&mut Config)) -> MediaServer {
    let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"));
    tweak(&mut cfg);
    MediaServer::start(cfg).expect("server starts")
}

fn server() -> MediaServer {
    server_with(|_| {})
}

/// Receives `count` audio frames on `mid`, checking each payload is exactly
/// what the publisher wrote and that they arrive in order. Returns the last seq.
async fn expect_audio_flow(sub: &mut Client, mid: &str, count: usize, after: Option<u32>) -> u32 {
    let mut last = after;
    for i in 0..count {
        let (_, data, _) = sub
            .next_media(WAIT, |m, _, _| m == mid)
            .await
            .unwrap_or_else(|| panic!("audio frame {i} did not arrive (after {last:?})"));
        let seq = seq_of(&data, false);
        assert_eq!(
            data,
            audio_payload(seq),
            "payload of frame {seq} changed in transit"
        );
        if let Some(prev) = last {
            assert!(seq > prev, "frames out of order: {seq} after {prev}");
        }
        last = Some(seq);
    }
    last.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_is_forwarded_and_mute_stops_it() {
    let server = server();
    let mut a = TestPeer::join(&server, "film-night", "a").await;
    let mut b = TestPeer::join(&server, "film-night", "b").await;
    a.publish(&server, true, false).await;

    let mid = b
        .mid_of("a", Kind::Audio)
        .await
        .expect("b is offered a's audio");
    let last = expect_audio_flow(&mut b.subscriber, &mid, 25, None).await;

    // The audio-level extension made it through and marks a as talking.
    let speaking = b
        .wait_signal(
            WAIT,
            |s| matches!(s, Signal::Speaking { peer, speaking: true } if peer == "a"),
        )
        .await;
    assert!(speaking.is_some(), "b was told that a is speaking");

    // The level is forwarded too, so the browser can show who talks.
    let level = b
        .subscriber
        .next_audio_level(&mid, WAIT)
        .await
        .expect("a frame");
    assert_eq!(level, Some(-20));

    server
        .set_muted("film-night", "a", Kind::Audio, true)
        .await
        .expect("mute");
    // Every frame a writes from now on is numbered `muted_from` or higher;
    // none of them may reach b. Older frames may still be in flight.
    let (muted_from, _) = a.publisher.as_ref().expect("a publishes").seqs().await;
    let leaked = b
        .subscriber
        .next_media(Duration::from_millis(1000), |m, d, _| {
            m == mid && seq_of(d, false) >= muted_from
        })
        .await;
    assert!(
        leaked.is_none(),
        "a is muted but b still receives its audio"
    );
    let (still_sending, _) = a.publisher.as_ref().expect("a publishes").seqs().await;
    assert!(
        still_sending > muted_from + 20,
        "a kept sending while muted"
    );
    assert!(
        !matches!(b.signals.try_recv(), Ok(Signal::Error { .. })),
        "no errors for b"
    );

    server
        .set_muted("film-night", "a", Kind::Audio, false)
        .await
        .expect("unmute");
    let (_, first, _) = b
        .subscriber
        .next_media(WAIT, |m, _, _| m == mid)
        .await
        .expect("audio resumes after unmute");
    let resumed = seq_of(&first, false);
    // A frame or two may have been on its way to the server at unmute time.
    assert!(
        resumed + 5 >= still_sending && resumed > last + 40,
        "frames sent while muted were delivered later (last before mute {last}, first after {resumed})"
    );
    expect_audio_flow(&mut b.subscriber, &mid, 5, Some(resumed)).await;

    // a does not receive its own audio.
    assert!(a
        .subscriber
        .next_media(Duration::from_millis(200), |_, _, _| true)
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_learns_who_is_talking_already() {
    let server = server();
    let mut a = TestPeer::join(&server, "film-night", "a").await;
    a.publish(&server, true, false).await;
    let talking = a
        .wait_signal(
            WAIT,
            |s| matches!(s, Signal::Speaking { peer, speaking: true } if peer == "a"),
        )
        .await;
    assert!(talking.is_some(), "a's own voice marks a as talking");

    // b comes while a talks on: b is told at once, not when a next starts.
    let mut b = TestPeer::join(&server, "film-night", "b").await;
    let told = b
        .wait_signal(
            WAIT,
            |s| matches!(s, Signal::Speaking { peer, speaking: true } if peer == "a"),
        )
        .await;
    assert!(told.is_some(), "b was told that a is talking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_reaches_subscribers_and_late_joiner_gets_keyframe() {
    let server = server();
    let mut a = TestPeer::join(&server, "c", "a").await;
    let mut b = TestPeer::join(&server, "c", "b").await;
    a.publish(&server, false, true).await;

    let mid_b = b
        .mid_of("a", Kind::Video)
        .await
        .expect("b is offered a's video");
    for i in 0..10 {
        let (_, data, keyframe) = b
            .subscriber
            .next_media(WAIT, |m, _, _| m == mid_b)
            .await
            .unwrap_or_else(|| panic!("video frame {i} did not reach b"));
        let seq = seq_of(&data, true);
        assert_eq!(
            data,
            video_payload(seq, keyframe),
            "video frame {seq} changed in transit"
        );
    }

    // A late joiner: its very first offer already contains a's camera.
    let publisher = a.publisher.as_mut().expect("a publishes");
    publisher.clear();
    let mut c = TestPeer::join(&server, "c", "c").await;
    let first_offer = c
        .wait_signal(WAIT, |s| matches!(s, Signal::SubscribeOffer { .. }))
        .await
        .expect("c gets an offer");
    match first_offer {
        Signal::SubscribeOffer { sdp } => {
            assert!(sdp.contains("m=video"), "first offer lacks video:\n{sdp}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let mid_c = c
        .mid_of("a", Kind::Video)
        .await
        .expect("c is told which mid carries a");
    let (_, data, _) = c
        .subscriber
        .next_media(WAIT, |m, _, k| m == mid_c && k)
        .await
        .expect("c receives a keyframe");
    let seq = seq_of(&data, true);
    assert!(
        seq > 0,
        "the keyframe c got was made on request, not the first one"
    );
    assert_eq!(data, video_payload(seq, true));
    let publisher = a.publisher.as_mut().expect("a publishes");
    assert!(
        publisher
            .wait_keyframe_request(Duration::from_millis(100))
            .await,
        "the server asked a for a keyframe"
    );
    // And frames keep flowing to c after it.
    assert!(c
        .subscriber
        .next_media(WAIT, |m, _, _| m == mid_c)
        .await
        .is_some());

    // The camera bitrate cap reaches the publisher as REMB (str0m encodes it
    // as mantissa and exponent, so allow rounding).
    let publisher = a.publisher.as_mut().expect("a publishes");
    let remb = publisher
        .wait_remb(Duration::from_secs(5))
        .await
        .expect("REMB sent");
    assert!((990_000..=1_010_000).contains(&remb), "REMB {remb}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_added_later_by_renegotiating_the_publish_connection() {
    let server = server();
    let mut a = TestPeer::join(&server, "late-cam", "a").await;
    let mut b = TestPeer::join(&server, "late-cam", "b").await;
    a.publish(&server, true, false).await;
    let audio = b.mid_of("a", Kind::Audio).await.expect("audio offered");
    expect_audio_flow(&mut b.subscriber, &audio, 3, None).await;

    // The browser adds a camera to the same publish connection: a new offer.
    let publisher = a.publisher.as_ref().expect("a publishes");
    let offer = publisher.make_offer(false, true).await;
    let answer = server
        .publish_offer("late-cam", "a", offer)
        .await
        .expect("re-offer accepted");
    publisher
        .accept_answer(answer)
        .await
        .expect("answer applied");
    publisher.set_sending(true);

    let video = b.mid_of("a", Kind::Video).await.expect("video offered");
    assert_ne!(video, audio);
    let (_, data, _) = b
        .subscriber
        .next_media(WAIT, |m, _, _| m == video)
        .await
        .expect("video arrives");
    let seq = seq_of(&data, true);
    assert_eq!(data.len(), video_payload(seq, false).len());
    expect_audio_flow(&mut b.subscriber, &audio, 3, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renegotiation_is_serialized_and_changes_are_folded() {
    let server = server();
    // x plays the browser by hand: its offers are answered only when the test says so.
    let mut x = server.join("s", "x").await.expect("join");
    let sub = Client::spawn().await;
    let next_offer = |x: &mut kino_rtc::Participant| {
        let mut seen = Vec::new();
        while let Ok(sig) = x.signals.try_recv() {
            seen.push(sig);
        }
        seen
    };
    let first = match tokio::time::timeout(WAIT, async {
        loop {
            match x.next_signal().await {
                Some(Signal::SubscribeOffer { sdp }) => return sdp,
                Some(_) => continue,
                None => panic!("x removed"),
            }
        }
    })
    .await
    {
        Ok(sdp) => sdp,
        Err(_) => panic!("no first offer"),
    };
    assert!(
        first.contains("m=application"),
        "first offer brings the data channel"
    );

    // Two people publish while x's first offer is still unanswered.
    let mut a = TestPeer::join(&server, "s", "a").await;
    let mut b = TestPeer::join(&server, "s", "b").await;
    a.publish(&server, true, false).await;
    b.publish(&server, true, true).await;
    a.mid_of("b", Kind::Video)
        .await
        .expect("b's tracks are registered");
    b.mid_of("a", Kind::Audio)
        .await
        .expect("a's tracks are registered");

    let meanwhile = next_offer(&mut x);
    assert!(
        !meanwhile
            .iter()
            .any(|s| matches!(s, Signal::SubscribeOffer { .. })),
        "a second offer was made while the first was outstanding: {meanwhile:?}"
    );
    let last_tracks = meanwhile.iter().rev().find_map(|s| match s {
        Signal::Tracks { tracks } => Some(tracks.clone()),
        _ => None,
    });
    let last_tracks = last_tracks.expect("x was told about the new tracks");
    assert_eq!(last_tracks.len(), 3);
    assert!(
        last_tracks.iter().all(|t| t.mid.is_none()),
        "not negotiated yet: {last_tracks:?}"
    );

    // Answering the first offer releases one offer with all three tracks.
    let answer = sub.accept_offer(first).await.expect("client answers");
    server
        .subscribe_answer("s", "x", answer)
        .await
        .expect("answer 1");
    let second = loop {
        match tokio::time::timeout(WAIT, x.next_signal()).await {
            Ok(Some(Signal::SubscribeOffer { sdp })) => break sdp,
            Ok(Some(_)) => continue,
            other => panic!("no second offer: {other:?}"),
        }
    };
    assert_eq!(second.matches("m=audio").count(), 2, "{second}");
    assert_eq!(second.matches("m=video").count(), 1, "{second}");
    let answer = sub.accept_offer(second).await.expect("client answers");
    server
        .subscribe_answer("s", "x", answer)
        .await
        .expect("answer 2");
    let tracks = loop {
        match tokio::time::timeout(WAIT, x.next_signal()).await {
            Ok(Some(Signal::Tracks { tracks })) if tracks.iter().all(|t| t.mid.is_some()) => {
                break tracks
            }
            Ok(Some(_)) => continue,
            other => panic!("no negotiated track list: {other:?}"),
        }
    };
    // Media from both publishers reaches x on the announced mids.
    let mut sub = sub;
    for t in tracks.iter().filter(|t| t.kind == Kind::Audio) {
        let mid = t.mid.clone().expect("mid");
        assert!(
            sub.next_media(WAIT, |m, _, _| m == mid).await.is_some(),
            "no audio from {}",
            t.peer
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_n_forwards_only_the_recent_speakers_camera() {
    let server = server_with(|c| c.last_n = 1);
    let mut viewer = TestPeer::join(&server, "n", "viewer").await;
    let mut quiet = TestPeer::join(&server, "n", "quiet").await;
    let mut talker = TestPeer::join(&server, "n", "talker").await;
    quiet.publish(&server, false, true).await; // camera, never talks
    let quiet_mid = viewer.mid_of("quiet", Kind::Video).await.expect("offered");
    assert!(viewer
        .subscriber
        .next_media(WAIT, |m, _, _| m == quiet_mid)
        .await
        .is_some());

    talker.publish(&server, true, true).await; // talks (level -20) and has a camera
    let talker_mid = viewer.mid_of("talker", Kind::Video).await.expect("offered");
    let switched = viewer
        .wait_tracks(WAIT, |tracks| {
            tracks
                .iter()
                .any(|t| t.peer == "talker" && t.kind == Kind::Video && t.forwarded)
                && tracks.iter().any(|t| t.peer == "quiet" && !t.forwarded)
        })
        .await;
    assert!(switched, "last-N switched to the talker");
    assert!(viewer
        .subscriber
        .next_media(WAIT, |m, _, _| m == talker_mid)
        .await
        .is_some());
    // Frames quiet writes from now on must not reach the viewer.
    let (_, from) = quiet
        .publisher
        .as_ref()
        .expect("quiet publishes")
        .seqs()
        .await;
    let stray = viewer
        .subscriber
        .next_media(Duration::from_millis(800), |m, d, _| {
            m == quiet_mid && seq_of(d, true) >= from
        })
        .await;
    assert!(stray.is_none(), "the quiet camera is no longer forwarded");
    drop(quiet);
    drop(talker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_without_disturbing_others() {
    let server = server_with(|c| c.max_peers_per_call = 4);
    let mut a = TestPeer::join(&server, "room", "a").await;
    let mut b = TestPeer::join(&server, "room", "b").await;
    a.publish(&server, true, false).await;
    let mid = b
        .mid_of("a", Kind::Audio)
        .await
        .expect("b is offered a's audio");
    let last = expect_audio_flow(&mut b.subscriber, &mid, 5, None).await;

    // Malformed and refused SDP, stale answers, unknown names, a full call.
    let mut c = server.join("room", "c").await.expect("c joins");
    let err = server
        .publish_offer("room", "c", "v=0 garbage".into())
        .await
        .unwrap_err();
    assert!(matches!(err, RtcError::InvalidSdp { .. }), "{err}");
    assert!(err.to_string().contains("malformed SDP offer"), "{err}");
    let no_fingerprint: String = offline_offer(true, false)
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let err = server
        .publish_offer("room", "c", no_fingerprint)
        .await
        .unwrap_err();
    assert!(matches!(err, RtcError::SdpRejected { .. }), "{err}");
    let err = server
        .subscribe_answer("room", "c", "nonsense".into())
        .await
        .unwrap_err();
    assert!(matches!(err, RtcError::InvalidSdp { .. }), "{err}");
    // c's real offer is still outstanding after the garbage answer; answer it
    // properly, then a second (stale) answer is refused.
    let offer = loop {
        match tokio::time::timeout(WAIT, c.next_signal()).await {
            Ok(Some(Signal::SubscribeOffer { sdp })) => break sdp,
            Ok(Some(_)) => continue,
            other => panic!("no offer for c: {other:?}"),
        }
    };
    // ICE-lite, with the one host candidate at the advertised address.
    assert!(offer.contains("a=ice-lite"), "{offer}");
    let port = server.advertised_addr().port();
    assert!(
        offer.contains(&format!(" 127.0.0.1 {port} typ host")),
        "{offer}"
    );
    let answer = offline_answer(&offer);
    server
        .subscribe_answer("room", "c", answer.clone())
        .await
        .expect("first answer");
    let err = server
        .subscribe_answer("room", "c", answer)
        .await
        .unwrap_err();
    assert!(matches!(err, RtcError::NoPendingOffer), "{err}");
    let err = server
        .candidate("room", "c", Conn::Subscribe, "candidate:garbage".into())
        .await
        .unwrap_err();
    assert!(matches!(err, RtcError::InvalidCandidate { .. }), "{err}");
    server
        .candidate(
            "room",
            "c",
            Conn::Subscribe,
            "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
        )
        .await
        .expect("a well-formed candidate is accepted");
    server
        .candidate(
            "room",
            "c",
            Conn::Publish,
            "candidate:1 1 udp 2122260223 abc.local 50000 typ host".into(),
        )
        .await
        .expect("mDNS candidates are ignored");
    let _x = server
        .join("other-call", "x")
        .await
        .expect("another call is independent");
    assert!(matches!(
        server
            .publish_offer("unknown-call", "a", String::new())
            .await,
        Err(RtcError::UnknownCall(_))
    ));
    assert!(matches!(
        server.set_muted("room", "zed", Kind::Audio, true).await,
        Err(RtcError::UnknownPeer { .. })
    ));
    assert!(matches!(
        server.join("room", "a").await,
        Err(RtcError::AlreadyJoined { .. })
    ));
    assert!(matches!(
        server.join("room", "").await,
        Err(RtcError::InvalidName { .. })
    ));
    let _d = server.join("room", "d").await.expect("4th fits");
    let err = server.join("room", "e").await.unwrap_err();
    assert!(matches!(err, RtcError::CallFull { max: 4, .. }), "{err}");
    assert_eq!(err.to_string(), "call \"room\" is full (4 participants)");

    // Garbage datagrams from a stranger, shaped like every protocol on the port.
    let before = server.stats().await.expect("stats");
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut x: u32 = 0x1234_5678;
    let mut garbage = Vec::new();
    for i in 0..300u32 {
        let len = 1 + (i as usize * 37) % 1400;
        let mut d = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            d.push(x as u8);
        }
        d[0] = (i % 256) as u8; // first byte decides STUN / DTLS / RTP demux
        garbage.push(d);
    }
    for d in &garbage {
        stranger
            .send_to(d, server.local_addr())
            .await
            .expect("send");
    }
    // ... and from a's own publishing address, where they reach a's connection.
    let publisher = a.publisher.as_ref().expect("a publishes");
    for d in garbage.iter().take(150) {
        publisher.send_raw(d.clone(), server.local_addr());
    }

    b.subscriber.clear();
    let after_garbage = expect_audio_flow(&mut b.subscriber, &mid, 10, None).await;
    assert!(after_garbage > last);
    let after = server.stats().await.expect("stats");
    assert_eq!(after.peers, before.peers, "nobody was dropped");
    assert_eq!(after.rtcs_alive, before.rtcs_alive);
    // The kernel may drop part of a 450-datagram burst before the server
    // reads it, so only require that plenty arrived and were refused.
    assert!(
        after.packets_dropped >= before.packets_dropped + 100,
        "garbage was counted as dropped: {before:?} -> {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_join_publish_leave_cycles_leak_nothing() {
    let server = server();
    // A long-lived participant, so every cycle also renegotiates someone.
    let mut host = TestPeer::join(&server, "leak", "host").await;
    host.wait_signal(WAIT, |s| {
        matches!(
            s,
            Signal::Ice {
                conn: Conn::Subscribe,
                state: kino_rtc::IceState::Completed | kino_rtc::IceState::Connected
            }
        )
    })
    .await
    .expect("host connects");
    let baseline = server.stats().await.expect("stats");
    let offers = [offline_offer(true, false), offline_offer(true, true)];
    let started = std::time::Instant::now();
    for i in 0..100 {
        let name = format!("guest-{i}");
        let p = server.join("leak", &name).await.expect("join");
        server
            .publish_offer("leak", &name, offers[i % 2].clone())
            .await
            .expect("offer accepted");
        server.leave("leak", &name).await.expect("leave");
        drop(p);
    }
    let elapsed = started.elapsed();
    let after = server.stats().await.expect("stats");
    assert_eq!(after.calls, baseline.calls, "{baseline:?} -> {after:?}");
    assert_eq!(after.peers, baseline.peers, "{baseline:?} -> {after:?}");
    assert_eq!(
        after.rtcs_alive, baseline.rtcs_alive,
        "{baseline:?} -> {after:?}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "100 cycles took {elapsed:?}"
    );

    // str0m announces a published track (MediaAdded) only once the publish
    // connection is up, so the offline cycles above never bothered the host.
    // Ten connected cycles exercise the renegotiation of someone who stays.
    for i in 0..10 {
        let name = format!("live-{i}");
        let mut guest = TestPeer::join(&server, "leak", &name).await;
        guest.publish(&server, true, i % 2 == 0).await;
        host.mid_of(&name, Kind::Audio)
            .await
            .expect("host is offered the guest's audio");
        server.leave("leak", &name).await.expect("leave");
    }
    let mut settled = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(sig)) = tokio::time::timeout_at(deadline, host.signals.recv()).await {
        match sig {
            Signal::Error { message } => panic!("host got an error: {message}"),
            Signal::Tracks { tracks } => settled = tracks.is_empty(),
            _ => {}
        }
        if settled && host.signals.is_empty() {
            break;
        }
    }
    assert!(settled, "host still sees guest tracks");
    let after = server.stats().await.expect("stats");
    assert_eq!(after.peers, baseline.peers, "{baseline:?} -> {after:?}");
    assert_eq!(
        after.rtcs_alive, baseline.rtcs_alive,
        "{baseline:?} -> {after:?}"
    );

    // Still serving: a fresh pair can talk.
    let mut a = TestPeer::join(&server, "after", "a").await;
    let mut b = TestPeer::join(&server, "after", "b").await;
    a.publish(&server, true, false).await;
    let mid = b.mid_of("a", Kind::Audio).await.expect("offered");
    expect_audio_flow(&mut b.subscriber, &mid, 3, None).await;
    drop(a);
    drop(b);
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_renegotiates_the_others() {
    let server = server();
    let mut a = TestPeer::join(&server, "r", "a").await;
    let mut b = TestPeer::join(&server, "r", "b").await;
    a.publish(&server, true, true).await;
    b.mid_of("a", Kind::Video)
        .await
        .expect("b is offered a's video");
    server.leave("r", "a").await.expect("leave");
    // Both arrive, in either order: an offer stopping a's m-lines (they stay
    // in the SDP with port 0) and a track list without a.
    let (mut told, mut offered) = (false, false);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(told && offered) {
        match tokio::time::timeout_at(deadline, b.signals.recv()).await {
            Ok(Some(Signal::Tracks { tracks })) => told = tracks.is_empty(),
            Ok(Some(Signal::SubscribeOffer { sdp })) => {
                offered = sdp.contains("m=audio 0 ") && sdp.contains("m=video 0 ");
            }
            Ok(Some(Signal::Error { message })) => panic!("{message}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(told, "b is told a's tracks are gone");
    assert!(offered, "b gets an offer that stops a's m-lines");
    let stats = server.stats().await.expect("stats");
    assert_eq!((stats.calls, stats.peers, stats.rtcs_alive), (1, 1, 1));
    assert!(matches!(
        server.leave("r", "a").await,
        Err(RtcError::UnknownPeer { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_participant_removes_it() {
    let server = server();
    let p = server.join("x", "a").await.expect("join");
    assert_eq!(server.stats().await.expect("stats").peers, 1);
    drop(p);
    let mut removed = false;
    for _ in 0..40 {
        if server.stats().await.expect("stats").peers == 0 {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        removed,
        "participant without a signal receiver was not removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_participant_is_removed_after_ice_timeout() {
    let server = server_with(|c| c.ice_disconnect_grace = Duration::from_millis(500));
    let mut a = TestPeer::join(&server, "t", "a").await;
    let mut b = TestPeer::join(&server, "t", "b").await;
    b.publish(&server, true, false).await;
    let mid = a
        .mid_of("b", Kind::Audio)
        .await
        .expect("a is offered b's audio");
    expect_audio_flow(&mut a.subscriber, &mid, 3, None).await;

    // b's browser vanishes without a goodbye: its str0m clients stop.
    drop(b.publisher.take());
    b.subscriber = Client::spawn().await; // the old one is dropped, its task stops

    // ICE-lite notices missing consent checks after ~15 s.
    let removed = b
        .wait_signal(Duration::from_secs(25), |s| {
            matches!(s, Signal::Removed { .. })
        })
        .await;
    assert!(removed.is_some(), "b was not removed");
    let gone = a
        .wait_signal(
            WAIT,
            |s| matches!(s, Signal::Tracks { tracks } if tracks.is_empty()),
        )
        .await;
    assert!(gone.is_some(), "a is told b's tracks are gone");
    let stats = server.stats().await.expect("stats");
    assert_eq!(stats.peers, 1);
}

#[test]
fn start_refuses_unusable_configs() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Refused before anything is bound.
        let err = MediaServer::start(Config::new("0.0.0.0:0".parse().expect("addr"))).unwrap_err();
        assert!(matches!(err, RtcError::NoPublicAddress { .. }), "{err}");
        assert!(err.to_string().contains("Config::public_ip"), "{err}");
        let mut cfg = Config::new("0.0.0.0:0".parse().expect("addr"));
        cfg.public_ip = Some("0.0.0.0".parse().expect("ip"));
        assert!(matches!(
            MediaServer::start(cfg),
            Err(RtcError::InvalidConfig(_))
        ));
        let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"));
        cfg.max_peers_per_call = 0;
        assert!(matches!(
            MediaServer::start(cfg),
            Err(RtcError::InvalidConfig(_))
        ));
        // The advertised address takes public_ip and the bound port.
        let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"));
        cfg.public_ip = Some("127.0.0.2".parse().expect("ip"));
        let s = MediaServer::start(cfg).expect("starts");
        assert_eq!(s.advertised_addr().ip().to_string(), "127.0.0.2");
        assert_eq!(s.advertised_addr().port(), s.local_addr().port());
    });
    let err = MediaServer::start(Config::new("127.0.0.1:0".parse().expect("addr"))).unwrap_err();
    assert!(matches!(err, RtcError::NoRuntime), "{err}");
}

#[test]
fn signals_serialize_for_the_websocket() {
    let s = Signal::Speaking {
        peer: "a".into(),
        speaking: true,
    };
    let json = serde_json::to_string(&s).expect("json");
    assert_eq!(json, r#"{"type":"speaking","peer":"a","speaking":true}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_with_mdns_candidate_is_accepted() {
    let server = server();
    let _p = server.join("m", "a").await.expect("join");
    let offer = offline_offer(true, false).replacen(
        "a=mid:",
        "a=candidate:1 1 udp 2122260223 4f3b1c2e-0000-4000-8000-000000000000.local 54321 typ host generation 0\r\na=mid:",
        1,
    );
    assert!(offer.contains(".local"));
    let r = server.publish_offer("m", "a", offer).await;
    assert!(r.is_ok(), "{r:?}");
}
