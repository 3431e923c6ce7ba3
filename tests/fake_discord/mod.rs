//! A Discord on loopback for end-to-end tests of the real bot, as strict and unkind as the
//! documented API: REST (reached through serenity's proxy setting) and a gateway websocket
//! with shards (HELLO, IDENTIFY, READY, heartbeats, INTERACTION_CREATE on the shard Discord
//! would use). It records everything the bot sends, with the status it answered and the time
//! on its clock, including the files of multipart bodies; files users "attach" to commands are
//! served from its `/attachments/` path, the way Discord's CDN serves them: at signed URLs
//! (`?ex=…&is=…&hm=…&`) that are refused without their signature.
//!
//! Every rule it enforces names the page of discord-api-docs it follows
//! (`developers/…`, in github.com/discord/discord-api-docs). When the bot breaks one, the fake
//! answers as Discord would *and* records a violation; every waiting helper then panics, so a
//! test that makes the bot break a rule fails. Answers the bot cannot foresee (an expired
//! token on the fake clock, a closed DM, missing channel permissions, a 429 the test asked
//! for, a failed command upload) are recorded but are not violations: the bot must react.
//!
//! The rule modules: `rules` (message, component and command limits, JSON error bodies),
//! `rest` (routes, interaction timing, permissions, DMs, rate limits), `gateway` (shards).
#![allow(dead_code)]

mod gateway;
mod multipart;
mod rest;
pub mod rules;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

pub use rules::{ATTACH_FILES, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS, VIEW_CHANNEL};

pub const APP_ID: u64 = 900_000_000_000_000_001;
pub const GUILD_ID: u64 = 900_000_000_000_000_002;
pub const CHANNEL_ID: u64 = 900_000_000_000_000_003;
pub const BOT_ID: u64 = 900_000_000_000_000_004;
/// The (group) DM between users where [`Place::user_install`]`(None)` interactions come from:
/// the bot is not in it.
pub const PRIVATE_CHANNEL_ID: u64 = 900_000_000_000_000_005;
/// The only token this Discord accepts, unless it is started with
/// [`FakeDiscord::start_with_token`].
pub const TOKEN: &str = "fake.bot.token";

/// The permissions the README's invite link grants the bot (its `permissions=` value): View
/// Channels, Send Messages, Send Messages in Threads, Attach Files (274877942784).
/// Interactions from the test guild carry exactly these as `app_permissions`, and plain
/// channel messages are allowed or refused by them. Update this with the README's link.
pub const INVITE_PERMISSIONS: u64 =
    VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | ATTACH_FILES;

/// The 3 s deadline for the initial response: `developers/interactions/
/// receiving-and-responding.mdx`, "Responding to an Interaction": "you **must send an initial
/// response within 3 seconds of receiving the event**. If the 3 second deadline is exceeded,
/// the token will be invalidated."
pub const INITIAL_RESPONSE_DEADLINE: Duration = Duration::from_secs(3);
/// Interaction tokens live 15 minutes: same page, "Followup Messages": "Interaction tokens are
/// valid for **15 minutes**".
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// One request the bot made, and what the fake answered.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// The JSON body (of a multipart body, its `payload_json` part).
    pub json: Value,
    /// The files of a multipart body, in order.
    pub files: Vec<Upload>,
    /// The HTTP status the fake answered.
    pub status: u16,
    /// When it arrived, on the fake clock (real time since the fake started, plus
    /// [`FakeDiscord::advance`]s).
    pub at: Duration,
}

impl Request {
    /// Whether the fake accepted it (a 2xx answer).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
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

    /// Whether the bytes are a JPEG that decodes.
    pub fn is_jpeg(&self) -> bool {
        self.bytes.starts_with(&[0xFF, 0xD8, 0xFF])
            && image::load_from_memory_with_format(&self.bytes, image::ImageFormat::Jpeg).is_ok()
    }
}

/// How the app was installed where an interaction comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Install {
    /// Installed to the server (the bot is a member).
    Guild,
    /// The DM between the user and the bot user.
    BotDm,
    /// Installed to the user only: the bot is not a member of the server, or the channel is a
    /// (group) DM between users.
    UserOnly,
}

/// Where an interaction comes from.
#[derive(Debug, Clone)]
pub struct Place {
    install: Install,
    guild: Option<u64>,
    channel: Option<u64>,
    channel_permissions: u64,
}

impl Place {
    /// A channel of a server the app is installed in (the bot is a member), with the invite
    /// link's permissions ([`INVITE_PERMISSIONS`]).
    pub fn guild(guild_id: u64, channel_id: u64) -> Place {
        Place {
            install: Install::Guild,
            guild: Some(guild_id),
            channel: Some(channel_id),
            channel_permissions: INVITE_PERMISSIONS,
        }
    }

