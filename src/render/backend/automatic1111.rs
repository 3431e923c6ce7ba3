//! The AUTOMATIC1111 (stable-diffusion-webui) backend, over its HTTP API.
//!
//! One `POST /sdapi/v1/txt2img` per render with `batch_size` images (image `i` uses seed
//! `seed + i`, as A1111's `all_seeds` do), knobs as weighted phrases, `--no` in the negative
//! prompt after the configured one, `--tile` as `tiling`. What the real server does, and what
//! this client does about it (upstream files and functions named):
//!
//! - **Model.** `process_images` (`modules/processing.py`) drops an
//!   `override_settings.sd_model_checkpoint` that is not one of `sd_models.checkpoint_aliases`
//!   without a word and renders with whatever model is loaded. So before its first job the
//!   client checks the configured name against `/sdapi/v1/sd-models` the way that lookup does
//!   (title, name, model_name, file name without folder and extension, hashes;
//!   [`Checkpoint::aliases`]) and refuses an unknown one with the list of models
//!   ([`RenderError::UnknownModel`]); with `model = ""` it pins the model the server has
//!   loaded now (`/sdapi/v1/options` `sd_model_checkpoint`). Every answer's `info`
//!   (`Processed.js`: `sd_model_name`, `sd_model_hash`) is checked against it: another model
//!   (a server that ignores overrides, a model removed since) is [`RenderError::WrongModel`].
//! - **Queue.** The server runs one job at a time (`queue_lock` in `modules/api/api.py`); ours
//!   may wait behind other clients' jobs. Each job carries its own `force_task_id`, and
//!   progress comes from `POST /internal/progress` for that task only (`modules/progress.py`
//!   `progressapi`), never from the global `/sdapi/v1/progress`, which shows whatever runs.
//! - **Timeout.** `timeout_secs` counts from when the server reports our task active; waiting
//!   in its queue does not count, up to an overall limit of [`OVERALL_LIMIT_FACTOR`] times the
//!   timeout from submission. On timeout, or when the job is given up for another reason
//!   (e.g. a proxy answered 504, or the caller dropped the render), only our own job is
//!   cancelled ([`cancel_own_job`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use image::RgbImage;
use serde_json::{Value, json};

use super::http::Http;
use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use crate::config::VersionBackend;
use crate::render::RenderError;
use crate::render::backend::{
    Backend, Features, Progress, ProgressFn, RenderRequest, check_request,
};
use crate::render::images::files::decode_image;

/// How often progress is polled while a job waits or renders.
const POLL: Duration = Duration::from_millis(500);

/// The longest a job may take from submission, waiting in the server's queue included, as a
/// multiple of the timeout (which counts only from when the server starts our job).
pub const OVERALL_LIMIT_FACTOR: u32 = 4;

/// A job this far along is left to finish rather than interrupted on timeout: it ends within
/// moments anyway, and interrupting it then mostly risks hitting the next job (see
/// [`cancel_own_job`]).
const NEARLY_DONE: f64 = 0.95;

const TXT2IMG: &str = "/sdapi/v1/txt2img";
const TASK_PROGRESS: &str = "/internal/progress";
const INTERRUPT: &str = "/sdapi/v1/interrupt";

/// Task ids handed out by this process.
static TASKS: AtomicU64 = AtomicU64::new(0);

/// A client for one AUTOMATIC1111 server.
#[derive(Debug, Clone)]
pub struct Automatic1111 {
    http: Http,
    model: String,
    steps: u32,
    negative: String,
    vocabulary: Vocabulary,
    poll: Duration,
    /// The model [`Automatic1111::verify`] found, shared by clones.
    verified: Arc<Mutex<Option<Checkpoint>>>,
}

/// A checkpoint as `/sdapi/v1/sd-models` lists it (`Api.get_sd_models`).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// `name [shorthash]`, or just the name before the server has hashed the file.
    pub title: String,
    /// The name without extension, folders joined by `_`.
    pub model_name: String,
    /// The first 10 hex digits of the SHA-256 (`shorthash`), once known.
    pub hash: Option<String>,
    pub sha256: Option<String>,
    pub filename: String,
}

