//! Fetching an image from a link a user gave, without letting the link reach inside our network.
//!
//! A link is untrusted input that makes the bot open a connection, so a careless fetch is a
//! server-side request forgery: `http://169.254.169.254/` reads cloud credentials,
//! `http://localhost:6379/` talks to local services. [`Fetcher::fetch`] therefore:
//! - accepts only `http` and `https` links without a user name or password;
//! - resolves the host name itself (through its [`Resolve`]r, the system's unless a test says
//!   otherwise) and refuses the link if *any* address it resolves to is not allowed by the
//!   address policy ([`is_public`] unless a test says otherwise);
//! - refuses any port but the scheme's own (80 for `http`, 443 for `https`; the port policy
//!   is [`is_default_port`] unless a test says otherwise), so the bot cannot be made to knock
//!   on other services of a public host;
//! - connects to exactly the addresses it checked (pinned in the client), so a second DNS
//!   answer cannot swap in another address between the check and the connection;
//! - follows redirects itself, checking every hop the same way, at most
//!   [`FetchLimits::max_redirects`] of them;
//! - refuses a body larger than [`FetchLimits::max_bytes`], from its `Content-Length` when
//!   the server sends one and while streaming otherwise;
//! - gives up after [`FetchLimits::timeout`] for the whole exchange, redirects included.
//!
//! The bytes it returns are not yet known to be an image: pass them to
//! [`crate::render::images::upload::check_upload`]. Every [`FetchError`] displays as the sentence the
//! user sees. A link that could not be reached reads the same whatever the cause (refused,
//! reset, a TLS failure, a timeout, a body cut off), so the bot tells nobody which hosts and
//! ports answer; the cause is logged with `tracing::debug!`, with the link's query left out
//! (signed URLs carry credentials there).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode, Url};

/// How much a fetch may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Time for the whole fetch: name lookups, redirects and the body.
    pub timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: u8,
}

impl Default for FetchLimits {
    /// 10 MiB, 10 seconds, 3 redirects.
    fn default() -> Self {
        FetchLimits {
            max_bytes: 10 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_redirects: 3,
        }
    }
}

/// Which addresses a fetch may connect to.
pub type AddressPolicy = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// Which ports a fetch may connect to, given the link's scheme (`http` or `https`).
pub type PortPolicy = Arc<dyn Fn(&str, u16) -> bool + Send + Sync>;

/// Whether `port` is `scheme`'s own port: 80 for `http`, 443 for `https`. The production port
/// policy.
pub fn is_default_port(scheme: &str, port: u16) -> bool {
    matches!((scheme, port), ("http", 80) | ("https", 443))
}

/// A name lookup in progress: the addresses a host name resolves to.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves host names for the fetcher. Every lookup of a fetch goes through it: the one whose
/// answers are checked, and any the HTTP client would make (none: the checked addresses are
/// pinned). Tests use their own to answer as a hostile DNS server would.
pub trait Resolve: Send + Sync {
    /// The addresses `host` resolves to.
    fn resolve(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addresses.map(|a| a.ip()).collect())
        })
    }
}

/// A [`Resolve`] as the HTTP client's resolver, so that the client can never look a name up
/// any other way.
struct ClientResolver(Arc<dyn Resolve>);

impl reqwest::dns::Resolve for ClientResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.0.resolve(name.as_str());
        Box::pin(async move {
            let addresses = lookup.await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why a link could not be fetched. `Display` is the sentence shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("That doesn't look like a web link.")]
    InvalidLink,
    #[error("Only http:// and https:// links can be used.")]
    UnsupportedScheme,
    #[error("Links with a user name or password can't be used.")]
    Credentials,
    #[error("The host name in that link couldn't be found.")]
    UnknownHost,
    #[error(
        "That link points to a private or local address; tastebud only fetches images from public addresses."
    )]
    NotPublic,
    #[error(
        "That link names a port; tastebud only fetches links on the standard web ports (80 for http://, 443 for https://)."
    )]
    Port,
    /// No complete answer: the connection was refused or reset, TLS failed, the time ran out or
    /// the body was cut off. One sentence for all, so that nobody learns which it was.
    #[error("That link couldn't be reached.")]
    Unreachable,
    #[error("That link answered {code}{}.", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default())]
    Status { code: u16, reason: Option<String> },
    #[error("That link redirects too many times.")]
    TooManyRedirects,
    #[error("That link redirects to something that isn't a web link.")]
    BadRedirect,
    #[error("The image at that link is larger than {} MB.", megabytes(*limit))]
    TooLarge { limit: usize },
}

