//! The one error type callers see.

use crate::Conn;

/// Everything that can go wrong when talking to the media server.
///
/// Errors caused by one participant's input (bad SDP, a stale answer, an unknown
/// name) are reported to that caller only; they never stop the media server or
/// disturb the other participants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtcError {
    /// The UDP socket could not be bound.
    #[error("could not bind the media UDP socket on {addr}: {source}")]
    Bind {
        /// The address from [`crate::Config::bind`].
        addr: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// There is no address to put into ICE candidates.
    #[error(
        "no public address to advertise: the server is bound to {bind}, which browsers cannot \
         reach; set Config::public_ip to the address browsers should send media to"
    )]
    NoPublicAddress {
        /// The bound address.
        bind: std::net::SocketAddr,
    },

    /// The configuration is unusable (the message says why).
    #[error("invalid media server configuration: {0}")]
    InvalidConfig(String),

    /// [`crate::MediaServer::start`] was called outside a tokio runtime.
    #[error("the media server must be started from inside a tokio runtime")]
    NoRuntime,

    /// The media server task is gone (it was shut down or all handles were dropped).
    #[error("the media server is not running")]
    Stopped,

    /// A call or peer name is empty, too long or contains control characters.
    #[error("invalid {what} name {name:?}: use 1 to 128 printable characters")]
    InvalidName {
        /// "call" or "peer".
        what: &'static str,
        /// The rejected name.
        name: String,
    },

    /// No call with this name exists (nobody has joined it).
    #[error("unknown call {0:?}")]
    UnknownCall(String),

    /// The call exists but this peer is not in it.
    #[error("peer {peer:?} is not in call {call:?}")]
    UnknownPeer {
        /// The call.
        call: String,
        /// The peer.
        peer: String,
    },

    /// The peer is already in the call (a second tab must use another peer name).
    #[error("peer {peer:?} is already in call {call:?}")]
    AlreadyJoined {
        /// The call.
        call: String,
        /// The peer.
        peer: String,
    },

    /// The call has reached [`crate::Config::max_peers_per_call`].
    #[error("call {call:?} is full ({max} participants)")]
    CallFull {
        /// The call.
        call: String,
        /// The configured maximum.
        max: usize,
    },

    /// The SDP could not be parsed at all.
    #[error("malformed SDP {what}: {reason}")]
    InvalidSdp {
        /// "offer" or "answer".
        what: &'static str,
        /// Parser message.
        reason: String,
    },

    /// The SDP parsed but the WebRTC stack refused it (for example it lacks a
    /// DTLS fingerprint or has no media).
    #[error("SDP {what} rejected: {reason}")]
    SdpRejected {
        /// "offer" or "answer".
        what: &'static str,
        /// What the WebRTC stack said.
        reason: String,
    },

    /// An answer arrived for the subscribe connection but the server has no
    /// offer outstanding (a duplicate or out-of-order answer).
    #[error("no subscribe offer is outstanding for this peer; the answer was ignored")]
    NoPendingOffer,

    /// A trickled ICE candidate could not be parsed.
    #[error("malformed ICE candidate {candidate:?}: {reason}")]
    InvalidCandidate {
        /// The rejected candidate line.
        candidate: String,
        /// Parser message.
        reason: String,
    },

    /// The connection the request is about does not exist (yet).
    #[error("the {0:?} connection of this peer does not exist")]
    NoConnection(Conn),
}
