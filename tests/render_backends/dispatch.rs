//! Several servers of one version behind the dispatcher: three strict fake AUTOMATIC1111
//! servers (`tests/fakes/a1111.rs`), each rendering one job at a time as the real one does
//! (`modules/call_queue.py` `queue_lock`: a second job waits inside the server, so the
//! dispatcher must keep it in its own queue instead).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::RgbImage;
use tastebud::config::BackendKind;
use tastebud::render::RenderError;
use tastebud::render::backend::automatic1111::Automatic1111;
use tastebud::render::backend::dispatch::{DispatchOptions, Dispatcher, Health, ServerConfig};
use tastebud::render::backend::{AnyBackend, Backend, Progress, ProgressFn, RenderRequest};

use super::fake_a1111::{FakeA1111, Outcome, seed_of};
use super::{settings, vocabulary};

// The a1111 module includes the same file privately; declaring it once in
// `tests/render_backends.rs` would avoid the second copy (not this module's file to change).

/// Down after one failure, checked again after 200 ms: quick enough for tests.
const QUICK: DispatchOptions = DispatchOptions {
    failures_before_down: 1,
    retry_down_after: Duration::from_millis(200),
};

/// Three fake servers whose jobs take `render_time`.
async fn three_servers(render_time: Duration) -> Vec<FakeA1111> {
    let mut fakes = Vec::new();
    for _ in 0..3 {
        let fake = FakeA1111::start().await;
        fake.set_render_time(render_time);
        fakes.push(fake);
    }
    fakes
}

/// A dispatcher over `fakes`, each taking one job at a time.
fn dispatcher(fakes: &[FakeA1111], options: DispatchOptions) -> Arc<Dispatcher> {
    let servers = fakes
        .iter()
        .map(|fake| {
            let mut s = settings(BackendKind::Automatic1111, &fake.url());
            s.timeout_secs = 20;
            s.retries = 0;
            let client = Automatic1111::new(&s, vocabulary())
                .expect("client")
                .with_poll_interval(Duration::from_millis(50));
            ServerConfig {
                backend: AnyBackend::Automatic1111(client),
                url: fake.url(),
                concurrency: 1,
            }
        })
        .collect();
    Arc::new(
        Dispatcher::new("7", "dreamshaper_8.safetensors", servers, options).expect("dispatcher"),
    )
}

/// Job `n` of `owner`: its prompt names it (`job n end`), its seed is `1000 + n`.
fn job(owner: u64, n: u64) -> RenderRequest {
    RenderRequest {
        prompt: format!("a husky job {n} end"),
        seed: 1000 + n,
        width: 64,
        height: 64,
        count: 1,
        owner,
        ..RenderRequest::default()
    }
}

/// What one render was told, in order: `Some(place)` while it waited, `None` once it started
/// (progress of the server itself is left out).
#[derive(Clone, Default)]
struct Places(Arc<Mutex<Vec<Option<u32>>>>);

impl Places {
    fn sink(&self, starts: &Starts, n: u64) -> ProgressFn {
        let places = self.0.clone();
        let starts = starts.clone();
        Arc::new(move |p: Progress| {
            let mut places = places.lock().expect("lock");
            if places.last() == Some(&None) {
                return;
            }
            if p.queued.is_none() {
                starts.0.lock().expect("lock").push((n, Instant::now()));
            }
            places.push(p.queued);
        })
    }

    fn seen(&self) -> Vec<Option<u32>> {
        self.0.lock().expect("lock").clone()
    }

    /// Whether the render has entered the dispatcher (it is told its place or that it started).
    fn entered(&self) -> bool {
        !self.0.lock().expect("lock").is_empty()
    }
}

/// Job numbers in the order they started, with when.
#[derive(Clone, Default)]
struct Starts(Arc<Mutex<Vec<(u64, Instant)>>>);

impl Starts {
    fn order(&self) -> Vec<u64> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .map(|(n, _)| *n)
            .collect()
    }
}

type Handle = tokio::task::JoinHandle<Result<Vec<RgbImage>, RenderError>>;

/// Submits `job(owner, n)` and waits until it is in the dispatcher (queued or started), so
/// that submissions keep their order.
async fn submit(d: &Arc<Dispatcher>, owner: u64, n: u64, starts: &Starts) -> (Handle, Places) {
    let places = Places::default();
    let progress = places.sink(starts, n);
    let d2 = d.clone();
    let handle = tokio::spawn(async move { d2.render(&job(owner, n), progress).await });
    until("the render enters the queue", || places.entered()).await;
    (handle, places)
}

