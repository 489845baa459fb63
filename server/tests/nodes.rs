//! Several nodes: two real `kino` processes on one PostgreSQL database, behind a real HAProxy
//! (only loopback addresses). Rooms work across them, survive losing either, and the limits
//! hold across both. Needs `KINO_TEST_POSTGRES_URL` (the PostgreSQL step of `scripts/test.sh`
//! sets it; the SQLite step has no second node to test).

#[allow(dead_code)]
mod common;

use common::{browser, fresh_postgres, set_cookie, Person, PASSWORD, POSTGRES_ENV};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const FILM: &str = "metropolis-1927";
/// How long a silent node counts as alive in these tests (30 s in production).
const NODE_TIMEOUT_SECONDS: u64 = 2;
/// The countdown to a room's next film (the lifecycle job, which would start an overdue one,
/// runs only every 30 s).
const NEXT_COUNTDOWN_SECONDS: u64 = 2;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The admin URL of PostgreSQL, or `None` (the test says it is skipped).
fn postgres() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// A free port on 127.0.0.1 (bound and let go; the process that needs it binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Two kino nodes and HAProxy in front of them, on one fresh database.
struct Cluster {
    dir: tempfile::TempDir,
    database_url: String,
    ports: [u16; 2],
    nodes: [Option<Child>; 2],
    proxy_port: u16,
    _proxy: Child,
}

impl Cluster {
    /// Two nodes and the proxy on a fresh PostgreSQL database; `None` (saying so) without one.
    async fn for_test() -> Option<Self> {
        match postgres() {
            Some(admin) => Some(Self::start(&admin).await),
            None => {
                eprintln!("skipped: several nodes need PostgreSQL (KINO_TEST_POSTGRES_URL)");
                None
            }
        }
    }

    async fn start(admin_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let database_url = fresh_postgres(admin_url).await;
        let ports = [free_port(), free_port()];
        let proxy_port = free_port();
        let mut cluster = Cluster {
            _proxy: start_proxy(dir.path(), proxy_port, ports),
            dir,
            database_url,
            ports,
            nodes: [None, None],
            proxy_port,
        };
        // One after the other: the first applies the migrations and the demo catalog.
        cluster.start_node(0).await;
        cluster.start_node(1).await;
        cluster
    }

    fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// Node A's, node B's and the proxy's address.
    fn urls(&self) -> (String, String, String) {
        (self.node_url(0), self.node_url(1), self.public_url())
    }

    fn node_url(&self, node: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[node])
    }

    async fn start_node(&mut self, node: usize) {
        let log = std::fs::File::create(self.dir.path().join(format!("node{node}.log")))
            .expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kino"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.ports[node]))
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--public-url")
            .arg(self.public_url())
            .arg("--media-dir")
            .arg(self.dir.path().join(format!("media{node}")))
            .arg("--site-root")
            .arg(self.dir.path().join("site"))
            .arg("--no-calls")
            .arg("--trusted-proxy")
            .arg("127.0.0.1")
            .arg("--node-timeout-seconds")
            .arg(NODE_TIMEOUT_SECONDS.to_string())
            .arg("--drain-notice-seconds")
            .arg("1")
            .arg("--chat-per-second")
            .arg("50")
            .arg("--chat-burst")
            .arg("50")
            .arg("--next-countdown-seconds")
            .arg(NEXT_COUNTDOWN_SECONDS.to_string())
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("kino starts");
        self.nodes[node] = Some(child);
        let url = format!("{}/readyz", self.node_url(node));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = reqwest::get(&url).await {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {node} did not become ready; its log: {}",
                self.log(node)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self, node: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{node}.log"))).unwrap_or_default()
    }

    /// SIGTERM: the node drains and exits; how long it took.
    async fn stop(&mut self, node: usize) -> Duration {
        let mut child = self.nodes[node].take().expect("the node runs");
        let pid = child.id().expect("a pid").to_string();
        let started = Instant::now();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        let exited = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        assert!(
            exited.is_ok_and(|status| status.is_ok_and(|s| s.success())),
            "node {node} exits cleanly within 30 s of SIGTERM; its log: {}",
            self.log(node)
        );
        started.elapsed()
    }

    /// SIGKILL: no drain, no goodbye.
    async fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node].take() {
            child.kill().await.expect("SIGKILL");
        }
    }

    async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("the test database")
    }
}

