//! Copying a whole database into another (`tastebud migrate --to URL`): every table, row for
//! row with the same ids, in one transaction on the target, verified by counting.

use sqlx::Row;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, Executor};

use super::{Engine, Store, StoreError};

/// A column's kind, as both engines store it.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
}

use Kind::{Blob, Int, Text};

/// A table's columns and their kinds.
type Columns = &'static [(&'static str, Kind)];

/// Every table, parents before children, with its columns and the order rows are copied in
/// (which keeps insertion order where queries rely on it).
const TABLES: &[(&str, Columns, &str)] = &[
    ("users", &[("id", Int), ("created_at", Int)], "id"),
    (
        "settings",
        &[
            ("user_id", Int),
            ("auto_personalize", Int),
            ("default_version", Text),
            ("stylize", Int),
            ("explore_sharing", Int),
        ],
        "user_id",
    ),
    (
        "profiles",
        &[
            ("id", Text),
            ("owner", Int),
            ("kind", Text),
            ("version", Text),
            ("name", Text),
            ("created_at", Int),
            ("deleted_at", Int),
        ],
        "created_at, id",
    ),
    (
        "default_profiles",
        &[("user_id", Int), ("version", Text), ("profile_id", Text)],
        "rowid",
    ),
    (
        "jobs",
        &[
            ("id", Int),
            ("user_id", Int),
            ("prompt", Text),
            ("prompt_run", Text),
            ("version", Text),
            ("status", Text),
            ("error", Text),
            ("created_at", Int),
            ("finished_at", Int),
            ("seed", Int),
            ("guild_id", Int),
            ("reply", Text),
            ("work", Text),
            ("owner", Text),
            ("worker", Text),
            ("attempts", Int),
            ("lease_until", Int),
            ("claimed_at", Int),
            ("progress", Text),
            ("notice", Text),
        ],
        "id",
    ),
    (
        "images",
        &[
            ("id", Int),
            ("hash", Text),
            ("prompt", Text),
            ("version", Text),
            ("backend", Text),
            ("model", Text),
            ("seed", Int),
            ("knobs", Blob),
            ("style_space", Text),
            ("style", Blob),
            ("origin", Text),
            ("owner", Int),
            ("created_at", Int),
            ("job_id", Int),
        ],
        "id",
    ),
    (
        "pairs",
        &[
            ("id", Int),
            ("user_id", Int),
            ("profile_id", Text),
            ("left_image", Int),
            ("right_image", Int),
            ("prompt", Text),
            ("created_at", Int),
        ],
        "id",
    ),
    (
        "votes",
        &[
            ("pair_id", Int),
            ("profile_id", Text),
            ("choice", Text),
            ("created_at", Int),
        ],
        "pair_id",
    ),
    (
        "likes",
        &[
            ("user_id", Int),
            ("image_id", Int),
            ("version", Text),
            ("created_at", Int),
        ],
        "created_at, user_id, image_id",
    ),
    (
        "moodboard_images",
        &[("profile_id", Text), ("image_id", Int), ("added_at", Int)],
        "added_at, profile_id, image_id",
    ),
    (
        "codes",
        &[
            ("code", Text),
            ("profile_id", Text),
            ("owner", Int),
            ("version", Text),
            ("space", Text),
            ("vector", Blob),
            ("points", Int),
            ("created_at", Int),
            ("image_set", Text),
        ],
        "rowid",
    ),
    (
        "calibrations",
        &[
            ("version", Text),
            ("backend", Text),
            ("model", Text),
            ("space", Text),
            ("knobs", Text),
            ("ranges", Blob),
            ("jacobian", Blob),
            ("intercept", Blob),
            ("r2", Blob),
            ("samples", Int),
            ("created_at", Int),
        ],
        "version, backend, model, space",
    ),
    (
        "calibration_samples",
        &[
            ("version", Text),
            ("backend", Text),
            ("model", Text),
            ("plan", Text),
            ("idx", Int),
            ("space", Text),
            ("style", Blob),
            ("created_at", Int),
        ],
        "version, backend, model, plan, idx",
    ),
];

