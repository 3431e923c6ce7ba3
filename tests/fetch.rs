//! Fetching images from links: the address and port policies, and real fetches from axum
//! servers on loopback started by each test (127.0.0.1, and 127.0.0.2 where a second host is
//! needed), with a scripted resolver where a test needs a name to answer as a hostile DNS
//! server would.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::stream;
use tastebud::fetch::{
    FetchError, FetchLimits, Fetcher, Lookup, PortPolicy, Resolve, is_default_port, is_public,
};

const IMAGE: &[u8] = b"\x89PNG\r\n\x1a\n pretend these are the bytes of an image";

/// A test server's address and how many requests it has answered.
struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Serves the test routes on `ip` (a free port); `/elsewhere` redirects to `elsewhere`.
async fn serve(ip: Ipv4Addr, elsewhere: Option<String>) -> Server {
    let listener = tokio::net::TcpListener::bind((ip, 0))
        .await
        .expect("binding a loopback port");
    serve_on(listener, elsewhere)
}

/// Two servers on the same port of 127.0.0.1 and 127.0.0.2: one name, two hosts.
async fn serve_twins() -> (Server, Server) {
    for _ in 0..20 {
        let first = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding a loopback port");
        let port = first.local_addr().expect("local address").port();
        if let Ok(second) = tokio::net::TcpListener::bind((SECOND, port)).await {
            return (serve_on(first, None), serve_on(second, None));
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

fn serve_on(listener: tokio::net::TcpListener, elsewhere: Option<String>) -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let elsewhere = elsewhere.unwrap_or_default();
    let app = Router::new()
        .route("/image.png", get(|| async { IMAGE }))
        .route(
            "/sized/{n}",
            get(|Path(n): Path<usize>| async move { vec![7u8; n] }),
        )
        .route("/endless", get(endless))
        .route("/slow", get(slow))
        .route("/trickle", get(trickle))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/redirect/{n}", get(redirect_chain))
        .route("/relative", get(|| async { Redirect::to("/image.png") }))
        .route(
            "/to-ftp",
            get(|| async { Redirect::to("ftp://example.com/x.png") }),
        )
        .route("/no-location", get(|| async { StatusCode::FOUND }))
        .route(
            "/elsewhere",
            get(|State(target): State<String>| async move { Redirect::temporary(&target) }),
        )
        .with_state(elsewhere)
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(request).await
                }
            },
        ));
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { addr, hits }
}

/// A body without `Content-Length` that never ends.
async fn endless() -> Body {
    let chunk = Bytes::from(vec![1u8; 4096]);
    Body::from_stream(stream::repeat_with(move || {
        Ok::<_, Infallible>(chunk.clone())
    }))
}

async fn slow() -> &'static [u8] {
    tokio::time::sleep(Duration::from_secs(30)).await;
    IMAGE
}

/// Answers at once, then sends one byte every 100 ms for a minute.
async fn trickle() -> Body {
    Body::from_stream(stream::unfold(0u32, |sent| async move {
        if sent >= 600 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, Infallible>(Bytes::from_static(b"x")), sent + 1))
    }))
}

/// `/redirect/n` redirects to `/redirect/{n-1}`; `/redirect/0` is the image.
async fn redirect_chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        IMAGE.into_response()
    } else {
        Redirect::temporary(&format!("/redirect/{}", n - 1)).into_response()
    }
}

/// Test servers listen on random ports.
fn any_port() -> PortPolicy {
    Arc::new(|_: &str, _: u16| true)
}

fn loopback() -> Fetcher {
    loopback_with(FetchLimits::default())
}

fn loopback_with(limits: FetchLimits) -> Fetcher {
    Fetcher::with_policy(limits, Arc::new(|ip: IpAddr| ip.is_loopback())).with_ports(any_port())
}

/// Only 127.0.0.1 is allowed: 127.0.0.2 stands for a private address.
fn only_127_0_0_1() -> Fetcher {
    Fetcher::with_policy(
        FetchLimits::default(),
        Arc::new(|ip: IpAddr| ip == IpAddr::V4(Ipv4Addr::LOCALHOST)),
    )
    .with_ports(any_port())
}

