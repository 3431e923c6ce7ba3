//! A Discord on loopback for end-to-end tests of the real bot: REST (reached through
//! serenity's proxy setting) and a gateway websocket that sends HELLO and READY, answers
//! heartbeats and dispatches INTERACTION_CREATE events. It records everything the bot sends:
//! interaction callbacks, edits of original responses, follow-ups and channel messages, with
//! the files of multipart bodies. Files users "attach" to commands are served from its
//! `/attachments/` path, the way Discord's CDN serves them, and their downloads are recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc};

pub const APP_ID: u64 = 900_000_000_000_000_001;
pub const GUILD_ID: u64 = 900_000_000_000_000_002;
pub const CHANNEL_ID: u64 = 900_000_000_000_000_003;
pub const BOT_ID: u64 = 900_000_000_000_000_004;
/// The only token this Discord accepts.
pub const TOKEN: &str = "fake.bot.token";

/// One request the bot made.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// The JSON body (of a multipart body, its `payload_json` part).
    pub json: Value,
    /// The files of a multipart body, in order.
    pub files: Vec<Upload>,
}

/// A file the bot uploaded.
#[derive(Clone)]
pub struct Upload {
    /// The form field: `files[0]`, `files[1]`, …
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} ({} bytes)",
            self.field,
            self.filename,
            self.bytes.len()
        )
    }
}

impl Upload {
    /// Whether the bytes are a PNG that decodes.
    pub fn is_png(&self) -> bool {
        self.bytes.starts_with(b"\x89PNG\r\n\x1a\n")
            && image::load_from_memory_with_format(&self.bytes, image::ImageFormat::Png).is_ok()
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    gateway: Option<mpsc::UnboundedSender<Value>>,
    connections: u32,
    /// Attached files by path: content type and bytes.
    attachments: HashMap<String, (String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    next_id: Arc<AtomicU64>,
}

fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
           "avatar": null, "bot": bot})
}

