//! Learning taste from votes and applying it: the pair model, pair selection, codes.
//!
//! Pure code: no I/O, no async, no clock, no randomness that is not passed in (every function
//! that draws takes a `&mut impl rand::Rng`).
//!
//! - [`model`]: the Bayesian pair model, its full fit and its one-vote update;
//! - [`select`]: which pair to show next;
//! - [`codes`]: minting codes, blending tastes, checkpoint arithmetic;
//! - [`explain`]: a taste vector in words;
//! - [`quadratic`]: tastes with square terms (ideal points), their features and units;
//! - [`raters`]: simulated raters with hidden tastes, for `tastebud eval` and tests;
//! - [`family`]: a seeded family of such raters with tastes outside the style space;
//! - [`community`]: the community prior, learnt across a version's profiles;
//! - [`standardize`]: style axes in pool units, which tastes are learnt and steered in;
//! - [`steer`]: calibration (knobs → style) and steering knobs toward a taste.

pub mod codes;
pub mod community;
mod error;
pub mod explain;
pub mod family;
pub mod model;
pub mod quadratic;
pub mod raters;
pub mod select;
pub mod standardize;
pub mod steer;

pub use error::TasteError;
