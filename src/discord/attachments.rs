//! Downloading files users attach to a command, from the address Discord gives for each.
//!
//! Attachment URLs come from Discord itself (its CDN; in tests, the fake Discord on loopback),
//! never from what a user typed, so they are not put through the address checks of
//! [`crate::fetch`], which guards the links users paste. What is guarded here is size and
//! time: a file whose declared size is over the limit is refused before any byte is fetched,
//! the body is cut off as soon as it grows past the limit, and the whole download has a
//! deadline. The bytes are not trusted to be an image: the service checks them.

use std::time::Duration;

use reqwest::{Client, redirect::Policy};

/// Longest a download may take, redirects and body included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An attached file as Discord describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The file name the user's file had (for messages only).
    pub name: String,
    /// Where Discord serves it.
    pub url: String,
    /// Its size in bytes, as Discord declares it.
    pub size: u64,
}

/// Why an attachment could not be downloaded. `Display` is the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("“{name}” is {} MB; images can be at most {} MB.", megabytes_up(*bytes), megabytes_down(*limit))]
    TooLarge {
        name: String,
        bytes: u64,
        limit: u64,
    },
    #[error("“{name}” is larger than {} MB, the most an image can be.", megabytes_down(*limit))]
    GrewTooLarge { name: String, limit: u64 },
    #[error("“{name}” couldn't be downloaded from Discord; please attach it again.")]
    Unavailable { name: String },
}

/// Downloads attachments with a size cap.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: Client,
    max_bytes: u64,
}

impl Downloader {
    /// A downloader that refuses files larger than `max_bytes`.
    pub fn new(max_bytes: u64) -> Result<Downloader, reqwest::Error> {
        let client = Client::builder()
            .timeout(TIMEOUT)
            .redirect(Policy::limited(3))
            .build()?;
        Ok(Downloader { client, max_bytes })
    }

    /// The bytes of `file`, or why they could not be had.
    pub async fn download(&self, file: &Incoming) -> Result<Vec<u8>, AttachmentError> {
        let name = shown_name(&file.name);
        if file.size > self.max_bytes {
            return Err(AttachmentError::TooLarge {
                name,
                bytes: file.size,
                limit: self.max_bytes,
            });
        }
        let unavailable = |cause: &dyn std::fmt::Display| {
            tracing::warn!(error = %cause, file = %name, "could not download an attachment");
            AttachmentError::Unavailable { name: name.clone() }
        };
        let mut response = self
            .client
            .get(&file.url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&response.status()));
        }
        let too_large = || AttachmentError::GrewTooLarge {
            name: name.clone(),
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(&e))? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// A file name fit for a message: one line, at most 80 characters.
fn shown_name(name: &str) -> String {
    let one_line: String = name.chars().filter(|c| !c.is_control()).collect();
    super::views::clip(one_line.trim(), 80)
}

const MB: f64 = 1024.0 * 1024.0;

/// `bytes` in MB to a tenth, rounded up (so a file just over 10 MB never reads as 10 MB).
fn megabytes_up(bytes: u64) -> String {
    tenths((bytes as f64 / MB * 10.0).ceil())
}

/// `bytes` in MB to a tenth, rounded down (so a limit is never overstated).
fn megabytes_down(bytes: u64) -> String {
    tenths((bytes as f64 / MB * 10.0).floor())
}

/// A count of tenths as a decimal: "10", "12.1".
fn tenths(n: f64) -> String {
    if n % 10.0 == 0.0 {
        format!("{:.0}", n / 10.0)
    } else {
        format!("{:.1}", n / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_declared_too_large_is_refused_without_a_request() {
        let downloader = Downloader::new(10 * 1024 * 1024).expect("client");
        let file = Incoming {
            name: "huge\n.png".into(),
            // Nothing listens here; a request would fail differently.
            url: "http://127.0.0.1:9/huge.png".into(),
            size: 12 * 1024 * 1024 + 1,
        };
        let err = downloader.download(&file).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "“huge.png” is 12.1 MB; images can be at most 10 MB."
        );
    }

    #[test]
    fn sizes_round_away_from_the_limit() {
        assert_eq!(megabytes_up(10 * 1024 * 1024 + 1), "10.1");
        assert_eq!(megabytes_up(11 * 1024 * 1024), "11");
        assert_eq!(megabytes_down(10 * 1024 * 1024), "10");
        assert_eq!(megabytes_down(1536 * 1024), "1.5");
    }
}
