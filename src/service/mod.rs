//! The service: one async method per user action, called by every frontend.
//!
//! Each method takes the acting user and a typed request, and returns a typed result or an
//! [`Error`] whose `Display` is the sentence to show that user. Frontends (Discord, the command
//! line) call nothing else; the service composes the store, the prompt language, taste and
//! rendering.

mod calibrate;
mod codes;
mod community;
mod error;
mod explain;
mod explore;
mod gc;
mod imagine;
mod learn;
mod limits;
mod moodboard;
mod pool;
mod profiles;
mod queue;
mod ranking;
mod settings;

use std::path::Path;
use std::sync::Arc;

pub use calibrate::{CALIBRATION_RANDOM_SETTINGS, Calibrated};
pub use community::CommunityDistance;
pub use error::{Error, MAX_ECHO_CHARS, Result};
pub use explain::ProfileTaste;
pub use gc::{GcOptions, GcReport};
pub use imagine::{Generation, ImageFile, Imagine, InterruptedJob, MAX_POST_BYTES};
pub use limits::{Action, ActionLimits};
pub use moodboard::{
    MOODBOARD_MAX_IMAGES, Moodboard, MoodboardAdd, MoodboardImage, STORED_UPLOAD_SIDE,
};
pub use pool::{NextPair, PAIR_MAX_BYTES, POOL_PROMPTS, PoolProgress};
pub use profiles::{CreateProfile, ProfileSummary};
pub use queue::{WorkerOptions, process_name};
pub use ranking::{LikeResult, VoteResult};
pub use settings::SettingsView;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::Config;
use crate::domain::UserId;
use crate::fetch::{FetchLimits, Fetcher};
use crate::render::images::storage::ImageStore;
use crate::store::Store;

/// The service; cheap to clone and share between tasks.
#[derive(Clone, Debug)]
pub struct Service {
    store: Store,
    config: Arc<Config>,
    /// Where image files live, named by content hash.
    images: ImageStore,
    /// Names this process as the owner of the jobs it queues (see [`Service::with_owner`]).
    owner: String,
    /// The background worker, when this process renders its queue itself.
    worker: Arc<queue::BackgroundWorker>,
    /// Per-user allowances of the other actions that cost work.
    actions: ActionLimits,
    /// Every version's image backend, built once.
    backends: crate::render::backend::Backends,
    /// Fetches image links users give, from public addresses only.
    fetcher: Fetcher,
    /// The service's randomness (pair choice and sides, seeds, codes); seeded by
    /// [`Service::with_seed`] for reproducible evaluations.
    rng: Arc<std::sync::Mutex<StdRng>>,
    /// The latest global codes per version, summed, kept up to date as codes are minted
    /// (`learn.rs`).
    house: Arc<std::sync::Mutex<learn::HouseCache>>,
}

impl Service {
    /// A service on `store`, keeping image files under `data_dir/images`, with every
    /// version's backend built from `config` (an unreadable vocabulary or workflow file is an
    /// error).
    pub fn new(store: Store, config: Config, data_dir: &Path) -> Result<Service> {
        let backends =
            crate::render::backend::Backends::from_config(&config).map_err(Error::Render)?;
        let actions = ActionLimits::new(&config.limits, store.clone());
        let images = ImageStore::open(&config.images.url, data_dir).map_err(Error::Render)?;
        Ok(Service {
            backends,
            store,
            config: Arc::new(config),
            images,
            owner: String::new(),
            worker: Arc::default(),
            actions,
            fetcher: Fetcher::new(FetchLimits::default()),
            rng: Arc::new(std::sync::Mutex::new(StdRng::from_rng(&mut rand::rng()))),
            house: Arc::default(),
        })
    }

    /// The same service drawing its random choices from `seed`, so that a sequence of calls
    /// is reproducible (`tastebud eval --seed`).
    pub fn with_seed(self, seed: u64) -> Service {
        Service {
            rng: Arc::new(std::sync::Mutex::new(StdRng::seed_from_u64(seed))),
            ..self
        }
    }

    /// A generator for one call's random choices, split off the service's.
    fn rng(&self) -> StdRng {
        let mut shared = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        StdRng::from_rng(&mut *shared)
    }

    /// The same service naming itself `owner` in the jobs it queues: a restarted process
    /// stops only the jobs of its own name ([`Service::recover_jobs`]). Bot processes that run
    /// side by side need different names (their shard ranges); the default is the empty name.
    pub fn with_owner(self, owner: impl Into<String>) -> Service {
        Service {
            owner: owner.into(),
            ..self
        }
    }

    /// The same service fetching image links with `fetcher` (tests use one that may reach
    /// loopback servers).
    pub fn with_fetcher(self, fetcher: Fetcher) -> Service {
        Service { fetcher, ..self }
    }

    /// This service with its image files kept in `images` instead of where the configuration
    /// says (tests keep them in a fake object store).
    pub fn with_images(self, images: ImageStore) -> Service {
        Service { images, ..self }
    }

    /// Where image files live.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Makes sure the user exists with a global profile for every configured version.
    async fn user(&self, user: UserId) -> Result<UserId> {
        self.store
            .ensure_user(user, &self.config.personalization.versions)
            .await?;
        Ok(user)
    }

    /// `version` if personalization works with it, else the error that lists the ones it does.
    fn check_version(&self, version: &str) -> Result<()> {
        let versions = &self.config.personalization.versions;
        if versions.iter().any(|v| v == version) {
            Ok(())
        } else {
            Err(Error::UnknownVersion {
                version: version.to_string(),
                known: versions.join(", "),
            })
        }
    }

    /// The model `version` is rendered with: its calibration and pool are kept under it.
    fn model_of(&self, version: &str) -> String {
        self.backends.get(version).model().to_string()
    }

    /// Points needed to unlock a profile.
    fn threshold(&self) -> u32 {
        self.config.personalization.unlock_threshold
    }
}

/// How a version is named to users: "V7", "V6.1", "Niji 6".
pub fn version_label(version: &str) -> String {
    match version.strip_prefix("niji ") {
        Some(n) => format!("Niji {n}"),
        None => format!("V{version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_labelled_as_users_know_them() {
        assert_eq!(version_label("7"), "V7");
        assert_eq!(version_label("6.1"), "V6.1");
        assert_eq!(version_label("niji 6"), "Niji 6");
    }
}
