//! Profiles: global, ranked and moodboard; points behind each.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms, user_from_sql, user_to_sql};
use crate::domain::{PROFILE_ID_LEN, Profile, ProfileId, ProfileKind, UserId, random_base36};

/// The name every global profile has.
pub const GLOBAL_NAME: &str = "Global";

/// A fresh random profile ID.
pub(crate) fn new_profile_id() -> ProfileId {
    ProfileId(random_base36(&mut rand::rng(), PROFILE_ID_LEN))
}

/// Another live profile of the same user and version has this name (ignoring case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTaken;

/// Why a profile was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCreated {
    /// Another live profile of the same user and version has this name (ignoring case).
    NameTaken,
    /// The user already has the most ranked and moodboard profiles allowed.
    TooMany,
}

fn profile_from_row(row: &AnyRow) -> Result<Profile, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Profile {
        id: ProfileId(row.try_get("id")?),
        owner: user_from_sql(row.try_get("owner")?),
        kind: ProfileKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("profile kind {kind:?}")))?,
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Creates a ranked or moodboard profile, unless the name is in use or the owner already
    /// has `most` live ranked and moodboard profiles (checked under the owner's lock, so
    /// concurrent requests, from any process, cannot pass the cap together).
    pub async fn create_profile(
        &self,
        owner: UserId,
        kind: ProfileKind,
        version: &str,
        name: &str,
        most: u32,
    ) -> Result<Result<Profile, NotCreated>, StoreError> {
        let created_at = now_ms();
        loop {
            let id = new_profile_id();
            let mut tx = self.exclusive(&format!("profiles of {}", owner.0)).await?;
            let inserted = sqlx::query(
                "INSERT INTO profiles (id, owner, kind, version, name, created_at)
                 SELECT $1, $2, $3, $4, $5, $6
                 WHERE (SELECT COUNT(*) FROM profiles
                        WHERE owner = $2 AND kind != 'global' AND deleted_at IS NULL) < $7",
            )
            .bind(&id.0)
            .bind(user_to_sql(owner))
            .bind(kind.as_str())
            .bind(version)
            .bind(name)
            .bind(created_at)
            .bind(i64::from(most))
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(done) if done.rows_affected() == 0 => {
                    // Ended here and now: see `Store::add_moodboard_images`.
                    tx.rollback().await?;
                    return Ok(Err(NotCreated::TooMany));
                }
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(Ok(Profile {
                        id,
                        owner,
                        kind,
                        version: version.to_string(),
                        name: name.to_string(),
                        created_at,
                        deleted_at: None,
                    }));
                }
                Err(e) if is_unique_violation(&e) => {
                    tx.rollback().await?;
                    // Either the name is taken or (one chance in 36^10) the random ID is.
                    if self.profile(&id).await?.is_none() {
                        return Ok(Err(NotCreated::NameTaken));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The profile with this ID, deleted or not.
    pub async fn profile(&self, id: &ProfileId) -> Result<Option<Profile>, StoreError> {
        let row = sqlx::query("SELECT * FROM profiles WHERE id = $1")
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(profile_from_row).transpose()
    }

    /// The user's global profile for `version`, if it exists.
    pub async fn global_profile(
        &self,
        owner: UserId,
        version: &str,
    ) -> Result<Option<Profile>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM profiles WHERE owner = $1 AND version = $2 AND kind = 'global'",
        )
        .bind(user_to_sql(owner))
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(profile_from_row).transpose()
    }

    /// The user's live profiles: by version, global first, then by creation.
    pub async fn live_profiles(&self, owner: UserId) -> Result<Vec<Profile>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM profiles WHERE owner = $1 AND deleted_at IS NULL
             ORDER BY version, kind != 'global', created_at, id",
        )
        .bind(user_to_sql(owner))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(profile_from_row).collect()
    }

    /// Renames a live profile. `Ok(Err(NameTaken))` when the name is in use.
    pub async fn rename_profile(
        &self,
        id: &ProfileId,
        name: &str,
    ) -> Result<Result<(), NameTaken>, StoreError> {
        let renamed =
            sqlx::query("UPDATE profiles SET name = $1 WHERE id = $2 AND deleted_at IS NULL")
                .bind(name)
                .bind(&id.0)
                .execute(&self.pool)
                .await;
        match renamed {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_unique_violation(&e) => Ok(Err(NameTaken)),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a profile deleted and drops it from its owner's defaults. Its codes stay.
    pub async fn delete_profile(&self, id: &ProfileId) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE profiles SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now_ms())
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM default_profiles WHERE profile_id = $1")
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Points behind a profile: its pair votes that were not skips; for a global profile also
    /// its owner's likes of images of its version; for a moodboard, its images.
    pub async fn points(&self, profile: &Profile) -> Result<u32, StoreError> {
        let count: i64 = match profile.kind {
            ProfileKind::Moodboard => {
                sqlx::query_scalar("SELECT COUNT(*) FROM moodboard_images WHERE profile_id = $1")
                    .bind(&profile.id.0)
                    .fetch_one(&self.pool)
                    .await?
            }
            ProfileKind::Ranked => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM votes WHERE profile_id = $1 AND choice != 'skip'",
                )
                .bind(&profile.id.0)
                .fetch_one(&self.pool)
                .await?
            }
            ProfileKind::Global => {
                sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM votes WHERE profile_id = $1 AND choice != 'skip')
                          + (SELECT COUNT(*) FROM likes WHERE user_id = $2 AND version = $3)",
                )
                .bind(&profile.id.0)
                .bind(user_to_sql(profile.owner))
                .bind(&profile.version)
                .fetch_one(&self.pool)
                .await?
            }
        };
        u32::try_from(count).map_err(|_| StoreError::Corrupt(format!("point count {count}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::is_base36_id;

    #[test]
    fn profile_ids_are_lowercase_base36_of_the_right_length() {
        for _ in 0..100 {
            assert!(is_base36_id(&new_profile_id().0, PROFILE_ID_LEN));
        }
    }
}
