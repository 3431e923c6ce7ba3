//! The store: the only place with SQL. It speaks domain types, not rows.
//!
//! Two engines behind one set of queries (sqlx's `Any` driver): SQLite, one file
//! (`tastebud.db` in the data directory, in WAL mode), the zero-setup default; and PostgreSQL,
//! which several processes on several machines can share (`database.url = "postgres://…"`).
//! The queries are written in the SQL both understand: `$N` parameters, `ON CONFLICT`,
//! `RETURNING`, integers (flags too) as 64-bit integers. Migrations for each engine are in
//! `migrations/sqlite/` and `migrations/postgres/`, embedded at compile time and applied when
//! the store opens.

mod allowances;
mod calibrations;
mod codes;
mod copy;
mod gc;
mod images;
mod jobs;
mod locks;
mod moodboards;
mod profiles;
mod users;
mod votes;

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Connection};

pub use allowances::Allowance;
pub use calibrations::SampleKey;
pub use codes::CodeTaken;
pub use copy::{Copied, CopyError};
pub use gc::{Cutoffs, Garbage};
pub use images::{Image, NewImage, Origin};
pub use jobs::{
    Admission, Claim, Job, JobChanges, JobStatus, NewJob, POOL_USER, Refused, Versions,
};
pub use locks::StoreLock;
pub use moodboards::Full;
pub use profiles::{GLOBAL_NAME, NameTaken, NotCreated};
pub use votes::{AnsweredPair, LikeOutcome, VoteOutcome};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "tastebud.db";

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {place}: {reason}")]
    Open { place: String, reason: String },
    #[error("cannot update the database {place} to this version of tastebud: {reason}")]
    Migrate { place: String, reason: String },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the database holds a value it cannot read: {0}")]
    Corrupt(String),
}

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// Where the database is, for people: a file's path, or a server and database name
    /// (never a password).
    place: String,
    /// Named locks ([`Store::lock`]).
    locks: std::sync::Arc<locks::Locks>,
    /// Wakes the queue's waiters ([`Store::queue_changes`]).
    signal: std::sync::Arc<jobs::Signal>,
    /// PostgreSQL: where to listen for other processes' queue notices.
    listen: Option<ListenOptions>,
}

/// Connection options for the queue's listener; their `Debug` shows no password.
#[derive(Clone)]
struct ListenOptions(sqlx::postgres::PgConnectOptions);

impl std::fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenOptions")
    }
}

/// Every SQLite connection's settings: WAL lets readers run beside a writer, writers wait for
/// each other instead of failing, and foreign keys are enforced.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                            PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Connections per process for queries, and at most for holding named locks. PostgreSQL's
/// default limit is 100 for every process together.
const MAX_CONNECTIONS: u32 = 8;
const MAX_LOCK_CONNECTIONS: u32 = 4;

impl Store {
    /// Opens the configured database: `url` when it is set (`postgres://…` or `sqlite:…`),
    /// else `tastebud.db` in `data_dir`.
    pub async fn open_configured(url: &str, data_dir: &Path) -> Result<Store, StoreError> {
        if url.trim().is_empty() {
            Store::open_in(data_dir).await
        } else {
            Store::connect(url).await
        }
    }

