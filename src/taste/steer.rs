//! Steering: how a taste vector chooses a backend's knobs, and the calibration it relies on.
//!
//! Calibration is a linear map from knobs to style, `x ≈ b + J k`, fitted by least squares
//! over rendered samples ([`fit_calibration`]). For a taste `t` (in the same space as `J`'s
//! rows, possibly with square terms: see [`super::quadratic`]) and stylize `s`, the knobs move
//! from their base `k₀` by the step `Δ` that maximizes
//!
//! `u(x₀ + JΔ) − (λ/2)‖Δ‖²`,  with `λ = c / ((s/100) · reach)`,
//!
//! and are clamped to their ranges ([`steer`]). `x₀` is where the plain picture is, relative to
//! the pool: measured from rendered plain images when the caller has them ([`candidates`]),
//! else predicted as `J(k₀ − k̄)`, where the base knobs put an average prompt (the pool's knobs
//! are drawn around the middles `k̄` of their ranges). A prompt's content moves its picture
//! away from that average, which matters to a taste with an ideal point: from the measured
//! `x₀` it is steered towards its ideal from where this prompt actually is.
//! `c = ‖Jᵀg‖ / ‖g‖` with `g = ∇u(x₀)` is how much score a knob unit buys per unit of
//! taste (at least `‖J‖₂ / 20`). The step solves `(λI − 2JᵀV₋J) Δ = Jᵀg`, where `V₋` holds the
//! taste's negative square terms. For a linear taste `t = w` that is
//! `Δ = (s/100) · reach · ‖w‖ · Jᵀw / ‖Jᵀw‖`: the knobs move `reach` per 100 of stylize per
//! unit of taste, in the direction that serves it best, whatever the units of the style space
//! and however strongly the knobs move the axes it cares about; a weaker (less certain) taste
//! moves them less. A taste with an ideal point is moved towards it and, however large `s`,
//! not past it. The predicted score never falls as `s` grows, and `s = 0` returns the base
//! knobs exactly. Pure code: no I/O, no randomness.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::quadratic::{gradient, utility};

/// Default distance, in knob units, that a unit taste moves the knobs per 100 of stylize.
pub const DEFAULT_REACH: f32 = 1.2;

/// A taste whose score the knobs move less than this share of `‖J‖₂` per unit moves them
/// proportionally less than `reach` (see [`steer`]).
const MIN_CONTROL: f64 = 0.05;

/// A fitted knob → style linear map for one backend and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Name and version of the style space, e.g. `style-v1`.
    pub space: String,
    /// Knob names, in knob-vector order.
    pub knobs: Vec<String>,
    /// `(min, max)` of every knob.
    pub ranges: Vec<(f32, f32)>,
    /// `J`: style dimensions × knobs, row-major, in raw style units per knob unit.
    pub jacobian: Vec<f32>,
    /// `b`: the style predicted for all-zero knobs.
    pub intercept: Vec<f32>,
    /// Fit quality per style axis: R² of the linear map (1 = perfect; 0 = no better than the
    /// mean; axes that never changed get 1 if predicted exactly).
    pub r2: Vec<f32>,
    /// Number of rendered samples behind the fit.
    pub samples: u32,
}

/// Why a calibration could not be fitted or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SteerError {
    #[error("calibration needs at least {needed} samples, got {got}")]
    TooFewSamples { needed: usize, got: usize },
    #[error("calibration samples disagree in length: {0}")]
    Shape(String),
    #[error("the least-squares fit failed: {0}")]
    Fit(String),
}

impl Calibration {
    /// Number of style dimensions.
    pub fn style_dim(&self) -> usize {
        self.intercept.len()
    }

    /// `J` as a matrix (style dimensions × knobs).
    pub fn jacobian_matrix(&self) -> DMatrix<f32> {
        DMatrix::from_row_slice(self.style_dim(), self.knobs.len(), &self.jacobian)
    }

