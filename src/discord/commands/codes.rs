//! `/list_personalize_codes`: the caller's codes, newest first, paged.

use super::{Context, user};
use crate::discord::{BotError, views};
use crate::domain::{Code, UserId};
use crate::service::Service;

/// Your personalization codes, newest first.
#[poise::command(slash_command)]
pub async fn list_personalize_codes(ctx: Context<'_>) -> Result<(), BotError> {
    let owner = user(ctx.author().id);
    super::answer_privately(ctx, codes_view(&ctx.data().service, owner, 0)).await
}

/// Page `page` of `owner`'s codes, with each code's profile named.
pub async fn codes_view(
    service: &Service,
    owner: UserId,
    page: usize,
) -> Result<views::View, BotError> {
    let codes = service.list_codes(owner).await?;
    let profiles = service.list_profiles(owner).await?;
    let name = |c: &Code| {
        profiles
            .iter()
            .find(|p| p.profile.id == c.profile)
            .map(|p| p.profile.name.clone())
            .unwrap_or_else(|| "(deleted profile)".to_string())
    };
    Ok(views::codes(owner, &codes, &name, page))
}
