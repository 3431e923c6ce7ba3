//! AUTOMATIC1111 against the strict fake (`tests/fakes/a1111.rs`): what tastebud sends, the
//! model check, its own task's progress, timeouts that cancel only its own job, no second POST
//! after a proxy's 504, prompt escaping, error bodies, dropped connections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tastebud::config::{BackendKind, VersionBackend};
use tastebud::render::RenderError;
use tastebud::render::backend::automatic1111::Automatic1111;
use tastebud::render::backend::comfyui::ComfyUi;
use tastebud::render::backend::{Backend, Progress, ProgressFn};

use super::fake_a1111::{FakeA1111, Outcome, prompt_syntax, seed_of};
use super::{recorder, request, settings, vocabulary};

fn a1111_settings(url: &str) -> VersionBackend {
    settings(BackendKind::Automatic1111, url)
}

fn client_with(settings: &VersionBackend) -> Automatic1111 {
    Automatic1111::new(settings, vocabulary())
        .expect("client")
        .with_poll_interval(Duration::from_millis(40))
}

fn a1111_client(url: &str) -> Automatic1111 {
    client_with(&a1111_settings(url))
}

fn no_progress() -> ProgressFn {
    Arc::new(|_| {})
}

/// Progress reports with the instant each arrived.
type Timed = Arc<Mutex<Vec<(Instant, Progress)>>>;

fn timed_recorder() -> (ProgressFn, Timed) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let f: ProgressFn = Arc::new(move |p| sink.lock().expect("lock").push((Instant::now(), p)));
    (f, seen)
}

/// The task of tastebud's (only) job on the server, found by its prompt (`request()`'s).
fn our_task(fake: &FakeA1111) -> String {
    let jobs = fake.jobs();
    let ours: Vec<_> = jobs.iter().filter(|j| j.prompt.contains("husky")).collect();
    assert_eq!(ours.len(), 1, "{jobs:?}");
    ours[0].task.clone()
}

#[tokio::test]
async fn automatic1111_sends_the_documented_request_and_reads_the_images() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_millis(400));
    let client = a1111_client(&fake.url());
    let (progress, seen) = recorder();
    let images = client.render(&request(), progress).await.expect("render");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].dimensions(), (512, 384));
    assert_eq!((seed_of(&images[0]), seed_of(&images[1])), (42, 43));

    let body = fake.bodies()[0].clone();
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
    assert_eq!(body["tiling"], false);
    assert_eq!(
        body["override_settings"]["sd_model_checkpoint"],
        "dreamshaper_8.safetensors [879db523c3]"
    );
    assert_eq!(body["override_settings_restore_afterwards"], true);
    assert!(
        body["force_task_id"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(fake.jobs_rendered(), 1);

    // Progress of our job was reported while it rendered, then "done".
    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().any(|p| p.fraction > 0.0 && p.fraction < 1.0),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(|p| p.fraction), Some(1.0));

    let models = client.models().await.expect("models");
    assert_eq!(models.len(), 3);
    assert_eq!(models[1], "sd_xl_base_1.0.safetensors [31e35c80fc]");
}

