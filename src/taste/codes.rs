//! Codes and checkpoints: minting personalization codes, blending several tastes into one, and
//! deciding when a profile's points cross a checkpoint that freezes a new code.
//!
//! Checkpoints sit at the unlock threshold `T` and then every `R` points after it:
//! `T, T + R, T + 2R, …`. Crossing one (going from below it to at or above it) refits the
//! profile and mints a code. Uniqueness of codes is the store's business: mint, try to insert,
//! mint again on a collision (36⁷ ≈ 7.8·10¹⁰ codes make that rare).

use rand::Rng;

use super::TasteError;
use crate::domain::CODE_LEN;

/// A fresh random code: [`CODE_LEN`] characters from [`crate::domain::ID_ALPHABET`] (lowercase base36).
pub fn mint_code(rng: &mut impl Rng) -> String {
    crate::domain::random_base36(rng, CODE_LEN)
}

/// The weighted mean `Σ wᵢ·vᵢ / Σ wᵢ` of several taste vectors (for `--p a::2 b::1`).
///
/// Weights may be negative, to steer away from a taste, as in multi-prompts; but they must add up
/// to more than zero, otherwise the "mean" would flip or blow up. Entries must be finite. A
/// shorter vector counts as zero past its end: a linear taste blends with one that has square
/// terms ([`super::quadratic`]) as one whose square terms are zero.
pub fn blend<V: AsRef<[f32]>>(parts: &[(V, f64)]) -> Result<Vec<f32>, TasteError> {
    if parts.is_empty() {
        return Err(TasteError::EmptyBlend);
    }
    let d = parts
        .iter()
        .map(|(v, _)| v.as_ref().len())
        .max()
        .unwrap_or(0);
    let mut sum = 0.0_f64;
    for (v, w) in parts {
        let v = v.as_ref();
        if !w.is_finite() {
            return Err(TasteError::NotFinite {
                what: "blend weight",
            });
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(TasteError::NotFinite {
                what: "blended vector",
            });
        }
        sum += w;
    }
    if sum <= 0.0 || !sum.is_finite() {
        return Err(TasteError::NonPositiveWeightSum(sum));
    }
    let mut out = vec![0.0_f64; d];
    for (v, w) in parts {
        for (o, x) in out.iter_mut().zip(v.as_ref()) {
            *o += w * f64::from(*x);
        }
    }
    Ok(out.into_iter().map(|x| (x / sum) as f32).collect())
}

/// Where a profile's checkpoints fall: at `unlock` points, then every `refresh_every` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoints {
    unlock: u32,
    refresh_every: u32,
}

impl Checkpoints {
    /// Both settings must be at least 1.
    pub fn new(unlock: u32, refresh_every: u32) -> Result<Self, TasteError> {
        if unlock == 0 {
            return Err(TasteError::ZeroCheckpointSetting {
                what: "unlock threshold",
            });
        }
        if refresh_every == 0 {
            return Err(TasteError::ZeroCheckpointSetting {
                what: "refresh_every",
            });
        }
        Ok(Checkpoints {
            unlock,
            refresh_every,
        })
    }

    pub fn unlock(&self) -> u32 {
        self.unlock
    }

    pub fn refresh_every(&self) -> u32 {
        self.refresh_every
    }

    /// Whether a profile with `points` is unlocked.
    pub fn is_unlocked(&self, points: u32) -> bool {
        points >= self.unlock
    }

    /// How many more points until unlock (0 once unlocked): the N of "rank N more".
    pub fn remaining_to_unlock(&self, points: u32) -> u32 {
        self.unlock.saturating_sub(points)
    }

    /// The first checkpoint strictly above `points`, or `None` past `u32::MAX`.
    pub fn next_after(&self, points: u32) -> Option<u32> {
        if points < self.unlock {
            return Some(self.unlock);
        }
        let steps = (points - self.unlock) / self.refresh_every + 1;
        steps
            .checked_mul(self.refresh_every)
            .and_then(|s| s.checked_add(self.unlock))
    }

    /// The latest checkpoint at or below `points`, or `None` before unlock.
    pub fn last_reached(&self, points: u32) -> Option<u32> {
        if points < self.unlock {
            return None;
        }
        Some(self.unlock + (points - self.unlock) / self.refresh_every * self.refresh_every)
    }

    /// Whether going from `before` to `after` points crosses at least one checkpoint.
    pub fn crossed(&self, before: u32, after: u32) -> bool {
        after > before && self.next_after(before).is_some_and(|c| c <= after)
    }
}

/// [`Checkpoints::crossed`] as a plain function of the two settings; `false` if either is 0.
pub fn checkpoint_crossed(before: u32, after: u32, unlock: u32, refresh_every: u32) -> bool {
    Checkpoints::new(unlock, refresh_every).is_ok_and(|c| c.crossed(before, after))
}

