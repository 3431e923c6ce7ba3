//! The service's error: each variant's `Display` is the sentence the user sees.
//!
//! A sentence that repeats what the user typed (a profile ID or name, a code, a version, a
//! prompt's parameters) repeats at most [`MAX_ECHO_CHARS`] characters of it ([`clip`]), so a
//! 5,000-character option never makes a message too long to send.

use std::borrow::Cow;

use crate::store::StoreError;

/// Most characters of a user's text that an error sentence repeats.
pub const MAX_ECHO_CHARS: usize = 100;

/// Most characters of a sentence from another layer that quotes the user's text (prompt
/// errors, unusable images and links): the sentence around the quote is short, so the quote
/// stays near [`MAX_ECHO_CHARS`].
pub(crate) const MAX_QUOTING_CHARS: usize = 160;

/// `text` as an error repeats it: whole when it has at most `max` characters, else its first
/// two thirds and its last third around an ellipsis, `max` characters in all, so that both the
/// start and the end of a long quote (and of a sentence quoting one) stay readable.
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return Cow::Borrowed(text);
    }
    let keep = max.saturating_sub(1);
    let head = keep * 2 / 3;
    let tail = keep - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    Cow::Owned(format!("{start}…{end}"))
}

/// `text` clipped to [`MAX_ECHO_CHARS`].
fn echo(text: &str) -> Cow<'_, str> {
    clip(text, MAX_ECHO_CHARS)
}

/// A sentence quoting the user, clipped to [`MAX_QUOTING_CHARS`].
fn quoting(text: &str) -> Cow<'_, str> {
    clip(text, MAX_QUOTING_CHARS)
}

