//! Who may open a room's socket: `GET /ws/rooms/<code>` upgrades for a signed-in member of the
//! room (not removed) whose page is on the app's own origin, and hands the socket to
//! `Connection`; anyone else gets 401/403/404 and no socket. The room page, when its socket is
//! refused, asks `rooms/open` why and says so.

use super::socket::Connection;
use super::Parts;
use crate::accounts::User;
use crate::error::AppError;
use crate::rooms::protocol::MAX_FRAME_BYTES;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sqlx::FromRow;

/// `GET /ws/rooms/<code>`: upgrades for a member from the app's own origin; anyone else gets
/// 401/403/404 and no socket.
pub async fn upgrade(
    State(app): State<Parts>,
    session: tower_sessions::Session,
    Path(code): Path<String>,
    headers: http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let from = Caller {
        origin: header(http::header::ORIGIN),
        host: header(http::header::HOST),
    };
    let session_id = session.id().map(|id| id.to_string());
    match admit(&app, &session, &code, from).await {
        Ok((user, room_id)) => ws
            .read_buffer_size(4 * 1024)
            .write_buffer_size(4 * 1024)
            .max_write_buffer_size(1024 * 1024)
            .max_message_size(MAX_FRAME_BYTES)
            .max_frame_size(MAX_FRAME_BYTES)
            .on_upgrade(move |socket| async move {
                metrics::counter!("kino_websocket_connections_total").increment(1);
                let hub = app.hub.clone();
                let (sink, stream) = socket.split();
                Connection::run(app, user, session_id, room_id.clone(), sink, stream).await;
                hub.tidy(&room_id);
            }),
        Err(e) => (
            http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::FORBIDDEN),
            e.to_string(),
        )
            .into_response(),
    }
}

/// The page that opens a socket: its `Origin`, and the `Host` it connected to.
struct Caller<'a> {
    origin: Option<&'a str>,
    host: Option<&'a str>,
}

/// What admitting someone needs: the room's id, their membership of it (NULLs when they have
/// none) and who they are.
#[derive(Debug, FromRow)]
struct AdmissionRow {
    room_id: String,
    joined_at: Option<i64>,
    removed_at: Option<i64>,
    username: String,
    display_name: String,
    session_epoch: i64,
}

/// Who may connect: a signed-in member of the room (not removed), from the app's own origin
/// (the public URL's, or the address the page was opened at; `links::is_own_origin`).
/// The user and the room's id.
async fn admit(
    app: &Parts,
    session: &tower_sessions::Session,
    code: &str,
    from: Caller<'_>,
) -> Result<(User, String), AppError> {
    let own = crate::links::is_own_origin(
        from.origin.unwrap_or_default(),
        from.host,
        &app.config.public_url,
    );
    if !own {
        return Err(AppError::Forbidden);
    }
    if !crate::codes::is_code(code) {
        return Err(AppError::NotFound);
    }
    let (user_id, epoch) = crate::accounts::session::session_user_id(session)
        .await
        .ok_or(AppError::Unauthorized)?;
    let row = sqlx::query_as::<_, AdmissionRow>(
        "SELECT r.id AS room_id, m.joined_at, m.removed_at, u.username, u.display_name, \
                u.session_epoch \
         FROM rooms r JOIN users u ON u.id = $2 \
         LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = u.id \
         WHERE r.code = $1",
    )
    .bind(code)
    .bind(&user_id)
    .fetch_optional(&app.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.session_epoch != epoch {
        // Signed out elsewhere (a password change).
        return Err(AppError::Unauthorized);
    }
    let member = row.joined_at.is_some() && row.removed_at.is_none();
    if !member {
        return Err(AppError::Forbidden);
    }
    Ok((
        User {
            id: user_id,
            username: row.username,
            display_name: row.display_name,
            is_admin: false,
        },
        row.room_id,
    ))
}