/// Fetches the bytes behind links users give, within [`FetchLimits`], an address policy and a
/// port policy, looking names up with a [`Resolve`]r.
#[derive(Clone)]
pub struct Fetcher {
    limits: FetchLimits,
    allowed: AddressPolicy,
    ports: PortPolicy,
    resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher that connects only to public addresses ([`is_public`]) on the scheme's own
    /// port ([`is_default_port`]), looking names up with the system's resolver.
    pub fn new(limits: FetchLimits) -> Fetcher {
        Fetcher::with_policy(limits, Arc::new(is_public))
    }

    /// A fetcher that connects only to addresses for which `allowed` is true (tests use this
    /// to reach servers on loopback); ports and resolver as in [`Fetcher::new`].
    pub fn with_policy(limits: FetchLimits, allowed: AddressPolicy) -> Fetcher {
        Fetcher {
            limits,
            allowed,
            ports: Arc::new(is_default_port),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// The same fetcher connecting only to ports for which `ports` is true (tests use this to
    /// reach servers on the random ports of loopback).
    pub fn with_ports(self, ports: PortPolicy) -> Fetcher {
        Fetcher { ports, ..self }
    }

    /// The same fetcher looking names up with `resolver`.
    pub fn with_resolver(self, resolver: Arc<dyn Resolve>) -> Fetcher {
        Fetcher { resolver, ..self }
    }

    pub fn limits(&self) -> &FetchLimits {
        &self.limits
    }

    /// The body behind `link`, following redirects; see the module documentation for the
    /// rules every step obeys.
    pub async fn fetch(&self, link: &str) -> Result<Vec<u8>, FetchError> {
        let timeout = self.limits.timeout;
        match tokio::time::timeout(timeout, self.fetch_in_time(link)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(link = without_query(link), ?timeout, "fetch timed out");
                Err(FetchError::Unreachable)
            }
        }
    }

    async fn fetch_in_time(&self, link: &str) -> Result<Vec<u8>, FetchError> {
        let mut url = Url::parse(link.trim()).map_err(|e| {
            tracing::debug!(link = without_query(link), error = %e, "not a URL");
            FetchError::InvalidLink
        })?;
        let mut redirects = 0u8;
        loop {
            check_url(&url)?;
            let response = self.get(&url).await?;
            let status = response.status();
            if is_redirect(status) {
                if redirects >= self.limits.max_redirects {
                    tracing::debug!(url = %shown(&url), redirects, "too many redirects");
                    return Err(FetchError::TooManyRedirects);
                }
                redirects += 1;
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                url = url.join(location).map_err(|e| {
                    tracing::debug!(
                        url = %shown(&url),
                        location = without_query(location),
                        error = %e,
                        "unusable redirect"
                    );
                    FetchError::BadRedirect
                })?;
                continue;
            }
            if !status.is_success() {
                tracing::debug!(url = %shown(&url), %status, "error status");
                return Err(FetchError::Status {
                    code: status.as_u16(),
                    reason: status.canonical_reason().map(str::to_string),
                });
            }
            return self.read_body(response).await;
        }
    }

    /// One GET of `url`, connected only to addresses and ports the policies allow.
    async fn get(&self, url: &Url) -> Result<Response, FetchError> {
        let port = url.port_or_known_default().ok_or(FetchError::InvalidLink)?;
        let host = url.host_str().ok_or(FetchError::InvalidLink)?;
        // The URL parser has already turned every IPv4 spelling (`2130706433`, `0x7f.1`) into
        // dotted decimal and put IPv6 literals in brackets, so what does not parse is a name.
        let literal = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        };
        let (domain, addresses) = match literal {
            Some(ip) => (None, vec![SocketAddr::new(ip, port)]),
            None => {
                let addresses: Vec<SocketAddr> = self
                    .resolver
                    .resolve(host)
                    .await
                    .map_err(|e| {
                        tracing::debug!(host, error = %e, "name lookup failed");
                        FetchError::UnknownHost
                    })?
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect();
                (Some(host), addresses)
            }
        };
        if addresses.is_empty() {
            return Err(FetchError::UnknownHost);
        }
        if let Some(refused) = addresses.iter().find(|a| !(self.allowed)(a.ip())) {
            tracing::debug!(url = %shown(url), address = %refused.ip(), "address refused by policy");
            return Err(FetchError::NotPublic);
        }
        if !(self.ports)(url.scheme(), port) {
            tracing::debug!(url = %shown(url), port, "port refused by policy");
            return Err(FetchError::Port);
        }

        // No proxy (it would do its own lookup), no automatic redirects (each hop is checked
        // above), and the host name pinned to the addresses just checked; any other lookup
        // would go through the same resolver.
        let mut builder = Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(ClientResolver(self.resolver.clone())))
            .user_agent(concat!("tastebud/", env!("CARGO_PKG_VERSION")));
        if let Some(name) = domain {
            builder = builder.resolve_to_addrs(name, &addresses);
        }
        let client = builder.build().map_err(|e| {
            tracing::debug!(error = %e, "cannot build an HTTP client");
            FetchError::Unreachable
        })?;
        client
            .get(url.clone())
            .header(ACCEPT, "image/*")
            .send()
            .await
            .map_err(|e| {
                tracing::debug!(url = %shown(url), error = ?e.without_url(), "request failed");
                FetchError::Unreachable
            })
    }

    async fn read_body(&self, mut response: Response) -> Result<Vec<u8>, FetchError> {
        let limit = self.limits.max_bytes;
        let too_large = FetchError::TooLarge { limit };
        let declared = response.content_length();
        if declared.is_some_and(|length| length > limit as u64) {
            tracing::debug!(?declared, limit, "Content-Length over the limit");
            return Err(too_large);
        }
        let mut body = Vec::with_capacity(declared.map_or(0, |length| length as usize));
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            tracing::debug!(error = ?e.without_url(), "body interrupted");
            FetchError::Unreachable
        })? {
            if body.len() + chunk.len() > limit {
                tracing::debug!(limit, "body over the limit");
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The statuses that send the client elsewhere with a `Location` (300, 304 and 305 do not).
fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// `url` for a log line: without user name, password, query and fragment, which may hold
/// credentials (a signed URL's `hm`, a token parameter).
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// A link as typed, for a log line: what comes before its query or fragment.
fn without_query(link: &str) -> &str {
    link.split(['?', '#']).next().unwrap_or_default()
}

/// Scheme and credentials, checked for the first link and every redirect.
fn check_url(url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::UnsupportedScheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Credentials);
    }
    Ok(())
}

