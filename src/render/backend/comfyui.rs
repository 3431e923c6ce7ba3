//! The ComfyUI backend: one workflow per image queued over HTTP, followed over its websocket.
//!
//! A render first checks the server (once per client, [`ComfyUi::verify`]: the configured
//! checkpoint must be in `/object_info/CheckpointLoaderSimple`), connects to
//! `/ws?clientId=ID`, then queues **one prompt per image** with `POST /prompt`
//! (`{"prompt": workflow, "client_id": ID}`), image `i` with seed `seed + i` and batch size 1:
//! ComfyUI's KSampler draws one noise tensor from one seed for a whole batch, so the images of
//! a batch are not `seed + i` and could not be made again from their stored seed. All prompts
//! are queued at once, then awaited. ComfyUI sends a client only its own prompts' messages
//! (and broadcasts `status`, and the progress of prompts queued without a client id), so
//! progress is taken only from messages naming one of our prompt ids.
//!
//! - **History.** ComfyUI sends `execution_success` *before* it writes `/history/{id}`
//!   (`main.py` `prompt_worker` calls `task_done` after `execute` returns; upstream issue
//!   Comfy-Org/ComfyUI#11540), and `executing` with `node: null` after. So after success the
//!   history is polled until the outputs appear ([`HISTORY_WAIT`] at most).
//! - **Dropped websocket.** The job is not lost: the render goes on polling `/queue` and
//!   `/history/{id}` every [`POLL_EVERY`] until each prompt is done (the history's `status`
//!   messages carry the error of a failed one), or is nowhere to be found three times running.
//! - **Timeout.** `timeout_secs` counts from each prompt's `execution_start` (or from the poll
//!   that first sees it running), not while it waits in ComfyUI's queue behind other clients'
//!   prompts. The whole render is bounded by `timeout × (images + `[`QUEUE_ALLOWANCE`]`)`.
//! - **Cancelling.** On a timeout, a failure or when the render is dropped, exactly our own
//!   prompts are cancelled: pending ones deleted (`POST /queue {"delete": […]}`), the running
//!   one interrupted with `POST /interrupt {"prompt_id": …}` only if `/queue` shows it running.
//! - **Errors keep their cause**: a 400's `node_errors` (node id, class, each error's message
//!   and details, e.g. `ckpt_name: 'x' not in […]`), `execution_error`'s node, type and
//!   message, `execution_interrupted` as [`RenderError::Interrupted`].
//! - **Prompt syntax.** User text (the prompt and `--no`) is escaped for ComfyUI's tokenizer
//!   (`comfy/sd1_clip.py`): `(` and `)` become `\(` and `\)`, and `embedding:` gets a space
//!   before its colon, so nothing the user types becomes a weight or loads an embedding; the
//!   vocabulary's weighted phrases are added after escaping and keep their weights. `--no`
//!   joins the configured negative prompt.
//!
//! The workflow template (`config/comfyui_workflow.json`, API format) marks what tastebud
//! fills in with whole-string placeholders: `{{prompt}}`, `{{negative}}`, `{{model}}` (text)
//! and `{{seed}}`, `{{steps}}`, `{{width}}`, `{{height}}`, `{{batch}}` (numbers).
//! `{{prompt}}` and `{{seed}}` are required; `{{batch}}` is optional and always 1. If a
//! template makes several images per prompt anyway, the first saved one is used.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use image::RgbImage;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::http::Http;
use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use crate::config::VersionBackend;
use crate::render::RenderError;
use crate::render::backend::{
    Backend, Features, Progress, ProgressFn, RenderRequest, check_request,
};
use crate::render::images::files::decode_image;

/// The built-in workflow template, the same text as `config/comfyui_workflow.json`.
pub const DEFAULT_WORKFLOW: &str = include_str!("../../../config/comfyui_workflow.json");

/// Placeholders every template must contain.
const REQUIRED: [&str; 2] = ["{{prompt}}", "{{seed}}"];

/// Longest wait for `/history/{id}` to show the outputs after `execution_success`.
pub const HISTORY_WAIT: Duration = Duration::from_secs(20);

/// How often the history (after success) and, without a websocket, the queue are polled.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// The whole render may take `timeout × (images + QUEUE_ALLOWANCE)`: time enough to wait in
/// ComfyUI's queue behind ten renders' worth of other clients' work.
pub const QUEUE_ALLOWANCE: u32 = 10;

