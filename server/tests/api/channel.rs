//! The room channel over real websockets: who may connect, ordering, nothing lost or doubled
//! across a dropped connection, late joiners, malformed frames, locked controls, chat limits — on
//! SQLite or (with KINO_TEST_POSTGRES_URL) PostgreSQL.

use crate::common::{json_of, signed_in, spawn_app, Person, TestApp};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const FILM: &str = "metropolis-1927";

pub(crate) async fn person(app: &TestApp, username: &str) -> Person {
    signed_in(app, username, username).await
}

/// A public room owned by `owner` that everyone in `others` has joined.
pub(crate) async fn room(app: &TestApp, owner: &Person, others: &[&Person]) -> String {
    let code = json_of(app, &owner.client, "rooms/start", &[("film_id", FILM)]).await;
    let code = code.as_str().unwrap().to_owned();
    for p in others {
        json_of(app, &p.client, "rooms/open", &[("code", &code)]).await;
    }
    code
}

async fn dial(
    app: &TestApp,
    code: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let url = app
        .url(&format!("/ws/rooms/{code}"))
        .replacen("http", "ws", 1);
    let mut request = url.into_client_request()?;
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// Connects as `who` from the app's own origin and says hello; the welcome.
pub(crate) async fn connect(app: &TestApp, code: &str, who: &Person, last_seq: i64) -> (Ws, Value) {
    let mut ws = dial(app, code, Some(&who.cookie), Some(&app.address))
        .await
        .expect("a member connects");
    send(&mut ws, json!({"t": "hello", "v": 1, "last_seq": last_seq})).await;
    let welcome = next_of(&mut ws, "welcome").await;
    (ws, welcome)
}

pub(crate) async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
}

pub(crate) async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a good frame");
        if let Message::Text(text) = msg {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// The next message of type `t`, skipping others (presence, playback).
pub(crate) async fn next_of(ws: &mut Ws, t: &str) -> Value {
    loop {
        let msg = next(ws).await;
        if msg["t"] == t {
            return msg;
        }
    }
}

/// The next `n` events' (seq, kind).
async fn events(ws: &mut Ws, n: usize) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = next_of(ws, "event").await;
        out.push((
            e["seq"].as_i64().unwrap(),
            e["kind"].as_str().unwrap().to_owned(),
        ));
    }
    out
}

fn status_of(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => 101,
    }
}

#[tokio::test]
async fn only_members_connect_and_only_from_our_origin() {
    let app = spawn_app().await;
    let vasily = person(&app, "vasily").await;
    let stranger = person(&app, "stranger").await;
    let code = json_of(
        &app,
        &vasily.client,
        "rooms/start",
        &[("film_id", FILM), ("private", "true")],
    )
    .await;
    let code = code.as_str().unwrap();
    let own = app.address.clone();
    assert_eq!(
        status_of(dial(&app, code, Some(&vasily.cookie), Some(&own)).await),
        101
    );
    assert_eq!(
        status_of(dial(&app, code, None, Some(&own)).await),
        401,
        "no session"
    );
    assert_eq!(
        status_of(dial(&app, code, Some(&stranger.cookie), Some(&own)).await),
        403,
        "not a member"
    );
    assert_eq!(
        status_of(
            dial(
                &app,
                code,
                Some(&vasily.cookie),
                Some("https://evil.example")
            )
            .await
        ),
        403,
        "a foreign page cannot use the member's cookie"
    );
    assert_eq!(
        status_of(dial(&app, code, Some(&vasily.cookie), None).await),
        403,
        "no Origin"
    );
    assert_eq!(
        status_of(dial(&app, "zzzzzzzzzz", Some(&vasily.cookie), Some(&own)).await),
        404
    );
}