/// Why a user action did not happen. Nothing was changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{:?} is not a version personalization works with; choose one of: {known}.",
        echo(version)
    )]
    UnknownVersion { version: String, known: String },
    #[error(
        "Unlock your {label} global profile first: rank {remaining} more {pairs} with /rank.",
        label = crate::service::version_label(version),
        pairs = if *remaining == 1 { "pair" } else { "pairs" }
    )]
    GlobalLocked { version: String, remaining: u32 },
    #[error("You have no profile {}.", echo(.0))]
    ProfileNotFound(String),
    #[error(
        "You have several profiles named \"{}\": {}. Use the ID of the one you mean.",
        echo(name),
        quoting(matches)
    )]
    AmbiguousProfile { name: String, matches: String },
    #[error("The profile \"{0}\" was deleted; it takes no new data.")]
    ProfileDeleted(String),
    #[error("Your global profile can't be deleted.")]
    CannotDeleteGlobal,
    #[error("Your global profile's name can't be changed.")]
    CannotRenameGlobal,
    #[error(
        "You already have a global profile for every version; create a ranked or moodboard \
         profile instead."
    )]
    CannotCreateGlobal,
    #[error(
        "You have reached the limit of {0} ranked and moodboard profiles; delete one with \
         /profile delete to make room."
    )]
    TooManyProfiles(u32),
    #[error("A profile name {0}.")]
    InvalidName(String),
    #[error(
        "You already have a {version} profile named \"{}\".",
        echo(name),
        version = crate::service::version_label(version)
    )]
    NameTaken { name: String, version: String },
    #[error(
        "The profile \"{name}\" is for {profile_label}, not {label}.",
        profile_label = crate::service::version_label(profile_version),
        label = crate::service::version_label(version)
    )]
    WrongVersion {
        name: String,
        profile_version: String,
        version: String,
    },
    #[error("That pair doesn't exist (any more).")]
    PairNotFound,
    #[error("That pair was shown to someone else; only they can answer it.")]
    NotYourPair,
    #[error("You already answered that pair.")]
    AlreadyAnswered,
    #[error(
        "That picture doesn't exist (any more: pictures nobody liked, ranked or put on a moodboard \
         are deleted after a while)."
    )]
    ImageNotFound,
    #[error("Likes of your own images don't count; like someone else's.")]
    OwnImage,
    #[error("You already liked that image.")]
    AlreadyLiked,
    #[error("There is no code {}.", echo(.0))]
    CodeNotFound(String),
    #[error("{name:?} is a moodboard: it learns from its images, not from ranking. Add images with /moodboard add.", name = .0)]
    MoodboardNotRanked(String),
    #[error(
        "There are no images to rank for {label} yet: the server's admin needs to run `tastebud pool build --version {version}`.",
        label = crate::service::version_label(version)
    )]
    PoolEmpty { version: String },
    #[error(
        "The pictures to rank for {label} are being drawn now; try again in a few minutes.",
        label = crate::service::version_label(version)
    )]
    PoolBeingDrawn { version: String },
    #[error("A pool can hold at most {most} images ({prompts} prompts × ranking.pool_styles).", prompts = crate::service::POOL_PROMPTS.len())]
    PoolTooLarge { most: u64 },
    #[error(
        "Your profile \"{name}\" needs {remaining} more {pairs} before --p can use it: rank with /rank profile:{name}.",
        pairs = if *remaining == 1 { "ranking" } else { "rankings" }
    )]
    ProfileLocked { name: String, remaining: u32 },
    #[error("Your moodboard \"{0}\" has no images yet: add some with /moodboard add.")]
    MoodboardEmpty(String),
    #[error(
        "--p works with {known}; {label} is not personalized.",
        label = crate::service::version_label(version)
    )]
    NotPersonalized { version: String, known: String },
    #[error("{}", quoting(.0))]
    Prompt(String),
    #[error(
        "Personalization isn't ready for {label} yet: the server's admin needs to run `tastebud calibrate --version {version}`.",
        label = crate::service::version_label(version)
    )]
    NotCalibrated { version: String },
    #[error("You already have {0} generations running; wait for one to finish.")]
    TooManyJobs(u32),
    #[error("Please wait {0} more second(s) before your next /imagine.")]
    Cooldown(u64),
    #[error(
        "/explore shows pictures made in the server you use it in, so it works in servers only, \
         not in DMs."
    )]
    ExploreNeedsServer,
    #[error("That generation doesn't exist, or isn't yours.")]
    JobNotFound,
    #[error("\"{0}\" is not a moodboard; images can only be added to moodboards.")]
    NotAMoodboard(String),
    #[error("A moodboard holds at most {0} images; remove some first.")]
    MoodboardFull(usize),
    #[error("Image {0} is not one of your generations.")]
    NotYourGeneration(i64),
    #[error("Image {0} is not on that moodboard.")]
    NotOnMoodboard(i64),
    #[error(
        "You're going faster than tastebud can keep up with: you can {action} again in {seconds} {unit}.",
        unit = if *.seconds == 1 { "second" } else { "seconds" }
    )]
    SlowDown { action: &'static str, seconds: u64 },
    #[error("You are already {0}; wait for that to finish, then try again.")]
    AlreadyRunning(&'static str),
    #[error(
        "tastebud is already drawing as many pictures as it can at once ({0}); please try again \
         in a minute."
    )]
    Busy(u32),
    /// An upload or link that is not a usable image; the sentence says why.
    #[error("{}", quoting(.0))]
    BadImage(String),
    /// The backend failed: the user gets a sentence they can act on, the cause is for the
    /// logs and the command line ([`Error::internal_cause`]).
    #[error("{}", render_sentence(.0))]
    Render(crate::render::RenderError),
    /// A queued generation failed in the worker that drew it: the sentence it left for the
    /// user (none: the job was stopped), and the cause for the operator.
    #[error("{}", notice.as_deref().unwrap_or("Your generation was stopped before it was done; please try again."))]
    JobFailed {
        notice: Option<String>,
        cause: String,
    },
    /// Something broke on our side; the cause is for the logs, not for the user.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(#[from] StoreError),
    /// A broken invariant on our side; the cause is for the logs, not for the user.
    #[error("Something went wrong on our side. Please try again.")]
    Bug(String),
}

