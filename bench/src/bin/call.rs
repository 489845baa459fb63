//! Voice and camera calls (issue 16): N synthetic participants in one call against the media
//! server (`kino_rtc`, str0m in frame mode) over loopback UDP. Prints, per scenario, the server's
//! CPU (% of one core) and memory, frames forwarded and received per second, the one-way delay
//! a frame gains between its publisher and its subscribers (p50/p99/max) and the frames lost.
//! Ends with one JSON line.
//!
//! Three processes, so the server's CPU and memory are its own:
//! - the driver (default `--role driver`) runs every scenario `--runs` times, each in a fresh
//!   server process, and prints the medians;
//! - `--role server` starts the `MediaServer` on a single-threaded tokio runtime and starts the
//!   clients as its child; it relays the signalling (join, SDP offers and answers) over the
//!   child's stdin/stdout as JSON lines and measures itself with `getrusage(RUSAGE_SELF)` and
//!   `/proc/self/status` over the window;
//! - `--role clients` holds every participant: per participant a subscribe `Rtc` (answers the
//!   server's offers, receives everyone else) and a publish `Rtc` (offers its microphone, and
//!   its camera for the first `--cameras`), each with its own UDP socket on 127.0.0.1 and its own
//!   task (adapted from `rtc/tests/harness`). Publishers and subscribers share one monotonic
//!   clock, so the delay is exact: each frame carries its write time in µs, the subscriber
//!   records "frame complete" − "written". That includes the clients' own str0m work and
//!   scheduling on the shared cores, so it is an upper bound on what the server adds.
//!
//! Synthetic media: Opus-sized audio every 20 ms (60–120 bytes, changing), and VP8-looking
//! 360p camera frames at 15 fps (3–8 KB, a 20 KB keyframe every 2 s, plus one whenever the
//! server asks), about 0.75 Mbit/s per camera.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use kino_rtc::{Config, MediaServer, Signal};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Driver,
    Server,
    Clients,
}

#[derive(Parser)]
struct Args {
    /// Which process this is (the driver starts the others).
    #[arg(long, value_enum, default_value = "driver")]
    role: Role,
    /// Seconds measured per run, once everyone hears everyone.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs of each scenario; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Scenarios as PEERSxCAMERAS, comma separated (at most 9 cameras: the server forwards 9).
    #[arg(long, default_value = "6x0,15x0,30x0,30x9,15x9")]
    scenarios: String,
    /// Participants (server and clients roles).
    #[arg(long, default_value_t = 6)]
    peers: usize,
    /// Participants that also publish a camera (server and clients roles).
    #[arg(long, default_value_t = 0)]
    cameras: usize,
}

const CALL: &str = "bench";
/// Bound for connecting, publishing and everyone hearing everyone.
const SETUP: Duration = Duration::from_secs(180);
/// After the window, frames still on their way get this long to arrive.
const GRACE: Duration = Duration::from_secs(1);
const AUDIO_EVERY: Duration = Duration::from_millis(20);
const VIDEO_EVERY: Duration = Duration::from_micros(66_667);
/// A keyframe every 2 s at 15 fps.
const KEYFRAME_EVERY: u32 = 30;

fn main() {
    let args = Args::parse();
    match args.role {
        Role::Driver => runtime(false).block_on(driver(args)),
        Role::Server => runtime(false).block_on(server_role(args)),
        Role::Clients => runtime(true).block_on(clients_role(args)),
    }
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime")
}

fn peer_name(i: usize) -> String {
    format!("p{i}")
}

fn peer_index(name: &str) -> Option<usize> {
    name.strip_prefix('p')?.parse().ok()
}

/// A status line of `/proc/<pid>/status` in kB.
fn proc_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's CPU time (user + system) in seconds.
fn own_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0.0;
    }
    // SAFETY: zero-initialised and filled by a successful getrusage.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Another process's CPU time (utime + stime from `/proc/<pid>/stat`) in seconds.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

fn load() -> Vec<String> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(str::to_owned)
        .collect()
}

