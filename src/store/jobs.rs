//! Generation jobs and the queue they wait in: a job is written with the work to do, claimed
//! by a worker for a lease that the worker renews while it renders, and completed (images
//! and all, in one transaction) or failed by the claim that still holds it.
//!
//! A worker that dies stops renewing; once its lease has run out the job is claimed again,
//! and its `attempts` count moves on, so that only the newest claim may finish it: a job is
//! completed at most once however many workers rendered it. PostgreSQL claims with
//! `FOR UPDATE SKIP LOCKED` and wakes waiting processes with `NOTIFY`; SQLite's single writer
//! makes the claim one atomic statement, and its processes are woken in memory (and by
//! polling, which every waiter does as well).

use std::sync::Arc;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::images::insert_image;
use super::{
    Engine, NewImage, Store, StoreError, now_ms, place_from_sql, place_to_sql, user_from_sql,
    user_to_sql,
};
use crate::domain::{Place, UserId};

/// The PostgreSQL channel on which every change of the queue is announced.
const CHANNEL: &str = "tastebud_jobs";

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Not finished: waiting for a worker, or being rendered ([`Job::lease_until`]).
    Running,
    Done,
    /// With the reason, for the operator.
    Failed(String),
}

/// The user that ranking-pool jobs belong to (no Discord user has id 0).
pub const POOL_USER: UserId = UserId(0);

/// A job to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob<'a> {
    pub user: UserId,
    /// As the user typed it.
    pub prompt: &'a str,
    /// Canonical, with codes in place of profile IDs.
    pub prompt_run: &'a str,
    pub version: &'a str,
    pub seed: u64,
    /// Where it was asked for.
    pub place: Place,
    /// What the frontend keeps with the job while it runs; cleared when it ends.
    pub reply: Option<&'a str>,
    /// What a worker is to do, opaque to the store.
    pub work: &'a str,
    /// The process that waits for the job and delivers it.
    pub owner: &'a str,
}

/// Limits a job is admitted under, counted over every process sharing the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// Unfinished jobs one user may have.
    pub per_user: u32,
    /// Milliseconds between the creation of a user's jobs.
    pub cooldown_ms: i64,
    /// Unfinished jobs of everyone together.
    pub total: u32,
}

/// Why a job was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user has this many unfinished jobs already.
    TooMany(u32),
    /// The user's cooldown runs this many more milliseconds.
    Cooldown(i64),
    /// Everyone's unfinished jobs are at the limit.
    Busy,
}

/// A generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub user: UserId,
    /// As the user typed it.
    pub prompt: String,
    /// Canonical, with codes in place of profile IDs, once known.
    pub prompt_run: Option<String>,
    pub version: String,
    pub seed: Option<u64>,
    pub status: JobStatus,
    /// Where it was asked for (jobs from before places were recorded are private).
    pub place: Place,
    /// The frontend's handle while the job runs; `None` once it has ended.
    pub reply: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// While a worker holds it: until when (Unix milliseconds).
    pub lease_until: Option<i64>,
    /// Claims so far.
    pub attempts: i64,
    /// The worker that claimed it last, and when (Unix milliseconds).
    pub worker: Option<String>,
    pub claimed_at: Option<i64>,
    /// The worker's latest progress report, as it wrote it.
    pub progress: Option<String>,
    /// Failed: what the user is told.
    pub notice: Option<String>,
}

/// The versions a worker claims jobs of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Versions {
    /// These only.
    Only(Vec<String>),
    /// Every version but these.
    AllBut(Vec<String>),
}

/// A job a worker holds: only this claim may renew, report on, complete or fail it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub job: i64,
    pub attempt: i64,
    pub user: UserId,
    pub version: String,
    /// What to do, as queued.
    pub work: String,
}

/// The queue's wake-up signals, shared by a store's clones: one that moves when a job is
/// queued (for workers), and the ids of jobs that changed (for the waiter of each), from this
/// process or (PostgreSQL) any other.
#[derive(Debug)]
pub(super) struct Signal {
    queued: tokio::sync::watch::Sender<u64>,
    changed: tokio::sync::broadcast::Sender<i64>,
    listening: std::sync::Once,
}

impl Default for Signal {
    fn default() -> Self {
        Signal {
            queued: tokio::sync::watch::Sender::new(0),
            changed: tokio::sync::broadcast::Sender::new(1024),
            listening: std::sync::Once::new(),
        }
    }
}

/// What changed in the queue.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// A job was queued.
    Queued,
    /// The job with this id was reported on or ended.
    Job(i64),
}

