//! Upload checks seen from outside, with an allocator that records what each thread allocates
//! (the largest single allocation and the peak of live bytes), to show that an image refused
//! for its size is refused before anything sized by it is allocated, that the decoding
//! budget's estimate bounds what a decode really takes, and that bombs (files whose first
//! header is small and whose frames are not) are refused before any decoder runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Barrier;
use std::time::Duration;

use tastebud::render::images::upload::{
    DecodeBudget, UploadError, UploadLimits, check_upload, check_upload_within, inspect,
};

/// The system allocator, noting on each thread, while it is watched, the largest request and
/// the peak of bytes allocated and not yet freed.
struct Watching;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

/// Notes `grown` bytes allocated (negative: freed) in a request of `size` bytes.
fn note(size: usize, grown: i64) {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let watching = WATCHING.try_with(Cell::get).unwrap_or(false);
    if watching {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + grown);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
    }
}

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), layout.size() as i64);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), layout.size() as i64);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // While it moves, the old block and the new one are both held.
        note(new_size, new_size as i64);
        note(0, -(layout.size() as i64));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, -(layout.size() as i64));
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

/// Runs `f` and returns its result with the most bytes it held allocated at once on this
/// thread (what it returns included).
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, u64) {
    LIVE.with(|live| live.set(0));
    PEAK.with(|peak| peak.set(0));
    WATCHING.with(|watching| watching.set(true));
    let out = f();
    WATCHING.with(|watching| watching.set(false));
    (out, PEAK.with(Cell::get).max(0) as u64)
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

// ---------------------------------------------------------------------------------------------
// Bombs: files whose first header is small and whose frames are not.

/// A RIFF/WebP container of `chunks` (FourCC and data), each padded to an even size.
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (fourcc, data) in chunks {
        body.extend(*fourcc);
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut bytes = b"RIFF".to_vec();
    bytes.extend((body.len() as u32).to_le_bytes());
    bytes.extend(body);
    bytes
}

/// A VP8X chunk's data: `flags`, then the canvas size (each side minus one, 24 bits).
fn vp8x(flags: u8, width: u32, height: u32) -> Vec<u8> {
    let mut data = vec![flags, 0, 0, 0];
    data.extend(&(width - 1).to_le_bytes()[..3]);
    data.extend(&(height - 1).to_le_bytes()[..3]);
    data
}

/// A lossy key frame declaring `width` × `height`, with a first partition of `partition`
/// zero bytes. A bool decoder reading zeros reads every flag as 0, so the header parses (no
/// segmentation, no filter, one partition, no probability updates): enough for image-webp to
/// allocate the whole frame before anything fails.
fn vp8_frame(width: u16, height: u16, partition: usize) -> Vec<u8> {
    // Frame tag: key frame (bit 0 clear), version 0, shown (bit 4), first partition size.
    let tag = ((partition as u32) << 5) | (1 << 4);
    let mut data = tag.to_le_bytes()[..3].to_vec();
    data.extend([0x9D, 0x01, 0x2A]);
    data.extend(width.to_le_bytes());
    data.extend(height.to_le_bytes());
    data.extend(vec![0u8; partition]);
    data
}

/// The bomb of issue 19: a 16×16 VP8X canvas holding a 16383×16383 lossy frame, 449 KB.
fn webp_bomb() -> Vec<u8> {
    riff(&[
        (b"VP8X", vp8x(0, 16, 16)),
        (b"VP8 ", vp8_frame(16383, 16383, 449 * 1024)),
    ])
}

/// An ANMF chunk's data: offset (halved), size (minus one), 100 ms, then `chunks`.
fn anmf(x: u32, y: u32, width: u32, height: u32, chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for value in [x / 2, y / 2, width - 1, height - 1, 100] {
        data.extend(&value.to_le_bytes()[..3]);
    }
    data.push(0);
    for (fourcc, chunk) in chunks {
        data.extend(*fourcc);
        data.extend((chunk.len() as u32).to_le_bytes());
        data.extend(chunk);
        if chunk.len() % 2 == 1 {
            data.push(0);
        }
    }
    data
}

/// An animation on a 16×16 canvas whose one 16×16 frame holds a bitstream of 16383².
fn animated_webp_bomb(with_alpha: bool) -> Vec<u8> {
    let mut frame = Vec::new();
    if with_alpha {
        // Uncompressed alpha, no filtering: 16×16 bytes.
        let mut alpha = vec![0u8];
        alpha.extend([255u8; 256]);
        frame.push((b"ALPH", alpha));
    }
    frame.push((b"VP8 ", vp8_frame(16383, 16383, 4096)));
    riff(&[
        (
            b"VP8X",
            vp8x(0x02 | if with_alpha { 0x10 } else { 0 }, 16, 16),
        ),
        (b"ANIM", vec![0, 0, 0, 0, 0, 0]),
        (b"ANMF", anmf(0, 0, 16, 16, &frame)),
    ])
}

/// A GIF with a `screen` logical screen and one frame at (`x`, `y`) of `width` × `height`,
/// with a two-colour local palette and a few bytes of LZW data.
fn gif(screen: (u16, u16), (x, y, width, height): (u16, u16, u16, u16)) -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend(screen.0.to_le_bytes());
    bytes.extend(screen.1.to_le_bytes());
    bytes.extend([0, 0, 0]);
    bytes.push(0x2C);
    for value in [x, y, width, height] {
        bytes.extend(value.to_le_bytes());
    }
    bytes.push(0x80);
    bytes.extend([0, 0, 0, 255, 255, 255]);
    bytes.extend([2, 2, 0x4C, 0x01, 0, 0x3B]);
    bytes
}

