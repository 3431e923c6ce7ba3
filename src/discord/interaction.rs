//! One interaction and every way of answering it, under Discord's rules ("Receiving and
//! Responding"): the first answer (a callback) within three seconds, edits and follow-ups with
//! the token for fifteen minutes, and after that only plain messages where the bot may post.
//!
//! [`Reply`] remembers whether the interaction has been acknowledged, so callers say what they
//! mean (`answer`, `deliver`) and the right route is chosen. Finished work is [`Reply::deliver`]ed
//! as a new message that mentions its author (an edit never notifies anyone): a follow-up while
//! the token lives, then a channel message where the bot may post, then a direct message, and
//! otherwise it stays in the store for `/recent`.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use poise::serenity_prelude as serenity;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::reply;
use super::rest::{Rest, RestError};
use super::views::View;
use crate::domain::{Place, UserId};
use crate::render::backend::{Progress, ProgressFn};

/// How long after the interaction its token is trusted (Discord's limit is 15 minutes).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// At most one progress edit of a job per this long.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// How long a click waits for its answer before acknowledging and answering by an edit.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2000);

/// Discord's upload limit per file when an interaction does not say (10 MiB).
pub const DEFAULT_ATTACHMENT_LIMIT: usize = 10 * 1024 * 1024;

/// The files one request may carry in all: Discord's 25 MiB request limit ("Uploading Files"),
/// less room for the rest of the body.
pub const MAX_REQUEST_FILES: usize = 24 * 1024 * 1024;

const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;
const ATTACH_FILES: u64 = 1 << 15;
const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;

/// Where an interaction came from and what the bot may do there.
#[derive(Debug, Clone)]
pub struct Origin {
    pub user: UserId,
    pub guild: Option<u64>,
    pub channel: u64,
    /// The bot is installed in this server and may post messages with files in the channel.
    pub can_post: bool,
    /// Largest file Discord takes in answers to this interaction.
    pub attachment_limit: usize,
}

impl Origin {
    /// What the interaction carries: its user, server, channel, the bot's permissions there
    /// (`app_permissions`) and whether the bot is installed in that server.
    fn of(
        user: &serenity::User,
        guild: Option<serenity::GuildId>,
        channel: serenity::ChannelId,
        thread: bool,
        permissions: Option<serenity::Permissions>,
        owners: &serenity::AuthorizingIntegrationOwners,
        attachment_limit: u32,
    ) -> Origin {
        let installed_here = owners.0.iter().any(|o| {
            matches!(o, serenity::AuthorizingIntegrationOwner::GuildInstall(Some(g)) if Some(*g) == guild)
        });
        let bits = permissions.map(|p| p.bits()).unwrap_or(0);
        let send = if thread {
            SEND_MESSAGES_IN_THREADS
        } else {
            SEND_MESSAGES
        };
        let needed = VIEW_CHANNEL | send | ATTACH_FILES;
        Origin {
            user: UserId(user.id.get()),
            guild: guild.map(|g| g.get()),
            channel: channel.get(),
            can_post: guild.is_some() && installed_here && bits & needed == needed,
            attachment_limit: match attachment_limit {
                0 => DEFAULT_ATTACHMENT_LIMIT,
                n => n as usize,
            },
        }
    }

    /// The place pictures made here belong to.
    pub fn place(&self) -> Place {
        Place::from_guild(self.guild)
    }
}

