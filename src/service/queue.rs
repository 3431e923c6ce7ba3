//! The job queue's two ends. A generation is queued with everything a worker needs to draw it
//! ([`Work`], resolved when it was asked for) and waited for by the process that delivers it
//! ([`Service::wait_for`]); a version's ranking pool is queued as a pool job nobody waits for
//! ([`Task::Pool`]). A worker ([`Service::work`]) claims queued jobs of the versions it
//! serves, draws them with its own servers while renewing its lease, and stores the pictures
//! with the job's completion (a pool's as it draws them). `tastebud worker` is a worker; so is every process
//! with `queue.worker = true`, in the background of its service: one code path either way.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use super::{Error, Result, Service};
use crate::render::backend::{Backend, Progress, ProgressFn, RenderRequest};
use crate::render::steering::personalize::{Steering, render_personalized};
use crate::render::style::SPACE;
use crate::store::{Claim, Job, JobStatus, NewImage, Origin, Versions};
use crate::taste::standardize::Standardizer;
use crate::taste::steer::Calibration;

/// What a job asks a worker to do (the `work` of its row).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Task {
    /// Draw the ranking pool of this version until it is complete (it resumes where an
    /// earlier build stopped). Written as `{"pool_of": version}`.
    Pool { pool_of: String },
    /// A generation, written as its [`Work`].
    Generation(Box<Work>),
}

/// What a worker is given: the render, and how to steer it, as resolved when it was asked for.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Work {
    /// Canonical, with codes in place of profile IDs (the images are recorded with it).
    pub prompt_run: String,
    pub request: RenderRequest,
    pub steering: Option<SteeringPlan>,
}

/// A taste ready to steer with ([`Steering`], owned).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SteeringPlan {
    /// Per standardized style axis.
    pub taste: Vec<f32>,
    pub stylize: u32,
    pub calibration: Calibration,
    pub standardizer: Standardizer,
    pub candidates: usize,
    pub reach: f32,
}

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its name in the queue (shown as the holder of the jobs it renders).
    pub name: String,
    /// The versions it renders; empty: every version.
    pub versions: Vec<String>,
}

impl WorkerOptions {
    /// A worker for every version, named after this machine and process.
    pub fn all_versions() -> WorkerOptions {
        WorkerOptions {
            name: process_name(),
            versions: Vec::new(),
        }
    }
}

/// This process, as workers and owners of jobs are named: host name and process id.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Claims of one job after which it is failed instead of tried again: the job its workers
/// keep dying on.
const MAX_ATTEMPTS: i64 = 3;
/// How often a worker or a waiter looks at the queue when nothing woke it (a lease that ran
/// out wakes nobody; notices can be lost).
const POLL: Duration = Duration::from_secs(1);
/// The least time between two progress reports of one job written to the database.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The service's own background worker (`queue.worker = true`), started on first need and
/// told to stop when the last handle on the service is dropped (its stop signal's sender goes
/// with it). Told, not aborted: a worker cut off in the middle of a claim would leave the
/// claim's transaction open on a pooled connection, holding the job's row.
#[derive(Debug, Default)]
pub(super) struct BackgroundWorker {
    task: Mutex<
        Option<(
            tokio::task::JoinHandle<()>,
            tokio::sync::oneshot::Sender<()>,
        )>,
    >,
}

