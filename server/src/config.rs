//! Command-line flags, each with an environment fallback.

use clap::{Parser, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Vp9Speed {
    /// libvpx's `good` deadline at cpu-used 4: smaller files, about 3 CPU-seconds per second
    /// of 1080p on this class of machine.
    Good,
    /// The `realtime` deadline at cpu-used 8: about 5× faster, somewhat larger files.
    Fast,
}

/// What `kino` does besides serving (no subcommand: serve, with workers).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve nothing; only transcode the library's queued jobs (`--transcode-workers` of them).
    Worker,
    /// Give or take an account's admin role.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Add a film from a file or a link, print its progress, and exit when its first rendition
    /// is ready (or with the reason it cannot be).
    Import {
        /// A video file on this machine, or an http(s) link.
        source: String,
        /// The film's title (in English, or the only one).
        #[arg(long)]
        title: String,
        /// Its Russian title.
        #[arg(long)]
        title_ru: Option<String>,
        #[arg(long)]
        year: Option<i64>,
        /// The admin the film is recorded as added by (default: the first admin).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminAction {
    /// Make USERNAME an admin.
    Grant { username: String },
    /// Take the admin role from USERNAME.
    Revoke { username: String },
}

/// Kino — watch films together with friends.
#[derive(Debug, Clone, Parser)]
#[command(name = "kino", version, about)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long, env = "KINO_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Database: `sqlite://path/to/file.db` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "KINO_DATABASE_URL",
        default_value = "sqlite://data/kino.db",
        global = true
    )]
    pub database_url: String,

    /// The address people use to reach this server, used to build share links
    /// (default: http://<listen address>). Cookies are marked Secure when it is https.
    #[arg(long, env = "KINO_PUBLIC_URL")]
    pub public_url: Option<url::Url>,

    /// Where uploaded and transcoded media files are kept.
    /// Several nodes share it (a shared volume) so every node serves every file.
    #[arg(
        long,
        env = "KINO_MEDIA_DIR",
        default_value = "data/media",
        global = true
    )]
    pub media_dir: PathBuf,

    /// The media server of the rooms' voice and camera calls: one UDP port for every call
    /// (not 3478, which a TURN server such as coturn uses).
    #[arg(long, env = "KINO_RTC_UDP", default_value = "0.0.0.0:7882")]
    pub rtc_udp: SocketAddr,

    /// The address browsers send call media to: this machine's LAN or public IP. Needed when
    /// `--rtc-udp` listens on every interface and Kino cannot tell which one people reach.
    #[arg(long, env = "KINO_RTC_PUBLIC_IP")]
    pub rtc_public_ip: Option<IpAddr>,

    /// TURN servers for people behind strict firewalls (comma-separated, e.g.
    /// `turn:turn.example.org:3478,turns:turn.example.org:5349`): coturn with `use-auth-secret`;
    /// each seat in a call gets credentials that expire after an hour.
    #[arg(
        long,
        env = "KINO_TURN_URL",
        value_delimiter = ',',
        value_parser = turn_url,
        requires = "turn_secret"
    )]
    pub turn_url: Vec<String>,

    /// coturn's `static-auth-secret`, shared with Kino to make the credentials.
    #[arg(
        long,
        env = "KINO_TURN_SECRET",
        hide_env_values = true,
        value_parser = clap::builder::NonEmptyStringValueParser::new(),
        requires = "turn_url"
    )]
    pub turn_secret: Option<String>,

    /// Every call's media goes through the TURN server (when only it can reach `--rtc-udp`).
    #[arg(long, env = "KINO_TURN_RELAY_ONLY", requires = "turn_url")]
    pub turn_relay_only: bool,

    /// Run no media server: rooms have the film and the chat, but no voice or camera.
    #[arg(long, env = "KINO_NO_CALLS")]
    pub no_calls: bool,

    /// Transcoding workers on this node (0: this node only serves).
    #[arg(
        long,
        env = "KINO_TRANSCODE_WORKERS",
        default_value_t = 1,
        global = true
    )]
    pub transcode_workers: usize,

    /// The largest video file accepted, by upload or by link, in MB.
    #[arg(
        long,
        env = "KINO_MAX_UPLOAD_MB",
        default_value_t = 20_000,
        global = true
    )]
    pub max_upload_mb: u64,

    /// How much of their own video (for "New room") one person may keep, in MB; admins' library
    /// films do not count.
    #[arg(long, env = "KINO_UPLOAD_QUOTA_MB", default_value_t = 5_000)]
    pub upload_quota_mb: u64,

    /// Transcoding jobs wait while the media disk has less than this free, in MB.
    #[arg(
        long,
        env = "KINO_MIN_FREE_DISK_MB",
        default_value_t = 2_000,
        global = true
    )]
    pub min_free_disk_mb: u64,

    /// Let video links point into loopback and private networks (a LAN server, tests).
    /// Without it such links are refused, so nobody can make Kino fetch internal addresses.
    #[arg(long, env = "KINO_IMPORT_ALLOW_PRIVATE", global = true)]
    pub import_allow_private: bool,

    /// Extra renditions beyond 480p/720p/1080p: `2160`.
    #[arg(long, env = "KINO_RENDITIONS", value_delimiter = ',', global = true)]
    pub renditions: Vec<u32>,

    /// How hard the VP9 (WebM) encoder works.
    #[arg(
        long,
        env = "KINO_VP9_SPEED",
        value_enum,
        default_value = "good",
        global = true
    )]
    pub vp9_speed: Vp9Speed,

    /// The built site (WASM, JS, CSS, images) that `cargo leptos build` writes.
    #[arg(long, env = "KINO_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Do not add the demo films to an empty catalog.
    #[arg(long, env = "KINO_NO_SEED", global = true)]
    pub no_seed: bool,

    /// How long a room whose film has finished stays open after everyone has left, in minutes.
    #[arg(long, env = "KINO_ROOM_GRACE_MINUTES", default_value_t = 30)]
    pub room_grace_minutes: u64,

    /// Delete the chat and events of rooms that ended more than this many days ago
    /// (default: keep them).
    #[arg(long, env = "KINO_ROOM_RETENTION_DAYS")]
    pub room_retention_days: Option<u64>,

    /// How often the recommendations model is rebuilt from everyone's likes, in minutes (0: only
    /// when an admin asks). One node builds at a time; a person's own new like counts at once.
    #[arg(long, env = "KINO_RECS_INTERVAL_MINUTES", default_value_t = 60)]
    pub recs_interval_minutes: u64,

    /// Record no page views, sign-ups or sign-ins and compute no figures on this node (the
    /// players' reports are still kept: they are where each person stopped).
    #[arg(long, env = "KINO_NO_ANALYTICS")]
    pub no_analytics: bool,

    /// How often the analytics figures are recomputed from the raw events, in seconds (0: only
    /// when an admin presses "Recompute now"). One node does it at a time.
    #[arg(long, env = "KINO_ANALYTICS_EVERY_SECONDS", default_value_t = 300)]
    pub analytics_every_seconds: u64,

    /// Raw analytics events (page views, sign-ins, player reports) are kept this many days; the
    /// per-day figures forever (0: keep the raw events too).
    #[arg(long, env = "KINO_ANALYTICS_RETENTION_DAYS", default_value_t = 90)]
    pub analytics_retention_days: u32,

    /// Serve Prometheus metrics at `/metrics` on this address (e.g. `127.0.0.1:9300`; off by
    /// default). Keep it off the public network: it has no password.
    #[arg(long, env = "KINO_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Also publish every analytics event to NATS JetStream at this URL (e.g.
    /// `nats://127.0.0.1:4222`; off by default), at least once, with its id as `Nats-Msg-Id`.
    #[arg(long, env = "KINO_EVENTS_NATS_URL")]
    pub events_nats_url: Option<String>,

    /// The JetStream stream the events go to (created over `<subject>.>` when missing).
    #[arg(long, env = "KINO_EVENTS_NATS_STREAM", default_value = "KINO_EVENTS")]
    pub events_nats_stream: String,

    /// The subject prefix: `kino.events.page_view`, `kino.events.player.progress`, ….
    #[arg(long, env = "KINO_EVENTS_NATS_SUBJECT", default_value = "kino.events")]
    pub events_nats_subject: String,

    /// Report panics and server errors to Sentry (or GlitchTip) at this DSN (off by default).
    /// Reports carry the route and method, never cookies, credentials or request bodies.
    #[arg(long, env = "KINO_SENTRY_DSN")]
    pub sentry_dsn: Option<String>,

    /// Chat messages and reactions one person may send per second in a room (on average)...
    #[arg(long, env = "KINO_CHAT_PER_SECOND", default_value_t = 2.0)]
    pub chat_per_second: f64,

    /// ...and at once.
    #[arg(long, env = "KINO_CHAT_BURST", default_value_t = 8.0)]
    pub chat_burst: f64,

    /// How long a room waits for a participant whose video stalls before the others go on
    /// without them (0: never wait).
    #[arg(long, env = "KINO_BUFFER_WAIT_SECONDS", default_value_t = 10)]
    pub buffer_wait_seconds: u64,

    /// When a film ends and the room's queue has another, how long the countdown to it runs
    /// ("Next: Nosferatu in 10 s", with "Cancel") before it starts for everyone.
    #[arg(long, env = "KINO_NEXT_COUNTDOWN_SECONDS", default_value_t = 10)]
    pub next_countdown_seconds: u64,

    /// With several nodes (PostgreSQL): how long a node may stay silent before the others count
    /// it gone — its people leave its rooms. Each node says it is alive four times as often.
    #[arg(long, env = "KINO_NODE_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub node_timeout_seconds: u64,

    /// With several nodes (PostgreSQL), on SIGTERM: how long `/readyz` says 503 before the
    /// sockets close (long enough for the load balancer's health checks to notice and send new
    /// clients elsewhere). One node on SQLite stops at once.
    #[arg(long, env = "KINO_DRAIN_NOTICE_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub drain_notice_seconds: u64,

    /// Reverse proxies (IP addresses, comma-separated) whose `X-Forwarded-For` names the real
    /// client; without it, limits per client count the proxy's address for everyone.
    #[arg(long, env = "KINO_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,

    /// New accounts one client address may register per hour...
    #[arg(long, env = "KINO_REGISTRATIONS_PER_HOUR", default_value_t = 20)]
    pub registrations_per_hour: u32,

    /// ...and everyone together.
    #[arg(long, env = "KINO_REGISTRATIONS_PER_HOUR_TOTAL", default_value_t = 500)]
    pub registrations_per_hour_total: u32,

    /// Password hashes computed at once (each takes 19 MiB; default: the number of cores).
    /// Up to 64 more wait; beyond that the server answers 503 with Retry-After.
    #[arg(long, env = "KINO_HASHING_THREADS")]
    pub hashing_threads: Option<usize>,

    /// Seconds a client has to send a request's headers before the connection is closed.
    #[arg(long, env = "KINO_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10)]
    pub header_read_timeout_seconds: u64,

    /// Log format.
    #[arg(long, env = "KINO_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl Config {
    /// The public URL without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    pub fn is_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    pub fn room_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.room_grace_minutes.saturating_mul(60))
    }

    pub fn recs_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.recs_interval_minutes.saturating_mul(60))
    }

    pub fn room_retention(&self) -> Option<std::time::Duration> {
        self.room_retention_days
            .map(|days| std::time::Duration::from_secs(days.saturating_mul(86_400)))
    }

    /// Defaults for tests and embedding: everything as with no flags, but the given database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Config::parse_from(["kino"]);
        config.database_url = database_url.into();
        config
    }
}

