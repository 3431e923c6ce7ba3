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
    pub render: Render,
    pub ranking: Ranking,
    pub limits: Limits,
    pub retention: Retention,
    pub database: Database,
    pub images: Images,
    pub queue: Queue,
}

/// Which versions are personalized, and when profiles unlock and refresh.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personalization {
    #[serde(deserialize_with = "version_names")]
    pub versions: Vec<String>,
    #[serde(deserialize_with = "version_name")]
    pub default_version: String,
    pub unlock_threshold: u32,
    pub refresh_every: u32,
    /// Unlocked global profiles a version needs before `--s` without `--p` applies the
    /// community's mean taste (house style).
    pub house_style_profiles: u32,
}

/// Reads a version name as written in TOML or in an environment variable, where `6.1` and `7`
/// arrive as numbers unless quoted.
struct VersionVisitor;

impl serde::de::Visitor<'_> for VersionVisitor {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a version name such as \"7\", \"6.1\" or \"niji 6\"")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A version name, from text or a number.
struct VersionName(String);

impl<'de> Deserialize<'de> for VersionName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(VersionVisitor).map(VersionName)
    }
}

fn version_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    VersionName::deserialize(d).map(|v| v.0)
}

fn version_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<VersionName>::deserialize(d).map(|v| v.into_iter().map(|v| v.0).collect())
}

/// Limits on what one prompt may ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptLimits {
    pub max_jobs: u32,
}

/// How ranking pairs are chosen and what they are drawn from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranking {
    /// `active` (most informative pair) or `random`.
    pub strategy: String,
    /// Prompts in a version's pool of ranking images.
    pub pool_prompts: u32,
    /// Styles (knob settings) each pool prompt is rendered in.
    pub pool_styles: u32,
    /// Side of the built-in renderer's pool images, in pixels (Stable Diffusion versions are
    /// pooled at their own size).
    pub pool_image_size: u32,
    /// Variance of the Gaussian prior on each taste weight.
    pub prior_variance: f64,
    /// Rounds of automatic relevance determination when a code is minted (0: a plain prior).
    pub ard_rounds: u32,
    /// Variance of the prior on each square term of a taste (how far a taste may bend towards
    /// an ideal point); 0 keeps tastes linear.
    pub curvature_variance: f64,
    /// Variance of the prior on each weight of the hue histogram's bins, in place of
    /// `prior_variance`: the bins move with warmth and colourfulness, and a wide prior lets a
    /// few votes pin a taste on noise in them.
    pub hue_variance: f64,
    /// How the active strategy measures what a pair would teach: `predictive` (about the pairs
    /// people compare), `uncertainty` (about the taste in the pair's direction) or
    /// `information` (mutual information with the taste).
    pub active_score: String,
    /// `κ` of the community prior: how many profiles the plain prior is worth.
    pub community_strength: f64,
    /// `λ_min` of the community prior: the smallest share the plain prior keeps, 0 to 1.
    pub community_floor: f64,
}

/// Most rounds of relevance determination a refit may take (each is one more fit).
pub const MAX_ARD_ROUNDS: u32 = 20;

/// Per-user limits: generations and profiles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Generations one user may have running at once.
    pub jobs_per_user: u32,
    /// Seconds a user waits between starting generations.
    pub cooldown_secs: u64,
    /// Most live ranked and moodboard profiles one user may have (global profiles aside).
    pub max_profiles: u32,
    /// Generations drawing or waiting for an image server at once, for all users together.
    pub renders: u32,
    /// Per user and minute: `/moodboard add` requests.
    pub moodboard_adds_per_minute: u32,
    /// Per user and minute: `/rank` pairs shown (each `/rank` and each vote or skip).
    pub rank_pairs_per_minute: u32,
    /// Per user and minute: `/profile show` (a fit and a chart).
    pub profile_shows_per_minute: u32,
    /// Per user and minute: likes.
    pub likes_per_minute: u32,
    /// Per user and minute: `/recent` (grids drawn again).
    pub recents_per_minute: u32,
}

