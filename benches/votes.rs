//! Votes per second sustained by two processes together on one database, against one process
//! alone. A vote here is what a click on a `/rank` pair does: the vote stored and the voter's
//! next pair chosen and composed (`Service::vote` then `Service::next_pair`).
//!
//! Run: `cargo bench --profile dev --bench votes`: on the SQLite benchmark database (10,000
//! users, 1,000,000 votes, built on first use as for the `service` bench), or with
//! `BENCH_DATABASE_URL=postgres://…` on PostgreSQL. The bench starts itself again as each voting
//! process (`VOTES_PROCESS=k/n`); the processes vote for users of their own, as shard ranges do,
//! each keeping `VOTERS` users' clicks in flight at once, for [`SECONDS`] seconds.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tastebud::domain::{Choice, UserId};

mod common;

use common::USERS;

const SECONDS: u64 = 20;
/// Users clicking at once in each process.
const VOTERS: u64 = 4;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var("VOTES_PROCESS") {
        Ok(which) => {
            let (k, n) = which.split_once('/').expect("k/n");
            let (k, n): (u64, u64) = (k.parse().expect("k"), n.parse().expect("n"));
            let votes = rt.block_on(vote_for(k, n));
            println!("votes {votes}");
        }
        Err(_) => {
            // Builds the database (and the PostgreSQL copy) before anyone is timed.
            rt.block_on(async {
                common::service().await;
                common::store().await.close().await;
            });
            for processes in [1, 2] {
                let start = Instant::now();
                let children: Vec<_> = (0..processes)
                    .map(|k| {
                        std::process::Command::new(std::env::current_exe().expect("exe"))
                            .env("VOTES_PROCESS", format!("{k}/{processes}"))
                            .stdout(std::process::Stdio::piped())
                            .spawn()
                            .expect("start a voting process")
                    })
                    .collect();
                let counts: Vec<u64> = children
                    .into_iter()
                    .map(|child| {
                        let out = child.wait_with_output().expect("voting process");
                        assert!(out.status.success(), "a voting process failed");
                        String::from_utf8_lossy(&out.stdout)
                            .lines()
                            .find_map(|l| l.strip_prefix("votes "))
                            .and_then(|n| n.trim().parse().ok())
                            .expect("a count")
                    })
                    .collect();
                let total: u64 = counts.iter().sum();
                eprintln!(
                    "{processes} process(es), {VOTERS} users clicking in each, {SECONDS} s: \
                     {total} votes, {:.0} votes/s together (each: {counts:?}; wall {:.1} s)",
                    total as f64 / SECONDS as f64,
                    start.elapsed().as_secs_f64()
                );
            }
        }
    }
}

/// Process `k` of `n`: votes for users of its own until [`SECONDS`]
/// have passed; returns how many votes it stored.
async fn vote_for(k: u64, n: u64) -> u64 {
    let service = common::service().await;
    let until = Instant::now() + Duration::from_secs(SECONDS);
    let voters: Vec<_> = (0..VOTERS)
        .map(|v| {
            let service = service.clone();
            tokio::spawn(async move {
                // Users of this voter only: of this process (as a shard range holds its
                // guilds' users), and one click of a user at a time.
                let (slot, slots) = (k * VOTERS + v, n * VOTERS);
                let mut rng = StdRng::seed_from_u64(slot);
                let mut votes = 0;
                while Instant::now() < until {
                    let user = UserId(rng.random_range(0..USERS / slots) * slots + slot + 1);
                    let pair = service.next_pair(user, None).await.expect("next pair");
                    let choice = if rng.random_bool(0.5) {
                        Choice::Left
                    } else {
                        Choice::Right
                    };
                    service
                        .vote(user, pair.pair.id, choice)
                        .await
                        .expect("vote");
                    votes += 1;
                }
                votes
            })
        })
        .collect();
    let mut total = 0;
    for voter in voters {
        total += voter.await.expect("voter");
    }
    total
}
