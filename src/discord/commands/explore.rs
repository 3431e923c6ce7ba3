//! `/explore`: recent images by other people, privately, with a ❤️ under each.

use super::{Context, place, user};
use crate::discord::views::{self, explore::EXPLORE_IMAGES};
use crate::discord::{BotError, reply};

/// Recent images by others; ❤️ the ones you like to teach your global profile.
#[poise::command(slash_command)]
pub async fn explore(ctx: Context<'_>) -> Result<(), BotError> {
    let images = ctx
        .data()
        .service
        .explore(user(ctx.author().id), place(ctx.guild_id()), EXPLORE_IMAGES)
        .await?;
    ctx.send(reply::to_reply(&views::explore(&images))).await?;
    Ok(())
}
