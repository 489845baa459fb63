//! Test browsers made of str0m: each client is its own `Rtc` with its own UDP
//! socket on 127.0.0.1, driven by its own tokio task. Tests talk to a client
//! through commands and read what it received as events.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_rtc::{MediaServer, Signal};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Generous bound for anything that should happen "within a few seconds".
pub const WAIT: Duration = Duration::from_secs(8);

pub enum Cmd {
    MakeOffer {
        audio: bool,
        video: bool,
        reply: oneshot::Sender<String>,
    },
    AcceptAnswer {
        sdp: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    AcceptOffer {
        sdp: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    SetSending(bool),
    /// Send raw bytes from this client's socket (to test garbage from a live peer's address).
    SendRaw(Vec<u8>, SocketAddr),
    /// The next (audio, video) frame numbers this client will write.
    Seqs(oneshot::Sender<(u32, u32)>),
}

#[derive(Debug)]
pub enum Ev {
    Connected,
    Media {
        mid: String,
        data: Vec<u8>,
        keyframe: bool,
        audio_level: Option<i8>,
    },
    KeyframeRequested,
    /// The server asked this (publishing) client to cap its bitrate.
    Remb(u64),
}

pub struct Client {
    pub cmd: mpsc::UnboundedSender<Cmd>,
    pub events: mpsc::UnboundedReceiver<Ev>,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The synthetic Opus-sized audio frame number `seq`: a counter plus bytes
/// that change with it, so a test can check payloads arrive unchanged.
pub fn audio_payload(seq: u32) -> Vec<u8> {
    let mut v = vec![0u8; 60];
    v[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in v.iter_mut().enumerate().skip(4) {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
    v
}

/// A synthetic VP8-looking frame. str0m's VP8 packetizer only adds the RTP
/// payload descriptor and its depacketizer reads the keyframe flag from bit 0
/// of the first frame byte (P=0 means keyframe); it does not decode. Frames
/// are bigger than one packet so reassembly is exercised.
pub fn video_payload(seq: u32, keyframe: bool) -> Vec<u8> {
    let mut v = vec![0u8; 2500];
    v[0] = if keyframe { 0x10 } else { 0x11 };
    v[1..5].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in v.iter_mut().enumerate().skip(5) {
        *b = (seq as u8).wrapping_add((i % 251) as u8);
    }
    v
}

pub fn seq_of(data: &[u8], video: bool) -> u32 {
    let at = if video { 1 } else { 0 };
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[at..at + 4]);
    u32::from_be_bytes(b)
}

struct State {
    rtc: Rtc,
    socket: Arc<UdpSocket>,
    events: mpsc::UnboundedSender<Ev>,
    pending: Option<SdpPendingOffer>,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    sending: bool,
    connected: bool,
    audio_seq: u32,
    video_seq: u32,
    next_audio: Instant,
    next_video: Instant,
    force_keyframe: bool,
}

impl Client {
    pub async fn spawn() -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind test client");
        let addr = socket.local_addr().expect("addr");
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let state = State {
            rtc,
            socket: Arc::new(socket),
            events: ev_tx,
            pending: None,
            audio_mid: None,
            video_mid: None,
            sending: false,
            connected: false,
            audio_seq: 0,
            video_seq: 0,
            next_audio: now,
            next_video: now,
            force_keyframe: false,
        };
        let task = tokio::spawn(run(state, cmd_rx));
        Client {
            cmd: cmd_tx,
            events: ev_rx,
            addr,
            task,
        }
    }

    pub async fn make_offer(&self, audio: bool, video: bool) -> String {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::MakeOffer {
                audio,
                video,
                reply,
            })
            .expect("client alive");
        rx.await.expect("offer")
    }

    pub async fn accept_answer(&self, sdp: String) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::AcceptAnswer { sdp, reply })
            .expect("client alive");
        rx.await.expect("answer reply")
    }

