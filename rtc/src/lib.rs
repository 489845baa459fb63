//! `kino-rtc`: the media server core of Kino's voice and camera calls.
//!
//! Friends in a Kino room talk and see each other while the film plays. Sending
//! every camera to every friend directly (a mesh) stops working at about four
//! people, so the browsers send their microphone and camera once to this
//! server, and the server forwards each stream to the other people in the
//! same call: a *selective forwarding unit* (SFU). It never decodes or mixes
//! media; it only decides who receives which packets.
//!
//! What it is:
//! - one tokio task that owns one UDP socket and every WebRTC connection
//!   ([`str0m`] `Rtc` instances, which are sans-IO state machines), started by
//!   [`MediaServer::start`];
//! - two peer connections per participant, as LiveKit and mediasoup clients
//!   use: a *publish* connection where the browser offers its tracks, and a
//!   *subscribe* connection where the server offers the other people's tracks,
//!   so the two sides never make offers on the same connection at once;
//! - a small async API ([`MediaServer`]) plus a stream of [`Signal`]s per
//!   participant that the caller relays to the browser.
//!
//! What it deliberately is not:
//! - not a signalling server: it does not know about websockets, rooms, users
//!   or permissions. The caller decides who may join which call and carries
//!   SDP, candidates and [`Signal`]s over its own channel;
//! - not a TURN server (see [`turn_credentials`] for coturn's scheme) and not
//!   a full ICE agent: it is ICE-lite with one host candidate;
//! - not a recorder, mixer or transcoder; no simulcast layer switching yet;
//! - not tied to str0m in its interface: no str0m type appears in the public
//!   API, so another engine could sit behind it later.
//!
//! Media is forwarded in str0m's *frame mode*: str0m reassembles each incoming
//! audio or video frame and re-packetizes it for every subscriber. That costs a
//! little copying but lets str0m do what an RTP-mode SFU would otherwise have
//! to do by hand per subscriber: fresh SSRCs and sequence numbers, payload type
//! mapping between the two negotiations, NACK/RTX, sender reports, and
//! keyframe detection.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod error;
mod lastn;
mod turn;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use error::RtcError;
pub use lastn::{choose_video_senders, DEFAULT_LAST_N};
pub use turn::turn_credentials;

/// A participant's name inside one call, as chosen by the caller (for Kino:
/// the user or session id).
pub type PeerId = String;

/// How the media server is set up. Build with [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one UDP socket all calls share. Port 0 picks a free port (see
    /// [`MediaServer::local_addr`]).
    pub bind: SocketAddr,
    /// The address browsers send media to, put into the server's ICE candidate.
    /// `None` uses the bound address, which must then not be `0.0.0.0`/`::`
    /// (start fails with [`RtcError::NoPublicAddress`]). Behind 1:1 NAT (cloud
    /// VMs) set this to the public address.
    pub public_ip: Option<IpAddr>,
    /// Joins beyond this many participants fail with [`RtcError::CallFull`].
    pub max_peers_per_call: usize,
    /// Advisory microphone bitrate cap in bits/s. Browsers ignore REMB for
    /// audio, so it is only sent to the browser in [`Signal::BitrateCaps`]
    /// for it to apply with `RTCRtpSender.setParameters`.
    pub audio_bitrate_cap: u64,
    /// Camera bitrate cap in bits/s. Sent to the browser in
    /// [`Signal::BitrateCaps`] and enforced on the wire with RTCP REMB on each
    /// published video track, refreshed every two seconds.
    pub video_bitrate_cap: u64,
    /// How many cameras are forwarded at most (see [`choose_video_senders`]).
    pub last_n: usize,
    /// A participant whose subscribe connection is not up this long after
    /// joining is removed: the browser never answered or cannot reach us.
    pub connect_timeout: Duration,
    /// How long an ICE "disconnected" state may last before the participant is
    /// removed. ICE-lite notices silence after about 15 s of missing consent
    /// checks; this grace comes on top to survive a brief network switch.
    pub ice_disconnect_grace: Duration,
}

impl Config {
    /// A configuration with the defaults: 12 people per call, 64 kbit/s audio,
    /// 1 Mbit/s video, 9 cameras, 30 s to connect, 5 s disconnect grace.
    pub fn new(bind: SocketAddr) -> Config {
        Config {
            bind,
            public_ip: None,
            max_peers_per_call: 12,
            audio_bitrate_cap: 64_000,
            video_bitrate_cap: 1_000_000,
            last_n: DEFAULT_LAST_N,
            connect_timeout: Duration::from_secs(30),
            ice_disconnect_grace: Duration::from_secs(5),
        }
    }
}