/// Waits (up to 30 s, so a bug hangs no one) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never got to: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Checks a finished render: one image, made with the job's own seed.
fn assert_rendered(result: Result<Vec<RgbImage>, RenderError>, n: u64) {
    let images = result.unwrap_or_else(|e| panic!("job {n} failed: {e}"));
    assert_eq!(images.len(), 1, "job {n}");
    assert_eq!(
        seed_of(&images[0]),
        1000 + n as u32,
        "job {n} got another job's image"
    );
}

/// Which server completed each job, by job number; panics if a job completed twice.
fn completed_by(fakes: &[FakeA1111], jobs: u64) -> Vec<Vec<usize>> {
    let mut by = vec![Vec::new(); jobs as usize];
    for (server, fake) in fakes.iter().enumerate() {
        for record in fake.jobs() {
            if record.outcome == Outcome::Completed {
                let n = (0..jobs)
                    .find(|n| record.prompt.contains(&format!("job {n} end")))
                    .unwrap_or_else(|| panic!("a job nobody asked for: {}", record.prompt));
                by[n as usize].push(server);
            }
        }
    }
    by
}

/// Whether `fake` ever held two jobs at once (one waiting in its own queue).
fn overlapped(fake: &FakeA1111) -> bool {
    let mut spans: Vec<(Instant, Instant)> = fake
        .jobs()
        .iter()
        .map(|j| (j.queued_at, j.ended_at.unwrap_or_else(Instant::now)))
        .collect();
    spans.sort();
    spans.windows(2).any(|w| w[1].0 < w[0].1)
}

#[tokio::test]
async fn jobs_spread_over_the_servers_and_none_waits_inside_a_server() {
    let fakes = three_servers(Duration::from_millis(150)).await;
    let d = dispatcher(&fakes, QUICK);
    let starts = Starts::default();
    let mut handles = Vec::new();
    for n in 0..9 {
        handles.push((n, submit(&d, n % 4, n, &starts).await.0));
    }
    for (n, h) in handles {
        assert_rendered(h.await.expect("task"), n);
    }
    let by = completed_by(&fakes, 9);
    assert!(
        by.iter().all(|servers| servers.len() == 1),
        "each job completed once: {by:?}"
    );
    for (i, fake) in fakes.iter().enumerate() {
        assert!(fake.jobs_rendered() >= 1, "server {i} got no job: {by:?}");
        assert!(
            !overlapped(fake),
            "server {i} was sent a job while busy: {:?}",
            fake.jobs()
        );
    }
    let status = d.status();
    assert!(
        status
            .servers
            .iter()
            .all(|s| s.health == Health::Up && s.running == 0),
        "{status}"
    );
    assert_eq!(status.waiting, 0);
}

#[tokio::test]
async fn a_server_killed_mid_job_loses_nothing_and_runs_nothing_twice() {
    let fakes = three_servers(Duration::from_millis(400)).await;
    let d = dispatcher(&fakes, QUICK);
    let starts = Starts::default();
    let mut handles = Vec::new();
    for n in 0..6 {
        handles.push((n, submit(&d, n, n, &starts).await.0));
    }
    until("every server renders", || {
        fakes.iter().all(|f| f.current_task().is_some())
    })
    .await;
    fakes[0].kill().await;
    for (n, h) in handles {
        assert_rendered(h.await.expect("task"), n);
    }
    let killed: Vec<_> = fakes[0]
        .jobs()
        .into_iter()
        .filter(|j| j.outcome == Outcome::Killed)
        .collect();
    assert_eq!(killed.len(), 1, "{killed:?}");
    let by = completed_by(&fakes, 6);
    assert!(
        by.iter().all(|servers| servers.len() == 1),
        "each job completed exactly once: {by:?}"
    );
    assert!(
        by.iter().all(|servers| servers[0] != 0),
        "the killed server finished nothing: {by:?}"
    );
    let status = d.status();
    let Health::Down { cause, .. } = &status.servers[0].health else {
        panic!("the killed server is down: {status}");
    };
    assert!(
        cause.contains(&fakes[0].url()),
        "the cause names the server: {cause}"
    );
}

