//! One budget for decoding uploads in this process: how many bytes decodes may hold at once,
//! and how many may run at once.
//!
//! Every decode of an upload first reserves the bytes [`super::inspect`] estimates for it
//! (with one of the decode slots) and gives them back when its [`Reservation`] is dropped,
//! also when the decode panics. A reservation that cannot be granted within the budget's short
//! wait is refused with [`UploadError::Busy`], so that a burst of large uploads is turned away
//! at once instead of stacking up in memory; one that could never be granted (more than the
//! whole budget) is [`UploadError::TooMuchMemory`].
//!
//! The budget is per process on purpose: it guards this process's memory. [`DecodeBudget::global`]
//! is the one every upload check uses; tests and the fuzz target make budgets of their own.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::UploadError;

/// Bytes all decodes in the process may hold at once, by default.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// Decodes that may run at once, by default.
pub const DEFAULT_MAX_DECODES: u32 = 4;
/// How long a decode waits for room before it is refused, by default: long enough to ride out
/// a neighbour's ordinary decode (tens of milliseconds), short enough that a flood of uploads
/// is answered quickly rather than queued.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(500);

/// A budget of memory and concurrent decodes.
#[derive(Debug)]
pub struct DecodeBudget {
    max_bytes: u64,
    max_decodes: u32,
    wait: Duration,
    state: Mutex<BudgetStats>,
    freed: Condvar,
}

/// The budget's accounting, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetStats {
    /// Bytes reserved now.
    pub reserved_bytes: u64,
    /// The most bytes ever reserved at once.
    pub peak_bytes: u64,
    /// Decodes holding a reservation now.
    pub decodes: u32,
    /// The most decodes ever holding reservations at once.
    pub peak_decodes: u32,
    /// Reservations granted so far.
    pub granted: u64,
    /// Reservations refused so far (busy, or larger than the whole budget).
    pub refused: u64,
}

static GLOBAL: DecodeBudget =
    DecodeBudget::new(DEFAULT_MAX_BYTES, DEFAULT_MAX_DECODES, DEFAULT_WAIT);

impl DecodeBudget {
    /// A budget of `max_bytes` held by at most `max_decodes` decodes at once, each waiting at
    /// most `wait` for room.
    pub const fn new(max_bytes: u64, max_decodes: u32, wait: Duration) -> DecodeBudget {
        DecodeBudget {
            max_bytes,
            max_decodes,
            wait,
            state: Mutex::new(BudgetStats {
                reserved_bytes: 0,
                peak_bytes: 0,
                decodes: 0,
                peak_decodes: 0,
                granted: 0,
                refused: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The process-wide budget that [`super::check_upload`] uses: 512 MiB, 4 decodes, 500 ms.
    pub fn global() -> &'static DecodeBudget {
        &GLOBAL
    }

    /// Bytes all decodes may hold at once.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The accounting so far.
    pub fn stats(&self) -> BudgetStats {
        *self.lock()
    }

    /// Reserves `bytes` and a decode slot, waiting at most the budget's wait for them.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>, UploadError> {
        let mut state = self.lock();
        if bytes > self.max_bytes || self.max_decodes == 0 {
            state.refused += 1;
            return Err(UploadError::TooMuchMemory);
        }
        let deadline = Instant::now() + self.wait;
        loop {
            if state.decodes < self.max_decodes && state.reserved_bytes + bytes <= self.max_bytes {
                state.reserved_bytes += bytes;
                state.decodes += 1;
                state.peak_bytes = state.peak_bytes.max(state.reserved_bytes);
                state.peak_decodes = state.peak_decodes.max(state.decodes);
                state.granted += 1;
                return Ok(Reservation {
                    budget: self,
                    bytes,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                state.refused += 1;
                tracing::info!(
                    bytes,
                    reserved = state.reserved_bytes,
                    decodes = state.decodes,
                    "an upload was refused: the decoding budget is full"
                );
                return Err(UploadError::Busy);
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// The state, even if a thread panicked while holding the lock: the counters are updated
    /// in single steps, so they are never left half-changed.
    fn lock(&self) -> MutexGuard<'_, BudgetStats> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, bytes: u64) {
        let mut state = self.lock();
        state.reserved_bytes -= bytes;
        state.decodes -= 1;
        drop(state);
        self.freed.notify_all();
    }
}

/// Bytes and a decode slot held from a [`DecodeBudget`] until this is dropped.
#[derive(Debug)]
#[must_use = "the reservation is given back as soon as it is dropped"]
pub struct Reservation<'a> {
    budget: &'a DecodeBudget,
    bytes: u64,
}

impl Reservation<'_> {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_counted_and_given_back() {
        let budget = DecodeBudget::new(100, 2, Duration::ZERO);
        let a = budget.reserve(60).expect("room");
        let b = budget.reserve(40).expect("room");
        assert_eq!(budget.stats().reserved_bytes, 100);
        assert_eq!(budget.reserve(1).map(|r| r.bytes()), Err(UploadError::Busy));
        drop(a);
        let stats = budget.stats();
        assert_eq!((stats.reserved_bytes, stats.decodes), (40, 1));
        drop(b);
        let stats = budget.stats();
        assert_eq!(
            stats,
            BudgetStats {
                reserved_bytes: 0,
                peak_bytes: 100,
                decodes: 0,
                peak_decodes: 2,
                granted: 2,
                refused: 1,
            }
        );
    }

    #[test]
    fn slots_are_limited_as_well_as_bytes() {
        let budget = DecodeBudget::new(1000, 1, Duration::ZERO);
        let held = budget.reserve(1).expect("room");
        assert_eq!(budget.reserve(1).map(|r| r.bytes()), Err(UploadError::Busy));
        drop(held);
        assert!(budget.reserve(1).is_ok());
    }

    #[test]
    fn more_than_the_whole_budget_is_never_granted() {
        let budget = DecodeBudget::new(100, 2, Duration::from_secs(60));
        // Refused at once, not after the wait: no release could ever make room.
        assert_eq!(
            budget.reserve(101).map(|r| r.bytes()),
            Err(UploadError::TooMuchMemory)
        );
        assert_eq!(budget.stats().refused, 1);
        assert_eq!(budget.stats().peak_bytes, 0);
    }

    #[test]
    fn a_waiting_reservation_is_granted_when_room_is_freed() {
        let budget = DecodeBudget::new(100, 4, Duration::from_secs(60));
        let held = budget.reserve(100).expect("room");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| budget.reserve(50).map(|r| r.bytes()));
            // Most likely waiting by now; granted either way once the room is given back.
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
            assert_eq!(waiter.join().expect("no panic"), Ok(50));
        });
        let stats = budget.stats();
        assert_eq!(
            (stats.granted, stats.refused, stats.peak_bytes),
            (2, 0, 100)
        );
    }

    #[test]
    fn a_panicking_decode_gives_its_reservation_back() {
        let budget = DecodeBudget::new(100, 1, Duration::ZERO);
        let result = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _held = budget.reserve(70).expect("room");
                    panic!("a decoder bug");
                })
                .join()
        });
        assert!(result.is_err());
        let stats = budget.stats();
        assert_eq!(
            (stats.reserved_bytes, stats.decodes, stats.peak_bytes),
            (0, 0, 70)
        );
        assert!(
            budget.reserve(100).is_ok(),
            "the slot and the bytes are free again"
        );
    }
}
