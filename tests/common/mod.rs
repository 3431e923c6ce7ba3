//! Shared setup for integration tests: a service on a real database (a SQLite file in a temp
//! dir, or a schema of its own on the PostgreSQL server that `TEST_POSTGRES_URL` names).
#![allow(dead_code)]

pub mod bombs;
#[path = "../db/mod.rs"]
pub mod db;

use tastebud::config::Config;
use tastebud::domain::{Choice, Pair, Place, ProfileId, UserId};
use tastebud::service::Service;
use tastebud::store::{Claim, NewImage, NewJob, Origin, Store, Versions};
use tempfile::TempDir;

/// Small numbers so tests reach checkpoints quickly: unlock at 6, a new code every 3 points;
/// a pool of 2 prompts × 4 styles of 64 px; 64 px generations; no cooldown. `[limits]` comes
/// last, so a test may append more of its keys.
pub const SMALL: &str = "
[personalization]
unlock_threshold = 6
refresh_every = 3
[ranking]
pool_prompts = 2
pool_styles = 4
pool_image_size = 64
[render]
size = 64
[limits]
cooldown_secs = 0
";

/// [`SMALL`] with unlocking at 3 points and a new code every 2, so that a few clicks in a bot
/// test unlock a profile.
pub const QUICK: &str = "
[personalization]
unlock_threshold = 3
refresh_every = 2
[ranking]
pool_prompts = 2
pool_styles = 4
pool_image_size = 64
[render]
size = 64
[limits]
cooldown_secs = 0
";

/// A temp dir (images, and the SQLite database unless the tests run on PostgreSQL), the store
/// on the test's database, and a service with `overrides` applied to the default
/// configuration.
pub struct World {
    pub store: Store,
    pub service: Service,
    pub db: db::TestDb,
    pub dir: TempDir,
}

impl World {
    pub async fn new(overrides: &str) -> World {
        World::on(db::TestDb::new().await, overrides).await
    }