/// Whether `ip` is an ordinary public unicast address, reachable across the internet.
///
/// Refused: unspecified, loopback, private (RFC 1918), shared/CGNAT (100.64/10), link-local
/// (including the cloud metadata address 169.254.169.254 and fe80::/10), IETF protocol
/// assignments (192.0.0/24, 2001::/23), documentation (192.0.2/24, 198.51.100/24, 203.0.113/24,
/// 2001:db8::/32, 3fff::/20), benchmarking (198.18/15), 6to4 relay anycast (192.88.99/24),
/// multicast, reserved (240/4) and broadcast, "this network" (0/8), unique local (fc00::/7),
/// site-local (fec0::/10), discard-only (100::/64), local-use NAT64 (64:ff9b:1::/48) and
/// anything else outside global unicast 2000::/3. IPv6 addresses that carry an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that IPv4
/// address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    // ::a.b.c.d (IPv4-compatible, which also covers :: and ::1) and ::ffff:a.b.c.d (mapped).
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xFFFF) {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xFF9B, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    let global_unicast = s[0] & 0xE000 == 0x2000;
    // 2001::/23 (IETF protocol assignments) and 2001:db8::/32 (documentation).
    let in_2001 = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0DB8);
    // 3fff::/20 (documentation).
    let in_3fff = s[0] == 0x3FFF && s[1] < 0x1000;
    let refused = in_2001 || in_3fff;
    global_unicast && !refused
}

/// `10` rather than `10.0`; `2.5` stays.
fn megabytes(bytes: usize) -> String {
    let value = (bytes as f64 / (1024.0 * 1024.0) * 10.0).floor() / 10.0;
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}
