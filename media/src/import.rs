//! Importing a video from a link: download it into our own storage without letting the link
//! reach places it must not (server-side request forgery, "SSRF").
//!
//! An admin pastes a URL and the Kino server fetches it. Without care, that turns Kino into a
//! proxy into its own network: `http://127.0.0.1:5432/`, the router's admin page, or the cloud
//! metadata service at `169.254.169.254` that hands out credentials. So [`download`]:
//!
//! * accepts only `http`/`https` links without embedded credentials;
//! * resolves the host itself and refuses it when **any** of its addresses is not public
//!   (see [`is_forbidden`]); a host with one public and one private address is refused too,
//!   because the connection could go to either;
//! * pins the connection to exactly the addresses it checked, so a DNS server that answers
//!   differently the second time ("DNS rebinding") cannot swap in another address;
//! * follows redirects itself, repeating every check at every hop;
//! * bounds the size (announced and actually received), the time, and the memory used.
//!
//! `allow_private` (the `--import-allow-private` option) lifts the private-network rule for
//! home setups whose videos live on a NAS. It never lifts the refusal of cloud metadata
//! services, the link-local range they live in, and addresses that are never a web server
//! (unspecified, multicast, broadcast): see [`check_target`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use tokio::io::{AsyncWriteExt, BufWriter};
use url::{Host, Url};

/// What an import may do. Built from the server's settings.
#[derive(Clone, Debug)]
pub struct ImportPolicy {
    /// Allow private, loopback and other non-public addresses (`--import-allow-private`).
    /// Cloud metadata services stay refused even then.
    pub allow_private: bool,
    /// The largest file accepted, in bytes; checked against `Content-Length` before the
    /// download starts and against the bytes actually received while it runs.
    pub max_bytes: u64,
    /// How many redirects are followed before giving up (default 5).
    pub max_redirects: u8,
    /// The longest the whole import may take: name look-ups, redirects and the transfer.
    pub timeout: Duration,
    /// The longest a single name look-up or TCP/TLS connection may take.
    pub connect_timeout: Duration,
}

impl Default for ImportPolicy {
    /// Public addresses only, 64 GiB, 5 redirects, 6 hours in total, 15 s to connect:
    /// generous enough for a feature film over a slow link, finite so nothing hangs forever.
    fn default() -> Self {
        Self {
            allow_private: false,
            max_bytes: 64 << 30,
            max_redirects: 5,
            timeout: Duration::from_secs(6 * 3600),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// A finished download.
#[derive(Clone, Debug)]
pub struct Downloaded {
    /// Bytes written to the destination file.
    pub bytes: u64,
    /// The `Content-Type` the server sent, as sent. Not trusted: the caller probes the file.
    pub content_type: Option<String>,
    /// The URL the file finally came from, after redirects.
    pub final_url: Url,
}

/// Why an import failed. Every message is a sentence an admin can act on, and names the
/// address or URL concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("{input:?} is not a valid link: {reason}")]
    InvalidUrl {
        input: String,
        reason: url::ParseError,
    },

    #[error("Kino imports only http:// and https:// links, not {scheme}: links ({url})")]
    UnsupportedScheme { scheme: String, url: Url },

    /// `url` has the credentials removed, so they do not end up in logs.
    #[error("the link {url} contains a user name or password; Kino does not send credentials written into links")]
    Credentials { url: Url },

    #[error("the link {url} does not name a host to download from")]
    NoHost { url: Url },

    #[error("could not look up the host {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },

    #[error("looking up the host {host} took longer than {}", human_duration(*after))]
    ResolveTimeout { host: String, after: Duration },

    #[error("the host {host} has no addresses")]
    NoAddress { host: String },

    /// A non-public address, refused unless `allow_private`.
    #[error("the address {addr}{} is {reason}; Kino does not fetch from there (--import-allow-private lifts this)", of_host(host, addr))]
    ForbiddenAddress {
        host: String,
        addr: IpAddr,
        reason: &'static str,
    },

    /// An address refused whatever the settings (cloud metadata, multicast, …).
    #[error(
        "the address {addr}{} is {reason}; Kino never fetches from there, whatever the settings",
        of_host(host, addr)
    )]
    NeverAllowed {
        host: String,
        addr: IpAddr,
        reason: &'static str,
    },

