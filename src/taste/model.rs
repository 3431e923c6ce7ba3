//! The pair model: P(left ≻ right) = σ(wᵀ(x_left − x_right)), fitted as a Bayesian logistic
//! regression with a Gaussian prior and a Laplace posterior.
//!
//! A vote becomes an [`Observation`]: the difference of the two style vectors, signed so that
//! the winner comes first. [`fit`] finds the maximum a posteriori taste `w` by Newton's method
//! (iteratively reweighted least squares) on
//!
//! ```text
//! L(w) = Σᵢ cᵢ · softplus(−wᵀzᵢ) + ‖w − m‖² / (2σ²)
//! ```
//!
//! where `zᵢ` is the signed difference, `cᵢ` its weight, and `N(m, σ²I)` the [`Prior`] (or
//! `N(m, diag(σₖ²))`, whose per-axis variances [`fit_ard`] learns from the votes). The
//! posterior covariance is the inverse Hessian at the optimum (Laplace's approximation):
//! `Σ = (Σᵢ cᵢ pᵢ(1−pᵢ) zᵢzᵢᵀ + I/σ²)⁻¹`.
//!
//! [`Posterior::update`] folds in one more vote in O(d²) by treating the current posterior as
//! the prior (online Laplace): the new mode lies on the line `μ + αΣz`, so it is a scalar
//! equation solved exactly, and the covariance follows by Sherman–Morrison. It drifts slightly
//! from a full [`fit`] of all votes; a refit at each checkpoint puts it right.
//!
//! The prior's penalty matches scikit-learn's `LogisticRegression(fit_intercept=False, C=σ²)`
//! when `m = 0`, which is how the fitter is checked against an independent implementation
//! (`tests/taste_sim/fit.rs`).

use nalgebra::{DMatrix, DVector};

use super::TasteError;
use crate::domain::Choice;

/// The logistic function, written so that it neither overflows nor loses precision.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + eᵗ)` without overflow: the loss of a vote is `softplus(−wᵀz)`.
pub fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

fn check_finite(what: &'static str, v: &[f64]) -> Result<(), TasteError> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(TasteError::NotFinite { what })
    }
}

fn check_dim(what: &'static str, expected: usize, got: usize) -> Result<(), TasteError> {
    if expected == got {
        Ok(())
    } else {
        Err(TasteError::DimensionMismatch {
            what,
            expected,
            got,
        })
    }
}

/// One piece of evidence: the winner's style vector minus the loser's, with a weight.
///
/// Skips carry no evidence and have no observation (see [`Observation::from_choice`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `x_winner − x_loser`.
    pub diff: DVector<f64>,
    /// How much the vote counts; 1 for a ranked pair.
    pub weight: f64,
}

impl Observation {
    /// The vote "`left` beats `right`" (`left_won`) or the reverse, weight 1.
    pub fn pair(left: &[f64], right: &[f64], left_won: bool) -> Result<Self, TasteError> {
        check_dim("pair", left.len(), right.len())?;
        check_finite("left style vector", left)?;
        check_finite("right style vector", right)?;
        let diff = DVector::from_iterator(
            left.len(),
            left.iter()
                .zip(right)
                .map(|(l, r)| if left_won { l - r } else { r - l }),
        );
        Ok(Observation { diff, weight: 1.0 })
    }

    /// The observation for a vote as recorded; `None` for a skip, which teaches nothing.
    pub fn from_choice(
        left: &[f64],
        right: &[f64],
        choice: Choice,
    ) -> Result<Option<Self>, TasteError> {
        match choice {
            Choice::Left => Self::pair(left, right, true).map(Some),
            Choice::Right => Self::pair(left, right, false).map(Some),
            Choice::Skip => Ok(None),
        }
    }

    /// A like: the liked image beats the pool, represented by the pool's mean style vector.
    /// With standardized axes the pool mean is (close to) zero.
    pub fn like(liked: &[f64], pool_mean: &[f64]) -> Result<Self, TasteError> {
        Self::pair(liked, pool_mean, true)
    }

