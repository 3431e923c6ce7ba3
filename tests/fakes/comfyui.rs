//! A fake ComfyUI server on loopback, as strict and unkind as the real one (read from its source).
//!
//! What it copies, and from where (ComfyUI `server.py`, `main.py`, `execution.py`,
//! `comfy/sd1_clip.py`):
//! - **One prompt at a time.** `POST /prompt` validates the workflow and puts it in a queue
//!   ordered by `number`; one worker executes the lowest number while the rest wait, all visible
//!   in `GET /queue` as `[number, prompt_id, prompt, extra_data, outputs]` lists
//!   (`PromptQueue.put`/`get`/`get_current_queue`, `main.py` `prompt_worker`).
//! - **Validation** (`execution.validate_prompt`, `validate_inputs`): an unknown node class is
//!   `invalid_prompt` with `node_errors: []`; a missing input, an input that is not an integer,
//!   a value out of range or not in its list (`value_not_in_list`, details
//!   `ckpt_name: 'x' not in ['a', 'b']`) is answered 400 with `error.type =
//!   prompt_outputs_failed_validation` and the cause only in `node_errors` (the top-level
//!   `details` lists the *output* node's own errors, which are empty when the bad input is
//!   upstream of it).
//! - **Per-client websocket routing** (`server.py` `send_json`/`send_sync`): a message with a
//!   client id goes to that client's socket only; `status` (from `queue_updated`) and anything
//!   sent while the running prompt has no client id are broadcast to every socket. Connecting
//!   with a `clientId` already in use replaces the older socket (`websocket_handler`).
//! - **Messages** (`PromptExecutor.execute`/`add_message`, `execution.execute`, `main.py`
//!   `hijack_progress`): `execution_start`, `execution_cached` (nodes whose inputs did not change
//!   since the previous prompt), `executing` per node, `progress` per sampler step
//!   (`{value, max, prompt_id, node}`; or `{value, max}` with [`Options::legacy_progress`], as
//!   ComfyUI sent it before mid-2024), `executed` for the SaveImage node, then
//!   `execution_success`; `execution_error` (to the client only) or `execution_interrupted`
//!   (`broadcast=True`) when it fails. Only after all that does `prompt_worker` call
//!   `task_done`, which writes `/history/{id}` ([`Options::history_delay`] later, the race of
//!   Comfy-Org/ComfyUI#11540), and then sends `executing` with `node: null`.
//! - **Interrupt** (`server.py` `post_interrupt`): with `{"prompt_id": id}` it interrupts only
//!   when that prompt is the running one; without, whatever runs (and with
//!   [`Options::global_interrupt_only`], as servers before the prompt-specific interrupt, it
//!   ignores the body). The flag is cleared when the next prompt starts
//!   (`nodes.interrupt_processing(False)` at the top of `execute`).
//! - `POST /queue {"delete": [ids]}` removes pending prompts only (`delete_queue_item`).
//! - `GET /view` serves the saved files (400 for absolute paths or `..`, 404 for unknown ones).
//! - `GET /object_info/CheckpointLoaderSimple` lists the checkpoints as
//!   `input.required.ckpt_name[0]`; `{}` for unknown classes.
//!
//! The pictures are 8×8 PNGs that say which seed made them: pixel (0, 0) is
//! `[seed % 256, seed / 256 % 256, index in the batch]`: a batch of N is one noise tensor from
//! one seed in ComfyUI's KSampler (`comfy.sample.prepare_noise`), so its images are not seed+i.
//! The prompt weighting of each `CLIPTextEncode` text is parsed as `comfy/sd1_clip.py` does
//! (`token_weights`, `\(` escapes, `embedding:` words) and recorded ([`FakeComfy::encoded`]).
//!
//! Use: [`FakeComfy::start`] with [`Options`] (per-job time, steps, history delay, checkpoints),
//! controls ([`FakeComfy::queue_foreign`], [`FakeComfy::drop_sockets_mid_job`],
//! [`FakeComfy::fail_next_job`], [`FakeComfy::interrupt`], [`FakeComfy::set_checkpoints`]) and
//! counters ([`FakeComfy::accepted`], [`FakeComfy::completed`], [`FakeComfy::interrupted`],
//! [`FakeComfy::deleted`], [`FakeComfy::interrupt_requests`], [`FakeComfy::views`]).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use image::{Rgb, RgbImage};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time one prompt spends in its sampler (spread over its steps), whatever its batch size.
    pub job_time: Duration,
    /// Time between `execution_success` and the history entry (`task_done`).
    pub history_delay: Duration,
    /// Checkpoint file names the server has.
    pub checkpoints: Vec<String>,
    /// `progress` without `prompt_id` and `node`, as ComfyUI sent it before mid-2024.
    pub legacy_progress: bool,
    /// `/interrupt` ignores its body and interrupts whatever runs (servers before the
    /// prompt-specific interrupt).
    pub global_interrupt_only: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            job_time: Duration::from_millis(100),
            history_delay: Duration::from_millis(150),
            checkpoints: vec![
                "v1-5-pruned-emaonly.safetensors".into(),
                "dreamshaper_8.safetensors".into(),
            ],
            legacy_progress: false,
            global_interrupt_only: false,
        }
    }
}