    #[error(
        "the link redirected more than {max} times (last to {url}); Kino stopped following it"
    )]
    TooManyRedirects { url: Url, max: u8 },

    #[error("the server at {url} answered with a redirect ({status}) but {problem}")]
    BadRedirect {
        url: Url,
        status: u16,
        problem: String,
    },

    #[error("the server at {url} answered {status} {}", StatusCode::from_u16(*status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""))]
    Http { status: u16, url: Url },

    #[error("the link leads to a web page, not a video file ({url} is {content_type}); link to the video file itself")]
    NotAVideo { content_type: String, url: Url },

    #[error("the file at {url} is larger than the import limit of {}{}", crate::human_bytes(*max_bytes), declared.map(|n| format!(" (the server announced {})", crate::human_bytes(n))).unwrap_or_default())]
    TooLarge {
        url: Url,
        max_bytes: u64,
        /// The `Content-Length` when the refusal came before the download; `None` when the
        /// limit was crossed while receiving.
        declared: Option<u64>,
    },

    #[error("the import from {url} did not finish within {}", human_duration(*after))]
    Timeout { url: Url, after: Duration },

    #[error("could not connect to {url} within {}", human_duration(*after))]
    ConnectTimeout { url: Url, after: Duration },

    #[error("could not connect to {url}: {}", root_cause(source))]
    Connect {
        url: Url,
        #[source]
        source: reqwest::Error,
    },

    #[error("the download from {url} failed: {}", root_cause(source))]
    Transfer {
        url: Url,
        #[source]
        source: reqwest::Error,
    },

    #[error("could not set up the HTTP client: {}", root_cause(source))]
    Client {
        #[source]
        source: reqwest::Error,
    },

    #[error("could not write the download to {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Downloads `url` into `dest`, following the rules in the module documentation.
///
/// `dest` is created (or truncated) only once a response has passed the checks (status,
/// content type, announced size). If the download fails after that, the partial file is
/// removed, so an `Err` never leaves a file of ours at `dest`.
///
/// `progress(bytes_so_far, total)` is called with 0 before the first byte and after every
/// chunk received; `total` is the announced `Content-Length`, if any. It is called often
/// (every few KiB), so it should be cheap; throttle inside it if it sends anything anywhere.
///
/// Memory use is bounded (one network chunk plus a 256 KiB write buffer) whatever the size.
pub async fn download(
    url: &str,
    dest: &Path,
    policy: &ImportPolicy,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Downloaded, ImportError> {
    let start = Url::parse(url).map_err(|reason| ImportError::InvalidUrl {
        input: url.to_owned(),
        reason,
    })?;
    let mut state = State {
        url: start,
        created: false,
    };
    let outcome = tokio::time::timeout(
        policy.timeout,
        fetch(&mut state, dest, policy, &mut progress),
    )
    .await
    .unwrap_or_else(|_| {
        Err(ImportError::Timeout {
            url: redact(&state.url),
            after: policy.timeout,
        })
    });
    if outcome.is_err() && state.created {
        if let Err(e) = tokio::fs::remove_file(dest).await {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %dest.display(), error = %e, "could not remove a partial import");
            }
        }
    }
    outcome
}

/// What [`download`] needs to know after its inner future was dropped by the timeout.
struct State {
    /// The URL of the current hop.
    url: Url,
    /// Whether `dest` was created, so there is something to clean up.
    created: bool,
}

