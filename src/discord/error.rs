//! Errors of the Discord layer and the one place that answers them politely.

use poise::serenity_prelude as serenity;

use super::Data;
use super::attachments::AttachmentError;
use crate::service;

/// Why a command or click could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Service(#[from] service::Error),
    #[error("Discord error: {0}")]
    Discord(#[from] serenity::Error),
    /// A file attached to a command could not be had; the sentence says why.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
}

/// A short id that ties a user's error message to its log line.
pub fn incident_id() -> String {
    crate::domain::random_base36(&mut rand::rng(), 8)
}

/// The sentence a user sees for `error`. Internal errors are logged with an id that the
/// sentence carries.
pub fn user_message(error: &BotError) -> String {
    match error {
        BotError::Service(e) => match e.internal_cause() {
            Some(cause) => {
                let id = incident_id();
                tracing::error!(incident = %id, error = %cause, "internal error");
                format!("{e} (error id `{id}`)")
            }
            None => e.to_string(),
        },
        BotError::Attachment(e) => e.to_string(),
        BotError::Discord(cause) => {
            let id = incident_id();
            tracing::error!(incident = %id, error = %cause, "Discord error");
            format!("Something went wrong talking to Discord. Please try again. (error id `{id}`)")
        }
    }
}

/// poise's error hook: every command error becomes an ephemeral reply in its own words.
pub async fn on_error(error: poise::FrameworkError<'_, Data, BotError>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let reply = poise::CreateReply::default()
                .content(user_message(&error))
                .ephemeral(true);
            if let Err(e) = ctx.send(reply).await {
                tracing::warn!(error = %e, "could not send an error reply");
            }
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %e, "could not handle a framework error");
            }
        }
    }
}