    /// The same channel with View Channel, Send Messages and Send Messages in Threads denied
    /// to the bot (a channel overwrite): `app_permissions` says so, and plain messages there
    /// are refused.
    pub fn without_channel_permissions(mut self) -> Place {
        self.channel_permissions &= !(VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS);
        self
    }

    /// The DM between the user and the bot: no `guild_id`, no `member`, a top-level `user`,
    /// the DM channel (the one `POST /users/@me/channels` returns), `context` 1 (`BOT_DM`),
    /// `authorizing_integration_owners` `{"0": "0"}` (guild-installed app used in its bot DM):
    /// `developers/interactions/receiving-and-responding.mdx`, Interaction Structure (notes
    /// \*\* and \*\*\*), Interaction Context Types, Authorizing Integration Owners Object.
    pub fn dm() -> Place {
        Place {
            install: Install::BotDm,
            guild: None,
            channel: None,
            channel_permissions: rules::BOT_DM_PERMISSIONS,
        }
    }

    /// An app installed to the user only: `authorizing_integration_owners` holds only the
    /// `"1"` (USER_INSTALL) key with the user's id. With a guild: `context` 0 (`GUILD`) in
    /// channel `guild + 10` of a server the bot is not a member of, `app_permissions` those of
    /// `@everyone` limited to what interaction responses can use (`developers/change-log.mdx`,
    /// "Calculated Permissions in Interaction Payloads"). Without: `context` 2
    /// (`PRIVATE_CHANNEL`), a DM between users ([`PRIVATE_CHANNEL_ID`]), `app_permissions`
    /// `ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE` (Interaction Structure, note \*\*\*).
    /// Follow-ups are capped at 5 there (`developers/interactions/receiving-and-responding.mdx`,
    /// Create Followup Message).
    pub fn user_install(guild: Option<u64>) -> Place {
        match guild {
            Some(g) => Place {
                install: Install::UserOnly,
                guild: Some(g),
                channel: Some(g + 10),
                channel_permissions: rules::USER_INSTALL_GUILD_PERMISSIONS,
            },
            None => Place {
                install: Install::UserOnly,
                guild: None,
                channel: Some(PRIVATE_CHANNEL_ID),
                channel_permissions: rules::PRIVATE_CHANNEL_PERMISSIONS,
            },
        }
    }

    /// The channel the interaction comes from, when it does not depend on the user (all but
    /// [`Place::dm`]).
    pub fn channel_id(&self) -> Option<u64> {
        self.channel
    }

    pub fn guild_id(&self) -> Option<u64> {
        self.guild
    }
}

/// A channel the fake knows, as the bot sees it.
#[derive(Debug, Clone)]
struct Channel {
    guild: Option<u64>,
    /// The bot is a member of the channel's server (or it is the bot's DM).
    bot_member: bool,
    /// The bot's computed permissions in it.
    permissions: u64,
    /// For a DM with the bot: the user at the other end.
    dm_user: Option<u64>,
}

/// An interaction the fake dispatched.
#[derive(Debug, Clone)]
struct Interaction {
    id: u64,
    kind: u8,
    channel: u64,
    dispatched: Duration,
    /// The callback type of the accepted initial response.
    acked: Option<u64>,
    /// The token was invalidated by a missed 3 s deadline.
    invalidated: bool,
    /// The original response's message id, once there is one.
    original: Option<u64>,
    original_deleted: bool,
    followups: Vec<u64>,
    user_install_only: bool,
    size_limit: u64,
    shard: [u32; 2],
}

/// A live gateway connection.
struct Connection {
    id: u64,
    shard: [u32; 2],
    events: mpsc::UnboundedSender<Value>,
}

/// A rate-limit bucket: a fixed window of requests.
#[derive(Debug, Clone, Default)]
struct Bucket {
    window_start: Duration,
    count: u32,
    /// A 429 the test asked for is in force until then.
    blocked_until: Option<Duration>,
}

/// A 429 the test asked for.
struct Forced {
    method: Method,
    needle: String,
    retry_after: Duration,
}

/// A request the test asked to hold: told when it arrives, answered when released.
struct Hold {
    method: Method,
    needle: String,
    arrived: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// A held request, from [`FakeDiscord::hold_next`].
pub struct Held {
    arrived: Option<oneshot::Receiver<()>>,
    release: Option<oneshot::Sender<()>>,
}

impl Held {
    /// Waits (up to 60 s) until the held request has arrived.
    pub async fn arrived(&mut self) {
        let arrived = self.arrived.take().expect("waited once");
        tokio::time::timeout(Duration::from_secs(60), arrived)
            .await
            .expect("the held request never came")
            .expect("the fake is gone");
    }