/// The redirect loop: check, connect (pinned), and either follow or save.
async fn fetch(
    state: &mut State,
    dest: &Path,
    policy: &ImportPolicy,
    progress: &mut impl FnMut(u64, Option<u64>),
) -> Result<Downloaded, ImportError> {
    let mut redirects: u8 = 0;
    loop {
        let url = state.url.clone();
        let addrs = match tokio::time::timeout(
            policy.connect_timeout,
            check_target(&url, policy.allow_private),
        )
        .await
        {
            Ok(checked) => checked?,
            Err(_) => {
                return Err(ImportError::ResolveTimeout {
                    host: url.host_str().unwrap_or_default().to_owned(),
                    after: policy.connect_timeout,
                })
            }
        };
        tracing::debug!(%url, ?addrs, "import: fetching");
        let client = pinned_client(&url, &addrs, policy)?;
        let mut response = client
            .get(url.clone())
            // We store the bytes as they are; a compressed body would not be the video.
            .header(ACCEPT_ENCODING, "identity")
            .send()
            .await
            .map_err(|e| request_error(&url, e, policy))?;

        let status = response.status();
        if is_followed_redirect(status) {
            let next = redirect_target(&url, &response)?;
            if redirects >= policy.max_redirects {
                return Err(ImportError::TooManyRedirects {
                    url: redact(&next),
                    max: policy.max_redirects,
                });
            }
            redirects += 1;
            tracing::debug!(from = %url, to = %next, "import: following a redirect");
            state.url = next;
            continue;
        }
        if !status.is_success() {
            return Err(ImportError::Http {
                status: status.as_u16(),
                url,
            });
        }

        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(ct) = content_type.as_deref().filter(|ct| is_web_page(ct)) {
            return Err(ImportError::NotAVideo {
                content_type: ct.to_owned(),
                url,
            });
        }
        let total = response.content_length();
        if let Some(declared) = total.filter(|&n| n > policy.max_bytes) {
            return Err(ImportError::TooLarge {
                url,
                max_bytes: policy.max_bytes,
                declared: Some(declared),
            });
        }

        let io_err = |source| ImportError::Io {
            path: dest.to_owned(),
            source,
        };
        let file = tokio::fs::File::create(dest).await.map_err(io_err)?;
        state.created = true;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut bytes: u64 = 0;
        progress(0, total);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| ImportError::Transfer {
                url: url.clone(),
                source,
            })?
        {
            bytes += chunk.len() as u64;
            if bytes > policy.max_bytes {
                return Err(ImportError::TooLarge {
                    url,
                    max_bytes: policy.max_bytes,
                    declared: None,
                });
            }
            out.write_all(&chunk).await.map_err(io_err)?;
            progress(bytes, total);
        }
        out.flush().await.map_err(io_err)?;
        // The caller moves the file into the library next; make sure it is really on disk.
        out.into_inner().sync_all().await.map_err(io_err)?;
        tracing::info!(%url, bytes, "import: downloaded");
        return Ok(Downloaded {
            bytes,
            content_type,
            final_url: url,
        });
    }
}

