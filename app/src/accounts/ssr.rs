//! Server side of accounts: sessions, password hashing, queries, login rate limits.

use super::domain::{safe_next, DisplayName, Password, Username};
use super::User;
use crate::catalog::domain::fold;
use crate::db::now_ms;
use crate::error::{on_unique_violation, AppError, Invalid};
use crate::state::AppState;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::ConnectInfo;
use leptos::prelude::*;
use sqlx::Row;
use std::net::SocketAddr;
use std::sync::OnceLock;
use tower_sessions::Session;

const USER_ID_KEY: &str = "user_id";

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
                if let AppError::RateLimited { retry_after_secs } = e {
                    if let Ok(v) = http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                        res.insert_header(http::header::RETRY_AFTER, v);
                    }
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

/// OWASP's argon2id parameters: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the blocking pool: ~50 ms of CPU must not stall the async runtime.
pub async fn hash_password(password: &Password) -> Result<String, AppError> {
    hash_secret(password.expose().to_owned()).await
}

/// Hashes any secret (an account or a room password) with argon2id on the blocking pool.
pub async fn hash_secret(secret: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })
}

/// Verifies on the blocking pool. `hash = None` (no such user) still spends the same work, so
/// the answer time does not reveal whether a username exists.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(b"no such user", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let stored = hash.as_deref().unwrap_or(dummy);
        let ok = PasswordHash::new(stored)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .map_err(|_| AppError::Internal)
}

async fn client_ip() -> String {
    leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|_| "unknown".to_owned())
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

/// The signed-in user, if any (a session whose user was deleted counts as signed out).
pub async fn current_user() -> Result<Option<User>, AppError> {
    let session = session().await?;
    let Some(id) = session
        .get::<String>(USER_ID_KEY)
        .await
        .map_err(session_err)?
    else {
        return Ok(None);
    };
    let row =
        sqlx::query("SELECT id, username, display_name, last_seen_at FROM users WHERE id = $1")
            .bind(&id)
            .fetch_optional(&state().db.pool)
            .await?;
    let Some(row) = row else { return Ok(None) };
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

/// The user id a session belongs to, for plain axum handlers outside server functions.
pub async fn session_user_id(session: &Session) -> Option<String> {
    session.get::<String>(USER_ID_KEY).await.ok().flatten()
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<User, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

/// Starts a fresh session for `user_id`: a new id, so a session fixed before login is useless.
async fn sign_in(user_id: &str) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(session_err)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_err)?;
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
    .execute(&state().db.pool)
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
    // Whatever was typed is the account key, so a malformed name is limited too.
    let account_key = username.trim().to_ascii_lowercase();
    let ip_key = client_ip().await;
    for (limiter, key) in [
        (&state.login_failures_per_account, &account_key),
        (&state.login_failures_per_ip, &ip_key),
    ] {
        if let Err(retry) = limiter.check(key) {
            return Err(AppError::RateLimited {
                retry_after_secs: retry.as_secs().max(1),
            });
        }
    }

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
            state.login_failures_per_account.reset(&account_key);
            sign_in(&id).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        _ => {
            state
                .login_failures_per_account
                .record_failure(&account_key);
            state.login_failures_per_ip.record_failure(&ip_key);
            tracing::info!(account = %account_key, ip = %ip_key, "failed login");
            Err(AppError::WrongCredentials)
        }
    }
}

pub async fn logout() -> Result<(), AppError> {
    // Deletes the record from the store and expires the cookie.
    session().await?.flush().await.map_err(session_err)?;
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
    Ok(())
}

pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
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
    // Other browsers stay signed in; this one gets a fresh session id.
    sign_in(&user.id).await
}
