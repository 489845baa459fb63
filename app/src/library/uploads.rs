//! `/uploads`: resumable uploads, a small subset of the tus 1.0 protocol (core + creation +
//! termination), so a large film survives a dropped connection and continues from the last byte
//! the server has:
//!
//! - `POST /uploads` with `Upload-Length` (and `Upload-Metadata: filename <base64>`) → `201` and
//!   `Location: /uploads/<id>`;
//! - `HEAD /uploads/<id>` → `Upload-Offset`: how much the server has;
//! - `PATCH /uploads/<id>` with `Upload-Offset` (which must equal the server's) and the next
//!   bytes as `application/offset+octet-stream` → `204` and the new `Upload-Offset`;
//! - `DELETE /uploads/<id>` gives up.
//!
//! The body streams to disk (bounded memory whatever the file's size); only this route lifts the
//! body limit. Anyone signed in may upload: admins for the library (a finished upload becomes a
//! film, a poster or subtitles through the library's server functions), anyone else a video of
//! their own for a room, within `--upload-quota-mb`.

use super::ssr::Library;
use crate::accounts::session::signed_in_user_id;
use crate::db::{Db, Flag};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::{HeaderMap, HeaderValue, StatusCode};
use kino_media::uploads::UploadError;
use std::sync::Arc;

/// What the upload handlers need (the server makes it from its state).
#[derive(Clone)]
pub struct LibraryParts {
    pub db: Db,
    pub library: Arc<Library>,
}

const TUS_VERSION: &str = "1.0.0";

/// Every answer says which protocol version it speaks and is never cached.
fn answer(status: StatusCode, headers: &[(&str, String)], body: &str) -> Response {
    let mut response = (status, body.to_owned()).into_response();
    let h = response.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(name, value);
        }
    }
    response
}

fn refuse(status: StatusCode, why: &str) -> Response {
    answer(status, &[], why)
}

/// Who is uploading: the signed-in person's id and whether they are an admin, or the answer to
/// give instead.
async fn uploader(
    parts: &LibraryParts,
    session: &tower_sessions::Session,
) -> Result<(String, bool), Response> {
    let user = match signed_in_user_id(&parts.db, session).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(refuse(StatusCode::UNAUTHORIZED, "log in first")),
        Err(_) => return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
    };
    let is_admin: Option<Flag> = sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1")
        .bind(&user)
        .fetch_optional(&parts.db.pool)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "upload: cannot read the user");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })?;
    match is_admin {
        Some(flag) => Ok((user, flag.0)),
        None => Err(refuse(StatusCode::UNAUTHORIZED, "log in first")),
    }
}

