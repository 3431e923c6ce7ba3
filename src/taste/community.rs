//! The community prior: what a version's tastes have in common, as the prior a newcomer's
//! taste starts from (empirical Bayes).
//!
//! Every unlocked profile's taste `tᵢ` is one draw from the community's distribution of tastes.
//! With `n` of them, their mean `t̄` and scatter `S = Σ (tᵢ − t̄)(tᵢ − t̄)ᵀ`, the prior becomes a
//! mix of the base prior `N(m₀, Σ₀)` (the isotropic one used without a community) and the
//! community's estimate:
//!
//! ```text
//! λ = max(κ / (κ + n), λ_min)
//! m = λ·m₀ + (1 − λ)·t̄
//! Σ = λ·Σ₀ + (1 − λ)·(S / n + λ·(t̄ − m₀)(t̄ − m₀)ᵀ)
//! ```
//!
//! With no profiles it is the base prior exactly; as profiles are added it moves towards the
//! community's mean, and its covariance towards the community's spread: directions in which
//! tastes differ stay wide, directions in which everyone agrees narrow, so a newcomer's few
//! votes are spent on what is personal. `κ` ([`CommunitySettings::strength`]) is how many
//! profiles the base prior counts as; `λ_min` keeps some of it however large the community
//! grows, so that nobody's taste is ruled out. The last term widens the prior along the
//! community's mean by how far that mean is from the base prior's, which is how sure one can be
//! of it.
//!
//! [`CommunityStats`] holds the sums the prior is made from, so that a service can keep them up
//! to date as codes are minted (add the new code, take away the one it replaces) and take one
//! profile's own taste away before fitting it.

use nalgebra::{DMatrix, DVector};

use super::TasteError;
use super::model::Prior;

/// How much the community prior trusts the community.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommunitySettings {
    /// `κ`: how many profiles the base prior is worth.
    pub strength: f64,
    /// `λ_min`: the smallest share the base prior keeps.
    pub floor: f64,
}

impl Default for CommunitySettings {
    /// `κ = 10`, `λ_min = 0.1`.
    fn default() -> Self {
        CommunitySettings {
            strength: 10.0,
            floor: 0.1,
        }
    }
}

/// Running sums over a community's tastes (all of one length `dim`; shorter tastes are padded
/// with zeros, longer ones cut).
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityStats {
    dim: usize,
    count: i64,
    sum: DVector<f64>,
    outer: DMatrix<f64>,
}

impl CommunityStats {
    /// No tastes yet, of length `dim`.
    pub fn new(dim: usize) -> Self {
        CommunityStats {
            dim,
            count: 0,
            sum: DVector::zeros(dim),
            outer: DMatrix::zeros(dim, dim),
        }
    }

    fn padded(&self, taste: &[f64]) -> DVector<f64> {
        DVector::from_fn(self.dim, |k, _| taste.get(k).copied().unwrap_or(0.0))
    }

    /// Adds (`sign` 1) or takes away (`sign` −1) one taste.
    pub fn add(&mut self, taste: &[f64], sign: f64) {
        if !taste.iter().all(|x| x.is_finite()) {
            return;
        }
        let t = self.padded(taste);
        self.sum += &t * sign;
        self.outer.ger(sign, &t, &t, 1.0);
        self.count += sign as i64;
    }

    /// Tastes in the sums.
    pub fn count(&self) -> usize {
        usize::try_from(self.count).unwrap_or(0)
    }

    /// Length of the tastes.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The mean taste, when there is one.
    pub fn mean(&self) -> Option<DVector<f64>> {
        let n = self.count();
        (n > 0).then(|| &self.sum / n as f64)
    }

    /// `S / n`: the tastes' covariance about their mean (zero with fewer than two).
    pub fn spread(&self) -> DMatrix<f64> {
        let n = self.count();
        if n == 0 {
            return DMatrix::zeros(self.dim, self.dim);
        }
        let mean = &self.sum / n as f64;
        let mut cov = &self.outer / n as f64;
        cov.ger(-1.0, &mean, &mean, 1.0);
        // Rounding can leave tiny negative eigenvalues; symmetrise and clamp the diagonal.
        let mut cov = (&cov + cov.transpose()) * 0.5;
        for k in 0..self.dim {
            cov[(k, k)] = cov[(k, k)].max(0.0);
        }
        cov
    }