impl Service {
    /// Starts this service's background worker when `queue.worker` is set and it is not
    /// running yet. It stops when every handle on the service has been dropped.
    pub fn start_worker(&self) {
        if !self.config.queue.worker {
            return;
        }
        let mut task = self
            .worker
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if task.as_ref().is_some_and(|(t, _)| !t.is_finished()) {
            return;
        }
        // The worker's own handle does not keep the background worker alive.
        let worker = Service {
            worker: Arc::default(),
            ..self.clone()
        };
        let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            // Sent or dropped: either way, stop.
            let _ = stop.await;
        };
        let handle = tokio::spawn(async move {
            if let Err(e) = worker.work(WorkerOptions::all_versions(), stop).await {
                tracing::error!(error = %e.for_operator(), "the background worker stopped");
            }
        });
        *task = Some((handle, stop_tx));
    }

    /// Works the queue until `stop` completes: claims jobs of the versions in `options` while
    /// their servers have room, renders each with a lease it renews, and completes or fails
    /// it. Jobs still rendering when it stops are abandoned, to be claimed again once their
    /// leases run out.
    pub async fn work(&self, options: WorkerOptions, stop: impl Future<Output = ()>) -> Result<()> {
        for version in &options.versions {
            let known = self.config.personalization.versions.contains(version)
                || self.config.render.versions.contains_key(version);
            if !known {
                return Err(Error::UnknownVersion {
                    version: version.clone(),
                    known: self.config.personalization.versions.join(", "),
                });
            }
        }
        // Room per version: as many jobs as its servers take at once.
        let mut room: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let freed = Arc::new(Notify::new());
        let mut running = JoinSet::new();
        let mut queued = self.store.queued_jobs();
        let lease = self.lease_ms();
        tracing::info!(worker = %options.name, versions = ?options.versions, "working the job queue");
        tokio::pin!(stop);
        loop {
            // Looked at before each claim (a busy queue never reaches the wait below), never
            // raced against one: a claim cut half-way would leave its transaction open.
            tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                () = std::future::ready(()) => {}
            }
            while running.try_join_next().is_some() {}
            queued.borrow_and_update();
            let full = |v: &String| room.get(v).is_some_and(|r| r.available_permits() == 0);
            let versions = if options.versions.is_empty() {
                Versions::AllBut(room.keys().filter(|v| full(v)).cloned().collect())
            } else {
                Versions::Only(
                    options
                        .versions
                        .iter()
                        .filter(|v| !full(v))
                        .cloned()
                        .collect(),
                )
            };
            let claimed = match self.store.claim_job(&versions, &options.name, lease).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a generation; trying again");
                    None
                }
            };
            if let Some(claim) = claimed {
                tracing::debug!(job = claim.job, attempt = claim.attempt, "claimed a job");
                let capacity = self.backends.get(&claim.version).capacity() as usize;
                let permit = room
                    .entry(claim.version.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(capacity)))
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| Error::Bug("claimed a job without room for it".into()))?;
                let (service, freed) = (self.clone(), freed.clone());
                running.spawn(async move {
                    service.render_job(claim).await;
                    drop(permit);
                    freed.notify_one();
                });
                continue;
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                _ = queued.changed() => {}
                () = freed.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// A claim's lease, in milliseconds.
    fn lease_ms(&self) -> i64 {
        (self.config.queue.lease_secs * 1000) as i64
    }

    /// Renders a claimed job and completes or fails it, unless the claim is lost meanwhile.
    /// The job's end is written by a task of its own, so that a worker stopped meanwhile does
    /// not cut its transaction half-way.
    async fn render_job(&self, claim: Claim) {
        let drawn = self.draw(&claim).await;
        let store = self.store.clone();
        let end = tokio::spawn(async move {
            let ended = match drawn {
                Ok(Some(images)) => store.complete_job(&claim, &images).await,
                Ok(None) => {
                    tracing::warn!(
                        job = claim.job,
                        "lost the claim on a job while rendering it"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = claim.job, error = %e.for_operator(), "a generation failed");
                    store
                        .fail_job(&claim, &e.for_operator(), &e.to_string())
                        .await
                }
            };
            match ended {
                Ok(true) => tracing::debug!(job = claim.job, "job ended"),
                Ok(false) => tracing::warn!(
                    job = claim.job,
                    "another worker holds a job this one rendered; its result is discarded"
                ),
                Err(e) => tracing::error!(job = claim.job, error = %e, "cannot record a job's end"),
            }
        });
        let _ = end.await;
    }

    /// Draws a claimed job's pictures and saves their files, reporting progress and renewing
    /// the lease meanwhile; `None` when the claim was lost (the job ended, or its lease ran out
    /// and another worker took it).
    async fn draw(&self, claim: &Claim) -> Result<Option<Vec<NewImage>>> {
        if claim.attempt > MAX_ATTEMPTS {
            return Err(Error::Bug(format!(
                "job {} was claimed {} times and its worker stopped each time",
                claim.job,
                claim.attempt - 1
            )));
        }
        let task: Task = serde_json::from_str(&claim.work)
            .map_err(|e| Error::Bug(format!("job {}: unreadable work: {e}", claim.job)))?;
        let backend = self.backends.get(&claim.version);
        let (report, reports) = tokio::sync::watch::channel(None::<Progress>);
        let progress: ProgressFn = Arc::new(move |p: Progress| {
            report.send_replace(Some(p));
        });
        let work = match task {
            Task::Pool { pool_of } => {
                let told = move |done: u64, total: u64| {
                    progress(Progress {
                        fraction: done as f32 / total.max(1) as f32,
                        note: format!("{done} of {total} pool pictures"),
                        queued: None,
                    })
                };
                let built = self
                    .under_claim(claim, reports, self.build_pool(&pool_of, None, &told))
                    .await;
                return match built {
                    None => Ok(None),
                    Some(built) => built.map(|_| Some(Vec::new())),
                };
            }
            Task::Generation(work) => *work,
        };
        let steering = work.steering.as_ref().map(|s| Steering {
            taste: &s.taste,
            stylize: s.stylize,
            calibration: &s.calibration,
            standardizer: &s.standardizer,
            candidates: s.candidates,
            reach: s.reach,
        });
        let render = render_personalized(&*backend, &work.request, steering, progress);
        let Some(rendered) = self.under_claim(claim, reports, render).await else {
            return Ok(None);
        };
        let images = rendered.map_err(Error::Render)?;
        let mut saved = Vec::with_capacity(images.len());
        for rendered in &images {
            saved.push(
                self.images
                    .save(rendered.image.clone())
                    .await
                    .map_err(Error::Render)?,
            );
        }
        Ok(Some(
            saved
                .into_iter()
                .zip(images)
                .enumerate()
                .map(|(i, (hash, rendered))| NewImage {
                    hash,
                    prompt: work.prompt_run.clone(),
                    version: claim.version.clone(),
                    backend: backend.name().to_string(),
                    model: backend.model().to_string(),
                    seed: work.request.seed + i as u64,
                    knobs: rendered.knobs,
                    style: Some((SPACE.to_string(), rendered.style.0.to_vec())),
                    origin: Origin::Generated,
                    owner: Some(claim.user),
                    job: Some(claim.job),
                })
                .collect(),
        ))
    }

    /// Runs `work` while keeping `claim` ([`Service::keep_claim`], passing on the latest of
    /// `reports`); `None` when the claim was lost first (the work is then dropped).
    async fn under_claim<T>(
        &self,
        claim: &Claim,
        reports: tokio::sync::watch::Receiver<Option<Progress>>,
        work: impl Future<Output = T>,
    ) -> Option<T> {
        let (done, done_rx) = tokio::sync::watch::channel(false);
        let (lost_tx, mut lost) = tokio::sync::watch::channel(false);
        let keeper =
            tokio::spawn(
                self.clone()
                    .keep_claim(claim.clone(), reports, done_rx, lost_tx),
            );
        let lost = async {
            while !*lost.borrow_and_update() {
                if lost.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let finished = tokio::select! {
            finished = work => Some(finished),
            () = lost => None,
        };
        done.send_replace(true);
        let _ = keeper.await;
        finished
    }

    /// Keeps `claim` while its job is drawn: renews the lease every third of its length and
    /// writes the render's latest progress (at most every [`PROGRESS_EVERY`]), until `done`
    /// is set; sets `lost` and returns when the claim is lost. A task of its own that looks at
    /// `done` only between queries: a query abandoned half-way can leave a PostgreSQL
    /// connection in the pool with its transaction still open, holding the job's row lock.
    async fn keep_claim(
        self,
        claim: Claim,
        mut reports: tokio::sync::watch::Receiver<Option<Progress>>,
        mut done: tokio::sync::watch::Receiver<bool>,
        lost: tokio::sync::watch::Sender<bool>,
    ) {
        let lease = self.lease_ms();
        let every = Duration::from_millis((lease / 3).max(1) as u64);
        let mut renew_at = tokio::time::Instant::now() + every;
        loop {
            let renew = tokio::select! {
                _ = done.changed() => return,
                () = tokio::time::sleep_until(renew_at) => true,
                () = tokio::time::sleep(PROGRESS_EVERY) => false,
            };
            let held = if renew {
                renew_at = tokio::time::Instant::now() + every;
                self.store.renew_lease(&claim, lease).await
            } else if reports.has_changed().unwrap_or(false) {
                let latest = reports.borrow_and_update().clone();
                match latest.and_then(|p| serde_json::to_string(&p).ok()) {
                    Some(text) => self.store.report_progress(&claim, &text).await,
                    None => Ok(true),
                }
            } else {
                Ok(true)
            };
            match held {
                Ok(true) => {}
                Ok(false) => {
                    lost.send_replace(true);
                    return;
                }
                // The database may come back before the lease runs out.
                Err(e) => tracing::warn!(job = claim.job, error = %e, "cannot keep a claim"),
            }
            if *done.borrow() {
                return;
            }
        }
    }

    /// Waits for job `id` to end, passing on its place in the queue while it waits and its
    /// worker's progress while it renders. Returns the job once done.
    pub(super) async fn wait_for(&self, id: i64, progress: &ProgressFn) -> Result<Job> {
        let mut changes = self.store.job_changes();
        let mut told: Option<Progress> = None;
        loop {
            let (job, place) = self
                .store
                .job_with_place(id)
                .await?
                .ok_or_else(|| Error::Bug(format!("queued job {id} is gone")))?;
            match &job.status {
                JobStatus::Done => return Ok(job),
                JobStatus::Failed(cause) => {
                    return Err(Error::JobFailed {
                        notice: job.notice.clone(),
                        cause: cause.clone(),
                    });
                }
                JobStatus::Running => {}
            }
            let now = match place {
                Some(place) => Some(Progress {
                    fraction: 0.0,
                    note: String::new(),
                    queued: Some(place),
                }),
                None => job
                    .progress
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok()),
            };
            if let Some(now) = now
                && told.as_ref() != Some(&now)
            {
                progress(now.clone());
                told = Some(now);
            }
            tokio::select! {
                () = changes.changed(id) => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}
