//! `/imagine prompt:` and the buttons under its grids: U1–U4, 🔄 and ❤️1–❤️4.
//!
//! A generation is acknowledged at once with a public "thinking…", shows its progress by
//! editing that response (throttled), and ends with one new message per generation the prompt
//! expanded to, mentioning the author (an edit would not notify them), after which the
//! progress message is removed. Errors reach only the user who asked, in the service's words.

use super::{Context, user};
use crate::discord::error::user_message;
use crate::discord::interaction::{Delivered, Reply};
use crate::discord::rest::RestError;
use crate::discord::views::{self, View};
use crate::discord::{BotError, Data};
use crate::domain::UserId;
use crate::service::{self, Generation, Imagine};

/// Generate four images; add --p to personalize them with your taste.
#[poise::command(slash_command)]
pub async fn imagine(
    ctx: Context<'_>,
    #[description = "What to draw, with parameters such as --ar 16:9 --p --s 250"]
    #[max_length = 6000]
    prompt: String,
) -> Result<(), BotError> {
    let reply = super::reply(ctx)?;
    if let Err(e) = reply.defer(false).await {
        tracing::warn!(error = %e, "could not acknowledge /imagine");
        return Ok(());
    }
    let author = user(ctx.author().id);
    let service = ctx.data().service.clone();
    let shown = prompt.clone();
    // The token is kept with the job while it runs, so that a restart can say it stopped.
    let request = Imagine {
        prompt,
        place: reply.origin().place(),
        reply: Some(reply.stored()),
    };
    let result = reply
        .with_progress(
            move |p| views::rendering(author, &shown, p),
            |progress| async move { service.imagine(author, request, progress).await },
        )
        .await;
    deliver(&reply, author, result).await;
    Ok(())
}

/// Delivers finished generations as new messages that mention their author (one each), and
/// removes the "rendering…" message; or tells the author privately what went wrong.
async fn deliver(reply: &Reply, author: UserId, result: service::Result<Vec<Generation>>) {
    match result {
        Ok(generations) => {
            let total = generations.len();
            let mut by_token = true;
            for (k, generation) in generations.iter().enumerate() {
                let view = views::generation(author, generation, k, total);
                let went = reply.deliver(&view).await;
                tracing::debug!(job = generation.job, ?went, "generation delivered");
                by_token &= went == Delivered::FollowUp;
            }
            if by_token && let Err(e) = reply.delete_original().await {
                tracing::info!(error = %e, "could not remove the progress message");
            }
        }
        Err(e) => reply.fail_privately(&user_message(&e.into())).await,
    }
}

/// 🔄 by the author: the same prompt with a new seed, as a new message.
pub async fn reroll(
    data: &Data,
    reply: &Reply,
    (author, job): (UserId, i64),
) -> Result<(), RestError> {
    reply.defer(false).await?;
    let service = data.service.clone();
    let place = reply.origin().place();
    let stored = reply.stored();
    let result = reply
        .with_progress(
            move |p| views::rendering(author, "Rerolling", p),
            |progress| async move {
                service
                    .reroll(author, job, place, Some(stored), progress)
                    .await
                    .map(|g| vec![g])
            },
        )
        .await;
    deliver(reply, author, result).await;
    Ok(())
}

/// U1–U4: the image alone, as a new public message (or the reason it can't be shown,
/// privately). Acknowledged first: reading and uploading a picture of up to 8 MiB can outlast
/// Discord's three seconds.
pub async fn upscale(data: &Data, reply: &Reply, image: i64) -> Result<(), RestError> {
    reply.defer(false).await?;
    let service = &data.service;
    match service.image_file(image).await {
        Ok(file) => {
            let position = match file.image.image.job {
                Some(job) => service
                    .generation_images(job)
                    .await
                    .ok()
                    .and_then(|images| images.iter().position(|i| i.id == image)),
                None => None,
            };
            reply.answer(&views::upscaled(&file, position)).await
        }
        Err(e) => {
            reply.fail_privately(&user_message(&e.into())).await;
            Ok(())
        }
    }
}

/// ❤️: a like by `liker`, answered privately.
pub async fn like(data: &Data, liker: UserId, image: i64) -> View {
    match data.service.like(liker, image).await {
        Ok(result) => views::liked(&result),
        Err(e) => View::private(user_message(&e.into())),
    }
}

/// Generations `/recent` shows.
const RECENT: u32 = 3;

// Where a result waits when Discord's 15-minute window had closed and neither the channel nor
// the author's DMs could take it.
/// Your newest finished generations, privately, with their buttons.
#[poise::command(slash_command)]
pub async fn recent(ctx: Context<'_>) -> Result<(), BotError> {
    let reply = super::reply(ctx)?;
    if let Err(e) = reply.defer(true).await {
        tracing::warn!(error = %e, "could not acknowledge /recent");
        return Ok(());
    }
    let author = user(ctx.author().id);
    let generations = match ctx.data().service.recent_generations(author, RECENT).await {
        Ok(generations) => generations,
        Err(e) => {
            reply
                .answer(&View::private(user_message(&e.into())))
                .await?;
            return Ok(());
        }
    };
    if generations.is_empty() {
        let none = View::private("You have no finished generations yet. Try /imagine!");
        reply.answer(&none).await?;
    }
    for (k, generation) in generations.iter().enumerate() {
        let mut view = views::generation(author, generation, 0, 1);
        view.ephemeral = true;
        view.ping = None;
        if k == 0 {
            reply.answer(&view).await?;
        } else {
            reply.follow_up(&view).await?;
        }
    }
    Ok(())
}
