//! Generation: `/imagine` as a service method, `--p` resolution, rerolls and image files.
//!
//! A prompt is parsed, the user's settings fill what it leaves open (version, stylize preset,
//! automatic `--p`), `--p` resolves to codes and blends into one taste, and each generation is
//! queued as a job with everything a worker needs to draw it (`queue.rs`): the render request
//! and the steering. A worker draws four images and stores them with the job's completion;
//! this side waits for that and composes the grid from the stored pictures.

use super::learn::to_standardized;
use super::queue::{SteeringPlan, Task, Work};
use super::{Error, Result, Service};
use crate::domain::{Code, Place, ProfileKind, UserId};
use crate::prompt::{Aspect, Limits as PromptLimits, ProfileRef, Prompt, RefTarget, parse};
use crate::render::RenderError;
use crate::render::backend::dispatch::Dispatcher;
use crate::render::backend::{Backend, Features, Progress, ProgressFn, RenderRequest};
use crate::render::images::files::{Encoded, Encoding, decode_image, encode_within, grid};
use crate::render::steering::calibrate::sketch_calibration;
use crate::render::style::{SPACE, STYLE_DIM};
use crate::store::{Admission, Image, JobStatus, NewJob, Refused};
use crate::taste::codes::blend;
use crate::taste::quadratic;
use crate::taste::steer::Calibration;

/// Images in one generation.
const GRID: u32 = 4;

/// The largest file, in bytes, posted for a grid or a picture: Discord's upload limit for bots
/// in a server without boosts is 10 MiB per file. A picture whose PNG is larger is sent as a
/// JPEG ([`encode_within`]).
pub const MAX_POST_BYTES: usize = 8 * 1024 * 1024;

/// One finished generation: a 2×2 grid.
#[derive(Debug, Clone)]
pub struct Generation {
    pub job: i64,
    /// The four images, in grid order.
    pub images: Vec<i64>,
    /// The grid: a PNG, or a JPEG when its PNG would be larger than [`MAX_POST_BYTES`].
    pub grid: Encoded,
    /// The prompt as run: canonical, with codes in place of profile IDs and default profiles.
    pub prompt_run: String,
    pub version: String,
    pub seed: u32,
    /// What the backend could not honour, one sentence each.
    pub notes: Vec<String>,
}

/// A request to generate: `/imagine`.
#[derive(Debug, Clone, PartialEq)]
pub struct Imagine {
    /// The prompt as the user typed it, parameters included.
    pub prompt: String,
    /// Where it was asked for; its pictures are explorable there only.
    pub place: Place,
    /// Opaque to the service: what the frontend wants kept with each job while it runs (the
    /// Discord frontend keeps the interaction token, to tell the user after a restart that
    /// their job was interrupted). Forgotten when the job finishes or fails.
    pub reply: Option<String>,
}

impl Imagine {
    /// A request for `prompt` in `place`, with no reply handle.
    pub fn new(prompt: impl Into<String>, place: Place) -> Imagine {
        Imagine {
            prompt: prompt.into(),
            place,
            reply: None,
        }
    }
}

/// A generation a restart interrupted, found (and marked failed) by [`Service::recover_jobs`].
#[derive(Debug, Clone, PartialEq)]
pub struct InterruptedJob {
    pub job: i64,
    pub user: UserId,
    /// The prompt as the user typed it.
    pub prompt: String,
    /// The frontend's handle given with the request (see [`Imagine::reply`]).
    pub reply: Option<String>,
    /// When the job started, in Unix milliseconds.
    pub started_at_ms: i64,
}

/// One stored image and the file to post it as.
#[derive(Debug, Clone)]
pub struct ImageFile {
    pub image: Image,
    /// Its stored PNG, or a JPEG when that PNG is larger than [`MAX_POST_BYTES`].
    pub file: Encoded,
}

