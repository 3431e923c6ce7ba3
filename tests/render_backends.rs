//! The AUTOMATIC1111 and ComfyUI backends against fake servers on loopback that check what
//! tastebud sends and answer in the documented shapes, including error bodies, a slow server,
//! a dropped connection and a server that is not running.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use image::{Rgb, RgbImage};
use serde_json::{Value, json};
use tastebud::config::{BackendKind, VersionBackend};
use tastebud::render::RenderError;
use tastebud::render::automatic1111::Automatic1111;
use tastebud::render::backend::{Backend, Progress, ProgressFn, RenderRequest};
use tastebud::render::comfyui::ComfyUi;
use tastebud::render::files::encode_png;
use tastebud::render::vocabulary::Vocabulary;

fn png(shade: u8) -> Vec<u8> {
    encode_png(&RgbImage::from_pixel(8, 8, Rgb([shade, 100, 200 - shade]))).expect("png")
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn settings(kind: BackendKind, url: &str) -> VersionBackend {
    VersionBackend {
        backend: kind,
        url: url.to_string(),
        model: "dreamshaper_8.safetensors".into(),
        timeout_secs: 1,
        connect_timeout_secs: 1,
        retries: 1,
        steps: 20,
        negative_prompt: "blurry".into(),
    }
}

fn request() -> RenderRequest {
    RenderRequest {
        prompt: "a husky in a desert".into(),
        seed: 42,
        knobs: vec![0.5, 0.0, 0.0, -1.0],
        width: 512,
        height: 384,
        count: 2,
    }
}

fn recorder() -> (ProgressFn, Arc<Mutex<Vec<Progress>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let f: ProgressFn = Arc::new(move |p| sink.lock().expect("lock").push(p));
    (f, seen)
}

fn vocabulary() -> Vocabulary {
    Vocabulary::builtin().expect("vocabulary")
}

// ---- AUTOMATIC1111 --------------------------------------------------------------------------

#[derive(Clone, Default)]
struct A1111 {
    bodies: Arc<Mutex<Vec<Value>>>,
    polls: Arc<Mutex<u32>>,
    txt2img_calls: Arc<Mutex<u32>>,
}

async fn a1111_txt2img(State(s): State<A1111>, Json(body): Json<Value>) -> Response {
    let call = {
        let mut c = s.txt2img_calls.lock().expect("lock");
        *c += 1;
        *c
    };
    s.bodies.lock().expect("lock").push(body.clone());
    if body["prompt"].as_str() == Some("busy") && call == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting up").into_response();
    }
    if body["prompt"]
        .as_str()
        .is_some_and(|p| p.starts_with("oom"))
    {
        let error = json!({"error": "OutOfMemoryError", "detail": "", "body": "",
                           "errors": "CUDA out of memory. Tried to allocate 2.00 GiB"});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(error)).into_response();
    }
    if body["prompt"]
        .as_str()
        .is_some_and(|p| p.starts_with("slow"))
    {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let n = body["batch_size"].as_u64().unwrap_or(1);
    let images: Vec<String> = (0..n)
        .map(|i| base64::engine::general_purpose::STANDARD.encode(png(i as u8 * 50)))
        .collect();
    Json(json!({"images": images, "parameters": body, "info": "{}"})).into_response()
}

async fn a1111_progress(State(s): State<A1111>) -> Json<Value> {
    *s.polls.lock().expect("lock") += 1;
    Json(
        json!({"progress": 0.5, "eta_relative": 3.2, "state": {"job_count": 1},
                "current_image": null, "textinfo": null}),
    )
}

async fn a1111_models() -> Json<Value> {
    Json(json!([
        {"title": "dreamshaper_8.safetensors [879db523c3]", "model_name": "dreamshaper_8",
         "hash": "879db523c3", "filename": "/models/dreamshaper_8.safetensors", "config": null},
        {"title": "sd_xl_base_1.0.safetensors [31e35c80fc]", "model_name": "sd_xl_base_1.0",
         "hash": "31e35c80fc", "filename": "/models/sd_xl_base_1.0.safetensors", "config": null}
    ]))
}

