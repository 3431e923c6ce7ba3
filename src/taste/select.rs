//! Choosing the next pair to show: the most informative one under the posterior, or a random
//! one for comparison.
//!
//! A candidate pair is its difference vector `Δx = x_left − x_right`. Under the posterior
//! `N(μ, Σ)`, the vote on it has predicted probability `p = σ(μᵀΔx)` and the utility difference
//! has variance `v = ΔxᵀΣΔx`. By default the active strategy scores a pair by `p(1−p)·v`: the
//! expected shrinkage of the posterior along `Δx` (information gain is `½·ln(1 + p(1−p)·v)`,
//! which ranks pairs the same way). Pairs we can already predict (`p` near 0 or 1) and pairs in
//! directions we already know (small `v`) score low. [`Score`] has two other measures: mutual
//! information, and how much a vote would settle the other candidate pairs.
//!
//! Two guards keep it honest: a pair whose direction nearly repeats one of the recently shown
//! pairs (|cosine| above [`ActiveConfig::max_cosine`]) is passed over while any other remains, so
//! pairs stay diverse when several are issued before their votes arrive; and with probability
//! [`ActiveConfig::epsilon`] a uniformly random pair is shown instead (exploration, which also
//! protects against a confidently wrong posterior).

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};

use super::TasteError;
use super::model::{Posterior, sigmoid};

/// Settings of the active strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActiveConfig {
    /// Probability of showing a uniformly random pair instead of the best one.
    pub epsilon: f64,
    /// Pairs whose direction has |cosine| above this with a recent pair are passed over.
    pub max_cosine: f64,
    /// How a pair's informativeness is measured.
    pub score: Score,
}

/// Measures of how much a pair would teach, from the predicted utility difference `m = μᵀΔx`
/// and its posterior variance `v = ΔxᵀΣΔx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Score {
    /// `p(1−p)·v` with the plug-in `p = σ(m)`: expected shrinkage of the posterior along Δx.
    #[default]
    Uncertainty,
    /// Mutual information between the vote and the taste (BALD), with the probit
    /// approximation of the logistic: favours pairs whose outcome is uncertain *because the
    /// taste is unknown*, not because the rater is expected to flip a coin.
    MutualInformation,
    /// Expected information about the pairs people compare, not about the taste's every
    /// direction: how much the vote would shrink the predicted variance of all candidate pairs
    /// `t`, each weighted by how open its outcome is. A vote on Δx with `w = p(1−p)` updates
    /// `Σ' = Σ − w·ΣΔxΔxᵀΣ / (1 + w·v)`, so it takes `w·(tᵀΣΔx)² / (1 + w·v)` from `tᵀΣt`;
    /// summed with weights `p_t(1−p_t)`, the score is `w·ΔxᵀΣTΣΔx / (1 + w·v)` with
    /// `T = Σ_t p_t(1−p_t)·t tᵀ`. Directions in which the compared pairs never differ (or
    /// whose outcome is already settled) are not worth a vote, however unknown they are.
    Predictive,
}

impl Score {
    /// The name used in the configuration (`ranking.active_score`).
    pub fn parse(s: &str) -> Option<Score> {
        match s {
            "uncertainty" => Some(Score::Uncertainty),
            "information" => Some(Score::MutualInformation),
            "predictive" => Some(Score::Predictive),
            _ => None,
        }
    }

