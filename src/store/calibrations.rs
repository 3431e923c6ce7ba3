//! Calibrations: the knob → style linear map of each version, backend and model, per style
//! space, and the measured renders of a calibration still in progress.

use sqlx::Row;

use super::{Store, StoreError, blob_to_vector, now_ms, vector_to_blob};
use crate::taste::steer::Calibration;

/// Which calibration a sample belongs to: the version, backend and model, and the plan's key
/// (`render::steering::calibrate::CalibrationPlan::key`).
#[derive(Debug, Clone, Copy)]
pub struct SampleKey<'a> {
    pub version: &'a str,
    pub backend: &'a str,
    pub model: &'a str,
    pub plan: &'a str,
}

impl Store {
    /// Stores `calibration` for `version` served by `backend` with `model`, replacing an
    /// earlier one in the same style space, and forgets the samples it was fitted to.
    pub async fn save_calibration(
        &self,
        version: &str,
        backend: &str,
        model: &str,
        calibration: &Calibration,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let knobs = serde_json::to_string(&calibration.knobs)
            .map_err(|e| StoreError::Corrupt(format!("knob names: {e}")))?;
        let ranges: Vec<f32> = calibration
            .ranges
            .iter()
            .flat_map(|(lo, hi)| [*lo, *hi])
            .collect();
        sqlx::query(
            "INSERT INTO calibrations
                 (version, backend, model, space, knobs, ranges, jacobian, intercept, r2, samples,
                  created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (version, backend, model, space) DO UPDATE SET
                 knobs = excluded.knobs, ranges = excluded.ranges, jacobian = excluded.jacobian,
                 intercept = excluded.intercept, r2 = excluded.r2, samples = excluded.samples,
                 created_at = excluded.created_at",
        )
        .bind(version)
        .bind(backend)
        .bind(model)
        .bind(&calibration.space)
        .bind(knobs)
        .bind(vector_to_blob(&ranges))
        .bind(vector_to_blob(&calibration.jacobian))
        .bind(vector_to_blob(&calibration.intercept))
        .bind(vector_to_blob(&calibration.r2))
        .bind(calibration.samples as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM calibration_samples WHERE version = $1 AND backend = $2 AND model = $3",
        )
        .bind(version)
        .bind(backend)
        .bind(model)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the measured style of render `index` of the calibration plan `plan` of
    /// `version`, `backend` and `model`.
    pub async fn save_calibration_sample(
        &self,
        key: &SampleKey<'_>,
        index: usize,
        space: &str,
        style: &[f32],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO calibration_samples
                 (version, backend, model, plan, idx, space, style, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (version, backend, model, plan, idx) DO UPDATE SET
                space = excluded.space, style = excluded.style,
                created_at = excluded.created_at",
        )
        .bind(key.version)
        .bind(key.backend)
        .bind(key.model)
        .bind(key.plan)
        .bind(index as i64)
        .bind(space)
        .bind(vector_to_blob(style))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored samples of a calibration in progress in style space `space`: render index →
    /// style.
    pub async fn calibration_samples(
        &self,
        key: &SampleKey<'_>,
        space: &str,
    ) -> Result<std::collections::BTreeMap<usize, Vec<f32>>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, style FROM calibration_samples
             WHERE version = $1 AND backend = $2 AND model = $3 AND plan = $4 AND space = $5",
        )
        .bind(key.version)
        .bind(key.backend)
        .bind(key.model)
        .bind(key.plan)
        .bind(space)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let idx: i64 = row.try_get("idx")?;
                let style = blob_to_vector(row.try_get::<&[u8], _>("style")?)?;
                Ok((idx.max(0) as usize, style))
            })
            .collect()
    }

    /// The calibration of `version` served by `backend` with `model` in style space `space`,
    /// if any.
    pub async fn load_calibration(
        &self,
        version: &str,
        backend: &str,
        model: &str,
        space: &str,
    ) -> Result<Option<Calibration>, StoreError> {
        let row = sqlx::query(
            "SELECT knobs, ranges, jacobian, intercept, r2, samples FROM calibrations
             WHERE version = $1 AND backend = $2 AND model = $3 AND space = $4",
        )
        .bind(version)
        .bind(backend)
        .bind(model)
        .bind(space)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let knobs: Vec<String> = serde_json::from_str(row.try_get::<&str, _>("knobs")?)
            .map_err(|e| StoreError::Corrupt(format!("calibration knob names: {e}")))?;
        let ranges = blob_to_vector(row.try_get::<&[u8], _>("ranges")?)?;
        let jacobian = blob_to_vector(row.try_get::<&[u8], _>("jacobian")?)?;
        let intercept = blob_to_vector(row.try_get::<&[u8], _>("intercept")?)?;
        let r2 = blob_to_vector(row.try_get::<&[u8], _>("r2")?)?;
        let samples: i64 = row.try_get("samples")?;
        if ranges.len() != 2 * knobs.len()
            || jacobian.len() != intercept.len() * knobs.len()
            || r2.len() != intercept.len()
        {
            return Err(StoreError::Corrupt(format!(
                "the calibration of version {version} ({backend}, {space}) has inconsistent sizes"
            )));
        }
        Ok(Some(Calibration {
            space: space.to_string(),
            knobs,
            ranges: ranges.chunks_exact(2).map(|c| (c[0], c[1])).collect(),
            jacobian,
            intercept,
            r2,
            samples: samples.max(0) as u32,
        }))
    }
}
