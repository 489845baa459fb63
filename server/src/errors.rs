//! Error reports to Sentry (or GlitchTip, which takes the same DSN) when `--sentry-dsn` is set;
//! nothing at all when it is not. A panic or a 5xx answer is reported with the request's route
//! (`/films/{id}`, never the path with its ids) and method; cookies, credentials, request bodies
//! and query strings are never sent.

use std::sync::Arc;

/// Headers that may carry a secret or say who someone is; dropped from every report (the
/// Sentry middleware drops most of them already — this is the rule written down).
const PRIVATE_HEADERS: &[&str] = &[
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
];

/// The SDK's settings for `dsn`: this build's release, no personal data, every event scrubbed.
pub fn options(dsn: &str) -> sentry::ClientOptions {
    let mut options = sentry::ClientOptions::default();
    options.dsn = dsn.parse().ok();
    options.release = Some(format!("kino@{}", env!("CARGO_PKG_VERSION")).into());
    options.send_default_pii = false;
    options.attach_stacktrace = true;
    options.before_send = Some(Arc::new(|event| Some(scrub(event))));
    options
}

/// Starts reporting for the process (`None`: no DSN, nothing is sent). Keep the guard alive:
/// dropping it flushes what is queued.
pub fn init(dsn: Option<&str>) -> Option<sentry::ClientInitGuard> {
    let dsn = dsn.filter(|d| !d.trim().is_empty())?;
    let guard = sentry::init(options(dsn));
    if guard.is_enabled() {
        tracing::info!("error reports go to the Sentry DSN given");
        Some(guard)
    } else {
        tracing::warn!("--sentry-dsn is not a DSN; no error reports are sent");
        None
    }
}

/// What a report may say about the request: its method and URL without the query, and the
/// harmless headers.
fn scrub(mut event: sentry::protocol::Event<'static>) -> sentry::protocol::Event<'static> {
    if let Some(request) = event.request.as_mut() {
        request.cookies = None;
        request.data = None;
        request.query_string = None;
        request.env.clear();
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
        request
            .headers
            .retain(|name, _| !PRIVATE_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
    }
    event.user = None;
    event
}

/// The layers around the whole app that turn a panic into a 500 answer (the connection stays
/// up and the person sees an error, not a reset), and, when `report`, send it and every other
/// 5xx to Sentry with the request's route: each request gets its own Sentry scope, tagged by
/// `report_server_errors` before the handler runs, so the panic hook reports from it.
pub fn layers<S>(router: axum::Router<S>, report: bool) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let panics = tower_http::catch_panic::CatchPanicLayer::custom(answer_panic);
    if !report {
        return router.layer(panics);
    }
    router
        .layer(axum::middleware::from_fn(report_server_errors))
        .layer(panics)
        .layer(sentry::integrations::tower::SentryHttpLayer::new())
        .layer(sentry::integrations::tower::NewSentryLayer::<
            axum::extract::Request,
        >::new_from_top())
}

/// The answer to a request whose handler panicked (the panic itself is logged, and reported by
/// the panic hook).
fn answer_panic(_: Box<dyn std::any::Any + Send + 'static>) -> http::Response<axum::body::Body> {
    let mut res = http::Response::new(axum::body::Body::from(
        "Something went wrong on our side; please try again.",
    ));
    *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Middleware (inside the Sentry layers): tags the request's scope with its route, so a panic
/// while answering says where; reports a 5xx answer as an error event.
pub async fn report_server_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    sentry::configure_scope(|scope| {
        scope.set_tag("route", &route);
        scope.set_tag("method", &method);
    });
    let res = next.run(req).await;
    if res.status().is_server_error() {
        sentry::capture_message(
            &format!("{} {method} {route}", res.status().as_u16()),
            sentry::Level::Error,
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_keep_no_secrets() {
        let mut event = sentry::protocol::Event::new();
        event.request = Some(sentry::protocol::Request {
            url: "https://kino.example.org/api/login?next=/r/abc#k=secret"
                .parse()
                .ok(),
            method: Some("POST".into()),
            data: Some("username=ann&password=hunter22".into()),
            query_string: Some("next=/r/abc".into()),
            cookies: Some("kino_session=abc".into()),
            headers: [
                ("Cookie", "kino_session=abc"),
                ("Authorization", "Bearer x"),
                ("User-Agent", "Firefox"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..Default::default()
        });
        let event = scrub(event);
        let text = serde_json::to_string(&event).unwrap();
        for secret in ["hunter22", "kino_session", "Bearer", "secret", "next="] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("Firefox") && text.contains("/api/login"));
    }
}
