//! Who is signed in: the session cookie's user, looked up once per request; signing in (with a
//! fresh session id) and out (other devices too, and the room sockets they opened).

use super::User;
use crate::context::db;
use crate::dates::now_ms;
use crate::error::AppError;
use leptos::prelude::*;
use std::sync::Arc;
use tokio::sync::broadcast;
use tower_sessions::Session;

pub(super) const USER_ID_KEY: &str = "user_id";
/// The user's `session_epoch` when this session signed in: a later epoch (a password change,
/// "Sign out other devices") ends it.
pub(super) const EPOCH_KEY: &str = "epoch";

/// The client's address (the proxy's client when the connection comes from a trusted proxy),
/// set on every request by the server; the key for per-client limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

pub(super) async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "no session layer");
        AppError::Internal
    })
}

pub(super) fn session_err(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store error");
    AppError::Internal
}

/// The client's address as the server worked it out (see `ClientAddr`).
pub async fn client_addr() -> String {
    match leptos_axum::extract::<axum::Extension<ClientAddr>>().await {
        Ok(axum::Extension(ClientAddr(ip))) => ip.to_string(),
        Err(_) => "unknown".to_owned(),
    }
}

/// The signed-in user of this request, looked up once: a page's resources and a server
/// function's helpers all ask, and the answer stays the same until the request signs someone in
/// or out. The server provides an empty one to every request.
#[derive(Clone, Default)]
pub struct RequestUser(std::sync::Arc<tokio::sync::Mutex<Option<Option<User>>>>);

/// The signed-in user, if any (a session whose user was deleted counts as signed out).
pub async fn current_user() -> Result<Option<User>, AppError> {
    let Some(cell) = use_context::<RequestUser>() else {
        return look_up_user().await;
    };
    // Held while looking up, so the resources a page loads at once wait for one lookup.
    let mut known = cell.0.lock().await;
    if let Some(user) = known.as_ref() {
        return Ok(user.clone());
    }
    let user = look_up_user().await?;
    *known = Some(user.clone());
    Ok(user)
}

/// This request signed someone in or out: the next `current_user` looks again.
pub(super) async fn forget_request_user() {
    if let Some(cell) = use_context::<RequestUser>() {
        *cell.0.lock().await = None;
    }
}

async fn look_up_user() -> Result<Option<User>, AppError> {
    tracing::debug!("looking up the session's user");
    let session = session().await?;
    let Some(id) = session
        .get::<String>(USER_ID_KEY)
        .await
        .map_err(session_err)?
    else {
        return Ok(None);
    };
    let row = sqlx::query_as::<_, SessionUserRow>(
        "SELECT id, username, display_name, last_seen_at, session_epoch, is_admin FROM users \
         WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(&db().pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let epoch = session
        .get::<i64>(EPOCH_KEY)
        .await
        .map_err(session_err)?
        .unwrap_or(0);
    if epoch != row.session_epoch {
        // Signed out elsewhere (a password change): this session is over.
        session.flush().await.map_err(session_err)?;
        return Ok(None);
    }
    // Presence: note that the user is around, at most one write a minute.
    let now = now_ms();
    if now - row.last_seen_at > 60_000 {
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&db().pool)
            .await?;
    }
    Ok(Some(User {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        is_admin: row.is_admin.into(),
    }))
}

/// The signed-in user's row, with what deciding whether the session still holds needs.
#[derive(sqlx::FromRow)]
struct SessionUserRow {
    id: String,
    username: String,
    display_name: String,
    last_seen_at: i64,
    session_epoch: i64,
    is_admin: crate::db::Flag,
}

