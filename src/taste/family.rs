//! The rater family: a seeded generator of simulated raters whose hidden tastes live outside
//! the style space, so that `tastebud eval` measures how well tastes nobody tuned for are learnt.
//!
//! A family rater reads *picture statistics* that are computed independently of the style
//! descriptor (HSV and YCbCr, regions of the picture, shares of hues, texture at three scales:
//! `crate::render::probe`), standardized over the version's pool. Its utility is the sum of
//!
//! - a **shared part**, the same direction for everyone at a strength drawn per rater in
//!   0…1: a little more mid-scale texture, a lit centre, few deep shadows. Real communities
//!   have tastes in common; this is what a community prior can learn from others;
//! - a **personal part** of one of three kinds (drawn 4 : 3 : 3):
//!   - *linear*: 2–4 statistics, each with a weight of ±0.5…1.5 per standard deviation;
//!   - *ideal point*: 2–3 statistics, each with an ideal at −1…+1 standard deviations and a
//!     curvature of 0.3…0.8, so too much and too little both lose;
//!   - *interaction*: two statistics with a weight of ±0.3…1.0 each and a product of the two
//!     with a gain of ±0.6…1.0 (liked most together, or each only without the other).
//!
//! Each rater answers with Bradley–Terry noise, `P(left) = σ((u(left) − u(right)) / T)`, and
//! its temperature `T` is **calibrated to the pairs it is shown**: [`calibrate`] sets it so that
//! over the pool's pairs (two styles of one prompt) the rater agrees with its own noiseless
//! taste a drawn share of the time, 0.76…0.86 (its expected ceiling). A rater with a weak taste
//! on these pictures is then not a coin flip, and one with a strong taste is not a machine.
//!
//! Raters are named `family:SPLIT:K` with `K` ≥ 1. The splits draw from disjoint seeds:
//! `tune` (tune priors and choices on these, 1–20), `report` (report on these, 1–20), and
//! `community` (the others who rank before a newcomer in `tastebud eval --community N`). The
//! same name gives the same rater on every machine.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::TasteError;
use super::model::sigmoid;
use super::raters::{Hidden, Rater};

/// The splits of the family, in the order of their seeds.
pub const SPLITS: &[&str] = &["tune", "report", "community"];

/// Raters per split that the README's tables and the tuning use (more may be named).
pub const SPLIT_SIZE: u32 = 20;

/// The shared part of every family taste: (statistic, weight per standard deviation).
const SHARED: &[(&str, f64)] = &[
    ("texture_mid", 0.6),
    ("centre_glow", 0.4),
    ("dark_share", -0.4),
];

/// Statistics a personal taste may rest on (the hue shares are few per picture, so they are
/// offered together with the rest on equal terms).
const PERSONAL: &[&str] = &[
    "value",
    "saturation",
    "saturation_spread",
    "highlights",
    "shadows",
    "centre_glow",
    "centre_saturation",
    "top_value",
    "top_saturation",
    "left_value",
    "blue_difference",
    "red_difference",
    "green_share",
    "hue_red",
    "hue_yellow",
    "hue_green",
    "hue_cyan",
    "hue_blue",
    "hue_magenta",
    "texture_fine",
    "texture_mid",
    "texture_coarse",
    "centre_detail",
];

/// A family rater before its noise is calibrated: temperature 1, and the share of the pool's
/// pairs on which its answers should agree with its noiseless taste.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub rater: Rater,
    pub target_ceiling: f64,
}

/// `(split, K)` of a `family:SPLIT:K` rater spec, if it is one; an error if it starts with
/// `family:` but is not well formed.
pub fn parse_spec(spec: &str) -> Option<Result<(&str, u32), TasteError>> {
    let rest = spec.strip_prefix("family:")?;
    let bad = || TasteError::UnknownRater {
        name: spec.to_string(),
        known: format!(
            "family:SPLIT:K with SPLIT one of {} and K at least 1",
            SPLITS.join(", ")
        ),
    };
    let Some((split, k)) = rest.split_once(':') else {
        return Some(Err(bad()));
    };
    match (SPLITS.contains(&split), k.parse::<u32>()) {
        (true, Ok(k)) if k >= 1 => Some(Ok((split, k))),
        _ => Some(Err(bad())),
    }
}

