//! Moodboards: the images a moodboard profile is made of.

use super::images::image_from_row;
use super::{Image, Store, StoreError, now_ms};
use crate::domain::ProfileId;

impl Store {
    /// Adds an image to a moodboard; `false` if it was there already.
    pub async fn add_moodboard_image(
        &self,
        profile: &ProfileId,
        image: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO moodboard_images (profile_id, image_id, added_at) VALUES (?, ?, ?)
             ON CONFLICT (profile_id, image_id) DO NOTHING",
        )
        .bind(&profile.0)
        .bind(image)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes an image from a moodboard; `false` if it was not there.
    pub async fn remove_moodboard_image(
        &self,
        profile: &ProfileId,
        image: i64,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM moodboard_images WHERE profile_id = ? AND image_id = ?")
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
             WHERE m.profile_id = ? ORDER BY m.added_at, i.id",
        )
        .bind(&profile.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }
}
