//! Choosing together: the room's queue ("Up next"), its votes, the skip votes, the countdown
//! to the next film and the change of film. Every change here is a room event like play or
//! pause: `decide` works it out from the room's state inside the room log's transaction (so two
//! votes of one person from two sockets, or two clients reporting the film's end, count once)
//! and says which event to write and what playback follows.

use super::hub::Hub;
use super::log::{playback_of, write_queue, LogError, Written};
use super::Parts;
use crate::accounts::User;
use crate::catalog::ssr::{CardRow, CARD_COLUMNS};
use crate::catalog::FilmCard;
use crate::dates::now_ms;
use crate::db::{Db, Flag};
use crate::rooms::protocol::{
    EventKind, NextUp, Played, ProtoError, QueueEntry, QueueState, QUEUE_MAX, QUEUE_MAX_EACH,
};
use crate::sync::Playback;
use sqlx::{Any, FromRow, Transaction};
use std::sync::Arc;

/// A new film starts this long after the event that puts it on, so that every browser has
/// loaded it by then and all start at the same instant.
pub const START_LEAD_MS: i64 = 2_500;
/// A report of the film's end this far before the end (by the room's clock) is believed.
const END_SLACK_MS: f64 = 2_000.0;

/// A change to the queue or the film, as asked for.
#[derive(Debug, Clone, Copy)]
pub enum QueueChange<'a> {
    Add {
        film: &'a str,
    },
    Vote {
        entry: &'a str,
        vote: bool,
    },
    Remove {
        entry: &'a str,
    },
    PlayNow {
        entry: &'a str,
    },
    /// A skip vote; `present`: who is in the room now (the majority is of them).
    Skip {
        skip: bool,
        present: &'a [String],
    },
    /// A browser reached the end of the film, `duration_ms` long as it played there; the next
    /// film starts `countdown_ms` later.
    Ended {
        duration_ms: f64,
        countdown_ms: i64,
    },
    Cancel,
    /// The countdown that was to end at `at` is over (the room's own timer, no one's press).
    Due {
        at: i64,
    },
}

/// What the change writes: the event and, for a change of film, the new playback. `None`:
/// nothing changes (a vote given twice, a second report of the same end).
pub(super) type Decision = Option<(EventKind, Option<Playback>)>;

/// The room as a queue decision needs it.
#[derive(FromRow)]
struct RoomRow {
    owner_id: String,
    controls_locked: Flag,
    choosing: Flag,
    next_entry: Option<String>,
    next_at: Option<i64>,
    /// The catalog's running time, and the length of the film's own video when it has one
    /// (0: none; the demo films play short clips of theirs).
    duration_secs: i64,
    media_ms: i64,
}

impl RoomRow {
    /// How long the film on now plays, as far as the server knows (0: unknown).
    fn length_ms(&self) -> f64 {
        if self.media_ms > 0 {
            self.media_ms as f64
        } else {
            self.duration_secs as f64 * 1000.0
        }
    }
}

fn refuse(why: ProtoError) -> LogError {
    LogError::Refused(why)
}

