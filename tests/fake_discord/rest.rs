//! The REST API: routes, interaction timing, permissions, DMs, command registration and rate
//! limits. Every answer carries rate-limit headers; every request is recorded with its status.

use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::rules::{self, Refusal};
use super::{
    APP_ID, BOT_ID, Bucket, FakeDiscord, INITIAL_RESPONSE_DEADLINE, Inner, Request, TOKEN_LIFETIME,
    Upload, message_json, multipart, user_json,
};

/// Default quota of every bucket. Per-route limits are not documented ("rate limits should not
/// be hard coded", `developers/topics/rate-limits.mdx`); the one documented number is the
/// global limit of 50 requests per second (same page, "Global Rate Limit").
pub const DEFAULT_BUCKET_LIMIT: (u32, Duration) = (50, Duration::from_secs(1));

const RATE_LIMITS_PAGE: &str = "developers/topics/rate-limits.mdx";
const INTERACTIONS_PAGE: &str = "developers/interactions/receiving-and-responding.mdx";

/// What the fake answers.
struct Answer {
    status: u16,
    body: Option<Value>,
    violation: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body: Some(body),
            violation: None,
            headers: Vec::new(),
        }
    }

    fn no_content() -> Answer {
        Answer {
            status: 204,
            body: None,
            violation: None,
            headers: Vec::new(),
        }
    }

    /// Discord's error answer, not the bot's fault (the bot must react to it).
    fn error(status: u16, code: u64, message: &str) -> Answer {
        Answer {
            status,
            body: Some(json!({"code": code, "message": message})),
            violation: None,
            headers: Vec::new(),
        }
    }

    /// Discord's error answer to a broken rule: also a violation.
    fn broken(status: u16, code: u64, message: &str, rule: String) -> Answer {
        Answer {
            violation: Some(rule),
            ..Answer::error(status, code, message)
        }
    }

    fn refused(r: Refusal) -> Answer {
        Answer {
            status: r.status,
            body: Some(r.body),
            violation: Some(r.rule),
            headers: Vec::new(),
        }
    }
}

/// A route's rate-limit identity: its template (ids replaced) and major parameter
/// (`developers/topics/rate-limits.mdx`: "top-level resources … channels (`channel_id`),
/// guilds (`guild_id`), and webhooks (`webhook_id` or `webhook_id + webhook_token`)"; an
/// interaction callback is keyed by its interaction).
fn route_of(segments: &[&str]) -> (String, String) {
    let mut template = Vec::new();
    let mut major = String::new();
    for (i, s) in segments.iter().enumerate() {
        let previous = if i > 0 { segments[i - 1] } else { "" };
        let placeholder = match previous {
            "channels" | "guilds" | "webhooks" | "interactions" | "applications" | "messages"
            | "users"
                if *s != "@me" && *s != "@original" =>
            {
                Some(format!("{{{previous}}}"))
            }
            _ if i >= 2 && matches!(segments[i - 2], "webhooks" | "interactions") => {
                Some("{token}".to_string())
            }
            _ => None,
        };
        match placeholder {
            Some(p) => {
                if major.is_empty() && matches!(previous, "channels" | "guilds" | "interactions") {
                    major = s.to_string();
                }
                if p == "{token}" {
                    major = format!("{}/{s}", segments[i - 1]);
                }
                template.push(p);
            }
            None => template.push(s.to_string()),
        }
    }
    (template.join("/"), major)
}

