//! The pair-model fitter agrees with an independent implementation: scikit-learn's
//! `LogisticRegression(fit_intercept=False, C = σ²)` on the same votes
//! (data and weights from `scripts/fit_reference.py`, in `tests/data/logreg_reference.json`).

use serde::Deserialize;
use tastebud::taste::model::{Observation, Posterior, Prior, fit};

#[derive(Deserialize)]
struct Reference {
    dim: usize,
    left: Vec<Vec<f64>>,
    right: Vec<Vec<f64>>,
    left_won: Vec<bool>,
    fits: Vec<ReferenceFit>,
}

#[derive(Deserialize)]
struct ReferenceFit {
    prior_variance: f64,
    weights: Vec<f64>,
}

fn load() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/logreg_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference data is committed");
    serde_json::from_str(&text).expect("reference data parses")
}

fn observations(r: &Reference) -> Vec<Observation> {
    r.left
        .iter()
        .zip(&r.right)
        .zip(&r.left_won)
        .map(|((l, rt), &won)| Observation::pair(l, rt, won).expect("finite, same length"))
        .collect()
}

fn max_abs_diff(post: &Posterior, weights: &[f64]) -> f64 {
    post.mean_vec()
        .iter()
        .zip(weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn fit_matches_scikit_learn_to_1e_4() {
    let r = load();
    let obs = observations(&r);
    assert_eq!(obs.len(), r.left_won.len());
    assert!(r.left_won.iter().any(|&w| w) && r.left_won.iter().any(|&w| !w));
    assert!(r.fits.len() >= 2, "several prior strengths are checked");
    for f in &r.fits {
        assert_eq!(f.weights.len(), r.dim);
        let prior = Prior::zero(r.dim, f.prior_variance).unwrap();
        let post = fit(&obs, &prior).unwrap();
        let err = max_abs_diff(&post, &f.weights);
        assert!(
            err < 1e-4,
            "prior variance {}: max |w - w_sklearn| = {err}",
            f.prior_variance
        );
    }
}

#[test]
fn the_prior_strength_matters_so_the_check_is_not_vacuous() {
    // Fitting with the wrong C must miss the reference, or the agreement above proves nothing.
    let r = load();
    let obs = observations(&r);
    let f = &r.fits[0];
    let wrong = Prior::zero(r.dim, f.prior_variance * 2.0).unwrap();
    let post = fit(&obs, &wrong).unwrap();
    assert!(max_abs_diff(&post, &f.weights) > 1e-2);
}

#[test]
fn incremental_updates_land_near_the_reference() {
    let r = load();
    let obs = observations(&r);
    let f = r.fits.iter().find(|f| f.prior_variance == 1.0).unwrap();
    let mut post = Prior::zero(r.dim, f.prior_variance).unwrap().to_posterior();
    for o in &obs {
        post = post.update(o).unwrap();
    }
    let w = post.mean_vec();
    let dot: f64 = w.iter().zip(&f.weights).map(|(a, b)| a * b).sum();
    let na = w.iter().map(|a| a * a).sum::<f64>().sqrt();
    let nb = f.weights.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!(dot / (na * nb) > 0.98, "cosine {}", dot / (na * nb));
}