fn round(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

// ------------------------------------------------------------------------------------ driver

async fn driver(args: Args) {
    let exe = std::env::current_exe().expect("own path");
    let mut scenarios = Vec::new();
    for s in args.scenarios.split(',').filter(|s| !s.is_empty()) {
        let parsed = s
            .split_once('x')
            .and_then(|(p, c)| Some((p.trim().parse::<usize>().ok()?, c.trim().parse().ok()?)));
        match parsed {
            Some((p, c)) if p >= 2 && c <= 9 && c <= p => scenarios.push((p, c)),
            _ => panic!("bad scenario {s:?}: PEERSxCAMERAS, at least 2 peers, at most 9 cameras"),
        }
    }
    let load_before = load();
    println!(
        "call benchmark: {} s windows, {} run(s) per scenario, load {}",
        args.seconds,
        args.runs,
        load_before.join(" ")
    );
    println!(
        "server CPU: the server process's own getrusage; the clients run in its child process"
    );
    let mut results: Vec<(usize, usize, Vec<Value>, usize)> = Vec::new();
    for &(peers, cameras) in &scenarios {
        let mut runs = Vec::new();
        let mut failed = 0;
        for run in 0..args.runs {
            println!(
                "--> {peers} peers, {cameras} cameras, run {} of {}",
                run + 1,
                args.runs
            );
            match run_once(&exe, peers, cameras, args.seconds).await {
                Ok(v) => runs.push(v),
                Err(e) => {
                    println!("    run failed: {e}");
                    failed += 1;
                }
            }
        }
        results.push((peers, cameras, runs, failed));
    }

    println!();
    println!(
        "{:>5} {:>4} {:>8} {:>13} {:>9} {:>9} {:>22} {:>22} {:>7}",
        "peers",
        "cams",
        "srv CPU",
        "RSS MB",
        "fwd/s",
        "recv/s",
        "audio p50/p99/max ms",
        "video p50/p99/max ms",
        "loss %"
    );
    let mut json_scenarios = Vec::new();
    for (peers, cameras, runs, failed) in &results {
        let med = |path: &[&str]| -> f64 {
            let mut v: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    let mut x = r;
                    for p in path {
                        x = x.get(p)?;
                    }
                    x.as_f64()
                })
                .collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        let all = |path: &[&str]| -> Vec<Value> {
            runs.iter()
                .map(|r| {
                    let mut x = r;
                    for p in path {
                        x = &x[p];
                    }
                    x.clone()
                })
                .collect()
        };
        let video = if *cameras > 0 {
            format!(
                "{:.1}/{:.1}/{:.1}",
                med(&["video", "p50_ms"]),
                med(&["video", "p99_ms"]),
                med(&["video", "max_ms"])
            )
        } else {
            "-".to_owned()
        };
        println!(
            "{:>5} {:>4} {:>7.0}% {:>13} {:>9.0} {:>9.0} {:>22} {:>22} {:>7.3}",
            peers,
            cameras,
            med(&["server_cpu_pct"]),
            format!(
                "{:.1}→{:.1}",
                med(&["rss_before_mb"]),
                med(&["rss_during_mb"])
            ),
            med(&["forwarded_per_s"]),
            med(&["received_per_s"]),
            format!(
                "{:.1}/{:.1}/{:.1}",
                med(&["audio", "p50_ms"]),
                med(&["audio", "p99_ms"]),
                med(&["audio", "max_ms"])
            ),
            video,
            med(&["loss_pct"]),
        );
        json_scenarios.push(json!({
            "peers": peers, "cameras": cameras, "runs": runs.len(), "failed": failed,
            "server_cpu_pct": round(med(&["server_cpu_pct"]), 1),
            "server_cpu_pct_runs": all(&["server_cpu_pct"]),
            "clients_cpu_pct": round(med(&["clients_cpu_pct"]), 1),
            "rss_before_mb": round(med(&["rss_before_mb"]), 1),
            "rss_during_mb": round(med(&["rss_during_mb"]), 1),
            "forwarded_per_s": med(&["forwarded_per_s"]).round(),
            "received_per_s": med(&["received_per_s"]).round(),
            "audio_p50_ms": round(med(&["audio", "p50_ms"]), 2),
            "audio_p99_ms": round(med(&["audio", "p99_ms"]), 2),
            "audio_p99_ms_runs": all(&["audio", "p99_ms"]),
            "audio_max_ms": round(med(&["audio", "max_ms"]), 2),
            "video_p50_ms": round(med(&["video", "p50_ms"]), 2),
            "video_p99_ms": round(med(&["video", "p99_ms"]), 2),
            "video_max_ms": round(med(&["video", "max_ms"]), 2),
            "loss_pct": round(med(&["loss_pct"]), 4),
        }));
    }
    println!("(medians over runs; delay is publisher write → subscriber frame, µs clock shared by the clients)");
    println!(
        "{}",
        json!({
            "bench": "call", "seconds": args.seconds, "load_before": load_before, "load": load(),
            "server_cpu": "server process getrusage, clients in a child process",
            "scenarios": json_scenarios,
        })
    );
}

