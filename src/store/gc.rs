//! Garbage: rows nothing can reach any more, found and deleted by the same conditions.
//!
//! Never garbage: codes and their profiles, pool images, images on a moodboard or named in a
//! moodboard code's image set, liked images, images of a kept pair (every pair that was
//! answered, and pairs younger than the cutoff), and images of running jobs. Garbage: pairs
//! nobody answered older than the cutoff, generated images past their age and uploads no
//! moodboard holds (both unless kept above), and finished jobs past their age with no image
//! left.

use std::collections::HashSet;

use sqlx::Arguments;
use sqlx::any::AnyArguments;

use super::{Store, StoreError};

/// Rows created before these times (Unix milliseconds) may be garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub unanswered_pairs: i64,
    pub generated_images: i64,
    /// Uploads no moodboard holds (from a removal, or a request refused after they were stored).
    pub uploads: i64,
    pub finished_jobs: i64,
}

impl Cutoffs {
    /// The cutoffs as the conditions' parameters $1 to $4.
    fn arguments(&self) -> Result<AnyArguments, StoreError> {
        let mut arguments = AnyArguments::default();
        for value in [
            self.unanswered_pairs,
            self.generated_images,
            self.uploads,
            self.finished_jobs,
        ] {
            arguments
                .add(value)
                .map_err(|e| StoreError::Corrupt(format!("binding a cutoff: {e}")))?;
        }
        Ok(arguments)
    }
}

/// What garbage there is (or was deleted): row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Garbage {
    pub pairs: u64,
    pub images: u64,
    pub jobs: u64,
}

/// Pair `p` is garbage. The conditions' parameters are the [`Cutoffs`] in their order: $1 the
/// pairs', $2 generated images', $3 uploads', $4 jobs'.
fn pair_is_garbage(p: &str) -> String {
    format!("({p}.created_at < $1 AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.pair_id = {p}.id))")
}

/// Image `i` is garbage.
fn image_is_garbage(i: &str) -> String {
    let kept_pair = pair_is_garbage("p");
    format!(
        "({i}.origin != 'pool'
          AND (({i}.origin = 'generated' AND {i}.created_at < $2)
               OR ({i}.origin = 'upload' AND {i}.created_at < $3))
          AND NOT EXISTS (SELECT 1 FROM moodboard_images m WHERE m.image_id = {i}.id)
          AND NOT EXISTS (SELECT 1 FROM likes l WHERE l.image_id = {i}.id)
          AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.left_image = {i}.id AND NOT {kept_pair})
          AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.right_image = {i}.id AND NOT {kept_pair})
          AND NOT EXISTS (SELECT 1 FROM codes c
                          WHERE c.image_set IS NOT NULL AND c.image_set LIKE '%' || {i}.hash || '%')
          AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.id = {i}.job_id AND r.status = 'running'))"
    )
}

/// Job `j` is garbage.
fn job_is_garbage(j: &str) -> String {
    let kept_image = image_is_garbage("i");
    format!(
        "({j}.status IN ('done', 'failed') AND {j}.finished_at < $4
          AND NOT EXISTS (SELECT 1 FROM images i WHERE i.job_id = {j}.id AND NOT {kept_image}))"
    )
}

impl Store {
    /// What is garbage now, without deleting it.
    pub async fn garbage(&self, cutoffs: &Cutoffs) -> Result<Garbage, StoreError> {
        let count = |table: &str, alias: &str, condition: String| {
            format!("SELECT COUNT(*) FROM {table} {alias} WHERE {condition}")
        };
        let pairs = count("pairs", "g", pair_is_garbage("g"));
        let images = count("images", "g", image_is_garbage("g"));
        let jobs = count("jobs", "g", job_is_garbage("g"));
        let mut found = [0u64; 3];
        for (n, sql) in found.iter_mut().zip([pairs, images, jobs]) {
            let value: i64 =
                sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), cutoffs.arguments()?)
                    .fetch_one(&self.pool)
                    .await?;
            *n = value as u64;
        }
        Ok(Garbage {
            pairs: found[0],
            images: found[1],
            jobs: found[2],
        })
    }

    /// Deletes what is garbage, in one transaction: pairs (which frees their images), images
    /// (which frees their jobs), then jobs. Each step deletes exactly what [`Store::garbage`]
    /// counts, since the conditions treat the garbage of the earlier steps as gone already.
    pub async fn delete_garbage(&self, cutoffs: &Cutoffs) -> Result<Garbage, StoreError> {
        let mut tx = self.exclusive("gc").await?;
        let mut deleted = [0u64; 3];
        for (n, (table, condition)) in deleted.iter_mut().zip([
            ("pairs", pair_is_garbage("pairs")),
            ("images", image_is_garbage("images")),
            ("jobs", job_is_garbage("jobs")),
        ]) {
            let sql = format!("DELETE FROM {table} WHERE {condition}");
            *n = sqlx::query_with(sqlx::AssertSqlSafe(sql), cutoffs.arguments()?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(Garbage {
            pairs: deleted[0],
            images: deleted[1],
            jobs: deleted[2],
        })
    }

    /// The content hashes of the images that are not garbage: the files that must stay.
    pub async fn kept_image_hashes(
        &self,
        cutoffs: &Cutoffs,
    ) -> Result<HashSet<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT hash FROM images g WHERE NOT {}",
            image_is_garbage("g")
        );
        let hashes: Vec<String> =
            sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), cutoffs.arguments()?)
                .fetch_all(&self.pool)
                .await?;
        Ok(hashes.into_iter().collect())
    }
}
