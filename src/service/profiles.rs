//! Profiles: create, rename, delete, list, show; points and unlocking.

use super::{Error, Result, Service};
use crate::domain::{Profile, ProfileId, ProfileKind, UserId};
use crate::store::NotCreated;

/// Longest profile name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// A request to create a ranked or moodboard profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateProfile {
    pub kind: ProfileKind,
    /// `None`: the user's default version.
    pub version: Option<String>,
    pub name: String,
}

/// A profile with the numbers a user sees beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSummary {
    pub profile: Profile,
    /// Pair votes that were not skips (plus likes, for a global profile; images, for a moodboard).
    pub points: u32,
    /// Points that unlock the profile.
    pub threshold: u32,
    /// Whether bare `--p` uses it for its version.
    pub is_default: bool,
    /// The points at which the next code will be minted (`None` for a moodboard, whose codes
    /// follow its images).
    pub next_code_at: Option<u32>,
}

impl ProfileSummary {
    pub fn unlocked(&self) -> bool {
        self.points >= self.threshold
    }

    /// Points still missing before the profile unlocks (0 once unlocked).
    pub fn remaining(&self) -> u32 {
        self.threshold.saturating_sub(self.points)
    }
}

impl Service {
    /// Creates a ranked or moodboard profile. Needs an unlocked global profile for its version.
    pub async fn create_profile(
        &self,
        user: UserId,
        request: CreateProfile,
    ) -> Result<ProfileSummary> {
        let user = self.user(user).await?;
        if request.kind == ProfileKind::Global {
            return Err(Error::CannotCreateGlobal);
        }
        let version = match request.version {
            Some(v) => v,
            None => self.settings(user).await?.version,
        };
        self.check_version(&version)?;
        let name = valid_name(&request.name)?;
        let global = self.global_summary(user, &version).await?;
        if !global.unlocked() {
            return Err(Error::GlobalLocked {
                version,
                remaining: global.remaining(),
            });
        }
        let most = self.config.limits.max_profiles;
        let profile = self
            .store
            .create_profile(user, request.kind, &version, name, most)
            .await?
            .map_err(|refused| match refused {
                NotCreated::NameTaken => Error::NameTaken {
                    name: name.to_string(),
                    version: version.clone(),
                },
                NotCreated::TooMany => Error::TooManyProfiles(most),
            })?;
        self.summary(profile).await
    }

    /// Renames one of the user's ranked or moodboard profiles.
    pub async fn rename_profile(
        &self,
        user: UserId,
        id: &ProfileId,
        name: &str,
    ) -> Result<ProfileSummary> {
        let user = self.user(user).await?;
        let profile = self.own_live_profile(user, id).await?;
        if profile.kind == ProfileKind::Global {
            return Err(Error::CannotRenameGlobal);
        }
        let name = valid_name(name)?;
        self.store
            .rename_profile(&profile.id, name)
            .await?
            .map_err(|_| Error::NameTaken {
                name: name.to_string(),
                version: profile.version.clone(),
            })?;
        let renamed = Profile {
            name: name.to_string(),
            ..profile
        };
        self.summary(renamed).await
    }

    /// Deletes one of the user's ranked or moodboard profiles: it leaves every list and takes
    /// no new data, but every code it produced keeps working.
    pub async fn delete_profile(&self, user: UserId, id: &ProfileId) -> Result<Profile> {
        let user = self.user(user).await?;
        let profile = self.own_live_profile(user, id).await?;
        if profile.kind == ProfileKind::Global {
            return Err(Error::CannotDeleteGlobal);
        }
        self.store.delete_profile(&profile.id).await?;
        Ok(profile)
    }

    /// The user's live profiles, with points, by version, global first.
    pub async fn list_profiles(&self, user: UserId) -> Result<Vec<ProfileSummary>> {
        let user = self.user(user).await?;
        let mut summaries = Vec::new();
        for profile in self.store.live_profiles(user).await? {
            summaries.push(self.summary(profile).await?);
        }
        Ok(summaries)
    }

    /// One of the user's live profiles, with points.
    pub async fn profile(&self, user: UserId, id: &ProfileId) -> Result<ProfileSummary> {
        let user = self.user(user).await?;
        let profile = self.own_live_profile(user, id).await?;
        self.summary(profile).await
    }

    /// The user's global profile for `version`, with points.
    pub async fn global_profile(&self, user: UserId, version: &str) -> Result<ProfileSummary> {
        let user = self.user(user).await?;
        self.check_version(version)?;
        self.global_summary(user, version).await
    }

    pub(super) async fn global_summary(
        &self,
        user: UserId,
        version: &str,
    ) -> Result<ProfileSummary> {
        let profile = self
            .store
            .global_profile(user, version)
            .await?
            .ok_or_else(|| Error::ProfileNotFound(format!("for {version}")))?;
        self.summary(profile).await
    }

    /// The user's own live profile that `id` names: what the user typed, either a profile ID
    /// or the name of one of their live profiles (ignoring case; the global profiles' name
    /// too). Every service method that takes a profile a user typed resolves it here. An ID
    /// wins over a name; a name several profiles have (in different versions) is an error
    /// listing their IDs. Someone else's profile is reported exactly like a missing one:
    /// profile IDs are private.
    pub(super) async fn own_live_profile(&self, user: UserId, id: &ProfileId) -> Result<Profile> {
        let typed = id.0.trim();
        let by_id = self
            .store
            .profile(&ProfileId(typed.to_ascii_lowercase()))
            .await?
            .filter(|p| p.owner == user);
        if let Some(p) = &by_id
            && p.deleted_at.is_none()
        {
            return Ok(p.clone());
        }
        let wanted = typed.to_lowercase();
        let mut named: Vec<Profile> = if typed.is_empty() {
            Vec::new()
        } else {
            self.store
                .live_profiles(user)
                .await?
                .into_iter()
                .filter(|p| p.name.to_lowercase() == wanted)
                .collect()
        };
        match (named.len(), by_id) {
            (1, _) => Ok(named.remove(0)),
            (0, Some(deleted)) => Err(Error::ProfileDeleted(deleted.name)),
            (0, None) => Err(Error::ProfileNotFound(id.0.clone())),
            _ => Err(Error::AmbiguousProfile {
                name: typed.to_string(),
                matches: named
                    .iter()
                    .map(|p| format!("`{}` ({})", p.id, super::version_label(&p.version)))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    pub(super) async fn summary(&self, profile: Profile) -> Result<ProfileSummary> {
        let points = self.store.points(&profile).await?;
        let (threshold, next_code_at) = match profile.kind {
            // A moodboard is usable as soon as it has an image.
            ProfileKind::Moodboard => (1, None),
            ProfileKind::Global | ProfileKind::Ranked => {
                (self.threshold(), self.checkpoints()?.next_after(points))
            }
        };
        let is_default = self
            .default_profiles(profile.owner, &profile.version)
            .await?
            .iter()
            .any(|p| p.id == profile.id);
        Ok(ProfileSummary {
            profile,
            points,
            threshold,
            is_default,
            next_code_at,
        })
    }
}

/// The trimmed name, if it is one a profile may have.
fn valid_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::InvalidName("can't be empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidName(format!(
            "can be at most {MAX_NAME_CHARS} characters long"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidName(
            "can't contain control characters".into(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(valid_name("  Moody  ").unwrap(), "Moody");
        assert!(valid_name("   ").is_err());
        assert!(valid_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(valid_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(valid_name("a\nb").is_err());
    }
}
