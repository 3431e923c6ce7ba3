//! How often one user may do each action that costs the machine work, and one such action at a
//! time per user where two at once would only double the cost.
//!
//! Each (user, action) has an allowance of `N` a minute (`limits.*_per_minute`): it refills
//! evenly, one every 60/N seconds, and up to N can be saved, so a burst of N passes and a flood
//! is refused at once with the seconds to wait. Allowances live in the database, so processes
//! sharing it draw on the same ones; "one at a time" is kept per process (across processes the
//! allowance still bounds it). Generations have their own limits, counted in the job queue
//! (`store::Admission`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::{Error, Result};
use crate::config::Limits;
use crate::domain::UserId;
use crate::store::{Allowance, Store};

/// An action with a per-user allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `/moodboard add`: downloads, decodes and describes up to five images.
    MoodboardAdd,
    /// A `/rank` pair: a refit and a new pair composed (each `/rank`, and each vote or skip).
    Rank,
    /// `/profile show`: a fit and a chart drawn.
    ProfileShow,
    /// A like: a vote for the global profile.
    Like,
    /// `/recent`: grids drawn again from stored pictures.
    Recent,
}

impl Action {
    /// How the action is named in the sentence that refuses it.
    fn label(self) -> &'static str {
        match self {
            Action::MoodboardAdd => "add images to a moodboard",
            Action::Rank => "rank",
            Action::ProfileShow => "show a profile",
            Action::Like => "like a picture",
            Action::Recent => "see your recent pictures",
        }
    }

    /// The action as something under way.
    fn doing(self) -> &'static str {
        match self {
            Action::MoodboardAdd => "adding images to a moodboard",
            Action::Rank => "ranking",
            Action::ProfileShow => "showing a profile",
            Action::Like => "liking a picture",
            Action::Recent => "drawing your recent pictures",
        }
    }

    /// The action's name in the database.
    fn key(self) -> &'static str {
        match self {
            Action::MoodboardAdd => "moodboard_add",
            Action::Rank => "rank",
            Action::ProfileShow => "profile_show",
            Action::Like => "like",
            Action::Recent => "recent",
        }
    }
}

/// The allowances of every user; cheap to clone (clones share their state).
#[derive(Debug, Clone)]
pub struct ActionLimits {
    per_minute: [(Action, u32); 5],
    store: Store,
    /// Actions running now in this process that a user may run one at a time.
    running: Arc<Mutex<HashSet<(UserId, Action)>>>,
}

impl ActionLimits {
    pub fn new(limits: &Limits, store: Store) -> ActionLimits {
        ActionLimits {
            per_minute: [
                (Action::MoodboardAdd, limits.moodboard_adds_per_minute),
                (Action::Rank, limits.rank_pairs_per_minute),
                (Action::ProfileShow, limits.profile_shows_per_minute),
                (Action::Like, limits.likes_per_minute),
                (Action::Recent, limits.recents_per_minute),
            ],
            store,
            running: Arc::default(),
        }
    }

    fn rate(&self, action: Action) -> f64 {
        let n = self
            .per_minute
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(1, |(_, n)| *n);
        f64::from(n.max(1))
    }

    /// Takes one from `user`'s allowance for `action`, or says how long to wait.
    pub async fn take(&self, user: UserId, action: Action) -> Result<()> {
        self.draw(user, action, true).await
    }

    /// Whether `user` has one left for `action` (without taking it), else how long to wait: for
    /// a step that leads to the action and should be refused before it changes anything.
    pub async fn check(&self, user: UserId, action: Action) -> Result<()> {
        self.draw(user, action, false).await
    }

    async fn draw(&self, user: UserId, action: Action, take: bool) -> Result<()> {
        let per_minute = self.rate(action);
        let now = crate::store::now_ms();
        let verdict = if take {
            self.store
                .update_allowance(user, action.key(), |held| {
                    refill(held, now, per_minute, true)
                })
                .await?
        } else {
            // Only looking: a plain read, no write lock on a hot path.
            let held = self.store.allowance(user, action.key()).await?;
            refill(held, now, per_minute, false).1
        };
        verdict.map_err(|seconds| Error::SlowDown {
            action: action.label(),
            seconds,
        })
    }

