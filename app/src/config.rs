//! The settings the app itself needs (the server's flags carry the rest). Base layer.

use crate::ratelimit::Budget;
use std::time::Duration;

/// Settings the app itself needs (the server's flags carry the rest).
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Used to build share links, e.g. `https://kino.example.org`.
    pub public_url: String,
    /// Attempt budgets (`ratelimit`): logins, room passwords, registrations.
    pub limits: Limits,
    /// Chat messages and reactions per person and room: the average rate and the burst.
    pub chat_per_second: f64,
    pub chat_burst: f64,
    /// How long a room waits for a participant whose video stalls (zero: never waits).
    pub buffer_wait: Duration,
    /// How long "Next: … in 10 s" counts down after a film ends before the next one starts.
    pub next_countdown: Duration,
    /// Passwords hashed at once (each takes 19 MiB), and how many more may wait for a turn
    /// before the server answers 503.
    pub hashing_threads: usize,
    pub hashing_queue: usize,
    /// The media library: where files live, limits, how transcoding runs.
    pub media: MediaConfig,
    /// This process among the nodes serving one database (random at each start): the rooms'
    /// calls are recorded by it (`rooms::channel::call_home`).
    pub node: String,
    /// A TURN server the call's browsers may relay through (none: they reach the media server
    /// directly).
    pub turn: Option<TurnConfig>,
    /// Raw analytics events (page views, sign-ins, player reports) are kept this many days;
    /// the per-day figures forever (0: raw events are never deleted).
    pub analytics_retention_days: u32,
    /// When this process started (epoch ms), for its uptime.
    pub started_at: i64,
}

/// A TURN server (coturn with `use-auth-secret`) for people behind strict firewalls: each seat
/// in a call gets credentials of its own that expire (`--turn-url`, `--turn-secret`).
#[derive(Clone)]
pub struct TurnConfig {
    /// `turn:host:3478`, `turns:host:5349?transport=tcp`, …
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// How long a seat's credentials stay valid.
    pub ttl: Duration,
    /// Browsers send every call through the TURN server (`--turn-relay-only`), e.g. when only
    /// it can reach the media server's port.
    pub relay_only: bool,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret: settings end up in logs.
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .field("relay_only", &self.relay_only)
            .finish_non_exhaustive()
    }
}

/// The media library's settings (`--media-dir`, `--max-upload-mb`, …).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub dir: std::path::PathBuf,
    /// The largest upload or import accepted.
    pub max_upload_bytes: u64,
    /// How much of their own video (for rooms) one person may keep (`--upload-quota-mb`).
    pub upload_quota_bytes: u64,
    /// Jobs wait while the disk has less than this free (rather than fail mid-file).
    pub min_free_bytes: u64,
    /// URL imports may fetch from loopback and private networks (LAN setups, tests).
    pub import_allow_private: bool,
    /// Also make 2160p renditions of sources that large.
    pub renditions_2160: bool,
    /// VP9 at libvpx's realtime speed (about 5× faster, somewhat larger files) instead of good.
    pub vp9_fast: bool,
    /// ffmpeg is stopped when its progress does not move for this long.
    pub stall_timeout: Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: "data/media".into(),
            max_upload_bytes: 20_000 * 1_000_000,
            upload_quota_bytes: 5_000 * 1_000_000,
            min_free_bytes: 2_000 * 1_000_000,
            import_allow_private: false,
            renditions_2160: false,
            vp9_fast: false,
            stall_timeout: Duration::from_secs(120),
        }
    }
}

/// The attempt budgets. A client is an address (the proxy's client, with `--trusted-proxy`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Logins for one account from one client: guessing is slow, and nobody else is locked out.
    pub login_per_account_and_client: Budget,
    /// Logins for one account from anywhere: the slower backstop against guessing from many
    /// addresses.
    pub login_per_account: Budget,
    /// Logins from one client, whatever the account.
    pub login_per_client: Budget,
    /// Room passwords one person may try on one room.
    pub room_password_per_person: Budget,
    /// Room passwords one client may try on one room (throwaway accounts share their address).
    pub room_password_per_client: Budget,
    /// Room passwords everyone together may try on one room (a generous backstop).
    pub room_password_per_room: Budget,
    /// New accounts from one client, and from everyone.
    pub register_per_client: Budget,
    pub register_overall: Budget,
}

impl Default for Limits {
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        Self {
            login_per_account_and_client: Budget::new("login-ac", 5, MINUTE.saturating_mul(15)),
            login_per_account: Budget::new("login-a", 50, MINUTE.saturating_mul(60)),
            login_per_client: Budget::new("login-c", 30, MINUTE.saturating_mul(15)),
            room_password_per_person: Budget::new("room-p", 5, MINUTE.saturating_mul(15)),
            room_password_per_client: Budget::new("room-c", 20, MINUTE.saturating_mul(15)),
            room_password_per_room: Budget::new("room", 200, MINUTE.saturating_mul(15)),
            register_per_client: Budget::new("register-c", 20, MINUTE.saturating_mul(60)),
            register_overall: Budget::new("register", 500, MINUTE.saturating_mul(60)),
        }
    }
}

impl AppConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            limits: Limits::default(),
            chat_per_second: 2.0,
            chat_burst: 8.0,
            buffer_wait: Duration::from_secs(10),
            next_countdown: Duration::from_secs(10),
            hashing_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            hashing_queue: 64,
            media: MediaConfig::default(),
            node: uuid::Uuid::new_v4().simple().to_string(),
            turn: None,
            analytics_retention_days: 90,
            started_at: crate::dates::now_ms(),
        }
    }
}