/// One scenario in a fresh server process; its last JSON line.
async fn run_once(
    exe: &std::path::Path,
    peers: usize,
    cameras: usize,
    seconds: u64,
) -> Result<Value, String> {
    let mut child = tokio::process::Command::new(exe)
        .args(["--role", "server", "--peers", &peers.to_string()])
        .args(["--cameras", &cameras.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the server role: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = tokio::time::Instant::now() + SETUP + Duration::from_secs(seconds + 60);
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Err(_) => return Err("timed out".into()),
            Ok(Err(e)) => return Err(format!("reading the server role: {e}")),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(line))) => {
                println!("    {line}");
                if line.starts_with('{') {
                    last = serde_json::from_str::<Value>(&line).ok();
                }
            }
        }
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    match last {
        Some(v) if status.success() => Ok(v),
        _ => Err(format!("server role ended with {status} and no result")),
    }
}

// ------------------------------------------------------------------------------------ server

struct Snapshot {
    at: Instant,
    cpu: f64,
    clients_cpu: f64,
    stats: kino_rtc::Stats,
}

async fn snapshot(server: &MediaServer, clients: u32) -> Snapshot {
    let stats = server.stats().await.expect("stats");
    Snapshot {
        at: Instant::now(),
        cpu: own_cpu(),
        clients_cpu: proc_cpu(clients),
        stats,
    }
}

/// The next message of type `want` from the clients; an error message or silence fails.
async fn wait_for(
    inbox: &mut mpsc::UnboundedReceiver<Value>,
    want: &str,
    within: Duration,
) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, inbox.recv()).await {
            Err(_) => return Err(format!("no {want:?} from the clients in time")),
            Ok(None) => return Err("the relay stopped".to_owned()),
            Ok(Some(m)) if m["t"] == want => return Ok(m),
            Ok(Some(m)) if m["t"] == "error" => {
                return Err(m["message"].as_str().unwrap_or("error").to_owned())
            }
            Ok(Some(m)) => eprintln!("unexpected message from the clients: {m}"),
        }
    }
}

