//! The dispatcher: one version's image servers behind one [`Backend`], with a fair queue.
//!
//! Each render waits in tastebud (not in a server) until a server has room: the least busy
//! healthy one, never more jobs at once than its `concurrency`. Waiting renders are served
//! round-robin between owners ([`RenderRequest::owner`]), so one user's forty queued renders
//! do not starve another's one, and each waiting render is told its place in the queue.
//!
//! A server is verified ([`Backend::verify`]) before its first job. It counts as down when
//! that fails, when it fails `failures_before_down` jobs in a row ([`RenderError::server_failed`]),
//! or at once when it renders with the wrong model; a down server is verified again every
//! `retry_down_after` and comes back when it answers. A job that failed on a server is tried on
//! the servers it has not yet tried, one at a time, ahead of the queue; when none is left, its
//! last server's error is returned. A render no server can serve (a bad request) is returned at
//! once, and a render that arrives when every server is down fails with
//! [`RenderError::NoServer`] naming each server and why it is down.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use image::RgbImage;
use tokio::sync::oneshot;

use super::knobs::KnobSpec;
use super::vocabulary::Vocabulary;
use super::{AnyBackend, Backend, Features, Progress, ProgressFn, RenderRequest, check_request};
use crate::config::VersionBackend;
use crate::render::RenderError;

/// One server of a version: a client for it and how many jobs it takes at once.
#[derive(Debug, Clone)]
pub struct ServerConfig<B = AnyBackend> {
    pub backend: B,
    /// Its base URL, as the operator wrote it (for logs and status).
    pub url: String,
    pub concurrency: u32,
}

/// How the dispatcher treats failing servers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchOptions {
    /// Failures in a row after which a server counts as down.
    pub failures_before_down: u32,
    /// How long a down server is left alone before it is asked again.
    pub retry_down_after: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            failures_before_down: 2,
            retry_down_after: Duration::from_secs(15),
        }
    }
}

/// One version's servers behind one [`Backend`].
pub struct Dispatcher<B = AnyBackend> {
    version: String,
    /// The version's model: the key its calibration and pool are kept under.
    model: String,
    inner: Arc<Inner<B>>,
}

/// What an operator sees of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatus {
    pub url: String,
    pub health: Health,
    /// Jobs it is rendering now.
    pub running: u32,
    pub concurrency: u32,
    /// Jobs it finished, and jobs that failed on it, since the service started.
    pub finished: u64,
    pub failed: u64,
}

/// Whether a server takes jobs.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// Not asked yet: it is verified before its first job.
    Unchecked,
    /// Being verified before its first job.
    Checking,
    /// Verified and taking jobs.
    Up,
    /// Taking no jobs since `since`, because of `cause`; verified again every
    /// `retry_down_after`.
    Down { cause: String, since: Instant },
}

/// What an operator sees of a dispatcher: its servers and how many renders wait.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchStatus {
    pub version: String,
    pub servers: Vec<ServerStatus>,
    /// Renders waiting for a server.
    pub waiting: usize,
}

impl fmt::Display for DispatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "version {:?}: {} waiting", self.version, self.waiting)?;
        for s in &self.servers {
            let health = match &s.health {
                Health::Unchecked => "not checked yet".to_string(),
                Health::Checking => "being checked".to_string(),
                Health::Up => "up".to_string(),
                Health::Down { cause, since } => {
                    format!("DOWN for {} s: {cause}", since.elapsed().as_secs())
                }
            };
            writeln!(
                f,
                "  {}: {health}; {} of {} running, {} finished, {} failed",
                s.url, s.running, s.concurrency, s.finished, s.failed
            )?;
        }
        Ok(())
    }
}

impl<B: Backend + 'static> Dispatcher<B> {
    /// A dispatcher over `servers` (at least one) for `version`, whose model is `model`.
    pub fn new(
        version: &str,
        model: &str,
        servers: Vec<ServerConfig<B>>,
        options: DispatchOptions,
    ) -> Result<Dispatcher<B>, RenderError> {
        if servers.is_empty() {
            return Err(RenderError::BadRequest(format!(
                "version {version:?} has no image server"
            )));
        }
        if let Some(s) = servers.iter().find(|s| s.concurrency == 0) {
            return Err(RenderError::BadRequest(format!(
                "version {version:?}: the image server at {} takes no jobs (concurrency 0)",
                s.url
            )));
        }
        let state = State {
            servers: servers.iter().map(|_| ServerState::default()).collect(),
            queue: FairQueue::default(),
            tickets: HashMap::new(),
            next_ticket: 0,
            next_start: 0,
        };
        Ok(Dispatcher {
            version: version.to_string(),
            model: model.to_string(),
            inner: Arc::new(Inner {
                servers,
                options,
                state: Mutex::new(state),
            }),
        })
    }

    /// The version's model: calibrations and pools are kept per model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Renders its servers take at once, together.
    pub fn capacity(&self) -> u32 {
        self.inner.servers.iter().map(|s| s.concurrency).sum()
    }

    /// Each server's health and load, and how many renders wait.
    pub fn status(&self) -> DispatchStatus {
        let state = self.inner.lock();
        DispatchStatus {
            version: self.version.clone(),
            servers: self
                .inner
                .servers
                .iter()
                .zip(&state.servers)
                .map(|(config, s)| ServerStatus {
                    url: config.url.clone(),
                    health: s.health.clone(),
                    running: s.running,
                    concurrency: config.concurrency,
                    finished: s.finished,
                    failed: s.failed,
                })
                .collect(),
            waiting: state.tickets.len(),
        }
    }
}