/// Polls that find a prompt neither queued, running nor in the history before it counts as
/// lost (a restarted server, a cleared queue).
const LOST_AFTER: u32 = 3;

static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// A client for one ComfyUI server.
#[derive(Debug, Clone)]
pub struct ComfyUi {
    http: Http,
    model: String,
    steps: u32,
    negative: String,
    vocabulary: Vocabulary,
    template: Value,
    connect_timeout: Duration,
    /// The checkpoint as the server names it, once verified.
    verified: Arc<tokio::sync::OnceCell<String>>,
}

/// One saved picture, as `/history` and `executed` name it.
#[derive(Debug, Clone, PartialEq)]
struct ImageRef {
    filename: String,
    subfolder: String,
    kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// In ComfyUI's queue.
    Waiting,
    /// `execution_start` seen (or `/queue` shows it running).
    Running,
    /// `execution_success` seen; waiting for the history.
    Succeeded,
    /// Outputs read.
    Done,
    /// Ended with an error or an interrupt: nothing left to cancel.
    Failed,
}

/// One of our prompts.
#[derive(Debug)]
struct Job {
    id: String,
    state: State,
    started: Option<Instant>,
    succeeded: Option<Instant>,
    step: Option<(f64, f64)>,
    missing: u32,
    /// Pictures announced by `executed` messages, in case the history never shows them.
    announced: Vec<ImageRef>,
    image: Option<ImageRef>,
}

impl Job {
    fn new(id: String) -> Job {
        Job {
            id,
            state: State::Waiting,
            started: None,
            succeeded: None,
            step: None,
            missing: 0,
            announced: Vec::new(),
            image: None,
        }
    }
}

/// Cancels our prompts that are still on the server if a render is dropped before it ends
/// (a caller's own timeout, a shutdown).
struct Outstanding {
    http: Http,
    ids: Vec<String>,
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let http = self.http.clone();
            let ids = std::mem::take(&mut self.ids);
            handle.spawn(async move { cancel(&http, &ids).await });
        }
    }
}

impl ComfyUi {
    /// A client using `workflow` (template JSON text; empty: the built-in one).
    pub fn new(
        settings: &VersionBackend,
        vocabulary: Vocabulary,
        workflow: &str,
    ) -> Result<ComfyUi, RenderError> {
        let text = if workflow.trim().is_empty() {
            DEFAULT_WORKFLOW
        } else {
            workflow
        };
        let template: Value = serde_json::from_str(text).map_err(|e| {
            RenderError::BadRequest(format!("the ComfyUI workflow template is not JSON: {e}"))
        })?;
        for placeholder in REQUIRED {
            if !text.contains(placeholder) {
                return Err(RenderError::BadRequest(format!(
                    "the ComfyUI workflow template has no {placeholder} placeholder"
                )));
            }
        }
        Ok(ComfyUi {
            http: Http::new(settings)?,
            model: settings.model.clone(),
            steps: settings.steps.max(1),
            negative: settings.negative_prompt.clone(),
            vocabulary,
            template,
            connect_timeout: Duration::from_secs(settings.connect_timeout_secs.max(1)),
            verified: Arc::default(),
        })
    }

    /// The workflow for image `index` of `request` (seed `seed + index`, batch size 1), with
    /// every placeholder filled in and the user's text escaped.
    pub fn workflow(&self, request: &RenderRequest, model: &str, index: u32) -> Value {
        let mut negative: Vec<String> = Vec::new();
        if !self.negative.trim().is_empty() {
            negative.push(self.negative.trim().to_string());
        }
        negative.extend(
            request
                .negative
                .iter()
                .map(|n| escape_prompt(n.trim()))
                .filter(|n| !n.is_empty()),
        );
        let phrased = self.vocabulary.apply(
            &escape_prompt(&request.prompt),
            &negative.join(", "),
            &request.knobs,
        );
        let seed = request.seed.wrapping_add(u64::from(index));
        let mut workflow = self.template.clone();
        fill(&mut workflow, &|placeholder| match placeholder {
            "{{prompt}}" => Some(json!(phrased.prompt)),
            "{{negative}}" => Some(json!(phrased.negative)),
            "{{model}}" => Some(json!(model)),
            "{{seed}}" => Some(json!(seed)),
            "{{steps}}" => Some(json!(self.steps)),
            "{{width}}" => Some(json!(request.width)),
            "{{height}}" => Some(json!(request.height)),
            "{{batch}}" => Some(json!(1)),
            _ => None,
        });
        workflow
    }

