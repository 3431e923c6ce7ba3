//! Image records: pool images, generations and uploads. The files themselves are `render`'s.

use sqlx::Row;

use super::{
    Store, StoreError, blob_to_vector, now_ms, user_from_sql, user_to_sql, vector_to_blob,
};
use crate::domain::UserId;

/// Where an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Rendered for ranking pairs.
    Pool,
    /// Made by a user's `/imagine`.
    Generated,
    /// Uploaded by a user (moodboards).
    Upload,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Pool => "pool",
            Origin::Generated => "generated",
            Origin::Upload => "upload",
        }
    }

    fn parse(s: &str) -> Option<Origin> {
        match s {
            "pool" => Some(Origin::Pool),
            "generated" => Some(Origin::Generated),
            "upload" => Some(Origin::Upload),
            _ => None,
        }
    }
}

/// An image to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImage {
    /// Content hash: the file's name under the data directory's `images/`.
    pub hash: String,
    pub prompt: String,
    pub version: String,
    pub backend: String,
    pub seed: u64,
    pub knobs: Vec<f32>,
    /// The style vector and the name of its space, once measured.
    pub style: Option<(String, Vec<f32>)>,
    pub origin: Origin,
    /// `None` for pool images.
    pub owner: Option<UserId>,
}

/// A recorded image.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: i64,
    pub created_at: i64,
    pub image: NewImage,
}

impl Store {
    /// Records an image and returns its id.
    pub async fn insert_image(&self, image: &NewImage) -> Result<i64, StoreError> {
        let (space, style) = match &image.style {
            Some((space, v)) => (Some(space.as_str()), Some(vector_to_blob(v))),
            None => (None, None),
        };
        let id = sqlx::query(
            "INSERT INTO images
                (hash, prompt, version, backend, seed, knobs, style_space, style, origin, owner,
                 created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&image.hash)
        .bind(&image.prompt)
        .bind(&image.version)
        .bind(&image.backend)
        .bind(image.seed as i64)
        .bind(vector_to_blob(&image.knobs))
        .bind(space)
        .bind(style)
        .bind(image.origin.as_str())
        .bind(image.owner.map(user_to_sql))
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// The image with this id.
    pub async fn image(&self, id: i64) -> Result<Option<Image>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, hash, prompt, version, backend, seed, knobs, style_space, style, origin,
                    owner, created_at
             FROM images WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let origin: String = row.try_get("origin")?;
        let space: Option<String> = row.try_get("style_space")?;
        let style: Option<Vec<u8>> = row.try_get("style")?;
        let style = match (space, style) {
            (Some(space), Some(blob)) => Some((space, blob_to_vector(&blob)?)),
            _ => None,
        };
        let knobs: Option<Vec<u8>> = row.try_get("knobs")?;
        Ok(Some(Image {
            id: row.try_get("id")?,
            created_at: row.try_get("created_at")?,
            image: NewImage {
                hash: row.try_get("hash")?,
                prompt: row.try_get("prompt")?,
                version: row.try_get("version")?,
                backend: row.try_get("backend")?,
                seed: row.try_get::<i64, _>("seed")? as u64,
                knobs: blob_to_vector(knobs.as_deref().unwrap_or_default())?,
                style,
                origin: Origin::parse(&origin)
                    .ok_or_else(|| StoreError::Corrupt(format!("image origin {origin:?}")))?,
                owner: row.try_get::<Option<i64>, _>("owner")?.map(user_from_sql),
            },
        }))
    }
}