impl Dispatcher<AnyBackend> {
    /// The dispatcher for `version` as `settings` configure it: a client per server.
    pub fn from_config(
        version: &str,
        settings: &VersionBackend,
        vocabulary: &Vocabulary,
        workflow: &str,
        options: DispatchOptions,
    ) -> Result<Dispatcher, RenderError> {
        let servers = match settings.backend {
            crate::config::BackendKind::Sketch => vec![ServerConfig {
                backend: AnyBackend::Sketch(super::Sketch),
                url: "built-in".to_string(),
                concurrency: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            }],
            _ => settings
                .server_list()
                .iter()
                .map(|server| {
                    Ok(ServerConfig {
                        backend: AnyBackend::from_config(
                            &settings.for_server(server),
                            vocabulary,
                            workflow,
                        )?,
                        url: server.url.clone(),
                        concurrency: server.concurrency.max(1),
                    })
                })
                .collect::<Result<Vec<_>, RenderError>>()?,
        };
        Dispatcher::new(version, &settings.model, servers, options)
    }

    /// Whether this version is drawn by the built-in renderer.
    pub fn is_sketch(&self) -> bool {
        matches!(self.inner.servers[0].backend, AnyBackend::Sketch(_))
    }
}

impl<B> fmt::Debug for Dispatcher<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("version", &self.version)
            .field("model", &self.model)
            .field(
                "servers",
                &self
                    .inner
                    .servers
                    .iter()
                    .map(|s| s.url.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("options", &self.inner.options)
            .finish()
    }
}