    /// Takes one from the allowance and marks `action` running for `user` until the returned
    /// guard drops; refused while another of the same is running for that user.
    pub async fn begin(&self, user: UserId, action: Action) -> Result<Running> {
        if self.lock()?.contains(&(user, action)) {
            return Err(Error::AlreadyRunning(action.doing()));
        }
        self.take(user, action).await?;
        if !self.lock()?.insert((user, action)) {
            return Err(Error::AlreadyRunning(action.doing()));
        }
        Ok(Running {
            limits: self.clone(),
            key: (user, action),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashSet<(UserId, Action)>>> {
        self.running
            .lock()
            .map_err(|_| Error::Bug("action limits lock poisoned".into()))
    }
}

/// An allowance of `per_minute` (refilling at that rate, holding at most that many) as `held`
/// at `now_ms` (`None`: never drawn on, so full): what it becomes when one is taken (or, with
/// `take` false, only looked at), and whether one was there, else the whole seconds until one is.
fn refill(
    held: Option<Allowance>,
    now_ms: i64,
    per_minute: f64,
    take: bool,
) -> (Option<Allowance>, std::result::Result<(), u64>) {
    let per_ms = per_minute / 60_000.0;
    let refilled = match held {
        None => per_minute,
        // A clock that went back refills nothing.
        Some(h) => (h.left + (now_ms - h.at_ms).max(0) as f64 * per_ms).min(per_minute),
    };
    if refilled < 1.0 {
        let wait_ms = (1.0 - refilled) / per_ms;
        return (None, Err((wait_ms / 1000.0).ceil().max(1.0) as u64));
    }
    if !take {
        return (None, Ok(()));
    }
    let after = Allowance {
        left: refilled - 1.0,
        at_ms: now_ms,
    };
    (Some(after), Ok(()))
}

/// An action marked running for a user; dropping it ends that.
#[derive(Debug)]
pub struct Running {
    limits: ActionLimits,
    key: (UserId, Action),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut running) = self.limits.running.lock() {
            running.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_allowance_refills_evenly() {
        // Six a minute: one every ten seconds, and six saved at most.
        let start = 1_000_000;
        let mut held = None;
        for _ in 0..6 {
            let (after, verdict) = refill(held, start, 6.0, true);
            assert_eq!(verdict, Ok(()), "within the burst");
            held = after;
        }
        assert_eq!(refill(held, start, 6.0, true), (None, Err(10)));
        // One comes back every ten seconds, and only one.
        let later = start + 10_000;
        assert_eq!(refill(held, later, 6.0, false), (None, Ok(())));
        let (after, verdict) = refill(held, later, 6.0, true);
        assert_eq!(verdict, Ok(()), "refilled");
        held = after;
        assert_eq!(refill(held, later, 6.0, false).1, Err(10));
        // Part of the way to the next: the rest of the wait, rounded up to whole seconds.
        assert_eq!(refill(held, later + 3_500, 6.0, true).1, Err(7));
        // A long pause fills it to the burst, not beyond.
        let (full, _) = refill(held, later + 3_600_000, 6.0, true);
        assert!((full.expect("taken").left - 5.0).abs() < 1e-9);
        // A clock that went back refills nothing.
        assert_eq!(refill(held, later - 60_000, 6.0, true).1, Err(10));
    }

    async fn limits(per_minute: u32) -> (ActionLimits, tempfile::TempDir) {
        let mut config = crate::config::Config::defaults()
            .expect("default config")
            .limits;
        config.rank_pairs_per_minute = per_minute;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_in(dir.path()).await.expect("store");
        (ActionLimits::new(&config, store), dir)
    }

    #[tokio::test]
    async fn allowances_are_kept_per_user_and_action_in_the_database() {
        let (limits, dir) = limits(6).await;
        let user = UserId(1);
        for _ in 0..6 {
            limits
                .take(user, Action::Rank)
                .await
                .expect("within the burst");
        }
        let refused = limits.take(user, Action::Rank).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "You're going faster than tastebud can keep up with: you can rank again in 10 seconds."
        );
        assert!(limits.check(user, Action::Rank).await.is_err());
        // Other users and other actions have their own allowance.
        limits
            .take(UserId(2), Action::Rank)
            .await
            .expect("another user");
        limits
            .take(user, Action::Like)
            .await
            .expect("another action");
        // Another process on the same database draws on the same allowance.
        let other = ActionLimits::new(
            &crate::config::Config::defaults().expect("config").limits,
            Store::open_in(dir.path()).await.expect("second store"),
        );
        assert!(other.take(user, Action::Rank).await.is_err());
    }

    #[tokio::test]
    async fn one_at_a_time_until_the_guard_drops() {
        let (limits, _dir) = limits(60).await;
        let user = UserId(3);
        let first = limits.begin(user, Action::Rank).await.expect("first");
        let second = limits.begin(user, Action::Rank).await.unwrap_err();
        assert!(matches!(second, Error::AlreadyRunning(_)), "{second}");
        limits
            .begin(UserId(4), Action::Rank)
            .await
            .expect("someone else");
        drop(first);
        limits
            .begin(user, Action::Rank)
            .await
            .expect("after the first ended");
    }
}
