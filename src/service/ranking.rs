//! Answering pairs and liking images: the data that teaches a profile.

use super::{Action, Error, ProfileSummary, Result, Service};
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
        // A vote leads to a new pair: refused before it is stored when the user has shown
        // too many pairs lately, so that the click can simply be repeated.
        self.actions.check(user, Action::Rank).await?;
        let pair = self.store.pair(pair_id).await?.ok_or(Error::PairNotFound)?;
        if pair.user != user {
            return Err(Error::NotYourPair);
        }
        let profile = self.own_live_profile(user, &pair.profile).await?;
        match self.store.record_vote(&pair, choice).await? {
            VoteOutcome::AlreadyAnswered => Err(Error::AlreadyAnswered),
            VoteOutcome::Recorded => {
                let profile = self.summary(profile).await?;
                let minted = if choice == Choice::Skip {
                    None
                } else {
                    self.code_at_checkpoint(&profile).await?
                };
                let just_unlocked = minted
                    .as_ref()
                    .is_some_and(|(checkpoint, _)| *checkpoint == profile.threshold);
                let code = minted.map(|(_, code)| code);
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
        self.actions.take(user, Action::Like).await?;
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
                    Some(g) => self.code_at_checkpoint(g).await?.map(|(_, code)| code),
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

    /// A new code for `profile` if it has reached a checkpoint that no code covers yet, with
    /// that checkpoint.
    ///
    /// Decided from the points stored, not from this call's own point, so two votes landing
    /// at once (both reading 201 points, neither seeing 200) still mint the code for 200, and
    /// under the lock only one of them does.
    async fn code_at_checkpoint(&self, profile: &ProfileSummary) -> Result<Option<(u32, Code)>> {
        let Some(checkpoint) = self.checkpoints()?.last_reached(profile.points) else {
            return Ok(None);
        };
        let _guard = self
            .store
            .lock(&format!("mint {}", profile.profile.id.0))
            .await?;
        if let Some(latest) = self.store.latest_code(&profile.profile.id).await?
            && latest.points >= checkpoint
        {
            return Ok(None);
        }
        // Points may have grown while waiting for the lock: fit what is stored now.
        let points = self.store.points(&profile.profile).await?;
        let code = self.mint_profile_code(&profile.profile, points).await?;
        Ok(Some((checkpoint, code)))
    }
}
