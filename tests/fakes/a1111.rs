//! A strict fake AUTOMATIC1111 (stable-diffusion-webui) server on loopback, for tests and benches.
//!
//! It copies what the real server does where tastebud can get it wrong (read from upstream
//! `modules/api/api.py`, `modules/progress.py`, `modules/processing.py`, `modules/sd_models.py`):
//!
//! - ONE job at a time: `text2imgapi` registers the task (`add_task_to_queue`), then waits for
//!   the `queue_lock`; later jobs wait in line, in arrival order.
//! - `force_task_id` names the task; without it the server makes one (`create_task_id`).
//! - `POST /internal/progress` answers for the task in `id_task` only (`progressapi`): active,
//!   queued (with "In queue: i/n"), completed (the last 16 finished tasks).
//! - `GET /sdapi/v1/progress` is GLOBAL: whatever job runs, anyone's (`Api.progressapi`).
//! - `POST /sdapi/v1/interrupt` stops whatever runs, anyone's job (`Api.interruptapi` →
//!   `shared.state.interrupt()`); the flag is cleared when the next job begins
//!   (`shared.state.begin`), so an interrupt between jobs is lost. An interrupted job still
//!   answers 200 with a full batch of (partly denoised) images, as the sampler's
//!   `InterruptedException` returns the last latent.
//! - `override_settings.sd_model_checkpoint` is looked up among the checkpoint aliases
//!   (`process_images`: `checkpoint_aliases.get(...)`); an unknown name is SILENTLY dropped and
//!   the job renders with the loaded model. The answer's `info` is a JSON string (`Processed.js`)
//!   whose `sd_model_name`/`sd_model_hash` name the model that really ran.
//! - Type errors in the body are answered 422 with FastAPI's `detail` list; an unknown sampler
//!   404 "Sampler not found" in A1111's error format (`api_middleware.handle_exception`).
//! - Images are base64 PNGs of the requested size (rounded down to multiples of 8, as the
//!   latent is 1/8 of it), one per batch item; image `i` uses seed `seed + i`
//!   (`process_images_inner`: `all_seeds`), and its colour encodes that seed ([`seed_of`]).
//!
//! Controls (for tests, dispatcher tests and benchmarks):
//! - [`FakeA1111::start`] / [`FakeA1111::start_with_models`]; [`FakeA1111::url`].
//! - [`FakeA1111::set_render_time`]: how long a job of 20 steps takes (scales with `steps`).
//! - [`FakeA1111::kill`]: stops accepting AND aborts open connections and every queued or
//!   running job (a job in flight fails mid-way); [`FakeA1111::restart`] on the same port.
//! - [`FakeA1111::txt2img_calls`], [`FakeA1111::jobs_rendered`] (finished, not interrupted
//!   or killed), [`FakeA1111::jobs`] (every job with its outcome), [`FakeA1111::bodies`],
//!   [`FakeA1111::interrupts`].
//! - [`FakeA1111::set_proxy_timeout`]: a reverse proxy in front that forwards the job and
//!   answers 504 (nginx's page) after the delay while the server keeps working.
//! - [`FakeA1111::fail_next_gets`]: a proxy answering 502/503/504 to the next GETs.
//! - [`FakeA1111::lock_model`]: the loaded model cannot be switched (Forge ignoring overrides).
//! - [`FakeA1111::spawn_other_client`]: a job of another client of the same server.
//! - [`prompt_syntax`]: what in a prompt A1111 would act on.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use image::{Rgb, RgbImage};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Models the default fake offers: (path below the models folder, sha256). The first is loaded.
pub const DEFAULT_MODELS: [(&str, &str); 3] = [
    (
        "dreamshaper_8.safetensors",
        "879db523c30d3b9017143d56705015e15a2cb5628762c11d086fed9538abd7fd",
    ),
    (
        "sd_xl_base_1.0.safetensors",
        "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
    ),
    (
        "sdxl/juggernautXL_v9.safetensors",
        "c9e3e68f89b8e38689e1097d4be4573cf308de4e3fd044c64ca697bdb4aa8bca",
    ),
];

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Waiting,
    Running,
    Completed,
    Interrupted,
    /// The server was killed while the job waited or ran.
    Killed,
    /// It raised an exception ([`FakeA1111::fail_next_job`]).
    Failed,
}