/// Where the store is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres://user@host:port/name` for a PostgreSQL server that several processes share,
    /// or `sqlite:path`; empty: `tastebud.db` in the data directory.
    pub url: String,
}

/// Where image files are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// Empty: the data directory's `images/` folder; `file:///path`: another folder;
    /// `s3://bucket/prefix`: S3-compatible storage configured by the `AWS_*` variables.
    pub url: String,
}

/// The generation queue: who renders, and how long a worker's claim lasts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Whether this process renders queued generations itself (as `tastebud worker` does).
    pub worker: bool,
    /// Seconds a worker's claim on a job lasts unless renewed (it renews every third of
    /// that); a job whose worker died is claimed again after at most this long.
    pub lease_secs: u64,
}

/// What garbage collection deletes, and how often the bot runs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days a generation's pictures are kept unless something still needs them.
    pub generations_days: u32,
    /// Days a finished generation job is kept.
    pub jobs_days: u32,
    /// Hours an unanswered `/rank` pair is kept.
    pub unanswered_pairs_hours: u32,
    /// Minutes before a leftover temporary file is deleted.
    pub temp_files_minutes: u32,
    /// Minutes between collections in the running bot; 0: never by itself.
    pub gc_every_minutes: u32,
}

/// Discord settings other than the token (which only ever comes from `DISCORD_TOKEN`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discord {
    pub guild_id: u64,
    /// Base URL that every REST request goes to instead of Discord (a rate-limit proxy such as
    /// twilight-http-proxy or nirn-proxy); empty: Discord itself.
    pub rest_proxy: String,
    /// Which gateway shards this process runs; `None`: all of them, as many as Discord
    /// recommends.
    #[serde(deserialize_with = "shard_range")]
    pub shards: Option<ShardRange>,
    /// Tries at uploading the slash commands at start-up before giving up (waiting 1, 2, 4, …
    /// seconds between tries).
    pub register_attempts: u32,
}

/// Shards `first..=last` of `total`, written `first-last/total` (or `n/total` for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl std::str::FromStr for ShardRange {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardRange, String> {
        let bad = || format!("shards must look like 0-1/4 (shards 0 to 1 of 4) or 2/4, not {s:?}");
        let (range, total) = s.trim().split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        let (first, last, total) = (number(first)?, number(last)?, number(total)?);
        if total == 0 || first > last || last >= total {
            return Err(format!(
                "shards {s:?}: need first <= last < total (shards are numbered from 0)"
            ));
        }
        Ok(ShardRange { first, last, total })
    }
}

fn shard_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ShardRange>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

/// Rendering: image size, steering strength, and which backend serves each version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Render {
    /// Side of each generated image, in pixels.
    pub size: u32,
    /// Knob units a unit-length taste moves per 100 of `--s`.
    pub reach: f32,
    /// Images rendered per image shown when personalizing; the best by the taste is kept.
    pub candidates: u32,
    /// Knob phrase vocabulary for Stable Diffusion backends; empty: the built-in copy.
    pub vocabulary: String,
    /// ComfyUI workflow template; empty: the built-in copy.
    pub comfyui_workflow: String,
    /// Backend per version name; versions without an entry use the built-in renderer.
    pub versions: std::collections::BTreeMap<String, VersionBackend>,
}

/// The kinds of image backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Sketch,
    Automatic1111,
    Comfyui,
}

