//! One participant's socket, once `admission` has let them in: `Connection` serves them — the
//! first `hello`, the welcome, and a loop that answers their messages, forwards the room's
//! broadcast (refilling from the database whatever it missed), and closes when their session
//! ends or they are removed.
//!
//! The loop is generic over any sink of messages and stream of incoming ones, so it runs the
//! same over an in-memory pair as over axum's websocket (a test below does that).

use super::call_home;
use super::hub::{Drain, Outgoing, RoomHub};
use super::log::{
    events_page, note_active, room_row, write_control, write_event, write_hold, write_queue,
    write_resume, Bound, LogError, Written,
};
use super::queue::{self, QueueChange};
use super::Parts;
use crate::accounts::session::SignOut;
use crate::accounts::User;
use crate::dates::now_ms;
use crate::rooms::protocol::{
    ClientMsg, EventKind, IceServer, ProtoError, ServerMsg, Snapshot, PROTOCOL_VERSION,
};
use axum::extract::ws::{CloseFrame, Message};
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The latest page of events a (re)connecting client gets at most.
const PAGE: i64 = 200;
/// A participant whose last socket closed counts as gone after this (a reload is not a leave).
const LEAVE_GRACE: Duration = Duration::from_secs(5);
/// A stopping node's sockets close over this long.
const DRAIN_SPREAD: Duration = Duration::from_secs(2);
/// The first message must come this soon.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection is over: the socket closed, failed, or was closed on purpose.
#[derive(Debug)]
struct Done;

/// One step of the loop: `Err(Done)` ends it.
type Step = Result<(), Done>;

pub(super) struct Connection<S> {
    app: Parts,
    user: User,
    session_id: Option<String>,
    room_id: String,
    room: Arc<RoomHub>,
    sink: S,
    /// The last event sequence this socket has been sent.
    sent: i64,
    /// This socket's name in the room's call, while it is in it.
    call_peer: Option<String>,
    /// A seat in the call just taken, for the loop to listen to.
    joined_call: Option<kino_rtc::Participant>,
}

impl<S: Sink<Message> + Unpin> Connection<S> {
    /// Serves one socket until it closes: `sink` takes what the server says, `stream` brings
    /// what the client says (an error there is a broken or oversized frame).
    pub(super) async fn run<R, E>(
        app: Parts,
        user: User,
        session_id: Option<String>,
        room_id: String,
        sink: S,
        mut stream: R,
    ) where
        R: Stream<Item = Result<Message, E>> + Unpin,
    {
        // Subscribe before reading the backlog, so nothing falls between the two.
        let (room, mut rx) = app.hub.join(&room_id);
        let mut signed_out = app.sign_outs.subscribe();
        let mut drain = app.hub.drain_signal();
        let mut conn = Connection {
            app,
            user,
            session_id,
            room_id,
            room,
            sink,
            sent: 0,
            call_peer: None,
            joined_call: None,
        };
        let Some(last_seq) = conn.hello(&mut stream).await else {
            return;
        };
        conn.enter().await;
        // What the media server says to this socket's seat in the call, while it has one.
        let mut call: Option<kino_rtc::Participant> = None;
        if conn.greet(last_seq).await.is_ok() {
            loop {
                let step = tokio::select! {
                    incoming = stream.next() => conn.on_incoming(incoming).await,
                    out = rx.recv() => conn.on_broadcast(out).await,
                    ended = signed_out.recv() => conn.on_sign_out(ended).await,
                    signal = next_call_signal(&mut call) => conn.on_call_signal(signal).await,
                    () = closing(&mut drain) => conn.on_drain().await,
                };
                if let Some(joined) = conn.joined_call.take() {
                    call = Some(joined);
                }
                if conn.call_peer.is_none() {
                    call = None;
                }
                if step.is_err() {
                    break;
                }
            }
        }
        conn.leave_call().await;
        conn.leave();
    }