/// A canonical key for a moodboard's image set (content hashes, in any order, repeats
/// ignored), so that a set equal to an earlier one can be given that earlier code back.
pub fn image_set_key<S: AsRef<str>>(hashes: &[S]) -> String {
    let mut v: Vec<&str> = hashes.iter().map(|h| h.as_ref()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ID_ALPHABET;
    use crate::domain::is_base36_id;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    #[test]
    fn codes_are_base36_of_the_right_length_and_vary() {
        let mut rng = StdRng::seed_from_u64(1);
        let codes: Vec<String> = (0..500).map(|_| mint_code(&mut rng)).collect();
        assert!(codes.iter().all(|c| is_base36_id(c, CODE_LEN)));
        let distinct: HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
        // Every character of the alphabet turns up: the draw covers all 36 symbols.
        let used: HashSet<char> = codes.iter().flat_map(|c| c.chars()).collect();
        assert_eq!(used.len(), ID_ALPHABET.len());
        // The same seed mints the same code: randomness comes only from the rng passed in.
        assert_eq!(
            mint_code(&mut StdRng::seed_from_u64(9)),
            mint_code(&mut StdRng::seed_from_u64(9))
        );
    }

    #[test]
    fn blend_is_a_weighted_mean() {
        let a = vec![1.0_f32, 0.0];
        let b = vec![0.0_f32, 4.0];
        assert_eq!(blend(&[(&a, 1.0)]).unwrap(), a);
        assert_eq!(blend(&[(&a, 1.0), (&b, 1.0)]).unwrap(), vec![0.5, 2.0]);
        assert_eq!(blend(&[(&a, 3.0), (&b, 1.0)]).unwrap(), vec![0.75, 1.0]);
        // A negative weight steers away, as long as the total stays positive.
        assert_eq!(blend(&[(&a, 2.0), (&b, -1.0)]).unwrap(), vec![2.0, -4.0]);
    }

    #[test]
    fn a_shorter_taste_blends_as_zeros_past_its_end() {
        let linear = vec![1.0_f32, 2.0];
        let curved = vec![3.0_f32, 0.0, -2.0];
        assert_eq!(
            blend(&[(&linear, 1.0), (&curved, 1.0)]).unwrap(),
            vec![2.0, 1.0, -1.0]
        );
    }

    #[test]
    fn blend_rejects_what_has_no_mean() {
        let a = vec![1.0_f32, 0.0];
        let b = vec![0.0_f32, 4.0];
        let none: [(Vec<f32>, f64); 0] = [];
        assert_eq!(blend(&none), Err(TasteError::EmptyBlend));
        assert_eq!(
            blend(&[(&a, 1.0), (&b, -1.0)]),
            Err(TasteError::NonPositiveWeightSum(0.0))
        );
        assert!(blend(&[(&a, -1.0)]).is_err());
        assert!(blend(&[(&a, f64::NAN)]).is_err());
        assert!(blend(&[(vec![f32::INFINITY, 0.0], 1.0)]).is_err());
    }

    #[test]
    fn checkpoints_fall_at_unlock_then_every_refresh() {
        let c = Checkpoints::new(200, 50).unwrap();
        assert!(!c.is_unlocked(199) && c.is_unlocked(200));
        assert_eq!(c.remaining_to_unlock(57), 143);
        assert_eq!(c.remaining_to_unlock(250), 0);
        assert_eq!(c.next_after(0), Some(200));
        assert_eq!(c.next_after(199), Some(200));
        assert_eq!(c.next_after(200), Some(250));
        assert_eq!(c.next_after(249), Some(250));
        assert_eq!(c.next_after(250), Some(300));
        assert_eq!(c.last_reached(199), None);
        assert_eq!(c.last_reached(200), Some(200));
        assert_eq!(c.last_reached(299), Some(250));
        assert_eq!(c.next_after(u32::MAX), None);
    }

    #[test]
    fn crossing_counts_each_checkpoint_once() {
        let c = Checkpoints::new(200, 50).unwrap();
        // Walking one point at a time crosses exactly the checkpoints up to 400.
        let crossed: Vec<u32> = (0..400)
            .filter(|&p| c.crossed(p, p + 1))
            .map(|p| p + 1)
            .collect();
        assert_eq!(crossed, vec![200, 250, 300, 350, 400]);
        assert!(c.crossed(150, 260));
        assert!(!c.crossed(201, 249));
        assert!(!c.crossed(250, 250));
        assert!(!c.crossed(260, 240));
        assert!(checkpoint_crossed(199, 200, 200, 50));
        assert!(!checkpoint_crossed(199, 200, 200, 0));
        assert!(Checkpoints::new(0, 10).is_err());
    }

    #[test]
    fn image_set_keys_ignore_order_and_repeats() {
        assert_eq!(image_set_key(&["b", "a", "b"]), image_set_key(&["a", "b"]));
        assert_ne!(image_set_key(&["a"]), image_set_key(&["a", "b"]));
    }
}
