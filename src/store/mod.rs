//! The SQLite store: the only place with SQL. It speaks domain types, not rows.
//!
//! One file, `tastebud.db` in the data directory, in WAL mode. Migrations in `migrations/` are
//! embedded at compile time and applied by [`Store::open`].

mod calibrations;
mod codes;
mod gc;
mod images;
mod jobs;
mod moodboards;
mod profiles;
mod users;
mod votes;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use calibrations::SampleKey;
pub use codes::CodeTaken;
pub use gc::{Cutoffs, Garbage};
pub use images::{Image, NewImage, Origin};
pub use jobs::{Job, JobStatus, NewJob};
pub use moodboards::Full;
pub use profiles::{GLOBAL_NAME, NameTaken, NotCreated};
pub use votes::{AnsweredPair, LikeOutcome, VoteOutcome};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "tastebud.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("cannot update the database {} to this version of tastebud: {reason}", path.display())]
    Migrate { path: PathBuf, reason: String },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the database holds a value it cannot read: {0}")]
    Corrupt(String),
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) `data_dir/tastebud.db` and applies pending migrations.
    pub async fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            reason: format!("cannot create the folder {}: {e}", data_dir.display()),
        })?;
        Store::open(&path).await
    }

    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |e: sqlx::Error| StoreError::Open {
            path: path.to_path_buf(),
            reason: explain(&e),
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            let reason = match &e {
                sqlx::migrate::MigrateError::Execute(inner) => explain(inner),
                other => other.to_string(),
            };
            StoreError::Migrate {
                path: path.to_path_buf(),
                reason,
            }
        })?;
        Ok(Store { pool })
    }

    /// The newest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// Closes every connection, checkpointing the write-ahead log.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite's messages in words an operator can act on.
fn explain(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    if text.contains("file is not a database") {
        "the file is not a tastebud database (it may be corrupt, or another kind of file)".into()
    } else if text.contains("readonly database") || text.contains("read-only") {
        "the file or its folder is read-only; tastebud needs to write to it".into()
    } else if text.contains("unable to open database file") {
        "the file cannot be opened: check that its folder exists and is writable".into()
    } else {
        text
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Little-endian f32 blob for a vector.
pub(crate) fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector in a little-endian f32 blob.
pub(crate) fn blob_to_vector(blob: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !blob.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!(
            "a vector blob of {} bytes is not a list of f32",
            blob.len()
        )));
    }
    Ok(blob
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A Discord user id as SQLite's signed integer, and back.
pub(crate) fn user_to_sql(user: crate::domain::UserId) -> i64 {
    user.0 as i64
}

pub(crate) fn user_from_sql(id: i64) -> crate::domain::UserId {
    crate::domain::UserId(id as u64)
}

/// A place as SQLite's signed guild id (`NULL`: a private place), and back.
pub(crate) fn place_to_sql(place: crate::domain::Place) -> Option<i64> {
    match place {
        crate::domain::Place::Guild(id) => Some(id as i64),
        crate::domain::Place::Private => None,
    }
}

pub(crate) fn place_from_sql(guild: Option<i64>) -> crate::domain::Place {
    crate::domain::Place::from_guild(guild.map(|id| id as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_blobs() {
        let v = vec![0.0, -1.5, 3.25, f32::MAX];
        assert_eq!(blob_to_vector(&vector_to_blob(&v)).unwrap(), v);
        assert!(blob_to_vector(&[1, 2, 3]).is_err());
    }

    #[test]
    fn user_ids_above_i64_max_round_trip() {
        let u = crate::domain::UserId(u64::MAX - 5);
        assert_eq!(user_from_sql(user_to_sql(u)), u);
    }
}