    /// A world on the database `db`. With `RUST_LOG` set, the service's log is shown.
    pub async fn on(db: db::TestDb, overrides: &str) -> World {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, service) = open(&dir, &db, overrides).await;
        World {
            store,
            service,
            db,
            dir,
        }
    }

    /// Closes the database and opens it again.
    pub async fn reopen(self, overrides: &str) -> World {
        self.store.close().await;
        let (store, service) = open(&self.dir, &self.db, overrides).await;
        World {
            store,
            service,
            db: self.db,
            dir: self.dir,
        }
    }

    /// A second handle on the same database, with its own connections: what another process
    /// sharing the database has.
    /// The folder the service keeps its image files in (the default image store), for tests
    /// that damage files on disk.
    pub fn images_folder(&self) -> std::path::PathBuf {
        self.service
            .images()
            .folder_path()
            .expect("images in a folder")
            .to_path_buf()
    }

    pub async fn another_store(&self) -> Store {
        self.db.open(self.dir.path()).await
    }

    /// A second service on the same database and data directory, configured with
    /// `overrides`, with its own connections and memory: what another process has.
    pub async fn another_service(&self, overrides: &str) -> Service {
        let config = Config::with_overrides(overrides).expect("config");
        Service::new(self.another_store().await, config, self.dir.path()).expect("service")
    }

    /// Records an image owned by `owner` (a pool image when `None`).
    pub async fn image(&self, owner: Option<UserId>, version: &str) -> i64 {
        if let Some(user) = owner {
            // Image owners are users the service has met.
            self.service.settings(user).await.expect("settings");
        }
        self.store
            .insert_image(&NewImage {
                hash: format!("{:064x}", unique()),
                prompt: "a lighthouse at dusk".into(),
                version: version.into(),
                backend: "sketch".into(),
                model: String::new(),
                seed: 7,
                knobs: vec![0.1, -0.2],
                style: Some(("style-v1".into(), style_vector(unique()))),
                origin: if owner.is_some() {
                    Origin::Generated
                } else {
                    Origin::Pool
                },
                owner,
                job: None,
            })
            .await
            .expect("insert image")
    }

    /// Queues a generation job of `user` made in `place` (work no worker can read), with
    /// `reply` kept while it runs; returns its id.
    pub async fn queued_job(&self, user: UserId, place: Place, reply: Option<&str>) -> i64 {
        // Job owners are users the service has met.
        self.service.settings(user).await.expect("settings");
        self.store
            .queue_job(
                &NewJob {
                    user,
                    prompt: "a lighthouse at dusk",
                    prompt_run: "a lighthouse at dusk --v 7",
                    version: "7",
                    seed: 7,
                    place,
                    reply,
                    work: "{}",
                    owner: "",
                },
                None,
            )
            .await
            .expect("queue job")
            .expect("admitted")
    }

    /// Claims the oldest queued job of version 7 as a worker named `worker` would.
    pub async fn claim(&self, worker: &str) -> Claim {
        self.store
            .claim_job(&Versions::Only(vec!["7".into()]), worker, 60_000)
            .await
            .expect("claim")
            .expect("a job to claim")
    }

    /// Records a finished generation job of `user` made in `place` (without images).
    pub async fn done_job(&self, user: UserId, place: Place) -> i64 {
        let job = self.queued_job(user, place, None).await;
        let claim = self.claim("test").await;
        assert_eq!(claim.job, job);
        assert!(
            self.store
                .complete_job(&claim, &[])
                .await
                .expect("complete")
        );
        job
    }

    /// Records a picture `owner` generated in `place`: a finished job with one image whose
    /// PNG file exists (a few pixels, different for every call). Returns the image's id.
    pub async fn generated_in(&self, owner: UserId, place: Place) -> i64 {
        let job = self.done_job(owner, place).await;
        let n = unique();
        let pixels = image::RgbImage::from_fn(4, 4, |x, y| {
            image::Rgb([n as u8, (n >> 8) as u8, (x * 4 + y) as u8])
        });
        let hash = self.service.images().save(pixels).await.expect("save png");
        self.store
            .insert_image(&NewImage {
                hash,
                prompt: "a lighthouse at dusk --v 7".into(),
                version: "7".into(),
                backend: "sketch".into(),
                model: String::new(),
                seed: 7,
                knobs: vec![],
                style: Some(("style-v1".into(), style_vector(n))),
                origin: Origin::Generated,
                owner: Some(owner),
                job: Some(job),
            })
            .await
            .expect("insert image")
    }

    /// Issues a pair of two fresh pool images to `user` for `profile`.
    pub async fn pair(&self, user: UserId, profile: &ProfileId) -> Pair {
        let left = self.image(None, "7").await;
        let right = self.image(None, "7").await;
        self.store
            .create_pair(user, profile, left, right, "a lighthouse at dusk")
            .await
            .expect("create pair")
    }

    /// Votes `n` times (left) for `profile` through the service.
    pub async fn votes(&self, user: UserId, profile: &ProfileId, n: u32) {
        for _ in 0..n {
            let pair = self.pair(user, profile).await;
            self.service
                .vote(user, pair.id, Choice::Left)
                .await
                .expect("vote");
        }
    }

    /// The user's global profile for `version`.
    pub async fn global(&self, user: UserId, version: &str) -> ProfileId {
        self.service
            .global_profile(user, version)
            .await
            .expect("global profile")
            .profile
            .id
    }
}

async fn open(dir: &TempDir, db: &db::TestDb, overrides: &str) -> (Store, Service) {
    let config = Config::with_overrides(overrides).expect("config");
    let store = db.open(dir.path()).await;
    let service = Service::new(store.clone(), config, dir.path()).expect("service");
    (store, service)
}

/// A style vector of the right length whose values vary with `n`.
pub fn style_vector(n: u64) -> Vec<f32> {
    (0..tastebud::render::style::STYLE_DIM as u64)
        .map(|k| (((n * 7919 + k * 104729) % 1000) as f32) / 1000.0)
        .collect()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A PNG of `width` × `height` pixels in one colour.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// Unlocks `user` (six pairs ranked through the service, as with [`SMALL`]) and makes them a
/// moodboard named `name`.
pub async fn moodboard(service: &Service, user: UserId, name: &str) -> ProfileId {
    for _ in 0..6 {
        let next = service.next_pair(user, None).await.expect("next pair");
        service
            .vote(user, next.pair.id, Choice::Left)
            .await
            .expect("vote");
    }
    service
        .create_profile(
            user,
            tastebud::service::CreateProfile {
                kind: tastebud::domain::ProfileKind::Moodboard,
                version: None,
                name: name.into(),
            },
        )
        .await
        .expect("create a moodboard")
        .profile
        .id
}