fn bucket_hash(template: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Applies the bucket of `template`/`major`: a 429 the test forced, a retry inside its
/// `retry_after` (violation), or an exhausted bucket (violation); otherwise counts the request.
/// Returns the headers of the answer and, if refused, the 429.
fn rate_limit(
    inner: &mut Inner,
    now: Duration,
    method: &Method,
    path: &str,
    template: &str,
    major: &str,
) -> (Vec<(&'static str, String)>, Option<Answer>) {
    let key = format!("{template}|{major}");
    let (limit, window) = inner.bucket_limit;
    let forced = inner
        .forced
        .iter()
        .position(|f| f.method == *method && path.contains(&f.needle));
    let bucket = inner.buckets.entry(key).or_insert_with(|| Bucket {
        window_start: now,
        ..Bucket::default()
    });
    if now >= bucket.window_start + window {
        bucket.window_start = now;
        bucket.count = 0;
    }
    let reset_after = (bucket.window_start + window).saturating_sub(now);
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + reset_after;
    let mut headers = vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", epoch.as_secs_f64())),
        (
            "x-ratelimit-reset-after",
            format!("{:.3}", reset_after.as_secs_f64()),
        ),
        ("x-ratelimit-bucket", bucket_hash(template)),
    ];
    let too_many = |retry: Duration, message: &str, rule: Option<String>| {
        let secs = retry.as_secs_f64();
        // `Retry-After` in whole seconds, as in the page's examples; the body's
        // `retry_after` has the precise value.
        let headers = vec![
            ("retry-after", format!("{}", secs.ceil().max(1.0) as u64)),
            ("x-ratelimit-scope", "user".to_string()),
            ("x-ratelimit-remaining", "0".to_string()),
        ];
        Answer {
            status: 429,
            body: Some(
                json!({"message": message, "retry_after": (secs * 1000.0).round() / 1000.0,
                              "global": false}),
            ),
            violation: rule,
            headers,
        }
    };
    if let Some(until) = bucket.blocked_until {
        if now < until {
            let retry = until - now;
            let rule = format!(
                "retried {method} {path} {:.3} s before the retry_after of its 429 had passed \
                 ({RATE_LIMITS_PAGE}, Exceeding A Rate Limit: rely on Retry-After / retry_after)",
                retry.as_secs_f64()
            );
            return (
                headers,
                Some(too_many(retry, "You are being rate limited.", Some(rule))),
            );
        }
        bucket.blocked_until = None;
    }
    if let Some(i) = forced {
        let f = inner.forced.remove(i);
        let bucket = inner
            .buckets
            .get_mut(&format!("{template}|{major}"))
            .expect("the bucket");
        bucket.blocked_until = Some(now + f.retry_after);
        return (
            headers,
            Some(too_many(f.retry_after, "You are being rate limited.", None)),
        );
    }
    let bucket = inner
        .buckets
        .get_mut(&format!("{template}|{major}"))
        .expect("the bucket");
    if bucket.count >= limit {
        let rule = format!(
            "{method} {path} on a bucket whose X-RateLimit-Remaining was 0, {:.3} s before its \
             reset ({RATE_LIMITS_PAGE}: parse the headers and do not exceed the limit)",
            reset_after.as_secs_f64()
        );
        return (
            headers,
            Some(too_many(
                reset_after,
                "You are being rate limited.",
                Some(rule),
            )),
        );
    }
    bucket.count += 1;
    headers.push(("x-ratelimit-remaining", (limit - bucket.count).to_string()));
    (headers, None)
}

/// Every REST request: parses, rate-limits, answers, records.
pub async fn api(
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
        multipart::parse_multipart(content_type, &body)
    } else {
        (
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            Vec::new(),
        )
    };
    let path = uri.path().to_string();
    let segments: Vec<&str> = path
        .strip_prefix("/api/v10/")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    // Webhook and interaction callback routes are authenticated by their token in the path
    // (`developers/resources/webhook.mdx`: "does not require authentication").
    let token_route = matches!(segments.first(), Some(&"webhooks" | &"interactions"));
    let (mut template, major) = route_of(&segments);
    // "Deleting messages falls under a separate, higher rate limit so that bots are able to
    // more quickly delete content" (`docs/topics/Rate_Limits.md`, the page's earlier revision).
    if method == Method::DELETE && template.ends_with("/messages/{messages}") {
        template = format!("DELETE {template}");
    }

    let hold = {
        let mut inner = fake.inner.lock().await;
        let at = inner
            .holds
            .iter()
            .position(|h| h.method == method && path.contains(&h.needle));
        at.map(|k| inner.holds.remove(k))
    };
    if let Some(hold) = hold {
        let _ = hold.arrived.send(());
        let _ = hold.release.await;
    }
    let mut inner = fake.inner.lock().await;
    let now = fake.clock(&inner);
    let (rate_headers, limited) = rate_limit(&mut inner, now, &method, &path, &template, &major);
    let mut answer = if !path.starts_with("/api/v10/") {
        Answer::error(404, 0, "404: Not Found")
    } else if !token_route && auth != Some(&format!("Bot {}", fake.token())) {
        Answer::error(401, 0, "401: Unauthorized")
    } else if let Some(limited) = limited {
        limited
    } else {
        route(&fake, &mut inner, now, &method, &segments, &json, &files)
    };
    answer.headers.extend(rate_headers);
    // The 429's own remaining (0) wins over the bucket's.
    let mut seen = std::collections::HashSet::new();
    answer.headers.retain(|(k, _)| seen.insert(*k));
    if let Some(rule) = &answer.violation {
        inner
            .violations
            .push(format!("{method} {path} → {}: {rule}", answer.status));
    }
    if std::env::var_os("FAKE_DISCORD_LOG").is_some() {
        eprintln!(
            "fake Discord: {:>9.3}s {method} {path} → {} {}",
            now.as_secs_f64(),
            answer.status,
            answer
                .body
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        );
    }
    inner.requests.push(Request {
        method,
        path,
        json,
        files,
        status: answer.status,
        at: now,
    });
    drop(inner);
    fake.changed.notify_waiters();

    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match answer.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn route(
    fake: &FakeDiscord,
    inner: &mut Inner,
    now: Duration,
    method: &Method,
    segments: &[&str],
    json: &Value,
    files: &[Upload],
) -> Answer {
    let get = *method == Method::GET;
    match segments {
        ["gateway"] if get => Answer::ok(json!({"url": gateway_url(fake)})),
        ["gateway", "bot"] if get => gateway_bot(fake, inner),
        ["users", "@me"] if get => Answer::ok(user_json(BOT_ID, "tastebud", true)),
        ["users", "@me", "channels"] if *method == Method::POST => create_dm(fake, inner, json),
        ["oauth2", "applications", "@me"] | ["applications", "@me"] if get => {
            Answer::ok(application_json())
        }
        ["applications", app, "commands"] => commands(fake, inner, method, app, None, json),
        ["applications", app, "guilds", guild, "commands"] => {
            let guild = guild.parse().ok();
            commands(fake, inner, method, app, Some(guild.unwrap_or(0)), json)
        }
        ["interactions", id, token, "callback"] if *method == Method::POST => {
            callback(fake, inner, now, id, token, json, files)
        }
        ["webhooks", app, token, rest @ ..] => {
            webhook(fake, inner, now, method, app, token, rest, json, files)
        }
        ["channels", channel, "messages"] if *method == Method::POST => {
            channel_message(fake, inner, channel, json, files)
        }
        ["channels", channel, "messages", message] => {
            edit_channel_message(inner, method, channel, message, json, files)
        }
        _ => Answer::error(404, 0, "404: Not Found"),
    }
}

fn gateway_url(fake: &FakeDiscord) -> String {
    fake.base.replace("http://", "ws://") + "/ws"
}

/// `developers/events/gateway.mdx`, "Get Gateway Bot": `url`, the recommended `shards`, and the
/// "Session Start Limit Object" (`total`, `remaining`, `reset_after` in ms, `max_concurrency`).
fn gateway_bot(fake: &FakeDiscord, inner: &Inner) -> Answer {
    Answer::ok(json!({
        "url": gateway_url(fake),
        "shards": inner.shards,
        "session_start_limit": {"total": 1000, "remaining": inner.sessions_remaining,
                                "reset_after": 86_400_000, "max_concurrency": 1}
    }))
}

/// `developers/resources/application.mdx`, "Get Current Application" (also served at the
/// older `/oauth2/applications/@me` serenity uses): the application object.
fn application_json() -> Value {
    json!({
        "id": APP_ID.to_string(), "name": "tastebud", "icon": null,
        "description": "Personalization for any image generator", "summary": "",
        "bot_public": true, "bot_require_code_grant": false, "verify_key": "00",
        "flags": 0, "team": null, "owner": user_json(BOT_ID - 3, "owner", false),
        "bot": user_json(BOT_ID, "tastebud", true), "tags": [],
        "install_params": {"scopes": ["bot", "applications.commands"],
                           "permissions": super::INVITE_PERMISSIONS.to_string()},
        "integration_types_config": {"0": {}, "1": {}},
        "approximate_guild_count": 1
    })
}

/// `developers/resources/user.mdx`, "Create DM": `POST /users/@me/channels {recipient_id}`
/// returns the DM channel (the existing one if there is one).
fn create_dm(fake: &FakeDiscord, inner: &mut Inner, json: &Value) -> Answer {
    let recipient = json["recipient_id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| json["recipient_id"].as_u64());
    let Some(user) = recipient else {
        return Answer::refused(Refusal {
            status: 400,
            body: json!({"code": 50035, "message": "Invalid Form Body", "errors":
                {"recipient_id": {"_errors": [{"code": "BASE_TYPE_REQUIRED",
                                               "message": "This field is required"}]}}}),
            rule: "Create DM without a recipient_id (developers/resources/user.mdx, Create DM)"
                .into(),
        });
    };
    let channel = fake.dm_channel_in(inner, user);
    Answer::ok(json!({
        "id": channel.to_string(), "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [user_json(user, &format!("user{user}"), false)]
    }))
}

/// Command registration: bulk overwrite (`PUT`), create (`POST`), list (`GET`);
/// `developers/interactions/application-commands.mdx`, "Registering a Command" and the
/// endpoints below it. Uploads fail on request ([`FakeDiscord::fail_registrations`]); bodies
/// are validated ([`rules::check_commands`]).
fn commands(
    fake: &FakeDiscord,
    inner: &mut Inner,
    method: &Method,
    app: &str,
    guild: Option<u64>,
    json: &Value,
) -> Answer {
    if *app != APP_ID.to_string() {
        return Answer::broken(
            404,
            10002,
            "Unknown Application",
            format!(
                "commands registered for application {app}, not the bot's ({APP_ID}) \
                 (developers/resources/application.mdx)"
            ),
        );
    }
    if let Some(g) = guild
        && !inner.bot_guilds.contains(&g)
    {
        return Answer::error(403, 50001, "Missing Access");
    }
    if *method == Method::GET {
        return Answer::ok(Value::Array(
            inner.commands.get(&guild).cloned().unwrap_or_default(),
        ));
    }
    if !matches!(*method, Method::PUT | Method::POST) {
        return Answer::error(405, 0, "405: Method Not Allowed");
    }
    if inner.fail_registrations > 0 {
        if inner.fail_registrations != u32::MAX {
            inner.fail_registrations -= 1;
        }
        return Answer::error(500, 0, "500: Internal Server Error");
    }
    let list = if *method == Method::PUT {
        json.clone()
    } else {
        json!([json])
    };
    if let Err(refusal) = rules::check_commands(&list) {
        return Answer::refused(refusal);
    }
    let mut registered = list.as_array().cloned().unwrap_or_default();
    for c in &mut registered {
        c["id"] = json!(fake.snowflake().to_string());
        c["application_id"] = json!(APP_ID.to_string());
        c["version"] = json!(fake.snowflake().to_string());
        if c.get("default_member_permissions").is_none() {
            c["default_member_permissions"] = Value::Null;
        }
        c["type"] = c.get("type").cloned().unwrap_or(json!(1));
        if let Some(g) = guild {
            c["guild_id"] = json!(g.to_string());
        }
    }
    if *method == Method::PUT {
        inner.commands.insert(guild, registered.clone());
        Answer::ok(Value::Array(registered))
    } else {
        let list = inner.commands.entry(guild).or_default();
        let new = registered.remove(0);
        list.retain(|c| c["name"] != new["name"] || c["type"] != new["type"]);
        list.push(new.clone());
        Answer {
            status: 201,
            ..Answer::ok(new)
        }
    }
}

/// Message flags a bot may set on a response: `developers/interactions/
/// receiving-and-responding.mdx`, "Messages": only `SUPPRESS_EMBEDS` (4), `EPHEMERAL` (64),
/// `IS_VOICE_MESSAGE` (8192), `SUPPRESS_NOTIFICATIONS` (4096) and `IS_COMPONENTS_V2` (32768);
/// for a deferred response only `EPHEMERAL`.
fn check_flags(data: &Value, deferred: bool, at: &str) -> Result<(), Refusal> {
    let flags = data["flags"].as_u64().unwrap_or(0);
    let allowed = if deferred {
        64
    } else {
        4 | 64 | 4096 | 8192 | 32768
    };
    if flags & !allowed != 0 {
        return Err(Refusal {
            status: 400,
            body: json!({"code": 50035, "message": "Invalid Form Body", "errors":
                {at: {"flags": {"_errors": [{"code": "MESSAGE_INVALID_FLAGS",
                    "message": "Invalid flags"}]}}}}),
            rule: format!(
                "message flags {flags} include flags a response cannot set \
                 ({INTERACTIONS_PAGE}, Messages)"
            ),
        });
    }
    Ok(())
}

/// `POST /interactions/{id}/{token}/callback`: `developers/interactions/
/// receiving-and-responding.mdx`, "Create Interaction Response" and "Responding to an
/// Interaction" (3 s deadline; one initial response: JSON code 40060 "Interaction has already
/// been acknowledged"; 10062 "Unknown interaction" once the token is invalid), "Interaction
/// Callback Type" (6 and 7 only for components, 8 only for autocomplete, 9 not for a modal
/// submit, 1 only for HTTP PINGs).
fn callback(
    fake: &FakeDiscord,
    inner: &mut Inner,
    now: Duration,
    id: &str,
    token: &str,
    json: &Value,
    files: &[Upload],
) -> Answer {
    let Some(interaction) = inner.interactions.get_mut(token) else {
        return Answer::broken(
            404,
            10062,
            "Unknown interaction",
            format!("a callback for an interaction the fake never sent ({INTERACTIONS_PAGE})"),
        );
    };
    if interaction.id.to_string() != id {
        return Answer::broken(
            404,
            10062,
            "Unknown interaction",
            format!(
                "a callback whose interaction id does not match its token ({INTERACTIONS_PAGE})"
            ),
        );
    }
    if let Some(kind) = interaction.acked {
        return Answer::broken(
            400,
            40060,
            "Interaction has already been acknowledged.",
            format!(
                "a second initial response to an interaction already answered with type {kind} \
                 ({INTERACTIONS_PAGE}, Responding to an Interaction)"
            ),
        );
    }
    let late = now.saturating_sub(interaction.dispatched);
    if interaction.invalidated || late > INITIAL_RESPONSE_DEADLINE {
        interaction.invalidated = true;
        return Answer::broken(
            404,
            10062,
            "Unknown interaction",
            format!(
                "initial response {:.3} s after the interaction, later than 3 s \
                 ({INTERACTIONS_PAGE}, Responding to an Interaction)",
                late.as_secs_f64()
            ),
        );
    }
    let kind = json["type"].as_u64().unwrap_or(0);
    let component = interaction.kind == 3;
    let valid = match kind {
        4 | 5 => true,
        6 | 7 => component,
        8 => interaction.kind == 4,
        9 => interaction.kind != 5,
        _ => false,
    };
    if !valid {
        return Answer::refused(Refusal {
            status: 400,
            body: json!({"code": 50035, "message": "Invalid Form Body", "errors":
                {"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID",
                    "message": "Interaction response type is invalid for this interaction"}]}}}),
            rule: format!(
                "callback type {kind} for an interaction of type {} ({INTERACTIONS_PAGE}, \
                 Interaction Callback Type)",
                interaction.kind
            ),
        });
    }
    let data = &json["data"];
    let checked = match kind {
        4 | 7 => check_flags(data, false, "data").and_then(|()| {
            rules::check_message(data, files, interaction.size_limit, kind == 4, "data.")
        }),
        5 => check_flags(data, true, "data"),
        _ => Ok(()),
    };
    if let Err(refusal) = checked {
        return Answer::refused(refusal);
    }
    interaction.acked = Some(kind);
    if matches!(kind, 4 | 5) {
        let message = fake.snowflake();
        interaction.original = Some(message);
        let channel = interaction.channel;
        inner.messages.insert(message, (channel, false));
    }
    Answer::no_content()
}