    /// An observation from an already signed difference (winner minus loser).
    pub fn from_diff(diff: &[f64]) -> Result<Self, TasteError> {
        check_finite("difference vector", diff)?;
        Ok(Observation {
            diff: DVector::from_column_slice(diff),
            weight: 1.0,
        })
    }

    /// The same observation counting `weight` times (e.g. likes counted at half a vote).
    pub fn weighted(mut self, weight: f64) -> Result<Self, TasteError> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(TasteError::BadWeight(weight));
        }
        self.weight = weight;
        Ok(self)
    }

    /// Dimension of the style space this observation lives in.
    pub fn dim(&self) -> usize {
        self.diff.len()
    }
}

/// The Gaussian prior `N(mean, diag(variances))` on a taste vector; usually isotropic
/// (`σ²I`), per-axis after [`fit_ard`], or with a full covariance ([`Prior::full`], the
/// community prior of [`super::community`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    pub mean: DVector<f64>,
    /// The variance of each axis (the covariance's diagonal when there is a full one).
    pub variances: DVector<f64>,
    /// The inverse of the full covariance, when the prior has one; `None` for a diagonal prior.
    pub precision: Option<DMatrix<f64>>,
}

fn check_variance(v: f64) -> Result<(), TasteError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(TasteError::BadPriorVariance(v))
    }
}

impl Prior {
    /// A prior centred on zero: no taste until the votes say otherwise.
    pub fn zero(dim: usize, variance: f64) -> Result<Self, TasteError> {
        Self::centred(&vec![0.0; dim], variance)
    }

    /// A prior centred on `mean`, e.g. the community's mean taste for the version.
    pub fn centred(mean: &[f64], variance: f64) -> Result<Self, TasteError> {
        check_variance(variance)?;
        Self::diagonal(mean, &vec![variance; mean.len()])
    }

    /// A prior with its own variance on each axis.
    pub fn diagonal(mean: &[f64], variances: &[f64]) -> Result<Self, TasteError> {
        check_dim("prior variances", mean.len(), variances.len())?;
        check_finite("prior mean", mean)?;
        for &v in variances {
            check_variance(v)?;
        }
        Ok(Prior {
            mean: DVector::from_column_slice(mean),
            variances: DVector::from_column_slice(variances),
            precision: None,
        })
    }

    /// A prior with a full covariance: it must be symmetric positive definite.
    pub fn full(mean: &[f64], covariance: &DMatrix<f64>) -> Result<Self, TasteError> {
        let d = mean.len();
        check_dim("prior covariance", d, covariance.nrows())?;
        check_dim("prior covariance", d, covariance.ncols())?;
        check_finite("prior mean", mean)?;
        check_finite("prior covariance", covariance.as_slice())?;
        let sym = (covariance + covariance.transpose()) * 0.5;
        let Some(ch) = sym.clone().cholesky() else {
            return Err(TasteError::BadPriorVariance(sym.diagonal().min()));
        };
        let inv = ch.inverse();
        Ok(Prior {
            mean: DVector::from_column_slice(mean),
            variances: sym.diagonal(),
            precision: Some((&inv + inv.transpose()) * 0.5),
        })
    }

    /// The prior's covariance matrix.
    pub fn covariance(&self) -> DMatrix<f64> {
        match &self.precision {
            Some(p) => spd_inverse(p),
            None => DMatrix::from_diagonal(&self.variances),
        }
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The prior itself, as the posterior after no votes.
    pub fn to_posterior(&self) -> Posterior {
        Posterior {
            mean: self.mean.clone(),
            cov: self.covariance(),
        }
    }
}

/// Settings of the Newton iteration. The defaults converge to machine precision on any data a
/// profile can hold; they exist so tests and benchmarks can see the iteration count matter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Upper bound on Newton steps.
    pub max_iter: usize,
    /// Stop when the Newton decrement ½ gᵀH⁻¹g falls below this, after taking that last full
    /// step without a new Hessian. With 1e-12 the last step is at most about 1e-6 long;
    /// Newton's method converges quadratically there, so the mean it leaves is within rounding
    /// of the optimum, and the covariance comes from a Hessian at most that far from it.
    pub tol: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

/// A Laplace posterior over taste vectors: `N(mean, cov)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// The MAP taste vector `w`.
    pub mean: DVector<f64>,
    /// The covariance, the inverse Hessian of the negative log posterior at `mean`.
    pub cov: DMatrix<f64>,
}

