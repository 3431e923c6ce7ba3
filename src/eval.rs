//! `tastebud eval`: the whole learning loop against a rater, measured.
//!
//! A rater answers pairs of image files. It is a built-in simulated rater (`builtin:NAME`, a
//! hidden taste over the style axes with Bradley–Terry noise), a member of the rater family
//! (`family:SPLIT:K`, a hidden taste over picture statistics measured apart from the style
//! descriptor: `taste::family`), or any program run through `sh -c` that speaks JSON lines:
//! tastebud writes
//! `{"id": "…", "left": "/abs/a.png", "right": "/abs/b.png", "prompt": "…"}` and reads
//! `{"id": "…", "choice": "left" | "right" | "skip"}`.
//!
//! The run drives the real service on a fresh database in a temp dir: the rater ranks pairs
//! chosen by the configured strategy; after 10, 20, 50, 100, 200 … votes the profile's code
//! predicts held-out pairs the rater answered at the start (accuracy); at the end the rater
//! compares `--p CODE --s S` with the plain image of the same prompt and seed, sides shuffled,
//! for S = 0, 100, 250, 1000 (win rate).
//!
//! With `--community N`, N raters of the family's `community` split first rank on the same
//! database as other users, so the rater is learnt under the prior their profiles teach.
//!
//! Every figure comes with its uncertainty: a binomial standard error for shares of answers,
//! and for simulated raters the *expected* share (the mean probability, under the rater's own
//! noise model, of the answer counted), which is free of the rater's coin flips and whose
//! standard error is only that of the sample of pairs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::config::Config;
use crate::domain::{Choice, Place, UserId};
use crate::render::backend::no_progress;
use crate::render::chart::{LineOptions, Scale, Series, line_chart_with};
use crate::render::images::files::{image_path, load_image, write_png};
use crate::render::probe::{PROBE_DIM, PROBE_STATS, probe};
use crate::render::style::{axis_names, describe};
use crate::service::{Imagine, Service};
use crate::store::Store;
use crate::taste::family;
use crate::taste::quadratic::utility;
use crate::taste::raters::{Rater as Simulated, builtin, builtin_name};
use crate::taste::standardize::Standardizer;

/// Votes after which accuracy is measured (those not above `--votes`), then every 100.
const CHECKPOINTS: [u32; 5] = [10, 20, 50, 100, 200];
/// Stylize values whose win rate is measured.
pub const STYLIZE: [u32; 4] = [0, 100, 250, 1000];
/// Prompts for the win-rate comparisons (not pool prompts).
const WIN_PROMPTS: &[&str] = &[
    "a red fox in tall grass",
    "a teapot on a wooden table",
    "a sailboat on a calm sea",
    "a street market at noon",
    "a robot reading a book",
    "a bowl of fruit by a window",
];
/// The user the evaluation ranks as.
const EVAL_USER: UserId = UserId(1);
/// The user whose `--p` images are compared (someone else's code, as any user would use it).
const VIEWER: UserId = UserId(2);
/// Community member `i` (1, 2, …) ranks as this user id plus `i`.
const COMMUNITY_USERS: u64 = 1000;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct Options {
    /// `builtin:NAME` or a command line for `sh -c`.
    pub rater: String,
    pub votes: u32,
    /// Strategies to run, each on its own fresh database.
    pub strategies: Vec<String>,
    /// Version to evaluate (default: the configured default version).
    pub version: Option<String>,
    /// Held-out pairs answered before ranking.
    pub holdout: u32,
    pub seed: u64,
    /// Where `report.json` and the plot go.
    pub out: PathBuf,
    /// Comparisons per stylize value (each runs one prompt as a grid of 4).
    pub win_grids: u32,
    /// Stylize values whose win rate is measured (default [`STYLIZE`]).
    pub stylize: Vec<u32>,
    /// Raters of the family's `community` split who rank before the rater (0: none).
    pub community: u32,
    /// Pairs each of them ranks.
    pub community_votes: u32,
}

impl Options {
    /// Options with the defaults of `tastebud eval` for everything but the rater and `out`.
    pub fn new(rater: &str, out: &Path) -> Options {
        Options {
            rater: rater.to_string(),
            votes: 200,
            strategies: vec!["active".into(), "random".into()],
            version: None,
            holdout: DEFAULT_HOLDOUT,
            seed: 1,
            out: out.to_path_buf(),
            win_grids: DEFAULT_WIN_GRIDS,
            stylize: STYLIZE.to_vec(),
            community: 0,
            community_votes: DEFAULT_COMMUNITY_VOTES,
        }
    }
}

/// Held-out pairs by default: a share of answers near 0.75 is then good to ±1 point (one
/// standard error), and an expected share to a fraction of that.
pub const DEFAULT_HOLDOUT: u32 = 2000;
/// Grids of four per stylize value by default: 100 comparisons, whose expected win rate (for
/// simulated raters) is good to about ±1 point and whose answered one to about ±3.
pub const DEFAULT_WIN_GRIDS: u32 = 25;
/// Pairs each community member ranks by default.
pub const DEFAULT_COMMUNITY_VOTES: u32 = 100;

/// Everything that stops an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Service(#[from] crate::service::Error),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Render(#[from] crate::render::RenderError),
    #[error("the rater: {0}")]
    Rater(String),
    #[error("{0}")]
    Setup(String),
}

/// The folder of the evaluation's pictures (its own temp folder; raters read the files).
fn pictures(service: &Service) -> Result<&Path, EvalError> {
    service
        .images()
        .folder_path()
        .ok_or_else(|| EvalError::Setup("the evaluation's pictures are not in a folder".into()))
}

/// The report, written as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub rater: String,
    pub version: String,
    pub votes: u32,
    pub holdout: u32,
    pub seed: u64,
    /// For a simulated rater, its hidden taste in words.
    pub rater_description: Option<String>,
    /// Community members who ranked first, and the pairs each ranked.
    pub community: u32,
    pub community_votes: u32,
    pub runs: Vec<StrategyRun>,
}

