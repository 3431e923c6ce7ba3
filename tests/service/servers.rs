//! A version on a Stable Diffusion server, through the service: calibration and pool per model
//! at the version's size, a calibration that resumes after a failed render, and causes that reach
//! the operator while users get a sentence.

use std::time::Duration;

use super::common::World;
use super::fake_a1111::FakeA1111;
use tastebud::service::{CALIBRATION_RANDOM_SETTINGS, Error};

/// Version "7" on the fake AUTOMATIC1111 at `url` with `model`, pictures of 64².
fn on_server(url: &str, model: &str) -> String {
    format!(
        "
[ranking]
pool_prompts = 2
pool_styles = 3
[render.versions.\"7\"]
backend = \"automatic1111\"
url = \"{url}\"
model = \"{model}\"
size = 64
steps = 4
timeout_secs = 10
"
    )
}

/// Renders in a calibration of the built-in vocabulary's nine knobs.
const CALIBRATION_RENDERS: usize = 5 * (1 + 2 * 9 + CALIBRATION_RANDOM_SETTINGS);

#[tokio::test]
async fn a_calibration_that_fails_half_way_resumes_where_it_stopped() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_millis(5));
    let w = World::new(&on_server(&fake.url(), "dreamshaper_8.safetensors")).await;

    // The eleventh render fails on the server (out of memory).
    let armed = fake.clone();
    let fail_at_ten = move |done: usize, _total: usize| {
        if done == 10 {
            armed.fail_next_job("OutOfMemoryError", "CUDA out of memory");
        }
    };
    let err = w.service.calibrate("7", &fail_at_ten).await.unwrap_err();
    assert!(matches!(err, Error::Render(_)), "{err:?}");
    assert!(
        err.for_operator().contains("CUDA out of memory"),
        "the operator reads the server's own words: {}",
        err.for_operator()
    );
    assert_eq!(fake.txt2img_calls(), 11);
    assert!(
        w.store
            .load_calibration(
                "7",
                "automatic1111",
                "dreamshaper_8.safetensors",
                "style-v1"
            )
            .await
            .unwrap()
            .is_none()
    );

    // Run again: the ten renders that worked are not made again.
    let done = w.service.calibrate("7", &|_, _| {}).await.unwrap();
    assert_eq!(done.resumed, 10);
    assert_eq!(fake.txt2img_calls(), CALIBRATION_RENDERS + 1);
    assert_eq!(done.model, "dreamshaper_8.safetensors");
    assert!(
        w.store
            .load_calibration(
                "7",
                "automatic1111",
                "dreamshaper_8.safetensors",
                "style-v1"
            )
            .await
            .unwrap()
            .is_some()
    );
    // Every calibration render was made at the version's size, not a fixed 512².
    assert!(
        fake.bodies()
            .iter()
            .all(|b| b["width"] == 64 && b["height"] == 64)
    );
}

#[tokio::test]
async fn the_pool_and_the_calibration_are_kept_per_model() {
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_millis(5));
    let w = World::new(&on_server(&fake.url(), "dreamshaper_8.safetensors")).await;
    let added = w.service.build_pool("7", None, &|_, _| {}).await.unwrap();
    assert_eq!(added, 6);
    assert_eq!(
        w.store
            .pool_size("7", "dreamshaper_8.safetensors")
            .await
            .unwrap(),
        6
    );
    w.service.calibrate("7", &|_, _| {}).await.unwrap();

    // The operator switches version 7 to another model: its pool and calibration start afresh.
    // (No worker in this process: the pool job a user's /rank queues waits, and the operator
    // draws the pool.)
    let w = w
        .reopen(&format!(
            "{}\n[queue]\nworker = false\n",
            on_server(&fake.url(), "sd_xl_base_1.0.safetensors")
        ))
        .await;
    assert_eq!(
        w.store
            .pool_size("7", "sd_xl_base_1.0.safetensors")
            .await
            .unwrap(),
        0
    );
    let pair = w.service.next_pair(super::ALICE, None).await;
    assert!(
        matches!(pair, Err(Error::PoolBeingDrawn { .. })),
        "the old model's pool is not offered: {pair:?}"
    );
    let added = w.service.build_pool("7", None, &|_, _| {}).await.unwrap();
    assert_eq!(added, 6, "the new model gets a pool of its own");
    let models: Vec<String> = fake
        .bodies()
        .iter()
        .map(|b| b["override_settings"]["sd_model_checkpoint"].to_string())
        .collect();
    assert!(
        models.last().unwrap().contains("sd_xl_base_1.0"),
        "{models:?}"
    );
}

