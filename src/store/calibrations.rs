//! Calibrations: the knob → style linear map of each version and backend, per style space.

use sqlx::Row;

use super::{Store, StoreError, blob_to_vector, now_ms, vector_to_blob};
use crate::taste::steer::Calibration;

impl Store {
    /// Stores `calibration` for `version` served by `backend`, replacing an earlier one in the
    /// same style space.
    pub async fn save_calibration(
        &self,
        version: &str,
        backend: &str,
        calibration: &Calibration,
    ) -> Result<(), StoreError> {
        let knobs = serde_json::to_string(&calibration.knobs)
            .map_err(|e| StoreError::Corrupt(format!("knob names: {e}")))?;
        let ranges: Vec<f32> = calibration
            .ranges
            .iter()
            .flat_map(|(lo, hi)| [*lo, *hi])
            .collect();
        sqlx::query(
            "INSERT INTO calibrations
                 (version, backend, space, knobs, ranges, jacobian, intercept, r2, samples, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (version, backend, space) DO UPDATE SET
                 knobs = excluded.knobs, ranges = excluded.ranges, jacobian = excluded.jacobian,
                 intercept = excluded.intercept, r2 = excluded.r2, samples = excluded.samples,
                 created_at = excluded.created_at",
        )
        .bind(version)
        .bind(backend)
        .bind(&calibration.space)
        .bind(knobs)
        .bind(vector_to_blob(&ranges))
        .bind(vector_to_blob(&calibration.jacobian))
        .bind(vector_to_blob(&calibration.intercept))
        .bind(vector_to_blob(&calibration.r2))
        .bind(calibration.samples as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The calibration of `version` served by `backend` in style space `space`, if any.
    pub async fn load_calibration(
        &self,
        version: &str,
        backend: &str,
        space: &str,
    ) -> Result<Option<Calibration>, StoreError> {
        let row = sqlx::query(
            "SELECT knobs, ranges, jacobian, intercept, r2, samples FROM calibrations
             WHERE version = ? AND backend = ? AND space = ?",
        )
        .bind(version)
        .bind(backend)
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
