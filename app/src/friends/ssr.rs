//! Friends, requests, invite links and the "Watch together" match, in the database.

use super::domain::{people_pattern, presence, Relation};
use super::{FriendsData, Invite, MatchFriend, MatchedFilm, Person};
use crate::accounts::session::{current_user, require_user};
use crate::accounts::User;
use crate::catalog::ssr::{CardRow, CARD_COLUMNS};
use crate::catalog::FilmCard;
use crate::codes::{is_code, new_code};
use crate::context::{config, db};
use crate::dates::now_ms;
use crate::db::Flag;
use crate::error::{AppError, Invalid};
use crate::notifications::ssr::notify;
use crate::notifications::NotificationKind;
use sqlx::any::AnyRow;
use sqlx::{Any, FromRow, Transaction};

/// "Is in a room": joined a room that has not ended, within the last few hours.
/// Needs the earliest join time that still counts bound as `$2`.
const IN_ROOM_SQL: &str = "CAST(CASE WHEN EXISTS (SELECT 1 FROM room_members m \
     JOIN rooms r ON r.id = m.room_id WHERE m.user_id = u.id AND r.ended_at IS NULL \
     AND m.joined_at > $2) THEN 1 ELSE 0 END AS BIGINT)";

/// A person's columns: `u.id, u.username, u.display_name, u.last_seen_at`.
#[derive(Debug, FromRow)]
struct PersonRow {
    id: String,
    username: String,
    display_name: String,
    last_seen_at: i64,
}

impl PersonRow {
    /// The person as seen at `now`; `in_room` only where the query asks (`IN_ROOM_SQL`).
    fn person(self, now: i64, in_room: bool) -> Person {
        Person {
            presence: presence(now, self.last_seen_at, in_room),
            id: self.id,
            username: self.username,
            display_name: self.display_name,
        }
    }
}

/// A friend in my list: the person, and whether they are in a room now.
#[derive(Debug, FromRow)]
struct FriendRow {
    #[sqlx(flatten)]
    person: PersonRow,
    in_room: Flag,
}

/// A search result: the person, and how I stand with them.
#[derive(Debug, FromRow)]
struct SearchRow {
    #[sqlx(flatten)]
    person: PersonRow,
    friend: Flag,
    sent: Flag,
    received: Flag,
}

/// [`MATCH_FILM_SQL`]'s row.
#[derive(Debug, FromRow)]
struct MatchFilmRow {
    #[sqlx(flatten)]
    person: PersonRow,
    wants: Flag,
}

/// [`MATCH_ALL_SQL`]'s row.
#[derive(Debug, FromRow)]
struct MatchAllRow {
    film_id: String,
    #[sqlx(flatten)]
    person: PersonRow,
}

/// A friend whose list I look at, and whether they hide it.
#[derive(Debug, FromRow)]
struct ListOwnerRow {
    #[sqlx(flatten)]
    person: PersonRow,
    hide_watchlist: Flag,
}

async fn people_rows<T>(sql: &str, me: &str, since: Option<i64>) -> Result<Vec<T>, AppError>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut query = sqlx::query_as::<_, T>(sql).bind(me.to_owned());
    if let Some(since) = since {
        query = query.bind(since);
    }
    Ok(query.fetch_all(&db().pool).await?)
}

fn since_for_rooms(now: i64) -> i64 {
    now - 6 * 3600 * 1000
}

async fn user_exists(id: &str) -> Result<bool, AppError> {
    Ok(sqlx::query("SELECT 1 AS x FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db().pool)
        .await?
        .is_some())
}

/// How many of `others` are my friends: one query, however many there are.
pub async fn friends_among(me: &str, others: &[&str]) -> Result<usize, AppError> {
    if others.is_empty() {
        return Ok(0);
    }
    let list = (2..others.len() + 2)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT COUNT(*) AS n FROM friendships WHERE user_id = $1 AND friend_id IN ({list})"
    );
    let mut query = sqlx::query_scalar(&sql).bind(me);
    for other in others {
        query = query.bind(*other);
    }
    let n: i64 = query.fetch_one(&db().pool).await?;
    Ok(usize::try_from(n)
        .map_err(|_| sqlx::Error::Decode(format!("a negative count of friends: {n}").into()))?)
}