#[tokio::test]
async fn a_model_the_server_lacks_is_named_to_the_operator_and_nothing_is_rendered() {
    let fake = FakeA1111::start().await;
    let w = World::new(&on_server(&fake.url(), "juggernautXL_v9.safetensors")).await;
    let err = w
        .service
        .build_pool("7", None, &|_, _| {})
        .await
        .unwrap_err();
    let cause = err.for_operator();
    assert!(
        cause.contains("juggernautXL_v9.safetensors") && cause.contains("dreamshaper_8"),
        "the cause names the model asked for and the ones the server has: {cause}"
    );
    assert!(
        err.to_string().contains("not set up with the right model"),
        "a user reads a sentence, not the server's internals: {err}"
    );
    assert_eq!(fake.txt2img_calls(), 0);
}

#[tokio::test]
async fn a_generation_waiting_for_the_server_is_told_its_place_then_renders() {
    use std::sync::Mutex;
    use tastebud::domain::{Place, UserId};
    use tastebud::render::backend::{Progress, ProgressFn};
    use tastebud::service::Imagine;

    let fake = FakeA1111::start().await;
    // Long enough that the second request reaches the queue while the first is drawing, even
    // on a loaded machine.
    fake.set_render_time(Duration::from_millis(2000));
    let w = World::new(&on_server(&fake.url(), "dreamshaper_8.safetensors")).await;
    let recorder = || {
        let seen = std::sync::Arc::new(Mutex::new(Vec::<Progress>::new()));
        let sink = seen.clone();
        let f: ProgressFn = std::sync::Arc::new(move |p| sink.lock().unwrap().push(p));
        (f, seen)
    };
    let (first_progress, _) = recorder();
    let (second_progress, second_seen) = recorder();
    let first = {
        let service = w.service.clone();
        tokio::spawn(async move {
            service
                .imagine(
                    UserId(1),
                    Imagine::new("a lighthouse --v 7", Place::Private),
                    first_progress,
                )
                .await
        })
    };
    // The second user asks while the one server (one job at a time) draws the first grid.
    fake.wait_until("the first grid drawing", |f| f.current_task().is_some())
        .await;
    let second = w
        .service
        .imagine(
            UserId(2),
            Imagine::new("a fox --v 7", Place::Private),
            second_progress,
        )
        .await
        .expect("second");
    first.await.expect("task").expect("first");
    assert_eq!(second.len(), 1);
    let seen = second_seen.lock().unwrap().clone();
    let waited = seen.iter().position(|p| p.queued == Some(1));
    let started = seen.iter().rposition(|p| p.queued.is_none());
    assert!(
        waited.is_some() && started > waited,
        "the second user is told they are next, then it renders: {seen:?}"
    );
    assert_eq!(fake.jobs_rendered(), 2);
}

#[tokio::test]
async fn an_empty_pool_is_queued_once_drawn_by_a_worker_and_then_ranked() {
    use tastebud::domain::UserId;
    use tastebud::store::{JobStatus, POOL_USER};
    let fake = FakeA1111::start().await;
    fake.set_render_time(Duration::from_millis(5));
    let w = World::new(&on_server(&fake.url(), "dreamshaper_8.safetensors")).await;
    let (alice, bob) = (UserId(1), UserId(2));
    let first = w.service.next_pair(alice, None).await.unwrap_err();
    assert!(
        matches!(first, Error::PoolBeingDrawn { .. }),
        "the first user is told to come back: {first}"
    );
    // Asked again before it is complete: still drawing, by the same job.
    if let Err(again) = w.service.next_pair(bob, None).await {
        assert!(matches!(again, Error::PoolBeingDrawn { .. }), "{again}");
    }
    // The service's worker draws it; then pairs come from it.
    let pair = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match w.service.next_pair(alice, None).await {
                Ok(pair) => return pair,
                Err(Error::PoolBeingDrawn { .. }) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the pool is drawn");
    assert!(!pair.image.bytes.is_empty());
    assert_eq!(
        w.store
            .pool_size("7", "dreamshaper_8.safetensors")
            .await
            .unwrap(),
        2 * 3
    );
    assert_eq!(fake.jobs_rendered(), 2 * 3, "each pool picture drawn once");
    // One job, the pool's own: no user's limits were spent on it.
    let job = w.store.job(1).await.unwrap().expect("the pool job");
    assert_eq!((job.user, &job.status), (POOL_USER, &JobStatus::Done));
    assert!(w.store.job(2).await.unwrap().is_none(), "queued once");
}
