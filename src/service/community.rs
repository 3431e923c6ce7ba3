//! The community prior in the service: the prior every ranked or global profile is fitted
//! under, and a profile's distance from its community for `/profile show`.
//!
//! The community is the newest code of every global profile of the version (the same sums as
//! the house style, kept up to date as codes are minted); a profile's own code is taken out
//! before its taste is fitted, so nobody is pulled towards themselves. The prior itself is
//! `taste::community`: the base prior with no community, moving towards the community's mean
//! and spread as profiles unlock.

use nalgebra::DMatrix;

use super::learn::{TASTE_LEN, statistics, to_standardized};
use super::{Error, Result, Service};
use crate::domain::{Profile, ProfileKind};
use crate::render::style::{SPACE, STYLE_DIM};
use crate::taste::community::{CommunitySettings, CommunityStats, community_prior, distance};
use crate::taste::model::Prior;
use crate::taste::quadratic;
use crate::taste::standardize::Standardizer;

/// How far a profile's taste is from its community's.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityDistance {
    /// The Mahalanobis distance of the profile's taste under the community prior.
    pub distance: f64,
    /// The median of the same distance over (up to 50 of) the community's other members, each
    /// measured against the community without them.
    pub typical: f64,
    /// Other global profiles in the community.
    pub profiles: usize,
}

/// Members whose leave-one-out distance gives the typical distance in `/profile show`.
const TYPICAL_SAMPLE: usize = 50;

impl Service {
    /// How much the community prior trusts the community (`ranking.community_*`).
    fn community_settings(&self) -> CommunitySettings {
        CommunitySettings {
            strength: self.config.ranking.community_strength,
            floor: self.config.ranking.community_floor,
        }
    }

    /// The prior `profile`'s taste is fitted under: the community prior of its version over
    /// the base prior, without the profile's own code.
    pub(super) async fn prior_for(&self, profile: &Profile, std: &Standardizer) -> Result<Prior> {
        let (base, community) = self.community_for(profile, std).await?;
        match community {
            None => Ok(base),
            Some(c) => community_prior(&base, &c, self.community_settings()).map_err(bug),
        }
    }

    /// The base prior, and the sums over the community without `profile` in standardized
    /// units (`None` when nobody else is in it).
    async fn community_for(
        &self,
        profile: &Profile,
        std: &Standardizer,
    ) -> Result<(Prior, Option<CommunityStats>)> {
        let base = self.base_prior()?;
        let mut sums = self.community_sums(&profile.version).await?;
        if profile.kind == ProfileKind::Global
            && let Some(own) = self.store.latest_code(&profile.id).await?
            && own.space == SPACE
            && quadratic::squared_axes(own.vector.len(), STYLE_DIM).is_ok()
        {
            let taste: Vec<f64> = own.vector.iter().map(|&v| f64::from(v)).collect();
            sums.add(&taste, -1.0);
        }
        if sums.count() == 0 {
            return Ok((base, None));
        }
        let mapped = sums
            .map(&raw_to_standardized(std, base.dim()))
            .map_err(bug)?;
        Ok((base, Some(mapped)))
    }

    /// How far a profile's taste (standardized weights, as `/profile show` explains them) is
    /// from its community's, against how far its other members are from the rest (each left
    /// out of the prior in turn, as the profile is); `None` while the version has no other
    /// global profile with a code.
    pub(super) async fn community_distance(
        &self,
        profile: &Profile,
        taste: &[f64],
        std: &Standardizer,
    ) -> Result<Option<CommunityDistance>> {
        let (base, Some(community)) = self.community_for(profile, std).await? else {
            return Ok(None);
        };
        let settings = self.community_settings();
        let len = base.dim();
        let fit_len = |t: &[f64]| -> Vec<f64> {
            (0..len).map(|k| t.get(k).copied().unwrap_or(0.0)).collect()
        };
        let prior = community_prior(&base, &community, settings).map_err(bug)?;
        let mut others = Vec::new();
        for code in self.store.latest_global_codes(&profile.version).await? {
            if others.len() >= TYPICAL_SAMPLE {
                break;
            }
            if code.profile == profile.id
                || code.space != SPACE
                || quadratic::squared_axes(code.vector.len(), STYLE_DIM).is_err()
            {
                continue;
            }
            let t = fit_len(&to_standardized(&code.vector, std));
            let mut rest = community.clone();
            rest.add(&t, -1.0);
            let without = community_prior(&base, &rest, settings).map_err(bug)?;
            others.push(distance(&without, &t).map_err(bug)?);
        }
        if others.is_empty() {
            return Ok(None);
        }
        others.sort_by(f64::total_cmp);
        Ok(Some(CommunityDistance {
            distance: distance(&prior, &fit_len(taste)).map_err(bug)?,
            typical: others[others.len() / 2],
            profiles: community.count(),
        }))
    }
}

/// The linear map from a taste per raw style unit ([`TASTE_LEN`] entries) to one over the
/// pool's standardized features, cut to `len` entries.
fn raw_to_standardized(std: &Standardizer, len: usize) -> DMatrix<f64> {
    let (mean, sd) = statistics(std);
    let mut a = DMatrix::zeros(len, TASTE_LEN);
    for j in 0..TASTE_LEN {
        let mut unit = vec![0.0; TASTE_LEN];
        unit[j] = 1.0;
        let column = quadratic::to_standardized(&unit, &mean, &sd, TASTE_LEN);
        for (k, v) in column.into_iter().take(len).enumerate() {
            a[(k, j)] = v;
        }
    }
    a
}

fn bug(e: crate::taste::TasteError) -> Error {
    Error::Bug(format!("community prior: {e}"))
}
