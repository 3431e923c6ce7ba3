//! Known-answer tests of the style descriptor: each edit of a picture moves the axis it should.

/// The descriptor against numpy and scikit-image (a module: one test binary fewer to link).
#[path = "render_style/reference.rs"]
mod reference;

use image::{Rgb, RgbImage};
use tastebud::render::style::{
    HUE_BINS, SCALAR_AXES, SPACE, STYLE_DIM, StyleVector, axis_names, describe,
};
use tastebud::taste::standardize::Standardizer;

/// A busy test picture: a sky gradient, a red disc, a green field with stripes, some noise.
fn picture(w: u32, h: u32) -> RgbImage {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 31) as f32 - 15.0;
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let base = if fy < 0.55 {
            [90.0 + 100.0 * fy, 140.0 + 80.0 * fy, 230.0]
        } else if ((fx * 20.0) as u32).is_multiple_of(2) {
            [60.0, 150.0, 50.0]
        } else {
            [90.0, 120.0, 40.0]
        };
        let d = ((fx - 0.3).powi(2) + (fy - 0.35).powi(2)).sqrt();
        let c = if d < 0.15 { [220.0, 50.0, 40.0] } else { base };
        Rgb(c.map(|v: f32| (v + noise).clamp(0.0, 255.0) as u8))
    })
}

fn axis(v: &StyleVector, name: &str) -> f32 {
    v.get(name).unwrap_or_else(|| panic!("no axis {name}"))
}

/// Moves every pixel's colour away from (factor > 1) or toward (< 1) its own grey.
fn saturate(image: &RgbImage, factor: f32) -> RgbImage {
    let mut out = image.clone();
    for p in out.pixels_mut() {
        let [r, g, b] = p.0.map(|v| v as f32);
        let grey = 0.299 * r + 0.587 * g + 0.114 * b;
        p.0 = [r, g, b].map(|v| (grey + (v - grey) * factor).clamp(0.0, 255.0) as u8);
    }
    out
}

#[test]
fn the_space_has_named_axes_and_hue_bins() {
    assert_eq!(SPACE, "style-v1");
    let names = axis_names();
    assert_eq!(names.len(), STYLE_DIM);
    assert_eq!(STYLE_DIM, SCALAR_AXES.len() + HUE_BINS);
    assert_eq!(names[0], "brightness");
    assert_eq!(names[SCALAR_AXES.len()], "hue_000");
    assert_eq!(names[STYLE_DIM - 1], "hue_330");
    for name in SCALAR_AXES {
        assert!(
            tastebud::render::style::axis_description(name).is_some(),
            "{name}"
        );
    }
}

#[test]
fn grey_has_zero_chroma_and_no_hues() {
    for level in [0u8, 77, 128, 255] {
        let v = describe(&RgbImage::from_pixel(64, 48, Rgb([level; 3])));
        assert!(
            axis(&v, "chroma").abs() < 0.05,
            "chroma {}",
            axis(&v, "chroma")
        );
        assert!(axis(&v, "colourfulness").abs() < 1e-3);
        assert!(axis(&v, "contrast").abs() < 1e-3);
        assert!(axis(&v, "detail").abs() < 1e-4);
        let hue_mass: f32 = v.0[SCALAR_AXES.len()..].iter().sum();
        assert_eq!(hue_mass, 0.0);
        assert_eq!(axis(&v, "hue_spread"), 0.0);
    }
    // Pure black and white are the extremes of brightness.
    let black = describe(&RgbImage::from_pixel(8, 8, Rgb([0; 3])));
    let white = describe(&RgbImage::from_pixel(8, 8, Rgb([255; 3])));
    assert!(axis(&black, "brightness").abs() < 1e-3);
    assert!((axis(&white, "brightness") - 1.0).abs() < 1e-3);
    assert_eq!(axis(&black, "low_key"), 1.0);
    assert_eq!(axis(&white, "high_key"), 1.0);
}

#[test]
fn a_saturated_copy_is_more_colourful_than_its_desaturated_original() {
    let original = saturate(&picture(200, 150), 0.5);
    let saturated = saturate(&original, 1.8);
    let (a, b) = (describe(&original), describe(&saturated));
    assert!(axis(&b, "colourfulness") > axis(&a, "colourfulness") * 1.3);
    assert!(axis(&b, "chroma") > axis(&a, "chroma") * 1.3);
}

#[test]
fn a_brightened_copy_is_brighter() {
    let original = picture(160, 160);
    let mut brighter = original.clone();
    for p in brighter.pixels_mut() {
        p.0 = p.0.map(|v| v.saturating_add(40));
    }
    let (a, b) = (describe(&original), describe(&brighter));
    assert!(axis(&b, "brightness") > axis(&a, "brightness") + 0.05);
    assert!(axis(&b, "high_key") >= axis(&a, "high_key"));
}