/// Edits, deletions and follow-ups through the interaction's webhook:
/// `developers/interactions/receiving-and-responding.mdx`, "Followup Messages" (tokens valid
/// 15 minutes; 50027 "Invalid Webhook Token" after, per `developers/topics/
/// opcodes-and-status-codes.mdx`), "Edit Original Interaction Response" (there is no original
/// before the initial response: 10015 "Unknown Webhook"), "Create Followup Message" (at most 5
/// follow-ups when only the user installed the app).
#[allow(clippy::too_many_arguments)]
fn webhook(
    fake: &FakeDiscord,
    inner: &mut Inner,
    now: Duration,
    method: &Method,
    app: &str,
    token: &str,
    rest: &[&str],
    json: &Value,
    files: &[Upload],
) -> Answer {
    let unknown = |why: String| Answer::broken(404, 10015, "Unknown Webhook", why);
    if *app != APP_ID.to_string() {
        return unknown(format!(
            "a webhook of application {app}, not the bot's ({INTERACTIONS_PAGE})"
        ));
    }
    let Some(interaction) = inner.interactions.get_mut(token) else {
        return unknown(format!(
            "a webhook token the fake never issued ({INTERACTIONS_PAGE})"
        ));
    };
    if now.saturating_sub(interaction.dispatched) > TOKEN_LIFETIME {
        return Answer::error(401, 50027, "Invalid Webhook Token");
    }
    if interaction.acked.is_none() {
        return unknown(format!(
            "{method} /webhooks/…/{} before any initial response to the interaction: \
             Discord knows no such webhook message yet ({INTERACTIONS_PAGE}, Followup \
             Messages)",
            rest.join("/")
        ));
    }
    let channel = interaction.channel;
    let size_limit = interaction.size_limit;
    match (rest, method.clone()) {
        ([], Method::POST) => {
            if interaction.user_install_only && interaction.followups.len() >= 5 {
                return Answer::broken(
                    400,
                    40094,
                    "This interaction has hit the maximum number of follow up messages",
                    format!(
                        "a 6th follow-up to an interaction of an app installed to the user only \
                         ({INTERACTIONS_PAGE}, Create Followup Message)"
                    ),
                );
            }
            if let Err(r) = check_flags(json, false, "")
                .and_then(|()| rules::check_message(json, files, size_limit, true, ""))
            {
                return Answer::refused(r);
            }
            let id = fake.snowflake();
            interaction.followups.push(id);
            inner.messages.insert(id, (channel, false));
            Answer::ok(sent_message(id, channel, json))
        }
        (["messages", which], m) => {
            let id = if *which == "@original" {
                interaction.original
            } else {
                which
                    .parse::<u64>()
                    .ok()
                    .filter(|id| interaction.followups.contains(id))
            };
            let Some(id) = id else {
                return Answer::error(404, 10008, "Unknown Message");
            };
            let deleted = inner.messages.get(&id).is_none_or(|(_, deleted)| *deleted);
            if deleted {
                return Answer::broken(
                    404,
                    10008,
                    "Unknown Message",
                    format!(
                        "{m} of a message the bot had already deleted \
                         ({INTERACTIONS_PAGE}, Edit/Delete Original Interaction Response)"
                    ),
                );
            }
            match m {
                Method::GET => Answer::ok(sent_message(id, channel, &json!({}))),
                Method::PATCH => {
                    if let Err(r) = check_flags(json, false, "")
                        .and_then(|()| rules::check_message(json, files, size_limit, false, ""))
                    {
                        return Answer::refused(r);
                    }
                    Answer::ok(sent_message(id, channel, json))
                }
                Method::DELETE => {
                    inner.messages.insert(id, (channel, true));
                    Answer::no_content()
                }
                _ => Answer::error(405, 0, "405: Method Not Allowed"),
            }
        }
        _ => Answer::error(404, 0, "404: Not Found"),
    }
}

