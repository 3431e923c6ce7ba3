//! AUTOMATIC1111: what tastebud sends, error bodies, timeouts, retries, dropped connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use tastebud::config::BackendKind;
use tastebud::render::RenderError;
use tastebud::render::backend::Backend;
use tastebud::render::backend::automatic1111::Automatic1111;
use tastebud::render::backend::comfyui::ComfyUi;

use super::{png, recorder, request, serve, settings, vocabulary};

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
