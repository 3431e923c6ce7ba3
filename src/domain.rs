//! Plain data types shared by the layers: users, profiles, settings, votes, codes.
//!
//! No I/O and no logic beyond parsing and naming; the store persists these, the service hands
//! them to frontends.

use std::fmt;

/// A user, by their Discord user id (snowflakes fit in 63 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a user acted, and so where a picture was made: a server, or somewhere private.
///
/// `/explore` shows a picture only in the server it was made in; pictures made in a private
/// place are never shown to anyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// A server (guild), by its Discord id.
    Guild(u64),
    /// Outside any server: a DM with the bot, a group DM, or the bot used as a user-installed
    /// app where it is not a member.
    Private,
}

impl Place {
    /// The place of an interaction from the server `guild`, if any.
    pub fn from_guild(guild: Option<u64>) -> Place {
        guild.map_or(Place::Private, Place::Guild)
    }
}

/// A profile's private ID: [`PROFILE_ID_LEN`] lowercase base36 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileId(pub String);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length of a profile ID. Codes are [`CODE_LEN`] long, so the two never look alike.
pub const PROFILE_ID_LEN: usize = 10;
/// Length of a personalization code.
pub const CODE_LEN: usize = 7;
/// The alphabet of codes and profile IDs: lowercase base36.
pub const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A random string of `len` characters from [`ID_ALPHABET`], drawn from `rng`: codes, profile
/// IDs and error ids all come from here.
pub fn random_base36(rng: &mut impl rand::Rng, len: usize) -> String {
    use rand::RngExt;
    (0..len)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// Whether `s` is made only of lowercase base36 characters and has length `len`.
pub fn is_base36_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ID_ALPHABET.contains(&b))
}

/// The three kinds of profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// One per user per version; fed by ranking and likes; cannot be deleted.
    Global,
    /// Extra profiles fed by ranking only.
    Ranked,
    /// Profiles made from chosen images.
    Moodboard,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Global => "global",
            ProfileKind::Ranked => "ranked",
            ProfileKind::Moodboard => "moodboard",
        }
    }

    pub fn parse(s: &str) -> Option<ProfileKind> {
        match s {
            "global" => Some(ProfileKind::Global),
            "ranked" => Some(ProfileKind::Ranked),
            "moodboard" => Some(ProfileKind::Moodboard),
            _ => None,
        }
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: ProfileId,
    pub owner: UserId,
    pub kind: ProfileKind,
    pub version: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; a deleted profile is gone from lists and takes no new data.
    pub deleted_at: Option<i64>,
}

/// The stylize presets of `/settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StylizePreset {
    Low,
    Med,
    High,
    VeryHigh,
}

impl StylizePreset {
    pub const ALL: [StylizePreset; 4] = [
        StylizePreset::Low,
        StylizePreset::Med,
        StylizePreset::High,
        StylizePreset::VeryHigh,
    ];

    /// The `--s` value the preset stands for.
    pub fn stylize(self) -> u32 {
        match self {
            StylizePreset::Low => 50,
            StylizePreset::Med => 100,
            StylizePreset::High => 250,
            StylizePreset::VeryHigh => 750,
        }
    }

    /// The preset whose value is `stylize`, if any.
    pub fn from_stylize(stylize: u32) -> Option<StylizePreset> {
        Self::ALL.into_iter().find(|p| p.stylize() == stylize)
    }

    pub fn label(self) -> &'static str {
        match self {
            StylizePreset::Low => "Low",
            StylizePreset::Med => "Med",
            StylizePreset::High => "High",
            StylizePreset::VeryHigh => "Very High",
        }
    }
}

/// A user's settings. `default_version: None` means the configured default.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Add `--p` to prompts that have none.
    pub auto_personalize: bool,
    pub default_version: Option<String>,
    pub stylize: StylizePreset,
    /// Whether `/explore` may show the user's pictures (in the server each was made in). Off
    /// hides all of them, older ones included.
    pub explore_sharing: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_personalize: false,
            default_version: None,
            stylize: StylizePreset::Med,
            explore_sharing: true,
        }
    }
}

/// The answer to a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Choice {
    Left,
    Right,
    Skip,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Left => "left",
            Choice::Right => "right",
            Choice::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<Choice> {
        match s {
            "left" => Some(Choice::Left),
            "right" => Some(Choice::Right),
            "skip" => Some(Choice::Skip),
            _ => None,
        }
    }
}

/// A pair of images of one prompt, issued to a user for one of their profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub id: i64,
    pub user: UserId,
    pub profile: ProfileId,
    pub left_image: i64,
    pub right_image: i64,
    pub prompt: String,
    pub created_at: i64,
}

/// A frozen snapshot of a profile's taste: immutable and public.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub code: String,
    pub profile: ProfileId,
    pub owner: UserId,
    pub version: String,
    /// Name and version of the space `vector` lives in, e.g. `style-v1`.
    pub space: String,
    pub vector: Vec<f32>,
    /// Points behind the snapshot when it was taken.
    pub points: u32,
    pub created_at: i64,
}