impl Checkpoint {
    fn from_json(v: &Value) -> Option<Checkpoint> {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(Checkpoint {
            title: text("title")?,
            model_name: text("model_name").unwrap_or_default(),
            hash: text("hash"),
            sha256: text("sha256"),
            filename: text("filename").unwrap_or_default(),
        })
    }

    /// The path below the models folder (`CheckpointInfo.name`): the title without its hash.
    pub fn name(&self) -> &str {
        match &self.hash {
            Some(h) => self
                .title
                .strip_suffix(&format!(" [{h}]"))
                .unwrap_or(&self.title),
            None => &self.title,
        }
    }

    /// The file name without folders and extension (`CheckpointInfo.name_for_extra`), which
    /// is what `info.sd_model_name` reports.
    pub fn name_for_extra(&self) -> String {
        let path = if self.filename.is_empty() {
            self.name()
        } else {
            self.filename.as_str()
        };
        let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
        match base.rfind('.') {
            Some(i) if i > 0 => base[..i].to_string(),
            _ => base.to_string(),
        }
    }

    /// The names `sd_models.checkpoint_aliases` knows this checkpoint by (`CheckpointInfo.ids`),
    /// as far as the API shows them: an override must be one of these exactly, or
    /// `process_images` ignores it. (The legacy 8-digit hash is not listed by the API.)
    pub fn aliases(&self) -> Vec<String> {
        let mut ids = vec![
            self.title.clone(),
            self.name().to_string(),
            self.model_name.clone(),
            self.name_for_extra(),
        ];
        if let Some(h) = &self.hash {
            ids.push(h.clone());
            ids.push(format!("{} [{h}]", self.name()));
            ids.push(format!("{} [{h}]", self.name_for_extra()));
        }
        if let Some(sha) = &self.sha256 {
            ids.push(sha.clone());
        }
        ids.retain(|id| !id.is_empty());
        ids
    }

    /// Whether `info` (`sd_model_name`, `sd_model_hash` of an answer) names this checkpoint:
    /// by hash when both are the 10-digit short hash, else by name (a server that has not
    /// hashed the file yet sends no hash; very old ones sent the legacy 8-digit one).
    fn ran(&self, name: &str, hash: Option<&str>) -> bool {
        match (&self.hash, hash) {
            (Some(mine), Some(theirs)) if mine.len() == theirs.len() => {
                mine.eq_ignore_ascii_case(theirs)
            }
            _ => name == self.name_for_extra(),
        }
    }
}

/// `/internal/progress` for one task (`modules/progress.py` `ProgressResponse`).
#[derive(Debug, Clone, Default, PartialEq)]
struct TaskState {
    active: bool,
    queued: bool,
    completed: bool,
    progress: Option<f64>,
    eta: Option<f64>,
    textinfo: String,
}