fn start_proxy(dir: &Path, port: u16, nodes: [u16; 2]) -> Child {
    let config = format!(
        "global\n  maxconn 512\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  \
         timeout tunnel 30s\n  retries 3\n  option redispatch\n\
         frontend kino\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
         backend nodes\n  balance roundrobin\n  option httpchk GET /readyz\n  \
         default-server inter 200ms fall 1 rise 2\n  \
         server a 127.0.0.1:{} check\n  server b 127.0.0.1:{} check\n",
        nodes[0], nodes[1]
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).expect("the proxy's config");
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("HAProxy is installed (scripts/ensure-tools.sh test installs it)");
    Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("HAProxy starts")
}

/// Someone registered (on either node: the session is in the database).
async fn register(base: &str, username: &str) -> Person {
    let client = browser();
    let res = client
        .post(format!("{base}/api/register"))
        .header("accept", "application/json")
        .form(&[
            ("username", username),
            ("display_name", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("register answers");
    let (value, _) = set_cookie(&res, kino_server::SESSION_COOKIE).expect("a session cookie");
    let me: Value = call(&client, base, "me", &[]).await;
    Person {
        client,
        id: me["id"].as_str().expect("an id").to_owned(),
        cookie: format!("{}={value}", kino_server::SESSION_COOKIE),
    }
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Value {
    let res = client
        .post(format!("{base}/api/{endpoint}"))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), 200, "{endpoint} on {base}");
    res.json().await.expect("JSON")
}

/// A room of `owner`'s that everyone in `others` has opened (on whichever node `bases` says).
async fn room(bases: &[String], owner: &Person, others: &[&Person]) -> String {
    let code = call(
        &owner.client,
        &bases[0],
        "rooms/start",
        &[("film_id", FILM)],
    )
    .await;
    let code = code.as_str().expect("a code").to_owned();
    for (i, p) in others.iter().enumerate() {
        call(
            &p.client,
            &bases[i % bases.len()],
            "rooms/open",
            &[("code", &code)],
        )
        .await;
    }
    code
}

async fn dial(base: &str, origin: &str, code: &str, cookie: &str) -> Option<Ws> {
    let url = format!("{}/ws/rooms/{code}", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().ok()?;
    request.headers_mut().insert("cookie", cookie.parse().ok()?);
    request.headers_mut().insert("origin", origin.parse().ok()?);
    let dialled = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::connect_async(request),
    );
    Some(dialled.await.ok()?.ok()?.0)
}

/// What one client saw over all its connections.
#[derive(Default)]
struct Seen {
    /// Each event by sequence number (a second copy must be the same event).
    events: BTreeMap<i64, Value>,
    /// Different events under one sequence number.
    conflicts: Vec<String>,
    /// Chat ids of this client's own messages that came back (acknowledged).
    acked: BTreeSet<String>,
    /// The names in the latest presence list.
    present: Vec<String>,
    /// How long each reconnect took (from the drop to the welcome).
    reconnects: Vec<Duration>,
    /// The close codes the server sent.
    closed_with: Vec<u16>,
}

impl Seen {
    fn event(&mut self, mut event: Value) {
        // The same event, whether it came in a welcome's list or as a message of its own.
        if let Some(fields) = event.as_object_mut() {
            fields.remove("t");
        }
        let seq = event["seq"].as_i64().expect("an event has a seq");
        match self.events.get(&seq) {
            Some(before) if *before != event => {
                self.conflicts.push(format!("{seq}: {before} vs {event}"));
            }
            _ => {
                self.events.insert(seq, event);
            }
        }
    }

    /// The last sequence number before the first gap.
    fn contiguous(&self) -> i64 {
        let mut last = 0;
        for seq in self.events.keys() {
            if *seq != last + 1 {
                break;
            }
            last = *seq;
        }
        last
    }
}

/// How a client reaches the room.
#[derive(Clone)]
struct Route {
    first: String,
    /// Where it reconnects after a drop (the proxy), or nowhere (it stays away).
    after_drop: Option<String>,
}

/// One client's part: who, in which room, how it gets there, and what it says.
struct Plan {
    name: &'static str,
    person: Person,
    code: String,
    /// The public URL, which every socket gives as its origin.
    origin: String,
    route: Route,
    chats: usize,
    every: Duration,
}

/// Starts a client (`client`) on its plan; what it sees, and its task.
fn spawn_client(
    plan: Plan,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let task = tokio::spawn(client(plan, seen.clone(), stop.clone()));
    (seen, task)
}

/// One client: connects, says hello with the last sequence it has, sends `chats` messages (one
/// every `every`), a play or pause now and then, and resends whatever was not acknowledged
/// after a reconnect — until `stop`.
async fn client(plan: Plan, seen: Arc<Mutex<Seen>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Plan {
        name,
        person,
        code,
        origin,
        route,
        chats,
        every,
    } = plan;
    let mut base = route.first.clone();
    let mut sent = 0usize;
    let mut pending: Vec<(String, String)> = Vec::new();
    let mut dropped_at: Option<Instant> = None;
    'connections: loop {
        let Some(mut ws) = dial(&base, &origin, &code, &person.cookie).await else {
            if *stop.borrow() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let last = seen.lock().unwrap().contiguous();
        let hello = json!({"t": "hello", "v": 1, "last_seq": last});
        if ws
            .send(Message::Text(hello.to_string().into()))
            .await
            .is_err()
        {
            continue;
        }
        for (id, text) in &pending {
            let chat = json!({"t": "chat", "id": id, "text": text, "position": 0.0});
            let _ = ws.send(Message::Text(chat.to_string().into())).await;
        }
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let Some(Ok(Message::Text(text))) = frame else {
                        match frame {
                            Some(Ok(Message::Close(Some(close)))) => {
                                seen.lock().unwrap().closed_with.push(u16::from(close.code));
                                continue;
                            }
                            Some(Ok(_)) => continue,
                            _ => {
                                dropped_at = Some(Instant::now());
                                match &route.after_drop {
                                    Some(next) => { base = next.clone(); continue 'connections; }
                                    None => return,
                                }
                            }
                        }
                    };
                    let msg: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    let mut seen = seen.lock().unwrap();
                    match msg["t"].as_str() {
                        Some("welcome") => {
                            if let Some(at) = dropped_at.take() {
                                seen.reconnects.push(at.elapsed());
                            }
                            for event in msg["events"].as_array().into_iter().flatten() {
                                seen.event(event.clone());
                            }
                            seen.present = names(&msg["snapshot"]["present"]);
                        }
                        Some("event") => {
                            if msg["kind"] == "chat" && msg["user"] == person.id.as_str() {
                                let id = msg["id"].as_str().unwrap_or_default().to_owned();
                                pending.retain(|(p, _)| *p != id);
                                seen.acked.insert(id);
                            }
                            seen.event(msg);
                        }
                        Some("presence") => seen.present = names(&msg["present"]),
                        Some("error") => panic!("{name} was refused: {msg}"),
                        _ => {}
                    }
                }
                _ = tick.tick(), if sent < chats && !*stop.borrow() => {
                    sent += 1;
                    let id = format!("{name}-{sent}");
                    let text = format!("{name} says {sent}");
                    let chat = json!({"t": "chat", "id": id, "text": text, "position": 0.0});
                    pending.push((id, text));
                    let _ = ws.send(Message::Text(chat.to_string().into())).await;
                    if sent.is_multiple_of(5) {
                        let t = if sent.is_multiple_of(10) { "play" } else { "pause" };
                        let cmd = json!({"t": t, "position": sent as f64});
                        let _ = ws.send(Message::Text(cmd.to_string().into())).await;
                    }
                }
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
            }
        }
    }
}

