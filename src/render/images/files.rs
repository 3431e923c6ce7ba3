//! Images on disk: content-addressed PNG files, the 2×2 grid and the labelled pair image, and
//! encoding a picture to be posted within a size limit: lossless when it fits
//! ([`encode_within`]), or lossy for pictures that only need to be looked at
//! ([`encode_to_view`]). Stored files are always lossless PNG.
//!
//! A file is named by the SHA-256 of its PNG bytes (`<64 hex>.png`), so the same picture is
//! stored once and a name can never point at different pixels. Files are written to a temporary
//! name, synced to disk and renamed into place, and the folder is synced, so a reader never sees
//! half a file and a database row written afterwards never names a file a power cut lost.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, imageops};
use sha2::{Digest, Sha256};

use crate::render::RenderError;

/// An image saved under its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    /// Lowercase hex SHA-256 of the PNG bytes.
    pub hash: String,
    pub path: PathBuf,
}

/// The PNG bytes of `image`: fast deflate with the `Sub` filter on every row. Against the
/// adaptive filter's choice per row, a 768×384 pair image encodes about 17% faster and decodes
/// about 40% faster for about 12% more bytes; both sit on the path from a vote to the next
/// pair (two pool images read, one pair image written).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, RenderError> {
    let mut bytes = Vec::new();
    write_rgb(
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Sub),
        image,
    )?;
    Ok(bytes)
}

/// Writes `image` through `encoder`.
fn write_rgb(encoder: impl ImageEncoder, image: &RgbImage) -> Result<(), RenderError> {
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| RenderError::Encode(e.to_string()))
}

/// The file format of an [`Encoded`] picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Png,
    Jpeg,
}

impl Encoding {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Png => "png",
            Encoding::Jpeg => "jpg",
        }
    }
}

/// A picture's bytes and their format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub encoding: Encoding,
}

/// JPEG qualities tried, best first, when a picture's PNG is too large to post.
const JPEG_QUALITIES: [u8; 3] = [90, 80, 70];

/// JPEG qualities tried, best first, for a picture that only needs to be looked at. 85 is
/// where JPEG artefacts stop being visible at a glance on photographs and rendered pictures
/// alike; the lower ones are for pictures that would otherwise not fit.
const VIEW_QUALITIES: [u8; 4] = [85, 75, 65, 55];

/// `image` encoded in at most `max_bytes`: lossless PNG when that fits; else JPEG at quality
/// 90, 80 or 70, the first that fits; else the same at half the width and height, and so on.
/// Photographs of 1024 pixels a side make a 2048² grid whose PNG can pass a chat service's
/// upload limit; its JPEG at quality 90 is a few times smaller.
pub fn encode_within(image: &RgbImage, max_bytes: usize) -> Result<Encoded, RenderError> {
    let png = encode_png(image)?;
    if png.len() <= max_bytes {
        return Ok(Encoded {
            bytes: png,
            encoding: Encoding::Png,
        });
    }
    jpeg_within(image, max_bytes, &JPEG_QUALITIES)
}

/// `image`, a picture that only needs to be looked at (the `/rank` pair), as a JPEG of at
/// most `max_bytes`: quality 85, 75, 65 or 55, the first that fits; else the same at half the
/// width and height, and so on. A pair of two 384-pixel pictures is several times smaller than
/// its PNG, which matters when it is sent on every click. (The `image` crate's WebP encoder is
/// lossless only, so WebP would not be smaller.)
pub fn encode_to_view(image: &RgbImage, max_bytes: usize) -> Result<Encoded, RenderError> {
    jpeg_within(image, max_bytes, &VIEW_QUALITIES)
}

