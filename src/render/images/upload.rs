//! Checking images that users upload (moodboards) before any pixel is decoded.
//!
//! [`check_upload`] works from the cheapest test to the most expensive, so that hostile input
//! is turned away before it costs memory:
//! 1. the byte count against [`UploadLimits::max_bytes`];
//! 2. the format, from the file's magic bytes only (a file name, extension or claimed content
//!    type is never consulted): PNG, JPEG, WebP or GIF;
//! 3. the width and height the header declares, before any decoder runs;
//! 4. every frame the container really holds ([`inspect`]): a header is only a claim, and the
//!    decoders allocate for the frames (a WebP whose `VP8X` canvas says 16×16 may hold a
//!    16383² frame). Every frame must be within the limits and consistent with its canvas,
//!    an animation's frames together within [`UploadLimits::max_total_pixels`], and from the
//!    frames and the decoders' layouts comes an estimate of the memory a decode takes;
//! 5. a reservation of that memory from the process-wide [`DecodeBudget`], which also bounds
//!    how many decodes run at once: a decode that finds no room within a short wait is refused
//!    as [`UploadError::Busy`] instead of stacking up;
//! 6. the decode itself, under [`image::Limits`] as well.
//!
//! Every [`UploadError`] displays as the sentence the user sees. Everything that decodes an
//! image someone else chose (moodboard uploads and links, `tastebud style`) goes through
//! [`check_upload`].

mod budget;
mod containers;

use std::io::Cursor;

use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits, Rgb, RgbImage};

pub use budget::{BudgetStats, DecodeBudget, Reservation};
pub use containers::Inspection;

/// How large an uploaded image may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// Largest width and largest height, in pixels, of the image and of every frame in it.
    pub max_side: u32,
    /// Largest width × height, of the image and of every frame in it.
    pub max_pixels: u64,
    /// Largest width × height summed over every frame of an animation (GIF, APNG, animated
    /// WebP). Only the first frame is decoded, but every frame is walked and the decoders of
    /// animations compose frame after frame.
    pub max_total_pixels: u64,
}

impl Default for UploadLimits {
    /// 10 MiB, 4096 pixels a side, 4096² (about 16.8 million) pixels, and 16 times that in all
    /// the frames of an animation.
    fn default() -> Self {
        UploadLimits {
            max_bytes: 10 * 1024 * 1024,
            max_side: 4096,
            max_pixels: 4096 * 4096,
            max_total_pixels: 16 * 4096 * 4096,
        }
    }
}

/// Why an upload was refused. `Display` is the sentence shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("That file is {} MB; images can be at most {} MB.", size_up(*bytes), size_down(*limit))]
    TooManyBytes { bytes: usize, limit: usize },
    #[error("That file is not an image (PNG, JPEG, WebP or GIF).")]
    NotAnImage,
    #[error("That image is {width}×{height} pixels; the largest allowed is {max_side}×{max_side}.")]
    TooWide {
        width: u32,
        height: u32,
        max_side: u32,
    },
    #[error(
        "That image is {width}×{height} pixels ({} million); images can have at most {} million pixels.",
        millions_up(u64::from(*width) * u64::from(*height)),
        millions_down(*max_pixels)
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error(
        "That animation has {frames} frames, {} million pixels in all; animations can have at most {} million pixels in all.",
        millions_up(*pixels),
        millions_down(*max_pixels)
    )]
    TooManyFrames {
        frames: u32,
        pixels: u64,
        max_pixels: u64,
    },
    #[error("That image needs too much memory to read; try a smaller one.")]
    TooMuchMemory,
    #[error("tastebud is busy reading other images; try again in a minute.")]
    Busy,
    #[error("That image is damaged and can't be read.")]
    Damaged,
    #[error("That {} uses a variant tastebud can't read; try saving it as PNG or JPEG.", format_name(*format))]
    Unsupported { format: ImageFormat },
}

/// Checks `bytes` against `limits` and decodes them as RGB (transparent parts laid over white),
/// within the process-wide [`DecodeBudget::global`].
pub fn check_upload(bytes: &[u8], limits: &UploadLimits) -> Result<RgbImage, UploadError> {
    check_upload_within(bytes, limits, DecodeBudget::global())
}

