//! The benchmark database shared by the service benchmarks: 10,000 users with 100 votes each
//! on version 7's pool, built once as a SQLite file in `target/bench-db/`, and copied into the
//! PostgreSQL database `BENCH_DATABASE_URL` names when that is set and empty.
#![allow(dead_code)]

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tastebud::config::Config;
use tastebud::domain::{Choice, UserId};
use tastebud::service::Service;
use tastebud::store::Store;

pub const USERS: u64 = 10_000;
pub const VOTES_PER_USER: usize = 100;
pub const VERSION: &str = "7";

pub fn db_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-db")
}

/// Opens the benchmark database, building it on first use.
pub async fn service() -> Service {
    let dir = db_dir();
    build_sqlite(&dir).await;
    Service::new(store().await, Config::defaults().expect("config"), &dir).expect("service")
}

/// The store the benchmarks run on: the SQLite file, or the PostgreSQL database
/// `BENCH_DATABASE_URL` names, filled with a copy of the SQLite file when it is empty.
pub async fn store() -> Store {
    let dir = db_dir();
    match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let target = Store::connect(&url).await.expect("connect");
            let counts = target.table_counts().await.expect("counts");
            if counts.iter().all(|(_, rows)| *rows == 0) {
                let source = Store::open_in(&dir).await.expect("open");
                eprintln!("copying the database into {}…", target.place());
                source
                    .copy_into(&target, &|table, rows| eprintln!("  {table}: {rows} rows"))
                    .await
                    .expect("copy");
                source.close().await;
            }
            eprintln!("on PostgreSQL: {}", target.place());
            target
        }
        _ => Store::open_in(&dir).await.expect("open"),
    }
}

/// Builds the SQLite benchmark database in `dir` unless it is there.
pub async fn build_sqlite(dir: &std::path::Path) {
    let ready = dir.join("ready");
    let config = Config::defaults().expect("config");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(dir);
        let store = Store::open_in(dir).await.expect("open");
        let service = Service::new(store.clone(), config, dir).expect("service");
        eprintln!("building the pool…");
        service
            .build_pool(VERSION, None, &|_, _| {})
            .await
            .expect("pool");
        let pool = service.ranking_pool(VERSION).await.expect("pool images");
        let mut rng = StdRng::seed_from_u64(7);
        eprintln!("recording {} votes…", USERS as usize * VOTES_PER_USER);
        for u in 1..=USERS {
            let user = UserId(u);
            let global = service.global_profile(user, VERSION).await.expect("user");
            let votes: Vec<(i64, i64, Choice)> = (0..VOTES_PER_USER)
                .map(|_| {
                    let a = &pool[rng.random_range(0..pool.len())];
                    let b = &pool[rng.random_range(0..pool.len())];
                    let choice = if rng.random_bool(0.5) {
                        Choice::Left
                    } else {
                        Choice::Right
                    };
                    (a.id, b.id, choice)
                })
                .collect();
            store
                .import_votes(user, &global.profile.id, "bench", &votes)
                .await
                .expect("votes");
            if u % 1000 == 0 {
                eprintln!("  {u} users");
            }
        }
        store.close().await;
        std::fs::write(&ready, b"ok").expect("mark ready");
    }
}
