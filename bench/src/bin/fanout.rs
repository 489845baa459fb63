//! Room channel fan-out (issue 6; the "chat fan-out" workload of DESIGN.md): R rooms × N
//! websocket clients on one server over loopback. In each room one client sends a timestamped
//! chat message every second; the others record receive − send. Prints p50/p99/max, messages
//! lost, the server's resident memory per socket and CPU, then the chat throughput with
//! persistence: every room's sender sending as fast as the server acknowledges.
//!
//! With `--nodes 2` (PostgreSQL only) the rooms are served by two `kino` processes on one
//! database: the sockets of each room alternate between them and every sender is on the first,
//! so half the deliveries cross from one node to the other (`pg_notify`, then a read).
//!
//! `cargo make bench-fanout` (scripts/bench-fanout.sh) builds the release server and runs this.

use clap::Parser;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use kino_bench::database::FreshDatabase;
use kino_bench::server::{default_binary, default_site_root, Server};
use kino_bench::{api, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(about = "Room channel fan-out: latency, memory per socket, chat throughput")]
struct Args {
    /// Rooms.
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Websocket clients per room (one of them sends).
    #[arg(long, default_value_t = 30)]
    per_room: usize,
    /// Seconds of one message per second per room.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds of the throughput phase (0 skips it).
    #[arg(long, default_value_t = 10)]
    throughput_secs: u64,
    /// `postgres://…` admin URL to run on a fresh PostgreSQL database instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Kino processes serving the rooms (more than one needs `--database-url`).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// With two or more nodes, end with a reconnect storm: every room's listeners on the last
    /// node, SIGKILL it, and time until all are back on the first (0 skips it).
    #[arg(long, default_value_t = 10)]
    storm_secs: u64,
    #[arg(long, env = "KINO_BIN", default_value_os_t = default_binary())]
    binary: PathBuf,
    #[arg(long, env = "KINO_SITE_ROOT", default_value_os_t = default_site_root())]
    site_root: PathBuf,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A signed-in user: the HTTP client and the session cookie for websockets.
struct User {
    client: reqwest::Client,
    cookie: String,
}

async fn register(base: &str, i: usize) -> Result<User> {
    let client = api::browser();
    let res = client
        .post(format!("{base}/api/register"))
        .header("accept", "application/json")
        .form(&[
            ("username", format!("fan_{i:04}")),
            ("display_name", format!("Fan {i}")),
            ("password", "bench-password".to_owned()),
        ])
        .send()
        .await?;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kino_session="))
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    Ok(User { client, cookie })
}

async fn connect(base: &str, code: &str, cookie: &str) -> Result<Ws> {
    let url = format!("{}/ws/rooms/{code}", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    request.headers_mut().insert("origin", base.parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.send(Message::Text(r#"{"t":"hello","v":1,"last_seq":0}"#.into()))
        .await?;
    // Wait for the welcome.
    while let Some(msg) = ws.next().await {
        if let Message::Text(text) = msg? {
            if text.as_str().starts_with(r#"{"t":"welcome""#) {
                return Ok(ws);
            }
        }
    }
    Err("closed before the welcome".into())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reads a socket until told to stop, recording (now − sent) for chat texts "t:<µs since start>".
async fn receive(
    mut ws: Ws,
    start: Instant,
    mut hist: Histogram<u64>,
    received: Arc<AtomicU64>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Histogram<u64> {
    loop {
        let next = tokio::select! {
            next = ws.next() => next,
            _ = wait_stop(stop.clone()) => break,
        };
        let Some(Ok(Message::Text(text))) = next else {
            break;
        };
        let text = text.as_str();
        if let Some(at) = text.find(r#""text":"t:"#) {
            let rest = &text[at + 10..];
            if let Some(end) = rest.find('"') {
                if let Ok(sent_us) = rest[..end].parse::<u64>() {
                    let now_us = start.elapsed().as_micros() as u64;
                    let _ = hist.record(now_us.saturating_sub(sent_us).max(1));
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    hist
}

async fn wait_stop(mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// What the reconnect storm measured.
struct Storm {
    sockets: usize,
    /// Seconds from the kill until the last socket was welcomed on the surviving node.
    all_back: f64,
    p99_ms: f64,
    /// Events some listener never got (a gap in its sequence, or short of the room's last).
    lost: u64,
}

/// What every listener of the storm shares: where it connects first and where it comes back,
/// the moment of the kill, how many are connected, and when to stop.
struct StormShared {
    victim: String,
    base: String,
    killed: tokio::sync::Notify,
    killed_at: std::sync::OnceLock<Instant>,
    connected: AtomicU64,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// One listener of the storm: on `victim`'s address until it dies, then back on `base` with the
/// last sequence it saw; the sequences it received, and how long its reconnect took.
async fn storm_listener(
    storm: Arc<StormShared>,
    code: String,
    cookie: String,
) -> Result<(String, std::collections::BTreeSet<i64>, Option<Duration>)> {
    let StormShared {
        victim,
        base,
        killed,
        killed_at,
        connected,
        stop,
    } = &*storm;
    let mut seqs = std::collections::BTreeSet::new();
    // Thousands connect at once: a connection the node resets is tried again.
    let mut attempts = 0;
    let mut ws = loop {
        match connect(victim, &code, &cookie).await {
            Ok(ws) => break ws,
            Err(e) if attempts >= 20 => return Err(e),
            Err(_) => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let ready = killed.notified();
    tokio::pin!(ready);
    ready.as_mut().enable();
    connected.fetch_add(1, Ordering::SeqCst);
    let mut took = None;
    loop {
        let next = tokio::select! {
            next = ws.next() => next,
            _ = wait_stop(stop.clone()) => break,
        };
        match next {
            Some(Ok(Message::Text(text))) => note_seqs(text.as_str(), &mut seqs),
            Some(Ok(_)) => {}
            _ if took.is_none() => {
                // The node is gone: back through the other one, from the last event seen.
                ready.as_mut().await;
                let last = seqs.last().copied().unwrap_or(0);
                ws = loop {
                    match reconnect(base, &code, &cookie, last, &mut seqs).await {
                        Ok(ws) => break ws,
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                };
                took = killed_at.get().map(Instant::elapsed);
            }
            _ => break,
        }
    }
    Ok((code, seqs, took))
}

/// Notes the sequence numbers of the events in a server message (an event, or a welcome's).
fn note_seqs(text: &str, seqs: &mut std::collections::BTreeSet<i64>) {
    let Ok(msg) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    match msg["t"].as_str() {
        Some("event") => seqs.extend(msg["seq"].as_i64()),
        Some("welcome") => seqs.extend(
            msg["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["seq"].as_i64()),
        ),
        _ => {}
    }
}

async fn reconnect(
    base: &str,
    code: &str,
    cookie: &str,
    last_seq: i64,
    seqs: &mut std::collections::BTreeSet<i64>,
) -> Result<Ws> {
    let url = format!("{}/ws/rooms/{code}", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    request.headers_mut().insert("origin", base.parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let hello = format!(r#"{{"t":"hello","v":1,"last_seq":{last_seq}}}"#);
    ws.send(Message::Text(hello.into())).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(text) = msg? {
            note_seqs(text.as_str(), seqs);
            if text.as_str().starts_with(r#"{"t":"welcome""#) {
                return Ok(ws);
            }
        }
    }
    Err("closed before the welcome".into())
}

/// The reconnect storm: each room's listeners (all but its sender) on `victim`, senders on
/// `base` saying one message per room per second; `victim` is killed (SIGKILL) and every
/// listener comes back through `base`. Then each listener must hold every event from its first
/// to the room's last.
async fn storm(
    base: &str,
    victim: Server,
    codes: &[String],
    users: &[Arc<User>],
    pool: &sqlx::AnyPool,
    secs: u64,
) -> Result<Storm> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let shared = Arc::new(StormShared {
        victim: victim.url.clone(),
        base: base.to_owned(),
        killed: tokio::sync::Notify::new(),
        killed_at: std::sync::OnceLock::new(),
        connected: AtomicU64::new(0),
        stop,
    });
    let mut listeners = tokio::task::JoinSet::new();
    for code in codes {
        for user in users.iter().skip(1) {
            listeners.spawn(storm_listener(
                shared.clone(),
                code.clone(),
                user.cookie.clone(),
            ));
        }
    }
    let sockets = listeners.len();
    // Everyone connected first (each says hello and gets its welcome).
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.connected.load(Ordering::SeqCst) < sockets as u64 {
        if Instant::now() > deadline {
            return Err("the storm's listeners did not all connect within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut senders = Vec::new();
    for code in codes {
        senders.push(connect(base, code, &users[0].cookie).await?);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (senders_stop_tx, senders_stop) = tokio::sync::watch::channel(false);
    let mut sending = tokio::task::JoinSet::new();
    for (r, mut ws) in senders.into_iter().enumerate() {
        let stop = senders_stop.clone();
        sending.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut i = 0u64;
            while !*stop.borrow() {
                tick.tick().await;
                let msg = format!(r#"{{"t":"chat","id":"s{r}-{i}","text":"storm","position":0}}"#);
                if ws.send(Message::Text(msg.into())).await.is_err() {
                    break;
                }
                i += 1;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = shared.killed_at.set(Instant::now());
    victim.stop().await?;
    shared.killed.notify_waiters();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    // The senders stop first; the listeners a second later, with everything delivered.
    let _ = senders_stop_tx.send(true);
    while sending.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let last: std::collections::HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT code, last_seq FROM rooms")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut reconnects = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut lost = 0u64;
    let mut back = 0usize;
    while let Some(done) = listeners.join_next().await {
        let (code, seqs, took) = done??;
        if let Some(took) = took {
            back += 1;
            let _ = reconnects.record(took.as_micros().max(1) as u64);
        }
        let first = seqs.first().copied().unwrap_or(0);
        let room_last = last.get(&code).copied().unwrap_or(0);
        lost += (first..=room_last).filter(|s| !seqs.contains(s)).count() as u64;
    }
    let all_back = reconnects.max() as f64 / 1e6;
    println!(
        "reconnect storm: {sockets} sockets on the killed node, {back} back on the other; all \
         back {all_back:.2} s after the kill, reconnect p50 {:.0} ms, p99 {:.0} ms; {lost} events lost",
        reconnects.value_at_quantile(0.5) as f64 / 1000.0,
        reconnects.value_at_quantile(0.99) as f64 / 1000.0,
    );
    Ok(Storm {
        sockets,
        all_back,
        p99_ms: reconnects.value_at_quantile(0.99) as f64 / 1000.0,
        lost,
    })
}

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    if args.nodes > 1 && args.database_url.is_none() {
        return Err("several nodes share a PostgreSQL database: pass --database-url".into());
    }
    let db = FreshDatabase::create(args.database_url.as_deref()).await?;
    // One after the other: the first runs the migrations.
    let mut servers = Vec::new();
    for _ in 0..args.nodes.max(1) {
        servers.push(Server::start(&args.binary, &args.site_root, db.url()).await?);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let base = bases[0].clone();
    let rss = || -> u64 { servers.iter().filter_map(|s| rss_kib(s.pid()?)).sum() };
    let cpu_seconds = || -> f64 { servers.iter().filter_map(Server::cpu_seconds).sum() };
    println!(
        "fan-out: {} rooms × {} clients on {} node(s) at {} ({}), {} s",
        args.rooms,
        args.per_room,
        servers.len(),
        bases.join(", "),
        db.kind(),
        args.duration
    );

    // One film; per_room users, each in every room (a socket per room and user).
    let pool = db.connect(2).await?;
    sqlx::query(
        "INSERT INTO films (id, title_en, title_ru, original_title, search_text, year, genres, \
         countries, director, description_en, description_ru, duration_secs, poster_color, \
         created_at) VALUES ('bench-film', 'Bench', 'Бенч', 'Bench', 'bench', 2000, ',drama,', \
         'RU', 'Bench', '', '', 7200, '#336699', 0)",
    )
    .execute(&pool)
    .await?;
    let setup = Instant::now();
    let mut users = Vec::new();
    for i in 0..args.per_room {
        users.push(Arc::new(register(&base, i).await?));
    }
    let mut codes = Vec::new();
    for _ in 0..args.rooms {
        let code = api::call(
            &users[0].client,
            &base,
            "rooms/start",
            &[
                ("film_id", "bench-film".to_owned()),
                ("max_participants", "100".to_owned()),
            ],
        )
        .await?;
        codes.push(code.trim_matches('"').to_owned());
    }
    let codes = Arc::new(codes);
    let mut joins = tokio::task::JoinSet::new();
    for user in users.iter().skip(1) {
        let (user, codes, base) = (user.clone(), codes.clone(), base.clone());
        joins.spawn(async move {
            for code in codes.iter() {
                api::call(&user.client, &base, "rooms/open", &[("code", code.clone())]).await?;
            }
            Ok::<_, api::CallError>(())
        });
    }
    while let Some(joined) = joins.join_next().await {
        joined??;
    }
    let rss_before = rss();
    // Everyone joins at once: every socket dials, says hello and waits for its welcome; the
    // join time is from the first dial to the last welcome.
    let joining = Instant::now();
    let mut dials = tokio::task::JoinSet::new();
    for (r, code) in codes.iter().enumerate() {
        for (i, user) in users.iter().enumerate() {
            let (base, code, user) = (bases[i % bases.len()].clone(), code.clone(), user.clone());
            dials.spawn(async move { (r, i, connect(&base, &code, &user.cookie).await) });
        }
    }
    let mut slots: Vec<Vec<Option<Ws>>> = (0..args.rooms)
        .map(|_| (0..args.per_room).map(|_| None).collect())
        .collect();
    while let Some(dialled) = dials.join_next().await {
        let (r, i, ws) = dialled?;
        slots[r][i] = Some(ws?);
    }
    let join_seconds = joining.elapsed().as_secs_f64();
    let sockets: Vec<Vec<Ws>> = slots
        .into_iter()
        .map(|room| room.into_iter().flatten().collect())
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss();
    let connections = (args.rooms * args.per_room) as u64;
    println!(
        "set-up: {:.1} s; {} sockets joined at once in {:.2} s; server RSS {} → {} MiB: {:.1} KiB per socket",
        setup.elapsed().as_secs_f64(),
        connections,
        join_seconds,
        rss_before / 1024,
        rss_after / 1024,
        rss_after.saturating_sub(rss_before) as f64 / connections as f64
    );

    // The latency phase.
    let start = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut receivers = tokio::task::JoinSet::new();
    let mut senders = Vec::new();
    for room in sockets {
        let mut room = room.into_iter();
        senders.push(room.next().ok_or("an empty room")?);
        for ws in room {
            let hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            receivers.spawn(receive(ws, start, hist, received.clone(), stop_rx.clone()));
        }
    }
    let cpu_before = cpu_seconds();
    let sent = Arc::new(AtomicU64::new(0));
    let mut sending = tokio::task::JoinSet::new();
    for (r, mut ws) in senders.into_iter().enumerate() {
        let (sent, duration, rooms) = (sent.clone(), args.duration, args.rooms);
        sending.spawn(async move {
            // Spread the rooms over the second.
            tokio::time::sleep(Duration::from_micros((r * 1_000_000 / rooms.max(1)) as u64)).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for i in 0..duration {
                tick.tick().await;
                let at = start.elapsed().as_micros();
                let msg = format!(r#"{{"t":"chat","id":"{r}-{i}","text":"t:{at}","position":0}}"#);
                if ws.send(Message::Text(msg.into())).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            ws
        });
    }
    let mut senders = Vec::new();
    while let Some(ws) = sending.join_next().await {
        senders.push(ws?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = cpu_seconds() - cpu_before;
    let wall = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    while let Some(h) = receivers.join_next().await {
        hist.add(h?)?;
    }
    let sent = sent.load(Ordering::Relaxed);
    let expected = sent * (args.per_room as u64 - 1);
    let got = received.load(Ordering::Relaxed);
    println!(
        "latency (send → each other client): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} deliveries",
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        hist.len()
    );
    println!(
        "messages: {sent} sent, {got} of {expected} deliveries received ({} lost); server CPU {:.0} % of a core",
        expected.saturating_sub(got),
        100.0 * cpu / wall
    );

    // The throughput phase: every room's sender as fast as the server takes it (each message is
    // persisted, then fanned out). The server's chat limit is the sender's problem: it is raised
    // for this run by the script (`KINO_CHAT_PER_SECOND`).
    let mut throughput = None;
    if args.throughput_secs > 0 {
        let acked = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(args.throughput_secs);
        let mut blasting = tokio::task::JoinSet::new();
        for (r, ws) in senders.into_iter().enumerate() {
            let acked = acked.clone();
            blasting.spawn(async move {
                let (mut sink, mut stream) = ws.split();
                let writer = tokio::spawn(async move {
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        let msg =
                            format!(r#"{{"t":"chat","id":"b{r}-{i}","text":"x","position":0}}"#);
                        if sink.send(Message::Text(msg.into())).await.is_err() {
                            break;
                        }
                        i += 1;
                        // Keep at most ~32 in flight per sender.
                        if i.is_multiple_of(32) {
                            tokio::task::yield_now().await;
                        }
                    }
                });
                let reader = async {
                    while Instant::now() < deadline + Duration::from_secs(1) {
                        let next =
                            tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
                        match next {
                            Ok(Some(Ok(Message::Text(t))))
                                if t.as_str().contains(r#""kind":"chat""#) =>
                            {
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(Some(Ok(_))) | Err(_) => {}
                            _ => break,
                        }
                    }
                };
                reader.await;
                writer.abort();
            });
        }
        let began = Instant::now();
        while blasting.join_next().await.is_some() {}
        let secs = began
            .elapsed()
            .as_secs_f64()
            .min(args.throughput_secs as f64 + 1.0);
        let n = acked.load(Ordering::Relaxed);
        println!(
            "chat throughput with persistence: {n} messages written and echoed in {:.1} s = {:.0} messages/s",
            secs,
            n as f64 / secs
        );
        throughput = Some(n as f64 / secs);
    }
    let nodes = servers.len();
    let storm = if servers.len() > 1 && args.storm_secs > 0 {
        let victim = servers.pop().ok_or("no node to stop")?;
        Some(storm(&base, victim, &codes, &users, &pool, args.storm_secs).await?)
    } else {
        None
    };
    println!(
        "{}",
        serde_json::json!({
            "bench": "fanout",
            "nodes": nodes,
            "database": db.kind(),
            "rooms": args.rooms,
            "sockets": connections,
            "join_seconds": join_seconds,
            "kib_per_socket": rss_after.saturating_sub(rss_before) as f64 / connections as f64,
            "p50_ms": hist.value_at_quantile(0.5) as f64 / 1000.0,
            "p99_ms": hist.value_at_quantile(0.99) as f64 / 1000.0,
            "max_ms": hist.max() as f64 / 1000.0,
            "deliveries_expected": expected,
            "lost": expected.saturating_sub(got),
            "cpu_percent": 100.0 * cpu / wall,
            "chat_messages_per_second": throughput,
            "storm_sockets": storm.as_ref().map(|s| s.sockets),
            "storm_all_back_s": storm.as_ref().map(|s| s.all_back),
            "storm_reconnect_p99_ms": storm.as_ref().map(|s| s.p99_ms),
            "storm_lost": storm.as_ref().map(|s| s.lost),
        })
    );
    for server in servers {
        server.stop().await?;
    }
    db.remove().await?;
    Ok(())
}