impl Change {
    /// As a PostgreSQL notice's payload.
    fn payload(self) -> String {
        match self {
            Change::Queued => "queued".into(),
            Change::Job(id) => id.to_string(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        match payload {
            "queued" => Some(Change::Queued),
            id => id.parse().ok().map(Change::Job),
        }
    }
}

impl Signal {
    fn tell(&self, change: Change) {
        match change {
            Change::Queued => self.queued.send_modify(|n| *n = n.wrapping_add(1)),
            // Nobody listening is fine.
            Change::Job(id) => drop(self.changed.send(id)),
        }
    }

    /// After notices may have been missed: everyone looks again.
    fn tell_all(&self) {
        self.queued.send_modify(|n| *n = n.wrapping_add(1));
        let _ = self.changed.send(-1);
    }
}

/// A receiver of the ids of jobs that changed ([`Store::job_changes`]).
pub struct JobChanges(tokio::sync::broadcast::Receiver<i64>);

impl JobChanges {
    /// Waits until job `id` may have changed (it did, or notices were missed meanwhile).
    pub async fn changed(&mut self, id: i64) {
        loop {
            match self.0.recv().await {
                Ok(changed) if changed == id || changed < 0 => return,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl Store {
    /// Queues a job and returns its id; with `admission`, only when the user and everyone are
    /// within its limits (checked and written in one exclusive transaction, so that processes
    /// sharing the database cannot both pass the same check).
    pub async fn queue_job(
        &self,
        job: &NewJob<'_>,
        admission: Option<&Admission>,
    ) -> Result<Result<i64, Refused>, StoreError> {
        let mut tx = self.exclusive("job queue").await?;
        let now = now_ms();
        if let Some(limits) = admission {
            let (mine, last): (i64, Option<i64>) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND status = 'running'),
                        (SELECT MAX(created_at) FROM jobs WHERE user_id = $1)",
            )
            .bind(user_to_sql(job.user))
            .fetch_one(&mut *tx)
            .await?;
            let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'running'")
                .fetch_one(&mut *tx)
                .await?;
            let left = last.map_or(0, |last| last + limits.cooldown_ms - now);
            let refused = if mine >= i64::from(limits.per_user) {
                Some(Refused::TooMany(mine as u32))
            } else if left > 0 {
                Some(Refused::Cooldown(left))
            } else if all >= i64::from(limits.total) {
                Some(Refused::Busy)
            } else {
                None
            };
            if let Some(refused) = refused {
                // Ended here and now: a dropped transaction's rollback waits for the
                // connection's next use, and the queue's lock would be held until then.
                tx.rollback().await?;
                return Ok(Err(refused));
            }
        }
        let id = self.insert_job(tx, job, now).await?;
        Ok(Ok(id))
    }

    /// Queues the job that draws `version`'s ranking pool, doing `work`, unless one is waiting
    /// or drawing already; returns its id either way. Pool jobs belong to [`POOL_USER`], not to
    /// whoever asked, so that they count against no user's limits, and no process waits for
    /// them (owner '').
    pub async fn queue_pool_job(&self, version: &str, work: &str) -> Result<i64, StoreError> {
        let mut tx = self.exclusive("job queue").await?;
        let now = now_ms();
        if let Some(id) = unfinished_pool_job(&mut tx, version).await? {
            tx.rollback().await?;
            return Ok(id);
        }
        sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_to_sql(POOL_USER))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let job = NewJob {
            user: POOL_USER,
            prompt: "(the ranking pool)",
            prompt_run: "",
            version,
            seed: 0,
            place: Place::Private,
            reply: None,
            work,
            owner: "",
        };
        self.insert_job(tx, &job, now).await
    }

    /// The pool job of `version` that waits or draws now, if any.
    pub async fn pool_job(&self, version: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        unfinished_pool_job(&mut conn, version).await
    }

    /// Inserts `job` as waiting for a worker and commits `tx`, telling waiting workers.
    async fn insert_job(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        job: &NewJob<'_>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs
                (user_id, prompt, prompt_run, version, seed, status, guild_id, reply, created_at,
                 work, owner)
             VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(user_to_sql(job.user))
        .bind(job.prompt)
        .bind(job.prompt_run)
        .bind(job.version)
        .bind(job.seed as i64)
        .bind(place_to_sql(job.place))
        .bind(job.reply)
        .bind(now)
        .bind(job.work)
        .bind(job.owner)
        .fetch_one(&mut *tx)
        .await?;
        self.announce(&mut tx, Change::Queued).await?;
        tx.commit().await?;
        self.signal.tell(Change::Queued);
        Ok(id)
    }

    /// Claims the oldest job of the versions `versions` admits that waits for a worker, or
    /// whose worker's lease ran out, for `lease_ms`; `None` when there is none.
    pub async fn claim_job(
        &self,
        versions: &Versions,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<Claim>, StoreError> {
        let (listed, filter) = match versions {
            Versions::Only(list) if list.is_empty() => return Ok(None),
            Versions::Only(list) => (list, "IN"),
            Versions::AllBut(list) => (list, "NOT IN"),
        };
        // `version NOT IN ('')` for an empty exception list: no version is named ''.
        let placeholders: Vec<String> = (0..listed.len().max(1))
            .map(|i| format!("${}", i + 4))
            .collect();
        let skip_locked = match self.engine {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            // One writer at a time: the statement is the claim.
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET lease_until = $1, worker = $2, attempts = attempts + 1, claimed_at = $3
             WHERE id = (SELECT id FROM jobs
                         WHERE status = 'running' AND work IS NOT NULL
                           AND (lease_until IS NULL OR lease_until < $3)
                           AND version {filter} ({})
                         ORDER BY id LIMIT 1 {skip_locked})
             RETURNING id, attempts, user_id, version, work",
            placeholders.join(", ")
        );
        let now = now_ms();
        // Only placeholders are formatted in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now + lease_ms)
            .bind(worker)
            .bind(now);
        if listed.is_empty() {
            query = query.bind("");
        }
        for version in listed {
            query = query.bind(version);
        }
        // Committed before the claim is used (see `insert_image`): a renewal on another
        // connection must see it.
        let mut tx = self.pool.begin().await?;
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.map(|row| {
            Ok(Claim {
                job: row.try_get("id")?,
                attempt: row.try_get("attempts")?,
                user: user_from_sql(row.try_get("user_id")?),
                version: row.try_get("version")?,
                work: row.try_get("work")?,
            })
        })
        .transpose()
    }

    /// Extends `claim`'s lease to `lease_ms` from now; `false` when the claim no longer
    /// holds the job (it ended, or another worker claimed it after the lease ran out).
    pub async fn renew_lease(&self, claim: &Claim, lease_ms: i64) -> Result<bool, StoreError> {
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_until = $1
             WHERE id = $2 AND attempts = $3 AND status = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(claim.job)
        .bind(claim.attempt)
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Records the worker's latest progress on `claim`'s job; `false` as for
    /// [`Store::renew_lease`].
    pub async fn report_progress(&self, claim: &Claim, progress: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let written = sqlx::query(
            "UPDATE jobs SET progress = $1 WHERE id = $2 AND attempts = $3 AND status = 'running'",
        )
        .bind(progress)
        .bind(claim.job)
        .bind(claim.attempt)
        .execute(&mut *tx)
        .await?;
        self.announce(&mut tx, Change::Job(claim.job)).await?;
        tx.commit().await?;
        self.signal.tell(Change::Job(claim.job));
        Ok(written.rows_affected() == 1)
    }

    /// Completes `claim`'s job with its `images`, recorded together; `false` (and nothing
    /// recorded) when the claim no longer holds the job.
    pub async fn complete_job(
        &self,
        claim: &Claim,
        images: &[NewImage],
    ) -> Result<bool, StoreError> {
        self.end_job(claim, None, images).await
    }

    /// Fails `claim`'s job with `error` for the operator and `notice` for the user; `false`
    /// when the claim no longer holds the job.
    pub async fn fail_job(
        &self,
        claim: &Claim,
        error: &str,
        notice: &str,
    ) -> Result<bool, StoreError> {
        self.end_job(claim, Some((error, notice)), &[]).await
    }

    async fn end_job(
        &self,
        claim: &Claim,
        failure: Option<(&str, &str)>,
        images: &[NewImage],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query(
            "UPDATE jobs SET status = $1, error = $2, notice = $3, finished_at = $4, reply = NULL,
                             lease_until = NULL
             WHERE id = $5 AND attempts = $6 AND status = 'running'",
        )
        .bind(if failure.is_some() { "failed" } else { "done" })
        .bind(failure.map(|f| f.0))
        .bind(failure.map(|f| f.1))
        .bind(now_ms())
        .bind(claim.job)
        .bind(claim.attempt)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() != 1 {
            return Ok(false);
        }
        for image in images {
            insert_image(&mut *tx, image).await?;
        }
        self.announce(&mut tx, Change::Job(claim.job)).await?;
        tx.commit().await?;
        self.signal.tell(Change::Job(claim.job));
        Ok(true)
    }

    /// Fails every unfinished job `owner` waits for, with `reason`, and forgets its reply
    /// handle (at start-up: the process that would have delivered them was restarted); returns
    /// those jobs as they were before, reply handles included, oldest first.
    pub async fn cancel_jobs_of(&self, owner: &str, reason: &str) -> Result<Vec<Job>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM jobs WHERE status = 'running' AND owner = $1 ORDER BY id")
                .bind(owner)
                .fetch_all(&self.pool)
                .await?;
        let mut failed = Vec::with_capacity(rows.len());
        for row in &rows {
            let job = job_from_row(row)?;
            let result = sqlx::query(
                "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2, reply = NULL,
                                 lease_until = NULL
                 WHERE id = $3 AND status = 'running'",
            )
            .bind(reason)
            .bind(now_ms())
            .bind(job.id)
            .execute(&self.pool)
            .await?;
            // A job that ended meanwhile was not interrupted.
            if result.rows_affected() == 1 {
                self.signal.tell(Change::Job(job.id));
                failed.push(job);
            }
        }
        Ok(failed)
    }

    /// The job with this id, and while it waits for a worker its place in its version's
    /// queue (1: next), counting the jobs before it that wait too; `None` for the place once a
    /// worker holds the job or it has ended. One query: what a waiter reads each time it looks.
    pub async fn job_with_place(&self, id: i64) -> Result<Option<(Job, Option<u32>)>, StoreError> {
        let row = sqlx::query(
            "SELECT j.*,
                    CASE WHEN j.status = 'running' AND (j.lease_until IS NULL OR j.lease_until < $2)
                    THEN (SELECT COUNT(*) FROM jobs o
                          WHERE o.version = j.version AND o.status = 'running'
                            AND o.work IS NOT NULL AND o.id <= j.id
                            AND (o.lease_until IS NULL OR o.lease_until < $2))
                    END AS place
             FROM jobs j WHERE j.id = $1",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let place: Option<i64> = row.try_get("place")?;
            Ok((job_from_row(&row)?, place.map(|p| p.max(1) as u32)))
        })
        .transpose()
    }

    /// A receiver that sees a change whenever a job may have been queued, by this process or
    /// (PostgreSQL) any other: what wakes a waiting worker. Notices can be lost (a dropped
    /// connection), so workers poll as well.
    pub fn queued_jobs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.listen_for_notices();
        self.signal.queued.subscribe()
    }

    /// The ids of jobs reported on or ended from now on, by any process: what wakes the
    /// process waiting for one. Waiters poll as well.
    pub fn job_changes(&self) -> JobChanges {
        self.listen_for_notices();
        JobChanges(self.signal.changed.subscribe())
    }

    /// PostgreSQL: starts listening for other processes' notices, once per store.
    fn listen_for_notices(&self) {
        if let Some(options) = &self.listen {
            let signal = self.signal.clone();
            let options = options.0.clone();
            self.signal
                .listening
                .call_once(|| drop(tokio::spawn(listen(options, signal))));
        }
    }

    /// Tells other processes, when `tx` commits, of `change`.
    async fn announce(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        change: Change,
    ) -> Result<(), StoreError> {
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(change.payload())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The job with this id.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The user's `limit` newest finished (done) jobs, newest first.
    pub async fn recent_done_jobs(&self, user: UserId, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE user_id = $1 AND status = 'done' ORDER BY id DESC LIMIT $2",
        )
        .bind(user_to_sql(user))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }
}

/// Listens on PostgreSQL for the queue's notices for as long as the process runs, passing each
/// on to `signal`; reconnects after a second when the connection fails.
async fn listen(options: sqlx::postgres::PgConnectOptions, signal: Arc<Signal>) {
    loop {
        let listener = async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options.clone());
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            loop {
                let notice = listener.recv().await?;
                match Change::parse(notice.payload()) {
                    Some(change) => signal.tell(change),
                    None => signal.tell_all(),
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = listener.await {
            tracing::warn!(error = %e, "listening for queued jobs failed; polling until it works again");
        }
        // Whatever was announced meanwhile was missed: look again.
        signal.tell_all();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn unfinished_pool_job(
    conn: &mut sqlx::AnyConnection,
    version: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM jobs WHERE user_id = $1 AND version = $2 AND status = 'running'",
    )
    .bind(user_to_sql(POOL_USER))
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?)
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    let status: String = row.try_get("status")?;
    let error: Option<String> = row.try_get("error")?;
    let status = match status.as_str() {
        "running" => JobStatus::Running,
        "done" => JobStatus::Done,
        "failed" => JobStatus::Failed(error.unwrap_or_default()),
        other => return Err(StoreError::Corrupt(format!("job status {other:?}"))),
    };
    Ok(Job {
        id: row.try_get("id")?,
        user: user_from_sql(row.try_get("user_id")?),
        prompt: row.try_get("prompt")?,
        prompt_run: row.try_get("prompt_run")?,
        version: row.try_get("version")?,
        seed: row.try_get::<Option<i64>, _>("seed")?.map(|s| s as u64),
        status,
        place: place_from_sql(row.try_get("guild_id")?),
        reply: row.try_get("reply")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        lease_until: row.try_get("lease_until")?,
        attempts: row.try_get("attempts")?,
        worker: row.try_get("worker")?,
        claimed_at: row.try_get("claimed_at")?,
        progress: row.try_get("progress")?,
        notice: row.try_get("notice")?,
    })
}