impl TaskState {
    fn from_json(v: &Value) -> Option<TaskState> {
        Some(TaskState {
            active: v.get("active")?.as_bool()?,
            queued: v.get("queued")?.as_bool()?,
            completed: v.get("completed").and_then(Value::as_bool).unwrap_or(false),
            progress: v.get("progress").and_then(Value::as_f64),
            eta: v.get("eta").and_then(Value::as_f64),
            textinfo: v
                .get("textinfo")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

async fn task_state(http: &Http, task: &str) -> Result<TaskState, RenderError> {
    let body = json!({"id_task": task, "id_live_preview": -1, "live_preview": false});
    let v = http.post_json_once(TASK_PROGRESS, &body).await?;
    TaskState::from_json(&v)
        .ok_or_else(|| http.protocol(TASK_PROGRESS, format!("no task state in {v}")))
}

/// What [`interrupt_if_ours`] found.
#[derive(Debug, PartialEq)]
enum Looked {
    /// Our task was running: interrupted (or left to finish, if nearly done).
    Running,
    /// Our task still waits in the server's queue.
    Queued,
    /// Finished, unknown, or the server did not answer: nothing to cancel.
    Gone,
}

/// Interrupts the server's current job if, and only if, `/internal/progress` says it is our
/// task `task`.
async fn interrupt_if_ours(http: &Http, task: &str) -> Looked {
    let Ok(state) = task_state(http, task).await else {
        return Looked::Gone;
    };
    if state.active {
        if state.progress.unwrap_or(0.0) < NEARLY_DONE {
            tracing::info!(url = %http.base, %task, "interrupting our own job");
            if let Err(e) = http.post_json_once(INTERRUPT, &json!({})).await {
                tracing::warn!(url = %http.base, %task, "cannot interrupt our job: {e}");
            }
        }
        Looked::Running
    } else if state.queued {
        Looked::Queued
    } else {
        Looked::Gone
    }
}

/// Cancels our own job `task` on the server and never anyone else's.
///
/// A1111 can only interrupt whatever runs (`Api.interruptapi` takes no task id, and nothing
/// removes a task from the queue), so the interrupt is sent only while `/internal/progress`
/// says our task is the active one; a task still queued is watched in the background (every
/// `poll`, up to `watch_for`) and interrupted as soon as it starts; a finished or unknown task
/// is left alone. The race that remains: our job may finish, and the next one begin, between
/// our check and the interrupt's arrival. The server clears the interrupt flag when a job
/// begins (`shared.state.begin`, just before `start_task`), so the next job is hit only if it
/// began within that one round trip; jobs that are nearly done ([`NEARLY_DONE`]) are left to
/// finish to keep that case rare.
pub async fn cancel_own_job(http: Http, task: String, poll: Duration, watch_for: Duration) {
    if interrupt_if_ours(&http, &task).await != Looked::Queued {
        return;
    }
    tokio::spawn(async move {
        let deadline = Instant::now() + watch_for;
        while Instant::now() < deadline {
            tokio::time::sleep(poll).await;
            if interrupt_if_ours(&http, &task).await != Looked::Queued {
                return;
            }
        }
    });
}

/// Cancels our job if the render is dropped before it settled (the caller gave up).
struct OwnJob {
    http: Http,
    task: String,
    poll: Duration,
    watch_for: Duration,
    settled: bool,
}

impl OwnJob {
    /// Cancels the job now (awaited) and disarms the guard.
    async fn cancel(&mut self) {
        self.settled = true;
        cancel_own_job(
            self.http.clone(),
            self.task.clone(),
            self.poll,
            self.watch_for,
        )
        .await;
    }
}

impl Drop for OwnJob {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(cancel_own_job(
                self.http.clone(),
                self.task.clone(),
                self.poll,
                self.watch_for,
            ));
        }
    }
}

/// `text` as plain words for A1111's prompt syntax, meaning unchanged for the text encoder:
/// - `\`, `(`, `)`, `[`, `]` and `|` get a backslash: `prompt_parser.parse_prompt_attention`
///   (`re_attention`) and the schedule grammar read escaped characters as text, so no
///   emphasis, `(a:1.5)` weight, `[a:b:0.5]` schedule or `[a|b]` alternation is left.
/// - `<` gets a space after it (unless one follows already): `extra_networks.parse_prompt`
///   finds `<(\w+):([^>]+)>` before, and regardless of, any escaping, so `<lora:x:1>` would
///   load a LoRA. CLIP's tokenizer splits `<` from the word either way.
/// - `#` becomes the fullwidth `＃` (U+FF03): with `enable_prompt_comments` (on by default
///   since 1.8), `modules/processing_scripts/comments.py` `strip_comments` drops everything
///   from a `#` to the end of its line, and has no escape. CLIP's tokenizer (ftfy's
///   `fix_character_width`) reads the fullwidth sign as `#` again.
/// - The whole words `AND` (`prompt_parser.re_AND`, composable prompts) and `BREAK`
///   (`re_break`, a new 75-token chunk) are lowercased: both are matched case-sensitively,
///   and CLIP's tokenizer lowercases all text, so the words still reach the model.
pub fn escape_prompt(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '(' | ')' | '[' | ']' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '<' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) => {
                out.push_str("< ");
            }
            '#' => out.push('\u{FF03}'),
            _ => out.push(c),
        }
    }
    let mut words = String::with_capacity(out.len());
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut String| {
        if word == "AND" || word == "BREAK" {
            words.push_str(&word.to_lowercase());
        } else {
            words.push_str(word);
        }
        word.clear();
    };
    for c in out.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut words);
            words.push(c);
        }
    }
    flush(&mut word, &mut words);
    words
}

