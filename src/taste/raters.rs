//! Built-in simulated raters: programs with a hidden taste that answer pairs, so the learning
//! loop can be measured (`tastebud eval --rater builtin:NAME`) and tested.
//!
//! Each rater has a hidden utility `u(x)` over style vectors and answers a pair with
//! Bradley–Terry noise: P(left) = σ((u(left) − u(right)) / temperature). Some utilities are
//! linear in the style axes, so the pair model can represent them exactly; others are not (an
//! ideal point, a product of two axes), so the model can only learn their best linear
//! approximation; those show the limits honestly.
//!
//! Raters name the axes they care about. Each wanted axis is looked up among the space's axis
//! names (case-insensitive, exact name or a name starting with it, several aliases each); an
//! axis the space does not have is stood in for by the first unused axis, so every rater works
//! on any space with enough axes.

use rand::{Rng, RngExt};

use super::TasteError;
use super::model::sigmoid;
use crate::domain::Choice;

/// Names of the built-in raters, for `builtin:NAME`.
pub const BUILTIN_RATERS: &[&str] = &["bright", "minimal", "moody", "goldilocks", "vivid-warm"];

/// The hidden taste of a rater: a utility over style vectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Hidden {
    /// `u = Σ wₖ·x[k]`.
    Linear(Vec<(usize, f64)>),
    /// An ideal point: `u = −Σ aₖ·(x[k] − cₖ)²` over `(k, cₖ, aₖ)`.
    IdealPoint(Vec<(usize, f64, f64)>),
    /// A linear part plus a product of two axes: `u = Σ wₖ·x[k] + g·x[i]·x[j]`.
    Interaction {
        linear: Vec<(usize, f64)>,
        pair: (usize, usize),
        gain: f64,
    },
    /// The sum of several utilities (the rater family's tastes: a shared part plus a
    /// person's own).
    Sum(Vec<Hidden>),
}

impl Hidden {
    /// `u(x)`; `x` must have more than [`Hidden::max_axis`] entries.
    pub fn utility(&self, x: &[f64]) -> f64 {
        let lin = |terms: &[(usize, f64)]| terms.iter().map(|&(k, w)| w * x[k]).sum::<f64>();
        match self {
            Hidden::Linear(terms) => lin(terms),
            Hidden::IdealPoint(terms) => -terms
                .iter()
                .map(|&(k, c, a)| a * (x[k] - c) * (x[k] - c))
                .sum::<f64>(),
            Hidden::Interaction { linear, pair, gain } => {
                lin(linear) + gain * x[pair.0] * x[pair.1]
            }
            Hidden::Sum(parts) => parts.iter().map(|h| h.utility(x)).sum(),
        }
    }

    /// The largest axis index the utility reads.
    pub fn max_axis(&self) -> usize {
        match self {
            Hidden::Linear(t) => t.iter().map(|t| t.0).max().unwrap_or(0),
            Hidden::IdealPoint(t) => t.iter().map(|t| t.0).max().unwrap_or(0),
            Hidden::Interaction { linear, pair, .. } => linear
                .iter()
                .map(|t| t.0)
                .chain([pair.0, pair.1])
                .max()
                .unwrap_or(0),
            Hidden::Sum(parts) => parts.iter().map(Hidden::max_axis).max().unwrap_or(0),
        }
    }
}

/// A simulated rater.
#[derive(Debug, Clone, PartialEq)]
pub struct Rater {
    pub name: String,
    /// One line on what it likes, for reports.
    pub description: String,
    pub hidden: Hidden,
    /// Bradley–Terry temperature: larger answers more randomly.
    pub temperature: f64,
}

impl Rater {
    /// A rater with an explicit hidden taste (for tests and experiments).
    pub fn new(name: &str, description: &str, hidden: Hidden, temperature: f64) -> Self {
        Rater {
            name: name.to_string(),
            description: description.to_string(),
            hidden,
            temperature,
        }
    }

    fn check(&self, x: &[f64]) -> Result<(), TasteError> {
        let needed = self.hidden.max_axis() + 1;
        if x.len() < needed {
            return Err(TasteError::SpaceTooSmall {
                needed,
                got: x.len(),
            });
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(TasteError::NotFinite {
                what: "style vector",
            });
        }
        Ok(())
    }

    /// The hidden utility of a style vector.
    pub fn utility(&self, x: &[f64]) -> Result<f64, TasteError> {
        self.check(x)?;
        Ok(self.hidden.utility(x))
    }

    /// Probability of answering "left".
    pub fn prob_left(&self, left: &[f64], right: &[f64]) -> Result<f64, TasteError> {
        let du = self.utility(left)? - self.utility(right)?;
        Ok(sigmoid(du / self.temperature.max(f64::MIN_POSITIVE)))
    }

    /// The noiseless preference: whether `left` has the higher utility (ties go right).
    pub fn prefers_left(&self, left: &[f64], right: &[f64]) -> Result<bool, TasteError> {
        Ok(self.utility(left)? > self.utility(right)?)
    }

