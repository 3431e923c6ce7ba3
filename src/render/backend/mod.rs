//! The `Backend` trait: one interface over the built-in renderer and Stable Diffusion servers.
//!
//! A backend renders N images for a prompt, a seed and knob values, reports progress while it
//! works, and lists its models. [`AnyBackend`] is the one the service holds per version, built
//! from configuration by [`AnyBackend::from_config`].

pub mod automatic1111;
pub mod comfyui;
pub mod dispatch;
mod http;
pub mod knobs;
pub mod vocabulary;

use std::future::Future;
use std::sync::Arc;

use image::RgbImage;

use self::automatic1111::Automatic1111;
use self::comfyui::ComfyUi;
use self::dispatch::{DispatchOptions, Dispatcher};
use self::knobs::{KnobSpec, sketch_knobs};
use self::vocabulary::Vocabulary;
use crate::config::{BackendKind, VersionBackend};
use crate::render::RenderError;

/// What to render (serializable: it travels through the job queue to a worker).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RenderRequest {
    /// The prompt as plain text (without parameters such as `--ar`), as the user wrote it: a
    /// backend escapes whatever its prompt syntax would read as instructions.
    pub prompt: String,
    /// What the pictures should not show (`--no`), plain text like `prompt`; the backend adds
    /// its configured negative prompt. Ignored by backends without negative prompts.
    pub negative: Vec<String>,
    /// Seamless tiling (`--tile`), where the backend supports it ([`Features::tile`]).
    pub tile: bool,
    /// Seed of the first image; image `i` uses `seed + i` on every backend.
    pub seed: u64,
    /// Knob values in the order of [`Backend::knobs`]; missing values are 0.
    pub knobs: Vec<f32>,
    pub width: u32,
    pub height: u32,
    /// How many images (4 for a grid).
    pub count: u32,
    /// Who asked, for fair queueing between users; 0 is tastebud itself (pool, calibration).
    pub owner: u64,
}

/// What a backend honours beyond the prompt, seed, size and knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `--no` as a negative prompt.
    pub negative: bool,
    /// `--tile` as seamless tiling.
    pub tile: bool,
    /// Picture sides are multiples of this many pixels (`--ar` sizes are snapped to it).
    pub size_step: u32,
}

/// Progress of one render: `fraction` runs from 0 to 1 (serializable: a worker reports it
/// through the job queue).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub fraction: f32,
    pub note: String,
    /// While the render waits for a server: its place in tastebud's queue (1: next).
    pub queued: Option<u32>,
}

impl Progress {
    /// A finished render.
    pub fn done() -> Progress {
        Progress {
            fraction: 1.0,
            note: "done".into(),
            queued: None,
        }
    }
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

    /// What it honours beyond the prompt, seed, size and knobs.
    fn features(&self) -> Features;

    /// Renders `request.count` images.
    fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> impl Future<Output = Result<Vec<RgbImage>, RenderError>> + Send;

    /// Names of the models the server offers.
    fn models(&self) -> impl Future<Output = Result<Vec<String>, RenderError>> + Send;

    /// Checks that the server answers and offers the configured model, before its first job;
    /// returns the model as the server names it. A model it does not have is an error that
    /// lists the ones it has ([`RenderError::UnknownModel`]).
    fn verify(&self) -> impl Future<Output = Result<String, RenderError>> + Send;
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
            crate::render::sketch::render_batch(
                &r.prompt, r.seed, &r.knobs, r.width, r.height, r.count,
            )
        })
        .await
        .map_err(|e| RenderError::Backend(format!("the renderer stopped: {e}")))?;
        progress(Progress::done());
        Ok(images)
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        Ok(vec!["sketch".to_string()])
    }

    async fn verify(&self) -> Result<String, RenderError> {
        Ok("sketch".to_string())
    }

    fn features(&self) -> Features {
        Features {
            negative: false,
            tile: false,
            size_step: 8,
        }
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

/// Every version's backend, built once from configuration when the service starts: the
/// vocabulary and the ComfyUI workflow are read once, and each server gets one HTTP client.
#[derive(Debug, Clone)]
pub struct Backends {
    versions: std::collections::BTreeMap<String, Arc<Dispatcher>>,
    /// For versions with no entry: the built-in renderer.
    sketch: Arc<Dispatcher>,
}

impl Backends {
    /// The backends `config` assigns to its versions, with the configured vocabulary and
    /// ComfyUI workflow read from their files (or the built-in copies).
    pub fn from_config(config: &crate::config::Config) -> Result<Backends, RenderError> {
        let needs_vocabulary = config
            .render
            .versions
            .values()
            .any(|b| b.backend != BackendKind::Sketch);
        let vocabulary = if needs_vocabulary {
            Vocabulary::load(&config.render.vocabulary)?
        } else {
            Vocabulary::builtin()?
        };
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
        let mut versions = std::collections::BTreeMap::new();
        for (version, settings) in &config.render.versions {
            let options = DispatchOptions {
                failures_before_down: settings.down_after_failures,
                retry_down_after: std::time::Duration::from_secs(settings.recheck_down_secs),
            };
            let dispatcher =
                Dispatcher::from_config(version, settings, &vocabulary, &workflow, options)?;
            versions.insert(version.clone(), Arc::new(dispatcher));
        }
        let sketch = Dispatcher::from_config(
            "",
            &VersionBackend::sketch(),
            &vocabulary,
            &workflow,
            DispatchOptions::default(),
        )?;
        Ok(Backends {
            versions,
            sketch: Arc::new(sketch),
        })
    }

    /// Every configured version's backend, by version name.
    pub fn configured(&self) -> impl Iterator<Item = (&String, &Arc<Dispatcher>)> {
        self.versions.iter()
    }

    /// The backend of `version` (the built-in renderer if it has no entry).
    pub fn get(&self, version: &str) -> Arc<Dispatcher> {
        self.versions
            .get(version)
            .cloned()
            .unwrap_or_else(|| self.sketch.clone())
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

    async fn verify(&self) -> Result<String, RenderError> {
        match self {
            AnyBackend::Sketch(b) => b.verify().await,
            AnyBackend::Automatic1111(b) => b.verify().await,
            AnyBackend::ComfyUi(b) => b.verify().await,
        }
    }

    fn features(&self) -> Features {
        match self {
            AnyBackend::Sketch(b) => b.features(),
            AnyBackend::Automatic1111(b) => b.features(),
            AnyBackend::ComfyUi(b) => b.features(),
        }
    }
}
