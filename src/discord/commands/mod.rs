//! The slash commands, one module per command group, each a thin call into the service.

pub mod codes;
mod explore;
pub mod imagine;
mod moodboard;
mod profile;
pub mod rank;
pub mod settings;

use std::future::Future;

use poise::serenity_prelude as serenity;

use super::error::user_message;
use super::interaction::Reply;
use super::views::View;
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
        imagine::recent(),
        explore::explore(),
        moodboard::moodboard(),
    ]
}

/// The interaction behind a slash command, to answer.
pub fn reply(ctx: Context<'_>) -> Result<Reply, BotError> {
    match ctx {
        poise::Context::Application(app) => {
            Ok(Reply::command(ctx.data().rest.clone(), app.interaction))
        }
        poise::Context::Prefix(_) => Err(BotError::Unsupported("tastebud has slash commands only")),
    }
}

/// Answers a command privately: acknowledges it at once with a private "thinking…" (so reading
/// files, fitting or drawing never misses Discord's three seconds), runs `work`, and shows its
/// view, or its error in the user's words.
pub async fn answer_privately(
    ctx: Context<'_>,
    work: impl Future<Output = Result<View, BotError>>,
) -> Result<(), BotError> {
    let reply = reply(ctx)?;
    if let Err(e) = reply.defer(true).await {
        tracing::warn!(error = %e, "could not acknowledge a command");
        return Ok(());
    }
    let view = work
        .await
        .unwrap_or_else(|e| View::private(user_message(&e)));
    reply.answer(&view).await?;
    Ok(())
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
        .take(25)
        .map(|v| serenity::AutocompleteChoice::new(crate::service::version_label(v), v.clone()))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
