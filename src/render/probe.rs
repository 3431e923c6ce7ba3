//! Picture statistics for simulated raters, measured independently of the style descriptor.
//!
//! The rater family (`crate::taste::family`) gives each simulated rater a hidden taste over
//! these statistics, not over the style axes tastebud learns on, so that an evaluation asks
//! what a real person asks of it: can a taste that lives elsewhere be learnt through the style
//! space? Every statistic here is computed in its own way: HSV and YCbCr instead of CIE Lab,
//! fixed regions of the picture (centre against the border, top against bottom, left against
//! right), the share of saturated pixels in each HSV hue sextant, and texture as the energy
//! between box blurs of three scales. None of them is an axis of `style-v1`, although several
//! are correlated with some (as any two measures of one picture are).
//!
//! The image is box-averaged to [`PROBE_SIZE`]² pixels first.

use image::RgbImage;

/// Images are box-averaged to this many pixels a side before they are measured.
pub const PROBE_SIZE: usize = 64;

/// The statistics' names, in vector order.
pub const PROBE_STATS: [&str; 24] = [
    "value",             // mean HSV value (max of R, G, B)
    "saturation",        // mean HSV saturation
    "saturation_spread", // standard deviation of HSV saturation
    "highlights",        // 90th percentile of value
    "shadows",           // 10th percentile of value
    "dark_share",        // share of pixels with value below 0.2
    "centre_glow",       // mean value of the middle half minus the border's
    "centre_saturation", // mean saturation of the middle half minus the border's
    "top_value",         // mean value of the top third minus the bottom third's
    "top_saturation",    // the same for saturation
    "left_value",        // mean value of the left half minus the right half's
    "blue_difference",   // mean YCbCr Cb (blue against luma)
    "red_difference",    // mean YCbCr Cr (red against luma)
    "green_share",       // mean G / (R + G + B)
    "hue_red",           // share of saturated pixels with HSV hue in 330°…30°
    "hue_yellow",        // … 30°…90°
    "hue_green",         // … 90°…150°
    "hue_cyan",          // … 150°…210°
    "hue_blue",          // … 210°…270°
    "hue_magenta",       // … 270°…330°
    "texture_fine",      // mean |Y − Y blurred over 2×2|
    "texture_mid",       // mean |Y over 2×2 − Y over 8×8|
    "texture_coarse",    // mean |Y over 8×8 − Y over 32×32|
    "centre_detail",     // share of the fine texture that lies in the middle half
];

/// Number of statistics.
pub const PROBE_DIM: usize = PROBE_STATS.len();

/// A pixel counts towards a hue share when its saturation and value are at least these.
const SATURATED: f32 = 0.25;
const VISIBLE: f32 = 0.15;

/// HSV hue in degrees (0…360), saturation and value of an sRGB pixel.
fn hsv([r, g, b]: [f32; 3]) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let s = if max > 1e-6 { delta / max } else { 0.0 };
    let h = if delta < 1e-6 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / delta).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    (h, s, max)
}

/// `values` (an `n`×`n` grid) averaged over blocks of `k`×`k`, repeated back to `n`×`n`.
fn blocks(values: &[f32], n: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; n * n];
    for by in (0..n).step_by(k) {
        for bx in (0..n).step_by(k) {
            let (y1, x1) = ((by + k).min(n), (bx + k).min(n));
            let mut s = 0f32;
            for y in by..y1 {
                for x in bx..x1 {
                    s += values[y * n + x];
                }
            }
            let m = s / ((y1 - by) * (x1 - bx)) as f32;
            for y in by..y1 {
                for x in bx..x1 {
                    out[y * n + x] = m;
                }
            }
        }
    }
    out
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len().max(1) as f32
}

