//! Links inside Kino: the `?next=` a page passes to log-in and back, made safe to follow.
//! Base layer.

pub fn with_next(path: &str, next: &str) -> String {
    with_query(path, "next", next)
}

/// `path?name=value`, or just `path` when `value` is empty.
pub fn with_query(path: &str, name: &str, value: &str) -> String {
    if value.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{name}={}", urlencode(value))
    }
}

/// The log-in link for a page that needs an account, returning to `here` afterwards.
pub fn login_link(here: &str) -> String {
    with_next("/login", here)
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to send the user after logging in: only a path on this site, normalised the way a
/// browser resolves it (`/./`, `/../`) and percent-encoded (a Cyrillic path survives the
/// `Location` header). Anything else (another host, `//host`, `/\host`, `/.//host`, a scheme,
/// control characters) falls back to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return "/".to_owned();
    };
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if !plain {
        return "/".to_owned();
    }
    let Ok(resolved) = url::Url::parse("http://kino.invalid/").and_then(|base| base.join(next))
    else {
        return "/".to_owned();
    };
    // An empty segment anywhere (`//`, which `/.//` also becomes) is never one of our paths,
    // and a browser or router may read what follows it as a host.
    if resolved.host_str() != Some("kino.invalid") || resolved.path().contains("//") {
        return "/".to_owned();
    }
    resolved[url::Position::BeforePath..].to_owned()
}

/// Is `origin` (a browser's `Origin` header) Kino's own? Either the public URL's origin, or the
/// origin of the address the request was sent to (its `Host`): a page opened as
/// `http://localhost:3000`, or at the machine's LAN address, talks to the same server it was
/// served from (same-origin, as Phoenix's `check_origin` does). A page on any other site names
/// its own host in `Origin`, which matches neither. `null` and anything that is not
/// `http(s)://host[:port]` never match.
pub fn is_own_origin(origin: &str, host: Option<&str>, public_origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(public_origin.trim_end_matches('/')) {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let plain = !authority.is_empty()
        && !authority.contains(['/', '@', '?', '#', '\\'])
        && !authority
            .chars()
            .any(|c| c.is_control() || c.is_whitespace());
    plain && host.is_some_and(|host| authority.eq_ignore_ascii_case(host.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_carried_encoded() {
        assert_eq!(with_next("/login", ""), "/login");
        assert_eq!(
            with_next("/login", "/r/ab?x=1"),
            "/login?next=/r/ab%3Fx%3D1"
        );
    }

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next(Some("/r/abc123?x=1#k=2")), "/r/abc123?x=1#k=2");
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("")), "/");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/ok\\..\\x",
            "/\n//evil",
            "/.//evil.example",
            "/..//evil.example",
            "/a/../..//evil.example",
            "/%2e%2e//evil.example",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?} must not be followed");
        }
        assert_eq!(safe_next(Some("/фильм")), "/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC");
        assert_eq!(safe_next(Some("/a/./b/../c?x=1")), "/a/c?x=1");
    }

    #[test]
    fn own_origin_is_the_public_url_or_the_address_the_page_was_opened_at() {
        let public = "http://127.0.0.1:3000";
        assert!(is_own_origin("http://127.0.0.1:3000", None, public));
        assert!(is_own_origin(
            "http://localhost:3000",
            Some("localhost:3000"),
            public
        ));
        assert!(is_own_origin(
            "http://192.168.1.5:3000",
            Some("192.168.1.5:3000"),
            public
        ));
        // Another site, even one that claims our host, or a sibling port.
        assert!(!is_own_origin(
            "http://evil.example",
            Some("localhost:3000"),
            public
        ));
        assert!(!is_own_origin(
            "http://localhost:3001",
            Some("localhost:3000"),
            public
        ));
        assert!(!is_own_origin("http://localhost:3000", None, public));
        assert!(!is_own_origin("null", Some("null"), public));
        assert!(!is_own_origin("file://", Some(""), public));
        assert!(!is_own_origin(
            "http://u@localhost:3000",
            Some("u@localhost:3000"),
            public
        ));
    }
}