#[test]
fn a_blurred_copy_has_less_detail_and_is_softer() {
    let original = picture(256, 256);
    let blurred = image::imageops::blur(&original, 3.0);
    let (a, b) = (describe(&original), describe(&blurred));
    assert!(axis(&b, "detail") < axis(&a, "detail") * 0.7);
    assert!(axis(&b, "fine_texture") < axis(&a, "fine_texture") * 0.7);
    assert!(axis(&b, "softness") > axis(&a, "softness"));
}

#[test]
fn a_mirrored_image_keeps_its_symmetry() {
    let original = picture(256, 192);
    let mirrored = image::imageops::flip_horizontal(&original);
    let (a, b) = (describe(&original), describe(&mirrored));
    assert!((axis(&a, "symmetry") - axis(&b, "symmetry")).abs() < 1e-5);
    assert!(axis(&a, "symmetry") < 0.99);
    // An image made symmetric is perfectly so.
    let mut symmetric = original.clone();
    for y in 0..192 {
        for x in 128..256 {
            let p = *original.get_pixel(255 - x, y);
            symmetric.put_pixel(x, y, p);
        }
    }
    assert!((axis(&describe(&symmetric), "symmetry") - 1.0).abs() < 1e-5);
}

#[test]
fn warm_and_cool_tints_move_warmth() {
    let original = picture(128, 128);
    let shift = |dr: i16, db: i16| {
        let mut out = original.clone();
        for p in out.pixels_mut() {
            p.0[0] = (p.0[0] as i16 + dr).clamp(0, 255) as u8;
            p.0[2] = (p.0[2] as i16 + db).clamp(0, 255) as u8;
        }
        describe(&out)
    };
    assert!(axis(&shift(30, -30), "warmth") > axis(&shift(-30, 30), "warmth") + 5.0);
}

#[test]
fn hue_histogram_is_chroma_weighted_and_sums_to_one() {
    let v = describe(&picture(128, 128));
    let hues = &v.0[SCALAR_AXES.len()..];
    assert!((hues.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    // A pure red image puts all its weight in the bin of red's LCh hue (about 40°).
    let red = describe(&RgbImage::from_pixel(32, 32, Rgb([255, 0, 0])));
    assert!((axis(&red, "hue_030") - 1.0).abs() < 1e-4);
    assert!(axis(&red, "hue_spread").abs() < 1e-4);
    assert!((axis(&red, "harmony") - 1.0).abs() < 1e-4);
}

#[test]
fn a_vignetted_copy_has_a_stronger_vignette() {
    let original = picture(128, 128);
    let mut vignetted = original.clone();
    for (x, y, p) in vignetted.enumerate_pixels_mut() {
        let r2 = ((x as f32 - 64.0).powi(2) + (y as f32 - 64.0).powi(2)) / 64f32.powi(2);
        let k = (1.0 - 0.45 * r2).max(0.0);
        p.0 = p.0.map(|v| (v as f32 * k) as u8);
    }
    assert!(
        axis(&describe(&vignetted), "vignette") > axis(&describe(&original), "vignette") + 0.05
    );
}

#[test]
fn analysis_does_not_depend_much_on_size() {
    let (a, b) = (describe(&picture(512, 512)), describe(&picture(128, 128)));
    // Tolerances in each axis' own units (L*/100, chroma, b*): noise averages out at 512.
    for (name, tolerance) in [("brightness", 0.02), ("chroma", 1.5), ("warmth", 0.5)] {
        let (x, y) = (axis(&a, name), axis(&b, name));
        assert!((x - y).abs() <= tolerance, "{name}: {x} vs {y}");
    }
}

#[test]
fn standardizing_gives_zero_mean_unit_spread() {
    let pool: Vec<StyleVector> = (0..6)
        .map(|i| describe(&saturate(&picture(96, 96), 0.4 + 0.3 * i as f32)))
        .collect();
    let s = Standardizer::fit(&pool, STYLE_DIM);
    let z: Vec<Vec<f32>> = pool.iter().map(|v| s.apply(v)).collect();
    let chroma = axis_names().iter().position(|n| n == "chroma").unwrap_or(0);
    let mean: f32 = z.iter().map(|v| v[chroma]).sum::<f32>() / 6.0;
    let var: f32 = z.iter().map(|v| (v[chroma] - mean).powi(2)).sum::<f32>() / 6.0;
    assert!(mean.abs() < 1e-4);
    assert!((var - 1.0).abs() < 1e-3);
    assert_eq!(
        Standardizer::identity(STYLE_DIM).apply(&pool[0]),
        pool[0].0.to_vec()
    );
    assert_eq!(StyleVector::from_slice(&pool[0].0), Some(pool[0]));
    assert_eq!(StyleVector::from_slice(&[1.0, 2.0]), None);
}

#[test]
fn tiny_and_empty_images_are_measured_without_panicking() {
    for (w, h) in [(0, 0), (1, 1), (3, 200), (200, 2)] {
        let v = describe(&RgbImage::from_pixel(w, h, Rgb([200, 40, 40])));
        assert!(v.0.iter().all(|x| x.is_finite()), "{w}x{h}: {v:?}");
    }
}