/// [`check_upload`] within `budget` rather than the process-wide one.
pub fn check_upload_within(
    bytes: &[u8],
    limits: &UploadLimits,
    budget: &DecodeBudget,
) -> Result<RgbImage, UploadError> {
    let inspection = inspect(bytes, limits)?;
    let _reservation = budget.reserve(inspection.decode_bytes)?;

    let format = inspection.format;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decode_limits(limits));
    let decoded = reader.decode().map_err(|e| {
        tracing::debug!(error = %e, ?format, "an uploaded image failed to decode");
        match e {
            ImageError::Limits(_) => UploadError::TooMuchMemory,
            ImageError::Unsupported(_) => UploadError::Unsupported { format },
            _ => UploadError::Damaged,
        }
    })?;
    if (decoded.width(), decoded.height()) != (inspection.width, inspection.height) {
        // Never expected: the walk read the size the decoder uses.
        return Err(UploadError::Damaged);
    }
    Ok(flatten(decoded))
}

/// Steps 1 to 4 of [`check_upload`], without decoding: what `bytes` holds, and what decoding
/// it would cost, or why it is refused.
pub fn inspect(bytes: &[u8], limits: &UploadLimits) -> Result<Inspection, UploadError> {
    if bytes.len() > limits.max_bytes {
        return Err(UploadError::TooManyBytes {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes).ok_or(UploadError::NotAnImage)?;
    let (width, height) = header_dimensions(bytes, format).ok_or(UploadError::Damaged)?;
    if width == 0 || height == 0 {
        return Err(UploadError::Damaged);
    }
    if width > limits.max_side || height > limits.max_side {
        return Err(UploadError::TooWide {
            width,
            height,
            max_side: limits.max_side,
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(UploadError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    let inspection = containers::inspect(bytes, format, (width, height), limits)?;
    if inspection.frame_pixels > limits.max_total_pixels {
        return Err(UploadError::TooManyFrames {
            frames: inspection.frames,
            pixels: inspection.frame_pixels,
            max_pixels: limits.max_total_pixels,
        });
    }
    Ok(inspection)
}

/// The format named by the first bytes of `bytes`, if it is one uploads may use.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Width and height as the header of `bytes` declares them, without decoding any pixels.
/// `None` when the header is cut short or malformed. (Only a claim: see [`inspect`].)
pub fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    containers::header_dimensions(bytes, format)
}

/// The decoder's limits: the same sides as the header check, and memory for the largest
/// layout the decoders produce (RGBA with 16-bit samples, 8 bytes a pixel) plus working room.
fn decode_limits(limits: &UploadLimits) -> Limits {
    let mut decode = Limits::default();
    decode.max_image_width = Some(limits.max_side);
    decode.max_image_height = Some(limits.max_side);
    decode.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(8)
            .saturating_add(16 * 1024 * 1024),
    );
    decode
}

/// RGB pixels of `image`, with any transparency composited over white.
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(src[3]);
        let over_white = |c: u8| ((u32::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
        *dst = Rgb([over_white(src[0]), over_white(src[1]), over_white(src[2])]);
    }
    out
}

const MB: f64 = 1024.0 * 1024.0;

/// A byte count in MB, rounded up to one decimal, so that a file just over a limit never reads
/// as equal to it.
fn size_up(bytes: usize) -> String {
    trim_decimal((bytes as f64 / MB * 10.0).ceil() / 10.0)
}

/// A limit in MB, rounded down to one decimal.
fn size_down(bytes: usize) -> String {
    trim_decimal((bytes as f64 / MB * 10.0).floor() / 10.0)
}

fn millions_up(pixels: u64) -> String {
    trim_decimal((pixels as f64 / 1e5).ceil() / 10.0)
}

fn millions_down(pixels: u64) -> String {
    trim_decimal((pixels as f64 / 1e5).floor() / 10.0)
}

/// `10` rather than `10.0`; `12.4` stays.
fn trim_decimal(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP image",
        _ => "image",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{ImageEncoder, Rgba, RgbaImage};

    /// A PNG signature and an IHDR chunk (8-bit RGB) with a correct CRC, and nothing more.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut chunk = b"IHDR".to_vec();
        chunk.extend(width.to_be_bytes());
        chunk.extend(height.to_be_bytes());
        chunk.extend([8, 2, 0, 0, 0]);
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend(13u32.to_be_bytes());
        bytes.extend(&chunk);
        bytes.extend(crc32fast::hash(&chunk).to_be_bytes());
        bytes
    }

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x * 7) as u8, (y * 5) as u8, 90])
        })
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .expect("encoding a test image");
        bytes
    }

    #[test]
    fn a_small_png_is_decoded_with_its_pixels() {
        let original = gradient(30, 20);
        let bytes = encode(&DynamicImage::ImageRgb8(original.clone()), ImageFormat::Png);
        let image = check_upload(&bytes, &UploadLimits::default()).expect("accepted");
        assert_eq!(image, original);
    }

    #[test]
    fn a_small_jpeg_is_accepted_with_its_size() {
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 90)
            .write_image(
                gradient(33, 17).as_raw(),
                33,
                17,
                image::ExtendedColorType::Rgb8,
            )
            .expect("encoding a JPEG");
        assert_eq!(header_dimensions(&bytes, ImageFormat::Jpeg), Some((33, 17)));
        let image = check_upload(&bytes, &UploadLimits::default()).expect("accepted");
        assert_eq!(image.dimensions(), (33, 17));
    }

    #[test]
    fn gif_and_lossless_webp_are_accepted_with_their_size() {
        let rgba =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(21, 13, Rgba([10, 200, 30, 255])));
        for format in [ImageFormat::Gif, ImageFormat::WebP] {
            let bytes = encode(&rgba, format);
            assert_eq!(sniff_format(&bytes), Some(format));
            assert_eq!(
                header_dimensions(&bytes, format),
                Some((21, 13)),
                "{format:?}"
            );
            let image = check_upload(&bytes, &UploadLimits::default()).expect("accepted");
            assert_eq!(image.dimensions(), (21, 13), "{format:?}");
            assert_eq!(image.get_pixel(4, 4), &Rgb([10, 200, 30]), "{format:?}");
        }
    }

    #[test]
    fn transparency_is_laid_over_white() {
        let mut rgba = RgbaImage::from_pixel(4, 4, Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 1, Rgba([200, 0, 0, 255]));
        let bytes = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let image = check_upload(&bytes, &UploadLimits::default()).expect("accepted");
        assert_eq!(image.get_pixel(0, 0), &Rgb([255, 255, 255]));
        assert_eq!(image.get_pixel(1, 1), &Rgb([200, 0, 0]));
    }

    #[test]
    fn text_is_not_an_image_whatever_its_name() {
        let error = check_upload(b"hello, this is a.png really", &UploadLimits::default())
            .expect_err("refused");
        assert_eq!(error, UploadError::NotAnImage);
        assert_eq!(
            error.to_string(),
            "That file is not an image (PNG, JPEG, WebP or GIF)."
        );
        assert_eq!(
            check_upload(b"", &UploadLimits::default()),
            Err(UploadError::NotAnImage)
        );
    }

    #[test]
    fn other_image_formats_are_refused() {
        let bmp = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Png);
        // A BMP signature in front of otherwise plausible bytes.
        let mut bytes = b"BM".to_vec();
        bytes.extend(&bmp[2..]);
        assert_eq!(
            check_upload(&bytes, &UploadLimits::default()),
            Err(UploadError::NotAnImage)
        );
    }

    #[test]
    fn too_many_bytes_are_refused_before_anything_else() {
        let limits = UploadLimits {
            max_bytes: 10 * 1024 * 1024,
            ..UploadLimits::default()
        };
        // 12.4 MB of zeros: not an image either, but the size is what the user hears about.
        let bytes = vec![0u8; (12.35 * MB) as usize];
        let error = check_upload(&bytes, &limits).expect_err("refused");
        assert!(matches!(error, UploadError::TooManyBytes { .. }));
        assert_eq!(
            error.to_string(),
            "That file is 12.4 MB; images can be at most 10 MB."
        );
        // A file one byte over the limit never reads as the limit itself.
        let over = UploadError::TooManyBytes {
            bytes: limits.max_bytes + 1,
            limit: limits.max_bytes,
        };
        assert_eq!(
            over.to_string(),
            "That file is 10.1 MB; images can be at most 10 MB."
        );
        let exactly = vec![0u8; limits.max_bytes];
        assert_eq!(
            check_upload(&exactly, &limits),
            Err(UploadError::NotAnImage)
        );
    }

    #[test]
    fn a_huge_png_header_is_refused_from_the_header() {
        let bytes = png_header(100_000, 100_000);
        assert_eq!(
            header_dimensions(&bytes, ImageFormat::Png),
            Some((100_000, 100_000))
        );
        let error = check_upload(&bytes, &UploadLimits::default()).expect_err("refused");
        assert_eq!(
            error,
            UploadError::TooWide {
                width: 100_000,
                height: 100_000,
                max_side: 4096
            }
        );
        assert_eq!(
            error.to_string(),
            "That image is 100000×100000 pixels; the largest allowed is 4096×4096."
        );
    }

    #[test]
    fn the_pixel_count_is_limited_as_well_as_the_sides() {
        let limits = UploadLimits {
            max_pixels: 1_000_000,
            ..UploadLimits::default()
        };
        let error = check_upload(&png_header(2000, 1000), &limits).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "That image is 2000×1000 pixels (2 million); images can have at most 1 million pixels."
        );
    }

    #[test]
    fn a_header_without_pixels_is_damaged() {
        assert_eq!(
            check_upload(&png_header(64, 64), &UploadLimits::default()),
            Err(UploadError::Damaged)
        );
        assert_eq!(
            check_upload(&png_header(0, 64), &UploadLimits::default()),
            Err(UploadError::Damaged)
        );
    }

    #[test]
    fn truncated_images_are_damaged() {
        let png = encode(&DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Png);
        let jpeg = encode(
            &DynamicImage::ImageRgb8(gradient(64, 64)),
            ImageFormat::Jpeg,
        );
        for (name, bytes) in [("png", &png), ("jpeg", &jpeg)] {
            for cut in [4, 12, 20, bytes.len() / 2, bytes.len() - 13] {
                let result = check_upload(&bytes[..cut], &UploadLimits::default());
                assert!(
                    matches!(result, Err(UploadError::Damaged | UploadError::NotAnImage)),
                    "{name} cut at {cut}: {:?}",
                    result.map(|image| image.dimensions())
                );
            }
        }
        assert_eq!(
            UploadError::Damaged.to_string(),
            "That image is damaged and can't be read."
        );
    }

    #[test]
    fn jpeg_headers_are_walked_past_other_segments() {
        // SOI, an APP0 segment, fill bytes, then SOF2 (progressive) declaring 5000 wide, 300 high.
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F'];
        bytes.extend([0xFF, 0xFF, 0xC2, 0x00, 0x11, 8, 0x01, 0x2C, 0x13, 0x88, 3]);
        assert_eq!(
            header_dimensions(&bytes, ImageFormat::Jpeg),
            Some((5000, 300))
        );
        assert!(matches!(
            check_upload(&bytes, &UploadLimits::default()),
            Err(UploadError::TooWide { width: 5000, .. })
        ));
        // DHT (0xC4) is not a frame header and is skipped.
        let dht = [
            0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x02, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 10, 0, 20,
        ];
        assert_eq!(header_dimensions(&dht, ImageFormat::Jpeg), Some((20, 10)));
        // A scan before any frame header has no size.
        let scan_first = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02];
        assert_eq!(header_dimensions(&scan_first, ImageFormat::Jpeg), None);
    }

    #[test]
    fn webp_headers_of_each_kind_are_read() {
        let riff = |fourcc: &[u8; 4], data: &[u8]| {
            let mut bytes = b"RIFF\0\0\0\0WEBP".to_vec();
            bytes.extend(fourcc);
            bytes.extend((data.len() as u32).to_le_bytes());
            bytes.extend(data);
            bytes
        };
        let lossy = riff(
            b"VP8 ",
            &[0, 0, 0, 0x9D, 0x01, 0x2A, 0x80, 0x3E, 0x10, 0x27],
        );
        assert_eq!(
            header_dimensions(&lossy, ImageFormat::WebP),
            Some((16000, 10000))
        );
        // VP8X canvas 30000 × 2 (stored minus one, 24-bit little-endian).
        let extended = riff(b"VP8X", &[0, 0, 0, 0, 0x2F, 0x75, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(
            header_dimensions(&extended, ImageFormat::WebP),
            Some((30000, 2))
        );
        assert!(matches!(
            check_upload(&extended, &UploadLimits::default()),
            Err(UploadError::TooWide { width: 30000, .. })
        ));
    }

    #[test]
    fn decoding_is_bounded_by_the_limits_too() {
        let limits = UploadLimits::default();
        let decode = decode_limits(&limits);
        assert_eq!(decode.max_image_width, Some(4096));
        assert_eq!(decode.max_image_height, Some(4096));
    }

    #[test]
    fn a_gif_frame_larger_than_its_screen_is_refused_before_decoding() {
        // A GIF whose frame claims more than its logical screen: the header passes (8×8), the
        // walk of its frames does not. (This once reached the decoder, whose own limits
        // stopped it.)
        let mut gif = b"GIF89a".to_vec();
        gif.extend([8, 0, 8, 0, 0, 0, 0]);
        // Image descriptor: at (0, 0), 60000 × 60000, a local palette of two colours.
        gif.extend([0x2C, 0, 0, 0, 0, 0x60, 0xEA, 0x60, 0xEA, 0x80]);
        gif.extend([0, 0, 0, 255, 255, 255]);
        // A few bytes of LZW data, then the trailer.
        gif.extend([2, 2, 0x4C, 0x01, 0, 0x3B]);
        assert_eq!(
            inspect(&gif, &UploadLimits::default()),
            Err(UploadError::Damaged)
        );
        let budget = DecodeBudget::new(1 << 30, 1, std::time::Duration::ZERO);
        let result = check_upload_within(&gif, &UploadLimits::default(), &budget);
        assert_eq!(
            result.map(|image| image.dimensions()),
            Err(UploadError::Damaged)
        );
        assert_eq!(budget.stats().granted, 0, "nothing was reserved for it");
    }
}