/// One txt2img job the server took.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub task: String,
    pub prompt: String,
    /// `sd_model_name [sd_model_hash]` of the model that ran (set when it starts).
    pub model: String,
    pub outcome: Outcome,
    pub queued_at: Instant,
    pub started_at: Option<Instant>,
    pub ended_at: Option<Instant>,
}

/// A checkpoint as `modules/sd_models.py` `CheckpointInfo` describes it.
#[derive(Debug, Clone)]
struct Checkpoint {
    /// Path below the models folder (`name`).
    name: String,
    sha256: String,
}

impl Checkpoint {
    fn shorthash(&self) -> String {
        self.sha256[..10].to_string()
    }
    fn title(&self) -> String {
        format!("{} [{}]", self.name, self.shorthash())
    }
    /// `model_name`: the name without extension, folders joined by `_`.
    fn model_name(&self) -> String {
        strip_ext(&self.name.replace(['/', '\\'], "_"))
    }
    /// `name_for_extra`: the file name without folders and extension.
    fn name_for_extra(&self) -> String {
        strip_ext(self.name.rsplit(['/', '\\']).next().unwrap_or(&self.name))
    }
    /// `CheckpointInfo.ids`: every name `checkpoint_aliases` knows it by (without the legacy
    /// 8-digit hash, which the fake does not compute).
    fn aliases(&self) -> Vec<String> {
        vec![
            self.model_name(),
            self.title(),
            self.name.clone(),
            self.name_for_extra(),
            self.shorthash(),
            self.sha256.clone(),
            format!("{} [{}]", self.name_for_extra(), self.shorthash()),
        ]
    }
    fn json(&self) -> Value {
        json!({
            "title": self.title(),
            "model_name": self.model_name(),
            "hash": self.shorthash(),
            "sha256": self.sha256,
            "filename": format!("/sd/models/Stable-diffusion/{}", self.name),
            "config": null,
        })
    }
}

fn strip_ext(name: &str) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => name[..i].to_string(),
        _ => name.to_string(),
    }
}

struct Running {
    task: String,
    step: u32,
    steps: u32,
    interrupted: bool,
    started: Instant,
    record: usize,
}

struct Shared {
    models: Vec<Checkpoint>,
    /// Index of `opts.sd_model_checkpoint`.
    loaded: usize,
    model_locked: bool,
    /// Tasks waiting for the queue lock, in arrival order.
    pending: Vec<String>,
    current: Option<Running>,
    finished: VecDeque<String>,
    txt2img_calls: usize,
    bodies: Vec<Value>,
    jobs: Vec<JobRecord>,
    interrupts: usize,
    interrupt_calls: usize,
    /// `progress.current_task` after a job raised: `finish_task` was never called.
    stale_task: Option<String>,
    render_time: Duration,
    proxy_timeout: Option<Duration>,
    gateway_errors: (u16, u32),
    /// The next job raises this (exception type, message) once it has the queue lock.
    job_error: Option<(String, String)>,
    next_task: u64,
}

struct Inner {
    state: Mutex<Shared>,
    queue_lock: tokio::sync::Mutex<()>,
    /// Bumped by `kill`: every job of an older epoch is dead.
    epoch: watch::Sender<u64>,
    pipes: Mutex<Vec<JoinHandle<()>>>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    backend: SocketAddr,
    public: SocketAddr,
}

/// A running fake AUTOMATIC1111 server; see the module documentation.
#[derive(Clone)]
pub struct FakeA1111 {
    inner: Arc<Inner>,
}

impl FakeA1111 {
    /// A server with [`DEFAULT_MODELS`], the first loaded, jobs taking 50 ms.
    pub async fn start() -> FakeA1111 {
        FakeA1111::start_with_models(&DEFAULT_MODELS).await
    }