/// Which backend and model serve one version, and how to talk to its servers. Keys left out
/// of a user's entry take the values of [`VersionBackend::sketch`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VersionBackend {
    pub backend: BackendKind,
    /// Server base URL (automatic1111 and comfyui), for a version with one server; `servers`
    /// lists several.
    pub url: String,
    /// Checkpoint name; empty: the server's current model (AUTOMATIC1111 only). The
    /// calibration and the pool are kept per model.
    pub model: String,
    /// The servers of this version, each with its own URL, optionally its own checkpoint name
    /// (the same model under another file name) and how many jobs it takes at once. Empty: the
    /// one server at `url`.
    pub servers: Vec<ServerSettings>,
    /// Side of a square picture in pixels, for this version's model (e.g. 1024 for SDXL);
    /// other aspect ratios keep about as many pixels. Unset: `render.size`.
    pub size: Option<u32>,
    /// Longest wait for one whole render once a server has started it, in seconds; tastebud
    /// cancels its job on the server when it runs out.
    pub timeout_secs: u64,
    /// Longest wait to connect, in seconds.
    pub connect_timeout_secs: u64,
    /// Retries of a request the server cannot have received (the connection was refused or
    /// reset before it was sent), with doubling backoff.
    pub retries: u32,
    /// Sampling steps.
    pub steps: u32,
    /// Negative prompt added to every request.
    pub negative_prompt: String,
    /// Failed jobs in a row after which a server counts as down (it gets no jobs until it
    /// answers a check again).
    pub down_after_failures: u32,
    /// Seconds between checks of a server that is down.
    pub recheck_down_secs: u64,
}

/// One image server of a version.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub url: String,
    /// Checkpoint name on this server; empty: the version's `model`.
    #[serde(default)]
    pub model: String,
    /// Jobs sent to this server at once (at least 1).
    #[serde(default = "one")]
    pub concurrency: u32,
}

fn one() -> u32 {
    1
}

impl Default for VersionBackend {
    fn default() -> Self {
        VersionBackend::sketch()
    }
}

impl VersionBackend {
    /// The built-in renderer, for versions with no entry.
    pub fn sketch() -> VersionBackend {
        VersionBackend {
            backend: BackendKind::Sketch,
            url: String::new(),
            model: String::new(),
            servers: Vec::new(),
            size: None,
            timeout_secs: 120,
            connect_timeout_secs: 5,
            retries: 2,
            steps: 25,
            negative_prompt: String::new(),
            down_after_failures: 2,
            recheck_down_secs: 15,
        }
    }

    /// The version's servers: `servers`, or the one at `url` taking one job at a time; each
    /// with its checkpoint name filled in.
    pub fn server_list(&self) -> Vec<ServerSettings> {
        let mut servers = if self.servers.is_empty() {
            vec![ServerSettings {
                url: self.url.clone(),
                model: String::new(),
                concurrency: 1,
            }]
        } else {
            self.servers.clone()
        };
        for server in &mut servers {
            if server.model.is_empty() {
                server.model = self.model.clone();
            }
        }
        servers
    }

    /// The settings a client for `server` uses: these, with its URL and checkpoint name.
    pub fn for_server(&self, server: &ServerSettings) -> VersionBackend {
        VersionBackend {
            url: server.url.clone(),
            model: server.model.clone(),
            servers: Vec::new(),
            ..self.clone()
        }
    }
}

impl Render {
    /// The backend settings of `version` (the built-in renderer if it has no entry).
    pub fn backend_for(&self, version: &str) -> VersionBackend {
        self.versions
            .get(version)
            .cloned()
            .unwrap_or_else(VersionBackend::sketch)
    }