pub async fn are_friends(a: &str, b: &str) -> Result<bool, AppError> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM friendships WHERE user_id = $1 AND friend_id = $2")
            .bind(a)
            .bind(b)
            .fetch_optional(&db().pool)
            .await?
            .is_some(),
    )
}

async fn relation(me: &str, other: &str) -> Result<Relation, AppError> {
    if me == other {
        return Ok(Relation::Myself);
    }
    if are_friends(me, other).await? {
        return Ok(Relation::Friend);
    }
    let pool = &db().pool;
    let pending = |from: &str, to: &str| {
        sqlx::query("SELECT 1 AS x FROM friend_requests WHERE from_user = $1 AND to_user = $2")
            .bind(from.to_owned())
            .bind(to.to_owned())
            .fetch_optional(pool)
    };
    if pending(me, other).await?.is_some() {
        Ok(Relation::RequestSent)
    } else if pending(other, me).await?.is_some() {
        Ok(Relation::RequestReceived)
    } else {
        Ok(Relation::None)
    }
}

/// People whose username or display name starts with `q`, with how I stand with each.
pub async fn search_people(q: &str) -> Result<Vec<(Person, Relation)>, AppError> {
    let me = require_user().await?;
    let Some(pattern) = people_pattern(q)? else {
        return Ok(Vec::new());
    };
    let now = now_ms();
    let rows = sqlx::query_as::<_, SearchRow>(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at, \
           CAST(CASE WHEN EXISTS (SELECT 1 FROM friendships f \
             WHERE f.user_id = $1 AND f.friend_id = u.id) THEN 1 ELSE 0 END AS BIGINT) AS friend, \
           CAST(CASE WHEN EXISTS (SELECT 1 FROM friend_requests r \
             WHERE r.from_user = $1 AND r.to_user = u.id) THEN 1 ELSE 0 END AS BIGINT) AS sent, \
           CAST(CASE WHEN EXISTS (SELECT 1 FROM friend_requests r \
             WHERE r.from_user = u.id AND r.to_user = $1) THEN 1 ELSE 0 END AS BIGINT) AS received \
         FROM users u \
         WHERE u.id <> $1 AND (u.username LIKE $2 ESCAPE '\\' OR u.name_fold LIKE $2 ESCAPE '\\') \
         ORDER BY u.name_fold, u.username LIMIT 20",
    )
    .bind(&me.id)
    .bind(&pattern)
    .fetch_all(&db().pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let relation = if row.friend.0 {
                Relation::Friend
            } else if row.sent.0 {
                Relation::RequestSent
            } else if row.received.0 {
                Relation::RequestReceived
            } else {
                Relation::None
            };
            (row.person.person(now, false), relation)
        })
        .collect())
}

