//! `/explore`: recent images by other people, each with a ❤️ that teaches the viewer's taste.

use super::{Attachment, Row, Style, View, button, escape_clipped, mention};
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
            escape_clipped(&image.image.prompt, 200)
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
            name: format!("explore-{}.{}", k + 1, file.file.encoding.extension()),
            bytes: file.file.bytes.clone(),
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
        ping: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::ids::ComponentId;
    use crate::domain::UserId;
    use crate::render::images::files::{Encoded, Encoding};
    use crate::store::{Image, NewImage, Origin};

    fn file(id: i64, owner: u64) -> ImageFile {
        ImageFile {
            image: Image {
                id,
                created_at: 0,
                image: NewImage {
                    hash: format!("{id:064x}"),
                    prompt: format!("prompt {id}"),
                    version: "7".into(),
                    backend: "sketch".into(),
                    model: String::new(),
                    seed: 1,
                    knobs: vec![],
                    style: None,
                    origin: Origin::Generated,
                    owner: Some(UserId(owner)),
                    job: Some(1),
                },
            },
            file: Encoded {
                bytes: vec![id as u8],
                // A large picture goes out as a JPEG; its name says so.
                encoding: if id == 2 {
                    Encoding::Jpeg
                } else {
                    Encoding::Png
                },
            },
        }
    }

    #[test]
    fn each_image_is_numbered_with_its_file_and_a_like_for_its_author() {
        let images: Vec<ImageFile> = (1..=7).map(|k| file(k, 40 + k as u64)).collect();
        let view = explore(&images);
        assert!(view.ephemeral);
        assert_eq!(view.files.len(), EXPLORE_IMAGES as usize);
        assert_eq!(view.files[4].name, "explore-5.png");
        assert_eq!(view.files[1].name, "explore-2.jpg");
        assert!(
            view.content.contains("\n2. *prompt 2* — <@42>"),
            "{}",
            view.content
        );
        let Row::Buttons(likes) = &view.rows[0] else {
            panic!("buttons")
        };
        let second = ComponentId::decode(&likes[1].id).expect("ours");
        assert_eq!(second.owner, UserId(42));
        assert_eq!(second.action, Action::Like { image: 2 });
        assert_eq!(likes[1].label, "❤️2");
    }

    #[test]
    fn nothing_to_explore_says_so() {
        let view = explore(&[]);
        assert!(view.content.starts_with("Nothing to explore yet"));
        assert!(view.rows.is_empty() && view.files.is_empty());
    }
}