    /// A server with these (path, sha256) checkpoints, the first loaded.
    pub async fn start_with_models(models: &[(&str, &str)]) -> FakeA1111 {
        let backend_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let backend = backend_listener.local_addr().expect("addr");
        let public_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let public = public_listener.local_addr().expect("addr");
        let (epoch, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            state: Mutex::new(Shared {
                models: models
                    .iter()
                    .map(|(name, sha)| Checkpoint {
                        name: name.to_string(),
                        sha256: sha.to_string(),
                    })
                    .collect(),
                loaded: 0,
                model_locked: false,
                pending: Vec::new(),
                current: None,
                finished: VecDeque::new(),
                txt2img_calls: 0,
                bodies: Vec::new(),
                jobs: Vec::new(),
                interrupts: 0,
                interrupt_calls: 0,
                stale_task: None,
                render_time: Duration::from_millis(50),
                proxy_timeout: None,
                gateway_errors: (0, 0),
                job_error: None,
                next_task: 0,
            }),
            queue_lock: tokio::sync::Mutex::new(()),
            epoch,
            pipes: Mutex::new(Vec::new()),
            acceptor: Mutex::new(None),
            backend,
            public,
        });
        let app = Router::new()
            .route("/sdapi/v1/txt2img", post(txt2img))
            .route("/sdapi/v1/progress", get(global_progress))
            .route("/internal/progress", post(task_progress))
            .route("/sdapi/v1/interrupt", post(interrupt))
            .route("/sdapi/v1/sd-models", get(sd_models))
            .route("/sdapi/v1/options", get(get_options).post(set_options))
            .layer(middleware::from_fn_with_state(inner.clone(), gateway))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(backend_listener, app).await });
        let fake = FakeA1111 { inner };
        fake.accept_on(public_listener);
        fake
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.public)
    }

    /// How long a job of 20 steps takes; a job of `steps` takes `steps/20` of it.
    pub fn set_render_time(&self, time: Duration) {
        self.state().render_time = time;
    }

    /// Puts a reverse proxy in front that answers 504 after `delay` to txt2img while the
    /// server keeps working on the job (`None`: no proxy).
    pub fn set_proxy_timeout(&self, delay: Option<Duration>) {
        self.state().proxy_timeout = delay;
    }

    /// The next `count` GET requests are answered `status` by a proxy.
    pub fn fail_next_gets(&self, status: u16, count: u32) {
        self.state().gateway_errors = (status, count);
    }

    /// The next job fails inside `process_images` with this exception (e.g.
    /// `OutOfMemoryError`, "CUDA out of memory"), answered 500 in A1111's error format.
    pub fn fail_next_job(&self, exception: &str, message: &str) {
        self.state().job_error = Some((exception.to_string(), message.to_string()));
    }

    /// Whether `override_settings.sd_model_checkpoint` is ignored (the loaded model stays).
    pub fn lock_model(&self, locked: bool) {
        self.state().model_locked = locked;
    }

    /// Loads the model at `index` of the list (as choosing it in the UI does).
    pub fn load_model(&self, index: usize) {
        self.state().loaded = index;
    }

    pub fn txt2img_calls(&self) -> usize {
        self.state().txt2img_calls
    }

    /// Jobs that ran to the end (not interrupted, not killed).
    pub fn jobs_rendered(&self) -> usize {
        self.jobs()
            .iter()
            .filter(|j| j.outcome == Outcome::Completed)
            .count()
    }

    pub fn jobs(&self) -> Vec<JobRecord> {
        self.state().jobs.clone()
    }

    /// The job of task `task`, if the server took it.
    pub fn job(&self, task: &str) -> Option<JobRecord> {
        self.state().jobs.iter().find(|j| j.task == task).cloned()
    }

    /// Bodies of every txt2img request, in arrival order.
    pub fn bodies(&self) -> Vec<Value> {
        self.state().bodies.clone()
    }

    /// How many times `/sdapi/v1/interrupt` was called while a job ran.
    pub fn interrupts(&self) -> usize {
        self.state().interrupts
    }

    /// Every call of `/sdapi/v1/interrupt`, whether or not a job ran.
    pub fn interrupt_calls(&self) -> usize {
        self.state().interrupt_calls
    }

    /// The task that runs now, if any.
    pub fn current_task(&self) -> Option<String> {
        self.state().current.as_ref().map(|r| r.task.clone())
    }

    /// Waits (up to 30 s, then panics naming `what`) until `done` holds.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&FakeA1111) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "the fake A1111 never got to: {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until no job waits or runs.
    pub async fn wait_until_idle(&self) {
        self.wait_until("idle", |f| {
            let s = f.state();
            s.current.is_none() && s.pending.is_empty()
        })
        .await;
    }

    /// Another client of the same server posts a txt2img job with task `task` and `steps`
    /// steps (a long job: many steps); the handle gives the HTTP status it got (0: no answer).
    pub fn spawn_other_client(
        &self,
        task: &str,
        prompt: &str,
        steps: u32,
    ) -> tokio::task::JoinHandle<u16> {
        let url = format!("{}/sdapi/v1/txt2img", self.url());
        let body = json!({"prompt": prompt, "steps": steps, "seed": 7, "width": 64,
                          "height": 64, "force_task_id": task});
        tokio::spawn(async move {
            match reqwest::Client::new().post(url).json(&body).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        })
    }

    /// Stops accepting connections, aborts the open ones and every queued or running job.
    pub async fn kill(&self) {
        let acceptor = self.inner.acceptor.lock().expect("lock").take();
        if let Some(a) = acceptor {
            a.abort();
            // Once the task is gone, so is the listening socket: connections are refused.
            let _ = a.await;
        }
        let pipes: Vec<JoinHandle<()>> = self.inner.pipes.lock().expect("lock").drain(..).collect();
        for p in pipes {
            p.abort();
            let _ = p.await;
        }
        self.inner.epoch.send_modify(|e| *e += 1);
        let mut s = self.state();
        let now = Instant::now();
        s.pending.clear();
        s.current = None;
        for j in s.jobs.iter_mut() {
            if matches!(j.outcome, Outcome::Waiting | Outcome::Running) {
                j.outcome = Outcome::Killed;
                j.ended_at = Some(now);
            }
        }
        drop(s);
    }

    /// Listens on the same port again after [`FakeA1111::kill`].
    pub async fn restart(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match socket.bind(self.inner.public) {
                Ok(()) => break,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot bind again: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let listener = socket.listen(64).expect("listen");
        self.accept_on(listener);
    }

    fn accept_on(&self, listener: TcpListener) {
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let backend = inner.backend;
                let pipe = tokio::spawn(async move {
                    let mut client = client;
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut pipes = inner.pipes.lock().expect("lock");
                pipes.retain(|p| !p.is_finished());
                pipes.push(pipe);
            }
        });
        *self.inner.acceptor.lock().expect("lock") = Some(task);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.state.lock().expect("lock")
    }
}