    /// The score of a pair with predicted utility difference `m`, variance `v` and, for
    /// [`Score::Predictive`], `q = ΔxᵀΣTΣΔx` (ignored by the others).
    fn of(self, m: f64, v: f64, q: f64) -> f64 {
        match self {
            Score::Uncertainty => {
                let p = sigmoid(m);
                p * (1.0 - p) * v
            }
            Score::MutualInformation => {
                // σ(f) ≈ Φ(λf) with λ² = π/8; for f ~ N(m, v), Houlsby et al. (2011):
                // I = h(Φ(λm / √(1 + λ²v))) − c/√(λ²v + c²) · exp(−λ²m² / (2(λ²v + c²))),
                // with h the binary entropy in bits and c² = π·ln2/2.
                let l2 = std::f64::consts::PI / 8.0;
                let c2 = std::f64::consts::PI * std::f64::consts::LN_2 / 2.0;
                let p = sigmoid(m / (1.0 + l2 * v).sqrt());
                let h = |p: f64| {
                    let t = |q: f64| if q > 0.0 { -q * q.log2() } else { 0.0 };
                    t(p) + t(1.0 - p)
                };
                let s = l2 * v + c2;
                (h(p) - (c2 / s).sqrt() * (-l2 * m * m / (2.0 * s)).exp()).max(0.0)
            }
            Score::Predictive => {
                let p = sigmoid(m);
                let w = p * (1.0 - p);
                w * q / (1.0 + w * v)
            }
        }
    }
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig {
            epsilon: 0.05,
            max_cosine: 0.9,
            score: Score::default(),
        }
    }
}

/// How the next pair is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// The most informative pair under the posterior, kept diverse, with some exploration.
    Active(ActiveConfig),
    /// A uniformly random pair (among those whose images differ).
    Random,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Active(ActiveConfig::default())
    }
}

impl Strategy {
    /// `active` or `random`, as written on the command line (`--strategy`).
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "active" => Some(Strategy::default()),
            "random" => Some(Strategy::Random),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Active(_) => "active",
            Strategy::Random => "random",
        }
    }

    fn validate(&self) -> Result<(), TasteError> {
        if let Strategy::Active(c) = self {
            for (what, value) in [("epsilon", c.epsilon), ("max_cosine", c.max_cosine)] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(TasteError::OutOfUnitRange { what, value });
                }
            }
        }
        Ok(())
    }
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

fn check_vectors<C: AsRef<[f64]>>(
    what: &'static str,
    dim: usize,
    vs: &[C],
) -> Result<(), TasteError> {
    for v in vs {
        let v = v.as_ref();
        if v.len() != dim {
            return Err(TasteError::DimensionMismatch {
                what,
                expected: dim,
                got: v.len(),
            });
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(TasteError::NotFinite { what });
        }
    }
    Ok(())
}

fn too_close<R: AsRef<[f64]>>(diff: &[f64], recent: &[R], max_cosine: f64) -> bool {
    recent
        .iter()
        .any(|r| cosine(diff, r.as_ref()).abs() > max_cosine)
}

/// Pick the index of the next candidate pair, given each candidate's difference vector and the
/// difference vectors of the pairs shown most recently (newest last; a handful is enough).
///
/// `None` only when there are no candidates. Pairs of identical images are never chosen while
/// another exists. The same as [`select_among`] with each candidate paired with a zero image.
pub fn select<C, R>(
    strategy: &Strategy,
    post: &Posterior,
    candidates: &[C],
    recent: &[R],
    rng: &mut impl Rng,
) -> Result<Option<usize>, TasteError>
where
    C: AsRef<[f64]>,
    R: AsRef<[f64]>,
{
    check_vectors("candidate pair", post.dim(), candidates)?;
    let zero = vec![0.0; post.dim()];
    let images: Vec<&[f64]> = candidates
        .iter()
        .map(|c| c.as_ref())
        .chain(std::iter::once(zero.as_slice()))
        .collect();
    let pairs: Vec<(usize, usize)> = (0..candidates.len())
        .map(|k| (k, candidates.len()))
        .collect();
    select_among(strategy, post, &images, &pairs, recent, rng)
}