    /// Lets the held request be answered, as of now on the fake clock.
    pub fn release(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}

struct Inner {
    holds: Vec<Hold>,
    requests: Vec<Request>,
    violations: Vec<String>,
    /// Time added by [`FakeDiscord::advance`].
    offset: Duration,
    connections: Vec<Connection>,
    /// READYs sent.
    readies: u32,
    identifies: Vec<Value>,
    shards: u32,
    /// Whether an event for a shard no process is connected on is lost (as on Discord, where
    /// the user sees "This interaction failed") instead of failing the test.
    offline_shards_lose_events: bool,
    sessions_remaining: u32,
    /// When the last session started, on the fake clock (for `max_concurrency`).
    last_session_start: Option<Duration>,
    /// Attached files by path: content type, bytes and the signed query they are served at.
    attachments: HashMap<String, (String, Vec<u8>, String)>,
    interactions: HashMap<String, Interaction>,
    channels: HashMap<u64, Channel>,
    dm_channels: HashMap<u64, u64>,
    closed_dms: HashSet<u64>,
    /// Servers the bot is a member of.
    bot_guilds: HashSet<u64>,
    /// Registered commands: global (`None`) and per guild.
    commands: HashMap<Option<u64>, Vec<Value>>,
    fail_registrations: u32,
    buckets: HashMap<String, Bucket>,
    forced: Vec<Forced>,
    bucket_limit: (u32, Duration),
    /// Messages the bot created: id → channel, deleted.
    messages: HashMap<u64, (u64, bool)>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub base: String,
    /// The bot token it accepts.
    token: Arc<str>,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    next_id: Arc<AtomicU64>,
    started: Instant,
}

fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
           "avatar": null, "bot": bot})
}

