//! The ComfyUI backend: a workflow template queued over HTTP, progress over its websocket.
//!
//! A render connects to `/ws?clientId=ID`, queues the filled-in workflow with `POST /prompt`
//! (`{"prompt": workflow, "client_id": ID}`), follows `progress` messages until an `executing`
//! message with `node: null` (or `execution_success`) for its prompt id, then reads the output
//! file names from `GET /history/{prompt_id}` and fetches each with `GET /view`.
//!
//! The workflow template (`config/comfyui_workflow.json`, API format) marks what tastebud
//! fills in with whole-string placeholders: `{{prompt}}`, `{{negative}}`, `{{model}}` (text)
//! and `{{seed}}`, `{{steps}}`, `{{width}}`, `{{height}}`, `{{batch}}` (numbers).

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use image::RgbImage;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::http::Http;
use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use crate::config::VersionBackend;
use crate::render::RenderError;
use crate::render::backend::{
    Backend, Features, Progress, ProgressFn, RenderRequest, check_request,
};
use crate::render::images::files::decode_image;

/// The built-in workflow template, the same text as `config/comfyui_workflow.json`.
pub const DEFAULT_WORKFLOW: &str = include_str!("../../../config/comfyui_workflow.json");

/// Placeholders every template must contain.
const REQUIRED: [&str; 3] = ["{{prompt}}", "{{seed}}", "{{batch}}"];

static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// A client for one ComfyUI server.
#[derive(Debug, Clone)]
pub struct ComfyUi {
    http: Http,
    model: String,
    steps: u32,
    negative: String,
    vocabulary: Vocabulary,
    template: Value,
}

impl ComfyUi {
    /// A client using `workflow` (template JSON text; empty: the built-in one).
    pub fn new(
        settings: &VersionBackend,
        vocabulary: Vocabulary,
        workflow: &str,
    ) -> Result<ComfyUi, RenderError> {
        let text = if workflow.trim().is_empty() {
            DEFAULT_WORKFLOW
        } else {
            workflow
        };
        let template: Value = serde_json::from_str(text).map_err(|e| {
            RenderError::BadRequest(format!("the ComfyUI workflow template is not JSON: {e}"))
        })?;
        for placeholder in REQUIRED {
            if !text.contains(placeholder) {
                return Err(RenderError::BadRequest(format!(
                    "the ComfyUI workflow template has no {placeholder} placeholder"
                )));
            }
        }
        Ok(ComfyUi {
            http: Http::new(settings)?,
            model: settings.model.clone(),
            steps: settings.steps.max(1),
            negative: settings.negative_prompt.clone(),
            vocabulary,
            template,
        })
    }

    /// The workflow for `request`, with every placeholder filled in.
    pub fn workflow(&self, request: &RenderRequest, model: &str) -> Value {
        let phrased = self
            .vocabulary
            .apply(&request.prompt, &self.negative, &request.knobs);
        let mut workflow = self.template.clone();
        fill(&mut workflow, &|placeholder| match placeholder {
            "{{prompt}}" => Some(json!(phrased.prompt)),
            "{{negative}}" => Some(json!(phrased.negative)),
            "{{model}}" => Some(json!(model)),
            "{{seed}}" => Some(json!(request.seed)),
            "{{steps}}" => Some(json!(self.steps)),
            "{{width}}" => Some(json!(request.width)),
            "{{height}}" => Some(json!(request.height)),
            "{{batch}}" => Some(json!(request.count)),
            _ => None,
        });
        workflow
    }

    fn websocket_url(&self, client_id: &str) -> Result<String, RenderError> {
        let base = &self.http.base;
        let rest = base
            .strip_prefix("http://")
            .map(|r| format!("ws://{r}"))
            .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")))
            .ok_or_else(|| {
                RenderError::BadRequest(format!("the ComfyUI url {base} is not http(s)"))
            })?;
        Ok(format!("{rest}/ws?clientId={client_id}"))
    }

