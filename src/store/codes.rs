//! Codes: frozen, public snapshots of profiles. Inserted once, never changed or deleted.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, blob_to_vector, user_from_sql, user_to_sql, vector_to_blob};
use crate::domain::{Code, ProfileId, UserId};

/// The code string is already in use; nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeTaken;

fn code_from_row(row: &AnyRow) -> Result<Code, StoreError> {
    let vector: Vec<u8> = row.try_get("vector")?;
    let points: i64 = row.try_get("points")?;
    Ok(Code {
        code: row.try_get("code")?,
        profile: ProfileId(row.try_get("profile_id")?),
        owner: user_from_sql(row.try_get("owner")?),
        version: row.try_get("version")?,
        space: row.try_get("space")?,
        vector: blob_to_vector(&vector)?,
        points: u32::try_from(points)
            .map_err(|_| StoreError::Corrupt(format!("code points {points}")))?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new code. `Ok(Err(CodeTaken))` if the code string exists already.
    pub async fn insert_code(&self, code: &Code) -> Result<Result<(), CodeTaken>, StoreError> {
        self.insert_code_for_set(code, None).await
    }

    /// Stores a new code frozen from a moodboard whose image set has the key `image_set`
    /// (`taste::codes::image_set_key`), or from another profile when `None`.
    pub async fn insert_code_for_set(
        &self,
        code: &Code,
        image_set: Option<&str>,
    ) -> Result<Result<(), CodeTaken>, StoreError> {
        let result = sqlx::query(
            "INSERT INTO codes
                (code, profile_id, owner, version, space, vector, points, created_at, image_set)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&code.code)
        .bind(&code.profile.0)
        .bind(user_to_sql(code.owner))
        .bind(&code.version)
        .bind(&code.space)
        .bind(vector_to_blob(&code.vector))
        .bind(code.points as i64)
        .bind(code.created_at)
        .bind(image_set)
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(CodeTaken)
        })
    }

    /// The code with this string, whatever became of its profile.
    pub async fn code(&self, code: &str) -> Result<Option<Code>, StoreError> {
        let row = sqlx::query("SELECT * FROM codes WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// The profile's newest code: what its ID resolves to.
    pub async fn latest_code(&self, profile: &ProfileId) -> Result<Option<Code>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM codes WHERE profile_id = $1
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(&profile.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// The code a moodboard froze earlier for exactly the image set `image_set`, if any.
    pub async fn code_for_image_set(
        &self,
        profile: &ProfileId,
        image_set: &str,
    ) -> Result<Option<Code>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM codes WHERE profile_id = $1 AND image_set = $2
             ORDER BY created_at, rowid LIMIT 1",
        )
        .bind(&profile.0)
        .bind(image_set)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// The newest code of every global profile of `version` (one per user): what the
    /// community's mean taste is made of.
    pub async fn latest_global_codes(&self, version: &str) -> Result<Vec<Code>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.* FROM codes c
             JOIN (SELECT c2.profile_id, MAX(c2.rowid) AS newest FROM codes c2
                   JOIN profiles p ON p.id = c2.profile_id
                   WHERE p.kind = 'global' AND p.version = $1
                   GROUP BY c2.profile_id) latest ON c.rowid = latest.newest",
        )
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(code_from_row).collect()
    }

    /// Every code the user's profiles produced, newest first, deleted profiles included.
    pub async fn codes_of(&self, owner: UserId) -> Result<Vec<Code>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM codes WHERE owner = $1 ORDER BY created_at DESC, rowid DESC",
        )
        .bind(user_to_sql(owner))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(code_from_row).collect()
    }
}