impl<B: Backend + 'static> Backend for Dispatcher<B> {
    fn name(&self) -> &'static str {
        self.inner.servers[0].backend.name()
    }

    fn knobs(&self) -> Vec<KnobSpec> {
        self.inner.servers[0].backend.knobs()
    }

    fn features(&self) -> Features {
        self.inner.servers[0].backend.features()
    }

    async fn render(
        &self,
        request: &RenderRequest,
        progress: ProgressFn,
    ) -> Result<Vec<RgbImage>, RenderError> {
        // A request no server can serve does not wait in the queue.
        check_request(request)?;
        let mut tried = Vec::new();
        let mut last_error: Option<RenderError> = None;
        let mut waiting = Waiting::enter(&self.inner, request.owner, progress.clone(), &tried);
        loop {
            let server = match waiting.assigned().await {
                Assignment::Server(server) => server,
                Assignment::NoServer(error) => {
                    return Err(last_error.unwrap_or(error));
                }
            };
            progress(Progress {
                fraction: 0.0,
                note: String::new(),
                queued: None,
            });
            let mut running = Running {
                inner: self.inner.clone(),
                server,
                done: false,
            };
            let config = &self.inner.servers[server];
            let result = config.backend.render(request, progress.clone()).await;
            let error = match result {
                Ok(images) => {
                    running.finish(Outcome::Finished);
                    return Ok(images);
                }
                Err(error) => error,
            };
            let outcome = Outcome::of(&error);
            let refused = matches!(outcome, Outcome::Refused);
            tracing::warn!(
                version = %self.version,
                server = %config.url,
                prompt = %shorten(&request.prompt, 60),
                size = %format!("{}x{}", request.width, request.height),
                count = request.count,
                owner = request.owner,
                retry = !refused,
                error = %error,
                "a render failed on an image server"
            );
            running.finish(outcome);
            if refused {
                return Err(error);
            }
            tried.push(server);
            last_error = Some(error);
            waiting = Waiting::enter_urgent(&self.inner, request.owner, progress.clone(), &tried);
        }
    }

    async fn models(&self) -> Result<Vec<String>, RenderError> {
        let mut last = None;
        for server in self.inner.usable_first() {
            match self.inner.servers[server].backend.models().await {
                Ok(models) => return Ok(models),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RenderError::NoServer("no server".into())))
    }

    /// Verifies every server now (marking each up or down); the model as the first server
    /// that answers names it. When none does: the one server's own error, or
    /// [`RenderError::NoServer`] naming each server and why.
    async fn verify(&self) -> Result<String, RenderError> {
        let checks = self.inner.servers.iter().map(|s| s.backend.verify());
        let mut results = futures_util::future::join_all(checks).await;
        {
            let mut state = self.inner.lock();
            for (server, result) in results.iter().enumerate() {
                let down =
                    self.inner
                        .checked(&mut state, server, result.as_ref().map(String::as_str));
                if down && !state.servers[server].probing {
                    self.inner
                        .spawn_check(&mut state, server, self.inner.options.retry_down_after);
                }
            }
            self.inner.pump(&mut state);
        }
        if let Some(model) = results.iter().find_map(|r| r.as_ref().ok()) {
            return Ok(model.clone());
        }
        if results.len() == 1 {
            return results.remove(0);
        }
        Err(RenderError::NoServer(
            self.inner
                .servers
                .iter()
                .zip(&results)
                .filter_map(|(s, r)| r.as_ref().err().map(|e| format!("{} is down ({e})", s.url)))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

/// What the dispatcher shares with its waiting renders and its server checks.
struct Inner<B> {
    servers: Vec<ServerConfig<B>>,
    options: DispatchOptions,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    servers: Vec<ServerState>,
    queue: FairQueue,
    /// The waiting renders, by ticket.
    tickets: HashMap<u64, Ticket>,
    next_ticket: u64,
    /// Counts job starts, so that equally busy servers take turns.
    next_start: u64,
}

#[derive(Debug)]
struct ServerState {
    health: Health,
    /// The error that put it down, while it is down.
    down_error: Option<RenderError>,
    running: u32,
    /// Failed jobs since its last finished one.
    failures_in_a_row: u32,
    /// Whether a task is verifying it (before its first job, or while it is down).
    probing: bool,
    last_start: u64,
    finished: u64,
    failed: u64,
}

impl Default for ServerState {
    fn default() -> Self {
        ServerState {
            health: Health::Unchecked,
            down_error: None,
            running: 0,
            failures_in_a_row: 0,
            probing: false,
            last_start: 0,
            finished: 0,
            failed: 0,
        }
    }
}

/// A render waiting for a server.
struct Ticket {
    progress: ProgressFn,
    /// The place last reported to it.
    reported: Option<u32>,
    /// Servers it failed on: it is not sent there again.
    tried: Vec<usize>,
    answer: oneshot::Sender<Assignment>,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("reported", &self.reported)
            .field("tried", &self.tried)
            .finish()
    }
}

/// What a waiting render gets: a server (whose slot is taken for it), or why none will come.
#[derive(Debug)]
enum Assignment {
    Server(usize),
    NoServer(RenderError),
}

/// How a job ended, for its server's record.
#[derive(Debug, Clone)]
enum Outcome {
    Finished,
    /// The server failed (down, dropped, timed out, 5xx, unreadable): counts toward down.
    ServerFailed(RenderError),
    /// The server does not render with the model it should: down at once.
    WrongModel(RenderError),
    /// The request is at fault (no server could serve it): not the server's failure.
    Refused,
}

impl Outcome {
    fn of(error: &RenderError) -> Outcome {
        match error {
            RenderError::UnknownModel { .. } | RenderError::WrongModel { .. } => {
                Outcome::WrongModel(error.clone())
            }
            e if e.server_failed() => Outcome::ServerFailed(error.clone()),
            _ => Outcome::Refused,
        }
    }
}

impl<B: Backend + 'static> Inner<B> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking progress callback must not wedge every later render.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Server indices, the ones up first.
    fn usable_first(&self) -> Vec<usize> {
        let state = self.lock();
        let mut order: Vec<usize> = (0..self.servers.len()).collect();
        order.sort_by_key(|&i| !matches!(state.servers[i].health, Health::Up));
        order
    }

    /// Records the result of verifying `server`; returns whether it is down.
    fn checked(
        &self,
        state: &mut State,
        server: usize,
        result: Result<&str, &RenderError>,
    ) -> bool {
        let url = &self.servers[server].url;
        let s = &mut state.servers[server];
        match result {
            Ok(model) => {
                if s.health != Health::Up {
                    tracing::info!(server = %url, model, "image server up");
                }
                s.health = Health::Up;
                s.down_error = None;
                s.failures_in_a_row = 0;
                false
            }
            Err(e) => {
                let cause = e.to_string();
                s.down_error = Some(e.clone());
                match &mut s.health {
                    Health::Down { cause: old, .. } => *old = cause,
                    health => {
                        tracing::warn!(server = %url, cause = %cause, "image server down: its check failed");
                        *health = Health::Down {
                            cause,
                            since: Instant::now(),
                        };
                    }
                }
                true
            }
        }
    }

    /// Starts a task that verifies `server` after `delay`, and again every
    /// `retry_down_after` while it stays down. Outside a runtime it does nothing (the server
    /// stays as it is).
    fn spawn_check(self: &Arc<Self>, state: &mut State, server: usize, delay: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.servers[server].probing = true;
        let weak = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut delay = delay;
            loop {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let Some(inner) = weak.upgrade() else { return };
                {
                    let mut state = inner.lock();
                    if !matches!(
                        state.servers[server].health,
                        Health::Checking | Health::Down { .. }
                    ) {
                        state.servers[server].probing = false;
                        return;
                    }
                }
                let result = inner.servers[server].backend.verify().await;
                let mut state = inner.lock();
                let down = inner.checked(&mut state, server, result.as_ref().map(String::as_str));
                if !down {
                    state.servers[server].probing = false;
                }
                inner.pump(&mut state);
                if !down {
                    return;
                }
                delay = inner.options.retry_down_after;
            }
        });
    }

    /// Hands free server slots to waiting renders (retries first, then round-robin between
    /// owners), fails the renders no server is left for, starts verifying servers that are
    /// needed and not yet checked, and tells each waiting render its new place.
    fn pump(self: &Arc<Self>, state: &mut State) {
        // Renders no server can take now or later.
        let doomed: Vec<u64> = state
            .queue
            .order()
            .into_iter()
            .filter(|id| {
                let tried = &state.tickets[id].tried;
                !(0..self.servers.len()).any(|i| {
                    !tried.contains(&i) && !matches!(state.servers[i].health, Health::Down { .. })
                })
            })
            .collect();
        if !doomed.is_empty() {
            let error = self.no_server(state);
            for id in doomed {
                state.queue.remove(id);
                if let Some(ticket) = state.tickets.remove(&id) {
                    let _ = ticket.answer.send(Assignment::NoServer(error.clone()));
                }
            }
        }
        // Retries: each may skip ahead of another whose untried servers are busy.
        let urgent: Vec<u64> = state.queue.urgent.iter().copied().collect();
        for id in urgent {
            if let Some(server) = self.pick(state, &state.tickets[&id].tried) {
                state.queue.remove(id);
                self.assign(state, id, server);
            }
        }
        // Fresh renders, round-robin between owners.
        while let Some(server) = self.pick(state, &[]) {
            let Some(id) = state.queue.pop_fair() else {
                break;
            };
            self.assign(state, id, server);
        }
        // Servers not yet checked are checked once they are needed.
        let mut made_up = false;
        if !state.tickets.is_empty() {
            for server in 0..self.servers.len() {
                if state.servers[server].health == Health::Unchecked
                    && !state.servers[server].probing
                {
                    state.servers[server].health = Health::Checking;
                    self.spawn_check(state, server, Duration::ZERO);
                    if !state.servers[server].probing {
                        // No runtime to check it in (never so in the service): take it as it is.
                        state.servers[server].health = Health::Up;
                        made_up = true;
                    }
                }
            }
        }
        if made_up {
            return self.pump(state);
        }
        // Places in the queue.
        for (place, id) in state.queue.order().into_iter().enumerate() {
            let place = place as u32 + 1;
            if let Some(ticket) = state.tickets.get_mut(&id)
                && ticket.reported != Some(place)
            {
                ticket.reported = Some(place);
                (ticket.progress)(Progress {
                    fraction: 0.0,
                    note: String::new(),
                    queued: Some(place),
                });
            }
        }
    }

    /// The least busy server that is up, has room, and is not in `tried`; equally busy ones
    /// take turns.
    fn pick(&self, state: &State, tried: &[usize]) -> Option<usize> {
        (0..self.servers.len())
            .filter(|i| {
                let s = &state.servers[*i];
                !tried.contains(i)
                    && s.health == Health::Up
                    && s.running < self.servers[*i].concurrency
            })
            .min_by(|&a, &b| {
                let (ra, ca) = (
                    state.servers[a].running as u64,
                    self.servers[a].concurrency as u64,
                );
                let (rb, cb) = (
                    state.servers[b].running as u64,
                    self.servers[b].concurrency as u64,
                );
                (ra * cb).cmp(&(rb * ca)).then(ra.cmp(&rb)).then(
                    state.servers[a]
                        .last_start
                        .cmp(&state.servers[b].last_start),
                )
            })
    }

    /// Gives `server`'s slot to the waiting render `id`.
    fn assign(&self, state: &mut State, id: u64, server: usize) {
        let Some(ticket) = state.tickets.remove(&id) else {
            return;
        };
        if ticket.answer.send(Assignment::Server(server)).is_ok() {
            state.next_start += 1;
            let s = &mut state.servers[server];
            s.running += 1;
            s.last_start = state.next_start;
        }
    }

    /// Why no server will take a job: the one server's own error (a missing model stays a
    /// missing model, for the user's sentence too), or [`RenderError::NoServer`] naming each.
    fn no_server(&self, state: &State) -> RenderError {
        match state.servers.as_slice() {
            [
                ServerState {
                    down_error: Some(error),
                    ..
                },
            ] => error.clone(),
            _ => RenderError::NoServer(self.why_down(state)),
        }
    }

    /// Each server and why it takes no jobs, for [`RenderError::NoServer`].
    fn why_down(&self, state: &State) -> String {
        self.servers
            .iter()
            .zip(&state.servers)
            .map(|(config, s)| match &s.health {
                Health::Down { cause, .. } => format!("{} is down ({cause})", config.url),
                Health::Up => format!("{} already failed this job", config.url),
                _ => format!("{} is not checked yet", config.url),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Records how a job on `server` ended and frees its slot.
    fn finish(self: &Arc<Self>, server: usize, outcome: Outcome) {
        let mut state = self.lock();
        let s = &mut state.servers[server];
        s.running = s.running.saturating_sub(1);
        let down_cause = match outcome {
            Outcome::Finished => {
                s.finished += 1;
                s.failures_in_a_row = 0;
                None
            }
            Outcome::Refused => None,
            Outcome::ServerFailed(cause) => {
                s.failed += 1;
                s.failures_in_a_row += 1;
                (s.failures_in_a_row >= self.options.failures_before_down.max(1)).then_some(cause)
            }
            Outcome::WrongModel(cause) => {
                s.failed += 1;
                s.failures_in_a_row += 1;
                Some(cause)
            }
        };
        if let Some(error) = down_cause
            && !matches!(s.health, Health::Down { .. })
        {
            let cause = error.to_string();
            tracing::warn!(
                server = %self.servers[server].url,
                failures_in_a_row = s.failures_in_a_row,
                cause = %cause,
                "image server down: it takes no jobs until it answers a check again"
            );
            s.health = Health::Down {
                cause,
                since: Instant::now(),
            };
            s.down_error = Some(error);
            if !s.probing {
                self.spawn_check(&mut state, server, self.options.retry_down_after);
            }
        }
        self.pump(&mut state);
    }
}

/// A render in the queue. Dropping it (the render's future was dropped) takes it out of the
/// queue at once, or gives back the server slot it was just handed.
struct Waiting<B: Backend + 'static> {
    inner: Arc<Inner<B>>,
    id: u64,
    answer: Option<oneshot::Receiver<Assignment>>,
}

impl<B: Backend + 'static> Waiting<B> {
    fn enter(inner: &Arc<Inner<B>>, owner: u64, progress: ProgressFn, tried: &[usize]) -> Self {
        Waiting::join(inner, owner, progress, tried, false)
    }

    /// A retry: ahead of every fresh render.
    fn enter_urgent(
        inner: &Arc<Inner<B>>,
        owner: u64,
        progress: ProgressFn,
        tried: &[usize],
    ) -> Self {
        Waiting::join(inner, owner, progress, tried, true)
    }

    fn join(
        inner: &Arc<Inner<B>>,
        owner: u64,
        progress: ProgressFn,
        tried: &[usize],
        urgent: bool,
    ) -> Self {
        let (tx, rx) = oneshot::channel();
        let mut state = inner.lock();
        let id = state.next_ticket;
        state.next_ticket += 1;
        state.tickets.insert(
            id,
            Ticket {
                progress,
                reported: None,
                tried: tried.to_vec(),
                answer: tx,
            },
        );
        if urgent {
            state.queue.push_urgent(id);
        } else {
            state.queue.push(owner, id);
        }
        inner.pump(&mut state);
        Waiting {
            inner: inner.clone(),
            id,
            answer: Some(rx),
        }
    }

    /// Waits for a server (or for the news that none will come).
    async fn assigned(&mut self) -> Assignment {
        let Some(rx) = self.answer.as_mut() else {
            return Assignment::NoServer(RenderError::NoServer(
                "the render already left the queue".into(),
            ));
        };
        let answer = rx.await.unwrap_or_else(|_| {
            Assignment::NoServer(RenderError::NoServer("the dispatcher stopped".into()))
        });
        self.answer = None;
        answer
    }
}