/// Where a generation was asked for, the frontend's handle to keep with its job, and whether
/// it is the first of its request (which alone is checked against the generation limits).
struct Asked<'a> {
    place: Place,
    reply: Option<&'a str>,
    first: bool,
}

/// A taste ready to steer with, and the references it came from (as codes).
struct Resolved {
    /// Per raw style unit.
    taste: Vec<f32>,
    refs: Vec<ProfileRef>,
}

impl Service {
    /// Marks generations a restart interrupted (the unfinished jobs this process's owner name
    /// waited for) as failed and forgets their reply handles; call once at start-up. A worker
    /// still drawing one of them stops. Returns those jobs, oldest first, each with the handle it had, so the
    /// frontend can tell its user.
    pub async fn recover_jobs(&self) -> Result<Vec<InterruptedJob>> {
        let jobs = self
            .store
            .cancel_jobs_of(
                &self.owner,
                "interrupted: tastebud restarted while it was running",
            )
            .await?;
        Ok(jobs
            .into_iter()
            .map(|job| InterruptedJob {
                job: job.id,
                user: job.user,
                prompt: job.prompt,
                reply: job.reply,
                started_at_ms: job.created_at,
            })
            .collect())
    }

    /// Runs `/imagine`: one generation per job the prompt expands to (permutations and
    /// `--repeat`), each reported through `progress`.
    pub async fn imagine(
        &self,
        user: UserId,
        request: Imagine,
        progress: ProgressFn,
    ) -> Result<Vec<Generation>> {
        let user = self.user(user).await?;
        let limits = PromptLimits::from_config(&self.config);
        let text = request.prompt.as_str();
        let parsed = parse(text, &limits).map_err(|e| Error::Prompt(e.to_string()))?;
        let total: u32 = parsed.prompts.iter().map(|p| p.repeat).sum();
        let mut out = Vec::new();
        for prompt in &parsed.prompts {
            for _ in 0..prompt.repeat {
                let asked = Asked {
                    place: request.place,
                    reply: request.reply.as_deref(),
                    first: out.is_empty(),
                };
                let job = job_progress(&progress, out.len() as u32, total);
                out.push(self.generate(user, text, prompt, &asked, job).await?);
            }
        }
        Ok(out)
    }

    /// Runs the prompt of one of the user's earlier generations again with a new seed, in
    /// `place` (where the reroll was asked for), keeping `reply` with the job while it runs
    /// (see [`Imagine::reply`]).
    pub async fn reroll(
        &self,
        user: UserId,
        job: i64,
        place: Place,
        reply: Option<String>,
        progress: ProgressFn,
    ) -> Result<Generation> {
        let user = self.user(user).await?;
        let job = self
            .store
            .job(job)
            .await?
            .filter(|j| j.user == user && j.status == JobStatus::Done)
            .ok_or(Error::JobNotFound)?;
        let text = job.prompt_run.ok_or(Error::JobNotFound)?;
        let limits = PromptLimits::from_config(&self.config);
        let parsed = parse(&text, &limits).map_err(|e| Error::Prompt(e.to_string()))?;
        let prompt = parsed
            .prompts
            .first()
            .ok_or_else(|| Error::Bug("a stored prompt parsed to nothing".into()))?;
        let prompt = Prompt {
            seed: None,
            repeat: 1,
            ..prompt.clone()
        };
        let asked = Asked {
            place,
            reply: reply.as_deref(),
            first: true,
        };
        self.generate(user, &text, &prompt, &asked, progress).await
    }

    /// A stored image and the file to post it as: its PNG, or a JPEG when the PNG is larger
    /// than [`MAX_POST_BYTES`].
    pub async fn image_file(&self, image: i64) -> Result<ImageFile> {
        let image = self.store.image(image).await?.ok_or(Error::ImageNotFound)?;
        self.load_image_file(image).await
    }