/// The seed of rater `k` of `split`: splits never share a seed.
fn seed(split: &str, k: u32) -> u64 {
    let salt = SPLITS
        .iter()
        .position(|s| *s == split)
        .unwrap_or(SPLITS.len()) as u64;
    0x7a57_e000_0000_0000 ^ (salt << 32) ^ u64::from(k)
}

/// Rater `k` of `split` over statistics with these names (`crate::render::probe::PROBE_STATS`
/// in `tastebud eval`). Deterministic: the same arguments give the same rater.
pub fn member<S: AsRef<str>>(split: &str, k: u32, stats: &[S]) -> Result<Member, TasteError> {
    let spec = format!("family:{split}:{k}");
    if !SPLITS.contains(&split) || k == 0 {
        return Err(TasteError::UnknownRater {
            name: spec,
            known: format!("family:SPLIT:K with SPLIT one of {}", SPLITS.join(", ")),
        });
    }
    let index = |name: &str| -> Result<usize, TasteError> {
        stats
            .iter()
            .position(|s| s.as_ref() == name)
            .ok_or(TasteError::SpaceTooSmall {
                needed: PERSONAL.len(),
                got: stats.len(),
            })
    };
    let mut rng = StdRng::seed_from_u64(seed(split, k));
    let strength: f64 = rng.random_range(0.0..1.0);
    let shared = SHARED
        .iter()
        .map(|&(name, w)| Ok((index(name)?, w * strength)))
        .collect::<Result<Vec<_>, TasteError>>()?;
    // Distinct statistics for the personal part.
    let pick = |rng: &mut StdRng, count: usize| -> Result<Vec<(usize, &'static str)>, TasteError> {
        let mut chosen: Vec<&'static str> = Vec::with_capacity(count);
        while chosen.len() < count {
            let name = PERSONAL[rng.random_range(0..PERSONAL.len())];
            if !chosen.contains(&name) {
                chosen.push(name);
            }
        }
        chosen.into_iter().map(|n| Ok((index(n)?, n))).collect()
    };
    let kind = rng.random_range(0..10u32);
    let (personal, words) = if kind < 4 {
        let count = rng.random_range(2..=4usize);
        let axes = pick(&mut rng, count)?;
        let mut terms = Vec::new();
        let mut words = Vec::new();
        for (k, name) in axes {
            let w = signed(&mut rng, 0.5, 1.5);
            terms.push((k, w));
            words.push(format!("{name} {w:+.2}"));
        }
        (
            Hidden::Linear(terms),
            format!("linear: {}", words.join(", ")),
        )
    } else if kind < 7 {
        let count = rng.random_range(2..=3usize);
        let axes = pick(&mut rng, count)?;
        let mut terms = Vec::new();
        let mut words = Vec::new();
        for (k, name) in axes {
            let c = rng.random_range(-1.0..1.0);
            let a = rng.random_range(0.3..0.8);
            terms.push((k, c, a));
            words.push(format!("{name} ≈ {c:+.2} sd ({a:.2})"));
        }
        (
            Hidden::IdealPoint(terms),
            format!("ideal point: {}", words.join(", ")),
        )
    } else {
        let axes = pick(&mut rng, 2)?;
        let (wa, wb) = (signed(&mut rng, 0.3, 1.0), signed(&mut rng, 0.3, 1.0));
        let gain = signed(&mut rng, 0.6, 1.0);
        (
            Hidden::Interaction {
                linear: vec![(axes[0].0, wa), (axes[1].0, wb)],
                pair: (axes[0].0, axes[1].0),
                gain,
            },
            format!(
                "interaction: {} {wa:+.2}, {} {wb:+.2}, product {gain:+.2}",
                axes[0].1, axes[1].1
            ),
        )
    };
    let target_ceiling = rng.random_range(0.76..0.86);
    let description = format!("{words}; shared taste ×{strength:.2}");
    Ok(Member {
        rater: Rater::new(
            &spec,
            &description,
            Hidden::Sum(vec![Hidden::Linear(shared), personal]),
            1.0,
        ),
        target_ceiling,
    })
}

