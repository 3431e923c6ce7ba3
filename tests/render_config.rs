//! The `[render]` configuration section: defaults, per-version backends, validation.

use tastebud::config::{BackendKind, Config};
use tastebud::render::backend::{AnyBackend, Backend};
use tastebud::render::comfyui::DEFAULT_WORKFLOW;
use tastebud::render::vocabulary::Vocabulary;

#[test]
fn every_default_version_uses_the_built_in_renderer() {
    let config = Config::defaults().expect("defaults");
    assert_eq!(config.render.size, 512);
    assert_eq!(config.render.candidates, 2);
    for version in &config.personalization.versions {
        assert_eq!(
            config.render.backend_for(version).backend,
            BackendKind::Sketch
        );
    }
    assert_eq!(
        config.render.backend_for("not listed").backend,
        BackendKind::Sketch
    );
}

#[test]
fn a_version_can_point_at_a_stable_diffusion_server() {
    let config = Config::with_overrides(
        r#"
        [render.versions."7"]
        backend = "automatic1111"
        url = "http://127.0.0.1:7860"
        model = "sd_xl_base_1.0.safetensors"

        [render.versions."8"]
        backend = "comfyui"
        url = "http://127.0.0.1:8188"
        "#,
    )
    .expect("config");
    let seven = config.render.backend_for("7");
    assert_eq!(seven.backend, BackendKind::Automatic1111);
    assert_eq!(seven.model, "sd_xl_base_1.0.safetensors");
    assert_eq!(seven.timeout_secs, 120, "unlisted keys keep their defaults");
    let eight = config.render.backend_for("8");
    assert_eq!(eight.backend, BackendKind::Comfyui);
    assert_eq!(eight.steps, 25);

    let vocabulary = Vocabulary::builtin().expect("vocabulary");
    let a = AnyBackend::from_config(&seven, &vocabulary, "").expect("a1111");
    assert_eq!(a.name(), "automatic1111");
    assert_eq!(a.knobs().len(), 9);
    let c = AnyBackend::from_config(&eight, &vocabulary, DEFAULT_WORKFLOW).expect("comfyui");
    assert_eq!(c.name(), "comfyui");
}

#[test]
fn bad_render_settings_are_refused_with_their_key() {
    let no_url = Config::with_overrides("[render.versions.\"7\"]\nbackend = \"comfyui\"\n");
    assert!(no_url.is_err_and(|e| e.to_string().contains("render.versions")));
    let unknown = Config::with_overrides("[render.versions.\"7\"]\nbackend = \"dalle\"\n");
    assert!(unknown.is_err());
    let typo = Config::with_overrides("[render]\ncandidate = 3\n");
    assert!(typo.is_err());
    let zero = Config::with_overrides("[render]\ncandidates = 0\n");
    assert!(zero.is_err_and(|e| e.to_string().contains("render.candidates")));
}