    async fn run(
        &self,
        request: &RenderRequest,
        progress: &ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        let model = if self.model.is_empty() {
            self.models().await?.into_iter().next().ok_or_else(|| {
                self.http
                    .protocol("/object_info", "the server has no models")
            })?
        } else {
            self.model.clone()
        };
        let client_id = format!(
            "tastebud-{}-{}",
            std::process::id(),
            CLIENTS.fetch_add(1, Ordering::Relaxed)
        );
        let ws_url = self.websocket_url(&client_id)?;
        let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .map_err(|e| RenderError::Unreachable {
                url: ws_url.clone(),
                reason: e.to_string(),
            })?;
        let queued = self
            .http
            .post_json(
                "/prompt",
                &json!({ "prompt": self.workflow(request, &model), "client_id": client_id }),
            )
            .await?;
        let prompt_id = queued
            .get("prompt_id")
            .and_then(Value::as_str)
            .ok_or_else(|| self.http.protocol("/prompt", "no prompt_id in the answer"))?
            .to_string();

        // Follow the websocket until our prompt has finished.
        loop {
            let message = match socket.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    return Err(RenderError::Dropped {
                        url: ws_url,
                        reason: e.to_string(),
                    });
                }
                None => {
                    return Err(RenderError::Dropped {
                        url: ws_url,
                        reason: "the websocket closed before the images were done".into(),
                    });
                }
            };
            let Message::Text(text) = message else {
                continue; // binary frames are live previews
            };
            let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            let data = &event["data"];
            let ours = data.get("prompt_id").and_then(Value::as_str) == Some(prompt_id.as_str());
            match event["type"].as_str() {
                Some("progress") if ours || data.get("prompt_id").is_none() => {
                    let value = data["value"].as_f64().unwrap_or(0.0);
                    let max = data["max"].as_f64().unwrap_or(1.0).max(1.0);
                    progress(Progress {
                        queued: None,
                        fraction: (value / max).clamp(0.0, 1.0) as f32,
                        note: format!("step {value:.0} of {max:.0}"),
                    });
                }
                Some("executing") if ours && data["node"].is_null() => break,
                Some("execution_success") if ours => break,
                Some("execution_error") if ours => {
                    let message = data["exception_message"]
                        .as_str()
                        .unwrap_or("the workflow failed")
                        .trim()
                        .to_string();
                    return Err(RenderError::Server {
                        url: ws_url,
                        status: 500,
                        message,
                    });
                }
                _ => {}
            }
        }
        let _ = socket.close(None).await;

        let history_path = format!("/history/{prompt_id}");
        let history = self.http.get_json(&history_path).await?;
        let outputs = history
            .get(&prompt_id)
            .and_then(|h| h.get("outputs"))
            .and_then(Value::as_object)
            .ok_or_else(|| {
                self.http
                    .protocol(&history_path, "no outputs for the prompt")
            })?;
        let mut files = Vec::new();
        for output in outputs.values() {
            for image in output["images"].as_array().into_iter().flatten() {
                if image["type"].as_str() == Some("temp") {
                    continue; // previews
                }
                let name = image["filename"].as_str().unwrap_or_default();
                let subfolder = image["subfolder"].as_str().unwrap_or_default();
                let kind = image["type"].as_str().unwrap_or("output");
                if !name.is_empty() {
                    files.push((name.to_string(), subfolder.to_string(), kind.to_string()));
                }
            }
        }
        if files.len() < request.count as usize {
            return Err(self.http.protocol(
                &history_path,
                format!("asked for {} images, got {}", request.count, files.len()),
            ));
        }
        let mut images = Vec::with_capacity(files.len());
        for (name, subfolder, kind) in files.iter().take(request.count as usize) {
            let path = format!(
                "/view?filename={}&subfolder={}&type={}",
                encode(name),
                encode(subfolder),
                encode(kind)
            );
            images.push(decode_image(&self.http.get_bytes(&path).await?)?);
        }
        Ok(images)
    }
}

/// Replaces every string value that is exactly a known placeholder.
fn fill(value: &mut Value, lookup: &dyn Fn(&str) -> Option<Value>) {
    match value {
        Value::String(s) => {
            if let Some(v) = lookup(s) {
                *value = v;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, lookup)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, lookup)),
        _ => {}
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Backend for ComfyUi {
    fn name(&self) -> &'static str {
        "comfyui"
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        self.vocabulary.knob_specs()
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        check_request(request)?;
        let images = tokio::time::timeout(self.http.timeout, self.run(request, &progress))
            .await
            .map_err(|_| RenderError::Timeout {
                url: self.http.base.clone(),
                seconds: self.http.timeout.as_secs(),
            })??;
        progress(Progress {
            queued: None,
            fraction: 1.0,
            note: "done".into(),
        });
        Ok(images)
    }

    fn features(&self) -> Features {
        Features {
            negative: true,
            tile: false,
            size_step: 64,
        }
    }

    async fn verify(&self) -> Result<String, RenderError> {
        let available = self.models().await?;
        if self.model.is_empty() {
            return Ok(String::new());
        }
        if available.iter().any(|m| *m == self.model) {
            Ok(self.model.clone())
        } else {
            Err(RenderError::UnknownModel {
                url: self.http.base.clone(),
                model: self.model.clone(),
                available,
            })
        }
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        let path = "/object_info/CheckpointLoaderSimple";
        let v = self.http.get_json(path).await?;
        let names = v["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
            .as_array()
            .ok_or_else(|| self.http.protocol(path, "no checkpoint list in the answer"))?;
        Ok(names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }
}
