//! Steering the built-in renderer with a taste: calibration quality, `--s 0` exactness,
//! monotone improvement in stylize, and warmth tastes that make warmer pictures.

#[path = "render_steer/calibration_store.rs"]
mod calibration_store;
/// Calibrations in the store (a module here: one test binary fewer to link in CI).
#[path = "db/mod.rs"]
mod db;

use std::sync::OnceLock;

use tastebud::render::backend::{RenderRequest, Sketch, no_progress};
use tastebud::render::sketch::render;
use tastebud::render::steering::calibrate::{CalibrationRun, calibrate_sketch, fit_report};
use tastebud::render::steering::personalize::{RenderedImage, Steering, render_personalized};
use tastebud::render::style::{SCALAR_AXES, STYLE_DIM, axis_names};
use tastebud::taste::standardize::Standardizer;
use tastebud::taste::steer::{Calibration, DEFAULT_REACH, taste_score};

fn run() -> &'static (CalibrationRun, Standardizer) {
    static RUN: OnceLock<(CalibrationRun, Standardizer)> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = calibrate_sketch(&|_, _| {}).expect("calibration");
        let standardizer = Standardizer::fit(&run.samples, STYLE_DIM);
        (run, standardizer)
    })
}

/// One built-in picture of `size`² personalized by `taste`, through the production path
/// (`render_personalized` on the built-in backend).
#[allow(clippy::too_many_arguments)]
fn steer_sketch(
    prompt: &str,
    seed: u64,
    taste: &[f32],
    stylize: u32,
    calibration: &Calibration,
    standardizer: &Standardizer,
    candidates: usize,
    reach: f32,
    size: u32,
) -> RenderedImage {
    let request = RenderRequest {
        prompt: prompt.to_string(),
        seed,
        width: size,
        height: size,
        count: 1,
        ..RenderRequest::default()
    };
    let steering = Steering {
        taste,
        stylize,
        calibration,
        standardizer,
        candidates,
        reach,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut images = runtime
        .block_on(render_personalized(
            &Sketch,
            &request,
            Some(steering),
            no_progress(),
        ))
        .expect("render");
    images.remove(0)
}

fn taste(weights: &[(&str, f32)]) -> Vec<f32> {
    let names = axis_names();
    let mut w = vec![0.0; STYLE_DIM];
    for (name, value) in weights {
        let i = names.iter().position(|n| n == name).expect("axis");
        w[i] = *value;
    }
    w
}

const PROMPTS: [&str; 3] = [
    "a cat on a beach",
    "a castle in the mountains",
    "a city at sunset",
];

#[test]
fn the_built_in_renderer_calibrates_well_on_its_main_axes() {
    let (run, _) = run();
    let cal = &run.calibration;
    let names = axis_names();
    for axis in [
        "brightness",
        "chroma",
        "colourfulness",
        "softness",
        "vignette",
    ] {
        let i = names.iter().position(|n| n == axis).expect("axis");
        assert!(cal.r2[i] > 0.7, "{axis}: R² {}", cal.r2[i]);
    }
    // The warmth knob raises warmth; the saturation knob raises chroma.
    let m = cal.knobs.len();
    let warmth = names.iter().position(|n| n == "warmth").expect("axis");
    let chroma = names.iter().position(|n| n == "chroma").expect("axis");
    assert!(cal.jacobian[warmth * m + 3] > 0.0);
    assert!(cal.jacobian[chroma * m] > 0.0);
    let report = fit_report(cal);
    assert!(report.lines().count() == STYLE_DIM + 2, "{report}");
}

#[test]
fn stylize_zero_gives_exactly_the_unpersonalized_pixels() {
    let (run, standardizer) = run();
    let w = taste(&[("warmth", 1.0), ("chroma", 0.5), ("detail", -0.7)]);
    for (i, prompt) in PROMPTS.iter().enumerate() {
        let plain = render(prompt, 40 + i as u64, &[], 96, 96);
        let steered = steer_sketch(
            prompt,
            40 + i as u64,
            &w,
            0,
            &run.calibration,
            standardizer,
            4,
            DEFAULT_REACH,
            96,
        );
        assert_eq!(steered.image, plain);
        assert!(steered.knobs.iter().all(|k| *k == 0.0));
    }
}

#[test]
fn the_taste_score_rises_with_stylize() {
    let (run, standardizer) = run();
    let tastes = [
        taste(&[("warmth", 1.0), ("chroma", 0.6)]),
        taste(&[("brightness", -0.8), ("softness", 0.6), ("vignette", 0.5)]),
        taste(&[
            ("contrast", 0.7),
            ("detail", 0.7),
            ("harmony", 0.4),
            ("warmth", -0.5),
        ]),
    ];
    for w in &tastes {
        let mut means = vec![];
        for s in [0, 50, 100, 250, 750, 1000] {
            let mut total = 0.0;
            for (i, prompt) in PROMPTS.iter().enumerate() {
                let steered = steer_sketch(
                    prompt,
                    i as u64,
                    w,
                    s,
                    &run.calibration,
                    standardizer,
                    2,
                    DEFAULT_REACH,
                    96,
                );
                total += taste_score(w, &standardizer.apply(&steered.style));
            }
            means.push(total / PROMPTS.len() as f32);
        }
        println!("mean taste score at --s 0, 50, 100, 250, 750, 1000: {means:?}");
        // It rises all the way to --s 250. Past that most knobs sit at their limits and the
        // renderer is far from the calibration's linear map, so the score levels off and may
        // dip: at the default reach (1.2, each taste moving the knobs `reach` per 100 of --s per
        // unit of taste) two of these tastes kept rising to 1000 and the third fell by 2.3% of
        // its rise at 750 and came back by 1000. A dip of at most 5% of the rise is allowed past
        // 250 and nowhere else.
        for pair in means[..4].windows(2) {
            assert!(pair[1] >= pair[0] - 1e-4, "score fell: {means:?}");
        }
        let rise = means[3] - means[0];
        for later in &means[4..] {
            assert!(
                *later >= means[3] - 0.05 * rise,
                "score fell past 250: {means:?}"
            );
        }
        assert!(
            means[5] > means[0] + 1.0,
            "not clearly higher at 1000: {means:?}"
        );
    }
}

#[test]
fn a_taste_for_warmth_makes_warmer_pictures_than_a_taste_against_it() {
    let (run, standardizer) = run();
    let warm = taste(&[("warmth", 1.0)]);
    let cool = taste(&[("warmth", -1.0)]);
    for (i, prompt) in PROMPTS.iter().enumerate() {
        let make = |w: &[f32]| {
            steer_sketch(
                prompt,
                i as u64,
                w,
                250,
                &run.calibration,
                standardizer,
                1,
                DEFAULT_REACH,
                96,
            )
        };
        let (a, b) = (make(&warm), make(&cool));
        let (wa, wb) = (a.style.get("warmth"), b.style.get("warmth"));
        assert!(wa > wb, "{prompt}: {wa:?} vs {wb:?}");
    }
}

#[tokio::test]
async fn personalized_rendering_on_a_backend_keeps_s0_plain_and_follows_the_taste() {
    use tastebud::render::backend::{RenderRequest, Sketch, no_progress};
    use tastebud::render::steering::personalize::{Steering, render_personalized};
    let (run, standardizer) = run();
    let w = taste(&[("warmth", 1.0), ("brightness", 0.5)]);
    let request = RenderRequest {
        prompt: "a lighthouse by the sea".into(),
        seed: 9,
        knobs: vec![],
        width: 96,
        height: 96,
        count: 2,
        ..RenderRequest::default()
    };
    let steering = |s| Steering {
        taste: &w,
        stylize: s,
        calibration: &run.calibration,
        standardizer,
        candidates: 3,
        reach: DEFAULT_REACH,
    };
    let plain = render_personalized(&Sketch, &request, None, no_progress())
        .await
        .expect("plain");
    let zero = render_personalized(&Sketch, &request, Some(steering(0)), no_progress())
        .await
        .expect("s0");
    let high = render_personalized(&Sketch, &request, Some(steering(750)), no_progress())
        .await
        .expect("s750");
    assert_eq!(plain.len(), 2);
    for i in 0..2 {
        assert_eq!(zero[i].image, plain[i].image);
        assert_eq!(
            plain[i].image,
            render("a lighthouse by the sea", 9 + i as u64, &[], 96, 96)
        );
        let score = |x: &tastebud::render::steering::personalize::RenderedImage| {
            taste_score(&w, &standardizer.apply(&x.style))
        };
        assert!(score(&high[i]) > score(&plain[i]) + 0.5);
    }
}

#[tokio::test]
async fn the_calibrate_command_stores_the_fit_and_reports_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path");
    let run = |version: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tastebud"))
            .args(["calibrate", "--version", version, "--data-dir", data])
            .output()
            .expect("run tastebud")
    };
    let out = run("7");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("sketch") && report.contains("brightness"),
        "{report}"
    );
    let store = tastebud::store::Store::open_in(dir.path())
        .await
        .expect("store");
    let stored = store
        .load_calibration("7", "sketch", "", "style-v1")
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.knobs.len(), 9);
    assert_eq!(stored.intercept.len(), STYLE_DIM);
    store.close().await;
    let out = run("5.2");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is not a version personalization works with")
    );
}