/// `prompt` with a `,` added if it ends in `:number`, which
/// `prompt_parser.get_multicond_prompt_list` (`re_weight`) would read as the weight of the
/// whole prompt even without `AND`.
fn guard_trailing_weight(prompt: String) -> String {
    let trimmed = prompt.trim_end();
    let before_number = trimmed.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let has_digits = trimmed[before_number.len()..]
        .chars()
        .any(|c| c.is_ascii_digit());
    let before_sign = before_number.trim_end_matches(['+', '-']).trim_end();
    if has_digits && before_sign.ends_with(':') {
        format!("{trimmed},")
    } else {
        prompt
    }
}

impl Automatic1111 {
    pub fn new(
        settings: &VersionBackend,
        vocabulary: Vocabulary,
    ) -> Result<Automatic1111, RenderError> {
        Ok(Automatic1111 {
            http: Http::new(settings)?,
            model: settings.model.clone(),
            steps: settings.steps.max(1),
            negative: settings.negative_prompt.clone(),
            vocabulary,
            poll: POLL,
            verified: Arc::new(Mutex::new(None)),
        })
    }

    /// Polls progress this often instead of every 500 ms (tests use a short interval).
    pub fn with_poll_interval(mut self, poll: Duration) -> Automatic1111 {
        self.poll = poll;
        self
    }

    /// The longest a job may take from submission, queue included.
    pub fn overall_limit(&self) -> Duration {
        self.http.timeout * OVERALL_LIMIT_FACTOR
    }

    /// The JSON body of `POST /sdapi/v1/txt2img` for `request`, rendered with `checkpoint`
    /// as task `task`. User text is escaped ([`escape_prompt`]); the knob phrases keep their
    /// weights.
    pub fn txt2img_body(&self, request: &RenderRequest, checkpoint: &str, task: &str) -> Value {
        let mut negative = vec![self.negative.trim().to_string()];
        negative.extend(request.negative.iter().map(|n| escape_prompt(n.trim())));
        negative.retain(|n| !n.is_empty());
        let phrased = self.vocabulary.apply(
            &escape_prompt(&request.prompt),
            &negative.join(", "),
            &request.knobs,
        );
        json!({
            "prompt": guard_trailing_weight(phrased.prompt),
            "negative_prompt": phrased.negative,
            // The web UI's seeds are 32-bit; image i of a batch uses seed + i.
            "seed": request.seed % (1u64 << 32),
            "width": request.width,
            "height": request.height,
            "steps": self.steps,
            "cfg_scale": 7.0,
            "sampler_name": "Euler a",
            "batch_size": request.count,
            "n_iter": 1,
            "tiling": request.tile,
            "send_images": true,
            "save_images": false,
            "force_task_id": task,
            "override_settings": { "sd_model_checkpoint": checkpoint },
            "override_settings_restore_afterwards": true,
        })
    }