#[tokio::test]
async fn everyone_sees_the_same_order_and_the_state_follows_the_commands() {
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
    // Clara saw the earlier joins in her welcome; from here all three see the same stream.
    let start = welcome["snapshot"]["seq"].as_i64().unwrap();
    send(&mut wa, json!({"t": "play", "position": 0})).await;
    send(&mut wb, json!({"t": "pause", "position": 1500})).await;
    send(&mut wc, json!({"t": "seek", "position": 30000})).await;
    send(
        &mut wa,
        json!({"t": "chat", "id": "m1", "text": "  привет  ", "position": 30000}),
    )
    .await;
    let mut seen = Vec::new();
    for ws in [&mut wa, &mut wb, &mut wc] {
        let mut evs = Vec::new();
        while evs.len() < 4 {
            let e = next_of(ws, "event").await;
            if e["seq"].as_i64().unwrap() > start && e["kind"] != "join" {
                evs.push((
                    e["seq"].as_i64().unwrap(),
                    e["kind"].as_str().unwrap().to_owned(),
                ));
            }
        }
        seen.push(evs);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    let kinds: Vec<&str> = seen[0].iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds.len(), 4);
    assert!(
        seen[0].windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive: {:?}",
        seen[0]
    );

    // A late joiner reads the whole history from the first event, and the current state.
    let d = person(&app, "dmitry").await;
    json_of(&app, &d.client, "rooms/open", &[("code", &code)]).await;
    let (_wd, welcome) = connect(&app, &code, &d, 0).await;
    let history = welcome["events"].as_array().unwrap();
    assert_eq!(history[0]["seq"], 1, "from the very first event");
    let chat = history
        .iter()
        .find(|e| e["kind"] == "chat")
        .expect("the chat is there");
    assert_eq!(chat["text"], "привет", "trimmed");
    assert_eq!(chat["name"], "anna");
    let playback = &welcome["snapshot"]["playback"];
    let last = seen[0].last().unwrap().0;
    assert!(welcome["snapshot"]["seq"].as_i64().unwrap() >= last);
    // The order of the three commands decides the state; replay it.
    let mut expected = json!({"paused": true, "position": 0.0});
    for (_, kind) in &seen[0] {
        match kind.as_str() {
            "play" => expected = json!({"paused": false, "position": expected["position"]}),
            "pause" => expected = json!({"paused": true, "position": 1500.0}),
            "seek" => expected["position"] = json!(30000.0),
            _ => {}
        }
    }
    assert_eq!(
        playback["paused"], expected["paused"],
        "{playback} vs {expected}"
    );
    if expected["paused"] == true {
        assert_eq!(playback["position"], expected["position"]);
    }
}