/// Checks one hop: scheme, credentials, host, and every address the host resolves to.
/// Returns the addresses to connect to (with the URL's port), all of them allowed.
///
/// Called before any connection of [`download`], for the first URL and for every redirect,
/// so a refused target never receives a packet. With `allow_private`, non-public addresses
/// pass, but the addresses [`is_forbidden`] marks as never allowed (cloud metadata services
/// such as `169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`, the IPv4 link-local range
/// they live in, unspecified, multicast, broadcast) are still refused.
pub async fn check_target(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, ImportError> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(ImportError::UnsupportedScheme {
                scheme: other.to_owned(),
                url: redact(url),
            })
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ImportError::Credentials { url: redact(url) });
    }
    let no_host = || ImportError::NoHost { url: redact(url) };
    let port = url.port_or_known_default().ok_or_else(no_host)?;
    let (host, addrs) = match url.host().ok_or_else(no_host)? {
        // IP literals, including the forms `url` normalises (`2130706433`, `0x7f.1` → 127.0.0.1).
        Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Host::Domain(name) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|source| ImportError::Resolve {
                    host: name.to_owned(),
                    source,
                })?
                .collect();
            if addrs.is_empty() {
                return Err(ImportError::NoAddress {
                    host: name.to_owned(),
                });
            }
            (name.to_owned(), addrs)
        }
    };
    for addr in &addrs {
        match classify(addr.ip()) {
            Verdict::Public => {}
            Verdict::NonPublic(_) if allow_private => {}
            Verdict::NonPublic(reason) => {
                return Err(ImportError::ForbiddenAddress {
                    host,
                    addr: addr.ip(),
                    reason,
                })
            }
            Verdict::Never(reason) => {
                return Err(ImportError::NeverAllowed {
                    host,
                    addr: addr.ip(),
                    reason,
                })
            }
        }
    }
    Ok(addrs)
}

/// Whether Kino refuses to fetch from `ip` by default: anything that is not a public unicast
/// address of the internet. IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo) are judged by that
/// IPv4 address, because that is where the packets end up.
pub fn is_forbidden(ip: IpAddr) -> bool {
    classify(ip) != Verdict::Public
}

/// How an address is treated, and the words for the error message ("the address X is …").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Public,
    /// Refused unless `allow_private`.
    NonPublic(&'static str),
    /// Refused always.
    Never(&'static str),
}

const METADATA: &str = "a cloud metadata service, which hands out the server's credentials";
const LINK_LOCAL_V4: &str =
    "link-local (169.254.0.0/16), where cloud providers serve instance metadata and credentials";

/// IPv4 special-purpose ranges (IANA registry), most specific first where they nest.
#[rustfmt::skip]
const V4_RANGES: &[([u8; 4], u8, Verdict)] = &[
    // Cloud metadata services that sit outside 169.254.0.0/16.
    ([100, 100, 100, 200], 32, Verdict::Never(METADATA)), // Alibaba Cloud
    ([192, 0, 0, 192], 32, Verdict::Never(METADATA)),     // Oracle Cloud (legacy)
    ([169, 254, 0, 0], 16, Verdict::Never(LINK_LOCAL_V4)),
    ([255, 255, 255, 255], 32, Verdict::Never("the broadcast address")),
    ([0, 0, 0, 0], 8, Verdict::Never("in 0.0.0.0/8 (\"this host\"), which is not a destination")),
    ([224, 0, 0, 0], 4, Verdict::Never("a multicast address")),
    ([127, 0, 0, 0], 8, Verdict::NonPublic("a loopback address of this machine")),
    ([10, 0, 0, 0], 8, Verdict::NonPublic("inside a private network (10.0.0.0/8)")),
    ([172, 16, 0, 0], 12, Verdict::NonPublic("inside a private network (172.16.0.0/12)")),
    ([192, 168, 0, 0], 16, Verdict::NonPublic("inside a private network (192.168.0.0/16)")),
    ([100, 64, 0, 0], 10, Verdict::NonPublic("inside a carrier-grade NAT network (100.64.0.0/10)")),
    ([192, 0, 0, 0], 24, Verdict::NonPublic("reserved for protocol assignments (192.0.0.0/24)")),
    ([192, 0, 2, 0], 24, Verdict::NonPublic("reserved for documentation (192.0.2.0/24)")),
    ([198, 51, 100, 0], 24, Verdict::NonPublic("reserved for documentation (198.51.100.0/24)")),
    ([203, 0, 113, 0], 24, Verdict::NonPublic("reserved for documentation (203.0.113.0/24)")),
    ([198, 18, 0, 0], 15, Verdict::NonPublic("reserved for network benchmarks (198.18.0.0/15)")),
    ([192, 88, 99, 0], 24, Verdict::NonPublic("the retired 6to4 relay range (192.88.99.0/24)")),
    ([240, 0, 0, 0], 4, Verdict::NonPublic("in the reserved range 240.0.0.0/4")),
];

/// IPv6 ranges that carry no IPv4 address, most specific first where they nest.
#[rustfmt::skip]
const V6_RANGES: &[([u16; 8], u8, Verdict)] = &[
    ([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], 128, Verdict::Never(METADATA)), // AWS
    ([0; 8], 128, Verdict::Never("the unspecified address ::, which is not a destination")),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, Verdict::NonPublic("the loopback address of this machine")),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Verdict::Never("a multicast address")),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Verdict::NonPublic("inside a private network (unique local fc00::/7)")),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Verdict::NonPublic("link-local (fe80::/10)")),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Verdict::NonPublic("site-local (fec0::/10), a retired private range")),
    ([0x0064, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Verdict::NonPublic("inside a local NAT64 network (64:ff9b:1::/48)")),
    ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Verdict::NonPublic("in the discard-only range 100::/64")),
    ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Verdict::NonPublic("reserved for documentation (2001:db8::/32)")),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Verdict::NonPublic("reserved for documentation (3fff::/20)")),
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Verdict::NonPublic("reserved for protocol assignments (2001::/23)")),
];