fn message_json(id: u64, channel: u64, content: &str, components: Value, flags: u64) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(),
        "author": user_json(BOT_ID, "tastebud", true), "content": content,
        "timestamp": "2026-11-23T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": flags,
        "components": components, "application_id": APP_ID.to_string()
    })
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        Self::start_with_token(TOKEN).await
    }

    /// A Discord that accepts `token` as the bot's token (and no other).
    pub async fn start_with_token(token: &str) -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut inner = Inner {
            holds: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            offset: Duration::ZERO,
            connections: Vec::new(),
            readies: 0,
            identifies: Vec::new(),
            shards: 1,
            offline_shards_lose_events: false,
            sessions_remaining: 1000,
            last_session_start: None,
            attachments: HashMap::new(),
            interactions: HashMap::new(),
            channels: HashMap::new(),
            dm_channels: HashMap::new(),
            closed_dms: HashSet::new(),
            bot_guilds: HashSet::from([GUILD_ID]),
            commands: HashMap::new(),
            fail_registrations: 0,
            buckets: HashMap::new(),
            forced: Vec::new(),
            bucket_limit: rest::DEFAULT_BUCKET_LIMIT,
            messages: HashMap::new(),
        };
        inner.channels.insert(
            CHANNEL_ID,
            Channel {
                guild: Some(GUILD_ID),
                bot_member: true,
                permissions: INVITE_PERMISSIONS,
                dm_user: None,
            },
        );
        let fake = FakeDiscord {
            base,
            token: token.into(),
            inner: Arc::new(Mutex::new(inner)),
            changed: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1_000)),
            started: Instant::now(),
        };
        let app = Router::new()
            .route("/ws", get(gateway::gateway))
            .route("/attachments/{*file}", get(attachment))
            .fallback(rest::api)
            // The fake, not axum's 2 MB default, decides which bodies are too large.
            .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn snowflake(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The fake clock: real time since the fake started plus every [`FakeDiscord::advance`].
    fn clock(&self, inner: &Inner) -> Duration {
        self.started.elapsed() + inner.offset
    }

    /// The fake clock now.
    pub async fn now(&self) -> Duration {
        let inner = self.inner.lock().await;
        self.clock(&inner)
    }

    /// Moves the fake clock forward: interaction deadlines, token lifetimes and rate-limit
    /// windows see the time pass.
    pub async fn advance(&self, by: Duration) {
        self.inner.lock().await.offset += by;
        self.changed.notify_waiters();
    }

    /// The bot token this Discord accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token of every interaction sent to the bot so far.
    pub async fn interaction_tokens(&self) -> Vec<String> {
        self.inner
            .lock()
            .await
            .interactions
            .keys()
            .cloned()
            .collect()
    }

    /// Everything the bot has sent so far, refused requests included.
    pub async fn requests(&self) -> Vec<Request> {
        self.inner.lock().await.requests.clone()
    }

    /// The documented rules the bot has broken so far, one sentence each.
    pub async fn violations(&self) -> Vec<String> {
        self.inner.lock().await.violations.clone()
    }

    /// Panics, listing them, if the bot has broken any documented rule.
    pub async fn assert_no_violations(&self) {
        let violations = self.violations().await;
        assert!(
            violations.is_empty(),
            "the bot broke Discord's rules:\n{}",
            violations.join("\n")
        );
    }

    /// Makes `GET /gateway/bot` recommend `n` shards (call before the bot starts). The app is
    /// then taken to be in too many servers for fewer shards: a connection identifying with
    /// fewer than `n` shards in total is closed with 4011 Sharding required.
    pub async fn set_shards(&self, n: u32) {
        assert!(n >= 1);
        self.inner.lock().await.shards = n;
    }

    /// From now on an event for a shard no process is connected on (one killed, say) is lost,
    /// as on Discord, instead of failing the test: the interaction is never answered.
    pub async fn lose_events_of_offline_shards(&self) {
        self.inner.lock().await.offline_shards_lose_events = true;
    }

    /// The `d` of every IDENTIFY the bot sent, in order.
    pub async fn identifies(&self) -> Vec<Value> {
        self.inner.lock().await.identifies.clone()
    }

    /// The `[shard_id, num_shards]` of the connection interaction `token` was dispatched on.
    pub async fn shard_of(&self, token: &str) -> Option<[u32; 2]> {
        self.inner
            .lock()
            .await
            .interactions
            .get(token)
            .map(|i| i.shard)
    }

    /// Makes the next `n` command uploads (`PUT`/`POST …/commands`) answer 500; `u32::MAX`
    /// fails them all for good.
    pub async fn fail_registrations(&self, n: u32) {
        self.inner.lock().await.fail_registrations = n;
    }

    /// The commands registered globally (`None`) or in a guild.
    pub async fn registered(&self, guild: Option<u64>) -> Vec<Value> {
        self.inner
            .lock()
            .await
            .commands
            .get(&guild)
            .cloned()
            .unwrap_or_default()
    }

    /// Makes the next request of `method` whose path contains `path_contains` answer 429 with
    /// `Retry-After` and Discord's JSON body; until `retry_after` has passed on the fake clock,
    /// any request in the same bucket (route and major parameter) is answered 429 again and
    /// recorded as a violation.
    /// Holds the next request matching `method` and `path_contains` unanswered until the test
    /// releases it; it is then answered as Discord would at that moment of the fake clock (so
    /// a test can let a token expire while the bot waits for an answer).
    pub async fn hold_next(&self, method: Method, path_contains: &str) -> Held {
        let (arrived_tx, arrived_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        self.inner.lock().await.holds.push(Hold {
            method,
            needle: path_contains.to_string(),
            arrived: arrived_tx,
            release: release_rx,
        });
        Held {
            arrived: Some(arrived_rx),
            release: Some(release_tx),
        }
    }

    pub async fn rate_limit_next(
        &self,
        method: Method,
        path_contains: &str,
        retry_after: Duration,
    ) {
        self.inner.lock().await.forced.push(Forced {
            method,
            needle: path_contains.to_string(),
            retry_after,
        });
    }

    /// Sets every bucket's quota: `limit` requests per `window` (default 50 per second, the
    /// documented global limit). A request on a bucket the headers said was exhausted is
    /// answered 429 and recorded as a violation.
    pub async fn set_bucket_limit(&self, limit: u32, window: Duration) {
        self.inner.lock().await.bucket_limit = (limit.max(1), window);
    }

    /// Makes `user` refuse DMs (their privacy settings, or they blocked the bot): messages to
    /// their DM channel answer 403 50007.
    pub async fn close_dms(&self, user: u64) {
        self.inner.lock().await.closed_dms.insert(user);
    }

    /// The DM channel between the bot and `user` (made on first use, as `POST
    /// /users/@me/channels` would).
    pub async fn dm_channel(&self, user: u64) -> u64 {
        let mut inner = self.inner.lock().await;
        self.dm_channel_in(&mut inner, user)
    }

    fn dm_channel_in(&self, inner: &mut Inner, user: u64) -> u64 {
        if let Some(c) = inner.dm_channels.get(&user) {
            return *c;
        }
        let c = self.snowflake();
        inner.dm_channels.insert(user, c);
        inner.channels.insert(
            c,
            Channel {
                guild: None,
                bot_member: true,
                permissions: rules::BOT_DM_PERMISSIONS | VIEW_CHANNEL | SEND_MESSAGES,
                dm_user: Some(user),
            },
        );
        c
    }

    /// The messages the bot sent (and Discord accepted) in its DM with `user`.
    pub async fn dm_messages(&self, user: u64) -> Vec<Request> {
        let channel = self.inner.lock().await.dm_channels.get(&user).copied();
        let Some(channel) = channel else {
            return Vec::new();
        };
        self.channel_messages(channel).await
    }

    /// The messages the bot posted (and Discord accepted) in `channel` with `POST
    /// /channels/{id}/messages`.
    pub async fn channel_messages(&self, channel: u64) -> Vec<Request> {
        let path = format!("/channels/{channel}/messages");
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == Method::POST && r.path.ends_with(&path) && r.ok())
            .collect()
    }

    fn panic_on_violations(inner: &Inner) {
        if !inner.violations.is_empty() {
            panic!(
                "the bot broke Discord's rules:\n{}",
                inner.violations.join("\n")
            );
        }
    }

    /// Waits (up to 20 s) until a request matching `pred` has arrived, and returns it; panics
    /// at once if the bot breaks a rule meanwhile. Refused requests are matched too (use
    /// [`Request::ok`]).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.changed.notified();
            {
                let inner = self.inner.lock().await;
                Self::panic_on_violations(&inner);
                if let Some(r) = inner.requests.iter().find(|r| pred(r)) {
                    return r.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen: Vec<String> = self
                    .requests()
                    .await
                    .iter()
                    .map(|r| format!("{} {} → {}", r.method, r.path, r.status))
                    .collect();
                panic!("timed out waiting for {what}; the bot sent: {seen:#?}");
            }
        }
    }

    /// Waits until the bot has registered its commands (accepted) for the `connection`th time
    /// and that many connections got READY; returns the registered commands as sent.
    pub async fn wait_ready(&self, connection: u32) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.changed.notified();
            {
                let inner = self.inner.lock().await;
                Self::panic_on_violations(&inner);
                let registered = inner
                    .requests
                    .iter()
                    .filter(|r| r.method == Method::PUT && r.path.ends_with("/commands") && r.ok())
                    .nth(connection as usize - 1);
                if let Some(r) = registered
                    && inner.readies >= connection
                {
                    return r.json.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("the bot never registered its commands");
            }
        }
    }

    /// Sends `event` on the connection of the shard Discord routes it to:
    /// `developers/events/gateway.mdx`, "Sharding": `shard_id = (guild_id >> 22) % num_shards`,
    /// and events without a `guild_id` (DMs) go to shard 0 only. Returns that shard.
    async fn dispatch(&self, event: &str, d: Value, guild: Option<u64>) -> [u32; 2] {
        let inner = self.inner.lock().await;
        let found = inner
            .connections
            .iter()
            // The newest session of a shard gets the event (like the fake always did).
            .rev()
            .find(|c| {
                let wanted = guild.map_or(0, |g| ((g >> 22) % u64::from(c.shard[1])) as u32);
                c.shard[0] == wanted
            });
        if found.is_none() && inner.offline_shards_lose_events {
            return [u32::MAX, 0];
        }
        let connection = found.unwrap_or_else(|| {
            let live: Vec<[u32; 2]> = inner.connections.iter().map(|c| c.shard).collect();
            panic!(
                "no gateway connection handles {event} for guild {guild:?} (live shards: \
                     {live:?}); is the bot connected on every shard?"
            )
        });
        let sent = connection.events.send(json!({"op": 0, "t": event, "d": d}));
        if sent.is_err() && inner.offline_shards_lose_events {
            return [u32::MAX, 0];
        }
        sent.expect("gateway open");
        connection.shard
    }

    /// Checks a command the way Discord's client does before sending it: the command must be
    /// registered where `place` is (globally, or in that guild; guild commands exist only in
    /// their guild: `developers/interactions/application-commands.mdx`, "Registering a
    /// Command"), allowed there (`contexts`, `integration_types`), and the options must match
    /// the registered ones (type, choices, required, `min_length`/`max_length`). Returns the
    /// command's id and the guild it is registered in.
    async fn registered_command(
        &self,
        place: &Place,
        name: &str,
        options: &Value,
    ) -> (String, Option<u64>) {
        let inner = self.inner.lock().await;
        let mut scopes = vec![None];
        if let Some(g) = place.guild
            && place.install == Install::Guild
        {
            scopes.insert(0, Some(g));
        }
        let found = scopes.iter().find_map(|scope| {
            inner.commands.get(scope).and_then(|list| {
                list.iter()
                    .find(|c| c["name"] == name && c["type"].as_u64().unwrap_or(1) == 1)
                    .map(|c| (c.clone(), *scope))
            })
        });
        let Some((command, scope)) = found else {
            panic!(
                "Discord's client offers no /{name} at {place:?}: it is not registered there \
                 (registered: {:?})",
                inner
                    .commands
                    .iter()
                    .map(|(scope, list)| (
                        *scope,
                        list.iter()
                            .filter_map(|c| c["name"].as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
            )
        };
        let context = match (place.install, place.guild) {
            (Install::BotDm, _) => 1,
            (_, Some(_)) => 0,
            (_, None) => 2,
        };
        if let Some(contexts) = command["contexts"].as_array()
            && !contexts.iter().any(|c| c.as_u64() == Some(context))
        {
            panic!("/{name} is registered without context {context}: {contexts:?}");
        }
        let install_type = if place.install == Install::UserOnly {
            1
        } else {
            0
        };
        if let Some(types) = command["integration_types"].as_array()
            && !types.iter().any(|t| t.as_u64() == Some(install_type))
        {
            panic!("/{name} is registered without integration type {install_type}: {types:?}");
        }
        check_sent_options(&format!("/{name}"), &command["options"], options);
        (command["id"].as_str().unwrap_or("0").to_string(), scope)
    }

    /// Builds and dispatches an interaction of `kind` (2 command, 3 component) from `user` at
    /// `place`, with `extra` fields (its `data`, a component's `message`); returns its token.
    async fn interact(&self, place: &Place, user: u64, kind: u8, extra: Value) -> String {
        let id = self.snowflake();
        let token = format!("tok{id}");
        let user_json = user_json(user, &format!("user{user}"), false);
        let mut inner = self.inner.lock().await;
        let channel = match place.install {
            Install::BotDm => self.dm_channel_in(&mut inner, user),
            _ => place.channel.expect("a channel"),
        };
        if place.install != Install::BotDm {
            if place.install == Install::Guild
                && let Some(g) = place.guild
            {
                inner.bot_guilds.insert(g);
            }
            inner.channels.insert(
                channel,
                Channel {
                    guild: place.guild,
                    bot_member: place.install == Install::Guild,
                    permissions: place.channel_permissions,
                    dm_user: None,
                },
            );
        }
        let owners = match (place.install, place.guild) {
            (Install::Guild, Some(g)) => json!({"0": g.to_string()}),
            (Install::BotDm, _) => json!({"0": "0"}),
            _ => json!({"1": user.to_string()}),
        };
        let context = match (place.install, place.guild) {
            (Install::BotDm, _) => 1,
            (_, Some(_)) => 0,
            (_, None) => 2,
        };
        let mut event = json!({
            "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind,
            "token": token, "version": 1, "channel_id": channel.to_string(),
            "app_permissions": place.channel_permissions.to_string(), "locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": owners, "context": context,
            "attachment_size_limit": rules::DEFAULT_ATTACHMENT_SIZE_LIMIT
        });
        match place.guild {
            Some(g) => {
                event["guild_id"] = json!(g.to_string());
                event["guild"] = json!({"id": g.to_string(), "locale": "en-US", "features": []});
                event["guild_locale"] = json!("en-US");
                event["channel"] = json!({"id": channel.to_string(), "type": 0,
                    "guild_id": g.to_string(), "name": "general",
                    "permissions": "2147483647"});
                event["member"] = json!({"user": user_json, "roles": [],
                    "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false,
                    "mute": false, "flags": 0, "pending": false,
                    "permissions": "2147483647"});
            }
            None => {
                let mut recipients = vec![user_json.clone()];
                if place.install == Install::UserOnly {
                    recipients.push(self::user_json(user + 1, "friend", false));
                }
                event["channel"] = json!({"id": channel.to_string(), "type": 1,
                    "recipients": recipients, "flags": 0});
                event["user"] = user_json;
            }
        }
        for (key, value) in extra.as_object().into_iter().flatten() {
            event[key] = value.clone();
        }
        let now = self.clock(&inner);
        if std::env::var_os("FAKE_DISCORD_LOG").is_some() {
            eprintln!(
                "fake Discord: {:>9.3}s dispatch {token} (type {kind})",
                now.as_secs_f64()
            );
        }
        inner.interactions.insert(
            token.clone(),
            Interaction {
                id,
                kind,
                channel,
                dispatched: now,
                acked: None,
                invalidated: false,
                original: None,
                original_deleted: false,
                followups: Vec::new(),
                user_install_only: place.install == Install::UserOnly,
                size_limit: rules::DEFAULT_ATTACHMENT_SIZE_LIMIT,
                shard: [0, 1],
            },
        );
        drop(inner);
        let shard = self
            .dispatch("INTERACTION_CREATE", event, place.guild)
            .await;
        if let Some(i) = self.inner.lock().await.interactions.get_mut(&token) {
            i.shard = shard;
        }
        token
    }

    /// The test guild's channel, guild-installed with the invite permissions.
    pub fn test_guild() -> Place {
        Place::guild(GUILD_ID, CHANNEL_ID)
    }

    /// Sends a slash command `name` with `options` from `user` in the test guild; returns the
    /// interaction's token.
    pub async fn slash(&self, user: u64, name: &str, options: Value) -> String {
        self.slash_with(user, name, options, None).await
    }

    /// Sends a slash command from the test guild whose options refer to `attachments` (made
    /// by [`FakeDiscord::attachment`]), as Discord does: by id, with the files themselves in
    /// the command's `resolved` data. Returns the interaction's token.
    pub async fn slash_with(
        &self,
        user: u64,
        name: &str,
        options: Value,
        attachments: Option<&[Value]>,
    ) -> String {
        self.slash_from(&Self::test_guild(), user, name, options, attachments)
            .await
    }

    /// Sends a slash command from `place`. Panics, as Discord's client refuses to send it, if
    /// the command is not registered there or an option breaks its registered rules.
    pub async fn slash_from(
        &self,
        place: &Place,
        user: u64,
        name: &str,
        options: Value,
        attachments: Option<&[Value]>,
    ) -> String {
        let (command_id, scope) = self.registered_command(place, name, &options).await;
        let mut data = json!({"id": command_id, "name": name, "type": 1, "options": options});
        if let Some(g) = scope {
            data["guild_id"] = json!(g.to_string());
        }
        if let Some(files) = attachments {
            let by_id: serde_json::Map<String, Value> = files
                .iter()
                .map(|f| (f["id"].as_str().unwrap_or("").to_string(), f.clone()))
                .collect();
            data["resolved"] = json!({ "attachments": by_id });
        }
        self.interact(place, user, 2, json!({ "data": data })).await
    }

    /// A file a user attaches to a command: served by this Discord at the URL in the returned
    /// attachment object (whose `size` a test may change to declare another size). Like
    /// Discord's CDN since 2024 (`developers/reference.mdx`, "Signed Attachment CDN URLs"), the
    /// URL carries `ex` (expiry, hex Unix seconds), `is` (issued) and `hm` (a signature) in
    /// its query, and the file is not served without them.
    pub async fn attachment(&self, filename: &str, content_type: &str, bytes: &[u8]) -> Value {
        let id = self.snowflake();
        let path = format!("/attachments/{CHANNEL_ID}/{id}/{filename}");
        let issued = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = format!(
            "ex={:08x}&is={issued:08x}&hm={}&",
            issued + 24 * 3600,
            signature(&path, issued)
        );
        let url = format!("{}{path}?{query}", self.base);
        self.inner
            .lock()
            .await
            .attachments
            .insert(path, (content_type.to_string(), bytes.to_vec(), query));
        json!({"id": id.to_string(), "filename": filename, "size": bytes.len(),
               "url": url, "proxy_url": url, "content_type": content_type,
               "ephemeral": true})
    }

    /// The downloads of `attachment` so far.
    pub async fn downloads(&self, attachment: &Value) -> usize {
        let url = attachment["url"].as_str().unwrap_or("");
        let url = url.split('?').next().unwrap_or(url);
        self.requests()
            .await
            .iter()
            .filter(|r| r.method == Method::GET && url.ends_with(&r.path))
            .count()
    }

    /// Sends a click by `user` on component `custom_id` in the test guild; `values` for select
    /// menus. Returns the interaction's token.
    pub async fn click(&self, user: u64, custom_id: &str, values: Option<Vec<&str>>) -> String {
        self.click_from(&Self::test_guild(), user, custom_id, values)
            .await
    }

    /// Sends a click by `user` on component `custom_id` of a message at `place`.
    pub async fn click_from(
        &self,
        place: &Place,
        user: u64,
        custom_id: &str,
        values: Option<Vec<&str>>,
    ) -> String {
        let data = match values {
            Some(values) => json!({"custom_id": custom_id, "component_type": 3, "values": values}),
            None => json!({"custom_id": custom_id, "component_type": 2}),
        };
        let channel = match place.install {
            Install::BotDm => self.dm_channel(user).await,
            _ => place.channel.unwrap_or(CHANNEL_ID),
        };
        let message_id = self.snowflake();
        self.inner
            .lock()
            .await
            .messages
            .insert(message_id, (channel, false));
        let message = message_json(message_id, channel, "panel", json!([]), 0);
        let token = self
            .interact(place, user, 3, json!({ "data": data, "message": message }))
            .await;
        // A component's "original response" is the message it is attached to.
        if let Some(i) = self.inner.lock().await.interactions.get_mut(&token) {
            i.original = Some(message_id);
        }
        token
    }

    /// The accepted initial response to interaction `token` (its callback), waiting for it.
    pub async fn response(&self, token: &str) -> Request {
        let needle = format!("/{token}/callback");
        self.wait_for(&format!("a response to {token}"), |r| {
            r.path.ends_with(&needle) && r.ok()
        })
        .await
    }

    /// The first accepted edit of interaction `token`'s original response that satisfies
    /// `pred`.
    pub async fn edit(&self, token: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.wait_for(&format!("an edit of {token}'s response"), |r| {
            r.method == Method::PATCH && r.path.ends_with(&path) && r.ok() && pred(r)
        })
        .await
    }

    /// The accepted edits of interaction `token`'s original response so far.
    pub async fn edits(&self, token: &str) -> Vec<Request> {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == Method::PATCH && r.path.ends_with(&path) && r.ok())
            .collect()
    }

    /// The first accepted follow-up message to interaction `token` that satisfies `pred`.
    pub async fn follow_up(&self, token: &str, pred: impl Fn(&Request) -> bool) -> Request {
        let path = format!("/webhooks/{APP_ID}/{token}");
        self.wait_for(&format!("a follow-up to {token}"), |r| {
            r.method == Method::POST && r.path.ends_with(&path) && r.ok() && pred(r)
        })
        .await
    }

    /// Waits until the bot deletes interaction `token`'s original response (accepted).
    pub async fn deleted(&self, token: &str) {
        let path = format!("/webhooks/{APP_ID}/{token}/messages/@original");
        self.wait_for(&format!("the deletion of {token}'s response"), |r| {
            r.method == Method::DELETE && r.path.ends_with(&path) && r.ok()
        })
        .await;
    }

    /// Waits for the first accepted message the bot posts in its DM with `user` that
    /// satisfies `pred`.
    pub async fn dm(&self, user: u64, pred: impl Fn(&Request) -> bool) -> Request {
        let channel = self.dm_channel(user).await;
        let path = format!("/channels/{channel}/messages");
        self.wait_for(&format!("a DM to {user}"), |r| {
            r.method == Method::POST && r.path.ends_with(&path) && r.ok() && pred(r)
        })
        .await
    }

    /// Waits for the first accepted message the bot posts in `channel` that satisfies `pred`.
    pub async fn channel_message(&self, channel: u64, pred: impl Fn(&Request) -> bool) -> Request {
        let path = format!("/channels/{channel}/messages");
        self.wait_for(&format!("a message in {channel}"), |r| {
            r.method == Method::POST && r.path.ends_with(&path) && r.ok() && pred(r)
        })
        .await
    }
}

/// The options of a command as sent, checked against the registered ones as Discord's client
/// does (`developers/interactions/application-commands.mdx`, Application Command Option
/// Structure): each option exists with the registered type; a value is one of the `choices`
/// when there are any; strings are within `min_length`/`max_length`; required options are
/// there. Panics otherwise: the client would not send it.
fn check_sent_options(what: &str, registered: &Value, sent: &Value) {
    let sent_list = sent.as_array().cloned().unwrap_or_default();
    for o in &sent_list {
        let name = o["name"].as_str().unwrap_or("");
        let Some(spec) = rules::find_option(registered, name) else {
            panic!("{what} has no option {name:?}; registered: {registered}");
        };
        if spec["type"] != o["type"] {
            panic!(
                "{what} {name}: sent as type {}, registered as type {}",
                o["type"], spec["type"]
            );
        }
        match spec["type"].as_u64() {
            Some(1 | 2) => {
                check_sent_options(&format!("{what} {name}"), &spec["options"], &o["options"])
            }
            kind => {
                if let Some(choices) = spec["choices"].as_array()
                    && !choices.is_empty()
                    && !choices.iter().any(|c| c["value"] == o["value"])
                {
                    panic!(
                        "{what} {name}: {} is not one of the choices {choices:?}",
                        o["value"]
                    );
                }
                if kind == Some(3) {
                    let n = o["value"].as_str().map_or(0, |s| s.chars().count()) as u64;
                    if let Some(max) = spec["max_length"].as_u64()
                        && n > max
                    {
                        panic!(
                            "{what} {name}: Discord's client refuses {n} characters, the \
                             registered max_length is {max}"
                        );
                    }
                    if let Some(min) = spec["min_length"].as_u64()
                        && n < min
                    {
                        panic!("{what} {name}: {n} characters, below min_length {min}");
                    }
                }
            }
        }
    }
    for spec in registered.as_array().into_iter().flatten() {
        if spec["required"].as_bool() == Some(true) {
            let name = spec["name"].as_str().unwrap_or("");
            if !sent_list.iter().any(|o| o["name"] == name) {
                panic!("{what}: the required option {name:?} is missing");
            }
        }
    }
}

/// A made-up 64-hex-digit signature of an attachment's path.
fn signature(path: &str, issued: u64) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    (0..4u64)
        .map(|round| {
            let hash =
                BuildHasherDefault::<DefaultHasher>::default().hash_one((path, issued, round));
            format!("{hash:016x}")
        })
        .collect()
}

/// Serves an attached file at its signed URL (404 without the signature, as Discord's CDN
/// answers), recording the download.
async fn attachment(State(fake): State<FakeDiscord>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let mut inner = fake.inner.lock().await;
    let file = inner
        .attachments
        .get(&path)
        .filter(|(_, _, query)| uri.query() == Some(query.as_str()))
        .map(|(content_type, bytes, _)| (content_type.clone(), bytes.clone()));
    let at = fake.clock(&inner);
    inner.requests.push(Request {
        method: Method::GET,
        path,
        json: Value::Null,
        files: Vec::new(),
        status: if file.is_some() { 200 } else { 404 },
        at,
    });
    drop(inner);
    fake.changed.notify_waiters();
    match file {
        Some((content_type, bytes)) => {
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
