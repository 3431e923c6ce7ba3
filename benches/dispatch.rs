//! The dispatcher under a burst: 3 fake AUTOMATIC1111 servers (one job at a time, 200 ms a
//! job) and 50 jobs submitted at once by 10 users — one heavy user with 23, nine light users
//! with 3 each. Prints the makespan against the ideal (50 × 0.2 s / 3 = 3.33 s) and the longest
//! wait (submission → start on a server) of the light users' jobs and of the heavy user's.
//!
//! Run with `cargo bench --bench dispatch` (it measures waiting on fake servers, not CPU work,
//! so the dev profile gives the same numbers: `cargo bench --profile dev --bench dispatch`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tastebud::config::{BackendKind, VersionBackend};
use tastebud::render::backend::automatic1111::Automatic1111;
use tastebud::render::backend::dispatch::{DispatchOptions, Dispatcher, ServerConfig};
use tastebud::render::backend::vocabulary::Vocabulary;
use tastebud::render::backend::{AnyBackend, Backend, Progress, ProgressFn, RenderRequest};

#[path = "../tests/fakes/a1111.rs"]
mod fake_a1111;

use fake_a1111::FakeA1111;

const SERVERS: usize = 3;
const JOB_TIME: Duration = Duration::from_millis(200);
const HEAVY_JOBS: u64 = 23;
const LIGHT_USERS: u64 = 9;
const LIGHT_JOBS: u64 = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// When a job was submitted and when it started on a server.
struct Timing {
    owner: u64,
    submitted: Instant,
    started: Arc<Mutex<Option<Instant>>>,
}

async fn run() {
    let vocabulary = Vocabulary::builtin().expect("vocabulary");
    let mut fakes = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..SERVERS {
        let fake = FakeA1111::start().await;
        fake.set_render_time(JOB_TIME);
        let settings = VersionBackend {
            backend: BackendKind::Automatic1111,
            url: fake.url(),
            model: "dreamshaper_8.safetensors".into(),
            timeout_secs: 60,
            steps: 20,
            ..VersionBackend::sketch()
        };
        servers.push(ServerConfig {
            backend: AnyBackend::Automatic1111(
                Automatic1111::new(&settings, vocabulary.clone()).expect("client"),
            ),
            url: fake.url(),
            concurrency: 1,
        });
        fakes.push(fake);
    }
    let dispatcher = Arc::new(
        Dispatcher::new(
            "7",
            "dreamshaper_8.safetensors",
            servers,
            DispatchOptions::default(),
        )
        .expect("dispatcher"),
    );

    // Owner 1 is the heavy user; owners 2–10 the light ones. All submitted at once, the heavy
    // user's first (the worst case for first come, first served).
    let mut owners = vec![1; HEAVY_JOBS as usize];
    for light in 0..LIGHT_USERS {
        owners.extend(std::iter::repeat_n(2 + light, LIGHT_JOBS as usize));
    }
    let begin = Instant::now();
    let mut timings = Vec::new();
    let mut handles = Vec::new();
    for (n, owner) in owners.into_iter().enumerate() {
        let started = Arc::new(Mutex::new(None));
        let mark = started.clone();
        let progress: ProgressFn = Arc::new(move |p: Progress| {
            let mut mark = mark.lock().expect("lock");
            if p.queued.is_none() && mark.is_none() {
                *mark = Some(Instant::now());
            }
        });
        let request = RenderRequest {
            prompt: format!("a husky, job {n}"),
            seed: n as u64,
            width: 512,
            height: 512,
            count: 1,
            owner,
            ..RenderRequest::default()
        };
        timings.push(Timing {
            owner,
            submitted: Instant::now(),
            started,
        });
        let d = dispatcher.clone();
        handles.push(tokio::spawn(
            async move { d.render(&request, progress).await },
        ));
    }
    let mut failed = 0;
    for h in handles {
        if h.await.expect("task").is_err() {
            failed += 1;
        }
    }
    let makespan = begin.elapsed();
    let ideal = JOB_TIME.as_secs_f64() * timings.len() as f64 / SERVERS as f64;

    let wait = |t: &Timing| {
        t.started
            .lock()
            .expect("lock")
            .map_or(Duration::MAX, |s| s - t.submitted)
    };
    let longest = |light: bool| {
        timings
            .iter()
            .filter(|t| (t.owner != 1) == light)
            .map(wait)
            .max()
            .unwrap_or_default()
    };
    let mean = |light: bool| {
        let waits: Vec<f64> = timings
            .iter()
            .filter(|t| (t.owner != 1) == light)
            .map(|t| wait(t).as_secs_f64())
            .collect();
        waits.iter().sum::<f64>() / waits.len().max(1) as f64
    };
    let per_server: Vec<usize> = fakes.iter().map(FakeA1111::jobs_rendered).collect();

    println!(
        "dispatch: {} jobs ({} heavy, {}×{} light) on {} servers of {} ms a job",
        timings.len(),
        HEAVY_JOBS,
        LIGHT_USERS,
        LIGHT_JOBS,
        SERVERS,
        JOB_TIME.as_millis()
    );
    println!(
        "  makespan {:.2} s (ideal {:.2} s, {:+.1}%), failed {failed}, jobs per server {per_server:?}",
        makespan.as_secs_f64(),
        ideal,
        (makespan.as_secs_f64() / ideal - 1.0) * 100.0
    );
    println!(
        "  longest wait: light users {:.2} s (mean {:.2} s), heavy user {:.2} s (mean {:.2} s)",
        longest(true).as_secs_f64(),
        mean(true),
        longest(false).as_secs_f64(),
        mean(false)
    );
    println!("{}", dispatcher.status());
}
