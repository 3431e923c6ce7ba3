//! Why a prompt was refused: each variant's `Display` is the sentence the user sees.

/// A prompt that cannot be run. The message names the offending token and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    /// Nothing to draw: no text and fewer than two images.
    #[error("A prompt needs text, one image and text, or at least two images")]
    NothingToDraw,

    /// Parameters nobody knows, listed together in the order they appear.
    #[error("Unrecognized parameter(s): {}", .0.join(", "))]
    Unrecognized(Vec<String>),

    /// A value that is not allowed; `token` is the parameter and value as typed.
    #[error("{token}: {rule}")]
    Invalid { token: String, rule: String },

    /// A parameter that needs a value was given none.
    #[error("{param} needs a value: {rule}")]
    MissingValue { param: String, rule: String },

    /// A flag was given a value.
    #[error("{param} is a flag and takes no value (found \"{value}\")")]
    UnexpectedValue { param: String, value: String },

    /// The same parameter (under any of its names) was given twice.
    #[error("{param} is given more than once")]
    Duplicate { param: String },

    /// Two parameters that exclude each other.
    #[error("{first} cannot be combined with {second}")]
    Conflict { first: String, second: String },

    /// Permutations and `--repeat` together would make more jobs than allowed.
    #[error("This prompt would make {jobs} jobs ({detail}); at most {max} are allowed")]
    TooManyJobs { jobs: u64, detail: String, max: u32 },

    /// A `{` without its `}`.
    #[error("Unclosed {{ in a permutation: close it with }} or write \\{{ for a literal brace")]
    UnclosedBrace,

    /// A `}` without its `{`.
    #[error("Unmatched }} in the prompt: write \\}} for a literal brace")]
    UnmatchedBrace,

    /// Permutations inside permutations inside … too deep to be meant.
    #[error("Permutations are nested more than {0} deep")]
    TooDeep(usize),

    /// A multi-prompt weight with no text before it, such as `::2 cat`.
    #[error("::{weight}: a multi-prompt weight needs text before it")]
    EmptyPart { weight: String },

    /// Multi-prompt weights that do not add up to something positive.
    #[error("Multi-prompt weights must add up to more than 0 (these add up to {sum})")]
    WeightSum { sum: f64 },
}
