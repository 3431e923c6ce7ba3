//! `/rank [profile]`: pairs of images to answer, one after another in the same message.
//!
//! The command answers privately with a pair; each click on `1`, `2` or `Skip` is voted through
//! the service and the same message is redrawn with the next pair of the same profile (and,
//! when the vote unlocked the profile or froze a code, says so), in the click's own callback
//! when the pair is ready in time, so that redraws do not queue behind other edits.

use super::{Context, autocomplete_profile, user};
use crate::discord::error::user_message;
use crate::discord::interaction::Reply;
use crate::discord::rest::RestError;
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
    #[max_length = 100]
    profile: Option<String>,
) -> Result<(), BotError> {
    // Drawing the first pool images can take a while: "thinking…" first.
    let service = &ctx.data().service;
    let owner = user(ctx.author().id);
    super::answer_privately(ctx, async move {
        let next = service
            .next_pair(owner, profile.map(ProfileId).as_ref())
            .await?;
        Ok(views::pair(&next, None))
    })
    .await
}

/// A click on `1`, `2` or `Skip` by the pair's owner: vote, then redraw the same message with
/// the next pair, in the click's own answer when it is ready in time. A stale pair (answered
/// already, or its profile deleted) stores nothing and gets a note and a fresh pair.
pub async fn answer(
    data: &Data,
    reply: &Reply,
    (owner, profile, pair, choice): (UserId, &ProfileId, i64, Choice),
) -> Result<(), RestError> {
    let service = &data.service;
    reply
        .update_in_time(async move {
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
                Err(e) => return Err(View::private(user_message(&e.into()))),
            };
            Ok(match service.next_pair(owner, next_for.as_ref()).await {
                Ok(next) => views::pair(&next, note.as_deref()),
                Err(e) => {
                    let mut text = note.map(|n| n + "\n\n").unwrap_or_default();
                    text.push_str(&user_message(&e.into()));
                    View::private(text)
                }
            })
        })
        .await
}
