//! `/imagine`: progress while it renders, the grid with its buttons, one image alone, likes.

use super::{
    Attachment, Row, Style, View, button, clip, escape_clipped, mention, points_line, rank::whose,
};
use crate::discord::ids::Action;
use crate::domain::UserId;
use crate::render::backend::Progress;
use crate::service::{Generation, ImageFile, LikeResult};
use crate::store::Origin;

/// Characters of a prompt shown in a message (Discord allows 2000 in all).
const PROMPT_CHARS: usize = 1500;

/// File name of a generation's grid, with the extension of its format.
pub fn grid_file(generation: &Generation) -> String {
    format!(
        "tastebud-{}.{}",
        generation.job,
        generation.grid.encoding.extension()
    )
}

/// The message while a generation renders: what is being made, for whom, how far along, or
/// its place in the queue while it waits for an image server.
pub fn rendering(author: UserId, what: &str, progress: &Progress) -> View {
    let note = match progress.note.as_str() {
        "" | "done" => String::new(),
        note => format!(" ({})", clip(note, 100)),
    };
    let state = match progress.queued {
        Some(1) => "waiting: next in the queue".to_string(),
        Some(place) => format!("waiting: place {place} in the queue ({} ahead)", place - 1),
        None => {
            let percent = (progress.fraction.clamp(0.0, 1.0) * 100.0).round() as u32;
            format!("rendering… {percent}%")
        }
    };
    View::public(format!(
        "**{}** — {} · {state}{note}",
        escape_clipped(what, PROMPT_CHARS),
        mention(author)
    ))
}

/// A finished generation: the grid, the prompt as run (codes in place of profile IDs), what
/// the backend could not honour, and the buttons U1–U4, 🔄, ❤️1–❤️4. `index` of `total` when
/// a prompt made several.
pub fn generation(author: UserId, generation: &Generation, index: usize, total: usize) -> View {
    let mut content = format!(
        "**{}** — {}",
        escape_clipped(&generation.prompt_run, PROMPT_CHARS),
        mention(author)
    );
    if total > 1 {
        content.push_str(&format!(" ({} of {total})", index + 1));
    }
    for note in &generation.notes {
        content.push_str(&format!("\n-# {}", clip(note, 200)));
    }
    let images = generation.images.iter().take(4).enumerate();
    let mut upscale: Vec<_> = images
        .clone()
        .map(|(k, &image)| {
            button(
                author,
                Action::Upscale { image },
                &format!("U{}", k + 1),
                Style::Secondary,
            )
        })
        .collect();
    upscale.push(button(
        author,
        Action::Reroll {
            job: generation.job,
        },
        "🔄",
        Style::Secondary,
    ));
    let likes = images
        .map(|(k, &image)| {
            button(
                author,
                Action::Like { image },
                &format!("❤️{}", k + 1),
                Style::Secondary,
            )
        })
        .collect();
    View {
        content: clip(&content, super::MAX_CONTENT),
        ephemeral: false,
        rows: vec![Row::Buttons(upscale), Row::Buttons(likes)],
        files: vec![Attachment {
            name: grid_file(generation),
            bytes: generation.grid.bytes.clone(),
        }],
        ping: Some(author),
    }
}

/// One image posted alone (U1–U4): image `position` (0-based) of its generation when known,
/// with a ❤️ for everyone but its author.
pub fn upscaled(file: &ImageFile, position: Option<usize>) -> View {
    let image = &file.image;
    let label = match position {
        Some(k) => format!("Image #{}", k + 1),
        None => "An image".to_string(),
    };
    let by = image
        .image
        .owner
        .map(|u| format!(" by {}", mention(u)))
        .unwrap_or_default();
    let stem = match (image.image.job, position) {
        (Some(job), Some(k)) => format!("tastebud-{job}-{}", k + 1),
        _ => format!("tastebud-image-{}", image.id),
    };
    let name = format!("{stem}.{}", file.file.encoding.extension());
    let mut content = format!(
        "**{}** — {label}{by}",
        escape_clipped(&image.image.prompt, PROMPT_CHARS)
    );
    if image.image.origin == Origin::Generated {
        // What its author gives `/moodboard add generation:` to put it on a moodboard.
        content.push_str(&format!("\n-# Image id `{}`", image.id));
    }
    let mut view = View::public(content);
    if let Some(owner) = image.image.owner {
        view.rows.push(Row::Buttons(vec![button(
            owner,
            Action::Like { image: image.id },
            "❤️",
            Style::Secondary,
        )]));
    }
    view.files.push(Attachment {
        name,
        bytes: file.file.bytes.clone(),
    });
    view
}

