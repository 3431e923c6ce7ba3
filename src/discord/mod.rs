//! The Discord frontend: poise commands that turn interactions into service calls.
//!
//! Commands live in `commands/`, one module per group; clicks on buttons and menus are
//! dispatched by their custom ids (`ids.rs`) from the global event handler, so they keep
//! working after a restart. Messages are plain [`views::View`]s, turned into Discord's message
//! JSON only in `reply.rs` and sent only through `rest.rs` (with Discord's rate limits) by an
//! [`interaction::Reply`] that knows Discord's answering rules. poise parses commands and
//! serenity holds the gateway; no poise or serenity type leaves this module.

mod attachments;
mod commands;
mod components;
mod error;
mod ids;
mod interaction;
mod reply;
pub mod rest;
pub mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use reqwest::Method;
use serde_json::Value;

pub use error::BotError;
use rest::{Body, Rest, RestError};

use crate::config::ShardRange;
use crate::service::Service;

/// Shared state of every command and click.
pub struct Data {
    pub service: Service,
    /// Fetches files attached to commands (moodboard uploads).
    pub attachments: attachments::Downloader,
    /// Every message tastebud sends goes through it.
    pub rest: Arc<Rest>,
}

/// How to connect.
#[derive(Clone)]
pub struct Options {
    /// The bot token (from `DISCORD_TOKEN`; never logged).
    pub token: String,
    /// Register commands in this guild only (instant); `None`: `discord.guild_id`, and if that
    /// is 0, globally.
    pub guild_id: Option<u64>,
    /// Which shards to run; `None`: `discord.shards`, and if that is empty, all of them.
    pub shards: Option<ShardRange>,
    /// Where REST requests go; `None`: `discord.rest_proxy`, and if that is empty, Discord.
    pub rest_proxy: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("token", &"<hidden>")
            .field("guild_id", &self.guild_id)
            .field("shards", &self.shards)
            .field("rest_proxy", &self.rest_proxy)
            .finish()
    }
}

/// Why the bot could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "DISCORD_TOKEN does not look like a bot token; copy it again from the Developer Portal"
    )]
    MalformedToken,
    #[error(
        "Discord rejected the bot token (DISCORD_TOKEN); create a new one in the Developer Portal"
    )]
    RejectedToken,
    #[error("cannot reach Discord: {0}")]
    Connection(String),
    /// The slash commands could not be uploaded, after every try.
    #[error(
        "could not register the slash commands with Discord ({0}); stopping so that a supervisor can restart tastebud"
    )]
    Registration(String),
}

fn classify(e: serenity::Error) -> RunError {
    let text = e.to_string();
    match &e {
        serenity::Error::Http(http)
            if http.status_code() == Some(serenity::StatusCode::UNAUTHORIZED) =>
        {
            RunError::RejectedToken
        }
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => {
            RunError::RejectedToken
        }
        _ => RunError::Connection(text),
    }
}

fn refused_token(e: RestError) -> RunError {
    match e {
        RestError::Refused { status: 401, .. } => RunError::RejectedToken,
        other => RunError::Connection(other.to_string()),
    }
}

