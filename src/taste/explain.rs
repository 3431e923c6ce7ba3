//! A taste vector in words: which style axes it favours and which it avoids, ranked, with
//! short human phrases. Plain data out; the chart is drawn elsewhere.
//!
//! Axes are standardized, so a weight is in log-odds per standard deviation of the axis: a
//! weight of 1 on brightness means an image one standard deviation brighter is e ≈ 2.7 times as
//! likely to win a pair, all else equal. Strength words follow from that scale
//! ([`Strength::of`]).

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

/// A taste explained: the axes it favours (positive weight) and avoids (negative weight), each
/// ranked by strength, strongest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    pub favoured: Vec<AxisLean>,
    pub avoided: Vec<AxisLean>,
}

impl Explanation {
    /// One sentence for a chat message, e.g.
    /// "Favours: strongly bright, moderately warm. Avoids: slightly more vignette."
    pub fn summary(&self) -> String {
        let list = |v: &[AxisLean]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.favoured.is_empty(), self.avoided.is_empty()) {
            (true, true) => "No clear preferences yet.".to_string(),
            (false, true) => format!("Favours: {}.", list(&self.favoured)),
            (true, false) => format!("Avoids: {}.", list(&self.avoided)),
            (false, false) => format!(
                "Favours: {}. Avoids: {}.",
                list(&self.favoured),
                list(&self.avoided)
            ),
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

/// Explain `taste` over the named axes, keeping at most `top` axes on each side and leaving out
/// axes whose weight is too small to mention.
pub fn explain<T, S>(taste: &[T], axes: &[S], top: usize) -> Result<Explanation, TasteError>
where
    T: Copy + Into<f64>,
    S: AsRef<str>,
{
    if taste.len() != axes.len() {
        return Err(TasteError::DimensionMismatch {
            what: "taste vector and axis names",
            expected: axes.len(),
            got: taste.len(),
        });
    }
    let mut leans: Vec<AxisLean> = Vec::new();
    for (w, name) in taste.iter().zip(axes) {
        let w: f64 = (*w).into();
        if !w.is_finite() {
            return Err(TasteError::NotFinite {
                what: "taste vector",
            });
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
    Ok(Explanation { favoured, avoided })
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
    fn mismatched_or_bad_input_is_an_error() {
        assert!(explain(&[1.0_f64], &AXES, 3).is_err());
        assert!(explain(&[f64::NAN, 0.0, 0.0, 0.0, 0.0], &AXES, 3).is_err());
    }
}