/// One recorded `CLIPTextEncode` text as the server's tokenizer reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub prompt_id: String,
    pub node: String,
    /// Text segments and their weights (`token_weights`), with escapes resolved.
    pub segments: Vec<(String, f64)>,
    /// Names after `embedding:` the tokenizer would load.
    pub embeddings: Vec<String>,
}

/// A failure injected into the next prompt that runs.
#[derive(Debug, Clone)]
struct Failure {
    class_type: String,
    exception_type: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Item {
    number: f64,
    prompt_id: String,
    prompt: Value,
    extra_data: Value,
    outputs: Vec<String>,
    job_time: Duration,
}

impl Item {
    fn as_json(&self) -> Value {
        json!([
            self.number,
            self.prompt_id,
            self.prompt,
            self.extra_data,
            self.outputs
        ])
    }

    fn client_id(&self) -> Option<String> {
        self.extra_data["client_id"].as_str().map(str::to_string)
    }
}

enum Outgoing {
    Text(String),
    Close,
}

struct Socket {
    generation: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

#[derive(Default)]
struct Inner {
    pending: Vec<Item>,
    running: Option<Item>,
    last_node: Option<String>,
    history: BTreeMap<String, Value>,
    history_order: Vec<String>,
    sockets: HashMap<String, Socket>,
    number: f64,
    checkpoints: Vec<String>,
    /// The previous prompt's nodes, for `execution_cached`.
    previous: Value,
    files: HashMap<String, Vec<u8>>,
    file_counter: u64,
    fail_next: Option<Failure>,
    drop_sockets: bool,
    // Counters.
    accepted: Vec<Value>,
    accepted_ids: Vec<String>,
    rejected: u32,
    completed: Vec<String>,
    interrupted: Vec<String>,
    deleted: Vec<String>,
    interrupt_requests: Vec<Option<String>>,
    views: Vec<String>,
    sockets_opened: Vec<String>,
    encoded: Vec<Encoded>,
}

struct Shared {
    options: Options,
    inner: Mutex<Inner>,
    wake: Notify,
    interrupt: AtomicBool,
    generation: AtomicU64,
}

/// A running fake ComfyUI server.
#[derive(Clone)]
pub struct FakeComfy {
    pub url: String,
    shared: Arc<Shared>,
}

static IDS: AtomicU64 = AtomicU64::new(1);

fn new_prompt_id() -> String {
    let n = IDS.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-4f1c-4a5e-9d1b-{n:012x}", std::process::id())
}

fn timestamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl FakeComfy {
    /// Starts a fake on a free loopback port, with its prompt worker.
    pub async fn start(options: Options) -> FakeComfy {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                checkpoints: options.checkpoints.clone(),
                previous: json!({}),
                ..Inner::default()
            }),
            options,
            wake: Notify::new(),
            interrupt: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/ws", get(ws_handler))
            .route("/prompt", post(post_prompt).get(get_prompt))
            .route("/queue", get(get_queue).post(post_queue))
            .route("/interrupt", post(post_interrupt))
            .route("/history", get(get_history_all))
            .route("/history/{id}", get(get_history))
            .route("/view", get(view))
            .route("/object_info/{class}", get(object_info))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        tokio::spawn(worker(shared.clone()));
        FakeComfy {
            url: format!("http://{addr}"),
            shared,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake comfy lock")
    }

    /// Queues a prompt as another client would (`client_id` None: a script that connects no
    /// websocket, whose progress ComfyUI broadcasts), with its own sampler time and steps.
    pub fn queue_foreign(&self, client_id: Option<&str>, steps: u32, job_time: Duration) -> String {
        let mut prompt = foreign_workflow(steps);
        prompt["4"]["inputs"]["ckpt_name"] = json!(self.inner().checkpoints[0].clone());
        let mut extra = json!({});
        if let Some(c) = client_id {
            extra["client_id"] = json!(c);
        }
        let prompt_id = new_prompt_id();
        let mut inner = self.inner();
        let number = inner.number;
        inner.number += 1.0;
        inner.pending.push(Item {
            number,
            prompt_id: prompt_id.clone(),
            prompt,
            extra_data: extra,
            outputs: vec!["9".into()],
            job_time,
        });
        queue_updated(&mut inner);
        drop(inner);
        self.shared.wake.notify_one();
        prompt_id
    }

    /// The next prompt that reaches half its steps has its client's websocket closed.
    pub fn drop_sockets_mid_job(&self) {
        self.inner().drop_sockets = true;
    }

    /// The next prompt that runs fails in its first node of `class_type`.
    pub fn fail_next_job(&self, class_type: &str, exception_type: &str, message: &str) {
        self.inner().fail_next = Some(Failure {
            class_type: class_type.into(),
            exception_type: exception_type.into(),
            message: message.into(),
        });
    }

    /// Interrupts whatever runs, as the "Cancel" button of ComfyUI's page does.
    pub fn interrupt(&self) {
        self.shared.interrupt.store(true, Ordering::SeqCst);
    }

    /// Changes the checkpoint list (an operator removing or adding files).
    pub fn set_checkpoints(&self, names: Vec<String>) {
        self.inner().checkpoints = names;
    }

    /// The id of the running prompt, if any.
    pub fn running(&self) -> Option<String> {
        self.inner().running.as_ref().map(|i| i.prompt_id.clone())
    }

    /// Ids of the pending prompts, in queue order.
    pub fn pending(&self) -> Vec<String> {
        let mut items = self.inner().pending.clone();
        items.sort_by(|a, b| a.number.total_cmp(&b.number));
        items.into_iter().map(|i| i.prompt_id).collect()
    }