async fn server_role(args: Args) {
    let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"));
    cfg.max_peers_per_call = cfg.max_peers_per_call.max(args.peers);
    let server = MediaServer::start(cfg).expect("media server starts");
    let rss_before = proc_kb("self", "VmRSS:");

    let exe = std::env::current_exe().expect("own path");
    let mut child = tokio::process::Command::new(exe)
        .args(["--role", "clients", "--peers", &args.peers.to_string()])
        .args(["--cameras", &args.cameras.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the clients");
    let child_pid = child.id().expect("clients pid");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");

    let (to_child, mut outbox) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        while let Some(v) = outbox.recv().await {
            let mut line = v.to_string();
            line.push('\n');
            if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    });

    // Signalling relay; "ready", "result" and "error" go to the measurement below.
    let (to_main, mut inbox) = mpsc::unbounded_channel::<Value>();
    {
        let server = server.clone();
        let to_child = to_child.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    eprintln!("clients said something odd: {line}");
                    continue;
                };
                let peer = msg["peer"].as_str().unwrap_or("").to_owned();
                let sdp = msg["sdp"].as_str().unwrap_or("").to_owned();
                let (server, to_child, to_main) =
                    (server.clone(), to_child.clone(), to_main.clone());
                match msg["t"].as_str() {
                    Some("join") => {
                        tokio::spawn(async move {
                            let mut participant = match server.join(CALL, &peer).await {
                                Ok(p) => p,
                                Err(e) => {
                                    let _ = to_main.send(json!({"t": "error", "message": format!("join {peer}: {e}")}));
                                    return;
                                }
                            };
                            // Drains every signal (a full queue would remove the peer).
                            while let Some(sig) = participant.next_signal().await {
                                match sig {
                                    Signal::SubscribeOffer { sdp } => {
                                        let _ = to_child
                                            .send(json!({"t": "offer", "peer": peer, "sdp": sdp}));
                                    }
                                    Signal::Removed { reason } => {
                                        let _ = to_main.send(json!({"t": "error", "message": format!("{peer} removed: {reason}")}));
                                    }
                                    Signal::Error { message } => eprintln!("{peer}: {message}"),
                                    _ => {}
                                }
                            }
                        });
                    }
                    Some("answer") => {
                        tokio::spawn(async move {
                            if let Err(e) = server.subscribe_answer(CALL, &peer, sdp).await {
                                eprintln!("answer of {peer} refused: {e}");
                            }
                        });
                    }
                    Some("publish") => {
                        tokio::spawn(async move {
                            match server.publish_offer(CALL, &peer, sdp).await {
                                Ok(answer) => {
                                    let _ = to_child.send(
                                        json!({"t": "published", "peer": peer, "sdp": answer}),
                                    );
                                }
                                Err(e) => {
                                    let _ = to_main.send(json!({"t": "error", "message": format!("publish {peer}: {e}")}));
                                }
                            }
                        });
                    }
                    _ => {
                        let _ = to_main.send(msg);
                    }
                }
            }
            let _ = to_main.send(json!({"t": "error", "message": "the clients process ended"}));
        });
    }

    let started = Instant::now();
    if let Err(e) = wait_for(&mut inbox, "ready", SETUP).await {
        eprintln!("setup failed: {e}");
        let _ = child.kill().await;
        std::process::exit(1);
    }
    let setup_s = started.elapsed().as_secs_f64();
    let rss_ready = proc_kb("self", "VmRSS:");
    let a = snapshot(&server, child_pid).await;
    let _ = to_child.send(json!({"t": "begin"}));
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let _ = to_child.send(json!({"t": "end"}));
    let b = snapshot(&server, child_pid).await;
    let rss_during = proc_kb("self", "VmRSS:");
    let rss_peak = proc_kb("self", "VmHWM:");
    let result = match wait_for(&mut inbox, "result", GRACE + Duration::from_secs(60)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("no result: {e}");
            let _ = child.kill().await;
            std::process::exit(1);
        }
    };

    let secs = (b.at - a.at).as_secs_f64();
    let server_cpu_pct = (b.cpu - a.cpu) / secs * 100.0;
    let clients_cpu_pct = (b.clients_cpu - a.clients_cpu) / secs * 100.0;
    let per_s = |f: fn(&kino_rtc::Stats) -> u64| (f(&b.stats) - f(&a.stats)) as f64 / secs;
    let forwarded_per_s = per_s(|s| s.packets_forwarded);
    let media_in_per_s = per_s(|s| s.media_in);
    let packets_in_per_s = per_s(|s| s.packets_in);
    let dropped = b.stats.packets_dropped - a.stats.packets_dropped;
    let num = |k: &str, f: &str| result[k][f].as_f64().unwrap_or(0.0);
    let expected = num("audio", "expected") + num("video", "expected");
    let received = num("audio", "received") + num("video", "received");
    let loss_pct = if expected > 0.0 {
        (expected - received) / expected * 100.0
    } else {
        0.0
    };
    let received_per_s = received / secs;
    let mb = |kb: u64| round(kb as f64 / 1024.0, 1);
    println!(
        "{} peers, {} cameras: server {:.0}% of a core (clients {:.0}%), RSS {:.1} MB before, {:.1} MB during (peak {:.1}); {:.0} frames/s in, {:.0} forwarded/s, {:.0} received/s; audio delay p50 {:.2} p99 {:.2} max {:.2} ms{}; loss {:.3}% ({} of {}); setup {:.1} s",
        args.peers,
        args.cameras,
        server_cpu_pct,
        clients_cpu_pct,
        mb(rss_before),
        mb(rss_during),
        mb(rss_peak),
        media_in_per_s,
        forwarded_per_s,
        received_per_s,
        num("audio", "p50_ms"),
        num("audio", "p99_ms"),
        num("audio", "max_ms"),
        if args.cameras > 0 {
            format!(
                ", video p50 {:.2} p99 {:.2} max {:.2} ms",
                num("video", "p50_ms"),
                num("video", "p99_ms"),
                num("video", "max_ms")
            )
        } else {
            String::new()
        },
        loss_pct,
        expected - received,
        expected,
        setup_s,
    );
    println!(
        "{}",
        json!({
            "peers": args.peers, "cameras": args.cameras, "seconds": round(secs, 2),
            "setup_s": round(setup_s, 1),
            "server_cpu_pct": round(server_cpu_pct, 1), "clients_cpu_pct": round(clients_cpu_pct, 1),
            "rss_before_mb": mb(rss_before), "rss_ready_mb": mb(rss_ready),
            "rss_during_mb": mb(rss_during), "rss_peak_mb": mb(rss_peak),
            "media_in_per_s": media_in_per_s.round(), "forwarded_per_s": forwarded_per_s.round(),
            "packets_in_per_s": packets_in_per_s.round(), "dropped": dropped,
            "received_per_s": received_per_s.round(), "loss_pct": round(loss_pct, 4),
            "audio": result["audio"], "video": result["video"], "load": load(),
        })
    );
    let _ = child.kill().await;
}