/// The user id a session belongs to, for plain axum handlers outside server functions, with
/// the epoch it signed in at (compare with `users.session_epoch`).
pub async fn session_user_id(session: &Session) -> Option<(String, i64)> {
    let user = session.get::<String>(USER_ID_KEY).await.ok().flatten()?;
    let epoch = session
        .get::<i64>(EPOCH_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    Some((user, epoch))
}

/// The signed-in user's id for a plain axum handler: `None` for a guest or a session that was
/// signed out elsewhere.
pub async fn signed_in_user_id(
    db: &crate::db::Db,
    session: &Session,
) -> Result<Option<String>, AppError> {
    let Some((id, epoch)) = session_user_id(session).await else {
        return Ok(None);
    };
    let current: Option<i64> = sqlx::query_scalar("SELECT session_epoch FROM users WHERE id = $1")
        .bind(&id)
        .fetch_optional(&db.pool)
        .await?;
    Ok((current == Some(epoch)).then_some(id))
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<User, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

/// The signed-in user when they are an admin; `Unauthorized` signed out, `Forbidden` otherwise.
pub async fn require_admin() -> Result<User, AppError> {
    let user = require_user().await?;
    if user.is_admin {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Starts a fresh session for `user_id`: a new id, so a session fixed before login is useless.
pub(super) async fn sign_in(user_id: &str) -> Result<(), AppError> {
    let epoch: i64 = sqlx::query_scalar("SELECT session_epoch FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db().pool)
        .await?;
    let session = session().await?;
    let old = session.id().map(|id| id.to_string());
    session.cycle_id().await.map_err(session_err)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_err)?;
    session
        .insert(EPOCH_KEY, epoch)
        .await
        .map_err(session_err)?;
    forget_request_user().await;
    crate::events::note("sign_in", format!("u:{user_id}"));
    // Sockets opened under the old session id belong to whoever it was before.
    if let Some(old) = old {
        sign_outs().announce(SignOut::Session(old));
    }
    Ok(())
}

/// Ends every other session of `user_id` (other browsers, other devices) and their sockets;
/// the current one is signed in again under the new epoch.
pub(super) async fn sign_out_others(user_id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&db().pool)
        .await?;
    let keep = session().await?.id().map(|id| id.to_string());
    sign_in(user_id).await?;
    let keep = session().await?.id().map(|id| id.to_string()).or(keep);
    sign_outs().announce(SignOut::UserExcept {
        user: user_id.to_owned(),
        keep,
    });
    Ok(())
}

/// Sessions that ended: the room sockets opened under them close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOut {
    /// One session (logged out, or its id was replaced at sign-in).
    Session(String),
    /// Every session of a user but `keep` (a password change, "Sign out other devices").
    UserExcept { user: String, keep: Option<String> },
}

impl SignOut {
    /// Does this end the socket of `user` opened in `session`?
    pub fn ends(&self, user: &str, session: Option<&str>) -> bool {
        match self {
            SignOut::Session(id) => session == Some(id.as_str()),
            SignOut::UserExcept { user: u, keep } => u == user && session != keep.as_deref(),
        }
    }
}

/// Where this node announces sessions that ended; whatever holds a connection for a session
/// (the room channel's sockets) listens. Made once by the server, provided to every request.
/// With several nodes each announcement is also forwarded to the others
/// (`rooms::channel::cluster`), whose own announcements arrive through `deliver`.
#[derive(Debug, Clone)]
pub struct SignOuts {
    here: broadcast::Sender<Arc<SignOut>>,
    elsewhere: Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<SignOut>>>,
}

impl Default for SignOuts {
    fn default() -> Self {
        Self {
            // A listener that falls 64 behind checks its session in the database instead.
            here: broadcast::channel(64).0,
            elsewhere: Arc::default(),
        }
    }
}

impl SignOuts {
    /// A session ended on this node: its sockets here and on every other node close.
    pub fn announce(&self, which: SignOut) {
        if let Some(others) = self.elsewhere.get() {
            // A full queue: the other nodes' sockets are closed by their session checks later.
            let _ = others.try_send(which.clone());
        }
        self.deliver(which);
    }

    /// A session ended (here or on another node): its sockets on this node close.
    pub fn deliver(&self, which: SignOut) {
        // No listeners is fine: no socket is open.
        let _ = self.here.send(Arc::new(which));
    }

    /// From now on announcements are also sent to `others` (once, at start).
    pub fn forward_to(&self, others: tokio::sync::mpsc::Sender<SignOut>) {
        let _ = self.elsewhere.set(others);
    }

    /// The sessions that end from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SignOut>> {
        self.here.subscribe()
    }
}

pub(super) fn sign_outs() -> SignOuts {
    expect_context::<SignOuts>()
}
