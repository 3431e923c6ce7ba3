//! Messages as plain data: what each command shows, built from service results.
//!
//! Nothing here knows about serenity, so tests can check every message without Discord;
//! `reply.rs` turns a [`View`] into Discord's builders in one place. Panels (settings,
//! profiles, codes) live here; ranking and generations have their own files.

pub mod explore;
mod imagine;
pub mod moodboard;
mod rank;

pub use explore::explore;
pub use imagine::{generation, liked, rendering, upscaled};
pub use rank::{pair, progress_line, vote_note};

use super::ids::{Action, ComponentId};
use crate::domain::{Code, StylizePreset, UserId};
use crate::service::{ProfileSummary, ProfileTaste, SettingsView, version_label};

/// Codes shown on one page of `/list_personalize_codes`.
pub const CODES_PER_PAGE: usize = 10;

/// Longest message Discord accepts, in characters.
pub const MAX_CONTENT: usize = 2000;

/// A message: text, attached files, and rows of components.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub content: String,
    /// Only the user who asked sees it.
    pub ephemeral: bool,
    pub rows: Vec<Row>,
    /// Files shown with the message; when a message is updated, these replace its old ones.
    pub files: Vec<Attachment>,
    /// The one user the message may notify. Nobody else is ever pinged, whatever the text
    /// holds (prompts are user-written: "@everyone" in one must stay plain text).
    pub ping: Option<UserId>,
}

/// A file attached to a message.
#[derive(Clone, PartialEq)]
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attachment({}, {} bytes)", self.name, self.bytes.len())
    }
}

/// One row of components.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Buttons(Vec<Button>),
    Select(Select),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Primary,
    Secondary,
    Success,
    Danger,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub id: String,
    pub label: String,
    pub style: Style,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub id: String,
    pub placeholder: String,
    pub options: Vec<SelectOption>,
    pub min: u8,
    pub max: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectOption {
    pub label: String,
    pub value: String,
    pub description: Option<String>,
    pub selected: bool,
}

impl View {
    /// A private text message.
    pub fn private(content: impl Into<String>) -> View {
        View {
            content: content.into(),
            ephemeral: true,
            ..View::default()
        }
    }

    /// A message everyone in the channel sees.
    pub fn public(content: impl Into<String>) -> View {
        View {
            content: content.into(),
            ..View::default()
        }
    }
}

