//! HTTP plumbing shared by the Stable Diffusion backends: timeouts, retries, readable errors.
//!
//! A request is sent again (with doubling backoff: 250 ms, 500 ms, …) only when that cannot
//! make a server do the same work twice:
//! - any request whose connection could not be made (refused, unreachable, connect timeout):
//!   the server cannot have received it;
//! - a GET that a gateway answered 502/503/504: reading twice is harmless.
//!
//! A POST answered 502/503/504 is NOT sent again. Neither AUTOMATIC1111 nor ComfyUI sends these
//! codes themselves; a reverse proxy does (nginx's 504 after `proxy_read_timeout`, 60 s by
//! default), typically after the server has accepted the job and while it is still working on
//! it, so a second POST would queue the same render twice. A timeout, a dropped connection and
//! any other error answer are reported at once, as a [`RenderError`] that names the server and
//! keeps its message (AUTOMATIC1111's `error`/`detail`/`errors`, ComfyUI's `error`).

use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::config::VersionBackend;
use crate::render::RenderError;

/// First wait before a retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// A client for one server, with its timeouts and retry budget.
#[derive(Debug, Clone)]
pub struct Http {
    pub client: Client,
    /// Base URL without a trailing slash.
    pub base: String,
    pub timeout: Duration,
    pub retries: u32,
}

impl Http {
    pub fn new(settings: &VersionBackend) -> Result<Http, RenderError> {
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .timeout(timeout)
            .build()
            .map_err(|e| RenderError::Backend(format!("cannot build an HTTP client: {e}")))?;
        Ok(Http {
            client,
            base: settings.url.trim_end_matches('/').to_string(),
            timeout,
            retries: settings.retries,
        })
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the request `make` builds and returns the successful response or a readable error
    /// (with the server's own message for error answers). Retried as the module documentation
    /// says: connection failures always, 502/503/504 only for GETs.
    pub async fn send(
        &self,
        path: &str,
        make: impl Fn(&Client, &str) -> RequestBuilder,
    ) -> Result<Response, RenderError> {
        let url = self.url(path);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            let request = make(&self.client, &url)
                .build()
                .map_err(|e| self.explain(&url, &e))?;
            let idempotent = *request.method() == Method::GET || *request.method() == Method::HEAD;
            let result = self.client.execute(request).await;
            let retryable = match &result {
                // `is_connect`: the connection was never made, so nothing was sent.
                Err(e) => e.is_connect(),
                Ok(r) => idempotent && is_gateway_error(r.status()),
            };
            if retryable && attempt < self.retries {
                attempt += 1;
                tracing::warn!(%url, attempt, "image server not reachable; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            let response = result.map_err(|e| self.explain(&url, &e))?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let mut message = error_message(&body);
            if is_gateway_error(status) {
                message = format!(
                    "a gateway or reverse proxy in front of the server answered {status} ({message}); \
                     the server itself never sends this, so it may have accepted the request and may \
                     still be working on it{}",
                    if idempotent {
                        ""
                    } else {
                        "; it was not sent again, so that the job does not run twice"
                    }
                );
            }
            return Err(RenderError::Server {
                url,
                status: status.as_u16(),
                message,
            });
        }
    }

    /// GET `path` and parse the JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, RenderError> {
        let response = self.send(path, |c, u| c.get(u)).await?;
        self.json(path, response).await
    }

    /// POST `body` as JSON to `path` and parse the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, RenderError> {
        let response = self.send(path, |c, u| c.post(u).json(body)).await?;
        self.json(path, response).await
    }

    /// As [`Http::post_json`], but waiting up to `limit` for the answer instead of the client's
    /// timeout (for a render that may wait in the server's queue first). A timeout here is
    /// reported with `limit`.
    pub async fn post_json_within(
        &self,
        path: &str,
        body: &Value,
        limit: Duration,
    ) -> Result<Value, RenderError> {
        let url = self.url(path);
        let response = self
            .send(path, |c, u| c.post(u).json(body).timeout(limit))
            .await
            .map_err(|e| with_limit(e, limit))?;
        let text = response
            .text()
            .await
            .map_err(|e| with_limit(self.explain(&url, &e), limit))?;
        serde_json::from_str(&text).map_err(|e| RenderError::Protocol {
            url,
            reason: format!("the answer is not JSON ({e})"),
        })
    }