    /// `image` with its stored picture, ready to post: the PNG file as it is, or a JPEG when
    /// the PNG is larger than [`MAX_POST_BYTES`].
    pub(super) async fn load_image_file(&self, image: Image) -> Result<ImageFile> {
        let png = match self.images.read(&image.image.hash).await {
            Ok(Some(png)) => png,
            // A row whose file is gone: the picture is lost, which the user hears as such and
            // the operator finds in the log (and in `tastebud gc`'s report).
            Ok(None) => return Err(lost_file(&image, "is missing or empty")),
            Err(e) => return Err(Error::Bug(e.to_string())),
        };
        let hash = image.image.hash.clone();
        let file = if png.len() <= MAX_POST_BYTES {
            Encoded {
                bytes: png,
                encoding: Encoding::Png,
            }
        } else {
            tokio::task::spawn_blocking(move || encode_within(&decode_image(&png)?, MAX_POST_BYTES))
                .await
                .map_err(|e| Error::Bug(format!("re-encoding task: {e}")))?
                .map_err(|e| Error::Bug(format!("re-encoding {hash}: {e}")))?
        };
        Ok(ImageFile { image, file })
    }

    /// The user's `limit` newest finished generations, newest first, each with its grid
    /// composed again from the stored images (for results that could not be delivered when
    /// they were made). A generation whose image files are gone is left out (and logged).
    pub async fn recent_generations(&self, user: UserId, limit: u32) -> Result<Vec<Generation>> {
        let user = self.user(user).await?;
        self.actions.take(user, super::Action::Recent).await?;
        let limits = PromptLimits::from_config(&self.config);
        let mut out = Vec::new();
        for job in self.store.recent_done_jobs(user, limit).await? {
            let images = self.store.job_images(job.id).await?;
            let Some(first) = images.first() else {
                tracing::warn!(job = job.id, "a finished generation has no images");
                continue;
            };
            let backend = first.image.backend.clone();
            let grid = match self.grid_of(&images).await {
                Ok(grid) => grid,
                Err(e) => {
                    tracing::warn!(job = job.id, error = %e, "a generation's grid cannot be composed");
                    continue;
                }
            };
            let prompt_run = job.prompt_run.unwrap_or(job.prompt);
            let notes = parse(&prompt_run, &limits)
                .ok()
                .and_then(|parsed| {
                    let features = self.backends.get(&job.version).features();
                    parsed
                        .prompts
                        .first()
                        .map(|p| unsupported(p, &backend, features))
                })
                .unwrap_or_default();
            out.push(Generation {
                job: job.id,
                images: images.iter().map(|i| i.id).collect(),
                grid,
                prompt_run,
                version: job.version,
                seed: job.seed.and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
                notes,
            });
        }
        Ok(out)
    }

    /// The images of a generation, in grid order.
    pub async fn generation_images(&self, job: i64) -> Result<Vec<Image>> {
        let images = self.store.job_images(job).await?;
        if images.is_empty() {
            return Err(Error::JobNotFound);
        }
        Ok(images)
    }

