//! The image backends against fake servers on loopback that behave as the real ones do (read
//! from their source): AUTOMATIC1111 ([`a1111`]), ComfyUI ([`comfyui`]), and several servers of
//! one version behind the dispatcher ([`dispatch`]).

use std::sync::{Arc, Mutex};

use tastebud::config::{BackendKind, VersionBackend};
use tastebud::render::backend::vocabulary::Vocabulary;
use tastebud::render::backend::{Progress, ProgressFn, RenderRequest};

pub(crate) fn settings(kind: BackendKind, url: &str) -> VersionBackend {
    VersionBackend {
        backend: kind,
        url: url.to_string(),
        model: "dreamshaper_8.safetensors".into(),
        timeout_secs: 1,
        connect_timeout_secs: 1,
        retries: 1,
        steps: 20,
        negative_prompt: "blurry".into(),
        ..VersionBackend::sketch()
    }
}

pub(crate) fn request() -> RenderRequest {
    RenderRequest {
        prompt: "a husky in a desert".into(),
        seed: 42,
        knobs: vec![0.5, 0.0, 0.0, -1.0],
        width: 512,
        height: 384,
        count: 2,
        ..RenderRequest::default()
    }
}

pub(crate) fn recorder() -> (ProgressFn, Arc<Mutex<Vec<Progress>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let f: ProgressFn = Arc::new(move |p| sink.lock().expect("lock").push(p));
    (f, seen)
}

pub(crate) fn vocabulary() -> Vocabulary {
    Vocabulary::builtin().expect("vocabulary")
}

#[path = "fakes/a1111.rs"]
mod fake_a1111;

#[path = "render_backends/a1111.rs"]
mod a1111;
#[path = "render_backends/comfyui.rs"]
mod comfyui;
#[path = "render_backends/config.rs"]
mod config;
#[path = "render_backends/dispatch.rs"]
mod dispatch;