/// A resolver that answers every name from a script: the first lookup gets the first answer,
/// the second the second, and so on (the last one again once the script runs out).
#[derive(Clone)]
struct Scripted {
    answers: Arc<Vec<Vec<IpAddr>>>,
    lookups: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(answers: &[&[Ipv4Addr]]) -> Arc<Scripted> {
        let answers = answers
            .iter()
            .map(|answer| answer.iter().map(|ip| IpAddr::V4(*ip)).collect())
            .collect();
        Arc::new(Scripted {
            answers: Arc::new(answers),
            lookups: Arc::default(),
        })
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl Resolve for Scripted {
    fn resolve(&self, _host: &str) -> Lookup {
        let n = self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers[n.min(self.answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

const SECOND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

#[test]
fn is_public_table() {
    let public = [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.167.1.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ];
    let private = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.0.0.2",
        "127.255.255.254",
        "169.254.169.254",
        "169.254.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::ffff:0:7f00:1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "100::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "2001::1",
        "2001:2::1",
        "2001:10::1",
        "3fff::1",
        "3fff:fff::1",
        "5f00::1",
        "4000::1",
    ];
    for text in public {
        let ip: IpAddr = text.parse().expect(text);
        assert!(is_public(ip), "{text} should be public");
    }
    for text in private {
        let ip: IpAddr = text.parse().expect(text);
        assert!(!is_public(ip), "{text} should not be public");
    }
}

#[tokio::test]
async fn the_default_fetcher_refuses_local_and_odd_links_without_connecting() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let port = server.addr.port();
    let fetcher = Fetcher::new(FetchLimits::default());
    let cases = [
        (server.url("/image.png"), FetchError::NotPublic),
        (
            format!("http://localhost:{port}/image.png"),
            FetchError::NotPublic,
        ),
        (
            format!("http://LocalHost:{port}/image.png"),
            FetchError::NotPublic,
        ),
        (format!("http://2130706433:{port}/"), FetchError::NotPublic),
        (format!("http://0x7f.1:{port}/"), FetchError::NotPublic),
        (format!("http://[::1]:{port}/"), FetchError::NotPublic),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            FetchError::NotPublic,
        ),
        ("http://[::1]/".into(), FetchError::NotPublic),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            FetchError::NotPublic,
        ),
        ("http://10.0.0.1/x.png".into(), FetchError::NotPublic),
        ("http://0.0.0.0/x.png".into(), FetchError::NotPublic),
        (
            format!("ftp://127.0.0.1:{port}/x.png"),
            FetchError::UnsupportedScheme,
        ),
        ("file:///etc/passwd".into(), FetchError::UnsupportedScheme),
        (
            "gopher://example.com/".into(),
            FetchError::UnsupportedScheme,
        ),
        (
            "data:image/png;base64,iVBORw0KGgo=".into(),
            FetchError::UnsupportedScheme,
        ),
        (
            "http://user:secret@example.com/x.png".into(),
            FetchError::Credentials,
        ),
        (
            "http://user@example.com/x.png".into(),
            FetchError::Credentials,
        ),
        ("not a link".into(), FetchError::InvalidLink),
        ("http://".into(), FetchError::InvalidLink),
    ];
    for (link, expected) in cases {
        assert_eq!(fetcher.fetch(&link).await, Err(expected), "{link}");
    }
    assert_eq!(server.hits(), 0, "a refused link must not be requested");
}

#[tokio::test]
async fn refusals_read_as_sentences() {
    let fetcher = Fetcher::new(FetchLimits::default());
    let sentence = |result: Result<Vec<u8>, FetchError>| result.expect_err("refused").to_string();
    assert_eq!(
        sentence(fetcher.fetch("ftp://example.com/x.png").await),
        "Only http:// and https:// links can be used."
    );
    assert_eq!(
        sentence(fetcher.fetch("http://169.254.169.254/").await),
        "That link points to a private or local address; tastebud only fetches images from \
         public addresses."
    );
    assert_eq!(
        FetchError::TooLarge {
            limit: 10 * 1024 * 1024
        }
        .to_string(),
        "The image at that link is larger than 10 MB."
    );
    assert_eq!(
        FetchError::Port.to_string(),
        "That link names a port; tastebud only fetches links on the standard web ports (80 for \
         http://, 443 for https://)."
    );
}

#[tokio::test]
async fn a_normal_fetch_returns_the_bytes() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let fetcher = loopback();
    assert_eq!(
        fetcher.fetch(&server.url("/image.png")).await,
        Ok(IMAGE.to_vec())
    );
    // By name too: the name is resolved, checked and pinned.
    let by_name = format!("http://localhost:{}/image.png", server.addr.port());
    assert_eq!(fetcher.fetch(&by_name).await, Ok(IMAGE.to_vec()));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn error_statuses_are_reported_with_their_code() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let error = loopback()
        .fetch(&server.url("/missing"))
        .await
        .expect_err("404");
    assert_eq!(
        error,
        FetchError::Status {
            code: 404,
            reason: Some("Not Found".into())
        }
    );
    assert_eq!(error.to_string(), "That link answered 404 Not Found.");
}

#[tokio::test]
async fn a_body_larger_than_the_limit_is_refused() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let fetcher = loopback_with(FetchLimits {
        max_bytes: 1000,
        ..FetchLimits::default()
    });
    // Exactly at the limit is fine; one byte over is not (this body has a Content-Length).
    assert_eq!(
        fetcher
            .fetch(&server.url("/sized/1000"))
            .await
            .map(|b| b.len()),
        Ok(1000)
    );
    assert_eq!(
        fetcher.fetch(&server.url("/sized/1001")).await,
        Err(FetchError::TooLarge { limit: 1000 })
    );
}