#[tokio::test]
async fn nothing_is_lost_or_doubled_across_a_dropped_connection() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, welcome) = connect(&app, &code, &b, 0).await;
    let mut last = welcome["snapshot"]["seq"].as_i64().unwrap();
    send(
        &mut wa,
        json!({"t": "chat", "id": "c0", "text": "one", "position": 0}),
    )
    .await;
    last = last.max(events(&mut wb, 1).await[0].0);
    // Boris's connection drops; Anna writes five messages meanwhile.
    drop(wb);
    for i in 1..=5 {
        send(
            &mut wa,
            json!({"t": "chat", "id": format!("c{i}"), "text": format!("msg {i}"), "position": 0}),
        )
        .await;
    }
    // Anna's phone retries the third one: nobody sees it twice, she gets the original back.
    send(
        &mut wa,
        json!({"t": "chat", "id": "c3", "text": "msg 3", "position": 0}),
    )
    .await;
    let mut chats = Vec::new();
    let mut dup = None;
    while chats.len() < 5 || dup.is_none() {
        let e = next_of(&mut wa, "event").await;
        if e["kind"] == "chat" && e["id"] != "c0" {
            if chats.iter().any(|c: &Value| c["seq"] == e["seq"]) {
                dup = Some(e);
            } else {
                chats.push(e);
            }
        }
    }
    assert_eq!(dup.unwrap()["id"], "c3");
    // Boris reconnects with the last number he saw: exactly the five, in order, once.
    let (_wb, welcome) = connect(&app, &code, &b, last).await;
    let missed: Vec<String> = welcome["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "chat")
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(missed, ["msg 1", "msg 2", "msg 3", "msg 4", "msg 5"]);
    assert!(welcome["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["seq"].as_i64().unwrap() > last));
}

#[tokio::test]
async fn rooms_writing_at_once_keep_their_own_order_and_retries_count_once() {
    // Many rooms' messages arrive together and share transactions (group commit): each room
    // still numbers its own events one after another, in the order they were sent, and a retry
    // in the same burst comes back as the original.
    let app = spawn_app().await;
    let mut talkers = Vec::new();
    for i in 0..8 {
        let who = person(&app, &format!("talker{i}")).await;
        let code = room(&app, &who, &[]).await;
        let (ws, welcome) = connect(&app, &code, &who, 0).await;
        let after = welcome["snapshot"]["seq"].as_i64().unwrap();
        talkers.push((ws, after));
    }
    // Everyone sends at once: three messages, then the second again (a retry).
    for (ws, _) in &mut talkers {
        for (id, text) in [("m0", "zero"), ("m1", "one"), ("m2", "two"), ("m1", "one")] {
            send(
                ws,
                json!({"t": "chat", "id": id, "text": text, "position": 0}),
            )
            .await;
        }
    }
    for (ws, after) in &mut talkers {
        let mut chats = Vec::new();
        while chats.len() < 4 {
            let e = next_of(ws, "event").await;
            if e["kind"] == "chat" {
                chats.push((
                    e["seq"].as_i64().unwrap(),
                    e["id"].as_str().unwrap().to_owned(),
                ));
            }
        }
        // The retry's answer comes to its sender at once, perhaps before the broadcast of
        // what was sent just before it: by number, it is the original.
        chats.sort();
        let first = *after + 1;
        assert_eq!(
            chats,
            [
                (first, "m0".to_owned()),
                (first + 1, "m1".to_owned()),
                (first + 1, "m1".to_owned()),
                (first + 2, "m2".to_owned()),
            ],
            "in order, numbered one after another; the retry is the original"
        );
    }
    // Stored: every room's log has no gap and each message once.
    let db = app::db::Db::connect(&app.database_url).await.unwrap();
    let rooms: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT r.last_seq, COUNT(e.seq), \
                CAST(SUM(CASE WHEN e.kind = 'chat' THEN 1 ELSE 0 END) AS BIGINT) \
         FROM rooms r JOIN room_events e ON e.room_id = r.id GROUP BY r.id, r.last_seq",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rooms.len(), 8);
    for (last_seq, events, chats) in rooms {
        assert_eq!(last_seq, events, "no gap");
        assert_eq!(chats, 3);
    }
}

#[tokio::test]
async fn malformed_frames_get_errors_and_hurt_no_one_else() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    for (frame, why) in [
        ("garbage".to_owned(), "malformed"),
        (
            json!({"t": "seek", "position": -5}).to_string(),
            "out_of_range",
        ),
        (
            json!({"t": "seek", "position": 1e300}).to_string(),
            "out_of_range",
        ),
        (
            json!({"t": "rate", "rate": 100}).to_string(),
            "out_of_range",
        ),
        (
            json!({"t": "chat", "id": "x", "text": "", "position": 0}).to_string(),
            "chat_length",
        ),
        (
            json!({"t": "chat", "id": "x", "text": "я".repeat(2001), "position": 0}).to_string(),
            "chat_length",
        ),
        (
            json!({"t": "react", "emoji": "💩", "position": 0}).to_string(),
            "unknown_reaction",
        ),
        (
            json!({"t": "hello", "v": 1, "last_seq": 0}).to_string(),
            "malformed",
        ),
    ] {
        wa.send(Message::Text(frame.clone().into())).await.unwrap();
        let answer = next_of(&mut wa, "error").await;
        assert_eq!(answer["error"], why, "{frame}");
    }
    // An oversized frame closes only that socket.
    let (mut wc, _) = connect(&app, &code, &a, 0).await;
    let _ = wc.send(Message::Text("x".repeat(64 * 1024).into())).await;
    // Boris still talks to Anna.
    send(
        &mut wb,
        json!({"t": "chat", "id": "b1", "text": "still here", "position": 0}),
    )
    .await;
    loop {
        let e = next_of(&mut wa, "event").await;
        if e["kind"] == "chat" {
            assert_eq!(e["text"], "still here");
            break;
        }
    }
}

#[tokio::test]
async fn locked_controls_leave_playback_to_the_owner() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    json_of(
        &app,
        &a.client,
        "rooms/lock",
        &[("code", &code), ("locked", "true")],
    )
    .await;
    let (mut wa, welcome) = connect(&app, &code, &a, 0).await;
    assert_eq!(welcome["snapshot"]["controls_locked"], true);
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    send(&mut wb, json!({"t": "pause", "position": 10})).await;
    assert_eq!(next_of(&mut wb, "error").await["error"], "controls_locked");
    send(
        &mut wb,
        json!({"t": "chat", "id": "q", "text": "can I?", "position": 0}),
    )
    .await;
    send(&mut wa, json!({"t": "play", "position": 0})).await;
    let mut kinds = Vec::new();
    let mut playback = None;
    while kinds.len() < 2 || playback.is_none() {
        let msg = next(&mut wb).await;
        match msg["t"].as_str() {
            Some("event") if msg["kind"] != "join" => {
                kinds.push(msg["kind"].as_str().unwrap().to_owned())
            }
            Some("playback") => playback = Some(msg),
            _ => {}
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["chat", "play"]);
    assert_eq!(playback.unwrap()["playback"]["paused"], false);

    // Once the owner ends the room it is read-only: a chat message is refused, and says why.
    json_of(&app, &a.client, "rooms/end", &[("code", &code)]).await;
    send(
        &mut wb,
        json!({"t": "chat", "id": "late", "text": "anyone?", "position": 0}),
    )
    .await;
    assert_eq!(next_of(&mut wb, "error").await["error"], "room_ended");
}

#[tokio::test]
async fn a_removed_participant_is_disconnected_and_hears_nothing_more() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    let boris = app.me_as(&b.client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of(
        &app,
        &a.client,
        "rooms/remove",
        &[("code", &code), ("user_id", &boris)],
    )
    .await;
    let removed = next_of(&mut wb, "event").await;
    let removed = if removed["kind"] == "remove" {
        removed
    } else {
        next_of(&mut wb, "event").await
    };
    assert_eq!(removed["kind"], "remove");
    assert_eq!(removed["user"], boris.as_str());
    // The server closes Boris's socket right after telling him.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match wb.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the removed participant's socket is closed");
    send(
        &mut wa,
        json!({"t": "chat", "id": "after", "text": "secret", "position": 0}),
    )
    .await;
    assert_eq!(
        status_of(dial(&app, &code, Some(&b.cookie), Some(&app.address)).await),
        403,
        "and cannot come back"
    );
}

#[tokio::test]
async fn chat_is_rate_limited_per_person_with_a_clear_answer() {
    let app = spawn_app().await;
    let a = person(&app, "anna").await;
    let code = room(&app, &a, &[]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    for i in 0..12 {
        send(
            &mut wa,
            json!({"t": "chat", "id": format!("r{i}"), "text": "spam", "position": 0}),
        )
        .await;
    }
    let mut limited = 0;
    let mut written = 0;
    while limited + written < 12 {
        let msg = next(&mut wa).await;
        match msg["t"].as_str() {
            Some("error") => {
                assert_eq!(msg["error"], "rate_limited");
                limited += 1;
            }
            Some("event") if msg["kind"] == "chat" => written += 1,
            _ => {}
        }
    }
    assert!(
        written >= 8 && limited >= 1,
        "written {written}, limited {limited}"
    );
    // The ping answers with the server's clock all the same.
    send(&mut wa, json!({"t": "ping", "t0": 123.5})).await;
    let pong = next_of(&mut wa, "pong").await;
    assert_eq!(pong["t0"], 123.5);
    assert!(pong["t2"].as_f64().unwrap() >= pong["t1"].as_f64().unwrap());
}

#[tokio::test]
async fn the_room_waits_for_a_stalled_player_but_not_forever() {
    let app = crate::common::spawn_app_with(|c| c.buffer_wait_seconds = 1).await;
    let a = person(&app, "anna").await;
    let b = person(&app, "boris").await;
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    send(&mut wa, json!({"t": "play", "position": 5000})).await;
    assert_eq!(
        next_of(&mut wb, "playback").await["playback"]["paused"],
        false
    );
    assert_eq!(
        next_of(&mut wa, "playback").await["playback"]["paused"],
        false
    );

    // Boris's video stalls: everyone holds where the film is, waiting for him.
    send(&mut wb, json!({"t": "buffering", "stalled": true})).await;
    let hold = next_of(&mut wa, "event").await;
    assert_eq!(hold["kind"], "hold");
    assert_eq!(hold["name"], "boris");
    let held = next_of(&mut wa, "playback").await["playback"].clone();
    assert_eq!(held["paused"], true);
    assert!(held["position"].as_f64().unwrap() >= 5000.0);
    let presence = next_of(&mut wa, "presence").await;
    assert_eq!(presence["holding"], true);
    // He can play again: everyone goes on from the same frame.
    send(&mut wb, json!({"t": "buffering", "stalled": false})).await;
    let resume = next_of(&mut wa, "event").await;
    assert_eq!(resume["kind"], "resume");
    assert_eq!(resume["timed_out"], false);
    let playing = next_of(&mut wa, "playback").await["playback"].clone();
    assert_eq!(playing["paused"], false);
    assert_eq!(playing["position"], held["position"]);

    // He stalls for longer than the room waits (1 s here): the others go on without him...
    send(&mut wb, json!({"t": "buffering", "stalled": true})).await;
    assert_eq!(next_of(&mut wa, "event").await["kind"], "hold");
    let resume = next_of(&mut wa, "event").await;
    assert_eq!(resume["kind"], "resume");
    assert_eq!(resume["timed_out"], true);
    // ...and are not held for him again while he is still catching up.
    send(&mut wb, json!({"t": "buffering", "stalled": true})).await;
    send(
        &mut wa,
        json!({"t": "chat", "id": "m1", "text": "go on", "position": 0}),
    )
    .await;
    assert_eq!(next_of(&mut wa, "event").await["kind"], "chat");

    // Once he has caught up, a new stall is waited for again — until someone decides: a pause
    // ends the wait, and no resume follows it.
    send(&mut wb, json!({"t": "buffering", "stalled": false})).await;
    send(&mut wb, json!({"t": "buffering", "stalled": true})).await;
    assert_eq!(next_of(&mut wa, "event").await["kind"], "hold");
    send(&mut wa, json!({"t": "pause", "position": 9000})).await;
    assert_eq!(next_of(&mut wa, "event").await["kind"], "pause");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send(
        &mut wa,
        json!({"t": "chat", "id": "m2", "text": "still paused", "position": 9000}),
    )
    .await;
    assert_eq!(next_of(&mut wa, "event").await["kind"], "chat");
    let (_, welcome) = connect(&app, &code, &b, 0).await;
    assert_eq!(welcome["snapshot"]["playback"]["paused"], true);
    assert_eq!(welcome["snapshot"]["playback"]["position"], 9000.0);
    assert_eq!(welcome["snapshot"]["holding"], false);
}

#[tokio::test]
async fn a_flood_of_seeks_is_refused_and_reaches_the_others_only_in_part() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    for i in 0..100 {
        send(&mut wa, json!({"t": "seek", "position": 1000 * (i + 1)})).await;
    }
    // Frames are handled in order: when the pong comes, every seek has been answered.
    send(&mut wa, json!({"t": "ping", "t0": 1.0})).await;
    let mut refused = 0;
    loop {
        let msg = next(&mut wa).await;
        match msg["t"].as_str() {
            Some("pong") => break,
            Some("error") if msg["error"] == "rate_limited" => refused += 1,
            _ => {}
        }
    }
    // A burst of 12, then 3 a second while the hundred are handled.
    assert!(
        refused >= 70,
        "only {refused} of 100 seeks at once were refused"
    );
    // Boris heard only the seeks that were let through.
    send(
        &mut wa,
        json!({"t": "chat", "id": "end", "text": "done", "position": 0}),
    )
    .await;
    let mut seeks = 0;
    loop {
        let msg = next_of(&mut wb, "event").await;
        match msg["kind"].as_str() {
            Some("seek") => seeks += 1,
            Some("chat") => break,
            _ => {}
        }
    }
    assert_eq!(
        seeks,
        100 - refused,
        "every seek let through, and no other, reached Boris"
    );
    assert!(seeks <= 30, "{seeks} seeks reached Boris");
}

#[tokio::test]
async fn in_a_locked_room_only_the_owners_stall_holds_it() {
    let app = spawn_app().await;
    let (a, b) = (person(&app, "anna").await, person(&app, "boris").await);
    let code = room(&app, &a, &[&b]).await;
    json_of(
        &app,
        &a.client,
        "rooms/lock",
        &[("code", &code), ("locked", "true")],
    )
    .await;
    let (mut wa, _) = connect(&app, &code, &a, 0).await;
    let (mut wb, _) = connect(&app, &code, &b, 0).await;
    send(&mut wa, json!({"t": "play", "position": 0})).await;
    assert_eq!(next_event_but_joins(&mut wa).await["kind"], "play");
    // Boris may not pause this room, so his (perhaps fake) stall does not either.
    send(&mut wb, json!({"t": "buffering", "stalled": true})).await;
    send(&mut wb, json!({"t": "ping", "t0": 1.0})).await;
    next_of(&mut wb, "pong").await;
    send(
        &mut wa,
        json!({"t": "chat", "id": "c1", "text": "still on?", "position": 0}),
    )
    .await;
    assert_eq!(next_event_but_joins(&mut wa).await["kind"], "chat");
    // The owner's own stall does.
    send(&mut wa, json!({"t": "buffering", "stalled": true})).await;
    assert_eq!(next_event_but_joins(&mut wa).await["kind"], "hold");
}

/// The next event that is not someone joining.
async fn next_event_but_joins(ws: &mut Ws) -> Value {
    loop {
        let event = next_of(ws, "event").await;
        if event["kind"] != "join" {
            return event;
        }
    }
}

/// A browser's publish offer (a microphone), made by str0m without any networking.
fn microphone_offer() -> String {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::Rtc::new(std::time::Instant::now());
    let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    rtc.add_local_candidate(str0m::Candidate::host(addr, "udp").unwrap());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, _pending) = api.apply().expect("an offer");
    offer.to_sdp_string()
}

