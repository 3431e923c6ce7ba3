//! Per-user allowances of costly actions, in the database so that every process sharing it
//! draws on the same ones. What an allowance holds and how it refills is the service's
//! business (`service::limits`); the store reads and writes it as one step.

use super::{Store, StoreError, user_to_sql};
use crate::domain::UserId;

/// What was left of one allowance, and when (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowance {
    pub left: f64,
    pub at_ms: i64,
}

impl Store {
    /// What is left of `user`'s allowance of `action` (`None`: never drawn on), only read.
    pub async fn allowance(
        &self,
        user: UserId,
        action: &str,
    ) -> Result<Option<Allowance>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read(&mut conn, user, action).await
    }

    /// Reads `user`'s allowance of `action` (`None`: never drawn on), lets `decide` say what it
    /// becomes (`None`: unchanged) and what to answer, and writes it: one step that no other
    /// process interleaves with for the same user.
    pub async fn update_allowance<T>(
        &self,
        user: UserId,
        action: &str,
        decide: impl FnOnce(Option<Allowance>) -> (Option<Allowance>, T),
    ) -> Result<T, StoreError> {
        let mut tx = self.exclusive(&format!("allowance {}", user.0)).await?;
        let held = read(&mut tx, user, action).await?;
        let (now, answer) = decide(held);
        if let Some(now) = now {
            sqlx::query(
                "INSERT INTO allowances (user_id, action, left_over, at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, action)
                 DO UPDATE SET left_over = excluded.left_over, at_ms = excluded.at_ms",
            )
            .bind(user_to_sql(user))
            .bind(action)
            .bind(now.left)
            .bind(now.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(answer)
    }
}

async fn read(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    action: &str,
) -> Result<Option<Allowance>, StoreError> {
    let held: Option<(f64, i64)> = sqlx::query_as(
        "SELECT left_over, at_ms FROM allowances WHERE user_id = $1 AND action = $2",
    )
    .bind(user_to_sql(user))
    .bind(action)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.map(|(left, at_ms)| Allowance { left, at_ms }))
}
