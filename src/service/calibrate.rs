//! Calibrating a version's backend: how its knobs move style, per model, resumable.
//!
//! A Stable Diffusion calibration is a few hundred renders. Each measured render is stored as it
//! finishes, so one failed render (a server that went away, a timeout) costs that render only:
//! running the calibration again continues where it stopped. The result is kept per version,
//! backend and model, so a version whose model changes is calibrated afresh.

use super::{Error, Result, Service};
use crate::render::backend::Backend;
use crate::render::steering::calibrate::{
    CalibrationPlan, calibrate_sketch, fit_report, render_sample,
};
use crate::render::style::{SPACE, StyleVector};
use crate::store::SampleKey;
use crate::taste::steer::Calibration;

/// Random knob settings a backend calibration renders on top of the one-knob-at-a-time ones.
pub const CALIBRATION_RANDOM_SETTINGS: usize = 6;

/// A finished calibration.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// The backend that was calibrated.
    pub backend: &'static str,
    /// The model it was calibrated for ('' for the built-in renderer or the server's current one).
    pub model: String,
    pub calibration: Calibration,
    /// Renders taken from an earlier, interrupted run.
    pub resumed: usize,
    /// The per-axis fit report.
    pub report: String,
}

impl Service {
    /// Calibrates the backend of `version` and stores the result: the built-in renderer in a
    /// second or two; a Stable Diffusion backend with 5 × (1 + 2·knobs + 6) renders at the
    /// version's size, each stored as it finishes (a failure keeps them, and the next run
    /// resumes). `progress(done, total)` follows every render.
    pub async fn calibrate(
        &self,
        version: &str,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Calibrated> {
        self.check_version(version)?;
        let backend = self.backends.get(version);
        let model = backend.model().to_string();
        let (calibration, resumed) = if backend.is_sketch() {
            let run = calibrate_sketch(progress).map_err(|e| Error::Render(e.into()))?;
            (run.calibration, 0)
        } else {
            backend.verify().await.map_err(Error::Render)?;
            let plan = CalibrationPlan::new(
                backend.knobs(),
                CALIBRATION_RANDOM_SETTINGS,
                self.config.render.size_for(version),
            );
            let plan_key = plan.key();
            let key = SampleKey {
                version,
                backend: backend.name(),
                model: &model,
                plan: &plan_key,
            };
            let mut stored = self.store.calibration_samples(&key, SPACE).await?;
            let resumed = stored.len();
            let total = plan.len();
            let mut styles = Vec::with_capacity(total);
            for index in 0..total {
                let style = match stored
                    .remove(&index)
                    .and_then(|v| StyleVector::from_slice(&v))
                {
                    Some(style) => style,
                    None => {
                        let style = render_sample(&*backend, &plan, index)
                            .await
                            .map_err(Error::Render)?;
                        self.store
                            .save_calibration_sample(&key, index, SPACE, &style.0)
                            .await?;
                        style
                    }
                };
                styles.push(style);
                progress(index + 1, total);
            }
            let run = plan.fit(styles).map_err(|e| Error::Render(e.into()))?;
            (run.calibration, resumed)
        };
        self.store
            .save_calibration(version, backend.name(), &model, &calibration)
            .await?;
        let report = format!(
            "version {version} ({}{}):\n{}",
            backend.name(),
            if model.is_empty() {
                String::new()
            } else {
                format!(", model {model}")
            },
            fit_report(&calibration)
        );
        Ok(Calibrated {
            backend: backend.name(),
            model,
            calibration,
            resumed,
            report,
        })
    }
}