impl<B: Backend + 'static> Drop for Waiting<B> {
    fn drop(&mut self) {
        let Some(mut rx) = self.answer.take() else {
            return;
        };
        let mut state = self.inner.lock();
        if state.tickets.remove(&self.id).is_some() {
            state.queue.remove(self.id);
        } else if let Ok(Assignment::Server(server)) = rx.try_recv() {
            let s = &mut state.servers[server];
            s.running = s.running.saturating_sub(1);
        }
        self.inner.pump(&mut state);
    }
}

/// A job holding a slot on a server. Dropping it unfinished (the render's future was dropped)
/// frees the slot without counting for or against the server.
struct Running<B: Backend + 'static> {
    inner: Arc<Inner<B>>,
    server: usize,
    done: bool,
}

impl<B: Backend + 'static> Running<B> {
    fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        self.inner.finish(self.server, outcome);
    }
}

impl<B: Backend + 'static> Drop for Running<B> {
    fn drop(&mut self) {
        if !self.done {
            self.inner.finish(self.server, Outcome::Refused);
        }
    }
}

/// The waiting renders in serving order: retries first, then one render per owner in turn.
#[derive(Debug, Default)]
struct FairQueue {
    /// Renders that failed on a server and wait for another one.
    urgent: VecDeque<u64>,
    /// Each owner's waiting renders, oldest first (owners with none have no lane).
    lanes: HashMap<u64, VecDeque<u64>>,
    /// Owners with waiting renders, the one whose turn is next first.
    turns: VecDeque<u64>,
}