// ------------------------------------------------------------------------------------ clients

/// What every client task shares: the clock and the measurement window.
struct Shared {
    base: Instant,
    /// µs since `base`; `u64::MAX` until set.
    window_start: AtomicU64,
    window_end: AtomicU64,
    connected: AtomicUsize,
    /// (subscriber, publisher, kind) combinations that have delivered a frame.
    flows_seen: AtomicUsize,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
}

enum Cmd {
    MakeOffer {
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
    StartSending,
    Report(oneshot::Sender<Report>),
}

/// Raw figures of one client: send times of what it published, (send time, delay) of what it got.
#[derive(Default)]
struct Report {
    sent_audio: Vec<u64>,
    sent_video: Vec<u64>,
    got_audio: Vec<(u64, u32)>,
    got_video: Vec<(u64, u32)>,
}

struct State {
    rtc: Rtc,
    shared: Arc<Shared>,
    index: u16,
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
    rng: u64,
    seen: HashSet<(u16, bool)>,
    report: Report,
}

/// A client task (one `Rtc`, one socket); dropped with its command sender.
fn spawn_client(shared: Arc<Shared>, index: u16, socket: UdpSocket) -> mpsc::UnboundedSender<Cmd> {
    let addr = socket.local_addr().expect("addr");
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let now = Instant::now();
    let state = State {
        rtc,
        shared,
        index,
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
        rng: 0x9E37_79B9_7F4A_7C15 ^ (u64::from(index) + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
        seen: HashSet::new(),
        report: Report::default(),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run_client(state, socket, addr, rx));
    tx
}

async fn run_client(
    mut s: State,
    socket: UdpSocket,
    local: SocketAddr,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
) {
    let mut buf = vec![0u8; 2000];
    loop {
        // str0m wants its output drained after every mutation.
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
                Some(cmd) => s.on_command(cmd),
                None => return,
            },
            r = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = r else { continue };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: local,
                    contents,
                });
                if s.rtc.handle_input(input).is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                // One mutation per turn.
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

/// Frame header, audio and video alike: a marker byte (VP8's keyframe bit for video), the
/// publisher's index, the frame number and the write time in µs.
const HEADER: usize = 15;

fn frame(marker: u8, publisher: u16, seq: u32, sent_us: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len.max(HEADER)];
    v[0] = marker;
    v[1..3].copy_from_slice(&publisher.to_be_bytes());
    v[3..7].copy_from_slice(&seq.to_be_bytes());
    v[7..15].copy_from_slice(&sent_us.to_be_bytes());
    for (i, b) in v.iter_mut().enumerate().skip(HEADER) {
        *b = (seq as u8).wrapping_mul(31).wrapping_add((i % 251) as u8);
    }
    v
}