    /// The first message must be a `hello`, and soon: the last sequence the client saw. Anything
    /// else is answered with why (if it can be) and ends the connection.
    async fn hello<R, E>(&mut self, stream: &mut R) -> Option<i64>
    where
        R: Stream<Item = Result<Message, E>> + Unpin,
    {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await
        else {
            return None;
        };
        let why = match ClientMsg::parse(text.as_str()) {
            Ok(ClientMsg::Hello { last_seq, .. }) => return Some(last_seq),
            Ok(_) => ProtoError::Malformed,
            Err(e) => e,
        };
        let _ = self.send(&error(why)).await;
        None
    }

    /// Sends the welcome; a room that cannot be read ends the connection (the client comes back).
    async fn greet(&mut self, last_seq: i64) -> Step {
        match self.welcome(last_seq).await {
            Ok(msg) => self.send(&msg).await,
            Err(why) => {
                let _ = self.send(&error(why)).await;
                Err(Done)
            }
        }
    }

    async fn welcome(&mut self, last_seq: i64) -> Result<ServerMsg, ProtoError> {
        let db = &self.app.db;
        let row = room_row(db, &self.room_id)
            .await
            .map_err(|e| unavailable(&e, "welcome failed"))?
            // Deleted since the socket opened.
            .ok_or(ProtoError::RoomEnded)?;
        let after = if last_seq > row.last_seq { 0 } else { last_seq };
        let (events, more) = events_page(db, &self.room_id, Bound::After(after), PAGE)
            .await
            .map_err(|e| unavailable(&e, "welcome failed"))?;
        let queue = queue::state(db, &self.room_id)
            .await
            .map_err(|e| unavailable(&e, "welcome failed"))?;
        self.sent = events.last().map_or(after.max(0), |e| e.seq);
        self.room.greeted(row.last_seq);
        Ok(ServerMsg::Welcome {
            v: PROTOCOL_VERSION,
            snapshot: Box::new(Snapshot {
                me: self.user.id.clone(),
                owner: row.owner_id,
                playback: row.playback,
                controls_locked: row.controls_locked,
                ended: row.ended,
                present: self.room.present(),
                holding: self.room.holding(),
                seq: row.last_seq,
                queue,
            }),
            events,
            more,
        })
    }

    /// A frame from the client: a text message is handled and answered.
    async fn on_incoming<E>(&mut self, incoming: Option<Result<Message, E>>) -> Step {
        let text = match incoming {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => return self.send(&error(ProtoError::Malformed)).await,
            Some(Ok(Message::Close(_))) | None => return Err(Done),
            Some(Ok(_)) => return Ok(()),
            // Oversized frames and protocol errors end up here.
            Some(Err(_)) => {
                let _ = self.send(&error(ProtoError::TooLarge)).await;
                return Err(Done);
            }
        };
        for reply in self.handle(text.as_str()).await {
            self.send(&reply).await?;
        }
        Ok(())
    }

    /// A message for every socket of the room: sent on in sequence, the gaps filled first.
    async fn on_broadcast(&mut self, out: Result<Arc<Outgoing>, RecvError>) -> Step {
        let out = match out {
            Ok(out) => out,
            Err(RecvError::Lagged(_)) => return self.resend_from_db().await,
            Err(RecvError::Closed) => return Err(Done),
        };
        if out.seq != 0 && out.seq <= self.sent {
            return Ok(());
        }
        if out.seq > self.sent + 1 {
            // A gap (another writer's event not broadcast yet): fill it from the database.
            self.resend_from_db().await?;
            if out.seq <= self.sent {
                return Ok(());
            }
        }
        self.send_text(out.json.clone()).await?;
        if out.seq != 0 {
            self.sent = out.seq;
        }
        // Removed from the room: they see that they were, and nothing after it.
        if out.removes.as_deref() == Some(self.user.id.as_str()) {
            return self.close().await;
        }
        Ok(())
    }

