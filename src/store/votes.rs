//! Pairs issued for ranking, the votes that answer them, and likes.

use sqlx::Row;

use super::{Store, StoreError, now_ms, user_from_sql, user_to_sql};
use crate::domain::{Choice, Pair, ProfileId, UserId};

/// What happened to a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    /// The vote was stored.
    Recorded,
    /// The pair already had an answer; nothing was stored.
    AlreadyAnswered,
}

/// What happened to a like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeOutcome {
    Recorded,
    /// The user had liked this image before; nothing changed.
    AlreadyLiked,
}

impl Store {
    /// Issues a pair of images of one prompt to `user` for `profile`; returns it.
    pub async fn create_pair(
        &self,
        user: UserId,
        profile: &ProfileId,
        left_image: i64,
        right_image: i64,
        prompt: &str,
    ) -> Result<Pair, StoreError> {
        let created_at = now_ms();
        let id = sqlx::query(
            "INSERT INTO pairs (user_id, profile_id, left_image, right_image, prompt, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user_to_sql(user))
        .bind(&profile.0)
        .bind(left_image)
        .bind(right_image)
        .bind(prompt)
        .bind(created_at)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(Pair {
            id,
            user,
            profile: profile.clone(),
            left_image,
            right_image,
            prompt: prompt.to_string(),
            created_at,
        })
    }

    /// The pair with this id.
    pub async fn pair(&self, id: i64) -> Result<Option<Pair>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, profile_id, left_image, right_image, prompt, created_at
             FROM pairs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Pair {
            id: row.try_get("id")?,
            user: user_from_sql(row.try_get("user_id")?),
            profile: ProfileId(row.try_get("profile_id")?),
            left_image: row.try_get("left_image")?,
            right_image: row.try_get("right_image")?,
            prompt: row.try_get("prompt")?,
            created_at: row.try_get("created_at")?,
        }))
    }

    /// Stores the answer to `pair` unless it has one already. One statement, so concurrent
    /// answers to the same pair store exactly one vote.
    pub async fn record_vote(
        &self,
        pair: &Pair,
        choice: Choice,
    ) -> Result<VoteOutcome, StoreError> {
        let result = sqlx::query(
            "INSERT INTO votes (pair_id, profile_id, choice, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (pair_id) DO NOTHING",
        )
        .bind(pair.id)
        .bind(&pair.profile.0)
        .bind(choice.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 {
            VoteOutcome::Recorded
        } else {
            VoteOutcome::AlreadyAnswered
        })
    }

    /// The answer to `pair`, if any.
    pub async fn vote(&self, pair: i64) -> Result<Option<Choice>, StoreError> {
        let choice: Option<String> =
            sqlx::query_scalar("SELECT choice FROM votes WHERE pair_id = ?")
                .bind(pair)
                .fetch_optional(&self.pool)
                .await?;
        choice
            .map(|c| Choice::parse(&c).ok_or_else(|| StoreError::Corrupt(format!("vote {c:?}"))))
            .transpose()
    }

    /// Records that `user` likes image `image` of `version`.
    pub async fn record_like(
        &self,
        user: UserId,
        image: i64,
        version: &str,
    ) -> Result<LikeOutcome, StoreError> {
        let result = sqlx::query(
            "INSERT INTO likes (user_id, image_id, version, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (user_id, image_id) DO NOTHING",
        )
        .bind(user_to_sql(user))
        .bind(image)
        .bind(version)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 {
            LikeOutcome::Recorded
        } else {
            LikeOutcome::AlreadyLiked
        })
    }
}
