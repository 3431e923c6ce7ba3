//! `/explore`: recent images by other people, privately, with a ❤️ under each.

use super::{Context, place, user};
use crate::discord::BotError;
use crate::discord::views::{self, explore::EXPLORE_IMAGES};

/// Recent images by others; ❤️ the ones you like to teach your global profile.
#[poise::command(slash_command)]
pub async fn explore(ctx: Context<'_>) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    let here = place(ctx.guild_id());
    let service = &ctx.data().service;
    super::answer_privately(ctx, async move {
        let images = service.explore(owner, here, EXPLORE_IMAGES).await?;
        Ok(views::explore(&images))
    })
    .await
}
