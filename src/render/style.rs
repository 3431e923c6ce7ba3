//! The style descriptor: from any RGB image to a vector of named, explainable style axes.
//!
//! The image is first box-averaged down to [`ANALYSIS_SIZE`]² pixels (so every statistic is
//! comparable across sizes and cheap to compute), converted to CIE Lab / LCh (D65) with the
//! `palette` crate, and measured. The raw values are kept as they are; standardizing them
//! against the statistics of a pool of images is a separate step ([`crate::taste::standardize::Standardizer`]), so that
//! the same raw vectors can be restandardized when the pool grows.
//!
//! The space is named [`SPACE`]; vectors are stored tagged with that name, and any change to
//! an axis' definition must bump it.

use image::RgbImage;
use palette::{FromColor, IntoColor, Lab, Lch, Srgb};
use serde::{Deserialize, Serialize};

/// Name and version of this style space; stored beside every vector.
pub const SPACE: &str = "style-v1";

/// Images are box-averaged to this many pixels a side before they are measured.
pub const ANALYSIS_SIZE: u32 = 128;

/// Number of hue bins in the chroma-weighted hue histogram (30° each, starting at 0°).
pub const HUE_BINS: usize = 12;

/// The named scalar axes, in vector order. The hue histogram follows them.
pub const SCALAR_AXES: [&str; 19] = [
    "brightness",
    "contrast",
    "dynamic_range",
    "chroma",
    "chroma_spread",
    "colourfulness",
    "warmth",
    "tint",
    "hue_spread",
    "harmony",
    "detail",
    "fine_texture",
    "softness",
    "vignette",
    "symmetry",
    "thirds",
    "low_key",
    "high_key",
    "top_light",
];

/// Number of dimensions of a style vector: the scalar axes plus the hue bins.
pub const STYLE_DIM: usize = SCALAR_AXES.len() + HUE_BINS;

/// Every axis name in vector order: [`SCALAR_AXES`], then `hue_000` … `hue_330` (the bin's
/// starting LCh hue angle in degrees).
pub fn axis_names() -> Vec<String> {
    SCALAR_AXES
        .iter()
        .map(|s| s.to_string())
        .chain((0..HUE_BINS).map(|i| format!("hue_{:03}", i * 360 / HUE_BINS)))
        .collect()
}

/// One sentence per scalar axis, for explaining a taste to its owner.
pub fn axis_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "brightness" => "mean lightness (L*/100)",
        "contrast" => "spread of lightness (standard deviation of L*/100)",
        "dynamic_range" => "distance between the 5th and 95th lightness percentiles (/100)",
        "chroma" => "mean colour strength (LCh chroma)",
        "chroma_spread" => "how unevenly colour strength is spread (std of chroma)",
        "colourfulness" => "Hasler–Süsstrunk colourfulness on sRGB 0–255",
        "warmth" => "yellow versus blue (mean b*)",
        "tint" => "magenta versus green (mean a*)",
        "hue_spread" => "how many different hues (1 − chroma-weighted hue concentration)",
        "harmony" => "share of colour within one hue and its complement (±15°)",
        "detail" => "mean lightness gradient (/100)",
        "fine_texture" => "mean difference from the 3×3 local mean (/100)",
        "softness" => "coarse over fine gradients: high for blurred, low for crisp",
        "vignette" => "centre lighter than the corners (/100)",
        "symmetry" => "1 − mean difference between the image and its mirror (/100)",
        "thirds" => "share of detail near the rule-of-thirds points",
        "low_key" => "fraction of dark pixels (L* < 25)",
        "high_key" => "fraction of light pixels (L* > 75)",
        "top_light" => "top third lighter than bottom third (/100)",
        _ => return None,
    })
}

/// A raw style vector in the [`SPACE`] space: [`STYLE_DIM`] values in [`axis_names`] order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StyleVector(pub [f32; STYLE_DIM]);

impl StyleVector {
    /// The values, in axis order.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The vector from a stored slice; `None` if its length is not [`STYLE_DIM`].
    pub fn from_slice(values: &[f32]) -> Option<StyleVector> {
        let array: [f32; STYLE_DIM] = values.try_into().ok()?;
        Some(StyleVector(array))
    }

    /// The value of one named axis.
    pub fn get(&self, axis: &str) -> Option<f32> {
        axis_names()
            .iter()
            .position(|n| n == axis)
            .map(|i| self.0[i])
    }

    /// `(axis name, value)` pairs in axis order.
    pub fn named(&self) -> Vec<(String, f32)> {
        axis_names().into_iter().zip(self.0).collect()
    }

