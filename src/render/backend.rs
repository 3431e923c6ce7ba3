//! The `Backend` trait: one interface over the built-in renderer and Stable Diffusion servers.
//!
//! A backend renders N images for a prompt, a seed and knob values, reports progress while it
//! works, and lists its models. [`AnyBackend`] is the one the service holds per version, built
//! from configuration by [`AnyBackend::from_config`].

use std::future::Future;
use std::sync::Arc;

use image::RgbImage;

use super::RenderError;
use super::automatic1111::Automatic1111;
use super::comfyui::ComfyUi;
use super::knobs::{KnobSpec, sketch_knobs};
use super::vocabulary::Vocabulary;
use crate::config::{BackendKind, VersionBackend};

/// What to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRequest {
    /// The prompt as plain text (without parameters such as `--ar`).
    pub prompt: String,
    /// Seed of the first image; image `i` uses `seed + i`.
    pub seed: u64,
    /// Knob values in the order of [`Backend::knobs`]; missing values are 0.
    pub knobs: Vec<f32>,
    pub width: u32,
    pub height: u32,
    /// How many images (4 for a grid).
    pub count: u32,
}

/// Progress of one render: `fraction` runs from 0 to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub fraction: f32,
    pub note: String,
}

/// Receives progress reports; must be cheap (it may be called often).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A progress receiver that ignores everything.
pub fn no_progress() -> ProgressFn {
    Arc::new(|_| {})
}

/// An image generator tastebud can steer.
pub trait Backend: Send + Sync {
    /// Short name of the backend kind: `sketch`, `automatic1111` or `comfyui`.
    fn name(&self) -> &'static str;

    /// The knobs this backend exposes, in knob-vector order.
    fn knobs(&self) -> Vec<KnobSpec>;

    /// Renders `request.count` images.
    fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> impl Future<Output = Result<Vec<RgbImage>, RenderError>> + Send;

    /// Names of the models the server offers.
    fn models(&self) -> impl Future<Output = Result<Vec<String>, RenderError>> + Send;
}

/// The built-in procedural renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sketch;

impl Backend for Sketch {
    fn name(&self) -> &'static str {
        "sketch"
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        sketch_knobs()
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        check_request(request)?;
        let r = request.clone();
        let images = tokio::task::spawn_blocking(move || {
            super::sketch::render_batch(&r.prompt, r.seed, &r.knobs, r.width, r.height, r.count)
        })
        .await
        .map_err(|e| RenderError::Backend(format!("the renderer stopped: {e}")))?;
        progress(Progress {
            fraction: 1.0,
            note: "done".into(),
        });
        Ok(images)
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        Ok(vec!["sketch".to_string()])
    }
}

/// Rejects requests no backend can serve.
pub(crate) fn check_request(request: &RenderRequest) -> Result<(), RenderError> {
    if request.count == 0 || request.count > 16 {
        return Err(RenderError::BadRequest(format!(
            "ask for 1 to 16 images, not {}",
            request.count
        )));
    }
    if request.width == 0 || request.height == 0 || request.width > 4096 || request.height > 4096 {
        return Err(RenderError::BadRequest(format!(
            "image size {}×{} is out of range (1–4096)",
            request.width, request.height
        )));
    }
    Ok(())
}

/// Any of the three backends, chosen by configuration.
#[derive(Debug, Clone)]
pub enum AnyBackend {
    Sketch(Sketch),
    Automatic1111(Automatic1111),
    ComfyUi(ComfyUi),
}

impl AnyBackend {
    /// The backend a version's configuration asks for. `vocabulary` gives the SD backends
    /// their knobs; `workflow` is ComfyUI's workflow template (JSON text).
    pub fn from_config(
        settings: &VersionBackend,
        vocabulary: &Vocabulary,
        workflow: &str,
    ) -> Result<AnyBackend, RenderError> {
        Ok(match settings.backend {
            BackendKind::Sketch => AnyBackend::Sketch(Sketch),
            BackendKind::Automatic1111 => {
                AnyBackend::Automatic1111(Automatic1111::new(settings, vocabulary.clone())?)
            }
            BackendKind::Comfyui => {
                AnyBackend::ComfyUi(ComfyUi::new(settings, vocabulary.clone(), workflow)?)
            }
        })
    }
}

impl AnyBackend {
    /// The backend `config` assigns to `version`, with the configured vocabulary and ComfyUI
    /// workflow read from their files (or the built-in copies).
    pub fn for_version(
        config: &crate::config::Config,
        version: &str,
    ) -> Result<AnyBackend, RenderError> {
        let settings = config.render.backend_for(version);
        if settings.backend == BackendKind::Sketch {
            return Ok(AnyBackend::Sketch(Sketch));
        }
        let vocabulary = Vocabulary::load(&config.render.vocabulary)?;
        let workflow = if config.render.comfyui_workflow.is_empty() {
            String::new()
        } else {
            std::fs::read_to_string(&config.render.comfyui_workflow).map_err(|e| {
                RenderError::BadRequest(format!(
                    "cannot read the ComfyUI workflow {}: {e}",
                    config.render.comfyui_workflow
                ))
            })?
        };
        AnyBackend::from_config(&settings, &vocabulary, &workflow)
    }
}

impl Backend for AnyBackend {
    fn name(&self) -> &'static str {
        match self {
            AnyBackend::Sketch(b) => b.name(),
            AnyBackend::Automatic1111(b) => b.name(),
            AnyBackend::ComfyUi(b) => b.name(),
        }
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        match self {
            AnyBackend::Sketch(b) => b.knobs(),
            AnyBackend::Automatic1111(b) => b.knobs(),
            AnyBackend::ComfyUi(b) => b.knobs(),
        }
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        match self {
            AnyBackend::Sketch(b) => b.render(request, progress).await,
            AnyBackend::Automatic1111(b) => b.render(request, progress).await,
            AnyBackend::ComfyUi(b) => b.render(request, progress).await,
        }
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        match self {
            AnyBackend::Sketch(b) => b.models().await,
            AnyBackend::Automatic1111(b) => b.models().await,
            AnyBackend::ComfyUi(b) => b.models().await,
        }
    }
}
