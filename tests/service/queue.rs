//! The generation queue between processes: two services on one database (two pools, two
//! memories), one queueing and waiting, another working; limits counted over both; and claims
//! whose lease ran out taken over, with only the newest claim able to end the job.

use std::sync::Arc;
use std::time::Duration;

use super::common::{SMALL, World};
use tastebud::domain::{Place, UserId};
use tastebud::render::backend::{Progress, ProgressFn};
use tastebud::service::{Error, Imagine, WorkerOptions};
use tastebud::store::{JobStatus, NewImage, Origin, Versions};
use tokio::sync::mpsc;

const ALICE: UserId = UserId(31);
const BOB: UserId = UserId(32);
const CAROL: UserId = UserId(33);

/// [`SMALL`] with more `[limits]` keys, for a bot process that leaves rendering to workers
/// elsewhere.
fn no_worker(limits: &str) -> String {
    let small = SMALL.replace("cooldown_secs = 0\n", "");
    format!("{small}\n{limits}\n[queue]\nworker = false\n")
}

/// A progress callback and the receiver of what it is told.
fn watched() -> (ProgressFn, mpsc::UnboundedReceiver<Progress>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let progress: ProgressFn = Arc::new(move |p: Progress| {
        let _ = tx.send(p);
    });
    (progress, rx)
}

