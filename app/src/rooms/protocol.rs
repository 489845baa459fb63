//! The room channel's messages, shared by the server and the WASM client: one JSON object per
//! websocket text frame, tagged by `"t"`. Version 1. Everything a client sends is checked here
//! (`ClientMsg::parse`) before the server acts on it, so a malformed or out-of-range message
//! becomes an `Error` answer and never a panic.

use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;
/// The largest frame a client may send; the server refuses anything bigger. Sized for the
/// call's largest message, an SDP answer (below) with its JSON escaping.
pub const MAX_FRAME_BYTES: usize = 112 * 1024;
pub const CHAT_MAX_CHARS: usize = 2000;
pub const CLIENT_ID_MAX_CHARS: usize = 64;
/// Positions beyond two days are nonsense for a film.
pub const MAX_POSITION_MS: f64 = 48.0 * 3600.0 * 1000.0;
pub const MIN_RATE: f64 = 0.25;
pub const MAX_RATE: f64 = 4.0;
/// The reactions' palette.
pub const REACTIONS: [&str; 8] = ["👍", "😂", "😮", "😢", "😡", "❤️", "🔥", "👏"];

/// What a client says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on every (re)connect: the protocol version and the last sequence seen
    /// (0 for none); the answer is the state and everything after `last_seq`.
    Hello {
        v: u32,
        last_seq: i64,
    },
    /// Clock sync: `t0` is the client's clock when sent.
    Ping {
        t0: f64,
    },
    Play {
        position: f64,
    },
    Pause {
        position: f64,
    },
    Seek {
        position: f64,
    },
    Rate {
        rate: f64,
    },
    /// A chat message; `id` is chosen by the client so a retried send is recognised.
    Chat {
        id: String,
        text: String,
        position: f64,
    },
    React {
        emoji: String,
        position: f64,
    },
    /// The local video stalled (`true`) or can play again (`false`).
    Buffering {
        stalled: bool,
    },
    /// Older chat, before `before_seq` (the latest page comes with `Hello`).
    History {
        before_seq: i64,
    },
    // The voice and camera call. Call messages are not room events: no sequence number, never
    // stored, never replayed; the media server answers them on this socket.
    /// Join the room's call (microphone and camera stay off until published).
    CallJoin,
    CallLeave,
    /// The offer of the browser's publish connection (its microphone and/or camera).
    CallPublish {
        sdp: String,
    },
    /// The browser's answer to the media server's offer on the subscribe connection.
    CallSubscribeAnswer {
        sdp: String,
    },
    /// A trickled ICE candidate of the publish (`publish: true`) or subscribe connection.
    CallCandidate {
        publish: bool,
        candidate: String,
    },
    /// The microphone (or, with `video`, the camera) was turned off or on.
    CallMute {
        video: bool,
        muted: bool,
    },
}

/// The longest SDP a browser sends and the longest ICE candidate line. Chromium's answer on the
/// subscribe connection grows by 1–1.5 KB for each person who sends sound or video (measured
/// in the call's browser test): 30 people with microphones and cameras come to about 60 KB.
pub const SDP_MAX_BYTES: usize = 96 * 1024;
pub const CANDIDATE_MAX_BYTES: usize = 1024;

/// Why a client's message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtoError {
    /// Not JSON, or not a message this version knows.
    Malformed,
    TooLarge,
    UnsupportedVersion,
    /// NaN, negative or absurd positions; rates outside 0.25–4.
    OutOfRange,
    ChatLength,
    UnknownReaction,
    /// The owner has locked playback controls.
    ControlsLocked,
    /// Too many messages; slow down.
    RateLimited,
    /// The room has ended: it is read-only.
    RoomEnded,
    /// The server could not do that just now (its database failed): nothing changed; try again.
    Unavailable,
    /// This server runs no media server (calls are off, or its UDP port could not be opened).
    CallsOff,
    /// A call message from a socket that has not joined the call.
    NotInCall,
}

impl ClientMsg {
    /// Reads and checks one text frame.
    pub fn parse(frame: &str) -> Result<Self, ProtoError> {
        if frame.len() > MAX_FRAME_BYTES {
            return Err(ProtoError::TooLarge);
        }
        let msg: ClientMsg = serde_json::from_str(frame).map_err(|_| ProtoError::Malformed)?;
        msg.check()?;
        Ok(msg)
    }