fn message_json(id: u64, content: &str, components: Value) -> Value {
    json!({
        "id": id.to_string(), "channel_id": CHANNEL_ID.to_string(),
        "author": user_json(BOT_ID, "tastebud", true), "content": content,
        "timestamp": "2026-11-23T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0,
        "components": components, "application_id": APP_ID.to_string()
    })
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeDiscord {
            base,
            inner: Arc::default(),
            changed: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1_000)),
        };
        let app = Router::new()
            .route("/ws", get(gateway))
            .route("/api/v10/gateway", get(gateway_url))
            .route("/api/v10/gateway/bot", get(gateway_url))
            .route("/api/v10/users/@me", get(current_user))
            .route(
                "/api/v10/applications/{app}/guilds/{guild}/commands",
                any(commands),
            )
            .route("/api/v10/applications/{app}/commands", any(commands))
            .route("/attachments/{*file}", get(attachment))
            .fallback(record)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn snowflake(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Everything the bot has sent so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.inner.lock().await.requests.clone()
    }

    /// Waits (up to 20 s) until a request matching `pred` has arrived, and returns it.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.changed.notified();
            if let Some(r) = self.inner.lock().await.requests.iter().find(|r| pred(r)) {
                return r.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen: Vec<String> = self
                    .requests()
                    .await
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!("timed out waiting for {what}; the bot sent: {seen:#?}");
            }
        }
    }

    /// Waits until the bot has registered its commands (it is then ready for interactions).
    pub async fn wait_ready(&self, connection: u32) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.changed.notified();
            {
                let inner = self.inner.lock().await;
                let registered = inner
                    .requests
                    .iter()
                    .filter(|r| r.method == Method::PUT && r.path.ends_with("/commands"))
                    .nth(connection as usize - 1);
                if let Some(r) = registered
                    && inner.connections >= connection
                {
                    return r.json.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("the bot never registered its commands");
            }
        }
    }

    async fn dispatch(&self, event: &str, d: Value) {
        let inner = self.inner.lock().await;
        let gateway = inner.gateway.as_ref().expect("the bot is connected");
        gateway
            .send(json!({"op": 0, "t": event, "d": d}))
            .expect("gateway open");
    }

    /// Sends an interaction of `kind` (2 command, 3 component) from `user` in the test guild,
    /// with `extra` fields (its `data`, a component's `message`); returns its token.
    async fn interact(&self, user: u64, kind: u8, extra: Value) -> String {
        let id = self.snowflake();
        let token = format!("tok{id}");
        let mut event = json!({
            "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind,
            "token": token, "version": 1, "guild_id": GUILD_ID.to_string(),
            "channel_id": CHANNEL_ID.to_string(),
            "channel": {"id": CHANNEL_ID.to_string(), "type": 0, "guild_id": GUILD_ID.to_string()},
            "member": {"user": user_json(user, &format!("user{user}"), false), "roles": [],
                       "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false,
                       "mute": false, "flags": 0, "permissions": "2147483647"},
            "app_permissions": "2147483647", "locale": "en-US", "guild_locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
            "attachment_size_limit": 26_214_400
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            event[key] = value.clone();
        }
        self.dispatch("INTERACTION_CREATE", event).await;
        token
    }

    /// Sends a slash command `name` with `options` from `user`; returns the interaction's token.
    pub async fn slash(&self, user: u64, name: &str, options: Value) -> String {
        self.slash_with(user, name, options, None).await
    }

    /// Sends a slash command whose options refer to `attachments` (made by
    /// [`FakeDiscord::attachment`]), as Discord does: by id, with the files themselves in the
    /// command's `resolved` data. Returns the interaction's token.
    pub async fn slash_with(
        &self,
        user: u64,
        name: &str,
        options: Value,
        attachments: Option<&[Value]>,
    ) -> String {
        let command_id = self.snowflake();
        let mut data = json!({"id": command_id.to_string(), "name": name, "type": 1,
                              "options": options, "guild_id": GUILD_ID.to_string()});
        if let Some(files) = attachments {
            let by_id: serde_json::Map<String, Value> = files
                .iter()
                .map(|f| (f["id"].as_str().unwrap_or("").to_string(), f.clone()))
                .collect();
            data["resolved"] = json!({ "attachments": by_id });
        }
        self.interact(user, 2, json!({ "data": data })).await
    }

    /// A file a user attaches to a command: served by this Discord at the URL in the returned
    /// attachment object (whose `size` a test may change to declare another size).
    pub async fn attachment(&self, filename: &str, content_type: &str, bytes: &[u8]) -> Value {
        let id = self.snowflake();
        let path = format!("/attachments/{CHANNEL_ID}/{id}/{filename}");
        let url = format!("{}{path}", self.base);
        self.inner
            .lock()
            .await
            .attachments
            .insert(path, (content_type.to_string(), bytes.to_vec()));
        json!({"id": id.to_string(), "filename": filename, "size": bytes.len(),
               "url": url, "proxy_url": url, "content_type": content_type,
               "ephemeral": true})
    }

    /// The downloads of `attachment` so far.
    pub async fn downloads(&self, attachment: &Value) -> usize {
        let url = attachment["url"].as_str().unwrap_or("");
        self.requests()
            .await
            .iter()
            .filter(|r| r.method == Method::GET && url.ends_with(&r.path))
            .count()
    }

    /// Sends a click by `user` on component `custom_id`; `values` for select menus. Returns the
    /// interaction's token.
    pub async fn click(&self, user: u64, custom_id: &str, values: Option<Vec<&str>>) -> String {
        let data = match values {
            Some(values) => json!({"custom_id": custom_id, "component_type": 3, "values": values}),
            None => json!({"custom_id": custom_id, "component_type": 2}),
        };
        let message = message_json(self.snowflake(), "panel", json!([]));
        self.interact(user, 3, json!({ "data": data, "message": message }))
            .await
    }

    /// The first response to interaction `token` (its callback), waiting for it.
    pub async fn response(&self, token: &str) -> Request {
        let needle = format!("/{token}/callback");
        self.wait_for(&format!("a response to {token}"), |r| {
            r.path.ends_with(&needle)
        })
        .await
    }

    /// The first edit of interaction `token`'s original response that satisfies `pred`.
    pub async fn edit(&self, token: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.wait_for(&format!("an edit of {token}'s response"), |r| {
            r.method == Method::PATCH && r.path.ends_with(&path) && pred(r)
        })
        .await
    }

    /// The edits of interaction `token`'s original response so far.
    pub async fn edits(&self, token: &str) -> Vec<Request> {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == Method::PATCH && r.path.ends_with(&path))
            .collect()
    }

    /// The first follow-up message to interaction `token` that satisfies `pred`.
    pub async fn follow_up(&self, token: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let path = format!("/webhooks/{APP_ID}/{token}");
        self.wait_for(&format!("a follow-up to {token}"), |r| {
            r.method == Method::POST && r.path.ends_with(&path) && pred(r)
        })
        .await
    }

    /// Waits until the bot deletes interaction `token`'s original response.
    pub async fn deleted(&self, token: &str) {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.wait_for(&format!("the deletion of {token}'s response"), |r| {
            r.method == Method::DELETE && r.path.ends_with(&path)
        })
        .await;
    }
}

fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    (auth != Some(&format!("Bot {TOKEN}"))).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "401: Unauthorized", "code": 0})),
        )
            .into_response()
    })
}

async fn current_user(headers: HeaderMap) -> Response {
    unauthorized(&headers)
        .unwrap_or_else(|| axum::Json(user_json(BOT_ID, "tastebud", true)).into_response())
}

async fn gateway_url(State(fake): State<FakeDiscord>, headers: HeaderMap) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let ws = fake.base.replace("http://", "ws://") + "/ws";
    axum::Json(json!({"url": ws, "shards": 1, "session_start_limit":
        {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}))
    .into_response()
}

