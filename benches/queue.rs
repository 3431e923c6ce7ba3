//! The generation queue: how long a queued generation waits before a worker claims it, when a
//! worker is idle and waiting. Generations are asked for through `/imagine` (the service),
//! one every 40 ms; each is a 16-pixel grid of the built-in renderer, so that the worker is
//! idle again when the next one arrives. The wait is the job row's `claimed_at − created_at`
//! (milliseconds, the store's clock): the insert, its commit, the wake-up and the claim.
//!
//! Run: `cargo bench --profile dev --bench queue`: SQLite in a temp dir, one process whose
//! service is its own worker (the default setup), woken in memory. With
//! `BENCH_QUEUE_URL=postgres://…`: PostgreSQL, in a schema of its own that it drops at the
//! end, with two services as a bot process and a worker process have (their own connections
//! and memory; the bot draws nothing), the worker woken by `NOTIFY`.

use std::time::Duration;

use tastebud::config::Config;
use tastebud::domain::{Place, UserId};
use tastebud::service::{Imagine, Service, WorkerOptions};
use tastebud::store::Store;

/// Generations queued, one every [`EVERY`].
const JOBS: u64 = 300;
const EVERY: Duration = Duration::from_millis(40);

const CONFIG: &str = "
[render]
size = 16
[limits]
jobs_per_user = 1000
cooldown_secs = 0
renders = 1000
";

fn main() {
    // RUST_LOG=tastebud=debug shows the worker's claims and leases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // `cargo bench` passes criterion-style arguments; this bench has no options.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, schema) = match std::env::var("BENCH_QUEUE_URL") {
        Ok(server) if !server.is_empty() => {
            let schema = format!("bench_queue_{}", std::process::id());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create schema");
            let separator = if server.contains('?') { '&' } else { '?' };
            (
                format!("{server}{separator}options=-c%20search_path%3D{schema}"),
                Some((server, schema)),
            )
        }
        _ => (String::new(), None),
    };
    let open = |worker: bool| {
        let url = url.clone();
        let dir = dir.path().to_path_buf();
        async move {
            let config = Config::with_overrides(&format!("{CONFIG}\n[queue]\nworker = {worker}\n"))
                .expect("config");
            let store = Store::open_configured(&url, &dir).await.expect("open");
            let service = Service::new(store.clone(), config, &dir).expect("service");
            (store, service)
        }
    };
    let on_postgres = schema.is_some();
    let (store, bot) = open(!on_postgres).await;
    let working = if on_postgres {
        let (_, worker) = open(true).await;
        Some(tokio::spawn(async move {
            worker
                .work(WorkerOptions::all_versions(), std::future::pending())
                .await
        }))
    } else {
        bot.start_worker();
        None
    };
    eprintln!(
        "queueing {JOBS} generations, one every {} ms…",
        EVERY.as_millis()
    );
    let mut asked = Vec::new();
    for i in 0..JOBS {
        let bot = bot.clone();
        asked.push(tokio::spawn(async move {
            bot.imagine(
                UserId(1 + i % 50),
                Imagine::new(format!("a kite --seed {i} --s 0"), Place::Private),
                std::sync::Arc::new(|_| {}),
            )
            .await
        }));
        tokio::time::sleep(EVERY).await;
    }
    let mut waits = Vec::new();
    // Claims lost and taken again after the lease ran out: none, unless something is wrong
    // (a claim used before it committed lost 8 to 17 of 300 so on PostgreSQL).
    let mut reclaimed = 0;
    for generation in asked {
        let made = generation.await.expect("task").expect("generation");
        let job = store.job(made[0].job).await.expect("job").expect("a job");
        waits.push(job.claimed_at.expect("claimed") - job.created_at);
        reclaimed += usize::from(job.attempts > 1);
    }
    if let Some(worker) = working {
        worker.abort();
    }
    waits.sort();
    let at = |q: f64| waits[((waits.len() as f64 * q) as usize).min(waits.len() - 1)];
    eprintln!(
        "queued → claimed over {} generations ({}): p50 {} ms, p99 {} ms, max {} ms; \
         {reclaimed} claimed more than once",
        waits.len(),
        if schema.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        at(0.50),
        at(0.99),
        waits[waits.len() - 1]
    );
    if let Some((server, schema)) = schema {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
            .await
            .expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut conn)
            .await
            .expect("drop schema");
    }
}