    /// A session ended somewhere: if it was this socket's, it closes.
    async fn on_sign_out(&mut self, ended: Result<Arc<SignOut>, RecvError>) -> Step {
        match ended {
            Ok(which) if which.ends(&self.user.id, self.session_id.as_deref()) => {
                self.close().await
            }
            Ok(_) => Ok(()),
            // Missed some: the session may be among them; the database knows.
            Err(RecvError::Lagged(_)) if !self.session_still_valid().await => self.close().await,
            Err(RecvError::Lagged(_)) => Ok(()),
            Err(RecvError::Closed) => Err(Done),
        }
    }

    /// Is the session this socket was opened in still signed in as its user?
    async fn session_still_valid(&self) -> bool {
        let Some(id) = self.session_id.as_deref() else {
            return false;
        };
        let data = sqlx::query_scalar::<_, String>(
            "SELECT data FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.app.db.pool)
        .await;
        match data {
            Ok(Some(data)) => serde_json::from_str::<serde_json::Value>(&data)
                .is_ok_and(|data| data["user_id"] == self.user.id.as_str()),
            Ok(None) => false,
            // A session that cannot be read is not signed in.
            Err(sqlx::Error::ColumnDecode { .. }) => false,
            // The database is unreachable: keep the socket rather than guess.
            Err(_) => true,
        }
    }

    /// Notes this socket as present; the person's first socket writes a Join.
    async fn enter(&mut self) {
        let first_here = self.room.enter(&self.user.id, &self.user.display_name);
        // A reload that landed here while their old socket's node still counts them: no Join.
        let elsewhere = first_here
            && self
                .app
                .hub
                .in_room_elsewhere(&self.room_id, &self.user.id)
                .await;
        if first_here && !elsewhere {
            // An ended room records no more joins; anything else is worth a line.
            let join = write_event(
                &self.app,
                &self.room_id,
                Some(&self.user),
                EventKind::Join,
                None,
                None,
            );
            if let Err(LogError::Db(e)) = join.await {
                tracing::warn!(error = %e, "room channel: join not written");
            }
        }
        self.broadcast_presence();
        self.touch(true).await;
    }

    /// This socket is gone; when the person's last socket has been gone for a moment, a Leave.
    fn leave(&self) {
        let last = self.room.leave(&self.user.id);
        self.broadcast_presence();
        if last {
            let app = self.app.clone();
            let user = self.user.clone();
            let room_id = self.room_id.clone();
            let room = self.room.clone();
            tokio::spawn(async move {
                tokio::time::sleep(LEAVE_GRACE).await;
                if room.forget(&user.id) {
                    gone(&app, &user, &room_id, &room).await;
                }
            });
        }
    }

    fn broadcast_presence(&self) {
        self.app.hub.presence_changed(&self.room_id, &self.room);
    }

    /// Notes that someone is in the room, at most once a minute per room (or now, if `force`).
    async fn touch(&self, force: bool) {
        let now = now_ms();
        if self.room.touch_due(now, force) {
            note_active(&self.app.db, &self.room_id, now).await;
        }
    }

    async fn resend_from_db(&mut self) -> Step {
        loop {
            let page = events_page(&self.app.db, &self.room_id, Bound::After(self.sent), PAGE);
            let (events, more) = match page.await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "room channel: resend failed");
                    return Ok(());
                }
            };
            for event in events {
                self.sent = event.seq;
                self.send(&ServerMsg::Event(event)).await?;
            }
            if !more {
                break;
            }
        }
        // Whatever playback state those events led to.
        if let Ok(Some(row)) = room_row(&self.app.db, &self.room_id).await {
            let msg = ServerMsg::Playback {
                playback: row.playback,
                seq: row.last_seq,
            };
            self.send(&msg).await?;
        }
        Ok(())
    }

    /// The answers to one message from the client.
    async fn handle(&mut self, text: &str) -> Vec<ServerMsg> {
        let t1 = now_ms() as f64;
        let msg = match ClientMsg::parse(text) {
            Ok(msg) => msg,
            Err(e) => return vec![error(e)],
        };
        self.touch(false).await;
        let result = match msg {
            ClientMsg::Hello { .. } => Err(ProtoError::Malformed),
            ClientMsg::Ping { t0 } => Ok(vec![ServerMsg::Pong {
                t0,
                t1,
                t2: now_ms() as f64,
            }]),
            ClientMsg::History { before_seq } => self.history(before_seq).await,
            ClientMsg::Buffering { stalled } => self.buffering(stalled).await,
            ClientMsg::Chat { id, text, position } => {
                let kind = EventKind::Chat {
                    id: id.clone(),
                    text: text.trim().to_owned(),
                    position,
                };
                self.say(kind, Some(&id)).await
            }
            ClientMsg::React { emoji, position } => {
                self.say(EventKind::React { emoji, position }, None).await
            }
            ClientMsg::CallJoin => self.call_join().await,
            ClientMsg::CallLeave => {
                self.leave_call().await;
                Ok(vec![ServerMsg::CallLeft])
            }
            call @ (ClientMsg::CallPublish { .. }
            | ClientMsg::CallSubscribeAnswer { .. }
            | ClientMsg::CallCandidate { .. }
            | ClientMsg::CallMute { .. }) => self.call_message(call).await,
            choice if choice.is_queue() => self.choose(choice).await,
            control => self.control(control).await,
        };
        result.unwrap_or_else(|e| vec![error(e)])
    }

    /// A call message of a socket in the call, passed to the media server; what it refuses is
    /// answered with why, and the call goes on.
    async fn call_message(&mut self, msg: ClientMsg) -> Result<Vec<ServerMsg>, ProtoError> {
        let (server, peer) = self.in_call()?;
        let room = self.room_id.as_str();
        let done = match msg {
            ClientMsg::CallPublish { sdp } => {
                return Ok(vec![match server.publish_offer(room, &peer, sdp).await {
                    Ok(sdp) => ServerMsg::CallAnswer { sdp },
                    Err(e) => call_error(e),
                }]);
            }
            ClientMsg::CallSubscribeAnswer { sdp } => {
                server.subscribe_answer(room, &peer, sdp).await
            }
            ClientMsg::CallCandidate { publish, candidate } => {
                let conn = if publish {
                    kino_rtc::Conn::Publish
                } else {
                    kino_rtc::Conn::Subscribe
                };
                server.candidate(room, &peer, conn, candidate).await
            }
            ClientMsg::CallMute { video, muted } => {
                let kind = if video {
                    kino_rtc::Kind::Video
                } else {
                    kino_rtc::Kind::Audio
                };
                server.set_muted(room, &peer, kind, muted).await
            }
            _ => return Err(ProtoError::Malformed),
        };
        Ok(done.err().map(call_error).into_iter().collect())
    }

    /// Takes a seat in the room's call (again the same one, if this socket has it already).
    async fn call_join(&mut self) -> Result<Vec<ServerMsg>, ProtoError> {
        let server = self.app.calls.clone().ok_or(ProtoError::CallsOff)?;
        if let Some(peer) = &self.call_peer {
            return Ok(vec![self.joined(peer)]);
        }
        // One seat per socket: the same person in two tabs is two peers.
        let peer = format!(
            "{}~{}",
            self.user.id,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        match server.join(&self.room_id, &peer).await {
            Ok(participant) => {
                self.record_call_home(&server).await;
                self.joined_call = Some(participant);
                let joined = self.joined(&peer);
                self.call_peer = Some(peer);
                Ok(vec![joined])
            }
            Err(e) => Ok(vec![call_error(e)]),
        }
    }

    /// "You are in the call as `peer`", with TURN credentials of the seat's own when this server
    /// has a TURN server (they expire, so a copied pair is soon worth nothing).
    fn joined(&self, peer: &str) -> ServerMsg {
        let (ice, relay_only) = match &self.app.config.turn {
            Some(turn) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let (username, credential) =
                    kino_rtc::turn_credentials(&turn.secret, peer, now, turn.ttl.as_secs());
                let server = IceServer {
                    urls: turn.urls.clone(),
                    username,
                    credential,
                };
                (vec![server], turn.relay_only)
            }
            None => (Vec::new(), false),
        };
        ServerMsg::CallJoined {
            peer: peer.to_owned(),
            ice,
            relay_only,
        }
    }

    /// The media server and this socket's name in the call, or why a call message is refused.
    fn in_call(&self) -> Result<(kino_rtc::MediaServer, String), ProtoError> {
        let server = self.app.calls.clone().ok_or(ProtoError::CallsOff)?;
        let peer = self.call_peer.clone().ok_or(ProtoError::NotInCall)?;
        Ok((server, peer))
    }

    /// Records that the room's call is on this node (`call_home`), for the nodes to agree on.
    async fn record_call_home(&self, server: &kino_rtc::MediaServer) {
        let people = match server.calls().await {
            Ok(calls) => calls
                .iter()
                .find(|(call, _)| *call == self.room_id)
                .map_or(1, |(_, n)| *n),
            Err(_) => 1,
        };
        let media = server.advertised_addr().to_string();
        let node = &self.app.config.node;
        match call_home::claim(&self.app.db, &self.room_id, node, &media, people).await {
            Ok(home) if home.node != *node => tracing::warn!(
                room = %self.room_id,
                node = %home.node,
                media = %home.media_addr,
                "this room's call is on another node too"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "recording where a call is"),
        }
    }

    /// Gives up this socket's seat in the call, if it has one.
    async fn leave_call(&mut self) {
        self.joined_call = None;
        if let (Some(peer), Some(server)) = (self.call_peer.take(), &self.app.calls) {
            if let Err(e) = server.leave(&self.room_id, &peer).await {
                tracing::debug!(error = %e, "leaving the call");
            }
            call_home::left(&self.app.db, &self.app.config.node, &self.room_id, server).await;
        }
    }

    /// Something the media server says to this socket's seat; `None`: it has let the seat go.
    async fn on_call_signal(&mut self, signal: Option<kino_rtc::Signal>) -> Step {
        let Some(signal) = signal else {
            self.call_peer = None;
            return self.send(&ServerMsg::CallLeft).await;
        };
        let removed = matches!(signal, kino_rtc::Signal::Removed { .. });
        match serde_json::to_string(&signal) {
            Ok(signal) => self.send(&ServerMsg::CallSignal { signal }).await?,
            Err(e) => tracing::warn!(error = %e, "cannot encode a call signal"),
        }
        if removed {
            self.call_peer = None;
            return self.send(&ServerMsg::CallLeft).await;
        }
        Ok(())
    }

    /// An older page of events, for scrolling back.
    async fn history(&self, before_seq: i64) -> Result<Vec<ServerMsg>, ProtoError> {
        let page = events_page(&self.app.db, &self.room_id, Bound::Before(before_seq), PAGE);
        let (events, more) = page.await.map_err(|e| unavailable(&e, "history failed"))?;
        Ok(vec![ServerMsg::History { events, more }])
    }

    /// The client's video stalled, or can play again: the room may hold for them, or resume.
    async fn buffering(&self, stalled: bool) -> Result<Vec<ServerMsg>, ProtoError> {
        if !self.room.take_control_token(&self.user.id) {
            return Err(ProtoError::RateLimited);
        }
        self.room.set_buffering(&self.user.id, stalled);
        self.broadcast_presence();
        if stalled {
            hold_for(&self.app, &self.room_id, &self.room, &self.user).await;
        } else {
            release(&self.app, &self.room_id, &self.room, None).await;
        }
        Ok(vec![])
    }

    /// Play, pause, seek, rate: checked against locked controls, then written with the new state.
    async fn control(&mut self, msg: ClientMsg) -> Result<Vec<ServerMsg>, ProtoError> {
        if !self.room.take_control_token(&self.user.id) {
            return Err(ProtoError::RateLimited);
        }
        let row = room_row(&self.app.db, &self.room_id)
            .await
            .map_err(|e| unavailable(&e, "command not checked"))?
            .ok_or(ProtoError::RoomEnded)?;
        if row.ended {
            return Err(ProtoError::RoomEnded);
        }
        if row.controls_locked && row.owner_id != self.user.id {
            return Err(ProtoError::ControlsLocked);
        }
        write_control(&self.app, &self.room_id, &self.user, &msg)
            .await
            .map_err(|e| refused(e, "command not written"))?;
        // Someone pressed play or pause: their decision ends any wait for a stalled player.
        if matches!(msg, ClientMsg::Play { .. } | ClientMsg::Pause { .. })
            && self.room.interrupt_hold()
        {
            self.broadcast_presence();
        }
        Ok(vec![])
    }

    /// The queue, votes, skips and the next film: decided in the room log's transaction.
    async fn choose(&mut self, msg: ClientMsg) -> Result<Vec<ServerMsg>, ProtoError> {
        if !self.room.take_control_token(&self.user.id) {
            return Err(ProtoError::RateLimited);
        }
        let present: Vec<String> = self.room.present().into_iter().map(|p| p.user).collect();
        let change = match &msg {
            ClientMsg::QueueAdd { film } => QueueChange::Add { film },
            ClientMsg::QueueVote { entry, vote } => QueueChange::Vote { entry, vote: *vote },
            ClientMsg::QueueRemove { entry } => QueueChange::Remove { entry },
            ClientMsg::PlayNow { entry } => QueueChange::PlayNow { entry },
            ClientMsg::Skip { skip } => QueueChange::Skip {
                skip: *skip,
                present: &present,
            },
            ClientMsg::FilmEnded { duration } => QueueChange::Ended {
                duration_ms: *duration,
                countdown_ms: self.app.config.next_countdown.as_millis() as i64,
            },
            ClientMsg::CancelNext => QueueChange::Cancel,
            _ => return Err(ProtoError::Malformed),
        };
        let app = &self.app;
        let written = write_queue(&app.db, &app.hub, &self.room_id, Some(&self.user), change)
            .await
            .map_err(|e| refused(e, "queue change not written"))?;
        if matches!(msg, ClientMsg::FilmEnded { .. }) && matches!(written, Written::New(_)) {
            queue::count_down(app, &self.room_id).await;
        }
        Ok(vec![])
    }

    /// Chat and reactions: refused in an ended room; a retried chat message is not written
    /// twice — its sender gets the original back.
    async fn say(
        &mut self,
        kind: EventKind,
        client_id: Option<&str>,
    ) -> Result<Vec<ServerMsg>, ProtoError> {
        let config = &self.app.config;
        if !self
            .room
            .take_chat_token(&self.user.id, config.chat_per_second, config.chat_burst)
        {
            return Err(ProtoError::RateLimited);
        }
        let user = Some(&self.user);
        match write_event(&self.app, &self.room_id, user, kind, client_id, None).await {
            Ok(Written::Duplicate(original)) => Ok(vec![ServerMsg::Event(original)]),
            Ok(_) => Ok(vec![]),
            Err(e) => Err(refused(e, "message not written")),
        }
    }

    async fn send(&mut self, msg: &ServerMsg) -> Step {
        self.send_text(serde_json::to_string(msg).unwrap_or_default())
            .await
    }

    async fn send_text(&mut self, json: String) -> Step {
        self.sink
            .send(Message::Text(json.into()))
            .await
            .map_err(|_| Done)
    }

    /// The node stops: after a pause of its own (so a node's sockets do not all reconnect
    /// elsewhere at the same instant) the socket closes with 1012, "service restart"; the
    /// client comes back through another node with the last sequence it saw.
    async fn on_drain(&mut self) -> Step {
        let pause = uuid::Uuid::new_v4().as_u128() % DRAIN_SPREAD.as_millis();
        tokio::time::sleep(Duration::from_millis(pause as u64)).await;
        let frame = CloseFrame {
            code: 1012,
            reason: "restarting".into(),
        };
        let _ = self.sink.send(Message::Close(Some(frame))).await;
        Err(Done)
    }

    /// Closes the socket on purpose (signed out, removed): the connection ends.
    async fn close(&mut self) -> Step {
        let _ = self.sink.send(Message::Close(None)).await;
        Err(Done)
    }
}