/// A PNG of `chunks` after the signature, each with its CRC.
fn png(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in chunks {
        let mut body = kind.to_vec();
        body.extend(data);
        bytes.extend((data.len() as u32).to_be_bytes());
        bytes.extend(&body);
        bytes.extend(crc32fast::hash(&body).to_be_bytes());
    }
    bytes
}

fn ihdr(width: u32, height: u32) -> Vec<u8> {
    let mut data = width.to_be_bytes().to_vec();
    data.extend(height.to_be_bytes());
    data.extend([8, 2, 0, 0, 0]);
    data
}

/// An fcTL chunk's data: sequence number, size, offset, 1/10 s, no disposal, no blending.
fn fctl(sequence: u32, width: u32, height: u32, x: u32, y: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for value in [sequence, width, height, x, y] {
        data.extend(value.to_be_bytes());
    }
    data.extend([0, 1, 0, 10, 0, 0]);
    data
}

/// A 16×16 APNG whose default image is a frame of the animation, followed by a second frame
/// whose fcTL declares `width` × `height`.
fn apng_bomb(width: u32, height: u32) -> Vec<u8> {
    let idat = {
        // A stored (uncompressed) zlib stream of 16 rows, filter byte 0 and 48 bytes each.
        let raw = vec![0u8; 16 * 49];
        let mut z = vec![0x78, 0x01, 1];
        z.extend((raw.len() as u16).to_le_bytes());
        z.extend((!(raw.len() as u16)).to_le_bytes());
        z.extend(&raw);
        let adler = {
            let (mut a, mut b) = (1u32, 0u32);
            for &byte in &raw {
                a = (a + u32::from(byte)) % 65521;
                b = (b + a) % 65521;
            }
            (b << 16) | a
        };
        z.extend(adler.to_be_bytes());
        z
    };
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend(&idat);
    png(&[
        (b"IHDR", ihdr(16, 16)),
        (b"acTL", [2u32.to_be_bytes(), 0u32.to_be_bytes()].concat()),
        (b"fcTL", fctl(0, 16, 16, 0, 0)),
        (b"IDAT", idat),
        (b"fcTL", fctl(1, width, height, 0, 0)),
        (b"fdAT", fdat),
        (b"IEND", Vec::new()),
    ])
}

const MIB: usize = 1024 * 1024;

#[test]
fn the_449_kb_webp_bomb_is_refused_before_decoding() {
    let bomb = webp_bomb();
    assert!(
        (449 * 1024..450 * 1024).contains(&bomb.len()),
        "{} bytes",
        bomb.len()
    );
    let (result, largest) = largest_allocation(|| check_upload(&bomb, &UploadLimits::default()));
    assert_eq!(result.map(|i| i.dimensions()), Err(UploadError::Damaged));
    // Today the frame's planes alone are 16384² + 2 × 8192² bytes; nothing like a plane may
    // be allocated for a file whose canvas is 16×16.
    assert!(largest < MIB, "largest allocation {largest} bytes");
}

