//! The room channel's messages, shared by the server and the WASM client: one JSON object per
//! websocket text frame, tagged by `"t"`. Version 1. Everything a client sends is checked here
//! (`ClientMsg::parse`) before the server acts on it, so a malformed or out-of-range message
//! becomes an `Error` answer and never a panic.

use crate::catalog::FilmCard;
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
    // Choosing together: the room's queue. Each is a room event like play or pause.
    /// "Add to queue": a film of the catalog.
    QueueAdd {
        film: String,
    },
    /// A vote for an entry (`vote: false` takes it back).
    QueueVote {
        entry: String,
        vote: bool,
    },
    /// The owner (or whoever added it) takes an entry out.
    QueueRemove {
        entry: String,
    },
    /// The owner puts an entry on now.
    PlayNow {
        entry: String,
    },
    /// "Skip" (`skip: false` takes it back): a majority of those present moves the room on to
    /// the top of the queue; once the film has ended, anyone's press does ("Play next").
    Skip {
        skip: bool,
    },
    /// This browser reached the end of the film, which is `duration` ms long as it plays here:
    /// the countdown to the next one may start.
    FilmEnded {
        duration: f64,
    },
    /// "Cancel" on the countdown to the next film.
    CancelNext,
}

/// The longest SDP a browser sends and the longest ICE candidate line. Chromium's answer on the
/// subscribe connection grows by 1–1.5 KB for each person who sends sound or video (measured
/// in the call's browser test): 30 people with microphones and cameras come to about 60 KB.
pub const SDP_MAX_BYTES: usize = 96 * 1024;
/// Film ids and queue entry ids are short; anything longer is not one.
pub const ID_MAX_CHARS: usize = 200;
/// A room's queue holds this many entries at most, and this many of one person's.
pub const QUEUE_MAX: i64 = 50;
pub const QUEUE_MAX_EACH: i64 = 10;
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
    /// The room's queue is full (50), or this person's share of it (10).
    QueueFull,
    QueueFullForYou,
    /// That film is in the queue already.
    AlreadyQueued,
    /// No such film in the catalog (or it cannot be played).
    UnknownFilm,
    /// That queue entry is gone (played, removed).
    NoSuchEntry,
    /// Only the room's owner (or, to remove an entry, whoever added it) may do that.
    OwnerOnly,
    /// Nothing in the queue to play next.
    QueueEmpty,
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
            ClientMsg::FilmEnded { duration } if !position_ok(*duration) => {
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
            ClientMsg::QueueAdd { film: id }
            | ClientMsg::QueueVote { entry: id, .. }
            | ClientMsg::QueueRemove { entry: id }
            | ClientMsg::PlayNow { entry: id }
                if id.is_empty() || id.chars().count() > ID_MAX_CHARS =>
            {
                return Err(ProtoError::Malformed)
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

    /// Is this message about the room's queue and what plays next?
    pub fn is_queue(&self) -> bool {
        matches!(
            self,
            ClientMsg::QueueAdd { .. }
                | ClientMsg::QueueVote { .. }
                | ClientMsg::QueueRemove { .. }
                | ClientMsg::PlayNow { .. }
                | ClientMsg::Skip { .. }
                | ClientMsg::FilmEnded { .. }
                | ClientMsg::CancelNext
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
    /// A film joined the queue (the event's user added it).
    QueueAdd {
        entry: String,
        film: Box<FilmCard>,
    },
    QueueVote {
        entry: String,
        vote: bool,
    },
    QueueRemove {
        entry: String,
    },
    /// The event's user wants to skip the film on now (or no longer does).
    SkipVote {
        skip: bool,
    },
    /// The film ended: `entry` starts at server time `starts_at` unless someone cancels.
    NextUp {
        entry: String,
        film: Box<FilmCard>,
        starts_at: i64,
    },
    NextCancelled,
    /// The room changed film: `film` starts from its beginning (at the playback state sent with
    /// this event); `entry` is the queue entry it came from.
    NowPlaying {
        entry: Option<String>,
        film: Box<FilmCard>,
    },
}

impl EventKind {
    /// Does this event change the room's playback (so a `playback` message follows it)?
    pub fn changes_playback(&self) -> bool {
        matches!(
            self,
            EventKind::Play { .. }
                | EventKind::Pause { .. }
                | EventKind::Seek { .. }
                | EventKind::Rate { .. }
                | EventKind::Hold { .. }
                | EventKind::Resume { .. }
                | EventKind::NowPlaying { .. }
        )
    }

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
            EventKind::QueueAdd { .. } => "queue_add",
            EventKind::QueueVote { .. } => "queue_vote",
            EventKind::QueueRemove { .. } => "queue_remove",
            EventKind::SkipVote { .. } => "skip_vote",
            EventKind::NextUp { .. } => "next_up",
            EventKind::NextCancelled => "next_cancelled",
            EventKind::NowPlaying { .. } => "now_playing",
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
    /// What the room is choosing from and what it has played.
    #[serde(default)]
    pub queue: QueueState,
}

/// An entry of a room's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: String,
    pub film: FilmCard,
    /// Who added it (none once their account is gone).
    pub added_by: Option<String>,
    pub added_name: Option<String>,
    pub added_at: i64,
    /// Who voted for it.
    pub votes: Vec<String>,
}

/// The countdown to the next film.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextUp {
    pub entry: String,
    pub film: FilmCard,
    /// Server time it starts, ms since the epoch.
    pub at: i64,
}

/// A film the room put on, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Played {
    pub film: FilmCard,
    pub at: i64,
}