fn classify(ip: IpAddr) -> Verdict {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Verdict {
    let n = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            n & mask == u32::from_be_bytes(*net) & mask
        })
        .map_or(Verdict::Public, |(_, _, verdict)| *verdict)
}

fn classify_v6(ip: Ipv6Addr) -> Verdict {
    let n = u128::from(ip);
    let in_range = |net: &[u16; 8], len: u8| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        n & mask == u128::from(Ipv6Addr::from(*net)) & mask
    };
    // Exact special addresses first: `::` and `::1` also look like IPv4-compatible ones.
    if let Some((_, _, verdict)) = V6_RANGES
        .iter()
        .take(3)
        .find(|(net, len, _)| in_range(net, *len))
    {
        return *verdict;
    }
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, and SIIT ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo] => return classify_v4(v4(hi, lo)),
        // NAT64 well-known prefix 64:ff9b::/96: the gateway connects to the embedded IPv4.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(v4(hi, lo)),
        // 6to4 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
        [0x2002, hi, lo, ..] => return classify_v4(v4(hi, lo)),
        // Teredo 2001:0:SSSS:SSSS:…:CCCC:CCCC: server address, then the client's, inverted.
        [0x2001, 0, shi, slo, _, _, chi, clo] => {
            let server = classify_v4(v4(shi, slo));
            let client = classify_v4(v4(!chi, !clo));
            return match (server, client) {
                (v @ Verdict::Never(_), _) | (_, v @ Verdict::Never(_)) => v,
                (v @ Verdict::NonPublic(_), _) | (_, v @ Verdict::NonPublic(_)) => v,
                _ => Verdict::NonPublic(
                    "a Teredo tunnel address (2001::/32), which can lead anywhere",
                ),
            };
        }
        _ => {}
    }
    if let Some((_, _, verdict)) = V6_RANGES
        .iter()
        .skip(3)
        .find(|(net, len, _)| in_range(net, *len))
    {
        return *verdict;
    }
    // Only 2000::/3 is handed out as global unicast; everything else is reserved.
    if s[0] & 0xe000 != 0x2000 {
        return Verdict::NonPublic("in a reserved IPv6 range, outside global unicast 2000::/3");
    }
    Verdict::Public
}

/// A resolver that knows exactly one name and its already-checked addresses, so the HTTP
/// client can never connect anywhere we did not check (no DNS rebinding, no fallback to the
/// system resolver). Names other than the expected host are refused.
struct PinnedResolver {
    host: String,
    addrs: Vec<SocketAddr>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let result: Result<Addrs, Box<dyn std::error::Error + Send + Sync>> =
            if name.as_str().eq_ignore_ascii_case(&self.host) {
                Ok(Box::new(self.addrs.clone().into_iter()))
            } else {
                Err(format!(
                    "refusing to resolve {:?}: only {:?} was checked",
                    name.as_str(),
                    self.host
                )
                .into())
            };
        Box::pin(std::future::ready(result))
    }
}