/// The seed an image of the fake was made with.
pub fn seed_of(image: &RgbImage) -> u32 {
    let [r, g, b] = image.get_pixel(0, 0).0;
    (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)
}

fn image_for(seed: u64, width: u32, height: u32) -> String {
    let s = (seed & 0xff_ffff) as u32;
    let pixel = Rgb([(s >> 16) as u8, (s >> 8) as u8, s as u8]);
    let image = RgbImage::from_pixel(width.max(8), height.max(8), pixel);
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    base64::engine::general_purpose::STANDARD.encode(png)
}

/// A1111's error body (`api_middleware.handle_exception`) for an `HTTPException`.
fn http_exception(status: StatusCode, detail: &str) -> Response {
    let body = json!({"error": "HTTPException", "detail": detail, "body": "",
                      "errors": format!("{}: {detail}", status.as_u16())});
    (status, axum::Json(body)).into_response()
}

/// FastAPI's 422 for a body field of the wrong type.
fn validation_error(field: &str, kind: &str) -> Response {
    let body = json!({"detail": [{"loc": ["body", field],
                                  "msg": format!("value is not a valid {kind}"),
                                  "type": format!("type_error.{kind}")}]});
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

/// The 422 answer for a body whose field types `StableDiffusionTxt2ImgProcessingAPI` refuses.
fn invalid(body: &Value) -> Option<Response> {
    let Some(map) = body.as_object() else {
        return Some(validation_error("__root__", "dict"));
    };
    let kinds: [(&str, &str); 15] = [
        ("prompt", "str"),
        ("negative_prompt", "str"),
        ("sampler_name", "str"),
        ("force_task_id", "str"),
        ("seed", "integer"),
        ("width", "integer"),
        ("height", "integer"),
        ("steps", "integer"),
        ("batch_size", "integer"),
        ("n_iter", "integer"),
        ("cfg_scale", "float"),
        ("tiling", "bool"),
        ("send_images", "bool"),
        ("override_settings", "dict"),
        ("override_settings_restore_afterwards", "bool"),
    ];
    for (field, kind) in kinds {
        let Some(v) = map.get(field) else { continue };
        let ok = match kind {
            "str" => v.is_string() || v.is_null(),
            "integer" => v.is_i64() || v.is_u64(),
            "float" => v.is_number(),
            "bool" => v.is_boolean(),
            _ => v.is_object() || v.is_null(),
        };
        if !ok {
            return Some(validation_error(field, kind));
        }
    }
    None
}

const SAMPLERS: [&str; 6] = ["Euler a", "Euler", "DPM++ 2M", "DPM++ SDE", "DDIM", "UniPC"];

async fn gateway(State(inner): State<Arc<Inner>>, request: Request, next: Next) -> Response {
    if request.method() == Method::GET {
        let mut s = inner.state.lock().expect("lock");
        if s.gateway_errors.1 > 0 {
            s.gateway_errors.1 -= 1;
            let status = StatusCode::from_u16(s.gateway_errors.0).expect("status");
            return (
                status,
                format!("<html><body><h1>{status}</h1></body></html>"),
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn txt2img(State(inner): State<Arc<Inner>>, raw: Bytes) -> Response {
    let proxy = {
        let mut s = inner.state.lock().expect("lock");
        s.txt2img_calls += 1;
        s.proxy_timeout
    };
    let body: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(_) => return validation_error("__root__", "json"),
    };
    inner.state.lock().expect("lock").bodies.push(body.clone());
    if let Some(answer) = invalid(&body) {
        return answer;
    }
    let sampler = body["sampler_name"].as_str().unwrap_or("Euler");
    if !SAMPLERS.contains(&sampler) {
        return http_exception(StatusCode::NOT_FOUND, "Sampler not found");
    }
    // The job runs on whether or not anyone still waits for the answer (A1111 runs it in a
    // worker thread that a closed connection does not stop).
    let job = tokio::spawn(run_job(inner, body));
    match proxy {
        None => job
            .await
            .unwrap_or_else(|_| (StatusCode::INTERNAL_SERVER_ERROR, "job failed").into_response()),
        Some(delay) => {
            // The proxy forwarded the job and gives up waiting; the server works on.
            tokio::time::sleep(delay).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                [(header::CONTENT_TYPE, "text/html")],
                "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n\
                 <center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n\
                 </body>\r\n</html>\r\n",
            )
                .into_response()
        }
    }
}

/// `text2imgapi` from `add_task_to_queue` to the answer.
async fn run_job(inner: Arc<Inner>, body: Value) -> Response {
    let mut epoch = inner.epoch.subscribe();
    let my_epoch = *epoch.borrow_and_update();
    let task = {
        let mut s = inner.state.lock().expect("lock");
        let task = match body["force_task_id"].as_str() {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => {
                s.next_task += 1;
                format!("task({:015})", s.next_task)
            }
        };
        s.pending.push(task.clone());
        s.jobs.push(JobRecord {
            task: task.clone(),
            prompt: body["prompt"].as_str().unwrap_or_default().to_string(),
            model: String::new(),
            outcome: Outcome::Waiting,
            queued_at: Instant::now(),
            started_at: None,
            ended_at: None,
        });
        task
    };
    let killed = || (StatusCode::INTERNAL_SERVER_ERROR, "killed").into_response();
    let _guard = tokio::select! {
        g = inner.queue_lock.lock() => g,
        _ = epoch.changed() => return killed(),
    };
    if *epoch.borrow() != my_epoch {
        return killed();
    }
    let steps = body["steps"].as_u64().unwrap_or(20).clamp(1, 150) as u32;
    let failure = inner.state.lock().expect("lock").job_error.take();
    if let Some((exception, message)) = failure {
        // `start_task` ran, then the exception propagates out of `text2imgapi`
        // (`finish_task` is never called, so `/internal/progress` keeps calling the task
        // active until the next one starts) and `api_middleware.handle_exception` answers 500.
        let mut s = inner.state.lock().expect("lock");
        s.pending.retain(|t| *t != task);
        s.stale_task = Some(task.clone());
        if let Some(j) = s.jobs.iter_mut().rev().find(|j| j.task == task) {
            j.outcome = Outcome::Failed;
            j.ended_at = Some(Instant::now());
        }
        let err = json!({"error": exception, "detail": "", "body": "", "errors": message});
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(err)).into_response();
    }
    let (step_time, model) = {
        let mut s = inner.state.lock().expect("lock");
        // `process_images`: an override that is no checkpoint alias is dropped silently;
        // the job runs with `opts.sd_model_checkpoint`.
        let wanted = body["override_settings"]["sd_model_checkpoint"].as_str();
        let found = wanted.and_then(|w| {
            s.models
                .iter()
                .position(|m| m.aliases().iter().any(|a| a == w))
        });
        let used = match found {
            Some(i) if !s.model_locked => {
                if body["override_settings_restore_afterwards"] == json!(false) {
                    s.loaded = i;
                }
                i
            }
            _ => s.loaded,
        };
        let m = &s.models[used];
        let model = (m.name_for_extra(), m.shorthash());
        // `shared.state.begin` clears `interrupted`; `start_task` makes the task current.
        s.pending.retain(|t| *t != task);
        let record = s
            .jobs
            .iter()
            .rposition(|j| j.task == task)
            .expect("job record");
        let now = Instant::now();
        s.jobs[record].outcome = Outcome::Running;
        s.jobs[record].started_at = Some(now);
        s.jobs[record].model = format!("{} [{}]", model.0, model.1);
        s.stale_task = None;
        s.current = Some(Running {
            task: task.clone(),
            step: 0,
            steps,
            interrupted: false,
            started: now,
            record,
        });
        (s.render_time / 20, model)
    };
    let mut interrupted = false;
    let began = tokio::time::Instant::now();
    for step in 1..=steps {
        tokio::select! {
            _ = tokio::time::sleep_until(began + step_time * step) => {}
            _ = epoch.changed() => return killed(),
        }
        let mut s = inner.state.lock().expect("lock");
        let Some(run) = s.current.as_mut() else {
            return killed();
        };
        run.step = step;
        if run.interrupted {
            interrupted = true;
            break;
        }
    }
    {
        let mut s = inner.state.lock().expect("lock");
        if *epoch.borrow() != my_epoch {
            return killed();
        }
        if let Some(run) = s.current.take() {
            s.jobs[run.record].outcome = if interrupted {
                Outcome::Interrupted
            } else {
                Outcome::Completed
            };
            s.jobs[run.record].ended_at = Some(Instant::now());
        }
        // `finish_task`: remembered among the last 16 finished tasks.
        s.finished.push_back(task.clone());
        if s.finished.len() > 16 {
            s.finished.pop_front();
        }
    }
    let seed = body["seed"].as_i64().unwrap_or(-1);
    let seed = if seed < 0 { 1234 } else { seed as u64 };
    let count = body["batch_size"].as_u64().unwrap_or(1) * body["n_iter"].as_u64().unwrap_or(1);
    let width = (body["width"].as_u64().unwrap_or(512) as u32) / 8 * 8;
    let height = (body["height"].as_u64().unwrap_or(512) as u32) / 8 * 8;
    let images: Vec<String> = (0..count)
        .map(|i| image_for(seed + i, width, height))
        .collect();
    let all_seeds: Vec<u64> = (0..count).map(|i| seed + i).collect();
    let info = json!({
        "prompt": body["prompt"],
        "all_prompts": vec![body["prompt"].clone(); count as usize],
        "negative_prompt": body["negative_prompt"],
        "seed": seed,
        "all_seeds": all_seeds,
        "width": width,
        "height": height,
        "sampler_name": body["sampler_name"],
        "steps": steps,
        "batch_size": body["batch_size"],
        "sd_model_name": model.0,
        "sd_model_hash": model.1,
        "sd_vae_name": null,
        "job_timestamp": "20250101000000",
        "version": "v1.10.1",
    });
    axum::Json(json!({
        "images": images,
        "parameters": body,
        "info": info.to_string(),
    }))
    .into_response()
}

/// `modules/progress.py` `progressapi`: the task in `id_task` only.
async fn task_progress(State(inner): State<Arc<Inner>>, raw: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let id = body["id_task"].as_str().unwrap_or_default();
    let s = inner.state.lock().expect("lock");
    let active = s.current.as_ref().is_some_and(|r| r.task == id);
    if !active && s.current.is_none() && s.stale_task.as_deref() == Some(id) {
        // `current_task` still names a job that raised; `shared.state` was reset by `end()`.
        return axum::Json(
            json!({"active": true, "queued": false, "completed": false, "progress": 0.0,
            "eta": null, "live_preview": null, "id_live_preview": -1, "textinfo": null}),
        )
        .into_response();
    }
    let queued = s.pending.iter().any(|t| t == id);
    let completed = s.finished.iter().any(|t| t == id);
    if !active {
        let textinfo = match s.pending.iter().position(|t| t == id) {
            Some(i) => format!("In queue: {}/{}", i + 1, s.pending.len()),
            None => "Waiting...".to_string(),
        };
        return axum::Json(
            json!({"active": false, "queued": queued, "completed": completed,
            "progress": null, "eta": null, "live_preview": null, "id_live_preview": -1,
            "textinfo": textinfo}),
        )
        .into_response();
    }
    let run = s.current.as_ref().expect("current");
    let progress = (f64::from(run.step) / f64::from(run.steps)).min(1.0);
    let elapsed = run.started.elapsed().as_secs_f64();
    let eta = (progress > 0.0).then(|| elapsed / progress - elapsed);
    axum::Json(
        json!({"active": true, "queued": queued, "completed": completed,
        "progress": progress, "eta": eta, "live_preview": null, "id_live_preview": -1,
        "textinfo": null}),
    )
    .into_response()
}

/// `Api.progressapi`: GLOBAL progress of whatever job runs.
async fn global_progress(State(inner): State<Arc<Inner>>) -> Response {
    let s = inner.state.lock().expect("lock");
    let Some(run) = s.current.as_ref() else {
        return axum::Json(json!({"progress": 0.0, "eta_relative": 0.0,
            "state": {"job_count": 0, "job_no": 0, "sampling_step": 0, "sampling_steps": 0,
                      "interrupted": false, "skipped": false, "job": ""},
            "current_image": null, "textinfo": null, "current_task": null}))
        .into_response();
    };
    let progress = 0.01 + f64::from(run.step) / f64::from(run.steps);
    let elapsed = run.started.elapsed().as_secs_f64();
    axum::Json(
        json!({"progress": progress.min(1.0), "eta_relative": elapsed / progress - elapsed,
        "state": {"job_count": 1, "job_no": 0, "sampling_step": run.step,
                  "sampling_steps": run.steps, "interrupted": run.interrupted,
                  "skipped": false, "job": "scripts_txt2img"},
        "current_image": null, "textinfo": null, "current_task": run.task}),
    )
    .into_response()
}

/// `Api.interruptapi`: stops whatever runs, whoever asked for it.
async fn interrupt(State(inner): State<Arc<Inner>>) -> Response {
    let mut guard = inner.state.lock().expect("lock");
    let s = &mut *guard;
    s.interrupt_calls += 1;
    if let Some(run) = s.current.as_mut() {
        run.interrupted = true;
        s.interrupts += 1;
    }
    axum::Json(json!({})).into_response()
}

async fn sd_models(State(inner): State<Arc<Inner>>) -> Response {
    let s = inner.state.lock().expect("lock");
    let list: Vec<Value> = s.models.iter().map(Checkpoint::json).collect();
    axum::Json(Value::Array(list)).into_response()
}

async fn get_options(State(inner): State<Arc<Inner>>) -> Response {
    let s = inner.state.lock().expect("lock");
    let m = &s.models[s.loaded];
    axum::Json(
        json!({"sd_model_checkpoint": m.title(), "sd_checkpoint_hash": m.sha256,
                      "samples_format": "png", "CLIP_stop_at_last_layers": 1}),
    )
    .into_response()
}

/// `Api.set_config`: an unknown checkpoint is a RuntimeError (500).
async fn set_options(State(inner): State<Arc<Inner>>, raw: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let mut s = inner.state.lock().expect("lock");
    if let Some(name) = body["sd_model_checkpoint"].as_str() {
        match s
            .models
            .iter()
            .position(|m| m.aliases().iter().any(|a| a == name))
        {
            Some(i) => s.loaded = i,
            None => {
                let err = json!({"error": "RuntimeError", "detail": "", "body": "",
                                 "errors": format!("model {name:?} not found")});
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(err)).into_response();
            }
        }
    }
    axum::Json(Value::Null).into_response()
}

/// What in `prompt` A1111 acts on instead of reading it as words, in order of appearance:
/// extra networks `<name:…>` (`extra_networks.parse_prompt`, found regardless of escapes),
/// bracketed groups `( )` and `[ ]` not escaped with `\` (emphasis, weights and schedules of
/// `prompt_parser`), the words `AND` (`re_AND`) and `BREAK` (`re_break`), a composable
/// weight `:number` at the end of the prompt (`get_multicond_prompt_list`, `re_weight`), and
/// comments: `#` to the end of the line, which `modules/processing_scripts/comments.py`
/// `strip_comments` removes (`enable_prompt_comments`, on by default; there is no escape).
pub fn prompt_syntax(prompt: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prompt.lines() {
        if let Some(i) = line.find('#') {
            found.push(format!("comment {}", &line[i..]));
        }
    }
    // Extra networks: `<(\w+):([^>]+)>`.
    let chars: Vec<char> = prompt.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c != '<' {
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        if j == i + 1 || j >= chars.len() || chars[j] != ':' {
            continue;
        }
        let mut k = j + 1;
        while k < chars.len() && chars[k] != '>' {
            k += 1;
        }
        if k < chars.len() && k > j + 1 {
            found.push(chars[i..=k].iter().collect());
        }
    }
    // Unescaped bracket groups (outermost).
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' | '[' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            ')' | ']' => {
                if depth > 0 {
                    depth -= 1;
                    if depth == 0 {
                        found.push(chars[start..=i].iter().collect());
                    }
                } else {
                    found.push(c.to_string());
                }
            }
            _ => {}
        }
    }
    if depth > 0 {
        found.push(chars[start..].iter().collect());
    }
    for word in prompt.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word == "AND" || word == "BREAK" {
            found.push(word.to_string());
        }
    }
    let trimmed = prompt.trim_end();
    let number = trimmed.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if number.len() < trimmed.len() && trimmed[number.len()..].chars().any(|c| c.is_ascii_digit()) {
        let before = number.trim_end_matches(['+', '-']).trim_end();
        if before.ends_with(':') {
            found.push(format!(
                "composable weight {}",
                &trimmed[before.len() - 1..]
            ));
        }
    }
    found
}
