//! What only a database shared by several processes shows: two services, each with its own
//! connections and memory (as two processes have), on one PostgreSQL database; and the whole
//! product as several processes: bot processes by shard range on the fake Discord and render
//! workers on fake AUTOMATIC1111 servers, some of them killed on the way. Run by
//! `scripts/test-postgres` (and so by `.ci/run`); plain `cargo test` lists them as ignored,
//! since SQLite is for one process.

mod common;
#[path = "fakes/a1111.rs"]
mod fake_a1111;
mod fake_discord;
#[path = "fakes/s3.rs"]
mod fake_s3;

use std::time::Duration;

use common::{SMALL, World};
use fake_a1111::FakeA1111;
use tastebud::config::Config;
use tastebud::domain::{Choice, Place, UserId};
use tastebud::service::{Imagine, Service};
use tastebud::store::JobStatus;

const NEEDS: &str = "needs PostgreSQL (TEST_POSTGRES_URL): scripts/test-postgres runs it";

const ALICE: UserId = UserId(21);

/// A world on the PostgreSQL server of the run, and a second service on the same database.
async fn two_processes() -> (World, Service) {
    let server = std::env::var(common::db::POSTGRES_VAR).expect(NEEDS);
    let w = World::on(common::db::TestDb::postgres(&server).await, SMALL).await;
    let second = Service::new(
        w.another_store().await,
        Config::with_overrides(SMALL).expect("config"),
        w.dir.path(),
    )
    .expect("second service");
    (w, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (TEST_POSTGRES_URL): scripts/test-postgres runs it"]
async fn votes_through_two_processes_at_once_mint_each_checkpoint_once() {
    let (w, second) = two_processes().await;
    let global = w.global(ALICE, "7").await;
    // Unlock at 6, then a code every 3: 15 votes reach the checkpoints 6, 9, 12 and 15.
    let mut pairs = Vec::new();
    for _ in 0..15 {
        pairs.push(w.pair(ALICE, &global).await);
    }
    let votes = pairs.iter().enumerate().map(|(i, pair)| {
        let service = if i % 2 == 0 { &w.service } else { &second };
        service.vote(ALICE, pair.id, Choice::Left)
    });
    for result in futures_util::future::join_all(votes).await {
        result.expect("vote");
    }
    let codes = w.store.codes_of(ALICE).await.expect("codes");
    // Each code covers the newest checkpoint its points reached; no checkpoint twice.
    let mut checkpoints: Vec<u32> = codes.iter().map(|c| 6 + (c.points - 6) / 3 * 3).collect();
    checkpoints.sort();
    let mut unique = checkpoints.clone();
    unique.dedup();
    assert_eq!(
        checkpoints, unique,
        "a checkpoint was minted twice: {codes:?}"
    );
    assert_eq!(checkpoints.last(), Some(&15), "{codes:?}");
    assert_eq!(
        w.store
            .points(&w.store.profile(&global).await.unwrap().unwrap())
            .await
            .unwrap(),
        15
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_tastebud");

/// A `tastebud worker` process for version 7 on the fake AUTOMATIC1111 at `server`, sharing the
/// world's database and image folder, with a 2-second lease; its log goes to `name.log`.
fn worker(w: &World, name: &str, server: &str) -> tokio::process::Child {
    let config = format!(
        "{SMALL}
{}
[queue]
lease_secs = 2
[render.versions.\"7\"]
backend = \"automatic1111\"
url = \"{server}\"
model = \"\"
size = 64
steps = 4
timeout_secs = 30
",
        w.db.config()
    );
    process(w, name, &config, &["worker", "--versions", "7"], None)
}

/// Waits until one of `workers` holds job 1 (the schema is new: the job is the first) and its
/// server is drawing it, then kills that worker with SIGKILL. Returns its index and name.
async fn kill_the_holder(
    w: &World,
    servers: &[FakeA1111],
    workers: &mut [tokio::process::Child],
) -> (usize, String) {
    let holder = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(job) = w.store.job(1).await.expect("job")
                && let Some(worker) = job.worker
                && servers.iter().any(|f| f.txt2img_calls() > 0)
            {
                return worker;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a worker claims the job");
    let killed = workers
        .iter()
        .position(|c| c.id() == Some(pid_of(&holder)))
        .expect("the holder is one of the workers");
    workers[killed].start_kill().expect("SIGKILL the worker");
    workers[killed].wait().await.expect("the worker is gone");
    (killed, holder)
}

/// The process id in a worker's name (`host:pid`).
fn pid_of(worker: &str) -> u32 {
    worker
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a worker name with a process id: {worker}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (TEST_POSTGRES_URL): scripts/test-postgres runs it"]
async fn a_worker_killed_mid_job_is_replaced_and_the_generation_delivered_once() {
    let server = std::env::var(common::db::POSTGRES_VAR).expect(NEEDS);
    // The bot process draws nothing itself.
    let w = World::on(
        common::db::TestDb::postgres(&server).await,
        &format!("{SMALL}\n[queue]\nworker = false\nlease_secs = 2\n"),
    )
    .await;
    let fakes = [FakeA1111::start().await, FakeA1111::start().await];
    for fake in &fakes {
        fake.set_render_time(Duration::from_secs(2));
    }
    let mut workers = vec![
        worker(&w, "worker-0", &fakes[0].url()),
        worker(&w, "worker-1", &fakes[1].url()),
    ];
    let bot = w.service.clone();
    let asked = tokio::spawn(async move {
        bot.imagine(
            ALICE,
            Imagine::new("a red kite --seed 5", Place::Private),
            std::sync::Arc::new(|_| {}),
        )
        .await
    });

    let (killed, holder) = kill_the_holder(&w, &fakes, &mut workers).await;

    let made = tokio::time::timeout(Duration::from_secs(90), asked)
        .await
        .expect("the generation completes on the other worker")
        .expect("task")
        .expect("a generation");
    assert_eq!(made.len(), 1);
    let job = w.store.job(made[0].job).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(job.attempts, 2, "claimed once by each worker: {job:?}");
    let survivor = job.worker.clone().expect("a worker");
    assert_ne!(pid_of(&survivor), pid_of(&holder));
    assert_eq!(workers[1 - killed].id(), Some(pid_of(&survivor)), "{job:?}");
    // Delivered once: one generation of four pictures, recorded once.
    assert_eq!(w.store.job_images(job.id).await.unwrap().len(), 4);
    assert!(fakes[1 - killed].txt2img_calls() >= 1);
    for mut child in workers {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// Two servers whose interactions reach shard 0 and shard 1 of 2 (`(guild >> 22) % 2`).
const GUILDS: [(u64, u64); 2] = [(2 << 22, 700_001), (3 << 22, 700_002)];

/// Configuration shared by every process of the end-to-end test: the database, the image
/// files in the fake S3's bucket, quick unlocking, one generation per user, version 6 on
/// AUTOMATIC1111 at `server` (version 7, which `/rank` uses, stays on the built-in renderer),
/// and a 2-second lease.
fn shared_config(w: &World, server: &str, worker: bool) -> String {
    format!(
        "{}
{}
jobs_per_user = 1
[images]
url = \"s3://{}/e2e\"
[queue]
worker = {worker}
lease_secs = 2
[render.versions.\"6\"]
backend = \"automatic1111\"
url = \"{server}\"
model = \"\"
size = 64
steps = 4
timeout_secs = 30
",
        w.db.config(),
        common::QUICK,
        fake_s3::BUCKET,
    )
}

/// Starts `tastebud` with `args` and the configuration `config` (written to `name.toml`),
/// logging to `name.log` in the world's folder; killed when dropped. With `s3`, as on a
/// machine of its own: a data directory of its own, and the fake S3's address and keys in its
/// environment (for `images.url`); without, the world's data directory.
fn process(
    w: &World,
    name: &str,
    config: &str,
    args: &[&str],
    s3: Option<&fake_s3::FakeS3>,
) -> tokio::process::Child {
    let file = w.dir.path().join(format!("{name}.toml"));
    std::fs::write(&file, config).expect("write a configuration");
    let log = std::fs::File::create(w.dir.path().join(format!("{name}.log"))).expect("log file");
    let data_dir = match s3 {
        Some(_) => w.dir.path().join(name),
        None => w.dir.path().to_path_buf(),
    };
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(args)
        .env("DISCORD_TOKEN", fake_discord::TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("TASTEBUD_") || key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    if let Some(s3) = s3 {
        cmd.envs(s3.settings(fake_s3::SECRET_KEY));
    }
    cmd.spawn().expect("start tastebud")
}

/// A bot process running `shards` on `fake`, with the image files on `s3`.
fn bot(
    w: &World,
    fake: &fake_discord::FakeDiscord,
    s3: &fake_s3::FakeS3,
    name: &str,
    shards: &str,
) -> tokio::process::Child {
    let config = format!(
        "{}\n[discord]\nrest_proxy = {:?}\n",
        shared_config(w, "http://127.0.0.1:9", false),
        fake.base
    );
    process(w, name, &config, &["run", "--shards", shards], Some(s3))
}

/// The pair message a `/rank` or a click showed, if the interaction was answered within 10
/// seconds: the callback's data (or the edit completing a deferred one).
async fn shown(fake: &fake_discord::FakeDiscord, token: &str) -> Option<serde_json::Value> {
    let needle = format!("/{token}/callback");
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let requests = fake.requests().await;
            if let Some(r) = requests
                .iter()
                .find(|r| r.path.ends_with(&needle) && r.ok())
            {
                return r.json.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .ok()?;
    match answered["type"].as_u64() {
        Some(7) => Some(answered["data"].clone()),
        Some(5 | 6) => {
            let edit = tokio::time::timeout(
                Duration::from_secs(20),
                fake.edit(token, |r| !r.files.is_empty()),
            )
            .await
            .ok()?;
            Some(edit.json)
        }
        _ => None,
    }
}

/// Prints the logs of the test's processes if the test fails (the folder goes with it).
struct ShowLogsOnFailure(std::path::PathBuf);

impl Drop for ShowLogsOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut logs: Vec<_> = std::fs::read_dir(&self.0)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("==== {} (last 40 lines)", log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The custom id of button `label` in a message, and the pair id it votes on.
fn button(message: &serde_json::Value, label: &str) -> (String, i64) {
    for row in message["components"].as_array().into_iter().flatten() {
        for c in row["components"].as_array().into_iter().flatten() {
            if c["label"] == label {
                let id = c["custom_id"].as_str().unwrap_or("").to_string();
                let pair = id
                    .split(':')
                    .nth(3)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                return (id, pair);
            }
        }
    }
    panic!("no button {label:?} in {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (TEST_POSTGRES_URL): scripts/test-postgres runs it"]
async fn two_bot_processes_and_two_workers_survive_being_killed() {
    use fake_discord::{FakeDiscord, Place};
    use serde_json::json;
    let server = std::env::var(common::db::POSTGRES_VAR).expect(NEEDS);
    let w = World::on(common::db::TestDb::postgres(&server).await, common::QUICK).await;
    let _logs = ShowLogsOnFailure(w.dir.path().to_path_buf());
    let fake = FakeDiscord::start().await;
    let places = GUILDS.map(|(g, c)| Place::guild(g, c));
    let sd = [FakeA1111::start().await, FakeA1111::start().await];
    for s in &sd {
        s.set_render_time(Duration::from_secs(2));
    }
    // Every process as on a machine of its own: its own data directory, the pictures in S3.
    let s3 = fake_s3::FakeS3::start().await;
    let mut workers: Vec<_> = (0..2)
        .map(|k| {
            let config = shared_config(&w, &sd[k].url(), true);
            process(
                &w,
                &format!("worker-{k}"),
                &config,
                &["worker", "--versions", "6"],
                Some(&s3),
            )
        })
        .collect();
    let mut bots = vec![
        bot(&w, &fake, &s3, "bot-0", "0-0/2"),
        bot(&w, &fake, &s3, "bot-1", "1-1/2"),
    ];
    fake.wait_ready(2).await;

    // 1. A worker killed mid-job: the other finishes it, and it is delivered once.
    let options = |prompt: &str| json!([{"name": "prompt", "type": 3, "value": prompt}]);
    let token = fake
        .slash_from(
            &places[0],
            501,
            "imagine",
            options("a red kite --v 6 --seed 4"),
            None,
        )
        .await;
    assert_eq!(fake.shard_of(&token).await, Some([0, 2]));
    let (killed, _) = kill_the_holder(&w, &sd, &mut workers).await;
    fake.follow_up(&token, |r| !r.files.is_empty()).await;
    // Time for a second delivery, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered = fake
        .requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.path.ends_with(&format!("/{token}")))
        .filter(|r| r.ok() && !r.files.is_empty())
        .count();
    assert_eq!(delivered, 1, "the generation is posted once");
    let job = w.store.job(1).await.unwrap().unwrap();
    assert_eq!(
        (&job.status, job.attempts),
        (&JobStatus::Done, 2),
        "{job:?}"
    );
    workers[killed] = process(
        &w,
        "worker-again",
        &shared_config(&w, &sd[killed].url(), true),
        &["worker", "--versions", "6"],
        Some(&s3),
    );

    // 2. Per-user limits across processes: one generation at a time, asked on either shard.
    let first = fake
        .slash_from(&places[0], 502, "imagine", options("a boat --v 6"), None)
        .await;
    while w.store.job(2).await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = fake
        .slash_from(&places[1], 502, "imagine", options("a fox --v 6"), None)
        .await;
    assert_eq!(fake.shard_of(&second).await, Some([1, 2]));
    let refused = fake
        .follow_up(&second, |r| {
            r.json["content"]
                .as_str()
                .is_some_and(|c| c.contains("generations running"))
        })
        .await;
    assert_eq!(
        refused.json["flags"], 64,
        "told privately: {}",
        refused.json
    );
    fake.follow_up(&first, |r| !r.files.is_empty()).await;

    // 3. A vote storm from both shards; the process of shard 1 is SIGKILLed in the middle of
    // it and started again. Clicks that reach shard 1 meanwhile are lost, as on Discord.
    fake.lose_events_of_offline_shards().await;
    const CLICKS: usize = 10;
    let users: [(u64, usize); 4] = [(601, 0), (602, 0), (603, 1), (604, 1)];
    let shard_1_acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let storm = users.map(|(user, shard)| {
        let (fake, place, acks) = (fake.clone(), places[shard].clone(), shard_1_acks.clone());
        tokio::spawn(async move {
            // (pair, acknowledged) for every click sent.
            let mut clicks: Vec<(i64, bool)> = Vec::new();
            let token = fake.slash_from(&place, user, "rank", json!([]), None).await;
            let mut message = shown(&fake, &token).await.expect("a pair");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            while clicks.iter().filter(|(_, a)| *a).count() < CLICKS {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "user {user}: {clicks:?}"
                );
                let (id, pair) = button(&message, "1");
                let token = fake.click_from(&place, user, &id, None).await;
                match shown(&fake, &token).await {
                    Some(next) => {
                        clicks.push((pair, true));
                        message = next;
                        if shard == 1 {
                            acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    None => clicks.push((pair, false)),
                }
            }
            (user, clicks)
        })
    });
    // Once shard 1's users have a few votes acknowledged, its process dies mid-storm.
    while shard_1_acks.load(std::sync::atomic::Ordering::SeqCst) < 6 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bots[1].start_kill().expect("SIGKILL the bot");
    bots[1].wait().await.expect("gone");
    bots[1] = bot(&w, &fake, &s3, "bot-1-again", "1-1/2");
    let mut all = Vec::new();
    for user in storm {
        all.push(user.await.expect("a user's clicks"));
    }
    for (user, clicks) in &all {
        let lost = clicks.iter().filter(|(_, a)| !*a).count();
        eprintln!(
            "user {user}: {} clicks, {lost} not acknowledged",
            clicks.len()
        );
        let profile = w.global(UserId(*user), "7").await;
        let acked: Vec<i64> = clicks.iter().filter(|(_, a)| *a).map(|(p, _)| *p).collect();
        for pair in &acked {
            assert!(
                w.store.vote(*pair).await.unwrap().is_some(),
                "user {user}: an acknowledged vote on pair {pair} is not stored"
            );
        }
        // None twice: each stored vote is one point, and no pair was voted on twice.
        let points = w
            .store
            .points(&w.store.profile(&profile).await.unwrap().unwrap())
            .await
            .unwrap();
        let mut pairs: Vec<i64> = clicks.iter().map(|(p, _)| *p).collect();
        pairs.sort();
        pairs.dedup();
        let mut stored = 0;
        for pair in &pairs {
            stored += u32::from(w.store.vote(*pair).await.unwrap().is_some());
        }
        assert_eq!(points, stored, "user {user}: {clicks:?}");
        // Each checkpoint (3, then every 2) minted once.
        let codes = w.store.codes_of(UserId(*user)).await.unwrap();
        let mut checkpoints: Vec<u32> = codes.iter().map(|c| 3 + (c.points - 3) / 2 * 2).collect();
        checkpoints.sort();
        let mut unique = checkpoints.clone();
        unique.dedup();
        assert_eq!(
            checkpoints, unique,
            "user {user}: a checkpoint minted twice: {codes:?}"
        );
        assert_eq!(
            codes.len() as u32,
            1 + (points - 3) / 2,
            "user {user}: {codes:?}"
        );
    }
    // Every picture (the pool the bots drew, the generations the workers drew) is in the
    // bucket, where the other processes found it; no process kept one in its own folder.
    let keys = s3.keys();
    let mut pictures: Vec<String> = w
        .service
        .ranking_pool("7")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.image.hash)
        .collect();
    let mut id = 1;
    while let Some(job) = w.store.job(id).await.unwrap() {
        pictures.extend(
            w.store
                .job_images(job.id)
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.image.hash),
        );
        id += 1;
    }
    assert!(pictures.len() > 8, "{pictures:?}");
    for hash in &pictures {
        assert!(
            keys.contains(&format!("e2e/{hash}.png")),
            "{hash} not in {keys:?}"
        );
    }
    for entry in std::fs::read_dir(w.dir.path()).unwrap().flatten() {
        if entry.path().is_dir() {
            assert!(!entry.path().join("images").exists(), "{:?}", entry.path());
        }
    }
    fake.assert_no_violations().await;
    for mut child in workers.into_iter().chain(bots) {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}
