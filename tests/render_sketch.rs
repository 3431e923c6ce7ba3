//! The built-in renderer: deterministic, recognisable scenes, knobs that move the style axes
//! they are named after, and the image files it writes.

use image::RgbImage;
use tastebud::cli::{RenderArgs, render_to_file};
use tastebud::render::backend::knobs::SKETCH_KNOBS;
use tastebud::render::images::files::{content_hash, grid, load_image, pair_image, save_png};
use tastebud::render::sketch::{render, render_batch};
use tastebud::render::style::{StyleVector, describe};

const PROMPTS: [&str; 4] = [
    "a husky in a desert at sunset",
    "a lighthouse by the sea",
    "a fox in a forest",
    "snowy mountains at night",
];

fn knob(name: &str, value: f32) -> Vec<f32> {
    let mut k = vec![0.0; SKETCH_KNOBS.len()];
    let i = SKETCH_KNOBS.iter().position(|n| *n == name).expect("knob");
    k[i] = value;
    k
}

/// Mean of one style axis over the test prompts and two seeds, rendered with `knobs`.
fn mean_axis(knobs: &[f32], axis: &str) -> f32 {
    let mut sum = 0.0;
    for prompt in PROMPTS {
        for seed in [3, 4] {
            let v: StyleVector = describe(&render(prompt, seed, knobs, 128, 128));
            sum += v.get(axis).expect("axis");
        }
    }
    sum / (PROMPTS.len() * 2) as f32
}

#[test]
fn rendering_is_deterministic_and_the_seed_matters() {
    let a = render(PROMPTS[0], 7, &knob("warmth", 0.3), 96, 64);
    let b = render(PROMPTS[0], 7, &knob("warmth", 0.3), 96, 64);
    assert_eq!(a.dimensions(), (96, 64));
    assert_eq!(a, b);
    assert_ne!(a, render(PROMPTS[0], 8, &knob("warmth", 0.3), 96, 64));
    assert_ne!(a, render(PROMPTS[1], 7, &knob("warmth", 0.3), 96, 64));
    let batch = render_batch(PROMPTS[0], 7, &knob("warmth", 0.3), 96, 64, 4);
    assert_eq!(batch.len(), 4);
    assert_eq!(batch[0], a);
    assert_ne!(batch[1], batch[2]);
}

#[test]
fn scene_words_change_the_picture_as_expected() {
    let style = |p: &str| describe(&render(p, 1, &[], 128, 128));
    let night = style("a city at night");
    let day = style("a city");
    assert!(night.get("brightness") < day.get("brightness"));
    let desert = style("a desert");
    let sea = style("the sea");
    assert!(desert.get("warmth") > sea.get("warmth"));
    let snow = style("snow");
    assert!(snow.get("high_key") > desert.get("high_key"));
}

#[test]
fn each_knob_moves_its_own_axis() {
    let cases = [
        ("saturation", "chroma"),
        ("contrast", "contrast"),
        ("brightness", "brightness"),
        ("warmth", "warmth"),
        ("detail", "detail"),
        ("softness", "softness"),
        ("harmony", "harmony"),
        ("vignette", "vignette"),
    ];
    for (name, axis) in cases {
        let low = mean_axis(&knob(name, -0.8), axis);
        let high = mean_axis(&knob(name, 0.8), axis);
        assert!(high > low, "{name}: {axis} {low} → {high}");
    }
    // A centred composition is more symmetric than a rule-of-thirds one.
    assert!(
        mean_axis(&knob("composition", -1.0), "symmetry")
            > mean_axis(&knob("composition", 1.0), "symmetry")
    );
}