async fn commands(
    State(fake): State<FakeDiscord>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut registered = json.as_array().cloned().unwrap_or_default();
    for c in &mut registered {
        c["id"] = json!(fake.snowflake().to_string());
        c["application_id"] = json!(APP_ID.to_string());
        c["version"] = json!("1");
        c["default_member_permissions"] = Value::Null;
        c["type"] = c.get("type").cloned().unwrap_or(json!(1));
    }
    push(
        &fake,
        Request {
            method,
            path: uri.path().to_string(),
            json,
            files: Vec::new(),
        },
    )
    .await;
    axum::Json(Value::Array(registered)).into_response()
}

/// Serves an attached file, recording the download.
async fn attachment(State(fake): State<FakeDiscord>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let file = fake.inner.lock().await.attachments.get(&path).cloned();
    push(
        &fake,
        Request {
            method: Method::GET,
            path,
            json: Value::Null,
            files: Vec::new(),
        },
    )
    .await;
    match file {
        Some((content_type, bytes)) => {
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Splits a `multipart/form-data` body into its `payload_json` (parsed) and its files.
fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, Vec<Upload>) {
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
    else {
        return (Value::Null, Vec::new());
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let mut json = Value::Null;
    let mut files = Vec::new();
    for part in split_bytes(body, delimiter.as_bytes()).into_iter().skip(1) {
        // Each part: CRLF, headers, CRLF CRLF, content, CRLF; the last is "--" CRLF.
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]).to_string();
        let content = &part[split + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        let field = quoted(disposition, "name=").unwrap_or_default();
        match quoted(disposition, "filename=") {
            Some(filename) => files.push(Upload {
                field,
                filename,
                bytes: content.to_vec(),
            }),
            None if field == "payload_json" => {
                json = serde_json::from_slice(content).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (json, files)
}

/// The value of `key"…"` in a header line.
fn quoted(line: &str, key: &str) -> Option<String> {
    let at = line
        .match_indices(key)
        .find(|(i, _)| *i == 0 || matches!(line.as_bytes()[i - 1], b' ' | b';'))?
        .0;
    let rest = line[at + key.len()..].strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut bytes: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(bytes, delimiter) {
        out.push(&bytes[..at]);
        bytes = &bytes[at + delimiter.len()..];
    }
    out.push(bytes);
    out
}

/// Records any other request. Callbacks and deletions are answered with 204, webhook and
/// channel message routes with a message, anything else with 404.
async fn record(
    State(fake): State<FakeDiscord>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (json, files) = if content_type.starts_with("multipart/form-data") {
        parse_multipart(content_type, &body)
    } else {
        (
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            Vec::new(),
        )
    };
    let path = uri.path().to_string();
    let content = json
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let components = json.get("components").cloned().unwrap_or(json!([]));
    push(
        &fake,
        Request {
            method: method.clone(),
            path: path.clone(),
            json,
            files,
        },
    )
    .await;
    if path.ends_with("/callback") || method == Method::DELETE {
        StatusCode::NO_CONTENT.into_response()
    } else if path.contains("/webhooks/")
        || path.ends_with(&format!("/channels/{CHANNEL_ID}/messages"))
    {
        axum::Json(message_json(fake.snowflake(), &content, components)).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Unknown route", "code": 0})),
        )
            .into_response()
    }
}

async fn push(fake: &FakeDiscord, request: Request) {
    fake.inner.lock().await.requests.push(request);
    fake.changed.notify_waiters();
}

async fn gateway(State(fake): State<FakeDiscord>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve_gateway(fake, socket))
}

async fn serve_gateway(fake: FakeDiscord, mut socket: WebSocket) {
    let (events, mut outbox) = mpsc::unbounded_channel::<Value>();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41_250}});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut seq = 0u64;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(Message::Text(text))) = incoming else {
                    if incoming.is_none() { return; }
                    continue;
                };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                match payload["op"].as_u64() {
                    Some(1) => {
                        let ack = json!({"op": 11});
                        let _ = socket.send(Message::Text(ack.to_string().into())).await;
                    }
                    Some(2) => {
                        seq += 1;
                        let ready = json!({"op": 0, "t": "READY", "s": seq, "d": {
                            "v": 10, "user": user_json(BOT_ID, "tastebud", true),
                            "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                            "session_id": "fake-session",
                            "resume_gateway_url": fake.base.replace("http://", "ws://") + "/ws",
                            "application": {"id": APP_ID.to_string(), "flags": 0},
                            "shard": [0, 1]
                        }});
                        if socket.send(Message::Text(ready.to_string().into())).await.is_err() {
                            return;
                        }
                        let mut inner = fake.inner.lock().await;
                        inner.gateway = Some(events.clone());
                        inner.connections += 1;
                        drop(inner);
                        fake.changed.notify_waiters();
                    }
                    _ => {}
                }
            }
            Some(mut event) = outbox.recv() => {
                seq += 1;
                event["s"] = json!(seq);
                if socket.send(Message::Text(event.to_string().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