    /// The same sums in other units: every taste `t` becomes `A·t` (a linear change of units,
    /// such as from raw style units to a pool's standardized ones).
    pub fn map(&self, a: &DMatrix<f64>) -> Result<CommunityStats, TasteError> {
        if a.ncols() != self.dim {
            return Err(TasteError::DimensionMismatch {
                what: "change of units",
                expected: self.dim,
                got: a.ncols(),
            });
        }
        Ok(CommunityStats {
            dim: a.nrows(),
            count: self.count,
            sum: a * &self.sum,
            outer: a * &self.outer * a.transpose(),
        })
    }
}

/// The share `λ` of the base prior in a community prior of `n` profiles.
pub fn base_share(n: usize, settings: CommunitySettings) -> f64 {
    let kappa = settings.strength.max(0.0);
    let lambda = if kappa + n as f64 > 0.0 {
        kappa / (kappa + n as f64)
    } else {
        1.0
    };
    lambda.max(settings.floor.clamp(0.0, 1.0))
}

/// The community prior (module documentation) over `base`'s space.
pub fn community_prior(
    base: &Prior,
    community: &CommunityStats,
    settings: CommunitySettings,
) -> Result<Prior, TasteError> {
    if community.dim() != base.dim() {
        return Err(TasteError::DimensionMismatch {
            what: "community tastes",
            expected: base.dim(),
            got: community.dim(),
        });
    }
    let Some(mean) = community.mean() else {
        return Ok(base.clone());
    };
    let lambda = base_share(community.count(), settings);
    if lambda >= 1.0 {
        return Ok(base.clone());
    }
    let m = &base.mean * lambda + &mean * (1.0 - lambda);
    let gap = &mean - &base.mean;
    let mut spread = community.spread();
    spread.ger(lambda, &gap, &gap, 1.0);
    let cov = base.covariance() * lambda + spread * (1.0 - lambda);
    Prior::full(m.as_slice(), &cov)
}