#[test]
fn animated_webp_bombs_are_refused_before_decoding() {
    for with_alpha in [false, true] {
        let bomb = animated_webp_bomb(with_alpha);
        let (result, largest) =
            largest_allocation(|| check_upload(&bomb, &UploadLimits::default()));
        assert_eq!(
            result.map(|i| i.dimensions()),
            Err(UploadError::Damaged),
            "alpha {with_alpha}"
        );
        assert!(
            largest < MIB,
            "alpha {with_alpha}: largest allocation {largest} bytes"
        );
    }
}

#[test]
fn a_gif_frame_outside_its_screen_is_refused_before_decoding() {
    // A 16×16 screen holding a 4096×4096 frame: within the limits on its own, but a GIF frame
    // must fit inside the logical screen (GIF89a §20), and decoding it costs 4096² × 5 bytes.
    let bomb = gif((16, 16), (0, 0, 4096, 4096));
    let (result, largest) = largest_allocation(|| check_upload(&bomb, &UploadLimits::default()));
    assert_eq!(result.map(|i| i.dimensions()), Err(UploadError::Damaged));
    assert!(largest < MIB, "largest allocation {largest} bytes");
    // Larger than the limits, too.
    let huge = gif((8, 8), (0, 0, 60000, 60000));
    assert_eq!(
        check_upload(&huge, &UploadLimits::default()).map(|i| i.dimensions()),
        Err(UploadError::Damaged)
    );
}

#[test]
fn an_apng_frame_outside_its_canvas_is_refused() {
    let bomb = apng_bomb(100_000, 100_000);
    let (result, largest) = largest_allocation(|| check_upload(&bomb, &UploadLimits::default()));
    assert_eq!(result.map(|i| i.dimensions()), Err(UploadError::Damaged));
    assert!(largest < MIB, "largest allocation {largest} bytes");
}

#[test]
fn a_jpeg_with_a_second_larger_frame_header_is_refused_before_decoding() {
    // SOI, a 16×16 grey frame header, then a second one declaring 65000×65000.
    let sof = |height: u16, width: u16| {
        let mut segment = vec![0xFF, 0xC0, 0x00, 0x0B, 8];
        segment.extend(height.to_be_bytes());
        segment.extend(width.to_be_bytes());
        segment.extend([1, 1, 0x11, 0]);
        segment
    };
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend(sof(16, 16));
    jpeg.extend(sof(65000, 65000));
    jpeg.extend([
        0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xFF, 0xD9,
    ]);
    let budget = DecodeBudget::new(64 * MIB as u64, 2, Duration::ZERO);
    let result = check_upload_within(&jpeg, &UploadLimits::default(), &budget);
    assert_eq!(
        result.map(|i| i.dimensions()),
        Err(UploadError::TooWide {
            width: 65000,
            height: 65000,
            max_side: 4096
        })
    );
    // Two frame headers of allowed sizes: damaged (non-hierarchical JPEG has one frame).
    let mut two = vec![0xFF, 0xD8];
    two.extend(sof(16, 16));
    two.extend(sof(32, 32));
    two.extend([
        0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xFF, 0xD9,
    ]);
    assert_eq!(
        check_upload_within(&two, &UploadLimits::default(), &budget).map(|i| i.dimensions()),
        Err(UploadError::Damaged)
    );
    // A frame header of more components than any decoder reads: memory is w × h × components.
    // Segment length 8 + 3 × 200 = 608.
    let mut many = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x02, 0x60, 8, 0, 16, 0, 16, 200];
    for id in 0..200u8 {
        many.extend([id, 0x11, 0]);
    }
    many.extend([
        0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xFF, 0xD9,
    ]);
    assert_eq!(
        check_upload_within(&many, &UploadLimits::default(), &budget).map(|i| i.dimensions()),
        Err(UploadError::Unsupported {
            format: image::ImageFormat::Jpeg
        })
    );
    assert_eq!(budget.stats().granted, 0, "nothing was decoded");
}

