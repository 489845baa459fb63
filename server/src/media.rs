//! Serving the library's files (`/media/films/<film>/<file>`).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

/// Only finished outputs are served: never a film's original (`source`), never a file still
/// being written (`….part`). Each output's name is new for each version, so a successful answer
/// may be cached for a year by browsers and any CDN in front.
pub async fn only_finished_files(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let hidden = path.split('/').any(|segment| {
        segment == "source" || segment.contains(".part") || segment.starts_with('.')
    });
    if hidden {
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