    /// Waits (up to 10 s) until `id` runs.
    pub async fn wait_running(&self, id: Option<&str>) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.running()
                && id.is_none_or(|i| i == r)
            {
                return r;
            }
            assert!(Instant::now() < deadline, "no prompt started running");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Bodies of the accepted `POST /prompt` requests, in order.
    pub fn accepted(&self) -> Vec<Value> {
        self.inner().accepted.clone()
    }
    /// The prompt ids given to the accepted `POST /prompt` requests, in order.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.inner().accepted_ids.clone()
    }
    /// How many `POST /prompt` requests were refused (400).
    pub fn rejected(&self) -> u32 {
        self.inner().rejected
    }
    /// Prompts that ran to `execution_success`.
    pub fn completed(&self) -> Vec<String> {
        self.inner().completed.clone()
    }
    /// Prompts stopped by an interrupt.
    pub fn interrupted(&self) -> Vec<String> {
        self.inner().interrupted.clone()
    }
    /// Prompts removed from the pending queue by `POST /queue {"delete": …}`.
    pub fn deleted(&self) -> Vec<String> {
        self.inner().deleted.clone()
    }
    /// Every `POST /interrupt`, with the prompt id it named.
    pub fn interrupt_requests(&self) -> Vec<Option<String>> {
        self.inner().interrupt_requests.clone()
    }
    /// File names asked for with `GET /view`.
    pub fn views(&self) -> Vec<String> {
        self.inner().views.clone()
    }
    /// Client ids of the websockets opened.
    pub fn sockets_opened(&self) -> Vec<String> {
        self.inner().sockets_opened.clone()
    }
    /// The texts the prompts' `CLIPTextEncode` nodes encoded, as the tokenizer read them.
    pub fn encoded(&self) -> Vec<Encoded> {
        self.inner().encoded.clone()
    }
}

/// A workflow such as another client would queue (the `steps` set the progress maximum).
fn foreign_workflow(steps: u32) -> Value {
    json!({
        "3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": steps, "cfg": 8.0,
              "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
              "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
              "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ""}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "someone else's castle", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "other", "images": ["8", 0]}}
    })
}

// ---------------------------------------------------------------------------------------------
// Node classes: the inputs and outputs of the built-in nodes the default workflow uses
// (`nodes.py` `INPUT_TYPES`/`RETURN_TYPES`).

const SAMPLERS: [&str; 6] = [
    "euler",
    "euler_ancestral",
    "heun",
    "dpm_2",
    "lms",
    "dpmpp_2m",
];
const SCHEDULERS: [&str; 4] = ["normal", "karras", "exponential", "simple"];

enum Kind {
    Int(i128, i128),
    Float(f64, f64),
    Text,
    List(Vec<String>),
    Link(&'static str),
}

fn class_inputs(class_type: &str, checkpoints: &[String]) -> Option<Vec<(&'static str, Kind)>> {
    let list = |v: &[&str]| Kind::List(v.iter().map(|s| s.to_string()).collect());
    Some(match class_type {
        "KSampler" => vec![
            ("model", Kind::Link("MODEL")),
            ("seed", Kind::Int(0, 0xffff_ffff_ffff_ffff)),
            ("steps", Kind::Int(1, 10000)),
            ("cfg", Kind::Float(0.0, 100.0)),
            ("sampler_name", list(&SAMPLERS)),
            ("scheduler", list(&SCHEDULERS)),
            ("positive", Kind::Link("CONDITIONING")),
            ("negative", Kind::Link("CONDITIONING")),
            ("latent_image", Kind::Link("LATENT")),
            ("denoise", Kind::Float(0.0, 1.0)),
        ],
        "CheckpointLoaderSimple" => vec![("ckpt_name", Kind::List(checkpoints.to_vec()))],
        "EmptyLatentImage" => vec![
            ("width", Kind::Int(16, 16384)),
            ("height", Kind::Int(16, 16384)),
            ("batch_size", Kind::Int(1, 4096)),
        ],
        "CLIPTextEncode" => vec![("text", Kind::Text), ("clip", Kind::Link("CLIP"))],
        "VAEDecode" => vec![
            ("samples", Kind::Link("LATENT")),
            ("vae", Kind::Link("VAE")),
        ],
        "SaveImage" => vec![
            ("images", Kind::Link("IMAGE")),
            ("filename_prefix", Kind::Text),
        ],
        _ => return None,
    })
}

fn class_outputs(class_type: &str) -> &'static [&'static str] {
    match class_type {
        "KSampler" | "EmptyLatentImage" => &["LATENT"],
        "CheckpointLoaderSimple" => &["MODEL", "CLIP", "VAE"],
        "CLIPTextEncode" => &["CONDITIONING"],
        "VAEDecode" => &["IMAGE"],
        _ => &[],
    }
}

/// Python's `str()` of a list of strings: `['a', 'b']`.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn reason(kind: &str, message: String, details: String, input: &str) -> Value {
    json!({"type": kind, "message": message, "details": details,
           "extra_info": {"input_name": input}})
}