/// `image` as a JPEG of at most `max_bytes`: at each of `qualities` in turn, the first that
/// fits, then the same at half the width and height, and so on.
fn jpeg_within(
    image: &RgbImage,
    max_bytes: usize,
    qualities: &[u8],
) -> Result<Encoded, RenderError> {
    let mut scaled: Option<RgbImage> = None;
    loop {
        let current = scaled.as_ref().unwrap_or(image);
        for &quality in qualities {
            let jpeg = encode_jpeg(current, quality)?;
            if jpeg.len() <= max_bytes {
                return Ok(Encoded {
                    bytes: jpeg,
                    encoding: Encoding::Jpeg,
                });
            }
        }
        let (w, h) = current.dimensions();
        if w < 2 || h < 2 {
            return Err(RenderError::Encode(format!(
                "a {}×{} picture does not fit in {max_bytes} bytes",
                image.width(),
                image.height()
            )));
        }
        scaled = Some(imageops::resize(
            current,
            w / 2,
            h / 2,
            imageops::FilterType::Triangle,
        ));
    }
}

/// `image` made smaller, keeping its proportions, when a side is longer than `max_side`.
pub fn fit_within(image: RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    if w <= max_side && h <= max_side {
        return image;
    }
    let scale = f64::from(max_side) / f64::from(w.max(h));
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, max_side);
    imageops::resize(&image, side(w), side(h), imageops::FilterType::Triangle)
}

/// The JPEG bytes of `image` at `quality` (1–100).
fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, RenderError> {
    let mut bytes = Vec::new();
    write_rgb(JpegEncoder::new_with_quality(&mut bytes, quality), image)?;
    Ok(bytes)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the image with content hash `hash` lives in `dir`.
pub fn image_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!("{hash}.png"))
}

/// Encodes `image` as PNG and stores it in `dir` (created if needed) under its content hash.
/// Saving the same pixels twice writes nothing the second time.
pub fn save_png(dir: &Path, image: &RgbImage) -> Result<SavedImage, RenderError> {
    let bytes = encode_png(image)?;
    save_png_bytes(dir, &bytes)
}

/// Stores already-encoded PNG bytes in `dir` under their content hash, durably: the file and
/// the folder's entry for it are on disk when this returns, so a database row naming the file
/// can be committed after it. A file already there is kept only if it holds exactly these
/// bytes (a power cut can leave an empty or partial file behind); otherwise it is replaced.
pub fn save_png_bytes(dir: &Path, bytes: &[u8]) -> Result<SavedImage, RenderError> {
    let hash = content_hash(bytes);
    let path = image_path(dir, &hash);
    let write_error = |e: std::io::Error| RenderError::WriteImage {
        path: path.clone(),
        reason: e.to_string(),
    };
    if holds_hash(&path, &hash) {
        // Saved again just now: garbage collection must not take it for an old file that
        // nothing names (it spares files changed within `retention.temp_files_minutes`).
        std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .map_err(write_error)?;
    } else {
        std::fs::create_dir_all(dir).map_err(write_error)?;
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let temp = dir.join(format!(
            ".{hash}.{}.{}{TEMP_SUFFIX}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_synced(&temp, bytes)
            .and_then(|()| std::fs::rename(&temp, &path))
            .and_then(|()| sync_dir(dir));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(write_error(e));
        }
    }
    Ok(SavedImage { hash, path })
}

/// The ending of the temporary files [`save_png_bytes`] writes before renaming them into
/// place; one left behind by a crash is garbage.
pub const TEMP_SUFFIX: &str = ".tmp";

/// What a file in the images folder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A stored image, `<hash>.png`.
    Image { hash: String },
    /// A temporary file of [`save_png_bytes`].
    Temp,
    /// Anything else (left alone).
    Other,
}

/// A file in the images folder.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub bytes: u64,
    pub modified: std::time::SystemTime,
}

/// The files in the images folder `dir`; none if it does not exist yet.
pub fn stored_files(dir: &Path) -> std::io::Result<Vec<StoredFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = FileKind::of_name(&name);
        files.push(StoredFile {
            path: entry.path(),
            kind,
            bytes: meta.len(),
            modified: meta.modified()?,
        });
    }
    Ok(files)
}

/// Whether the file at `path` exists and its content hash is `hash`.
pub fn holds_hash(path: &Path, hash: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| content_hash(&bytes) == hash)
}