    /// Answer a pair, with Bradley–Terry noise drawn from `rng`. Built-in raters never skip.
    pub fn answer(
        &self,
        left: &[f64],
        right: &[f64],
        rng: &mut impl Rng,
    ) -> Result<Choice, TasteError> {
        let p = self.prob_left(left, right)?;
        Ok(if rng.random_range(0.0..1.0) < p {
            Choice::Left
        } else {
            Choice::Right
        })
    }
}

/// The rater name in a `--rater` argument of the form `builtin:NAME`, if it is one.
pub fn builtin_name(spec: &str) -> Option<&str> {
    spec.strip_prefix("builtin:")
}

/// Resolves wanted axes (each a list of aliases) to indices in a space.
struct AxisPicker<'a, S> {
    axes: &'a [S],
    used: Vec<bool>,
}

impl<'a, S: AsRef<str>> AxisPicker<'a, S> {
    fn new(axes: &'a [S]) -> Self {
        AxisPicker {
            axes,
            used: vec![false; axes.len()],
        }
    }

    fn find(&self, aliases: &[&str]) -> Option<usize> {
        for alias in aliases {
            let hit = self.axes.iter().enumerate().find(|(k, a)| {
                let a = a.as_ref().to_lowercase();
                !self.used[*k] && (a == *alias || a.starts_with(alias))
            });
            if let Some((k, _)) = hit {
                return Some(k);
            }
        }
        None
    }

    /// Resolve every wanted axis: named matches first, then stand-ins for the rest.
    fn pick(mut self, wanted: &[&[&str]]) -> Result<Vec<usize>, TasteError> {
        if self.axes.len() < wanted.len() {
            return Err(TasteError::SpaceTooSmall {
                needed: wanted.len(),
                got: self.axes.len(),
            });
        }
        let mut out: Vec<Option<usize>> = Vec::with_capacity(wanted.len());
        for aliases in wanted {
            let k = self.find(aliases);
            if let Some(k) = k {
                self.used[k] = true;
            }
            out.push(k);
        }
        out.into_iter()
            .map(|k| match k {
                Some(k) => Ok(k),
                None => {
                    let free =
                        self.used
                            .iter()
                            .position(|u| !u)
                            .ok_or(TasteError::SpaceTooSmall {
                                needed: wanted.len(),
                                got: self.axes.len(),
                            })?;
                    self.used[free] = true;
                    Ok(free)
                }
            })
            .collect()
    }
}

const BRIGHTNESS: &[&str] = &["brightness", "lightness", "luma"];
const CONTRAST: &[&str] = &["contrast"];
const COLOURFUL: &[&str] = &["colourfulness", "colorfulness", "chroma", "saturation"];
const WARMTH: &[&str] = &["warmth", "temperature"];
const DETAIL: &[&str] = &["detail", "edge", "sharpness"];
const SOFTNESS: &[&str] = &["softness", "blur"];
const SYMMETRY: &[&str] = &["symmetry"];
const VIGNETTE: &[&str] = &["vignette"];
const HUE_SPREAD: &[&str] = &["hue_spread", "hue spread", "huespread"];