async fn stored_events(app: &TestApp) -> i64 {
    let db = app::db::Db::connect(&app.database_url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM room_events")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn call_messages_ride_the_socket_but_are_never_stored_or_replayed() {
    let app = spawn_app().await;
    let (vasya, petya) = (person(&app, "vasya").await, person(&app, "petya").await);
    let code = room(&app, &vasya, &[&petya]).await;
    let (mut a, _) = connect(&app, &code, &vasya, 0).await;
    let (mut b, _) = connect(&app, &code, &petya, 0).await;
    let before = stored_events(&app).await;

    // Not in the call yet: call messages are refused with why.
    send(
        &mut b,
        json!({"t": "call_mute", "video": false, "muted": true}),
    )
    .await;
    assert_eq!(next_of(&mut b, "error").await["error"], "not_in_call");

    // Vasya joins: a seat, then the media server's offer of the others' tracks.
    send(&mut a, json!({"t": "call_join"})).await;
    let joined = next_of(&mut a, "call_joined").await;
    assert!(joined["peer"].as_str().unwrap().starts_with(&vasya.id));
    let offer = loop {
        let signal = next_of(&mut a, "call_signal").await;
        let signal: Value = serde_json::from_str(signal["signal"].as_str().unwrap()).unwrap();
        if signal["type"] == "subscribe_offer" {
            break signal;
        }
    };
    assert!(offer["sdp"].as_str().unwrap().starts_with("v=0"));

    // His microphone's offer is answered by the media server.
    send(
        &mut a,
        json!({"t": "call_publish", "sdp": microphone_offer()}),
    )
    .await;
    let answer = next_of(&mut a, "call_answer").await;
    let sdp = answer["sdp"].as_str().unwrap();
    assert!(sdp.starts_with("v=0") && sdp.contains("m=audio"), "{sdp}");

    // A malformed offer gets an error; the socket and the call go on.
    send(&mut a, json!({"t": "call_publish", "sdp": "v=0 garbage"})).await;
    let refused = next_of(&mut a, "call_error").await;
    assert!(!refused["message"].as_str().unwrap().is_empty());
    send(
        &mut a,
        json!({"t": "call_mute", "video": false, "muted": true}),
    )
    .await;
    send(&mut a, json!({"t": "ping", "t0": 1.0})).await;
    next_of(&mut a, "pong").await;

    // None of it became a room event: nothing stored, nothing in a latecomer's welcome.
    assert_eq!(stored_events(&app).await, before);
    let (_late, welcome) = connect(&app, &code, &petya, 0).await;
    assert!(
        !welcome.to_string().contains("call_"),
        "the welcome replays no call message: {welcome}"
    );

    send(&mut a, json!({"t": "call_leave"})).await;
    next_of(&mut a, "call_left").await;
    send(
        &mut a,
        json!({"t": "call_mute", "video": true, "muted": true}),
    )
    .await;
    assert_eq!(next_of(&mut a, "error").await["error"], "not_in_call");
}

#[tokio::test]
async fn a_node_without_a_media_server_says_calls_are_off() {
    let app = crate::common::spawn_app_with(|c| c.no_calls = true).await;
    let vasya = person(&app, "vasya").await;
    let code = room(&app, &vasya, &[]).await;
    let (mut a, _) = connect(&app, &code, &vasya, 0).await;
    send(&mut a, json!({"t": "call_join"})).await;
    assert_eq!(next_of(&mut a, "error").await["error"], "calls_off");
}

#[tokio::test]
async fn a_seat_comes_with_its_own_turn_credentials_only_where_turn_is_set() {
    // No TURN server: the seat is joined with nothing to relay through.
    let plain = spawn_app().await;
    let vasya = person(&plain, "vasya").await;
    let code = room(&plain, &vasya, &[]).await;
    let (mut a, _) = connect(&plain, &code, &vasya, 0).await;
    send(&mut a, json!({"t": "call_join"})).await;
    let joined = next_of(&mut a, "call_joined").await;
    assert!(
        joined.get("ice").is_none() && joined.get("relay_only").is_none(),
        "{joined}"
    );

    let app = crate::common::spawn_app_with(|c| {
        c.turn_url = vec!["turn:turn.example.org:3478".into()];
        c.turn_secret = Some("the-secret".into());
        c.turn_relay_only = true;
    })
    .await;
    let vasya = person(&app, "vasya").await;
    let code = room(&app, &vasya, &[]).await;
    let (mut a, _) = connect(&app, &code, &vasya, 0).await;
    send(&mut a, json!({"t": "call_join"})).await;
    let joined = next_of(&mut a, "call_joined").await;
    let peer = joined["peer"].as_str().unwrap();
    assert_eq!(joined["relay_only"], true);
    let ice = &joined["ice"][0];
    assert_eq!(ice["urls"], json!(["turn:turn.example.org:3478"]));
    // coturn's scheme: "<expiry>:<name>", an hour from now, signed with the shared secret.
    let username = ice["username"].as_str().unwrap();
    let (expiry, name) = username.split_once(':').unwrap();
    assert_eq!(name, peer);
    let expiry: u64 = expiry.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expiry.abs_diff(now + 3600) <= 5,
        "expires at {expiry}, now {now}"
    );
    let (_, expected) = kino_rtc::turn_credentials("the-secret", peer, expiry - 3600, 3600);
    assert_eq!(ice["credential"], expected);
    // Another seat (another tab) gets credentials of its own.
    let (mut b, _) = connect(&app, &code, &vasya, 0).await;
    send(&mut b, json!({"t": "call_join"})).await;
    let other = next_of(&mut b, "call_joined").await;
    assert_ne!(other["ice"][0]["username"], ice["username"]);
}

