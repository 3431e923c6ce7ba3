//! Discord's REST API as tastebud uses it: one client for every request the bot makes itself
//! (command upload, interaction answers, edits, follow-ups, channel and DM messages).
//!
//! Why not serenity's `Http`: serenity keys every interaction edit and follow-up by the
//! application id, so its rate limiter puts all users' redraws in one bucket, and with a REST
//! proxy its rate limiter is bypassed and a 429 loses its `retry_after`. Here a bucket is a
//! route with its major parameter (an interaction token, a channel), as Discord's
//! documentation ("Rate Limits") describes them, and a 429 is waited out for the `retry_after`
//! Discord gives, a bounded number of times. Requests go to Discord, or to the operator's
//! `discord.rest_proxy`. Tokens are never logged: URLs with interaction tokens stay out of
//! errors and log lines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

/// Discord's API base (version 10).
pub const DISCORD_API: &str = "https://discord.com/api/v10";

/// Tries of one request while Discord answers 429.
const MAX_TRIES: u32 = 5;

/// The longest single `retry_after` tastebud waits for; a longer one is given up at once.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Discord answered with an error; `code` is its JSON error code (0 when there is none).
    #[error("Discord refused the request (HTTP {status}, code {code}: {message})")]
    Refused {
        status: u16,
        code: u64,
        message: String,
    },
    /// Discord kept answering 429.
    #[error("Discord is rate-limiting tastebud (asked to wait {0:.1?})")]
    RateLimited(Duration),
    /// No answer from Discord (or the proxy).
    #[error("cannot reach Discord: {0}")]
    Network(String),
}

/// Discord's JSON error codes that tastebud reacts to.
pub mod codes {
    /// The interaction was not answered within three seconds (or is not known).
    pub const UNKNOWN_INTERACTION: u64 = 10062;
    /// The webhook (an interaction's token) is not known.
    pub const UNKNOWN_WEBHOOK: u64 = 10015;
    /// The interaction token has expired (fifteen minutes).
    pub const INVALID_WEBHOOK_TOKEN: u64 = 50027;
    /// The user does not accept direct messages from the bot.
    pub const CANNOT_DM: u64 = 50007;
}

impl RestError {
    /// Discord's JSON error code, if Discord answered with one.
    pub fn code(&self) -> Option<u64> {
        match self {
            RestError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the interaction token can no longer be used (expired or unknown).
    pub fn token_expired(&self) -> bool {
        matches!(
            self,
            RestError::Refused { status: 401, .. }
                | RestError::Refused {
                    code: codes::UNKNOWN_WEBHOOK | codes::INVALID_WEBHOOK_TOKEN,
                    ..
                }
        )
    }

    /// The sentence a user sees when Discord would not take an answer.
    pub fn user_message(&self) -> String {
        match self {
            RestError::RateLimited(_) => {
                "Discord is limiting how fast tastebud may answer right now; please try again \
                 in a minute."
                    .to_string()
            }
            RestError::Network(_) => {
                "tastebud could not reach Discord to answer; please try again.".to_string()
            }
            RestError::Refused { message, .. } => format!(
                "Discord refused tastebud's answer ({}); please try again.",
                crate::discord::views::clip(message, 200)
            ),
        }
    }
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    /// `payload_json` and files, as `multipart/form-data` (`files[0]`, `files[1]`, …).
    Files(Value, Vec<(String, Vec<u8>)>),
}

/// A client for Discord's REST API with per-route rate limits.
pub struct Rest {
    client: reqwest::Client,
    /// `…/api/v10`, of Discord or of the proxy.
    base: String,
    /// `Bot <token>`; never printed.
    authorization: String,
    /// When each bucket may be used again (route key → instant), and when any may (`""`).
    blocked: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").field("base", &self.base).finish()
    }
}

/// The rate-limit key of a path: the route with its major parameter kept (channel ids,
/// webhook id and token, guild ids) and every other id replaced, as Discord groups them.
fn bucket_key(method: &Method, path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    // /interactions/{id}/{token}/callback: one bucket per interaction.
    // /webhooks/{app}/{token}/messages/{message}: one bucket per token.
    // /channels/{channel}/messages/{message}: one bucket per channel.
    let major = match parts.get(1).copied() {
        Some("webhooks") | Some("interactions") => 3,
        Some("channels") | Some("guilds") => 2,
        _ => 1,
    };
    for part in parts.iter_mut().skip(major + 1) {
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            *part = "{id}";
        }
    }
    format!("{method} {}", parts.join("/"))
}

