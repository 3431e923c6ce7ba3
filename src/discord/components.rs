//! Button and menu clicks, dispatched from the global event handler by their custom ids.
//!
//! A click on a component that belongs to someone else (see [`Action::owner_only`]) is
//! refused privately before anything is done.

use poise::serenity_prelude as serenity;

use super::commands::{self, codes::codes_view, imagine, rank, settings::settings_view};
use super::ids::{Action, ComponentId};
use super::interaction::Reply;
use super::rest::RestError;
use super::views::View;
use super::{BotError, Data, error::user_message};
use crate::domain::ProfileId;

/// Answers one component interaction. Ids that are not ours are ignored. What Discord refuses
/// is logged: a click has no later chance to be answered.
pub async fn handle(data: &Data, click: &serenity::ComponentInteraction) {
    let Some(id) = ComponentId::decode(&click.data.custom_id) else {
        return;
    };
    let reply = Reply::component(data.rest.clone(), click);
    if let Err(e) = dispatch(data, click, &reply, &id).await {
        tracing::warn!(error = %e, "could not answer a click");
    }
}

async fn dispatch(
    data: &Data,
    click: &serenity::ComponentInteraction,
    reply: &Reply,
    id: &ComponentId,
) -> Result<(), RestError> {
    let clicker = commands::user(click.user.id);
    if id.action.owner_only() && id.owner != clicker {
        let refusal = View::private("These buttons belong to someone else; nothing was changed.");
        return reply.answer(&refusal).await;
    }
    match &id.action {
        Action::Rank {
            profile,
            pair,
            choice,
        } => rank::answer(data, reply, (id.owner, profile, *pair, *choice)).await,
        Action::Reroll { job } => imagine::reroll(data, reply, (id.owner, *job)).await,
        Action::Upscale { image } => imagine::upscale(data, reply, *image).await,
        Action::Like { image } => {
            // A like may reach a checkpoint and fit a code: "thinking…" first.
            reply.defer(true).await?;
            reply
                .answer(&imagine::like(data, clicker, *image).await)
                .await
        }
        Action::SetPersonalization(_)
        | Action::SetExploreSharing(_)
        | Action::SetVersion
        | Action::SetStylize(_)
        | Action::SetDefaults(_)
        | Action::CodesPage(_) => {
            reply
                .update_in_time(async {
                    panel(data, id, click)
                        .await
                        .map_err(|e| View::private(user_message(&e)))
                })
                .await
        }
    }
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