/// What a like did: a point for the liker's global profile of that version, and a code if it
/// reached a checkpoint.
pub fn liked(result: &LikeResult) -> View {
    let mut content = match &result.global {
        Some(global) => format!(
            "❤️ Liked: a point for {} ({}).",
            whose(global),
            points_line(global)
        ),
        None => "❤️ Liked.".to_string(),
    };
    if let Some(code) = &result.code {
        content.push_str(&format!(
            "\n✨ That reached a checkpoint: your new code is `{}`.",
            code.code
        ));
    }
    View::private(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::ids::ComponentId;
    use crate::render::images::files::{Encoded, Encoding};

    fn generation_of(job: i64) -> Generation {
        Generation {
            job,
            images: vec![11, 12, 13, 14],
            grid: Encoded {
                bytes: vec![0; 10],
                encoding: Encoding::Png,
            },
            prompt_run: "a fox --v 7 --p q7w8e9r".into(),
            version: "7".into(),
            seed: 5,
            notes: vec!["The sketch renderer ignores --chaos.".into()],
        }
    }

    #[test]
    fn a_generation_shows_its_prompt_grid_and_buttons_that_carry_job_and_image_ids() {
        let view = generation(UserId(9), &generation_of(3), 1, 2);
        assert!(!view.ephemeral);
        assert!(
            view.content
                .starts_with("**a fox --v 7 --p q7w8e9r** — <@9> (2 of 2)"),
            "{}",
            view.content
        );
        assert!(
            view.content
                .contains("\n-# The sketch renderer ignores --chaos.")
        );
        assert_eq!(view.files[0].name, "tastebud-3.png");
        let mut large = generation_of(4);
        large.grid.encoding = Encoding::Jpeg;
        let view_of_large = generation(UserId(9), &large, 1, 2);
        assert_eq!(view_of_large.files[0].name, "tastebud-4.jpg");
        assert_eq!(
            view.ping,
            Some(UserId(9)),
            "the author hears when it is done"
        );
        let actions: Vec<(String, Action)> = view
            .rows
            .iter()
            .flat_map(|r| match r {
                Row::Buttons(b) => b.clone(),
                Row::Select(_) => vec![],
            })
            .map(|b| (b.label, ComponentId::decode(&b.id).expect("ours").action))
            .collect();
        assert_eq!(actions.len(), 9);
        assert_eq!(actions[1], ("U2".into(), Action::Upscale { image: 12 }));
        assert_eq!(actions[4], ("🔄".into(), Action::Reroll { job: 3 }));
        assert_eq!(actions[8], ("❤️4".into(), Action::Like { image: 14 }));
    }

    #[test]
    fn long_prompts_are_cut_to_fit_a_message() {
        let mut g = generation_of(1);
        g.prompt_run = "x".repeat(5000);
        let view = generation(UserId(9), &g, 0, 1);
        assert!(view.content.chars().count() <= super::super::MAX_CONTENT);
        let half = Progress {
            queued: None,
            fraction: 0.5,
            note: String::new(),
        };
        let progress = rendering(UserId(9), &"y".repeat(5000), &half);
        assert!(progress.content.chars().count() <= super::super::MAX_CONTENT);
        assert!(progress.content.ends_with("rendering… 50%"));
    }

    #[test]
    fn progress_shows_the_job_and_the_backends_note_but_not_done() {
        let at = |fraction, note: &str| {
            rendering(
                UserId(9),
                "a fox",
                &Progress {
                    queued: None,
                    fraction,
                    note: note.into(),
                },
            )
            .content
        };
        assert!(
            at(0.25, "job 1 of 2 · step 5 of 10")
                .ends_with("rendering… 25% (job 1 of 2 · step 5 of 10)")
        );
        assert!(at(1.0, "done").ends_with("rendering… 100%"));
        let waiting = |place| {
            rendering(
                UserId(9),
                "a fox",
                &Progress {
                    queued: Some(place),
                    fraction: 0.0,
                    note: String::new(),
                },
            )
            .content
        };
        assert!(waiting(1).ends_with("waiting: next in the queue"));
        assert!(waiting(4).ends_with("waiting: place 4 in the queue (3 ahead)"));
    }
}
