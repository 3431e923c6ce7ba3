//! Generation jobs: written before rendering starts, completed or failed after.

use sqlx::Row;

use super::{Store, StoreError, now_ms, user_from_sql, user_to_sql};
use crate::domain::UserId;

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Done,
    /// With the reason.
    Failed(String),
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
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl Store {
    /// Records a job about to run and returns its id.
    pub async fn start_job(
        &self,
        user: UserId,
        prompt: &str,
        prompt_run: &str,
        version: &str,
        seed: u64,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query(
            "INSERT INTO jobs (user_id, prompt, prompt_run, version, seed, status, created_at)
             VALUES (?, ?, ?, ?, ?, 'running', ?)",
        )
        .bind(user_to_sql(user))
        .bind(prompt)
        .bind(prompt_run)
        .bind(version)
        .bind(seed as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Marks a running job done, or failed with `error`.
    pub async fn finish_job(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
        )
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks every job still running as failed with `reason` (at start-up, after a restart
    /// interrupted them); returns how many there were.
    pub async fn fail_running_jobs(&self, reason: &str) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE status = 'running'",
        )
        .bind(reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// The job with this id.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        let error: Option<String> = row.try_get("error")?;
        let status = match status.as_str() {
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed(error.unwrap_or_default()),
            other => return Err(StoreError::Corrupt(format!("job status {other:?}"))),
        };
        Ok(Some(Job {
            id: row.try_get("id")?,
            user: user_from_sql(row.try_get("user_id")?),
            prompt: row.try_get("prompt")?,
            prompt_run: row.try_get("prompt_run")?,
            version: row.try_get("version")?,
            seed: row.try_get::<Option<i64>, _>("seed")?.map(|s| s as u64),
            status,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
        }))
    }
}
