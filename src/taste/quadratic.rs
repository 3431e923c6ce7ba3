//! Tastes with curvature: a utility linear in the style axes plus a square term on the leading
//! (named) axes, so that a taste can prefer a middle ("moderate contrast") and not only more or
//! less of something.
//!
//! A taste over a `d`-axis style space is a flat vector `t = [w₀ … w_{d−1}, v₀ … v_{q−1}]`
//! with `0 ≤ q ≤ d`: the utility of a style vector `x` is
//!
//! ```text
//! u(x) = Σₖ wₖ·xₖ + Σⱼ vⱼ·xⱼ²        (j < q: the first q axes carry a square term)
//! ```
//!
//! so `q` is implied by the taste's length, and a plain linear taste (`q = 0`, the only kind
//! codes had before) is read the same way as ever. A negative `vⱼ` with the peak
//! `−wⱼ / (2vⱼ)` inside the pool's range is an ideal point on axis `j`.
//!
//! The pair model stays linear in its features: the features of a standardized vector `z` are
//! [`features`] `φ(z) = [z, z₀² − 1, …, z_{q−1}² − 1]` (centred, so the pool's mean feature is
//! about zero and a like can still be a win over the pool's mean), and `P(left ≻ right) =
//! σ(tᵀ(φ(left) − φ(right)))`. Tastes fitted on standardized axes are stored per raw axis
//! unit ([`to_raw`]); [`to_standardized`] turns them back for a given pool.

use super::TasteError;

/// The model's features of a standardized style vector, with square terms on its first
/// `squared` axes (clamped to its length).
pub fn features(z: &[f64], squared: usize) -> Vec<f64> {
    let q = squared.min(z.len());
    let mut out = Vec::with_capacity(z.len() + q);
    out.extend_from_slice(z);
    out.extend(z[..q].iter().map(|v| v * v - 1.0));
    out
}

/// How many leading axes of a `dim`-axis space a taste of length `len` squares, or why it does
/// not fit that space.
pub fn squared_axes(len: usize, dim: usize) -> Result<usize, TasteError> {
    if len < dim || len > 2 * dim {
        return Err(TasteError::DimensionMismatch {
            what: "taste",
            expected: dim,
            got: len,
        });
    }
    Ok(len - dim)
}

/// `u(x)` of the module documentation; entries of the taste past the space's length and the
/// number of axes it squares are ignored, so callers must check lengths with [`squared_axes`].
pub fn utility<T: Copy + Into<f64>, X: Copy + Into<f64>>(taste: &[T], x: &[X]) -> f64 {
    let d = x.len();
    let linear: f64 = taste
        .iter()
        .zip(x)
        .map(|(w, x)| (*w).into() * (*x).into())
        .sum();
    let square: f64 = taste
        .iter()
        .skip(d)
        .zip(x)
        .map(|(v, x)| {
            let x: f64 = (*x).into();
            (*v).into() * x * x
        })
        .sum();
    linear + square
}

/// The gradient of `u` at `x`: `wₖ + 2vₖxₖ` (an ideal point pulls towards itself).
pub fn gradient(taste: &[f64], x: &[f64]) -> Vec<f64> {
    let d = x.len();
    (0..d)
        .map(|k| {
            let w = taste.get(k).copied().unwrap_or(0.0);
            let v = taste.get(d + k).copied().unwrap_or(0.0);
            w + 2.0 * v * x[k]
        })
        .collect()
}

/// A taste fitted on standardized axes `z = (x − mean) / std` as one over raw axes `x` that
/// ranks every pair of images the same way (the two utilities differ by a constant):
/// `vⱼ → vⱼ / stdⱼ²` and `wₖ → wₖ / stdₖ − 2·vₖ·meanₖ / stdₖ²`.
pub fn to_raw(taste: &[f64], mean: &[f64], std: &[f64]) -> Vec<f64> {
    let d = mean.len().min(std.len());
    let mut raw: Vec<f64> = (0..d)
        .map(|k| taste.get(k).copied().unwrap_or(0.0) / std[k])
        .collect();
    for (j, v) in taste.iter().skip(d).enumerate().take(d) {
        let s2 = std[j] * std[j];
        raw[j] -= 2.0 * v * mean[j] / s2;
        raw.push(v / s2);
    }
    raw
}