    /// One generation: settings, `--p` and steering resolved here, then queued for a worker
    /// and waited for.
    async fn generate(
        &self,
        user: UserId,
        typed: &str,
        prompt: &Prompt,
        asked: &Asked<'_>,
        progress: ProgressFn,
    ) -> Result<Generation> {
        let settings = self.settings(user).await?;
        let version = prompt
            .version
            .clone()
            .unwrap_or_else(|| settings.version.clone());
        let stylize = prompt
            .stylize
            .unwrap_or(settings.settings.stylize.stylize());
        let personalize = match &prompt.personalize {
            Some(refs) => Some(refs.clone()),
            None if settings.settings.auto_personalize && self.is_personalized(&version) => {
                Some(Vec::new())
            }
            None => None,
        };
        let (taste, shown) = match &personalize {
            Some(refs) => {
                let resolved = self.resolve(user, refs, &version).await?;
                (
                    Some(resolved.taste),
                    prompt.with_personalization(resolved.refs),
                )
            }
            None => {
                let house = if self.is_personalized(&version) && stylize > 0 {
                    self.house_style(&version).await?
                } else {
                    None
                };
                (house, prompt.clone())
            }
        };
        let seed = prompt.seed.unwrap_or_else(|| self.random_seed());
        let prompt_run = shown.canonical();
        let backend = self.backends.get(&version);
        let steering_parts = match &taste {
            Some(raw) if stylize > 0 => Some(self.steering_parts(&backend, &version, raw).await?),
            _ => None,
        };
        let notes = unsupported(prompt, backend.name(), backend.features());
        let (width, height) = dimensions(
            prompt.aspect,
            self.config.render.size_for(&version),
            backend.features().size_step,
        );
        let request = RenderRequest {
            prompt: render_text(prompt),
            negative: prompt.no.clone(),
            tile: prompt.tile,
            seed: u64::from(seed),
            knobs: vec![0.0; backend.knobs().len()],
            width,
            height,
            count: GRID,
            owner: user.0,
        };

        let work = Work {
            prompt_run: prompt_run.clone(),
            request,
            steering: steering_parts.map(|(taste, calibration, standardizer)| SteeringPlan {
                taste,
                stylize,
                calibration,
                standardizer,
                candidates: self.config.render.candidates as usize,
                reach: self.config.render.reach,
            }),
        };
        let work = serde_json::to_string(&Task::Generation(Box::new(work)))
            .map_err(|e| Error::Bug(format!("cannot write a job's work: {e}")))?;
        let limits = &self.config.limits;
        let admission = Admission {
            per_user: limits.jobs_per_user,
            cooldown_ms: (limits.cooldown_secs * 1000) as i64,
            total: limits.renders,
        };
        let job = self
            .store
            .queue_job(
                &NewJob {
                    user,
                    prompt: typed,
                    prompt_run: &prompt_run,
                    version: &version,
                    seed: u64::from(seed),
                    place: asked.place,
                    reply: asked.reply,
                    work: &work,
                    owner: &self.owner,
                },
                asked.first.then_some(&admission),
            )
            .await?
            .map_err(|refused| match refused {
                Refused::TooMany(n) => Error::TooManyJobs(n),
                Refused::Cooldown(ms) => Error::Cooldown(((ms + 999) / 1000).max(1) as u64),
                Refused::Busy => Error::Busy(limits.renders),
            })?;
        self.start_worker();
        self.wait_for(job, &progress).await?;
        let images = self.store.job_images(job).await?;
        let grid = self.grid_of(&images).await?;
        Ok(Generation {
            job,
            images: images.iter().map(|i| i.id).collect(),
            grid,
            prompt_run,
            version,
            seed,
            notes,
        })
    }

    /// The grid of a generation's stored `images`, composed from their files.
    async fn grid_of(&self, images: &[Image]) -> Result<Encoded> {
        let mut pictures = Vec::with_capacity(images.len());
        for image in images {
            pictures.push(
                self.images
                    .load(&image.image.hash)
                    .await
                    .map_err(Error::Render)?,
            );
        }
        tokio::task::spawn_blocking(move || grid_file(&pictures))
            .await
            .map_err(|e| Error::Bug(format!("grid task: {e}")))?
            .map_err(Error::Render)
    }

