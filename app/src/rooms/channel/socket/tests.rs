//! The connection loop driven over an in-memory pair instead of a network, on a scratch SQLite
//! database: the same code the websocket runs, message by message.

use super::*;
use crate::config::AppConfig;
use crate::db::Db;
use futures::channel::mpsc;
use std::convert::Infallible;

/// A directory for one test's database, removed afterwards.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A room with one member, Vasya, in a fresh database.
async fn room_with_vasya() -> (Parts, User, String, Scratch) {
    let dir = std::env::temp_dir().join(format!("kino-channel-{}", uuid::Uuid::new_v4()));
    let scratch = Scratch(dir.clone());
    let db = Db::connect(&format!("sqlite://{}", dir.join("kino.db").display()))
        .await
        .expect("a scratch database");
    db.migrate().await.expect("migrations");
    for statement in [
        "INSERT INTO users (id, username, display_name, password_hash, created_at) \
         VALUES ('u1', 'vasya', 'Vasya', '-', 0)",
        "INSERT INTO films (id, title_en, title_ru, original_title, search_text, year, genres, \
         countries, director, description_en, description_ru, duration_secs, poster_color, \
         created_at) VALUES ('metropolis', 'Metropolis', 'Метрополис', 'Metropolis', \
         'metropolis', 1927, ',drama,', 'DE', 'Fritz Lang', '', '', 8880, '#333', 0)",
        "INSERT INTO rooms (id, code, film_id, owner_id, name, created_at) \
         VALUES ('r1', 'k7m2p9x4ab', 'metropolis', 'u1', 'Friday', 0)",
        "INSERT INTO room_members (room_id, user_id, invited_at, joined_at) \
         VALUES ('r1', 'u1', 0, 0)",
    ] {
        sqlx::query(statement)
            .execute(&db.pool)
            .await
            .expect(statement);
    }
    let config = AppConfig::new("http://kino.test");
    let user = User {
        id: "u1".into(),
        username: "vasya".into(),
        display_name: "Vasya".into(),
        is_admin: false,
    };
    (
        Parts {
            db,
            hub: Arc::default(),
            config: Arc::new(config),
            sign_outs: Default::default(),
            calls: None,
        },
        user,
        "r1".into(),
        scratch,
    )
}

type ToServer = mpsc::UnboundedSender<Result<Message, Infallible>>;
type FromServer = mpsc::UnboundedReceiver<Message>;

fn say(to_server: &ToServer, json: &str) {
    to_server
        .unbounded_send(Ok(Message::Text(json.to_owned().into())))
        .expect("the connection reads");
}

async fn next(from_server: &mut FromServer) -> ServerMsg {
    let msg = tokio::time::timeout(Duration::from_secs(5), from_server.next())
        .await
        .expect("an answer in time")
        .expect("the connection is open");
    match msg {
        Message::Text(text) => serde_json::from_str(text.as_str()).expect("a server message"),
        other => panic!("not text: {other:?}"),
    }
}

/// The next event (skipping presence and playback), and the next error.
async fn next_event(from_server: &mut FromServer) -> EventKind {
    loop {
        match next(from_server).await {
            ServerMsg::Event(event) => return event.kind,
            ServerMsg::Error { error } => panic!("refused: {error:?}"),
            _ => {}
        }
    }
}

async fn next_error(from_server: &mut FromServer) -> ProtoError {
    loop {
        if let ServerMsg::Error { error } = next(from_server).await {
            return error;
        }
    }
}

#[tokio::test]
async fn a_connection_without_a_network_plays_holds_chats_and_says_when_the_database_failed() {
    let (app, user, room_id, _scratch) = room_with_vasya().await;
    let (to_server, from_client) = mpsc::unbounded();
    let (to_client, mut from_server) = mpsc::unbounded();
    let served = tokio::spawn(Connection::run(
        app.clone(),
        user,
        Some("s1".into()),
        room_id,
        to_client,
        from_client,
    ));

    say(&to_server, r#"{"t":"hello","v":1,"last_seq":0}"#);
    let ServerMsg::Welcome {
        snapshot, events, ..
    } = next(&mut from_server).await
    else {
        panic!("the first answer is the welcome");
    };
    assert_eq!(snapshot.me, "u1");
    assert_eq!(events.last().map(|e| &e.kind), Some(&EventKind::Join));

    say(&to_server, r#"{"t":"play","position":1000}"#);
    assert_eq!(
        next_event(&mut from_server).await,
        EventKind::Play { position: 1000.0 }
    );

    // A stall while playing holds the room; being able to play again resumes it.
    say(&to_server, r#"{"t":"buffering","stalled":true}"#);
    assert!(matches!(
        next_event(&mut from_server).await,
        EventKind::Hold { .. }
    ));
    say(&to_server, r#"{"t":"buffering","stalled":false}"#);
    assert!(matches!(
        next_event(&mut from_server).await,
        EventKind::Resume {
            timed_out: false,
            ..
        }
    ));

    say(
        &to_server,
        r#"{"t":"chat","id":"c1","text":" hi ","position":0}"#,
    );
    let EventKind::Chat { text, .. } = next_event(&mut from_server).await else {
        panic!("the chat message comes back as an event");
    };
    assert_eq!(text, "hi");

    to_server
        .unbounded_send(Ok(Message::Binary(vec![1, 2, 3].into())))
        .expect("the connection reads");
    assert_eq!(next_error(&mut from_server).await, ProtoError::Malformed);

    // The database goes away: a message that needs it is answered "try again", not "malformed".
    app.db.pool.close().await;
    say(
        &to_server,
        r#"{"t":"chat","id":"c2","text":"still there?","position":0}"#,
    );
    assert_eq!(next_error(&mut from_server).await, ProtoError::Unavailable);
    say(&to_server, r#"{"t":"history","before_seq":5}"#);
    assert_eq!(next_error(&mut from_server).await, ProtoError::Unavailable);

    drop(to_server);
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the connection ends when the client's stream does")
        .expect("no panic");
}