/// One strategy's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategyRun {
    pub strategy: String,
    /// Held-out accuracy after each checkpoint's votes.
    pub accuracy: Vec<AccuracyPoint>,
    /// For a simulated rater, the accuracy of its own hidden taste on the same held-out answers
    /// (its noise makes some answers unpredictable): the best a profile could reach.
    pub ceiling: Option<f64>,
    /// For a simulated rater, the expected ceiling: the mean over the held-out pairs of the
    /// probability that it answers as its hidden taste would.
    pub ceiling_expected: Option<f64>,
    /// How often the rater chose the `--p` image over the plain one, per stylize.
    pub win_rate: Vec<WinRate>,
    /// Pairs the rater skipped while ranking.
    pub skipped: u32,
    /// The final profile's leanings, strongest first: (axis, weight per standard deviation).
    pub favoured: Vec<(String, f64)>,
    pub avoided: Vec<(String, f64)>,
    /// Axes it likes in moderation: (axis, peak in standard deviations from typical).
    pub moderate: Vec<(String, f64)>,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccuracyPoint {
    pub votes: u32,
    pub accuracy: f64,
    /// Its binomial standard error, `√(a(1 − a)/pairs)`.
    pub stderr: f64,
    /// Held-out pairs the rater did not skip.
    pub pairs: u32,
    /// For a simulated rater, the expected accuracy: the mean probability, under its noise
    /// model, that it answers a held-out pair as the profile predicts; `null` otherwise.
    pub expected: Option<f64>,
    /// The standard error of `expected` over the sample of held-out pairs.
    pub expected_stderr: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WinRate {
    pub stylize: u32,
    pub win_rate: f64,
    /// Its binomial standard error.
    pub stderr: f64,
    pub comparisons: u32,
    /// For a built-in rater, the mean probability, under its own noise model, that it prefers
    /// the `--p` image: the win rate endless answers to the same comparisons would give,
    /// without the coin flips that make `win_rate` uncertain by several points.
    pub expected: Option<f64>,
    /// The standard error of `expected` over the sample of comparisons.
    pub expected_stderr: Option<f64>,
}

/// A share of `n` and its binomial standard error.
fn share(hits: usize, n: usize) -> (f64, f64) {
    let p = ratio(hits, n);
    let se = if n == 0 {
        0.0
    } else {
        (p * (1.0 - p) / n as f64).sqrt()
    };
    (p, se)
}

/// The mean of `values` and its standard error; `None` for no values.
fn mean_se(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, (var / n).sqrt()))
}

/// Runs the evaluation of `options.rater` and writes `report.json`, `report.md` and the plots
/// into `options.out`. `config` is the base configuration; the evaluation changes only what it
/// must (strategy, checkpoints every 10 votes, no cooldown).
pub async fn run(config: &Config, options: &Options) -> Result<Report, EvalError> {
    let raters = [options.rater.clone()];
    let mut reports = run_many(config, options, &raters, |_| options.out.clone()).await?;
    reports
        .pop()
        .ok_or_else(|| EvalError::Setup("no rater was evaluated".into()))
}

/// `family:SPLIT:A-B` as the raters `family:SPLIT:A` … `family:SPLIT:B`; any other spec as
/// itself.
pub fn expand_raters(spec: &str) -> Vec<String> {
    if let Some(rest) = spec.strip_prefix("family:")
        && let Some((split, range)) = rest.split_once(':')
        && let Some((a, b)) = range.split_once('-')
        && let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>())
        && a <= b
    {
        return (a..=b).map(|k| format!("family:{split}:{k}")).collect();
    }
    vec![spec.to_string()]
}

/// The directory a rater's report goes to when several are evaluated at once: `out/SPEC` with
/// every character but letters, digits, `-` and `_` replaced by `-`.
pub fn rater_dir(out: &Path, spec: &str) -> PathBuf {
    let name: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.join(name)
}

/// Evaluates several raters with the same options (`options.rater` aside), each into
/// `dir(rater)`. Per strategy, the pool is built and the community (if any) ranks once; each
/// rater then starts from a copy of that database, so that raters never see each other.
pub async fn run_many(
    config: &Config,
    options: &Options,
    raters: &[String],
    dir: impl Fn(&str) -> PathBuf,
) -> Result<Vec<Report>, EvalError> {
    let version = options
        .version
        .clone()
        .unwrap_or_else(|| config.personalization.default_version.clone());
    let mut runs: Vec<Vec<StrategyRun>> = vec![Vec::new(); raters.len()];
    let mut descriptions: Vec<Option<String>> = vec![None; raters.len()];
    for strategy in &options.strategies {
        let prepared = prepare(config, options, &version, strategy).await?;
        for (k, rater) in raters.iter().enumerate() {
            tracing::info!(rater = %rater, strategy = %strategy, "evaluating");
            let (run, about) = run_rater(&prepared, options, rater, &version, strategy).await?;
            runs[k].push(run);
            descriptions[k] = about;
        }
    }
    let mut reports = Vec::new();
    for ((rater, runs), description) in raters.iter().zip(runs).zip(descriptions) {
        let out = dir(rater);
        std::fs::create_dir_all(&out)
            .map_err(|e| EvalError::Setup(format!("cannot create {}: {e}", out.display())))?;
        let report = Report {
            rater: rater.clone(),
            version: version.clone(),
            votes: options.votes,
            holdout: options.holdout,
            seed: options.seed,
            rater_description: description,
            community: options.community,
            community_votes: options.community_votes,
            runs,
        };
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| EvalError::Setup(format!("cannot write the report: {e}")))?;
        let path = out.join("report.json");
        std::fs::write(&path, json)
            .map_err(|e| EvalError::Setup(format!("cannot write {}: {e}", path.display())))?;
        let path = out.join("report.md");
        std::fs::write(&path, markdown(&report))
            .map_err(|e| EvalError::Setup(format!("cannot write {}: {e}", path.display())))?;
        plot(&report, &out)?;
        reports.push(report);
    }
    Ok(reports)
}