#[tokio::test]
async fn an_endless_body_without_content_length_is_cut_off_at_the_limit() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    // The route really sends no Content-Length.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(server.url("/endless"))
        .send()
        .await
        .expect("response");
    assert_eq!(plain.headers().get(header::CONTENT_LENGTH), None);
    drop(plain);

    let fetcher = loopback_with(FetchLimits {
        max_bytes: 100_000,
        ..FetchLimits::default()
    });
    assert_eq!(
        fetcher.fetch(&server.url("/endless")).await,
        Err(FetchError::TooLarge { limit: 100_000 })
    );
}

#[tokio::test]
async fn a_slow_server_hits_the_timeout() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let timeout = Duration::from_millis(300);
    let fetcher = loopback_with(FetchLimits {
        timeout,
        ..FetchLimits::default()
    });
    // Without the timeout these would end with the image after 30 s and with 600 bytes after
    // a minute.
    assert_eq!(
        fetcher.fetch(&server.url("/slow")).await,
        Err(FetchError::Unreachable)
    );
    // A server that answers at once but sends its body a byte at a time is held to the same
    // overall time, not a per-read one.
    assert_eq!(
        fetcher.fetch(&server.url("/trickle")).await,
        Err(FetchError::Unreachable)
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let fetcher = loopback(); // at most 3 redirects
    assert_eq!(
        fetcher.fetch(&server.url("/redirect/3")).await,
        Ok(IMAGE.to_vec())
    );
    let hits_before = server.hits();
    assert_eq!(
        fetcher.fetch(&server.url("/redirect/4")).await,
        Err(FetchError::TooManyRedirects)
    );
    // The first request and three redirects were followed; the fourth was not.
    assert_eq!(server.hits() - hits_before, 4);
    assert_eq!(
        fetcher.fetch(&server.url("/relative")).await,
        Ok(IMAGE.to_vec())
    );
    let none = loopback_with(FetchLimits {
        max_redirects: 0,
        ..FetchLimits::default()
    });
    assert_eq!(
        none.fetch(&server.url("/relative")).await,
        Err(FetchError::TooManyRedirects)
    );
}

#[tokio::test]
async fn redirects_to_other_schemes_or_nowhere_are_refused() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    assert_eq!(
        loopback().fetch(&server.url("/to-ftp")).await,
        Err(FetchError::UnsupportedScheme)
    );
    assert_eq!(
        loopback().fetch(&server.url("/no-location")).await,
        Err(FetchError::BadRedirect)
    );
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_refused_address_is_refused() {
    // Linux routes all of 127/8 to the loopback interface.
    let refused = serve(Ipv4Addr::new(127, 0, 0, 2), None).await;
    let allowed = serve(Ipv4Addr::LOCALHOST, Some(refused.url("/image.png"))).await;
    let only_first = only_127_0_0_1();
    assert_eq!(
        only_first.fetch(&allowed.url("/elsewhere")).await,
        Err(FetchError::NotPublic)
    );
    assert_eq!(allowed.hits(), 1);
    assert_eq!(refused.hits(), 0, "the refused host must never be asked");

    // The same redirect is followed when the policy allows both: the refusal above was the
    // policy's doing.
    assert_eq!(
        loopback().fetch(&allowed.url("/elsewhere")).await,
        Ok(IMAGE.to_vec())
    );
    assert_eq!(refused.hits(), 1);
}