fn names(present: &Value) -> Vec<String> {
    let mut names: Vec<String> = present
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Waits (up to `within`) until `check` holds of what `seen` has seen; false if it never did.
async fn eventually(seen: &Mutex<Seen>, within: Duration, check: impl Fn(&Seen) -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check(&seen.lock().unwrap()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check(&seen.lock().unwrap())
}

async fn last_seq(db: &sqlx::PgPool, code: &str) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM rooms WHERE code = $1")
        .bind(code)
        .fetch_one(db)
        .await
        .expect("the room")
}

/// Each stored chat message's client id and how many times it is stored, for a room.
async fn stored_chats(db: &sqlx::PgPool, code: &str) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT e.client_id, COUNT(*) FROM room_events e JOIN rooms r ON r.id = e.room_id \
         WHERE r.code = $1 AND e.kind = 'chat' GROUP BY e.client_id",
    )
    .bind(code)
    .fetch_all(db)
    .await
    .expect("the room's chat")
    .into_iter()
    .collect()
}

/// Every client of the room has every event 1..last_seq (no gap, no two versions of one),
/// every chat message is stored once, and each client saw exactly the stored ones, once —
/// among them `per_sender` of each of `senders`.
async fn everyone_has_everything(
    db: &sqlx::PgPool,
    code: &str,
    clients: &[(&str, &Arc<Mutex<Seen>>)],
    senders: &[&str],
    per_sender: usize,
) {
    let last = last_seq(db, code).await;
    let stored = stored_chats(db, code).await;
    for (id, count) in &stored {
        assert_eq!(*count, 1, "{id} is stored once");
    }
    for (name, seen) in clients {
        assert!(
            eventually(seen, Duration::from_secs(10), |s| s.contiguous() >= last).await,
            "{name} has every event 1..{last}: got up to {} of {} events",
            seen.lock().unwrap().contiguous(),
            seen.lock().unwrap().events.len()
        );
        let seen = seen.lock().unwrap();
        assert!(seen.conflicts.is_empty(), "{name}: {:?}", seen.conflicts);
        let mut chats: BTreeMap<&str, usize> = BTreeMap::new();
        for e in seen.events.values().filter(|e| e["kind"] == "chat") {
            *chats.entry(e["id"].as_str().unwrap()).or_default() += 1;
        }
        assert_eq!(
            chats.keys().copied().collect::<BTreeSet<_>>(),
            stored.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            "{name} saw exactly the stored messages"
        );
        assert!(chats.values().all(|n| *n == 1), "{name}: each message once");
        for sender in senders {
            for k in 1..=per_sender {
                let id = format!("{sender}-{k}");
                assert!(chats.contains_key(id.as_str()), "{name} got {id}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_spans_two_nodes_and_loses_nothing_when_one_is_killed() {
    let Some(mut cluster) = Cluster::for_test().await else {
        return;
    };
    let (a, b, proxy) = cluster.urls();
    let bases = [a.clone(), b.clone()];
    let names = [
        "anna", "boris", "vera", "gleb", "dima", "zhenya", "ivan", "kira",
    ];
    let mut people = Vec::new();
    for (i, name) in names.iter().enumerate() {
        people.push(register(&bases[i % 2], name).await);
    }
    let first = room(&bases, &people[0], &[&people[1], &people[2], &people[3]]).await;
    let second = room(&bases, &people[4], &[&people[5], &people[6], &people[7]]).await;

    // Room one: Anna on node A, Boris on node B, Vera and Gleb through the proxy. Room two:
    // Dima on A, Zhenya and Kira on B, Ivan through the proxy. Kira does not come back when B
    // dies; everyone else reconnects through the proxy.
    let plan = [
        (0, &first, &a, true),
        (1, &first, &b, true),
        (2, &first, &proxy, true),
        (3, &first, &proxy, true),
        (4, &second, &a, true),
        (5, &second, &b, true),
        (6, &second, &proxy, true),
        (7, &second, &b, false),
    ];
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut seen = Vec::new();
    let mut tasks = Vec::new();
    for (who, code, base, comes_back) in plan {
        let (s, task) = spawn_client(
            Plan {
                name: names[who],
                person: people[who].clone(),
                code: code.clone(),
                origin: proxy.clone(),
                route: Route {
                    first: base.clone(),
                    after_drop: comes_back.then(|| proxy.clone()),
                },
                // Kira sends nothing: she is there to be seen, and then not.
                chats: if comes_back { 30 } else { 0 },
                every: Duration::from_millis(100),
            },
            &stop,
        );
        seen.push(s);
        tasks.push(task);
    }

    // Everyone sees everyone of their room, whichever node each is on.
    let everyone_of_first = vec!["anna", "boris", "gleb", "vera"];
    for s in &seen[..4] {
        assert!(
            eventually(s, Duration::from_secs(10), |s| s.present
                == everyone_of_first)
            .await,
            "room one's people see all four across the nodes, got {:?}",
            s.lock().unwrap().present
        );
    }
    // Chat written on one node reaches the sockets of the other.
    assert!(
        eventually(&seen[0], Duration::from_secs(10), |s| {
            s.events.values().any(|e| e["id"] == "boris-3")
        })
        .await,
        "Anna (node A) sees Boris's (node B) messages"
    );

    cluster.kill(1).await;
    let killed_at = Instant::now();

    // Kira was only on B: once B has been silent for the timeout, A's people see her leave.
    let db = cluster.db().await;
    let kira = people[7].id.clone();
    assert!(
        eventually(&seen[4], Duration::from_secs(15), |s| {
            !s.present.contains(&"kira".to_owned())
                && s.events
                    .values()
                    .any(|e| e["kind"] == "leave" && e["user"] == kira.as_str())
        })
        .await,
        "Kira, whose node died, leaves room two; Dima sees {:?}",
        seen[4].lock().unwrap().present
    );
    let left_after = killed_at.elapsed();

    // B comes back (a new process, a new node id) while the others still chat.
    cluster.start_node(1).await;
    let all_sent = Duration::from_secs(30);
    for (i, s) in seen.iter().enumerate().take(7) {
        let me = names[i];
        assert!(
            eventually(s, all_sent, |s| s.acked.len() == 30).await,
            "{me}'s 30 messages are all acknowledged (got {})",
            s.lock().unwrap().acked.len()
        );
    }

    // Every client ends with 1..last_seq, no gap, no conflict; every message is stored once and
    // reached every client of its room.
    let clients = |range: std::ops::Range<usize>| -> Vec<(&str, &Arc<Mutex<Seen>>)> {
        range.map(|i| (names[i], &seen[i])).collect()
    };
    everyone_has_everything(&db, &first, &clients(0..4), &names[0..4], 30).await;
    everyone_has_everything(&db, &second, &clients(4..7), &names[4..7], 30).await;
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.expect("a client ran to the end");
    }
    // Those on B came back quickly.
    for (i, s) in seen.iter().enumerate() {
        for took in &s.lock().unwrap().reconnects {
            assert!(
                *took < Duration::from_secs(5),
                "{} took {took:?} to reconnect",
                names[i]
            );
        }
    }
    let reconnects: Vec<_> = seen
        .iter()
        .flat_map(|s| s.lock().unwrap().reconnects.clone())
        .collect();
    assert!(
        reconnects.len() >= 2,
        "Boris and Zhenya (on B) reconnected: {reconnects:?}"
    );
    eprintln!(
        "reconnects after the kill: {reconnects:?}; Kira's leave seen {left_after:?} after it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_arrive_after_the_listener_loses_its_connection() {
    let Some(cluster) = Cluster::for_test().await else {
        return;
    };
    let (a, b, _) = cluster.urls();
    let anna = register(&a, "anna").await;
    let boris = register(&b, "boris").await;
    let code = room(&[a.clone(), b.clone()], &anna, &[&boris]).await;
    let origin = cluster.public_url();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let listening = |person: &Person, base: &str, name: &'static str, chats| {
        let route = Route {
            first: base.to_owned(),
            after_drop: Some(base.to_owned()),
        };
        let (code, origin) = (code.clone(), origin.clone());
        let every = Duration::from_millis(50);
        let person = person.clone();
        let plan = Plan {
            name,
            person,
            code,
            origin,
            route,
            chats,
            every,
        };
        spawn_client(plan, &stop)
    };
    let (seen_a, anna_task) = listening(&anna, &a, "anna", 0);
    let both = vec!["anna".to_owned(), "boris".to_owned()];
    assert!(
        eventually(&seen_a, Duration::from_secs(10), |s| s.present
            == [both[0].clone()])
        .await,
        "Anna is in the room"
    );

    // Every node's listening connection is cut, as a failover or an administrator would.
    let db = cluster.db().await;
    let cut: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&db)
    .await
    .expect("the listeners");
    assert_eq!(cut.len(), 2, "one listener per node");
    for pid in &cut {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&db)
            .await
            .expect("terminated");
    }

    // Boris, on B, joins and chats at once: Anna, on A, gets all of it, in order.
    let (seen_b, boris_task) = listening(&boris, &b, "boris", 20);
    assert!(
        eventually(&seen_b, Duration::from_secs(10), |s| s.acked.len() == 20).await,
        "Boris's messages are acknowledged"
    );
    let last = last_seq(&db, &code).await;
    assert!(
        eventually(&seen_a, Duration::from_secs(10), |s| s.contiguous() >= last).await,
        "Anna has every event up to {last} (got {})",
        seen_a.lock().unwrap().contiguous()
    );
    assert!(
        eventually(&seen_a, Duration::from_secs(10), |s| s.present == both).await,
        "Anna sees Boris present"
    );
    let relistened: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&db)
    .await
    .expect("the listeners");
    assert_eq!(relistened, 2, "both nodes listen again");
    assert!(seen_a.lock().unwrap().conflicts.is_empty());
    let _ = stop_tx.send(true);
    anna_task.await.expect("Anna's client");
    boris_task.await.expect("Boris's client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_room_password_counts_once_whichever_node_hears_it() {
    let Some(cluster) = Cluster::for_test().await else {
        return;
    };
    let (a, b, _) = cluster.urls();
    let vasily = register(&a, "vasily").await;
    let code = call(
        &vasily.client,
        &a,
        "rooms/start",
        &[
            ("film_id", FILM),
            ("private", "true"),
            ("password", "secret-word"),
        ],
    )
    .await;
    let code = code.as_str().expect("a code").to_owned();
    let petr = register(&b, "petr").await;
    // Five wrong guesses, alternating between the nodes, use up one budget of five.
    let enter = |base: &str, password: &str| {
        let request = petr
            .client
            .post(format!("{base}/api/rooms/enter"))
            .header("accept", "application/json")
            .form(&[("code", code.as_str()), ("password", password)]);
        async move { request.send().await.expect("answered").status() }
    };
    for i in 0..5 {
        let base = if i % 2 == 0 { &a } else { &b };
        assert_eq!(enter(base, "guess").await, 403, "guess {i} is wrong");
    }
    for base in [&a, &b] {
        assert_eq!(
            enter(base, "secret-word").await,
            429,
            "locked out on {base} too, even with the right word"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_node_hands_its_sockets_to_the_other_and_loses_nothing() {
    let Some(mut cluster) = Cluster::for_test().await else {
        return;
    };
    let (a, b, proxy) = cluster.urls();
    let names = ["anna", "boris", "vera", "gleb"];
    let mut people = Vec::new();
    for name in names {
        people.push(register(&a, name).await);
    }
    let code = room(
        std::slice::from_ref(&a),
        &people[0],
        &[&people[1], &people[2], &people[3]],
    )
    .await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let routes = [&a, &b, &b, &proxy];
    let mut seen = Vec::new();
    let mut tasks = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let route = Route {
            first: routes[i].clone(),
            after_drop: Some(proxy.clone()),
        };
        let (s, task) = spawn_client(
            Plan {
                name,
                person: people[i].clone(),
                code: code.clone(),
                origin: proxy.clone(),
                route,
                chats: 30,
                every: Duration::from_millis(100),
            },
            &stop,
        );
        seen.push(s);
        tasks.push(task);
    }
    for s in &seen {
        assert!(
            eventually(s, Duration::from_secs(10), |s| s.present.len() == 4).await,
            "all four are in the room"
        );
    }

    let readyz = format!("{b}/readyz");
    let stopping = cluster.stop(1);
    let not_ready = async {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if reqwest::get(&readyz).await.is_ok_and(|r| r.status() == 503) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    let (took, not_ready) = tokio::join!(stopping, not_ready);
    assert!(not_ready, "a stopping node's /readyz says 503 at once");
    for (name, s) in names.iter().zip(&seen) {
        assert!(
            eventually(s, Duration::from_secs(15), |s| s.acked.len() == 30).await,
            "{name}'s 30 messages are all acknowledged (got {})",
            s.lock().unwrap().acked.len()
        );
    }

    let db = cluster.db().await;
    let clients: Vec<_> = names.iter().copied().zip(seen.iter()).collect();
    everyone_has_everything(&db, &code, &clients, &names, 30).await;
    for (name, s) in &clients[1..3] {
        let s = s.lock().unwrap();
        assert_eq!(
            s.closed_with,
            [1012],
            "{name}'s socket on B closed as a restart"
        );
        assert_eq!(s.reconnects.len(), 1, "{name} reconnected once");
        assert!(
            s.reconnects[0] < Duration::from_secs(3),
            "{name}: {:?}",
            s.reconnects
        );
    }
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.expect("a client ran to the end");
    }
    eprintln!("node B drained and exited in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_out_on_one_node_closes_the_sockets_on_the_other() {
    let Some(cluster) = Cluster::for_test().await else {
        return;
    };
    let (a, b, _) = cluster.urls();
    let anna = register(&a, "anna").await;
    let code = room(std::slice::from_ref(&a), &anna, &[]).await;
    let mut ws = dial(&b, &cluster.public_url(), &code, &anna.cookie)
        .await
        .expect("Anna's socket on node B");
    let hello = json!({"t": "hello", "v": 1, "last_seq": 0});
    ws.send(Message::Text(hello.to_string().into()))
        .await
        .expect("hello");
    // Her welcome, then whatever else, until the socket closes.
    let welcome = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    assert!(
        matches!(welcome, Ok(Some(Ok(Message::Text(_))))),
        "welcomed"
    );
    call(&anna.client, &a, "logout", &[]).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(_) = msg {
                return;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "signed out on node A, her socket on node B closes"
    );
}

/// Anna (registered on node A) and Boris (on node B) in Anna's room, each greeted on a socket
/// to their own node.
async fn anna_on_a_and_boris_on_b(cluster: &Cluster) -> (Ws, Ws) {
    let (a, b, _) = cluster.urls();
    let anna = register(&a, "anna").await;
    let boris = register(&b, "boris").await;
    let code = room(&[a.clone(), b.clone()], &anna, &[&boris]).await;
    let on_a = greeted(cluster, &a, &code, &anna).await;
    let on_b = greeted(cluster, &b, &code, &boris).await;
    (on_a, on_b)
}

/// A socket of `who` to the room through `base`, greeted.
async fn greeted(cluster: &Cluster, base: &str, code: &str, who: &Person) -> Ws {
    let mut ws = dial(base, &cluster.public_url(), code, &who.cookie)
        .await
        .expect("a member connects");
    send(&mut ws, json!({"t": "hello", "v": 1, "last_seq": 0})).await;
    assert!(next_event(&mut ws, "welcome", Duration::from_secs(5))
        .await
        .is_some());
    ws
}

async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .expect("sent");
}

/// The next message of type `t` (or event of kind `t`) within `within`, skipping others.
async fn next_event(ws: &mut Ws, t: &str, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        if let Ok(Message::Text(text)) = frame {
            let msg: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if msg["t"] == t || (msg["t"] == "event" && msg["kind"] == t) {
                return Some(msg);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_waits_for_a_stalled_player_on_either_node() {
    let Some(cluster) = Cluster::for_test().await else {
        return;
    };
    let (mut on_a, mut on_b) = anna_on_a_and_boris_on_b(&cluster).await;
    send(&mut on_a, json!({"t": "play", "position": 0.0})).await;
    let within = Duration::from_secs(5);
    assert!(
        next_event(&mut on_b, "play", within).await.is_some(),
        "playing on B"
    );

    // Boris's video stalls (node B holds the room), then Anna's (node A).
    send(&mut on_b, json!({"t": "buffering", "stalled": true})).await;
    assert!(
        next_event(&mut on_a, "hold", within).await.is_some(),
        "held for Boris"
    );
    send(&mut on_a, json!({"t": "buffering", "stalled": true})).await;
    // Node B sees Anna stalled through node A.
    let stalled_both = async {
        loop {
            let p = next_event(&mut on_b, "presence", within).await?;
            let all = p["present"].as_array()?;
            if all.len() == 2 && all.iter().all(|p| p["buffering"] == true) {
                return Some(());
            }
        }
    };
    assert!(
        stalled_both.await.is_some(),
        "Boris's node sees both stalled"
    );

    // Boris can play again: the room still waits for Anna.
    send(&mut on_b, json!({"t": "buffering", "stalled": false})).await;
    assert!(
        next_event(&mut on_a, "resume", Duration::from_secs(1))
            .await
            .is_none(),
        "no resume while Anna (on the other node) is stalled"
    );
    // Anna can play again: the room goes on.
    send(&mut on_a, json!({"t": "buffering", "stalled": false})).await;
    let resumed = next_event(&mut on_b, "resume", within).await;
    assert_eq!(
        resumed.map(|r| r["timed_out"].clone()),
        Some(json!(false)),
        "resumed when the last stalled player could play"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_next_film_starts_on_time_when_the_node_that_counted_down_is_killed() {
    let Some(mut cluster) = Cluster::for_test().await else {
        return;
    };
    let (mut on_a, mut on_b) = anna_on_a_and_boris_on_b(&cluster).await;
    let within = Duration::from_secs(5);
    send(
        &mut on_a,
        json!({"t": "queue_add", "film": "nosferatu-1922"}),
    )
    .await;
    assert!(next_event(&mut on_b, "queue_add", within).await.is_some());
    send(&mut on_a, json!({"t": "play", "position": 0})).await;
    assert!(next_event(&mut on_b, "play", within).await.is_some());

    // The film ends on Anna's node, which starts the countdown — and is killed during it.
    send(&mut on_a, json!({"t": "seek", "position": 39500})).await;
    send(&mut on_a, json!({"t": "film_ended", "duration": 40000})).await;
    let next_up = next_event(&mut on_b, "next_up", within)
        .await
        .expect("Boris sees the countdown");
    cluster.kill(0).await;

    // Boris's node starts the film when the countdown ends, not when a job finds it overdue.
    let started = next_event(
        &mut on_b,
        "now_playing",
        Duration::from_secs(NEXT_COUNTDOWN_SECONDS + 3),
    )
    .await
    .expect("the next film starts on the node still up");
    assert_eq!(started["film"]["id"], "nosferatu-1922");
    let late = started["at"].as_i64().unwrap() - next_up["starts_at"].as_i64().unwrap();
    assert!(
        (0..1500).contains(&late),
        "started {late} ms after the countdown's end"
    );
}
