//! Named locks held across several steps (render, fit, store), that every process sharing the
//! database respects: on PostgreSQL a session advisory lock on a connection of its own, on
//! SQLite (one process) a mutex per name in this store's memory.
//!
//! PostgreSQL's lock connections come from a pool of their own, so that holders of locks can
//! never take every connection the work under the lock needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;

use super::{Store, StoreError, lock_id};

/// A store's named locks, shared by its clones.
#[derive(Debug, Default)]
pub(super) struct Locks {
    /// PostgreSQL: the connections that hold advisory locks.
    pub(super) connections: Option<sqlx::AnyPool>,
    /// SQLite: a mutex per name.
    held: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Locks {
    pub(super) fn postgres(connections: sqlx::AnyPool) -> Locks {
        Locks {
            connections: Some(connections),
            held: Mutex::default(),
        }
    }
}

/// A held lock; dropping it releases it.
#[must_use = "the lock is released when this is dropped"]
pub struct StoreLock {
    _inner: Held,
}

enum Held {
    /// The connection holding the advisory lock; it is closed, not reused, when dropped, and
    /// PostgreSQL releases a session's locks when it ends (also when the process dies).
    Postgres {
        _connection: PoolConnection<sqlx::Any>,
    },
    Local {
        _guard: tokio::sync::OwnedMutexGuard<()>,
    },
}

impl Store {
    /// Waits for and takes the lock named `key`.
    pub async fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        let held = match &self.locks.connections {
            Some(connections) => {
                let mut conn = connections.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(lock_id(key))
                    .execute(&mut *conn)
                    .await?;
                conn.close_on_drop();
                Held::Postgres { _connection: conn }
            }
            None => {
                let mutex = {
                    let mut held = self
                        .locks
                        .held
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Forget the names nobody holds or waits for.
                    held.retain(|_, m| Arc::strong_count(m) > 1);
                    held.entry(key.to_string()).or_default().clone()
                };
                Held::Local {
                    _guard: mutex.lock_owned().await,
                }
            }
        };
        Ok(StoreLock { _inner: held })
    }
}
