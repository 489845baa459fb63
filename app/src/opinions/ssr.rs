//! Likes and reviews in the database.

use super::domain::{Reaction, ReviewText};
use super::{Reactions, Review};
use crate::accounts::session::{current_user, require_user};
use crate::context::db;
use crate::dates::now_ms;
use crate::error::{AppError, OnConstraint};

/// A film's reaction counts.
#[derive(Debug, sqlx::FromRow)]
struct CountsRow {
    likes: i64,
    dislikes: i64,
}

/// A stored reaction value; one this version does not know is an error, never "no reaction".
fn reaction(stored: i64) -> Result<Reaction, sqlx::Error> {
    Reaction::from_value(stored)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown reaction value {stored}").into()))
}

pub async fn reactions(film_id: &str, user_id: Option<&str>) -> Result<Reactions, AppError> {
    let pool = &db().pool;
    let counts = sqlx::query_as::<_, CountsRow>(
        "SELECT COUNT(CASE WHEN value = 1 THEN 1 END) AS likes, \
                COUNT(CASE WHEN value = -1 THEN 1 END) AS dislikes \
         FROM reactions WHERE film_id = $1",
    )
    .bind(film_id)
    .fetch_one(pool)
    .await?;
    let mine = match user_id {
        Some(user_id) => sqlx::query_scalar::<_, i64>(
            "SELECT value FROM reactions WHERE user_id = $1 AND film_id = $2",
        )
        .bind(user_id)
        .bind(film_id)
        .fetch_optional(pool)
        .await?
        .map(reaction)
        .transpose()?,
        None => None,
    };
    Ok(Reactions {
        likes: counts.likes,
        dislikes: counts.dislikes,
        mine,
    })
}

pub async fn film_reactions(film_id: &str) -> Result<Reactions, AppError> {
    let user = current_user().await?;
    reactions(film_id, user.as_ref().map(|u| u.id.as_str())).await
}

/// Sets (or, with `None`, removes) the user's one reaction to a film. The primary key and the
/// upsert make concurrent clicks end in one row, whichever lands last.
pub async fn react(film_id: &str, reaction: Option<Reaction>) -> Result<Reactions, AppError> {
    let user = require_user().await?;
    let pool = &db().pool;
    match reaction {
        Some(reaction) => {
            sqlx::query(
                "INSERT INTO reactions (user_id, film_id, value, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, film_id) \
                 DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(&user.id)
            .bind(film_id)
            .bind(reaction.value())
            .bind(now_ms())
            .execute(pool)
            .await
            .on_missing_ref(AppError::NotFound)?;
        }
        None => {
            sqlx::query("DELETE FROM reactions WHERE user_id = $1 AND film_id = $2")
                .bind(&user.id)
                .bind(film_id)
                .execute(pool)
                .await?;
        }
    }
    reactions(film_id, Some(&user.id)).await
}

const REVIEW_COLUMNS: &str = "r.id, r.body, r.created_at, r.updated_at, r.user_id, \
     u.username, u.display_name";

/// A row of [`REVIEW_COLUMNS`].
#[derive(Debug, sqlx::FromRow)]
struct ReviewRow {
    id: String,
    body: String,
    created_at: i64,
    updated_at: i64,
    /// The author's id.
    user_id: String,
    username: String,
    display_name: String,
}

impl ReviewRow {
    fn review(self, viewer: Option<&str>) -> Review {
        Review {
            mine: viewer == Some(self.user_id.as_str()),
            id: self.id,
            author_username: self.username,
            author_name: self.display_name,
            body: self.body,
            created_at: self.created_at,
            edited: self.updated_at > self.created_at,
        }
    }
}

/// How many reviews a film page shows (newest first).
pub const REVIEWS_SHOWN: i64 = 100;

pub async fn reviews(film_id: &str) -> Result<Vec<Review>, AppError> {
    let viewer = current_user().await?;
    let rows = sqlx::query_as::<_, ReviewRow>(&format!(
        "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id \
         WHERE r.film_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2"
    ))
    .bind(film_id)
    .bind(REVIEWS_SHOWN)
    .fetch_all(&db().pool)
    .await?;
    let viewer = viewer.as_ref().map(|u| u.id.as_str());
    Ok(rows.into_iter().map(|row| row.review(viewer)).collect())
}

async fn review_by_id(id: &str, viewer: &str) -> Result<Review, AppError> {
    let row = sqlx::query_as::<_, ReviewRow>(&format!(
        "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db().pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(row.review(Some(viewer)))
}

pub async fn add_review(film_id: &str, body: &str) -> Result<Review, AppError> {
    let user = require_user().await?;
    let body = ReviewText::parse(body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO reviews (id, film_id, user_id, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(film_id)
    .bind(&user.id)
    .bind(body.as_str())
    .bind(now)
    .execute(&db().pool)
    .await
    .on_missing_ref(AppError::NotFound)?;
    review_by_id(&id, &user.id).await
}

/// Only the author may change a review; anyone else is told it does not exist for them to edit.
pub async fn edit_review(id: &str, body: &str) -> Result<Review, AppError> {
    let user = require_user().await?;
    let body = ReviewText::parse(body)?;
    let done =
        sqlx::query("UPDATE reviews SET body = $1, updated_at = $2 WHERE id = $3 AND user_id = $4")
            .bind(body.as_str())
            .bind(now_ms())
            .bind(id)
            .bind(&user.id)
            .execute(&db().pool)
            .await?;
    if done.rows_affected() == 0 {
        return Err(not_yours(id).await?);
    }
    review_by_id(id, &user.id).await
}

pub async fn delete_review(id: &str) -> Result<(), AppError> {
    let user = require_user().await?;
    let done = sqlx::query("DELETE FROM reviews WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(&user.id)
        .execute(&db().pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_yours(id).await?);
    }
    Ok(())
}

/// Why a change by the author's id matched nothing: someone else's review, or none at all.
async fn not_yours(id: &str) -> Result<AppError, AppError> {
    let exists = sqlx::query("SELECT 1 AS x FROM reviews WHERE id = $1")
        .bind(id)
        .fetch_optional(&db().pool)
        .await?
        .is_some();
    Ok(if exists {
        AppError::Forbidden
    } else {
        AppError::NotFound
    })
}
