//! Log output: `tracing` events (and `log` records of libraries) as text on stderr, with
//! secrets redacted from every event at every level.
//!
//! At `RUST_LOG=trace` the libraries under the bot print what they send and receive: the
//! websocket library dumps every gateway frame (IDENTIFY and RESUME carry the bot token,
//! INTERACTION_CREATE an interaction token and attachment URLs), and HTTP errors name the URL
//! they failed on, which for interaction answers carries the interaction's token. None of that
//! is ours to change, so the log output itself is filtered: [`Redacting`] wraps the writer
//! of the fmt subscriber, collects each event whole (however the formatter splits its writes)
//! and writes it through [`Redactor::redact`]. What is replaced by `[redacted]`:
//! - the configured secrets (the bot token), wherever they appear;
//! - anything shaped like a Discord bot token (three base64url parts joined by dots);
//! - the token in `/interactions/{id}/{token}` and `/webhooks/{id}/{token}` paths;
//! - the value of a field whose name ends in `token`: JSON (`"token":"…"`, also escaped
//!   inside a string), `Debug` output (`token: "…"`, `token: Some("…")`) and `key=value`;
//! - the credentials of an `Authorization` header (`Bot …`, `Bearer …`);
//! - the `ex`, `is` and `hm` parameters that sign a Discord attachment URL (the path stays);
//! - raw byte dumps (long hex strings and `[1, 2, …]` lists), which can hold any of these
//!   encoded: the websocket library logs frame payloads that way.
//!
//! Colours are off, so that field names and values reach the filter as plain text.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, LazyLock};

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not redacted as exact strings: replacing every `x` of a log
/// would hide everything and protect nothing.
const MIN_SECRET_LEN: usize = 8;

/// The value of a field whose name ends in `token` (any case): `interaction_token`, `Token`.
const TOKEN_KEY: &str = r"(?i-u:[a-z_]*token)";

/// Each rule: a pattern whose secret part is the text between capture groups 1 and 2 (when a
/// pattern has a group 2) or everything after group 1, and the replacement that keeps the
/// groups.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: [(String, &str); 10] = [
        // /interactions/{id}/{token}/callback, /webhooks/{application}/{token}/messages/…
        (
            r#"(/(?:interactions|webhooks)/[0-9]+/)[^/?#&"'\\ \t\r\n<>)]+"#.into(),
            "${1}[redacted]",
        ),
        // "token":"…" (JSON, as in IDENTIFY and RESUME)
        (
            format!(r#"("{TOKEN_KEY}"[ \t]*:[ \t]*")(?:[^"\\]|\\.)*(")"#),
            "${1}[redacted]${2}",
        ),
        // \"token\":\"…\" (JSON inside a quoted string)
        (
            format!(r#"(\\"{TOKEN_KEY}\\"[ \t]*:[ \t]*\\")(?:[^"\\]|\\[^"])*(\\")"#),
            "${1}[redacted]${2}",
        ),
        // token: "…", token: Some("…") (Debug), token="…" (a field recorded with `?`)
        (
            format!(r#"({TOKEN_KEY}(?:: *|=)(?:Some\()?")(?:[^"\\]|\\.)*(")"#),
            "${1}[redacted]${2}",
        ),
        // token=… (a field recorded with `%`, a query parameter)
        (
            format!(r#"({TOKEN_KEY}=)[^"\\ \t\r\n,;&)}}\]]+"#),
            "${1}[redacted]",
        ),
        // Authorization: Bot …, "authorization": "Bearer …"
        (
            r#"((?i-u:authorization)"?[ \t]*[:=][ \t]*"?(?:(?i-u:bot|bearer|basic) +)?)[^"\\ \t\r\n,}]+"#
                .into(),
            "${1}[redacted]",
        ),
        // ?ex=…&is=…&hm=… of a signed attachment URL
        (
            r#"([?&](?:ex|is|hm)=)[^&#"'\\ \t\r\n<>)]+"#.into(),
            "${1}[redacted]",
        ),
        // A Discord bot token: base64 of the bot's id, of a timestamp, and an HMAC.
        (
            r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{25,}".into(),
            "[redacted]",
        ),
        // A hex dump (tungstenite logs frames as `payload: 0x7b226f70…`).
        (r"(0x)[0-9A-Fa-f]{32,}".into(), "${1}[redacted]"),
        // A byte list (`payload: [123, 34, 111, …]` from `Debug` of a `Vec<u8>`).
        (
            r"\[[0-9]{1,3}(?:, [0-9]{1,3}){15,}\]".into(),
            "[redacted bytes]",
        ),
    ];
    rules
        .into_iter()
        .map(|(pattern, replacement)| {
            let regex =
                Regex::new(&pattern).unwrap_or_else(|e| panic!("redaction pattern {pattern}: {e}"));
            (regex, replacement)
        })
        .collect()
});

/// Every rule at once, to pass over the text that needs none of them (nearly all) in one scan.
static ANY_RULE: LazyLock<Regex> = LazyLock::new(|| {
    let all: Vec<String> = RULES
        .iter()
        .map(|(regex, _)| format!("(?:{})", regex.as_str()))
        .collect();
    Regex::new(&all.join("|")).unwrap_or_else(|e| panic!("redaction patterns: {e}"))
});

/// Removes secrets from log text; see the module documentation for what counts as one.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Exact strings to hide (the bot token), longest first.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that also hides each of `secrets` (blank or very short ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().to_string())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when there was none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        if !ANY_RULE.is_match(&out) {
            return out;
        }
        for (regex, replacement) in RULES.iter() {
            if let Cow::Owned(changed) = regex.replace_all(&out, *replacement) {
                out = Cow::Owned(changed);
            }
        }
        out
    }
}

