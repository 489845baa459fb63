//! What every response and every request passes through for safety: the client's address (the
//! proxy's client only when the proxy is trusted), refusing state-changing requests from other
//! origins, and the headers that keep a page from being framed, sniffed or scripted by others.

use app::accounts::session::ClientAddr;
use app::error::AppError;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What the middleware here needs to know.
#[derive(Debug, Clone)]
pub struct Guard {
    /// `scheme://host[:port]` of `--public-url`: the only origin allowed to change state.
    pub origin: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_addr(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in list.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage from the client itself: stop believing the list here.
            Err(_) => return client,
        }
    }
    client
}

/// Puts `ClientAddr` into every request's extensions.
pub async fn remember_client(State(guard): State<Guard>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = client_addr(peer, forwarded, &guard.trusted_proxies);
    req.extensions_mut().insert(ClientAddr(client));
    next.run(req).await
}

/// Is a request from a browser on another origin (another site, port or subdomain)? Our own
/// origin is the public URL's, or the one the page was opened at (`app::links::is_own_origin`).
/// Browsers send `Origin` with every POST and `Sec-Fetch-Site` with every request; a client
/// that sends neither (curl, a link preview bot) is not a victim's browser.
pub fn is_cross_origin(headers: &http::HeaderMap, own_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none": typed into the address bar or a bookmark.
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match headers.get(header::ORIGIN) {
        Some(origin) => origin
            .to_str()
            .map_or(true, |o| !app::links::is_own_origin(o, host, own_origin)),
        None => false,
    }
}

/// Refuses a state-changing request (anything but GET, HEAD, OPTIONS) from another origin
/// with 403 `CrossSite`, before it reaches a server function. Logging in from another site's
/// form (login CSRF) and a sibling subdomain calling server functions stop here.
pub async fn same_origin_writes(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && is_cross_origin(req.headers(), &guard.origin) {
        tracing::info!(
            method = %req.method(),
            path = req.uri().path(),
            origin = ?req.headers().get(header::ORIGIN),
            "refused a cross-origin request"
        );
        return AppError::CrossSite.into_response();
    }
    next.run(req).await
}

/// The policy for pages: scripts only with this response's nonce (the hydration script and
/// the data leptos inlines) or from our own `/pkg`, WebAssembly compiled from our own file,
/// nothing framed, no plugins, no `<base>`, forms only to us.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// For everything that is not a page (JSON, images, media): nothing may run or be framed.
const OTHER_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
                            form-action 'none'; sandbox";

/// Adds the headers every response carries; a page has set its own (nonce) policy already.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(OTHER_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = [ip("10.0.0.1")];
        // A direct client cannot pick its own address.
        assert_eq!(
            client_addr(ip("203.0.113.9"), Some("1.2.3.4"), &proxy),
            ip("203.0.113.9")
        );
        // Through the proxy: the address the proxy saw, not what the client prepended.
        assert_eq!(
            client_addr(ip("10.0.0.1"), Some("1.2.3.4, 198.51.100.7"), &proxy),
            ip("198.51.100.7")
        );
        assert_eq!(client_addr(ip("10.0.0.1"), None, &proxy), ip("10.0.0.1"));
        assert_eq!(
            client_addr(ip("10.0.0.1"), Some("junk, 10.0.0.1"), &proxy),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn cross_origin_writes_are_recognised() {
        let own = "http://127.0.0.1:3000";
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(!is_cross_origin(&with(&[]), own), "curl and bots");
        assert!(!is_cross_origin(
            &with(&[
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin")
            ]),
            own
        ));
        assert!(is_cross_origin(
            &with(&[("origin", "http://127.0.0.1:3001")]),
            own
        ));
        assert!(is_cross_origin(&with(&[("origin", "null")]), own));
        assert!(is_cross_origin(
            &with(&[("sec-fetch-site", "same-site")]),
            own
        ));
        assert!(is_cross_origin(
            &with(&[("sec-fetch-site", "cross-site")]),
            own
        ));
    }
}