/// `execution.validate_inputs`: the node's own errors, and whether it and everything upstream
/// is valid.
fn validate_node(
    prompt: &Value,
    id: &str,
    checkpoints: &[String],
    validated: &mut HashMap<String, (bool, Vec<Value>)>,
) -> bool {
    if let Some((ok, _)) = validated.get(id) {
        return *ok;
    }
    validated.insert(id.to_string(), (true, Vec::new())); // cycles end here
    let node = &prompt[id];
    let class_type = node["class_type"].as_str().unwrap_or_default();
    let spec = class_inputs(class_type, checkpoints).unwrap_or_default();
    let inputs = &node["inputs"];
    let mut errors = Vec::new();
    let mut valid = true;
    for (name, kind) in &spec {
        let Some(value) = inputs.get(*name) else {
            errors.push(reason(
                "required_input_missing",
                "Required input is missing".into(),
                name.to_string(),
                name,
            ));
            continue;
        };
        if let Value::Array(link) = value {
            if link.len() != 2 {
                errors.push(reason(
                    "bad_linked_input",
                    "Bad linked input, must be a length-2 list of [node_id, slot_index]".into(),
                    name.to_string(),
                    name,
                ));
                continue;
            }
            let from = link[0]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| link[0].to_string());
            let slot = link[1].as_u64().unwrap_or(u64::MAX) as usize;
            let from_class = prompt[&from]["class_type"].as_str().unwrap_or_default();
            let received = class_outputs(from_class).get(slot).copied().unwrap_or("*");
            if let Kind::Link(wanted) = kind
                && received != *wanted
            {
                errors.push(reason(
                    "return_type_mismatch",
                    "Return type mismatch between linked nodes".into(),
                    format!("{name}, {received} != {wanted}"),
                    name,
                ));
                continue;
            }
            if !validate_node(prompt, &from, checkpoints, validated) {
                valid = false;
            }
            continue;
        }
        match kind {
            Kind::Int(min, max) => {
                // `int(val)`: numbers and numeric strings convert, anything else does not.
                let n = match value {
                    Value::Number(n) => n
                        .as_i64()
                        .map(i128::from)
                        .or_else(|| n.as_u64().map(i128::from))
                        .or_else(|| n.as_f64().map(|f| f.trunc() as i128)),
                    Value::String(s) => s.trim().parse::<i128>().ok(),
                    _ => None,
                };
                let Some(n) = n else {
                    errors.push(reason(
                        "invalid_input_type",
                        "Failed to convert an input value to a INT value".into(),
                        format!("{name}, {value}, invalid literal for int() with base 10: {value}"),
                        name,
                    ));
                    continue;
                };
                if n < *min {
                    errors.push(reason(
                        "value_smaller_than_min",
                        format!("Value {n} smaller than min of {min}"),
                        name.to_string(),
                        name,
                    ));
                } else if n > *max {
                    errors.push(reason(
                        "value_bigger_than_max",
                        format!("Value {n} bigger than max of {max}"),
                        name.to_string(),
                        name,
                    ));
                }
            }
            Kind::Float(min, max) => {
                let f = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                match f {
                    None => errors.push(reason(
                        "invalid_input_type",
                        "Failed to convert an input value to a FLOAT value".into(),
                        format!("{name}, {value}, could not convert string to float"),
                        name,
                    )),
                    Some(f) if f < *min => errors.push(reason(
                        "value_smaller_than_min",
                        format!("Value {f} smaller than min of {min}"),
                        name.to_string(),
                        name,
                    )),
                    Some(f) if f > *max => errors.push(reason(
                        "value_bigger_than_max",
                        format!("Value {f} bigger than max of {max}"),
                        name.to_string(),
                        name,
                    )),
                    _ => {}
                }
            }
            Kind::Text => {}
            Kind::List(options) => {
                let text = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                if !options.contains(&text) {
                    // Long lists (many model files) are not sent back.
                    let list_info = if options.len() > 20 {
                        format!("(list of length {})", options.len())
                    } else {
                        python_list(options)
                    };
                    errors.push(reason(
                        "value_not_in_list",
                        "Value not in list".into(),
                        format!("{name}: '{text}' not in {list_info}"),
                        name,
                    ));
                }
            }
            Kind::Link(wanted) => errors.push(reason(
                "invalid_input_type",
                format!("Expected a link to a {wanted} output"),
                name.to_string(),
                name,
            )),
        }
    }
    let ok = valid && errors.is_empty();
    validated.insert(id.to_string(), (ok, errors));
    ok
}