/// `text` cut to at most `most` characters, with an ellipsis when cut.
pub fn clip(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        return text.to_string();
    }
    let mut out: String = text.chars().take(most.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` with Discord's markdown characters escaped, so user-written text (prompts, names)
/// shows as written: no bold, italics, strikes, code, spoilers, masked links or mentions.
/// Headings, quotes, lists and subtext only start a line, and user text never does in
/// tastebud's messages (slash command options have no line breaks), so `#`, `>` and `-` stay
/// as they are and `--p` reads as typed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` escaped ([`escape`]) and clipped to at most `most` characters, never cutting an
/// escape in two.
pub fn escape_clipped(text: &str, most: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in text.chars() {
        let piece = escape(&c.to_string());
        let len = piece.chars().count();
        if count + len > most.saturating_sub(1) {
            out.push('…');
            return out;
        }
        count += len;
        out.push_str(&piece);
    }
    out
}

/// How a user is named in a message.
pub fn mention(user: UserId) -> String {
    format!("<@{user}>")
}

fn button(owner: UserId, action: Action, label: &str, style: Style) -> Button {
    Button {
        id: ComponentId::new(owner, action).encode(),
        label: label.to_string(),
        style,
        disabled: false,
    }
}

/// The `/settings` panel.
pub fn settings(owner: UserId, view: &SettingsView, profiles: &[ProfileSummary]) -> View {
    let s = &view.settings;
    let defaults: Vec<String> = view
        .default_profiles
        .iter()
        .map(|p| format!("{} (`{}`)", escape(&p.name), p.id))
        .collect();
    let content = format!(
        "**Settings**\n\
         Personalization (automatic `--p`): **{}**\n\
         Default version: **{}**\n\
         Stylize: **{}** (`--s {}`)\n\
         Default profiles for {}: {}\n\
         Your pictures in /explore (in the server each was made in): **{}**",
        if s.auto_personalize { "on" } else { "off" },
        version_label(&view.version),
        s.stylize.label(),
        s.stylize.stylize(),
        version_label(&view.version),
        defaults.join(", "),
        if s.explore_sharing { "shown" } else { "hidden" },
    );
    let toggle = if s.auto_personalize {
        button(
            owner,
            Action::SetPersonalization(false),
            "Personalization: on",
            Style::Success,
        )
    } else {
        button(
            owner,
            Action::SetPersonalization(true),
            "Personalization: off",
            Style::Secondary,
        )
    };
    let sharing = if s.explore_sharing {
        button(
            owner,
            Action::SetExploreSharing(false),
            "In /explore: shown",
            Style::Success,
        )
    } else {
        button(
            owner,
            Action::SetExploreSharing(true),
            "In /explore: hidden",
            Style::Secondary,
        )
    };
    let presets = StylizePreset::ALL
        .into_iter()
        .map(|p| {
            let style = if p == s.stylize {
                Style::Primary
            } else {
                Style::Secondary
            };
            button(owner, Action::SetStylize(p), p.label(), style)
        })
        .collect();
    let versions = Select {
        id: ComponentId::new(owner, Action::SetVersion).encode(),
        placeholder: "Default version".into(),
        options: view
            .versions
            .iter()
            .take(25)
            .map(|v| SelectOption {
                label: version_label(v),
                value: v.clone(),
                description: None,
                selected: *v == view.version,
            })
            .collect(),
        min: 1,
        max: 1,
    };
    let mut rows = vec![
        Row::Buttons(vec![toggle, sharing]),
        Row::Buttons(presets),
        Row::Select(versions),
    ];
    let choices: Vec<SelectOption> = profiles
        .iter()
        .filter(|p| p.profile.version == view.version)
        .take(25)
        .map(|p| SelectOption {
            label: p.profile.name.clone(),
            value: p.profile.id.0.clone(),
            description: Some(format!("{} · {}", p.profile.kind, points_line(p))),
            selected: p.is_default,
        })
        .collect();
    if !choices.is_empty() {
        rows.push(Row::Select(Select {
            id: ComponentId::new(owner, Action::SetDefaults(view.version.clone())).encode(),
            placeholder: format!("Default profiles for {}", version_label(&view.version)),
            max: choices.len() as u8,
            min: 0,
            options: choices,
        }));
    }
    View {
        content,
        ephemeral: true,
        rows,
        ..View::default()
    }
}

/// "143 of 200 points" or "unlocked (212 points)".
pub fn points_line(p: &ProfileSummary) -> String {
    if p.unlocked() {
        format!("unlocked ({} points)", p.points)
    } else {
        format!("{} of {} points to unlock", p.points, p.threshold)
    }
}

/// One profile, for `/profile show` and after create or rename.
pub fn profile(p: &ProfileSummary) -> View {
    let mut content = format!(
        "**{}** · {} profile for {} · ID `{}`\n{}",
        escape(&p.profile.name),
        p.profile.kind,
        version_label(&p.profile.version),
        p.profile.id,
        points_line(p),
    );
    if p.is_default {
        content.push_str("\nUsed by bare `--p` for its version.");
    }
    View::private(content)
}

/// `/profile show`: the profile, what it likes in words, and the code that taste comes from.
pub fn profile_taste(taste: &ProfileTaste) -> View {
    let mut view = profile(&taste.profile);
    view.content
        .push_str(&format!("\n**Taste:** {}", taste.explanation.summary()));
    match &taste.code {
        Some(code) => view.content.push_str(&format!(
            "\nCode: `{code}` (anyone can use it: `--p {code}`)"
        )),
        None => view.content.push_str(
            "\nNo code yet (this is a fit of its data so far); it gets one when it unlocks.",
        ),
    }
    if let Some(c) = &taste.community {
        view.content.push_str(&format!(
            "\nDistance from the community's taste: {:.1} (a typical member's: {:.1}; {} {})",
            c.distance,
            c.typical,
            c.profiles,
            if c.profiles == 1 {
                "profile"
            } else {
                "profiles"
            }
        ));
    }
    view
}

/// `/profile list`: as many profiles as fit in one message, then how many more there are.
pub fn profile_list(profiles: &[ProfileSummary]) -> View {
    let mut text = "**Your profiles**".to_string();
    for (n, p) in profiles.iter().enumerate() {
        let line = format!(
            "\n{} **{}** · {} · `{}` · {}{}",
            version_label(&p.profile.version),
            escape(&p.profile.name),
            p.profile.kind,
            p.profile.id,
            points_line(p),
            if p.is_default { " · default" } else { "" },
        );
        // Room for the last line saying how many are left out.
        if text.chars().count() + line.chars().count() > MAX_CONTENT - 60 {
            text.push_str(&format!(
                "\n…and {} more; use a profile's name or ID in other commands.",
                profiles.len() - n
            ));
            break;
        }
        text.push_str(&line);
    }
    View::private(text)
}

/// One page of `/list_personalize_codes`, newest first, with page buttons when long.
pub fn codes(owner: UserId, codes: &[Code], names: &dyn Fn(&Code) -> String, page: usize) -> View {
    if codes.is_empty() {
        return View::private(
            "You have no codes yet. A profile gets its first code when it unlocks: rank pairs \
             with /rank.",
        );
    }
    let pages = codes.len().div_ceil(CODES_PER_PAGE);
    let page = page.min(pages - 1);
    let mut lines = vec![format!("**Your codes** (page {} of {pages})", page + 1)];
    for c in codes
        .iter()
        .skip(page * CODES_PER_PAGE)
        .take(CODES_PER_PAGE)
    {
        lines.push(format!(
            "`{}` · {} · {} · {} votes · <t:{}:d>",
            c.code,
            names(c),
            version_label(&c.version),
            c.points,
            c.created_at / 1000,
        ));
    }
    let mut view = View::private(lines.join("\n"));
    if pages > 1 {
        let mut prev = button(
            owner,
            Action::CodesPage(page.saturating_sub(1)),
            "◀ Newer",
            Style::Secondary,
        );
        prev.disabled = page == 0;
        let mut next = button(
            owner,
            Action::CodesPage(page + 1),
            "Older ▶",
            Style::Secondary,
        );
        next.disabled = page + 1 >= pages;
        view.rows.push(Row::Buttons(vec![prev, next]));
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProfileId;

    fn code(n: usize) -> Code {
        Code {
            code: format!("c{n:06}"),
            profile: ProfileId("p000000001".into()),
            owner: UserId(5),
            version: "7".into(),
            space: "style-v1".into(),
            vector: vec![],
            points: 200 + n as u32,
            created_at: 1_700_000_000_000,
        }
    }

    #[test]
    fn long_code_lists_are_paged_newest_first() {
        let all: Vec<Code> = (0..23).map(code).collect();
        let names = |_: &Code| "Global".to_string();
        let first = codes(UserId(5), &all, &names, 0);
        assert!(first.content.starts_with("**Your codes** (page 1 of 3)"));
        assert!(first.content.contains("`c000000`"));
        assert!(!first.content.contains("`c000010`"));
        let Row::Buttons(buttons) = &first.rows[0] else {
            panic!("buttons")
        };
        assert!(buttons[0].disabled && !buttons[1].disabled);
        let last = codes(UserId(5), &all, &names, 7);
        assert!(last.content.contains("page 3 of 3"));
        assert!(last.content.contains("`c000022`"));
        let Row::Buttons(buttons) = &last.rows[0] else {
            panic!("buttons")
        };
        assert!(!buttons[0].disabled && buttons[1].disabled);
        // A short list has no buttons.
        assert!(codes(UserId(5), &all[..3], &names, 0).rows.is_empty());
    }
}
