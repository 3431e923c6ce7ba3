//! The ranking pool and the next pair: what `/rank` shows.
//!
//! A version's pool is `ranking.pool_prompts` prompts, each rendered in `ranking.pool_styles`
//! random knob settings with one seed, so the images of a prompt differ in style, not subject.
//! The built-in renderer draws missing prompts on demand; Stable Diffusion pools are built
//! ahead with `tastebud pool build` ([`Service::build_pool`]). Every generated image of the
//! version joins the candidates too, grouped by its job. A pair is two images of one group,
//! chosen by `taste::select` under the profile's current posterior.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::learn::{Refit, standardized};
use super::queue::Task;
use super::{Error, ProfileSummary, Result, Service};
use crate::domain::{Pair, Profile, ProfileId, ProfileKind, UserId};
use crate::render::backend::dispatch::Dispatcher;
use crate::render::backend::{Backend, RenderRequest, no_progress};
use crate::render::images::files::{Encoded, encode_to_view, pair_image};
use crate::render::style::{SPACE, STYLE_DIM, StyleVector, describe};
use crate::store::{Image, NewImage, Origin};
use crate::taste::quadratic::features;
use crate::taste::select::{ActiveConfig, Score, Strategy, select_among};
use crate::taste::standardize::Standardizer;

/// Subjects of the ranking pool: plain scenes that every style can be seen on.
pub const POOL_PROMPTS: &[&str] = &[
    "a lighthouse on a rocky coast",
    "a quiet mountain lake at dawn",
    "a city street after rain",
    "a small cabin in a pine forest",
    "a desert road under a wide sky",
    "a harbour with fishing boats",
    "a field of wildflowers and hills",
    "a castle on a hill",
    "a snowy village at night",
    "a tropical beach with palm trees",
    "a waterfall in a green valley",
    "a windmill by a canal",
    "an old stone bridge over a river",
    "a rooftop view of a skyline",
    "a meadow with a lone tree",
    "a canyon at sunset",
    "a foggy harbour town",
    "a garden with a greenhouse",
    "a train crossing a viaduct",
    "an island seen from a cliff",
];

/// Pairs shown most recently that a new pair should not resemble.
const RECENT_PAIRS: u32 = 5;
/// A user's generated jobs of a version whose images join their ranking candidates.
const GENERATED_JOBS: u32 = 32;

/// The largest pair image, in bytes: a pair goes out on every `/rank` click, so it is sent
/// as a JPEG light enough for a phone on a slow connection (two 384-pixel pictures fit at
/// quality 85; larger pool pictures are sent at lower quality or smaller).
pub const PAIR_MAX_BYTES: usize = 80_000;

/// A pair ready to show.
#[derive(Debug, Clone)]
pub struct NextPair {
    pub pair: Pair,
    /// The profile being ranked, with its points so far.
    pub profile: ProfileSummary,
    /// The two images side by side, labelled 1 and 2: a JPEG of at most [`PAIR_MAX_BYTES`].
    pub image: Encoded,
}

/// Progress of building a pool: images present out of the target.
pub type PoolProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

impl Service {
    /// The next pair for one of the user's profiles (`None`: the global profile of the user's
    /// default version). Moodboards learn from their images, not from pairs.
    pub async fn next_pair(&self, user: UserId, profile: Option<&ProfileId>) -> Result<NextPair> {
        let user = self.user(user).await?;
        self.actions.take(user, super::Action::Rank).await?;
        let profile = match profile {
            Some(id) => self.own_live_profile(user, id).await?,
            None => {
                let version = self.settings(user).await?.version;
                self.global_summary(user, &version).await?.profile
            }
        };
        if profile.kind == ProfileKind::Moodboard {
            return Err(Error::MoodboardNotRanked(profile.name));
        }
        self.ensure_pool(&profile.version).await?;
        let images = self.rankable(&profile.version, user).await?;
        let (left, right) = self.choose_pair(&profile, &images).await?;
        let prompt = images[left].image.prompt.clone();
        let (left, right) = if self.rng().random_bool(0.5) {
            (&images[left], &images[right])
        } else {
            (&images[right], &images[left])
        };
        let image = self.pair_file(left, right).await?;
        let pair = self
            .store
            .create_pair(user, &profile.id, left.id, right.id, &prompt)
            .await?;
        Ok(NextPair {
            pair,
            profile: self.summary(profile).await?,
            image,
        })
    }

    /// The pool images of `version`, in the order they were drawn.
    pub async fn ranking_pool(&self, version: &str) -> Result<Vec<Image>> {
        self.check_version(version)?;
        Ok(self
            .store
            .rankable_images(version, &self.model_of(version), SPACE, 0, None)
            .await?
            .into_iter()
            .filter(|i| i.image.origin == Origin::Pool)
            .collect())
    }

