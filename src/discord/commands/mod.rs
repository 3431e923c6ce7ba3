//! The slash commands, one module per command group, each a thin call into the service.

pub mod codes;
mod profile;
pub mod settings;

use poise::serenity_prelude as serenity;

use super::{BotError, Data};
use crate::domain::UserId;

pub type Context<'a> = poise::Context<'a, Data, BotError>;

/// Every command the bot registers.
pub fn all() -> Vec<poise::Command<Data, BotError>> {
    vec![
        settings::settings(),
        profile::profile(),
        codes::list_personalize_codes(),
    ]
}

/// The tastebud user behind a Discord user.
pub fn user(id: serenity::UserId) -> UserId {
    UserId(id.get())
}

/// Autocompletes one of the caller's profiles: "Name (V7, ranked)" → its ID.
pub async fn autocomplete_profile(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let wanted = partial.to_lowercase();
    let profiles = ctx
        .data()
        .service
        .list_profiles(user(ctx.author().id))
        .await
        .unwrap_or_default();
    let choices = profiles
        .into_iter()
        .filter(|p| {
            p.profile.name.to_lowercase().contains(&wanted) || p.profile.id.0.starts_with(&wanted)
        })
        .take(25)
        .map(|p| {
            serenity::AutocompleteChoice::new(
                format!(
                    "{} ({}, {})",
                    p.profile.name,
                    crate::service::version_label(&p.profile.version),
                    p.profile.kind
                ),
                p.profile.id.0,
            )
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Autocompletes a configured version.
pub async fn autocomplete_version(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let choices = ctx
        .data()
        .service
        .config()
        .personalization
        .versions
        .iter()
        .filter(|v| v.contains(partial.trim()))
        .map(|v| serenity::AutocompleteChoice::new(crate::service::version_label(v), v.clone()))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