impl Error {
    /// For errors on our side, the cause to log (never shown to users); `None` for errors
    /// that are the user's to fix.
    pub fn internal_cause(&self) -> Option<String> {
        match self {
            Error::Internal(e) => Some(e.to_string()),
            Error::Render(e) => Some(e.to_string()),
            Error::JobFailed { cause, .. } => Some(cause.clone()),
            Error::Bug(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// What an operator reads (the command line, the log): the cause for errors on our side or
    /// the backend's (which server, what it said), the user's sentence for the rest.
    pub fn for_operator(&self) -> String {
        self.internal_cause().unwrap_or_else(|| self.to_string())
    }
}

/// What a user can do about a backend failure, in one sentence; the cause itself (which server,
/// what it said) is for the operator.
fn render_sentence(e: &crate::render::RenderError) -> &'static str {
    use crate::render::RenderError as R;
    match e {
        R::Timeout { .. } => {
            "The image generator took too long with this one, so tastebud stopped it; please try \
             again in a few minutes."
        }
        R::Interrupted { .. } => {
            "The picture was stopped on the image server before it was done; please try again."
        }
        R::UnknownModel { .. } | R::WrongModel { .. } => {
            "The image server for this version is not set up with the right model (the bot's \
             operator can see why in the log); try another version with --v, or later."
        }
        R::Server { status, .. } if *status < 500 => {
            "The image server for this version refused the job (the bot's operator can see why in \
             the log); try another version with --v, or later."
        }
        R::Unreachable { .. }
        | R::Dropped { .. }
        | R::Server { .. }
        | R::Protocol { .. }
        | R::NoServer(_) => {
            "The image generator is not answering right now; please try again in a few minutes."
        }
        _ => "Something went wrong on our side while drawing. Please try again.",
    }
}

/// The service's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_repeated_whole() {
        assert_eq!(clip("moody", 10), "moody");
        assert_eq!(clip(&"é".repeat(10), 10), "é".repeat(10));
    }

    #[test]
    fn long_text_keeps_its_start_and_end_within_the_limit() {
        let text: String = ('a'..='z').cycle().take(3000).collect();
        let clipped = clip(&text, 100);
        assert_eq!(clipped.chars().count(), 100);
        assert!(clipped.starts_with("abcdefghij"), "{clipped}");
        assert!(clipped.ends_with(&text[text.len() - 10..]), "{clipped}");
        assert_eq!(clipped.matches('…').count(), 1);
        // Characters, not bytes: no panic in the middle of a multi-byte character.
        assert_eq!(clip(&"日本".repeat(500), 100).chars().count(), 100);
    }

    #[test]
    fn every_sentence_that_repeats_user_text_clips_it() {
        let long = "x".repeat(5000);
        let errors = [
            Error::ProfileNotFound(long.clone()),
            Error::CodeNotFound(long.clone()),
            Error::UnknownVersion {
                version: long.clone(),
                known: "6, 7".into(),
            },
            Error::AmbiguousProfile {
                name: long.clone(),
                matches: long.clone(),
            },
            Error::NameTaken {
                name: long.clone(),
                version: "7".into(),
            },
            Error::Prompt(format!("Unrecognized parameter(s): {long}")),
            Error::BadImage(long.clone()),
        ];
        for e in errors {
            let text = e.to_string();
            let quoted = text.matches('x').count();
            assert!(
                quoted <= MAX_QUOTING_CHARS * 2,
                "{e:?}: {quoted} of 5000 repeated"
            );
            assert!(text.chars().count() < 400, "{text}");
            assert!(text.contains('…'), "{text}");
        }
        let one = Error::ProfileNotFound(long).to_string();
        assert!(one.matches('x').count() < MAX_ECHO_CHARS, "{one}");
        assert!(
            one.starts_with("You have no profile x") && one.ends_with("x."),
            "{one}"
        );
    }
}
