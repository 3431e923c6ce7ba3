//! `/settings`: the ephemeral settings panel; its clicks are handled in `components.rs`.

use super::{Context, user};
use crate::discord::{BotError, reply, views};

/// Your settings: personalization on/off, default version and profiles, stylize preset.
#[poise::command(slash_command)]
pub async fn settings(ctx: Context<'_>) -> Result<(), BotError> {
    let view = settings_view(&ctx.data().service, user(ctx.author().id)).await?;
    ctx.send(reply::to_reply(&view)).await?;
    Ok(())
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
