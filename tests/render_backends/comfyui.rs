//! ComfyUI: the filled workflow, progress over the websocket, validation and execution errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tastebud::config::BackendKind;
use tastebud::render::RenderError;
use tastebud::render::backend::Backend;
use tastebud::render::backend::comfyui::ComfyUi;

use super::{png, recorder, request, serve, settings, vocabulary};

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