impl FairQueue {
    fn push(&mut self, owner: u64, ticket: u64) {
        let lane = self.lanes.entry(owner).or_default();
        if lane.is_empty() {
            self.turns.push_back(owner);
        }
        lane.push_back(ticket);
    }

    fn push_urgent(&mut self, ticket: u64) {
        self.urgent.push_back(ticket);
    }

    /// The next render by round-robin (not the retries): the oldest of the owner whose turn
    /// it is; that owner's turn comes again after every other waiting owner's.
    fn pop_fair(&mut self) -> Option<u64> {
        let owner = self.turns.pop_front()?;
        let lane = self.lanes.get_mut(&owner)?;
        let ticket = lane.pop_front();
        if lane.is_empty() {
            self.lanes.remove(&owner);
        } else {
            self.turns.push_back(owner);
        }
        ticket
    }

    /// Takes `ticket` out wherever it is; whether it was there.
    fn remove(&mut self, ticket: u64) -> bool {
        if let Some(at) = self.urgent.iter().position(|t| *t == ticket) {
            self.urgent.remove(at);
            return true;
        }
        let Some(owner) = self
            .lanes
            .iter()
            .find_map(|(owner, lane)| lane.contains(&ticket).then_some(*owner))
        else {
            return false;
        };
        let lane = self.lanes.get_mut(&owner).expect("the lane just found");
        lane.retain(|t| *t != ticket);
        if lane.is_empty() {
            self.lanes.remove(&owner);
            self.turns.retain(|o| *o != owner);
        }
        true
    }

