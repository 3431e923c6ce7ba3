//! Codes: listing a user's codes and looking one up.

use super::{Error, Result, Service};
use crate::domain::{Code, UserId};

impl Service {
    /// The user's codes, newest first, including those of deleted profiles.
    pub async fn list_codes(&self, user: UserId) -> Result<Vec<Code>> {
        let user = self.user(user).await?;
        Ok(self.store.codes_of(user).await?)
    }

    /// The code `code` (case-insensitive), whoever made it and whatever became of its profile.
    pub async fn code(&self, code: &str) -> Result<Code> {
        let wanted = code.trim().to_ascii_lowercase();
        self.store
            .code(&wanted)
            .await?
            .ok_or_else(|| Error::CodeNotFound(code.trim().to_string()))
    }
}
