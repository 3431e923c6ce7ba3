//! Criterion benchmark: parsing typical `/imagine` prompts, and rendering canonical text.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tastebud::prompt::{Limits, parse};

/// Prompts as people write them: plain, personalized, with images, multi-prompts, permutations.
const TYPICAL: &[&str] = &[
    "a husky in a desert",
    "a husky in a desert --ar 16:9 --p --s 250",
    "portrait of an old fisherman, dramatic lighting, 35mm film --v 6.1 --style raw --ar 2:3 --c 10",
    "https://cdn.discordapp.com/attachments/1/2/ref.png a cozy cabin in the snow --iw 1.5 --p abc1234::2 0123456789 --s 400",
    "space:: ship::2 nebula::0.5 --no planets, stars --seed 12345 --q 2",
    "a {red, green} bird on a {branch, wire} --ar 16:9 —s 100",
    "watercolor city at dusk --niji 6 --sref https://e.com/style.jpg::2 7654321 --sw 300 --weird 250 --tile",
];

fn bench(c: &mut Criterion) {
    let limits = Limits::new(4, &["6", "6.1", "7", "niji 6"]);

    let mut group = c.benchmark_group("prompt");
    group.throughput(Throughput::Elements(TYPICAL.len() as u64));
    group.bench_function("parse 7 typical prompts", |b| {
        b.iter(|| {
            for p in TYPICAL {
                let _ = black_box(parse(black_box(p), &limits));
            }
        })
    });
    let parsed: Vec<_> = TYPICAL
        .iter()
        .filter_map(|p| parse(p, &limits).ok())
        .flat_map(|p| p.prompts)
        .collect();
    group.throughput(Throughput::Elements(parsed.len() as u64));
    assert_eq!(
        parsed.len(),
        TYPICAL.len() + 3,
        "every typical prompt parses"
    );
    group.bench_function("canonical text of their jobs", |b| {
        b.iter(|| {
            for p in &parsed {
                black_box(p.canonical());
            }
        })
    });
    group.finish();

    c.bench_function("parse one personalized prompt", |b| {
        b.iter(|| parse(black_box(TYPICAL[1]), &limits))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