async fn a1111() -> (String, A1111) {
    let state = A1111::default();
    let app = Router::new()
        .route("/sdapi/v1/txt2img", post(a1111_txt2img))
        .route("/sdapi/v1/progress", get(a1111_progress))
        .route("/sdapi/v1/sd-models", get(a1111_models))
        .with_state(state.clone());
    (serve(app).await, state)
}

fn a1111_client(url: &str) -> Automatic1111 {
    Automatic1111::new(&settings(BackendKind::Automatic1111, url), vocabulary())
        .expect("client")
        .with_poll_interval(Duration::from_millis(40))
}

#[tokio::test]
async fn automatic1111_sends_the_documented_request_and_reads_the_images() {
    let (url, state) = a1111().await;
    let client = a1111_client(&url);
    let (progress, seen) = recorder();
    let images = client.render(&request(), progress).await.expect("render");
    assert_eq!(images.len(), 2);
    assert_eq!(images[1].get_pixel(0, 0).0, [50, 100, 150]);

    let body = state.bodies.lock().expect("lock")[0].clone();
    assert_eq!(
        body["prompt"],
        "a husky in a desert, (vibrant saturated colors:0.70), (cool blue tones:1.40)"
    );
    assert_eq!(
        body["negative_prompt"],
        "blurry, (muted desaturated colors:0.70), (warm golden tones:1.40)"
    );
    assert_eq!(body["seed"], 42);
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(512), Some(384))
    );
    assert_eq!(body["batch_size"], 2);
    assert_eq!(body["steps"], 20);
    assert_eq!(
        body["override_settings"]["sd_model_checkpoint"],
        "dreamshaper_8.safetensors"
    );
    assert_eq!(body["override_settings_restore_afterwards"], true);

    // Progress was polled while the image rendered, and reported.
    assert!(*state.polls.lock().expect("lock") >= 1);
    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().any(|p| (p.fraction - 0.5).abs() < 1e-6),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(|p| p.fraction), Some(1.0));

    let models = client.models().await.expect("models");
    assert_eq!(models.len(), 2);
    assert!(models[1].starts_with("sd_xl_base_1.0"));
}

