//! A taste vector in words: which style axes it favours and which it avoids, ranked, with
//! short human phrases, and which it likes in moderation. Plain data out; the chart is drawn
//! elsewhere.
//!
//! Axes are standardized, so a weight is in log-odds per standard deviation of the axis: a
//! weight of 1 on brightness means an image one standard deviation brighter is e ≈ 2.7 times as
//! likely to win a pair, all else equal. Strength words follow from that scale
//! ([`Strength::of`]). A taste with square terms ([`super::quadratic`]) that bends down on
//! both sides of a peak inside the usual range likes that axis in moderation ([`AxisMiddle`]);
//! the size of its square term is how much is lost one standard deviation from the peak.

use std::fmt;

use super::TasteError;

/// How strongly an axis matters, from the size of its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strength {
    /// |w| ≥ 0.15: odds ×1.16 per standard deviation.
    Slight,
    /// |w| ≥ 0.4: odds ×1.5.
    Moderate,
    /// |w| ≥ 1.0: odds ×2.7.
    Strong,
}

impl Strength {
    /// The strength of a weight, or `None` when it is too small to mention.
    pub fn of(weight: f64) -> Option<Strength> {
        let a = weight.abs();
        if a >= 1.0 {
            Some(Strength::Strong)
        } else if a >= 0.4 {
            Some(Strength::Moderate)
        } else if a >= 0.15 {
            Some(Strength::Slight)
        } else {
            None
        }
    }

    pub fn adverb(self) -> &'static str {
        match self {
            Strength::Slight => "slightly",
            Strength::Moderate => "moderately",
            Strength::Strong => "strongly",
        }
    }
}

/// One axis of a taste, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisLean {
    /// The axis name as given.
    pub axis: String,
    /// The weight on the axis (positive: more is liked).
    pub weight: f64,
    pub strength: Strength,
    /// The end of the axis that is liked, in words: "bright" for +brightness, "dark" for −.
    pub liked_end: String,
    /// The other end, the one that is avoided: "dark" for +brightness, "bright" for −.
    pub avoided_end: String,
}

impl fmt::Display for AxisLean {
    /// The end a list names: the liked end of a favoured axis ("strongly bright"), the
    /// avoided end of an avoided one (a negative vignette weight avoids "dark corners").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.weight > 0.0 {
            &self.liked_end
        } else {
            &self.avoided_end
        };
        write!(f, "{} {}", self.strength.adverb(), end)
    }
}

/// One axis a taste likes in moderation: best at `peak`, worse on either side.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisMiddle {
    pub axis: String,
    /// Where the taste peaks, in standard deviations from the pool's typical image.
    pub peak: f64,
    /// The square term (negative): the loss one standard deviation from the peak.
    pub curvature: f64,
    pub strength: Strength,
}

/// Farthest a peak may lie from typical, in standard deviations, to count as a middle: beyond
/// it the pool hardly reaches the peak, and the axis reads as more (or less) is better.
const MAX_PEAK: f64 = 2.0;

impl fmt::Display for AxisMiddle {
    /// E.g. "contrast a little above typical".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let axis = self.axis.replace(['_', '-'], " ");
        let side = if self.peak > 0.0 { "above" } else { "below" };
        match self.peak.abs() {
            a if a < 0.25 => write!(f, "{axis} around typical"),
            a if a < 0.75 => write!(f, "{axis} a little {side} typical"),
            _ => write!(f, "{axis} well {side} typical"),
        }
    }
}

/// A taste explained: the axes it favours (positive weight) and avoids (negative weight), and
/// those it likes in moderation, each ranked by strength, strongest first. An axis liked in
/// moderation is not also listed as favoured or avoided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    pub favoured: Vec<AxisLean>,
    pub avoided: Vec<AxisLean>,
    pub moderate: Vec<AxisMiddle>,
}