    /// The taste per standardized axis, the calibration and the standardizer to steer
    /// `backend` with a raw taste.
    async fn steering_parts(
        &self,
        backend: &Dispatcher,
        version: &str,
        raw: &[f32],
    ) -> Result<(
        Vec<f32>,
        Calibration,
        crate::taste::standardize::Standardizer,
    )> {
        let calibration = if backend.is_sketch() {
            tokio::task::spawn_blocking(sketch_calibration)
                .await
                .map_err(|e| Error::Bug(format!("calibration task: {e}")))?
                .map_err(|e| Error::Bug(format!("sketch calibration: {e}")))?
                .calibration
                .clone()
        } else {
            self.store
                .load_calibration(version, backend.name(), backend.model(), SPACE)
                .await?
                .ok_or_else(|| Error::NotCalibrated {
                    version: version.to_string(),
                })?
        };
        if backend.is_sketch() {
            self.ensure_pool(version).await?;
        }
        let std = self.standardizer(version).await?;
        let taste: Vec<f32> = to_standardized(raw, &std)
            .into_iter()
            .map(|w| w as f32)
            .collect();
        Ok((taste, calibration, std))
    }

    fn is_personalized(&self, version: &str) -> bool {
        self.config
            .personalization
            .versions
            .iter()
            .any(|v| v == version)
    }