/// A [`MakeWriter`] that hands out [`EventWriter`]s: each collects one event and writes it,
/// redacted, to a writer of `M` when it is dropped.
#[derive(Debug, Clone)]
pub struct Redacting<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> Redacting<M> {
    pub fn new(inner: M, redactor: Arc<Redactor>) -> Redacting<M> {
        Redacting { inner, redactor }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = EventWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter::new(self.inner.make_writer(), self.redactor.clone())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        EventWriter::new(self.inner.make_writer_for(meta), self.redactor.clone())
    }
}

/// Holds what is written until it is dropped (the end of the event), then writes it redacted:
/// a secret split over several writes is still seen whole.
pub struct EventWriter<W: Write> {
    buffer: Vec<u8>,
    inner: W,
    redactor: Arc<Redactor>,
}

impl<W: Write> EventWriter<W> {
    pub fn new(inner: W, redactor: Arc<Redactor>) -> EventWriter<W> {
        EventWriter {
            buffer: Vec::new(),
            inner,
            redactor,
        }
    }
}

impl<W: Write> Write for EventWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Nothing leaves before the event is complete.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for EventWriter<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let redacted = self.redactor.redact(&text);
        // A log that cannot be written has nowhere to say so.
        let _ = self.inner.write_all(redacted.as_bytes());
        let _ = self.inner.flush();
    }
}

/// The filter from `RUST_LOG`, or `info` when it is unset or invalid.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber tastebud logs through: `filter`, plain text without colours, each event
/// redacted by `redactor` and written to `writer`.
pub fn subscriber<W>(
    filter: EnvFilter,
    writer: W,
    redactor: Arc<Redactor>,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Redacting::new(writer, redactor))
        .finish()
}