/// A client for one hop: pinned to the checked addresses, no proxy, no automatic redirects.
fn pinned_client(
    url: &Url,
    addrs: &[SocketAddr],
    policy: &ImportPolicy,
) -> Result<reqwest::Client, ImportError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .referer(false)
        .connect_timeout(policy.connect_timeout)
        // rustls with the bundled Mozilla roots, whatever TLS features other crates enable.
        .use_rustls_tls()
        .user_agent(concat!(
            "Kino/",
            env!("CARGO_PKG_VERSION"),
            " (video import)"
        ));
    // IP literals are connected to directly and never reach a resolver.
    if let Some(Host::Domain(name)) = url.host() {
        builder = builder.dns_resolver(Arc::new(PinnedResolver {
            host: name.to_owned(),
            addrs: addrs.to_vec(),
        }));
    }
    builder
        .build()
        .map_err(|source| ImportError::Client { source })
}

fn request_error(url: &Url, source: reqwest::Error, policy: &ImportPolicy) -> ImportError {
    let url = url.clone();
    if source.is_connect() && source.is_timeout() {
        ImportError::ConnectTimeout {
            url,
            after: policy.connect_timeout,
        }
    } else if source.is_connect() {
        ImportError::Connect { url, source }
    } else {
        ImportError::Transfer { url, source }
    }
}

