//! Garbage collection: rows nothing can reach (see `store::gc` for what is kept), the image
//! files no row names, and temporary files a crash left behind. Also reports rows whose file is
//! missing, empty or (with `verify`) holds other bytes.

use std::time::{Duration, SystemTime};

use super::{Error, Result, Service};
use crate::render::images::files::FileKind;
use crate::render::images::storage::StoredObject;
use crate::store::{Cutoffs, Garbage};

/// How to collect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Only count what would be deleted.
    pub dry_run: bool,
    /// Read every kept image file and check its content hash (slow on a large folder).
    pub verify: bool,
}

/// What a collection deleted (or, in a dry run, would delete), and what it found broken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub dry_run: bool,
    pub rows: Garbage,
    /// Image files no row names any more.
    pub files: u64,
    /// Leftover temporary files.
    pub temp_files: u64,
    /// Bytes those files take.
    pub bytes: u64,
    /// Content hashes of kept images whose file is missing, empty, or (with `verify`) holds
    /// other bytes: the pictures are lost; their rows stay so that nothing else breaks.
    pub broken: Vec<String>,
}

impl std::fmt::Display for GcReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "Would delete"
        } else {
            "Deleted"
        };
        write!(
            f,
            "{verb} {} images, {} unanswered pairs, {} finished jobs, {} image files and {} \
             temporary files ({:.1} MB).",
            self.rows.images,
            self.rows.pairs,
            self.rows.jobs,
            self.files,
            self.temp_files,
            self.bytes as f64 / (1024.0 * 1024.0)
        )?;
        if !self.broken.is_empty() {
            write!(
                f,
                "\n{} kept images have a missing or damaged file: {}",
                self.broken.len(),
                self.broken.join(", ")
            )?;
        }
        Ok(())
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

impl Service {
    /// Deletes what nothing can reach any more at time `now` (see the module's
    /// documentation), or with `dry_run` only counts it.
    pub async fn collect_garbage(&self, options: GcOptions, now: SystemTime) -> Result<GcReport> {
        let keep = &self.config.retention;
        let before = |age: Duration| -> i64 {
            now.checked_sub(age)
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64)
        };
        let grace = Duration::from_secs(u64::from(keep.temp_files_minutes) * 60);
        let cutoffs = Cutoffs {
            unanswered_pairs: before(Duration::from_secs(
                u64::from(keep.unanswered_pairs_hours) * 3600,
            )),
            generated_images: before(DAY * keep.generations_days),
            uploads: before(grace),
            finished_jobs: before(DAY * keep.jobs_days),
        };
        let rows = if options.dry_run {
            self.store.garbage(&cutoffs).await?
        } else {
            self.store.delete_garbage(&cutoffs).await?
        };
        // Read after the rows are deleted: every hash a remaining (or, in a dry run, a
        // surviving) row names.
        let kept = self.store.kept_image_hashes(&cutoffs).await?;
        let files = self.images.list().await.map_err(Error::Render)?;
        let mut report = GcReport {
            dry_run: options.dry_run,
            rows,
            ..GcReport::default()
        };
        let old = |file: &StoredObject| {
            now.duration_since(file.modified)
                .is_ok_and(|age| age >= grace)
        };
        let mut present = std::collections::HashSet::new();
        for file in &files {
            let unneeded = match &file.kind {
                FileKind::Image { hash } if kept.contains(hash) => {
                    if file.bytes > 0 {
                        present.insert(hash.clone());
                    }
                    false
                }
                // Spared while young: its row may be about to be written.
                FileKind::Image { .. } => old(file),
                FileKind::Temp => old(file),
                FileKind::Other => false,
            };
            if !unneeded {
                continue;
            }
            if matches!(file.kind, FileKind::Temp) {
                report.temp_files += 1;
            } else {
                report.files += 1;
            }
            report.bytes += file.bytes;
            if !options.dry_run {
                self.images
                    .delete(&file.name)
                    .await
                    .map_err(|e| Error::Bug(e.to_string()))?;
            }
        }
        let mut broken = Vec::new();
        for hash in &kept {
            let whole = present.contains(hash)
                && (!options.verify || self.images.holds(hash).await.map_err(Error::Render)?);
            if !whole {
                broken.push(hash.clone());
            }
        }
        broken.sort();
        report.broken = broken;
        Ok(report)
    }
}
