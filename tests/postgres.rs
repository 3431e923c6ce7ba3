//! What only a database shared by several processes shows: two services, each with its own
//! connections and memory (as two processes have), on one PostgreSQL database. Run by
//! `scripts/test-postgres` (and so by `.ci/run`); plain `cargo test` lists them as ignored,
//! since SQLite is for one process.

mod common;

use common::{SMALL, World};
use tastebud::config::Config;
use tastebud::domain::{Choice, UserId};
use tastebud::service::Service;

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