/// The message object Discord returns for a message the bot sent.
fn sent_message(id: u64, channel: u64, json: &Value) -> Value {
    message_json(
        id,
        channel,
        json["content"].as_str().unwrap_or(""),
        json.get("components").cloned().unwrap_or(json!([])),
        json["flags"].as_u64().unwrap_or(0),
    )
}

/// `POST /channels/{id}/messages`: `developers/resources/message.mdx`, "Create Message",
/// Limitations ("When operating on a guild channel, the current user must have the
/// `SEND_MESSAGES` permission"; files need `ATTACH_FILES`), with `developers/topics/
/// permissions.mdx`, "Implicit Permissions" (without `VIEW_CHANNEL` the channel is out of
/// reach: 50001 Missing Access, as for a server the bot is not in; without `SEND_MESSAGES` or
/// `ATTACH_FILES`: 50013 Missing Permissions); a DM to a user who does not accept them: 50007
/// "Cannot send messages to this user" (`developers/topics/opcodes-and-status-codes.mdx`).
/// These are recorded, not violations: the bot learns them from the answer.
fn channel_message(
    fake: &FakeDiscord,
    inner: &mut Inner,
    channel: &str,
    json: &Value,
    files: &[Upload],
) -> Answer {
    let id = channel.parse::<u64>().unwrap_or(0);
    let Some(c) = inner.channels.get(&id).cloned() else {
        return Answer::error(404, 10003, "Unknown Channel");
    };
    if let Some(user) = c.dm_user {
        if inner.closed_dms.contains(&user) {
            return Answer::error(403, 50007, "Cannot send messages to this user");
        }
    } else if !c.bot_member || c.permissions & rules::VIEW_CHANNEL == 0 {
        return Answer::error(403, 50001, "Missing Access");
    } else if c.permissions & rules::SEND_MESSAGES == 0
        || (!files.is_empty() && c.permissions & rules::ATTACH_FILES == 0)
    {
        return Answer::error(403, 50013, "Missing Permissions");
    }
    if let Err(r) =
        rules::check_message(json, files, rules::DEFAULT_ATTACHMENT_SIZE_LIMIT, true, "")
    {
        return Answer::refused(r);
    }
    let message = fake.snowflake();
    inner.messages.insert(message, (id, false));
    Answer::ok(sent_message(message, id, json))
}

