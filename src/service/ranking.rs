//! Answering pairs and liking images: the data that teaches a profile.

use super::{Error, ProfileSummary, Result, Service};
use crate::domain::{Choice, Code, UserId};
use crate::store::{LikeOutcome, VoteOutcome};

/// The outcome of a vote.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteResult {
    pub choice: Choice,
    /// The profile the pair was for, with its points after the vote.
    pub profile: ProfileSummary,
    /// This vote is the one that unlocked the profile.
    pub just_unlocked: bool,
    /// The code frozen because this vote reached a checkpoint (unlock, then every
    /// `refresh_every` points).
    pub code: Option<Code>,
}

/// The outcome of a like.
#[derive(Debug, Clone, PartialEq)]
pub struct LikeResult {
    /// The version of the liked image.
    pub version: String,
    /// The liker's global profile of that version, if personalization works with it.
    pub global: Option<ProfileSummary>,
    /// The code frozen because this like reached a checkpoint of that profile.
    pub code: Option<Code>,
}

impl Service {
    /// Answers a pair: left, right, or skip. A pair can be answered once, by the user it was
    /// shown to, while its profile exists; skips are kept but earn no points.
    pub async fn vote(&self, user: UserId, pair_id: i64, choice: Choice) -> Result<VoteResult> {
        let user = self.user(user).await?;
        let pair = self.store.pair(pair_id).await?.ok_or(Error::PairNotFound)?;
        if pair.user != user {
            return Err(Error::NotYourPair);
        }
        let profile = self.own_live_profile(user, &pair.profile).await?;
        match self.store.record_vote(&pair, choice).await? {
            VoteOutcome::AlreadyAnswered => Err(Error::AlreadyAnswered),
            VoteOutcome::Recorded => {
                let profile = self.summary(profile).await?;
                let counted = choice != Choice::Skip;
                let just_unlocked = counted && profile.points == profile.threshold;
                let code = if counted {
                    self.code_at_checkpoint(&profile).await?
                } else {
                    None
                };
                Ok(VoteResult {
                    choice,
                    profile,
                    just_unlocked,
                    code,
                })
            }
        }
    }

    /// Likes someone else's image: a point for the liker's global profile of its version.
    pub async fn like(&self, user: UserId, image_id: i64) -> Result<LikeResult> {
        let user = self.user(user).await?;
        let image = self
            .store
            .image(image_id)
            .await?
            .ok_or(Error::ImageNotFound)?;
        if image.image.owner == Some(user) {
            return Err(Error::OwnImage);
        }
        let version = image.image.version;
        match self.store.record_like(user, image_id, &version).await? {
            LikeOutcome::AlreadyLiked => Err(Error::AlreadyLiked),
            LikeOutcome::Recorded => {
                let global = match self.store.global_profile(user, &version).await? {
                    Some(p) => Some(self.summary(p).await?),
                    None => None,
                };
                let code = match &global {
                    Some(g) => self.code_at_checkpoint(g).await?,
                    None => None,
                };
                Ok(LikeResult {
                    version,
                    global,
                    code,
                })
            }
        }
    }

    /// A new code for `profile` if its latest point reached a checkpoint.
    async fn code_at_checkpoint(&self, profile: &ProfileSummary) -> Result<Option<Code>> {
        let points = profile.points;
        if !self
            .checkpoints()?
            .crossed(points.saturating_sub(1), points)
        {
            return Ok(None);
        }
        self.mint_profile_code(&profile.profile, points)
            .await
            .map(Some)
    }
}