/// Pick the index of the next candidate pair among `pairs` of `images` (style vectors; a pair
/// `(i, j)` differs by `images[i] − images[j]`), given the difference vectors of the pairs shown
/// most recently (newest last; a handful is enough).
///
/// `None` only when there are no pairs. Pairs of identical images are never chosen while
/// another exists. Scores come through the images: `u = Xμ`, and a pair's variance
/// `ΔᵀΣΔ = sᵢᵢ + sⱼⱼ − 2sᵢⱼ` from `S = XΣXᵀ`, of which only the entries the pairs need are
/// computed, so many pairs of few images stay cheap.
pub fn select_among<C, R>(
    strategy: &Strategy,
    post: &Posterior,
    images: &[C],
    pairs: &[(usize, usize)],
    recent: &[R],
    rng: &mut impl Rng,
) -> Result<Option<usize>, TasteError>
where
    C: AsRef<[f64]>,
    R: AsRef<[f64]>,
{
    strategy.validate()?;
    let d = post.dim();
    check_vectors("image style vector", d, images)?;
    check_vectors("recent pair", d, recent)?;
    let n = images.len();
    if let Some(&(left, right)) = pairs.iter().find(|(i, j)| *i >= n || *j >= n) {
        return Err(TasteError::PairOutOfRange {
            left,
            right,
            images: n,
        });
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    let image = |i: usize| images[i].as_ref();
    let useful: Vec<usize> = (0..pairs.len())
        .filter(|&k| image(pairs[k].0) != image(pairs[k].1))
        .collect();
    if useful.is_empty() {
        return Ok(Some(rng.random_range(0..pairs.len())));
    }
    let config = match strategy {
        Strategy::Random => return Ok(Some(useful[rng.random_range(0..useful.len())])),
        Strategy::Active(c) => *c,
    };
    if config.epsilon > 0.0 && rng.random_range(0.0..1.0) < config.epsilon {
        return Ok(Some(useful[rng.random_range(0..useful.len())]));
    }
    let x = DMatrix::from_fn(n, d, |i, k| image(i)[k]);
    let u: DVector<f64> = &x * &post.mean;
    let xs = &x * &post.cov;
    let own: Vec<f64> = (0..n).map(|i| xs.row(i).dot(&x.row(i))).collect();
    let variance = |i: usize, j: usize| (own[i] + own[j] - 2.0 * xs.row(i).dot(&x.row(j))).max(0.0);
    // For the predictive score: T = Σ_t p_t(1−p_t)·t tᵀ over the candidate pairs, then
    // ΔxᵀΣTΣΔx = (aᵢ − aⱼ)ᵀT(aᵢ − aⱼ) with aᵢ = Σxᵢ (the rows of `xs`) and bᵢ = T·aᵢ.
    let towards = (config.score == Score::Predictive).then(|| {
        let mut t = DMatrix::<f64>::zeros(d, d);
        for &k in &useful {
            let (i, j) = pairs[k];
            let p = sigmoid(u[i] - u[j]);
            let diff = (x.row(i) - x.row(j)).transpose();
            t.ger(p * (1.0 - p), &diff, &diff, 1.0);
        }
        let b = &xs * &t;
        let own: Vec<f64> = (0..n).map(|i| b.row(i).dot(&xs.row(i))).collect();
        (b, own)
    });
    let predictive = |i: usize, j: usize| match &towards {
        Some((b, own)) => (own[i] + own[j] - 2.0 * b.row(i).dot(&xs.row(j))).max(0.0),
        None => 0.0,
    };
    let mut scored: Vec<(f64, usize)> = useful
        .iter()
        .map(|&k| {
            let (i, j) = pairs[k];
            let score = config
                .score
                .of(u[i] - u[j], variance(i, j), predictive(i, j));
            (score, k)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let diff = |k: usize| -> Vec<f64> {
        let (i, j) = pairs[k];
        image(i).iter().zip(image(j)).map(|(a, b)| a - b).collect()
    };
    let pick = scored
        .iter()
        .find(|(_, k)| !too_close(&diff(*k), recent, config.max_cosine))
        .unwrap_or(&scored[0]);
    Ok(Some(pick.1))
}

/// Pick two images `(left, right)` from a set of style vectors (e.g. one prompt rendered in
/// several styles), considering every unordered pair: a random pair, or [`select_among`] over
/// all of them.
///
/// `None` when there are fewer than two images. Which image goes left is random.
pub fn select_pair<C, R>(
    strategy: &Strategy,
    post: &Posterior,
    images: &[C],
    recent: &[R],
    rng: &mut impl Rng,
) -> Result<Option<(usize, usize)>, TasteError>
where
    C: AsRef<[f64]>,
    R: AsRef<[f64]>,
{
    strategy.validate()?;
    check_vectors("image style vector", post.dim(), images)?;
    check_vectors("recent pair", post.dim(), recent)?;
    let n = images.len();
    if n < 2 {
        return Ok(None);
    }
    let differs = |i: usize, j: usize| images[i].as_ref() != images[j].as_ref();
    let (i, j) = match strategy {
        Strategy::Active(c) if !(c.epsilon > 0.0 && rng.random_range(0.0..1.0) < c.epsilon) => {
            let pairs: Vec<(usize, usize)> = (0..n)
                .flat_map(|i| ((i + 1)..n).map(move |j| (i, j)))
                .collect();
            // Exploration was just decided against: the best pair.
            let best = Strategy::Active(ActiveConfig { epsilon: 0.0, ..*c });
            match select_among(&best, post, images, &pairs, recent, rng)? {
                Some(k) => pairs[k],
                None => return Ok(None),
            }
        }
        _ => {
            // Uniform over unordered pairs of distinct indices, preferring images that differ;
            // give up after a while (when all images are identical).
            let mut pair = (0, 1);
            for _ in 0..64 {
                let i = rng.random_range(0..n);
                let mut j = rng.random_range(0..n - 1);
                if j >= i {
                    j += 1;
                }
                pair = (i, j);
                if differs(i, j) {
                    break;
                }
            }
            pair
        }
    };
    // Sides are shuffled so that a rater's habit of favouring one side teaches nothing.
    Ok(Some(if rng.random_range(0..2) == 0 {
        (i, j)
    } else {
        (j, i)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taste::model::{Observation, Prior, fit};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn no_recent() -> Vec<Vec<f64>> {
        Vec::new()
    }

    #[test]
    fn active_prefers_uncertain_directions() {
        // Lots of evidence on axis 0, none on axis 1: the axis-1 pair teaches more.
        let obs: Vec<_> = (0..40)
            .map(|i| Observation::from_diff(&[if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0]).unwrap())
            .collect();
        let post = fit(&obs, &Prior::zero(2, 1.0).unwrap()).unwrap();
        let cands = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.7, 0.1]];
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.0,
            ..Default::default()
        });
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            select(&s, &post, &cands, &no_recent(), &mut rng).unwrap(),
            Some(1)
        );
        for score in [
            Score::Uncertainty,
            Score::MutualInformation,
            Score::Predictive,
        ] {
            let s = Strategy::Active(ActiveConfig {
                epsilon: 0.0,
                score,
                ..Default::default()
            });
            assert_eq!(
                select(&s, &post, &cands, &no_recent(), &mut rng).unwrap(),
                Some(1),
                "{score:?}"
            );
        }
    }

    #[test]
    fn predictive_spends_votes_where_pairs_are_compared() {
        // Axis 1 is the less known, but only one pair of 51 differs along it: learning axis 0
        // settles fifty pairs, axis 1 one.
        let post = Prior::diagonal(&[0.0, 0.0], &[1.0, 4.0])
            .unwrap()
            .to_posterior();
        let mut cands = vec![vec![0.0, 1.0]];
        cands.extend((0..50).map(|k| vec![1.0 + f64::from(k) / 100.0, 0.0]));
        let pick = |score| {
            let s = Strategy::Active(ActiveConfig {
                epsilon: 0.0,
                max_cosine: 1.0,
                score,
            });
            select(
                &s,
                &post,
                &cands,
                &no_recent(),
                &mut StdRng::seed_from_u64(9),
            )
            .unwrap()
        };
        assert_eq!(pick(Score::Uncertainty), Some(0));
        assert_ne!(pick(Score::Predictive), Some(0));
        assert!(pick(Score::Predictive).is_some());
    }

    #[test]
    fn active_passes_over_predictable_pairs() {
        // Same variance along both, but the posterior is sure about the first.
        let post = Prior::centred(&[4.0, 0.0], 1.0).unwrap().to_posterior();
        let cands = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.0,
            ..Default::default()
        });
        let mut rng = StdRng::seed_from_u64(2);
        assert_eq!(
            select(&s, &post, &cands, &no_recent(), &mut rng).unwrap(),
            Some(1)
        );
    }

    #[test]
    fn recent_directions_are_not_repeated() {
        let post = Prior::zero(2, 1.0).unwrap().to_posterior();
        let cands = vec![vec![3.0, 0.0], vec![0.0, 1.0]];
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.0,
            max_cosine: 0.9,
            ..Default::default()
        });
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(
            select(&s, &post, &cands, &no_recent(), &mut rng).unwrap(),
            Some(0)
        );
        // The same direction was just shown (sign does not matter): take the other.
        let recent = vec![vec![-1.0, 0.01]];
        assert_eq!(
            select(&s, &post, &cands, &recent, &mut rng).unwrap(),
            Some(1)
        );
        // When every candidate repeats a recent direction, the best is still returned.
        let recent = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert_eq!(
            select(&s, &post, &cands, &recent, &mut rng).unwrap(),
            Some(0)
        );
    }

    #[test]
    fn exploration_rate_is_respected() {
        let post = Prior::zero(2, 1.0).unwrap().to_posterior();
        let cands = vec![vec![3.0, 0.0], vec![0.0, 1.0], vec![0.0, 0.5]];
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.3,
            max_cosine: 1.0,
            ..Default::default()
        });
        let mut rng = StdRng::seed_from_u64(4);
        let n = 3000;
        let off_best = (0..n)
            .filter(|_| select(&s, &post, &cands, &no_recent(), &mut rng).unwrap() != Some(0))
            .count() as f64
            / n as f64;
        // Exploration picks one of the two others with probability 0.3 · 2/3 = 0.2.
        assert!((off_best - 0.2).abs() < 0.03, "off-best rate {off_best}");
    }

    #[test]
    fn random_is_uniform_and_skips_identical_images() {
        let post = Prior::zero(2, 1.0).unwrap().to_posterior();
        let cands = vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]];
        let mut rng = StdRng::seed_from_u64(5);
        let mut counts = [0usize; 3];
        for _ in 0..2000 {
            let i = select(&Strategy::Random, &post, &cands, &no_recent(), &mut rng)
                .unwrap()
                .unwrap();
            counts[i] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > 850 && counts[2] > 850, "{counts:?}");
    }

    #[test]
    fn select_pair_agrees_with_select_over_all_differences() {
        let mut rng = StdRng::seed_from_u64(6);
        let images: Vec<Vec<f64>> = (0..12)
            .map(|_| (0..4).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let obs: Vec<_> = (0..10)
            .map(|k| Observation::pair(&images[k], &images[k + 1], k % 3 != 0).unwrap())
            .collect();
        let post = fit(&obs, &Prior::zero(4, 2.0).unwrap()).unwrap();
        let mut pairs = Vec::new();
        let mut diffs = Vec::new();
        for i in 0..images.len() {
            for j in (i + 1)..images.len() {
                pairs.push((i, j));
                diffs.push(
                    images[i]
                        .iter()
                        .zip(&images[j])
                        .map(|(a, b)| a - b)
                        .collect::<Vec<_>>(),
                );
            }
        }
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.0,
            max_cosine: 1.0,
            ..Default::default()
        });
        let by_diff = select(&s, &post, &diffs, &no_recent(), &mut rng)
            .unwrap()
            .unwrap();
        let by_pair = select_pair(&s, &post, &images, &no_recent(), &mut rng)
            .unwrap()
            .unwrap();
        let (i, j) = pairs[by_diff];
        assert!(by_pair == (i, j) || by_pair == (j, i));
    }

    #[test]
    fn select_among_agrees_with_select_over_the_pairs_differences() {
        let mut rng = StdRng::seed_from_u64(8);
        let images: Vec<Vec<f64>> = (0..10)
            .map(|_| (0..4).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let obs: Vec<_> = (0..8)
            .map(|k| Observation::pair(&images[k], &images[k + 2], k % 3 != 0).unwrap())
            .collect();
        let post = fit(&obs, &Prior::zero(4, 2.0).unwrap()).unwrap();
        // Two groups, pairs only within each, as the service forms them.
        let mut pairs = Vec::new();
        for group in [0..6, 6..10] {
            for i in group.clone() {
                for j in (i + 1)..group.end {
                    pairs.push((i, j));
                }
            }
        }
        let diffs: Vec<Vec<f64>> = pairs
            .iter()
            .map(|&(i, j)| {
                images[i]
                    .iter()
                    .zip(&images[j])
                    .map(|(a, b)| a - b)
                    .collect()
            })
            .collect();
        let s = Strategy::Active(ActiveConfig {
            epsilon: 0.0,
            max_cosine: 1.0,
            ..Default::default()
        });
        let recent = vec![diffs[0].clone()];
        for post in [post, Prior::zero(4, 1.0).unwrap().to_posterior()] {
            let by_diff = select(&s, &post, &diffs, &recent, &mut rng).unwrap();
            let among = select_among(&s, &post, &images, &pairs, &recent, &mut rng).unwrap();
            assert_eq!(by_diff, among);
        }
        assert!(matches!(
            select_among(
                &s,
                &post_zero(),
                &images,
                &[(0, 10)],
                &no_recent(),
                &mut rng
            ),
            Err(TasteError::PairOutOfRange { images: 10, .. })
        ));
        assert_eq!(
            select_among(&s, &post_zero(), &images, &[], &no_recent(), &mut rng).unwrap(),
            None
        );
    }

    fn post_zero() -> Posterior {
        Prior::zero(4, 1.0).unwrap().to_posterior()
    }

    #[test]
    fn edge_cases() {
        let post = Prior::zero(2, 1.0).unwrap().to_posterior();
        let mut rng = StdRng::seed_from_u64(7);
        let empty: Vec<Vec<f64>> = Vec::new();
        let s = Strategy::default();
        assert_eq!(
            select(&s, &post, &empty, &no_recent(), &mut rng).unwrap(),
            None
        );
        assert_eq!(
            select_pair(&s, &post, &[vec![1.0, 0.0]], &no_recent(), &mut rng).unwrap(),
            None
        );
        assert!(select(&s, &post, &[vec![1.0]], &no_recent(), &mut rng).is_err());
        assert!(select(&s, &post, &[vec![f64::NAN, 0.0]], &no_recent(), &mut rng).is_err());
        let bad = Strategy::Active(ActiveConfig {
            epsilon: 2.0,
            max_cosine: 0.5,
            ..Default::default()
        });
        assert!(select(&bad, &post, &[vec![1.0, 0.0]], &no_recent(), &mut rng).is_err());
        // Only identical images: still an answer, never a panic.
        let same = vec![vec![0.5, 0.5], vec![0.5, 0.5]];
        assert!(
            select_pair(&s, &post, &same, &no_recent(), &mut rng)
                .unwrap()
                .is_some()
        );
        assert_eq!(Strategy::parse("random"), Some(Strategy::Random));
        assert_eq!(Strategy::parse("active").map(|s| s.name()), Some("active"));
        assert_eq!(Strategy::parse("greedy"), None);
    }
}
