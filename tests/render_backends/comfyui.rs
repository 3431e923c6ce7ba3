//! ComfyUI against the strict fake (`tests/fakes/comfyui.rs`): one prompt per image, the
//! history written after success, a dropped websocket, other clients' prompts and progress,
//! interrupts, timeouts that cancel only our prompts, validation and execution errors, escaping.

use std::time::{Duration, Instant};

use image::RgbImage;
use serde_json::json;
use tastebud::config::BackendKind;
use tastebud::render::RenderError;
use tastebud::render::backend::comfyui::ComfyUi;
use tastebud::render::backend::{Backend, RenderRequest, no_progress};

use super::{recorder, request, settings, vocabulary};

#[path = "../fakes/comfyui.rs"]
mod fake;

use fake::{FakeComfy, Options};

fn client(url: &str) -> ComfyUi {
    ComfyUi::new(&settings(BackendKind::Comfyui, url), vocabulary(), "").expect("client")
}

async fn start(options: Options) -> FakeComfy {
    FakeComfy::start(options).await
}

/// The seed that made a fake picture, and its index in its batch.
fn seed_of(image: &RgbImage) -> (u64, u8) {
    let [low, high, index] = image.get_pixel(0, 0).0;
    (u64::from(low) + 256 * u64::from(high), index)
}

/// Waits (up to 10 s) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn comfyui_queues_the_filled_workflow_and_fetches_the_outputs() {
    let fake = start(Options::default()).await;
    let (progress, seen) = recorder();
    let images = client(&fake.url)
        .render(&request(), progress)
        .await
        .expect("render");
    assert_eq!(images.len(), 2);

    let bodies = fake.accepted();
    assert_eq!(bodies.len(), 2, "one prompt per image");
    let sockets = fake.sockets_opened();
    assert_eq!(sockets.len(), 1);
    for body in &bodies {
        assert_eq!(body["client_id"].as_str(), Some(sockets[0].as_str()));
        let w = &body["prompt"];
        assert_eq!(w["3"]["inputs"]["steps"], 20);
        assert_eq!(w["4"]["inputs"]["ckpt_name"], "dreamshaper_8.safetensors");
        assert_eq!(w["5"]["inputs"]["width"], 512);
        assert_eq!(w["5"]["inputs"]["height"], 384);
        assert_eq!(w["5"]["inputs"]["batch_size"], 1);
        assert_eq!(
            w["6"]["inputs"]["text"],
            "a husky in a desert, (vibrant saturated colors:0.70), (cool blue tones:1.40)"
        );
        assert!(
            w["7"]["inputs"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("blurry, ")),
            "{}",
            w["7"]
        );
        assert_eq!(w["6"]["inputs"]["clip"], json!(["4", 1]));
    }
    assert_eq!(fake.views().len(), 2);

    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().any(|p| p.fraction > 0.0 && p.fraction < 1.0),
        "{seen:?}"
    );
    assert!(seen.iter().any(|p| p.note.contains("step")), "{seen:?}");
    assert_eq!(seen.last().map(|p| p.fraction), Some(1.0));

    let models = client(&fake.url).models().await.expect("models");
    assert_eq!(
        models,
        vec![
            "v1-5-pruned-emaonly.safetensors",
            "dreamshaper_8.safetensors"
        ]
    );
    let features = client(&fake.url).features();
    assert!(features.negative && !features.tile);
    assert_eq!(features.size_step, 64);
}