    /// A JSON object of axis name → value, written in axis order.
    pub fn to_json_string(&self) -> String {
        let fields: Vec<String> = self
            .named()
            .into_iter()
            .map(|(name, value)| format!("\"{name}\":{}", serde_json::json!(value)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }
}

impl AsRef<[f32]> for StyleVector {
    fn as_ref(&self) -> &[f32] {
        &self.0
    }
}

/// The image box-averaged to `size`×`size`, as sRGB values in 0…1 (row-major, RGB).
pub(super) fn downscale(image: &RgbImage, size: u32) -> Vec<[f32; 3]> {
    let (w, h) = image.dimensions();
    let n = size as usize;
    let mut out = vec![[0f32; 3]; n * n];
    if w == 0 || h == 0 {
        return out;
    }
    let raw = image.as_raw();
    let bounds = |i: usize, full: u32| {
        let full = full as usize;
        let a = i * full / n;
        let b = ((i + 1) * full / n).max(a + 1).min(full);
        (a.min(full - 1), b)
    };
    let xs: Vec<(usize, usize)> = (0..n).map(|i| bounds(i, w)).collect();
    for oy in 0..n {
        let (y0, y1) = bounds(oy, h);
        for (ox, &(x0, x1)) in xs.iter().enumerate() {
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                let row = &raw[(y * w as usize + x0) * 3..(y * w as usize + x1) * 3];
                for px in row.chunks_exact(3) {
                    sum[0] += px[0] as u32;
                    sum[1] += px[1] as u32;
                    sum[2] += px[2] as u32;
                }
            }
            let count = ((y1 - y0) * (x1 - x0)) as f32 * 255.0;
            out[oy * n + ox] = [
                sum[0] as f32 / count,
                sum[1] as f32 / count,
                sum[2] as f32 / count,
            ];
        }
    }
    out
}

/// `p`-th percentile (0–100) of sorted values, interpolating linearly between neighbours.
fn percentile(sorted: &[f32], p: f32) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = p / 100.0 * (sorted.len() - 1) as f32;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f32;
    sorted[lo] * (1.0 - t) + sorted[hi] * t
}

fn mean_std(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean as f32, var.sqrt() as f32)
}

/// Mean absolute lightness gradient (forward differences, both directions) of an `n`×`n` grid.
fn mean_gradient(l: &[f32], n: usize) -> f32 {
    if n < 2 {
        return 0.0;
    }
    let mut sum = 0f64;
    for y in 0..n - 1 {
        for x in 0..n - 1 {
            let c = l[y * n + x];
            sum += ((l[y * n + x + 1] - c).abs() + (l[(y + 1) * n + x] - c).abs()) as f64;
        }
    }
    (sum / ((n - 1) * (n - 1)) as f64) as f32
}

/// Pixels with less chroma than this are grey: their hue is noise and is not counted.
pub const ACHROMATIC: f32 = 0.5;