/// Decides `change` inside the room log's transaction `tx` (which already holds the room's
/// lock and has taken sequence number `seq`), making its changes to the queue tables.
pub(super) async fn decide(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    user: Option<&User>,
    change: QueueChange<'_>,
    seq: i64,
    now: i64,
) -> Result<Decision, LogError> {
    let room = sqlx::query_as::<_, RoomRow>(
        "SELECT r.owner_id, r.controls_locked, r.choosing, r.next_entry, r.next_at, \
                f.duration_secs, COALESCE(m.duration_ms, 0) AS media_ms \
         FROM rooms r JOIN films f ON f.id = r.film_id \
         LEFT JOIN film_media m ON m.film_id = r.film_id WHERE r.id = $1",
    )
    .bind(room_id)
    .fetch_one(&mut **tx)
    .await?;
    let me = user.map(|u| u.id.as_str());
    let owner = me == Some(room.owner_id.as_str());
    // In a room whose controls are locked, only the owner adds, skips and cancels.
    let locked = room.controls_locked.0 && !owner;
    match change {
        QueueChange::Add { film } => {
            if locked {
                return Err(refuse(ProtoError::ControlsLocked));
            }
            add(tx, room_id, me, film, now).await
        }
        QueueChange::Vote { entry, vote } => {
            let Some(me) = me else { return Ok(None) };
            entry_film(tx, room_id, entry).await?;
            let changed = if vote {
                sqlx::query(
                    "INSERT INTO room_votes (room_id, entry_id, user_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
            } else {
                sqlx::query(
                    "DELETE FROM room_votes WHERE room_id = $1 AND entry_id = $2 AND user_id = $3",
                )
            }
            .bind(room_id)
            .bind(entry)
            .bind(me)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok((changed > 0).then(|| {
                let entry = entry.to_owned();
                (EventKind::QueueVote { entry, vote }, None)
            }))
        }
        QueueChange::Remove { entry } => {
            let added_by: Option<Option<String>> = sqlx::query_scalar(
                "SELECT added_by FROM room_queue WHERE room_id = $1 AND id = $2",
            )
            .bind(room_id)
            .bind(entry)
            .fetch_optional(&mut **tx)
            .await?;
            let added_by = added_by.ok_or(refuse(ProtoError::NoSuchEntry))?;
            if !owner && (me.is_none() || added_by.as_deref() != me) {
                return Err(refuse(ProtoError::OwnerOnly));
            }
            remove_entry(tx, room_id, entry).await?;
            if room.next_entry.as_deref() == Some(entry) {
                // The countdown was for it: the next film will be the top of the queue then.
                clear_next(tx, room_id).await?;
            }
            let entry = entry.to_owned();
            Ok(Some((EventKind::QueueRemove { entry }, None)))
        }
        QueueChange::PlayNow { entry } => {
            if !owner {
                return Err(refuse(ProtoError::OwnerOnly));
            }
            switch(tx, room_id, entry, seq, now).await.map(Some)
        }
        QueueChange::Skip { skip, present } => {
            if locked {
                return Err(refuse(ProtoError::ControlsLocked));
            }
            let Some(me) = me else { return Ok(None) };
            if !skip {
                let gone =
                    sqlx::query("DELETE FROM room_skips WHERE room_id = $1 AND user_id = $2")
                        .bind(room_id)
                        .bind(me)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                return Ok((gone > 0).then_some((EventKind::SkipVote { skip: false }, None)));
            }
            let top = top_entry(tx, room_id)
                .await?
                .ok_or(refuse(ProtoError::QueueEmpty))?;
            let over = room.choosing.0
                || room.next_at.is_some()
                || film_over(tx, room_id, room.length_ms(), now).await?;
            // Once the film is over anyone's "Play next" goes; so does the owner's press in a
            // locked room.
            if over || room.controls_locked.0 {
                return switch(tx, room_id, &top, seq, now).await.map(Some);
            }
            let added = sqlx::query(
                "INSERT INTO room_skips (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(room_id)
            .bind(me)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let skips: Vec<String> =
                sqlx::query_scalar("SELECT user_id FROM room_skips WHERE room_id = $1")
                    .bind(room_id)
                    .fetch_all(&mut **tx)
                    .await?;
            let counted = skips.iter().filter(|s| present.contains(s)).count();
            if counted * 2 > present.len().max(1) {
                return switch(tx, room_id, &top, seq, now).await.map(Some);
            }
            Ok((added > 0).then_some((EventKind::SkipVote { skip: true }, None)))
        }
        QueueChange::Ended {
            duration_ms,
            countdown_ms,
        } => {
            if room.choosing.0 || room.next_at.is_some() {
                return Ok(None);
            }
            // The browser's length of what it plays, when the server knows none of its own
            // (never beyond the catalog's running time).
            let length = if room.media_ms > 0 {
                room.length_ms()
            } else if room.duration_secs > 0 {
                duration_ms.min(room.length_ms())
            } else {
                duration_ms
            };
            if !film_over(tx, room_id, length, now).await? {
                return Ok(None);
            }
            let Some(top) = top_entry(tx, room_id).await? else {
                return Ok(None);
            };
            let film = entry_film(tx, room_id, &top).await?;
            let at = now + countdown_ms;
            sqlx::query("UPDATE rooms SET next_entry = $1, next_at = $2 WHERE id = $3")
                .bind(&top)
                .bind(at)
                .bind(room_id)
                .execute(&mut **tx)
                .await?;
            let kind = EventKind::NextUp {
                entry: top,
                film: Box::new(film),
                starts_at: at,
            };
            Ok(Some((kind, None)))
        }
        QueueChange::Cancel => {
            if locked {
                return Err(refuse(ProtoError::ControlsLocked));
            }
            if room.next_at.is_none() {
                return Ok(None);
            }
            clear_next(tx, room_id).await?;
            Ok(Some((EventKind::NextCancelled, None)))
        }
        QueueChange::Due { at } => {
            if room.next_at != Some(at) {
                return Ok(None);
            }
            let next = match room.next_entry {
                Some(entry) if entry_exists(tx, room_id, &entry).await? => Some(entry),
                _ => top_entry(tx, room_id).await?,
            };
            match next {
                Some(entry) => switch(tx, room_id, &entry, seq, now).await.map(Some),
                None => {
                    clear_next(tx, room_id).await?;
                    Ok(Some((EventKind::NextCancelled, None)))
                }
            }
        }
    }
}

/// "Add to queue": a published, playable film of the catalog, once, within the limits.
async fn add(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    me: Option<&str>,
    film_id: &str,
    now: i64,
) -> Result<Decision, LogError> {
    let Some(me) = me else { return Ok(None) };
    let card = sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM films f WHERE f.id = $1 AND f.published = 1 AND f.personal = 0"
    ))
    .bind(film_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(FilmCard::from)
    .filter(|card| card.playable)
    .ok_or(refuse(ProtoError::UnknownFilm))?;
    let (all, mine, same): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), \
                COALESCE(SUM(CASE WHEN added_by = $2 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN film_id = $3 THEN 1 ELSE 0 END), 0) \
         FROM room_queue WHERE room_id = $1",
    )
    .bind(room_id)
    .bind(me)
    .bind(film_id)
    .fetch_one(&mut **tx)
    .await?;
    if same > 0 {
        return Err(refuse(ProtoError::AlreadyQueued));
    }
    if all >= QUEUE_MAX {
        return Err(refuse(ProtoError::QueueFull));
    }
    if mine >= QUEUE_MAX_EACH {
        return Err(refuse(ProtoError::QueueFullForYou));
    }
    let entry = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    sqlx::query(
        "INSERT INTO room_queue (room_id, id, film_id, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(room_id)
    .bind(&entry)
    .bind(film_id)
    .bind(me)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some((
        EventKind::QueueAdd {
            entry,
            film: Box::new(card),
        },
        None,
    )))
}