impl Rest {
    /// A client that sends to `proxy` (a base URL such as `http://127.0.0.1:3000`) or, when
    /// `None`, to Discord.
    pub fn new(token: &str, proxy: Option<&str>) -> Result<Rest, RestError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "DiscordBot (https://github.com/tastebud, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| RestError::Network(e.without_url().to_string()))?;
        let base = match proxy {
            Some(p) => format!("{}/api/v10", p.trim_end_matches('/')),
            None => DISCORD_API.to_string(),
        };
        Ok(Rest {
            client,
            base,
            authorization: format!("Bot {}", token.trim()),
            blocked: Mutex::new(HashMap::new()),
        })
    }

    /// When requests on `key` (or any, for the global limit) may go again.
    fn wait_until(&self, key: &str) -> Option<Instant> {
        let blocked = self.blocked.lock().ok()?;
        [blocked.get(key), blocked.get("")]
            .into_iter()
            .flatten()
            .max()
            .copied()
    }

    fn block(&self, key: &str, until: Instant) {
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            blocked.retain(|_, at| *at > now);
            let at = blocked.entry(key.to_string()).or_insert(until);
            *at = (*at).max(until);
        }
    }

    /// Sends `method path` with `body`; returns the answer's JSON (`Null` for 204). Waits out
    /// buckets Discord said are empty and 429s (up to [`MAX_TRIES`] tries).
    pub async fn send(&self, method: Method, path: &str, body: Body) -> Result<Value, RestError> {
        let key = bucket_key(&method, path);
        let mut waited = Duration::ZERO;
        for _ in 0..MAX_TRIES {
            if let Some(at) = self.wait_until(&key) {
                tokio::time::sleep_until(at).await;
            }
            let request = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .header("Authorization", &self.authorization);
            let request = match &body {
                Body::None => request,
                Body::Json(json) => request.json(json),
                Body::Files(json, files) => {
                    let mut form =
                        reqwest::multipart::Form::new().text("payload_json", json.to_string());
                    for (n, (name, bytes)) in files.iter().enumerate() {
                        let part =
                            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone());
                        form = form.part(format!("files[{n}]"), part);
                    }
                    request.multipart(form)
                }
            };
            let response = request
                .send()
                .await
                .map_err(|e| RestError::Network(e.without_url().to_string()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
            };
            if header("x-ratelimit-remaining") == Some(0.0)
                && let Some(after) = header("x-ratelimit-reset-after")
            {
                self.block(&key, Instant::now() + Duration::from_secs_f64(after));
            }
            let text = response
                .text()
                .await
                .map_err(|e| RestError::Network(e.without_url().to_string()))?;
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.as_u16() == 429 {
                let after = json["retry_after"]
                    .as_f64()
                    .or_else(|| header("retry-after"))
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(Duration::from_secs_f64)
                    .unwrap_or(Duration::from_secs(1));
                if after > MAX_WAIT {
                    return Err(RestError::RateLimited(after));
                }
                let global = json["global"].as_bool() == Some(true);
                tracing::warn!(route = %key, retry_after = ?after, global, "Discord answered 429; waiting");
                self.block(if global { "" } else { &key }, Instant::now() + after);
                waited += after;
                continue;
            }
            if status.is_success() {
                return Ok(json);
            }
            return Err(RestError::Refused {
                status: status.as_u16(),
                code: json["code"].as_u64().unwrap_or(0),
                message: json["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| status.to_string()),
            });
        }
        Err(RestError::RateLimited(waited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_the_major_parameter_and_merge_other_ids() {
        let patch = Method::PATCH;
        assert_eq!(
            bucket_key(&patch, "/webhooks/9/tokA/messages/@original"),
            "PATCH /webhooks/9/tokA/messages/@original"
        );
        assert_ne!(
            bucket_key(&patch, "/webhooks/9/tokA/messages/@original"),
            bucket_key(&patch, "/webhooks/9/tokB/messages/@original"),
            "two interactions are two buckets"
        );
        assert_eq!(
            bucket_key(&patch, "/channels/5/messages/77"),
            bucket_key(&patch, "/channels/5/messages/78")
        );
        assert_ne!(
            bucket_key(&Method::POST, "/channels/5/messages"),
            bucket_key(&Method::POST, "/channels/6/messages")
        );
    }

    #[test]
    fn an_expired_token_is_recognised_by_its_code_or_status() {
        let refused = |status, code| RestError::Refused {
            status,
            code,
            message: String::new(),
        };
        assert!(refused(401, codes::INVALID_WEBHOOK_TOKEN).token_expired());
        assert!(refused(404, codes::UNKNOWN_WEBHOOK).token_expired());
        assert!(!refused(404, codes::UNKNOWN_INTERACTION).token_expired());
        assert!(!refused(403, 50013).token_expired());
    }
}
