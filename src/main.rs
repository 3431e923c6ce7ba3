//! The `tastebud` command line: run the bot, prepare the database, and operator tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tastebud::config::Config;
use tastebud::render::images::storage::ImageStore;
use tastebud::store::Store;

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
        /// Run only these gateway shards, e.g. 0-1/4 (shards 0 and 1 of 4), for several bot
        /// processes. Overrides `discord.shards`; by default all, as many as Discord recommends.
        #[arg(long, value_name = "FIRST-LAST/TOTAL")]
        shards: Option<tastebud::config::ShardRange>,
    },
    /// Render queued generations: on several machines, run one next to each group of image
    /// servers, with the bot's database and version settings. Stops on Ctrl-C or SIGTERM;
    /// what it was drawing is taken over by another worker once its lease runs out.
    Worker {
        /// Only these versions, comma-separated (e.g. 7,6.1); by default every version.
        #[arg(long, value_name = "VERSIONS", value_delimiter = ',')]
        versions: Vec<String>,
    },
    /// Create the database, or bring it up to date, and exit. With --to, copy everything in it
    /// into another, empty database (e.g. from SQLite to PostgreSQL), verified by counts.
    Migrate {
        /// The database to copy into: postgres://USER@HOST:PORT/NAME or sqlite:PATH. It is
        /// created or brought up to date first, and must hold no data.
        #[arg(long, value_name = "URL")]
        to: Option<String>,
        /// Also copy every image file into this image store (as images.url takes it, e.g.
        /// s3://BUCKET/PREFIX with AWS_* in the environment), verified by hash and count.
        #[arg(long, value_name = "URL")]
        images_to: Option<String>,
    },
    /// Show what a prompt will do: one JSON object per job, or the error (exit code 2).
    Parse {
        /// The prompt, as typed after /imagine (quote it).
        prompt: String,
    },
    /// Print each image's style vector (axis name → raw value) as one JSON line per file.
    Style {
        /// PNG or JPEG files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Draw four pictures with the built-in renderer and write their 2×2 grid as a PNG.
    Render {
        /// The prompt: its words choose the scene and palette.
        prompt: String,
        /// Seed (default: random, printed).
        #[arg(long)]
        seed: Option<u64>,
        /// A knob setting NAME=VALUE, each in -1..1 (saturation, contrast, brightness, warmth,
        /// detail, softness, harmony, vignette, composition); repeatable.
        #[arg(long = "knob", value_name = "NAME=VALUE")]
        knobs: Vec<String>,
        /// Side of each picture in pixels (default: render.size from the configuration).
        #[arg(long)]
        size: Option<u32>,
        /// Where to write the PNG.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Learn how the version's backend knobs move the style vector, store it, report the fit.
    Calibrate {
        /// The version to calibrate, e.g. 7 or "niji 6".
        #[arg(long)]
        version: String,
    },
    /// Measure how well tastebud learns a rater's taste: accuracy on held-out pairs as votes
    /// grow, and how often the rater prefers `--p` images. Writes report.json and plots.
    Eval {
        /// `builtin:NAME` (bright, minimal, moody, goldilocks, vivid-warm), `family:SPLIT:K`
        /// (the rater family: SPLIT tune, report or community, K from 1; `family:SPLIT:A-B` for
        /// several), or a command run through `sh -c` that answers JSON lines (see the README).
        /// Repeat it to evaluate several raters at once, each into a folder of --out of its
        /// own, over one pool and community per strategy.
        #[arg(long, required_unless_present = "combine")]
        rater: Vec<String>,
        /// Pairs the rater ranks (skips not counted).
        #[arg(long, default_value_t = 200)]
        votes: u32,
        /// How pairs are chosen: active, random, or both (two runs, compared).
        #[arg(long, default_value = "both")]
        strategy: String,
        /// The version to evaluate (default: personalization.default_version).
        #[arg(long)]
        version: Option<String>,
        /// Held-out pairs the rater answers first, for accuracy.
        #[arg(long, default_value_t = tastebud::eval::DEFAULT_HOLDOUT)]
        holdout: u32,
        /// Seed of the held-out pairs, the rater's noise and the win-rate sides.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Grids of four compared per stylize value for the win rate.
        #[arg(long, default_value_t = tastebud::eval::DEFAULT_WIN_GRIDS)]
        win_grids: u32,
        /// Stylize values whose win rate is measured, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = tastebud::eval::STYLIZE)]
        stylize: Vec<u32>,
        /// First let this many raters of the family's community split rank, each as a user of
        /// their own, so the rater is learnt under the community prior they teach.
        #[arg(long, default_value_t = 0)]
        community: u32,
        /// Pairs each community member ranks.
        #[arg(long, default_value_t = tastebud::eval::DEFAULT_COMMUNITY_VOTES)]
        community_votes: u32,
        /// Instead of running, combine the report.json of these run directories into one
        /// table (combined.md) and one plot of learning curves in --out.
        #[arg(long, num_args = 1.., value_name = "DIR")]
        combine: Vec<PathBuf>,
        /// Where report.json and the plots go.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Delete what nothing needs any more: old unkept generations, unanswered pairs, finished
    /// jobs, image files no row names and leftover temporary files (see `[retention]`). Codes
    /// and everything they need are never deleted. The running bot does this by itself every
    /// `retention.gc_every_minutes`.
    Gc {
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Also read every kept image file and check that it holds the right bytes.
        #[arg(long)]
        verify: bool,
    },
    /// Check every Stable Diffusion server of every version: does it answer, and does it have
    /// the configured model? Prints each server's state; exit code 3 if any is down.
    Servers,
    /// The pools of ranking images.
    Pool {
        #[command(subcommand)]
        action: PoolAction,
    },
}

#[derive(Debug, Subcommand)]
enum PoolAction {
    /// Render a version's ranking pool with its backend (resumes where it stopped).
    Build {
        /// The version, e.g. 7 or "niji 6".
        #[arg(long)]
        version: String,
        /// Images the pool should hold (default: ranking.pool_prompts × ranking.pool_styles).
        #[arg(long)]
        count: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The token is the one secret tastebud is given; the log hides it (and the others that
    // libraries print at trace level: see `logging`).
    let redactor = tastebud::logging::init(std::env::var("DISCORD_TOKEN").ok());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", redactor.redact(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Parse { prompt } => Ok(parse(&prompt, &config)),
        Command::Style { files } => {
            println!("{}", tastebud::cli::style_files(&files)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            prompt,
            seed,
            knobs,
            size,
            out,
        } => {
            let args = tastebud::cli::RenderArgs {
                prompt,
                seed: seed.unwrap_or_else(rand::random),
                knobs,
                size: size.unwrap_or(config.render.size),
            };
            println!("{}", tastebud::cli::render_to_file(&args, &out)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { to, images_to } => block_on(migrate(
            &config,
            &data_dir,
            to.as_deref(),
            images_to.as_deref(),
        )),
        Command::Run { guild, shards } => block_on(run_bot(config, &data_dir, guild, shards)),
        Command::Worker { versions } => block_on(async {
            let store = Store::open_configured(&config.database.url, &data_dir).await?;
            println!("Rendering queued generations from {}.", store.place());
            let service = tastebud::service::Service::new(store.clone(), config, &data_dir)?;
            let options = tastebud::service::WorkerOptions {
                name: tastebud::service::process_name(),
                versions,
            };
            let worked = service.work(options, stop_signal()).await;
            store.close().await;
            worked.map_err(|e| anyhow::anyhow!(e.for_operator()))?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Eval {
            rater,
            votes,
            strategy,
            version,
            holdout,
            seed,
            win_grids,
            stylize,
            community,
            community_votes,
            combine,
            out,
        } => {
            if !combine.is_empty() {
                print!("{}", tastebud::eval::combine(&combine, &out)?);
                return Ok(ExitCode::SUCCESS);
            }
            let raters: Vec<String> = rater
                .iter()
                .flat_map(|r| tastebud::eval::expand_raters(r))
                .collect();
            let Some(first) = raters.first().cloned() else {
                anyhow::bail!("--rater is needed unless --combine is given");
            };
            let strategies = match strategy.as_str() {
                "both" => vec!["active".to_string(), "random".to_string()],
                "active" | "random" => vec![strategy],
                other => anyhow::bail!("--strategy {other:?}: use active, random or both"),
            };
            let options = tastebud::eval::Options {
                rater: first,
                votes,
                strategies,
                version,
                holdout,
                seed,
                out,
                win_grids,
                stylize,
                community,
                community_votes,
            };
            block_on(async {
                if raters.len() == 1 {
                    let report = tastebud::eval::run(&config, &options).await?;
                    println!("{}", tastebud::eval::summary(&report));
                    println!("Wrote {}", options.out.join("report.json").display());
                } else {
                    let dir = |spec: &str| tastebud::eval::rater_dir(&options.out, spec);
                    let reports = tastebud::eval::run_many(&config, &options, &raters, dir).await?;
                    for report in &reports {
                        println!("{}", tastebud::eval::summary(report));
                    }
                    println!(
                        "Wrote {} reports under {}",
                        reports.len(),
                        options.out.display()
                    );
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Servers => block_on(async {
            let (report, all_up) = tastebud::cli::servers(&config).await?;
            print!("{report}");
            Ok(if all_up {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }),
        Command::Gc { dry_run, verify } => block_on(async {
            let store = Store::open_configured(&config.database.url, &data_dir).await?;
            let service = tastebud::service::Service::new(store.clone(), config, &data_dir)?;
            let report = service
                .collect_garbage(
                    tastebud::service::GcOptions { dry_run, verify },
                    std::time::SystemTime::now(),
                )
                .await;
            store.close().await;
            let report = report.map_err(|e| anyhow::anyhow!(e.for_operator()))?;
            println!("{report}");
            Ok(if report.broken.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }),
        Command::Pool {
            action: PoolAction::Build { version, count },
        } => block_on(build_pool(config, &data_dir, version, count)),
        Command::Calibrate { version } => block_on(async {
            let store = Store::open_configured(&config.database.url, &data_dir).await?;
            let service = tastebud::service::Service::new(store.clone(), config, &data_dir)?;
            let report = tastebud::cli::calibrate(&service, &version).await;
            store.close().await;
            println!("{}", report?);
            Ok(ExitCode::SUCCESS)
        }),
    }
}

async fn build_pool(
    config: Config,
    data_dir: &Path,
    version: String,
    count: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let store = Store::open_configured(&config.database.url, data_dir).await?;
    let service = tastebud::service::Service::new(store.clone(), config, data_dir)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "pool {msg} [{bar:30}] {pos}/{len} images ({eta} left)",
        )?
        .progress_chars("=> "),
    );
    bar.set_message(format!("for version {version}"));
    let tick = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let added = service.build_pool(&version, count, &tick).await;
    bar.finish_and_clear();
    store.close().await;
    let added = added.map_err(|e| match e {
        tastebud::service::Error::Render(_) => anyhow::anyhow!(
            "{}\nThe images made so far are kept: run the build again to resume.",
            e.for_operator()
        ),
        other => anyhow::anyhow!(other.for_operator()),
    })?;
    println!("The pool for version {version} is complete; {added} images were added.");
    Ok(ExitCode::SUCCESS)
}

/// Runs async work on a fresh multi-threaded runtime.
fn block_on(work: impl Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(work)
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

async fn migrate(
    config: &Config,
    data_dir: &Path,
    to: Option<&str>,
    images_to: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let store = Store::open_configured(&config.database.url, data_dir).await?;
    let version = store.schema_version().await?;
    println!(
        "Database {} is ready (schema version {version}).",
        store.place()
    );
    if let Some(url) = to {
        let target = Store::connect(url).await?;
        println!("Copying everything into {} …", target.place());
        let copied = store
            .copy_into(&target, &|table, rows| println!("  {table}: {rows} rows"))
            .await;
        target.close().await;
        let copied = copied?;
        let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
        println!(
            "Copied {rows} rows in {} tables; every table has as many rows in both databases. \
             Point database.url at {} to use it.",
            copied.tables.len(),
            target.place()
        );
    }
    store.close().await;
    if let Some(url) = images_to {
        let source = ImageStore::open(&config.images.url, data_dir)?;
        let target = ImageStore::open(url, data_dir)?;
        println!(
            "Copying the image files of {} into {} …",
            source.place(),
            target.place()
        );
        let copied = source
            .copy_into(&target, &|n| {
                if n % 1000 == 0 {
                    println!("  {n} files");
                }
            })
            .await?;
        println!(
            "Copied {copied} image files; every one is in {}. Set images.url to it to use it.",
            target.place()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM (what `systemctl stop` and `docker stop` send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_bot(
    config: Config,
    data_dir: &Path,
    guild: Option<u64>,
    shards: Option<tastebud::config::ShardRange>,
) -> anyhow::Result<ExitCode> {
    let store = Store::open_configured(&config.database.url, data_dir).await?;
    println!(
        "Configuration and database {} are fine; personalization versions: {}.",
        store.place(),
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
    let every = u64::from(config.retention.gc_every_minutes) * 60;
    // A restarted bot process stops the generations it was waiting for, and only those; the
    // one process with every shard keeps the default (empty) name.
    let owner = match shards.or(config.discord.shards) {
        Some(r) => format!("shards {}-{}/{}", r.first, r.last, r.total),
        None => String::new(),
    };
    let service = tastebud::service::Service::new(store, config, data_dir)?.with_owner(owner);
    service.start_worker();
    if every > 0 {
        tokio::spawn(collect_garbage_every(
            service.clone(),
            std::time::Duration::from_secs(every),
        ));
    }
    let options = tastebud::discord::Options {
        token,
        guild_id: guild,
        shards,
        rest_proxy: None,
    };
    tastebud::discord::run(service, options, stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Collects garbage now and then every `period`, logging what it did.
async fn collect_garbage_every(service: tastebud::service::Service, period: std::time::Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        match service
            .collect_garbage(
                tastebud::service::GcOptions::default(),
                std::time::SystemTime::now(),
            )
            .await
        {
            Ok(report) if !report.broken.is_empty() => tracing::warn!(%report, "garbage collected"),
            Ok(report) => tracing::info!(%report, "garbage collected"),
            Err(e) => tracing::error!(
                error = %e.for_operator(),
                "garbage collection failed"
            ),
        }
    }
}