/// All observations stacked for matrix arithmetic: row i of `z` is `zᵢ`, `c[i]` its weight.
struct Batch<'a> {
    z: DMatrix<f64>,
    c: DVector<f64>,
    prior: &'a Prior,
    precision: DVector<f64>,
}

impl Batch<'_> {
    /// `P·dw` for the prior's precision `P` (diagonal or full).
    fn prior_pull(&self, dw: &DVector<f64>) -> DVector<f64> {
        match &self.prior.precision {
            Some(p) => p * dw,
            None => dw.component_mul(&self.precision),
        }
    }
}

impl<'a> Batch<'a> {
    fn new(obs: &[Observation], prior: &'a Prior) -> Self {
        let d = prior.dim();
        let z = DMatrix::from_fn(obs.len(), d, |i, k| obs[i].diff[k]);
        let c = DVector::from_iterator(obs.len(), obs.iter().map(|o| o.weight));
        Batch {
            z,
            c,
            prior,
            precision: prior.variances.map(|v| 1.0 / v),
        }
    }

    /// The negative log posterior (up to a constant) at `w`.
    fn objective(&self, w: &DVector<f64>) -> f64 {
        let margins = &self.z * w;
        let data: f64 = margins
            .iter()
            .zip(self.c.iter())
            .map(|(m, c)| c * softplus(-m))
            .sum();
        let dw = w - &self.prior.mean;
        data + 0.5 * dw.dot(&self.prior_pull(&dw))
    }

    /// Gradient and Hessian of the objective at `w`.
    fn grad_hess(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let margins = &self.z * w;
        let n = margins.len();
        // d/dw softplus(−wᵀz) = −(1 − p) z ;  d²/dw² = p(1 − p) z zᵀ
        let mut resid = DVector::zeros(n);
        let mut root_lambda = DVector::zeros(n);
        for i in 0..n {
            let p = sigmoid(margins[i]);
            resid[i] = -self.c[i] * (1.0 - p);
            root_lambda[i] = (self.c[i] * p * (1.0 - p)).sqrt();
        }
        let g = self.z.tr_mul(&resid) + self.prior_pull(&(w - &self.prior.mean));
        let mut scaled = self.z.clone();
        for (i, mut row) in scaled.row_iter_mut().enumerate() {
            row *= root_lambda[i];
        }
        // H = ZᵀΛZ + diag(precision). The product goes through nalgebra's blocked matrix
        // multiply (matrixmultiply's dgemm), several times faster than one dot product per
        // entry; the upper triangle is then mirrored so H is exactly symmetric.
        let mut h = scaled.transpose() * &scaled;
        let d = h.ncols();
        for a in 0..d {
            for b in a + 1..d {
                h[(b, a)] = h[(a, b)];
            }
        }
        match &self.prior.precision {
            Some(p) => h += p,
            None => {
                for a in 0..d {
                    h[(a, a)] += self.precision[a];
                }
            }
        }
        (g, h)
    }
}

/// Gradient and Hessian of the negative log posterior at `w` (for tests).
#[cfg(test)]
fn grad_hess(obs: &[Observation], prior: &Prior, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
    Batch::new(obs, prior).grad_hess(w)
}