/// The room's choosing: the film on now (none while the room is still choosing), the queue,
/// who wants to skip, the countdown, and what it has played, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueState {
    pub film: Option<FilmCard>,
    pub entries: Vec<QueueEntry>,
    pub skips: Vec<String>,
    pub next: Option<NextUp>,
    pub played: Vec<Played>,
}

impl QueueState {
    /// The queue in its order: most votes first, then the earliest added.
    pub fn ordered(&self) -> Vec<QueueEntry> {
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| {
            b.votes
                .len()
                .cmp(&a.votes.len())
                .then(a.added_at.cmp(&b.added_at))
                .then(a.id.cmp(&b.id))
        });
        entries
    }

    /// Applies one event of the room's (those that are not about the queue change nothing).
    /// Applying an event already reflected changes nothing either, so a welcome's state and
    /// the events that came with it can be taken in any overlap.
    pub fn apply(&mut self, event: &RoomEvent) {
        let user = event.user.as_deref();
        match &event.kind {
            EventKind::QueueAdd { entry, film } if !self.entries.iter().any(|e| &e.id == entry) => {
                self.entries.push(QueueEntry {
                    id: entry.clone(),
                    film: (**film).clone(),
                    added_by: event.user.clone(),
                    added_name: event.name.clone(),
                    added_at: event.at,
                    votes: Vec::new(),
                });
            }
            EventKind::QueueVote { entry, vote } => {
                let (Some(e), Some(user)) =
                    (self.entries.iter_mut().find(|e| &e.id == entry), user)
                else {
                    return;
                };
                e.votes.retain(|v| v != user);
                if *vote {
                    e.votes.push(user.to_owned());
                }
            }
            EventKind::QueueRemove { entry } => self.entries.retain(|e| &e.id != entry),
            EventKind::SkipVote { skip } => {
                let Some(user) = user else { return };
                self.skips.retain(|v| v != user);
                if *skip {
                    self.skips.push(user.to_owned());
                }
            }
            EventKind::NextUp {
                entry,
                film,
                starts_at,
            } => {
                self.next = Some(NextUp {
                    entry: entry.clone(),
                    film: (**film).clone(),
                    at: *starts_at,
                })
            }
            EventKind::NextCancelled => self.next = None,
            EventKind::NowPlaying { entry, film } => {
                if let Some(entry) = entry {
                    self.entries.retain(|e| &e.id != entry);
                }
                self.skips.clear();
                self.next = None;
                self.film = Some((**film).clone());
                if !self
                    .played
                    .iter()
                    .any(|p| p.at == event.at && p.film.id == film.id)
                {
                    self.played.push(Played {
                        film: (**film).clone(),
                        at: event.at,
                    });
                }
            }
            _ => {}
        }
    }
}

