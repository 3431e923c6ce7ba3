//! `/settings`: the ephemeral settings panel; its clicks are handled in `components.rs`.

use super::{Context, user};
use crate::discord::{BotError, views};

/// Your settings: personalization on/off, default version and profiles, stylize preset.
#[poise::command(slash_command)]
pub async fn settings(ctx: Context<'_>) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    super::answer_privately(ctx, settings_view(&ctx.data().service, owner)).await
}

/// The panel as it stands for `owner`.
pub async fn settings_view(
    service: &crate::service::Service,
    owner: crate::domain::UserId,
) -> Result<views::View, BotError> {
    let settings = service.settings(owner).await?;
    let profiles = service.list_profiles(owner).await?;
    Ok(views::settings(owner, &settings, &profiles))
}