/// Inverse of a symmetric positive definite matrix, symmetrised; falls back to a jittered
/// Cholesky and finally to the diagonal if rounding ever made it indefinite.
fn spd_inverse(h: &DMatrix<f64>) -> DMatrix<f64> {
    let d = h.nrows();
    let mut jitter = 0.0;
    for _ in 0..8 {
        let m = h + DMatrix::identity(d, d) * jitter;
        if let Some(ch) = m.cholesky() {
            let inv = ch.inverse();
            return (&inv + inv.transpose()) * 0.5;
        }
        jitter = if jitter == 0.0 {
            1e-12 * (1.0 + h.diagonal().amax())
        } else {
            jitter * 100.0
        };
    }
    DMatrix::from_diagonal(&h.diagonal().map(|x| 1.0 / x.max(f64::MIN_POSITIVE)))
}

/// Solve `h x = g` for symmetric positive definite `h`.
fn spd_solve(h: &DMatrix<f64>, g: &DVector<f64>) -> DVector<f64> {
    match h.clone().cholesky() {
        Some(ch) => ch.solve(g),
        None => spd_inverse(h) * g,
    }
}

/// Full MAP fit of all observations under `prior`, with the Laplace covariance.
///
/// No observations gives the prior back; votes that all go one way, or identical images, give
/// finite answers because the prior keeps the objective strictly convex.
pub fn fit(obs: &[Observation], prior: &Prior) -> Result<Posterior, TasteError> {
    fit_with(obs, prior, FitOptions::default())
}