    fn websocket_url(&self, client_id: &str) -> Result<String, RenderError> {
        let base = &self.http.base;
        let rest = base
            .strip_prefix("http://")
            .map(|r| format!("ws://{r}"))
            .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")))
            .ok_or_else(|| {
                RenderError::BadRequest(format!("the ComfyUI url {base} is not http(s)"))
            })?;
        Ok(format!("{rest}/ws?clientId={client_id}"))
    }

    /// `POST /prompt`, retried only when the connection was refused (the server cannot have
    /// queued it); a 400 is explained with its `node_errors`.
    async fn queue_prompt(&self, body: &Value) -> Result<String, RenderError> {
        let url = self.http.url("/prompt");
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 0;
        let response = loop {
            match self.http.client.post(&url).json(body).send().await {
                Ok(r) => break r,
                Err(e) if e.is_connect() && attempt < self.http.retries => {
                    attempt += 1;
                    tracing::warn!(%url, attempt, "ComfyUI refused the connection; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(e) => return Err(self.http.explain(&url, &e)),
            }
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| self.http.explain(&url, &e))?;
        if !status.is_success() {
            return Err(RenderError::Server {
                url,
                status: status.as_u16(),
                message: prompt_error(&text),
            });
        }
        let answer: Value = serde_json::from_str(&text).map_err(|e| {
            self.http
                .protocol("/prompt", format!("the answer is not JSON ({e})"))
        })?;
        answer
            .get("prompt_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.http.protocol("/prompt", "no prompt_id in the answer"))
    }

    /// The history entry of `id`, if the server has written it.
    async fn history(&self, id: &str) -> Result<Option<Value>, RenderError> {
        let path = format!("/history/{id}");
        let v = self.http.get_json(&path).await?;
        Ok(v.get(id).cloned())
    }

    /// Reads a finished prompt's history entry: its picture, or the error it ended with.
    fn read_history(&self, job: &Job, entry: &Value) -> Result<Option<ImageRef>, RenderError> {
        let status = &entry["status"];
        if status["status_str"].as_str() == Some("error") {
            for m in status["messages"].as_array().into_iter().flatten() {
                match m[0].as_str() {
                    Some("execution_error") => return Err(self.execution_error(&job.id, &m[1])),
                    Some("execution_interrupted") => {
                        return Err(RenderError::Interrupted {
                            url: self.http.base.clone(),
                        });
                    }
                    _ => {}
                }
            }
            return Err(RenderError::Server {
                url: self.http.base.clone(),
                status: 500,
                message: format!("prompt {} failed (the history says no more)", job.id),
            });
        }
        Ok(first_image(&entry["outputs"]))
    }

    fn execution_error(&self, id: &str, data: &Value) -> RenderError {
        let text = |k: &str| data[k].as_str().unwrap_or("?").trim().to_string();
        RenderError::Server {
            url: self.http.base.clone(),
            status: 500,
            message: format!(
                "prompt {id} failed in node {} ({}): {}: {}",
                text("node_id"),
                text("node_type"),
                text("exception_type"),
                text("exception_message")
            ),
        }
    }

    async fn run(
        &self,
        request: &RenderRequest,
        progress: &ProgressFn,
        model: &str,
    ) -> Result<Vec<RgbImage>, RenderError> {
        let client_id = format!(
            "tastebud-{}-{}",
            std::process::id(),
            CLIENTS.fetch_add(1, Ordering::Relaxed)
        );
        // Connect before queueing, or the first messages are lost. Without a websocket (a
        // proxy that refuses upgrades) the render still works, by polling.
        let ws_url = self.websocket_url(&client_id)?;
        let mut socket = match tokio::time::timeout(
            self.connect_timeout,
            tokio_tungstenite::connect_async(&ws_url),
        )
        .await
        {
            Ok(Ok((s, _))) => Some(s),
            Ok(Err(e)) => {
                tracing::warn!(url = %ws_url, error = %e, "no ComfyUI websocket; polling instead");
                None
            }
            Err(_) => {
                tracing::warn!(url = %ws_url, "the ComfyUI websocket did not open; polling instead");
                None
            }
        };

        let mut outstanding = Outstanding {
            http: self.http.clone(),
            ids: Vec::new(),
        };
        let mut jobs = Vec::with_capacity(request.count as usize);
        for index in 0..request.count {
            let body = json!({
                "prompt": self.workflow(request, model, index),
                "client_id": client_id,
            });
            match self.queue_prompt(&body).await {
                Ok(id) => {
                    outstanding.ids.push(id.clone());
                    jobs.push(Job::new(id));
                }
                Err(e) => {
                    cancel(&self.http, &std::mem::take(&mut outstanding.ids)).await;
                    return Err(e);
                }
            }
        }

        let result = self
            .follow(&mut jobs, &mut socket, progress, request.count)
            .await;
        if let Some(mut s) = socket {
            let _ = s.close(None).await;
        }
        match result {
            Ok(()) => outstanding.ids.clear(),
            Err(e) => {
                let ids = std::mem::take(&mut outstanding.ids);
                let unfinished: Vec<String> = jobs
                    .iter()
                    .filter(|j| {
                        ids.contains(&j.id) && !matches!(j.state, State::Done | State::Failed)
                    })
                    .map(|j| j.id.clone())
                    .collect();
                cancel(&self.http, &unfinished).await;
                return Err(e);
            }
        }

        let mut images = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let image = job.image.as_ref().expect("done jobs have an image");
            let path = format!(
                "/view?filename={}&subfolder={}&type={}",
                encode(&image.filename),
                encode(&image.subfolder),
                encode(&image.kind)
            );
            images.push(decode_image(&self.http.get_bytes(&path).await?)?);
        }
        Ok(images)
    }

    /// Follows `jobs` until every one is done, or one fails or times out.
    async fn follow(
        &self,
        jobs: &mut [Job],
        socket: &mut Option<
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
        >,
        progress: &ProgressFn,
        count: u32,
    ) -> Result<(), RenderError> {
        let timeout = self.http.timeout;
        let overall = timeout * (count + QUEUE_ALLOWANCE);
        let began = Instant::now();
        let mut ticker = tokio::time::interval(POLL_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_note = String::new();
        loop {
            if jobs.iter().all(|j| j.state == State::Done) {
                return Ok(());
            }
            let now = Instant::now();
            if now.duration_since(began) > overall {
                return Err(RenderError::Timeout {
                    url: self.http.base.clone(),
                    seconds: overall.as_secs(),
                });
            }
            if jobs.iter().any(|j| {
                j.state == State::Running
                    && j.started.is_some_and(|s| now.duration_since(s) > timeout)
            }) {
                return Err(RenderError::Timeout {
                    url: self.http.base.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            report(jobs, progress, &mut last_note);

            let message = async {
                match socket.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                message = message => match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(event) = serde_json::from_str::<Value>(text.as_str()) {
                            self.handle(jobs, &event).await?;
                        }
                    }
                    Some(Ok(_)) => {} // binary frames are previews
                    Some(Err(e)) => {
                        tracing::warn!(url = %self.http.base, error = %e,
                            "the ComfyUI websocket broke; polling /queue and /history instead");
                        *socket = None;
                    }
                    None => {
                        tracing::warn!(url = %self.http.base,
                            "the ComfyUI websocket closed; polling /queue and /history instead");
                        *socket = None;
                    }
                },
                _ = ticker.tick() => {
                    if socket.is_none() {
                        self.poll(jobs).await?;
                    } else {
                        self.poll_history(jobs).await?;
                    }
                }
            }
        }
    }

    /// One websocket message.
    async fn handle(&self, jobs: &mut [Job], event: &Value) -> Result<(), RenderError> {
        let data = &event["data"];
        // Only messages that name one of our prompts are ours: progress of a prompt queued
        // without a client id is broadcast to every socket.
        let Some(job) = (match data.get("prompt_id").and_then(Value::as_str) {
            Some(id) => jobs.iter().position(|j| j.id == id),
            // ComfyUI before mid-2024 sent `progress` as `{value, max}` only. One prompt runs
            // at a time and messages keep their order, so while one of ours runs (its
            // `execution_start` came, its end did not) such progress is ours.
            None if event["type"] == "progress" => {
                jobs.iter().position(|j| j.state == State::Running)
            }
            None => None,
        }) else {
            return Ok(());
        };
        let job = &mut jobs[job];
        match event["type"].as_str().unwrap_or_default() {
            "execution_start" => {
                job.state = State::Running;
                job.started.get_or_insert_with(Instant::now);
            }
            "execution_cached" | "executing" if job.state == State::Waiting => {
                job.state = State::Running;
                job.started.get_or_insert_with(Instant::now);
            }
            "progress" => {
                let value = data["value"].as_f64().unwrap_or(0.0);
                let max = data["max"].as_f64().unwrap_or(1.0).max(1.0);
                job.step = Some((value, max));
            }
            "executed" => {
                if let Some(image) = first_image(&json!({ "x": data["output"] })) {
                    job.announced.push(image);
                }
            }
            "execution_success" => {
                job.state = State::Succeeded;
                job.succeeded = Some(Instant::now());
            }
            "execution_error" => {
                job.state = State::Failed;
                return Err(self.execution_error(&job.id.clone(), data));
            }
            "execution_interrupted" => {
                job.state = State::Failed;
                return Err(RenderError::Interrupted {
                    url: self.http.base.clone(),
                });
            }
            _ => {}
        }
        // `executing` with no node comes after the history is written.
        if event["type"] == "executing" && data["node"].is_null() && job.state != State::Done {
            let id = job.id.clone();
            if let Some(entry) = self.history(&id).await? {
                self.finish(job, &entry)?;
            }
        }
        Ok(())
    }

    /// A history entry for `job`: done, failed, or (no outputs yet) still waiting.
    fn finish(&self, job: &mut Job, entry: &Value) -> Result<(), RenderError> {
        let read = self.read_history(job, entry);
        job.state = State::Failed;
        match read? {
            Some(image) => {
                job.image = Some(image);
                job.state = State::Done;
                Ok(())
            }
            None => Err(self.http.protocol(
                &format!("/history/{}", job.id),
                "the prompt finished without saving a picture",
            )),
        }
    }

    /// After `execution_success`: polls the history until it shows the outputs.
    async fn poll_history(&self, jobs: &mut [Job]) -> Result<(), RenderError> {
        for job in jobs.iter_mut().filter(|j| j.state == State::Succeeded) {
            if let Some(entry) = self.history(&job.id).await? {
                self.finish(job, &entry)?;
                continue;
            }
            if job.succeeded.is_some_and(|s| s.elapsed() > HISTORY_WAIT) {
                if let Some(image) = job.announced.first().cloned() {
                    tracing::warn!(url = %self.http.base, prompt = %job.id,
                        "no history after success; using the pictures the websocket announced");
                    job.image = Some(image);
                    job.state = State::Done;
                } else {
                    return Err(self.http.protocol(
                        &format!("/history/{}", job.id),
                        format!(
                            "the prompt succeeded but its history was still empty after {} s",
                            HISTORY_WAIT.as_secs()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Without a websocket: where each unfinished prompt is, from `/queue` and `/history`.
    async fn poll(&self, jobs: &mut [Job]) -> Result<(), RenderError> {
        let queue = self.http.get_json("/queue").await?;
        let ids = |key: &str| -> Vec<String> {
            queue[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item[1].as_str().map(str::to_string))
                .collect()
        };
        let running = ids("queue_running");
        let pending = ids("queue_pending");
        for job in jobs.iter_mut().filter(|j| j.state != State::Done) {
            if running.contains(&job.id) {
                job.state = State::Running;
                job.started.get_or_insert_with(Instant::now);
                job.missing = 0;
                continue;
            }
            if pending.contains(&job.id) {
                job.missing = 0;
                continue;
            }
            // Not in the queue when we asked: it is in the history now, or it was lost.
            match self.history(&job.id).await? {
                Some(entry) => self.finish(job, &entry)?,
                None => {
                    job.missing += 1;
                    if job.missing >= LOST_AFTER {
                        return Err(self.http.protocol(
                            "/queue",
                            format!(
                                "prompt {} is neither queued, running nor in the history: \
                                 the server lost it (restarted, or its queue was cleared?)",
                                job.id
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reports the progress of `jobs` when it changed.
fn report(jobs: &[Job], progress: &ProgressFn, last: &mut String) {
    let n = jobs.len().max(1) as f64;
    let finished = jobs
        .iter()
        .filter(|j| matches!(j.state, State::Succeeded | State::Done))
        .count();
    let current = jobs
        .iter()
        .enumerate()
        .find(|(_, j)| j.state == State::Running);
    let (fraction, note) = match current {
        Some((i, job)) => {
            let (value, max) = job.step.unwrap_or((0.0, 1.0));
            (
                (finished as f64 + (value / max).clamp(0.0, 1.0)) / n,
                match job.step {
                    Some(_) => format!(
                        "image {} of {}: step {value:.0} of {max:.0}",
                        i + 1,
                        jobs.len()
                    ),
                    None => format!("image {} of {}: starting", i + 1, jobs.len()),
                },
            )
        }
        None if finished == 0 => (0.0, "waiting in the server's queue".to_string()),
        None => (
            finished as f64 / n,
            format!("{finished} of {} images done", jobs.len()),
        ),
    };
    if note != *last {
        last.clone_from(&note);
        progress(Progress {
            fraction: fraction as f32,
            note,
            queued: None,
        });
    }
}

/// Cancels exactly `ids` on the server: deletes the pending ones, then interrupts the one
/// running if it is one of them. Failures are logged, not returned: the render already failed.
async fn cancel(http: &Http, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    // Pending first, so none of ours starts once the running one is stopped. Deleting an id
    // that is not pending does nothing (`PromptQueue.delete_queue_item`).
    let body = json!({ "delete": ids });
    if let Err(e) = http.send("/queue", |c, u| c.post(u).json(&body)).await {
        tracing::warn!(url = %http.base, error = %e, "could not delete our queued ComfyUI prompts");
    }
    let queue = match http.get_json("/queue").await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(url = %http.base, error = %e, "could not read the ComfyUI queue to cancel");
            return;
        }
    };
    let running: Vec<String> = queue["queue_running"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[1].as_str().map(str::to_string))
        .filter(|id| ids.contains(id))
        .collect();
    for id in running {
        // ComfyUI interrupts only the named prompt, and only while it runs
        // (`server.py` `post_interrupt`). Servers older than that ignore the body and stop
        // whatever runs: our prompt may finish between the `/queue` read above and this
        // request and another client's start, which such a server would then interrupt. The
        // window is one round trip; checking `/queue` first is the best those servers allow.
        let body = json!({ "prompt_id": id });
        if let Err(e) = http.send("/interrupt", |c, u| c.post(u).json(&body)).await {
            tracing::warn!(url = %http.base, error = %e, "could not interrupt our ComfyUI prompt");
        }
    }
}

/// The first saved (not preview) picture of a history's or `executed` message's outputs, by
/// node id.
fn first_image(outputs: &Value) -> Option<ImageRef> {
    let outputs = outputs.as_object()?;
    let nodes: BTreeMap<(usize, &String), &Value> =
        outputs.iter().map(|(k, v)| ((k.len(), k), v)).collect();
    nodes.values().find_map(|output| {
        output["images"].as_array()?.iter().find_map(|image| {
            let kind = image["type"].as_str().unwrap_or("output");
            let filename = image["filename"].as_str().unwrap_or_default();
            (kind != "temp" && !filename.is_empty()).then(|| ImageRef {
                filename: filename.to_string(),
                subfolder: image["subfolder"].as_str().unwrap_or_default().to_string(),
                kind: kind.to_string(),
            })
        })
    })
}

/// A 400 answer of `POST /prompt` in words: the error, then each node's errors
/// (`node_errors`: node id, class, message and details).
fn prompt_error(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        let text = body.trim();
        return if text.is_empty() {
            "no message".into()
        } else {
            text.chars().take(300).collect()
        };
    };
    let error = &v["error"];
    let mut message = match error {
        Value::String(s) => s.clone(),
        Value::Object(_) => {
            let m = error["message"].as_str().unwrap_or("invalid prompt").trim();
            let d = error["details"].as_str().unwrap_or("").trim();
            if d.is_empty() {
                m.to_string()
            } else {
                format!("{m} ({d})")
            }
        }
        Value::Null => "invalid prompt".to_string(),
        other => other.to_string(),
    };
    if let Some(nodes) = v["node_errors"].as_object() {
        let mut ids: Vec<&String> = nodes.keys().collect();
        ids.sort_by_key(|k| (k.len(), *k));
        for id in ids {
            let node = &nodes[id.as_str()];
            let class = node["class_type"].as_str().unwrap_or("?");
            let reasons: Vec<String> = node["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let m = e["message"].as_str().unwrap_or("").trim();
                    let d = e["details"].as_str().unwrap_or("").trim();
                    if d.is_empty() {
                        m.to_string()
                    } else {
                        format!("{m}: {d}")
                    }
                })
                .collect();
            message.push_str(&format!("; node {id} ({class}): {}", reasons.join("; ")));
        }
    }
    message
}

/// User text made inert for ComfyUI's prompt syntax (`comfy/sd1_clip.py`): parentheses are
/// escaped (`\(`, `\)` are literal there), and `embedding:` (which loads an embedding file at
/// the start of a word) gets a space before its colon, which CLIP tokenizes the same way.
pub fn escape_prompt(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '(' || c == ')' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    const EMBEDDING: &str = "embedding:";
    let lower = escaped.to_ascii_lowercase();
    let mut out = String::with_capacity(escaped.len());
    let mut rest = 0;
    for (at, _) in lower.match_indices(EMBEDDING) {
        let colon = at + EMBEDDING.len() - 1;
        out.push_str(&escaped[rest..colon]);
        out.push(' ');
        rest = colon;
    }
    out.push_str(&escaped[rest..]);
    out
}

/// Replaces every string value that is exactly a known placeholder.
fn fill(value: &mut Value, lookup: &dyn Fn(&str) -> Option<Value>) {
    match value {
        Value::String(s) => {
            if let Some(v) = lookup(s) {
                *value = v;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, lookup)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, lookup)),
        _ => {}
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Backend for ComfyUi {
    fn name(&self) -> &'static str {
        "comfyui"
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
        // Refused before anything is queued if the checkpoint is not there.
        let model = self.verify().await?;
        let images = self.run(request, &progress, &model).await?;
        progress(Progress::done());
        Ok(images)
    }

    fn features(&self) -> Features {
        Features {
            negative: true,
            tile: false,
            size_step: 64,
        }
    }

    /// The configured checkpoint, checked once against the server's list (a success is kept).
    async fn verify(&self) -> Result<String, RenderError> {
        self.verified
            .get_or_try_init(|| async {
                let available = self.models().await?;
                if !self.model.is_empty() && available.contains(&self.model) {
                    Ok(self.model.clone())
                } else {
                    Err(RenderError::UnknownModel {
                        url: self.http.base.clone(),
                        model: self.model.clone(),
                        available,
                    })
                }
            })
            .await
            .cloned()
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        let path = "/object_info/CheckpointLoaderSimple";
        let v = self.http.get_json(path).await?;
        let input = &v["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"];
        // `[[names…], {options}]`, or in the newer node schema `["COMBO", {"options": […]}]`.
        let names = input[0]
            .as_array()
            .or_else(|| input[1]["options"].as_array())
            .ok_or_else(|| self.http.protocol(path, "no checkpoint list in the answer"))?;
        Ok(names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_for_comfyui() {
        assert_eq!(escape_prompt("a (red:2) cat"), r"a \(red:2\) cat");
        assert_eq!(escape_prompt("embedding:evil x"), "embedding :evil x");
        assert_eq!(escape_prompt("an Embedding:Bad"), "an Embedding :Bad");
        assert_eq!(escape_prompt("plain"), "plain");
    }

    #[test]
    fn node_errors_are_summarised() {
        let body = r#"{"error": {"type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"4": {"errors": [{"type": "value_not_in_list",
            "message": "Value not in list", "details": "ckpt_name: 'x' not in ['a']",
            "extra_info": {}}], "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}}}"#;
        assert_eq!(
            prompt_error(body),
            "Prompt outputs failed validation; node 4 (CheckpointLoaderSimple): \
             Value not in list: ckpt_name: 'x' not in ['a']"
        );
    }
}
