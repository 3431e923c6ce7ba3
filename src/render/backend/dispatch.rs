//! The dispatcher: one version's image servers behind one [`Backend`], with a fair queue.
//!
//! PLACEHOLDER (being replaced): every job goes to the first server. The dispatcher that
//! spreads jobs by load, respects each server's concurrency, marks servers down and back up,
//! and queues fairly between users is being written.

use std::time::Duration;

use image::RgbImage;

use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use super::{AnyBackend, Backend, Features, ProgressFn, RenderRequest};
use crate::config::VersionBackend;
use crate::render::RenderError;

/// One server of a version: a client for it and how many jobs it takes at once.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub backend: AnyBackend,
    /// Its base URL, as the operator wrote it (for logs and status).
    pub url: String,
    pub concurrency: u32,
}

/// How the dispatcher treats failing servers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchOptions {
    /// Failures in a row after which a server counts as down.
    pub failures_before_down: u32,
    /// How long a down server is left alone before it is asked again.
    pub retry_down_after: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            failures_before_down: 2,
            retry_down_after: Duration::from_secs(15),
        }
    }
}

/// One version's servers behind one [`Backend`].
#[derive(Debug)]
pub struct Dispatcher {
    version: String,
    /// The version's model: the key its calibration and pool are kept under.
    model: String,
    servers: Vec<ServerConfig>,
    #[allow(dead_code)]
    options: DispatchOptions,
}

impl Dispatcher {
    /// A dispatcher over `servers` (at least one) for `version`, whose model is `model`.
    pub fn new(
        version: &str,
        model: &str,
        servers: Vec<ServerConfig>,
        options: DispatchOptions,
    ) -> Result<Dispatcher, RenderError> {
        if servers.is_empty() {
            return Err(RenderError::BadRequest(format!(
                "version {version:?} has no image server"
            )));
        }
        Ok(Dispatcher {
            version: version.to_string(),
            model: model.to_string(),
            servers,
            options,
        })
    }

    /// The dispatcher for `version` as `settings` configure it: a client per server.
    pub fn from_config(
        version: &str,
        settings: &VersionBackend,
        vocabulary: &Vocabulary,
        workflow: &str,
        options: DispatchOptions,
    ) -> Result<Dispatcher, RenderError> {
        let servers = match settings.backend {
            crate::config::BackendKind::Sketch => vec![ServerConfig {
                backend: AnyBackend::Sketch(super::Sketch),
                url: "built-in".to_string(),
                concurrency: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            }],
            _ => settings
                .server_list()
                .iter()
                .map(|server| {
                    Ok(ServerConfig {
                        backend: AnyBackend::from_config(
                            &settings.for_server(server),
                            vocabulary,
                            workflow,
                        )?,
                        url: server.url.clone(),
                        concurrency: server.concurrency,
                    })
                })
                .collect::<Result<Vec<_>, RenderError>>()?,
        };
        Dispatcher::new(version, &settings.model, servers, options)
    }

    /// The version this dispatcher serves.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The version's model: calibrations and pools are kept per model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether this version is drawn by the built-in renderer.
    pub fn is_sketch(&self) -> bool {
        matches!(self.servers[0].backend, AnyBackend::Sketch(_))
    }
}

impl Backend for Dispatcher {
    fn name(&self) -> &'static str {
        self.servers[0].backend.name()
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        self.servers[0].backend.knobs()
    }

    fn features(&self) -> Features {
        self.servers[0].backend.features()
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        self.servers[0].backend.render(request, progress).await
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        self.servers[0].backend.models().await
    }

    async fn verify(&self) -> Result<String, RenderError> {
        self.servers[0].backend.verify().await
    }
}