/// [`fit`] with explicit iteration settings.
pub fn fit_with(
    obs: &[Observation],
    prior: &Prior,
    opts: FitOptions,
) -> Result<Posterior, TasteError> {
    let d = prior.dim();
    for o in obs {
        check_dim("observation", d, o.dim())?;
        check_finite("observation", o.diff.as_slice())?;
        if !(o.weight.is_finite() && o.weight > 0.0) {
            return Err(TasteError::BadWeight(o.weight));
        }
    }
    let batch = Batch::new(obs, prior);
    let mut w = prior.mean.clone();
    let mut f = batch.objective(&w);
    let mut gh = batch.grad_hess(&w);
    for _ in 0..opts.max_iter {
        let (g, h) = &gh;
        let step = spd_solve(h, g);
        let decrement = 0.5 * g.dot(&step);
        if !decrement.is_finite() {
            break;
        }
        if decrement <= opts.tol {
            w -= step;
            break;
        }
        // Backtracking line search: Newton's full step is almost always taken, but a few
        // extreme votes far from the prior can overshoot on the first iterations.
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            let cand = &w - &step * t;
            let fc = batch.objective(&cand);
            // Near the optimum the decrease drowns in rounding; a full step is then safe
            // because Newton's method converges quadratically there.
            if fc <= f - 0.5 * t * decrement || (t == 1.0 && decrement < 1e-10) {
                w = cand;
                f = fc;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
        // The Hessian at the new point serves the next step and, at the end, the covariance.
        gh = batch.grad_hess(&w);
    }
    Ok(Posterior {
        mean: w,
        cov: spd_inverse(&gh.1),
    })
}

/// Fit with automatic relevance determination: each axis's prior variance is re-estimated
/// from the data (MacKay's evidence updates, `vₖ ← (wₖ − mₖ)² / (1 − Σₖₖ/vₖ)`), capped at the
/// given prior's variance, for `rounds` rounds. Axes the votes say nothing about shrink towards
/// the prior mean, which helps when a taste rests on a few axes of many. Returns the posterior
/// and the learned prior (a good start for the next call).
///
/// A prior with a full covariance is scaled per axis instead (`Σ' = SΣS`, `S = diag(sₖ)`,
/// `sₖ² = v'ₖ / vₖ` from the same update, capped at 1), so it keeps its correlations.
pub fn fit_ard(
    obs: &[Observation],
    prior: &Prior,
    rounds: usize,
) -> Result<(Posterior, Prior), TasteError> {
    let cap = prior.variances.clone();
    let floor = 1e-6;
    let mut current = prior.clone();
    let mut post = fit(obs, &current)?;
    if obs.is_empty() {
        // No evidence at all: nothing to determine, keep the prior as it is.
        return Ok((post, current));
    }
    let full = prior.precision.as_ref().map(|_| prior.covariance());
    for _ in 0..rounds {
        for k in 0..current.dim() {
            let v = current.variances[k];
            let gamma = (1.0 - post.cov[(k, k)] / v).max(1e-12);
            let dw = post.mean[k] - current.mean[k];
            current.variances[k] = (dw * dw / gamma).clamp(floor * cap[k], cap[k]);
        }
        if let Some(cov) = &full {
            let s = DVector::from_fn(cov.nrows(), |k, _| (current.variances[k] / cap[k]).sqrt());
            let scaled =
                DMatrix::from_fn(cov.nrows(), cov.ncols(), |a, b| s[a] * cov[(a, b)] * s[b]);
            current = Prior::full(current.mean.as_slice(), &scaled)?;
        }
        post = fit(obs, &current)?;
    }
    Ok((post, current))
}

impl Posterior {
    /// Dimension of the style space.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The taste vector as plain numbers.
    pub fn mean_vec(&self) -> Vec<f64> {
        self.mean.iter().copied().collect()
    }

    /// The taste vector in the store's `f32` form, for freezing into a code.
    pub fn mean_f32(&self) -> Vec<f32> {
        self.mean.iter().map(|&x| x as f32).collect()
    }

    /// Utility `wᵀx` of a style vector under the MAP taste: higher is preferred.
    pub fn score(&self, x: &[f64]) -> Result<f64, TasteError> {
        check_dim("style vector", self.dim(), x.len())?;
        Ok(self.mean.iter().zip(x).map(|(w, x)| w * x).sum())
    }

    /// Plug-in probability that `left` is preferred to `right`: σ(wᵀ(left − right)).
    pub fn prob_left(&self, left: &[f64], right: &[f64]) -> Result<f64, TasteError> {
        check_dim("pair", left.len(), right.len())?;
        Ok(sigmoid(self.score(left)? - self.score(right)?))
    }

    /// `zᵀΣz`: the posterior variance of the utility difference along `z`.
    pub fn variance_along(&self, z: &[f64]) -> Result<f64, TasteError> {
        check_dim("difference vector", self.dim(), z.len())?;
        let z = DVector::from_column_slice(z);
        Ok(quad_form(&self.cov, &z))
    }

    /// Probability that the winner of `z = left − right` is `left`, averaging over the
    /// posterior (the probit approximation σ(μᵀz / √(1 + π zᵀΣz / 8))).
    pub fn predictive_prob(&self, z: &[f64]) -> Result<f64, TasteError> {
        let v = self.variance_along(z)?;
        let m: f64 = self.mean.iter().zip(z).map(|(w, z)| w * z).sum();
        Ok(sigmoid(m / (1.0 + std::f64::consts::PI * v / 8.0).sqrt()))
    }

    /// Fold in one more observation in O(d²), treating `self` as the prior (online Laplace).
    ///
    /// The mode of `softplus(−wᵀz)·c + ½(w−μ)ᵀΣ⁻¹(w−μ)` is `μ + αΣz` with
    /// `α = c·(1 − σ(μᵀz + α·zᵀΣz))`, a monotone scalar equation solved by bisection-guarded
    /// Newton; the covariance is `(Σ⁻¹ + c·p(1−p)zzᵀ)⁻¹` by Sherman–Morrison.
    pub fn update(&self, obs: &Observation) -> Result<Posterior, TasteError> {
        check_dim("observation", self.dim(), obs.dim())?;
        check_finite("observation", obs.diff.as_slice())?;
        if !(obs.weight.is_finite() && obs.weight > 0.0) {
            return Err(TasteError::BadWeight(obs.weight));
        }
        let z = &obs.diff;
        let c = obs.weight;
        let sz = &self.cov * z;
        let v = z.dot(&sz).max(0.0);
        let m0 = self.mean.dot(z);
        // Root of r(α) = α − c(1 − σ(m0 + αv)), increasing in α, with root in [0, c].
        let r = |a: f64| a - c * (1.0 - sigmoid(m0 + a * v));
        let (mut lo, mut hi) = (0.0_f64, c);
        let mut a = c * (1.0 - sigmoid(m0));
        for _ in 0..100 {
            let ra = r(a);
            if ra > 0.0 {
                hi = a;
            } else {
                lo = a;
            }
            if ra.abs() <= 1e-15 * (1.0 + c) || hi - lo <= 1e-16 * (1.0 + c) {
                break;
            }
            let p = sigmoid(m0 + a * v);
            let dr = 1.0 + c * p * (1.0 - p) * v;
            let next = a - ra / dr;
            a = if next > lo && next < hi {
                next
            } else {
                0.5 * (lo + hi)
            };
        }
        let mean = &self.mean + &sz * a;
        let p = sigmoid(mean.dot(z));
        let lambda = c * p * (1.0 - p);
        let mut cov = self.cov.clone();
        if lambda > 0.0 && v > 0.0 {
            cov.ger(-lambda / (1.0 + lambda * v), &sz, &sz, 1.0);
            cov = (&cov + cov.transpose()) * 0.5;
        }
        Ok(Posterior { mean, cov })
    }
}

/// `zᵀ A z` for a symmetric `A`, clamped at zero against rounding.
pub(crate) fn quad_form(a: &DMatrix<f64>, z: &DVector<f64>) -> f64 {
    z.dot(&(a * z)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn random_vec(rng: &mut StdRng, d: usize) -> Vec<f64> {
        (0..d).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// Votes on random pairs answered by a noisy logistic rater with taste `w_true`.
    fn synthetic(rng: &mut StdRng, w_true: &[f64], n: usize) -> Vec<Observation> {
        let d = w_true.len();
        (0..n)
            .map(|_| {
                let l = random_vec(rng, d);
                let r = random_vec(rng, d);
                let u: f64 = w_true
                    .iter()
                    .zip(l.iter().zip(&r))
                    .map(|(w, (a, b))| w * (a - b))
                    .sum();
                let left_won = rng.random_range(0.0..1.0) < sigmoid(u);
                Observation::pair(&l, &r, left_won).unwrap()
            })
            .collect()
    }

    fn grad_norm(obs: &[Observation], prior: &Prior, w: &DVector<f64>) -> f64 {
        grad_hess(obs, prior, w).0.norm()
    }

    #[test]
    fn no_votes_gives_the_prior() {
        let prior = Prior::centred(&[0.5, -1.0, 2.0], 3.0).unwrap();
        let post = fit(&[], &prior).unwrap();
        assert_eq!(post.mean_vec(), vec![0.5, -1.0, 2.0]);
        assert!((&post.cov - DMatrix::identity(3, 3) * 3.0).amax() < 1e-12);
    }

    #[test]
    fn fit_reaches_a_stationary_point_and_recovers_direction() {
        let mut rng = StdRng::seed_from_u64(7);
        let w_true = vec![3.0, -2.0, 0.0, 1.0, 0.5];
        let obs = synthetic(&mut rng, &w_true, 400);
        let prior = Prior::zero(5, 10.0).unwrap();
        let post = fit(&obs, &prior).unwrap();
        assert!(grad_norm(&obs, &prior, &post.mean) < 1e-9);
        let w = &post.mean;
        let t = DVector::from_column_slice(&w_true);
        let cos = w.dot(&t) / (w.norm() * t.norm());
        assert!(cos > 0.95, "cosine to true taste {cos}");
        // The covariance is the inverse Hessian: symmetric positive definite.
        assert!((post.cov.clone() - post.cov.transpose()).amax() < 1e-12);
        assert!(post.cov.clone().cholesky().is_some());
    }

    #[test]
    fn prior_mean_pulls_sparse_data() {
        let obs = vec![Observation::from_diff(&[1.0, 0.0]).unwrap()];
        let centred = fit(&obs, &Prior::centred(&[0.0, 4.0], 1.0).unwrap()).unwrap();
        let zero = fit(&obs, &Prior::zero(2, 1.0).unwrap()).unwrap();
        // The second axis has no evidence, so it stays where each prior put it.
        assert!((centred.mean[1] - 4.0).abs() < 1e-12);
        assert!(zero.mean[1].abs() < 1e-12);
        assert!(centred.mean[0] > 0.0 && zero.mean[0] > 0.0);
    }

    #[test]
    fn degenerate_data_stays_finite() {
        let prior = Prior::zero(3, 100.0).unwrap();
        // All one side, hugely separable.
        let one_side: Vec<_> = (0..50)
            .map(|i| Observation::from_diff(&[1e3 + i as f64, 0.0, -5.0]).unwrap())
            .collect();
        // Identical images: zero differences.
        let identical: Vec<_> = (0..50)
            .map(|_| Observation::pair(&[0.3, 0.3, 0.3], &[0.3, 0.3, 0.3], true).unwrap())
            .collect();
        for obs in [&one_side, &identical] {
            let post = fit(obs, &prior).unwrap();
            assert!(post.mean.iter().all(|x| x.is_finite()));
            assert!(post.cov.iter().all(|x| x.is_finite()));
            let mut inc = prior.to_posterior();
            for o in obs.iter() {
                inc = inc.update(o).unwrap();
            }
            assert!(inc.mean.iter().all(|x| x.is_finite()));
            assert!(inc.cov.iter().all(|x| x.is_finite()));
        }
        let post = fit(&identical, &prior).unwrap();
        assert_eq!(post.mean, prior.mean);
        assert!((&post.cov - prior.to_posterior().cov).amax() < 1e-9);
        let post = fit(&one_side, &prior).unwrap();
        assert!(post.mean[0] > 0.0 && post.mean[2] < 0.0);
        assert!(post.prob_left(&[1.0, 0.0, 0.0], &[0.0; 3]).unwrap() > 0.5);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Observation::pair(&[1.0], &[1.0, 2.0], true).is_err());
        assert!(Observation::pair(&[f64::NAN], &[1.0], true).is_err());
        assert!(Prior::zero(2, 0.0).is_err());
        assert!(Prior::zero(2, f64::INFINITY).is_err());
        let prior = Prior::zero(2, 1.0).unwrap();
        let o = Observation::from_diff(&[1.0, 2.0, 3.0]).unwrap();
        assert!(matches!(
            fit(std::slice::from_ref(&o), &prior),
            Err(TasteError::DimensionMismatch { .. })
        ));
        assert!(prior.to_posterior().update(&o).is_err());
        assert!(o.weighted(-1.0).is_err());
    }

    #[test]
    fn skips_have_no_observation_and_sides_are_signed() {
        let l = [2.0, 0.0];
        let r = [0.0, 1.0];
        assert_eq!(
            Observation::from_choice(&l, &r, Choice::Skip).unwrap(),
            None
        );
        let left = Observation::from_choice(&l, &r, Choice::Left)
            .unwrap()
            .unwrap();
        let right = Observation::from_choice(&l, &r, Choice::Right)
            .unwrap()
            .unwrap();
        assert_eq!(left.diff.as_slice(), &[2.0, -1.0]);
        assert_eq!(right.diff.as_slice(), &[-2.0, 1.0]);
        let like = Observation::like(&l, &[0.0, 0.0]).unwrap();
        assert_eq!(like.diff.as_slice(), &[2.0, 0.0]);
    }

    #[test]
    fn one_update_from_the_prior_equals_a_full_fit_of_one_vote() {
        let prior = Prior::centred(&[0.2, -0.1, 0.0], 2.0).unwrap();
        let o = Observation::from_diff(&[1.5, -0.5, 2.0]).unwrap();
        let full = fit(std::slice::from_ref(&o), &prior).unwrap();
        let inc = prior.to_posterior().update(&o).unwrap();
        assert!((&full.mean - &inc.mean).amax() < 1e-10);
        // The fit's covariance comes from the Hessian before its last, tiny Newton step.
        let cov_gap = (&full.cov - &inc.cov).amax();
        assert!(cov_gap < 1e-8, "covariances differ by {cov_gap}");
    }

    #[test]
    fn incremental_updates_track_the_full_fit() {
        let mut rng = StdRng::seed_from_u64(11);
        let w_true = vec![1.0, -1.5, 0.5, 0.0, 2.0, -0.5];
        let obs = synthetic(&mut rng, &w_true, 200);
        let prior = Prior::zero(6, 4.0).unwrap();
        let full = fit(&obs, &prior).unwrap();
        let mut inc = prior.to_posterior();
        for o in &obs {
            inc = inc.update(o).unwrap();
        }
        let rel = (&full.mean - &inc.mean).norm() / full.mean.norm();
        assert!(rel < 0.1, "online Laplace drifted {rel}");
        // Incremental updates only ever shrink the variance.
        assert!(inc.cov.trace() < prior.to_posterior().cov.trace());
    }

    #[test]
    fn relevance_determination_shrinks_axes_without_taste() {
        let mut rng = StdRng::seed_from_u64(21);
        let mut w_true = vec![0.0; 10];
        w_true[2] = 3.0;
        w_true[7] = -2.0;
        let obs = synthetic(&mut rng, &w_true, 150);
        let prior = Prior::zero(10, 1.0).unwrap();
        let (post, learned) = fit_ard(&obs, &prior, 5).unwrap();
        assert!(post.mean.iter().all(|x| x.is_finite()));
        let relevant = learned.variances[2].min(learned.variances[7]);
        let others = (0..10)
            .filter(|k| *k != 2 && *k != 7)
            .map(|k| learned.variances[k])
            .fold(0.0, f64::max);
        assert!(relevant > others, "{:?}", learned.variances);
        assert!(learned.variances.iter().all(|&v| v > 0.0 && v <= 1.0));
        // The result is a proper fit under the learned prior.
        assert!(grad_norm(&obs, &learned, &post.mean) < 1e-8);
        let t = DVector::from_column_slice(&w_true);
        let plain = fit(&obs, &prior).unwrap().mean;
        let cos = |w: &DVector<f64>| w.dot(&t) / (w.norm() * t.norm());
        assert!(cos(&post.mean) > cos(&plain));
        // No votes: the prior comes back untouched.
        let (p0, l0) = fit_ard(&[], &prior, 5).unwrap();
        assert_eq!(l0, prior);
        assert_eq!(p0.mean, prior.mean);
    }

    #[test]
    fn diagonal_priors_penalise_per_axis() {
        let obs = vec![Observation::from_diff(&[1.0, 1.0]).unwrap()];
        let prior = Prior::diagonal(&[0.0, 0.0], &[10.0, 0.1]).unwrap();
        let post = fit(&obs, &prior).unwrap();
        assert!(post.mean[0] > 5.0 * post.mean[1]);
        assert!(Prior::diagonal(&[0.0], &[1.0, 1.0]).is_err());
        assert!(Prior::diagonal(&[0.0], &[-1.0]).is_err());
    }

    #[test]
    fn weights_count_like_repeats() {
        let prior = Prior::zero(2, 1.0).unwrap();
        let o = Observation::from_diff(&[1.0, 0.5]).unwrap();
        let twice = fit(&[o.clone(), o.clone()], &prior).unwrap();
        let weighted = fit(&[o.weighted(2.0).unwrap()], &prior).unwrap();
        assert!((&twice.mean - &weighted.mean).amax() < 1e-12);
    }

    #[test]
    fn predictive_probability_is_tempered_by_uncertainty() {
        let prior = Prior::centred(&[1.0, 0.0], 5.0).unwrap();
        let post = prior.to_posterior();
        let plug_in = post.prob_left(&[1.0, 0.0], &[0.0, 0.0]).unwrap();
        let pred = post.predictive_prob(&[1.0, 0.0]).unwrap();
        assert!(pred > 0.5 && pred < plug_in);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-15);
        assert!((softplus(800.0) - 800.0).abs() < 1e-9 && softplus(-800.0) >= 0.0);
    }
}
