//! Calibration: render a spread of knob settings, measure their style, fit knob → style.
//!
//! The fit itself is pure linear algebra ([`crate::taste::steer::fit_calibration`]); this file
//! chooses the knob settings, renders them and measures them. The built-in renderer is cheap
//! enough to calibrate itself on first use ([`calibrate_sketch`], a second or two).

use std::sync::OnceLock;

use crate::render::RenderError;
use crate::render::backend::knobs::{KnobSpec, SKETCH_KNOBS, sketch_knobs};
use crate::render::backend::{Backend, RenderRequest, no_progress};
use crate::render::sketch;
use crate::render::style::{ANALYSIS_SIZE, SPACE, StyleVector, axis_names, describe};
use crate::taste::steer::{Calibration, SteerError, fit_calibration};

/// Prompts the calibration renders: different scenes, so the map holds across subjects.
pub const CALIBRATION_PROMPTS: [&str; 5] = [
    "a husky in a desert at sunset",
    "a lighthouse by the sea",
    "a fox in a forest",
    "snowy mountains at night",
    "flowers in a meadow",
];

/// Knob settings to calibrate on: all zeros, each knob alone at ±0.8, then `random` settings
/// spread over the whole box (deterministic for `seed`).
pub fn design(knobs: usize, random: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0.0; knobs]];
    for k in 0..knobs {
        for v in [-0.8, 0.8] {
            let mut s = vec![0.0; knobs];
            s[k] = v;
            out.push(s);
        }
    }
    let mut state = seed ^ 0x5DEE_CE66_D1A4_F87D;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    };
    for _ in 0..random {
        out.push((0..knobs).map(|_| next()).collect());
    }
    out
}

/// What a calibration run produced: the fitted map and the style of every sample (a pool
/// for standardization when there is no better one).
#[derive(Debug, Clone)]
pub struct CalibrationRun {
    pub calibration: Calibration,
    pub samples: Vec<StyleVector>,
}

/// Calibrates the built-in renderer: every design setting on every calibration prompt, at the
/// analysis size. `progress(done, total)` is called after each render.
pub fn calibrate_sketch(progress: &dyn Fn(usize, usize)) -> Result<CalibrationRun, SteerError> {
    let settings = design(SKETCH_KNOBS.len(), 24, 7);
    let total = settings.len() * CALIBRATION_PROMPTS.len();
    let mut knobs = Vec::with_capacity(total);
    let mut styles = Vec::with_capacity(total);
    let mut samples = Vec::with_capacity(total);
    for (p, prompt) in CALIBRATION_PROMPTS.iter().enumerate() {
        for (i, setting) in settings.iter().enumerate() {
            let image =
                sketch::render(prompt, 11 + p as u64, setting, ANALYSIS_SIZE, ANALYSIS_SIZE);
            let style = describe(&image);
            knobs.push(setting.clone());
            styles.push(style.0.to_vec());
            samples.push(style);
            progress(p * settings.len() + i + 1, total);
        }
    }
    let specs = sketch_knobs();
    let calibration = fit_per_prompt(&specs, settings.len(), &knobs, styles)?;
    Ok(CalibrationRun {
        calibration,
        samples,
    })
}

/// Fits the map over samples grouped by prompt (`per_prompt` consecutive samples each).
///
/// Scenes differ far more than knobs move them, so each prompt's mean style is removed first
/// (a fixed effect per prompt; the grand mean is kept as the intercept): the fit and its R² are
/// about what the knobs do within a scene.
fn fit_per_prompt(
    specs: &[KnobSpec],
    per_prompt: usize,
    knobs: &[Vec<f32>],
    mut styles: Vec<Vec<f32>>,
) -> Result<Calibration, SteerError> {
    let dim = styles.first().map_or(0, |s| s.len());
    let count = styles.len().max(1) as f32;
    let grand: Vec<f32> = (0..dim)
        .map(|d| styles.iter().map(|s| s[d]).sum::<f32>() / count)
        .collect();
    for chunk in styles.chunks_mut(per_prompt.max(1)) {
        let mean: Vec<f32> = (0..dim)
            .map(|d| chunk.iter().map(|s| s[d]).sum::<f32>() / chunk.len() as f32)
            .collect();
        for s in chunk.iter_mut() {
            for (d, value) in s.iter_mut().enumerate() {
                *value += grand[d] - mean[d];
            }
        }
    }
    let names: Vec<String> = specs.iter().map(|k| k.name.clone()).collect();
    let ranges: Vec<(f32, f32)> = specs.iter().map(|k| (k.min, k.max)).collect();
    fit_calibration(SPACE, &names, &ranges, knobs, &styles)
}