/// What the server says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to `Hello`: the state, then the events after the client's `last_seq` (or,
    /// on a first connect or after a long absence, the latest page with `more` set).
    Welcome {
        v: u32,
        snapshot: Box<Snapshot>,
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
    /// In the room's call, as `peer` (this socket's name in the call), with the TURN servers
    /// this seat may relay through (credentials of its own that expire) and whether it must.
    CallJoined {
        peer: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice: Vec<IceServer>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        relay_only: bool,
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

/// A TURN server as the browser's `RTCIceServer` wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
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

#[cfg(test)]
mod queue_tests {
    use super::*;

    fn film(id: &str) -> Box<FilmCard> {
        Box::new(FilmCard {
            id: id.into(),
            title_en: id.into(),
            title_ru: id.into(),
            year: 1922,
            genres: vec![],
            duration_secs: 60,
            playable: true,
            poster: None,
        })
    }

    fn event(seq: i64, user: &str, kind: EventKind) -> RoomEvent {
        RoomEvent {
            seq,
            at: seq * 1000,
            user: Some(user.into()),
            name: None,
            kind,
        }
    }

    #[test]
    fn queue_messages_are_checked() {
        assert_eq!(
            ClientMsg::parse(r#"{"t":"queue_vote","entry":"e1","vote":true}"#),
            Ok(ClientMsg::QueueVote {
                entry: "e1".into(),
                vote: true
            })
        );
        assert!(ClientMsg::parse(r#"{"t":"skip","skip":true}"#).is_ok_and(|m| m.is_queue()));
        assert_eq!(
            ClientMsg::parse(r#"{"t":"queue_add","film":""}"#),
            Err(ProtoError::Malformed)
        );
        assert_eq!(
            ClientMsg::parse(r#"{"t":"film_ended","duration":-1}"#),
            Err(ProtoError::OutOfRange)
        );
        assert_eq!(
            ClientMsg::parse(r#"{"t":"film_ended","duration":"NaN"}"#),
            Err(ProtoError::Malformed)
        );
    }

    #[test]
    fn the_queue_state_follows_events_and_taking_one_twice_changes_nothing() {
        let events = [
            event(
                1,
                "a",
                EventKind::QueueAdd {
                    entry: "e1".into(),
                    film: film("f1"),
                },
            ),
            event(
                2,
                "a",
                EventKind::QueueAdd {
                    entry: "e2".into(),
                    film: film("f2"),
                },
            ),
            event(
                3,
                "b",
                EventKind::QueueVote {
                    entry: "e2".into(),
                    vote: true,
                },
            ),
            event(
                4,
                "c",
                EventKind::QueueVote {
                    entry: "e2".into(),
                    vote: true,
                },
            ),
            event(
                5,
                "c",
                EventKind::QueueVote {
                    entry: "e2".into(),
                    vote: false,
                },
            ),
            event(6, "b", EventKind::SkipVote { skip: true }),
        ];
        let mut state = QueueState::default();
        for e in &events {
            state.apply(e);
        }
        let order: Vec<String> = state.ordered().into_iter().map(|e| e.id).collect();
        assert_eq!(order, ["e2", "e1"], "most votes first");
        assert_eq!(state.ordered()[0].votes, ["b"]);
        let once = state.clone();
        for e in &events {
            state.apply(e);
        }
        assert_eq!(
            state, once,
            "a welcome's state and its events overlap harmlessly"
        );
        state.apply(&event(
            7,
            "b",
            EventKind::NowPlaying {
                entry: Some("e2".into()),
                film: film("f2"),
            },
        ));
        assert_eq!(state.film.as_ref().map(|f| f.id.as_str()), Some("f2"));
        assert!(state.skips.is_empty());
        assert_eq!(state.entries.len(), 1);
        assert_eq!(state.played.len(), 1);
    }
}