    /// Indices of the two images to show, chosen among pairs within each group.
    async fn choose_pair(&self, profile: &Profile, images: &[Ranked]) -> Result<(usize, usize)> {
        // The pool's statistics, from the images already loaded (generations don't count).
        let pool: Vec<StyleVector> = images
            .iter()
            .filter(|i| i.image.origin == Origin::Pool)
            .map(|i| i.style)
            .collect();
        let std = Standardizer::fit(&pool, STYLE_DIM);
        let squared = self.squared_axes();
        let x: Vec<Vec<f64>> = images
            .iter()
            .map(|i| features(&standardized(&i.style, &std), squared))
            .collect();
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (k, image) in images.iter().enumerate() {
            groups.entry(image.group.as_str()).or_default().push(k);
        }
        let mut pairs = Vec::new();
        for members in groups.values() {
            for (a, &i) in members.iter().enumerate() {
                for &j in &members[a + 1..] {
                    pairs.push((i, j));
                }
            }
        }
        if pairs.is_empty() {
            return Err(Error::PoolEmpty {
                version: profile.version.clone(),
            });
        }
        let index: HashMap<i64, usize> =
            images.iter().enumerate().map(|(k, i)| (i.id, k)).collect();
        let recent: Vec<Vec<f64>> = self
            .store
            .recent_pairs(&profile.id, RECENT_PAIRS)
            .await?
            .into_iter()
            .filter_map(|(l, r)| Some(difference(&x[*index.get(&l)?], &x[*index.get(&r)?])))
            .collect();
        let posterior = self.posterior(profile, &std, Refit::Plain).await?;
        let ranking = &self.config.ranking;
        let strategy = match Strategy::parse(&ranking.strategy).unwrap_or_default() {
            Strategy::Active(c) => Strategy::Active(ActiveConfig {
                score: Score::parse(&ranking.active_score).unwrap_or_default(),
                ..c
            }),
            random => random,
        };
        let pick = select_among(&strategy, &posterior, &x, &pairs, &recent, &mut self.rng())
            .map_err(|e| Error::Bug(format!("pair selection: {e}")))?
            .ok_or(Error::PoolEmpty {
                version: profile.version.clone(),
            })?;
        Ok(pairs[pick])
    }

    /// The two images side by side, to be looked at: within [`PAIR_MAX_BYTES`].
    async fn pair_file(&self, left: &Ranked, right: &Ranked) -> Result<Encoded> {
        // Both pictures are read and decoded at once.
        let (left, right) = tokio::join!(
            self.images.load(&left.image.hash),
            self.images.load(&right.image.hash)
        );
        let (left, right) = (left.map_err(Error::Render)?, right.map_err(Error::Render)?);
        let task = |e: tokio::task::JoinError| Error::Bug(format!("pair image task: {e}"));
        tokio::task::spawn_blocking(move || {
            encode_to_view(&pair_image(&left, &right), PAIR_MAX_BYTES)
        })
        .await
        .map_err(task)?
        .map_err(Error::Render)
    }

    /// The candidates for `user`'s pairs of `version`: pool images and the user's own recent
    /// generations, measured.
    async fn rankable(&self, version: &str, user: UserId) -> Result<Vec<Ranked>> {
        let images = self
            .store
            .rankable_images(
                version,
                &self.model_of(version),
                SPACE,
                GENERATED_JOBS,
                Some(user),
            )
            .await?;
        Ok(images.into_iter().filter_map(Ranked::new).collect())
    }

    /// Makes sure `version` has something to rank: the built-in renderer draws one missing
    /// pool prompt per call until the pool is complete (so the first pairs come quickly);
    /// for other backends an empty pool is queued for a worker to draw (or `tastebud pool
    /// build` draws it), and the user is told to come back.
    pub(super) async fn ensure_pool(&self, version: &str) -> Result<()> {
        let target = self.pool_target();
        let have = self
            .store
            .pool_size(version, &self.model_of(version))
            .await?;
        if have >= target {
            return Ok(());
        }
        let backend = self.backends.get(version);
        if !backend.is_sketch() {
            if have == 0 {
                let work = serde_json::to_string(&Task::Pool {
                    pool_of: version.to_string(),
                })
                .map_err(|e| Error::Bug(format!("cannot write a pool job: {e}")))?;
                let job = self.store.queue_pool_job(version, &work).await?;
                tracing::info!(job, version, "the ranking pool is queued to be drawn");
                self.start_worker();
                return Err(Error::PoolBeingDrawn {
                    version: version.to_string(),
                });
            }
            // A pool drawn in part: ranked once its job has finished it (a pool the operator
            // built smaller on purpose, with no job, is ranked as it is).
            if self.store.pool_job(version).await?.is_some() {
                return Err(Error::PoolBeingDrawn {
                    version: version.to_string(),
                });
            }
            return Ok(());
        }
        let _guard = self.store.lock(&format!("pool {version}")).await?;
        let prompts = self.pool_prompts();
        self.render_next_pool_prompt(&backend, version, prompts)
            .await?;
        Ok(())
    }

    /// Pool prompts in use: `ranking.pool_prompts`, at most one per [`POOL_PROMPTS`] entry.
    fn pool_prompts(&self) -> usize {
        (self.config.ranking.pool_prompts as usize).min(POOL_PROMPTS.len())
    }

