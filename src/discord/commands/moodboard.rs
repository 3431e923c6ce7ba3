//! `/moodboard create|add|remove|list|show`: profiles made of chosen images.
//!
//! `add` takes up to four attached files, a link and the id of one of the user's generations.
//! It is acknowledged at once (privately) because downloading and fetching can outlast
//! Discord's three seconds, and answered by editing that response. Attached files are
//! downloaded here from the address Discord gives ([`crate::discord::attachments`]); links are
//! handed to the service, which fetches them from public addresses only.

use poise::serenity_prelude as serenity;

use super::{Context, autocomplete_moodboard, autocomplete_version, user};
use crate::discord::attachments::Incoming;
use crate::discord::views::{self, View};
use crate::discord::{BotError, Data};
use crate::domain::{ProfileId, ProfileKind, UserId};
use crate::service::{CreateProfile, Moodboard, MoodboardImage};

/// Your moodboards: profiles made from images you choose.
#[poise::command(
    slash_command,
    subcommands("create", "add", "remove", "list", "show"),
    subcommand_required
)]
pub async fn moodboard(_ctx: Context<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Create a moodboard (needs an unlocked global profile).
#[poise::command(slash_command)]
async fn create(
    ctx: Context<'_>,
    #[description = "Name of the new moodboard"]
    #[max_length = 32]
    name: String,
    #[description = "Version (default: yours)"]
    #[autocomplete = "autocomplete_version"]
    #[max_length = 20]
    version: Option<String>,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let request = CreateProfile {
            kind: ProfileKind::Moodboard,
            version,
            name,
        };
        Ok(views::moodboard::created(
            &service.create_profile(owner, request).await?,
        ))
    })
    .await
}

/// Add images to a moodboard: attach files, paste a link, or give one of your generations.
#[poise::command(slash_command)]
#[allow(clippy::too_many_arguments)]
async fn add(
    ctx: Context<'_>,
    #[description = "The moodboard"]
    #[autocomplete = "autocomplete_moodboard"]
    #[max_length = 100]
    moodboard: String,
    #[description = "An image (PNG, JPEG, WebP or GIF)"] image1: Option<serenity::Attachment>,
    #[description = "Another image"] image2: Option<serenity::Attachment>,
    #[description = "Another image"] image3: Option<serenity::Attachment>,
    #[description = "Another image"] image4: Option<serenity::Attachment>,
    #[description = "A link to an image on the web"]
    #[max_length = 2000]
    link: Option<String>,
    #[description = "The id of one of your generated images (shown when you upscale it)"]
    #[min = 1]
    generation: Option<i64>,
) -> Result<(), BotError> {
    let files: Vec<Incoming> = [image1, image2, image3, image4]
        .into_iter()
        .flatten()
        .map(|a| Incoming {
            name: a.filename,
            url: a.url,
            size: u64::from(a.size),
        })
        .collect();
    let link = link.map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
    let owner = user(ctx.author().id);
    let data = ctx.data();
    super::answer_privately(ctx, async move {
        if files.is_empty() && link.is_none() && generation.is_none() {
            return Ok(View::private(
                "Give at least one image: attach files (image1 to image4), paste a link, or \
                 give the id of one of your generations.",
            ));
        }
        let id = ProfileId(moodboard);
        let (board, added) = add_images(data, owner, &id, files, link, generation).await?;
        Ok(views::moodboard::added(&board, added))
    })
    .await
}

/// Downloads `files` and asks the service to add them, `link` and `generation` to moodboard
/// `id`; returns the moodboard and how many images were added.
async fn add_images(
    data: &Data,
    owner: UserId,
    id: &ProfileId,
    files: Vec<Incoming>,
    link: Option<String>,
    generation: Option<i64>,
) -> Result<(Moodboard, usize), BotError> {
    // Whether the moodboard is theirs, has room and they may add now is settled before
    // anything is downloaded.
    let count = files.len() + usize::from(link.is_some()) + usize::from(generation.is_some());
    let add = data.service.moodboard_add_begin(owner, id, count).await?;
    let mut sources = Vec::new();
    for file in &files {
        sources.push(MoodboardImage::Upload(
            data.attachments.download(file).await?,
        ));
    }
    sources.extend(link.map(MoodboardImage::Link));
    sources.extend(generation.map(MoodboardImage::Generation));
    let added = sources.len();
    let board = data.service.moodboard_add_finish(add, sources).await?;
    Ok((board, added))
}

/// Take an image off a moodboard.
#[poise::command(slash_command)]
async fn remove(
    ctx: Context<'_>,
    #[description = "The moodboard"]
    #[autocomplete = "autocomplete_moodboard"]
    #[max_length = 100]
    moodboard: String,
    #[description = "The image's id (see /moodboard show)"]
    #[min = 1]
    image: i64,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let board = service
            .moodboard_remove(owner, &ProfileId(moodboard), image)
            .await?;
        Ok(views::moodboard::removed(&board, image))
    })
    .await
}

/// List your moodboards with their image counts and codes.
#[poise::command(slash_command)]
async fn list(ctx: Context<'_>) -> Result<(), BotError> {
    let service = &ctx.data().service;
    let owner = user(ctx.author().id);
    super::answer_privately(ctx, async move {
        let mut boards = Vec::new();
        for p in service.list_profiles(owner).await? {
            if p.profile.kind == ProfileKind::Moodboard {
                boards.push(service.moodboard(owner, &p.profile.id).await?);
            }
        }
        Ok(views::moodboard::list(&boards))
    })
    .await
}

/// Show a moodboard: its images with their ids, and its code.
#[poise::command(slash_command)]
async fn show(
    ctx: Context<'_>,
    #[description = "The moodboard"]
    #[autocomplete = "autocomplete_moodboard"]
    #[max_length = 100]
    moodboard: String,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let board = service.moodboard(owner, &ProfileId(moodboard)).await?;
        Ok(views::moodboard::show(&board))
    })
    .await
}