/// Puts `entry` on: it leaves the queue, the skip votes and any countdown go, and the film
/// starts from its beginning `START_LEAD_MS` from now, for everyone at once.
async fn switch(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    entry: &str,
    seq: i64,
    now: i64,
) -> Result<(EventKind, Option<Playback>), LogError> {
    let film = entry_film(tx, room_id, entry).await?;
    remove_entry(tx, room_id, entry).await?;
    sqlx::query("DELETE FROM room_skips WHERE room_id = $1")
        .bind(room_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE rooms SET film_id = $1, choosing = 0, finished_at = NULL, next_entry = NULL, \
                next_at = NULL WHERE id = $2",
    )
    .bind(&film.id)
    .bind(room_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO room_plays (room_id, seq, film_id, started_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(room_id)
    .bind(seq)
    .bind(&film.id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let playback = Playback {
        paused: false,
        position: 0.0,
        anchor: (now + START_LEAD_MS) as f64,
        rate: 1.0,
    };
    let kind = EventKind::NowPlaying {
        entry: Some(entry.to_owned()),
        film: Box::new(film),
    };
    Ok((kind, Some(playback)))
}

/// Has the film on now, `length_ms` long, reached its end by the room's clock? (A film of
/// unknown length: no.)
async fn film_over(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    length_ms: f64,
    now: i64,
) -> Result<bool, LogError> {
    if length_ms <= 0.0 {
        return Ok(false);
    }
    let playback = playback_of(tx, room_id).await?;
    Ok(playback.expected(now as f64) >= length_ms - END_SLACK_MS)
}

/// The film of a queue entry; `NoSuchEntry` if it is gone.
async fn entry_film(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    entry: &str,
) -> Result<FilmCard, LogError> {
    sqlx::query_as::<_, CardRow>(&format!(
        "SELECT {CARD_COLUMNS} FROM room_queue q JOIN films f ON f.id = q.film_id \
         WHERE q.room_id = $1 AND q.id = $2"
    ))
    .bind(room_id)
    .bind(entry)
    .fetch_optional(&mut **tx)
    .await?
    .map(FilmCard::from)
    .ok_or(refuse(ProtoError::NoSuchEntry))
}

async fn entry_exists(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    entry: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM room_queue WHERE room_id = $1 AND id = $2")
            .bind(room_id)
            .bind(entry)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

/// The queue's first entry: the most votes, then the earliest added.
async fn top_entry(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
) -> Result<Option<String>, LogError> {
    Ok(sqlx::query_scalar(
        "SELECT q.id FROM room_queue q \
         LEFT JOIN room_votes v ON v.room_id = q.room_id AND v.entry_id = q.id \
         WHERE q.room_id = $1 GROUP BY q.id, q.added_at \
         ORDER BY COUNT(v.user_id) DESC, q.added_at, q.id LIMIT 1",
    )
    .bind(room_id)
    .fetch_optional(&mut **tx)
    .await?)
}

async fn remove_entry(
    tx: &mut Transaction<'_, Any>,
    room_id: &str,
    entry: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM room_votes WHERE room_id = $1 AND entry_id = $2")
        .bind(room_id)
        .bind(entry)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM room_queue WHERE room_id = $1 AND id = $2")
        .bind(room_id)
        .bind(entry)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn clear_next(tx: &mut Transaction<'_, Any>, room_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rooms SET next_entry = NULL, next_at = NULL WHERE id = $1")
        .bind(room_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The countdown to the next film has started: this node puts the film on when it ends — and
/// so does every other node with people in the room, which hears of it (`cluster`). (Should
/// every one of them stop first, the lifecycle job's `start_due` does it on any node.)
pub(super) async fn count_down(app: &Parts, room_id: &str) {
    let at: Result<Option<Option<i64>>, _> =
        sqlx::query_scalar("SELECT next_at FROM rooms WHERE id = $1")
            .bind(room_id)
            .fetch_optional(&app.db.pool)
            .await;
    let Ok(Some(Some(at))) = at else { return };
    start_at(app.db.clone(), Arc::clone(&app.hub), room_id.to_owned(), at);
}

/// Puts the next film on at `at` (when the countdown that ends then is still on: a cancelled
/// or already started one writes nothing).
pub(super) fn start_at(db: Db, hub: Arc<Hub>, room_id: String, at: i64) {
    tokio::spawn(async move {
        let wait = (at - now_ms()).max(0) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        start_next(&db, &hub, &room_id, at).await;
    });
}

/// Puts the next film on in rooms whose countdown ended more than a second ago yet nothing
/// started it (its node stopped); the number started.
pub async fn start_due(db: &Db, hub: &Hub, now: i64) -> Result<u64, sqlx::Error> {
    let due: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, next_at FROM rooms          WHERE next_at IS NOT NULL AND next_at <= $1 AND ended_at IS NULL",
    )
    .bind(now - 1_000)
    .fetch_all(&db.pool)
    .await?;
    let mut started = 0;
    for (room_id, at) in &due {
        started += u64::from(start_next(db, hub, room_id, *at).await);
    }
    Ok(started)
}

/// The countdown that was to end at `at` is over: the next film, unless it was cancelled.
async fn start_next(db: &Db, hub: &Hub, room_id: &str, at: i64) -> bool {
    match write_queue(db, hub, room_id, None, QueueChange::Due { at }).await {
        Ok(Written::New(_)) => true,
        Ok(_) | Err(LogError::Ended | LogError::Refused(_)) => false,
        Err(LogError::Db(e)) => {
            tracing::warn!(error = %e, "room channel: the next film did not start");
            false
        }
    }
}

/// A queue entry as stored, with its film and who added it.
#[derive(FromRow)]
struct EntryRow {
    entry_id: String,
    added_by: Option<String>,
    added_name: Option<String>,
    added_at: i64,
    #[sqlx(flatten)]
    card: CardRow,
}

/// A film the room played, as stored.
#[derive(FromRow)]
struct PlayedRow {
    started_at: i64,
    #[sqlx(flatten)]
    card: CardRow,
}

/// The room's choosing as it stands: for a (re)connecting client's welcome and the room page.
pub async fn state(db: &Db, room_id: &str) -> Result<QueueState, sqlx::Error> {
    let pool = &db.pool;
    let (film_id, choosing, next_entry, next_at): (String, Flag, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT film_id, choosing, next_entry, next_at FROM rooms WHERE id = $1")
            .bind(room_id)
            .fetch_one(pool)
            .await?;
    let film = if choosing.0 {
        None
    } else {
        sqlx::query_as::<_, CardRow>(&format!(
            "SELECT {CARD_COLUMNS} FROM films f WHERE f.id = $1"
        ))
        .bind(&film_id)
        .fetch_optional(pool)
        .await?
        .map(FilmCard::from)
    };
    let rows = sqlx::query_as::<_, EntryRow>(&format!(
        "SELECT q.id AS entry_id, q.added_by, u.display_name AS added_name, q.added_at, \
                {CARD_COLUMNS} \
         FROM room_queue q JOIN films f ON f.id = q.film_id \
         LEFT JOIN users u ON u.id = q.added_by \
         WHERE q.room_id = $1 ORDER BY q.added_at, q.id"
    ))
    .bind(room_id)
    .fetch_all(pool)
    .await?;
    let votes: Vec<(String, String)> =
        sqlx::query_as("SELECT entry_id, user_id FROM room_votes WHERE room_id = $1")
            .bind(room_id)
            .fetch_all(pool)
            .await?;
    let entries: Vec<QueueEntry> = rows
        .into_iter()
        .map(|row| QueueEntry {
            votes: votes
                .iter()
                .filter(|(e, _)| *e == row.entry_id)
                .map(|(_, u)| u.clone())
                .collect(),
            id: row.entry_id,
            film: row.card.into(),
            added_by: row.added_by,
            added_name: row.added_name,
            added_at: row.added_at,
        })
        .collect();
    let skips = sqlx::query_scalar("SELECT user_id FROM room_skips WHERE room_id = $1")
        .bind(room_id)
        .fetch_all(pool)
        .await?;
    let next = match (next_entry, next_at) {
        (Some(entry), Some(at)) => entries.iter().find(|e| e.id == entry).map(|e| NextUp {
            entry: entry.clone(),
            film: e.film.clone(),
            at,
        }),
        _ => None,
    };
    let played = sqlx::query_as::<_, PlayedRow>(&format!(
        "SELECT p.started_at, {CARD_COLUMNS} FROM room_plays p JOIN films f ON f.id = p.film_id \
         WHERE p.room_id = $1 ORDER BY p.seq"
    ))
    .bind(room_id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| Played {
        film: row.card.into(),
        at: row.started_at,
    })
    .collect();
    Ok(QueueState {
        film,
        entries,
        skips,
        next,
        played,
    })
}