    /// Images a complete pool holds.
    fn pool_target(&self) -> u64 {
        self.pool_prompts() as u64 * u64::from(self.config.ranking.pool_styles)
    }

    /// Renders the pool for `version` until it holds `count` images (default
    /// `ranking.pool_prompts` × `ranking.pool_styles`), with any backend; resumes where an
    /// earlier run stopped. `progress(done, total)` follows every prompt. Returns how many
    /// images were added.
    pub async fn build_pool(
        &self,
        version: &str,
        count: Option<u64>,
        progress: PoolProgress<'_>,
    ) -> Result<u64> {
        self.check_version(version)?;
        let backend = self.backends.get(version);
        let styles = u64::from(self.config.ranking.pool_styles);
        let most = POOL_PROMPTS.len() as u64 * styles;
        let target = count.unwrap_or_else(|| self.pool_target());
        if target > most {
            return Err(Error::PoolTooLarge { most });
        }
        let prompts = target.div_ceil(styles) as usize;
        let _guard = self.store.lock(&format!("pool {version}")).await?;
        let mut added = 0;
        loop {
            let have = self
                .store
                .pool_size(version, &self.model_of(version))
                .await?;
            progress(have.min(target), target);
            if have >= target {
                return Ok(added);
            }
            let n = self
                .render_next_pool_prompt(&backend, version, prompts)
                .await?;
            if n == 0 {
                return Ok(added);
            }
            added += n;
        }
    }

    /// Renders the styles still missing for the first of the `prompts` pool prompts of
    /// `version` that is not complete. Returns the images added (0 when all are complete).
    async fn render_next_pool_prompt(
        &self,
        backend: &Dispatcher,
        version: &str,
        prompts: usize,
    ) -> Result<u64> {
        let r = &self.config.ranking;
        let pool: Vec<Image> = self
            .store
            .rankable_images(version, &self.model_of(version), SPACE, 0, None)
            .await?
            .into_iter()
            .filter(|i| i.image.origin == Origin::Pool)
            .collect();
        for (g, &prompt) in POOL_PROMPTS.iter().enumerate().take(prompts) {
            let have = pool.iter().filter(|i| i.image.prompt == prompt).count();
            if have >= r.pool_styles as usize {
                continue;
            }
            // Deterministic per version and prompt, so a resumed build continues the same pool.
            let mut rng = StdRng::seed_from_u64(pool_seed(version, g));
            let seed: u64 = rng.random_range(0..u64::from(u32::MAX));
            let specs = backend.knobs();
            let settings: Vec<Vec<f32>> = (0..r.pool_styles)
                .map(|_| {
                    specs
                        .iter()
                        .map(|k| rng.random_range(k.min..=k.max))
                        .collect()
                })
                .collect();
            // The built-in renderer draws the pool small (it is cheap to look at either way); a
            // Stable Diffusion model is pooled at its own size, as users will see its pictures.
            let size = if backend.is_sketch() {
                r.pool_image_size
            } else {
                self.config.render.size_for(version)
            };
            let mut added = 0;
            for knobs in settings.into_iter().skip(have) {
                let request = RenderRequest {
                    prompt: prompt.to_string(),
                    seed,
                    knobs: knobs.clone(),
                    width: size,
                    height: size,
                    count: 1,
                    ..RenderRequest::default()
                };
                let image = backend
                    .render(&request, no_progress())
                    .await
                    .map_err(Error::Render)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::Bug("the backend returned no image".into()))?;
                let (image, style) = tokio::task::spawn_blocking(move || {
                    let style = describe(&image);
                    (image, style)
                })
                .await
                .map_err(|e| Error::Bug(format!("pool image task: {e}")))?;
                let hash = self.images.save(image).await.map_err(Error::Render)?;
                self.store
                    .insert_image(&NewImage {
                        hash,
                        prompt: prompt.to_string(),
                        version: version.to_string(),
                        backend: backend.name().to_string(),
                        model: backend.model().to_string(),
                        seed,
                        knobs,
                        style: Some((SPACE.to_string(), style.0.to_vec())),
                        origin: Origin::Pool,
                        owner: None,
                        job: None,
                    })
                    .await?;
                added += 1;
            }
            return Ok(added);
        }
        Ok(0)
    }
}

/// A candidate image: its record, its group (pool prompt or job) and its raw style.
struct Ranked {
    id: i64,
    group: String,
    style: StyleVector,
    image: NewImage,
}

impl Ranked {
    fn new(image: Image) -> Option<Ranked> {
        let style = image
            .image
            .style
            .as_ref()
            .and_then(|(_, v)| StyleVector::from_slice(v))?;
        let group = match image.image.job {
            Some(job) => format!("job {job}"),
            None => format!("pool {}", image.image.prompt),
        };
        Some(Ranked {
            id: image.id,
            group,
            style,
            image: image.image,
        })
    }
}

fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a - b).collect()
}

/// The seed of pool prompt `group` of `version`: a stable hash of both.
fn pool_seed(version: &str, group: usize) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("tastebud pool {version} {group}").as_bytes());
    u64::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ])
}