// Not copied: `allowances` (what users may still do this minute; full again within one).

/// Tables whose `id` the database assigns: PostgreSQL's sequences must continue after the
/// copied ids.
const IDENTITY_TABLES: &[&str] = &["images", "pairs", "jobs"];

/// Rows per INSERT statement (PostgreSQL takes at most 65,535 parameters in one).
const BATCH: usize = 200;

/// How many rows each table has in both databases after a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// What stops a copy.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target database already holds data ({table} has {rows} rows); copy into an empty one"
    )]
    NotEmpty { table: &'static str, rows: u64 },
    #[error("after the copy, {table} has {source_rows} rows here but {target_rows} in the target")]
    Mismatch {
        table: &'static str,
        source_rows: u64,
        target_rows: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(e.into())
    }
}

impl Store {
    /// Rows per table, in copy order.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut counts = Vec::with_capacity(TABLES.len());
        for (table, _, _) in TABLES {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await?;
            counts.push((*table, n as u64));
        }
        Ok(counts)
    }

    /// Copies every row of this database into `target`, which must be empty (freshly
    /// migrated), in one transaction there; then checks that every table has as many rows in
    /// both. `progress` hears each table's name and rows copied as it finishes.
    pub async fn copy_into(
        &self,
        target: &Store,
        progress: &(dyn Fn(&str, u64) + Sync),
    ) -> Result<Copied, CopyError> {
        for (table, rows) in target.table_counts().await? {
            if rows > 0 {
                return Err(CopyError::NotEmpty { table, rows });
            }
        }
        let mut tx = target.pool.begin().await?;
        for (table, columns, order) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let select = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
            let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                .fetch_all(&self.pool)
                .await?;
            for chunk in rows.chunks(BATCH) {
                let mut arguments = AnyArguments::default();
                let mut tuples = Vec::with_capacity(chunk.len());
                for row in chunk {
                    let mut marks = Vec::with_capacity(columns.len());
                    for (i, (_, kind)) in columns.iter().enumerate() {
                        let added = match kind {
                            Int => arguments.add(row.try_get::<Option<i64>, _>(i)?),
                            Text => arguments.add(row.try_get::<Option<String>, _>(i)?),
                            Blob => arguments.add(row.try_get::<Option<Vec<u8>>, _>(i)?),
                        };
                        added.map_err(|e| StoreError::Corrupt(format!("{table}: {e}")))?;
                        marks.push(format!("${}", arguments.len()));
                    }
                    tuples.push(format!("({})", marks.join(", ")));
                }
                let insert = format!(
                    "INSERT INTO {table} ({}) VALUES {}",
                    names.join(", "),
                    tuples.join(", ")
                );
                sqlx::query_with(sqlx::AssertSqlSafe(insert), arguments)
                    .execute(&mut *tx)
                    .await?;
            }
            progress(table, rows.len() as u64);
        }
        if target.engine == Engine::Postgres {
            for table in IDENTITY_TABLES {
                tx.execute(sqlx::AssertSqlSafe(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )))
                .await?;
            }
        }
        tx.commit().await?;
        if target.engine == Engine::Postgres {
            // Statistics for the planner: until autovacuum gets to the copied tables, it
            // plans without them (seen on the benchmark's copy: a profile's votes took over
            // half a second to read, 1.4 ms after ANALYZE).
            sqlx::query("ANALYZE").execute(&target.pool).await?;
        }
        let here = self.table_counts().await?;
        let there = target.table_counts().await?;
        for ((table, source_rows), (_, target_rows)) in here.iter().zip(&there) {
            if source_rows != target_rows {
                return Err(CopyError::Mismatch {
                    table,
                    source_rows: *source_rows,
                    target_rows: *target_rows,
                });
            }
        }
        Ok(Copied { tables: here })
    }
}
