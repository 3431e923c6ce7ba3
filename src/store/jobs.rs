//! Generation jobs: written before rendering starts, completed or failed after.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms, place_from_sql, place_to_sql, user_from_sql, user_to_sql};
use crate::domain::{Place, UserId};

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Done,
    /// With the reason.
    Failed(String),
}

/// A job to record as it starts.
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
}

impl Store {
    /// Records a job about to run and returns its id.
    pub async fn start_job(&self, job: &NewJob<'_>) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs
                (user_id, prompt, prompt_run, version, seed, status, guild_id, reply, created_at)
             VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8) RETURNING id",
        )
        .bind(user_to_sql(job.user))
        .bind(job.prompt)
        .bind(job.prompt_run)
        .bind(job.version)
        .bind(job.seed as i64)
        .bind(place_to_sql(job.place))
        .bind(job.reply)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Marks a running job done, or failed with `error`, and forgets its reply handle.
    pub async fn finish_job(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET status = $1, error = $2, finished_at = $3, reply = NULL
             WHERE id = $4 AND status = 'running'",
        )
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks every job still running as failed with `reason` and forgets its reply handle (at
    /// start-up, after a restart interrupted them); returns those jobs as they were before,
    /// reply handles included, oldest first.
    pub async fn fail_running_jobs(&self, reason: &str) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE status = 'running' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut failed = Vec::with_capacity(rows.len());
        for row in &rows {
            let job = job_from_row(row)?;
            let result = sqlx::query(
                "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2, reply = NULL
                 WHERE id = $3 AND status = 'running'",
            )
            .bind(reason)
            .bind(now_ms())
            .bind(job.id)
            .execute(&self.pool)
            .await?;
            // A job that ended meanwhile was not interrupted.
            if result.rows_affected() == 1 {
                failed.push(job);
            }
        }
        Ok(failed)
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
    })
}
