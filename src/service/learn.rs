//! Learning a profile's taste from its data, freezing it into codes, and the house style.
//!
//! Tastes are learnt over the features of standardized style vectors (the version's pool
//! statistics): the axes, and the squares of the named axes while `ranking.curvature_variance`
//! allows them (`taste::quadratic`). Codes store tastes per raw style unit, so a code means the
//! same thing however the pool grows: both forms rank every pair of images alike.

use rand::RngExt;

use super::{Error, Result, Service};
use crate::domain::{Code, Profile, ProfileKind};
use crate::render::style::{SCALAR_AXES, SPACE, STYLE_DIM, StyleVector};
use crate::store::CodeTaken;
use crate::taste::codes::{Checkpoints, image_set_key, mint_code};
use crate::taste::community::CommunityStats;
use crate::taste::model::{Observation, Posterior, Prior, fit, fit_ard};
use crate::taste::quadratic::{self, features};
use crate::taste::standardize::Standardizer;

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
            .rankable_images(version, &self.model_of(version), SPACE, 0, None)
            .await?
            .into_iter()
            .filter(|i| i.image.origin == crate::store::Origin::Pool)
            .filter_map(|i| i.image.style.and_then(|(_, v)| StyleVector::from_slice(&v)))
            .collect();
        Ok(Standardizer::fit(&pool, STYLE_DIM))
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
        let squared = self.squared_axes();
        let standardize = |v: &[f32]| -> Option<Vec<f64>> {
            let v = StyleVector::from_slice(v)?;
            Some(features(&standardized(&v, std), squared))
        };
        let mut obs = Vec::new();
        for pair in self.store.answered_pairs(&profile.id, SPACE).await? {
            if let (Some(l), Some(r)) = (standardize(&pair.left), standardize(&pair.right)) {
                obs.push(Observation::pair(&l, &r, pair.left_won).map_err(taste_bug)?);
            }
        }
        if profile.kind == ProfileKind::Global {
            let pool_mean = vec![0.0; STYLE_DIM + squared];
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
        let prior = self.prior_for(profile, std).await?;
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

    /// How many leading style axes carry a square term in the tastes the service fits: the
    /// named axes, unless `ranking.curvature_variance` is 0.
    pub(super) fn squared_axes(&self) -> usize {
        if self.config.ranking.curvature_variance > 0.0 {
            SCALAR_AXES.len()
        } else {
            0
        }
    }

    /// The base prior, before any community: centred on zero, `ranking.prior_variance` on the
    /// named axes, `ranking.hue_variance` on the hue histogram's bins and
    /// `ranking.curvature_variance` on the squares. The prior tastes are fitted under is the
    /// community prior over it ([`Service::prior_for`]).
    pub(super) fn base_prior(&self) -> Result<Prior> {
        let r = &self.config.ranking;
        let len = STYLE_DIM + self.squared_axes();
        let variances: Vec<f64> = (0..len)
            .map(|k| {
                if k < SCALAR_AXES.len() {
                    r.prior_variance
                } else if k < STYLE_DIM {
                    r.hue_variance
                } else {
                    r.curvature_variance
                }
            })
            .collect();
        Prior::diagonal(&vec![0.0; len], &variances).map_err(taste_bug)
    }

    /// The community's mean taste for `version` (per raw style unit), once at least
    /// `house_style_profiles` users have a code for their global profile of it. Read on every
    /// pair and generation, so the sum behind it is loaded once and then kept up to date as
    /// global profiles mint codes (`insert_new_code`).
    pub async fn house_style(&self, version: &str) -> Result<Option<Vec<f32>>> {
        let needed = self.config.personalization.house_style_profiles.max(1) as usize;
        self.code_sum(version, |sum| sum.mean(needed)).await
    }

    /// The sums over the latest global codes of `version` (per raw style unit) that the
    /// community prior is made from, kept up to date like the house style.
    pub(super) async fn community_sums(&self, version: &str) -> Result<CommunityStats> {
        self.code_sum(version, |sum| sum.community.clone()).await
    }

    /// `read` of the sum of `version`'s latest global codes: from the cache while it is
    /// younger than [`SUMS_FRESH_FOR`] (this process's own mints keep it exact; other
    /// processes' mints reach it when it is read afresh), or read afresh.
    async fn code_sum<T>(&self, version: &str, read: impl Fn(&CodeSum) -> T) -> Result<T> {
        let seen = {
            let cache = self.house_cache()?;
            if let Some(sum) = cache.sums.get(version)
                && sum.loaded.elapsed() < SUMS_FRESH_FOR
            {
                return Ok(read(sum));
            }
            cache.mints
        };
        let mut sum = CodeSum::default();
        for code in self.store.latest_global_codes(version).await? {
            sum.add(&code, 1.0);
        }
        let out = read(&sum);
        // Kept only if no global code was being minted meanwhile: such a code may or may not
        // be in what was read, and the next call reads again.
        let mut cache = self.house_cache()?;
        if cache.mints == seen && cache.minting == 0 {
            cache.sums.insert(version.to_string(), sum);
        }
        Ok(out)
    }

    fn house_cache(&self) -> Result<std::sync::MutexGuard<'_, HouseCache>> {
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
        // Concurrent adds or views of one set must mint one code for it: look again under the
        // mint lock before minting.
        let _guard = self.store.lock(&format!("mint {}", profile.id.0)).await?;
        if let Some(code) = self.store.code_for_image_set(&profile.id, &key).await? {
            return Ok(Some(code));
        }
        let std = self.standardizer(&profile.version).await?;
        let squared = self.squared_axes();
        let pool_mean = vec![0.0; STYLE_DIM + squared];
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
            let x = features(&standardized(&v, &std), squared);
            obs.push(Observation::like(&x, &pool_mean).map_err(taste_bug)?);
        }
        let prior = self.prior_for(profile, &std).await?;
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
        if profile.kind != ProfileKind::Global {
            return self
                .insert_code_attempts(profile, vector, points, image_set)
                .await;
        }
        // A global profile's new code takes the place of its previous one in the house style.
        // While it is being stored, the house style is not loaded into the cache.
        let replaced = self.store.latest_code(&profile.id).await?;
        self.house_cache()?.minting += 1;
        let inserted = self
            .insert_code_attempts(profile, vector, points, image_set)
            .await;
        let mut cache = self.house_cache()?;
        cache.minting -= 1;
        if let Ok(code) = &inserted {
            cache.mints += 1;
            if let Some(sum) = cache.sums.get_mut(&profile.version) {
                if let Some(old) = &replaced {
                    sum.add(old, -1.0);
                }
                sum.add(code, 1.0);
            }
        }
        inserted
    }

    async fn insert_code_attempts(
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
                Ok(()) => return Ok(code),
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

/// The house style's working state: per version, the sum of its latest global codes, kept up
/// to date as codes are minted; and counts that tell a loader whether a mint overlapped it.
#[derive(Debug, Default)]
pub(super) struct HouseCache {
    sums: std::collections::HashMap<String, CodeSum>,
    /// Global codes being stored right now.
    minting: u32,
    /// Global codes stored since start.
    mints: u64,
}

/// How long the sums of a version's latest global codes are used before they are read again
/// from the database, where the codes other processes minted are.
const SUMS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The sum of the latest global codes of a version: what its house style is the mean of, and
/// the sums the community prior is made from.
#[derive(Debug)]
struct CodeSum {
    sum: Vec<f64>,
    count: i64,
    community: CommunityStats,
    /// When it was read from the database.
    loaded: std::time::Instant,
}

impl Default for CodeSum {
    fn default() -> Self {
        CodeSum {
            sum: Vec::new(),
            count: 0,
            community: CommunityStats::new(TASTE_LEN),
            loaded: std::time::Instant::now(),
        }
    }
}

/// The longest taste a code holds: every axis, and a square term on each named one.
pub(super) const TASTE_LEN: usize = STYLE_DIM + SCALAR_AXES.len();

impl CodeSum {
    /// Adds (`sign` 1) or takes away (−1) a code's taste; codes of another space are ignored.
    /// Linear codes count as codes without square terms.
    fn add(&mut self, code: &Code, sign: f64) {
        if code.space != SPACE || quadratic::squared_axes(code.vector.len(), STYLE_DIM).is_err() {
            return;
        }
        if self.sum.len() < code.vector.len() {
            self.sum.resize(code.vector.len(), 0.0);
        }
        for (s, v) in self.sum.iter_mut().zip(&code.vector) {
            *s += sign * f64::from(*v);
        }
        self.count += sign as i64;
        let taste: Vec<f64> = code.vector.iter().map(|&v| f64::from(v)).collect();
        self.community.add(&taste, sign);
    }

    /// The mean, once at least `needed` codes are in the sum.
    fn mean(&self, needed: usize) -> Option<Vec<f32>> {
        let n = usize::try_from(self.count).ok()?;
        (n >= needed && n > 0).then(|| self.sum.iter().map(|s| (s / n as f64) as f32).collect())
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

/// A taste over standardized features as one per raw axis unit ([`quadratic::to_raw`]).
pub(super) fn to_raw(standardized: &[f32], std: &Standardizer) -> Vec<f32> {
    let taste: Vec<f64> = standardized.iter().map(|&w| f64::from(w)).collect();
    let (mean, sd) = statistics(std);
    quadratic::to_raw(&taste, &mean, &sd)
        .into_iter()
        .map(|w| w as f32)
        .collect()
}

/// A taste per raw axis unit (a code, linear or not) over standardized features, with as many
/// square terms as it has ([`quadratic::to_standardized`]).
pub(super) fn to_standardized(raw: &[f32], std: &Standardizer) -> Vec<f64> {
    let raw: Vec<f64> = raw.iter().map(|&w| f64::from(w)).collect();
    let (mean, sd) = statistics(std);
    quadratic::to_standardized(&raw, &mean, &sd, raw.len())
}

pub(super) fn statistics(std: &Standardizer) -> (Vec<f64>, Vec<f64>) {
    (
        std.mean.iter().map(|&m| f64::from(m)).collect(),
        std.std.iter().map(|&s| f64::from(s)).collect(),
    )
}

/// A style vector standardized by the pool's statistics.
pub(super) fn standardized(v: &StyleVector, std: &Standardizer) -> Vec<f64> {
    std.apply(v).into_iter().map(f64::from).collect()
}

fn taste_bug(e: crate::taste::TasteError) -> Error {
    Error::Bug(format!("taste: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_standardized_tastes_rank_images_alike() {
        let mut std = Standardizer::identity(STYLE_DIM);
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