#[tokio::test]
async fn each_image_comes_from_its_own_seed() {
    // ComfyUI's KSampler makes a batch from one noise tensor of one seed: image i of a batch
    // is not seed+i, so each image must be a prompt of its own.
    let fake = start(Options::default()).await;
    let req = RenderRequest {
        count: 3,
        ..request()
    };
    let images = client(&fake.url)
        .render(&req, no_progress())
        .await
        .expect("render");
    let seeds: Vec<(u64, u8)> = images.iter().map(seed_of).collect();
    assert_eq!(seeds, vec![(42, 0), (43, 0), (44, 0)]);
    let sent: Vec<(u64, u64)> = fake
        .accepted()
        .iter()
        .map(|b| {
            (
                b["prompt"]["3"]["inputs"]["seed"].as_u64().unwrap_or(0),
                b["prompt"]["5"]["inputs"]["batch_size"]
                    .as_u64()
                    .unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(sent, vec![(42, 1), (43, 1), (44, 1)]);
}

#[tokio::test]
async fn the_history_written_after_success_is_still_read() {
    // `execution_success` comes before `task_done` writes the history (Comfy-Org/ComfyUI#11540).
    let fake = start(Options {
        history_delay: Duration::from_millis(600),
        ..Options::default()
    })
    .await;
    let images = client(&fake.url)
        .render(&request(), no_progress())
        .await
        .expect("render");
    assert_eq!(
        images.iter().map(seed_of).collect::<Vec<_>>(),
        vec![(42, 0), (43, 0)]
    );
}

#[tokio::test]
async fn a_dropped_websocket_does_not_lose_the_job() {
    let fake = start(Options {
        job_time: Duration::from_millis(400),
        ..Options::default()
    })
    .await;
    fake.drop_sockets_mid_job();
    let images = client(&fake.url)
        .render(&request(), no_progress())
        .await
        .expect("the images arrive by polling /queue and /history");
    assert_eq!(
        images.iter().map(seed_of).collect::<Vec<_>>(),
        vec![(42, 0), (43, 0)]
    );
    assert_eq!(fake.accepted().len(), 2, "nothing was queued twice");
    assert_eq!(fake.completed().len(), 2);
}

#[tokio::test]
async fn another_clients_progress_is_not_shown_as_ours() {
    // A prompt queued without a client id has its progress broadcast to every socket; older
    // servers send it without a prompt id.
    let fake = start(Options {
        legacy_progress: true,
        ..Options::default()
    })
    .await;
    fake.queue_foreign(None, 7, Duration::from_millis(700));
    let (progress, seen) = recorder();
    let req = RenderRequest {
        count: 1,
        ..request()
    };
    client(&fake.url)
        .render(&req, progress)
        .await
        .expect("render");
    let seen = seen.lock().expect("lock").clone();
    for p in &seen {
        for k in 1..7 {
            assert!(
                (p.fraction - k as f32 / 7.0).abs() > 1e-4,
                "the other prompt's step {k} of 7 was shown as ours: {seen:?}"
            );
        }
    }
    assert!(
        seen.iter().any(|p| p.note.contains("of 20")),
        "our own steps are shown: {seen:?}"
    );
}

#[tokio::test]
async fn an_interrupted_prompt_is_reported_as_interrupted() {
    let fake = start(Options {
        job_time: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    let c = client(&fake.url);
    let render = tokio::spawn(async move { c.render(&request(), no_progress()).await });
    fake.wait_running(None).await;
    fake.interrupt(); // someone pressed Cancel on ComfyUI's page
    let err = render.await.expect("join").unwrap_err();
    assert!(matches!(err, RenderError::Interrupted { .. }), "{err:?}");
    assert!(err.server_failed());
    // Our second prompt does not run for nobody.
    let ids = fake.accepted_ids();
    assert_eq!(fake.deleted(), vec![ids[1].clone()]);
}

#[tokio::test]
async fn waiting_behind_another_clients_prompt_does_not_time_out() {
    // timeout_secs is 1; the other client's prompt runs 2.5 s before ours starts.
    let fake = start(Options {
        job_time: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let other = fake.queue_foreign(Some("someone-else"), 10, Duration::from_millis(2500));
    let req = RenderRequest {
        count: 1,
        ..request()
    };
    let images = client(&fake.url)
        .render(&req, no_progress())
        .await
        .expect("the timeout counts from our prompt's start");
    assert_eq!(images.len(), 1);
    assert!(fake.interrupt_requests().is_empty());
    assert!(fake.interrupted().is_empty());
    assert_eq!(fake.completed()[0], other);
}

#[tokio::test]
async fn a_timeout_cancels_only_our_own_prompts() {
    // Our first prompt runs past timeout_secs (1 s); our second waits; another client's
    // prompt waits behind both.
    let fake = start(Options {
        job_time: Duration::from_secs(4),
        ..Options::default()
    })
    .await;
    let c = client(&fake.url);
    let render = tokio::spawn(async move { c.render(&request(), no_progress()).await });
    let first = fake.wait_running(None).await;
    eventually("both of our prompts queued", || {
        fake.accepted_ids().len() == 2
    })
    .await;
    let other = fake.queue_foreign(Some("someone-else"), 5, Duration::from_millis(100));
    let err = render.await.expect("join").unwrap_err();
    assert!(
        matches!(err, RenderError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );

    let ours = fake.accepted_ids();
    assert_eq!(ours[0], first);
    assert_eq!(
        fake.deleted(),
        vec![ours[1].clone()],
        "our waiting prompt was deleted"
    );
    assert_eq!(fake.interrupt_requests(), vec![Some(first.clone())]);
    // The server stops it at its next sampler step.
    eventually("our running prompt interrupted", || {
        fake.interrupted() == vec![first.clone()]
    })
    .await;
    eventually("the other client's prompt ran", || {
        fake.completed().contains(&other)
    })
    .await;
}

#[tokio::test]
async fn a_dropped_render_deletes_its_waiting_prompts_and_interrupts_nothing_else() {
    // A server that ignores the prompt id of /interrupt would stop whatever runs: ours are
    // only waiting, so nothing may be interrupted.
    let fake = start(Options {
        global_interrupt_only: true,
        ..Options::default()
    })
    .await;
    let other = fake.queue_foreign(Some("someone-else"), 10, Duration::from_millis(1500));
    let c = client(&fake.url);
    let gave_up = tokio::time::timeout(
        Duration::from_millis(600),
        c.render(&request(), no_progress()),
    )
    .await;
    assert!(gave_up.is_err(), "the render cannot have finished");
    eventually("our waiting prompts deleted", || fake.deleted().len() == 2).await;
    assert_eq!(fake.deleted(), fake.accepted_ids());
    eventually("the other client's prompt ran", || {
        fake.completed().contains(&other)
    })
    .await;
    assert!(fake.interrupt_requests().is_empty());
    assert!(fake.interrupted().is_empty());
    assert_eq!(fake.completed(), vec![other]);
}

#[tokio::test]
async fn validation_errors_name_the_node_and_the_input() {
    let fake = start(Options::default()).await;
    let c = client(&fake.url);
    c.verify().await.expect("the checkpoint is there at first");
    // The operator removes it afterwards.
    fake.set_checkpoints(vec!["v1-5-pruned-emaonly.safetensors".into()]);
    let err = c.render(&request(), no_progress()).await.unwrap_err();
    match &err {
        RenderError::Server {
            status, message, ..
        } => {
            assert_eq!(*status, 400);
            assert!(
                message.contains("Prompt outputs failed validation"),
                "{message}"
            );
            assert!(
                message.contains(
                    "node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: \
                     'dreamshaper_8.safetensors' not in ['v1-5-pruned-emaonly.safetensors']"
                ),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains(&fake.url), "{err}");
    assert!(fake.accepted().is_empty());
}

#[tokio::test]
async fn an_unknown_checkpoint_is_refused_before_anything_is_queued() {
    let fake = start(Options::default()).await;
    let mut s = settings(BackendKind::Comfyui, &fake.url);
    s.model = "dreamshaper_9.safetensors".into();
    let c = ComfyUi::new(&s, vocabulary(), "").expect("client");
    let err = c.render(&request(), no_progress()).await.unwrap_err();
    match &err {
        RenderError::UnknownModel {
            model, available, ..
        } => {
            assert_eq!(model, "dreamshaper_9.safetensors");
            assert_eq!(
                available,
                &vec![
                    "v1-5-pruned-emaonly.safetensors".to_string(),
                    "dreamshaper_8.safetensors".to_string()
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(fake.accepted().is_empty());
    assert_eq!(fake.rejected(), 0, "nothing was even sent");
    assert!(fake.sockets_opened().is_empty());
}

#[tokio::test]
async fn execution_errors_name_the_node_and_cancel_the_rest() {
    let fake = start(Options::default()).await;
    fake.fail_next_job(
        "KSampler",
        "torch.OutOfMemoryError",
        "CUDA out of memory. Tried to allocate 2.00 GiB",
    );
    let err = client(&fake.url)
        .render(&request(), no_progress())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("node 3 (KSampler)"), "{text}");
    assert!(
        text.contains("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
        "{text}"
    );
    let ids = fake.accepted_ids();
    assert_eq!(fake.deleted(), vec![ids[1].clone()]);
}

#[tokio::test]
async fn user_text_arrives_inert() {
    let fake = start(Options::default()).await;
    let req = RenderRequest {
        prompt: "a (red:2) husky, embedding:evil".into(),
        count: 1,
        ..request()
    };
    client(&fake.url)
        .render(&req, no_progress())
        .await
        .expect("render");
    let encoded = fake.encoded();
    let positive = encoded.iter().find(|e| e.node == "6").expect("node 6");
    assert!(positive.embeddings.is_empty(), "{positive:?}");
    // The user's words keep weight 1 and their parentheses as text ...
    assert!(
        positive
            .segments
            .iter()
            .any(|(text, w)| text.starts_with("a (red:2) husky, embedding :evil") && *w == 1.0),
        "{positive:?}"
    );
    // ... while the vocabulary's phrases keep their weights.
    assert!(
        positive
            .segments
            .iter()
            .any(|(text, w)| text == "cool blue tones" && (*w - 1.4).abs() < 1e-9),
        "{positive:?}"
    );
}

#[tokio::test]
async fn no_arrives_as_negative_prompt() {
    let fake = start(Options::default()).await;
    let req = RenderRequest {
        negative: vec!["dogs".into(), "(text:3)".into()],
        count: 1,
        ..request()
    };
    client(&fake.url)
        .render(&req, no_progress())
        .await
        .expect("render");
    let negative = fake.accepted()[0]["prompt"]["7"]["inputs"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        negative.starts_with(r"blurry, dogs, \(text:3\)"),
        "{negative}"
    );
    let encoded = fake.encoded();
    let read = encoded.iter().find(|e| e.node == "7").expect("node 7");
    assert!(
        read.segments
            .iter()
            .any(|(text, w)| text.contains("dogs, (text:3)") && *w == 1.0),
        "{read:?}"
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
    // {{batch}} is no longer required: every prompt is one image.
    assert!(
        ComfyUi::new(
            &s,
            vocabulary(),
            r#"{"1": {"inputs": {"text": "{{prompt}}", "seed": "{{seed}}"}}}"#
        )
        .is_ok()
    );
}
