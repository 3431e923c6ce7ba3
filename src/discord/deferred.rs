//! Answers that take a while: an interaction acknowledged at once (within Discord's three
//! seconds) and completed later by editing its original response, with throttled progress
//! edits on the way and follow-ups for further messages.
//!
//! An interaction's token lasts fifteen minutes. Messages due after [`TOKEN_LIFETIME`] are
//! posted in the channel as plain messages instead.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poise::serenity_prelude::{self as serenity, Builder};
use tokio::sync::{oneshot, watch};

use super::reply;
use super::views::View;
use crate::render::backend::{Progress, ProgressFn};

/// How long after the interaction its token is still trusted (Discord's limit is 15 minutes).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// At most one progress edit per this long.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(1500);

/// Where a message of a deferred answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Replace the original response (the first message).
    EditOriginal,
    /// A follow-up message (the next ones).
    FollowUp,
    /// A plain channel message: the token has expired.
    Channel,
}

/// Where message `index` (0 the first) goes, `elapsed` after the interaction arrived.
pub fn route(elapsed: Duration, index: usize) -> Route {
    if elapsed > TOKEN_LIFETIME {
        Route::Channel
    } else if index == 0 {
        Route::EditOriginal
    } else {
        Route::FollowUp
    }
}

/// An acknowledged interaction, to complete later.
#[derive(Clone)]
pub struct Deferred {
    http: Arc<serenity::Http>,
    token: String,
    channel: serenity::ChannelId,
    received: Instant,
}

impl Deferred {
    /// The interaction with `token`, in `channel`, that arrived at `received`.
    pub fn new(
        http: Arc<serenity::Http>,
        token: &str,
        channel: serenity::ChannelId,
        received: Instant,
    ) -> Deferred {
        Deferred {
            http,
            token: token.to_string(),
            channel,
            received,
        }
    }

    /// Shows message `index` of the answer (0 replaces the original response).
    pub async fn show(&self, view: &View, index: usize) -> Result<(), serenity::Error> {
        match route(self.received.elapsed(), index) {
            Route::EditOriginal => self.edit_original(view).await,
            Route::FollowUp => self.follow_up(view).await,
            Route::Channel => {
                self.channel
                    .send_message(&self.http, reply::to_channel_message(view))
                    .await?;
                Ok(())
            }
        }
    }

    /// Replaces the original response (or the message a deferred click came from).
    pub async fn edit_original(&self, view: &View) -> Result<(), serenity::Error> {
        reply::to_edit(view)
            .execute(&*self.http, &self.token)
            .await?;
        Ok(())
    }

    /// Sends a further message.
    pub async fn follow_up(&self, view: &View) -> Result<(), serenity::Error> {
        reply::to_followup(view)
            .execute(&*self.http, (None, &self.token))
            .await?;
        Ok(())
    }

    /// Replaces a public "thinking…" response by a private note to the user who asked: the
    /// response is first edited (so the note becomes a message of its own, not an edit of the
    /// deferred response), then the note is sent, then the response is deleted.
    pub async fn fail_privately(&self, message: &str) -> Result<(), serenity::Error> {
        if route(self.received.elapsed(), 0) == Route::Channel {
            // Too late to tell the user privately; say nothing rather than in public.
            tracing::warn!(reason = message, "an answer failed after its token expired");
            return Ok(());
        }
        self.edit_original(&View::public("This didn't work; only you can see why."))
            .await?;
        self.follow_up(&View::private(message)).await?;
        self.http
            .delete_original_interaction_response(&self.token)
            .await
    }

    /// Runs `work` with a progress callback whose reports are drawn by `draw` and shown by
    /// editing the original response, at most once per [`PROGRESS_EVERY`]. The last progress
    /// edit has finished when this returns, so the caller's next edit comes after it.
    pub async fn with_progress<T, Fut>(
        &self,
        draw: impl Fn(&Progress) -> View + Send + 'static,
        work: impl FnOnce(ProgressFn) -> Fut,
    ) -> T
    where
        Fut: Future<Output = T>,
    {
        let (reports, mut latest) = watch::channel(None::<Progress>);
        let progress: ProgressFn = Arc::new(move |p| {
            reports.send_replace(Some(p));
        });
        let (stop, mut stopped) = oneshot::channel::<()>();
        let this = self.clone();
        let editor = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => return,
                    changed = latest.changed() => if changed.is_err() { return },
                }
                let view = match latest.borrow_and_update().as_ref() {
                    Some(p) => draw(p),
                    None => continue,
                };
                if route(this.received.elapsed(), 0) == Route::EditOriginal
                    && let Err(e) = this.edit_original(&view).await
                {
                    tracing::warn!(error = %e, "could not show progress");
                }
                tokio::select! {
                    biased;
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(PROGRESS_EVERY) => {}
                }
            }
        });
        let out = work(progress).await;
        let _ = stop.send(());
        if let Err(e) = editor.await {
            tracing::warn!(error = %e, "the progress task failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_edits_the_response_and_later_ones_follow_until_the_token_expires() {
        let soon = Duration::from_secs(3);
        assert_eq!(route(soon, 0), Route::EditOriginal);
        assert_eq!(route(soon, 1), Route::FollowUp);
        assert_eq!(route(soon, 3), Route::FollowUp);
        let late = Duration::from_secs(14 * 60 + 1);
        assert_eq!(route(late, 0), Route::Channel);
        assert_eq!(route(late, 2), Route::Channel);
        assert_eq!(route(TOKEN_LIFETIME, 0), Route::EditOriginal);
    }
}