    /// Opens (creating if needed) `data_dir/tastebud.db` and applies pending migrations.
    pub async fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            place: path.display().to_string(),
            reason: format!("cannot create the folder {}: {e}", data_dir.display()),
        })?;
        Store::open(&path).await
    }

    /// Opens (creating if needed) the SQLite database file at `path` and applies pending
    /// migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let url = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        Store::open_url(url.as_str(), Engine::Sqlite, path.display().to_string()).await
    }

    /// Opens the database at `url`: `postgres://user@host:port/name` (or `postgresql://`), or
    /// `sqlite:path`; applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            return Store::open(Path::new(path)).await;
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Open {
                place: "(database.url)".into(),
                reason: "database.url must start with postgres:// or sqlite: (or be empty for \
                         tastebud.db in the data directory)"
                    .into(),
            });
        }
        let place = postgres_place(url);
        Store::open_url(url, Engine::Postgres, place).await
    }

    async fn open_url(url: &str, engine: Engine, place: String) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let open_error = |e: sqlx::Error| StoreError::Open {
            place: place.clone(),
            reason: explain(&e),
        };
        let options = AnyConnectOptions::from_str(url).map_err(open_error)?;
        if engine == Engine::Sqlite {
            // One connection first, so that a file that is not a database (or cannot be
            // written) is an error at once; the pool would keep retrying it.
            let mut probe = sqlx::AnyConnection::connect_with(&options)
                .await
                .map_err(open_error)?;
            sqlx::raw_sql(SQLITE_SETUP)
                .execute(&mut probe)
                .await
                .map_err(open_error)?;
            probe.close().await.map_err(open_error)?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        sqlx::raw_sql(SQLITE_SETUP).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        let migrator = match engine {
            Engine::Sqlite => &SQLITE_MIGRATOR,
            Engine::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&pool).await.map_err(|e| {
            let reason = match &e {
                sqlx::migrate::MigrateError::Execute(inner) => explain(inner),
                other => other.to_string(),
            };
            StoreError::Migrate {
                place: place.clone(),
                reason,
            }
        })?;
        let locks = match engine {
            Engine::Sqlite => locks::Locks::default(),
            // Waiting for a lock connection is waiting for the lock: no time limit.
            Engine::Postgres => locks::Locks::postgres(
                AnyPoolOptions::new()
                    .max_connections(MAX_LOCK_CONNECTIONS)
                    .min_connections(0)
                    .acquire_timeout(std::time::Duration::from_secs(24 * 3600))
                    .connect_lazy_with(options),
            ),
        };
        let listen = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(ListenOptions(
                sqlx::postgres::PgConnectOptions::from_str(url).map_err(open_error)?,
            )),
        };
        Ok(Store {
            pool,
            engine,
            place,
            locks: std::sync::Arc::new(locks),
            signal: std::sync::Arc::default(),
            listen,
        })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Where the database is, for people (no password).
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The newest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// Starts a transaction that no other holder of the lock `key` runs beside, in any
    /// process: for read-then-write steps whose check must still hold when they write. SQLite
    /// takes its one write lock at once (`BEGIN IMMEDIATE`); PostgreSQL takes a
    /// transaction-scoped advisory lock on `key`.
    pub(crate) async fn exclusive(
        &self,
        key: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.engine {
            Engine::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Engine::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(lock_id(key))
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Closes every connection (checkpointing SQLite's write-ahead log).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A lock key as PostgreSQL's 64-bit advisory lock id: the first 8 bytes of its SHA-256.
fn lock_id(key: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A PostgreSQL URL as people may see it: host, port and database, without user or password.
fn postgres_place(url: &str) -> String {
    match sqlx::postgres::PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "{} on {}:{}",
            o.get_database().unwrap_or("(default)"),
            o.get_host(),
            o.get_port()
        ),
        Err(_) => "(database.url, not a valid PostgreSQL URL)".into(),
    }
}

/// The engines' messages in words an operator can act on.
fn explain(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => return format!("cannot reach the database server: {io}"),
        sqlx::Error::PoolTimedOut => {
            return "the database server did not answer in time (is it running, and is the \
                    address right?)"
                .into();
        }
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

/// A Discord user id as SQL's signed 64-bit integer, and back.
pub(crate) fn user_to_sql(user: crate::domain::UserId) -> i64 {
    user.0 as i64
}

pub(crate) fn user_from_sql(id: i64) -> crate::domain::UserId {
    crate::domain::UserId(id as u64)
}

/// A place as a signed guild id (`NULL`: a private place), and back.
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
