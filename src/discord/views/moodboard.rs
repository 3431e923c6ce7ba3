//! `/moodboard`: a moodboard's images and code, the list of moodboards, what add and remove did.

use super::{MAX_CONTENT, View, clip, escape, escape_clipped};
use crate::service::{Moodboard, ProfileSummary, version_label};
use crate::store::{Image, Origin};

/// Characters of a generation's prompt shown beside its id.
const PROMPT_CHARS: usize = 60;

/// How a moodboard is named in a message: its name, version and ID.
fn title(p: &ProfileSummary) -> String {
    format!(
        "**{}** · moodboard for {} · ID `{}`",
        escape(&p.profile.name),
        version_label(&p.profile.version),
        p.profile.id
    )
}

/// "`q7w8e9r` (anyone can use it: `--p q7w8e9r`)", or why there is none yet.
fn code_line(board: &Moodboard) -> String {
    match &board.code {
        Some(code) => format!(
            "Code: `{}` (anyone can use it: `--p {}`)",
            code.code, code.code
        ),
        None => "No code yet: it gets one with its first image (`/moodboard add`).".to_string(),
    }
}

fn images_count(n: usize) -> String {
    if n == 1 {
        "1 image".to_string()
    } else {
        format!("{n} images")
    }
}

/// One image of a moodboard: its id (what `/moodboard remove` takes) and where it came from.
fn image_line(image: &Image) -> String {
    let from = match image.image.origin {
        Origin::Generated => format!(
            "your generation *{}*",
            escape_clipped(&image.image.prompt, PROMPT_CHARS)
        ),
        Origin::Upload => "an uploaded file or link".to_string(),
        Origin::Pool => "a ranking image".to_string(),
    };
    format!(
        "`{}` · {from} · <t:{}:d>",
        image.id,
        image.created_at / 1000
    )
}

/// `/moodboard show`: the moodboard, its code and its images with their ids.
pub fn show(board: &Moodboard) -> View {
    let head = [
        title(&board.profile),
        code_line(board),
        format!("**{}**", images_count(board.images.len())),
    ]
    .join("\n");
    let foot = if board.images.is_empty() {
        "Add images with `/moodboard add`: attach files, paste a link, or give the id of one \
         of your generations."
    } else {
        "-# Remove one with `/moodboard remove image:<id>`."
    };
    // Room for the image lines, keeping space for a "… and N more" line.
    let budget = MAX_CONTENT.saturating_sub(head.chars().count() + foot.chars().count() + 40);
    let mut body = String::new();
    let mut shown = 0;
    for image in &board.images {
        let line = image_line(image);
        if body.chars().count() + line.chars().count() + 1 > budget {
            break;
        }
        body.push('\n');
        body.push_str(&line);
        shown += 1;
    }
    if shown < board.images.len() {
        body.push_str(&format!("\n… and {} more", board.images.len() - shown));
    }
    View::private(clip(&format!("{head}{body}\n{foot}"), MAX_CONTENT))
}

/// After `/moodboard create`.
pub fn created(p: &ProfileSummary) -> View {
    View::private(format!(
        "Created {}.\nAdd images with `/moodboard add`: attach files, paste a link, or give \
         the id of one of your generations.",
        title(p)
    ))
}

/// After `/moodboard add` put `added` images on `board`.
pub fn added(board: &Moodboard, added: usize) -> View {
    View::private(format!(
        "Added {} to **{}**; it has {} now.\n{}",
        images_count(added),
        escape(&board.profile.profile.name),
        images_count(board.images.len()),
        code_line(board)
    ))
}

/// After `/moodboard remove` took image `image` off `board`.
pub fn removed(board: &Moodboard, image: i64) -> View {
    View::private(format!(
        "Removed image `{image}` from **{}**; it has {} now.\n{}",
        escape(&board.profile.profile.name),
        images_count(board.images.len()),
        code_line(board)
    ))
}