impl State {
    fn next_random(&mut self) -> u64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connected => {
                self.connected = true;
                self.shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            Event::MediaData(d) => {
                let now = self.shared.now_us();
                if d.data.len() < HEADER {
                    return;
                }
                let video = d.params.spec().codec == Codec::Vp8;
                let publisher = u16::from_be_bytes([d.data[1], d.data[2]]);
                let mut sent = [0u8; 8];
                sent.copy_from_slice(&d.data[7..15]);
                let sent_us = u64::from_be_bytes(sent);
                if self.seen.insert((publisher, video)) {
                    self.shared.flows_seen.fetch_add(1, Ordering::Relaxed);
                }
                // Kept from the window's start; the report picks the frames written inside it.
                if sent_us >= self.shared.window_start.load(Ordering::Relaxed) {
                    let delay = now.saturating_sub(sent_us).min(u64::from(u32::MAX)) as u32;
                    let list = if video {
                        &mut self.report.got_video
                    } else {
                        &mut self.report.got_audio
                    };
                    list.push((sent_us, delay));
                }
            }
            Event::KeyframeRequest(_) => self.force_keyframe = true,
            _ => {}
        }
    }

    fn on_command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::MakeOffer { video, reply } => {
                let mut api = self.rtc.sdp_api();
                self.audio_mid =
                    Some(api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
                if video {
                    self.video_mid = Some(api.add_media(
                        MediaKind::Video,
                        Direction::SendOnly,
                        None,
                        None,
                        None,
                    ));
                }
                if let Some((offer, pending)) = api.apply() {
                    self.pending = Some(pending);
                    let _ = reply.send(offer.to_sdp_string());
                }
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
            Cmd::StartSending => {
                self.sending = true;
                // Spread the publishers over the 20 ms, as real microphones are.
                let now = Instant::now();
                let offset = Duration::from_micros(self.next_random() % 20_000);
                self.next_audio = now + offset;
                self.next_video = now + offset;
            }
            Cmd::Report(reply) => {
                let _ = reply.send(std::mem::take(&mut self.report));
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
        self.next_audio += AUDIO_EVERY;
        if self.next_audio < now {
            self.next_audio = now + AUDIO_EVERY;
        }
        let Some(mid) = self.audio_mid else { return };
        let Some(pt) = self.pt_for(mid, Codec::Opus) else {
            return;
        };
        let seq = self.audio_seq;
        self.audio_seq += 1;
        let len = 60 + (self.next_random() % 61) as usize;
        let sent_us = self.shared.now_us();
        let data = frame(0x78, self.index, seq, sent_us, len);
        if let Some(writer) = self.rtc.writer(mid) {
            let time = MediaTime::new(u64::from(seq) * 960, Frequency::FORTY_EIGHT_KHZ);
            // -20 dBov: an open microphone with someone talking.
            if writer
                .audio_level(-20, true)
                .write(pt, now, time, data)
                .is_ok()
            {
                self.report.sent_audio.push(sent_us);
            }
        }
    }

    fn write_video(&mut self, now: Instant) {
        self.next_video += VIDEO_EVERY;
        if self.next_video < now {
            self.next_video = now + VIDEO_EVERY;
        }
        let Some(mid) = self.video_mid else { return };
        let Some(pt) = self.pt_for(mid, Codec::Vp8) else {
            return;
        };
        let seq = self.video_seq;
        self.video_seq += 1;
        let keyframe =
            seq.is_multiple_of(KEYFRAME_EVERY) || std::mem::take(&mut self.force_keyframe);
        let len = if keyframe {
            20_000
        } else {
            3_000 + (self.next_random() % 5_001) as usize
        };
        let sent_us = self.shared.now_us();
        // VP8: bit 0 of the first byte clear means keyframe; str0m reads only that.
        let marker = if keyframe { 0x10 } else { 0x11 };
        let data = frame(marker, self.index, seq, sent_us, len);
        if let Some(writer) = self.rtc.writer(mid) {
            let time = MediaTime::new(u64::from(seq) * 6000, Frequency::NINETY_KHZ);
            if writer.write(pt, now, time, data).is_ok() {
                self.report.sent_video.push(sent_us);
            }
        }
    }
}

async fn ask<T>(
    client: &mpsc::UnboundedSender<Cmd>,
    make: impl FnOnce(oneshot::Sender<T>) -> Cmd,
) -> Result<T, String> {
    let (reply, rx) = oneshot::channel();
    client
        .send(make(reply))
        .map_err(|_| "client task ended".to_owned())?;
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .map_err(|_| "client task did not answer".to_owned())?
        .map_err(|_| "client task ended".to_owned())
}

/// Waits until `done()` holds, at most `within`; `false` on timeout.
async fn wait_until(
    within: Duration,
    what: &str,
    mut done: impl FnMut() -> (bool, String),
) -> bool {
    let started = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let (ok, progress) = done();
        if ok {
            return true;
        }
        if started.elapsed() > within {
            eprintln!("gave up waiting for {what}: {progress}");
            return false;
        }
        if last_note.elapsed() > Duration::from_secs(10) {
            eprintln!("waiting for {what}: {progress}");
            last_note = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn clients_role(args: Args) {
    let n = args.peers;
    let cameras = args.cameras.min(n);
    let shared = Arc::new(Shared {
        base: Instant::now(),
        window_start: AtomicU64::new(u64::MAX),
        window_end: AtomicU64::new(u64::MAX),
        connected: AtomicUsize::new(0),
        flows_seen: AtomicUsize::new(0),
    });
    let fail = |message: String| -> ! {
        // Stdout is the server's: say it there in one line, then stop.
        println!("{}", json!({"t": "error", "message": message}));
        std::process::exit(1);
    };

    // Lines to the server, in order, one writer.
    let (out, mut outbox) = mpsc::unbounded_channel::<(Value, Option<oneshot::Sender<()>>)>();
    // (Blocking threads: the workspace's tokio has no `io-std`.)
    std::thread::spawn(move || {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        while let Some((v, done)) = outbox.blocking_recv() {
            if writeln!(stdout, "{v}").is_err() || stdout.flush().is_err() {
                break;
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    });
    let say = {
        let out = out.clone();
        move |v: Value| {
            let _ = out.send((v, None));
        }
    };

    let mut subscribers = Vec::with_capacity(n);
    for i in 0..n {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        subscribers.push(spawn_client(shared.clone(), i as u16, socket));
    }
    let subscribers = Arc::new(subscribers);
    let awaiting_answer: Arc<Mutex<HashMap<String, oneshot::Sender<String>>>> =
        Arc::new(Mutex::new(HashMap::new()));
    let (end_tx, end_rx) = oneshot::channel::<()>();

    // What the server sends.
    {
        let shared = shared.clone();
        let subscribers = subscribers.clone();
        let awaiting_answer = awaiting_answer.clone();
        let say = say.clone();
        let mut end_tx = Some(end_tx);
        let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(line) = line_rx.recv().await {
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let peer = msg["peer"].as_str().unwrap_or("").to_owned();
                let sdp = msg["sdp"].as_str().unwrap_or("").to_owned();
                match msg["t"].as_str() {
                    Some("offer") => {
                        let Some(client) = peer_index(&peer).and_then(|i| subscribers.get(i))
                        else {
                            continue;
                        };
                        let client = client.clone();
                        let say = say.clone();
                        tokio::spawn(async move {
                            match ask(&client, |reply| Cmd::AcceptOffer { sdp, reply }).await {
                                Ok(Ok(answer)) => {
                                    say(json!({"t": "answer", "peer": peer, "sdp": answer}))
                                }
                                Ok(Err(e)) | Err(e) => say(
                                    json!({"t": "error", "message": format!("{peer} cannot answer: {e}")}),
                                ),
                            }
                        });
                    }
                    Some("published") => {
                        let waiting = awaiting_answer.lock().expect("lock").remove(&peer);
                        if let Some(w) = waiting {
                            let _ = w.send(sdp);
                        }
                    }
                    Some("begin") => shared
                        .window_start
                        .store(shared.now_us(), Ordering::Relaxed),
                    Some("end") => {
                        shared.window_end.store(shared.now_us(), Ordering::Relaxed);
                        if let Some(tx) = end_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    _ => {}
                }
            }
            // The server is gone.
            std::process::exit(1);
        });
    }

    // Everyone joins; the subscribe connections come up on the server's first offers.
    for i in 0..n {
        say(json!({"t": "join", "peer": peer_name(i)}));
    }
    let connected_ok = wait_until(SETUP / 3, "subscribe connections", || {
        let c = shared.connected.load(Ordering::Relaxed);
        (c >= n, format!("{c} of {n}"))
    })
    .await;
    if !connected_ok {
        fail("subscribe connections did not come up".into());
    }

    // Everyone publishes a microphone, the first `cameras` also a camera.
    let mut publishers = Vec::with_capacity(n);
    for i in 0..n {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        publishers.push(spawn_client(shared.clone(), i as u16, socket));
    }
    let publishing = publishers.iter().enumerate().map(|(i, client)| {
        let awaiting_answer = awaiting_answer.clone();
        let say = say.clone();
        async move {
            let offer = ask(client, |reply| Cmd::MakeOffer {
                video: i < cameras,
                reply,
            })
            .await?;
            let (tx, rx) = oneshot::channel();
            awaiting_answer
                .lock()
                .expect("lock")
                .insert(peer_name(i), tx);
            say(json!({"t": "publish", "peer": peer_name(i), "sdp": offer}));
            let answer = tokio::time::timeout(Duration::from_secs(60), rx)
                .await
                .map_err(|_| format!("no publish answer for {}", peer_name(i)))?
                .map_err(|_| "answer lost".to_owned())?;
            ask(client, |reply| Cmd::AcceptAnswer { sdp: answer, reply }).await??;
            client
                .send(Cmd::StartSending)
                .map_err(|_| "client ended".to_owned())?;
            Ok::<(), String>(())
        }
    });
    for r in futures::future::join_all(publishing).await {
        if let Err(e) = r {
            fail(format!("publishing failed: {e}"));
        }
    }

    // Ready once every subscriber has had a frame of every track it should get.
    let flows = n * (n - 1) + cameras * (n - 1);
    let flowing = wait_until(SETUP, "media from everyone to everyone", || {
        let f = shared.flows_seen.load(Ordering::Relaxed);
        (f >= flows, format!("{f} of {flows} flows"))
    })
    .await;
    if !flowing {
        fail(format!(
            "only {} of {flows} flows delivered media",
            shared.flows_seen.load(Ordering::Relaxed)
        ));
    }
    say(json!({"t": "ready"}));

    let end = tokio::time::timeout(Duration::from_secs(args.seconds) + SETUP, end_rx).await;
    if !matches!(end, Ok(Ok(()))) {
        fail("the server never ended the window".into());
    }
    tokio::time::sleep(GRACE).await;

    let start = shared.window_start.load(Ordering::Relaxed);
    let end = shared.window_end.load(Ordering::Relaxed);
    let inside = |t: u64| t >= start && t < end;
    let new_hist = || Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    let (mut audio_hist, mut video_hist) = (new_hist(), new_hist());
    let (mut sent_audio, mut sent_video, mut got_audio, mut got_video) = (0u64, 0u64, 0u64, 0u64);
    for client in subscribers.iter().chain(publishers.iter()) {
        let Ok(report) = ask(client, Cmd::Report).await else {
            fail("a client task ended before reporting".into());
        };
        sent_audio += report.sent_audio.iter().filter(|&&t| inside(t)).count() as u64;
        sent_video += report.sent_video.iter().filter(|&&t| inside(t)).count() as u64;
        for (list, hist, got) in [
            (&report.got_audio, &mut audio_hist, &mut got_audio),
            (&report.got_video, &mut video_hist, &mut got_video),
        ] {
            for &(sent, delay) in list {
                if inside(sent) {
                    *got += 1;
                    let _ = hist.record(u64::from(delay).max(1));
                }
            }
        }
    }
    let figures = |hist: &Histogram<u64>, sent: u64, got: u64| {
        let expected = sent * (n as u64 - 1);
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        json!({
            "expected": expected, "received": got,
            "loss_pct": if expected > 0 { round((expected as f64 - got as f64) / expected as f64 * 100.0, 4) } else { 0.0 },
            "p50_ms": ms(hist.value_at_quantile(0.5)), "p99_ms": ms(hist.value_at_quantile(0.99)),
            "max_ms": ms(hist.max()),
        })
    };
    let (done_tx, done_rx) = oneshot::channel();
    let _ = out.send((
        json!({
            "t": "result",
            "audio": figures(&audio_hist, sent_audio, got_audio),
            "video": figures(&video_hist, sent_video, got_video),
        }),
        Some(done_tx),
    ));
    let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
    std::process::exit(0);
}
