//! `/profile create|rename|delete|list|show|default`.

use super::{Context, autocomplete_profile, autocomplete_version, user};
use crate::discord::views::Attachment;
use crate::discord::{BotError, reply, views};
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

async fn send(ctx: Context<'_>, view: views::View) -> Result<(), BotError> {
    ctx.send(reply::to_reply(&view)).await?;
    Ok(())
}

/// Create a ranked or moodboard profile (needs an unlocked global profile).
#[poise::command(slash_command)]
async fn create(
    ctx: Context<'_>,
    #[description = "Name of the new profile"] name: String,
    #[description = "ranked (taught by /rank) or moodboard (made from images)"] kind: NewKind,
    #[description = "Version (default: yours)"]
    #[autocomplete = "autocomplete_version"]
    version: Option<String>,
) -> Result<(), BotError> {
    let kind = match kind {
        NewKind::Ranked => ProfileKind::Ranked,
        NewKind::Moodboard => ProfileKind::Moodboard,
    };
    let made = ctx
        .data()
        .service
        .create_profile(
            user(ctx.author().id),
            CreateProfile {
                kind,
                version,
                name,
            },
        )
        .await?;
    let mut view = views::profile(&made);
    view.content = format!("Created.\n{}", view.content);
    send(ctx, view).await
}

/// Rename one of your ranked or moodboard profiles.
#[poise::command(slash_command)]
async fn rename(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    profile: String,
    #[description = "Its new name"] name: String,
) -> Result<(), BotError> {
    let renamed = ctx
        .data()
        .service
        .rename_profile(user(ctx.author().id), &ProfileId(profile), &name)
        .await?;
    send(ctx, views::profile(&renamed)).await
}

/// Delete a ranked or moodboard profile; its codes keep working.
#[poise::command(slash_command)]
async fn delete(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    profile: String,
) -> Result<(), BotError> {
    let deleted = ctx
        .data()
        .service
        .delete_profile(user(ctx.author().id), &ProfileId(profile))
        .await?;
    send(
        ctx,
        views::View::private(format!(
            "Deleted **{}**. Codes it produced keep working.",
            deleted.name
        )),
    )
    .await
}

/// List your profiles with their points.
#[poise::command(slash_command)]
async fn list(ctx: Context<'_>) -> Result<(), BotError> {
    let profiles = ctx
        .data()
        .service
        .list_profiles(user(ctx.author().id))
        .await?;
    send(ctx, views::profile_list(&profiles)).await
}

/// Show one of your profiles and what it likes.
#[poise::command(slash_command)]
async fn show(
    ctx: Context<'_>,
    #[description = "The profile"]
    #[autocomplete = "autocomplete_profile"]
    profile: String,
) -> Result<(), BotError> {
    let taste = ctx
        .data()
        .service
        .profile_taste(user(ctx.author().id), &ProfileId(profile))
        .await?;
    let mut view = views::profile_taste(&taste);
    view.files.extend(taste_chart(&taste));
    send(ctx, view).await
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
    profile: String,
) -> Result<(), BotError> {
    let service = &ctx.data().service;
    let owner = user(ctx.author().id);
    let chosen = service.profile(owner, &ProfileId(profile)).await?;
    service
        .set_default_profiles(
            owner,
            &chosen.profile.version,
            std::slice::from_ref(&chosen.profile.id),
        )
        .await?;
    let chosen = service.profile(owner, &chosen.profile.id).await?;
    send(ctx, views::profile(&chosen)).await
}
