//! Configuration: `config/default.toml`, then an optional user file, then `TASTEBUD_*` variables.
//!
//! Every key has a default in `config/default.toml` (embedded in the binary, so tastebud runs
//! from any directory). Unknown keys and bad values are errors that name the key and where it
//! came from; nothing falls back silently.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The embedded default configuration, the same text as `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "TASTEBUD_";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub personalization: Personalization,
    pub prompt: PromptLimits,
    pub discord: Discord,
}

/// Which versions are personalized, and when profiles unlock and refresh.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personalization {
    pub versions: Vec<String>,
    pub default_version: String,
    pub unlock_threshold: u32,
    pub refresh_every: u32,
}

/// Limits on what one prompt may ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptLimits {
    pub max_jobs: u32,
}

/// Discord settings other than the token (which only ever comes from `DISCORD_TOKEN`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discord {
    pub guild_id: u64,
}

/// A configuration that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration error: {0}")]
    Parse(String),
    #[error("configuration error: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// The built-in defaults alone, ignoring the environment (for tests and tools).
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)))
    }

    /// Defaults, then `file` if given, then `TASTEBUD_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Self::from_figment(figment)
    }

    /// Defaults with `overrides` (TOML text) on top: how tests build a configuration.
    pub fn with_overrides(overrides: &str) -> Result<Config, ConfigError> {
        let figment = Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(overrides));
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.personalization;
        if p.versions.is_empty() {
            return Err(invalid(
                "personalization.versions",
                "list at least one version",
            ));
        }
        for (i, v) in p.versions.iter().enumerate() {
            if v.trim().is_empty() || v.trim() != v {
                return Err(invalid(
                    "personalization.versions",
                    format!("{v:?} is not a version name"),
                ));
            }
            if p.versions[..i].contains(v) {
                return Err(invalid(
                    "personalization.versions",
                    format!("{v:?} is listed twice"),
                ));
            }
        }
        if !p.versions.contains(&p.default_version) {
            return Err(invalid(
                "personalization.default_version",
                format!(
                    "{:?} is not one of personalization.versions ({})",
                    p.default_version,
                    p.versions.join(", ")
                ),
            ));
        }
        if p.unlock_threshold == 0 {
            return Err(invalid(
                "personalization.unlock_threshold",
                "must be at least 1",
            ));
        }
        if p.refresh_every == 0 {
            return Err(invalid(
                "personalization.refresh_every",
                "must be at least 1",
            ));
        }
        if self.prompt.max_jobs == 0 {
            return Err(invalid("prompt.max_jobs", "must be at least 1"));
        }
        Ok(())
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// Figment's messages say `for key "default.a.b"`: drop its profile name, which users never see.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| e.to_string().replace("key \"default.", "key \""))
        .collect::<Vec<_>>()
        .join("; ")
}
