//! Showing a user what a profile likes: its taste in words and per axis, for a chart.

use super::learn::{Refit, to_standardized};
use super::{Error, Result, Service};
use crate::domain::{ProfileId, ProfileKind, UserId};
use crate::render::chart::taste_chart;
use crate::render::images::files::encode_png;
use crate::render::style::axis_names;
use crate::taste::explain::{Explanation, explain};
use crate::taste::standardize::Standardizer;

/// Axes named on each side of an explanation.
const TOP_AXES: usize = 5;

/// What a profile likes.
#[derive(Debug, Clone)]
pub struct ProfileTaste {
    pub profile: super::ProfileSummary,
    /// The linear weight per standardized axis of the version's pool (log-odds per standard
    /// deviation at its typical image; square terms are in `explanation.moderate`).
    pub weights: Vec<(String, f64)>,
    /// The strongest leanings in words.
    pub explanation: Explanation,
    /// The code it reflects, when it has one; otherwise the taste is fitted from its data now.
    pub code: Option<String>,
    /// A bar chart of the strongest leanings as PNG; `None` while nothing stands out.
    pub chart_png: Option<Vec<u8>>,
    /// How far this taste is from the community's (the version's other global profiles);
    /// `None` while there are none.
    pub community: Option<super::CommunityDistance>,
}

impl Service {
    /// A profile's taste: its current code if it has one, else a fit of its data so far.
    pub async fn profile_taste(&self, user: UserId, id: &ProfileId) -> Result<ProfileTaste> {
        let summary = self.profile(user, id).await?;
        self.actions.take(user, super::Action::ProfileShow).await?;
        let profile = &summary.profile;
        let std = self.pool_standardizer(&profile.version).await?;
        // A moodboard's code is the one of the images it holds now, which after a removal
        // may be older than its newest.
        let code = match profile.kind {
            ProfileKind::Moodboard => self.moodboard_code(profile).await?,
            _ => self.store.latest_code(&profile.id).await?,
        };
        let (weights, code) = match code {
            Some(code) => (to_standardized(&code.vector, &std), Some(code.code)),
            None if profile.kind == ProfileKind::Moodboard => (vec![0.0; std.std.len()], None),
            None => (
                self.posterior(profile, &std, Refit::Tuned)
                    .await?
                    .mean_vec(),
                None,
            ),
        };
        let community = self.community_distance(profile, &weights, &std).await?;
        let names = axis_names();
        let explanation = explain(&weights, &names, TOP_AXES)
            .map_err(|e| Error::Bug(format!("explaining a taste: {e}")))?;
        let bars: Vec<(String, f64)> = explanation
            .favoured
            .iter()
            .chain(&explanation.avoided)
            .map(|lean| (lean.axis.replace('_', " "), lean.weight))
            .collect();
        let chart_png = if bars.is_empty() {
            None
        } else {
            let title = format!(
                "What \"{}\" likes ({})",
                profile.name,
                super::version_label(&profile.version)
            );
            let png = tokio::task::spawn_blocking(move || {
                taste_chart(&title, &bars).and_then(|chart| encode_png(&chart))
            })
            .await
            .map_err(|e| Error::Bug(format!("chart task: {e}")))?
            .map_err(Error::Render)?;
            Some(png)
        };
        Ok(ProfileTaste {
            chart_png,
            weights: names.into_iter().zip(weights).collect(),
            explanation,
            code,
            community,
            profile: summary,
        })
    }

    /// The axis statistics of `version`'s ranking pool, which tastes are standardized by.
    pub async fn pool_standardizer(&self, version: &str) -> Result<Standardizer> {
        self.standardizer(version).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_style_axis_has_words_of_its_own() {
        // Two axes described alike would read as one preference listed twice.
        let names = crate::render::style::SCALAR_AXES;
        for end in [true, false] {
            let mut words: Vec<String> = names
                .iter()
                .map(|a| crate::taste::explain::axis_words(a, end))
                .collect();
            words.sort();
            let before = words.len();
            words.dedup();
            assert_eq!(words.len(), before, "{words:?}");
        }
    }
}
