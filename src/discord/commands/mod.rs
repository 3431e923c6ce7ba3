//! The slash commands, one module per command group, each a thin call into the service.

pub mod codes;
mod explore;
pub mod imagine;
mod moodboard;
mod profile;
pub mod rank;
pub mod settings;

use std::time::Instant;

use poise::serenity_prelude as serenity;

use super::deferred::Deferred;
use super::{BotError, Data};
use crate::domain::{Place, ProfileKind, UserId};
use crate::service::ProfileSummary;

pub type Context<'a> = poise::Context<'a, Data, BotError>;

/// Every command the bot registers.
pub fn all() -> Vec<poise::Command<Data, BotError>> {
    vec![
        settings::settings(),
        profile::profile(),
        codes::list_personalize_codes(),
        rank::rank(),
        imagine::imagine(),
        explore::explore(),
        moodboard::moodboard(),
    ]
}

/// Acknowledges a slash command at once with a public (or private) "thinking…", for answers
/// that take longer than Discord's three seconds; the answer comes through the returned handle.
pub async fn defer(ctx: Context<'_>, ephemeral: bool) -> Result<Deferred, BotError> {
    let received = Instant::now();
    let poise::Context::Application(app) = ctx else {
        return Err(BotError::Discord(serenity::Error::Other(
            "tastebud has slash commands only",
        )));
    };
    if ephemeral {
        ctx.defer_ephemeral().await?;
    } else {
        ctx.defer().await?;
    }
    Ok(Deferred::new(
        ctx.serenity_context().http.clone(),
        &app.interaction.token,
        app.interaction.channel_id,
        received,
    ))
}

/// Where an interaction came from: its server, or a private place when it has none.
pub fn place(guild: Option<serenity::GuildId>) -> Place {
    Place::from_guild(guild.map(|g| g.get()))
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
    profile_choices(ctx, partial, |_| true).await
}

/// Autocompletes one of the caller's moodboards: "Name (V7, moodboard)" → its ID.
pub async fn autocomplete_moodboard(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    profile_choices(ctx, partial, |p| p.profile.kind == ProfileKind::Moodboard).await
}

/// The caller's profiles that `keep` accepts and whose name contains, or ID starts with,
/// `partial`: at most 25 (Discord's limit).
async fn profile_choices(
    ctx: Context<'_>,
    partial: &str,
    keep: impl Fn(&ProfileSummary) -> bool,
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
        .filter(|p| keep(p))
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