/// `/moodboard list`: every moodboard with its image count and code.
pub fn list(boards: &[Moodboard]) -> View {
    if boards.is_empty() {
        return View::private("You have no moodboards yet: create one with `/moodboard create`.");
    }
    let mut lines = vec!["**Your moodboards**".to_string()];
    for board in boards {
        let p = &board.profile.profile;
        let code = match &board.code {
            Some(c) => format!("code `{}`", c.code),
            None => "no code yet".to_string(),
        };
        lines.push(format!(
            "{} **{}** · `{}` · {} · {code}{}",
            version_label(&p.version),
            escape(&p.name),
            p.id,
            images_count(board.images.len()),
            if board.profile.is_default {
                " · default"
            } else {
                ""
            },
        ));
    }
    View::private(clip(&lines.join("\n"), MAX_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Code, Profile, ProfileId, ProfileKind, UserId};
    use crate::store::NewImage;

    fn board(images: Vec<Image>, code: Option<&str>) -> Moodboard {
        Moodboard {
            profile: ProfileSummary {
                profile: Profile {
                    id: ProfileId("m000000001".into()),
                    owner: UserId(5),
                    kind: ProfileKind::Moodboard,
                    version: "7".into(),
                    name: "Dusk".into(),
                    created_at: 0,
                    deleted_at: None,
                },
                points: images.len() as u32,
                threshold: 1,
                is_default: false,
                next_code_at: None,
            },
            images,
            code: code.map(|c| Code {
                code: c.into(),
                profile: ProfileId("m000000001".into()),
                owner: UserId(5),
                version: "7".into(),
                space: "style-v1".into(),
                vector: vec![],
                points: 1,
                created_at: 0,
            }),
        }
    }

    fn image(id: i64, origin: Origin, prompt: &str) -> Image {
        Image {
            id,
            created_at: 1_790_000_000_000,
            image: NewImage {
                hash: "h".into(),
                prompt: prompt.into(),
                version: "7".into(),
                backend: "upload".into(),
                model: String::new(),
                seed: 0,
                knobs: vec![],
                style: None,
                origin,
                owner: Some(UserId(5)),
                job: None,
            },
        }
    }

    #[test]
    fn show_lists_image_ids_and_the_code() {
        let view = show(&board(
            vec![
                image(17, Origin::Upload, ""),
                image(21, Origin::Generated, &"a fox ".repeat(40)),
            ],
            Some("q7w8e9r"),
        ));
        assert!(view.ephemeral);
        let lines: Vec<&str> = view.content.lines().collect();
        assert_eq!(lines[0], "**Dusk** · moodboard for V7 · ID `m000000001`");
        assert_eq!(
            lines[1],
            "Code: `q7w8e9r` (anyone can use it: `--p q7w8e9r`)"
        );
        assert_eq!(lines[2], "**2 images**");
        assert_eq!(
            lines[3],
            "`17` · an uploaded file or link · <t:1790000000:d>"
        );
        assert!(
            lines[4].starts_with("`21` · your generation *a fox"),
            "{}",
            lines[4]
        );
        assert!(lines[4].chars().count() < 120, "{}", lines[4]);
    }

    #[test]
    fn an_empty_moodboard_says_how_to_fill_it() {
        let view = show(&board(vec![], None));
        assert!(view.content.contains("No code yet"));
        assert!(view.content.contains("**0 images**"));
        assert!(view.content.contains("/moodboard add"));
    }

    #[test]
    fn a_full_moodboard_fits_in_one_message() {
        let images = (1..=50)
            .map(|k| image(k, Origin::Generated, &"long prompt ".repeat(20)))
            .collect();
        let view = show(&board(images, Some("q7w8e9r")));
        assert!(view.content.chars().count() <= MAX_CONTENT);
        assert!(view.content.contains("`1` · your generation"));
        let more = view
            .content
            .lines()
            .find(|l| l.starts_with("… and "))
            .expect("a line for the images left out");
        let listed = view.content.matches(" · your generation ").count();
        assert_eq!(more, format!("… and {} more", 50 - listed));
        assert!(view.content.ends_with("`/moodboard remove image:<id>`."));
    }

    #[test]
    fn the_list_shows_counts_and_codes() {
        let boards = [
            board(vec![image(1, Origin::Upload, "")], Some("abc1234")),
            board(vec![], None),
        ];
        let view = list(&boards);
        let lines: Vec<&str> = view.content.lines().collect();
        assert_eq!(
            lines[1],
            "V7 **Dusk** · `m000000001` · 1 image · code `abc1234`"
        );
        assert!(lines[2].ends_with("0 images · no code yet"), "{}", lines[2]);
        assert!(list(&[]).content.starts_with("You have no moodboards yet"));
    }
}