    /// Resolves `--p` references (empty: the user's default profiles for `version`) to codes
    /// and blends them into one taste.
    async fn resolve(&self, user: UserId, refs: &[ProfileRef], version: &str) -> Result<Resolved> {
        if !self.is_personalized(version) {
            return Err(Error::NotPersonalized {
                version: version.to_string(),
                known: self
                    .config
                    .personalization
                    .versions
                    .iter()
                    .map(|v| super::version_label(v))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let mut codes: Vec<(Code, f64)> = Vec::new();
        if refs.is_empty() {
            for profile in self.default_profiles(user, version).await? {
                codes.push((self.profile_code(&profile).await?, 1.0));
            }
        } else {
            for r in refs {
                let code = match &r.target {
                    RefTarget::Code(c) => self.code(c).await?,
                    RefTarget::Profile(id) => {
                        let profile = self.own_live_profile(user, id).await?;
                        self.profile_code(&profile).await?
                    }
                };
                codes.push((code, r.weight));
            }
        }
        let usable: Vec<(&[f32], f64)> = codes
            .iter()
            .filter(|(c, _)| {
                c.space == SPACE && quadratic::squared_axes(c.vector.len(), STYLE_DIM).is_ok()
            })
            .map(|(c, w)| (c.vector.as_slice(), *w))
            .collect();
        if usable.len() != codes.len() {
            return Err(Error::Bug("a code lives in another style space".into()));
        }
        let taste = blend(&usable).map_err(|e| Error::Prompt(format!("--p: {e}")))?;
        let refs = codes
            .into_iter()
            .map(|(c, weight)| ProfileRef {
                target: RefTarget::Code(c.code),
                weight,
            })
            .collect();
        Ok(Resolved { taste, refs })
    }

    /// What a profile ID resolves to: a moodboard's code for the images it holds now, another
    /// profile's newest code, or why it has none yet.
    async fn profile_code(&self, profile: &crate::domain::Profile) -> Result<Code> {
        if profile.kind == ProfileKind::Moodboard {
            // Not the newest code minted: after an image is removed, the current set's code
            // may be an earlier one.
            return self
                .moodboard_code(profile)
                .await?
                .ok_or_else(|| Error::MoodboardEmpty(profile.name.clone()));
        }
        if let Some(code) = self.store.latest_code(&profile.id).await? {
            return Ok(code);
        }
        let summary = self.summary(profile.clone()).await?;
        Err(match profile.kind {
            ProfileKind::Global => Error::GlobalLocked {
                version: profile.version.clone(),
                remaining: summary.remaining().max(1),
            },
            _ => Error::ProfileLocked {
                name: profile.name.clone(),
                remaining: summary.remaining().max(1),
            },
        })
    }
}

/// The error for a stored image whose file `what` (is missing, is empty), logged.
fn lost_file(image: &Image, what: &str) -> Error {
    tracing::error!(
        image = image.id,
        hash = %image.image.hash,
        "the file of a stored image {what}; `tastebud gc --verify` lists every such file"
    );
    Error::ImageNotFound
}

/// A generation's grid of `pictures`, ready to post: a PNG, or a JPEG when its PNG would be
/// larger than [`MAX_POST_BYTES`].
fn grid_file(pictures: &[image::RgbImage]) -> std::result::Result<Encoded, RenderError> {
    encode_within(&grid(pictures)?, MAX_POST_BYTES)
}

/// Width and height for `aspect` with about `size`² pixels, each a multiple of `step` (the
/// backend's [`Features::size_step`]: 64 for Stable Diffusion, whose latents are an eighth of
/// the picture and whose models are trained on multiples of 64).
fn dimensions(aspect: Aspect, size: u32, step: u32) -> (u32, u32) {
    let step = f64::from(step.max(1));
    let (w, h) = (f64::from(aspect.width), f64::from(aspect.height));
    let area = f64::from(size) * f64::from(size);
    let width = (area * w / h).sqrt();
    let height = width * h / w;
    let round = |x: f64| ((x / step).round().max(1.0) * step) as u32;
    (round(width), round(height))
}

/// The text a backend receives: the positively weighted parts, joined.
fn render_text(prompt: &Prompt) -> String {
    prompt
        .text
        .iter()
        .filter(|p| p.weight > 0.0)
        .map(|p| p.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sentences for what `backend` does not honour in `prompt`. Every backend honours the text,
/// the seed, the aspect ratio, `--v`/`--niji` (as configured), `--p` and `--s`.
fn unsupported(prompt: &Prompt, backend: &str, features: Features) -> Vec<String> {
    let default = Prompt::default();
    let mut params: Vec<&str> = Vec::new();
    let mut check = |given: bool, name: &'static str| {
        if given {
            params.push(name);
        }
    };
    check(!prompt.images.is_empty(), "image prompts");
    check(
        prompt.text.iter().any(|t| t.weight != 1.0),
        "multi-prompt weights",
    );
    check(!prompt.no.is_empty() && !features.negative, "--no");
    check(prompt.chaos != default.chaos, "--chaos");
    check(prompt.weird != default.weird, "--weird");
    check(prompt.quality != default.quality, "--quality");
    check(prompt.style.is_some(), "--style");
    check(prompt.tile && !features.tile, "--tile");
    check(prompt.stop != default.stop, "--stop");
    check(prompt.image_weight != default.image_weight, "--iw");
    check(!prompt.sref.is_empty(), "--sref");
    check(prompt.style_weight != default.style_weight, "--sw");
    check(prompt.style_version.is_some(), "--sv");
    check(!prompt.cref.is_empty(), "--cref");
    check(prompt.character_weight != default.character_weight, "--cw");
    check(prompt.oref.is_some(), "--oref");
    check(prompt.omni_weight != default.omni_weight, "--ow");
    check(prompt.video, "--video");
    check(prompt.motion != default.motion, "--motion");
    check(prompt.video_loop, "--loop");
    check(prompt.video_end.is_some(), "--end");
    check(prompt.video_batch != default.video_batch, "--bs");
    check(prompt.exp != default.exp, "--exp");
    check(prompt.draft, "--draft");
    check(prompt.speed.is_some(), "--fast/--relax/--turbo");
    params
        .into_iter()
        .map(|p| format!("{p} is not supported by the {backend} backend and was ignored."))
        .collect()
}

/// Progress of job `index` (from 0) of `total` as progress of the whole prompt: the fraction
/// runs over all jobs, and the note says which job is rendering, before the backend's own.
fn job_progress(progress: &ProgressFn, index: u32, total: u32) -> ProgressFn {
    if total <= 1 {
        return progress.clone();
    }
    let progress = progress.clone();
    std::sync::Arc::new(move |p: Progress| {
        progress(Progress {
            queued: p.queued,
            fraction: (index as f32 + p.fraction.clamp(0.0, 1.0)) / total as f32,
            note: match p.note.as_str() {
                "" | "done" => format!("job {} of {total}", index + 1),
                note => format!("job {} of {total} · {note}", index + 1),
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_jobs_report_progress_over_the_whole_prompt() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress: ProgressFn = Arc::new(move |p: Progress| sink.lock().unwrap().push(p));
        let report = |fraction: f32, note: &str| Progress {
            queued: None,
            fraction,
            note: note.to_string(),
        };
        job_progress(&progress, 0, 1)(report(0.5, "step 5 of 10"));
        job_progress(&progress, 0, 2)(report(0.5, "step 5 of 10"));
        job_progress(&progress, 1, 2)(report(1.0, "done"));
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0],
            report(0.5, "step 5 of 10"),
            "one job is passed through"
        );
        assert_eq!(seen[1], report(0.25, "job 1 of 2 · step 5 of 10"));
        assert_eq!(seen[2], report(1.0, "job 2 of 2"));
    }

    #[test]
    fn sizes_keep_the_area_and_the_ratio() {
        assert_eq!(dimensions(Aspect::SQUARE, 512, 8), (512, 512));
        assert_eq!(dimensions(Aspect::SQUARE, 1024, 64), (1024, 1024));
        let wide = Aspect {
            width: 16,
            height: 9,
        };
        let (w, h) = dimensions(wide, 512, 8);
        assert_eq!((w % 8, h % 8), (0, 0));
        // SDXL sizes: multiples of 64 (1365×768 would not be).
        assert_eq!(dimensions(wide, 1024, 64), (1344, 768));
        assert!(
            (f64::from(w) / f64::from(h) - 16.0 / 9.0).abs() < 0.03,
            "{w}x{h}"
        );
        assert!((f64::from(w * h) / (512.0 * 512.0) - 1.0).abs() < 0.05);
    }

    #[test]
    fn plain_prompts_have_no_notes_and_others_name_what_is_ignored() {
        let limits = PromptLimits::new(4, &["7"]);
        let plain = &parse("a fox --ar 3:2 --seed 4 --s 250", &limits)
            .unwrap()
            .prompts[0];
        assert!(unsupported(plain, "sketch", Features::default()).is_empty());
        let fancy = &parse("a fox --tile --chaos 20 --no trees", &limits)
            .unwrap()
            .prompts[0];
        let notes = unsupported(fancy, "sketch", Features::default());
        assert_eq!(notes.len(), 3, "{notes:?}");
        // A backend with negative prompts and tiling honours --no and --tile.
        let both = Features {
            negative: true,
            tile: true,
            size_step: 64,
        };
        assert_eq!(unsupported(fancy, "automatic1111", both).len(), 1);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("--tile is not supported by the sketch"))
        );
    }

    #[test]
    fn reference_and_video_parameters_are_noted_one_by_one() {
        let limits = PromptLimits::new(4, &["7"]);
        let text = "a fox --sref https://e.com/s.png --sv 6 --cref https://e.com/c.png --cw 0 \
                    --oref https://e.com/o.png --ow 400 --video --motion high --loop \
                    --end https://e.com/e.png --bs 2 --style random-64-50";
        let fox = &parse(text, &limits).unwrap().prompts[0];
        let notes = unsupported(fox, "comfyui", Features::default());
        let named: Vec<&str> = notes
            .iter()
            .map(|n| {
                n.strip_suffix(" is not supported by the comfyui backend and was ignored.")
                    .unwrap_or(n)
            })
            .collect();
        assert_eq!(
            named,
            vec![
                "--style", "--sref", "--sv", "--cref", "--cw", "--oref", "--ow", "--video",
                "--motion", "--loop", "--end", "--bs"
            ]
        );
        // Defaults written out are no request, so nothing to note.
        let defaults = &parse("a fox --cw 100 --ow 100 --motion low --bs 4", &limits)
            .unwrap()
            .prompts[0];
        assert!(unsupported(defaults, "comfyui", Features::default()).is_empty());
    }
}
