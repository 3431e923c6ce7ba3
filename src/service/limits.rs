//! How often one user may do each action that costs the machine work, and one such action at a
//! time per user where two at once would only double the cost.
//!
//! Each (user, action) has an allowance of `N` a minute (`limits.*_per_minute`): it refills
//! evenly, one every 60/N seconds, and up to N can be saved, so a burst of N passes and a flood
//! is refused at once with the seconds to wait. Generations have their own limits, counted in
//! the job queue (`store::Admission`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Error, Result};
use crate::config::Limits;
use crate::domain::UserId;

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
}

/// The allowances of every user; cheap to clone (clones share their state).
#[derive(Debug, Clone)]
pub struct ActionLimits {
    per_minute: [(Action, u32); 5],
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Allowance left and when it was last topped up.
    buckets: HashMap<(UserId, Action), (f64, Instant)>,
    /// Actions running now that a user may run one at a time.
    running: std::collections::HashSet<(UserId, Action)>,
}

/// Buckets untouched for this long are full again and are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl ActionLimits {
    pub fn new(limits: &Limits) -> ActionLimits {
        ActionLimits {
            per_minute: [
                (Action::MoodboardAdd, limits.moodboard_adds_per_minute),
                (Action::Rank, limits.rank_pairs_per_minute),
                (Action::ProfileShow, limits.profile_shows_per_minute),
                (Action::Like, limits.likes_per_minute),
                (Action::Recent, limits.recents_per_minute),
            ],
            state: Arc::default(),
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
    pub fn take(&self, user: UserId, action: Action) -> Result<()> {
        self.take_at(user, action, Instant::now(), true)
    }

    /// Whether `user` has one left for `action` (without taking it), else how long to wait: for
    /// a step that leads to the action and should be refused before it changes anything.
    pub fn check(&self, user: UserId, action: Action) -> Result<()> {
        self.take_at(user, action, Instant::now(), false)
    }

    fn take_at(&self, user: UserId, action: Action, now: Instant, take: bool) -> Result<()> {
        let capacity = self.rate(action);
        let per_second = capacity / 60.0;
        let mut state = self.lock()?;
        if state.buckets.len() > 10_000 {
            state
                .buckets
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < FORGET_AFTER);
        }
        let (left, at) = state
            .buckets
            .entry((user, action))
            .or_insert((capacity, now));
        let refilled =
            (*left + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(capacity);
        if refilled < 1.0 {
            let wait = ((1.0 - refilled) / per_second).ceil().max(1.0) as u64;
            *left = refilled;
            *at = now;
            return Err(Error::SlowDown {
                action: action.label(),
                seconds: wait,
            });
        }
        if take {
            *left = refilled - 1.0;
            *at = now;
        }
        Ok(())
    }

    /// Takes one from the allowance and marks `action` running for `user` until the returned
    /// guard drops; refused while another of the same is running for that user.
    pub fn begin(&self, user: UserId, action: Action) -> Result<Running> {
        if self.lock()?.running.contains(&(user, action)) {
            return Err(Error::AlreadyRunning(action.doing()));
        }
        self.take(user, action)?;
        if !self.lock()?.running.insert((user, action)) {
            return Err(Error::AlreadyRunning(action.doing()));
        }
        Ok(Running {
            limits: self.clone(),
            key: (user, action),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::Bug("action limits lock poisoned".into()))
    }
}

/// An action marked running for a user; dropping it ends that.
#[derive(Debug)]
pub struct Running {
    limits: ActionLimits,
    key: (UserId, Action),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut state) = self.limits.state.lock() {
            state.running.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32) -> ActionLimits {
        let mut config = crate::config::Config::defaults()
            .expect("default config")
            .limits;
        config.rank_pairs_per_minute = per_minute;
        ActionLimits::new(&config)
    }

    #[test]
    fn a_burst_passes_then_the_allowance_refills_evenly() {
        let limits = limits(6);
        let user = UserId(1);
        let start = Instant::now();
        for _ in 0..6 {
            limits
                .take_at(user, Action::Rank, start, true)
                .expect("within the burst");
        }
        let refused = limits.take_at(user, Action::Rank, start, true).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "You're going faster than tastebud can keep up with: you can rank again in 10 seconds."
        );
        // One comes back every ten seconds, and only one.
        let later = start + Duration::from_secs(10);
        assert!(limits.take_at(user, Action::Rank, later, false).is_ok());
        limits
            .take_at(user, Action::Rank, later, true)
            .expect("refilled");
        assert!(limits.take_at(user, Action::Rank, later, false).is_err());
        assert!(limits.take_at(user, Action::Rank, later, true).is_err());
        // Other users and other actions have their own allowance.
        limits
            .take_at(UserId(2), Action::Rank, start, true)
            .expect("another user");
        limits
            .take_at(user, Action::Like, start, true)
            .expect("another action");
    }

    #[test]
    fn one_at_a_time_until_the_guard_drops() {
        let limits = limits(60);
        let user = UserId(3);
        let first = limits.begin(user, Action::Rank).expect("first");
        let second = limits.begin(user, Action::Rank).unwrap_err();
        assert!(matches!(second, Error::AlreadyRunning(_)), "{second}");
        limits.begin(UserId(4), Action::Rank).expect("someone else");
        drop(first);
        limits
            .begin(user, Action::Rank)
            .expect("after the first ended");
    }
}