    /// Side of a square picture of `version`: its own `size`, else `render.size`.
    pub fn size_for(&self, version: &str) -> u32 {
        self.versions
            .get(version)
            .and_then(|b| b.size)
            .unwrap_or(self.size)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(16..=4096).contains(&self.size) {
            return Err(invalid("render.size", "must be between 16 and 4096"));
        }
        if !(self.reach > 0.0 && self.reach <= 10.0) {
            return Err(invalid("render.reach", "must be above 0 and at most 10"));
        }
        if !(1..=16).contains(&self.candidates) {
            return Err(invalid("render.candidates", "must be between 1 and 16"));
        }
        for (version, b) in &self.versions {
            if let Some(size) = b.size
                && !(64..=4096).contains(&size)
            {
                return Err(invalid(
                    "render.versions",
                    format!("version {version:?}: size must be between 64 and 4096"),
                ));
            }
            if b.backend != BackendKind::Sketch {
                if !b.url.is_empty() && !b.servers.is_empty() {
                    return Err(invalid(
                        "render.versions",
                        format!("version {version:?}: give either url or servers, not both"),
                    ));
                }
                for server in b.server_list() {
                    if !(server.url.starts_with("http://") || server.url.starts_with("https://")) {
                        return Err(invalid(
                            "render.versions",
                            format!(
                                "version {version:?} needs server urls starting with http:// or https://"
                            ),
                        ));
                    }
                    if server.concurrency == 0 {
                        return Err(invalid(
                            "render.versions",
                            format!(
                                "version {version:?}: a server's concurrency must be at least 1"
                            ),
                        ));
                    }
                    if b.backend == BackendKind::Comfyui && server.model.is_empty() {
                        return Err(invalid(
                            "render.versions",
                            format!(
                                "version {version:?}: ComfyUI has no current model; set model to a checkpoint name"
                            ),
                        ));
                    }
                }
            }
            if b.down_after_failures == 0 || b.recheck_down_secs == 0 {
                return Err(invalid(
                    "render.versions",
                    format!(
                        "version {version:?}: down_after_failures and recheck_down_secs must be at least 1"
                    ),
                ));
            }
            if b.timeout_secs == 0 || b.connect_timeout_secs == 0 {
                return Err(invalid(
                    "render.versions",
                    format!("version {version:?}: timeouts must be at least 1 second"),
                ));
            }
        }
        Ok(())
    }
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
        if !(1..=3600).contains(&self.queue.lease_secs) {
            return Err(invalid("queue.lease_secs", "must be between 1 and 3600"));
        }
        let r = &self.ranking;
        if crate::taste::select::Strategy::parse(&r.strategy).is_none() {
            return Err(invalid(
                "ranking.strategy",
                format!(
                    "{:?} is not a strategy; use \"active\" or \"random\"",
                    r.strategy
                ),
            ));
        }
        if crate::taste::select::Score::parse(&r.active_score).is_none() {
            return Err(invalid(
                "ranking.active_score",
                format!(
                    "{:?} is not a score; use \"predictive\", \"uncertainty\" or \"information\"",
                    r.active_score
                ),
            ));
        }
        if !(r.community_strength.is_finite() && r.community_strength >= 0.0) {
            return Err(invalid(
                "ranking.community_strength",
                "must be 0 or a positive number",
            ));
        }
        if !(0.0..=1.0).contains(&r.community_floor) {
            return Err(invalid("ranking.community_floor", "must be 0 to 1"));
        }
        if r.pool_prompts == 0 {
            return Err(invalid("ranking.pool_prompts", "must be at least 1"));
        }
        if r.pool_styles < 2 {
            return Err(invalid("ranking.pool_styles", "must be at least 2"));
        }
        if !(64..=1024).contains(&r.pool_image_size) {
            return Err(invalid("ranking.pool_image_size", "must be 64 to 1024"));
        }
        if !(r.prior_variance.is_finite() && r.prior_variance > 0.0) {
            return Err(invalid(
                "ranking.prior_variance",
                "must be a positive number",
            ));
        }
        if !(r.hue_variance.is_finite() && r.hue_variance > 0.0) {
            return Err(invalid("ranking.hue_variance", "must be a positive number"));
        }
        if !(r.curvature_variance.is_finite() && r.curvature_variance >= 0.0) {
            return Err(invalid(
                "ranking.curvature_variance",
                "must be 0 or a positive number",
            ));
        }
        if r.ard_rounds > MAX_ARD_ROUNDS {
            return Err(invalid(
                "ranking.ard_rounds",
                format!("must be 0 to {MAX_ARD_ROUNDS}"),
            ));
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.jobs_per_user", l.jobs_per_user),
            ("limits.renders", l.renders),
            (
                "limits.moodboard_adds_per_minute",
                l.moodboard_adds_per_minute,
            ),
            ("limits.rank_pairs_per_minute", l.rank_pairs_per_minute),
            (
                "limits.profile_shows_per_minute",
                l.profile_shows_per_minute,
            ),
            ("limits.likes_per_minute", l.likes_per_minute),
            ("limits.recents_per_minute", l.recents_per_minute),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let keep = &self.retention;
        if keep.generations_days == 0 || keep.jobs_days == 0 || keep.unanswered_pairs_hours == 0 {
            return Err(invalid(
                "retention",
                "generations_days, jobs_days and unanswered_pairs_hours must be at least 1",
            ));
        }
        if keep.temp_files_minutes < 5 {
            return Err(invalid(
                "retention.temp_files_minutes",
                "must be at least 5, so that a file being written is never taken for a leftover",
            ));
        }
        if self.prompt.max_jobs == 0 {
            return Err(invalid("prompt.max_jobs", "must be at least 1"));
        }
        self.render.validate()?;
        Ok(())
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// Each problem as "KEY: what is wrong (from SOURCE)", with environment keys written as the
/// variable the user set (`TASTEBUD_PROMPT__MAX_JOBS`) and file keys as dotted paths.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind
                && path.last() != Some(field)
            {
                path.push(field.clone());
            }
            let from_env = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            let key = if from_env {
                format!("{ENV_PREFIX}{}", path.join("__").to_uppercase())
            } else {
                path.join(".").to_lowercase()
            };
            let source = match &e.metadata {
                Some(m) => match &m.source {
                    Some(figment::Source::File(f)) => f.display().to_string(),
                    _ => m.name.to_string(),
                },
                None => "the configuration".to_string(),
            };
            format!("{key}: {} (from {source})", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.personalization.versions, ["6", "6.1", "7", "niji 6"]);
        assert_eq!(c.personalization.default_version, "7");
        assert_eq!(c.personalization.unlock_threshold, 200);
        assert_eq!(c.prompt.max_jobs, 4);
        assert_eq!(c.discord.guild_id, 0);
        assert_eq!(c.discord.shards, None);
    }

