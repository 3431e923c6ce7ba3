//! Settings: automatic `--p`, default version, default profiles, stylize preset.

use super::{Error, Result, Service};
use crate::domain::{Profile, ProfileId, Settings, StylizePreset, UserId};

/// A user's settings with everything a settings panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsView {
    pub settings: Settings,
    /// The version prompts use when they name none: the user's choice or the configured default.
    pub version: String,
    /// The versions the user can choose from.
    pub versions: Vec<String>,
    /// The profiles bare `--p` uses for `version` (the global profile unless chosen otherwise).
    pub default_profiles: Vec<Profile>,
}

impl Service {
    /// The user's settings.
    pub async fn settings(&self, user: UserId) -> Result<SettingsView> {
        let user = self.user(user).await?;
        let settings = self.store.settings(user).await?;
        let version = self.effective_version(&settings);
        let default_profiles = self.default_profiles(user, &version).await?;
        Ok(SettingsView {
            settings,
            version,
            versions: self.config.personalization.versions.clone(),
            default_profiles,
        })
    }

    /// Turns automatic `--p` on or off.
    pub async fn set_personalization(&self, user: UserId, on: bool) -> Result<SettingsView> {
        self.update_settings(user, |s| s.auto_personalize = on)
            .await
    }

    /// Lets `/explore` show the user's pictures (in the server each was made in), or keeps all
    /// of them out of it, older ones included.
    pub async fn set_explore_sharing(&self, user: UserId, on: bool) -> Result<SettingsView> {
        self.update_settings(user, |s| s.explore_sharing = on).await
    }

    /// Chooses the version prompts use when they name none; `None` returns to the default.
    pub async fn set_default_version(
        &self,
        user: UserId,
        version: Option<&str>,
    ) -> Result<SettingsView> {
        if let Some(v) = version {
            self.check_version(v)?;
        }
        self.update_settings(user, |s| s.default_version = version.map(str::to_string))
            .await
    }

    /// Chooses the stylize preset used when a prompt has no `--s`.
    pub async fn set_stylize_preset(
        &self,
        user: UserId,
        preset: StylizePreset,
    ) -> Result<SettingsView> {
        self.update_settings(user, |s| s.stylize = preset).await
    }

    /// Chooses the profiles bare `--p` uses for `version`. An empty list means the global
    /// profile. Every profile must be the user's own, live, and of that version.
    pub async fn set_default_profiles(
        &self,
        user: UserId,
        version: &str,
        profiles: &[ProfileId],
    ) -> Result<SettingsView> {
        let user = self.user(user).await?;
        self.check_version(version)?;
        let mut ids = Vec::new();
        for id in profiles {
            let profile = self.own_live_profile(user, id).await?;
            if profile.version != version {
                return Err(Error::WrongVersion {
                    name: profile.name,
                    profile_version: profile.version,
                    version: version.to_string(),
                });
            }
            if !ids.contains(&profile.id) {
                ids.push(profile.id);
            }
        }
        self.store.set_default_profiles(user, version, &ids).await?;
        self.settings(user).await
    }

    async fn update_settings(
        &self,
        user: UserId,
        change: impl FnOnce(&mut Settings),
    ) -> Result<SettingsView> {
        let user = self.user(user).await?;
        let mut settings = self.store.settings(user).await?;
        change(&mut settings);
        self.store.save_settings(user, &settings).await?;
        self.settings(user).await
    }

    /// The version a prompt without `--v` uses. A saved choice that is no longer configured
    /// falls back to the configured default.
    fn effective_version(&self, settings: &Settings) -> String {
        let p = &self.config.personalization;
        settings
            .default_version
            .as_ref()
            .filter(|v| p.versions.contains(v))
            .unwrap_or(&p.default_version)
            .clone()
    }

    /// The profiles bare `--p` uses for `version`: the chosen ones, else the global profile.
    pub(super) async fn default_profiles(
        &self,
        user: UserId,
        version: &str,
    ) -> Result<Vec<Profile>> {
        let mut profiles = Vec::new();
        for id in self.store.default_profiles(user, version).await? {
            if let Some(p) = self.store.profile(&id).await? {
                profiles.push(p);
            }
        }
        if profiles.is_empty() {
            profiles.extend(self.store.global_profile(user, version).await?);
        }
        Ok(profiles)
    }
}
