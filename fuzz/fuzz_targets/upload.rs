//! Fuzz target: any bytes through the upload checks, with small limits. Never a panic; an image
//! that is accepted is within the limits; every reservation from the decoding budget is given
//! back; and no check allocates more at once than the estimate it reserved (or, when it is
//! refused before decoding, more than a few kilobytes).
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tastebud::render::images::upload::{DecodeBudget, UploadLimits, check_upload_within, inspect};

/// The system allocator, counting the bytes held while a check runs (libFuzzer runs the target
/// on one thread; its own C++ allocations do not come through here).
struct Counting;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn note(grown: i64) {
    if WATCHING.load(Ordering::Relaxed) {
        let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as i64);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as i64);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as i64);
        note(-(layout.size() as i64));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static BUDGET: DecodeBudget = DecodeBudget::new(256 << 20, 1, Duration::ZERO);

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 1 << 20,
    max_side: 1024,
    max_pixels: 512 * 512,
    max_total_pixels: 4 * 512 * 512,
};

fuzz_target!(|data: &[u8]| {
    let estimate = inspect(data, &LIMITS).map(|inspection| inspection.decode_bytes);
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    WATCHING.store(true, Ordering::Relaxed);
    let result = check_upload_within(data, &LIMITS, &BUDGET);
    WATCHING.store(false, Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed).max(0) as u64;

    let stats = BUDGET.stats();
    assert_eq!((stats.reserved_bytes, stats.decodes), (0, 0), "a reservation was kept");
    if let Ok(image) = &result {
        let (width, height) = image.dimensions();
        assert!(width <= LIMITS.max_side && height <= LIMITS.max_side, "{width}×{height}");
        assert!(u64::from(width) * u64::from(height) <= LIMITS.max_pixels);
        assert!(estimate.is_ok(), "accepted without passing inspection");
    }
    match estimate {
        Ok(estimate) => assert!(
            peak <= estimate,
            "a check took {peak} bytes at once, more than the estimate of {estimate}"
        ),
        Err(_) => assert!(peak < 64 * 1024, "refused before decoding, yet took {peak} bytes"),
    }
});