#[test]
fn an_exif_thumbnail_frame_header_is_not_the_image_s() {
    // A real JPEG with an APP1 segment holding a (fake) thumbnail's SOF for 60000×60000: the
    // walk skips the segment whole, and the image is accepted at its own size.
    let mut real = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut real, 80)
        .encode(&[90u8; 24 * 16 * 3], 24, 16, image::ExtendedColorType::Rgb8)
        .expect("encoding a JPEG");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend([
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0xEA, 0x60, 0xEA, 0x60, 1, 1, 0x11, 0,
    ]);
    app1.extend([0xFF, 0xD9]);
    let mut jpeg = real[..2].to_vec();
    jpeg.extend([0xFF, 0xE1]);
    jpeg.extend(((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend(&app1);
    jpeg.extend(&real[2..]);
    let inspection = inspect(&jpeg, &UploadLimits::default()).expect("accepted");
    assert_eq!(
        (inspection.width, inspection.height, inspection.frames),
        (24, 16, 1)
    );
    assert_eq!(
        check_upload(&jpeg, &UploadLimits::default()).map(|i| i.dimensions()),
        Ok((24, 16))
    );
}

#[test]
fn the_bombs_never_reach_the_budget() {
    let budget = DecodeBudget::new(64 * MIB as u64, 2, Duration::ZERO);
    let limits = UploadLimits::default();
    for (name, bomb) in [
        ("webp", webp_bomb()),
        ("animated webp", animated_webp_bomb(false)),
        ("animated webp with alpha", animated_webp_bomb(true)),
        ("gif", gif((16, 16), (0, 0, 4096, 4096))),
        ("apng", apng_bomb(100_000, 100_000)),
    ] {
        assert!(inspect(&bomb, &limits).is_err(), "{name}");
        assert!(
            check_upload_within(&bomb, &limits, &budget).is_err(),
            "{name}"
        );
    }
    let stats = budget.stats();
    assert_eq!((stats.granted, stats.peak_bytes), (0, 0));
}

#[test]
fn ten_bombs_at_once_are_refused_without_touching_the_budget() {
    let budget = DecodeBudget::new(64 * MIB as u64, 2, Duration::ZERO);
    let limits = UploadLimits::default();
    let bombs: Vec<Vec<u8>> = (0..10)
        .map(|i| match i % 3 {
            0 => webp_bomb(),
            1 => animated_webp_bomb(i % 2 == 0),
            _ => gif((16, 16), (0, 0, 4096, 4096)),
        })
        .collect();
    let start = Barrier::new(bombs.len());
    std::thread::scope(|scope| {
        let threads: Vec<_> = bombs
            .iter()
            .map(|bomb| {
                scope.spawn(|| {
                    start.wait();
                    largest_allocation(|| check_upload_within(bomb, &limits, &budget))
                })
            })
            .collect();
        for thread in threads {
            let (result, largest) = thread.join().expect("no panic");
            assert_eq!(result.map(|i| i.dimensions()), Err(UploadError::Damaged));
            assert!(largest < MIB, "largest allocation {largest} bytes");
        }
    });
    let stats = budget.stats();
    assert_eq!(
        (stats.granted, stats.peak_bytes, stats.reserved_bytes),
        (0, 0, 0)
    );
}

/// A PNG of `width` × `height` RGB pixels (noisy, so it does not compress to nothing).
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7 + y) as u8, (y * 13) as u8, (x ^ y) as u8])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encoding a test PNG");
    bytes
}

#[test]
fn many_large_uploads_at_once_stay_within_the_budget() {
    let png = noisy_png(1500, 1000);
    let limits = UploadLimits::default();
    let each = inspect(&png, &limits).expect("accepted").decode_bytes;
    // Room for two of them at a time, and three decode slots.
    let budget = DecodeBudget::new(2 * each + each / 2, 3, Duration::ZERO);
    let start = Barrier::new(10);
    let results: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    check_upload_within(&png, &limits, &budget).map(|i| i.dimensions())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .collect()
    });
    let stats = budget.stats();
    for result in &results {
        assert!(
            matches!(result, Ok((1500, 1000)) | Err(UploadError::Busy)),
            "{result:?}"
        );
    }
    let accepted = results.iter().filter(|r| r.is_ok()).count() as u64;
    assert_eq!(stats.granted, accepted);
    assert_eq!(stats.granted + stats.refused, 10);
    assert!(stats.granted >= 1);
    assert!(stats.peak_bytes <= budget.max_bytes(), "{stats:?}");
    assert!(stats.peak_decodes <= 2, "two fit in the bytes: {stats:?}");
    assert_eq!((stats.reserved_bytes, stats.decodes), (0, 0));
}

