//! `/rank`: a pair to answer with its progress line, and what a vote earned.

use super::{Attachment, Row, Style, View, button, clip};
use crate::discord::ids::Action;
use crate::domain::{Choice, ProfileKind};
use crate::render::images::files::Encoding;
use crate::service::{NextPair, ProfileSummary, VoteResult, version_label};

/// File name of a pair's image in `encoding`: `pair.jpg`, `pair.png`.
pub fn pair_file(encoding: Encoding) -> String {
    format!("pair.{}", encoding.extension())
}

/// "your V7 profile", or "your V7 profile “Moody”" for a profile beside the global one.
pub(super) fn whose(p: &ProfileSummary) -> String {
    let version = version_label(&p.profile.version);
    match p.profile.kind {
        ProfileKind::Global => format!("your {version} profile"),
        _ => format!(
            "your {version} profile “{}”",
            super::escape(&p.profile.name)
        ),
    }
}

/// "143 of 200 to unlock your V7 profile"; once unlocked, "212 rankings · next code at 250".
pub fn progress_line(p: &ProfileSummary) -> String {
    if !p.unlocked() {
        return format!("{} of {} to unlock {}", p.points, p.threshold, whose(p));
    }
    let rankings = if p.points == 1 { "ranking" } else { "rankings" };
    match p.next_code_at {
        Some(at) => format!("{} {rankings} · next code at {at}", p.points),
        None => format!("{} {rankings}", p.points),
    }
}

/// A pair to answer: the image (1 left, 2 right), the prompt, the progress line and the
/// buttons `1`, `2`, `Skip`; under `note` when there is something to say first.
pub fn pair(next: &NextPair, note: Option<&str>) -> View {
    let owner = next.pair.user;
    let answer = |choice: Choice, label: &str, style: Style| {
        button(
            owner,
            Action::Rank {
                profile: next.profile.profile.id.clone(),
                pair: next.pair.id,
                choice,
            },
            label,
            style,
        )
    };
    let mut content = String::new();
    if let Some(note) = note {
        content.push_str(note);
        content.push_str("\n\n");
    }
    content.push_str(&format!(
        "**Which do you prefer?** *{}*\n-# {}",
        clip(&next.pair.prompt, 200),
        progress_line(&next.profile)
    ));
    View {
        content,
        ephemeral: true,
        rows: vec![Row::Buttons(vec![
            answer(Choice::Left, "1", Style::Primary),
            answer(Choice::Right, "2", Style::Primary),
            answer(Choice::Skip, "Skip", Style::Secondary),
        ])],
        files: vec![Attachment {
            name: pair_file(next.image.encoding),
            bytes: next.image.bytes.clone(),
        }],
        ping: None,
    }
}

/// What a vote earned that is worth saying: the unlock, or a new code.
pub fn vote_note(result: &VoteResult) -> Option<String> {
    let whose = whose(&result.profile);
    match (&result.code, result.just_unlocked) {
        (Some(code), true) => Some(format!(
            "🎉 That unlocked {whose}! Its code is `{c}`: add `--p` to /imagine to use it, or \
             share `--p {c}` with anyone.",
            c = code.code
        )),
        (Some(code), false) => Some(format!(
            "✨ New code for {whose}: `{c}` (at {p} rankings). Bare `--p` now uses it.",
            c = code.code,
            p = code.points
        )),
        (None, true) => Some(format!(
            "🎉 That unlocked {whose}! Add `--p` to /imagine to use it."
        )),
        (None, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::ids::ComponentId;
    use crate::domain::{Code, Pair, Profile, ProfileId, UserId};
    use crate::render::images::files::Encoded;

    fn summary(kind: ProfileKind, points: u32, next_code_at: u32) -> ProfileSummary {
        ProfileSummary {
            profile: Profile {
                id: ProfileId("a1b2c3d4e5".into()),
                owner: UserId(9),
                kind,
                version: "7".into(),
                name: if kind == ProfileKind::Global {
                    "Global".into()
                } else {
                    "Moody".into()
                },
                created_at: 0,
                deleted_at: None,
            },
            points,
            threshold: 200,
            is_default: true,
            next_code_at: Some(next_code_at),
        }
    }

    fn code(points: u32) -> Code {
        Code {
            code: "q7w8e9r".into(),
            profile: ProfileId("a1b2c3d4e5".into()),
            owner: UserId(9),
            version: "7".into(),
            space: "style-v1".into(),
            vector: vec![],
            points,
            created_at: 0,
        }
    }

    #[test]
    fn the_progress_line_counts_to_unlock_then_to_the_next_code() {
        assert_eq!(
            progress_line(&summary(ProfileKind::Global, 143, 200)),
            "143 of 200 to unlock your V7 profile"
        );
        assert_eq!(
            progress_line(&summary(ProfileKind::Ranked, 3, 200)),
            "3 of 200 to unlock your V7 profile “Moody”"
        );
        assert_eq!(
            progress_line(&summary(ProfileKind::Global, 212, 250)),
            "212 rankings · next code at 250"
        );
    }

    #[test]
    fn a_pair_has_its_image_and_three_answers_that_name_owner_profile_and_pair() {
        let next = NextPair {
            pair: Pair {
                id: 31,
                user: UserId(9),
                profile: ProfileId("a1b2c3d4e5".into()),
                left_image: 1,
                right_image: 2,
                prompt: "a canyon at sunset".into(),
                created_at: 0,
            },
            profile: summary(ProfileKind::Global, 5, 200),
            image: Encoded {
                bytes: vec![1, 2, 3],
                encoding: Encoding::Jpeg,
            },
        };
        let view = pair(&next, Some("Note."));
        assert!(view.ephemeral);
        assert!(view.content.starts_with("Note.\n\n"), "{}", view.content);
        assert!(view.content.contains("*a canyon at sunset*"));
        assert!(view.content.contains("5 of 200 to unlock your V7 profile"));
        assert_eq!(view.files.len(), 1);
        assert_eq!(view.files[0].name, "pair.jpg");
        assert_eq!(view.files[0].bytes, [1, 2, 3]);
        let Row::Buttons(buttons) = &view.rows[0] else {
            panic!("buttons")
        };
        let labels: Vec<&str> = buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "Skip"]);
        let choices: Vec<Action> = buttons
            .iter()
            .map(|b| ComponentId::decode(&b.id).expect("our id").action)
            .collect();
        let expected = [Choice::Left, Choice::Right, Choice::Skip].map(|choice| Action::Rank {
            profile: ProfileId("a1b2c3d4e5".into()),
            pair: 31,
            choice,
        });
        assert_eq!(choices, expected);
    }

    #[test]
    fn unlocking_and_new_codes_are_announced_with_the_code() {
        let vote = |points, just_unlocked, code: Option<Code>| VoteResult {
            choice: Choice::Left,
            profile: summary(ProfileKind::Global, points, 200),
            just_unlocked,
            code,
        };
        let unlocked = vote_note(&vote(200, true, Some(code(200)))).expect("a note");
        assert!(
            unlocked.contains("unlocked your V7 profile") && unlocked.contains("`q7w8e9r`"),
            "{unlocked}"
        );
        let refreshed = vote_note(&vote(250, false, Some(code(250)))).expect("a note");
        assert!(refreshed.contains("New code") && refreshed.contains("`q7w8e9r`"));
        assert_eq!(vote_note(&vote(12, false, None)), None);
    }
}