/// The person's last socket closed a while ago: they left.
async fn gone(app: &Parts, user: &User, room_id: &str, room: &RoomHub) {
    // They may have been the one the room was waiting for.
    release(app, room_id, room, None).await;
    // A reload that landed on another node: they never left.
    if !app.hub.in_room_elsewhere(room_id, &user.id).await {
        let leave = write_event(app, room_id, Some(user), EventKind::Leave, None, None);
        if let Err(LogError::Db(e)) = leave.await {
            tracing::warn!(error = %e, "room channel: leave not written");
        }
    }
    note_active(&app.db, room_id, now_ms()).await;
    app.hub.tidy(room_id);
    app.hub.presence_changed(room_id, room);
}

/// Someone's video stalled while the room plays: hold playback where it is and wait — for
/// everyone stalled, but never longer than `buffer_wait`.
async fn hold_for(app: &Parts, room_id: &str, room: &Arc<RoomHub>, user: &User) {
    let wait = app.config.buffer_wait;
    if !room.considers_hold(&user.id, wait) {
        return;
    }
    // A hold pauses the room: in a room whose controls are locked only the owner's stall may.
    match room_row(&app.db, room_id).await {
        Ok(Some(row)) if !row.controls_locked || row.owner_id == user.id => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "room channel: hold not considered");
            return;
        }
    }
    if !room.note_hold(&user.id, std::time::Instant::now()) {
        return;
    }
    match write_hold(app, room_id, user).await {
        Ok(true) => {}
        // Paused already, or the room ended: nothing to hold.
        Ok(false) | Err(LogError::Ended | LogError::Refused(_)) => return,
        Err(LogError::Db(e)) => {
            tracing::warn!(error = %e, "room channel: hold not written");
            return;
        }
    }
    let id = room.start_hold();
    app.hub.send_presence(room_id, room);
    let (app, room_id, room) = (app.clone(), room_id.to_owned(), room.clone());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        release(&app, &room_id, &room, Some(id)).await;
    });
}

