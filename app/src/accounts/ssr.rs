//! Server side of accounts: registering, logging in and out, the profile's changes, login rate
//! limits. Who is signed in is `session`; hashing is `hashing`.

use super::domain::{DisplayName, Password, Username};
use super::hashing::{hash_password, verify_password};
use super::session::{
    client_addr, forget_request_user, require_user, session, session_err, sign_in, sign_out_others,
    sign_outs, SignOut,
};
use super::User;
use crate::context::{config, db};
use crate::dates::now_ms;
use crate::error::{AppError, Invalid, OnConstraint};
use crate::links::safe_next;
use crate::text::fold;
use sqlx::FromRow;

/// A user's `id, username, display_name`.
#[derive(Debug, FromRow)]
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    is_admin: crate::db::Flag,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            is_admin: row.is_admin.into(),
        }
    }
}

pub async fn user_by_id(id: &str) -> Result<Option<User>, AppError> {
    let row = sqlx::query_as::<_, UserRow>(
        "SELECT id, username, display_name, is_admin FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db().pool)
    .await?;
    Ok(row.map(User::from))
}

/// An account whose `name_fold` is still to be filled.
#[derive(Debug, FromRow)]
struct UnfoldedRow {
    id: String,
    display_name: String,
}

/// What a login checks the password against.
#[derive(Debug, FromRow)]
struct CredentialsRow {
    id: String,
    password_hash: String,
}

/// Fills `name_fold` for accounts made before it existed (Unicode folding happens in Rust).
pub async fn backfill_name_fold(db: &crate::db::Db) -> Result<(), sqlx::Error> {
    let rows =
        sqlx::query_as::<_, UnfoldedRow>("SELECT id, display_name FROM users WHERE name_fold = ''")
            .fetch_all(&db.pool)
            .await?;
    for UnfoldedRow { id, display_name } in rows {
        sqlx::query("UPDATE users SET name_fold = $1 WHERE id = $2")
            .bind(fold(&display_name))
            .bind(&id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

pub async fn no_accounts_yet() -> Result<bool, AppError> {
    let any = sqlx::query("SELECT 1 AS x FROM users LIMIT 1")
        .fetch_optional(&db().pool)
        .await?;
    Ok(any.is_none())
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
    let (db, config) = (db(), config());
    let limits = &config.limits;
    let client = client_addr().await;
    // Counted before the (memory-hungry) hash: parallel requests cannot all slip through.
    let _ = limits.register_per_client.take(&db, &client).await?;
    let _ = limits.register_overall.take(&db, "all").await?;
    let hash = hash_password(&password).await?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        // The first account of an empty instance is its admin.
        "INSERT INTO users (id, username, display_name, password_hash, created_at, name_fold, \
         last_seen_at, is_admin) VALUES ($1, $2, $3, $4, $5, $6, $5, \
         CASE WHEN EXISTS (SELECT 1 FROM users) THEN 0 ELSE 1 END)",
    )
    .bind(&id)
    .bind(username.as_str())
    .bind(display_name.as_str())
    .bind(&hash)
    .bind(now_ms())
    .bind(fold(display_name.as_str()))
    .execute(&db.pool)
    .await
    .on_unique(AppError::UsernameTaken)?;
    tracing::info!(username = username.as_str(), "registered");
    crate::events::note("sign_up", format!("u:{id}"));
    sign_in(&id).await?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    let (db, config) = (db(), config());
    let limits = &config.limits;
    // Whatever was typed is the account key, so a malformed name is limited too.
    let account = username.trim().to_ascii_lowercase();
    let client = client_addr().await;
    // Each attempt is taken out of the budgets before the password is checked (atomically), so
    // parallel guesses cannot all be checked; the right password gives its attempts back. The
    // per-account-and-client budget is the tight one: a stranger's guesses from elsewhere do not
    // lock the owner out; the per-account budget is a slower backstop against many addresses.
    let per_account_client = limits
        .login_per_account_and_client
        .take(&db, &format!("{account}\n{client}"))
        .await?;
    let per_client = limits.login_per_client.take(&db, &client).await?;
    let per_account = limits.login_per_account.take(&db, &account).await?;

    let row = match Username::parse(&username) {
        Ok(name) => {
            sqlx::query_as::<_, CredentialsRow>(
                "SELECT id, password_hash FROM users WHERE username = $1",
            )
            .bind(name.as_str())
            .fetch_optional(&db.pool)
            .await?
        }
        Err(_) => None,
    };
    let (id, hash) = match row {
        Some(row) => (Some(row.id), Some(row.password_hash)),
        None => (None, None),
    };
    let ok = verify_password(password, hash).await?;
    match (ok, id) {
        (true, Some(id)) => {
            for attempt in [per_account_client, per_client, per_account] {
                attempt.give_back(&db).await?;
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
        sign_outs().announce(SignOut::Session(id));
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
        .execute(&db().pool)
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
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_one(&db().pool)
        .await?;
    if !verify_password(current, Some(hash)).await? {
        return Err(AppError::Invalid(Invalid::WrongCurrentPassword));
    }
    let new_hash = hash_password(&new).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&new_hash)
        .bind(&user.id)
        .execute(&db().pool)
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