async fn owner(
    parts: &LibraryParts,
    session: &tower_sessions::Session,
) -> Result<String, Response> {
    uploader(parts, session).await.map(|(user, _)| user)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `filename` of tus's `Upload-Metadata` (`key base64value,key base64value`).
fn metadata_filename(headers: &HeaderMap) -> String {
    use base64::Engine;
    let Some(raw) = headers.get("upload-metadata").and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    raw.split(',')
        .filter_map(|pair| {
            let mut it = pair.trim().splitn(2, ' ');
            Some((it.next()?, it.next()?))
        })
        .find(|(key, _)| *key == "filename")
        .and_then(|(_, value)| base64::engine::general_purpose::STANDARD.decode(value).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

fn upload_failure(e: UploadError) -> Response {
    let status = match &e {
        UploadError::NotFound { .. } | UploadError::InvalidId { .. } => StatusCode::NOT_FOUND,
        UploadError::Forbidden { .. } => StatusCode::FORBIDDEN,
        UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadError::Conflict { expected, .. } => {
            return answer(
                StatusCode::CONFLICT,
                &[("upload-offset", expected.to_string())],
                &e.to_string(),
            )
        }
        UploadError::Locked { .. } => StatusCode::LOCKED,
        UploadError::ExceedsLength { .. } | UploadError::Incomplete { .. } => {
            StatusCode::BAD_REQUEST
        }
        // The client went away mid-piece: what arrived is kept, it resumes from there.
        UploadError::Interrupted { .. } => StatusCode::BAD_REQUEST,
        _ => {
            tracing::error!(error = %e, "upload store");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "cannot store the upload");
        }
    };
    refuse(status, &e.to_string())
}

/// `POST /uploads`.
pub async fn create(
    State(parts): State<LibraryParts>,
    session: tower_sessions::Session,
    headers: HeaderMap,
) -> Response {
    let (owner, is_admin) = match uploader(&parts, &session).await {
        Ok(who) => who,
        Err(answer) => return answer,
    };
    let Some(length) = header_u64(&headers, "upload-length") else {
        return refuse(StatusCode::BAD_REQUEST, "Upload-Length is required");
    };
    // Admins fill the library (bounded by --max-upload-mb); anyone else brings a video for a
    // room of their own, within their quota.
    if !is_admin {
        match super::own::quota_left(&parts.db, &owner, parts.library.quota_bytes).await {
            Ok(left) if length > left => {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "the file ({}) is larger than what is left of your quota ({})",
                        kino_media::human_bytes(length),
                        kino_media::human_bytes(left)
                    ),
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "upload: cannot read the quota");
                return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        }
    }
    let filename = metadata_filename(&headers);
    match parts
        .library
        .uploads
        .create(&owner, length, &filename, None)
        .await
    {
        Ok(info) => answer(
            StatusCode::CREATED,
            &[
                ("location", format!("/uploads/{}", info.id)),
                ("upload-offset", "0".into()),
            ],
            "",
        ),
        Err(e) => upload_failure(e),
    }
}

/// `HEAD /uploads/<id>`.
pub async fn offset(
    State(parts): State<LibraryParts>,
    session: tower_sessions::Session,
    Path(id): Path<String>,
) -> Response {
    let owner = match owner(&parts, &session).await {
        Ok(owner) => owner,
        Err(answer) => return answer,
    };
    match parts.library.uploads.info(&id).await {
        Ok(info) if info.owner != owner => refuse(StatusCode::FORBIDDEN, "not your upload"),
        Ok(info) => answer(
            StatusCode::OK,
            &[
                ("upload-offset", info.offset.to_string()),
                ("upload-length", info.length.to_string()),
            ],
            "",
        ),
        Err(e) => upload_failure(e),
    }
}

/// `PATCH /uploads/<id>`.
pub async fn append(
    State(parts): State<LibraryParts>,
    session: tower_sessions::Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let owner = match owner(&parts, &session).await {
        Ok(owner) => owner,
        Err(answer) => return answer,
    };
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/offset+octet-stream" {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the bytes as application/offset+octet-stream",
        );
    }
    let Some(offset) = header_u64(&headers, "upload-offset") else {
        return refuse(StatusCode::BAD_REQUEST, "Upload-Offset is required");
    };
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    match parts
        .library
        .uploads
        .append(&id, &owner, offset, stream)
        .await
    {
        Ok(new_offset) => answer(
            StatusCode::NO_CONTENT,
            &[("upload-offset", new_offset.to_string())],
            "",
        ),
        Err(e) => upload_failure(e),
    }
}

/// `DELETE /uploads/<id>`.
pub async fn cancel(
    State(parts): State<LibraryParts>,
    session: tower_sessions::Session,
    Path(id): Path<String>,
) -> Response {
    let owner = match owner(&parts, &session).await {
        Ok(owner) => owner,
        Err(answer) => return answer,
    };
    match parts.library.uploads.cancel(&id, &owner).await {
        Ok(()) => answer(StatusCode::NO_CONTENT, &[], ""),
        Err(e) => upload_failure(e),
    }
}

/// The routes, with the body limit lifted (the store enforces `--max-upload-mb`).
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    LibraryParts: axum::extract::FromRef<S>,
{
    use axum::routing::{head, post};
    axum::Router::new()
        .route("/uploads", post(create))
        .route("/uploads/{id}", head(offset).patch(append).delete(cancel))
        .layer(axum::extract::DefaultBodyLimit::disable())
}