/// The raw style vector of `image`.
pub fn describe(image: &RgbImage) -> StyleVector {
    let n = ANALYSIS_SIZE as usize;
    let rgb = downscale(image, ANALYSIS_SIZE);
    let count = (n * n) as f32;

    let mut lightness = Vec::with_capacity(n * n);
    let mut chroma = Vec::with_capacity(n * n);
    let mut hue = Vec::with_capacity(n * n);
    let (mut sum_a, mut sum_b) = (0f64, 0f64);
    for &[r, g, b] in &rgb {
        let lab: Lab = Srgb::new(r, g, b).into_linear().into_color();
        let lch = Lch::from_color(lab);
        lightness.push(lab.l);
        sum_a += lab.a as f64;
        sum_b += lab.b as f64;
        chroma.push(lch.chroma);
        hue.push(lch.hue.into_positive_degrees());
    }

    let (brightness, contrast) = mean_std(&lightness);
    let mut sorted = lightness.clone();
    sorted.sort_by(f32::total_cmp);
    let dynamic_range = percentile(&sorted, 95.0) - percentile(&sorted, 5.0);
    let (chroma_mean, chroma_std) = mean_std(&chroma);

    // Hasler and Süsstrunk (2003): opponent channels on sRGB 0..255.
    let rg: Vec<f32> = rgb.iter().map(|p| (p[0] - p[1]) * 255.0).collect();
    let yb: Vec<f32> = rgb
        .iter()
        .map(|p| (0.5 * (p[0] + p[1]) - p[2]) * 255.0)
        .collect();
    let (rg_mean, rg_std) = mean_std(&rg);
    let (yb_mean, yb_std) = mean_std(&yb);
    let colourfulness =
        (rg_std.powi(2) + yb_std.powi(2)).sqrt() + 0.3 * (rg_mean.powi(2) + yb_mean.powi(2)).sqrt();

    // Chroma-weighted hue statistics.
    let total_chroma: f64 = chroma
        .iter()
        .filter(|&&c| c >= ACHROMATIC)
        .map(|&c| c as f64)
        .sum();
    let mut hist = [0f64; HUE_BINS];
    let mut fine = [0f64; 36];
    let (mut cx, mut cy) = (0f64, 0f64);
    for (&c, &h) in chroma.iter().zip(&hue) {
        if c < ACHROMATIC {
            continue;
        }
        let c = c as f64;
        let h = h as f64;
        let bin = ((h / (360.0 / HUE_BINS as f64)) as usize).min(HUE_BINS - 1);
        hist[bin] += c;
        fine[((h / 10.0) as usize).min(35)] += c;
        cx += c * h.to_radians().cos();
        cy += c * h.to_radians().sin();
    }
    let (hue_spread, harmony) = if total_chroma > 1e-6 {
        for v in hist.iter_mut().chain(fine.iter_mut()) {
            *v /= total_chroma;
        }
        let concentration = (cx * cx + cy * cy).sqrt() / total_chroma;
        let harmony = (0..36)
            .map(|k| {
                [35, 0, 1, 17, 18, 19]
                    .iter()
                    .map(|d| fine[(k + d) % 36])
                    .sum::<f64>()
            })
            .fold(0f64, f64::max);
        ((1.0 - concentration) as f32, harmony as f32)
    } else {
        (0.0, 0.0)
    };

    // Detail at two scales, and fine texture.
    let detail = mean_gradient(&lightness, n);
    let half = n / 2;
    let mut coarse = vec![0f32; half * half];
    for y in 0..half {
        for x in 0..half {
            let i = 2 * y * n + 2 * x;
            coarse[y * half + x] =
                0.25 * (lightness[i] + lightness[i + 1] + lightness[i + n] + lightness[i + n + 1]);
        }
    }
    let coarse_detail = mean_gradient(&coarse, half);
    let softness = coarse_detail / (detail + coarse_detail + 1e-3);
    let mut texture = 0f64;
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let mut local = 0f32;
            for dy in 0..3 {
                for dx in 0..3 {
                    local += lightness[(y + dy - 1) * n + x + dx - 1];
                }
            }
            texture += (lightness[y * n + x] - local / 9.0).abs() as f64;
        }
    }
    let fine_texture = (texture / ((n - 2) * (n - 2)) as f64) as f32;

    // Layout: vignette, symmetry, thirds, top light.
    let region_mean = |x0: usize, x1: usize, y0: usize, y1: usize| {
        let mut s = 0f64;
        for y in y0..y1 {
            for x in x0..x1 {
                s += lightness[y * n + x] as f64;
            }
        }
        (s / ((x1 - x0) * (y1 - y0)) as f64) as f32
    };
    let q = n / 4;
    let centre = region_mean(q, n - q, q, n - q);
    let corners = 0.25
        * (region_mean(0, q, 0, q)
            + region_mean(n - q, n, 0, q)
            + region_mean(0, q, n - q, n)
            + region_mean(n - q, n, n - q, n));
    let mut mirror = 0f64;
    for y in 0..n {
        for x in 0..n {
            mirror += (lightness[y * n + x] - lightness[y * n + n - 1 - x]).abs() as f64;
        }
    }
    let symmetry = 1.0 - (mirror / (n * n) as f64) as f32 / 100.0;
    let mut grad = vec![0f32; n * n];
    for y in 0..n - 1 {
        for x in 0..n - 1 {
            let c = lightness[y * n + x];
            grad[y * n + x] =
                (lightness[y * n + x + 1] - c).abs() + (lightness[(y + 1) * n + x] - c).abs();
        }
    }
    let grad_total: f64 = grad.iter().map(|&g| g as f64).sum();
    let thirds = if grad_total > 1e-6 {
        let r = n / 12;
        let mut near = 0f64;
        for &py in &[n / 3, 2 * n / 3] {
            for &px in &[n / 3, 2 * n / 3] {
                for y in py - r..py + r {
                    for x in px - r..px + r {
                        near += grad[y * n + x] as f64;
                    }
                }
            }
        }
        (near / grad_total) as f32
    } else {
        0.0
    };
    let third = n / 3;
    let top_light = region_mean(0, n, 0, third) - region_mean(0, n, n - third, n);
    let low_key = lightness.iter().filter(|&&l| l < 25.0).count() as f32 / count;
    let high_key = lightness.iter().filter(|&&l| l > 75.0).count() as f32 / count;

    let scalars = [
        brightness / 100.0,
        contrast / 100.0,
        dynamic_range / 100.0,
        chroma_mean,
        chroma_std,
        colourfulness,
        (sum_b / count as f64) as f32,
        (sum_a / count as f64) as f32,
        hue_spread,
        harmony,
        detail / 100.0,
        fine_texture / 100.0,
        softness,
        (centre - corners) / 100.0,
        symmetry,
        thirds,
        low_key,
        high_key,
        top_light / 100.0,
    ];
    let mut out = [0f32; STYLE_DIM];
    out[..SCALAR_AXES.len()].copy_from_slice(&scalars);
    for (o, h) in out[SCALAR_AXES.len()..].iter_mut().zip(hist) {
        *o = h as f32;
    }
    StyleVector(out)
}
