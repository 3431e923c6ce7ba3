//! Errors of the Discord layer and the one place that answers them politely.

use super::Data;
use super::attachments::AttachmentError;
use super::interaction::Reply;
use super::rest::RestError;
use super::views::View;
use crate::service;

/// Why a command or click could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Service(#[from] service::Error),
    /// Discord would not take a request.
    #[error("Discord error: {0}")]
    Discord(#[from] RestError),
    /// A file attached to a command could not be had; the sentence says why.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    /// poise was asked for something tastebud does not use (e.g. a prefix command).
    #[error("{0}")]
    Unsupported(&'static str),
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
            format!("{} (error id `{id}`)", cause.user_message())
        }
        BotError::Unsupported(what) => what.to_string(),
    }
}

/// poise's error hook. A command's own errors are answered where they happen, so what arrives
/// here is Discord refusing an answer: the user is told why in a short private follow-up (which
/// Discord takes when the refused message was the problem). Other framework errors (bad
/// arguments) get poise's own answer.
pub async fn on_error(error: poise::FrameworkError<'_, Data, BotError>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let message = user_message(&error);
            let poise::Context::Application(app) = ctx else {
                return;
            };
            let reply = Reply::command(ctx.data().rest.clone(), app.interaction);
            if let Err(e) = reply.follow_up(&View::private(message)).await {
                tracing::warn!(error = %e, "could not tell a user about an error");
            }
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %e, "could not handle a framework error");
            }
        }
    }
}