/// A TURN (or STUN) server's URL as browsers take it: `turn:host[:port][?transport=udp|tcp]`,
/// `turns:…`, `stun:…`.
fn turn_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = ["turn:", "turns:", "stun:"]
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme))
        .ok_or_else(|| format!("{text:?} is not a TURN URL (turn:host:3478, turns:…, stun:…)"))?;
    let host = rest.split(['?', ':']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(['/', ' ', '@']) {
        return Err(format!(
            "{text:?} is not a TURN URL (turn:host:3478, turns:…, stun:…)"
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::Config;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("kino").chain(args.iter().copied()))
    }

    #[test]
    fn turn_takes_urls_with_a_secret_and_refuses_anything_else() {
        let config = parse(&[
            "--turn-url",
            "turn:turn.example.org:3478,turns:turn.example.org:5349?transport=tcp",
            "--turn-secret",
            "s",
            "--turn-relay-only",
        ])
        .expect("valid");
        assert_eq!(
            config.turn_url,
            [
                "turn:turn.example.org:3478",
                "turns:turn.example.org:5349?transport=tcp"
            ]
        );
        assert!(config.turn_relay_only);
        assert!(parse(&[]).expect("no TURN").turn_url.is_empty());

        for bad in [
            &["--turn-url", "turn:x:3478"][..],
            &["--turn-secret", "s"],
            &[
                "--turn-url",
                "https://turn.example.org",
                "--turn-secret",
                "s",
            ],
            &["--turn-url", "turn:", "--turn-secret", "s"],
            &["--turn-url", "turn:user@x:3478", "--turn-secret", "s"],
            &["--turn-url", "turn:x:3478", "--turn-secret", ""],
            &["--turn-relay-only"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