fn is_thread(channel: Option<&serenity::PartialChannel>) -> bool {
    channel.is_some_and(|c| {
        matches!(
            c.kind,
            serenity::ChannelType::PublicThread
                | serenity::ChannelType::PrivateThread
                | serenity::ChannelType::NewsThread
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet: the next answer is the callback.
    Fresh,
    /// Acknowledged: the answer edits the original response.
    Deferred,
    /// Answered.
    Answered,
}

/// Where a delivered message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    FollowUp,
    Channel,
    DirectMessage,
    /// Nowhere: Discord took it by no route; it stays for `/recent`.
    Kept,
}

struct Inner {
    rest: Arc<Rest>,
    app: u64,
    id: u64,
    token: String,
    origin: Origin,
    received: Instant,
    state: Mutex<State>,
    /// Discord refused the token (expired): only plain messages from now on.
    expired: Mutex<bool>,
}

/// An interaction to answer; clones share its state.
#[derive(Clone)]
pub struct Reply {
    inner: Arc<Inner>,
}

impl Reply {
    fn new(rest: Arc<Rest>, app: u64, id: u64, token: &str, origin: Origin) -> Reply {
        Reply {
            inner: Arc::new(Inner {
                rest,
                app,
                id,
                token: token.to_string(),
                origin,
                received: Instant::now(),
                state: Mutex::new(State::Fresh),
                expired: Mutex::new(false),
            }),
        }
    }

    /// A slash command.
    pub fn command(rest: Arc<Rest>, i: &serenity::CommandInteraction) -> Reply {
        let origin = Origin::of(
            &i.user,
            i.guild_id,
            i.channel_id,
            is_thread(i.channel.as_ref()),
            i.app_permissions,
            &i.authorizing_integration_owners,
            i.attachment_size_limit,
        );
        Reply::new(rest, i.application_id.get(), i.id.get(), &i.token, origin)
    }

    /// A click on a button or a choice in a menu.
    pub fn component(rest: Arc<Rest>, i: &serenity::ComponentInteraction) -> Reply {
        let origin = Origin::of(
            &i.user,
            i.guild_id,
            i.channel_id,
            is_thread(i.channel.as_ref()),
            i.app_permissions,
            &i.authorizing_integration_owners,
            i.attachment_size_limit,
        );
        Reply::new(rest, i.application_id.get(), i.id.get(), &i.token, origin)
    }

    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    fn state(&self) -> State {
        self.inner
            .state
            .lock()
            .map(|s| *s)
            .unwrap_or(State::Answered)
    }

    fn set_state(&self, state: State) {
        if let Ok(mut s) = self.inner.state.lock() {
            *s = state;
        }
    }

    /// Whether the token may still be used, by tastebud's clock and Discord's last word.
    fn token_alive(&self) -> bool {
        self.inner.received.elapsed() <= TOKEN_LIFETIME
            && !self.inner.expired.lock().map(|e| *e).unwrap_or(true)
    }

    /// Notes what a token request's failure says about the token.
    fn check<T>(&self, result: Result<T, RestError>) -> Result<T, RestError> {
        if let Err(e) = &result
            && e.token_expired()
            && let Ok(mut expired) = self.inner.expired.lock()
        {
            *expired = true;
        }
        result
    }

    /// `view` without the files Discord would refuse here, saying so: a file over the
    /// interaction's `attachment_size_limit`, or files past the total a request may carry.
    fn fitted(&self, view: &View) -> View {
        let limit = self.inner.origin.attachment_limit;
        let mut total = 0;
        let mut view = view.clone();
        let before = view.files.len();
        view.files.retain(|f| {
            let keep = f.bytes.len() <= limit && total + f.bytes.len() <= MAX_REQUEST_FILES;
            if keep {
                total += f.bytes.len();
            }
            keep
        });
        let left_out = before - view.files.len();
        if left_out > 0 {
            view.content.push_str(&format!(
                "\n-# {left_out} picture(s) left out: over the {} MiB per file this place \
                 allows, or the {} MiB one message may carry.",
                limit / (1024 * 1024),
                MAX_REQUEST_FILES / (1024 * 1024)
            ));
        }
        view
    }

    async fn callback(&self, kind: u8, view: Option<&View>) -> Result<(), RestError> {
        let path = format!(
            "/interactions/{}/{}/callback",
            self.inner.id, self.inner.token
        );
        let body = match view {
            Some(view) => {
                let view = self.fitted(view);
                let payload = json!({"type": kind, "data": reply::message(&view, true)});
                reply::body(&view, payload)
            }
            None => super::rest::Body::Json(json!({"type": kind})),
        };
        self.inner.rest.send(Method::POST, &path, body).await?;
        Ok(())
    }

    /// Acknowledges at once with "thinking…" (private or public); the answer comes later.
    pub async fn defer(&self, ephemeral: bool) -> Result<(), RestError> {
        let path = format!(
            "/interactions/{}/{}/callback",
            self.inner.id, self.inner.token
        );
        let data = if ephemeral {
            json!({"flags": 64})
        } else {
            json!({})
        };
        let body = super::rest::Body::Json(json!({"type": 5, "data": data}));
        self.inner.rest.send(Method::POST, &path, body).await?;
        self.set_state(State::Deferred);
        Ok(())
    }

    /// Acknowledges a click without a visible answer; the clicked message is edited later.
    pub async fn defer_update(&self) -> Result<(), RestError> {
        self.callback(6, None).await?;
        self.set_state(State::Deferred);
        Ok(())
    }

    /// Answers a click by redrawing the message it came from.
    pub async fn update(&self, view: &View) -> Result<(), RestError> {
        self.callback(7, Some(view)).await?;
        self.set_state(State::Answered);
        Ok(())
    }

    /// Answers: the callback when nothing was sent yet, else an edit of the original response.
    pub async fn answer(&self, view: &View) -> Result<(), RestError> {
        match self.state() {
            State::Fresh => {
                self.callback(4, Some(view)).await?;
                self.set_state(State::Answered);
                Ok(())
            }
            State::Deferred | State::Answered => self.edit_original(view).await,
        }
    }

    /// Answers a click with `work`'s view in the callback itself, redrawing the clicked
    /// message, when it is ready within [`ANSWER_WITHIN`]: one request, in the interaction's
    /// own rate-limit bucket. Otherwise the click is acknowledged first and the message redrawn
    /// by an edit when the view is ready. An `Err` view is a private note instead, leaving the
    /// message as it was.
    pub async fn update_in_time(
        &self,
        work: impl Future<Output = Result<View, View>>,
    ) -> Result<(), RestError> {
        tokio::pin!(work);
        let ready = tokio::time::timeout(ANSWER_WITHIN, &mut work).await;
        let result = match ready {
            Ok(result) => result,
            Err(_) => {
                self.defer_update().await?;
                work.await
            }
        };
        match result {
            Ok(view) if self.state() == State::Fresh => self.update(&view).await,
            Ok(view) => self.edit_original(&view).await,
            Err(note) if self.state() == State::Fresh => self.answer(&note).await,
            Err(note) => self.follow_up(&note).await,
        }
    }

    /// Replaces the original response (or the message a deferred click came from).
    pub async fn edit_original(&self, view: &View) -> Result<(), RestError> {
        let path = format!(
            "/webhooks/{}/{}/messages/@original",
            self.inner.app, self.inner.token
        );
        let view = self.fitted(view);
        let body = reply::body(&view, reply::message(&view, false));
        let result = self.inner.rest.send(Method::PATCH, &path, body).await;
        self.check(result).map(|_| ())
    }

    /// Deletes the original response.
    pub async fn delete_original(&self) -> Result<(), RestError> {
        let path = format!(
            "/webhooks/{}/{}/messages/@original",
            self.inner.app, self.inner.token
        );
        let result = self
            .inner
            .rest
            .send(Method::DELETE, &path, super::rest::Body::None)
            .await;
        self.check(result).map(|_| ())
    }

    /// Sends a further message with the token.
    pub async fn follow_up(&self, view: &View) -> Result<(), RestError> {
        let path = format!("/webhooks/{}/{}", self.inner.app, self.inner.token);
        let view = self.fitted(view);
        let body = reply::body(&view, reply::message(&view, true));
        let result = self.inner.rest.send(Method::POST, &path, body).await;
        self.check(result).map(|_| ())
    }

    /// Posts `view` as a plain message in `channel` (never ephemeral).
    async fn post(&self, channel: u64, view: &View) -> Result<(), RestError> {
        let mut view = self.fitted(view);
        view.ephemeral = false;
        let body = reply::body(&view, reply::message(&view, true));
        let path = format!("/channels/{channel}/messages");
        self.inner.rest.send(Method::POST, &path, body).await?;
        Ok(())
    }

    /// Sends `view` to the user's direct messages.
    async fn direct_message(&self, view: &View) -> Result<(), RestError> {
        let body =
            super::rest::Body::Json(json!({"recipient_id": self.inner.origin.user.0.to_string()}));
        let channel = self
            .inner
            .rest
            .send(Method::POST, "/users/@me/channels", body)
            .await?;
        let id = channel["id"]
            .as_str()
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| RestError::Network("Discord gave no DM channel".into()))?;
        self.post(id, view).await
    }

    /// Delivers finished work as a new message (which notifies the user it mentions, unlike
    /// an edit): a follow-up while the token lives; then a message in the channel where the
    /// bot may post there; then a direct message; else nowhere, and it stays for `/recent`.
    pub async fn deliver(&self, view: &View) -> Delivered {
        if self.token_alive() {
            match self.follow_up(view).await {
                Ok(()) => return Delivered::FollowUp,
                Err(e) if e.token_expired() => {}
                Err(e) => tracing::warn!(error = %e, "could not deliver as a follow-up"),
            }
        }
        if self.inner.origin.can_post {
            match self.post(self.inner.origin.channel, view).await {
                Ok(()) => return Delivered::Channel,
                Err(e) => tracing::info!(error = %e, "could not deliver in the channel"),
            }
        }
        match self.direct_message(view).await {
            Ok(()) => Delivered::DirectMessage,
            Err(e) => {
                tracing::info!(error = %e, "could not deliver by direct message; kept for /recent");
                Delivered::Kept
            }
        }
    }

    /// Replaces a public "thinking…" response by a private note to the user who asked: the
    /// response is first edited (so the note becomes a message of its own, not an edit of the
    /// deferred response), then the note is sent, then the response is deleted. Too late for
    /// that, the note goes by direct message (never in public).
    pub async fn fail_privately(&self, message: &str) {
        let note = View::private(message);
        let private = async {
            if !self.token_alive() {
                return Err(RestError::Network("token expired".into()));
            }
            self.edit_original(&View::public("This didn't work; only you can see why."))
                .await?;
            self.follow_up(&note).await?;
            self.delete_original().await
        };
        if let Err(e) = private.await {
            tracing::info!(error = %e, "could not answer privately; trying a direct message");
            if let Err(e) = self.direct_message(&note).await {
                tracing::warn!(error = %e, "a failure could not be told to its user");
            }
        }
    }

    /// What to keep with a job so that its message can be told about a restart: the
    /// application, the token and when the interaction came (as Unix milliseconds).
    pub fn stored(&self) -> String {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let at = now_ms - self.inner.received.elapsed().as_millis() as i64;
        json!({"app": self.inner.app.to_string(), "token": self.inner.token, "at": at}).to_string()
    }

    /// Edits the original response of an interaction kept by [`Reply::stored`], if its token
    /// is still valid. Returns whether it was edited.
    pub async fn edit_stored(rest: &Rest, stored: &str, view: &View) -> Result<bool, RestError> {
        let Ok(kept) = serde_json::from_str::<Value>(stored) else {
            return Ok(false);
        };
        let (Some(app), Some(token), Some(at)) = (
            kept["app"].as_str(),
            kept["token"].as_str(),
            kept["at"].as_i64(),
        ) else {
            return Ok(false);
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if now_ms.saturating_sub(at) > TOKEN_LIFETIME.as_millis() as i64 {
            return Ok(false);
        }
        let path = format!("/webhooks/{app}/{token}/messages/@original");
        let body = reply::body(view, reply::message(view, false));
        rest.send(Method::PATCH, &path, body).await?;
        Ok(true)
    }

    /// Runs `work` with a progress callback whose reports are drawn by `draw` and shown by
    /// editing the original response, at most once per [`PROGRESS_EVERY`]. When the token is
    /// about to expire the message says the result will come as a new message, and progress
    /// stops. The last progress edit has finished when this returns.
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
            let last_edit = this.inner.received + TOKEN_LIFETIME - PROGRESS_EVERY;
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => return,
                    changed = latest.changed() => if changed.is_err() { return },
                }
                let Some(mut view) = latest.borrow_and_update().as_ref().map(&draw) else {
                    continue;
                };
                let late = Instant::now() >= last_edit;
                if late {
                    view.content.push_str(
                        "\n-# This is taking longer than Discord lets tastebud edit this \
                         message; the result will come as a new message here or in your DMs \
                         (if neither can take it, find it with /recent).",
                    );
                }
                if let Err(e) = this.edit_original(&view).await {
                    tracing::warn!(error = %e, "could not show progress");
                }
                if late || !this.token_alive() {
                    return;
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