/// `execution.validate_prompt`: Ok(output node ids) or the 400 answer.
fn validate_prompt(prompt: &Value, checkpoints: &[String]) -> Result<Vec<String>, Value> {
    let Some(nodes) = prompt.as_object() else {
        return Err(
            json!({"error": {"type": "invalid_prompt", "message": "Prompt is not a dict",
            "details": "", "extra_info": {}}, "node_errors": []}),
        );
    };
    let mut outputs = Vec::new();
    for (id, node) in nodes {
        let Some(class_type) = node.get("class_type").and_then(Value::as_str) else {
            return Err(json!({"error": {"type": "invalid_prompt",
                "message": "Cannot execute because a node is missing the class_type property.",
                "details": format!("Node ID '#{id}'"), "extra_info": {}}, "node_errors": []}));
        };
        if class_inputs(class_type, checkpoints).is_none() {
            return Err(json!({"error": {"type": "invalid_prompt",
                "message": format!("Cannot execute because node {class_type} does not exist."),
                "details": format!("Node ID '#{id}'"), "extra_info": {}}, "node_errors": []}));
        }
        if class_type == "SaveImage" {
            outputs.push(id.clone());
        }
    }
    if outputs.is_empty() {
        return Err(
            json!({"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
            "details": "", "extra_info": {}}, "node_errors": []}),
        );
    }
    let mut validated = HashMap::new();
    let mut good = Vec::new();
    let mut output_reasons = Vec::new();
    let mut node_errors = serde_json::Map::new();
    for o in &outputs {
        if validate_node(prompt, o, checkpoints, &mut validated) {
            good.push(o.clone());
            continue;
        }
        output_reasons.extend(validated[o].1.clone());
        for (id, (ok, reasons)) in &validated {
            if !ok && !reasons.is_empty() {
                let entry = node_errors.entry(id.clone()).or_insert_with(|| {
                    json!({"errors": reasons, "dependent_outputs": [],
                           "class_type": prompt[id]["class_type"]})
                });
                entry["dependent_outputs"]
                    .as_array_mut()
                    .expect("array")
                    .push(json!(o));
            }
        }
    }
    if good.is_empty() {
        // Only the output nodes' own reasons reach `details`.
        let details: Vec<String> = output_reasons
            .iter()
            .map(|r| {
                format!(
                    "{}: {}",
                    r["message"].as_str().unwrap_or(""),
                    r["details"].as_str().unwrap_or("")
                )
            })
            .collect();
        return Err(json!({"error": {"type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation", "details": details.join("\n"),
            "extra_info": {}}, "node_errors": node_errors}));
    }
    Ok(good)
}

// ---------------------------------------------------------------------------------------------
// Prompt weighting, as `comfy/sd1_clip.py` reads it (`escape_important`, `token_weights`,
// `unescape_important`, and `embedding:` at the start of a space-separated word).

fn parse_parentheses(s: &str) -> Vec<String> {
    let mut result = Vec::new();
    let mut current = String::new();
    let mut level = 0i32;
    for c in s.chars() {
        if c == '(' {
            if level == 0 {
                if !current.is_empty() {
                    result.push(std::mem::take(&mut current));
                }
                current.push('(');
            } else {
                current.push(c);
            }
            level += 1;
        } else if c == ')' {
            level -= 1;
            if level == 0 {
                current.push(')');
                result.push(std::mem::take(&mut current));
            } else {
                current.push(c);
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        result.push(current);
    }
    result
}

fn token_weights(s: &str, weight: f64) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for x in parse_parentheses(s) {
        if x.len() >= 2 && x.starts_with('(') && x.ends_with(')') {
            let mut inner = x[1..x.len() - 1].to_string();
            let mut w = weight * 1.1;
            if let Some(i) = inner.rfind(':').filter(|&i| i > 0)
                && let Ok(v) = inner[i + 1..].trim().parse::<f64>()
            {
                w = v;
                inner.truncate(i);
            }
            out.extend(token_weights(&inner, w));
        } else {
            out.push((x, weight));
        }
    }
    out
}

fn read_weights(text: &str) -> (Vec<(String, f64)>, Vec<String>) {
    let escaped = text.replace("\\)", "\0\u{1}").replace("\\(", "\0\u{2}");
    let mut segments = Vec::new();
    let mut embeddings = Vec::new();
    for (segment, w) in token_weights(&escaped, 1.0) {
        let plain = segment.replace("\0\u{1}", ")").replace("\0\u{2}", "(");
        for word in plain.replace('\n', " ").split(' ') {
            if let Some(name) = word.strip_prefix("embedding:") {
                embeddings.push(name.to_string());
            }
        }
        segments.push((plain, w));
    }
    (segments, embeddings)
}

// ---------------------------------------------------------------------------------------------
// Websocket routing (`PromptServer.send_json`, `send_sync`, `queue_updated`).

fn send(inner: &mut Inner, event: &str, data: Value, sid: Option<&str>) {
    let text = json!({"type": event, "data": data}).to_string();
    match sid {
        None => {
            for s in inner.sockets.values() {
                let _ = s.tx.send(Outgoing::Text(text.clone()));
            }
        }
        Some(sid) => {
            if let Some(s) = inner.sockets.get(sid) {
                let _ = s.tx.send(Outgoing::Text(text));
            }
        }
    }
}

fn queue_info(inner: &Inner) -> Value {
    let remaining = inner.pending.len() + usize::from(inner.running.is_some());
    json!({"exec_info": {"queue_remaining": remaining}})
}

fn queue_updated(inner: &mut Inner) {
    let status = json!({"status": queue_info(inner)});
    send(inner, "status", status, None);
}

type S = State<Arc<Shared>>;

async fn ws_handler(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(shared): S,
) -> Response {
    let sid = q
        .get("clientId")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(new_prompt_id);
    ws.on_upgrade(move |socket| ws_session(socket, sid, shared))
}

async fn ws_session(mut socket: WebSocket, sid: String, shared: Arc<Shared>) {
    let generation = shared.generation.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let mut inner = shared.inner.lock().expect("lock");
        inner.sockets_opened.push(sid.clone());
        // A reused client id replaces the older socket.
        inner.sockets.insert(
            sid.clone(),
            Socket {
                generation,
                tx: tx.clone(),
            },
        );
        let status = json!({"status": queue_info(&inner), "sid": sid});
        let _ = tx.send(Outgoing::Text(
            json!({"type": "status", "data": status}).to_string(),
        ));
        let running_client = inner.running.as_ref().and_then(Item::client_id);
        if running_client.as_deref() == Some(sid.as_str())
            && let Some(node) = inner.last_node.clone()
        {
            let _ = tx.send(Outgoing::Text(
                json!({"type": "executing", "data": {"node": node}}).to_string(),
            ));
        }
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let mut inner = shared.inner.lock().expect("lock");
    if inner
        .sockets
        .get(&sid)
        .is_some_and(|s| s.generation == generation)
    {
        inner.sockets.remove(&sid);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP routes (`server.py`).

async fn post_prompt(State(shared): S, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        )
            .into_response();
    };
    let mut inner = shared.inner.lock().expect("lock");
    let Some(prompt) = body.get("prompt").cloned() else {
        inner.rejected += 1;
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": {"type": "no_prompt", "message": "No prompt provided",
                "details": "No prompt provided", "extra_info": {}}, "node_errors": {}}),
            ),
        )
            .into_response();
    };
    let outputs = match validate_prompt(&prompt, &inner.checkpoints) {
        Ok(o) => o,
        Err(answer) => {
            inner.rejected += 1;
            return (StatusCode::BAD_REQUEST, Json(answer)).into_response();
        }
    };
    let number = match body.get("number").and_then(Value::as_f64) {
        Some(n) => n,
        None => {
            let mut n = inner.number;
            if body.get("front").and_then(Value::as_bool) == Some(true) {
                n = -n;
            }
            inner.number += 1.0;
            n
        }
    };
    let mut extra = body.get("extra_data").cloned().unwrap_or_else(|| json!({}));
    if let Some(c) = body.get("client_id") {
        extra["client_id"] = c.clone();
    }
    let prompt_id = new_prompt_id();
    inner.accepted.push(body.clone());
    inner.accepted_ids.push(prompt_id.clone());
    inner.pending.push(Item {
        number,
        prompt_id: prompt_id.clone(),
        prompt,
        extra_data: extra,
        outputs,
        job_time: shared.options.job_time,
    });
    queue_updated(&mut inner);
    drop(inner);
    shared.wake.notify_one();
    Json(json!({"prompt_id": prompt_id, "number": number, "node_errors": {}})).into_response()
}