/// Ends a hold if it should end (`RoomHub::release`: with `timed_out`, the hold of that number)
/// and resumes playback.
async fn release(app: &Parts, room_id: &str, room: &RoomHub, timed_out: Option<u64>) {
    if !room.release(timed_out) {
        return;
    }
    let resume = write_resume(&app.db, &app.hub, room_id, timed_out.is_some());
    if let Err(LogError::Db(e)) = resume.await {
        tracing::warn!(error = %e, "room channel: resume not written");
    }
    app.hub.send_presence(room_id, room);
}

/// Resolves when the node starts closing its sockets.
async fn closing(drain: &mut tokio::sync::watch::Receiver<Drain>) {
    let _ = drain.wait_for(|d| *d == Drain::Closing).await;
}

fn error(error: ProtoError) -> ServerMsg {
    ServerMsg::Error { error }
}

/// The next thing the media server says to this socket's seat in the call; never, without one.
async fn next_call_signal(call: &mut Option<kino_rtc::Participant>) -> Option<kino_rtc::Signal> {
    match call {
        Some(participant) => participant.next_signal().await,
        None => std::future::pending().await,
    }
}

/// The media server refused a call message: the socket says why, and the call goes on.
fn call_error(e: kino_rtc::RtcError) -> ServerMsg {
    ServerMsg::CallError {
        message: e.to_string(),
    }
}

/// The database failed while handling a message: logged, and the client may try again.
fn unavailable(e: &sqlx::Error, what: &str) -> ProtoError {
    tracing::warn!(error = %e, "room channel: {what}");
    ProtoError::Unavailable
}

/// Why a message was not written: the room is read-only, or the database failed.
fn refused(e: LogError, what: &str) -> ProtoError {
    match e {
        LogError::Ended => ProtoError::RoomEnded,
        LogError::Refused(why) => why,
        LogError::Db(e) => unavailable(&e, what),
    }
}

#[cfg(test)]
mod tests;
