//! Button and menu clicks, dispatched from the global event handler by their custom ids.

use poise::serenity_prelude as serenity;

use super::commands::{self, codes::codes_view, settings::settings_view};
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
    let Some(id) = ComponentId::decode(&click.data.custom_id) else {
        return Ok(());
    };
    let clicker = commands::user(click.user.id);
    let response = if id.owner != clicker {
        serenity::CreateInteractionResponse::Message(reply::to_message(&View::private(
            "These buttons belong to someone else; nothing was changed.",
        )))
    } else {
        match act(data, &id, click).await {
            Ok(view) => {
                serenity::CreateInteractionResponse::UpdateMessage(reply::to_message(&view))
            }
            Err(e) => serenity::CreateInteractionResponse::Message(reply::to_message(
                &View::private(user_message(&e)),
            )),
        }
    };
    click.create_response(&ctx.http, response).await
}

/// Does what the component asks and returns the redrawn message.
async fn act(
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
    }
    settings_view(service, owner).await
}
