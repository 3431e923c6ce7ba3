//! Custom ids of buttons and menus: everything a click needs, so clicks work after a restart.
//!
//! Each id names the user the component was made for: the one who opened a panel or a pair, or
//! the author of the images under a generation. Most components are that user's alone and a
//! click by anyone else is refused; upscale and like buttons are for everyone.
//!
//! | id | component |
//! |---|---|
//! | `set:<owner>:p:on` … | `/settings` panel |
//! | `codes:<owner>:<page>` | `/list_personalize_codes` pages |
//! | `rank:<owner>:<profile>:<pair>:<l\|r\|s>` | `/rank` answers: 1, 2, Skip |
//! | `up:<author>:<image>` | U1–U4 under a grid |
//! | `reroll:<author>:<job>` | 🔄 under a grid |
//! | `like:<author>:<image>` | ❤️ under a grid, an image or `/explore` |

use crate::domain::{Choice, PROFILE_ID_LEN, ProfileId, StylizePreset, UserId, is_base36_id};

/// What a component does when used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Settings panel: turn automatic `--p` on or off.
    SetPersonalization(bool),
    /// Settings panel: show the user's pictures in `/explore` or keep them out.
    SetExploreSharing(bool),
    /// Settings panel: the version select menu.
    SetVersion,
    /// Settings panel: a stylize preset button.
    SetStylize(StylizePreset),
    /// Settings panel: the default profiles select menu for a version.
    SetDefaults(String),
    /// Codes list: show a page.
    CodesPage(usize),
    /// `/rank`: answer `pair` (shown for `profile`).
    Rank {
        profile: ProfileId,
        pair: i64,
        choice: Choice,
    },
    /// Post one image of a generation alone.
    Upscale { image: i64 },
    /// Run a generation's prompt again with a new seed.
    Reroll { job: i64 },
    /// Like an image.
    Like { image: i64 },
}

impl Action {
    /// Whether only the component's owner may use it. Anyone may upscale or like (the service
    /// decides whose likes count).
    pub fn owner_only(&self) -> bool {
        !matches!(self, Action::Upscale { .. } | Action::Like { .. })
    }
}

/// A component's id: the user it belongs to and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentId {
    pub owner: UserId,
    pub action: Action,
}

fn choice_key(choice: Choice) -> &'static str {
    match choice {
        Choice::Left => "l",
        Choice::Right => "r",
        Choice::Skip => "s",
    }
}

fn parse_choice(key: &str) -> Option<Choice> {
    match key {
        "l" => Some(Choice::Left),
        "r" => Some(Choice::Right),
        "s" => Some(Choice::Skip),
        _ => None,
    }
}

/// A database id: a positive integer.
fn parse_id(s: &str) -> Option<i64> {
    s.parse().ok().filter(|id| *id > 0)
}

impl ComponentId {
    pub fn new(owner: UserId, action: Action) -> ComponentId {
        ComponentId { owner, action }
    }

    /// The id as sent to Discord (at most 100 characters).
    pub fn encode(&self) -> String {
        let o = self.owner;
        match &self.action {
            Action::SetPersonalization(on) => {
                format!("set:{o}:p:{}", if *on { "on" } else { "off" })
            }
            Action::SetExploreSharing(on) => {
                format!("set:{o}:e:{}", if *on { "on" } else { "off" })
            }
            Action::SetVersion => format!("set:{o}:v"),
            Action::SetStylize(p) => format!("set:{o}:s:{}", p.stylize()),
            Action::SetDefaults(version) => format!("set:{o}:d:{version}"),
            Action::CodesPage(page) => format!("codes:{o}:{page}"),
            Action::Rank {
                profile,
                pair,
                choice,
            } => format!("rank:{o}:{profile}:{pair}:{}", choice_key(*choice)),
            Action::Upscale { image } => format!("up:{o}:{image}"),
            Action::Reroll { job } => format!("reroll:{o}:{job}"),
            Action::Like { image } => format!("like:{o}:{image}"),
        }
    }