/// The redirect statuses that carry a `Location` to follow. 300 and 304 are not among them.
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The next URL of a redirect, resolved against the current one (relative `Location`s are
/// common). Its scheme and addresses are checked by the next hop's [`check_target`].
fn redirect_target(current: &Url, response: &reqwest::Response) -> Result<Url, ImportError> {
    let bad = |problem: &str| ImportError::BadRedirect {
        url: current.clone(),
        status: response.status().as_u16(),
        problem: problem.to_owned(),
    };
    let location = response
        .headers()
        .get(LOCATION)
        .ok_or_else(|| bad("without saying where to (no Location header)"))?
        .to_str()
        .map_err(|_| bad("its Location header is not readable text"))?;
    let mut next = current.join(location).map_err(|e| {
        bad(&format!(
            "its Location {location:?} is not a valid link ({e})"
        ))
    })?;
    next.set_fragment(None);
    Ok(next)
}

/// Whether a `Content-Type` announces a web page rather than a file.
fn is_web_page(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("text/html")
        || essence.eq_ignore_ascii_case("application/xhtml+xml")
}

/// A copy of `url` without user name and password, for messages and logs.
fn redact(url: &Url) -> Url {
    let mut clean = url.clone();
    // Both fail only for URLs that cannot have credentials at all; nothing to remove then.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean
}

fn of_host(host: &str, addr: &IpAddr) -> String {
    if host.trim_start_matches('[').trim_end_matches(']') == addr.to_string() {
        String::new()
    } else {
        format!(" (of {host})")
    }
}

/// The innermost error message: reqwest's outer ones ("error sending request for url") say
/// little, the root ("Connection refused", "invalid peer certificate: UnknownIssuer") says why.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        format!("{} ms", d.as_millis())
    } else if secs < 120 {
        format!("{secs} s")
    } else if secs < 7200 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn forbidden_addresses() {
        let forbidden = [
            "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255",
            "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.0.1",
            "169.254.170.2", "100.64.0.1", "100.127.255.255", "100.100.100.200", "192.0.0.192",
            "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
            "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
            "192.88.99.1", "::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
            "::ffff:169.254.169.254", "::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1", "fc00::1", "fd00::1", "fd00:ec2::254", "fe80::1", "febf::1",
            "fec0::1", "ff02::1", "ff05::1:3", "2001:db8::1", "3fff::1", "100::1",
            "2001:2::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "::2", "5f00::1",
            "4000::1", "::ffff:0.0.0.0",
        ];
        for text in forbidden {
            let ip: IpAddr = text.parse().expect(text);
            assert!(is_forbidden(ip), "{text} should be forbidden");
        }
        let public = [
            "1.1.1.1", "8.8.8.8", "93.184.215.14", "172.15.255.255", "172.32.0.1",
            "100.63.255.255", "100.128.0.1", "169.253.255.255", "192.0.1.1", "192.167.1.1",
            "198.17.255.255", "198.20.0.1", "223.255.255.255", "::ffff:8.8.8.8",
            "64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111", "2a00:1450:4001::1",
            "2620:fe::fe", "2001:4860:4860::8888",
        ];
        for text in public {
            let ip: IpAddr = text.parse().expect(text);
            assert!(!is_forbidden(ip), "{text} should be allowed");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn metadata_and_link_local_are_never_allowed() {
        for text in [
            "169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
            "fd00:ec2::254", "100.100.100.200", "192.0.0.192", "0.0.0.0", "::", "224.0.0.1",
            "ff02::1", "255.255.255.255",
        ] {
            let ip: IpAddr = text.parse().expect(text);
            assert!(matches!(classify(ip), Verdict::Never(_)), "{text} should never be allowed");
        }
        for text in ["127.0.0.1", "::1", "10.0.0.1", "192.168.0.10", "fd12::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = text.parse().expect(text);
            assert!(matches!(classify(ip), Verdict::NonPublic(_)), "{text} should be private");
        }
    }

    #[test]
    fn teredo_client_address_is_unscrambled() {
        // Client 127.0.0.1 inverted is 80ff:fffe.
        let ip: IpAddr = "2001:0:0808:0808::80ff:fffe".parse().expect("teredo");
        assert_eq!(
            classify(ip),
            Verdict::NonPublic("a loopback address of this machine")
        );
    }

    #[tokio::test]
    async fn the_pinned_resolver_answers_only_for_the_checked_host() {
        let addr: SocketAddr = "93.184.215.14:443".parse().expect("addr");
        let resolver = PinnedResolver {
            host: "videos.example.com".into(),
            addrs: vec![addr],
        };
        let name = |s: &str| s.parse::<Name>().expect("name");
        let found: Vec<SocketAddr> = resolver
            .resolve(name("Videos.Example.com"))
            .await
            .expect("the checked host")
            .collect();
        assert_eq!(found, vec![addr]);
        assert!(resolver
            .resolve(name("metadata.google.internal"))
            .await
            .is_err());
    }

    #[test]
    fn web_pages_are_recognised() {
        assert!(is_web_page("text/html"));
        assert!(is_web_page("Text/HTML; charset=utf-8"));
        assert!(is_web_page("application/xhtml+xml"));
        assert!(!is_web_page("video/mp4"));
        assert!(!is_web_page("application/octet-stream"));
        assert!(!is_web_page("text/plain"));
    }

    #[test]
    fn messages_read_well() {
        let e = ImportError::ForbiddenAddress {
            host: "127.0.0.1".into(),
            addr: "127.0.0.1".parse().expect("ip"),
            reason: "a loopback address of this machine",
        };
        assert_eq!(
            e.to_string(),
            "the address 127.0.0.1 is a loopback address of this machine; Kino does not fetch from there (--import-allow-private lifts this)"
        );
        assert_eq!(crate::human_bytes(1536), "1.5 KiB");
        assert_eq!(crate::human_bytes(10), "10 bytes");
        assert_eq!(human_duration(Duration::from_millis(300)), "300 ms");
        assert_eq!(
            human_duration(Duration::from_secs(3 * 3600 + 60)),
            "3 h 1 min"
        );
    }
}