    /// POST `body` as JSON to `path` once, without retries, and parse the JSON answer (for
    /// status queries and cancels, where a later attempt would be stale anyway).
    pub async fn post_json_once(&self, path: &str, body: &Value) -> Result<Value, RenderError> {
        let url = self.url(path);
        let response = self
            .client
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.explain(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(RenderError::Server {
                url,
                status: status.as_u16(),
                message: error_message(&text),
            });
        }
        self.json(path, response).await
    }

    /// GET `path` and return the raw bytes.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, RenderError> {
        let url = self.url(path);
        let response = self.send(path, |c, u| c.get(u)).await?;
        let bytes = response.bytes().await.map_err(|e| self.explain(&url, &e))?;
        Ok(bytes.to_vec())
    }

    async fn json(&self, path: &str, response: Response) -> Result<Value, RenderError> {
        let url = self.url(path);
        let text = response.text().await.map_err(|e| self.explain(&url, &e))?;
        serde_json::from_str(&text).map_err(|e| RenderError::Protocol {
            url,
            reason: format!("the answer is not JSON ({e})"),
        })
    }

    /// A transport error in words.
    pub fn explain(&self, url: &str, e: &reqwest::Error) -> RenderError {
        if e.is_timeout() {
            RenderError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs(),
            }
        } else if e.is_connect() {
            RenderError::Unreachable {
                url: url.to_string(),
                reason: chain(e),
            }
        } else {
            RenderError::Dropped {
                url: url.to_string(),
                reason: chain(e),
            }
        }
    }

    /// A protocol error for `path`.
    pub fn protocol(&self, path: &str, reason: impl Into<String>) -> RenderError {
        RenderError::Protocol {
            url: self.url(path),
            reason: reason.into(),
        }
    }
}

/// 502, 503 and 504: answers of a gateway, not of the image servers themselves.
fn is_gateway_error(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// A timeout error with the limit that ran out.
fn with_limit(e: RenderError, limit: Duration) -> RenderError {
    match e {
        RenderError::Timeout { url, .. } => RenderError::Timeout {
            url,
            seconds: limit.as_secs(),
        },
        other => other,
    }
}

/// An error and its sources, joined: reqwest's own message is often just "error sending
/// request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// The message inside an error answer: AUTOMATIC1111 uses `error`/`detail`/`errors`, ComfyUI
/// `error.message` and `error.details`; anything else is shown as text (shortened).
pub fn error_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        let text = body.trim();
        // An HTML error page (a proxy's): its title says it.
        if let Some(start) = text.find("<title>") {
            let rest = &text[start + "<title>".len()..];
            if let Some(end) = rest.find("</title>") {
                return rest[..end].trim().to_string();
            }
        }
        return if text.is_empty() {
            "no message".into()
        } else {
            text.chars().take(300).collect()
        };
    };
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null => None,
        Value::String(_) => None,
        other => Some(other.to_string()),
    };
    if let Some(err) = v.get("error") {
        if let Some(message) = err.get("message").and_then(text) {
            let details = err.get("details").and_then(text).unwrap_or_default();
            return if details.is_empty() {
                message
            } else {
                format!("{message} ({details})")
            };
        }
        let kind = text(err).unwrap_or_default();
        let detail = ["errors", "detail", "body"]
            .iter()
            .find_map(|k| v.get(*k).and_then(text))
            .unwrap_or_default();
        return match (kind.is_empty(), detail.is_empty()) {
            (false, false) => format!("{kind}: {detail}"),
            (false, true) => kind,
            _ => detail,
        };
    }
    if let Some(detail) = v.get("detail").and_then(text) {
        return detail;
    }
    body.chars().take(300).collect()
}
