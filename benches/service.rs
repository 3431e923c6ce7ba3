//! Vote → next pair ready, in-process, on a database of 10,000 users and 1,000,000 votes.
//!
//! Run: `cargo bench --bench service`. The first run builds the database (a few minutes) in
//! `target/bench-db/` and later runs reuse it. Besides criterion's mean, the bench prints the
//! p50/p99 of 500 timed rounds, since the goal is a tail latency (p99 ≤ 30 ms on 2 cores).
//! Each round answers the pending pair of one of the users (a random one each time) and gets
//! that user's next pair: the refit from the profile's votes, the active choice among the
//! pool's candidate pairs, and the composed pair PNG.
//!
//! With `BENCH_DATABASE_URL=postgres://…` the same rounds run on PostgreSQL: an empty database
//! there is filled once with a copy of the SQLite one (`Store::copy_into`, what
//! `tastebud migrate --to` does), so both engines answer the same data.
//!
//! A second benchmark reads the house style from scratch, as the service does once per version
//! after a start (later mints update it in memory): the latest code of every global profile of
//! the version (one per user of the database, 10,000, added on first use) and their mean.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tastebud::domain::{Choice, Code, UserId};
use tastebud::render::style::{SPACE, STYLE_DIM};
use tastebud::service::Service;
use tastebud::store::Store;
use tastebud::taste::codes::{blend, mint_code};

mod common;

use common::{USERS, VERSION, service, store};

fn bench_vote_to_next_pair(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let service = rt.block_on(service());
    let mut rng = StdRng::seed_from_u64(11);
    // One pending pair per user touched, answered on the next round for that user.
    let mut pending = std::collections::HashMap::new();
    let mut round = |rng: &mut StdRng| {
        let user = UserId(rng.random_range(1..=USERS));
        rt.block_on(async {
            if let Some(pair) = pending.remove(&user) {
                service.vote(user, pair, Choice::Left).await.expect("vote");
            }
            let next = service.next_pair(user, None).await.expect("next pair");
            pending.insert(user, next.pair.id);
        });
    };
    // Warm up, then the tail latency of one full round (vote + next pair).
    for _ in 0..20 {
        round(&mut rng);
    }
    let mut times: Vec<Duration> = (0..500)
        .map(|_| {
            let start = Instant::now();
            round(&mut rng);
            start.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    eprintln!(
        "vote → next pair over {} rounds: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    c.bench_function("vote then next pair, 10k users / 1M votes", |b| {
        b.iter(|| round(&mut rng))
    });
}

/// Gives every user's global profile a code, once.
async fn ensure_codes(service: &Service, store: &Store) {
    if !store
        .latest_global_codes(VERSION)
        .await
        .expect("codes")
        .is_empty()
    {
        return;
    }
    eprintln!("minting {USERS} global codes…");
    let mut rng = StdRng::seed_from_u64(13);
    for u in 1..=USERS {
        let global = service
            .global_profile(UserId(u), VERSION)
            .await
            .expect("user");
        let code = Code {
            code: mint_code(&mut rng),
            profile: global.profile.id.clone(),
            owner: UserId(u),
            version: VERSION.to_string(),
            space: SPACE.to_string(),
            vector: (0..STYLE_DIM)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
            points: 200,
            created_at: 0,
        };
        // A taken code string is simply skipped: one user fewer does not change the measure.
        let _ = store.insert_code(&code).await.expect("code");
    }
}

fn bench_house_style(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = rt.block_on(async {
        let service = service().await;
        let store = store().await;
        ensure_codes(&service, &store).await;
        store
    });
    let house = || {
        rt.block_on(async {
            let codes = store.latest_global_codes(VERSION).await.expect("codes");
            let parts: Vec<(&[f32], f64)> =
                codes.iter().map(|c| (c.vector.as_slice(), 1.0)).collect();
            (codes.len(), blend(&parts).expect("blend"))
        })
    };
    let (profiles, _) = house();
    eprintln!("house style over {profiles} global codes");
    c.bench_function("house style from 10k global codes", |b| b.iter(house));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench_vote_to_next_pair, bench_house_style
}
criterion_main!(benches);
