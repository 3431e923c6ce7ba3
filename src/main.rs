//! The `tastebud` command line: run the bot, prepare the database, and operator tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tastebud::config::Config;
use tastebud::store::{DB_FILE, Store};

/// tastebud: Midjourney-style personalization for any image generator, as a Discord bot.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// A TOML file whose keys override config/default.toml (TASTEBUD_* variables override both).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the database and image files live.
    #[arg(long, global = true, value_name = "DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the Discord bot (needs DISCORD_TOKEN in the environment).
    Run {
        /// Register slash commands in this guild only (instant; handy while developing).
        /// Overrides `discord.guild_id` in the configuration.
        #[arg(long, value_name = "ID")]
        guild: Option<u64>,
    },
    /// Create the database, or bring it up to date, and exit.
    Migrate,
    /// Show what a prompt will do: one JSON object per job, or the error (exit code 2).
    Parse {
        /// The prompt, as typed after /imagine (quote it).
        prompt: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    if let Command::Parse { prompt } = &cli.command {
        return Ok(parse(prompt, &config));
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Migrate => migrate(&cli.data_dir).await,
            Command::Run { guild } => run_bot(config, &cli.data_dir, guild).await,
            Command::Parse { .. } => unreachable!("handled before the runtime starts"),
        }
    })
}

/// `tastebud parse "PROMPT"`: the prompt as JSON (exit 0), or why it is refused (exit 2).
fn parse(prompt: &str, config: &Config) -> ExitCode {
    match tastebud::prompt::parse_report(prompt, &tastebud::prompt::Limits::from_config(config)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

async fn migrate(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let store = Store::open_in(data_dir).await?;
    let version = store.schema_version().await?;
    store.close().await;
    println!(
        "Database {} is ready (schema version {version}).",
        data_dir.join(DB_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_bot(config: Config, data_dir: &Path, guild: Option<u64>) -> anyhow::Result<ExitCode> {
    let store = Store::open_in(data_dir).await?;
    println!(
        "Configuration and database {} are fine; personalization versions: {}.",
        data_dir.join(DB_FILE).display(),
        config.personalization.versions.join(", ")
    );
    let token = std::env::var("DISCORD_TOKEN").unwrap_or_default();
    if token.trim().is_empty() {
        eprintln!(
            "tastebud needs a Discord bot token to run: set DISCORD_TOKEN in the environment \
             (see the README, \"Discord setup\")."
        );
        return Ok(ExitCode::FAILURE);
    }
    let service = tastebud::service::Service::new(store, config);
    let options = tastebud::discord::Options {
        token,
        guild_id: guild,
        api_base: None,
    };
    tastebud::discord::run(service, options).await?;
    Ok(ExitCode::SUCCESS)
}