async fn call_home(app: &TestApp, code: &str) -> Option<(String, String, i64)> {
    let db = app::db::Db::connect(&app.database_url).await.unwrap();
    sqlx::query_as(
        "SELECT c.node, c.media_addr, c.people FROM room_calls c
         JOIN rooms r ON r.id = c.room_id WHERE r.code = $1",
    )
    .bind(code)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

/// Polls until the room's recorded call is `expected` (the row is written as seats change).
async fn call_home_becomes(
    app: &TestApp,
    code: &str,
    expected: impl Fn(&Option<(String, String, i64)>) -> bool,
) -> Option<(String, String, i64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let home = call_home(app, code).await;
        if expected(&home) || std::time::Instant::now() > deadline {
            return home;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_node_holding_a_rooms_call_is_recorded_until_the_last_seat_goes() {
    let app = spawn_app().await;
    let (vasya, petya) = (person(&app, "vasya").await, person(&app, "petya").await);
    let code = room(&app, &vasya, &[&petya]).await;
    assert_eq!(call_home(&app, &code).await, None);

    // A node that stopped mid-call left its row behind, long unrefreshed.
    let db = app::db::Db::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO room_calls (room_id, node, media_addr, people, started_at, seen_at)
         SELECT id, 'a-stopped-node', '10.0.0.9:7882', 4, 1, 1 FROM rooms WHERE code = $1",
    )
    .bind(&code)
    .execute(&db.pool)
    .await
    .unwrap();

    let (mut a, _) = connect(&app, &code, &vasya, 0).await;
    let (mut b, _) = connect(&app, &code, &petya, 0).await;
    send(&mut a, json!({"t": "call_join"})).await;
    next_of(&mut a, "call_joined").await;
    let home = call_home(&app, &code).await.expect("a row");
    assert_ne!(home.0, "a-stopped-node", "the stale row was taken over");
    assert!(
        home.1.starts_with("127.0.0.1:"),
        "this node's media address: {}",
        home.1
    );
    assert_eq!(home.2, 1);

    send(&mut b, json!({"t": "call_join"})).await;
    next_of(&mut b, "call_joined").await;
    let both = call_home(&app, &code).await;
    assert_eq!(both, Some((home.0.clone(), home.1.clone(), 2)));

    // Vasya leaves: the call goes on with Petya; Petya's socket closes: the call is over.
    send(&mut a, json!({"t": "call_leave"})).await;
    next_of(&mut a, "call_left").await;
    assert!(call_home(&app, &code).await.is_some());
    drop(b);
    let gone = call_home_becomes(&app, &code, Option::is_none).await;
    assert_eq!(gone, None, "the row of a call that is over is deleted");

    // Another node's fresh row is left alone: the call is there, not here.
    let now = app::dates::now_ms();
    sqlx::query(
        "INSERT INTO room_calls (room_id, node, media_addr, people, started_at, seen_at)
         SELECT id, 'another-node', '10.0.0.8:7882', 3, $2, $2 FROM rooms WHERE code = $1",
    )
    .bind(&code)
    .bind(now)
    .execute(&db.pool)
    .await
    .unwrap();
    send(&mut a, json!({"t": "call_join"})).await;
    // (The seat's row is written before the seat is announced.)
    next_of(&mut a, "call_joined").await;
    let kept = call_home(&app, &code).await.expect("a row");
    assert_eq!(kept.0, "another-node");
}
