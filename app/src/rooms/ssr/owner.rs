//! What only a room's owner may change: its name, who controls playback, who is in it, its
//! link, its end. Each change is a room event, written through the room log.

use super::*;

/// The room, for its owner to change; `Forbidden` for other members, `NotFound` for anyone who
/// may not see it, `RoomEnded` once it has ended.
async fn owned(code: &str) -> Result<(Room, User), AppError> {
    let me = require_user().await?;
    let room = room_by_code(code).await?;
    if room.owner_id != me.id {
        return Err(match standing(&room.id, &me.id).await? {
            Standing::Joined | Standing::Invited => AppError::Forbidden,
            _ if !room.private => AppError::Forbidden,
            _ => AppError::NotFound,
        });
    }
    if room.ended_at.is_some() {
        return Err(AppError::RoomEnded);
    }
    Ok((room, me))
}

/// Writes the owner's change as the room's next event (with the change itself, in one
/// transaction) and tells everyone connected.
async fn owner_change(
    room: &Room,
    me: &User,
    kind: EventKind,
    update: RoomUpdate,
) -> Result<(), AppError> {
    write_event(
        &Parts::from_context(),
        &room.id,
        Some(me),
        kind,
        None,
        Some(update),
    )
    .await?;
    Ok(())
}

pub async fn rename(code: &str, name: &str) -> Result<String, AppError> {
    let name = domain::room_name(name)?;
    let (room, me) = owned(code).await?;
    owner_change(
        &room,
        &me,
        EventKind::Rename { name: name.clone() },
        RoomUpdate::Name(name.clone()),
    )
    .await?;
    Ok(name)
}

pub async fn lock_controls(code: &str, locked: bool) -> Result<bool, AppError> {
    let (room, me) = owned(code).await?;
    owner_change(
        &room,
        &me,
        EventKind::Controls { locked },
        RoomUpdate::ControlsLocked(locked),
    )
    .await?;
    Ok(locked)
}

/// Takes a participant out of the room; the link no longer lets them back in.
pub async fn remove(code: &str, user_id: &str) -> Result<(), AppError> {
    let (room, me) = owned(code).await?;
    if user_id == me.id {
        return Err(AppError::Invalid(Invalid::SelfRemove));
    }
    if matches!(
        standing(&room.id, user_id).await?,
        Standing::Stranger | Standing::Removed
    ) {
        return Err(AppError::NotFound);
    }
    let update = RoomUpdate::Removed {
        user: user_id.to_owned(),
        at: now_ms(),
    };
    let kind = EventKind::Remove {
        user: user_id.to_owned(),
    };
    owner_change(&room, &me, kind, update).await
}

/// "New link": a private room gets a new key (the old link stops admitting anyone) and, when one
/// is given, a new password. People already in the room stay; someone removed who kept the old
/// link or password cannot come back with another account. The new key link.
pub async fn new_link(code: &str, password: Option<&str>) -> Result<String, AppError> {
    let (room, _) = owned(code).await?;
    if room.ended_at.is_some() {
        return Err(AppError::RoomEnded);
    }
    if !room.private {
        return Err(AppError::Forbidden);
    }
    let hash = match domain::room_password(password)? {
        Some(p) => Some(hash_secret(p).await?),
        None => room.password_hash.clone(),
    };
    let key = random_code(KEY_LEN);
    sqlx::query("UPDATE rooms SET access_key = $1, password_hash = $2 WHERE id = $3")
        .bind(&key)
        .bind(hash)
        .bind(&room.id)
        .execute(&db().pool)
        .await?;
    Ok(format!("{}#k={key}", room_url(&room.code)))
}

pub async fn end(code: &str) -> Result<(), AppError> {
    let (room, me) = owned(code).await?;
    owner_change(&room, &me, EventKind::End, RoomUpdate::Ended(now_ms())).await
}