/// The [`PROBE_STATS`] of `image`.
pub fn probe(image: &RgbImage) -> [f32; PROBE_DIM] {
    let n = PROBE_SIZE;
    let rgb = super::style::downscale(image, n as u32);
    let hsvs: Vec<(f32, f32, f32)> = rgb.iter().map(|&p| hsv(p)).collect();
    let value: Vec<f32> = hsvs.iter().map(|p| p.2).collect();
    let sat: Vec<f32> = hsvs.iter().map(|p| p.1).collect();
    let luma: Vec<f32> = rgb
        .iter()
        .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
        .collect();
    let count = (n * n) as f32;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;

    let v_mean = mean(&value);
    let s_mean = mean(&sat);
    let s_spread = (sat.iter().map(|s| (s - s_mean).powi(2)).sum::<f32>() / count).sqrt();
    let mut sorted = value.clone();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f32| sorted[((q * (sorted.len() - 1) as f32) as usize).min(sorted.len() - 1)];
    let dark_share = value.iter().filter(|&&v| v < 0.2).count() as f32 / count;

    // Regions: the middle half against the rest, top and bottom thirds, left and right halves.
    let in_centre = |i: usize| {
        let (y, x) = (i / n, i % n);
        (n / 4..n - n / 4).contains(&y) && (n / 4..n - n / 4).contains(&x)
    };
    let region = |v: &[f32], keep: &dyn Fn(usize) -> bool| {
        let (mut s, mut c) = (0f32, 0f32);
        for (i, x) in v.iter().enumerate() {
            if keep(i) {
                s += x;
                c += 1.0;
            }
        }
        s / c.max(1.0)
    };
    let centre = |v: &[f32]| region(v, &in_centre) - region(v, &|i| !in_centre(i));
    let top = |v: &[f32]| region(v, &|i| i / n < n / 3) - region(v, &|i| i / n >= n - n / 3);
    let left = |v: &[f32]| region(v, &|i| i % n < n / 2) - region(v, &|i| i % n >= n / 2);

    // YCbCr (ITU-R BT.601, full range, centred on 0) and the green share.
    let cb = mean(
        &rgb.iter()
            .map(|p| -0.168_736 * p[0] - 0.331_264 * p[1] + 0.5 * p[2])
            .collect::<Vec<_>>(),
    );
    let cr = mean(
        &rgb.iter()
            .map(|p| 0.5 * p[0] - 0.418_688 * p[1] - 0.081_312 * p[2])
            .collect::<Vec<_>>(),
    );
    let green = mean(
        &rgb.iter()
            .map(|p| p[1] / (p[0] + p[1] + p[2] + 1e-3))
            .collect::<Vec<_>>(),
    );

    // Shares of saturated, visible pixels per hue sextant (centred on red, yellow, …).
    let mut hues = [0f32; 6];
    let mut coloured = 0f32;
    for &(h, s, v) in &hsvs {
        if s >= SATURATED && v >= VISIBLE {
            let sextant = (((h + 30.0) % 360.0) / 60.0) as usize;
            hues[sextant.min(5)] += 1.0;
            coloured += 1.0;
        }
    }
    for h in &mut hues {
        *h /= coloured.max(1.0);
    }

    // Texture: energy between box blurs of 1, 2, 8 and 32 pixels.
    let b2 = blocks(&luma, n, 2);
    let b8 = blocks(&luma, n, 8);
    let b32 = blocks(&luma, n, 32);
    let fine: Vec<f32> = luma.iter().zip(&b2).map(|(a, b)| (a - b).abs()).collect();
    let fine_total: f32 = fine.iter().sum();
    let centre_detail = if fine_total > 1e-6 {
        fine.iter()
            .enumerate()
            .filter(|(i, _)| in_centre(*i))
            .map(|(_, f)| f)
            .sum::<f32>()
            / fine_total
    } else {
        0.25
    };

    [
        v_mean,
        s_mean,
        s_spread,
        at(0.9),
        at(0.1),
        dark_share,
        centre(&value),
        centre(&sat),
        top(&value),
        top(&sat),
        left(&value),
        cb,
        cr,
        green,
        hues[0],
        hues[1],
        hues[2],
        hues[3],
        hues[4],
        hues[5],
        fine_total / count,
        mean_abs_diff(&b2, &b8),
        mean_abs_diff(&b8, &b32),
        centre_detail,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn stat(v: &[f32; PROBE_DIM], name: &str) -> f32 {
        v[PROBE_STATS.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn regions_hues_and_texture_are_where_they_should_be() {
        // Blue on top, dark red below; a bright checkered square in the middle.
        let img = RgbImage::from_fn(128, 128, |x, y| {
            let centre = (32..96).contains(&x) && (32..96).contains(&y);
            if centre {
                if (x / 2 + y / 2) % 2 == 0 {
                    Rgb([255, 255, 255])
                } else {
                    Rgb([200, 200, 200])
                }
            } else if y < 64 {
                Rgb([20, 40, 220])
            } else {
                Rgb([90, 10, 10])
            }
        });
        let p = probe(&img);
        assert!(stat(&p, "centre_glow") > 0.2);
        assert!(stat(&p, "centre_saturation") < -0.5);
        assert!(stat(&p, "top_value") > 0.3);
        assert!(stat(&p, "hue_blue") > 0.3 && stat(&p, "hue_red") > 0.3);
        assert!(stat(&p, "hue_green") < 1e-6);
        assert!(stat(&p, "blue_difference") > 0.0);
        assert!(stat(&p, "centre_detail") > 0.9);
        let flat = probe(&RgbImage::from_pixel(64, 64, Rgb([128, 128, 128])));
        assert!(stat(&flat, "texture_fine") < 1e-6 && stat(&flat, "saturation") < 1e-6);
        assert!(p.iter().chain(&flat).all(|v| v.is_finite()));
    }
}
