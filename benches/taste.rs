//! Criterion benchmarks of the taste layer: a full refit at a checkpoint, the one-vote update,
//! and pair selection over a realistic candidate set (dimension 30, as the style space).
//!
//! Run: `cargo bench --bench taste`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tastebud::taste::model::{Observation, Posterior, Prior, fit, fit_ard, sigmoid};
use tastebud::taste::select::{Strategy, select, select_pair};

const DIM: usize = 30;

fn image(rng: &mut impl Rng) -> Vec<f64> {
    (0..DIM).map(|_| rng.random_range(-1.7..1.7)).collect()
}

/// `n` votes on random pairs by a noisy rater with a random linear taste.
fn votes(rng: &mut StdRng, n: usize) -> Vec<Observation> {
    let w: Vec<f64> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
    (0..n)
        .map(|_| {
            let (l, r) = (image(rng), image(rng));
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
    let mut rng = StdRng::seed_from_u64(1);
    let obs = votes(&mut rng, 200);
    let prior = Prior::zero(DIM, 1.0).unwrap();
    c.bench_function("refit 200 votes d=30", |b| {
        b.iter(|| fit(black_box(&obs), black_box(&prior)).unwrap())
    });
    c.bench_function("refit 200 votes d=30, ARD 5 rounds", |b| {
        b.iter(|| fit_ard(black_box(&obs), black_box(&prior), 5).unwrap())
    });
    let post = fit(&obs[..199], &prior).unwrap();
    c.bench_function("one-vote update d=30", |b| {
        b.iter(|| black_box(&post).update(black_box(&obs[199])).unwrap())
    });
}

fn bench_select(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let obs = votes(&mut rng, 100);
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
