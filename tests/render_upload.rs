//! Upload checks seen from outside, with an allocator that records the largest allocation, to
//! show that an image refused for its size is refused before anything sized by it is allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tastebud::render::upload::{UploadError, UploadLimits, check_upload};

/// The system allocator, noting the largest request made on each thread while it is watched.
struct Watching;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let watching = WATCHING.try_with(Cell::get).unwrap_or(false);
    if watching {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    }
}

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    WATCHING.with(|watching| watching.set(true));
    let out = f();
    WATCHING.with(|watching| watching.set(false));
    (out, LARGEST.with(Cell::get))
}

/// A valid PNG signature and IHDR chunk (8-bit RGB, correct CRC), then an empty IDAT and IEND:
/// structurally a whole PNG that claims `width` × `height` pixels and holds none.
fn hollow_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut body = kind.to_vec();
        body.extend(data);
        bytes.extend((data.len() as u32).to_be_bytes());
        bytes.extend(&body);
        bytes.extend(crc32fast::hash(&body).to_be_bytes());
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[]);
    chunk(b"IEND", &[]);
    bytes
}

#[test]
fn a_png_claiming_100000_squared_pixels_is_refused_without_a_large_allocation() {
    let bytes = hollow_png(100_000, 100_000);
    let (result, largest) = largest_allocation(|| check_upload(&bytes, &UploadLimits::default()));
    assert!(
        matches!(
            result,
            Err(UploadError::TooWide {
                width: 100_000,
                height: 100_000,
                ..
            })
        ),
        "{:?}",
        result.map(|image| image.dimensions())
    );
    // The message is built, so a few small allocations happen; nothing near a row of pixels.
    assert!(largest < 4096, "largest allocation {largest} bytes");
}

#[test]
fn the_watching_allocator_does_see_a_decode() {
    // The same measurement around a real decode of a 64×64 image must see its pixel buffer,
    // or the test above would prove nothing.
    let mut png = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a test PNG");
    let (result, largest) = largest_allocation(|| check_upload(&png, &UploadLimits::default()));
    assert_eq!(result.map(|image| image.dimensions()), Ok((64, 64)));
    assert!(largest >= 64 * 64 * 3, "largest allocation {largest} bytes");
}

#[test]
fn a_hollow_png_of_allowed_size_is_damaged_not_accepted() {
    let result = check_upload(&hollow_png(300, 200), &UploadLimits::default());
    assert_eq!(
        result.map(|image| image.dimensions()),
        Err(UploadError::Damaged)
    );
}
