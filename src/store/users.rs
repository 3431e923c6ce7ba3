//! Users, their settings and their default profiles.

use sqlx::Row;

use super::{Store, StoreError, now_ms, user_to_sql};
use crate::domain::{ProfileId, ProfileKind, Settings, StylizePreset, UserId};

impl Store {
    /// Makes sure `user` exists with settings and a global profile for each of `versions`.
    ///
    /// Cheap when everything is already there (one read); safe to call concurrently.
    pub async fn ensure_user(&self, user: UserId, versions: &[String]) -> Result<(), StoreError> {
        let uid = user_to_sql(user);
        let have: Vec<String> =
            sqlx::query_scalar("SELECT version FROM profiles WHERE owner = $1 AND kind = 'global'")
                .bind(uid)
                .fetch_all(&self.pool)
                .await?;
        if versions.iter().all(|v| have.contains(v)) {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(uid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        for version in versions.iter().filter(|v| !have.contains(v)) {
            // The partial unique index on (owner, version) for global profiles turns a
            // concurrent second insert into a no-op.
            sqlx::query(
                "INSERT INTO profiles (id, owner, kind, version, name, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(super::profiles::new_profile_id().0)
            .bind(uid)
            .bind(ProfileKind::Global.as_str())
            .bind(version)
            .bind(super::profiles::GLOBAL_NAME)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user's settings; defaults if the user has none yet.
    pub async fn settings(&self, user: UserId) -> Result<Settings, StoreError> {
        let row = sqlx::query(
            "SELECT auto_personalize, default_version, stylize, explore_sharing
             FROM settings WHERE user_id = $1",
        )
        .bind(user_to_sql(user))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Settings::default());
        };
        let stylize: i64 = row.try_get("stylize")?;
        let stylize = u32::try_from(stylize)
            .ok()
            .and_then(StylizePreset::from_stylize)
            .ok_or_else(|| StoreError::Corrupt(format!("stylize preset {stylize}")))?;
        Ok(Settings {
            auto_personalize: row.try_get::<i64, _>("auto_personalize")? != 0,
            default_version: row.try_get("default_version")?,
            stylize,
            explore_sharing: row.try_get::<i64, _>("explore_sharing")? != 0,
        })
    }

    /// Saves the user's settings (the user must exist: see [`Store::ensure_user`]).
    pub async fn save_settings(&self, user: UserId, settings: &Settings) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings
                (user_id, auto_personalize, default_version, stylize, explore_sharing)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET
                auto_personalize = $2, default_version = $3, stylize = $4,
                explore_sharing = $5",
        )
        .bind(user_to_sql(user))
        .bind(settings.auto_personalize as i64)
        .bind(&settings.default_version)
        .bind(settings.stylize.stylize() as i64)
        .bind(settings.explore_sharing as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The profiles the user chose as defaults for `version`, oldest choice first. Deleted
    /// profiles never appear: deleting a profile removes it from the defaults.
    pub async fn default_profiles(
        &self,
        user: UserId,
        version: &str,
    ) -> Result<Vec<ProfileId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT profile_id FROM default_profiles WHERE user_id = $1 AND version = $2
             ORDER BY rowid",
        )
        .bind(user_to_sql(user))
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(ProfileId).collect())
    }

    /// Replaces the user's default profiles for `version`.
    pub async fn set_default_profiles(
        &self,
        user: UserId,
        version: &str,
        profiles: &[ProfileId],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM default_profiles WHERE user_id = $1 AND version = $2")
            .bind(user_to_sql(user))
            .bind(version)
            .execute(&mut *tx)
            .await?;
        for id in profiles {
            sqlx::query(
                "INSERT INTO default_profiles (user_id, version, profile_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(user_to_sql(user))
            .bind(version)
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
