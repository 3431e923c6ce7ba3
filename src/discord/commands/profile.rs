//! `/profile create|rename|delete|list|show|default`.

use super::{Context, autocomplete_profile, autocomplete_version, user};
use crate::discord::views::Attachment;
use crate::discord::{BotError, views};
use crate::domain::{ProfileId, ProfileKind};
use crate::service::{CreateProfile, ProfileTaste};

/// The kinds of profile a user may create.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum NewKind {
    #[name = "ranked"]
    Ranked,
    #[name = "moodboard"]
    Moodboard,
}

/// Your personalization profiles.
#[poise::command(
    slash_command,
    subcommands("create", "rename", "delete", "list", "show", "default"),
    subcommand_required
)]
pub async fn profile(_ctx: Context<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Create a ranked or moodboard profile (needs an unlocked global profile).
#[poise::command(slash_command)]
async fn create(
    ctx: Context<'_>,
    #[description = "Name of the new profile"]
    #[max_length = 32]
    name: String,
    #[description = "ranked (taught by /rank) or moodboard (made from images)"] kind: NewKind,
    #[description = "Version (default: yours)"]
    #[autocomplete = "autocomplete_version"]
    #[max_length = 20]
    version: Option<String>,
) -> Result<(), BotError> {
    let kind = match kind {
        NewKind::Ranked => ProfileKind::Ranked,
        NewKind::Moodboard => ProfileKind::Moodboard,
    };
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let request = CreateProfile {
            kind,
            version,
            name,
        };
        let made = service.create_profile(owner, request).await?;
        let mut view = views::profile(&made);
        view.content = format!("Created.\n{}", view.content);
        Ok(view)
    })
    .await
}

/// Rename one of your ranked or moodboard profiles.
#[poise::command(slash_command)]
async fn rename(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    #[max_length = 100]
    profile: String,
    #[description = "Its new name"]
    #[max_length = 32]
    name: String,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let renamed = service
            .rename_profile(owner, &ProfileId(profile), &name)
            .await?;
        Ok(views::profile(&renamed))
    })
    .await
}

/// Delete a ranked or moodboard profile; its codes keep working.
#[poise::command(slash_command)]
async fn delete(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    #[max_length = 100]
    profile: String,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let deleted = service.delete_profile(owner, &ProfileId(profile)).await?;
        Ok(views::View::private(format!(
            "Deleted **{}**. Codes it produced keep working.",
            views::escape(&deleted.name)
        )))
    })
    .await
}

/// List your profiles with their points.
#[poise::command(slash_command)]
async fn list(ctx: Context<'_>) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        Ok(views::profile_list(&service.list_profiles(owner).await?))
    })
    .await
}

/// Show one of your profiles and what it likes.
#[poise::command(slash_command)]
async fn show(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    #[max_length = 100]
    profile: String,
) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let taste = service.profile_taste(owner, &ProfileId(profile)).await?;
        let mut view = views::profile_taste(&taste);
        view.files.extend(taste_chart(&taste));
        Ok(view)
    })
    .await
}

/// The chart of what a profile likes, as a PNG for `/profile show`; none while nothing stands
/// out.
fn taste_chart(taste: &ProfileTaste) -> Option<Attachment> {
    taste.chart_png.as_ref().map(|png| Attachment {
        name: "taste.png".into(),
        bytes: png.clone(),
    })
}

/// Make a profile the one bare `--p` uses for its version.
#[poise::command(slash_command)]
async fn default(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    #[max_length = 100]
    profile: String,
) -> Result<(), BotError> {
    let service = &ctx.data().service;
    let owner = user(ctx.author().id);
    super::answer_privately(ctx, async move {
        let chosen = service.profile(owner, &ProfileId(profile)).await?;
        service
            .set_default_profiles(
                owner,
                &chosen.profile.version,
                std::slice::from_ref(&chosen.profile.id),
            )
            .await?;
        Ok(views::profile(
            &service.profile(owner, &chosen.profile.id).await?,
        ))
    })
    .await
}
