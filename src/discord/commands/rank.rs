//! `/rank [profile]`: pairs of images to answer, one after another in the same message.
//!
//! The command answers privately with a pair; each click on `1`, `2` or `Skip` is acknowledged
//! at once, voted through the service, and the same message is redrawn with the next pair of
//! the same profile (and, when the vote unlocked the profile or froze a code, says so).

use std::time::Instant;

use poise::serenity_prelude as serenity;

use super::{Context, autocomplete_profile, user};
use crate::discord::deferred::Deferred;
use crate::discord::error::user_message;
use crate::discord::views::{self, View};
use crate::discord::{BotError, Data};
use crate::domain::{Choice, ProfileId, UserId};
use crate::service;

/// Rank pairs of images to teach tastebud your taste.
#[poise::command(slash_command)]
pub async fn rank(
    ctx: Context<'_>,
    #[description = "The profile to teach (default: your global profile)"]
    #[autocomplete = "autocomplete_profile"]
    profile: Option<String>,
) -> Result<(), BotError> {
    // Drawing the first pool images can take a moment: answer "thinking…" first.
    let reply = super::defer(ctx, true).await?;
    let service = &ctx.data().service;
    let owner = user(ctx.author().id);
    let view = match service
        .next_pair(owner, profile.map(ProfileId).as_ref())
        .await
    {
        Ok(next) => views::pair(&next, None),
        Err(e) => View::private(user_message(&e.into())),
    };
    reply.edit_original(&view).await?;
    Ok(())
}

/// A click on `1`, `2` or `Skip` by the pair's owner: vote, then show the next pair in the
/// same message. A stale pair (answered already, or its profile deleted) stores nothing and
/// gets a note and a fresh pair.
pub async fn answer(
    ctx: &serenity::Context,
    data: &Data,
    click: &serenity::ComponentInteraction,
    received: Instant,
    (owner, profile, pair, choice): (UserId, &ProfileId, i64, Choice),
) -> Result<(), serenity::Error> {
    click
        .create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge)
        .await?;
    let reply = Deferred::new(ctx.http.clone(), &click.token, click.channel_id, received);
    let service = &data.service;
    let (note, next_for) = match service.vote(owner, pair, choice).await {
        Ok(result) => (views::vote_note(&result), Some(result.profile.profile.id)),
        Err(e @ service::Error::AlreadyAnswered) => (
            Some(format!("{e} Here is a new one.")),
            Some(profile.clone()),
        ),
        Err(
            e @ (service::Error::PairNotFound
            | service::Error::ProfileDeleted(_)
            | service::Error::ProfileNotFound(_)),
        ) => (
            Some(format!("{e} Here is a pair for your global profile.")),
            None,
        ),
        Err(e) => {
            return reply
                .follow_up(&View::private(user_message(&e.into())))
                .await;
        }
    };
    let view = match service.next_pair(owner, next_for.as_ref()).await {
        Ok(next) => views::pair(&next, note.as_deref()),
        Err(e) => {
            let mut text = note.map(|n| n + "\n\n").unwrap_or_default();
            text.push_str(&user_message(&e.into()));
            View::private(text)
        }
    };
    reply.edit_original(&view).await
}
