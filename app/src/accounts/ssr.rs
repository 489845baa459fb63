//! Server side of accounts: sessions, password hashing, queries, login rate limits.

use super::domain::{safe_next, DisplayName, Password, Username};
use super::User;
use crate::catalog::domain::fold;
use crate::db::now_ms;
use crate::error::{on_unique_violation, AppError, Invalid};
use crate::state::AppState;
use leptos::prelude::*;
use sqlx::Row;
use tower_sessions::Session;

const USER_ID_KEY: &str = "user_id";
/// The user's `session_epoch` when this session signed in: a later epoch (a password change,
/// "Sign out other devices") ends it.
const EPOCH_KEY: &str = "epoch";

/// The client's address (the proxy's client when the connection comes from a trusted proxy),
/// set on every request by the server; the key for per-client limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

pub fn state() -> AppState {
    expect_context::<AppState>()
}

/// Sets the response status from the error (for `fetch` callers; a plain HTML form post keeps
/// leptos' redirect back to the form).
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        let plain_form = use_context::<http::request::Parts>().is_some_and(|p| {
            p.method == http::Method::POST
                && p.headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        });
        if !plain_form {
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.set_status(
                    http::StatusCode::from_u16(e.status())
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
                if let Some(secs) = e.retry_after_secs() {
                    res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
            }
        }
    }
    result
}

async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "no session layer");
        AppError::Internal
    })
}

fn session_err(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store error");
    AppError::Internal
}

/// Hashes an account password (on the hashing threads; `Busy` when they are swamped).
pub async fn hash_password(password: &Password) -> Result<String, AppError> {
    hash_secret(password.expose().to_owned()).await
}

/// Hashes any secret (an account or a room password) with argon2id.
pub async fn hash_secret(secret: String) -> Result<String, AppError> {
    state().hashing.hash(secret).await
}

/// Verifies a secret; `hash = None` (no such user) costs the same as a real check.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    state().hashing.verify(password, hash).await
}

/// The client's address as the server worked it out (see `ClientAddr`).
pub async fn client_addr() -> String {
    match leptos_axum::extract::<axum::Extension<ClientAddr>>().await {
        Ok(axum::Extension(ClientAddr(ip))) => ip.to_string(),
        Err(_) => "unknown".to_owned(),
    }
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
    })
}

