//! The `/imagine` prompt language (`PROMPTS.md`): parsing, validation and canonical text.
//!
//! Pure code: no I/O, no clock, no randomness, no configuration reading. The caller passes
//! [`Limits`] (built from the configuration with [`Limits::from_config`]) and gets back one
//! [`Prompt`] per permutation, or a [`PromptError`] whose `Display` is the sentence to show.
//!
//! ```
//! use tastebud::prompt::{parse, Limits};
//! let parsed = parse("a husky in a desert —ar 32:18 --s 250 --p", &Limits::default()).unwrap();
//! assert_eq!(parsed.prompts[0].canonical(), "a husky in a desert --p --stylize 250 --ar 16:9");
//! ```
//!
//! The work is done in two passes: [`expand`] turns permutations (`{a, b}`) into separate
//! texts, then [`parse`](parse::parse) reads each into a [`Prompt`]. [`types`] holds the
//! request types and their canonical rendering; [`report`] the JSON of `tastebud parse`.

pub mod error;
pub mod expand;
pub mod parse;
pub mod report;
pub mod types;

pub use error::PromptError;
pub use parse::parse;
pub use report::{parse_report, to_json};
pub use types::{
    Aspect, Motion, Parsed, ProfileRef, Prompt, Quality, RandomStyle, RefTarget, Speed, Style,
    StyleRef, StyleTarget, TextPart,
};

use types::NIJI_PREFIX;

/// What the configuration allows a prompt: the job cap and versions beyond the built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most jobs (permutations × `--repeat`) one prompt may make.
    pub max_jobs: u32,
    /// `--v` values allowed besides 1–7 (for example "8"). Names starting "niji " are ignored.
    pub extra_versions: Vec<String>,
    /// `--niji` values allowed besides 4, 5, 6 (the number only: "7" for the version "niji 7").
    pub extra_niji: Vec<String>,
}

impl Default for Limits {
    /// The shipped configuration's cap (4) and no extra versions.
    fn default() -> Self {
        Limits {
            max_jobs: 4,
            extra_versions: Vec::new(),
            extra_niji: Vec::new(),
        }
    }
}

impl Limits {
    /// Limits with `max_jobs` and every version in `versions` (configuration names such as
    /// "7" or "niji 6") allowed.
    pub fn new<S: AsRef<str>>(max_jobs: u32, versions: &[S]) -> Limits {
        let mut limits = Limits {
            max_jobs,
            ..Limits::default()
        };
        for v in versions {
            let v = v.as_ref();
            match v.strip_prefix(NIJI_PREFIX) {
                Some(n) => limits.extra_niji.push(n.to_string()),
                None => limits.extra_versions.push(v.to_string()),
            }
        }
        limits
    }

    /// The limits a configuration sets: `[prompt] max_jobs` and `[personalization] versions`.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits::new(config.prompt.max_jobs, &config.personalization.versions)
    }
}
