//! Learning a profile's taste from its data, freezing it into codes, and the house style.
//!
//! Tastes are learnt over standardized style vectors (the version's pool statistics), but codes
//! store them per unit of the raw style axes (`w / std`), so a code means the same thing however
//! the pool grows: `wᵀ((x − m)/s)` and `(w/s)ᵀx` rank images identically.

use rand::RngExt;

use super::{Error, Result, Service};
use crate::domain::{Code, Profile, ProfileKind};
use crate::render::style::{SPACE, STYLE_DIM, Standardizer, StyleVector};
use crate::store::CodeTaken;
use crate::taste::codes::{Checkpoints, image_set_key, mint_code};
use crate::taste::model::{Observation, Posterior, Prior, fit, fit_ard};

/// How often minting retries when a fresh code string is already taken.
const MINT_ATTEMPTS: usize = 16;

impl Service {
    /// The checkpoints of ranked and global profiles.
    pub(super) fn checkpoints(&self) -> Result<Checkpoints> {
        let p = &self.config.personalization;
        Checkpoints::new(p.unlock_threshold, p.refresh_every)
            .map_err(|e| Error::Bug(format!("checkpoint settings: {e}")))
    }

    /// The axis statistics of `version`'s ranking pool (the identity while it is empty).
    pub(super) async fn standardizer(&self, version: &str) -> Result<Standardizer> {
        let pool: Vec<StyleVector> = self
            .store
            .rankable_images(version, SPACE, 0)
            .await?
            .into_iter()
            .filter(|i| i.image.origin == crate::store::Origin::Pool)
            .filter_map(|i| i.image.style.and_then(|(_, v)| StyleVector::from_slice(&v)))
            .collect();
        Ok(Standardizer::fit(&pool))
    }

    /// The posterior over a ranked or global profile's taste (standardized by `std`), from its
    /// votes and, for a global profile, its owner's likes of images of its version. `fit` says
    /// whether the prior's axes are tuned to the votes (`ranking.ard_rounds`), as for codes, or
    /// kept as they are, as for choosing the next pair: a posterior that has already ruled axes
    /// out would never show the pairs that could prove it wrong.
    pub(super) async fn posterior(
        &self,
        profile: &Profile,
        std: &Standardizer,
        fit: Refit,
    ) -> Result<Posterior> {
        let standardize = |v: &[f32]| -> Option<Vec<f64>> {
            let v = StyleVector::from_slice(v)?;
            Some(std.apply(&v).into_iter().map(f64::from).collect())
        };
        let mut obs = Vec::new();
        for pair in self.store.answered_pairs(&profile.id, SPACE).await? {
            if let (Some(l), Some(r)) = (standardize(&pair.left), standardize(&pair.right)) {
                obs.push(Observation::pair(&l, &r, pair.left_won).map_err(taste_bug)?);
            }
        }
        if profile.kind == ProfileKind::Global {
            let pool_mean = vec![0.0; STYLE_DIM];
            for liked in self
                .store
                .liked_styles(profile.owner, &profile.version, SPACE)
                .await?
            {
                if let Some(x) = standardize(&liked) {
                    obs.push(Observation::like(&x, &pool_mean).map_err(taste_bug)?);
                }
            }
        }
        let prior = self.prior(&profile.version, std).await?;
        self.fit(&obs, &prior, fit)
    }

    /// Fits `obs` under `prior`, with relevance determination when `how` asks for it and the
    /// configuration has rounds for it.
    fn fit(&self, obs: &[Observation], prior: &Prior, how: Refit) -> Result<Posterior> {
        match (how, self.config.ranking.ard_rounds) {
            (Refit::Plain, _) | (Refit::Tuned, 0) => fit(obs, prior),
            (Refit::Tuned, rounds) => {
                fit_ard(obs, prior, rounds as usize).map(|(posterior, _)| posterior)
            }
        }
        .map_err(taste_bug)
    }

    /// The prior for a new taste of `version`: centred on the community's mean taste once the
    /// house style is ready, else on zero.
    async fn prior(&self, version: &str, std: &Standardizer) -> Result<Prior> {
        let variance = self.config.ranking.prior_variance;
        let prior = match self.house_style(version).await? {
            Some(raw) => Prior::centred(&to_standardized(&raw, std), variance),
            None => Prior::zero(STYLE_DIM, variance),
        };
        prior.map_err(taste_bug)
    }

    /// The community's mean taste for `version` (per raw style unit), once at least
    /// `house_style_profiles` users have a code for their global profile of it. Kept in memory
    /// (it is read on every pair and generation) and recomputed after a global profile's code
    /// is minted.
    pub(super) async fn house_style(&self, version: &str) -> Result<Option<Vec<f32>>> {
        if let Some(cached) = self.house_cache()?.get(version) {
            return Ok(cached.clone());
        }
        let codes = self.store.latest_global_codes(version).await?;
        let codes: Vec<&Code> = codes
            .iter()
            .filter(|c| c.space == SPACE && c.vector.len() == STYLE_DIM)
            .collect();
        let needed = self.config.personalization.house_style_profiles.max(1) as usize;
        let house = if codes.len() < needed {
            None
        } else {
            let parts: Vec<(&[f32], f64)> =
                codes.iter().map(|c| (c.vector.as_slice(), 1.0)).collect();
            Some(crate::taste::codes::blend(&parts).map_err(taste_bug)?)
        };
        self.house_cache()?
            .insert(version.to_string(), house.clone());
        Ok(house)
    }

