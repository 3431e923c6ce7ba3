//! Image records: pool images, generations and uploads. The files themselves are `render`'s.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, blob_to_vector, now_ms, place_to_sql, user_from_sql, user_to_sql,
    vector_to_blob,
};
use crate::domain::{Place, UserId};

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
    /// The model that made it ('' for the built-in renderer and uploads).
    pub model: String,
    pub seed: u64,
    pub knobs: Vec<f32>,
    /// The style vector and the name of its space, once measured.
    pub style: Option<(String, Vec<f32>)>,
    pub origin: Origin,
    /// `None` for pool images.
    pub owner: Option<UserId>,
    /// The generation job that made it, for generated images.
    pub job: Option<i64>,
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
        // In a transaction that has committed when this returns: PostgreSQL sends a
        // `RETURNING` row before a statement's own implicit transaction commits, so another
        // connection could act on the id before the row is visible to it.
        let mut tx = self.pool.begin().await?;
        let id = insert_image(&mut *tx, image).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The image with this id.
    pub async fn image(&self, id: i64) -> Result<Option<Image>, StoreError> {
        let row = sqlx::query("SELECT * FROM images WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(image_from_row).transpose()
    }

    /// The images of `version` measured in style space `space` that ranking pairs are drawn
    /// from: the pool, and the images of `user`'s `recent_jobs` newest finished generations
    /// (only their own: another user's pictures may come from a DM or another server).
    pub async fn rankable_images(
        &self,
        version: &str,
        model: &str,
        space: &str,
        recent_jobs: u32,
        user: Option<UserId>,
    ) -> Result<Vec<Image>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM images
             WHERE version = $1 AND style_space = $2
               AND ((origin = 'pool' AND model = $5)
                    OR job_id IN (SELECT id FROM jobs WHERE version = $1 AND status = 'done'
                                    AND user_id = $4
                                  ORDER BY id DESC LIMIT $3))
             ORDER BY id",
        )
        .bind(version)
        .bind(space)
        .bind(i64::from(recent_jobs))
        .bind(user.map(user_to_sql))
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }

    /// How many pool images `version` has from `model`.
    pub async fn pool_size(&self, version: &str, model: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM images WHERE version = $1 AND model = $2 AND origin = 'pool'",
        )
        .bind(version)
        .bind(model)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    /// The images a generation job made, in order.
    pub async fn job_images(&self, job: i64) -> Result<Vec<Image>, StoreError> {
        let rows = sqlx::query("SELECT * FROM images WHERE job_id = $1 ORDER BY id")
            .bind(job)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(image_from_row).collect()
    }

    /// What `/explore` may show `user` in `guild`: the newest images generated in that server
    /// by other users who share their pictures in `/explore`, newest first.
    pub async fn explorable_images(
        &self,
        user: UserId,
        guild: u64,
        limit: u32,
    ) -> Result<Vec<Image>, StoreError> {
        let rows = sqlx::query(
            "SELECT images.* FROM images
             JOIN jobs ON jobs.id = images.job_id
             JOIN settings ON settings.user_id = images.owner
             WHERE images.origin = 'generated' AND images.owner != $1
               AND jobs.guild_id = $2 AND settings.explore_sharing = 1
             ORDER BY images.created_at DESC, images.id DESC LIMIT $3",
        )
        .bind(user_to_sql(user))
        .bind(place_to_sql(Place::Guild(guild)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }
}

pub(super) fn image_from_row(row: &AnyRow) -> Result<Image, StoreError> {
    let origin: String = row.try_get("origin")?;
    let space: Option<String> = row.try_get("style_space")?;
    let style: Option<Vec<u8>> = row.try_get("style")?;
    let style = match (space, style) {
        (Some(space), Some(blob)) => Some((space, blob_to_vector(&blob)?)),
        _ => None,
    };
    let knobs: Option<Vec<u8>> = row.try_get("knobs")?;
    Ok(Image {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        image: NewImage {
            hash: row.try_get("hash")?,
            prompt: row.try_get("prompt")?,
            version: row.try_get("version")?,
            backend: row.try_get("backend")?,
            model: row.try_get("model")?,
            seed: row.try_get::<i64, _>("seed")? as u64,
            knobs: blob_to_vector(knobs.as_deref().unwrap_or_default())?,
            style,
            origin: Origin::parse(&origin)
                .ok_or_else(|| StoreError::Corrupt(format!("image origin {origin:?}")))?,
            owner: row.try_get::<Option<i64>, _>("owner")?.map(user_from_sql),
            job: row.try_get("job_id")?,
        },
    })
}

/// Records an image through `db` (the pool, or a transaction) and returns its id.
pub(super) async fn insert_image<'e, E>(db: E, image: &NewImage) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (space, style) = match &image.style {
        Some((space, v)) => (Some(space.as_str()), Some(vector_to_blob(v))),
        None => (None, None),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO images
            (hash, prompt, version, backend, model, seed, knobs, style_space, style, origin,
             owner, created_at, job_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(&image.hash)
    .bind(&image.prompt)
    .bind(&image.version)
    .bind(&image.backend)
    .bind(&image.model)
    .bind(image.seed as i64)
    .bind(vector_to_blob(&image.knobs))
    .bind(space)
    .bind(style)
    .bind(image.origin.as_str())
    .bind(image.owner.map(user_to_sql))
    .bind(now_ms())
    .bind(image.job)
    .fetch_one(db)
    .await?;
    Ok(id)
}