/// A rater spec short enough for a chart's title: simulated raters as they are, a command as
/// its program's file name and first arguments.
pub fn short_rater(spec: &str) -> String {
    if builtin_name(spec).is_some() || family::parse_spec(spec).is_some() {
        return spec.to_string();
    }
    let mut words = spec.split_whitespace().map(|w| match w.rsplit_once('/') {
        Some((_, file)) if !file.is_empty() => file,
        _ => w,
    });
    let mut out = String::new();
    for w in words.by_ref() {
        if out.chars().count() + w.chars().count() > 32 {
            out.push_str(" …");
            return out;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// The accuracy a chart and a table show: the expected one for a simulated rater (free of its
/// coin flips), else the share of answers; with its standard error.
fn shown(a: &AccuracyPoint) -> (f64, f64) {
    match (a.expected, a.expected_stderr) {
        (Some(e), Some(se)) => (e, se),
        _ => (a.accuracy, a.stderr),
    }
}

/// A series with a band of two standard errors each side.
fn series_with_band(name: String, points: &[(f64, f64, f64)]) -> Series {
    Series {
        name,
        points: points.iter().map(|&(x, y, _)| (x, y)).collect(),
        band: points
            .iter()
            .map(|&(x, y, se)| (x, y - 2.0 * se, y + 2.0 * se))
            .collect(),
    }
}

/// Writes `learning_curves.png` (held-out accuracy by votes, one line per strategy, with a
/// band of two standard errors, the axis from chance and the rater's ceiling where known) and
/// `win_rate.png` (how often `--p` wins, by stylize, and for a simulated rater how often it is
/// expected to).
fn plot(report: &Report, out: &Path) -> Result<(), EvalError> {
    let expected = |r: &StrategyRun| r.accuracy.iter().all(|a| a.expected.is_some());
    let curves: Vec<Series> = report
        .runs
        .iter()
        .map(|r| {
            let name = if expected(r) && !r.accuracy.is_empty() {
                format!("{} (expected)", r.strategy)
            } else {
                r.strategy.clone()
            };
            let points: Vec<(f64, f64, f64)> = r
                .accuracy
                .iter()
                .map(|a| {
                    let (y, se) = shown(a);
                    (f64::from(a.votes), y, se)
                })
                .collect();
            series_with_band(name, &points)
        })
        .collect();
    // Per strategy: the rater's answers, and (simulated raters) the expected win rate.
    let wins: Vec<Series> = report
        .runs
        .iter()
        .flat_map(|r| {
            let answers: Vec<(f64, f64, f64)> = r
                .win_rate
                .iter()
                .map(|w| (f64::from(w.stylize), w.win_rate, w.stderr))
                .collect();
            let expected: Vec<(f64, f64, f64)> = r
                .win_rate
                .iter()
                .filter_map(|w| Some((f64::from(w.stylize), w.expected?, w.expected_stderr?)))
                .collect();
            let answers = series_with_band(r.strategy.clone(), &answers);
            let expected = (!expected.is_empty())
                .then(|| series_with_band(format!("{} (expected)", r.strategy), &expected));
            std::iter::once(answers).chain(expected)
        })
        .collect();
    let community = if report.community > 0 {
        format!(", community of {}", report.community)
    } else {
        String::new()
    };
    let title = format!(
        "{} on {}{community}",
        short_rater(&report.rater),
        report.version
    );
    let ceiling = report
        .runs
        .iter()
        .find_map(|r| r.ceiling_expected.or(r.ceiling));
    if curves.iter().any(|c| !c.points.is_empty()) {
        let options = LineOptions {
            y_from: Some(0.5),
            guides: ceiling
                .map(|c| vec![(format!("rater's ceiling {c:.3}"), c)])
                .unwrap_or_default(),
        };
        let chart = line_chart_with(
            &format!("Held-out accuracy: {title}"),
            "votes",
            "accuracy (chance 0.5)",
            Scale::Log,
            &curves,
            &options,
        )?;
        write_png(&out.join("learning_curves.png"), &chart)?;
    }
    if wins.iter().any(|c| !c.points.is_empty()) {
        let chart = line_chart_with(
            &format!("--p wins over plain: {title}"),
            "stylize (--s)",
            "win rate",
            Scale::Linear,
            &wins,
            &LineOptions::default(),
        )?;
        write_png(&out.join("win_rate.png"), &chart)?;
    }
    Ok(())
}

/// The report as a short table for the terminal.
pub fn summary(report: &Report) -> String {
    let mut out = format!(
        "rater {} on version {}, {} held-out pairs{}\n",
        report.rater,
        report.version,
        report.holdout,
        community_note(report)
    );
    if let Some(d) = &report.rater_description {
        out.push_str(&format!("  {d}\n"));
    }
    for run in &report.runs {
        let acc: Vec<String> = run
            .accuracy
            .iter()
            .map(|a| {
                let expected = a
                    .expected
                    .map(|e| format!(" (expected {e:.3})"))
                    .unwrap_or_default();
                format!("{}→{:.3}±{:.3}{expected}", a.votes, a.accuracy, a.stderr)
            })
            .collect();
        let win: Vec<String> = run
            .win_rate
            .iter()
            .map(|w| {
                let expected = w
                    .expected
                    .map(|e| format!(" (expected {e:.2})"))
                    .unwrap_or_default();
                format!("s{}→{:.2}±{:.2}{expected}", w.stylize, w.win_rate, w.stderr)
            })
            .collect();
        let ceiling = run
            .ceiling
            .map(|c| format!(" (hidden taste: {c:.3})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:>6}: accuracy {}{ceiling}; win rate {}\n        {}\n",
            run.strategy,
            acc.join(" "),
            win.join(" "),
            run.summary
        ));
    }
    out
}

/// ", after a community of N raters ranked M pairs each", or nothing without a community.
fn community_note(report: &Report) -> String {
    if report.community > 0 {
        format!(
            ", after a community of {} raters ranked {} pairs each",
            report.community, report.community_votes
        )
    } else {
        String::new()
    }
}

/// `x ± se` with three decimals, or a dash.
fn pm(value: Option<(f64, f64)>) -> String {
    match value {
        Some((v, se)) => format!("{v:.3} ± {se:.3}"),
        None => "–".to_string(),
    }
}

/// The report as Markdown (`report.md`): every figure with its standard error.
pub fn markdown(report: &Report) -> String {
    let mut out = format!(
        "# `tastebud eval`: `{}` on version {}\n\n",
        report.rater, report.version
    );
    if let Some(d) = &report.rater_description {
        out.push_str(&format!("Hidden taste: {d}.\n\n"));
    }
    out.push_str(&format!(
        "Seed {}, {} votes, {} held-out pairs{}. Figures are `value ± standard error`; \
         *expected* figures (simulated raters) average the rater's own probability of the \
         answer counted, so their error is only that of the sample of pairs.\n\n",
        report.seed,
        report.votes,
        report.holdout,
        community_note(report)
    ));
    out.push_str("| strategy | votes | accuracy | expected accuracy |\n|---|---|---|---|\n");
    for run in &report.runs {
        for a in &run.accuracy {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                run.strategy,
                a.votes,
                pm(Some((a.accuracy, a.stderr))),
                pm(a.expected.zip(a.expected_stderr)),
            ));
        }
    }
    if let Some(run) = report.runs.first()
        && let Some(c) = run.ceiling
    {
        out.push_str(&format!(
            "\nCeiling (the hidden taste itself): {c:.3}{}.\n",
            run.ceiling_expected
                .map(|e| format!(", expected {e:.3}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(
        "\n| strategy | --s | win rate | expected win rate | comparisons |\n|---|---|---|---|---|\n",
    );
    for run in &report.runs {
        for w in &run.win_rate {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                run.strategy,
                w.stylize,
                pm(Some((w.win_rate, w.stderr))),
                pm(w.expected.zip(w.expected_stderr)),
                w.comparisons
            ));
        }
    }
    out
}

/// A run's group in a combined table: its strategy, and the community it learnt with.
fn group(report: &Report, run: &StrategyRun) -> String {
    if report.community > 0 {
        format!("{} + community {}", run.strategy, report.community)
    } else {
        run.strategy.clone()
    }
}

/// The accuracy a run shows after `votes` (see [`shown`]).
fn shown_at(run: &StrategyRun, votes: u32) -> Option<f64> {
    run.accuracy
        .iter()
        .find(|a| a.votes == votes)
        .map(|a| shown(a).0)
}

/// The expected (else answered) win rate of a run at `--s stylize`.
fn win_at(run: &StrategyRun, stylize: u32) -> Option<f64> {
    run.win_rate
        .iter()
        .find(|w| w.stylize == stylize)
        .map(|w| w.expected.unwrap_or(w.win_rate))
}

/// Mean of the values that are there, and the standard error of that mean.
fn mean_of(values: &[Option<f64>]) -> Option<(f64, f64)> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    mean_se(&present)
}

/// One rater's line of a combined table: its spec, its seeds, and each column's mean over
/// them with its standard error.
type RaterRow = (String, usize, Vec<Option<(f64, f64)>>);

/// Combines the `report.json` of several runs (`tastebud eval --combine DIR…`): per rater,
/// averaged over its seeds, the accuracy after 20 and 50 active votes and 50 and 200 random
/// ones, active@50 − random@200 (and with a community, active@20 and active@50 − random@200
/// of the runs without one, same seeds), the expected `--p --s 100` win rate and the ceiling;
/// then the mean over raters (± its standard error across raters) and the worst rater.
/// Writes `combined.md` and `learning_curves.png` (the mean curve of each strategy and
/// community, with a band of two standard errors across raters) into `out`, and returns the
/// Markdown.
pub fn combine(dirs: &[PathBuf], out: &Path) -> Result<String, EvalError> {
    let mut reports = Vec::new();
    for dir in dirs {
        let path = dir.join("report.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| EvalError::Setup(format!("cannot read {}: {e}", path.display())))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| EvalError::Setup(format!("cannot read {}: {e}", path.display())))?;
        reports.push(report);
    }
    std::fs::create_dir_all(out)
        .map_err(|e| EvalError::Setup(format!("cannot create {}: {e}", out.display())))?;
    let mut raters: Vec<String> = reports.iter().map(|r| r.rater.clone()).collect();
    // `family:report:2` before `family:report:10`.
    raters.sort_by_key(|r| {
        let digits = r.len() - r.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (stem, number) = r.split_at(r.len() - digits);
        (stem.to_string(), number.parse::<u64>().ok(), r.clone())
    });
    raters.dedup();
    let communities: Vec<u32> = {
        let mut c: Vec<u32> = reports
            .iter()
            .map(|r| r.community)
            .filter(|&c| c > 0)
            .collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    // Per rater: one row of figures, each the mean over the rater's seeds.
    let find = |rater: &str, seed: u64, community: u32, strategy: &str| -> Option<&StrategyRun> {
        reports
            .iter()
            .filter(|r| r.rater == rater && r.seed == seed && r.community == community)
            .flat_map(|r| &r.runs)
            .find(|run| run.strategy == strategy)
    };
    let mut columns: Vec<String> = vec![
        "ceiling".into(),
        "active@20".into(),
        "active@50".into(),
        "random@50".into(),
        "random@200".into(),
        "active@50 − random@200".into(),
        "win s100".into(),
    ];
    for c in &communities {
        columns.push(format!("c{c} active@20"));
        columns.push(format!("c{c} active@20 − random@200"));
        columns.push(format!("c{c} active@50 − random@200"));
        columns.push(format!("c{c} win s100"));
    }
    let mut rows: Vec<RaterRow> = Vec::new();
    for rater in &raters {
        let mut seeds: Vec<u64> = reports
            .iter()
            .filter(|r| &r.rater == rater)
            .map(|r| r.seed)
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        // The mean over the seeds that have the figure; its error only from two or more.
        let per_seed = |f: &dyn Fn(u64) -> Option<f64>| -> Option<(f64, f64)> {
            let values: Vec<Option<f64>> = seeds.iter().map(|&s| f(s)).collect();
            let (mean, se) = mean_of(&values)?;
            let n = values.iter().flatten().count();
            Some((mean, if n > 1 { se } else { f64::NAN }))
        };
        let at = |s: u64, c: u32, strategy: &str, votes: u32| {
            find(rater, s, c, strategy).and_then(|r| shown_at(r, votes))
        };
        let mut row = vec![
            per_seed(&|s| {
                find(rater, s, 0, "active")
                    .or_else(|| find(rater, s, 0, "random"))
                    .and_then(|r| r.ceiling_expected.or(r.ceiling))
            }),
            per_seed(&|s| at(s, 0, "active", 20)),
            per_seed(&|s| at(s, 0, "active", 50)),
            per_seed(&|s| at(s, 0, "random", 50)),
            per_seed(&|s| at(s, 0, "random", 200)),
            per_seed(&|s| Some(at(s, 0, "active", 50)? - at(s, 0, "random", 200)?)),
            per_seed(&|s| find(rater, s, 0, "active").and_then(|r| win_at(r, 100))),
        ];
        for &c in &communities {
            row.push(per_seed(&|s| at(s, c, "active", 20)));
            row.push(per_seed(&|s| {
                Some(at(s, c, "active", 20)? - at(s, 0, "random", 200)?)
            }));
            row.push(per_seed(&|s| {
                Some(at(s, c, "active", 50)? - at(s, 0, "random", 200)?)
            }));
            row.push(per_seed(&|s| {
                find(rater, s, c, "active").and_then(|r| win_at(r, 100))
            }));
        }
        rows.push((rater.clone(), seeds.len(), row));
    }
    let mut md = format!(
        "# `tastebud eval`, combined: {} raters, {} runs\n\n\
         Accuracies are expected held-out accuracies for simulated raters (answered shares for \
         rater programs); each rater's figure is the mean over its seeds (± the standard error \
         over seeds, when there are two or more). Win rates are the expected `--p --s 100` win \
         rate of the active run.\n\n| rater | seeds | {} |\n|---|---|{}\n",
        raters.len(),
        reports.len(),
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
    let cell = |v: &Option<(f64, f64)>, seeds: usize| match v {
        Some((m, se)) if seeds > 1 && se.is_finite() => format!("{m:.3} ± {se:.3}"),
        Some((m, _)) => format!("{m:.3}"),
        None => "–".into(),
    };
    for (rater, seeds, row) in &rows {
        let cells: Vec<String> = row.iter().map(|v| cell(v, *seeds)).collect();
        md.push_str(&format!(
            "| `{rater}` | {seeds} | {} |\n",
            cells.join(" | ")
        ));
    }
    // Mean over raters (± standard error across raters) and the worst rater.
    let column =
        |k: usize| -> Vec<Option<f64>> { rows.iter().map(|r| r.2[k].map(|v| v.0)).collect() };
    let means: Vec<String> = (0..columns.len())
        .map(|k| pm(mean_of(&column(k))))
        .collect();
    let worst: Vec<String> = (0..columns.len())
        .map(|k| {
            column(k)
                .into_iter()
                .flatten()
                .fold(None, |w: Option<f64>, v| Some(w.map_or(v, |w| w.min(v))))
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "–".into())
        })
        .collect();
    md.push_str(&format!("| **mean** | | {} |\n", means.join(" | ")));
    md.push_str(&format!("| **worst** | | {} |\n", worst.join(" | ")));

    // One plot: the mean curve of each group over raters (each rater's seeds averaged first).
    let mut groups: Vec<String> = reports
        .iter()
        .flat_map(|r| r.runs.iter().map(move |run| group(r, run)))
        .collect();
    groups.sort();
    groups.dedup();
    let mut curves = Vec::new();
    for g in &groups {
        let mut votes: Vec<u32> = reports
            .iter()
            .flat_map(|r| r.runs.iter().filter(move |run| group(r, run) == *g))
            .flat_map(|run| run.accuracy.iter().map(|a| a.votes))
            .collect();
        votes.sort_unstable();
        votes.dedup();
        let points: Vec<(f64, f64, f64)> = votes
            .iter()
            .filter_map(|&v| {
                let per_rater: Vec<Option<f64>> = raters
                    .iter()
                    .map(|rater| {
                        let values: Vec<Option<f64>> = reports
                            .iter()
                            .filter(|r| &r.rater == rater)
                            .flat_map(|r| r.runs.iter().filter(move |run| group(r, run) == *g))
                            .map(|run| shown_at(run, v))
                            .collect();
                        mean_of(&values).map(|m| m.0)
                    })
                    .collect();
                mean_of(&per_rater).map(|(m, se)| (f64::from(v), m, se))
            })
            .collect();
        curves.push(series_with_band(g.clone(), &points));
    }
    if curves.iter().any(|c| !c.points.is_empty()) {
        let ceiling = mean_of(&column(0)).map(|c| c.0);
        let options = LineOptions {
            y_from: Some(0.5),
            guides: ceiling
                .map(|c| vec![(format!("mean ceiling {c:.3}"), c)])
                .unwrap_or_default(),
        };
        let chart = line_chart_with(
            &format!("Held-out accuracy, mean of {} raters", raters.len()),
            "votes",
            "accuracy (chance 0.5)",
            Scale::Log,
            &curves,
            &options,
        )?;
        write_png(&out.join("learning_curves.png"), &chart)?;
    }
    let path = out.join("combined.md");
    std::fs::write(&path, &md)
        .map_err(|e| EvalError::Setup(format!("cannot write {}: {e}", path.display())))?;
    Ok(md)
}

/// Checkpoints at or below `votes`: 10, 20, 50, 100, 200, then every 100.
pub fn checkpoints(votes: u32) -> Vec<u32> {
    let mut out: Vec<u32> = CHECKPOINTS
        .iter()
        .copied()
        .filter(|&c| c <= votes)
        .collect();
    let mut next = 300;
    while next <= votes {
        out.push(next);
        next += 100;
    }
    out
}

/// What the rater was shown of one held-out pair and how it answered.
struct HeldOut {
    left: Vec<f32>,
    right: Vec<f32>,
    left_won: bool,
    /// A simulated rater's probability of answering "left".
    p_left: Option<f64>,
}

/// A database with the version's pool built and the community's votes in, closed, which each
/// rater's run starts from a copy of; and what simulated raters see of its pool.
struct Prepared {
    template: tempfile::TempDir,
    config: Config,
    views: PoolViews,
}

/// Builds the pool under the evaluation's configuration for `strategy`, and lets the community
/// rank.
async fn prepare(
    base: &Config,
    options: &Options,
    version: &str,
    strategy: &str,
) -> Result<Prepared, EvalError> {
    let mut config = base.clone();
    config.ranking.strategy = strategy.to_string();
    config.personalization.unlock_threshold = 10;
    config.personalization.refresh_every = 10;
    config.limits.cooldown_secs = 0;
    // A simulated rater answers as fast as the machine allows; that is no flood.
    config.limits.rank_pairs_per_minute = u32::MAX;
    config.limits.profile_shows_per_minute = u32::MAX;
    // Raters are handed picture files: the evaluation keeps its own in its temp folder.
    config.images.url = String::new();
    let dir = tempfile::tempdir().map_err(|e| EvalError::Setup(format!("temp dir: {e}")))?;
    let store = Store::open_in(dir.path()).await?;
    let service = Service::new(store.clone(), config.clone(), dir.path())?.with_seed(options.seed);
    service.build_pool(version, None, &|_, _| {}).await?;
    let std = service.pool_standardizer(version).await?;
    let pool = service.ranking_pool(version).await?;
    let views = PoolViews::new(&service, &pool, std)?;
    // The community ranks first, each member as a user of their own.
    for i in 1..=options.community {
        let mut member = RaterProcess::start(
            &format!("family:community:{i}"),
            &views,
            options.seed ^ (u64::from(i) << 20),
        )
        .await?;
        let user = UserId(COMMUNITY_USERS + u64::from(i));
        rank(
            &service,
            &mut member,
            user,
            options.community_votes,
            |_, _| Ok(()),
        )
        .await?;
    }
    store.close().await;
    Ok(Prepared {
        template: dir,
        config,
        views,
    })
}

/// Copies the files under `from` into `to`, folders included.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// One rater's run of one strategy, on a copy of the prepared database.
async fn run_rater(
    prepared: &Prepared,
    options: &Options,
    spec: &str,
    version: &str,
    strategy: &str,
) -> Result<(StrategyRun, Option<String>), EvalError> {
    let dir = tempfile::tempdir().map_err(|e| EvalError::Setup(format!("temp dir: {e}")))?;
    copy_dir(prepared.template.path(), dir.path())
        .map_err(|e| EvalError::Setup(format!("cannot copy the prepared database: {e}")))?;
    let store = Store::open_in(dir.path()).await?;
    let service =
        Service::new(store.clone(), prepared.config.clone(), dir.path())?.with_seed(options.seed);
    let pool = service.ranking_pool(version).await?;
    let mut rater = RaterProcess::start(spec, &prepared.views, options.seed).await?;
    let description = rater.description();
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5eed);

    // Held-out pairs: two styles of one pool prompt, answered once, before any ranking.
    let mut holdout = Vec::new();
    for k in 0..options.holdout {
        let a = &pool[rng.random_range(0..pool.len())];
        let same: Vec<_> = pool
            .iter()
            .filter(|i| i.image.prompt == a.image.prompt && i.id != a.id)
            .collect();
        let Some(b) = same.get(rng.random_range(0..same.len().max(1))) else {
            continue;
        };
        let left = image_path(pictures(&service)?, &a.image.hash);
        let right = image_path(pictures(&service)?, &b.image.hash);
        let answer = rater
            .ask(&format!("h{k}"), &left, &right, &a.image.prompt)
            .await?;
        if answer.choice != Choice::Skip {
            holdout.push(HeldOut {
                left: style_of(a)?,
                right: style_of(b)?,
                left_won: answer.choice == Choice::Left,
                p_left: answer.p_left,
            });
        }
    }

    let marks = checkpoints(options.votes);
    let mut accuracy = Vec::new();
    let skipped = rank(
        &service,
        &mut rater,
        EVAL_USER,
        options.votes,
        |points, code| {
            if marks.contains(&points) {
                let code = code.ok_or_else(|| {
                    EvalError::Setup(format!("no code was minted at {points} votes"))
                })?;
                accuracy.push(held_out_accuracy(&holdout, &code.vector, points));
            }
            Ok(())
        },
    )
    .await?;

    let global = service.global_profile(EVAL_USER, version).await?;
    let taste = service.profile_taste(EVAL_USER, &global.profile.id).await?;
    let code = taste
        .code
        .clone()
        .ok_or_else(|| EvalError::Setup("the profile has no code to compare with".into()))?;
    let version_flag = match version.strip_prefix(crate::prompt::types::NIJI_PREFIX) {
        Some(n) => format!("--niji {n}"),
        None => format!("--v {version}"),
    };
    let mut win_rate = Vec::new();
    let stylize: &[u32] = if options.win_grids == 0 {
        &[]
    } else {
        &options.stylize
    };
    for &s in stylize {
        let mut wins = 0;
        let mut total = 0;
        let mut expected = Vec::new();
        for g in 0..options.win_grids {
            let prompt = WIN_PROMPTS[g as usize % WIN_PROMPTS.len()];
            let seed = 1000 + g;
            let plain = service
                .imagine(
                    VIEWER,
                    // `--s 0`: the plain picture, without the house style a community brings.
                    Imagine::new(
                        format!("{prompt} --seed {seed} {version_flag} --s 0"),
                        Place::Private,
                    ),
                    no_progress(),
                )
                .await?;
            let personal = service
                .imagine(
                    VIEWER,
                    Imagine::new(
                        format!("{prompt} --seed {seed} {version_flag} --p {code} --s {s}"),
                        Place::Private,
                    ),
                    no_progress(),
                )
                .await?;
            let (Some(plain), Some(personal)) = (plain.first(), personal.first()) else {
                continue;
            };
            for (k, (p, q)) in plain.images.iter().zip(&personal.images).enumerate() {
                let p = service.image_file(*p).await?.image;
                let q = service.image_file(*q).await?.image;
                let p_path = image_path(pictures(&service)?, &p.image.hash);
                let q_path = image_path(pictures(&service)?, &q.image.hash);
                let personal_left = rng.random_bool(0.5);
                let (l, r) = if personal_left {
                    (&q_path, &p_path)
                } else {
                    (&p_path, &q_path)
                };
                let answer = rater.ask(&format!("w{s}-{g}-{k}"), l, r, prompt).await?;
                if let Some(p) = answer.p_left {
                    expected.push(if personal_left { p } else { 1.0 - p });
                }
                match (answer.choice, personal_left) {
                    (Choice::Skip, _) => {}
                    (Choice::Left, true) | (Choice::Right, false) => {
                        wins += 1;
                        total += 1;
                    }
                    _ => total += 1,
                }
            }
        }
        let (rate, stderr) = share(wins, total);
        let expected = mean_se(&expected);
        win_rate.push(WinRate {
            stylize: s,
            win_rate: rate,
            stderr,
            comparisons: total as u32,
            expected: expected.map(|e| e.0),
            expected_stderr: expected.map(|e| e.1),
        });
    }
    // A simulated rater's hidden taste prefers the left picture exactly when "left" is the
    // likelier answer.
    let simulated = holdout.iter().all(|h| h.p_left.is_some()) && rater.is_simulated();
    let ceiling = simulated.then(|| {
        let right = holdout
            .iter()
            .filter(|h| h.p_left.map(|p| p > 0.5) == Some(h.left_won))
            .count();
        ratio(right, holdout.len())
    });
    let ceiling_expected = simulated
        .then(|| {
            let best: Vec<f64> = holdout
                .iter()
                .filter_map(|h| h.p_left.map(|p| p.max(1.0 - p)))
                .collect();
            mean_se(&best).map(|m| m.0)
        })
        .flatten();
    rater.finish().await;
    store.close().await;
    let lean = |v: &[crate::taste::explain::AxisLean]| -> Vec<(String, f64)> {
        v.iter().map(|a| (a.axis.clone(), a.weight)).collect()
    };
    let run = StrategyRun {
        strategy: strategy.to_string(),
        accuracy,
        ceiling,
        ceiling_expected,
        win_rate,
        skipped,
        favoured: lean(&taste.explanation.favoured),
        avoided: lean(&taste.explanation.avoided),
        moderate: taste
            .explanation
            .moderate
            .iter()
            .map(|m| (m.axis.clone(), m.peak))
            .collect(),
        summary: taste.explanation.summary(),
    };
    Ok((run, description))
}

/// Lets `rater` rank `votes` pairs (skips not counted) as `user`, calling `at` with the points
/// and the code (if one was minted) after each counted vote; returns the pairs it skipped.
async fn rank(
    service: &Service,
    rater: &mut RaterProcess,
    user: UserId,
    votes: u32,
    mut at: impl FnMut(u32, Option<crate::domain::Code>) -> Result<(), EvalError>,
) -> Result<u32, EvalError> {
    let mut skipped = 0;
    let mut points = 0;
    let mut asked = 0u32;
    while points < votes {
        asked += 1;
        if asked > votes.saturating_mul(4) + 20 {
            return Err(EvalError::Rater(format!(
                "it skipped {skipped} of {asked} pairs; too few answers to learn from"
            )));
        }
        let next = service.next_pair(user, None).await?;
        let left = service.image_file(next.pair.left_image).await?.image;
        let right = service.image_file(next.pair.right_image).await?.image;
        let choice = rater
            .ask(
                &format!("p{}", next.pair.id),
                &image_path(pictures(service)?, &left.image.hash),
                &image_path(pictures(service)?, &right.image.hash),
                &next.pair.prompt,
            )
            .await?
            .choice;
        let result = service.vote(user, next.pair.id, choice).await?;
        if choice == Choice::Skip {
            skipped += 1;
            continue;
        }
        points = result.profile.points;
        at(points, result.code)?;
    }
    Ok(skipped)
}

/// How well a code (a taste per raw style unit) predicts the held-out answers after `votes`.
fn held_out_accuracy(holdout: &[HeldOut], code: &[f32], votes: u32) -> AccuracyPoint {
    let mut right = 0;
    let mut expected = Vec::new();
    for h in holdout {
        let predicts_left = utility(code, &h.left) > utility(code, &h.right);
        if predicts_left == h.left_won {
            right += 1;
        }
        if let Some(p) = h.p_left {
            expected.push(if predicts_left { p } else { 1.0 - p });
        }
    }
    let (accuracy, stderr) = share(right, holdout.len());
    let expected = (expected.len() == holdout.len())
        .then(|| mean_se(&expected))
        .flatten();
    AccuracyPoint {
        votes,
        accuracy,
        stderr,
        pairs: holdout.len() as u32,
        expected: expected.map(|e| e.0),
        expected_stderr: expected.map(|e| e.1),
    }
}

fn style_of(image: &crate::store::Image) -> Result<Vec<f32>, EvalError> {
    image
        .image
        .style
        .as_ref()
        .map(|(_, v)| v.clone())
        .ok_or_else(|| EvalError::Setup(format!("pool image {} has no style", image.id)))
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A rater's answer to one question.
struct Answer {
    choice: Choice,
    /// For a simulated rater, the probability it had of answering "left" (its Bradley–Terry
    /// model); `None` for a rater program, whose taste is its own.
    p_left: Option<f64>,
}

/// What simulated raters see of the version's pool: the style axes' statistics, and the pool's
/// pictures by prompt, whose picture statistics (`render::probe`) are measured on first need.
struct PoolViews {
    std: Standardizer,
    groups: Vec<Vec<PathBuf>>,
    probes: std::cell::OnceCell<Result<ProbeView, String>>,
}

/// The pool's picture statistics: their standardizer and every pool picture's standardized
/// statistics by file name ([`file_key`]).
#[derive(Clone)]
struct ProbeView {
    std: Standardizer,
    seen: HashMap<PathBuf, Vec<f64>>,
}

impl PoolViews {
    fn new(
        service: &Service,
        pool: &[crate::store::Image],
        std: Standardizer,
    ) -> Result<Self, EvalError> {
        let mut groups: Vec<(String, Vec<PathBuf>)> = Vec::new();
        for image in pool {
            let path = image_path(pictures(service)?, &image.image.hash);
            match groups.iter_mut().find(|(p, _)| *p == image.image.prompt) {
                Some((_, paths)) => paths.push(path),
                None => groups.push((image.image.prompt.clone(), vec![path])),
            }
        }
        Ok(PoolViews {
            std,
            groups: groups.into_iter().map(|(_, paths)| paths).collect(),
            probes: std::cell::OnceCell::new(),
        })
    }

    fn probes(&self) -> Result<&ProbeView, EvalError> {
        self.probes
            .get_or_init(|| {
                let mut raw = Vec::new();
                for path in self.groups.iter().flatten() {
                    let image = load_image(path).map_err(|e| e.to_string())?;
                    raw.push((path.clone(), probe(&image)));
                }
                let stats: Vec<&[f32]> = raw.iter().map(|(_, v)| v.as_slice()).collect();
                let std = Standardizer::fit(&stats, PROBE_DIM);
                let seen = raw
                    .iter()
                    .map(|(path, v)| (file_key(path), standardized(&std, v)))
                    .collect();
                Ok(ProbeView { std, seen })
            })
            .as_ref()
            .map_err(|e| EvalError::Setup(format!("measuring the pool for the rater: {e}")))
    }

    /// Every pair of two pictures of one pool prompt, as `seen` gives them.
    fn pairs(&self, seen: &HashMap<PathBuf, Vec<f64>>) -> Vec<(Vec<f64>, Vec<f64>)> {
        let mut out = Vec::new();
        for group in &self.groups {
            for (i, a) in group.iter().enumerate() {
                for b in &group[i + 1..] {
                    if let (Some(a), Some(b)) = (seen.get(&file_key(a)), seen.get(&file_key(b))) {
                        out.push((a.clone(), b.clone()));
                    }
                }
            }
        }
        out
    }
}

fn standardized(std: &Standardizer, v: &[f32]) -> Vec<f64> {
    std.apply(v).into_iter().map(f64::from).collect()
}

/// Which statistics of a picture a simulated rater's taste reads, standardized over the pool.
enum Sees {
    /// The style axes (built-in raters).
    Style(Standardizer),
    /// The picture statistics of `render::probe` (the rater family).
    Probe(Standardizer),
}

/// A rater: simulated, or a subprocess speaking JSON lines.
enum RaterProcess {
    Simulated {
        rater: Simulated,
        sees: Sees,
        /// What it has seen of each file so far, by [`file_key`].
        seen: HashMap<PathBuf, Vec<f64>>,
        rng: StdRng,
    },
    Command {
        child: Child,
        stdin: ChildStdin,
        lines: Lines<BufReader<ChildStdout>>,
    },
}

impl RaterProcess {
    async fn start(spec: &str, views: &PoolViews, seed: u64) -> Result<RaterProcess, EvalError> {
        let rater_error = |e: crate::taste::TasteError| EvalError::Rater(e.to_string());
        if let Some(name) = builtin_name(spec) {
            let rater = builtin(name, &axis_names()).map_err(rater_error)?;
            return Ok(RaterProcess::Simulated {
                rater,
                sees: Sees::Style(views.std.clone()),
                seen: HashMap::new(),
                rng: StdRng::seed_from_u64(seed),
            });
        }
        if let Some(parsed) = family::parse_spec(spec) {
            let (split, k) = parsed.map_err(rater_error)?;
            let member = family::member(split, k, &PROBE_STATS).map_err(rater_error)?;
            let view = views.probes()?;
            let rater =
                family::calibrate(&member, &views.pairs(&view.seen)).map_err(rater_error)?;
            return Ok(RaterProcess::Simulated {
                rater,
                sees: Sees::Probe(view.std.clone()),
                seen: view.seen.clone(),
                rng: StdRng::seed_from_u64(seed),
            });
        }
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EvalError::Rater(format!("cannot start {spec:?}: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| EvalError::Rater("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| EvalError::Rater("no stdout".into()))?;
        Ok(RaterProcess::Command {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// A simulated rater's hidden taste and noise, in words.
    fn description(&self) -> Option<String> {
        match self {
            RaterProcess::Simulated { rater, .. } => Some(format!(
                "{} (Bradley–Terry temperature {:.3})",
                rater.description, rater.temperature
            )),
            RaterProcess::Command { .. } => None,
        }
    }

    fn is_simulated(&self) -> bool {
        matches!(self, RaterProcess::Simulated { .. })
    }

    /// Asks which of two image files is better.
    async fn ask(
        &mut self,
        id: &str,
        left: &Path,
        right: &Path,
        prompt: &str,
    ) -> Result<Answer, EvalError> {
        match self {
            RaterProcess::Simulated {
                rater,
                sees,
                seen,
                rng,
            } => {
                let l = seen_by(sees, seen, left)?;
                let r = seen_by(sees, seen, right)?;
                let rater_error = |e: crate::taste::TasteError| EvalError::Rater(e.to_string());
                Ok(Answer {
                    p_left: Some(rater.prob_left(&l, &r).map_err(rater_error)?),
                    choice: rater.answer(&l, &r, rng).map_err(rater_error)?,
                })
            }
            RaterProcess::Command { stdin, lines, .. } => {
                let question = serde_json::json!({
                    "id": id,
                    "left": absolute(left),
                    "right": absolute(right),
                    "prompt": prompt,
                });
                stdin
                    .write_all(format!("{question}\n").as_bytes())
                    .await
                    .map_err(|e| EvalError::Rater(format!("cannot write to it: {e}")))?;
                stdin
                    .flush()
                    .await
                    .map_err(|e| EvalError::Rater(format!("cannot write to it: {e}")))?;
                let line = lines
                    .next_line()
                    .await
                    .map_err(|e| EvalError::Rater(format!("cannot read from it: {e}")))?
                    .ok_or_else(|| EvalError::Rater("it exited before answering".into()))?;
                Ok(Answer {
                    choice: parse_answer(&line, id)?,
                    p_left: None,
                })
            }
        }
    }

    async fn finish(self) {
        if let RaterProcess::Command {
            mut child, stdin, ..
        } = self
        {
            drop(stdin);
            let _ = child.wait().await;
        }
    }
}

/// An image file as a simulated rater sees it (standardized over the pool), measured once.
fn seen_by(
    sees: &Sees,
    seen: &mut HashMap<PathBuf, Vec<f64>>,
    path: &Path,
) -> Result<Vec<f64>, EvalError> {
    let key = file_key(path);
    if let Some(v) = seen.get(&key) {
        return Ok(v.clone());
    }
    let image = load_image(path)?;
    let v = match sees {
        Sees::Style(std) => standardized(std, describe(&image).as_slice()),
        Sees::Probe(std) => standardized(std, &probe(&image)),
    };
    seen.insert(key, v.clone());
    Ok(v)
}

/// What a rater remembers a picture by: its file's name, which is its content's hash, so that
/// copies of a database share what was measured.
fn file_key(path: &Path) -> PathBuf {
    path.file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| path.to_path_buf())
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The choice in a rater's answer line, which must carry the question's id.
pub fn parse_answer(line: &str, id: &str) -> Result<Choice, EvalError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        id: String,
        choice: String,
    }
    let answer: Answer = serde_json::from_str(line.trim()).map_err(|e| {
        EvalError::Rater(format!(
            "answered {line:?}, not {{\"id\": \"…\", \"choice\": \"left\" | \"right\" | \"skip\"}} ({e})"
        ))
    })?;
    if answer.id != id {
        return Err(EvalError::Rater(format!(
            "answered id {:?} to question {id:?}",
            answer.id
        )));
    }
    Choice::parse(&answer.choice).ok_or_else(|| {
        EvalError::Rater(format!(
            "chose {:?}; the choices are left, right and skip",
            answer.choice
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_votes() {
        assert_eq!(checkpoints(5), Vec::<u32>::new());
        assert_eq!(checkpoints(50), vec![10, 20, 50]);
        assert_eq!(checkpoints(450), vec![10, 20, 50, 100, 200, 300, 400]);
    }

    #[test]
    fn answers_are_checked() {
        assert_eq!(
            parse_answer(r#"{"id":"p1","choice":"left"}"#, "p1").unwrap(),
            Choice::Left
        );
        assert_eq!(
            parse_answer(r#" {"id":"p1","choice":"skip"} "#, "p1").unwrap(),
            Choice::Skip
        );
        assert!(parse_answer(r#"{"id":"p2","choice":"left"}"#, "p1").is_err());
        assert!(parse_answer(r#"{"id":"p1","choice":"both"}"#, "p1").is_err());
        assert!(parse_answer("left", "p1").is_err());
    }
}