// Ports: only the scheme's own.

#[test]
fn the_production_port_policy_is_the_schemes_own_port() {
    assert!(is_default_port("http", 80));
    assert!(is_default_port("https", 443));
    for (scheme, port) in [
        ("http", 443),
        ("https", 80),
        ("http", 8080),
        ("https", 8443),
        ("http", 22),
        ("http", 6379),
        ("ftp", 21),
    ] {
        assert!(!is_default_port(scheme, port), "{scheme} {port}");
    }
}

#[tokio::test]
async fn another_port_is_refused_before_connecting() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let port = server.addr.port();
    // Loopback allowed, ports as in production, and every name resolving to the server.
    let resolver = Scripted::new(&[&[Ipv4Addr::LOCALHOST]]);
    let fetcher = Fetcher::with_policy(
        FetchLimits::default(),
        Arc::new(|ip: IpAddr| ip.is_loopback()),
    )
    .with_resolver(resolver.clone());
    for link in [
        server.url("/image.png"),
        format!("http://images.test:{port}/image.png"),
        format!("https://images.test:{port}/image.png"),
        "http://images.test:443/image.png".into(),
        "https://images.test:80/image.png".into(),
        "http://images.test:8080/image.png".into(),
        "http://127.0.0.1:22/".into(),
    ] {
        let refused = fetcher.fetch(&link).await;
        assert_eq!(refused, Err(FetchError::Port), "{link}");
    }
    assert_eq!(server.hits(), 0, "nothing was requested");
    // The same links are fetched when the port policy allows them: the refusal was its doing.
    let any = fetcher.with_ports(any_port());
    assert_eq!(
        any.fetch(&server.url("/image.png")).await,
        Ok(IMAGE.to_vec())
    );
    assert_eq!(
        any.fetch(&format!("http://images.test:{port}/image.png"))
            .await,
        Ok(IMAGE.to_vec())
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_redirect_to_another_port_is_refused() {
    let other = serve(Ipv4Addr::LOCALHOST, None).await;
    let first = serve(Ipv4Addr::LOCALHOST, Some(other.url("/image.png"))).await;
    // The first server's port stands for the scheme's own port.
    let own = first.addr.port();
    let fetcher = Fetcher::with_policy(
        FetchLimits::default(),
        Arc::new(|ip: IpAddr| ip.is_loopback()),
    )
    .with_ports(Arc::new(move |_: &str, port: u16| port == own));
    assert_eq!(
        fetcher.fetch(&first.url("/elsewhere")).await,
        Err(FetchError::Port)
    );
    assert_eq!(first.hits(), 1);
    assert_eq!(other.hits(), 0, "the other port was never connected to");
    assert_eq!(
        loopback().fetch(&first.url("/elsewhere")).await,
        Ok(IMAGE.to_vec())
    );
    assert_eq!(other.hits(), 1);
}

// Names that resolve to refused addresses, now or on the next lookup.

#[tokio::test]
async fn a_name_resolving_to_an_allowed_and_a_refused_address_is_refused() {
    let (allowed, refused) = serve_twins().await;
    let link = format!("http://mixed.test:{}/image.png", allowed.addr.port());
    for answer in [[Ipv4Addr::LOCALHOST, SECOND], [SECOND, Ipv4Addr::LOCALHOST]] {
        let resolver = Scripted::new(&[&answer]);
        let fetcher = only_127_0_0_1().with_resolver(resolver.clone());
        assert_eq!(
            fetcher.fetch(&link).await,
            Err(FetchError::NotPublic),
            "{answer:?}"
        );
        assert_eq!(resolver.lookups(), 1);
    }
    assert_eq!(allowed.hits() + refused.hits(), 0, "neither was asked");
}

#[tokio::test]
async fn a_second_lookup_cannot_swap_in_a_refused_address() {
    // DNS rebinding: the name first resolves to an allowed address, then to a refused one.
    let (checked, rebound) = serve_twins().await;
    let resolver = Scripted::new(&[&[Ipv4Addr::LOCALHOST], &[SECOND]]);
    let fetcher = only_127_0_0_1().with_resolver(resolver.clone());
    let link = format!("http://rebind.test:{}/image.png", checked.addr.port());
    assert_eq!(fetcher.fetch(&link).await, Ok(IMAGE.to_vec()));
    assert_eq!(
        resolver.lookups(),
        1,
        "the name is looked up once, for the check"
    );
    assert_eq!(checked.hits(), 1, "the checked address was connected to");
    assert_eq!(rebound.hits(), 0, "the rebound address never was");
    // The resolver's next answer is refused when it is the one checked.
    assert_eq!(fetcher.fetch(&link).await, Err(FetchError::NotPublic));
    assert_eq!(rebound.hits(), 0);
}

// Failures: nothing tells one cause from another.

/// A port on which nothing listens any more.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("binding a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A server that accepts connections and resets each at once (RST, not FIN).
async fn resetting() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("binding a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // Deprecated because a linger time blocks the thread on drop; a zero one resets
            // the connection at once instead, which is the point here.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    addr
}

/// A server that promises 1000 bytes, sends 5 and closes the connection.
async fn cut_short() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("binding a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort")
                .await;
        }
    });
    addr
}

