//! Where image files are kept, each named by its content hash (`<hash>.png`): a folder (the
//! data directory's `images/` by default), written durably by [`files`]; or, for several
//! machines, S3-compatible object storage through the `object_store` crate, which every bot
//! process and worker reaches (`images.url = "s3://bucket/prefix"`).
//!
//! The folder is not `object_store`'s `LocalFileSystem`: that one renames a staged file into
//! place without syncing it, and a database row may name a file only once it is on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use image::RgbImage;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::files::{
    self, FileKind, TEMP_SUFFIX, content_hash, decode_image, encode_png, image_path,
};
use crate::render::RenderError;

/// Where image files are kept; cheap to clone.
#[derive(Clone)]
pub struct ImageStore(Kept);

#[derive(Clone)]
enum Kept {
    Folder(PathBuf),
    Objects {
        store: Arc<dyn ObjectStore>,
        /// The folder in the bucket (may be empty).
        prefix: ObjectPath,
        /// `s3://bucket/prefix`, for messages (credentials come from the environment).
        shown: String,
    },
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.place())
    }
}

/// One stored file, as garbage collection sees it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// Its name in the store (a file name, or a key below the prefix).
    pub name: String,
    pub kind: FileKind,
    pub bytes: u64,
    pub modified: SystemTime,
}

impl ImageStore {
    /// The folder `dir` (created on first save).
    pub fn folder(dir: PathBuf) -> ImageStore {
        ImageStore(Kept::Folder(dir))
    }

    /// The store `url` names: empty for `data_dir/images`, `file:///path` for another folder,
    /// `s3://bucket/prefix` for S3-compatible storage configured by the `AWS_*` environment
    /// variables (`AWS_ENDPOINT` for a server other than Amazon's, `AWS_ALLOW_HTTP=true` for
    /// one without TLS).
    pub fn open(url: &str, data_dir: &Path) -> Result<ImageStore, RenderError> {
        ImageStore::open_with(url, data_dir, std::env::vars())
    }

