//! The one error type of the taste layer: bad shapes and bad numbers handed in by a caller.

use thiserror::Error;

/// What can go wrong in pure taste code. Every variant names the offending input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TasteError {
    /// Two vectors that must live in the same space have different lengths.
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// An input held NaN or an infinity.
    #[error("{what} contains a value that is not finite")]
    NotFinite { what: &'static str },
    /// The prior variance must be a finite number above zero.
    #[error("prior variance must be finite and positive, got {0}")]
    BadPriorVariance(f64),
    /// An observation weight must be a finite number above zero.
    #[error("observation weight must be finite and positive, got {0}")]
    BadWeight(f64),
    /// A probability-like setting was outside [0, 1].
    #[error("{what} must be between 0 and 1, got {value}")]
    OutOfUnitRange { what: &'static str, value: f64 },
    /// Blending needs at least one vector.
    #[error("nothing to blend")]
    EmptyBlend,
    /// Blend weights may be negative, but they must add up to more than zero.
    #[error("blend weights must add up to more than zero, got {0}")]
    NonPositiveWeightSum(f64),
    /// Checkpoint settings: the unlock threshold and the refresh interval must be above zero.
    #[error("{what} must be at least 1")]
    ZeroCheckpointSetting { what: &'static str },
    /// No built-in rater has this name.
    #[error("unknown built-in rater `{name}`; known raters: {known}")]
    UnknownRater { name: String, known: String },
    /// The style space is too small for a built-in rater.
    #[error("built-in raters need a style space of at least {needed} axes, got {got}")]
    SpaceTooSmall { needed: usize, got: usize },
    /// A candidate pair names an image that is not there.
    #[error("candidate pair ({left}, {right}) names an image past the {images} given")]
    PairOutOfRange {
        left: usize,
        right: usize,
        images: usize,
    },
}