/// Uploads the slash commands (to `guild`, or globally), trying `attempts` times with waits of
/// 1, 2, 4, … seconds while Discord fails or cannot be reached. A refusal (4xx) is final at
/// once: trying the same upload again would not help.
async fn register(
    rest: &Rest,
    app: u64,
    guild: Option<u64>,
    commands: &[poise::Command<Data, BotError>],
    attempts: u32,
) -> Result<(), RunError> {
    let body = serde_json::to_value(poise::builtins::create_application_commands(commands))
        .map_err(|e| RunError::Registration(format!("cannot encode the commands: {e}")))?;
    let path = match guild {
        Some(g) => format!("/applications/{app}/guilds/{g}/commands"),
        None => format!("/applications/{app}/commands"),
    };
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=attempts.max(1) {
        match rest
            .send(Method::PUT, &path, Body::Json(body.clone()))
            .await
        {
            Ok(_) => {
                tracing::info!(guild = ?guild, attempt, "commands registered");
                return Ok(());
            }
            Err(e @ RestError::Refused { status, .. }) if status < 500 => {
                return Err(RunError::Registration(e.to_string()));
            }
            Err(e) if attempt == attempts.max(1) => {
                return Err(RunError::Registration(format!(
                    "{e}; tried {attempt} times"
                )));
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, retry_in = ?wait, "registering commands failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
    Ok(())
}

/// Tells the user of every generation a restart interrupted, by editing its message while its
/// token is valid.
async fn tell_interrupted(service: &Service, rest: &Rest) -> Result<(), RunError> {
    let interrupted = service
        .recover_jobs()
        .await
        .map_err(|e| RunError::Connection(format!("cannot recover interrupted jobs: {e}")))?;
    if !interrupted.is_empty() {
        tracing::warn!(
            count = interrupted.len(),
            "marked generations interrupted by a restart as failed"
        );
    }
    for job in interrupted {
        let Some(stored) = &job.reply else { continue };
        let mut view = views::View::public(format!(
            "**{}** — {} · ⚠️ tastebud restarted while this was rendering, so it was stopped. \
             Please run it again.",
            views::clip(&views::escape(&job.prompt), 1500),
            views::mention(job.user)
        ));
        view.ping = None;
        match interaction::Reply::edit_stored(rest, stored, &view).await {
            Ok(edited) => tracing::info!(job = job.job, edited, "told an interrupted job"),
            Err(e) => {
                tracing::warn!(job = job.job, error = %e, "could not tell an interrupted job")
            }
        }
    }
    Ok(())
}

/// Connects to Discord and serves commands until the connection ends or `shutdown` completes
/// (then every shard is closed before this returns).
pub async fn run(
    service: Service,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let token = options.token.trim().to_string();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(RunError::MalformedToken);
    }
    let config = service.config().discord.clone();
    let proxy = options
        .rest_proxy
        .as_deref()
        .or(Some(config.rest_proxy.as_str()))
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let rest = Arc::new(Rest::new(&token, proxy).map_err(|e| RunError::Connection(e.to_string()))?);
    // Check the token first: if the gateway lookup fails, serenity falls back to Discord's
    // public gateway address and retries forever, which hides a rejected token.
    rest.send(Method::GET, "/users/@me", Body::None)
        .await
        .map_err(refused_token)?;
    let application: Value = rest
        .send(Method::GET, "/oauth2/applications/@me", Body::None)
        .await
        .map_err(refused_token)?;
    let app = application["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(|| RunError::Connection("Discord did not say the application id".into()))?;
    let guild = options.guild_id.or(match config.guild_id {
        0 => None,
        id => Some(id),
    });
    let commands = commands::all();
    // Registered before connecting, with retries, and never inside poise's `setup`: that runs
    // once and, when it fails, leaves a bot online that answers nothing.
    register(&rest, app, guild, &commands, config.register_attempts).await?;
    tell_interrupted(&service, &rest).await?;

    let mut http = serenity::HttpBuilder::new(&token).application_id(app.into());
    if let Some(base) = proxy {
        http = http
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    let attachments = attachments::Downloader::new(max_attachment_bytes())
        .map_err(|e| RunError::Connection(format!("cannot set up downloads: {e}")))?;
    let data = Data {
        service,
        attachments,
        rest,
    };
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands,
            on_error: |e| Box::pin(error::on_error(e)),
            event_handler: |framework, event| Box::pin(on_event(framework, event)),
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |_ctx, ready, _framework| {
            Box::pin(async move {
                tracing::info!(user = %ready.user.name, shard = ?ready.shard, "connected to Discord");
                Ok(data)
            })
        })
        .build();
    // Interactions reach a bot whatever its intents: ask for no events at all.
    let intents = serenity::GatewayIntents::empty();
    let mut client = serenity::ClientBuilder::new_with_http(http.build(), intents)
        .framework(framework)
        .await
        .map_err(classify)?;
    let shards = client.shard_manager.clone();
    let serve = async {
        match options.shards.or(config.shards) {
            // serenity 0.12 reads the range's end as the last shard (inclusive).
            Some(r) => client.start_shard_range(r.first..r.last, r.total).await,
            None => client.start_autosharded().await,
        }
    };
    tokio::select! {
        served = serve => served.map_err(classify),
        () = shutdown => {
            tracing::info!("shutting down");
            shards.shutdown_all().await;
            Ok(())
        }
    }
}

/// The largest attachment downloaded: the largest image the service accepts, so that a file
/// too large for it is refused before it is fetched.
fn max_attachment_bytes() -> u64 {
    crate::service::Service::max_upload_bytes() as u64
}

async fn on_event(
    framework: poise::FrameworkContext<'_, Data, BotError>,
    event: &serenity::FullEvent,
) -> Result<(), BotError> {
    if let serenity::FullEvent::InteractionCreate {
        interaction: serenity::Interaction::Component(click),
    } = event
    {
        components::handle(framework.user_data, click).await;
    }
    Ok(())
}