/// A magnitude in `lo..hi` with a random sign.
fn signed(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    let m = rng.random_range(lo..hi);
    if rng.random_bool(0.5) { m } else { -m }
}

/// The expected share of `pairs` (their utility differences) on which a rater of temperature
/// `t` answers as its noiseless taste would: `mean(σ(|Δu| / t))`.
pub fn expected_ceiling(utility_gaps: &[f64], t: f64) -> f64 {
    if utility_gaps.is_empty() {
        return 0.5;
    }
    utility_gaps
        .iter()
        .map(|d| sigmoid(d.abs() / t))
        .sum::<f64>()
        / utility_gaps.len() as f64
}

/// The member as a rater whose temperature makes its expected ceiling on `pairs` (statistics of
/// the two pictures, as the rater sees them) its target. Pairs it cannot tell apart leave the
/// temperature at 1.
pub fn calibrate<V: AsRef<[f64]>>(member: &Member, pairs: &[(V, V)]) -> Result<Rater, TasteError> {
    let mut gaps = Vec::with_capacity(pairs.len());
    for (a, b) in pairs {
        gaps.push(member.rater.utility(a.as_ref())? - member.rater.utility(b.as_ref())?);
    }
    let mut rater = member.rater.clone();
    if gaps.iter().all(|g| g.abs() < 1e-12) {
        return Ok(rater);
    }
    // The ceiling falls from 1 towards ½ as the temperature grows: bisect on its logarithm.
    let (mut lo, mut hi) = (-12.0_f64, 12.0_f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if expected_ceiling(&gaps, mid.exp()) > member.target_ceiling {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    rater.temperature = (0.5 * (lo + hi)).exp();
    Ok(rater)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Vec<String> {
        let mut names: Vec<String> = PERSONAL.iter().map(|s| s.to_string()).collect();
        names.push("dark_share".into());
        names
    }

    #[test]
    fn the_same_name_gives_the_same_rater_and_splits_differ() {
        let s = stats();
        let a = member("report", 7, &s).unwrap();
        assert_eq!(a, member("report", 7, &s).unwrap());
        assert_ne!(
            a.rater.hidden,
            member("report", 8, &s).unwrap().rater.hidden
        );
        assert_ne!(a.rater.hidden, member("tune", 7, &s).unwrap().rater.hidden);
        assert_eq!(a.rater.name, "family:report:7");
        assert!((0.76..0.86).contains(&a.target_ceiling));
        // Every kind of taste occurs among the first twenty of a split.
        let kinds: Vec<String> = (1..=SPLIT_SIZE)
            .map(|k| {
                let d = member("tune", k, &s).unwrap().rater.description;
                d.split(':').next().unwrap().to_string()
            })
            .collect();
        for kind in ["linear", "ideal point", "interaction"] {
            assert!(kinds.iter().any(|k| k == kind), "{kinds:?}");
        }
    }

    #[test]
    fn specs_are_parsed_and_checked() {
        assert_eq!(parse_spec("family:tune:3"), Some(Ok(("tune", 3))));
        assert_eq!(parse_spec("builtin:moody"), None);
        assert!(matches!(parse_spec("family:tune:0"), Some(Err(_))));
        assert!(matches!(parse_spec("family:nope:1"), Some(Err(_))));
        assert!(matches!(parse_spec("family:report"), Some(Err(_))));
        assert!(member("report", 1, &["value"]).is_err());
    }

    #[test]
    fn calibration_meets_the_target_ceiling() {
        let s = stats();
        let m = member("report", 3, &s).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..400)
            .map(|_| {
                let mut v = || (0..s.len()).map(|_| rng.random_range(-1.5..1.5)).collect();
                (v(), v())
            })
            .collect();
        let rater = calibrate(&m, &pairs).unwrap();
        let gaps: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| rater.utility(a).unwrap() - rater.utility(b).unwrap())
            .collect();
        let ceiling = expected_ceiling(&gaps, rater.temperature);
        assert!((ceiling - m.target_ceiling).abs() < 1e-6, "{ceiling}");
        // Doubling the temperature makes the rater noisier.
        assert!(expected_ceiling(&gaps, 2.0 * rater.temperature) < ceiling - 0.02);
    }
}