    fn check(&self) -> Result<(), ProtoError> {
        let position_ok = |p: f64| p.is_finite() && (0.0..=MAX_POSITION_MS).contains(&p);
        match self {
            ClientMsg::Hello { v, last_seq } => {
                if *v != PROTOCOL_VERSION {
                    return Err(ProtoError::UnsupportedVersion);
                }
                if *last_seq < 0 {
                    return Err(ProtoError::OutOfRange);
                }
            }
            ClientMsg::Ping { t0 } if !t0.is_finite() => return Err(ProtoError::OutOfRange),
            ClientMsg::Play { position }
            | ClientMsg::Pause { position }
            | ClientMsg::Seek { position }
            | ClientMsg::React { position, .. }
            | ClientMsg::Chat { position, .. }
                if !position_ok(*position) =>
            {
                return Err(ProtoError::OutOfRange)
            }
            ClientMsg::Rate { rate }
                if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(rate)) =>
            {
                return Err(ProtoError::OutOfRange)
            }
            ClientMsg::History { before_seq } if *before_seq < 1 => {
                return Err(ProtoError::OutOfRange)
            }
            ClientMsg::CallPublish { sdp } | ClientMsg::CallSubscribeAnswer { sdp }
                if sdp.is_empty() || sdp.len() > SDP_MAX_BYTES =>
            {
                return Err(ProtoError::TooLarge)
            }
            ClientMsg::CallCandidate { candidate, .. } if candidate.len() > CANDIDATE_MAX_BYTES => {
                return Err(ProtoError::TooLarge)
            }
            _ => {}
        }
        match self {
            ClientMsg::Chat { id, text, .. } => {
                let count = text.trim().chars().count();
                if id.is_empty() || id.chars().count() > CLIENT_ID_MAX_CHARS {
                    return Err(ProtoError::Malformed);
                }
                if count == 0 || count > CHAT_MAX_CHARS {
                    return Err(ProtoError::ChatLength);
                }
            }
            ClientMsg::React { emoji, .. } if !REACTIONS.contains(&emoji.as_str()) => {
                return Err(ProtoError::UnknownReaction)
            }
            _ => {}
        }
        Ok(())
    }

    /// Does this message change playback (and so obey locked controls)?
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            ClientMsg::Play { .. }
                | ClientMsg::Pause { .. }
                | ClientMsg::Seek { .. }
                | ClientMsg::Rate { .. }
        )
    }
}

/// Something that happened in a room, in the room's order. Stored as JSON in
/// `room_events.body` (the `kind` column repeats the tag for queries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Join,
    Leave,
    Play {
        position: f64,
    },
    Pause {
        position: f64,
    },
    Seek {
        from: f64,
        to: f64,
    },
    Rate {
        rate: f64,
    },
    Chat {
        id: String,
        text: String,
        position: f64,
    },
    React {
        emoji: String,
        position: f64,
    },
    Rename {
        name: String,
    },
    Controls {
        locked: bool,
    },
    Remove {
        user: String,
    },
    End,
    /// Playback held at `position` because the person stalled (buffering); the room waits.
    Hold {
        position: f64,
    },
    /// Playback goes on after a hold: everyone has caught up, or the wait timed out.
    Resume {
        position: f64,
        timed_out: bool,
    },
}

impl EventKind {
    /// The tag, as stored in `room_events.kind`.
    pub fn tag(&self) -> &'static str {
        match self {
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Play { .. } => "play",
            EventKind::Pause { .. } => "pause",
            EventKind::Seek { .. } => "seek",
            EventKind::Rate { .. } => "rate",
            EventKind::Chat { .. } => "chat",
            EventKind::React { .. } => "react",
            EventKind::Rename { .. } => "rename",
            EventKind::Controls { .. } => "controls",
            EventKind::Remove { .. } => "remove",
            EventKind::End => "end",
            EventKind::Hold { .. } => "hold",
            EventKind::Resume { .. } => "resume",
        }
    }

    /// Reads a stored event: the JSON body, or — for events without one — just the tag.
    pub fn from_stored(tag: &str, body: &str) -> Option<Self> {
        if let Ok(kind) = serde_json::from_str::<EventKind>(body) {
            return Some(kind);
        }
        serde_json::from_value(serde_json::json!({ "kind": tag })).ok()
    }
}

/// One event as sent to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomEvent {
    pub seq: i64,
    /// Server time, ms since the epoch.
    pub at: i64,
    /// Who did it (none for the lifecycle job).
    pub user: Option<String>,
    pub name: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Someone connected to the room right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Present {
    pub user: String,
    pub name: String,
    pub buffering: bool,
}

/// What a client needs to (re)join: who it is, the playback state, the room's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub me: String,
    pub owner: String,
    pub playback: crate::sync::Playback,
    pub controls_locked: bool,
    pub ended: bool,
    pub present: Vec<Present>,
    /// Playback is held, waiting for someone who is buffering.
    #[serde(default)]
    pub holding: bool,
    /// The room's last sequence number.
    pub seq: i64,
}