    fn house_cache(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, Option<Vec<f32>>>>>
    {
        self.house
            .lock()
            .map_err(|_| Error::Bug("house style cache lock poisoned".into()))
    }

    /// Refits a ranked or global profile at `points` and freezes it into a new code.
    pub(super) async fn mint_profile_code(&self, profile: &Profile, points: u32) -> Result<Code> {
        let std = self.standardizer(&profile.version).await?;
        let posterior = self.posterior(profile, &std, Refit::Tuned).await?;
        let raw = to_raw(&posterior.mean_f32(), &std);
        self.insert_new_code(profile, raw, points, None).await
    }

    /// A moodboard's code for its current image set: the earlier code of an equal set, or a
    /// new one. `None` when the moodboard has no measured images.
    pub(super) async fn moodboard_code(&self, profile: &Profile) -> Result<Option<Code>> {
        let images = self.store.moodboard_images(&profile.id).await?;
        let hashes: Vec<&str> = images.iter().map(|i| i.image.hash.as_str()).collect();
        if hashes.is_empty() {
            return Ok(None);
        }
        let key = image_set_key(&hashes);
        if let Some(code) = self.store.code_for_image_set(&profile.id, &key).await? {
            return Ok(Some(code));
        }
        let std = self.standardizer(&profile.version).await?;
        let pool_mean = vec![0.0; STYLE_DIM];
        let mut obs = Vec::new();
        for image in &images {
            let Some(v) = image
                .image
                .style
                .as_ref()
                .filter(|(space, _)| space == SPACE)
                .and_then(|(_, v)| StyleVector::from_slice(v))
            else {
                continue;
            };
            let x: Vec<f64> = std.apply(&v).into_iter().map(f64::from).collect();
            obs.push(Observation::like(&x, &pool_mean).map_err(taste_bug)?);
        }
        let prior = self.prior(&profile.version, &std).await?;
        let posterior = self.fit(&obs, &prior, Refit::Tuned)?;
        let raw = to_raw(&posterior.mean_f32(), &std);
        let points = images.len() as u32;
        self.insert_new_code(profile, raw, points, Some(&key))
            .await
            .map(Some)
    }

    async fn insert_new_code(
        &self,
        profile: &Profile,
        vector: Vec<f32>,
        points: u32,
        image_set: Option<&str>,
    ) -> Result<Code> {
        for _ in 0..MINT_ATTEMPTS {
            let code = Code {
                code: mint_code(&mut self.rng()),
                profile: profile.id.clone(),
                owner: profile.owner,
                version: profile.version.clone(),
                space: SPACE.to_string(),
                vector: vector.clone(),
                points,
                created_at: crate::store::now_ms(),
            };
            match self.store.insert_code_for_set(&code, image_set).await? {
                Ok(()) => {
                    if profile.kind == ProfileKind::Global {
                        self.house_cache()?.remove(&profile.version);
                    }
                    return Ok(code);
                }
                Err(CodeTaken) => continue,
            }
        }
        Err(Error::Bug(format!(
            "{MINT_ATTEMPTS} fresh codes in a row were taken"
        )))
    }

    /// A random 32-bit seed for renders whose prompt names none.
    pub(super) fn random_seed(&self) -> u32 {
        self.rng().random()
    }
}

/// How a profile's taste is fitted (see [`Service::posterior`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refit {
    /// Under the configured prior as it is: for choosing pairs.
    Plain,
    /// With the prior's axes tuned to the votes: for codes and explanations.
    Tuned,
}

/// A taste per standardized axis as one per raw axis unit: `w / std`.
pub(super) fn to_raw(standardized: &[f32], std: &Standardizer) -> Vec<f32> {
    standardized
        .iter()
        .zip(&std.std)
        .map(|(w, s)| w / s)
        .collect()
}

/// A taste per raw axis unit as one per standardized axis: `w · std`.
pub(super) fn to_standardized(raw: &[f32], std: &Standardizer) -> Vec<f64> {
    raw.iter()
        .zip(&std.std)
        .map(|(w, s)| f64::from(w * s))
        .collect()
}

fn taste_bug(e: crate::taste::TasteError) -> Error {
    Error::Bug(format!("taste: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_standardized_tastes_rank_images_alike() {
        let mut std = Standardizer::identity();
        std.mean[0] = 0.4;
        std.std[0] = 0.1;
        std.std[1] = 2.0;
        let w = vec![1.0f32; STYLE_DIM];
        let raw = to_raw(&w, &std);
        let mut a = StyleVector([0.0; STYLE_DIM]);
        let mut b = StyleVector([0.0; STYLE_DIM]);
        a.0[0] = 0.5;
        b.0[1] = 0.3;
        let std_score =
            |v: &StyleVector| -> f32 { std.apply(v).iter().zip(&w).map(|(x, w)| x * w).sum() };
        let raw_score = |v: &StyleVector| -> f32 { v.0.iter().zip(&raw).map(|(x, w)| x * w).sum() };
        let d_std = std_score(&a) - std_score(&b);
        let d_raw = raw_score(&a) - raw_score(&b);
        assert!((d_std - d_raw).abs() < 1e-4, "{d_std} vs {d_raw}");
        let back = to_standardized(&raw, &std);
        assert!(
            back.iter()
                .zip(&w)
                .all(|(b, w)| (*b as f32 - w).abs() < 1e-5)
        );
    }
}