#[tokio::test]
async fn steering_starts_from_the_measured_plain_picture_and_keeps_it_when_it_is_best() {
    use tastebud::render::backend::{RenderRequest, Sketch, no_progress};
    use tastebud::render::steering::personalize::{RenderedImage, Steering, render_personalized};
    let (run, standardizer) = run();
    let request = RenderRequest {
        prompt: "a red fox in tall grass".into(),
        seed: 4,
        knobs: vec![],
        width: 96,
        height: 96,
        count: 2,
        ..RenderRequest::default()
    };
    let plain = render_personalized(&Sketch, &request, None, no_progress())
        .await
        .expect("plain");
    // A taste whose ideal is exactly where this prompt's plain batch measures, on three axes:
    // u = −Σ (x − x̄)², linear weights 2x̄ and square terms −1.
    let names = axis_names();
    let mut w = vec![0.0; STYLE_DIM + SCALAR_AXES.len()];
    for axis in ["brightness", "contrast", "warmth"] {
        let k = names.iter().position(|n| n == axis).expect("axis");
        let centre = plain
            .iter()
            .map(|p| standardizer.apply(&p.style)[k])
            .sum::<f32>()
            / plain.len() as f32;
        w[k] = 2.0 * centre;
        w[STYLE_DIM + k] = -1.0;
    }
    let steered = |candidates| Steering {
        taste: &w,
        stylize: 1000,
        calibration: &run.calibration,
        standardizer,
        candidates,
        reach: DEFAULT_REACH,
    };
    let score = |x: &RenderedImage| taste_score(&w, &standardizer.apply(&x.style));
    let measured = render_personalized(&Sketch, &request, Some(steered(2)), no_progress())
        .await
        .expect("measured");
    let predicted = render_personalized(&Sketch, &request, Some(steered(1)), no_progress())
        .await
        .expect("predicted");
    for i in 0..2 {
        // From the measured start the taste is at its peak, so nothing moves: the plain
        // pictures come back, at least as liked as what the calibration's guess steers to.
        assert_eq!(measured[i].image, plain[i].image);
        assert!(measured[i].knobs.iter().all(|&k| k == 0.0));
        assert!(score(&measured[i]) >= score(&predicted[i]));
        // The calibration alone puts an average prompt elsewhere, so it would move the knobs.
        assert!(predicted[i].knobs.iter().any(|&k| k != 0.0));
    }
}
