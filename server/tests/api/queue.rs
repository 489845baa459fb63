//! Choosing together over real websockets: the queue's adds, votes and removals in one order
//! for everyone, a vote sent twice at once counting once, a reconnecting client catching up,
//! the majority's skip, the countdown after a film's end, and a room that starts with none.

use super::channel::{connect, next, next_of, person, room, send, Ws};
use crate::common::{json_of, spawn_app, spawn_app_with, Person, TestApp};
use serde_json::{json, Value};

const NOSFERATU: &str = "nosferatu-1922";
const GENERAL: &str = "the-general-1926";

/// The next event of `kind`, skipping others (joins, presence, playback…).
async fn event_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let e = next_of(ws, "event").await;
        if e["kind"] == kind {
            return e;
        }
    }
}

/// The next refusal's code.
async fn refusal(ws: &mut Ws) -> String {
    next_of(ws, "error").await["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Adds `film` as the owner of `ws`; the new entry's id.
async fn add(ws: &mut Ws, film: &str) -> String {
    send(ws, json!({"t": "queue_add", "film": film})).await;
    let e = event_of(ws, "queue_add").await;
    assert_eq!(e["film"]["id"], film);
    e["entry"].as_str().unwrap().to_owned()
}

fn vote(entry: &str, vote: bool) -> Value {
    json!({"t": "queue_vote", "entry": entry, "vote": vote})
}

/// The queue as a new connection of `who` is told it.
async fn queue_seen_by(app: &TestApp, code: &str, who: &Person) -> Value {
    let (_ws, welcome) = connect(app, code, who, 0).await;
    welcome["snapshot"]["queue"].clone()
}

/// The next `n` events that are not joins or leaves: (seq, kind, user).
async fn changes(ws: &mut Ws, after: i64, n: usize) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = next_of(ws, "event").await;
        let seq = e["seq"].as_i64().unwrap();
        if seq > after && e["kind"] != "join" && e["kind"] != "leave" {
            out.push((
                seq,
                e["kind"].as_str().unwrap().to_owned(),
                e["user"].clone(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn three_people_add_vote_and_remove_in_one_order() {
    let app = spawn_app().await;
    let (a, b, c) = (
        person(&app, "anna").await,
        person(&app, "boris").await,
        person(&app, "clara").await,
    );
    let code = room(&app, &a, &[&b, &c]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    let (mut wc, welcome) = connect(&app, &code, &c, 0).await;
    let start = welcome["snapshot"]["seq"].as_i64().unwrap();
    assert_eq!(welcome["snapshot"]["queue"]["entries"], json!([]));
    assert_eq!(
        welcome["snapshot"]["queue"]["played"][0]["film"]["id"], "metropolis-1927",
        "the room's own film is the first it played"
    );

    let first = add(&mut wa, NOSFERATU).await;
    let second = add(&mut wa, GENERAL).await;
    send(&mut wb, vote(&second, true)).await;
    send(&mut wc, vote(&second, true)).await;
    send(&mut wb, vote(&second, false)).await;
    send(&mut wa, json!({"t": "queue_remove", "entry": first})).await;
    let mut seen = Vec::new();
    for ws in [&mut wb, &mut wc] {
        seen.push(changes(ws, start, 6).await);
    }
    assert_eq!(seen[0], seen[1], "everyone sees one order");
    // Anna read her two adds already; the rest she sees in the same order too.
    assert_eq!(changes(&mut wa, start, 4).await, seen[0][2..]);
    assert!(
        seen[0].windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "{:?}",
        seen[0]
    );
    let kinds: Vec<&str> = seen[0].iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds[..2], ["queue_add", "queue_add"]);
    // Different people's messages race; each person's keep their order.
    assert_eq!(kinds.iter().filter(|k| **k == "queue_remove").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "queue_vote").count(), 3);

    // Bad input: a clear refusal, and nothing changes.
    send(&mut wb, json!({"t": "queue_add", "film": "no-such-film"})).await;
    assert_eq!(refusal(&mut wb).await, "unknown_film");
    send(&mut wb, json!({"t": "queue_add", "film": GENERAL})).await;
    assert_eq!(refusal(&mut wb).await, "already_queued");
    send(&mut wb, json!({"t": "queue_remove", "entry": second})).await;
    assert_eq!(
        refusal(&mut wb).await,
        "owner_only",
        "only its adder or the owner"
    );
    send(&mut wc, vote(&first, true)).await;
    assert_eq!(refusal(&mut wc).await, "no_such_entry");
    send(
        &mut wc,
        json!({"t": "queue_vote", "entry": "", "vote": true}),
    )
    .await;
    assert_eq!(refusal(&mut wc).await, "malformed");
    send(&mut wc, json!({"t": "queue_add", "film": "x".repeat(201)})).await;
    assert_eq!(refusal(&mut wc).await, "malformed");

    // Clara drops; Boris votes again meanwhile; her reconnect brings her the vote she missed.
    let last = seen[1].last().unwrap().0;
    drop(wc);
    send(&mut wb, vote(&second, true)).await;
    let again = event_of(&mut wb, "queue_vote").await;
    assert_eq!(again["user"], b.id.as_str());
    let (_wc, welcome) = connect(&app, &code, &c, last).await;
    let events = welcome["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "queue_vote" && e["user"] == b.id.as_str()),
        "the missed vote is replayed: {events:?}"
    );
    let entries = welcome["snapshot"]["queue"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["id"], second.as_str());
    assert_eq!(entries[0]["added_by"], a.id.as_str());
    let mut votes: Vec<&str> = entries[0]["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    votes.sort_unstable();
    let mut expected = vec![b.id.as_str(), c.id.as_str()];
    expected.sort_unstable();
    assert_eq!(votes, expected);
}

#[tokio::test]
async fn the_same_vote_from_two_sockets_at_once_counts_once() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let entry = add(&mut wa, NOSFERATU).await;
    let (mut wb1, _) = connect(&app, &code, &b, 0).await;
    let (mut wb2, _) = connect(&app, &code, &b, 0).await;
    send(&mut wb1, vote(&entry, true)).await;
    send(&mut wb2, vote(&entry, true)).await;
    // Each socket's messages are handled in order: once both chats are here, both votes were.
    send(
        &mut wb1,
        json!({"t": "chat", "id": "one", "text": "1", "position": 0}),
    )
    .await;
    send(
        &mut wb2,
        json!({"t": "chat", "id": "two", "text": "2", "position": 0}),
    )
    .await;
    let (mut votes, mut chats) = (0, 0);
    while chats < 2 {
        let e = next_of(&mut wa, "event").await;
        match e["kind"].as_str().unwrap() {
            "queue_vote" => votes += 1,
            "chat" => chats += 1,
            _ => {}
        }
    }
    assert_eq!(votes, 1, "one vote event");
    let queue = queue_seen_by(&app, &code, &a).await;
    assert_eq!(queue["entries"][0]["votes"], json!([b.id]));
}

#[tokio::test]
async fn a_majority_skips_and_the_next_film_starts_for_everyone_from_its_beginning() {
    let app = spawn_app().await;
    let (a, b, c) = (
        person(&app, "anna").await,
        person(&app, "boris").await,
        person(&app, "clara").await,
    );
    let code = room(&app, &a, &[&b, &c]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    let (mut wc, _) = connect(&app, &code, &c, 0).await;
    send(&mut wa, json!({"t": "play", "position": 5000})).await;
    event_of(&mut wa, "play").await;
    let general = add(&mut wa, GENERAL).await;
    let nosferatu = add(&mut wa, NOSFERATU).await;
    send(&mut wc, vote(&nosferatu, true)).await;
    event_of(&mut wc, "queue_vote").await;

    // One of three is no majority.
    send(&mut wb, json!({"t": "skip", "skip": true})).await;
    let skip = event_of(&mut wb, "skip_vote").await;
    assert_eq!(skip["user"], b.id.as_str());
    // Two are: the top of the queue (most votes) starts.
    send(&mut wc, json!({"t": "skip", "skip": true})).await;
    let mut states = Vec::new();
    for ws in [&mut wa, &mut wb, &mut wc] {
        let now_playing = event_of(ws, "now_playing").await;
        assert_eq!(now_playing["film"]["id"], NOSFERATU);
        assert_eq!(now_playing["entry"], nosferatu.as_str());
        let playback = loop {
            let msg = next(ws).await;
            if msg["t"] == "playback" {
                break msg["playback"].clone();
            }
        };
        assert_eq!(playback["paused"], false, "the new film plays");
        assert_eq!(playback["position"], 0.0, "from its beginning");
        assert!(
            playback["anchor"].as_f64().unwrap() >= now_playing["at"].as_f64().unwrap() + 2000.0,
            "and starts a moment later, for everyone at once: {playback}"
        );
        states.push(playback);
    }
    assert!(states.windows(2).all(|w| w[0] == w[1]));

    let queue = queue_seen_by(&app, &code, &a).await;
    assert_eq!(queue["film"]["id"], NOSFERATU);
    assert_eq!(
        queue["skips"],
        json!([]),
        "skip votes are for the film that was on"
    );
    assert_eq!(queue["entries"].as_array().unwrap().len(), 1);
    assert_eq!(queue["entries"][0]["id"], general.as_str());
    let played: Vec<&str> = queue["played"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["film"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(played, ["metropolis-1927", NOSFERATU], "Watched here");
    // The room page shows the new film.
    let open = json_of(&app, &b.client, "rooms/open", &[("code", &code)]).await;
    assert_eq!(open["Member"]["film"]["id"], NOSFERATU);
}

#[tokio::test]
async fn at_the_films_end_the_next_one_counts_down_and_can_be_cancelled() {
    let app = spawn_app_with(|c| c.next_countdown_seconds = 1).await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    add(&mut wa, GENERAL).await;
    let nosferatu = add(&mut wa, NOSFERATU).await;
    send(&mut wb, vote(&nosferatu, true)).await;
    send(&mut wa, json!({"t": "play", "position": 0})).await;
    event_of(&mut wa, "play").await;

    // A browser that says "ended" long before the room's film is at its end changes nothing.
    send(&mut wa, json!({"t": "film_ended", "duration": 40000})).await;
    send(
        &mut wa,
        json!({"t": "chat", "id": "c1", "text": "ещё идёт", "position": 0}),
    )
    .await;
    let e = loop {
        let e = next_of(&mut wa, "event").await;
        if e["kind"] != "queue_vote" {
            break e;
        }
    };
    assert_eq!(e["kind"], "chat", "no countdown: {e}");

    // At the end: "Next: Nosferatu" (the most votes), which Boris cancels.
    send(&mut wa, json!({"t": "seek", "position": 39500})).await;
    send(&mut wa, json!({"t": "film_ended", "duration": 40000})).await;
    let next_up = event_of(&mut wb, "next_up").await;
    assert_eq!(next_up["film"]["id"], NOSFERATU);
    assert_eq!(
        next_up["starts_at"].as_i64().unwrap() - next_up["at"].as_i64().unwrap(),
        1000,
        "in the configured countdown"
    );
    send(&mut wb, json!({"t": "cancel_next"})).await;
    event_of(&mut wa, "next_cancelled").await;
    assert_eq!(queue_seen_by(&app, &code, &b).await["next"], Value::Null);

    // Reported again, it counts down again and starts by itself.
    send(&mut wb, json!({"t": "film_ended", "duration": 40000})).await;
    event_of(&mut wa, "next_up").await;
    let started = event_of(&mut wa, "now_playing").await;
    assert_eq!(started["film"]["id"], NOSFERATU);
    assert_eq!(
        started["user"],
        Value::Null,
        "the room's own countdown did it"
    );
}

#[tokio::test]
async fn a_room_can_start_choosing_and_its_rules_hold() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = json_of(
        &app,
        &a.client,
        "rooms/start",
        &[("film_id", "metropolis-1927"), ("choose", "true")],
    )
    .await;
    let code = code.as_str().unwrap().to_owned();
    let open = json_of(&app, &b.client, "rooms/open", &[("code", &code)]).await;
    assert_eq!(open["Member"]["choosing"], true);
    let (mut wa, welcome) = connect(&app, &code, &a, 0).await;
    let queue = &welcome["snapshot"]["queue"];
    assert_eq!(queue["film"], Value::Null, "nothing is on yet");
    assert_eq!(queue["entries"][0]["film"]["id"], "metropolis-1927");
    assert_eq!(queue["played"], json!([]));
    let (mut wb, _) = connect(&app, &code, &b, 0).await;

    // With controls locked only the owner adds, skips or cancels; everyone still votes.
    json_of(
        &app,
        &a.client,
        "rooms/lock",
        &[("code", &code), ("locked", "true")],
    )
    .await;
    send(&mut wb, json!({"t": "queue_add", "film": NOSFERATU})).await;
    assert_eq!(refusal(&mut wb).await, "controls_locked");
    let entry = queue["entries"][0]["id"].as_str().unwrap();
    send(&mut wb, vote(entry, true)).await;
    event_of(&mut wb, "queue_vote").await;
    json_of(
        &app,
        &a.client,
        "rooms/lock",
        &[("code", &code), ("locked", "false")],
    )
    .await;

    // Nothing is on: anyone's "Start" puts the top entry on.
    send(&mut wb, json!({"t": "skip", "skip": true})).await;
    let started = event_of(&mut wa, "now_playing").await;
    assert_eq!(started["film"]["id"], "metropolis-1927");
    send(&mut wb, json!({"t": "skip", "skip": true})).await;
    assert_eq!(refusal(&mut wb).await, "queue_empty");

    // An ended room's queue is read-only.
    json_of(&app, &a.client, "rooms/end", &[("code", &code)]).await;
    event_of(&mut wb, "end").await;
    send(&mut wb, json!({"t": "queue_add", "film": NOSFERATU})).await;
    assert_eq!(refusal(&mut wb).await, "room_ended");
}