/// How far `taste` is from a community: the Mahalanobis distance under the community prior
/// `√((t − m)ᵀ Σ⁻¹ (t − m))`, in the prior's standard deviations. About √d for a typical member.
pub fn distance(prior: &Prior, taste: &[f64]) -> Result<f64, TasteError> {
    if taste.len() != prior.dim() {
        return Err(TasteError::DimensionMismatch {
            what: "taste",
            expected: prior.dim(),
            got: taste.len(),
        });
    }
    let dw = DVector::from_column_slice(taste) - &prior.mean;
    let pulled = match &prior.precision {
        Some(p) => p * &dw,
        None => dw.component_div(&prior.variances),
    };
    Ok(dw.dot(&pulled).max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taste::model::{Observation, fit, sigmoid};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn gaussian(rng: &mut StdRng) -> f64 {
        // Box–Muller.
        let u: f64 = rng.random_range(1e-12..1.0);
        let v: f64 = rng.random_range(0.0..1.0);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Tastes of a community: a common mean plus personal variation along two directions.
    fn community_taste(rng: &mut StdRng, d: usize) -> Vec<f64> {
        let (a, b) = (gaussian(rng), gaussian(rng));
        (0..d)
            .map(|k| {
                let common = if k < 3 { 1.5 } else { 0.0 };
                let personal = if k == 3 {
                    1.2 * a
                } else if k == 4 {
                    1.2 * b
                } else {
                    0.0
                };
                common + personal + 0.1 * gaussian(rng)
            })
            .collect()
    }

    #[test]
    fn no_profiles_give_the_base_prior() {
        let base = Prior::zero(4, 1.0).unwrap();
        let stats = CommunityStats::new(4);
        let prior = community_prior(&base, &stats, CommunitySettings::default()).unwrap();
        assert_eq!(prior, base);
        // Adding a taste and taking it away again leaves nothing.
        let mut stats = CommunityStats::new(4);
        stats.add(&[1.0, 2.0, 3.0, 4.0], 1.0);
        stats.add(&[1.0, 2.0, 3.0, 4.0], -1.0);
        assert_eq!(
            community_prior(&base, &stats, CommunitySettings::default()).unwrap(),
            base
        );
    }

    #[test]
    fn the_prior_moves_towards_the_community_as_profiles_are_added() {
        let d = 6;
        let base = Prior::zero(d, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let mut stats = CommunityStats::new(d);
        let mut last_share = f64::INFINITY;
        for n in 1..=40 {
            stats.add(&community_taste(&mut rng, d), 1.0);
            let prior = community_prior(&base, &stats, CommunitySettings::default()).unwrap();
            let mean = stats.mean().unwrap();
            // The share of the way from the community's mean back to the base prior's.
            let share = (&prior.mean - &mean).norm() / (&base.mean - &mean).norm();
            assert!(share < last_share, "n = {n}: {share} after {last_share}");
            last_share = share;
        }
        let prior = community_prior(&base, &stats, CommunitySettings::default()).unwrap();
        // It points where the community's common taste does (the first three axes) ...
        let common = DVector::from_fn(d, |k, _| if k < 3 { 1.0 } else { 0.0 });
        let cos = prior.mean.dot(&common) / (prior.mean.norm() * common.norm());
        assert!(cos > 0.95, "{}", prior.mean);
        // ... and is wide where tastes differ (axes 3, 4), narrow where everyone agrees (5).
        let cov = prior.covariance();
        assert!(cov[(3, 3)] > 3.0 * cov[(5, 5)], "{cov}");
        assert!(cov[(5, 5)] < 0.5);
    }

    #[test]
    fn changing_units_maps_the_prior() {
        let mut stats = CommunityStats::new(2);
        stats.add(&[1.0, 0.0], 1.0);
        stats.add(&[3.0, 2.0], 1.0);
        let a = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, 0.5]);
        let mapped = stats.map(&a).unwrap();
        assert_eq!(mapped.mean().unwrap().as_slice(), &[4.0, 0.5]);
        assert!((mapped.spread()[(0, 0)] - 4.0 * stats.spread()[(0, 0)]).abs() < 1e-12);
        assert!(stats.map(&DMatrix::identity(3, 3)).is_err());
    }

    /// A newcomer like the community, with 15 votes: under the community prior its taste is
    /// predicted better on fresh pairs than under the isotropic prior, over 40 newcomers.
    #[test]
    fn a_community_prior_beats_the_isotropic_one_on_community_like_votes() {
        let d = 8;
        let base = Prior::zero(d, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(17);
        let mut stats = CommunityStats::new(d);
        for _ in 0..30 {
            stats.add(&community_taste(&mut rng, d), 1.0);
        }
        let prior = community_prior(&base, &stats, CommunitySettings::default()).unwrap();
        let pair = |rng: &mut StdRng| -> Vec<f64> { (0..d).map(|_| gaussian(rng)).collect() };
        let agreement = |w: &DVector<f64>, truth: &[f64], tests: &[Vec<f64>]| -> f64 {
            // Expected share of a noisy rater's answers that `w` predicts.
            tests
                .iter()
                .map(|z| {
                    let p = sigmoid(truth.iter().zip(z).map(|(a, b)| a * b).sum());
                    if w.dot(&DVector::from_column_slice(z)) > 0.0 {
                        p
                    } else {
                        1.0 - p
                    }
                })
                .sum::<f64>()
                / tests.len() as f64
        };
        let (mut with, mut without) = (0.0, 0.0);
        let trials = 40;
        for _ in 0..trials {
            let truth = community_taste(&mut rng, d);
            let obs: Vec<Observation> = (0..15)
                .map(|_| {
                    let z = pair(&mut rng);
                    let p = sigmoid(truth.iter().zip(&z).map(|(a, b)| a * b).sum());
                    let won = rng.random_range(0.0..1.0) < p;
                    let z: Vec<f64> = z.iter().map(|v| if won { *v } else { -v }).collect();
                    Observation::from_diff(&z).unwrap()
                })
                .collect();
            let tests: Vec<Vec<f64>> = (0..400).map(|_| pair(&mut rng)).collect();
            with += agreement(&fit(&obs, &prior).unwrap().mean, &truth, &tests);
            without += agreement(&fit(&obs, &base).unwrap().mean, &truth, &tests);
        }
        let (with, without) = (with / trials as f64, without / trials as f64);
        // The margin: at least 2 points of expected agreement on average.
        assert!(
            with > without + 0.02,
            "community {with:.3}, isotropic {without:.3}"
        );
    }

    #[test]
    fn distance_is_zero_at_the_mean_and_grows_away_from_it() {
        let base = Prior::zero(3, 4.0).unwrap();
        assert_eq!(distance(&base, &[0.0; 3]).unwrap(), 0.0);
        assert!((distance(&base, &[2.0, 0.0, 0.0]).unwrap() - 1.0).abs() < 1e-12);
        let mut stats = CommunityStats::new(3);
        stats.add(&[1.0, 0.0, 0.0], 1.0);
        stats.add(&[3.0, 0.0, 0.0], 1.0);
        let prior = community_prior(&base, &stats, CommunitySettings::default()).unwrap();
        let at_mean = distance(&prior, prior.mean.as_slice()).unwrap();
        assert!(at_mean.abs() < 1e-12);
        assert!(distance(&prior, &[-4.0, 0.0, 0.0]).unwrap() > 1.0);
        assert!(distance(&prior, &[1.0]).is_err());
    }
}