async fn get_prompt(State(shared): S) -> Json<Value> {
    let inner = shared.inner.lock().expect("lock");
    Json(queue_info(&inner))
}

async fn get_queue(State(shared): S) -> Json<Value> {
    let inner = shared.inner.lock().expect("lock");
    let mut pending = inner.pending.clone();
    pending.sort_by(|a, b| a.number.total_cmp(&b.number));
    let running: Vec<Value> = inner.running.iter().map(Item::as_json).collect();
    let pending: Vec<Value> = pending.iter().map(Item::as_json).collect();
    Json(json!({"queue_running": running, "queue_pending": pending}))
}

async fn post_queue(State(shared): S, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        )
            .into_response();
    };
    let mut inner = shared.inner.lock().expect("lock");
    if body.get("clear").and_then(Value::as_bool) == Some(true) {
        let ids: Vec<String> = inner.pending.drain(..).map(|i| i.prompt_id).collect();
        inner.deleted.extend(ids);
        queue_updated(&mut inner);
    }
    for id in body["delete"].as_array().into_iter().flatten() {
        let Some(id) = id.as_str() else { continue };
        if let Some(pos) = inner.pending.iter().position(|i| i.prompt_id == id) {
            inner.pending.remove(pos);
            inner.deleted.push(id.to_string());
            queue_updated(&mut inner);
        }
    }
    StatusCode::OK.into_response()
}