    /// The model list as the server gives it.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, RenderError> {
        let path = "/sdapi/v1/sd-models";
        let v = self.http.get_json(path).await?;
        let list = v
            .as_array()
            .ok_or_else(|| self.http.protocol(path, "the model list is not a list"))?;
        Ok(list.iter().filter_map(Checkpoint::from_json).collect())
    }

    /// The verified model, checking the server first if that has not been done yet.
    async fn checkpoint(&self) -> Result<Checkpoint, RenderError> {
        if let Some(c) = self.verified.lock().expect("lock").clone() {
            return Ok(c);
        }
        self.verify().await?;
        self.verified
            .lock()
            .expect("lock")
            .clone()
            .ok_or_else(|| RenderError::Backend("the model check left no model".into()))
    }

    async fn current_model(&self) -> Result<String, RenderError> {
        let path = "/sdapi/v1/options";
        let v = self.http.get_json(path).await?;
        v.get("sd_model_checkpoint")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                self.http
                    .protocol(path, "no sd_model_checkpoint in the options")
            })
    }

    /// Sends the job and follows our task until the answer comes, the timeout runs out (our
    /// job is then cancelled) or the server fails.
    async fn run_job(
        &self,
        body: &Value,
        job: &mut OwnJob,
        progress: &ProgressFn,
    ) -> Result<Value, RenderError> {
        let limit = self.overall_limit();
        // The HTTP request itself may take the whole limit; the loop below ends it sooner.
        let post = self
            .http
            .post_json_within(TXT2IMG, body, limit + Duration::from_secs(5));
        tokio::pin!(post);
        let submitted = Instant::now();
        let mut started: Option<Instant> = None;
        let mut ticker = tokio::time::interval(self.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                answer = &mut post => return answer,
                _ = ticker.tick() => {}
            }
            let state = tokio::select! {
                answer = &mut post => return answer,
                state = task_state(&self.http, &job.task) => state,
            };
            match state {
                Ok(s) if s.active => {
                    started.get_or_insert_with(Instant::now);
                    progress(Progress {
                        fraction: s.progress.unwrap_or(0.0).clamp(0.0, 1.0) as f32,
                        note: s
                            .eta
                            .map(|eta| format!("about {eta:.0} s left"))
                            .unwrap_or_default(),
                        queued: None,
                    });
                }
                Ok(s) if s.queued => progress(Progress {
                    fraction: 0.0,
                    note: format!("waiting for other jobs on the server ({})", s.textinfo),
                    queued: None,
                }),
                // Not there yet, or finished and the answer is on its way; a server without
                // `/internal/progress` (older than 1.6) gets only the overall limit.
                _ => {}
            }
            let active_too_long = started.is_some_and(|s| s.elapsed() >= self.http.timeout);
            if active_too_long || submitted.elapsed() >= limit {
                job.cancel().await;
                return Err(RenderError::Timeout {
                    url: self.http.url(TXT2IMG),
                    seconds: if active_too_long {
                        self.http.timeout.as_secs()
                    } else {
                        limit.as_secs()
                    },
                });
            }
        }
    }

    /// The images of a txt2img answer, after checking which model made them.
    fn read_answer(
        &self,
        answer: &Value,
        checkpoint: &Checkpoint,
        count: u32,
    ) -> Result<Vec<RgbImage>, RenderError> {
        let info_text = answer
            .get("info")
            .and_then(Value::as_str)
            .ok_or_else(|| self.http.protocol(TXT2IMG, "no `info` in the answer"))?;
        let info: Value = serde_json::from_str(info_text).map_err(|e| {
            self.http
                .protocol(TXT2IMG, format!("the answer's `info` is not JSON ({e})"))
        })?;
        let ran_name = info
            .get("sd_model_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ran_hash = info
            .get("sd_model_hash")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty());
        if ran_name.is_empty() && ran_hash.is_none() {
            return Err(self.http.protocol(
                TXT2IMG,
                "the answer's `info` does not say which model rendered",
            ));
        }
        if !checkpoint.ran(ran_name, ran_hash) {
            return Err(RenderError::WrongModel {
                url: self.http.base.clone(),
                wanted: checkpoint.title.clone(),
                ran: match ran_hash {
                    Some(h) => format!("{ran_name} [{h}]"),
                    None => ran_name.to_string(),
                },
            });
        }
        let images = answer
            .get("images")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.http
                    .protocol(TXT2IMG, "no `images` list in the answer")
            })?;
        if images.len() < count as usize {
            // `process_images_inner` stops before a batch when the job was interrupted (by
            // another client: ours are only interrupted after our timeout) and answers with
            // the images it has. An interrupt during sampling cannot be told apart: the
            // server decodes the partly denoised batch and answers as usual.
            return Err(RenderError::Interrupted {
                url: self.http.base.clone(),
            });
        }
        let mut out = Vec::with_capacity(count as usize);
        for item in images.iter().take(count as usize) {
            let text = item.as_str().ok_or_else(|| {
                self.http
                    .protocol(TXT2IMG, "an image is not a base64 string")
            })?;
            // Some versions prefix a data URL header.
            let data = text.rsplit_once(',').map_or(text, |(_, d)| d);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| {
                    self.http
                        .protocol(TXT2IMG, format!("bad base64 image: {e}"))
                })?;
            out.push(decode_image(&bytes)?);
        }
        Ok(out)
    }
}