impl Explanation {
    /// One sentence for a chat message, e.g. "Favours: strongly bright, moderately warm.
    /// Avoids: slightly dark corners. In moderation: contrast a little above typical."
    pub fn summary(&self) -> String {
        fn list<T: fmt::Display>(v: &[T]) -> String {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
        let mut parts = Vec::new();
        if !self.favoured.is_empty() {
            parts.push(format!("Favours: {}.", list(&self.favoured)));
        }
        if !self.avoided.is_empty() {
            parts.push(format!("Avoids: {}.", list(&self.avoided)));
        }
        if !self.moderate.is_empty() {
            parts.push(format!("In moderation: {}.", list(&self.moderate)));
        }
        if parts.is_empty() {
            "No clear preferences yet.".to_string()
        } else {
            parts.join(" ")
        }
    }
}

/// Words for the two ends of well-known axes: (name fragment, high end, low end).
const AXIS_WORDS: &[(&str, &str, &str)] = &[
    ("brightness", "bright", "dark"),
    ("lightness", "bright", "dark"),
    ("contrast", "high contrast", "low contrast"),
    ("colourfulness", "colourful", "muted colour"),
    ("colorfulness", "colourful", "muted colour"),
    // Before "chroma", which it starts with.
    ("chroma_spread", "mixed saturation", "even saturation"),
    ("chroma", "saturated colour", "desaturated colour"),
    ("saturation", "saturated colour", "desaturated colour"),
    ("warmth", "warm tones", "cool tones"),
    ("hue_spread", "varied hues", "few hues"),
    ("detail", "fine detail", "plain surfaces"),
    ("softness", "soft focus", "crisp edges"),
    ("sharpness", "crisp edges", "soft focus"),
    ("vignette", "dark corners", "even corners"),
    ("symmetry", "symmetry", "asymmetry"),
    ("noise", "grain", "clean surfaces"),
];

/// The liked end of `axis` for a weight of sign `positive`, in words.
pub fn axis_words(axis: &str, positive: bool) -> String {
    let key = axis.to_lowercase();
    for (frag, high, low) in AXIS_WORDS {
        if key.starts_with(frag) {
            return if positive { high } else { low }.to_string();
        }
    }
    let plain = axis.replace(['_', '-'], " ");
    if positive {
        format!("more {plain}")
    } else {
        format!("less {plain}")
    }
}

/// Explain `taste` over the named axes (one weight per axis, then possibly square terms on the
/// leading axes), keeping at most `top` axes in each list and leaving out axes whose weight is
/// too small to mention.
pub fn explain<T, S>(taste: &[T], axes: &[S], top: usize) -> Result<Explanation, TasteError>
where
    T: Copy + Into<f64>,
    S: AsRef<str>,
{
    let squared = super::quadratic::squared_axes(taste.len(), axes.len()).map_err(|_| {
        TasteError::DimensionMismatch {
            what: "taste vector and axis names",
            expected: axes.len(),
            got: taste.len(),
        }
    })?;
    let taste: Vec<f64> = taste.iter().map(|&w| w.into()).collect();
    if !taste.iter().all(|w| w.is_finite()) {
        return Err(TasteError::NotFinite {
            what: "taste vector",
        });
    }
    let mut moderate: Vec<AxisMiddle> = Vec::new();
    for (k, name) in axes.iter().enumerate().take(squared) {
        let (w, v) = (taste[k], taste[axes.len() + k]);
        let peak = -w / (2.0 * v);
        if v < 0.0
            && peak.abs() <= MAX_PEAK
            && let Some(strength) = Strength::of(v)
        {
            moderate.push(AxisMiddle {
                axis: name.as_ref().to_string(),
                peak,
                curvature: v,
                strength,
            });
        }
    }
    moderate.sort_by(|a, b| a.curvature.total_cmp(&b.curvature));
    moderate.truncate(top);
    let mut leans: Vec<AxisLean> = Vec::new();
    for (&w, name) in taste.iter().zip(axes) {
        if moderate.iter().any(|m| m.axis == name.as_ref()) {
            continue;
        }
        if let Some(strength) = Strength::of(w) {
            leans.push(AxisLean {
                axis: name.as_ref().to_string(),
                weight: w,
                strength,
                liked_end: axis_words(name.as_ref(), w > 0.0),
                avoided_end: axis_words(name.as_ref(), w < 0.0),
            });
        }
    }
    leans.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    let (mut favoured, mut avoided): (Vec<_>, Vec<_>) =
        leans.into_iter().partition(|a| a.weight > 0.0);
    favoured.truncate(top);
    avoided.truncate(top);
    Ok(Explanation {
        favoured,
        avoided,
        moderate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXES: [&str; 5] = ["brightness", "contrast", "warmth", "hue_hist_3", "vignette"];

    #[test]
    fn ranks_favoured_and_avoided_by_strength() {
        let e = explain(&[1.5_f64, 0.2, -0.6, 0.05, -2.0], &AXES, 5).unwrap();
        let fav: Vec<&str> = e.favoured.iter().map(|a| a.axis.as_str()).collect();
        let avo: Vec<&str> = e.avoided.iter().map(|a| a.axis.as_str()).collect();
        assert_eq!(fav, ["brightness", "contrast"]);
        assert_eq!(avo, ["vignette", "warmth"]);
        assert_eq!(e.favoured[0].strength, Strength::Strong);
        assert_eq!(e.favoured[1].strength, Strength::Slight);
        assert_eq!(e.avoided[1].strength, Strength::Moderate);
        assert_eq!(e.favoured[0].to_string(), "strongly bright");
        assert_eq!(e.avoided[0].liked_end, "even corners");
        assert_eq!(e.avoided[1].liked_end, "cool tones");
        assert_eq!(
            e.summary(),
            "Favours: strongly bright, slightly high contrast. \
             Avoids: strongly dark corners, moderately warm tones."
        );
    }

    #[test]
    fn top_limits_each_side_and_f32_works() {
        let e = explain(&[1.5_f32, 1.2, 1.1, -0.9, -0.8], &AXES, 2).unwrap();
        assert_eq!(e.favoured.len(), 2);
        assert_eq!(e.avoided.len(), 2);
        assert_eq!(e.favoured[0].axis, "brightness");
    }

    #[test]
    fn unknown_axes_get_plain_words_and_flat_tastes_say_so() {
        assert_eq!(axis_words("hue_hist_3", true), "more hue hist 3");
        assert_eq!(axis_words("edge-density", false), "less edge density");
        assert_eq!(axis_words("Brightness", false), "dark");
        let e = explain(&[0.0_f64; 5], &AXES, 3).unwrap();
        assert_eq!(e, Explanation::default());
        assert_eq!(e.summary(), "No clear preferences yet.");
    }

    #[test]
    fn an_axis_bent_around_a_peak_is_liked_in_moderation() {
        // Contrast peaks at +0.5 sd (0.8·x − 0.8·x²): a middle, not "high contrast". Brightness
        // bends too, but its peak (+5 sd) is out of reach: more is better. Warmth bends up.
        let taste = [
            1.5_f64, 0.8, 0.6, 0.0, 0.0, // linear
            -0.15, -0.8, 0.5, // squares of the first three axes
        ];
        let e = explain(&taste, &AXES, 5).unwrap();
        assert_eq!(e.moderate.len(), 1);
        assert_eq!(e.moderate[0].axis, "contrast");
        assert!((e.moderate[0].peak - 0.5).abs() < 1e-12);
        assert_eq!(e.moderate[0].strength, Strength::Moderate);
        let fav: Vec<&str> = e.favoured.iter().map(|a| a.axis.as_str()).collect();
        assert_eq!(fav, ["brightness", "warmth"]);
        assert_eq!(
            e.summary(),
            "Favours: strongly bright, moderately warm tones. \
             In moderation: contrast a little above typical."
        );
        let around = explain(&[0.0_f64, 0.0, 0.0, 0.0, 0.0, -2.0], &AXES, 5).unwrap();
        assert_eq!(
            around.summary(),
            "In moderation: brightness around typical."
        );
        let below = explain(&[-1.2_f64, 0.0, 0.0, 0.0, 0.0, -0.5], &AXES, 5).unwrap();
        assert_eq!(
            below.moderate[0].to_string(),
            "brightness well below typical"
        );
    }

    #[test]
    fn mismatched_or_bad_input_is_an_error() {
        assert!(explain(&[1.0_f64], &AXES, 3).is_err());
        assert!(explain(&[f64::NAN, 0.0, 0.0, 0.0, 0.0], &AXES, 3).is_err());
    }
}
