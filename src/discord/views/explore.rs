//! `/explore`: recent images by other people, each with a ❤️ that teaches the viewer's taste.

use super::{Attachment, Row, Style, View, button, clip, mention};
use crate::discord::ids::Action;
use crate::service::ImageFile;

/// Images one `/explore` shows: one row of ❤️ buttons holds five.
pub const EXPLORE_IMAGES: u32 = 5;

/// The images, numbered like their files and ❤️ buttons, newest first.
pub fn explore(images: &[ImageFile]) -> View {
    if images.is_empty() {
        return View::private(
            "Nothing to explore yet: nobody else has generated images here. Try /imagine!",
        );
    }
    let mut lines = vec!["**Recent images by others** — ❤️ the ones you like: each like teaches your global profile.".to_string()];
    let mut likes = Vec::new();
    let mut files = Vec::new();
    for (k, file) in images.iter().take(EXPLORE_IMAGES as usize).enumerate() {
        let image = &file.image;
        let by = image
            .image
            .owner
            .map(|u| format!(" — {}", mention(u)))
            .unwrap_or_default();
        lines.push(format!(
            "{}. *{}*{by}",
            k + 1,
            clip(&image.image.prompt, 200)
        ));
        if let Some(owner) = image.image.owner {
            likes.push(button(
                owner,
                Action::Like { image: image.id },
                &format!("❤️{}", k + 1),
                Style::Secondary,
            ));
        }
        files.push(Attachment {
            name: format!("explore-{}.png", k + 1),
            bytes: file.png.clone(),
        });
    }
    View {
        content: lines.join("\n"),
        ephemeral: true,
        rows: if likes.is_empty() {
            Vec::new()
        } else {
            vec![Row::Buttons(likes)]
        },
        files,
    }
}