    pub async fn accept_offer(&self, sdp: String) -> Result<String, String> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::AcceptOffer { sdp, reply })
            .expect("client alive");
        rx.await.expect("offer reply")
    }

    /// The next (audio, video) frame numbers this client will write: every
    /// frame written from now on has a number at least this big.
    pub async fn seqs(&self) -> (u32, u32) {
        let (reply, rx) = oneshot::channel();
        self.cmd.send(Cmd::Seqs(reply)).expect("client alive");
        rx.await.expect("seqs")
    }

    pub fn set_sending(&self, on: bool) {
        let _ = self.cmd.send(Cmd::SetSending(on));
    }

    pub fn send_raw(&self, bytes: Vec<u8>, to: SocketAddr) {
        let _ = self.cmd.send(Cmd::SendRaw(bytes, to));
    }

    /// Next media event matching `pred`, other events are skipped.
    pub async fn next_media(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&str, &[u8], bool) -> bool,
    ) -> Option<(String, Vec<u8>, bool)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Ev::Media {
                    mid,
                    data,
                    keyframe,
                    ..
                })) => {
                    if pred(&mid, &data, keyframe) {
                        return Some((mid, data, keyframe));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    pub async fn wait_keyframe_request(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Ev::KeyframeRequested)) => return true,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Waits for the next REMB the server sends this client.
    pub async fn wait_remb(&mut self, within: Duration) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Ev::Remb(bps))) => return Some(bps),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The audio level header of the next audio-sized frame on `mid`.
    pub async fn next_audio_level(&mut self, mid: &str, within: Duration) -> Option<Option<i8>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Ev::Media {
                    mid: m,
                    audio_level,
                    ..
                })) if m == mid => return Some(audio_level),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Throws away everything received so far.
    pub fn clear(&mut self) {
        while self.events.try_recv().is_ok() {}
    }
}

/// Makes an offer SDP with a throwaway `Rtc`, without any networking.
pub fn offline_offer(audio: bool, video: bool) -> String {
    let mut rtc = Rtc::new(Instant::now());
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    if audio {
        api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    }
    if video {
        api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    }
    let (offer, _pending) = api.apply().expect("offer");
    offer.to_sdp_string()
}

/// Answers a server offer with a throwaway `Rtc`, without any networking.
pub fn offline_answer(offer: &str) -> String {
    let mut rtc = Rtc::new(Instant::now());
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let offer = SdpOffer::from_sdp_string(offer).expect("server offer parses");
    let answer = rtc.sdp_api().accept_offer(offer).expect("accept");
    answer.to_sdp_string()
}

async fn run(mut s: State, mut commands: mpsc::UnboundedReceiver<Cmd>) {
    let mut buf = vec![0u8; 2000];
    let socket = s.socket.clone();
    loop {
        // Drain: every mutation below is followed by this.
        let timeout = loop {
            match s.rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => s.on_event(e),
                Err(_) => return,
            }
        };
        let mut wake = timeout;
        if s.sending && s.connected {
            if s.audio_mid.is_some() {
                wake = wake.min(s.next_audio);
            }
            if s.video_mid.is_some() {
                wake = wake.min(s.next_video);
            }
        }
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => s.on_command(cmd).await,
                None => return,
            },
            r = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = r else { continue };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: socket.local_addr().expect("addr"),
                    contents,
                });
                if s.rtc.handle_input(input).is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                // Exactly one mutation per turn.
                let now = Instant::now();
                if s.sending && s.connected && s.audio_mid.is_some() && now >= s.next_audio {
                    s.write_audio(now);
                } else if s.sending && s.connected && s.video_mid.is_some() && now >= s.next_video {
                    s.write_video(now);
                } else if s.rtc.handle_input(Input::Timeout(now)).is_err() {
                    return;
                }
            }
        }
    }
}

