//! Pairs issued for ranking, the votes that answer them, and likes.

use sqlx::Row;

use super::{Store, StoreError, blob_to_vector, now_ms, user_from_sql, user_to_sql};
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
        // In a transaction: see `insert_image`.
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pairs (user_id, profile_id, left_image, right_image, prompt, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_to_sql(user))
        .bind(&profile.0)
        .bind(left_image)
        .bind(right_image)
        .bind(prompt)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
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
             FROM pairs WHERE id = $1",
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
            "INSERT INTO votes (pair_id, profile_id, choice, created_at) VALUES ($1, $2, $3, $4)
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
            sqlx::query_scalar("SELECT choice FROM votes WHERE pair_id = $1")
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
            "INSERT INTO likes (user_id, image_id, version, created_at) VALUES ($1, $2, $3, $4)
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

    /// Records many answered pairs for one profile in a single transaction (imports, and the
    /// large databases benchmarks need). Returns how many were stored.
    pub async fn import_votes(
        &self,
        user: UserId,
        profile: &ProfileId,
        prompt: &str,
        votes: &[(i64, i64, Choice)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for &(left, right, choice) in votes {
            let pair: i64 = sqlx::query_scalar(
                "INSERT INTO pairs (user_id, profile_id, left_image, right_image, prompt, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(user_to_sql(user))
            .bind(&profile.0)
            .bind(left)
            .bind(right)
            .bind(prompt)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO votes (pair_id, profile_id, choice, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(pair)
            .bind(&profile.0)
            .bind(choice.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(votes.len() as u64)
    }

    /// What a profile's answered pairs say, oldest first: the two images' style vectors in
    /// `space` and which one won. Skips and pairs with an unmeasured image are left out.
    pub async fn answered_pairs(
        &self,
        profile: &ProfileId,
        space: &str,
    ) -> Result<Vec<AnsweredPair>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.choice, l.style AS left_style, r.style AS right_style
             FROM votes v
             JOIN pairs p ON p.id = v.pair_id
             JOIN images l ON l.id = p.left_image
             JOIN images r ON r.id = p.right_image
             WHERE v.profile_id = $1 AND v.choice != 'skip'
               AND l.style_space = $2 AND r.style_space = $2
             ORDER BY v.created_at, v.pair_id",
        )
        .bind(&profile.0)
        .bind(space)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let choice: String = row.try_get("choice")?;
                let left: Vec<u8> = row.try_get("left_style")?;
                let right: Vec<u8> = row.try_get("right_style")?;
                Ok(AnsweredPair {
                    left: blob_to_vector(&left)?,
                    right: blob_to_vector(&right)?,
                    left_won: choice == "left",
                })
            })
            .collect()
    }

    /// The style vectors (in `space`) of the images `user` liked in `version`.
    pub async fn liked_styles(
        &self,
        user: UserId,
        version: &str,
        space: &str,
    ) -> Result<Vec<Vec<f32>>, StoreError> {
        let blobs: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT i.style FROM likes k JOIN images i ON i.id = k.image_id
             WHERE k.user_id = $1 AND k.version = $2 AND i.style_space = $3
             ORDER BY k.created_at",
        )
        .bind(user_to_sql(user))
        .bind(version)
        .bind(space)
        .fetch_all(&self.pool)
        .await?;
        blobs.iter().map(|b| blob_to_vector(b)).collect()
    }

    /// The image ids of the `n` pairs most recently issued for `profile`, newest first.
    pub async fn recent_pairs(
        &self,
        profile: &ProfileId,
        n: u32,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT left_image, right_image FROM pairs WHERE profile_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(&profile.0)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("left_image")?, r.try_get("right_image")?)))
            .collect()
    }
}

/// One answered pair, as the learner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredPair {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub left_won: bool,
}
