//! Moodboards: the images a moodboard profile is made of.

use super::images::image_from_row;
use super::{Image, Store, StoreError, now_ms};
use crate::domain::ProfileId;

/// A moodboard would hold more images than allowed; it holds `held` now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub held: usize,
}

impl Store {
    /// Adds `images` to a moodboard unless that would make it hold more than `max`: all of
    /// them (those there already count once), or none. Returns how many it then holds, or
    /// `Err(Full)` with how many it holds now. The count and the inserts are one write
    /// transaction, so two requests at once cannot both pass the cap.
    pub async fn add_moodboard_images(
        &self,
        profile: &ProfileId,
        images: &[i64],
        max: usize,
    ) -> Result<Result<usize, Full>, StoreError> {
        // The lock is taken before the count is read.
        let mut tx = self.exclusive(&format!("moodboard {}", profile.0)).await?;
        let mut held: std::collections::HashSet<i64> =
            sqlx::query_scalar("SELECT image_id FROM moodboard_images WHERE profile_id = $1")
                .bind(&profile.0)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let before = held.len();
        held.extend(images);
        if held.len() > max {
            // Ended here and now: a dropped transaction's rollback waits for the connection's
            // next use, and its lock would be held until then.
            tx.rollback().await?;
            return Ok(Err(Full { held: before }));
        }
        let now = now_ms();
        for image in images {
            sqlx::query(
                "INSERT INTO moodboard_images (profile_id, image_id, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT (profile_id, image_id) DO NOTHING",
            )
            .bind(&profile.0)
            .bind(image)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(held.len()))
    }

    /// Removes an image from a moodboard; `false` if it was not there.
    pub async fn remove_moodboard_image(
        &self,
        profile: &ProfileId,
        image: i64,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM moodboard_images WHERE profile_id = $1 AND image_id = $2")
                .bind(&profile.0)
                .bind(image)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// A moodboard's images, in the order they were added.
    pub async fn moodboard_images(&self, profile: &ProfileId) -> Result<Vec<Image>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.* FROM moodboard_images m JOIN images i ON i.id = m.image_id
             WHERE m.profile_id = $1 ORDER BY m.added_at, i.id",
        )
        .bind(&profile.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }
}