    /// `J` in standardized units: row `i` divided by `std[i]`, for a taste learned on
    /// standardized style vectors.
    pub fn standardized_jacobian(&self, std: &[f32]) -> DMatrix<f32> {
        let mut j = self.jacobian_matrix();
        for (i, mut row) in j.row_iter_mut().enumerate() {
            let s = std.get(i).copied().unwrap_or(1.0).max(1e-6);
            row /= s;
        }
        j
    }

    /// The style the map predicts for `knobs`.
    pub fn predict(&self, knobs: &[f32]) -> Vec<f32> {
        let k = DVector::from_iterator(
            self.knobs.len(),
            (0..self.knobs.len()).map(|i| knobs.get(i).copied().unwrap_or(0.0)),
        );
        let x = self.jacobian_matrix() * k;
        x.iter().zip(&self.intercept).map(|(a, b)| a + b).collect()
    }
}

/// Fits `style ≈ b + J · knobs` by least squares over paired samples.
pub fn fit_calibration(
    space: &str,
    knob_names: &[String],
    ranges: &[(f32, f32)],
    knobs: &[Vec<f32>],
    styles: &[Vec<f32>],
) -> Result<Calibration, SteerError> {
    let m = knob_names.len();
    let n = knobs.len();
    if n < m + 2 {
        return Err(SteerError::TooFewSamples {
            needed: m + 2,
            got: n,
        });
    }
    if styles.len() != n {
        return Err(SteerError::Shape(format!(
            "{n} knob settings but {} style vectors",
            styles.len()
        )));
    }
    if ranges.len() != m {
        return Err(SteerError::Shape(format!(
            "{m} knobs but {} ranges",
            ranges.len()
        )));
    }
    let d = styles[0].len();
    if let Some(bad) = knobs.iter().find(|k| k.len() != m) {
        return Err(SteerError::Shape(format!(
            "a knob setting has {} values, not {m}",
            bad.len()
        )));
    }
    if let Some(bad) = styles.iter().find(|s| s.len() != d) {
        return Err(SteerError::Shape(format!(
            "a style vector has {} values, not {d}",
            bad.len()
        )));
    }
    let x = DMatrix::from_fn(
        n,
        m + 1,
        |r, c| {
            if c == 0 { 1.0 } else { knobs[r][c - 1] as f64 }
        },
    );
    let y = DMatrix::from_fn(n, d, |r, c| styles[r][c] as f64);
    let beta = x
        .clone()
        .svd(true, true)
        .solve(&y, 1e-10)
        .map_err(|e| SteerError::Fit(e.to_string()))?;
    let residual = &y - &x * &beta;
    let r2 = (0..d)
        .map(|c| {
            let column = y.column(c);
            let mean = column.mean();
            let total: f64 = column.iter().map(|v| (v - mean).powi(2)).sum();
            let left: f64 = residual.column(c).iter().map(|v| v * v).sum();
            if total < 1e-12 {
                if left < 1e-12 { 1.0 } else { 0.0 }
            } else {
                (1.0 - left / total) as f32
            }
        })
        .collect();
    let mut jacobian = Vec::with_capacity(d * m);
    for row in 0..d {
        for k in 0..m {
            jacobian.push(beta[(k + 1, row)] as f32);
        }
    }
    Ok(Calibration {
        space: space.to_string(),
        knobs: knob_names.to_vec(),
        ranges: ranges.to_vec(),
        jacobian,
        intercept: (0..d).map(|row| beta[(0, row)] as f32).collect(),
        r2,
        samples: n as u32,
    })
}

/// How much a taste likes a style vector (same space, same standardization): the utility of
/// [`super::quadratic`].
pub fn taste_score(taste: &[f32], style: &[f32]) -> f32 {
    utility(taste, style) as f32
}

