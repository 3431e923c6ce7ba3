//! Simulation of the learning loop, pure and in memory: built-in raters answer pairs of
//! synthetic style vectors (dimension 30), and held-out accuracy is compared between active
//! and random pair selection.
//!
//! Run `cargo test --test taste_sim -- --nocapture` to see the numbers. What is asserted is
//! what was measured to hold with margin: active selection beats random selection at equal
//! votes; and square terms on the named axes learn an ideal point far better than a linear
//! taste (measured at 200 random votes: goldilocks 0.676 linear, 0.876 with squares) while
//! costing linear tastes little (bright 0.925 → 0.905, moody 0.922 → 0.914). The stronger goal of the issue (active@50 ≥ random@200) was *not* met in this
//! simulation (it comes out level for one rater and 1 to 3 points short for the others); the
//! printout shows by how much, per rater.

/// The pair model against scikit-learn (a module here: one test binary fewer to link in CI).
#[path = "taste_sim/fit.rs"]
mod fit;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tastebud::taste::model::{Observation, Posterior, Prior, fit_ard};
use tastebud::taste::quadratic::features;
use tastebud::taste::raters::{BUILTIN_RATERS, Rater, builtin};
use tastebud::taste::select::{Strategy, select_pair};

const DIM: usize = 30;
/// Images rendered per round (one prompt in several styles); the selector picks two of them.
const IMAGES_PER_ROUND: usize = 24;
const HELD_OUT: usize = 1000;
const PRIOR_VARIANCE: f64 = 1.0;
/// Rounds of relevance determination at each refit.
const ARD_ROUNDS: usize = 5;
/// Votes between full refits; in between, the one-vote update.
const REFIT_EVERY: usize = 10;
const SEEDS: u64 = 4;
const CHECKPOINTS: [usize; 3] = [50, 100, 200];
/// Prior variance of square terms, as `ranking.curvature_variance` by default.
const CURVATURE_VARIANCE: f64 = 0.25;
/// Axes with names (the rest stand for the hue histogram), which get square terms.
const NAMED: usize = 10;

fn axis_names() -> Vec<String> {
    let named = [
        "brightness",
        "contrast",
        "colourfulness",
        "chroma",
        "warmth",
        "hue_spread",
        "detail",
        "softness",
        "vignette",
        "symmetry",
    ];
    named
        .iter()
        .map(|s| s.to_string())
        .chain((0..DIM - named.len()).map(|i| format!("hue_hist_{i}")))
        .collect()
}

/// A synthetic standardized style vector: each axis a sum of three uniforms (mean 0, sd 1).
fn image(rng: &mut impl Rng) -> Vec<f64> {
    (0..DIM)
        .map(|_| (0..3).map(|_| rng.random_range(-1.0..1.0)).sum::<f64>())
        .collect()
}

struct HeldOut {
    pairs: Vec<(Vec<f64>, Vec<f64>, bool)>,
}

impl HeldOut {
    fn new(rater: &Rater, rng: &mut impl Rng) -> Self {
        let pairs = (0..HELD_OUT)
            .map(|_| {
                let (l, r) = (image(rng), image(rng));
                let left = rater.prefers_left(&l, &r).unwrap();
                (l, r, left)
            })
            .collect();
        HeldOut { pairs }
    }

    /// Agreement of the model's predicted winner with the rater's noiseless preference, for a
    /// posterior over the features with `squared` square terms.
    fn accuracy(&self, post: &Posterior, squared: usize) -> f64 {
        let right = self
            .pairs
            .iter()
            .filter(|(l, r, left)| {
                let (l, r) = (features(l, squared), features(r, squared));
                (post.prob_left(&l, &r).unwrap() > 0.5) == *left
            })
            .count();
        right as f64 / self.pairs.len() as f64
    }
}

fn refit(obs: &[Observation], prior: &Prior) -> Posterior {
    fit_ard(obs, prior, ARD_ROUNDS).unwrap().0
}

