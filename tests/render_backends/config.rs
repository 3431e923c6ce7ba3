//! The `[render]` configuration section: defaults, per-version backends, validation.

use tastebud::config::{BackendKind, Config};
use tastebud::render::backend::comfyui::DEFAULT_WORKFLOW;
use tastebud::render::backend::vocabulary::Vocabulary;
use tastebud::render::backend::{AnyBackend, Backend};

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
        model = "dreamshaper_8.safetensors"
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

#[test]
fn a_version_can_have_several_servers_and_its_own_size() {
    let config = Config::with_overrides(
        r#"
        [render.versions."xl"]
        backend = "automatic1111"
        model = "sd_xl_base_1.0.safetensors"
        size = 1024
        servers = [
            { url = "http://10.0.0.1:7860", concurrency = 2 },
            { url = "http://10.0.0.2:7860", model = "sdxl/sd_xl_base_1.0.safetensors" },
        ]
        "#,
    )
    .expect("config");
    let xl = config.render.backend_for("xl");
    let servers = xl.server_list();
    assert_eq!(servers.len(), 2);
    assert_eq!(
        (servers[0].concurrency, servers[0].model.as_str()),
        (2, "sd_xl_base_1.0.safetensors"),
        "a server without its own model name uses the version's"
    );
    assert_eq!(
        (servers[1].concurrency, servers[1].model.as_str()),
        (1, "sdxl/sd_xl_base_1.0.safetensors")
    );
    assert_eq!(xl.for_server(&servers[1]).url, "http://10.0.0.2:7860");
    assert_eq!(config.render.size_for("xl"), 1024);
    assert_eq!((xl.down_after_failures, xl.recheck_down_secs), (2, 15));
    assert_eq!(
        config.render.size_for("7"),
        512,
        "other versions keep render.size"
    );

    // The single `url` is one server taking one job at a time.
    let one = Config::with_overrides(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nurl = \"http://127.0.0.1:7860\"\n",
    )
    .expect("config");
    let list = one.render.backend_for("7").server_list();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].url.as_str(), list[0].concurrency),
        ("http://127.0.0.1:7860", 1)
    );
}

#[test]
fn server_lists_that_cannot_work_are_refused() {
    let refused = |toml: &str, words: &str| {
        let e = Config::with_overrides(toml).expect_err(toml).to_string();
        assert!(e.contains(words), "{e}");
    };
    refused(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nurl = \"http://a:1\"\nservers = [{ url = \"http://b:1\" }]\n",
        "either url or servers",
    );
    refused(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nservers = [{ url = \"http://b:1\", concurrency = 0 }]\n",
        "concurrency",
    );
    refused(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nservers = [{ url = \"b:1\" }]\n",
        "http://",
    );
    // ComfyUI loads whatever checkpoint a workflow names: it has no current model to fall back on.
    refused(
        "[render.versions.\"7\"]\nbackend = \"comfyui\"\nurl = \"http://c:8188\"\n",
        "ComfyUI has no current model",
    );
    refused(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nurl = \"http://c:1\"\nsize = 32\n",
        "size",
    );
    refused(
        "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nurl = \"http://c:1\"\nrecheck_down_secs = 0\n",
        "recheck_down_secs",
    );
}
