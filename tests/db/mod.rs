//! The database a test runs on: SQLite in the test's temp dir, or, when the environment
//! variable `TEST_POSTGRES_URL` holds a PostgreSQL URL, a fresh schema of its own on that
//! server, dropped when the test ends. With the variable set, a server that cannot be reached
//! fails the test (it never falls back to SQLite).
#![allow(dead_code)]

use std::path::Path;

use sqlx::Connection;
use tastebud::store::Store;

/// The variable naming the PostgreSQL server the store tests run on.
pub const POSTGRES_VAR: &str = "TEST_POSTGRES_URL";

/// One test's database.
pub struct TestDb {
    /// The URL the store opens (empty: `tastebud.db` in the data directory).
    pub url: String,
    /// PostgreSQL: the server's URL and the schema made for this test.
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A database of the engine the run asks for.
    pub async fn new() -> TestDb {
        match std::env::var(POSTGRES_VAR) {
            Ok(server) if !server.trim().is_empty() => TestDb::postgres(&server).await,
            _ => TestDb::sqlite(),
        }
    }

    /// `tastebud.db` in the data directory, whatever the run asks for.
    pub fn sqlite() -> TestDb {
        TestDb {
            url: String::new(),
            schema: None,
        }
    }

    /// The SQLite file at `path`.
    pub fn sqlite_file(path: &Path) -> TestDb {
        TestDb {
            url: format!("sqlite:{}", path.display()),
            schema: None,
        }
    }

    /// A fresh schema on the PostgreSQL server at `server`.
    pub async fn postgres(server: &str) -> TestDb {
        let name = format!("tb_test_{}_{}", std::process::id(), next());
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .unwrap_or_else(|e| {
                panic!("{POSTGRES_VAR}={server}: cannot reach the PostgreSQL server: {e}")
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create a schema for the test");
        conn.close().await.ok();
        let separator = if server.contains('?') { '&' } else { '?' };
        TestDb {
            // Named after the schema, so that the test's end can find its connections.
            url: format!(
                "{server}{separator}options=-c%20search_path%3D{name}&application_name={name}"
            ),
            schema: Some((server.to_string(), name)),
        }
    }

    /// Whether the test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// A store on this database (`data_dir` holds the SQLite file when there is one).
    pub async fn open(&self, data_dir: &Path) -> Store {
        Store::open_configured(&self.url, data_dir)
            .await
            .expect("open the test database")
    }

    /// The `[database]` configuration that points at this database.
    pub fn config(&self) -> String {
        format!("[database]\nurl = {:?}\n", self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.schema.take() else {
            return;
        };
        // Drop runs outside any runtime (or inside one that cannot block): a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await?;
                // The test's own connections first: one left in a transaction by a task that
                // was cut off at the test's end would hold its locks, and this thread blocks
                // the runtime that would end it, so the drop would wait forever.
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .execute(&mut conn)
                .await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test schema: {e}");
        }
    }
}

fn next() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