/// `PATCH`/`DELETE /channels/{id}/messages/{id}` of the bot's own messages
/// (`developers/resources/message.mdx`, Edit Message / Delete Message): the same limits as
/// when creating; 10008 Unknown Message for one that does not exist (or was deleted).
fn edit_channel_message(
    inner: &mut Inner,
    method: &Method,
    channel: &str,
    message: &str,
    json: &Value,
    files: &[Upload],
) -> Answer {
    let channel = channel.parse::<u64>().unwrap_or(0);
    let id = message.parse::<u64>().unwrap_or(0);
    match inner.messages.get(&id) {
        Some((c, false)) if *c == channel => {}
        _ => return Answer::error(404, 10008, "Unknown Message"),
    }
    if let Some(c) = inner.channels.get(&channel)
        && c.dm_user.is_none()
        && (!c.bot_member || c.permissions & rules::VIEW_CHANNEL == 0)
    {
        return Answer::error(403, 50001, "Missing Access");
    }
    match *method {
        Method::PATCH => {
            if let Err(r) =
                rules::check_message(json, files, rules::DEFAULT_ATTACHMENT_SIZE_LIMIT, false, "")
            {
                return Answer::refused(r);
            }
            Answer::ok(sent_message(id, channel, json))
        }
        Method::DELETE => {
            inner.messages.insert(id, (channel, true));
            Answer::no_content()
        }
        Method::GET => Answer::ok(sent_message(id, channel, &json!({}))),
        _ => Answer::error(405, 0, "405: Method Not Allowed"),
    }
}
