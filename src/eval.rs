//! `tastebud eval`: the whole learning loop against a rater, measured.
//!
//! A rater answers pairs of image files. It is either a built-in simulated rater
//! (`builtin:NAME`, a hidden taste over the style axes with Bradley–Terry noise) or any program
//! run through `sh -c` that speaks JSON lines: tastebud writes
//! `{"id": "…", "left": "/abs/a.png", "right": "/abs/b.png", "prompt": "…"}` and reads
//! `{"id": "…", "choice": "left" | "right" | "skip"}`.
//!
//! The run drives the real service on a fresh database in a temp dir: the rater ranks pairs
//! chosen by the configured strategy; after 10, 20, 50, 100, 200 … votes the profile's code
//! predicts held-out pairs the rater answered at the start (accuracy); at the end the rater
//! compares `--p CODE --s S` with the plain image of the same prompt and seed, sides shuffled,
//! for S = 0, 100, 250, 1000 (win rate).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::config::Config;
use crate::domain::{Choice, Place, UserId};
use crate::render::backend::no_progress;
use crate::render::chart::{Scale, Series, line_chart};
use crate::render::images::files::{image_path, load_image, write_png};
use crate::render::style::{axis_names, describe};
use crate::service::{Imagine, Service};
use crate::store::Store;
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
}

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

/// The report, written as `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rater: String,
    pub version: String,
    pub votes: u32,
    pub holdout: u32,
    pub seed: u64,
    pub runs: Vec<StrategyRun>,
}

/// One strategy's run.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyRun {
    pub strategy: String,
    /// Held-out accuracy after each checkpoint's votes.
    pub accuracy: Vec<AccuracyPoint>,
    /// For a built-in rater, the accuracy of its own hidden taste on the same held-out answers
    /// (its noise makes some answers unpredictable): the best a profile could reach.
    pub ceiling: Option<f64>,
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