/// Writes `bytes` to a new file at `path` and waits until they are on disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Waits until the entries of folder `dir` (a file just renamed into it) are on disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `image` as a PNG at exactly `path` (for `tastebud render --out`).
pub fn write_png(path: &Path, image: &RgbImage) -> Result<(), RenderError> {
    let bytes = encode_png(image)?;
    std::fs::write(path, bytes).map_err(|e| RenderError::WriteImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads any PNG or JPEG file as RGB.
pub fn load_image(path: &Path) -> Result<RgbImage, RenderError> {
    let read_error = |reason: String| RenderError::ReadImage {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| read_error(e.to_string()))?;
    decode_image(&bytes).map_err(|e| read_error(e.to_string()))
}

/// Decodes PNG or JPEG bytes as RGB.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, RenderError> {
    image::load_from_memory(bytes)
        .map(|i| i.into_rgb8())
        .map_err(|e| RenderError::Decode(e.to_string()))
}

/// Colour of grid cells that have no image, and of the gap in the pair image.
const BACKDROP: Rgb<u8> = Rgb([24, 24, 28]);

/// Up to four images of one size in a 2×2 grid (reading order), with no gaps; empty cells are
/// dark.
pub fn grid(images: &[RgbImage]) -> Result<RgbImage, RenderError> {
    let first = images
        .first()
        .ok_or_else(|| RenderError::BadRequest("a grid needs at least one image".into()))?;
    if images.len() > 4 {
        return Err(RenderError::BadRequest(format!(
            "a grid holds at most 4 images, not {}",
            images.len()
        )));
    }
    let (w, h) = first.dimensions();
    if images.iter().any(|i| i.dimensions() != (w, h)) {
        return Err(RenderError::BadRequest(
            "the images of a grid must all have the same size".into(),
        ));
    }
    let mut out = RgbImage::from_pixel(w * 2, h * 2, BACKDROP);
    for (i, image) in images.iter().enumerate() {
        let (x, y) = ((i as u32 % 2) * w, (i as u32 / 2) * h);
        paste(&mut out, image, x, y);
    }
    Ok(out)
}

/// Copies `image` into `out` with its top-left corner at (`x`, `y`), clipped to `out`: one
/// slice copy per row (`imageops::replace` goes pixel by pixel, a measurable part of composing
/// each pair).
fn paste(out: &mut RgbImage, image: &RgbImage, x: u32, y: u32) {
    let (out_w, out_h) = out.dimensions();
    if x >= out_w || y >= out_h {
        return;
    }
    let cols = image.width().min(out_w - x) as usize * 3;
    let rows = image.height().min(out_h - y) as usize;
    let (src_stride, dst_stride) = (image.width() as usize * 3, out_w as usize * 3);
    let (src, dst) = (image.as_raw(), &mut **out);
    for r in 0..rows {
        let from = r * src_stride;
        let to = (y as usize + r) * dst_stride + x as usize * 3;
        dst[to..to + cols].copy_from_slice(&src[from..from + cols]);
    }
}

/// Two images side by side with a gap, labelled `1` (left) and `2` (right) in their top-left
/// corners: the picture a user ranks.
pub fn pair_image(left: &RgbImage, right: &RgbImage) -> RgbImage {
    let gap = (left.width() / 32).max(4);
    let width = left.width() + gap + right.width();
    let height = left.height().max(right.height());
    let mut out = RgbImage::from_pixel(width, height, BACKDROP);
    paste(&mut out, left, 0, 0);
    paste(&mut out, right, left.width() + gap, 0);
    let scale = (height / 96).max(2);
    draw_label(&mut out, 1, scale * 3, scale * 3);
    draw_label(&mut out, 2, left.width() + gap + scale * 3, scale * 3);
    out
}

/// 5×7 glyphs of the digits 1 and 2, one row per byte (bit 4 is the leftmost column).
const GLYPHS: [[u8; 7]; 2] = [
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ],
];

