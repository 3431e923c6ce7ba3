//! `/imagine prompt:` and the buttons under its grids: U1–U4, 🔄 and ❤️1–❤️4.
//!
//! A generation is acknowledged at once with a public "thinking…", shows its progress by
//! editing that response (throttled), and ends with one message per generation the prompt
//! expanded to. Errors reach only the user who asked, in the service's words.

use std::time::Instant;

use poise::serenity_prelude as serenity;

use super::{Context, place, user};
use crate::discord::deferred::Deferred;
use crate::discord::error::user_message;
use crate::discord::views::{self, View};
use crate::discord::{BotError, Data};
use crate::domain::UserId;
use crate::service::{self, Generation, Imagine};

/// Generate four images; add --p to personalize them with your taste.
#[poise::command(slash_command)]
pub async fn imagine(
    ctx: Context<'_>,
    #[description = "What to draw, with parameters such as --ar 16:9 --p --s 250"] prompt: String,
) -> Result<(), BotError> {
    let reply = super::defer(ctx, false).await?;
    let author = user(ctx.author().id);
    let service = ctx.data().service.clone();
    let shown = prompt.clone();
    let request = Imagine {
        prompt,
        place: place(ctx.guild_id()),
        reply: None,
    };
    let result = reply
        .with_progress(
            move |p| views::rendering(author, &shown, p),
            |progress| async move { service.imagine(author, request, progress).await },
        )
        .await;
    deliver(&reply, author, result).await?;
    Ok(())
}

/// Shows finished generations, one message each, or the error privately.
async fn deliver(
    reply: &Deferred,
    author: UserId,
    result: service::Result<Vec<Generation>>,
) -> Result<(), serenity::Error> {
    match result {
        Ok(generations) => {
            let total = generations.len();
            for (k, generation) in generations.iter().enumerate() {
                reply
                    .show(&views::generation(author, generation, k, total), k)
                    .await?;
            }
            Ok(())
        }
        Err(e) => reply.fail_privately(&user_message(&e.into())).await,
    }
}

/// 🔄 by the author: the same prompt with a new seed, as a new message.
pub async fn reroll(
    ctx: &serenity::Context,
    data: &Data,
    click: &serenity::ComponentInteraction,
    received: Instant,
    (author, job): (UserId, i64),
) -> Result<(), serenity::Error> {
    let thinking = serenity::CreateInteractionResponse::Defer(
        serenity::CreateInteractionResponseMessage::new(),
    );
    click.create_response(&ctx.http, thinking).await?;
    let reply = Deferred::new(ctx.http.clone(), &click.token, click.channel_id, received);
    let service = data.service.clone();
    let place = super::place(click.guild_id);
    let result = reply
        .with_progress(
            move |p| views::rendering(author, "Rerolling", p),
            |progress| async move {
                service
                    .reroll(author, job, place, None, progress)
                    .await
                    .map(|g| vec![g])
            },
        )
        .await;
    deliver(&reply, author, result).await
}

/// U1–U4: the image alone, as a new public message (or the reason it can't be shown).
pub async fn upscale(data: &Data, image: i64) -> View {
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
            views::upscaled(&file, position)
        }
        Err(e) => View::private(user_message(&e.into())),
    }
}

/// ❤️: a like by `liker`, answered privately.
pub async fn like(data: &Data, liker: UserId, image: i64) -> View {
    match data.service.like(liker, image).await {
        Ok(result) => views::liked(&result),
        Err(e) => View::private(user_message(&e.into())),
    }
}
