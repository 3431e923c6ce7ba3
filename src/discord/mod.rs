//! The Discord frontend: poise commands that turn interactions into service calls.
//!
//! Commands live in `commands/`, one module per group; clicks on buttons and menus are
//! dispatched by their custom ids (`ids.rs`) from the global event handler, so they keep
//! working after a restart. Messages are plain [`views::View`]s, turned into Discord's builders
//! only in `reply.rs`. No poise or serenity type leaves this module.

mod attachments;
mod commands;
mod components;
mod deferred;
mod error;
mod ids;
mod reply;
pub mod views;

use poise::serenity_prelude as serenity;

pub use error::BotError;

use crate::service::Service;

/// Shared state of every command and click.
pub struct Data {
    pub service: Service,
    /// Fetches files attached to commands (moodboard uploads).
    pub attachments: attachments::Downloader,
}

/// How to connect.
#[derive(Clone)]
pub struct Options {
    /// The bot token (from `DISCORD_TOKEN`; never logged).
    pub token: String,
    /// Register commands in this guild only (instant); `None` registers them globally.
    pub guild_id: Option<u64>,
    /// Send REST requests to this base URL instead of Discord (serenity's proxy setting), e.g.
    /// `http://127.0.0.1:3000`. For tests against a local Discord.
    pub api_base: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("token", &"<hidden>")
            .field("guild_id", &self.guild_id)
            .field("api_base", &self.api_base)
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

/// Connects to Discord and serves commands until the connection ends.
pub async fn run(service: Service, options: Options) -> Result<(), RunError> {
    let token = options.token.trim().to_string();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(RunError::MalformedToken);
    }
    let mut http = serenity::HttpBuilder::new(&token);
    if let Some(base) = &options.api_base {
        http = http
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    let http = http.build();
    // Check the token first: if the gateway lookup fails, serenity falls back to Discord's
    // public gateway address and retries forever, which hides a rejected token.
    http.get_current_user().await.map_err(classify)?;
    let attachments = attachments::Downloader::new(max_attachment_bytes())
        .map_err(|e| RunError::Connection(format!("cannot set up downloads: {e}")))?;
    let guild = options
        .guild_id
        .or(match service.config().discord.guild_id {
            0 => None,
            id => Some(id),
        });
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |e| Box::pin(error::on_error(e)),
            event_handler: |framework, event| Box::pin(on_event(framework, event)),
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                match guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(ctx, commands, serenity::GuildId::new(g))
                            .await?
                    }
                    None => poise::builtins::register_globally(ctx, commands).await?,
                }
                tracing::info!(user = %ready.user.name, guild = ?guild, "connected to Discord; commands registered");
                Ok(Data {
                    service,
                    attachments,
                })
            })
        })
        .build();
    let intents = serenity::GatewayIntents::non_privileged();
    let mut client = serenity::ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await
        .map_err(classify)?;
    client.start().await.map_err(classify)
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
        components::handle(framework.serenity_context, framework.user_data, click).await?;
    }
    Ok(())
}