async fn post_interrupt(State(shared): S, body: Bytes) -> StatusCode {
    let requested = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("prompt_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let mut inner = shared.inner.lock().expect("lock");
    inner.interrupt_requests.push(requested.clone());
    let running = inner.running.as_ref().map(|i| i.prompt_id.clone());
    let interrupt = match requested {
        Some(id) if !shared.options.global_interrupt_only => {
            running.as_deref() == Some(id.as_str())
        }
        _ => true,
    };
    if interrupt {
        shared.interrupt.store(true, Ordering::SeqCst);
    }
    StatusCode::OK
}

async fn get_history_all(State(shared): S) -> Json<Value> {
    let inner = shared.inner.lock().expect("lock");
    let mut out = serde_json::Map::new();
    for id in &inner.history_order {
        if let Some(h) = inner.history.get(id) {
            out.insert(id.clone(), h.clone());
        }
    }
    Json(Value::Object(out))
}

async fn get_history(State(shared): S, Path(id): Path<String>) -> Json<Value> {
    let inner = shared.inner.lock().expect("lock");
    match inner.history.get(&id) {
        Some(h) => Json(json!({ id: h })),
        None => Json(json!({})),
    }
}

async fn view(State(shared): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(name) = q.get("filename") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if name.is_empty() || name.starts_with('/') || name.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let kind = q.get("type").map(String::as_str).unwrap_or("output");
    if !["output", "input", "temp"].contains(&kind) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let subfolder = q.get("subfolder").cloned().unwrap_or_default();
    if subfolder.starts_with('/') || subfolder.contains("..") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let key = format!("{kind}/{subfolder}/{name}");
    let mut inner = shared.inner.lock().expect("lock");
    inner.views.push(name.clone());
    match inner.files.get(&key) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn object_info(State(shared): S, Path(class): Path<String>) -> Json<Value> {
    let inner = shared.inner.lock().expect("lock");
    if class != "CheckpointLoaderSimple" {
        return Json(json!({}));
    }
    Json(json!({"CheckpointLoaderSimple": {
        "input": {"required": {"ckpt_name": [inner.checkpoints,
            {"tooltip": "The name of the checkpoint (model) to load."}]}},
        "input_order": {"required": ["ckpt_name"]},
        "output": ["MODEL", "CLIP", "VAE"],
        "output_is_list": [false, false, false],
        "output_name": ["MODEL", "CLIP", "VAE"],
        "name": "CheckpointLoaderSimple",
        "display_name": "Load Checkpoint",
        "description": "Loads a diffusion model checkpoint.",
        "python_module": "nodes",
        "category": "loaders",
        "output_node": false
    }}))
}

// ---------------------------------------------------------------------------------------------
// The prompt worker (`main.py` `prompt_worker`, `PromptExecutor.execute`).

/// The nodes of `prompt` in an order where every node follows its inputs.
fn execution_order(prompt: &Value) -> Vec<String> {
    fn visit(prompt: &Value, id: &str, seen: &mut HashSet<String>, order: &mut Vec<String>) {
        if !seen.insert(id.to_string()) {
            return;
        }
        if let Some(inputs) = prompt[id]["inputs"].as_object() {
            for v in inputs.values() {
                if let Some(from) = v.as_array().and_then(|l| l.first()).and_then(Value::as_str) {
                    visit(prompt, from, seen, order);
                }
            }
        }
        order.push(id.to_string());
    }
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut ids: Vec<&String> = prompt
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    ids.sort();
    for id in ids {
        visit(prompt, id, &mut seen, &mut order);
    }
    order
}

/// Nodes whose class, inputs and upstream nodes are as in the previous prompt.
fn cached_nodes(prompt: &Value, previous: &Value, order: &[String]) -> Vec<String> {
    let mut cached: Vec<String> = Vec::new();
    for id in order {
        let node = &prompt[id];
        if node["class_type"] == "SaveImage" || previous[id] != *node {
            continue;
        }
        let upstream_cached = node["inputs"].as_object().is_none_or(|inputs| {
            inputs.values().all(|v| {
                v.as_array()
                    .and_then(|l| l.first())
                    .and_then(Value::as_str)
                    .is_none_or(|from| cached.iter().any(|c| c == from))
            })
        });
        if upstream_cached {
            cached.push(id.clone());
        }
    }
    cached
}

fn seed_picture(seed: u64, index: u32) -> Vec<u8> {
    let pixel = Rgb([(seed % 256) as u8, (seed / 256 % 256) as u8, index as u8]);
    tastebud::render::images::files::encode_png(&RgbImage::from_pixel(8, 8, pixel)).expect("png")
}

async fn worker(shared: Arc<Shared>) {
    loop {
        let item = loop {
            let notified = shared.wake.notified();
            {
                let mut inner = shared.inner.lock().expect("lock");
                if !inner.pending.is_empty() {
                    let best = (0..inner.pending.len())
                        .min_by(|&a, &b| {
                            inner.pending[a].number.total_cmp(&inner.pending[b].number)
                        })
                        .expect("non-empty");
                    let item = inner.pending.remove(best);
                    inner.running = Some(item.clone());
                    queue_updated(&mut inner);
                    break item;
                }
            }
            notified.await;
        };
        execute(&shared, &item).await;
    }
}

async fn execute(shared: &Arc<Shared>, item: &Item) {
    // `nodes.interrupt_processing(False)`: an interrupt sent while nothing ran is forgotten.
    shared.interrupt.store(false, Ordering::SeqCst);
    let client = item.client_id();
    let sid = client.as_deref();
    let id = item.prompt_id.clone();
    let prompt = &item.prompt;
    let mut messages: Vec<Value> = Vec::new();
    // `add_message`: recorded for the history, sent to the client (or to everyone when
    // `broadcast` and the prompt has no client).
    fn add(
        inner: &mut Inner,
        messages: &mut Vec<Value>,
        sid: Option<&str>,
        event: &str,
        data: Value,
        broadcast: bool,
    ) {
        messages.push(json!([event, data]));
        if sid.is_some() || broadcast {
            send(inner, event, data, sid);
        }
    }
    let order = execution_order(prompt);
    let cached = {
        let mut inner = shared.inner.lock().expect("lock");
        add(
            &mut inner,
            &mut messages,
            sid,
            "execution_start",
            json!({"prompt_id": id, "timestamp": timestamp()}),
            false,
        );
        let cached = cached_nodes(prompt, &inner.previous, &order);
        add(
            &mut inner,
            &mut messages,
            sid,
            "execution_cached",
            json!({"nodes": cached, "prompt_id": id, "timestamp": timestamp()}),
            false,
        );
        cached
    };
    let mut executed: Vec<String> = cached.clone();
    let mut outputs = serde_json::Map::new();
    let mut failure: Option<(String, String, Option<Failure>)> = None; // node, class, error
    let mut seed = 0u64;
    let mut batch = 1u32;
    for node_id in order.iter().filter(|n| !cached.contains(*n)) {
        let node = &prompt[node_id];
        let class_type = node["class_type"].as_str().unwrap_or_default().to_string();
        {
            let mut inner = shared.inner.lock().expect("lock");
            inner.last_node = Some(node_id.clone());
            if sid.is_some() {
                send(
                    &mut inner,
                    "executing",
                    json!({"node": node_id, "display_node": node_id, "prompt_id": id}),
                    sid,
                );
            }
            let inject = inner
                .fail_next
                .as_ref()
                .is_some_and(|f| f.class_type == class_type);
            if inject {
                let f = inner.fail_next.take();
                failure = Some((node_id.clone(), class_type.clone(), f));
                break;
            }
        }
        match class_type.as_str() {
            "CLIPTextEncode" => {
                let (segments, embeddings) =
                    read_weights(node["inputs"]["text"].as_str().unwrap_or(""));
                shared.inner.lock().expect("lock").encoded.push(Encoded {
                    prompt_id: id.clone(),
                    node: node_id.clone(),
                    segments,
                    embeddings,
                });
            }
            "EmptyLatentImage" => {
                batch = node["inputs"]["batch_size"].as_u64().unwrap_or(1) as u32;
            }
            "KSampler" => {
                seed = node["inputs"]["seed"].as_u64().unwrap_or(0);
                let steps = node["inputs"]["steps"].as_u64().unwrap_or(1).max(1) as u32;
                let step_time = item.job_time / steps;
                let mut stopped = false;
                for step in 1..=steps {
                    tokio::time::sleep(step_time).await;
                    // `throw_exception_if_processing_interrupted` in the progress hook.
                    if shared.interrupt.swap(false, Ordering::SeqCst) {
                        stopped = true;
                        break;
                    }
                    let mut inner = shared.inner.lock().expect("lock");
                    let data = if shared.options.legacy_progress {
                        json!({"value": step, "max": steps})
                    } else {
                        json!({"value": step, "max": steps, "prompt_id": id, "node": node_id})
                    };
                    // Sent to the prompt's client, or to everyone when it has none.
                    send(&mut inner, "progress", data, sid);
                    if step * 2 >= steps && inner.drop_sockets {
                        inner.drop_sockets = false;
                        if let Some(c) = sid
                            && let Some(s) = inner.sockets.remove(c)
                        {
                            let _ = s.tx.send(Outgoing::Close);
                        }
                    }
                }
                if stopped {
                    failure = Some((node_id.clone(), class_type.clone(), None));
                    break;
                }
            }
            "SaveImage" => {
                let prefix = node["inputs"]["filename_prefix"]
                    .as_str()
                    .unwrap_or("ComfyUI")
                    .to_string();
                let mut images = Vec::new();
                let mut inner = shared.inner.lock().expect("lock");
                for index in 0..batch {
                    inner.file_counter += 1;
                    let name = format!("{prefix}_{:05}_.png", inner.file_counter);
                    inner
                        .files
                        .insert(format!("output//{name}"), seed_picture(seed, index));
                    images.push(json!({"filename": name, "subfolder": "", "type": "output"}));
                }
                let output = json!({"images": images});
                outputs.insert(node_id.clone(), output.clone());
                if sid.is_some() {
                    send(
                        &mut inner,
                        "executed",
                        json!({"node": node_id, "display_node": node_id,
                        "output": output, "prompt_id": id}),
                        sid,
                    );
                }
            }
            _ => {}
        }
        executed.push(node_id.clone());
    }
    let success = failure.is_none();
    {
        let mut inner = shared.inner.lock().expect("lock");
        match failure {
            None => {
                add(
                    &mut inner,
                    &mut messages,
                    sid,
                    "execution_success",
                    json!({"prompt_id": id, "timestamp": timestamp()}),
                    false,
                );
                inner.completed.push(id.clone());
                inner.previous = prompt.clone();
            }
            Some((node_id, class_type, None)) => {
                add(
                    &mut inner,
                    &mut messages,
                    sid,
                    "execution_interrupted",
                    json!({"prompt_id": id,
                    "node_id": node_id, "node_type": class_type, "executed": executed,
                    "timestamp": timestamp()}),
                    true,
                );
                inner.interrupted.push(id.clone());
            }
            Some((node_id, class_type, Some(f))) => {
                add(
                    &mut inner,
                    &mut messages,
                    sid,
                    "execution_error",
                    json!({"prompt_id": id,
                    "node_id": node_id, "node_type": class_type, "executed": executed,
                    "exception_message": f.message, "exception_type": f.exception_type,
                    "traceback": ["  File \"execution.py\", line 1, in execute\n"],
                    "current_inputs": {}, "current_outputs": {}, "timestamp": timestamp()}),
                    false,
                );
            }
        }
        inner.last_node = None;
    }
    // `task_done` runs after `execute` returned: the history is written this much later.
    tokio::time::sleep(shared.options.history_delay).await;
    let mut inner = shared.inner.lock().expect("lock");
    inner.running = None;
    let entry = json!({
        "prompt": item.as_json(),
        "outputs": outputs,
        "status": {"status_str": if success { "success" } else { "error" },
                   "completed": success, "messages": messages},
        "meta": {}
    });
    inner.history.insert(id.clone(), entry);
    inner.history_order.push(id.clone());
    queue_updated(&mut inner);
    if sid.is_some() {
        send(
            &mut inner,
            "executing",
            json!({"node": null, "prompt_id": id}),
            sid,
        );
    }
}