impl Backend for Automatic1111 {
    fn name(&self) -> &'static str {
        "automatic1111"
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        self.vocabulary.knob_specs()
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        check_request(request)?;
        let checkpoint = self.checkpoint().await?;
        let task = format!(
            "task(tastebud-{}-{}-{:08x})",
            std::process::id(),
            TASKS.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let body = self.txt2img_body(request, &checkpoint.title, &task);
        let mut job = OwnJob {
            http: self.http.clone(),
            task,
            poll: self.poll,
            watch_for: self.overall_limit(),
            settled: false,
        };
        let answer = match self.run_job(&body, &mut job, &progress).await {
            Ok(answer) => answer,
            Err(e) => {
                // The server may still hold the job after a proxy's 502/503/504 or a cut
                // connection: it would run for nobody, so it is cancelled. A timeout has
                // cancelled it already (a second interrupt could hit the next job); refused
                // connections never reached the server; any other answer means the job is
                // over (after an exception `text2imgapi` never calls `finish_task`, so
                // `/internal/progress` would call it active for a while: no interrupt then).
                let may_hold_it = match &e {
                    RenderError::Dropped { .. } | RenderError::Timeout { .. } => true,
                    RenderError::Server { status, .. } => matches!(status, 502..=504),
                    _ => false,
                };
                if may_hold_it && !job.settled {
                    job.cancel().await;
                }
                job.settled = true;
                return Err(e);
            }
        };
        job.settled = true;
        let images = self.read_answer(&answer, &checkpoint, request.count)?;
        progress(Progress::done());
        Ok(images)
    }

    fn features(&self) -> Features {
        Features {
            negative: true,
            tile: true,
            size_step: 64,
        }
    }

    /// Checks the server answers and has the configured model (matched as `process_images`
    /// matches overrides); with `model = ""`, the model it has loaded now. Remembers the
    /// model for the renders that follow and returns its title.
    async fn verify(&self) -> Result<String, RenderError> {
        let list = self.checkpoints().await?;
        let wanted = if self.model.is_empty() {
            self.current_model().await?
        } else {
            self.model.clone()
        };
        let found = list.iter().find(|c| c.aliases().contains(&wanted)).cloned();
        match found {
            Some(c) => {
                let title = c.title.clone();
                *self.verified.lock().expect("lock") = Some(c);
                Ok(title)
            }
            None => Err(RenderError::UnknownModel {
                url: self.http.base.clone(),
                model: wanted,
                available: list.into_iter().map(|c| c.title).collect(),
            }),
        }
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        Ok(self
            .checkpoints()
            .await?
            .into_iter()
            .map(|c| c.title)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_for_the_prompt_parser() {
        assert_eq!(
            escape_prompt(r"<lora:x:1> (a:1.5) [a:b:0.5] c\d AND e BREAK f ANDROID"),
            r"< lora:x:1> \(a:1.5\) \[a:b:0.5\] c\\d and e break f ANDROID"
        );
        assert_eq!(escape_prompt("a|b <  c <<x"), r"a\|b <  c < < x");
        assert_eq!(escape_prompt("fan #1\n#2"), "fan \u{FF03}1\n\u{FF03}2");
        assert_eq!(guard_trailing_weight("a cat:1.5".into()), "a cat:1.5,");
        assert_eq!(guard_trailing_weight("a cat: 1.5 ".into()), "a cat: 1.5,");
        assert_eq!(guard_trailing_weight("route 66".into()), "route 66");
    }

    #[test]
    fn checkpoint_aliases_follow_sd_models() {
        let c = Checkpoint {
            title: "sdxl/juggernautXL_v9.safetensors [c9e3e68f89]".into(),
            model_name: "sdxl_juggernautXL_v9".into(),
            hash: Some("c9e3e68f89".into()),
            sha256: None,
            filename: "/models/Stable-diffusion/sdxl/juggernautXL_v9.safetensors".into(),
        };
        assert_eq!(c.name(), "sdxl/juggernautXL_v9.safetensors");
        assert_eq!(c.name_for_extra(), "juggernautXL_v9");
        let aliases = c.aliases();
        for a in [
            "sdxl/juggernautXL_v9.safetensors",
            "juggernautXL_v9",
            "sdxl_juggernautXL_v9",
            "juggernautXL_v9 [c9e3e68f89]",
        ] {
            assert!(aliases.iter().any(|x| x == a), "{a} in {aliases:?}");
        }
        // `process_images` looks overrides up exactly: a bare file name of a model in a
        // folder is not one of its names.
        assert!(!aliases.iter().any(|x| x == "juggernautXL_v9.safetensors"));
        assert!(c.ran("juggernautXL_v9", Some("C9E3E68F89")));
        assert!(!c.ran("juggernautXL_v9", Some("0000000000")));
    }
}