pub async fn user_by_id(id: &str) -> Result<Option<User>, AppError> {
    let row = sqlx::query("SELECT id, username, display_name FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&state().db.pool)
        .await?;
    Ok(row.as_ref().map(user_from_row).transpose()?)
}

/// Fills `name_fold` for accounts made before it existed (Unicode folding happens in Rust).
pub async fn backfill_name_fold(db: &crate::db::Db) -> Result<(), sqlx::Error> {
    let rows = sqlx::query("SELECT id, display_name FROM users WHERE name_fold = ''")
        .fetch_all(&db.pool)
        .await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let name: String = row.try_get("display_name")?;
        sqlx::query("UPDATE users SET name_fold = $1 WHERE id = $2")
            .bind(fold(&name))
            .bind(&id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
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
async fn forget_request_user() {
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
    let row = sqlx::query(
        "SELECT id, username, display_name, last_seen_at, session_epoch FROM users WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(&state().db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let epoch = session
        .get::<i64>(EPOCH_KEY)
        .await
        .map_err(session_err)?
        .unwrap_or(0);
    if epoch != row.try_get::<i64, _>("session_epoch")? {
        // Signed out elsewhere (a password change): this session is over.
        session.flush().await.map_err(session_err)?;
        return Ok(None);
    }
    // Presence: note that the user is around, at most one write a minute.
    let last_seen: i64 = row.try_get("last_seen_at")?;
    let now = now_ms();
    if now - last_seen > 60_000 {
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&state().db.pool)
            .await?;
    }
    Ok(Some(user_from_row(&row)?))
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
    let current: Option<i64> = sqlx::query("SELECT session_epoch FROM users WHERE id = $1")
        .bind(&id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| row.try_get("session_epoch"))
        .transpose()?;
    Ok((current == Some(epoch)).then_some(id))
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<User, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

/// Starts a fresh session for `user_id`: a new id, so a session fixed before login is useless.
async fn sign_in(user_id: &str) -> Result<(), AppError> {
    let epoch: i64 = sqlx::query("SELECT session_epoch FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state().db.pool)
        .await?
        .try_get("session_epoch")?;
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
    // Sockets opened under the old session id belong to whoever it was before.
    if let Some(old) = old {
        state()
            .hub
            .sign_out(crate::rooms::channel::SignOut::Session(old));
    }
    Ok(())
}

/// Ends every other session of `user_id` (other browsers, other devices) and their sockets;
/// the current one is signed in again under the new epoch.
async fn sign_out_others(user_id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&state().db.pool)
        .await?;
    let keep = session().await?.id().map(|id| id.to_string());
    sign_in(user_id).await?;
    let keep = session().await?.id().map(|id| id.to_string()).or(keep);
    state()
        .hub
        .sign_out(crate::rooms::channel::SignOut::UserExcept {
            user: user_id.to_owned(),
            keep,
        });
    Ok(())
}

pub async fn register(
    username: String,
    display_name: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    let username = Username::parse(&username)?;
    let display_name = DisplayName::parse(&display_name)?;
    let password = Password::parse(password)?;
    let state = state();
    let limits = &state.config.limits;
    let client = client_addr().await;
    // Counted before the (memory-hungry) hash: parallel requests cannot all slip through.
    let _ = limits.register_per_client.take(&state.db, &client).await?;
    let _ = limits.register_overall.take(&state.db, "all").await?;
    let hash = hash_password(&password).await?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, created_at, name_fold, \
         last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $5)",
    )
    .bind(&id)
    .bind(username.as_str())
    .bind(display_name.as_str())
    .bind(&hash)
    .bind(now_ms())
    .bind(fold(display_name.as_str()))
    .execute(&state.db.pool)
    .await
    .map_err(|e| on_unique_violation(e, AppError::UsernameTaken))?;
    tracing::info!(username = username.as_str(), "registered");
    sign_in(&id).await?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    let state = state();
    let limits = &state.config.limits;
    // Whatever was typed is the account key, so a malformed name is limited too.
    let account = username.trim().to_ascii_lowercase();
    let client = client_addr().await;
    // Each attempt is taken out of the budgets before the password is checked (atomically), so
    // parallel guesses cannot all be checked; the right password gives its attempts back. The
    // per-account-and-client budget is the tight one: a stranger's guesses from elsewhere do not
    // lock the owner out; the per-account budget is a slower backstop against many addresses.
    let per_account_client = limits
        .login_per_account_and_client
        .take(&state.db, &format!("{account}\n{client}"))
        .await?;
    let per_client = limits.login_per_client.take(&state.db, &client).await?;
    let per_account = limits.login_per_account.take(&state.db, &account).await?;

    let row = match Username::parse(&username) {
        Ok(name) => {
            sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
                .bind(name.as_str())
                .fetch_optional(&state.db.pool)
                .await?
        }
        Err(_) => None,
    };
    let (id, hash) = match row {
        Some(row) => (
            Some(row.try_get::<String, _>("id")?),
            Some(row.try_get::<String, _>("password_hash")?),
        ),
        None => (None, None),
    };
    let ok = verify_password(password, hash).await?;
    match (ok, id) {
        (true, Some(id)) => {
            for attempt in [per_account_client, per_client, per_account] {
                attempt.give_back(&state.db).await?;
            }
            sign_in(&id).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        _ => {
            tracing::info!(%account, %client, "failed login");
            Err(AppError::WrongCredentials)
        }
    }
}

pub async fn logout() -> Result<(), AppError> {
    let session = session().await?;
    let id = session.id().map(|id| id.to_string());
    // Deletes the record from the store and expires the cookie.
    session.flush().await.map_err(session_err)?;
    forget_request_user().await;
    // A socket opened in this session cannot go on chatting after it.
    if let Some(id) = id {
        state()
            .hub
            .sign_out(crate::rooms::channel::SignOut::Session(id));
    }
    leptos_axum::redirect("/");
    Ok(())
}

pub async fn update_display_name(display_name: String) -> Result<(), AppError> {
    let user = require_user().await?;
    let display_name = DisplayName::parse(&display_name)?;
    sqlx::query("UPDATE users SET display_name = $1, name_fold = $2 WHERE id = $3")
        .bind(display_name.as_str())
        .bind(fold(display_name.as_str()))
        .bind(&user.id)
        .execute(&state().db.pool)
        .await?;
    forget_request_user().await;
    Ok(())
}

/// Changes the password; every other session of the account ends unless `keep_other_devices`.
pub async fn change_password(
    current: String,
    new: String,
    keep_other_devices: bool,
) -> Result<(), AppError> {
    let user = require_user().await?;
    let new = Password::parse(new)?;
    let hash: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_one(&state().db.pool)
        .await?
        .try_get("password_hash")?;
    if !verify_password(current, Some(hash)).await? {
        return Err(AppError::Invalid(Invalid::WrongCurrentPassword));
    }
    let new_hash = hash_password(&new).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&new_hash)
        .bind(&user.id)
        .execute(&state().db.pool)
        .await?;
    if keep_other_devices {
        // This browser gets a fresh session id; the others stay signed in.
        sign_in(&user.id).await
    } else {
        sign_out_others(&user.id).await
    }
}

/// "Sign out other devices": every session of the account but this one ends.
pub async fn sign_out_other_devices() -> Result<(), AppError> {
    let user = require_user().await?;
    sign_out_others(&user.id).await
}