/// Which of a participant's two peer connections something is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conn {
    /// Browser → server: the browser offers its microphone/camera, the server answers.
    Publish,
    /// Server → browser: the server offers the others' tracks, the browser answers.
    Subscribe,
}

/// Microphone or camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Voice.
    Audio,
    /// Camera.
    Video,
}

/// ICE state of one connection, as the server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceState {
    /// Nothing heard yet.
    New,
    /// Connectivity checks under way.
    Checking,
    /// Media can flow.
    Connected,
    /// Media can flow; checks are finished.
    Completed,
    /// No consent checks heard recently; the participant is removed if this
    /// lasts longer than [`Config::ice_disconnect_grace`].
    Disconnected,
}

/// One published track as seen by one receiving participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// Who publishes it.
    pub peer: PeerId,
    /// Microphone or camera.
    pub kind: Kind,
    /// The publisher muted it (nothing is forwarded).
    pub muted: bool,
    /// Packets of it are being forwarded to you now (false when muted, or for
    /// a camera outside the last-N set).
    pub forwarded: bool,
    /// The `mid` of the transceiver on *your* subscribe connection that carries
    /// it, once an offer containing it has been made. The same peer name is
    /// also the `msid` stream id in the SDP.
    pub mid: Option<String>,
}

/// A message the server wants delivered to one participant's browser.
///
/// Serializes as JSON objects tagged with `"type"` so the caller can forward
/// them over its websocket unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Signal {
    /// A new offer for the subscribe connection. Apply it with
    /// `setRemoteDescription`, answer, and pass the answer to
    /// [`MediaServer::subscribe_answer`]. At most one is outstanding: changes
    /// that happen meanwhile are folded into the next offer.
    SubscribeOffer {
        /// The offer SDP.
        sdp: String,
    },
    /// ICE state of one of this participant's connections changed.
    Ice {
        /// Which connection.
        conn: Conn,
        /// The new state.
        state: IceState,
    },
    /// The tracks the other participants publish, as seen by you. Sent whenever
    /// the list changes (publish, unpublish, mute, last-N change, renegotiation).
    Tracks {
        /// All tracks of all other participants.
        tracks: Vec<TrackInfo>,
    },
    /// Someone in the call started or stopped talking (from the audio-level
    /// RTP header extension). Includes yourself.
    Speaking {
        /// Who.
        peer: PeerId,
        /// Talking now.
        speaking: bool,
    },
    /// Bitrate limits the browser should apply to its senders.
    BitrateCaps {
        /// For the microphone, bits/s.
        audio_bps: u64,
        /// For the camera, bits/s.
        video_bps: u64,
    },
    /// Something went wrong with this participant's media that the browser
    /// should know about (the message is human readable).
    Error {
        /// What happened.
        message: String,
    },
    /// The server removed this participant (connection lost or timed out).
    /// Nothing more will be sent; join again to come back.
    Removed {
        /// Why.
        reason: String,
    },
}

/// Counters used to watch the server (and by tests to prove nothing leaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Calls with at least one participant.
    pub calls: usize,
    /// Participants in all calls.
    pub peers: usize,
    /// WebRTC connections (str0m `Rtc` instances) the server holds.
    pub rtcs_alive: usize,
    /// UDP datagrams received on the media socket (any content).
    pub packets_in: u64,
    /// Datagrams that were not understood or belonged to no connection.
    pub packets_dropped: u64,
    /// Media frames received from publishers (one frame = one audio packet or
    /// one whole video frame).
    pub media_in: u64,
    /// Media frames written to subscribers.
    pub packets_forwarded: u64,
}

/// A joined participant: the stream of [`Signal`]s for its browser.
///
/// Dropping it (or its receiver) makes the server remove the participant at
/// its next housekeeping pass, as if [`MediaServer::leave`] had been called.
#[derive(Debug)]
pub struct Participant {
    /// The call joined.
    pub call: String,
    /// The peer name.
    pub peer: PeerId,
    /// Messages for the browser, in order.
    pub signals: mpsc::Receiver<Signal>,
}

impl Participant {
    /// Waits for the next signal; `None` once the participant has been removed.
    pub async fn next_signal(&mut self) -> Option<Signal> {
        self.signals.recv().await
    }
}

