//! Exploring: the newest images other users generated in the same server, to look at and like.
//!
//! Privacy: a picture is shown only in the server it was made in, never one made in a private
//! place (a DM, a group DM, a user-installed app outside a server), and never one whose author
//! turned `/explore` sharing off (older pictures included).

use super::{Error, ImageFile, Result, Service};
use crate::domain::{Place, UserId};

impl Service {
    /// Up to `limit` images generated in `place` by users other than `user` who share their
    /// pictures, newest first, with their files to post. An image whose file is gone or
    /// unreadable is left out (and logged). From a private place this is an error: there is
    /// no server whose pictures could be shown.
    pub async fn explore(&self, user: UserId, place: Place, limit: u32) -> Result<Vec<ImageFile>> {
        let user = self.user(user).await?;
        let Place::Guild(guild) = place else {
            return Err(Error::ExploreNeedsServer);
        };
        let images = self.store.explorable_images(user, guild, limit).await?;
        let mut out = Vec::with_capacity(images.len());
        for image in images {
            let id = image.id;
            match self.load_image_file(image).await {
                Ok(file) => out.push(file),
                Err(e) => {
                    let cause = e.for_operator();
                    tracing::warn!(image = id, error = %cause, "an image file cannot be posted")
                }
            }
        }
        Ok(out)
    }
}
