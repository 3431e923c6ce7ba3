//! Benchmarks for the style descriptor and the built-in renderer.
//!
//! Targets on 2 cores: the descriptor ≤ 5 ms per 512×512 image; the built-in renderer 4 images
//! of 512×512 plus their 2×2 grid ≤ 300 ms. Run with `cargo bench --bench render`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tastebud::render::images::files::{encode_png, grid};
use tastebud::render::sketch::{render, render_batch};
use tastebud::render::style::describe;

const PROMPT: &str = "a husky in a desert at sunset with mountains";

fn descriptor(c: &mut Criterion) {
    let image = render(PROMPT, 1, &[0.2; 9], 512, 512);
    c.bench_function("describe 512x512", |b| {
        b.iter(|| describe(black_box(&image)))
    });
}

fn renderer(c: &mut Criterion) {
    let knobs = [0.3, 0.2, -0.1, 0.4, 0.5, 0.3, 0.2, 0.4, 0.5];
    c.bench_function("sketch 4x512x512 + grid", |b| {
        b.iter(|| {
            let images = render_batch(black_box(PROMPT), 7, &knobs, 512, 512, 4);
            grid(&images)
        })
    });
    c.bench_function("sketch 1x512x512", |b| {
        b.iter(|| render(black_box(PROMPT), 7, &knobs, 512, 512))
    });
    let images = render_batch(PROMPT, 7, &knobs, 512, 512, 4);
    if let Ok(g) = grid(&images) {
        c.bench_function("png encode 1024x1024 grid", |b| {
            b.iter(|| encode_png(black_box(&g)))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = descriptor, renderer
}
criterion_main!(benches);