impl State {
    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connected => {
                self.connected = true;
                let _ = self.events.send(Ev::Connected);
            }
            Event::MediaData(d) => {
                let _ = self.events.send(Ev::Media {
                    mid: d.mid.to_string(),
                    keyframe: d.is_keyframe(),
                    audio_level: d.ext_vals.audio_level,
                    data: d.data.to_vec(),
                });
            }
            Event::EgressBitrateEstimate(str0m::bwe::BweKind::Remb(_, bitrate)) => {
                let _ = self.events.send(Ev::Remb(bitrate.as_u64()));
            }
            Event::KeyframeRequest(_) => {
                self.force_keyframe = true;
                let _ = self.events.send(Ev::KeyframeRequested);
            }
            _ => {}
        }
    }

    async fn on_command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::MakeOffer {
                audio,
                video,
                reply,
            } => {
                let mut api = self.rtc.sdp_api();
                if audio {
                    self.audio_mid = Some(api.add_media(
                        MediaKind::Audio,
                        Direction::SendOnly,
                        None,
                        None,
                        None,
                    ));
                }
                if video {
                    self.video_mid = Some(api.add_media(
                        MediaKind::Video,
                        Direction::SendOnly,
                        None,
                        None,
                        None,
                    ));
                }
                let (offer, pending) = api.apply().expect("offer");
                self.pending = Some(pending);
                let _ = reply.send(offer.to_sdp_string());
            }
            Cmd::AcceptAnswer { sdp, reply } => {
                let r = match (SdpAnswer::from_sdp_string(&sdp), self.pending.take()) {
                    (Ok(answer), Some(pending)) => self
                        .rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| e.to_string()),
                    (Err(e), _) => Err(e.to_string()),
                    (_, None) => Err("no pending offer".into()),
                };
                let _ = reply.send(r);
            }
            Cmd::AcceptOffer { sdp, reply } => {
                let r = match SdpOffer::from_sdp_string(&sdp) {
                    Ok(offer) => self
                        .rtc
                        .sdp_api()
                        .accept_offer(offer)
                        .map(|a| a.to_sdp_string())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send(r);
            }
            Cmd::SetSending(on) => {
                self.sending = on;
                let now = Instant::now();
                self.next_audio = now;
                self.next_video = now;
            }
            Cmd::SendRaw(bytes, to) => {
                let _ = self.socket.send_to(&bytes, to).await;
            }
            Cmd::Seqs(reply) => {
                let _ = reply.send((self.audio_seq, self.video_seq));
            }
        }
    }

    fn pt_for(&mut self, mid: Mid, codec: Codec) -> Option<str0m::media::Pt> {
        let writer = self.rtc.writer(mid)?;
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt());
        pt
    }

    fn write_audio(&mut self, now: Instant) {
        self.next_audio += Duration::from_millis(20);
        if self.next_audio < now {
            self.next_audio = now + Duration::from_millis(20);
        }
        let Some(mid) = self.audio_mid else { return };
        let Some(pt) = self.pt_for(mid, Codec::Opus) else {
            return;
        };
        let seq = self.audio_seq;
        self.audio_seq += 1;
        if let Some(writer) = self.rtc.writer(mid) {
            let time = MediaTime::new(u64::from(seq) * 960, Frequency::FORTY_EIGHT_KHZ);
            // -20 dBov: "talking", so the server's speaking detection fires.
            let _ = writer
                .audio_level(-20, true)
                .write(pt, now, time, audio_payload(seq));
        }
    }

    fn write_video(&mut self, now: Instant) {
        self.next_video += Duration::from_millis(50);
        if self.next_video < now {
            self.next_video = now + Duration::from_millis(50);
        }
        let Some(mid) = self.video_mid else { return };
        let Some(pt) = self.pt_for(mid, Codec::Vp8) else {
            return;
        };
        let seq = self.video_seq;
        self.video_seq += 1;
        // Keyframes only at the start and when asked for: a late joiner that
        // gets a keyframe proves the server forwarded its request.
        let keyframe = seq == 0 || std::mem::take(&mut self.force_keyframe);
        if let Some(writer) = self.rtc.writer(mid) {
            let time = MediaTime::new(u64::from(seq) * 4500, Frequency::NINETY_KHZ);
            let _ = writer.write(pt, now, time, video_payload(seq, keyframe));
        }
    }
}

/// A test participant: the server-side [`kino_rtc::Participant`] plus a
/// subscribe client that answers every server offer automatically (like the
/// browser code will), and optionally a publish client.
pub struct TestPeer {
    pub call: String,
    pub name: String,
    pub subscriber: Client,
    pub publisher: Option<Client>,
    /// Every signal the server sent, offers included, in order.
    pub signals: mpsc::UnboundedReceiver<Signal>,
    /// The newest track list seen (a wait for a state may find it already here).
    pub last_tracks: Option<Vec<kino_rtc::TrackInfo>>,
    pump: JoinHandle<()>,
}