/// Waits for the first report that a generation waits in the queue, and returns its place.
async fn queued(rx: &mut mpsc::UnboundedReceiver<Progress>) -> u32 {
    loop {
        let p = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a progress report in time")
            .expect("the generation is still waiting");
        if let Some(place) = p.queued {
            return place;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_queued_by_one_process_is_drawn_by_a_worker_in_another() {
    let w = World::new(&no_worker("cooldown_secs = 0")).await;
    let gpu = w.another_service(SMALL).await;
    let (progress, mut told) = watched();
    let bot = w.service.clone();
    let asked = tokio::spawn(async move {
        bot.imagine(
            ALICE,
            Imagine::new("a red kite --seed 3", Place::Private),
            progress,
        )
        .await
    });
    // Nobody draws in the bot process: the generation waits, and is told so.
    assert_eq!(queued(&mut told).await, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!asked.is_finished());

    let options = WorkerOptions {
        name: "gpu-1".into(),
        versions: vec!["7".into()],
    };
    let worker = tokio::spawn(async move { gpu.work(options, std::future::pending()).await });
    let made = tokio::time::timeout(Duration::from_secs(60), asked)
        .await
        .expect("drawn in time")
        .unwrap()
        .expect("a generation");
    worker.abort();
    let job = w.store.job(made[0].job).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(job.worker.as_deref(), Some("gpu-1"));
    assert_eq!(job.attempts, 1);
    assert_eq!(made[0].images.len(), 4);
    assert_eq!(w.store.job_images(job.id).await.unwrap().len(), 4);
    // The grid was composed in the bot process from the files the worker stored.
    assert_eq!(
        made[0].grid,
        w.service.recent_generations(ALICE, 1).await.unwrap()[0].grid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_limits_count_the_jobs_of_every_process() {
    let limits = "jobs_per_user = 1\nrenders = 2\ncooldown_secs = 0";
    let w = World::new(&no_worker(limits)).await;
    let other = w.another_service(&no_worker(limits)).await;
    let wait = |service: &tastebud::service::Service, user: UserId| {
        let (progress, told) = watched();
        let service = service.clone();
        let task = tokio::spawn(async move {
            service
                .imagine(user, Imagine::new("a fox", Place::Private), progress)
                .await
        });
        (task, told)
    };
    let (alice, mut told) = wait(&w.service, ALICE);
    queued(&mut told).await;
    // Alice's second generation, asked through the other process, is over her limit.
    let second = other
        .imagine(
            ALICE,
            Imagine::new("a fox", Place::Private),
            Arc::new(|_| {}),
        )
        .await;
    assert!(matches!(second, Err(Error::TooManyJobs(1))), "{second:?}");
    let (bob, mut told) = wait(&other, BOB);
    assert_eq!(queued(&mut told).await, 2);
    // Two generations wait in all: a third is refused whichever process it reaches.
    let third = w
        .service
        .imagine(
            CAROL,
            Imagine::new("a fox", Place::Private),
            Arc::new(|_| {}),
        )
        .await;
    assert!(matches!(third, Err(Error::Busy(2))), "{third:?}");
    alice.abort();
    bob.abort();

    // The cooldown runs from a user's last generation, in whichever process it was asked.
    let cooling = "jobs_per_user = 5\ncooldown_secs = 60";
    let w = w.reopen(&no_worker(cooling)).await;
    let other = w.another_service(&no_worker(cooling)).await;
    let third = other
        .imagine(
            ALICE,
            Imagine::new("a fox", Place::Private),
            Arc::new(|_| {}),
        )
        .await;
    match third {
        Err(Error::Cooldown(seconds)) => assert!((50..=60).contains(&seconds), "{seconds}"),
        other => panic!("{other:?}"),
    }
    drop(w);
}

#[tokio::test]
async fn a_claim_whose_lease_ran_out_is_taken_over_and_only_the_newest_claim_ends_the_job() {
    let w = World::new(SMALL).await;
    let job = w.queued_job(ALICE, Place::Private, Some("token")).await;
    let first = w
        .store
        .claim_job(&Versions::Only(vec!["7".into()]), "dead", 1500)
        .await
        .unwrap()
        .expect("a job to claim");
    assert_eq!((first.job, first.attempt), (job, 1));
    // Held: it no longer waits, and nobody else may claim it.
    assert_eq!(w.store.job_with_place(job).await.unwrap().unwrap().1, None);
    assert!(
        w.store
            .claim_job(&Versions::Only(vec!["7".into()]), "x", 1)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // The lease ran out without renewal: the job waits again, and is claimed again.
    assert_eq!(
        w.store.job_with_place(job).await.unwrap().unwrap().1,
        Some(1)
    );
    let second = w.claim("alive").await;
    assert_eq!((second.job, second.attempt), (job, 2));
    assert!(
        w.store
            .claim_job(&Versions::Only(vec!["7".into()]), "third", 60_000)
            .await
            .unwrap()
            .is_none()
    );

    // The first worker wakes up: it can neither renew, report, complete nor fail the job.
    let image = |hash: &str| NewImage {
        hash: hash.repeat(64),
        prompt: "a lighthouse".into(),
        version: "7".into(),
        backend: "sketch".into(),
        model: String::new(),
        seed: 1,
        knobs: vec![],
        style: None,
        origin: Origin::Generated,
        owner: Some(ALICE),
        job: Some(job),
    };
    assert!(!w.store.renew_lease(&first, 60_000).await.unwrap());
    assert!(!w.store.report_progress(&first, "{}").await.unwrap());
    assert!(!w.store.complete_job(&first, &[image("a")]).await.unwrap());
    assert!(!w.store.fail_job(&first, "late", "late").await.unwrap());
    assert!(w.store.job_images(job).await.unwrap().is_empty());

    assert!(w.store.renew_lease(&second, 60_000).await.unwrap());
    assert!(
        w.store
            .complete_job(&second, &[image("b"), image("c")])
            .await
            .unwrap()
    );
    // Once: a second completion records nothing more.
    assert!(!w.store.complete_job(&second, &[image("d")]).await.unwrap());
    let done = w.store.job(job).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!((done.attempts, done.worker.as_deref()), (2, Some("alive")));
    assert_eq!(done.reply, None, "no token outlives its job");
    assert_eq!(w.store.job_images(job).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_worker_claims_only_the_versions_it_serves() {
    let w = World::new(SMALL).await;
    let job = w.queued_job(ALICE, Place::Private, None).await;
    let only = |v: &str| Versions::Only(vec![v.to_string()]);
    let but = |v: &[&str]| Versions::AllBut(v.iter().map(|s| s.to_string()).collect());
    for other in [only("6"), Versions::Only(vec![]), but(&["7"])] {
        let claimed = w.store.claim_job(&other, "w", 60_000).await.unwrap();
        assert_eq!(claimed, None, "{other:?}");
    }
    let claim = w.store.claim_job(&but(&[]), "w", 60_000).await.unwrap();
    assert_eq!(claim.map(|c| c.job), Some(job));
}