    /// [`ImageStore::open`] with the `AWS_*` settings taken from `vars` instead of this
    /// process's environment.
    pub fn open_with(
        url: &str,
        data_dir: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ImageStore, RenderError> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(ImageStore::folder(data_dir.join("images")));
        }
        let bad = |reason: String| RenderError::ImageStore {
            place: url.to_string(),
            reason,
        };
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file:// URL names an absolute folder".into()));
            }
            return Ok(ImageStore::folder(PathBuf::from(path)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(bad(
                "images.url is empty (the data directory), file:///folder or s3://bucket/prefix"
                    .into(),
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket named".into()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::new();
        for (name, value) in vars {
            if let Some(key) = name
                .strip_prefix("AWS_")
                .and_then(|_| name.to_ascii_lowercase().parse().ok())
            {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(ImageStore(Kept::Objects {
            store: Arc::new(store),
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            shown: format!("s3://{bucket}/{}", prefix.trim_matches('/')),
        }))
    }

    /// Where the files are, for messages.
    pub fn place(&self) -> String {
        match &self.0 {
            Kept::Folder(dir) => dir.display().to_string(),
            Kept::Objects { shown, .. } => shown.clone(),
        }
    }

    /// The folder, when the files are in one on this machine.
    pub fn folder_path(&self) -> Option<&Path> {
        match &self.0 {
            Kept::Folder(dir) => Some(dir),
            Kept::Objects { .. } => None,
        }
    }

    fn key(prefix: &ObjectPath, name: &str) -> ObjectPath {
        prefix.clone().join(name)
    }

    /// Encodes `image` as PNG and stores it; returns its content hash. Saving the same pixels
    /// again stores nothing new, but marks the file as just saved (garbage collection spares
    /// young files).
    pub async fn save(&self, image: RgbImage) -> Result<String, RenderError> {
        match &self.0 {
            // Encoded and written in one trip to a blocking thread.
            Kept::Folder(dir) => {
                let dir = dir.clone();
                blocking(move || files::save_png(&dir, &image).map(|s| s.hash)).await
            }
            Kept::Objects { .. } => {
                let png = blocking(move || encode_png(&image)).await?;
                self.save_png(png).await
            }
        }
    }

    /// Stores already-encoded PNG bytes; returns their content hash. When this returns, the
    /// file is durably stored and a database row may name it.
    pub async fn save_png(&self, png: Vec<u8>) -> Result<String, RenderError> {
        match &self.0 {
            Kept::Folder(dir) => {
                let dir = dir.clone();
                blocking(move || files::save_png_bytes(&dir, &png).map(|s| s.hash)).await
            }
            Kept::Objects { store, prefix, .. } => {
                let hash = content_hash(&png);
                let key = Self::key(prefix, &format!("{hash}.png"));
                store
                    .put(&key, png.into())
                    .await
                    .map_err(|e| self.failed(&key, e))?;
                Ok(hash)
            }
        }
    }

    /// The stored PNG of `hash`; `None` when there is none (or it is empty).
    pub async fn read(&self, hash: &str) -> Result<Option<Vec<u8>>, RenderError> {
        let bytes = match &self.0 {
            Kept::Folder(dir) => {
                let path = image_path(dir, hash);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => bytes,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(RenderError::ReadImage {
                            path,
                            reason: e.to_string(),
                        });
                    }
                }
            }
            Kept::Objects { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("{hash}.png"));
                match store.get(&key).await {
                    Ok(found) => found
                        .bytes()
                        .await
                        .map_err(|e| self.failed(&key, e))?
                        .to_vec(),
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(self.failed(&key, e)),
                }
            }
        };
        Ok((!bytes.is_empty()).then_some(bytes))
    }

    /// The picture of `hash`, decoded; a missing file is an error naming it.
    pub async fn load(&self, hash: &str) -> Result<RgbImage, RenderError> {
        let png = self
            .read(hash)
            .await?
            .ok_or_else(|| RenderError::ReadImage {
                path: PathBuf::from(format!("{}/{hash}.png", self.place())),
                reason: "missing or empty".into(),
            })?;
        blocking(move || decode_image(&png)).await
    }

    /// Whether the stored file of `hash` holds exactly the bytes of that hash.
    pub async fn holds(&self, hash: &str) -> Result<bool, RenderError> {
        Ok(self
            .read(hash)
            .await?
            .is_some_and(|bytes| content_hash(&bytes) == hash))
    }

    /// Every stored file; none when nothing was stored yet.
    pub async fn list(&self) -> Result<Vec<StoredObject>, RenderError> {
        match &self.0 {
            Kept::Folder(dir) => {
                let dir = dir.clone();
                blocking(move || {
                    files::stored_files(&dir)
                        .map(|found| {
                            found
                                .into_iter()
                                .map(|f| StoredObject {
                                    name: f
                                        .path
                                        .file_name()
                                        .map(|n| n.to_string_lossy().into_owned())
                                        .unwrap_or_default(),
                                    kind: f.kind,
                                    bytes: f.bytes,
                                    modified: f.modified,
                                })
                                .collect()
                        })
                        .map_err(|e| RenderError::ReadImage {
                            path: dir.clone(),
                            reason: e.to_string(),
                        })
                })
                .await
            }
            Kept::Objects { store, prefix, .. } => {
                let mut listed = store.list(Some(prefix));
                let mut found = Vec::new();
                while let Some(meta) = listed.next().await {
                    let meta = meta.map_err(|e| self.failed(prefix, e))?;
                    // Named below the prefix; a key in a folder below it is not one of ours.
                    let name = meta
                        .location
                        .prefix_match(prefix)
                        .map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .join("/");
                    let kind = if name.contains('/') {
                        FileKind::Other
                    } else {
                        FileKind::of_name(&name)
                    };
                    found.push(StoredObject {
                        kind,
                        name,
                        bytes: meta.size,
                        modified: SystemTime::from(meta.last_modified),
                    });
                }
                Ok(found)
            }
        }
    }

    /// Deletes the stored file `name` (as [`ImageStore::list`] named it); one already gone
    /// is no error.
    pub async fn delete(&self, name: &str) -> Result<(), RenderError> {
        match &self.0 {
            Kept::Folder(dir) => {
                let path = dir.join(name);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(RenderError::WriteImage {
                        path,
                        reason: e.to_string(),
                    }),
                }
            }
            Kept::Objects { store, prefix, .. } => {
                let key = Self::key(prefix, name);
                match store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.failed(&key, e)),
                }
            }
        }
    }

    /// Copies every picture file of this store into `target` (checking each against its
    /// hash), then checks that `target` holds every one; returns how many were copied.
    /// `progress` hears the count so far. A damaged or vanished file stops the copy, named.
    pub async fn copy_into(
        &self,
        target: &ImageStore,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, RenderError> {
        let hashes: Vec<String> = self
            .list()
            .await?
            .into_iter()
            .filter_map(|f| match f.kind {
                FileKind::Image { hash } if f.bytes > 0 => Some(hash),
                _ => None,
            })
            .collect();
        let mut copied = 0;
        for hash in &hashes {
            let png = self
                .read(hash)
                .await?
                .filter(|png| content_hash(png) == *hash)
                .ok_or_else(|| RenderError::ImageStore {
                    place: format!("{}: {hash}.png", self.place()),
                    reason: "missing or damaged (`tastebud gc --verify` lists such files)".into(),
                })?;
            target.save_png(png).await?;
            copied += 1;
            progress(copied);
        }
        let there: std::collections::HashSet<String> = target
            .list()
            .await?
            .into_iter()
            .filter_map(|f| match f.kind {
                FileKind::Image { hash } => Some(hash),
                _ => None,
            })
            .collect();
        if let Some(missing) = hashes.iter().find(|h| !there.contains(*h)) {
            return Err(RenderError::ImageStore {
                place: target.place(),
                reason: format!("{missing}.png is not there after the copy"),
            });
        }
        Ok(copied)
    }

    fn failed(&self, key: &ObjectPath, e: object_store::Error) -> RenderError {
        RenderError::ImageStore {
            place: format!("{}: {key}", self.place()),
            reason: e.to_string(),
        }
    }
}

impl FileKind {
    /// What a file named `name` in an image store is.
    pub fn of_name(name: &str) -> FileKind {
        match name.strip_suffix(".png") {
            Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                FileKind::Image {
                    hash: hash.to_ascii_lowercase(),
                }
            }
            _ if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) => FileKind::Temp,
            _ => FileKind::Other,
        }
    }
}

/// Runs pixel or file work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RenderError> + Send + 'static,
) -> Result<T, RenderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RenderError::Decode(format!("an image task failed: {e}")))?
}