/// What the server says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to `Hello`: the state, then the events after the client's `last_seq` (or,
    /// on a first connect or after a long absence, the latest page with `more` set).
    Welcome {
        v: u32,
        snapshot: Snapshot,
        events: Vec<RoomEvent>,
        more: bool,
    },
    /// Clock sync: the client's `t0`, the server's receive and send times.
    Pong {
        t0: f64,
        t1: f64,
        t2: f64,
    },
    Event(RoomEvent),
    /// The playback state after a control event (sent with it).
    Playback {
        playback: crate::sync::Playback,
        seq: i64,
    },
    /// Who is connected (and buffering) changed.
    Presence {
        present: Vec<Present>,
        /// Playback is held, waiting for whoever is buffering.
        #[serde(default)]
        holding: bool,
    },
    /// An older page of events, for scrolling back.
    History {
        events: Vec<RoomEvent>,
        more: bool,
    },
    Error {
        error: ProtoError,
    },
    /// In the room's call, as `peer` (this socket's name in the call).
    CallJoined {
        peer: String,
    },
    /// The media server's answer to `CallPublish`.
    CallAnswer {
        sdp: String,
    },
    /// What the media server tells this participant (its offers on the subscribe connection,
    /// who publishes what and is muted, who speaks, connection states): `kino_rtc::Signal` as
    /// JSON text, for the call's own code to read (a JSON value here would cost every page's
    /// WASM its parser).
    CallSignal {
        signal: String,
    },
    /// A call message the media server refused (a malformed offer, a full call), and why.
    CallError {
        message: String,
    },
    /// Out of the call (asked for, or removed by the media server).
    CallLeft,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_messages_parse() {
        assert_eq!(
            ClientMsg::parse(r#"{"t":"hello","v":1,"last_seq":0}"#),
            Ok(ClientMsg::Hello { v: 1, last_seq: 0 })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"t":"seek","position":1800000}"#),
            Ok(ClientMsg::Seek {
                position: 1_800_000.0
            })
        );
        let chat = ClientMsg::parse(r#"{"t":"chat","id":"c-1","text":" привет ","position":0}"#);
        assert!(matches!(chat, Ok(ClientMsg::Chat { .. })));
        assert!(ClientMsg::parse(r#"{"t":"react","emoji":"🔥","position":12}"#).is_ok());
        assert!(ClientMsg::Pause { position: 1.0 }.is_control());
        assert!(!ClientMsg::Ping { t0: 1.0 }.is_control());
    }

    #[test]
    fn call_messages_are_bounded() {
        assert_eq!(
            ClientMsg::parse(r#"{"t":"call_join"}"#),
            Ok(ClientMsg::CallJoin)
        );
        assert!(!ClientMsg::CallJoin.is_control());
        let big = "x".repeat(SDP_MAX_BYTES + 1);
        let frame = serde_json::json!({ "t": "call_publish", "sdp": big }).to_string();
        assert_eq!(ClientMsg::parse(&frame), Err(ProtoError::TooLarge));
        assert_eq!(
            ClientMsg::parse(r#"{"t":"call_publish","sdp":""}"#),
            Err(ProtoError::TooLarge)
        );
        let long = serde_json::json!({
            "t": "call_candidate", "publish": true, "candidate": "c".repeat(CANDIDATE_MAX_BYTES + 1)
        });
        assert_eq!(
            ClientMsg::parse(&long.to_string()),
            Err(ProtoError::TooLarge)
        );
        assert_eq!(
            ClientMsg::parse(r#"{"t":"call_mute","video":false,"muted":true}"#),
            Ok(ClientMsg::CallMute {
                video: false,
                muted: true
            })
        );
    }

    #[test]
    fn bad_messages_say_why() {
        use ProtoError::*;
        for (frame, why) in [
            ("not json", Malformed),
            (r#"{"t":"dance"}"#, Malformed),
            (r#"{"t":"seek","position":"ten"}"#, Malformed),
            (r#"{"t":"hello","v":2,"last_seq":0}"#, UnsupportedVersion),
            (r#"{"t":"hello","v":1,"last_seq":-1}"#, OutOfRange),
            (r#"{"t":"seek","position":-1}"#, OutOfRange),
            (r#"{"t":"seek","position":1e300}"#, OutOfRange),
            (r#"{"t":"rate","rate":10}"#, OutOfRange),
            (r#"{"t":"rate","rate":0}"#, OutOfRange),
            (r#"{"t":"history","before_seq":0}"#, OutOfRange),
            (
                r#"{"t":"chat","id":"a","text":"   ","position":0}"#,
                ChatLength,
            ),
            (
                r#"{"t":"chat","id":"","text":"hi","position":0}"#,
                Malformed,
            ),
            (
                r#"{"t":"react","emoji":"<b>","position":0}"#,
                UnknownReaction,
            ),
        ] {
            assert_eq!(ClientMsg::parse(frame), Err(why), "{frame}");
        }
        let long = format!(
            r#"{{"t":"chat","id":"a","text":"{}","position":0}}"#,
            "я".repeat(CHAT_MAX_CHARS + 1)
        );
        assert_eq!(ClientMsg::parse(&long), Err(ChatLength));
        let ok = format!(
            r#"{{"t":"chat","id":"a","text":"{}","position":0}}"#,
            "я".repeat(CHAT_MAX_CHARS)
        );
        assert!(
            ClientMsg::parse(&ok).is_ok(),
            "2000 Cyrillic characters fit in a frame"
        );
        let huge = "x".repeat(MAX_FRAME_BYTES + 1);
        assert_eq!(ClientMsg::parse(&huge), Err(TooLarge));
    }

    #[test]
    fn a_server_failure_has_its_own_wire_code() {
        let msg = ServerMsg::Error {
            error: ProtoError::Unavailable,
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(json, r#"{"t":"error","error":"unavailable"}"#);
        assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg);
    }
}