impl Drop for TestPeer {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl TestPeer {
    pub async fn join(server: &MediaServer, call: &str, name: &str) -> TestPeer {
        let mut participant = server.join(call, name).await.expect("join");
        let subscriber = Client::spawn().await;
        let cmd = subscriber.cmd.clone();
        let (sig_tx, sig_rx) = mpsc::unbounded_channel();
        let server2 = server.clone();
        let (call2, name2) = (call.to_owned(), name.to_owned());
        let pump = tokio::spawn(async move {
            while let Some(sig) = participant.next_signal().await {
                if let Signal::SubscribeOffer { sdp } = &sig {
                    let (reply, rx) = oneshot::channel();
                    if cmd
                        .send(Cmd::AcceptOffer {
                            sdp: sdp.clone(),
                            reply,
                        })
                        .is_err()
                    {
                        break;
                    }
                    let answer = match rx.await {
                        Ok(Ok(answer)) => answer,
                        Ok(Err(e)) => {
                            let _ = sig_tx.send(Signal::Error {
                                message: format!("test pump: client refused the offer: {e}\n{sdp}"),
                            });
                            break;
                        }
                        Err(_) => break,
                    };
                    if let Err(e) = server2.subscribe_answer(&call2, &name2, answer).await {
                        let _ = sig_tx.send(Signal::Error {
                            message: format!("test pump: answer refused: {e}"),
                        });
                    }
                }
                if sig_tx.send(sig).is_err() {
                    break;
                }
            }
        });
        TestPeer {
            call: call.to_owned(),
            name: name.to_owned(),
            subscriber,
            publisher: None,
            signals: sig_rx,
            last_tracks: None,
            pump,
        }
    }

    /// Creates the publish connection and starts sending synthetic media.
    pub async fn publish(&mut self, server: &MediaServer, audio: bool, video: bool) {
        let client = Client::spawn().await;
        let offer = client.make_offer(audio, video).await;
        let answer = server
            .publish_offer(&self.call, &self.name, offer)
            .await
            .expect("publish offer accepted");
        client.accept_answer(answer).await.expect("answer applied");
        client.set_sending(true);
        self.publisher = Some(client);
    }

    /// Waits for a signal matching `pred`, skipping others.
    pub async fn wait_signal(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&Signal) -> bool,
    ) -> Option<Signal> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = tokio::time::timeout_at(deadline, self.signals.recv()).await;
            if let Ok(Some(Signal::Tracks { tracks })) = &received {
                self.last_tracks = Some(tracks.clone());
            }
            match received {
                Ok(Some(sig)) if pred(&sig) => return Some(sig),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits until the track list satisfies `pred` — the newest one already seen counts, so a
    /// state reached while waiting for something else is not missed.
    pub async fn wait_tracks(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&[kino_rtc::TrackInfo]) -> bool,
    ) -> bool {
        if self.last_tracks.as_deref().is_some_and(&mut pred) {
            return true;
        }
        self.wait_signal(
            within,
            |s| matches!(s, Signal::Tracks { tracks } if pred(tracks)),
        )
        .await
        .is_some()
    }

    /// The subscribe-side mid carrying `peer`'s track of `kind`, from the
    /// newest `Tracks` signal that has one (waits for it).
    pub async fn mid_of(&mut self, peer: &str, kind: kino_rtc::Kind) -> Option<String> {
        let sig = self
            .wait_signal(WAIT, |s| match s {
                Signal::Tracks { tracks } => tracks
                    .iter()
                    .any(|t| t.peer == peer && t.kind == kind && t.mid.is_some()),
                _ => false,
            })
            .await?;
        match sig {
            Signal::Tracks { tracks } => tracks
                .into_iter()
                .find(|t| t.peer == peer && t.kind == kind)
                .and_then(|t| t.mid),
            _ => None,
        }
    }
}