/// Handle to the running media server. Cheap to clone; the server task stops
/// (closing every connection) when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct MediaServer {
    tx: mpsc::Sender<engine::Command>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
}

impl MediaServer {
    /// Binds the UDP socket and spawns the media task on the current tokio runtime.
    pub fn start(config: Config) -> Result<MediaServer, RtcError> {
        let (tx, local_addr, advertised) = engine::start(config)?;
        Ok(MediaServer {
            tx,
            local_addr,
            advertised,
        })
    }

    /// The address the UDP socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address put into the server's ICE candidates.
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, RtcError>>) -> engine::Command,
    ) -> Result<T, RtcError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| RtcError::Stopped)?;
        rx.await.map_err(|_| RtcError::Stopped)?
    }

    /// Adds `peer` to `call` (creating the call) and prepares its subscribe
    /// connection: the first [`Signal::SubscribeOffer`] is already waiting in
    /// the returned participant's signals. That first offer always carries a
    /// data channel (label `kino`, unused for now) besides any tracks, so the
    /// connection comes up even when nobody publishes yet.
    pub async fn join(&self, call: &str, peer: &str) -> Result<Participant, RtcError> {
        let signals = self
            .ask(|reply| engine::Command::Join {
                call: call.to_owned(),
                peer: peer.to_owned(),
                reply,
            })
            .await?;
        Ok(Participant {
            call: call.to_owned(),
            peer: peer.to_owned(),
            signals,
        })
    }

    /// Applies the browser's offer for its publish connection (first offer or
    /// renegotiation) and returns the server's answer SDP.
    ///
    /// The new tracks are announced to the others (in [`Signal::Tracks`] and
    /// their next subscribe offer) once this connection is up (ICE and DTLS
    /// done), not at offer time: a publisher that cannot connect never makes
    /// everyone else renegotiate.
    pub async fn publish_offer(
        &self,
        call: &str,
        peer: &str,
        sdp: String,
    ) -> Result<String, RtcError> {
        self.ask(|reply| engine::Command::PublishOffer {
            call: call.to_owned(),
            peer: peer.to_owned(),
            sdp,
            reply,
        })
        .await
    }

    /// Applies the browser's answer to the outstanding [`Signal::SubscribeOffer`].
    pub async fn subscribe_answer(
        &self,
        call: &str,
        peer: &str,
        sdp: String,
    ) -> Result<(), RtcError> {
        self.ask(|reply| engine::Command::SubscribeAnswer {
            call: call.to_owned(),
            peer: peer.to_owned(),
            sdp,
            reply,
        })
        .await
    }

    /// Adds a trickled remote ICE candidate (`candidate:…` as in
    /// `RTCIceCandidate.candidate`; an empty string means end of candidates and
    /// is accepted and ignored). Candidates for the publish connection that
    /// arrive before its offer are kept and applied with the offer.
    pub async fn candidate(
        &self,
        call: &str,
        peer: &str,
        which: Conn,
        candidate: String,
    ) -> Result<(), RtcError> {
        self.ask(|reply| engine::Command::Candidate {
            call: call.to_owned(),
            peer: peer.to_owned(),
            conn: which,
            candidate,
            reply,
        })
        .await
    }

    /// Records that the participant muted or unmuted its microphone or camera,
    /// and stops or resumes forwarding that kind from it. (A muted browser
    /// track still sends silence or black frames; forwarding them is waste.)
    pub async fn set_muted(
        &self,
        call: &str,
        peer: &str,
        kind: Kind,
        muted: bool,
    ) -> Result<(), RtcError> {
        self.ask(|reply| engine::Command::SetMuted {
            call: call.to_owned(),
            peer: peer.to_owned(),
            kind,
            muted,
            reply,
        })
        .await
    }

    /// Removes the participant: closes both connections and renegotiates the
    /// others' subscribe connections without its tracks. The call disappears
    /// with its last participant.
    pub async fn leave(&self, call: &str, peer: &str) -> Result<(), RtcError> {
        self.ask(|reply| engine::Command::Leave {
            call: call.to_owned(),
            peer: peer.to_owned(),
            reply,
        })
        .await
    }

    /// Current counters.
    pub async fn stats(&self) -> Result<Stats, RtcError> {
        self.ask(|reply| engine::Command::Stats { reply }).await
    }

    /// The calls this server holds now, by name, with how many participants each has.
    pub async fn calls(&self) -> Result<Vec<(String, usize)>, RtcError> {
        self.ask(|reply| engine::Command::Calls { reply }).await
    }
}
