//! Moodboards: profiles made of chosen images (uploads, links, the user's own generations).
//!
//! Every change of a moodboard's image set gives it a code: a new one, or the earlier code of
//! an equal set.

use super::limits::Running;
use super::{Action, Error, ProfileSummary, Result, Service};
use crate::domain::{Code, ProfileId, ProfileKind, UserId};
use crate::render::images::files::fit_within;
use crate::render::images::upload::{UploadLimits, check_upload};
use crate::render::style::{SPACE, describe};
use crate::store::{Full, Image, NewImage, Origin};

/// Most images a moodboard holds.
pub const MOODBOARD_MAX_IMAGES: usize = 50;

/// Largest side of a stored upload, in pixels: enough to describe its style and to show it.
pub const STORED_UPLOAD_SIDE: u32 = 1024;

/// A `/moodboard add` that has passed its checks and holds the user's turn (see
/// [`Service::moodboard_add_begin`]).
#[derive(Debug)]
pub struct MoodboardAdd {
    user: UserId,
    profile: crate::domain::Profile,
    _turn: Running,
}

/// Where an image for a moodboard comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MoodboardImage {
    /// The bytes of an uploaded file.
    Upload(Vec<u8>),
    /// An http(s) link to an image.
    Link(String),
    /// One of the user's own generated images.
    Generation(i64),
}

/// A moodboard with its images and current code.
#[derive(Debug, Clone)]
pub struct Moodboard {
    pub profile: ProfileSummary,
    pub images: Vec<Image>,
    /// The code of the current image set; `None` while it is empty.
    pub code: Option<Code>,
}

impl Service {
    /// The largest image file, in bytes, a moodboard accepts.
    pub fn max_upload_bytes() -> usize {
        UploadLimits::default().max_bytes
    }

    /// Adds images to one of the user's moodboards. Every image is checked before any is
    /// added: one bad image refuses the whole request and changes nothing.
    pub async fn moodboard_add(
        &self,
        user: UserId,
        id: &ProfileId,
        sources: Vec<MoodboardImage>,
    ) -> Result<Moodboard> {
        let add = self.moodboard_add_begin(user, id, sources.len()).await?;
        self.moodboard_add_finish(add, sources).await
    }

    /// The checks before images for a moodboard are downloaded: the moodboard is the user's,
    /// `count` more images fit, and the user may add images now (one request at a time,
    /// `limits.moodboard_adds_per_minute`). The request holds the user's turn until
    /// [`Service::moodboard_add_finish`] is done with it.
    pub async fn moodboard_add_begin(
        &self,
        user: UserId,
        id: &ProfileId,
        count: usize,
    ) -> Result<MoodboardAdd> {
        let user = self.user(user).await?;
        let profile = self.own_moodboard(user, id).await?;
        let present = self.store.moodboard_images(&profile.id).await?.len();
        if present + count > MOODBOARD_MAX_IMAGES {
            return Err(Error::MoodboardFull(MOODBOARD_MAX_IMAGES));
        }
        let turn = self.actions.begin(user, Action::MoodboardAdd).await?;
        Ok(MoodboardAdd {
            user,
            profile,
            _turn: turn,
        })
    }

    /// Checks, stores and adds `sources` to the moodboard of `add`. The cap is checked again
    /// as the images are added, in one transaction with them.
    pub async fn moodboard_add_finish(
        &self,
        add: MoodboardAdd,
        sources: Vec<MoodboardImage>,
    ) -> Result<Moodboard> {
        let MoodboardAdd { user, profile, .. } = &add;
        let user = *user;
        // One image at a time: the decoding budget is shared by everyone.
        let mut pictures = Vec::new();
        let mut generated = Vec::new();
        for source in sources {
            match source {
                MoodboardImage::Upload(bytes) => pictures.push(decode(bytes).await?),
                MoodboardImage::Link(url) => {
                    let bytes = self
                        .fetcher
                        .fetch(&url)
                        .await
                        .map_err(|e| Error::BadImage(e.to_string()))?;
                    pictures.push(decode(bytes).await?);
                }
                MoodboardImage::Generation(image) => {
                    let found = self.store.image(image).await?;
                    match found {
                        Some(i)
                            if i.image.owner == Some(user)
                                && i.image.origin == Origin::Generated =>
                        {
                            generated.push(i.id)
                        }
                        _ => return Err(Error::NotYourGeneration(image)),
                    }
                }
            }
        }
        let mut ids = generated;
        for picture in pictures {
            let (picture, style) = tokio::task::spawn_blocking(move || {
                // Kept at the size a moodboard needs, not the size uploaded: a noisy 4096²
                // photograph would otherwise be a 50 MB file.
                let picture = fit_within(picture, STORED_UPLOAD_SIDE);
                let style = describe(&picture);
                (picture, style)
            })
            .await
            .map_err(|e| Error::Bug(format!("saving an upload: {e}")))?;
            let hash = self.images.save(picture).await.map_err(Error::Render)?;
            ids.push(
                self.store
                    .insert_image(&NewImage {
                        hash,
                        prompt: String::new(),
                        version: profile.version.clone(),
                        backend: "upload".into(),
                        model: String::new(),
                        seed: 0,
                        knobs: Vec::new(),
                        style: Some((SPACE.to_string(), style.0.to_vec())),
                        origin: Origin::Upload,
                        owner: Some(user),
                        job: None,
                    })
                    .await?,
            );
        }
        // Uploads stored for a request refused here are left to garbage collection.
        if let Err(Full { .. }) = self
            .store
            .add_moodboard_images(&profile.id, &ids, MOODBOARD_MAX_IMAGES)
            .await?
        {
            return Err(Error::MoodboardFull(MOODBOARD_MAX_IMAGES));
        }
        self.moodboard_view(add.profile).await
    }

    /// Removes an image from one of the user's moodboards.
    pub async fn moodboard_remove(
        &self,
        user: UserId,
        id: &ProfileId,
        image: i64,
    ) -> Result<Moodboard> {
        let user = self.user(user).await?;
        let profile = self.own_moodboard(user, id).await?;
        if !self
            .store
            .remove_moodboard_image(&profile.id, image)
            .await?
        {
            return Err(Error::NotOnMoodboard(image));
        }
        self.moodboard_view(profile).await
    }

    /// One of the user's moodboards with its images and code.
    pub async fn moodboard(&self, user: UserId, id: &ProfileId) -> Result<Moodboard> {
        let user = self.user(user).await?;
        let profile = self.own_moodboard(user, id).await?;
        self.moodboard_view(profile).await
    }

    async fn own_moodboard(&self, user: UserId, id: &ProfileId) -> Result<crate::domain::Profile> {
        let profile = self.own_live_profile(user, id).await?;
        if profile.kind != ProfileKind::Moodboard {
            return Err(Error::NotAMoodboard(profile.name));
        }
        Ok(profile)
    }

    async fn moodboard_view(&self, profile: crate::domain::Profile) -> Result<Moodboard> {
        let code = self.moodboard_code(&profile).await?;
        let images = self.store.moodboard_images(&profile.id).await?;
        Ok(Moodboard {
            profile: self.summary(profile).await?,
            images,
            code,
        })
    }
}

/// Checks and decodes an uploaded or fetched file off the async threads.
async fn decode(bytes: Vec<u8>) -> Result<image::RgbImage> {
    tokio::task::spawn_blocking(move || check_upload(&bytes, &UploadLimits::default()))
        .await
        .map_err(|e| Error::Bug(format!("decoding an upload: {e}")))?
        .map_err(|e| Error::BadImage(e.to_string()))
}