#[test]
fn a_full_budget_refuses_quickly_with_a_sentence_and_recovers() {
    let png = noisy_png(64, 64);
    let limits = UploadLimits::default();
    let budget = DecodeBudget::new(64 * MIB as u64, 4, Duration::ZERO);
    // All but a megabyte, less than the working room alone of any decode.
    let held = budget.reserve(63 * MIB as u64).expect("room");
    let error = check_upload_within(&png, &limits, &budget)
        .map(|i| i.dimensions())
        .expect_err("busy");
    assert_eq!(error, UploadError::Busy);
    assert_eq!(
        error.to_string(),
        "tastebud is busy reading other images; try again in a minute."
    );
    drop(held);
    assert_eq!(
        check_upload_within(&png, &limits, &budget).map(|i| i.dimensions()),
        Ok((64, 64))
    );
    let stats = budget.stats();
    assert_eq!(
        (stats.granted, stats.refused, stats.reserved_bytes),
        (2, 1, 0)
    );
    // An image that needs more than the whole budget can never be read.
    let tiny = DecodeBudget::new(1024, 4, Duration::from_secs(3600));
    assert_eq!(
        check_upload_within(&png, &limits, &tiny).map(|i| i.dimensions()),
        Err(UploadError::TooMuchMemory)
    );
}

#[test]
fn check_upload_uses_the_process_wide_budget() {
    let before = DecodeBudget::global().stats().granted;
    let png = noisy_png(32, 32);
    assert!(check_upload(&png, &UploadLimits::default()).is_ok());
    assert!(DecodeBudget::global().stats().granted > before);
}

#[test]
fn animations_are_limited_in_all_their_frames() {
    let bytes = fixture("animated.gif");
    let limits = UploadLimits {
        max_total_pixels: 2 * 40 * 30,
        ..UploadLimits::default()
    };
    let error = check_upload(&bytes, &limits).expect_err("refused");
    assert_eq!(
        error,
        UploadError::TooManyFrames {
            frames: 3,
            pixels: 3 * 40 * 30,
            max_pixels: 2 * 40 * 30
        }
    );
    assert_eq!(
        error.to_string(),
        "That animation has 3 frames, 0.1 million pixels in all; animations can have at most 0 million pixels in all."
    );
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/upload")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Encodes `image` with the image crate's own encoder for `format`.
fn encoded(image: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .expect("encoding a test image");
    bytes
}

/// A test image: name, bytes, size and frame count.
type Sample = (String, Vec<u8>, (u32, u32), u32);

/// Small real images of every kind uploads may be.
fn ordinary_images() -> Vec<Sample> {
    let mut images = Vec::new();
    for (name, frames) in [
        ("lossy.webp", 1),
        ("lossy_alpha.webp", 1),
        ("lossless.webp", 1),
        ("animated_lossy.webp", 3),
        ("animated_lossless.webp", 3),
        ("animated_alpha.webp", 3),
        ("animated.png", 3),
        ("animated.gif", 3),
        ("progressive.jpg", 1),
        ("cmyk.jpg", 1),
    ] {
        images.push((name.to_string(), fixture(name), (40, 30), frames));
    }
    let rgba = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(33, 21, |x, y| {
        image::Rgba([(x * 7) as u8, (y * 11) as u8, 60, (x * 8) as u8])
    }));
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Gif,
        image::ImageFormat::WebP,
    ] {
        images.push((
            format!("{format:?} from image"),
            encoded(rgba.clone(), format),
            (33, 21),
            1,
        ));
    }
    images.push((
        "JPEG from image".into(),
        encoded(
            image::DynamicImage::ImageRgb8(rgba.to_rgb8()),
            image::ImageFormat::Jpeg,
        ),
        (33, 21),
        1,
    ));
    images.push(("APNG made here".into(), apng_bomb(16, 16), (16, 16), 2));
    images
}