/// Draws digit `digit` (1 or 2) in black on a white badge at (`x`, `y`).
fn draw_label(image: &mut RgbImage, digit: usize, x: u32, y: u32) {
    let scale = (image.height() / 96).max(2);
    let glyph = GLYPHS[(digit.clamp(1, 2)) - 1];
    let pad = scale * 2;
    let (bw, bh) = (5 * scale + 2 * pad, 7 * scale + 2 * pad);
    for dy in 0..bh {
        for dx in 0..bw {
            let (px, py) = (x + dx, y + dy);
            if px >= image.width() || py >= image.height() {
                continue;
            }
            let (gx, gy) = (dx.wrapping_sub(pad) / scale, dy.wrapping_sub(pad) / scale);
            let ink = dx >= pad
                && dy >= pad
                && gx < 5
                && gy < 7
                && glyph[gy as usize] & (0b10000 >> gx) != 0;
            image.put_pixel(
                px,
                py,
                if ink {
                    Rgb([0, 0, 0])
                } else {
                    Rgb([255, 255, 255])
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 31 + y * 17 + seed * 101) as u8;
            Rgb([v, v.wrapping_mul(3), v ^ 0x5a])
        })
    }

    #[test]
    fn paste_matches_imageops_replace_including_clipping() {
        for (x, y) in [(0, 0), (5, 3), (20, 10), (29, 19), (30, 20)] {
            let image = noise(12, 9, x + y);
            let mut ours = noise(30, 20, 7);
            let mut theirs = ours.clone();
            paste(&mut ours, &image, x, y);
            image::imageops::replace(&mut theirs, &image, x as i64, y as i64);
            assert_eq!(ours, theirs, "pasted at ({x}, {y})");
        }
    }

    /// Pixels drawn at random: an image PNG cannot compress, as photographs nearly are.
    fn random_pixels(w: u32, h: u32) -> RgbImage {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        RgbImage::from_fn(w, h, |_, _| Rgb([rng.random(), rng.random(), rng.random()]))
    }

    #[test]
    fn a_picture_whose_png_fits_stays_a_lossless_png() {
        let image = noise(64, 48, 1);
        let encoded = encode_within(&image, 1 << 20).unwrap();
        assert_eq!(encoded.encoding, Encoding::Png);
        assert_eq!(encoded.bytes, encode_png(&image).unwrap());
        assert_eq!(decode_image(&encoded.bytes).unwrap(), image);
    }

    #[test]
    fn a_picture_too_large_as_png_becomes_a_jpeg_within_the_limit() {
        let image = random_pixels(256, 256);
        let png = encode_png(&image).unwrap().len();
        let limit = png / 2;
        let encoded = encode_within(&image, limit).unwrap();
        assert_eq!(encoded.encoding, Encoding::Jpeg);
        assert!(
            encoded.bytes.len() <= limit,
            "{} > {limit}",
            encoded.bytes.len()
        );
        assert_eq!(encoded.encoding.extension(), "jpg");
        assert!(decode_image(&encoded.bytes).is_ok());
    }

    #[test]
    fn a_tight_limit_halves_the_picture_until_it_fits() {
        let image = random_pixels(256, 128);
        let encoded = encode_within(&image, 4000).unwrap();
        assert_eq!(encoded.encoding, Encoding::Jpeg);
        assert!(encoded.bytes.len() <= 4000);
        let decoded = decode_image(&encoded.bytes).unwrap();
        assert!(decoded.width() < 256, "width {}", decoded.width());
        assert_eq!(
            decoded.width(),
            decoded.height() * 2,
            "the aspect ratio is kept"
        );
    }

    #[test]
    fn a_picture_to_view_is_a_jpeg_within_the_limit_even_when_its_png_fits() {
        let image = noise(64, 48, 1);
        let viewed = encode_to_view(&image, 1 << 20).unwrap();
        assert_eq!(viewed.encoding, Encoding::Jpeg);
        assert_eq!(decode_image(&viewed.bytes).unwrap().dimensions(), (64, 48));
        let random = random_pixels(256, 128);
        let tight = encode_to_view(&random, 4000).unwrap();
        assert!(tight.bytes.len() <= 4000);
        assert!(decode_image(&tight.bytes).unwrap().width() < 256);
    }

    #[test]
    fn a_limit_nothing_fits_in_is_an_error() {
        let err = encode_within(&random_pixels(16, 16), 10).unwrap_err();
        assert!(
            err.to_string().contains("does not fit in 10 bytes"),
            "{err}"
        );
    }
}