/// The built-in renderer's calibration, computed once per process on first use.
pub fn sketch_calibration() -> Result<&'static CalibrationRun, SteerError> {
    static RUN: OnceLock<Result<CalibrationRun, SteerError>> = OnceLock::new();
    RUN.get_or_init(|| calibrate_sketch(&|_, _| {}))
        .as_ref()
        .map_err(Clone::clone)
}

/// The renders a backend calibration needs: `random` random settings plus the
/// one-knob-at-a-time ones, on every calibration prompt, one square image of `size` each
/// (the version's own size: a model calibrated at a size it was not trained for would be
/// measured on degraded pictures). Slow on real GPUs: 5 × (1 + 2m + random) renders, so they
/// are numbered and can be stored as they finish, and a calibration interrupted by a failure
/// resumes where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationPlan {
    pub specs: Vec<KnobSpec>,
    /// Knob settings, the same for every prompt.
    pub settings: Vec<Vec<f32>>,
    pub size: u32,
}

impl CalibrationPlan {
    pub fn new(specs: Vec<KnobSpec>, random: usize, size: u32) -> CalibrationPlan {
        let settings = design(specs.len(), random, 7);
        CalibrationPlan {
            specs,
            settings,
            size,
        }
    }

    /// How many renders the plan holds.
    pub fn len(&self) -> usize {
        self.settings.len() * CALIBRATION_PROMPTS.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What identifies the plan's renders: a stored sample is reused only by a plan with the
    /// same key (the same knobs, settings and size).
    pub fn key(&self) -> String {
        let names: Vec<&str> = self.specs.iter().map(|k| k.name.as_str()).collect();
        format!(
            "knobs={};settings={};size={}",
            names.join(","),
            self.settings.len(),
            self.size
        )
    }

    /// The render of sample `index` (prompt by prompt, settings in order within each).
    pub fn request(&self, index: usize) -> RenderRequest {
        let per_prompt = self.settings.len();
        let p = index / per_prompt;
        RenderRequest {
            prompt: CALIBRATION_PROMPTS[p].to_string(),
            seed: 11 + p as u64,
            knobs: self.settings[index % per_prompt].clone(),
            width: self.size,
            height: self.size,
            count: 1,
            ..RenderRequest::default()
        }
    }

    /// Fits the map to every sample's measured style (`styles[i]` for [`Self::request`]`(i)`).
    pub fn fit(&self, styles: Vec<StyleVector>) -> Result<CalibrationRun, SteerError> {
        let knobs: Vec<Vec<f32>> = (0..styles.len())
            .map(|i| self.settings[i % self.settings.len()].clone())
            .collect();
        let rows = styles.iter().map(|s| s.0.to_vec()).collect();
        let calibration = fit_per_prompt(&self.specs, self.settings.len(), &knobs, rows)?;
        Ok(CalibrationRun {
            calibration,
            samples: styles,
        })
    }
}

/// Renders sample `index` of `plan` with `backend` and measures its style.
pub async fn render_sample<B: Backend>(
    backend: &B,
    plan: &CalibrationPlan,
    index: usize,
) -> Result<StyleVector, RenderError> {
    let images = backend.render(&plan.request(index), no_progress()).await?;
    let image = images
        .first()
        .ok_or_else(|| RenderError::Backend("the backend returned no image".into()))?;
    Ok(describe(image))
}

/// The fit quality per axis, one line each: `axis  R²  strongest knob`.
pub fn fit_report(calibration: &Calibration) -> String {
    let names = axis_names();
    let m = calibration.knobs.len();
    let mut out = format!(
        "calibration of {} knobs on {} samples ({})\n{:<16} {:>6}  strongest knob\n",
        m, calibration.samples, calibration.space, "axis", "R²"
    );
    for (i, r2) in calibration.r2.iter().enumerate() {
        let row = &calibration.jacobian[i * m..(i + 1) * m];
        let strongest = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(k, v)| format!("{} ({v:+.3})", calibration.knobs[k]))
            .unwrap_or_default();
        let name = names.get(i).cloned().unwrap_or_else(|| format!("axis {i}"));
        out.push_str(&format!("{name:<16} {r2:>6.3}  {strongest}\n"));
    }
    out
}
