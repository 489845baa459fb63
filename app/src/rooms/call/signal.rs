//! What the media server says to this browser's seat in the call: `kino_rtc::Signal`, which
//! arrives as JSON text inside `ServerMsg::CallSignal`. The browser reads it into this mirror of
//! the server's type — small serde types, not `serde_json::Value`, whose parser would cost the
//! WASM its weight, and not `kino_rtc` itself, which would bring the WebRTC stack. The tests
//! check that whatever the server writes parses here.

use serde::Deserialize;

/// Microphone or camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Audio,
    Video,
}

/// One track someone else in the call publishes, as this browser receives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TrackInfo {
    /// Whose: `<user id>~<8 hex>` (one seat per socket).
    pub peer: String,
    pub kind: Kind,
    /// Its publisher turned it off.
    pub muted: bool,
    /// Its media reaches this browser now (false when muted, or for a camera outside the
    /// few the server forwards).
    pub forwarded: bool,
    /// The subscribe connection's `mid` carrying it, once offered.
    #[serde(default)]
    pub mid: Option<String>,
}

/// A message of the media server for this browser. Kinds this build does not know are `Other`
/// and ignored, so a newer server never breaks an older page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The server's offer for the subscribe connection: answer it.
    SubscribeOffer { sdp: String },
    /// What everyone else in the call publishes; the whole list, whenever it changes.
    Tracks { tracks: Vec<TrackInfo> },
    /// Someone (this browser's own seat too) started or stopped talking.
    Speaking { peer: String, speaking: bool },
    /// Bits per second the microphone and camera should stay under.
    BitrateCaps { audio_bps: u64, video_bps: u64 },
    /// Something went wrong with this browser's media (a sentence in English).
    Error { message: String },
    /// The server let this seat go (the connection was lost); joining again comes back.
    Removed { reason: String },
    /// Connection states and anything newer: nothing to do.
    Other,
}

/// The wire form: the tag and every field any kind has, read as one flat object. (A serde enum
/// tagged by `type` reads the same, but buffers each message first, and that code cost the room's
/// WASM several KB.)
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    sdp: Option<String>,
    tracks: Option<Vec<TrackInfo>>,
    peer: Option<String>,
    speaking: Option<bool>,
    audio_bps: Option<u64>,
    video_bps: Option<u64>,
    message: Option<String>,
    reason: Option<String>,
}

impl Signal {
    /// Reads a `CallSignal`'s text; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let w: Wire = serde_json::from_str(text).ok()?;
        Some(match w.kind.as_str() {
            "subscribe_offer" => Signal::SubscribeOffer { sdp: w.sdp? },
            "tracks" => Signal::Tracks { tracks: w.tracks? },
            "speaking" => Signal::Speaking {
                peer: w.peer?,
                speaking: w.speaking?,
            },
            "bitrate_caps" => Signal::BitrateCaps {
                audio_bps: w.audio_bps?,
                video_bps: w.video_bps?,
            },
            "error" => Signal::Error {
                message: w.message?,
            },
            "removed" => Signal::Removed { reason: w.reason? },
            _ => Signal::Other,
        })
    }
}

/// The user id in a peer's name (`<user id>~<8 hex>`): whose seat it is.
pub fn user_of(peer: &str) -> &str {
    peer.rsplit_once('~').map_or(peer, |(user, _)| user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_signals_parse() {
        let tracks = r#"{"type":"tracks","tracks":[
            {"peer":"u1~0a1b2c3d","kind":"audio","muted":false,"forwarded":true,"mid":"1"},
            {"peer":"u1~0a1b2c3d","kind":"video","muted":true,"forwarded":false,"mid":null}]}"#;
        assert_eq!(
            Signal::parse(tracks),
            Some(Signal::Tracks {
                tracks: vec![
                    TrackInfo {
                        peer: "u1~0a1b2c3d".into(),
                        kind: Kind::Audio,
                        muted: false,
                        forwarded: true,
                        mid: Some("1".into()),
                    },
                    TrackInfo {
                        peer: "u1~0a1b2c3d".into(),
                        kind: Kind::Video,
                        muted: true,
                        forwarded: false,
                        mid: None,
                    },
                ]
            })
        );
        assert_eq!(
            Signal::parse(r#"{"type":"speaking","peer":"p","speaking":true}"#),
            Some(Signal::Speaking {
                peer: "p".into(),
                speaking: true
            })
        );
        assert_eq!(
            Signal::parse(r#"{"type":"ice","conn":"publish","state":"connected"}"#),
            Some(Signal::Other)
        );
        assert_eq!(Signal::parse(r#"{"type":"speaking"}"#), None);
        assert_eq!(Signal::parse("not json"), None);
    }

    /// Every kind of signal the media server writes reads into the mirror, field by field.
    #[cfg(feature = "ssr")]
    #[test]
    fn every_server_signal_reads_into_the_mirror() {
        use kino_rtc::{Conn, IceState, Kind as K, Signal as S, TrackInfo as T};
        let track = T {
            peer: "u~12345678".into(),
            kind: K::Video,
            muted: false,
            forwarded: true,
            mid: Some("3".into()),
        };
        let cases = [
            (
                S::SubscribeOffer { sdp: "v=0".into() },
                Signal::SubscribeOffer { sdp: "v=0".into() },
            ),
            (
                S::Ice {
                    conn: Conn::Subscribe,
                    state: IceState::Disconnected,
                },
                Signal::Other,
            ),
            (
                S::Tracks {
                    tracks: vec![track],
                },
                Signal::Tracks {
                    tracks: vec![TrackInfo {
                        peer: "u~12345678".into(),
                        kind: Kind::Video,
                        muted: false,
                        forwarded: true,
                        mid: Some("3".into()),
                    }],
                },
            ),
            (
                S::Speaking {
                    peer: "p".into(),
                    speaking: false,
                },
                Signal::Speaking {
                    peer: "p".into(),
                    speaking: false,
                },
            ),
            (
                S::BitrateCaps {
                    audio_bps: 64_000,
                    video_bps: 1_000_000,
                },
                Signal::BitrateCaps {
                    audio_bps: 64_000,
                    video_bps: 1_000_000,
                },
            ),
            (
                S::Error {
                    message: "m".into(),
                },
                Signal::Error {
                    message: "m".into(),
                },
            ),
            (
                S::Removed { reason: "r".into() },
                Signal::Removed { reason: "r".into() },
            ),
        ];
        for (server, browser) in cases {
            let json = serde_json::to_string(&server).expect("a signal serializes");
            assert_eq!(Signal::parse(&json), Some(browser), "{json}");
        }
    }

    #[test]
    fn a_peer_belongs_to_its_user() {
        assert_eq!(user_of("3f2a~0a1b2c3d"), "3f2a");
        assert_eq!(user_of("plain"), "plain");
    }
}