/// Sends `tracing` events and `log` records to stderr at the level `RUST_LOG` asks for,
/// hiding `secrets` (the bot token) and the other secrets of the module documentation.
/// Returns the redactor, for messages printed without `tracing`.
pub fn init<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Arc<Redactor> {
    let redactor = Arc::new(Redactor::new(secrets));
    // Fails only when a subscriber is already installed, and then that one is in charge.
    let _ = subscriber(env_filter(), io::stderr, redactor.clone()).try_init();
    redactor
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A made-up token with the shape of a real one: base64 of a bot id, 6 characters of
    /// timestamp, 38 of HMAC. Built from parts so that no token-shaped string is in the source.
    fn bot_token() -> String {
        let id = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ";
        let time = "GxYzAb";
        let hmac = "fake_not-a-real-hmac_0123456789abcdefgh";
        format!("{id}.{time}.{hmac}")
    }

    fn interaction_token() -> String {
        [
            "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpmYWtl",
            "VG9rZW5Gb3JUZXN0cw",
        ]
        .concat()
    }

    fn redact(text: &str) -> String {
        Redactor::new([bot_token()]).redact(text).into_owned()
    }

    fn assert_clean(out: &str, secrets: &[&str]) {
        for secret in secrets {
            assert!(!out.contains(secret), "{secret:?} left in {out}");
        }
        assert!(out.contains(REDACTED), "nothing redacted in {out}");
    }

    #[test]
    fn the_identify_and_resume_payloads_lose_their_token() {
        let token = bot_token();
        let identify = format!(
            r#"TRACE tungstenite::protocol: Received message {{"op":2,"d":{{"token":"{token}","intents":0,"properties":{{"os":"linux","browser":"serenity","device":"serenity"}},"compress":true,"large_threshold":250,"shard":[0,1]}}}}"#
        );
        let out = redact(&identify);
        assert_clean(&out, &[token.as_str()]);
        assert!(out.contains(r#""token":"[redacted]","intents":0"#), "{out}");
        // Not the configured token, and with spaces: the JSON rule alone.
        let resume =
            r#"{"op": 6, "d": {"token" : "some other secret", "session_id": "abc", "seq": 12}}"#;
        assert_eq!(
            Redactor::default().redact(resume),
            r#"{"op": 6, "d": {"token" : "[redacted]", "session_id": "abc", "seq": 12}}"#
        );
        // JSON quoted inside a Debug string.
        let escaped =
            r#"payload: "{\"op\":2,\"d\":{\"token\":\"some other secret\",\"intents\":0}}""#;
        assert_eq!(
            Redactor::default().redact(escaped),
            r#"payload: "{\"op\":2,\"d\":{\"token\":\"[redacted]\",\"intents\":0}}""#
        );
    }

    #[test]
    fn frame_dumps_are_redacted_whole() {
        let json = format!(r#"{{"op":2,"d":{{"token":"{}"}}}}"#, bot_token());
        let hex: String = json.bytes().map(|b| format!("{b:02x}")).collect();
        let display = format!(
            "TRACE tungstenite::protocol::frame: writing frame \n<FRAME>\nfinal: true\n\
             reserved: false false false\nopcode: TEXT\nlength: {}\npayload length: {}\n\
             payload: 0x{hex}\n            ",
            json.len() + 2,
            json.len()
        );
        let out = Redactor::default().redact(&display);
        assert_clean(&out, &[&hex[..40]]);
        assert!(out.contains("payload: 0x[redacted]"), "{out}");
        assert!(out.contains("opcode: TEXT"), "{out}");

        let bytes: Vec<u8> = json.bytes().collect();
        let debug = format!(
            "TRACE tungstenite::protocol: Sending frame: Frame {{ header: FrameHeader {{ \
             is_final: true, opcode: Data(Text), mask: None }}, payload: {bytes:?} }}"
        );
        let out = Redactor::default().redact(&debug);
        assert!(out.contains("payload: [redacted bytes] }"), "{out}");
        assert!(!out.contains("123, 34"), "{out}");
    }

    #[test]
    fn interaction_and_webhook_tokens_in_paths_are_redacted() {
        let token = interaction_token();
        let lines = [
            format!(
                "WARN reqwest: error sending request for url \
                 (https://discord.com/api/v10/interactions/1198765432109876543/{token}/callback)"
            ),
            format!(
                r#"Http(UnsuccessfulRequest(ErrorResponse {{ status_code: 401, url: "https://discord.com/api/v10/webhooks/900000000000000001/{token}/messages/@original", method: PATCH }}))"#
            ),
            format!(
                "WARN Discord answered 429; waiting route=POST /webhooks/9/{token} retry_after=1.5s"
            ),
            format!("GET /api/v10/webhooks/9/{token}?wait=true"),
        ];
        for line in &lines {
            let out = redact(line);
            assert_clean(&out, &[token.as_str()]);
        }
        assert!(
            redact(&lines[0]).contains("/interactions/1198765432109876543/[redacted]/callback")
        );
        assert!(
            redact(&lines[1])
                .contains("/webhooks/900000000000000001/[redacted]/messages/@original\"")
        );
        assert!(redact(&lines[3]).ends_with("/webhooks/9/[redacted]?wait=true"));
    }

    #[test]
    fn token_fields_in_debug_and_key_value_form_are_redacted() {
        let token = interaction_token();
        let cases = [
            (
                format!(
                    r#"ComponentInteraction {{ id: InteractionId(5), token: "{token}", version: 1 }}"#
                ),
                r#"token: "[redacted]", version: 1"#.to_string(),
            ),
            (
                format!(r#"Request {{ token: Some("{token}") }}"#),
                r#"token: Some("[redacted]")"#.to_string(),
            ),
            (
                format!(r#"DEBUG reply{{interaction_token="{token}"}}: tastebud: sent"#),
                r#"interaction_token="[redacted]"}"#.to_string(),
            ),
            (
                format!("DEBUG tastebud: answered token={token} kind=7"),
                "token=[redacted] kind=7".to_string(),
            ),
            (
                format!("GET /callback?Token={token}&x=1"),
                "?Token=[redacted]&x=1".to_string(),
            ),
        ];
        for (line, expected) in cases {
            let out = redact(&line);
            assert_clean(&out, &[token.as_str()]);
            assert!(out.contains(&expected), "{out}");
        }
    }

    #[test]
    fn authorization_headers_are_redacted() {
        let cases = [
            r#"headers: {"authorization": "Bot some.other-secret", "user-agent": "DiscordBot"}"#,
            "Authorization: Bot some.other-secret\r\n",
            r#"{"authorization": "Bearer some.other-secret"}"#,
            "AUTHORIZATION=some.other-secret",
        ];
        for line in cases {
            let out = Redactor::default().redact(line).into_owned();
            assert_clean(&out, &["some.other-secret"]);
        }
        assert_eq!(
            Redactor::default().redact(cases[0]),
            r#"headers: {"authorization": "Bot [redacted]", "user-agent": "DiscordBot"}"#
        );
    }

    #[test]
    fn the_configured_token_and_token_shaped_strings_are_redacted_anywhere() {
        let token = bot_token();
        let out = redact(&format!("cannot connect with {token}, giving up"));
        assert_eq!(out, "cannot connect with [redacted], giving up");
        // Another token of the same shape, not configured.
        let other = format!(
            "{}.{}.{}",
            "NzY1NDMyMTA5ODc2NTQzMjEw",
            "AbCdEf",
            "z".repeat(27)
        );
        assert_eq!(
            Redactor::default().redact(&format!("token {other} leaked")),
            "token [redacted] leaked"
        );
        // A configured secret of any shape.
        let odd = Redactor::new(["fake.bot.token"]);
        assert_eq!(odd.redact("Bot fake.bot.token!"), "Bot [redacted]!");
        // Too short to be a secret worth hiding.
        assert_eq!(Redactor::new(["abc"]).redact("abc abc"), "abc abc");
    }

    #[test]
    fn signed_attachment_urls_keep_their_path_only() {
        let url = "https://cdn.discordapp.com/attachments/1012345678901234567/1198765432109876543/dusk.png?ex=65c7b8f2&is=65b543f2&hm=3f5e4b1a9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f&";
        let line = format!(r#"WARN could not download error="{url}""#);
        let out = Redactor::default().redact(&line);
        assert_eq!(
            out,
            "WARN could not download error=\"https://cdn.discordapp.com/attachments/\
             1012345678901234567/1198765432109876543/dusk.png?ex=[redacted]&is=[redacted]\
             &hm=[redacted]&\""
        );
    }

    #[test]
    fn ordinary_lines_are_left_alone_and_borrowed() {
        let redactor = Redactor::new([bot_token()]);
        for line in [
            "INFO tastebud::discord: connected to Discord user=tastebud shard=Some(ShardInfo { id: ShardId(0), total: 1 })",
            "DEBUG reqwest::connect: starting new connection: https://discord.com/",
            "TRACE serenity::gateway::shard: [ShardInfo { id: ShardId(0), total: 1 }] Received heartbeat ack",
            "INFO tastebud: 3 tokens left, broken=false, version 0.12.5",
            "https://cdn.discordapp.com/attachments/1/2/dusk.png",
            "GET /api/v10/applications/900000000000000001/guilds/900000000000000002/commands",
            "images/3f5e4b1a9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f.png",
            "votes [1, 2, 3]",
        ] {
            assert!(
                matches!(redactor.redact(line), Cow::Borrowed(_)),
                "changed: {line}"
            );
        }
    }

    /// Collects what a writer wrote, for the subscriber tests.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// Writes one byte at a time, like a writer that accepts short writes.
    struct OneByte(Captured);

    impl Write for OneByte {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            match bytes.first() {
                Some(b) => {
                    self.0.0.lock().unwrap().push(*b);
                    Ok(1)
                }
                None => Ok(0),
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_event_written_in_pieces_is_redacted_whole() {
        let token = bot_token();
        let sink = Captured::default();
        let redactor = Arc::new(Redactor::new([token.clone()]));
        {
            let mut writer = EventWriter::new(OneByte(sink.clone()), redactor);
            let line = format!("identify {{\"token\":\"{token}\"}} Bot {token}\n");
            // Split in the middle of the token, and of the key.
            let (a, rest) = line.split_at(14);
            let (b, c) = rest.split_at(20);
            for piece in [a, b, c] {
                writer.write_all(piece.as_bytes()).unwrap();
                writer.flush().unwrap();
            }
            assert!(
                sink.text().is_empty(),
                "nothing before the event is complete"
            );
        }
        assert_eq!(
            sink.text(),
            "identify {\"token\":\"[redacted]\"} Bot [redacted]\n"
        );
    }

    #[test]
    fn the_subscriber_redacts_messages_fields_spans_and_log_records() {
        let token = bot_token();
        let url =
            "https://cdn.discordapp.com/attachments/1/2/a.png?ex=65c7b8f2&is=65b543f2&hm=3f5e4b1a";
        let sink = Captured::default();
        let writer = {
            let sink = sink.clone();
            move || OneByte(sink.clone())
        };
        let subscriber = subscriber(
            EnvFilter::new("trace"),
            writer,
            Arc::new(Redactor::new([token.clone()])),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("answer", interaction_token = %interaction_token());
            let _entered = span.enter();
            tracing::trace!(token = ?token, "identifying");
            tracing::debug!(%url, "downloading");
            tracing::warn!("sending {token} failed");
        });
        let out = sink.text();
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(!out.contains(&token), "{out}");
        assert!(!out.contains(&interaction_token()), "{out}");
        assert!(
            !out.contains("65c7b8f2") && !out.contains("3f5e4b1a"),
            "{out}"
        );
        assert!(out.contains("attachments/1/2/a.png?ex=[redacted]"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colours: {out}");
    }
}