    /// Every waiting render in the order it would be served if servers freed up one by one.
    fn order(&self) -> Vec<u64> {
        let mut order: Vec<u64> = self.urgent.iter().copied().collect();
        let longest = self.lanes.values().map(VecDeque::len).max().unwrap_or(0);
        for round in 0..longest {
            for owner in &self.turns {
                if let Some(ticket) = self.lanes[owner].get(round) {
                    order.push(*ticket);
                }
            }
        }
        order
    }
}

/// `text` cut to at most `max` characters, with an ellipsis when cut (for logs).
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::super::no_progress;
    use super::*;

    fn queue(jobs: &[(u64, u64)]) -> FairQueue {
        let mut q = FairQueue::default();
        for &(owner, ticket) in jobs {
            q.push(owner, ticket);
        }
        q
    }

    #[test]
    fn owners_take_turns_whatever_order_their_renders_came_in() {
        // Owner 1 queued five renders before owners 2 and 0 (tastebud) queued theirs.
        let mut q = queue(&[
            (1, 10),
            (1, 11),
            (1, 12),
            (1, 13),
            (1, 14),
            (2, 20),
            (0, 1),
            (2, 21),
        ]);
        assert_eq!(q.order(), vec![10, 20, 1, 11, 21, 12, 13, 14]);
        let served: Vec<u64> = std::iter::from_fn(|| q.pop_fair()).collect();
        assert_eq!(served, vec![10, 20, 1, 11, 21, 12, 13, 14]);
        assert!(q.order().is_empty());
    }

    #[test]
    fn an_owner_who_comes_back_waits_for_the_others_turn() {
        let mut q = queue(&[(1, 10), (1, 11), (2, 20)]);
        assert_eq!(q.pop_fair(), Some(10));
        assert_eq!(q.pop_fair(), Some(20));
        // Owner 2 queues again after its lane emptied: owner 1 is next, then owner 2.
        q.push(2, 21);
        q.push(3, 30);
        assert_eq!(q.order(), vec![11, 21, 30]);
    }

    #[test]
    fn retries_go_first_and_removed_renders_leave_no_gap() {
        let mut q = queue(&[(1, 10), (1, 11), (2, 20)]);
        q.push_urgent(99);
        assert_eq!(q.order(), vec![99, 10, 20, 11]);
        assert!(q.remove(20));
        assert_eq!(q.order(), vec![99, 10, 11]);
        assert!(q.remove(99));
        assert!(!q.remove(99));
        assert_eq!(q.pop_fair(), Some(10));
        assert_eq!(q.pop_fair(), Some(11));
        assert_eq!(q.pop_fair(), None);
        assert!(q.turns.is_empty() && q.lanes.is_empty());
    }

    /// An in-process server: renders take `delay`; it can be switched off (its jobs then
    /// fail as a dropped connection does) and on again.
    #[derive(Clone)]
    struct Fake {
        url: String,
        delay: Duration,
        up: Arc<std::sync::atomic::AtomicBool>,
        log: Arc<Mutex<FakeLog>>,
    }

    #[derive(Default)]
    struct FakeLog {
        verifies: u32,
        running: u32,
        most_running: u32,
        /// Seeds of the jobs it finished.
        finished: Vec<u64>,
    }

    impl Fake {
        fn new(url: &str, delay_ms: u64) -> Fake {
            Fake {
                url: url.into(),
                delay: Duration::from_millis(delay_ms),
                up: Arc::new(true.into()),
                log: Arc::default(),
            }
        }

        fn is_up(&self) -> bool {
            self.up.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn set_up(&self, up: bool) {
            self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        }

        fn unreachable(&self) -> RenderError {
            RenderError::Unreachable {
                url: self.url.clone(),
                reason: "connection refused".into(),
            }
        }
    }

    impl Backend for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn knobs(&self) -> Vec<KnobSpec> {
            Vec::new()
        }
        fn features(&self) -> Features {
            Features::default()
        }
        async fn render(
            &self,
            request: &RenderRequest,
            _progress: ProgressFn,
        ) -> Result<Vec<RgbImage>, RenderError> {
            if request.prompt == "refuse" {
                return Err(RenderError::BadRequest("refused".into()));
            }
            if !self.is_up() {
                return Err(self.unreachable());
            }
            {
                let mut log = self.log.lock().unwrap();
                log.running += 1;
                log.most_running = log.most_running.max(log.running);
            }
            tokio::time::sleep(self.delay).await;
            let mut log = self.log.lock().unwrap();
            log.running -= 1;
            if !self.is_up() {
                return Err(RenderError::Dropped {
                    url: self.url.clone(),
                    reason: "connection reset".into(),
                });
            }
            log.finished.push(request.seed);
            Ok(vec![RgbImage::new(1, 1); request.count as usize])
        }
        async fn models(&self) -> Result<Vec<String>, RenderError> {
            Ok(vec!["m".into()])
        }
        async fn verify(&self) -> Result<String, RenderError> {
            self.log.lock().unwrap().verifies += 1;
            if self.is_up() {
                Ok("m".into())
            } else {
                Err(self.unreachable())
            }
        }
    }

    fn dispatcher(
        fakes: &[Fake],
        concurrency: u32,
        options: DispatchOptions,
    ) -> Arc<Dispatcher<Fake>> {
        let servers = fakes
            .iter()
            .map(|f| ServerConfig {
                backend: f.clone(),
                url: f.url.clone(),
                concurrency,
            })
            .collect();
        Arc::new(Dispatcher::new("7", "m", servers, options).unwrap())
    }

    fn job(owner: u64, seed: u64) -> RenderRequest {
        RenderRequest {
            prompt: "a husky".into(),
            seed,
            width: 64,
            height: 64,
            count: 1,
            owner,
            ..RenderRequest::default()
        }
    }

    fn spawn_job(
        d: &Arc<Dispatcher<Fake>>,
        owner: u64,
        seed: u64,
        progress: ProgressFn,
    ) -> tokio::task::JoinHandle<Result<Vec<RgbImage>, RenderError>> {
        let d = d.clone();
        tokio::spawn(async move { d.render(&job(owner, seed), progress).await })
    }

    /// Waits (at most 10 s) until `cond` holds.
    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..1000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    const QUICK: DispatchOptions = DispatchOptions {
        failures_before_down: 1,
        retry_down_after: Duration::from_millis(100),
    };

    #[tokio::test]
    async fn servers_are_verified_once_before_their_first_job_and_never_overfilled() {
        let fakes = [Fake::new("a", 30), Fake::new("b", 30), Fake::new("c", 30)];
        let d = dispatcher(&fakes, 2, QUICK);
        assert!(fakes.iter().all(|f| f.log.lock().unwrap().verifies == 0));
        let jobs: Vec<_> = (0..18)
            .map(|i| spawn_job(&d, i % 3, i, no_progress()))
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        for f in &fakes {
            let log = f.log.lock().unwrap();
            assert_eq!(log.verifies, 1, "{} verified once", f.url);
            assert!(
                log.most_running <= 2,
                "{} ran more than its concurrency",
                f.url
            );
            assert!(!log.finished.is_empty(), "{} took none of the jobs", f.url);
        }
        let total: usize = fakes
            .iter()
            .map(|f| f.log.lock().unwrap().finished.len())
            .sum();
        assert_eq!(total, 18);
    }

    #[tokio::test]
    async fn a_job_lost_with_its_server_finishes_elsewhere_and_the_server_comes_back() {
        let fakes = [Fake::new("a", 200), Fake::new("b", 10)];
        let d = dispatcher(&fakes, 1, QUICK);
        let first = spawn_job(&d, 1, 100, no_progress());
        until("a job runs", || {
            d.status().servers.iter().any(|s| s.running == 1)
        })
        .await;
        let busy = d
            .status()
            .servers
            .iter()
            .position(|s| s.running == 1)
            .unwrap();
        fakes[busy].set_up(false);
        first.await.unwrap().unwrap();
        let other = 1 - busy;
        assert_eq!(fakes[other].log.lock().unwrap().finished, vec![100]);
        assert!(fakes[busy].log.lock().unwrap().finished.is_empty());
        let Health::Down { cause, .. } = d.status().servers[busy].health.clone() else {
            panic!("the lost server is down: {}", d.status());
        };
        assert!(cause.contains("connection reset"), "{cause}");
        fakes[busy].set_up(true);
        until("the server is back", || {
            d.status().servers[busy].health == Health::Up
        })
        .await;
    }

    #[tokio::test]
    async fn when_every_server_is_down_the_error_names_each_and_why() {
        let fakes = [Fake::new("http://a", 10), Fake::new("http://b", 10)];
        fakes[0].set_up(false);
        fakes[1].set_up(false);
        let d = dispatcher(&fakes, 1, QUICK);
        let error = d.render(&job(1, 1), no_progress()).await.unwrap_err();
        let RenderError::NoServer(why) = &error else {
            panic!("{error:?}");
        };
        assert!(
            why.contains("http://a is down (cannot reach the image server at http://a"),
            "{why}"
        );
        assert!(why.contains("http://b is down"), "{why}");
    }

    #[tokio::test]
    async fn a_request_no_server_can_serve_is_not_retried() {
        let fakes = [Fake::new("a", 10), Fake::new("b", 10)];
        let d = dispatcher(&fakes, 1, QUICK);
        let mut refused = job(1, 1);
        refused.prompt = "refuse".into();
        let error = d.render(&refused, no_progress()).await.unwrap_err();
        assert!(matches!(error, RenderError::BadRequest(_)), "{error:?}");
        let status = d.status();
        assert!(
            status
                .servers
                .iter()
                .all(|s| s.health == Health::Up && s.failed == 0),
            "{status}"
        );
    }

    #[tokio::test]
    async fn a_dropped_render_leaves_the_queue_and_the_next_moves_up() {
        let fakes = [Fake::new("a", 300)];
        let d = dispatcher(&fakes, 1, QUICK);
        let (seen, places) = {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            let f: ProgressFn = Arc::new(move |p: Progress| sink.lock().unwrap().push(p.queued));
            (seen, f)
        };
        let running = spawn_job(&d, 1, 1, no_progress());
        until("the first job runs", || d.status().servers[0].running == 1).await;
        let dropped = spawn_job(&d, 2, 2, no_progress());
        until("one waits", || d.status().waiting == 1).await;
        let last = spawn_job(&d, 3, 3, places);
        until("two wait", || d.status().waiting == 2).await;
        dropped.abort();
        until("one waits", || d.status().waiting == 1).await;
        running.await.unwrap().unwrap();
        last.await.unwrap().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![Some(2), Some(1), None]);
        assert_eq!(fakes[0].log.lock().unwrap().finished, vec![1, 3]);
    }

    #[test]
    fn long_prompts_are_shortened_for_logs() {
        assert_eq!(shorten("a husky", 60), "a husky");
        assert_eq!(shorten("ééééé", 3), "ééé…");
    }
}