    /// The id in `s`, or `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<ComponentId> {
        let mut parts = s.split(':');
        let kind = parts.next()?;
        let owner = UserId(parts.next()?.parse().ok()?);
        let rest: Vec<&str> = parts.collect();
        let action = match (kind, rest.as_slice()) {
            ("set", ["p", "on"]) => Action::SetPersonalization(true),
            ("set", ["p", "off"]) => Action::SetPersonalization(false),
            ("set", ["e", "on"]) => Action::SetExploreSharing(true),
            ("set", ["e", "off"]) => Action::SetExploreSharing(false),
            ("set", ["v"]) => Action::SetVersion,
            ("set", ["s", v]) => Action::SetStylize(StylizePreset::from_stylize(v.parse().ok()?)?),
            ("set", ["d", version]) if !version.is_empty() => {
                Action::SetDefaults(version.to_string())
            }
            ("codes", [page]) => Action::CodesPage(page.parse().ok()?),
            ("rank", [profile, pair, choice]) if is_base36_id(profile, PROFILE_ID_LEN) => {
                Action::Rank {
                    profile: ProfileId(profile.to_string()),
                    pair: parse_id(pair)?,
                    choice: parse_choice(choice)?,
                }
            }
            ("up", [image]) => Action::Upscale {
                image: parse_id(image)?,
            },
            ("reroll", [job]) => Action::Reroll {
                job: parse_id(job)?,
            },
            ("like", [image]) => Action::Like {
                image: parse_id(image)?,
            },
            _ => return None,
        };
        Some(ComponentId { owner, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let owner = UserId(u64::MAX);
        for action in [
            Action::SetPersonalization(true),
            Action::SetPersonalization(false),
            Action::SetExploreSharing(true),
            Action::SetExploreSharing(false),
            Action::SetVersion,
            Action::SetStylize(StylizePreset::VeryHigh),
            Action::SetDefaults("niji 6".into()),
            Action::CodesPage(12),
            Action::Rank {
                profile: ProfileId("a1b2c3d4e5".into()),
                pair: i64::MAX,
                choice: Choice::Skip,
            },
            Action::Rank {
                profile: ProfileId("zzzzzzzzzz".into()),
                pair: 1,
                choice: Choice::Right,
            },
            Action::Upscale { image: i64::MAX },
            Action::Reroll { job: 42 },
            Action::Like { image: 7 },
        ] {
            let id = ComponentId::new(owner, action);
            let text = id.encode();
            assert!(text.len() <= 100, "{text}");
            assert_eq!(ComponentId::decode(&text), Some(id));
        }
    }

    #[test]
    fn rank_ids_name_owner_profile_pair_and_answer() {
        let id = ComponentId::new(
            UserId(5),
            Action::Rank {
                profile: ProfileId("a1b2c3d4e5".into()),
                pair: 17,
                choice: Choice::Left,
            },
        );
        assert_eq!(id.encode(), "rank:5:a1b2c3d4e5:17:l");
    }

    #[test]
    fn only_upscale_and_like_are_open_to_everyone() {
        assert!(!Action::Upscale { image: 1 }.owner_only());
        assert!(!Action::Like { image: 1 }.owner_only());
        assert!(Action::Reroll { job: 1 }.owner_only());
        assert!(Action::SetVersion.owner_only());
        assert!(
            Action::Rank {
                profile: ProfileId("a1b2c3d4e5".into()),
                pair: 1,
                choice: Choice::Left
            }
            .owner_only()
        );
    }

    #[test]
    fn foreign_or_damaged_ids_are_not_ours() {
        for s in [
            "",
            "set",
            "set:12",
            "set:x:v",
            "set:12:s:55",
            "set:12:p:maybe",
            "set:12:e:maybe",
            "set:12:d:",
            "codes:12:-1",
            "rank:1:2",
            "rank:1:a1b2c3d4e5:2:x",
            "rank:1:a1b2c3d4e5:0:l",
            "rank:1:NOT-AN-ID!:2:l",
            "rank:1:a1b2c3d4e5:2:l:extra",
            "up:1:-3",
            "up:1",
            "reroll:1:x",
            "like:1:2:3",
        ] {
            assert_eq!(ComponentId::decode(s), None, "{s}");
        }
    }
}