/// Both directions of a friendship, and no requests left between the two.
async fn befriend(tx: &mut Transaction<'static, Any>, a: &str, b: &str) -> Result<(), AppError> {
    let now = now_ms();
    // Always the same order of rows, whoever calls: two people befriending each other at the
    // same moment otherwise lock (a, b) and (b, a) in opposite orders, and PostgreSQL ends one
    // of them as a deadlock (seen once in CI as a 500).
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    for (x, y) in [(a, b), (b, a)] {
        sqlx::query(
            "INSERT INTO friendships (user_id, friend_id, since) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, friend_id) DO NOTHING",
        )
        .bind(x)
        .bind(y)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM friend_requests WHERE from_user = $1 AND to_user = $2")
            .bind(x)
            .bind(y)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Asks `other` to be friends. If they already asked me — even at this very moment — we become
/// friends instead. Asking again changes nothing.
pub async fn request(other: &str) -> Result<Relation, AppError> {
    let me = require_user().await?;
    if me.id == other {
        return Err(AppError::Invalid(Invalid::SelfFriend));
    }
    if !user_exists(other).await? {
        return Err(AppError::NotFound);
    }
    match relation(&me.id, other).await? {
        Relation::Friend => return Ok(Relation::Friend),
        Relation::RequestReceived => return accept(other).await,
        _ => {}
    }
    sqlx::query(
        "INSERT INTO friend_requests (from_user, to_user, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (from_user, to_user) DO NOTHING",
    )
    .bind(&me.id)
    .bind(other)
    .bind(now_ms())
    .execute(&db().pool)
    .await?;
    // Two people who asked each other at once: whichever checks second sees both requests.
    if relation(&me.id, other).await? == Relation::RequestSent {
        let crossed =
            sqlx::query("SELECT 1 AS x FROM friend_requests WHERE from_user = $1 AND to_user = $2")
                .bind(other)
                .bind(&me.id)
                .fetch_optional(&db().pool)
                .await?
                .is_some();
        if crossed {
            let mut tx = db().pool.begin().await?;
            befriend(&mut tx, &me.id, other).await?;
            tx.commit().await?;
            return Ok(Relation::Friend);
        }
    }
    // No bell for a request: the header's Friends link counts them already.
    relation(&me.id, other).await
}

/// Accepts `other`'s request to me.
pub async fn accept(other: &str) -> Result<Relation, AppError> {
    let me = require_user().await?;
    let mut tx = db().pool.begin().await?;
    let pending = sqlx::query("DELETE FROM friend_requests WHERE from_user = $1 AND to_user = $2")
        .bind(other)
        .bind(&me.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if pending == 0 {
        drop(tx);
        return match relation(&me.id, other).await? {
            Relation::Friend => Ok(Relation::Friend),
            _ => Err(AppError::NotFound),
        };
    }
    befriend(&mut tx, &me.id, other).await?;
    tx.commit().await?;
    notify(
        &db().pool,
        other,
        NotificationKind::FriendAccepted,
        &me.id,
        None,
    )
    .await?;
    Ok(Relation::Friend)
}

/// Declines their request, cancels mine, or ends a friendship: afterwards we are strangers.
pub async fn sever(other: &str) -> Result<Relation, AppError> {
    let me = require_user().await?;
    let mut tx = db().pool.begin().await?;
    for (x, y) in [(me.id.as_str(), other), (other, me.id.as_str())] {
        sqlx::query("DELETE FROM friend_requests WHERE from_user = $1 AND to_user = $2")
            .bind(x)
            .bind(y)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM friendships WHERE user_id = $1 AND friend_id = $2")
            .bind(x)
            .bind(y)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Relation::None)
}

/// My friends, requests to me and from me, and my invite link.
pub async fn overview() -> Result<FriendsData, AppError> {
    let me = require_user().await?;
    let pool = &db().pool;
    let now = now_ms();
    let since = since_for_rooms(now);
    let friends: Vec<FriendRow> = people_rows(
        &format!(
            "SELECT u.id, u.username, u.display_name, u.last_seen_at, {IN_ROOM_SQL} AS in_room \
             FROM friendships f JOIN users u ON u.id = f.friend_id \
             WHERE f.user_id = $1 ORDER BY u.name_fold, u.id"
        ),
        &me.id,
        Some(since),
    )
    .await?;
    let incoming: Vec<PersonRow> = people_rows(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at \
         FROM friend_requests r JOIN users u ON u.id = r.from_user \
         WHERE r.to_user = $1 ORDER BY r.created_at DESC",
        &me.id,
        None,
    )
    .await?;
    let outgoing: Vec<PersonRow> = people_rows(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at \
         FROM friend_requests r JOIN users u ON u.id = r.to_user \
         WHERE r.from_user = $1 ORDER BY r.created_at DESC",
        &me.id,
        None,
    )
    .await?;
    let to_people = |rows: Vec<PersonRow>| {
        rows.into_iter()
            .map(|r| r.person(now, false))
            .collect::<Vec<_>>()
    };
    let hide: Flag = sqlx::query_scalar("SELECT hide_watchlist FROM users WHERE id = $1")
        .bind(&me.id)
        .fetch_one(pool)
        .await?;
    Ok(FriendsData {
        friends: friends
            .into_iter()
            .map(|r| r.person.person(now, r.in_room.0))
            .collect(),
        incoming: to_people(incoming),
        outgoing: to_people(outgoing),
        invite: invite_of(&me.id).await?,
        hide_watchlist: hide.0,
    })
}

pub async fn incoming_count() -> Result<i64, AppError> {
    let Some(me) = current_user().await? else {
        return Ok(0);
    };
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM friend_requests WHERE to_user = $1")
            .bind(&me.id)
            .fetch_one(&db().pool)
            .await?,
    )
}

pub async fn set_hide_watchlist(hide: bool) -> Result<bool, AppError> {
    let me = require_user().await?;
    sqlx::query("UPDATE users SET hide_watchlist = $1 WHERE id = $2")
        .bind(i64::from(hide))
        .bind(&me.id)
        .execute(&db().pool)
        .await?;
    Ok(hide)
}

async fn invite_of(user_id: &str) -> Result<Option<Invite>, AppError> {
    let code: Option<String> =
        sqlx::query_scalar("SELECT code FROM friend_invites WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db().pool)
            .await?;
    Ok(code.map(|code| Invite {
        url: format!("{}/f/{code}", config().public_url),
        code,
    }))
}

/// A new personal invite link; the old one (if any) stops working.
pub async fn regenerate_invite() -> Result<Invite, AppError> {
    let me = require_user().await?;
    let mut tx = db().pool.begin().await?;
    sqlx::query("DELETE FROM friend_invites WHERE user_id = $1")
        .bind(&me.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO friend_invites (code, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(new_code())
        .bind(&me.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    invite_of(&me.id).await?.ok_or(AppError::Internal)
}

pub async fn revoke_invite() -> Result<(), AppError> {
    let me = require_user().await?;
    sqlx::query("DELETE FROM friend_invites WHERE user_id = $1")
        .bind(&me.id)
        .execute(&db().pool)
        .await?;
    Ok(())
}

/// Who invites with this code (404 when it does not exist or was revoked), and how the signed-in
/// visitor stands with them.
pub async fn invite_info(code: &str) -> Result<(Person, Option<Relation>), AppError> {
    if !is_code(code) {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query_as::<_, PersonRow>(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at FROM friend_invites i \
         JOIN users u ON u.id = i.user_id WHERE i.code = $1",
    )
    .bind(code)
    .fetch_optional(&db().pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let inviter = row.person(now_ms(), false);
    let relation = match current_user().await? {
        Some(me) => Some(relation(&me.id, &inviter.id).await?),
        None => None,
    };
    Ok((inviter, relation))
}

/// Accepting an invite link makes us friends at once (the link's owner asked for it).
pub async fn accept_invite(code: &str) -> Result<Relation, AppError> {
    let me = require_user().await?;
    let (inviter, _) = invite_info(code).await?;
    if inviter.id == me.id {
        return Err(AppError::Invalid(Invalid::SelfFriend));
    }
    if are_friends(&me.id, &inviter.id).await? {
        return Ok(Relation::Friend);
    }
    let mut tx = db().pool.begin().await?;
    befriend(&mut tx, &me.id, &inviter.id).await?;
    tx.commit().await?;
    notify(
        &db().pool,
        &inviter.id,
        NotificationKind::FriendAccepted,
        &me.id,
        None,
    )
    .await?;
    Ok(Relation::Friend)
}

/// The match for one film: all my friends, those who want it first (unless they hide their
/// list), then by name. One query: my friendships' key range, each friend's row, and one probe
/// of the `watchlist` primary key per friend. The probe is a scalar subquery on purpose:
/// PostgreSQL hashes a LEFT JOIN or EXISTS and then reads every user who wants the film
/// (docs/QUERY_PLANS.md).
pub const MATCH_FILM_SQL: &str = "SELECT u.id, u.username, u.display_name, u.last_seen_at, \
       CAST(CASE WHEN u.hide_watchlist = 0 AND (SELECT 1 FROM watchlist w \
         WHERE w.user_id = f.friend_id AND w.film_id = $2) = 1 THEN 1 ELSE 0 END AS BIGINT) \
         AS wants \
     FROM friendships f \
     JOIN users u ON u.id = f.friend_id \
     WHERE f.user_id = $1 \
     ORDER BY wants DESC, u.name_fold, u.id";

/// The match for all my films: each (film on my list, friend who also wants it) pair. One query:
/// each friend's list as a primary-key range, each film on it looked up in my list (held in
/// memory). `|| ''` keeps SQLite from turning the IN into per-film probes of `watchlist_film`,
/// which it does once statistics exist and which is 4x slower (docs/QUERY_PLANS.md).
pub const MATCH_ALL_SQL: &str = "SELECT w2.film_id, u.id, u.username, u.display_name, \
       u.last_seen_at \
     FROM friendships f \
     JOIN users u ON u.id = f.friend_id \
     JOIN watchlist w2 ON w2.user_id = f.friend_id \
     WHERE f.user_id = $1 AND u.hide_watchlist = 0 \
       AND w2.film_id || '' IN (SELECT w1.film_id FROM watchlist w1 WHERE w1.user_id = $1) \
     ORDER BY w2.film_id, u.name_fold, u.id";

pub async fn match_film(film_id: &str) -> Result<Vec<MatchFriend>, AppError> {
    let me = require_user().await?;
    let now = now_ms();
    let rows = sqlx::query_as::<_, MatchFilmRow>(MATCH_FILM_SQL)
        .bind(&me.id)
        .bind(film_id)
        .fetch_all(&db().pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| MatchFriend {
            person: row.person.person(now, false),
            wants: row.wants.0,
        })
        .collect())
}

/// Films on my list that friends also want, most wanted first (ties: by film id), at most
/// `limit`, each with those friends.
pub async fn match_all(user: &User, limit: usize) -> Result<Vec<MatchedFilm>, AppError> {
    let pool = &db().pool;
    let now = now_ms();
    let rows = sqlx::query_as::<_, MatchAllRow>(MATCH_ALL_SQL)
        .bind(&user.id)
        .fetch_all(pool)
        .await?;
    let mut films: Vec<(String, Vec<Person>)> = Vec::new();
    for row in rows {
        let film_id = row.film_id;
        let friend = row.person.person(now, false);
        match films.last_mut() {
            Some((id, friends)) if *id == film_id => friends.push(friend),
            _ => films.push((film_id, vec![friend])),
        }
    }
    films.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    films.truncate(limit);
    let mut out = Vec::with_capacity(films.len());
    for (film_id, friends) in films {
        let row = sqlx::query_as::<_, CardRow>(&format!(
            "SELECT {CARD_COLUMNS} FROM films f WHERE f.id = $1"
        ))
        .bind(&film_id)
        .fetch_one(pool)
        .await?;
        out.push(MatchedFilm {
            film: row.into(),
            friends,
        });
    }
    Ok(out)
}

pub async fn my_match_all() -> Result<Vec<MatchedFilm>, AppError> {
    let Some(me) = current_user().await? else {
        return Ok(Vec::new());
    };
    match_all(&me, 12).await
}

/// What a friend and I both want (nothing when they hide their list); 404 for a non-friend.
pub async fn both_want(username: &str) -> Result<(Person, Vec<FilmCard>), AppError> {
    let me = require_user().await?;
    let row = sqlx::query_as::<_, ListOwnerRow>(
        "SELECT u.id, u.username, u.display_name, u.last_seen_at, u.hide_watchlist \
         FROM users u JOIN friendships f ON f.friend_id = u.id AND f.user_id = $1 \
         WHERE u.username = $2",
    )
    .bind(&me.id)
    .bind(username.trim().to_lowercase())
    .fetch_optional(&db().pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let friend = row.person.person(now_ms(), false);
    if row.hide_watchlist.0 {
        return Ok((friend, Vec::new()));
    }
    let rows = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM watchlist a \
         JOIN watchlist b ON b.film_id = a.film_id AND b.user_id = $2 \
         JOIN films f ON f.id = a.film_id \
         WHERE a.user_id = $1 ORDER BY a.added_at DESC, f.id"
    ))
    .bind(&me.id)
    .bind(&friend.id)
    .fetch_all(&db().pool)
    .await?;
    Ok((friend, rows.into_iter().map(FilmCard::from).collect()))
}