#[tokio::test]
async fn a_server_down_from_the_start_comes_back_and_takes_jobs_again() {
    let fakes = three_servers(Duration::from_millis(100)).await;
    fakes[2].kill().await;
    let d = dispatcher(&fakes, QUICK);
    let starts = Starts::default();
    let (first, _) = submit(&d, 1, 0, &starts).await;
    assert_rendered(first.await.expect("task"), 0);
    let status = d.status();
    let Health::Down { cause, .. } = &status.servers[2].health else {
        panic!("a server that does not answer its check is down: {status}");
    };
    assert!(
        cause.contains("cannot reach") && cause.contains(&fakes[2].url()),
        "{cause}"
    );
    assert!(fakes[2].jobs().is_empty());

    fakes[2].restart().await;
    until("the server is back", || {
        d.status().servers[2].health == Health::Up
    })
    .await;
    let mut handles = Vec::new();
    for n in 1..7 {
        handles.push((n, submit(&d, n, n, &starts).await.0));
    }
    for (n, h) in handles {
        assert_rendered(h.await.expect("task"), n);
    }
    assert!(
        fakes[2].jobs_rendered() >= 1,
        "the server that came back got no job"
    );
    assert!(!overlapped(&fakes[2]));
}

#[tokio::test]
async fn when_every_server_is_down_the_error_names_each_and_why() {
    let fakes = three_servers(Duration::from_millis(50)).await;
    for fake in &fakes {
        fake.kill().await;
    }
    let d = dispatcher(&fakes, QUICK);
    let error = d.render(&job(1, 0), Arc::new(|_| {})).await.unwrap_err();
    let RenderError::NoServer(why) = &error else {
        panic!("{error:?}");
    };
    for fake in &fakes {
        assert!(
            why.contains(&format!(
                "{} is down (cannot reach the image server at {}",
                fake.url(),
                fake.url()
            )),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_light_user_is_not_starved_by_a_heavy_one() {
    let fakes = three_servers(Duration::from_millis(100)).await;
    let d = dispatcher(&fakes, QUICK);
    d.verify().await.expect("verify");
    let starts = Starts::default();
    let mut handles = Vec::new();
    let mut light = Vec::new();
    // The heavy user (owner 1) queues jobs 0–11 first, then the light one (owner 2) jobs 12 and 13.
    for n in 0..12 {
        handles.push((n, submit(&d, 1, n, &starts).await.0));
    }
    for n in 12..14 {
        let (handle, places) = submit(&d, 2, n, &starts).await;
        handles.push((n, handle));
        light.push(places);
    }
    // Three heavy jobs took the servers and nine wait; turns alternate from there: heavy 3,
    // light 12, heavy 4, light 13 (first come, first served would put them 10th and 11th).
    assert_eq!(light[0].seen(), vec![Some(2)]);
    assert_eq!(light[1].seen(), vec![Some(4)]);
    for (n, h) in handles {
        assert_rendered(h.await.expect("task"), n);
    }
    let order = starts.order();
    assert!(
        order[..7].contains(&12) && order[..7].contains(&13),
        "the light user's jobs started among the first seven: {order:?}"
    );
    assert_eq!(light[0].seen(), vec![Some(2), Some(1), None]);
}

#[tokio::test]
async fn a_waiting_render_is_told_its_place_and_a_dropped_one_leaves_the_queue() {
    let fakes = three_servers(Duration::from_millis(600)).await;
    let d = dispatcher(&fakes, QUICK);
    d.verify().await.expect("verify");
    let starts = Starts::default();
    let mut running = Vec::new();
    for n in 0..3 {
        running.push((n, submit(&d, n, n, &starts).await.0));
    }
    let (x, x_places) = submit(&d, 10, 3, &starts).await;
    let (y, _) = submit(&d, 11, 4, &starts).await;
    let (z, z_places) = submit(&d, 12, 5, &starts).await;
    assert_eq!(d.status().waiting, 3);
    y.abort();
    until("the dropped render left", || d.status().waiting == 2).await;
    for (n, h) in running {
        assert_rendered(h.await.expect("task"), n);
    }
    assert_rendered(x.await.expect("task"), 3);
    assert_rendered(z.await.expect("task"), 5);
    assert_eq!(x_places.seen(), vec![Some(1), None]);
    assert_eq!(z_places.seen(), vec![Some(3), Some(2), Some(1), None]);
    let by = completed_by(&fakes, 6);
    assert!(
        by[4].is_empty(),
        "the dropped render reached a server: {by:?}"
    );
    assert!(
        fakes
            .iter()
            .all(|f| f.jobs().iter().all(|j| !j.prompt.contains("job 4 end")))
    );
}