/// The inverse of [`to_raw`] for a pool with these statistics, padded with zero square terms to
/// `len` entries (at least the raw taste's own length, at most twice the space's): an older
/// linear code read as a taste with curvature.
pub fn to_standardized(raw: &[f64], mean: &[f64], std: &[f64], len: usize) -> Vec<f64> {
    let d = mean.len().min(std.len());
    let len = len.max(raw.len()).clamp(d, 2 * d);
    let mut out = vec![0.0; len];
    for k in 0..d {
        let a = raw.get(k).copied().unwrap_or(0.0);
        let b = raw.get(d + k).copied().unwrap_or(0.0);
        out[k] = std[k] * (a + 2.0 * b * mean[k]);
        if d + k < len {
            out[d + k] = b * std[k] * std[k];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_square_only_the_leading_axes() {
        assert_eq!(
            features(&[2.0, -1.0, 3.0], 2),
            vec![2.0, -1.0, 3.0, 3.0, 0.0]
        );
        assert_eq!(features(&[2.0], 5), vec![2.0, 3.0]);
        assert_eq!(features(&[2.0, 1.0], 0), vec![2.0, 1.0]);
    }

    #[test]
    fn the_model_features_score_pairs_as_the_utility_does() {
        // tᵀ(φ(a) − φ(b)) = u(a) − u(b): the −1 of the centred squares cancels.
        let t = [0.5, -1.0, 0.25, -2.0];
        let (a, b) = ([0.3, 1.2, -0.7], [-1.1, 0.4, 2.0]);
        let fa = features(&a, 1);
        let fb = features(&b, 1);
        let model: f64 = t
            .iter()
            .zip(fa.iter().zip(&fb))
            .map(|(t, (x, y))| t * (x - y))
            .sum();
        assert!((model - (utility(&t, &a) - utility(&t, &b))).abs() < 1e-12);
    }

    #[test]
    fn an_ideal_point_peaks_where_the_gradient_vanishes() {
        // u = 1.6·x − 0.8·x² peaks at x = 1.
        let t = [1.6, -0.8];
        assert!(utility(&t, &[1.0]) > utility(&t, &[0.0]));
        assert!(utility(&t, &[1.0]) > utility(&t, &[2.0]));
        assert!(gradient(&t, &[1.0])[0].abs() < 1e-12);
        assert!(gradient(&t, &[2.0])[0] < 0.0);
        assert_eq!(squared_axes(2, 1).unwrap(), 1);
        assert!(squared_axes(3, 1).is_err());
        assert!(squared_axes(1, 2).is_err());
    }

    #[test]
    fn raw_and_standardized_tastes_rank_images_alike() {
        let mean = [0.4, -2.0, 5.0];
        let std = [0.1, 2.0, 0.5];
        let taste = [1.0, -0.5, 0.3, -0.7, 0.2];
        let raw = to_raw(&taste, &mean, &std);
        assert_eq!(raw.len(), 5);
        let standardize =
            |x: &[f64; 3]| -> Vec<f64> { (0..3).map(|k| (x[k] - mean[k]) / std[k]).collect() };
        let xs = [[0.5, -1.0, 5.2], [0.3, 1.0, 4.1], [0.41, -3.5, 6.0]];
        for a in &xs {
            for b in &xs {
                let d_std = utility(&taste, &standardize(a)) - utility(&taste, &standardize(b));
                let d_raw = utility(&raw, a) - utility(&raw, b);
                assert!((d_std - d_raw).abs() < 1e-9, "{d_std} vs {d_raw}");
            }
        }
        let back = to_standardized(&raw, &mean, &std, 5);
        for (b, t) in back.iter().zip(&taste) {
            assert!((b - t).abs() < 1e-12);
        }
    }

    #[test]
    fn a_linear_taste_reads_as_one_without_curvature() {
        let mean = [1.0, 2.0];
        let std = [2.0, 4.0];
        let raw = to_raw(&[1.0, -1.0], &mean, &std);
        assert_eq!(raw, vec![0.5, -0.25]);
        assert_eq!(
            to_standardized(&raw, &mean, &std, 4),
            vec![1.0, -1.0, 0.0, 0.0]
        );
        assert_eq!(to_standardized(&raw, &mean, &std, 0), vec![1.0, -1.0]);
    }
}
