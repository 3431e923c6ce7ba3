//! `/rank` under load, end to end: the real bot against the project's fake Discord on loopback.
//!
//! Run: `cargo bench --bench discord`. Twenty users rank at once while four generations are
//! always in progress (four more users each start a new `/imagine` when their last one is
//! delivered). For every click the bench times click → next pair (from sending the click to
//! the fake receiving the redrawn pair message, whether in the click's own callback or in an
//! edit after a deferred one) and counts the bytes of the pair picture uploaded. It prints
//! p50/p95/max latency, bytes per click, and how many clicks were answered in the callback.
//! The fake enforces Discord's rules; a violation ends the bench with a panic.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fake_discord/mod.rs"]
mod fake_discord;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::World;
use fake_discord::{FakeDiscord, Request, TOKEN};
use serde_json::{Value, json};
use tastebud::discord::{self, Options};

const RANKERS: u64 = 20;
const CLICKS_EACH: usize = 15;
const IMAGINERS: u64 = 4;

const CONFIG: &str = "
[limits]
cooldown_secs = 0
";

/// The custom id of the button labelled `label` in a message.
fn button(message: &Value, label: &str) -> String {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|c| c["label"] == label)
        .and_then(|c| c["custom_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no button {label:?} in {message}"))
}

/// The message that answered interaction `token` (its callback, or the edit after a deferred
/// callback), and whether the callback carried it.
async fn answered(fake: &FakeDiscord, token: &str) -> (Request, bool) {
    let callback = fake.response(token).await;
    match callback.json["type"].as_u64() {
        Some(5 | 6) => (fake.edit(token, |r| !r.files.is_empty()).await, false),
        _ => {
            let mut message = callback.clone();
            message.json = callback.json["data"].clone();
            (message, true)
        }
    }
}

struct Click {
    latency: Duration,
    bytes: usize,
    in_callback: bool,
}

async fn rank(fake: FakeDiscord, user: u64) -> Vec<Click> {
    let token = fake.slash(user, "rank", json!([])).await;
    let (mut message, _) = answered(&fake, &token).await;
    let mut clicks = Vec::with_capacity(CLICKS_EACH);
    for k in 0..CLICKS_EACH {
        let choice = if k % 2 == 0 { "1" } else { "2" };
        let id = button(&message.json, choice);
        let start = Instant::now();
        let token = fake.click(user, &id, None).await;
        let (next, in_callback) = answered(&fake, &token).await;
        clicks.push(Click {
            latency: start.elapsed(),
            bytes: next.files.iter().map(|f| f.bytes.len()).sum(),
            in_callback,
        });
        message = next;
    }
    clicks
}

async fn imagine_until(fake: FakeDiscord, user: u64, done: Arc<AtomicBool>) -> usize {
    let mut delivered = 0;
    while !done.load(Ordering::Relaxed) {
        let prompt =
            json!([{"name": "prompt", "type": 3, "value": "a lighthouse on a cliff at dusk"}]);
        let token = fake.slash(user, "imagine", prompt).await;
        fake.follow_up(&token, |r| !r.files.is_empty()).await;
        delivered += 1;
    }
    delivered
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let world = World::new(CONFIG).await;
        let fake = FakeDiscord::start().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = Options {
            token: TOKEN.to_string(),
            guild_id: Some(fake_discord::GUILD_ID),
            shards: None,
            rest_proxy: Some(fake.base.clone()),
        };
        let bot = tokio::spawn(discord::run(world.service.clone(), options, async move {
            let _ = stopped.await;
        }));
        fake.wait_ready(1).await;
        // Draw the whole ranking pool before timing anything (the built-in renderer otherwise
        // draws it one prompt per /rank).
        world
            .service
            .build_pool("7", None, &|_, _| {})
            .await
            .expect("pool");

        let done = Arc::new(AtomicBool::new(false));
        let imaginers: Vec<_> = (0..IMAGINERS)
            .map(|k| tokio::spawn(imagine_until(fake.clone(), 1_000 + k, done.clone())))
            .collect();
        let started = Instant::now();
        let rankers: Vec<_> = (0..RANKERS)
            .map(|k| tokio::spawn(rank(fake.clone(), 100 + k)))
            .collect();
        let mut clicks = Vec::new();
        for r in rankers {
            clicks.extend(r.await.expect("ranker"));
        }
        let elapsed = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let mut generations = 0;
        for i in imaginers {
            generations += i.await.expect("imaginer");
        }
        fake.assert_no_violations().await;
        let _ = stop.send(());
        let _ = bot.await;

        let mut latencies: Vec<Duration> = clicks.iter().map(|c| c.latency).collect();
        latencies.sort();
        let bytes: Vec<usize> = clicks.iter().map(|c| c.bytes).collect();
        let mean_bytes = bytes.iter().sum::<usize>() as f64 / bytes.len() as f64;
        let in_callback = clicks.iter().filter(|c| c.in_callback).count();
        println!(
            "{} clicks by {RANKERS} users in {:.1} s, {generations} generations delivered meanwhile",
            clicks.len(),
            elapsed.as_secs_f64()
        );
        println!(
            "click → next pair: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.95).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
        println!(
            "bytes per click: mean {:.1} KB, max {:.1} KB; {in_callback} of {} answered in the click's callback",
            mean_bytes / 1e3,
            bytes.iter().max().copied().unwrap_or(0) as f64 / 1e3,
            clicks.len()
        );
    });
}
