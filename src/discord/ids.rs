//! Custom ids of buttons and menus: everything a click needs, so clicks work after a restart.
//!
//! Each id names the user the component was made for; a click by anyone else is refused.

use crate::domain::{StylizePreset, UserId};

/// What a component does when used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Settings panel: turn automatic `--p` on or off.
    SetPersonalization(bool),
    /// Settings panel: the version select menu.
    SetVersion,
    /// Settings panel: a stylize preset button.
    SetStylize(StylizePreset),
    /// Settings panel: the default profiles select menu for a version.
    SetDefaults(String),
    /// Codes list: show a page.
    CodesPage(usize),
}

/// A component's id: the user it belongs to and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentId {
    pub owner: UserId,
    pub action: Action,
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
            Action::SetVersion => format!("set:{o}:v"),
            Action::SetStylize(p) => format!("set:{o}:s:{}", p.stylize()),
            Action::SetDefaults(version) => format!("set:{o}:d:{version}"),
            Action::CodesPage(page) => format!("codes:{o}:{page}"),
        }
    }

    /// The id in `s`, or `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<ComponentId> {
        let mut parts = s.splitn(4, ':');
        let kind = parts.next()?;
        let owner = UserId(parts.next()?.parse().ok()?);
        let action = match (kind, parts.next(), parts.next()) {
            ("set", Some("p"), Some("on")) => Action::SetPersonalization(true),
            ("set", Some("p"), Some("off")) => Action::SetPersonalization(false),
            ("set", Some("v"), None) => Action::SetVersion,
            ("set", Some("s"), Some(v)) => {
                Action::SetStylize(StylizePreset::from_stylize(v.parse().ok()?)?)
            }
            ("set", Some("d"), Some(version)) if !version.is_empty() => {
                Action::SetDefaults(version.to_string())
            }
            ("codes", Some(page), None) => Action::CodesPage(page.parse().ok()?),
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
            Action::SetVersion,
            Action::SetStylize(StylizePreset::VeryHigh),
            Action::SetDefaults("niji 6".into()),
            Action::CodesPage(12),
        ] {
            let id = ComponentId::new(owner, action);
            let text = id.encode();
            assert!(text.len() <= 100, "{text}");
            assert_eq!(ComponentId::decode(&text), Some(id));
        }
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
            "set:12:d:",
            "codes:12:-1",
            "rank:1:2",
        ] {
            assert_eq!(ComponentId::decode(s), None, "{s}");
        }
    }
}
