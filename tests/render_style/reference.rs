//! The style descriptor against an independent computation on real photographs.
//!
//! `scripts/style_reference.py` cropped three of scikit-image's sample photographs into
//! `tests/data/style_photo_*.png` and computed every axis with numpy and scikit-image (its own
//! Lab conversion, percentiles, filters); its output is `tests/data/style_reference.json`.

use std::path::PathBuf;

use tastebud::render::images::files::load_image;
use tastebud::render::style::{STYLE_DIM, axis_names, describe};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// Allowed difference per axis: Lab-unit axes differ by the two libraries' conversion
/// constants and f32 against f64; fractions and L*-based axes agree closely.
fn tolerance(axis: &str, expected: f64) -> f64 {
    match axis {
        "chroma" | "chroma_spread" | "warmth" | "tint" => 0.15 + 0.005 * expected.abs(),
        "colourfulness" => 0.01 + 1e-4 * expected.abs(),
        "low_key" | "high_key" => 0.003,
        a if a.starts_with("hue_") => 0.004,
        _ => 0.002 + 0.005 * expected.abs(),
    }
}

#[test]
fn descriptor_matches_numpy_and_scikit_image_on_photographs() {
    let text = std::fs::read_to_string(data("style_reference.json")).expect("reference file");
    let reference: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(reference["space"], "style-v1");
    let photos = reference["photos"].as_object().expect("photos");
    assert_eq!(photos.len(), 3);
    let names = axis_names();
    let mut report = Vec::new();
    for (photo, entry) in photos {
        let file = entry["file"].as_str().expect("file");
        let ours = describe(&load_image(&data(file)).expect("photo"));
        let theirs = entry["style"].as_object().expect("style");
        assert_eq!(
            theirs.len(),
            STYLE_DIM,
            "{photo}: every axis has a reference"
        );
        for (i, axis) in names.iter().enumerate() {
            let expected = theirs[axis].as_f64().expect("number");
            let got = ours.0[i] as f64;
            if (got - expected).abs() > tolerance(axis, expected) {
                report.push(format!(
                    "{photo} {axis}: tastebud {got} vs reference {expected}"
                ));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}
