//! The AUTOMATIC1111 (stable-diffusion-webui) backend, over its `/sdapi/v1` HTTP API.
//!
//! One `POST /sdapi/v1/txt2img` per render with `batch_size` images; the model is chosen per
//! request with `override_settings.sd_model_checkpoint` (restored afterwards), knobs become
//! weighted phrases, and progress comes from polling `GET /sdapi/v1/progress` meanwhile. Images
//! come back as base64 PNGs in `images`.

use std::time::Duration;

use base64::Engine;
use image::RgbImage;
use serde_json::{Value, json};

use super::http::Http;
use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use crate::config::VersionBackend;
use crate::render::RenderError;
use crate::render::backend::{
    Backend, Features, Progress, ProgressFn, RenderRequest, check_request,
};
use crate::render::images::files::decode_image;

/// How often progress is polled while an image renders.
const POLL: Duration = Duration::from_millis(500);

/// A client for one AUTOMATIC1111 server.
#[derive(Debug, Clone)]
pub struct Automatic1111 {
    http: Http,
    model: String,
    steps: u32,
    negative: String,
    vocabulary: Vocabulary,
    poll: Duration,
}

impl Automatic1111 {
    pub fn new(
        settings: &VersionBackend,
        vocabulary: Vocabulary,
    ) -> Result<Automatic1111, RenderError> {
        Ok(Automatic1111 {
            http: Http::new(settings)?,
            model: settings.model.clone(),
            steps: settings.steps.max(1),
            negative: settings.negative_prompt.clone(),
            vocabulary,
            poll: POLL,
        })
    }

    /// Polls progress this often instead of every 500 ms (tests use a short interval).
    pub fn with_poll_interval(mut self, poll: Duration) -> Automatic1111 {
        self.poll = poll;
        self
    }

    /// The JSON body of `POST /sdapi/v1/txt2img` for `request`.
    pub fn txt2img_body(&self, request: &RenderRequest) -> Value {
        let phrased = self
            .vocabulary
            .apply(&request.prompt, &self.negative, &request.knobs);
        let mut body = json!({
            "prompt": phrased.prompt,
            "negative_prompt": phrased.negative,
            // The web UI's seeds are 32-bit; image i of a batch uses seed + i.
            "seed": request.seed % (1u64 << 32),
            "width": request.width,
            "height": request.height,
            "steps": self.steps,
            "cfg_scale": 7.0,
            "sampler_name": "Euler a",
            "batch_size": request.count,
            "n_iter": 1,
            "send_images": true,
            "save_images": false,
        });
        if !self.model.is_empty() {
            body["override_settings"] = json!({ "sd_model_checkpoint": self.model });
            body["override_settings_restore_afterwards"] = json!(true);
        }
        body
    }

    async fn poll_progress(&self, progress: &ProgressFn) {
        if let Ok(v) = self
            .http
            .get_json("/sdapi/v1/progress?skip_current_image=true")
            .await
            && let Some(fraction) = v.get("progress").and_then(Value::as_f64)
        {
            let eta = v
                .get("eta_relative")
                .and_then(Value::as_f64)
                .map(|s| format!("about {s:.0} s left"))
                .unwrap_or_default();
            progress(Progress {
                queued: None,
                fraction: fraction.clamp(0.0, 1.0) as f32,
                note: eta,
            });
        }
    }
}

impl Backend for Automatic1111 {
    fn name(&self) -> &'static str {
        "automatic1111"
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
        let body = self.txt2img_body(request);
        let post = self.http.post_json("/sdapi/v1/txt2img", &body);
        tokio::pin!(post);
        let mut ticker = tokio::time::interval(self.poll);
        ticker.tick().await;
        let answer = loop {
            tokio::select! {
                answer = &mut post => break answer?,
                _ = ticker.tick() => self.poll_progress(&progress).await,
            }
        };
        let path = "/sdapi/v1/txt2img";
        let images = answer
            .get("images")
            .and_then(Value::as_array)
            .ok_or_else(|| self.http.protocol(path, "no `images` list in the answer"))?;
        if images.len() < request.count as usize {
            return Err(self.http.protocol(
                path,
                format!("asked for {} images, got {}", request.count, images.len()),
            ));
        }
        let mut out = Vec::with_capacity(request.count as usize);
        for item in images.iter().take(request.count as usize) {
            let text = item
                .as_str()
                .ok_or_else(|| self.http.protocol(path, "an image is not a base64 string"))?;
            // Some versions prefix a data URL header.
            let data = text.rsplit_once(',').map_or(text, |(_, d)| d);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| self.http.protocol(path, format!("bad base64 image: {e}")))?;
            out.push(decode_image(&bytes)?);
        }
        progress(Progress {
            queued: None,
            fraction: 1.0,
            note: "done".into(),
        });
        Ok(out)
    }

    fn features(&self) -> Features {
        Features {
            negative: true,
            tile: true,
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
        let path = "/sdapi/v1/sd-models";
        let v = self.http.get_json(path).await?;
        let list = v
            .as_array()
            .ok_or_else(|| self.http.protocol(path, "the model list is not a list"))?;
        Ok(list
            .iter()
            .filter_map(|m| m.get("title").or_else(|| m.get("model_name")))
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }
}