#[test]
fn ordinary_images_of_every_kind_are_still_accepted() {
    for (name, bytes, size, frames) in ordinary_images() {
        let inspection =
            inspect(&bytes, &UploadLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((inspection.width, inspection.height), size, "{name}");
        assert_eq!(inspection.frames, frames, "{name}");
        let image = check_upload(&bytes, &UploadLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image.dimensions(), size, "{name}");
    }
}

#[test]
fn the_estimate_bounds_what_a_decode_really_allocates() {
    let mut images = ordinary_images();
    // Larger pictures, where the layouts rather than the fixed working room dominate.
    let (w, h) = (640, 480);
    let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 7 + y) as u8,
            (y * 13) as u8,
            (x ^ y) as u8,
            (x + y) as u8,
        ])
    });
    let rgba = image::DynamicImage::ImageRgba8(rgba);
    for (name, image, format) in [
        ("large png rgba", rgba.clone(), image::ImageFormat::Png),
        (
            "large png rgb",
            rgba.to_rgb8().into(),
            image::ImageFormat::Png,
        ),
        (
            "large png rgba16",
            rgba.to_rgba16().into(),
            image::ImageFormat::Png,
        ),
        (
            "large png grey",
            rgba.to_luma8().into(),
            image::ImageFormat::Png,
        ),
        (
            "large jpeg",
            rgba.to_rgb8().into(),
            image::ImageFormat::Jpeg,
        ),
        (
            "large jpeg grey",
            rgba.to_luma8().into(),
            image::ImageFormat::Jpeg,
        ),
        ("large gif", rgba.clone(), image::ImageFormat::Gif),
        ("large webp rgba", rgba.clone(), image::ImageFormat::WebP),
        (
            "large webp rgb",
            rgba.to_rgb8().into(),
            image::ImageFormat::WebP,
        ),
    ] {
        images.push((name.to_string(), encoded(image, format), (w, h), 1));
    }
    let budget = DecodeBudget::new(1 << 40, 1, Duration::ZERO);
    // Found by the fuzz target (fuzz/fuzz_targets/upload.rs): a 40×30 lossy WebP whose
    // bitstream declares a DCT partition of megabytes; image-webp allocates it before reading
    // it. Damaged, but the estimate must bound the attempt all the same.
    let fuzzed = fixture("fuzz-vp8-partition-size.webp");
    let estimate = inspect(&fuzzed, &UploadLimits::default())
        .expect("passes inspection")
        .decode_bytes;
    let (result, peak) =
        peak_allocation(|| check_upload_within(&fuzzed, &UploadLimits::default(), &budget));
    assert!(result.is_err());
    assert!(
        peak > 8 * MIB as u64,
        "the partition is allocated: {peak} bytes"
    );
    assert!(peak <= estimate, "took {peak} bytes, estimate {estimate}");
    for (name, bytes, _, _) in images {
        let estimate = inspect(&bytes, &UploadLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .decode_bytes;
        let (result, peak) =
            peak_allocation(|| check_upload_within(&bytes, &UploadLimits::default(), &budget));
        assert!(result.is_ok(), "{name}: {result:?}");
        assert!(
            peak <= estimate,
            "{name}: a decode took {peak} bytes, more than the estimate of {estimate}"
        );
        if name.starts_with("large") {
            // Not so loose that the budget turns good images away for nothing.
            assert!(
                estimate <= 3 * peak + 4 * MIB as u64,
                "{name}: estimate {estimate} for a peak of {peak}"
            );
        }
    }
}

#[test]
fn tastebud_style_refuses_the_bomb_before_decoding_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bomb.webp");
    std::fs::write(&path, webp_bomb()).expect("writing the bomb");
    let (result, largest) = largest_allocation(|| tastebud::cli::style_files(&[&path]).map(|_| ()));
    let error = result.expect_err("refused").to_string();
    assert!(error.contains("That image is damaged"), "{error}");
    // The file itself is read (449 KB); nothing the size of the frame it claims.
    assert!(largest < MIB, "largest allocation {largest} bytes");
}