#[tokio::test]
async fn a_silent_model_fallback_is_caught() {
    // The server ignores the override (as Forge did, or after the model was removed): the
    // job renders with the loaded model and only `info` says so.
    let fake = FakeA1111::start().await;
    fake.lock_model(true);
    let mut s = a1111_settings(&fake.url());
    s.model = "sd_xl_base_1.0.safetensors".into();
    let err = client_with(&s)
        .render(&request(), no_progress())
        .await
        .unwrap_err();
    match &err {
        RenderError::WrongModel { wanted, ran, .. } => {
            assert_eq!(wanted, "sd_xl_base_1.0.safetensors [31e35c80fc]");
            assert_eq!(ran, "dreamshaper_8 [879db523c3]");
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("sd_xl_base_1.0") && text.contains("dreamshaper_8"),
        "{text}"
    );
    assert_eq!(fake.txt2img_calls(), 1);
}

#[tokio::test]
async fn an_unknown_model_is_refused_before_any_render() {
    let fake = FakeA1111::start().await;
    let mut s = a1111_settings(&fake.url());
    // A typo, and a model in a folder named by its bare file name: neither is a name the
    // server's override lookup knows, so the server would silently render with another model.
    for wrong in ["dreamshaper_9.safetensors", "juggernautXL_v9.safetensors"] {
        s.model = wrong.into();
        let err = client_with(&s)
            .render(&request(), no_progress())
            .await
            .unwrap_err();
        match &err {
            RenderError::UnknownModel {
                model, available, ..
            } => {
                assert_eq!(model, wrong);
                assert_eq!(available.len(), 3, "{available:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("dreamshaper_8.safetensors [879db523c3]")
                && text.contains("sdxl/juggernautXL_v9.safetensors"),
            "{text}"
        );
    }
    assert_eq!(fake.txt2img_calls(), 0);

    // The names the server does know a model by are accepted, and the verified title is sent.
    for right in [
        "juggernautXL_v9",
        "sdxl/juggernautXL_v9.safetensors",
        "sdxl_juggernautXL_v9",
    ] {
        s.model = right.into();
        let client = client_with(&s);
        assert_eq!(
            client.verify().await.expect("verify"),
            "sdxl/juggernautXL_v9.safetensors [c9e3e68f89]"
        );
        client
            .render(&request(), no_progress())
            .await
            .expect("render");
    }
    assert_eq!(fake.jobs_rendered(), 3);
    assert!(
        fake.jobs()
            .iter()
            .all(|j| j.model == "juggernautXL_v9 [c9e3e68f89]")
    );
}

#[tokio::test]
async fn an_empty_model_means_the_one_the_server_has_loaded() {
    let fake = FakeA1111::start().await;
    fake.load_model(1);
    let mut s = a1111_settings(&fake.url());
    s.model = String::new();
    let client = client_with(&s);
    assert_eq!(
        client.verify().await.expect("verify"),
        "sd_xl_base_1.0.safetensors [31e35c80fc]"
    );
    client
        .render(&request(), no_progress())
        .await
        .expect("render");
    assert_eq!(fake.jobs()[0].model, "sd_xl_base_1.0 [31e35c80fc]");
}

#[tokio::test]
async fn waiting_behind_another_clients_long_job_neither_times_out_nor_interrupts_it() {
    let fake = FakeA1111::start().await;
    // 20 steps take 0.5 s: the other client's 80 steps take 2 s, ours 0.5 s.
    fake.set_render_time(Duration::from_millis(500));
    let other = fake.spawn_other_client("task(other)", "someone else's castle", 80);
    fake.wait_until("the other job runs", |f| {
        f.current_task().as_deref() == Some("task(other)")
    })
    .await;
    // timeout_secs = 1: shorter than the wait in the queue, longer than our job.
    let images = a1111_client(&fake.url())
        .render(&request(), no_progress())
        .await
        .expect("render after waiting in the queue");
    assert_eq!(images.len(), 2);
    assert_eq!(other.await.expect("other client"), 200);
    assert_eq!(fake.interrupts(), 0);
    assert_eq!(
        fake.job("task(other)").expect("other job").outcome,
        Outcome::Completed
    );
    assert_eq!(fake.jobs_rendered(), 2);
}

#[tokio::test]
async fn a_timeout_of_our_own_running_job_interrupts_exactly_ours() {
    let fake = FakeA1111::start().await;
    // Our 20 steps take 3 s; the timeout is 1 s.
    fake.set_render_time(Duration::from_secs(3));
    let client = a1111_client(&fake.url());
    let render = tokio::spawn(async move { client.render(&request(), no_progress()).await });
    fake.wait_until("our job runs", |f| f.current_task().is_some())
        .await;
    let ours = our_task(&fake);
    // Another client's job waits behind ours.
    let other = fake.spawn_other_client("task(other)", "someone else's castle", 4);
    fake.wait_until("the other job is queued", |f| {
        f.job("task(other)").is_some()
    })
    .await;

    let err = render.await.expect("join").unwrap_err();
    assert!(
        matches!(err, RenderError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("did not answer within 1 s"),
        "{err}"
    );
    assert_eq!(other.await.expect("other client"), 200);
    assert_eq!(fake.interrupts(), 1);
    assert_eq!(
        fake.job(&ours).expect("our job").outcome,
        Outcome::Interrupted
    );
    assert_eq!(
        fake.job("task(other)").expect("other job").outcome,
        Outcome::Completed
    );
}

#[tokio::test]
async fn a_proxy_504_after_acceptance_is_not_sent_again() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_secs(2));
    fake.set_proxy_timeout(Some(Duration::from_millis(300)));
    let mut s = a1111_settings(&fake.url());
    s.retries = 3;
    s.timeout_secs = 30;
    let err = client_with(&s)
        .render(&request(), no_progress())
        .await
        .unwrap_err();
    fake.wait_until_idle().await;
    // One request reached the server, and it ran one job (which tastebud, having given up
    // on it, cancelled rather than leaving the GPU to work for nobody).
    assert_eq!(fake.txt2img_calls(), 1);
    let jobs = fake.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].outcome, Outcome::Interrupted);
    match &err {
        RenderError::Server {
            status, message, ..
        } => {
            assert_eq!(*status, 504);
            assert!(message.contains("504 Gateway Time-out"), "{message}");
            assert!(message.contains("proxy"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn gets_are_retried_through_a_busy_proxy_but_posts_are_not() {
    let fake = FakeA1111::start().await;
    fake.fail_next_gets(503, 1);
    let client = a1111_client(&fake.url());
    // The model list (a GET) is asked again after the proxy's 503.
    client
        .render(&request(), no_progress())
        .await
        .expect("render");
    assert_eq!(fake.txt2img_calls(), 1);
}

#[tokio::test]
async fn progress_shows_our_task_only() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_millis(600));
    let other = fake.spawn_other_client("task(other)", "someone else's castle", 40);
    fake.wait_until("the other job runs", |f| {
        f.current_task().as_deref() == Some("task(other)")
    })
    .await;
    let (progress, seen) = timed_recorder();
    let mut s = a1111_settings(&fake.url());
    s.timeout_secs = 10;
    client_with(&s)
        .render(&request(), progress)
        .await
        .expect("render");
    assert_eq!(other.await.expect("other"), 200);
    let ours = fake.job(&our_task(&fake)).expect("our job");
    let started = ours.started_at.expect("started");
    let seen = seen.lock().expect("lock").clone();
    // While the other client's job ran, we said we were waiting, with no progress of theirs.
    let waiting: Vec<_> = seen.iter().filter(|(t, _)| *t < started).collect();
    assert!(!waiting.is_empty(), "{seen:?}");
    assert!(
        waiting
            .iter()
            .all(|(_, p)| p.fraction == 0.0 && p.note.contains("In queue")),
        "{waiting:?}"
    );
    assert!(
        seen.iter()
            .any(|(t, p)| *t >= started && p.fraction > 0.0 && p.fraction < 1.0),
        "{seen:?}"
    );
}

#[tokio::test]
async fn prompt_syntax_in_user_text_reaches_the_server_inert() {
    let fake = FakeA1111::start().await;
    let client = a1111_client(&fake.url());
    let mut r = request();
    r.prompt =
        "a fox <lora:x:1> (shiny:1.5) [a:b:0.5] [cat|dog] \\( AND BREAK #1 fan\nnight:1.2".into();
    r.negative = vec![
        "(ugly:2) <hypernet:h:1>".into(),
        "[text::0.3] #2 logo".into(),
    ];
    r.knobs.clear();
    client.render(&r, no_progress()).await.expect("render");
    let body = fake.bodies()[0].clone();
    let prompt = body["prompt"].as_str().expect("prompt");
    let negative = body["negative_prompt"].as_str().expect("negative");
    assert_eq!(prompt_syntax(prompt), Vec::<String>::new(), "{prompt}");
    assert_eq!(prompt_syntax(negative), Vec::<String>::new(), "{negative}");
    // The words are all still there.
    for word in [
        "fox", "lora", "shiny", "cat", "dog", "and", "break", "fan", "night",
    ] {
        assert!(prompt.contains(word), "{word} in {prompt}");
    }
    for word in ["ugly", "hypernet", "text", "logo"] {
        assert!(negative.contains(word), "{word} in {negative}");
    }

    // tastebud's own knob phrases keep their weights: they are the only syntax left.
    r.knobs = vec![0.5, 0.0, 0.0, -1.0];
    client.render(&r, no_progress()).await.expect("render");
    let body = fake.bodies()[1].clone();
    assert_eq!(
        prompt_syntax(body["prompt"].as_str().expect("prompt")),
        vec!["(vibrant saturated colors:0.70)", "(cool blue tones:1.40)"]
    );
}

#[tokio::test]
async fn no_and_tile_arrive_and_image_i_uses_seed_plus_i() {
    let fake = FakeA1111::start().await;
    let client = a1111_client(&fake.url());
    let mut r = request();
    r.knobs.clear();
    r.negative = vec!["text".into(), "watermarks".into()];
    r.tile = true;
    r.count = 3;
    r.seed = 1000;
    let images = client.render(&r, no_progress()).await.expect("render");
    let body = fake.bodies()[0].clone();
    assert_eq!(body["negative_prompt"], "blurry, text, watermarks");
    assert_eq!(body["tiling"], true);
    let seeds: Vec<u32> = images.iter().map(seed_of).collect();
    assert_eq!(seeds, vec![1000, 1001, 1002]);
}

#[tokio::test]
async fn automatic1111_error_bodies_are_shown() {
    let fake = FakeA1111::start().await;
    fake.fail_next_job(
        "OutOfMemoryError",
        "CUDA out of memory. Tried to allocate 2.00 GiB",
    );
    let err = a1111_client(&fake.url())
        .render(&request(), no_progress())
        .await
        .unwrap_err();
    match &err {
        RenderError::Server {
            status, message, ..
        } => {
            assert_eq!(*status, 500);
            assert!(message.contains("OutOfMemoryError"), "{message}");
            assert!(message.contains("CUDA out of memory"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fake.txt2img_calls(), 1);
    // The job is over: nothing to interrupt, although `/internal/progress` still calls it
    // active.
    assert_eq!(fake.interrupt_calls(), 0);
}

#[tokio::test]
async fn a_server_killed_mid_job_is_a_dropped_connection_and_comes_back() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_secs(5));
    let client = a1111_client(&fake.url());
    let c = client.clone();
    let render = tokio::spawn(async move { c.render(&request(), no_progress()).await });
    fake.wait_until("our job runs", |f| f.current_task().is_some())
        .await;
    fake.kill().await;
    let err = render.await.expect("join").unwrap_err();
    assert!(matches!(err, RenderError::Dropped { .. }), "{err:?}");
    assert!(err.server_failed());
    assert_eq!(fake.jobs()[0].outcome, Outcome::Killed);

    let err = client.render(&request(), no_progress()).await.unwrap_err();
    assert!(matches!(err, RenderError::Unreachable { .. }), "{err:?}");

    fake.restart().await;
    fake.set_render_time(Duration::from_millis(50));
    client
        .render(&request(), no_progress())
        .await
        .expect("render after restart");
    assert_eq!(fake.jobs_rendered(), 1);
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
        .render(&request(), no_progress())
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
    let err = comfy.render(&request(), no_progress()).await.unwrap_err();
    assert!(matches!(err, RenderError::Unreachable { .. }), "{err:?}");
}
