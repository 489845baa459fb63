//! Serving the library's files (`/media/films/<film>/<file>`), and rooms' own videos through
//! signed, expiring URLs (`/media/private/<expires>/<signature>/<film>/<file>`).

use app::library::signing::{Refused, PRIVATE_DIR};
use app::library::uploads::LibraryParts;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Only finished outputs are served: never a film's original (`source`), never a file still
/// being written (`….part`). Each output's name is new for each version, so a successful answer
/// may be cached for a year by browsers and any CDN in front.
pub async fn only_finished_files(req: Request, next: Next) -> Response {
    if is_hidden(req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = next.run(req).await;
    if matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

/// A film's original, a file being written, or a dot file: never served.
fn is_hidden(path: &str) -> bool {
    path.split('/')
        .any(|segment| segment == "source" || segment.contains(".part") || segment.starts_with('.'))
}

/// A file of a room's own video, for whoever holds a URL signed for a member of the room
/// (see `app::library::signing`). An expired, forged or malformed signature gets 403; the
/// room's player then asks for fresh URLs. Answers may be kept by the browser only, and only
/// until the signature expires.
pub async fn private_file(
    State(parts): State<LibraryParts>,
    Path((expires, signature, film, file)): Path<(String, String, String, String)>,
    req: Request,
) -> Response {
    if is_hidden(&film) || is_hidden(&file) || film.contains("..") || file.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = match parts.library.signing_key(&parts.db).await {
        Ok(key) => key,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the media URL key");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let now = app::dates::now_ms() / 1000;
    match key.verify(&expires, &signature, &film, now) {
        Ok(()) => {}
        Err(why) => {
            let text = match why {
                Refused::Expired => "this link to the video has expired",
                Refused::Forged | Refused::Malformed => "this link to the video is not valid",
            };
            return (StatusCode::FORBIDDEN, text).into_response();
        }
    }
    let (mut head, body) = req.into_parts();
    let Ok(uri) = format!("/{film}/{file}").parse::<http::Uri>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    head.uri = uri;
    let files = ServeDir::new(parts.library.dir.join(PRIVATE_DIR));
    let mut response = match files.oneshot(Request::from_parts(head, body)).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let left = expires
            .parse::<i64>()
            .unwrap_or(0)
            .saturating_sub(now)
            .max(0);
        if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={left}")) {
            response
                .headers_mut()
                .insert(http::header::CACHE_CONTROL, value);
        }
    }
    response
}