#[tokio::test]
async fn automatic1111_error_bodies_are_shown() {
    let (url, _) = a1111().await;
    let mut r = request();
    r.prompt = "oom please".into();
    let err = a1111_client(&url)
        .render(&r, Arc::new(|_| {}))
        .await
        .unwrap_err();
    match &err {
        RenderError::Server {
            status, message, ..
        } => {
            assert_eq!(*status, 500);
            assert!(message.contains("CUDA out of memory"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn automatic1111_times_out_on_a_slow_server() {
    let (url, _) = a1111().await;
    let mut r = request();
    r.prompt = "slow".into();
    let err = a1111_client(&url)
        .render(&r, Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RenderError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not answer within 1 s"));
}

#[tokio::test]
async fn automatic1111_retries_a_busy_server() {
    let (url, state) = a1111().await;
    let mut r = request();
    r.prompt = "busy".into();
    r.knobs.clear();
    let images = a1111_client(&url)
        .render(&r, Arc::new(|_| {}))
        .await
        .expect("render");
    assert_eq!(images.len(), 2);
    assert_eq!(*state.txt2img_calls.lock().expect("lock"), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_reported() {
    // A server that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        }
    });
    let err = a1111_client(&url)
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::Dropped { .. }), "{err:?}");
}

#[tokio::test]
async fn a_server_that_is_down_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let err = a1111_client(&url).models().await.unwrap_err();
    assert!(matches!(err, RenderError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("Is it running?"));
    let comfy =
        ComfyUi::new(&settings(BackendKind::Comfyui, &url), vocabulary(), "").expect("client");
    let err = comfy
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::Unreachable { .. }), "{err:?}");
}

// ---- ComfyUI --------------------------------------------------------------------------------

#[derive(Clone)]
struct Comfy {
    prompts: Arc<Mutex<Vec<Value>>>,
    client_ids: Arc<Mutex<Vec<String>>>,
    queued: tokio::sync::watch::Sender<Option<String>>,
    views: Arc<Mutex<Vec<String>>>,
    fail: &'static str,
}

async fn comfy_ws(
    ws: WebSocketUpgrade,
    Query(q): Query<std::collections::HashMap<String, String>>,
    State(s): State<Comfy>,
) -> Response {
    s.client_ids
        .lock()
        .expect("lock")
        .push(q.get("clientId").cloned().unwrap_or_default());
    ws.on_upgrade(move |socket| comfy_events(socket, s))
}

async fn comfy_events(mut socket: WebSocket, s: Comfy) {
    let send = |v: Value| Message::Text(v.to_string().into());
    let _ = socket
        .send(send(json!({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "x"}})))
        .await;
    let mut rx = s.queued.subscribe();
    let Ok(id) = rx
        .wait_for(|v| v.is_some())
        .await
        .map(|v| v.clone().unwrap_or_default())
    else {
        return;
    };
    if s.fail == "drop" {
        return; // close the websocket mid-render
    }
    let mut events = vec![
        json!({"type": "execution_start", "data": {"prompt_id": id}}),
        json!({"type": "executing", "data": {"node": "3", "prompt_id": id}}),
        json!({"type": "progress", "data": {"value": 5, "max": 20, "prompt_id": id, "node": "3"}}),
        json!({"type": "progress", "data": {"value": 20, "max": 20, "prompt_id": id, "node": "3"}}),
    ];
    if s.fail == "execution" {
        events.push(
            json!({"type": "execution_error", "data": {"prompt_id": id, "node_id": "4",
            "exception_message": "Value not in list: ckpt_name", "exception_type": "ValueError"}}),
        );
    } else {
        events.push(json!({"type": "executing", "data": {"node": null, "prompt_id": id}}));
    }
    for e in events {
        let _ = socket.send(send(e)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn comfy_prompt(State(s): State<Comfy>, Json(body): Json<Value>) -> Response {
    s.prompts.lock().expect("lock").push(body);
    if s.fail == "validation" {
        let error = json!({"error": {"type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"4": {"errors": [{"message": "Value not in list"}]}}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let _ = s.queued.send(Some("3f1c-prompt".into()));
    Json(json!({"prompt_id": "3f1c-prompt", "number": 1, "node_errors": {}})).into_response()
}

async fn comfy_history(Path(id): Path<String>) -> Json<Value> {
    Json(json!({ id.clone(): {
        "prompt": [1, id, {}, {}, ["9"]],
        "outputs": {"9": {"images": [
            {"filename": "tastebud_00001_.png", "subfolder": "", "type": "output"},
            {"filename": "tastebud 00002_.png", "subfolder": "", "type": "output"}
        ]}},
        "status": {"status_str": "success", "completed": true, "messages": []}
    }}))
}

async fn comfy_view(
    State(s): State<Comfy>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Vec<u8> {
    let name = q.get("filename").cloned().unwrap_or_default();
    s.views.lock().expect("lock").push(name.clone());
    png(if name.contains("00002") { 90 } else { 10 })
}

async fn comfy_models() -> Json<Value> {
    Json(
        json!({"CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [
        ["v1-5-pruned-emaonly.safetensors", "dreamshaper_8.safetensors"], {"tooltip": "x"}]}},
        "output": ["MODEL", "CLIP", "VAE"], "name": "CheckpointLoaderSimple"}}),
    )
}

async fn comfy(fail: &'static str) -> (String, Comfy) {
    let (queued, _) = tokio::sync::watch::channel(None);
    let state = Comfy {
        prompts: Arc::default(),
        client_ids: Arc::default(),
        queued,
        views: Arc::default(),
        fail,
    };
    let app = Router::new()
        .route("/ws", get(comfy_ws))
        .route("/prompt", post(comfy_prompt))
        .route("/history/{id}", get(comfy_history))
        .route("/view", get(comfy_view))
        .route("/object_info/CheckpointLoaderSimple", get(comfy_models))
        .with_state(state.clone());
    (serve(app).await, state)
}

fn comfy_client(url: &str) -> ComfyUi {
    ComfyUi::new(&settings(BackendKind::Comfyui, url), vocabulary(), "").expect("client")
}

#[tokio::test]
async fn comfyui_queues_the_filled_workflow_and_fetches_the_outputs() {
    let (url, state) = comfy("").await;
    let (progress, seen) = recorder();
    let images = comfy_client(&url)
        .render(&request(), progress)
        .await
        .expect("render");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].get_pixel(0, 0).0, [10, 100, 190]);
    assert_eq!(images[1].get_pixel(0, 0).0, [90, 100, 110]);

    let body = state.prompts.lock().expect("lock")[0].clone();
    let ids = state.client_ids.lock().expect("lock").clone();
    assert_eq!(body["client_id"].as_str(), ids.first().map(String::as_str));
    let w = &body["prompt"];
    assert_eq!(w["3"]["inputs"]["seed"], 42);
    assert_eq!(w["3"]["inputs"]["steps"], 20);
    assert_eq!(w["4"]["inputs"]["ckpt_name"], "dreamshaper_8.safetensors");
    assert_eq!(w["5"]["inputs"]["width"], 512);
    assert_eq!(w["5"]["inputs"]["height"], 384);
    assert_eq!(w["5"]["inputs"]["batch_size"], 2);
    assert_eq!(
        w["6"]["inputs"]["text"],
        "a husky in a desert, (vibrant saturated colors:0.70), (cool blue tones:1.40)"
    );
    assert!(
        w["7"]["inputs"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("blurry, "))
    );
    assert_eq!(w["6"]["inputs"]["clip"], json!(["4", 1]));
    // The file with a space in its name was asked for correctly.
    let views = state.views.lock().expect("lock").clone();
    assert_eq!(views, vec!["tastebud_00001_.png", "tastebud 00002_.png"]);

    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().any(|p| (p.fraction - 0.25).abs() < 1e-6),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(|p| p.fraction), Some(1.0));

    let models = comfy_client(&url).models().await.expect("models");
    assert_eq!(
        models,
        vec![
            "v1-5-pruned-emaonly.safetensors",
            "dreamshaper_8.safetensors"
        ]
    );
}

#[tokio::test]
async fn comfyui_validation_errors_are_shown() {
    let (url, _) = comfy("validation").await;
    let err = comfy_client(&url)
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    match &err {
        RenderError::Server {
            status, message, ..
        } => {
            assert_eq!(*status, 400);
            assert!(
                message.contains("Prompt outputs failed validation"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn comfyui_execution_errors_and_dropped_websockets_are_shown() {
    let (url, _) = comfy("execution").await;
    let err = comfy_client(&url)
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Value not in list: ckpt_name"),
        "{err}"
    );

    let (url, _) = comfy("drop").await;
    let err = comfy_client(&url)
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::Dropped { .. }), "{err:?}");
}

#[tokio::test]
async fn comfyui_times_out_when_the_render_never_finishes() {
    // The websocket never reports completion: `queued` is never set by a fake /prompt.
    let (queued, _) = tokio::sync::watch::channel(None);
    let state = Comfy {
        prompts: Arc::default(),
        client_ids: Arc::default(),
        queued,
        views: Arc::default(),
        fail: "",
    };
    let app = Router::new()
        .route("/ws", get(comfy_ws))
        .route(
            "/prompt",
            post(|| async { Json(json!({"prompt_id": "never", "number": 1, "node_errors": {}})) }),
        )
        .with_state(state);
    let url = serve(app).await;
    let err = comfy_client(&url)
        .render(&request(), Arc::new(|_| {}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RenderError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn bad_workflow_templates_are_refused() {
    let s = settings(BackendKind::Comfyui, "http://127.0.0.1:1");
    assert!(ComfyUi::new(&s, vocabulary(), "{not json").is_err());
    assert!(
        ComfyUi::new(
            &s,
            vocabulary(),
            r#"{"1": {"inputs": {"text": "{{prompt}}"}}}"#
        )
        .is_err()
    );
}
