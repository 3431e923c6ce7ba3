//! Criterion benchmarks of the taste layer: a full refit at a checkpoint, the one-vote update,
//! and pair selection over a realistic candidate set: the style space's 31 axes, and the 50
//! features the service fits (those axes plus squares of the 19 named ones).
//!
//! Run: `cargo bench --bench taste`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tastebud::taste::model::{Observation, Posterior, Prior, fit, fit_ard, sigmoid};
use tastebud::taste::quadratic::features;
use tastebud::taste::select::{Strategy, select, select_pair};

/// Axes of the style space, and how many of them (the named ones) get square terms.
const AXES: usize = 31;
const SQUARED: usize = 19;
const DIM: usize = AXES + SQUARED;

/// The features of a random standardized style vector.
fn image(rng: &mut impl Rng) -> Vec<f64> {
    let x: Vec<f64> = (0..AXES).map(|_| rng.random_range(-1.7..1.7)).collect();
    features(&x, SQUARED)
}

/// `n` votes on random pairs by a noisy rater with a random taste over `dim` features.
fn votes(rng: &mut StdRng, n: usize, dim: usize) -> Vec<Observation> {
    let w: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
    (0..n)
        .map(|_| {
            let (mut l, mut r) = (image(rng), image(rng));
            l.truncate(dim);
            r.truncate(dim);
            let u: f64 = w
                .iter()
                .zip(l.iter().zip(&r))
                .map(|(w, (a, b))| w * (a - b))
                .sum();
            Observation::pair(&l, &r, rng.random_range(0.0..1.0) < sigmoid(u)).unwrap()
        })
        .collect()
}

fn bench_fit(c: &mut Criterion) {
    for dim in [AXES, DIM] {
        let mut rng = StdRng::seed_from_u64(1);
        let obs = votes(&mut rng, 200, dim);
        let prior = Prior::zero(dim, 1.0).unwrap();
        c.bench_function(&format!("refit 200 votes d={dim}"), |b| {
            b.iter(|| fit(black_box(&obs), black_box(&prior)).unwrap())
        });
        c.bench_function(&format!("refit 200 votes d={dim}, ARD 5 rounds"), |b| {
            b.iter(|| fit_ard(black_box(&obs), black_box(&prior), 5).unwrap())
        });
        let post = fit(&obs[..199], &prior).unwrap();
        c.bench_function(&format!("one-vote update d={dim}"), |b| {
            b.iter(|| black_box(&post).update(black_box(&obs[199])).unwrap())
        });
    }
}

fn bench_select(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let obs = votes(&mut rng, 100, DIM);
    let post: Posterior = fit(&obs, &Prior::zero(DIM, 1.0).unwrap()).unwrap();
    let recent: Vec<Vec<f64>> = (0..3).map(|_| image(&mut rng)).collect();
    // One prompt rendered in 24 styles: 276 candidate pairs.
    let images: Vec<Vec<f64>> = (0..24).map(|_| image(&mut rng)).collect();
    // A pool-wide list of 2,000 candidate pairs given as difference vectors.
    let diffs: Vec<Vec<f64>> = (0..2000).map(|_| image(&mut rng)).collect();
    let active = Strategy::default();
    c.bench_function("select_pair active, 24 images (276 pairs)", |b| {
        let mut rng = StdRng::seed_from_u64(3);
        b.iter(|| select_pair(&active, &post, black_box(&images), &recent, &mut rng).unwrap())
    });
    let many: Vec<Vec<f64>> = (0..200).map(|_| image(&mut rng)).collect();
    c.bench_function("select_pair active, 200 images (19,900 pairs)", |b| {
        let mut rng = StdRng::seed_from_u64(4);
        b.iter(|| select_pair(&active, &post, black_box(&many), &recent, &mut rng).unwrap())
    });
    c.bench_function("select active, 2,000 candidate pairs", |b| {
        let mut rng = StdRng::seed_from_u64(5);
        b.iter(|| select(&active, &post, black_box(&diffs), &recent, &mut rng).unwrap())
    });
    c.bench_function("select random, 2,000 candidate pairs", |b| {
        let mut rng = StdRng::seed_from_u64(6);
        b.iter(|| {
            select(
                &Strategy::Random,
                &post,
                black_box(&diffs),
                &recent,
                &mut rng,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench_fit, bench_select);
criterion_main!(benches);
