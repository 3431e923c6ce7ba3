//! Button and menu clicks, dispatched from the global event handler by their custom ids.
//!
//! A click on a component that belongs to someone else (see [`Action::owner_only`]) is
//! refused privately before anything is done.

use std::time::Instant;

use poise::serenity_prelude as serenity;

use super::commands::{self, codes::codes_view, imagine, rank, settings::settings_view};
use super::ids::{Action, ComponentId};
use super::views::View;
use super::{BotError, Data, error::user_message, reply};
use crate::domain::ProfileId;

/// Answers one component interaction. Ids that are not ours are ignored.
pub async fn handle(
    ctx: &serenity::Context,
    data: &Data,
    click: &serenity::ComponentInteraction,
) -> Result<(), serenity::Error> {
    let received = Instant::now();
    let Some(id) = ComponentId::decode(&click.data.custom_id) else {
        return Ok(());
    };
    let clicker = commands::user(click.user.id);
    if id.action.owner_only() && id.owner != clicker {
        let refusal = View::private("These buttons belong to someone else; nothing was changed.");
        return respond(ctx, click, &refusal).await;
    }
    match &id.action {
        Action::Rank {
            profile,
            pair,
            choice,
        } => {
            rank::answer(
                ctx,
                data,
                click,
                received,
                (id.owner, profile, *pair, *choice),
            )
            .await
        }
        Action::Reroll { job } => {
            imagine::reroll(ctx, data, click, received, (id.owner, *job)).await
        }
        Action::Upscale { image } => {
            respond(ctx, click, &imagine::upscale(data, *image).await).await
        }
        Action::Like { image } => {
            respond(ctx, click, &imagine::like(data, clicker, *image).await).await
        }
        Action::SetPersonalization(_)
        | Action::SetExploreSharing(_)
        | Action::SetVersion
        | Action::SetStylize(_)
        | Action::SetDefaults(_)
        | Action::CodesPage(_) => {
            let response = match panel(data, &id, click).await {
                Ok(view) => {
                    serenity::CreateInteractionResponse::UpdateMessage(reply::to_message(&view))
                }
                Err(e) => serenity::CreateInteractionResponse::Message(reply::to_message(
                    &View::private(user_message(&e)),
                )),
            };
            click.create_response(&ctx.http, response).await
        }
    }
}

/// Answers a click with a new message.
async fn respond(
    ctx: &serenity::Context,
    click: &serenity::ComponentInteraction,
    view: &View,
) -> Result<(), serenity::Error> {
    let response = serenity::CreateInteractionResponse::Message(reply::to_message(view));
    click.create_response(&ctx.http, response).await
}

/// Does what a settings or codes component asks and returns the redrawn panel.
async fn panel(
    data: &Data,
    id: &ComponentId,
    click: &serenity::ComponentInteraction,
) -> Result<View, BotError> {
    let service = &data.service;
    let owner = id.owner;
    let values = match &click.data.kind {
        serenity::ComponentInteractionDataKind::StringSelect { values } => values.clone(),
        _ => Vec::new(),
    };
    match &id.action {
        Action::SetPersonalization(on) => {
            service.set_personalization(owner, *on).await?;
        }
        Action::SetExploreSharing(on) => {
            service.set_explore_sharing(owner, *on).await?;
        }
        Action::SetStylize(preset) => {
            service.set_stylize_preset(owner, *preset).await?;
        }
        Action::SetVersion => {
            service
                .set_default_version(owner, values.first().map(String::as_str))
                .await?;
        }
        Action::SetDefaults(version) => {
            let chosen: Vec<ProfileId> = values.into_iter().map(ProfileId).collect();
            service
                .set_default_profiles(owner, version, &chosen)
                .await?;
        }
        Action::CodesPage(page) => return codes_view(service, owner, *page).await,
        Action::Rank { .. }
        | Action::Upscale { .. }
        | Action::Reroll { .. }
        | Action::Like { .. } => {}
    }
    settings_view(service, owner).await
}