#[tokio::test]
async fn refused_reset_tls_failure_timeout_and_a_cut_body_read_the_same() {
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let fetcher = loopback_with(FetchLimits {
        timeout: Duration::from_millis(500),
        ..FetchLimits::default()
    });
    let links = [
        (
            "refused",
            format!("http://127.0.0.1:{}/x.png", closed_port().await),
        ),
        ("reset", format!("http://{}/x.png", resetting().await)),
        // TLS to a server that speaks plain HTTP.
        ("tls", format!("https://{}/image.png", server.addr)),
        ("timeout", server.url("/slow")),
        ("cut body", format!("http://{}/x.png", cut_short().await)),
    ];
    for (what, link) in links {
        let error = fetcher.fetch(&link).await.expect_err(what);
        assert_eq!(error, FetchError::Unreachable, "{what}");
        assert_eq!(
            error.to_string(),
            "That link couldn't be reached.",
            "{what}"
        );
    }
    // A server that answered says so: its status is worth telling.
    assert_eq!(
        fetcher
            .fetch(&server.url("/missing"))
            .await
            .expect_err("404")
            .to_string(),
        "That link answered 404 Not Found."
    );
}

/// Collects log output.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of every test in this binary, from one global subscriber at debug. Not a
/// subscriber per test (`set_default`): with one, a full run once lost this test's 404 line
/// while it passed alone; tracing caches per call site, for the whole process, whether a line
/// is wanted, and other tests reach the same lines on threads without a subscriber (the likely
/// cause; not proven).
fn debug_log() -> Log {
    static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("tastebud=debug"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        log
    })
    .clone()
}

#[tokio::test]
async fn the_cause_is_logged_at_debug_without_the_links_query() {
    let log = debug_log();
    let server = serve(Ipv4Addr::LOCALHOST, None).await;
    let fetcher = loopback();
    let query = "?sig=s3cret-signature&expires=1700000000#part";
    let refused = format!("http://127.0.0.1:{}/photo.png{query}", closed_port().await);
    assert_eq!(fetcher.fetch(&refused).await, Err(FetchError::Unreachable));
    let missing = format!("{}{query}", server.url("/missing"));
    assert!(fetcher.fetch(&missing).await.is_err());
    let redirect = format!("{}{query}", server.url("/no-location"));
    assert_eq!(fetcher.fetch(&redirect).await, Err(FetchError::BadRedirect));
    assert_eq!(
        fetcher.fetch(&format!("ht!tp://x{query}")).await,
        Err(FetchError::InvalidLink)
    );
    let text = String::from_utf8_lossy(&log.0.lock().expect("log")).into_owned();
    // Other tests log here too: look for this test's own links.
    let refused_line = text
        .lines()
        .find(|l| l.contains(&without_query(&refused)))
        .unwrap_or_else(|| panic!("the cause names the link: {text}"));
    assert!(refused_line.contains("request failed"), "{refused_line}");
    let missing_line = text
        .lines()
        .find(|l| l.contains(&without_query(&missing)))
        .unwrap_or_else(|| panic!("the 404 is logged: {text}"));
    assert!(missing_line.contains("404"), "{missing_line}");
    for part in ["s3cret", "expires", "1700000000", "#part"] {
        assert!(!text.contains(part), "{part:?} logged: {text}");
    }
}

/// `link` without its query and fragment, as the fetcher logs it.
fn without_query(link: &str) -> String {
    link.split(['?', '#']).next().unwrap_or(link).to_string()
}