#[test]
fn grid_and_pair_images_have_the_right_layout() {
    let images: Vec<RgbImage> = (0..4).map(|s| render(PROMPTS[1], s, &[], 40, 30)).collect();
    let g = grid(&images).expect("grid");
    assert_eq!(g.dimensions(), (80, 60));
    assert_eq!(g.get_pixel(45, 35), images[3].get_pixel(5, 5));
    assert_eq!(g.get_pixel(5, 35), images[2].get_pixel(5, 5));
    assert!(grid(&[]).is_err());
    assert!(grid(&[images[0].clone(), RgbImage::new(3, 3)]).is_err());

    let left = render(PROMPTS[0], 1, &[], 192, 192);
    let right = render(PROMPTS[2], 1, &[], 192, 192);
    let pair = pair_image(&left, &right);
    assert!(pair.width() > 384 && pair.height() == 192);
    // The pictures are there, below their labels.
    assert_eq!(pair.get_pixel(100, 150), left.get_pixel(100, 150));
    assert_eq!(
        pair.get_pixel(pair.width() - 1, 191),
        right.get_pixel(191, 191)
    );
    // Labels: a white badge with black ink at the top left of each picture.
    let badge = |x0: u32| {
        let mut white = 0;
        let mut black = 0;
        for y in 6..30 {
            for x in x0..x0 + 18 {
                match pair.get_pixel(x, y).0 {
                    [255, 255, 255] => white += 1,
                    [0, 0, 0] => black += 1,
                    _ => {}
                }
            }
        }
        (white, black)
    };
    let (w1, b1) = badge(6);
    let (w2, b2) = badge(192 + 6 + 6);
    assert!(w1 > 50 && b1 > 10, "{w1} {b1}");
    assert!(w2 > 50 && b2 > 10, "{w2} {b2}");
    assert_ne!(b1, b2, "the two labels are different digits");
}

#[test]
fn png_files_are_named_by_their_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = render(PROMPTS[3], 2, &[], 64, 64);
    let saved = save_png(dir.path(), &image).expect("save");
    assert_eq!(saved.hash.len(), 64);
    assert_eq!(
        saved.path.file_name().and_then(|n| n.to_str()),
        Some(format!("{}.png", saved.hash).as_str())
    );
    let bytes = std::fs::read(&saved.path).expect("read");
    assert_eq!(content_hash(&bytes), saved.hash);
    assert_eq!(load_image(&saved.path).expect("load"), image);
    // The same pixels again: same name, still one file.
    assert_eq!(save_png(dir.path(), &image).expect("save again"), saved);
    let other = save_png(dir.path(), &render(PROMPTS[3], 3, &[], 64, 64)).expect("save");
    assert_ne!(other.hash, saved.hash);
    let pngs = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(pngs, 2);
    assert!(load_image(&dir.path().join("missing.png")).is_err());
}

#[test]
fn the_render_command_writes_a_grid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("grid.png");
    let args = RenderArgs {
        prompt: "a husky in a desert".into(),
        seed: 5,
        knobs: vec!["warmth=0.5".into(), "detail=-0.2".into()],
        size: 48,
    };
    let line = render_to_file(&args, &out).expect("render");
    assert!(line.contains("grid.png"));
    let grid_image = load_image(&out).expect("load");
    assert_eq!(grid_image.dimensions(), (96, 96));
    let first = render(
        "a husky in a desert",
        5,
        &knob("warmth", 0.5)
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 4 { -0.2 } else { *v })
            .collect::<Vec<_>>(),
        48,
        48,
    );
    assert_eq!(grid_image.get_pixel(10, 10), first.get_pixel(10, 10));
    let bad = RenderArgs {
        knobs: vec!["heat=1".into()],
        ..args
    };
    assert!(render_to_file(&bad, &out).is_err());
}

#[test]
fn the_style_command_prints_one_json_line_per_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = save_png(dir.path(), &render(PROMPTS[0], 1, &[], 64, 64)).expect("save");
    let b = save_png(dir.path(), &render(PROMPTS[1], 1, &[], 64, 64)).expect("save");
    let text = tastebud::cli::style_files(&[&a.path, &b.path]).expect("style");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["space"], "style-v1");
    let warmth = |v: &serde_json::Value| v["style"]["warmth"].as_f64().expect("warmth");
    assert!(
        warmth(&lines[0]) > warmth(&lines[1]),
        "desert sunset is warmer than sea"
    );
    assert_eq!(lines[1]["style"].as_object().map(|o| o.len()), Some(31));
    assert!(tastebud::cli::style_files(&[dir.path().join("nope.png")]).is_err());
}