/// Index of the style vector `taste` likes best; `None` for an empty list.
pub fn best_by_taste(taste: &[f32], styles: &[Vec<f32>]) -> Option<usize> {
    styles
        .iter()
        .map(|s| taste_score(taste, s))
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The knobs for taste `taste` at stylize `stylize`, starting from `base`: see the module
/// documentation. `jacobian` is style × knobs in the taste's space.
pub fn steer(
    base: &[f32],
    ranges: &[(f32, f32)],
    jacobian: &DMatrix<f32>,
    taste: &[f32],
    stylize: u32,
    reach: f32,
) -> Vec<f32> {
    steer_scaled(
        base,
        ranges,
        jacobian,
        taste,
        stylize as f32 / 100.0,
        reach,
        None,
    )
}

/// [`steer`] with the stylize step scaled by `scale`, from `plain` (the plain picture's
/// measured standardized style) if given.
fn steer_scaled(
    base: &[f32],
    ranges: &[(f32, f32)],
    jacobian: &DMatrix<f32>,
    taste: &[f32],
    scale: f32,
    reach: f32,
    plain: Option<&[f32]>,
) -> Vec<f32> {
    let (d, m) = jacobian.shape();
    if scale <= 0.0 || reach <= 0.0 || m == 0 {
        return base.to_vec();
    }
    let j = jacobian.map(f64::from);
    let norm = j
        .clone()
        .singular_values()
        .iter()
        .copied()
        .fold(0.0, f64::max);
    if norm <= f64::from(f32::EPSILON) {
        return base.to_vec();
    }
    let range = |i: usize| ranges.get(i).copied().unwrap_or((-1.0, 1.0));
    let offset = DVector::from_iterator(
        m,
        (0..m).map(|i| {
            let (lo, hi) = range(i);
            f64::from(base.get(i).copied().unwrap_or(0.0)) - 0.5 * f64::from(lo + hi)
        }),
    );
    let from = match plain {
        Some(x) if x.len() == d => DVector::from_iterator(d, x.iter().map(|&v| f64::from(v))),
        _ => &j * offset,
    };
    let t: Vec<f64> = taste.iter().map(|&v| f64::from(v)).collect();
    let grad = DVector::from_vec(gradient(&t, from.as_slice()));
    let pull = j.tr_mul(&grad);
    // How much predicted score a knob unit buys for this taste, relative to the taste's
    // strength: ‖Jᵀg‖/‖g‖. Dividing by it (rather than by ‖J‖, the best any taste could get)
    // moves a taste the knobs serve weakly as far as one they serve strongly; below a
    // twentieth of ‖J‖ the step shrinks instead, so a taste the knobs can hardly serve does
    // not swing them for nothing.
    let g = grad.norm();
    let controllable = if g > 0.0 { pull.norm() / g } else { norm };
    let lambda = controllable.max(MIN_CONTROL * norm) / f64::from(scale * reach);
    // Only concave square terms bend the path; they keep the system positive definite.
    let mut bend = j.clone();
    for (k, mut row) in bend.row_iter_mut().enumerate() {
        let v = t.get(d + k).copied().unwrap_or(0.0).min(0.0);
        row *= -2.0 * v;
    }
    let mut system = j.tr_mul(&bend);
    for i in 0..m {
        system[(i, i)] += lambda;
    }
    let step = match system.cholesky() {
        Some(ch) => ch.solve(&pull),
        None => pull / lambda,
    };
    base.iter()
        .enumerate()
        .map(|(i, &k0)| {
            let (lo, hi) = range(i);
            (k0 + step.get(i).copied().unwrap_or(0.0) as f32).clamp(lo, hi)
        })
        .collect()
}

/// `count` knob settings to render and choose from by [`best_by_taste`]: the steered knobs
/// first, then steps of 1.25×, 0.75×, 1.5×, 0.5×… the stylize step. At stylize 0, or with
/// `count` ≤ 1, only the steered knobs (so `--s 0` is exactly the unpersonalized picture).
/// `plain` is the measured standardized style of the plain picture (the mean over a batch),
/// when the caller rendered it: steering then starts from there rather than from the
/// calibration's prediction.
#[allow(clippy::too_many_arguments)]
pub fn candidates(
    base: &[f32],
    ranges: &[(f32, f32)],
    jacobian: &DMatrix<f32>,
    taste: &[f32],
    stylize: u32,
    reach: f32,
    count: usize,
    plain: Option<&[f32]>,
) -> Vec<Vec<f32>> {
    let scale = stylize as f32 / 100.0;
    let first = steer_scaled(base, ranges, jacobian, taste, scale, reach, plain);
    if stylize == 0 || count <= 1 {
        return vec![first];
    }
    let mut out = vec![first];
    for i in 1..count {
        let level = i.div_ceil(2) as f32 * 0.25;
        let factor = if i % 2 == 1 {
            1.0 + level
        } else {
            (1.0 - level).max(0.1)
        };
        out.push(steer_scaled(
            base,
            ranges,
            jacobian,
            taste,
            scale * factor,
            reach,
            plain,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: usize) -> Vec<String> {
        (0..m).map(|i| format!("k{i}")).collect()
    }

    #[test]
    fn fitting_recovers_a_known_linear_map() {
        // style = b + J k with J 3×2, sampled on a small grid.
        let j = [[2.0, 0.0], [0.5, -1.0], [0.0, 0.0]];
        let b = [1.0, -2.0, 7.0];
        let mut knobs = vec![];
        let mut styles = vec![];
        for a in [-1.0, -0.3, 0.4, 1.0] {
            for c in [-0.8, 0.1, 0.9] {
                knobs.push(vec![a, c]);
                styles.push((0..3).map(|r| b[r] + j[r][0] * a + j[r][1] * c).collect());
            }
        }
        let cal = fit_calibration("s", &names(2), &[(-1.0, 1.0); 2], &knobs, &styles).unwrap();
        for (r, row) in j.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                assert!((cal.jacobian[r * 2 + c] - value).abs() < 1e-4);
            }
            assert!((cal.intercept[r] - b[r]).abs() < 1e-4);
            assert!((cal.r2[r] - 1.0).abs() < 1e-4);
        }
        let p = cal.predict(&[0.5, 0.5]);
        assert!((p[0] - 2.0).abs() < 1e-4 && (p[1] + 2.25).abs() < 1e-4);
        assert!(
            fit_calibration("s", &names(2), &[(-1.0, 1.0); 2], &knobs[..3], &styles[..3]).is_err()
        );
    }

    #[test]
    fn steering_follows_the_taste_and_respects_ranges() {
        let j = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 2.0]);
        let ranges = [(-1.0, 1.0), (-1.0, 1.0)];
        let base = [0.0, 0.0];
        // s = 0 is the base, exactly.
        assert_eq!(
            steer(&base, &ranges, &j, &[1.0, 1.0], 0, 0.3),
            base.to_vec()
        );
        // A unit taste moves its knob 0.3 per 100, whether the knob moves its axis 1:1 or 2:1.
        let k = steer(&base, &ranges, &j, &[1.0, 0.0], 100, 0.3);
        assert!((k[0] - 0.3).abs() < 1e-6 && k[1] == 0.0, "{k:?}");
        let k = steer(&base, &ranges, &j, &[0.0, 1.0], 100, 0.3);
        assert!(k[0] == 0.0 && (k[1] - 0.3).abs() < 1e-6, "{k:?}");
        // A taste twice as strong moves twice as far.
        let k = steer(&base, &ranges, &j, &[2.0, 0.0], 100, 0.3);
        assert!((k[0] - 0.6).abs() < 1e-6, "{k:?}");
        // A taste the knobs serve at less than a twentieth of ‖J‖₂ (= 2) moves proportionally
        // less: here 0.01 of score per knob unit against a floor of 0.1, a tenth of the step.
        let weak = DMatrix::from_row_slice(2, 2, &[0.01, 0.0, 0.0, 2.0]);
        let k = steer(&base, &ranges, &weak, &[1.0, 0.0], 100, 0.3);
        assert!((k[0] - 0.3 * 0.01 / 0.1).abs() < 1e-6, "{k:?}");
        let k = steer(&base, &ranges, &j, &[0.0, -1.0], 1000, 0.3);
        assert_eq!(k, vec![0.0, -1.0]);
        // The predicted score never falls as s grows.
        let w = [0.7, -0.4];
        let mut last = f32::MIN;
        for s in [0, 50, 100, 250, 750, 1000] {
            let k = steer(&base, &ranges, &j, &w, s, 0.3);
            let x = &j * DVector::from_column_slice(&k);
            let score = taste_score(&w, x.as_slice());
            assert!(score >= last);
            last = score;
        }
    }

    #[test]
    fn an_ideal_point_is_approached_and_never_passed() {
        // One knob moves one axis 1:1; the taste peaks at x = 1 (u = 2x − x²).
        let j = DMatrix::from_row_slice(1, 1, &[1.0]);
        let ranges = [(-5.0, 5.0)];
        let taste = [2.0, -1.0];
        let mut last = 0.0;
        for s in [50, 100, 250, 1000] {
            let k = steer(&[0.0], &ranges, &j, &taste, s, 0.6)[0];
            assert!(k > last && k < 1.0, "s {s}: {k}");
            last = k;
        }
        assert!(last > 0.8, "{last}");
        // From beyond the peak, it steers back towards it.
        let k = steer(&[3.0], &ranges, &j, &taste, 1000, 0.6)[0];
        assert!(k < 3.0 && k > 1.0, "{k}");
        // A linear taste of the same slope at 0 keeps going, to the knob's limit.
        assert_eq!(steer(&[0.0], &ranges, &j, &[2.0], 1000, 0.6), vec![5.0]);
    }

    #[test]
    fn a_measured_plain_picture_decides_the_direction() {
        // The calibration puts the base knobs at x = 0, below the peak at x = 1, but this
        // prompt's plain picture measures x = 2: the knobs go down, and not past the peak.
        let j = DMatrix::from_row_slice(1, 1, &[1.0]);
        let ranges = [(-5.0, 5.0)];
        let taste = [2.0, -1.0];
        let predicted = candidates(&[0.0], &ranges, &j, &taste, 1000, 0.6, 1, None)[0][0];
        assert!(predicted > 0.0, "{predicted}");
        let measured = candidates(&[0.0], &ranges, &j, &taste, 1000, 0.6, 1, Some(&[2.0]))[0][0];
        assert!(measured < 0.0 && measured > -1.0, "{measured}");
        // A measurement of the wrong length is ignored.
        let wrong = candidates(&[0.0], &ranges, &j, &taste, 1000, 0.6, 1, Some(&[2.0, 0.0]));
        assert_eq!(wrong[0][0], predicted);
    }

    #[test]
    fn candidates_start_with_the_steered_knobs() {
        let j = DMatrix::from_row_slice(1, 1, &[1.0]);
        let c = candidates(&[0.0], &[(-1.0, 1.0)], &j, &[1.0], 100, 0.3, 4, None);
        assert_eq!(c.len(), 4);
        assert!((c[0][0] - 0.3).abs() < 1e-6);
        assert!(c[1][0] > c[0][0] && c[2][0] < c[0][0]);
        assert_eq!(
            candidates(&[0.2], &[(-1.0, 1.0)], &j, &[1.0], 0, 0.3, 4, None),
            vec![vec![0.2]]
        );
        assert_eq!(
            best_by_taste(&[1.0, -1.0], &[vec![0.0, 1.0], vec![1.0, 0.0]]),
            Some(1)
        );
        assert_eq!(best_by_taste(&[1.0], &[]), None);
    }
}