/// The built-in rater `name` over a space with these axis names.
///
/// - `bright` (linear): bright, colourful, crisp images.
/// - `minimal` (linear): plain, symmetric, muted images with few hues.
/// - `moody` (linear): dark, high-contrast, cool images with vignettes.
/// - `goldilocks` (ideal point, not linear): middling brightness, contrast a little above
///   average, moderate detail; too much of anything is worse.
/// - `vivid-warm` (interaction, not linear): likes colour and warmth, and above all the two
///   together (a product term).
pub fn builtin<S: AsRef<str>>(name: &str, axes: &[S]) -> Result<Rater, TasteError> {
    let unknown = || TasteError::UnknownRater {
        name: name.to_string(),
        known: BUILTIN_RATERS.join(", "),
    };
    let pick = |wanted: &[&[&str]]| AxisPicker::new(axes).pick(wanted);
    let rater = match name {
        "bright" => {
            let k = pick(&[BRIGHTNESS, COLOURFUL, SOFTNESS])?;
            Rater::new(
                name,
                "linear: likes bright, colourful, crisp images",
                Hidden::Linear(vec![(k[0], 2.0), (k[1], 1.2), (k[2], -0.8)]),
                1.0,
            )
        }
        "minimal" => {
            let k = pick(&[DETAIL, SYMMETRY, COLOURFUL, HUE_SPREAD])?;
            Rater::new(
                name,
                "linear: likes plain, symmetric, muted images with few hues",
                Hidden::Linear(vec![(k[0], -1.5), (k[1], 1.2), (k[2], -0.8), (k[3], -0.6)]),
                1.0,
            )
        }
        "moody" => {
            let k = pick(&[BRIGHTNESS, CONTRAST, WARMTH, VIGNETTE])?;
            Rater::new(
                name,
                "linear: likes dark, high-contrast, cool images with vignettes",
                Hidden::Linear(vec![(k[0], -1.6), (k[1], 1.4), (k[2], -0.7), (k[3], 0.7)]),
                1.0,
            )
        }
        "goldilocks" => {
            let k = pick(&[BRIGHTNESS, CONTRAST, DETAIL])?;
            Rater::new(
                name,
                "ideal point (not linear): middling brightness, contrast a little high, \
                 moderate detail",
                Hidden::IdealPoint(vec![(k[0], 0.0, 0.8), (k[1], 0.8, 0.8), (k[2], 0.3, 0.5)]),
                1.0,
            )
        }
        "vivid-warm" => {
            let k = pick(&[COLOURFUL, WARMTH])?;
            Rater::new(
                name,
                "interaction (not linear): likes colour and warmth, most of all together",
                Hidden::Interaction {
                    linear: vec![(k[0], 1.0), (k[1], 1.0)],
                    pair: (k[0], k[1]),
                    gain: 0.8,
                },
                1.0,
            )
        }
        _ => return Err(unknown()),
    };
    Ok(rater)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn axes() -> Vec<String> {
        [
            "brightness",
            "contrast",
            "colourfulness",
            "warmth",
            "hue_spread",
            "detail",
            "softness",
            "vignette",
            "symmetry",
            "hue_hist_0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn unit(d: usize, k: usize, v: f64) -> Vec<f64> {
        let mut x = vec![0.0; d];
        x[k] = v;
        x
    }

    #[test]
    fn every_builtin_exists_and_uses_named_axes() {
        let axes = axes();
        for name in BUILTIN_RATERS {
            let r = builtin(name, &axes).unwrap();
            assert_eq!(r.name, *name);
        }
        let bright = builtin("bright", &axes).unwrap();
        assert_eq!(
            bright.hidden,
            Hidden::Linear(vec![(0, 2.0), (2, 1.2), (6, -0.8)])
        );
        assert_eq!(builtin_name("builtin:moody"), Some("moody"));
        assert_eq!(builtin_name("python3 rater.py"), None);
        assert!(matches!(
            builtin("nobody", &axes),
            Err(TasteError::UnknownRater { .. })
        ));
    }

    #[test]
    fn missing_axis_names_get_distinct_stand_ins() {
        let anon: Vec<String> = (0..6).map(|i| format!("axis{i}")).collect();
        let r = builtin("moody", &anon).unwrap();
        let Hidden::Linear(terms) = &r.hidden else {
            panic!("moody is linear")
        };
        let mut ks: Vec<usize> = terms.iter().map(|t| t.0).collect();
        ks.sort_unstable();
        ks.dedup();
        assert_eq!(ks.len(), 4);
        assert!(matches!(
            builtin("moody", &anon[..2]),
            Err(TasteError::SpaceTooSmall { .. })
        ));
    }

    #[test]
    fn linear_raters_prefer_their_axes() {
        let axes = axes();
        let d = axes.len();
        let bright = builtin("bright", &axes).unwrap();
        assert!(
            bright
                .prefers_left(&unit(d, 0, 1.0), &unit(d, 0, -1.0))
                .unwrap()
        );
        let moody = builtin("moody", &axes).unwrap();
        assert!(
            moody
                .prefers_left(&unit(d, 0, -1.0), &unit(d, 0, 1.0))
                .unwrap()
        );
    }

    #[test]
    fn goldilocks_is_not_monotone() {
        let axes = axes();
        let d = axes.len();
        let g = builtin("goldilocks", &axes).unwrap();
        // Middling brightness beats both extremes: no linear taste can say that.
        let mid = unit(d, 0, 0.0);
        assert!(g.prefers_left(&mid, &unit(d, 0, 2.0)).unwrap());
        assert!(g.prefers_left(&mid, &unit(d, 0, -2.0)).unwrap());
    }

    #[test]
    fn vivid_warm_has_an_interaction() {
        let axes = axes();
        let d = axes.len();
        let r = builtin("vivid-warm", &axes).unwrap();
        let mut both = vec![0.0; d];
        both[2] = 1.0;
        both[3] = 1.0;
        let u_both = r.utility(&both).unwrap();
        let u_c = r.utility(&unit(d, 2, 1.0)).unwrap();
        let u_w = r.utility(&unit(d, 3, 1.0)).unwrap();
        let u_0 = r.utility(&vec![0.0; d]).unwrap();
        assert!((u_both - u_c - u_w + u_0 - 0.8).abs() < 1e-12);
    }

    #[test]
    fn answers_follow_bradley_terry_noise() {
        let axes = axes();
        let d = axes.len();
        let r = builtin("bright", &axes).unwrap();
        let (l, rt) = (unit(d, 0, 0.25), unit(d, 0, 0.0));
        let p = r.prob_left(&l, &rt).unwrap();
        assert!((p - sigmoid(0.5)).abs() < 1e-12);
        let mut rng = StdRng::seed_from_u64(3);
        let n = 4000;
        let lefts = (0..n)
            .filter(|_| r.answer(&l, &rt, &mut rng).unwrap() == Choice::Left)
            .count();
        let freq = lefts as f64 / n as f64;
        assert!((freq - p).abs() < 0.03, "{freq} vs {p}");
        assert!(r.utility(&[1.0]).is_err());
    }
}