#[derive(Debug, Clone, Serialize)]
pub struct AccuracyPoint {
    pub votes: u32,
    pub accuracy: f64,
    /// Held-out pairs the rater did not skip.
    pub pairs: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct WinRate {
    pub stylize: u32,
    pub win_rate: f64,
    pub comparisons: u32,
    /// For a built-in rater, the mean probability, under its own noise model, that it prefers
    /// the `--p` image: the win rate endless answers to the same comparisons would give,
    /// without the coin flips that make `win_rate` uncertain by several points.
    pub expected: Option<f64>,
}

/// Runs the evaluation and writes `report.json` into `options.out`. `config` is the base
/// configuration; the evaluation changes only what it must (strategy, checkpoints every 10
/// votes, no cooldown).
pub async fn run(config: &Config, options: &Options) -> Result<Report, EvalError> {
    let version = options
        .version
        .clone()
        .unwrap_or_else(|| config.personalization.default_version.clone());
    std::fs::create_dir_all(&options.out)
        .map_err(|e| EvalError::Setup(format!("cannot create {}: {e}", options.out.display())))?;
    let mut runs = Vec::new();
    for strategy in &options.strategies {
        runs.push(run_strategy(config, options, &version, strategy).await?);
    }
    let report = Report {
        rater: options.rater.clone(),
        version,
        votes: options.votes,
        holdout: options.holdout,
        seed: options.seed,
        runs,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| EvalError::Setup(format!("cannot write the report: {e}")))?;
    let path = options.out.join("report.json");
    std::fs::write(&path, json)
        .map_err(|e| EvalError::Setup(format!("cannot write {}: {e}", path.display())))?;
    plot(&report, &options.out)?;
    Ok(report)
}

/// Writes `learning_curves.png` (held-out accuracy by votes, one line per strategy) and
/// `win_rate.png` (how often `--p` wins, by stylize, and for a built-in rater how often it is
/// expected to).
fn plot(report: &Report, out: &Path) -> Result<(), EvalError> {
    let curves: Vec<Series> = report
        .runs
        .iter()
        .map(|r| Series {
            name: r.strategy.clone(),
            points: r
                .accuracy
                .iter()
                .map(|a| (f64::from(a.votes), a.accuracy))
                .collect(),
        })
        .collect();
    // Per strategy: the rater's answers, and (built-in raters) the expected win rate.
    let wins: Vec<Series> = report
        .runs
        .iter()
        .flat_map(|r| {
            let expected: Vec<(f64, f64)> = r
                .win_rate
                .iter()
                .filter_map(|w| Some((f64::from(w.stylize), w.expected?)))
                .collect();
            let answers = Series {
                name: r.strategy.clone(),
                points: r
                    .win_rate
                    .iter()
                    .map(|w| (f64::from(w.stylize), w.win_rate))
                    .collect(),
            };
            let expected = (!expected.is_empty()).then(|| Series {
                name: format!("{} (expected)", r.strategy),
                points: expected,
            });
            std::iter::once(answers).chain(expected)
        })
        .collect();
    let title = format!("{} on {}", report.rater, report.version);
    if curves.iter().any(|c| !c.points.is_empty()) {
        let chart = line_chart(
            &format!("Held-out accuracy: {title}"),
            "votes",
            "accuracy",
            Scale::Log,
            &curves,
        )?;
        write_png(&out.join("learning_curves.png"), &chart)?;
    }
    if wins.iter().any(|c| !c.points.is_empty()) {
        let chart = line_chart(
            &format!("--p wins over plain: {title}"),
            "stylize (--s)",
            "win rate",
            Scale::Linear,
            &wins,
        )?;
        write_png(&out.join("win_rate.png"), &chart)?;
    }
    Ok(())
}

/// The report as a short table for the terminal.
pub fn summary(report: &Report) -> String {
    let mut out = format!(
        "rater {} on version {}, {} held-out pairs\n",
        report.rater, report.version, report.holdout
    );
    for run in &report.runs {
        let acc: Vec<String> = run
            .accuracy
            .iter()
            .map(|a| format!("{}→{:.3}", a.votes, a.accuracy))
            .collect();
        let win: Vec<String> = run
            .win_rate
            .iter()
            .map(|w| {
                let expected = w
                    .expected
                    .map(|e| format!(" (expected {e:.2})"))
                    .unwrap_or_default();
                format!("s{}→{:.2}{expected}", w.stylize, w.win_rate)
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

async fn run_strategy(
    base: &Config,
    options: &Options,
    version: &str,
    strategy: &str,
) -> Result<StrategyRun, EvalError> {
    let mut config = base.clone();
    config.ranking.strategy = strategy.to_string();
    config.personalization.unlock_threshold = 10;
    config.personalization.refresh_every = 10;
    config.limits.cooldown_secs = 0;
    // A simulated rater answers as fast as the machine allows; that is no flood.
    config.limits.rank_pairs_per_minute = u32::MAX;
    config.limits.profile_shows_per_minute = u32::MAX;
    let dir = tempfile::tempdir().map_err(|e| EvalError::Setup(format!("temp dir: {e}")))?;
    let store = Store::open_in(dir.path()).await?;
    let service = Service::new(store.clone(), config, dir.path())?.with_seed(options.seed);
    service.build_pool(version, None, &|_, _| {}).await?;
    let std = service.pool_standardizer(version).await?;
    let mut rater = RaterProcess::start(&options.rater, std.clone(), options.seed).await?;
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5eed);

    // Held-out pairs: two styles of one pool prompt, answered once, before any ranking.
    let pool = service.ranking_pool(version).await?;
    let mut holdout = Vec::new();
    let mut hidden_right = 0;
    for k in 0..options.holdout {
        let a = &pool[rng.random_range(0..pool.len())];
        let same: Vec<_> = pool
            .iter()
            .filter(|i| i.image.prompt == a.image.prompt && i.id != a.id)
            .collect();
        let Some(b) = same.get(rng.random_range(0..same.len().max(1))) else {
            continue;
        };
        let left = image_path(service.images_dir(), &a.image.hash);
        let right = image_path(service.images_dir(), &b.image.hash);
        let answer = rater
            .ask(&format!("h{k}"), &left, &right, &a.image.prompt)
            .await?;
        let choice = answer.choice;
        if choice != Choice::Skip {
            // Its hidden taste prefers the left picture exactly when "left" is more likely.
            if answer.p_left.map(|p| p > 0.5) == Some(choice == Choice::Left) {
                hidden_right += 1;
            }
            holdout.push((style_of(a)?, style_of(b)?, choice == Choice::Left));
        }
    }

    let marks = checkpoints(options.votes);
    let mut accuracy = Vec::new();
    let mut skipped = 0;
    let mut points = 0;
    let mut asked = 0u32;
    while points < options.votes {
        asked += 1;
        if asked > options.votes.saturating_mul(4) + 20 {
            return Err(EvalError::Rater(format!(
                "it skipped {skipped} of {asked} pairs; too few answers to learn from"
            )));
        }
        let next = service.next_pair(EVAL_USER, None).await?;
        let left = service.image_file(next.pair.left_image).await?.image;
        let right = service.image_file(next.pair.right_image).await?.image;
        let choice = rater
            .ask(
                &format!("p{}", next.pair.id),
                &image_path(service.images_dir(), &left.image.hash),
                &image_path(service.images_dir(), &right.image.hash),
                &next.pair.prompt,
            )
            .await?
            .choice;
        let result = service.vote(EVAL_USER, next.pair.id, choice).await?;
        if choice == Choice::Skip {
            skipped += 1;
            continue;
        }
        points = result.profile.points;
        if marks.contains(&points) {
            let code = result
                .code
                .ok_or_else(|| EvalError::Setup(format!("no code was minted at {points} votes")))?;
            let right_calls = holdout
                .iter()
                .filter(|(l, r, left_won)| {
                    (utility(&code.vector, l) > utility(&code.vector, r)) == *left_won
                })
                .count();
            accuracy.push(AccuracyPoint {
                votes: points,
                accuracy: ratio(right_calls, holdout.len()),
                pairs: holdout.len() as u32,
            });
        }
    }

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
    for &s in &STYLIZE {
        let mut wins = 0;
        let mut total = 0;
        let mut expected = Vec::new();
        for g in 0..options.win_grids {
            let prompt = WIN_PROMPTS[g as usize % WIN_PROMPTS.len()];
            let seed = 1000 + g;
            let plain = service
                .imagine(
                    VIEWER,
                    Imagine::new(
                        format!("{prompt} --seed {seed} {version_flag}"),
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
                let p_path = image_path(service.images_dir(), &p.image.hash);
                let q_path = image_path(service.images_dir(), &q.image.hash);
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
        win_rate.push(WinRate {
            stylize: s,
            win_rate: ratio(wins, total),
            comparisons: total as u32,
            expected: (!expected.is_empty())
                .then(|| expected.iter().sum::<f64>() / expected.len() as f64),
        });
    }
    let ceiling =
        matches!(rater, RaterProcess::Builtin { .. }).then(|| ratio(hidden_right, holdout.len()));
    rater.finish().await;
    store.close().await;
    let lean = |v: &[crate::taste::explain::AxisLean]| -> Vec<(String, f64)> {
        v.iter().map(|a| (a.axis.clone(), a.weight)).collect()
    };
    Ok(StrategyRun {
        strategy: strategy.to_string(),
        accuracy,
        ceiling,
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
    })
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
    /// For a built-in rater, the probability it had of answering "left" (its Bradley–Terry
    /// model); `None` for a rater program, whose taste is its own.
    p_left: Option<f64>,
}

/// A rater: built in, or a subprocess speaking JSON lines.
enum RaterProcess {
    Builtin {
        rater: Simulated,
        std: Standardizer,
        rng: StdRng,
    },
    Command {
        child: Child,
        stdin: ChildStdin,
        lines: Lines<BufReader<ChildStdout>>,
    },
}

impl RaterProcess {
    async fn start(spec: &str, std: Standardizer, seed: u64) -> Result<RaterProcess, EvalError> {
        if let Some(name) = builtin_name(spec) {
            let rater =
                builtin(name, &axis_names()).map_err(|e| EvalError::Rater(e.to_string()))?;
            return Ok(RaterProcess::Builtin {
                rater,
                std,
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

    /// Asks which of two image files is better.
    async fn ask(
        &mut self,
        id: &str,
        left: &Path,
        right: &Path,
        prompt: &str,
    ) -> Result<Answer, EvalError> {
        match self {
            RaterProcess::Builtin { rater, std, rng } => {
                let (l, r) = (seen_by(std, left)?, seen_by(std, right)?);
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

/// An image file's style as a built-in rater sees it: standardized by the pool.
fn seen_by(std: &Standardizer, path: &Path) -> Result<Vec<f64>, EvalError> {
    let v = describe(&load_image(path)?);
    Ok(std.apply(&v).into_iter().map(f64::from).collect())
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