    #[test]
    fn shard_ranges_parse_with_an_inclusive_end_and_refuse_impossible_ones() {
        let r: ShardRange = "0-1/4".parse().unwrap();
        assert_eq!((r.first, r.last, r.total), (0, 1, 4));
        let one: ShardRange = "3/4".parse().unwrap();
        assert_eq!((one.first, one.last, one.total), (3, 3, 4));
        for bad in ["4/4", "2-1/4", "0-1", "a-b/4", "0/0", ""] {
            assert!(bad.parse::<ShardRange>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn overrides_replace_only_their_keys() {
        let c = Config::with_overrides("personalization.unlock_threshold = 40").unwrap();
        assert_eq!(c.personalization.unlock_threshold, 40);
        assert_eq!(c.personalization.refresh_every, 50);
    }

    #[test]
    fn versions_may_be_numbers() {
        let c =
            Config::with_overrides("[personalization]\nversions = [6.1, 7]\ndefault_version = 6.1")
                .unwrap();
        assert_eq!(c.personalization.versions, ["6.1", "7"]);
        assert_eq!(c.personalization.default_version, "6.1");
    }

    #[test]
    fn nonsense_is_refused_with_the_key() {
        for (toml, key) in [
            ("personalization.versions = []", "personalization.versions"),
            (
                "personalization.versions = [\"7\", \"7\"]",
                "personalization.versions",
            ),
            (
                "personalization.refresh_every = 0",
                "personalization.refresh_every",
            ),
            ("prompt.max_jobs = 0", "prompt.max_jobs"),
            ("ranking.hue_variance = 0", "ranking.hue_variance"),
            ("ranking.active_score = \"greedy\"", "ranking.active_score"),
            ("ranking.community_floor = 1.5", "ranking.community_floor"),
            (
                "ranking.community_strength = -1",
                "ranking.community_strength",
            ),
            ("discord.guild = 5", "discord.guild"),
        ] {
            let err = Config::with_overrides(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }
}