/// Run the loop with `strategy` over the features with square terms on the first `squared`
/// axes (prior variance [`CURVATURE_VARIANCE`] on those); held-out accuracy at each of
/// [`CHECKPOINTS`].
fn run(rater: &Rater, strategy: &Strategy, seed: u64, squared: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let held = HeldOut::new(rater, &mut rng);
    let variances: Vec<f64> = (0..DIM + squared)
        .map(|k| {
            if k < DIM {
                PRIOR_VARIANCE
            } else {
                CURVATURE_VARIANCE
            }
        })
        .collect();
    let prior = Prior::diagonal(&vec![0.0; DIM + squared], &variances).unwrap();
    let mut post = prior.to_posterior();
    let mut obs: Vec<Observation> = Vec::new();
    let mut recent: Vec<Vec<f64>> = Vec::new();
    let mut out = Vec::new();
    let votes = *CHECKPOINTS.last().unwrap();
    for n in 1..=votes {
        let images: Vec<Vec<f64>> = (0..IMAGES_PER_ROUND).map(|_| image(&mut rng)).collect();
        let phi: Vec<Vec<f64>> = images.iter().map(|x| features(x, squared)).collect();
        let (i, j) = select_pair(strategy, &post, &phi, &recent, &mut rng)
            .unwrap()
            .unwrap();
        let choice = rater.answer(&images[i], &images[j], &mut rng).unwrap();
        let (l, r) = (&phi[i], &phi[j]);
        let o = Observation::from_choice(l, r, choice).unwrap().unwrap();
        post = post.update(&o).unwrap();
        obs.push(o);
        if n % REFIT_EVERY == 0 {
            post = refit(&obs, &prior);
        }
        recent.push(l.iter().zip(r).map(|(a, b)| a - b).collect());
        if recent.len() > 3 {
            recent.remove(0);
        }
        if CHECKPOINTS.contains(&n) {
            out.push(held.accuracy(&refit(&obs, &prior), squared));
        }
    }
    out
}

/// Mean held-out accuracy over seeds at each checkpoint, for a linear taste.
fn curve(rater: &Rater, strategy: &Strategy) -> Vec<f64> {
    curve_with(rater, strategy, 0)
}

/// [`curve`] over features with `squared` square terms.
fn curve_with(rater: &Rater, strategy: &Strategy, squared: usize) -> Vec<f64> {
    let runs: Vec<Vec<f64>> = (0..SEEDS)
        .map(|s| run(rater, strategy, 1000 + s, squared))
        .collect();
    (0..CHECKPOINTS.len())
        .map(|c| runs.iter().map(|r| r[c]).sum::<f64>() / SEEDS as f64)
        .collect()
}

#[test]
fn active_selection_learns_faster_than_random() {
    let axes = axis_names();
    let mut failures = Vec::new();
    for name in BUILTIN_RATERS {
        let rater = builtin(name, &axes).unwrap();
        let a = curve(&rater, &Strategy::default());
        let r = curve(&rater, &Strategy::Random);
        println!(
            "{name:>11}: active@50 {:.3} @100 {:.3} @200 {:.3} | random@50 {:.3} @100 {:.3} @200 {:.3} | active@50 - random@200 = {:+.3}",
            a[0],
            a[1],
            a[2],
            r[0],
            r[1],
            r[2],
            a[0] - r[2]
        );
        // Learning happens at all: well above chance, and more votes help.
        if a[2] <= 0.6 || a[2] < a[0] {
            failures.push(format!("{name}: active curve {a:?}"));
        }
        // Active beats random at equal votes, clearly so early on (measured margins: 3 to 10
        // points at 50 votes).
        if a[0] < r[0] + 0.02 || a[2] <= r[2] {
            failures.push(format!("{name}: active {a:?} not above random {r:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn square_terms_learn_an_ideal_point_and_cost_a_linear_taste_little() {
    let axes = axis_names();
    let mut failures = Vec::new();
    for (name, min_gain) in [("goldilocks", 0.05), ("bright", -0.04), ("moody", -0.04)] {
        let rater = builtin(name, &axes).unwrap();
        let linear = curve_with(&rater, &Strategy::Random, 0);
        let curved = curve_with(&rater, &Strategy::Random, NAMED);
        println!(
            "{name:>11}: random votes, linear @50 {:.3} @200 {:.3} | with squares @50 {:.3} @200 {:.3}",
            linear[0], linear[2], curved[0], curved[2]
        );
        if curved[2] < linear[2] + min_gain {
            failures.push(format!(
                "{name}: with squares {curved:?}, linear {linear:?}, wanted a gain of {min_gain}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
