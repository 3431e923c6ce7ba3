//! Walking an upload's container before any decoder runs: the true size of every frame in it,
//! not only the size its first header declares, and the memory a decode of it will take.
//!
//! A header is a claim. The decoders allocate for what the *frames* say: image-webp decodes a
//! `VP8 ` frame at the frame's own size (up to 16383²) before comparing it with the `VP8X`
//! canvas, and decodes an animation frame's bitstream before comparing it with its `ANMF`
//! header. So [`inspect`] reads every frame header a decoder could act on:
//!
//! - **WebP** ([RFC 9649]): the `VP8X` canvas, every `VP8 `/`VP8L` chunk's own frame header
//!   (which for a still image must match the canvas), and every `ANMF` frame: its offset and
//!   size (which must fit inside the canvas) and the frame header of its bitstream (which must
//!   match the `ANMF` size).
//! - **GIF** (GIF89a): every image descriptor, walking extension blocks and LZW sub-blocks;
//!   each must fit inside the logical screen ("Each image must fit within the boundaries of
//!   the Logical Screen", §20).
//! - **PNG**: `IHDR`, and every APNG `fcTL` frame, which must fit inside the `IHDR` canvas.
//! - **JPEG**: every start-of-frame in the marker stream, walking entropy-coded scans (an EXIF
//!   thumbnail's frame header lies inside its `APP1` segment and is skipped with it); a second
//!   frame header is refused, as is a frame of more than four components.
//!
//! From the true frame sizes and the layouts the decoders use (noted at each estimate),
//! [`Inspection::decode_bytes`] bounds the memory a decode allocates at its peak, including
//! turning the result into RGB. The upload tests check that bound against what an allocator
//! sees during real decodes.
//!
//! [RFC 9649]: https://www.rfc-editor.org/rfc/rfc9649

use image::ImageFormat;

use super::{UploadError, UploadLimits};

/// What an upload's container holds, read without decoding a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub format: ImageFormat,
    /// Width of the picture a decode produces (canvas, logical screen or `IHDR` size).
    pub width: u32,
    /// Height of the picture a decode produces.
    pub height: u32,
    /// Frames in the file: 1 for a still image.
    pub frames: u32,
    /// Width × height summed over every frame.
    pub frame_pixels: u64,
    /// The most bytes a decode of this file (and its conversion to RGB) allocates at once.
    pub decode_bytes: u64,
}

/// Room for what does not grow with the picture: zlib and LZW state, Huffman tables, palettes,
/// the decoder structs themselves.
const WORKING_ROOM: u64 = 2 * 1024 * 1024;

/// Reads every frame header in `bytes` (of the sniffed `format`, whose declared size has
/// already passed `limits`) and estimates what decoding it costs.
pub(super) fn inspect(
    bytes: &[u8],
    format: ImageFormat,
    (width, height): (u32, u32),
    limits: &UploadLimits,
) -> Result<Inspection, UploadError> {
    let walk = match format {
        ImageFormat::Png => png(bytes, width, height, limits)?,
        ImageFormat::Jpeg => jpeg(bytes, limits)?,
        ImageFormat::Gif => gif(bytes, width, height, limits)?,
        ImageFormat::WebP => webp(bytes, width, height, limits)?,
        _ => return Err(UploadError::NotAnImage),
    };
    Ok(Inspection {
        format,
        width,
        height,
        frames: walk.frames,
        frame_pixels: walk.frame_pixels,
        decode_bytes: walk.decode_bytes.saturating_add(WORKING_ROOM),
    })
}

/// What a walk found.
struct Walk {
    frames: u32,
    frame_pixels: u64,
    decode_bytes: u64,
}

/// Width and height as the header of `bytes` declares them, without decoding any pixels.
/// `None` when the header is cut short or malformed.
pub(super) fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Png => png_dimensions(bytes),
        ImageFormat::Jpeg => jpeg_dimensions(bytes),
        ImageFormat::Gif => gif_dimensions(bytes),
        ImageFormat::WebP => webp_dimensions(bytes),
        _ => None,
    }
}

/// A frame's own size against the limits, so that no frame, whatever its container says,
/// is larger than an image may be.
fn frame_within_limits(width: u32, height: u32, limits: &UploadLimits) -> Result<(), UploadError> {
    if width > limits.max_side || height > limits.max_side {
        return Err(UploadError::TooWide {
            width,
            height,
            max_side: limits.max_side,
        });
    }
    if area(width, height) > limits.max_pixels {
        return Err(UploadError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

fn area(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height)
}

/// Whether a `width` × `height` frame at (`x`, `y`) lies inside a `canvas_w` × `canvas_h`
/// canvas.
fn fits(x: u32, y: u32, width: u32, height: u32, canvas_w: u32, canvas_h: u32) -> bool {
    u64::from(x) + u64::from(width) <= u64::from(canvas_w)
        && u64::from(y) + u64::from(height) <= u64::from(canvas_h)
}

/// Bytes that turning a decoded `width` × `height` picture into RGB allocates: RGBA first and
/// then RGB when it may be transparent (see `flatten`), else one RGB copy.
fn flatten_bytes(width: u32, height: u32, alpha: bool) -> u64 {
    area(width, height) * if alpha { 4 + 3 } else { 3 }
}

pub(super) fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le_u24(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(3)?)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

// ---------------------------------------------------------------------------------------------
// PNG

/// PNG: the first chunk after the 8-byte signature must be IHDR, whose data starts with the
/// width and height as big-endian u32.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if be_u32(bytes, 8)? != 13 || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be_u32(bytes, 16)?, be_u32(bytes, 20)?))
}

/// PNG and APNG: `IHDR`'s depth and colour type give the decoded layout; every `fcTL` must lie
/// inside the canvas. Only the default image is decoded (image's `PngDecoder`), but every
/// frame is checked all the same.
fn png(bytes: &[u8], width: u32, height: u32, limits: &UploadLimits) -> Result<Walk, UploadError> {
    let depth = *bytes.get(24).ok_or(UploadError::Damaged)?;
    let colour = *bytes.get(25).ok_or(UploadError::Damaged)?;
    // Samples per pixel as stored, and as decoded without and with a tRNS chunk: image asks
    // the png crate to expand palettes and tRNS into RGB(A), and keeps 16-bit samples.
    let (stored, opaque, transparent) = match colour {
        0 => (1, 1, 2), // grey
        2 => (3, 3, 4), // RGB
        3 => (1, 3, 4), // palette indices
        4 => (2, 2, 2), // grey and alpha
        6 => (4, 4, 4), // RGBA
        _ => return Err(UploadError::Damaged),
    };
    if !matches!(depth, 1 | 2 | 4 | 8 | 16) {
        return Err(UploadError::Damaged);
    }
    let sample_bytes = if depth == 16 { 2 } else { 1 };
    let row_bytes = (u64::from(width) * stored * u64::from(depth)).div_ceil(8) + 1;

    let mut frames = 0u32;
    let mut frame_pixels = 0u64;
    let mut idat_before_fctl = false;
    let mut trns = false;
    let mut at = 8usize;
    // Chunks: length, type, data, CRC. A chunk cut off by the end of the file ends the walk:
    // the decoder reads a chunk whole before it acts on it, so it fails there too.
    while let (Some(length), Some(kind)) = (be_u32(bytes, at), bytes.get(at + 4..at + 8)) {
        if length > 0x7FFF_FFFF {
            return Err(UploadError::Damaged);
        }
        let data = at + 8;
        let Some(end) = data
            .checked_add(length as usize)
            .filter(|&e| e <= bytes.len())
        else {
            break;
        };
        match kind {
            b"IDAT" if frames == 0 => idat_before_fctl = true,
            b"tRNS" => trns = true,
            b"fcTL" => {
                if length != 26 {
                    return Err(UploadError::Damaged);
                }
                let field = |n: usize| be_u32(bytes, data + 4 + 4 * n).ok_or(UploadError::Damaged);
                let (w, h, x, y) = (field(0)?, field(1)?, field(2)?, field(3)?);
                if w == 0 || h == 0 || !fits(x, y, w, h, width, height) {
                    return Err(UploadError::Damaged);
                }
                frame_within_limits(w, h, limits)?;
                frames = frames.saturating_add(1);
                frame_pixels = frame_pixels.saturating_add(area(w, h));
            }
            b"IEND" => break,
            _ => {}
        }
        at = end + 4;
    }
    if frames == 0 || idat_before_fctl {
        // The default image is a frame of its own (a still PNG, or an APNG whose IDAT is not
        // part of the animation).
        frames = frames.saturating_add(1);
        frame_pixels = frame_pixels.saturating_add(area(width, height));
    }

    // The png crate keeps the previous and current row (and one more for Adam7 passes); the
    // output is the whole decoded picture.
    let decoded = if trns { transparent } else { opaque };
    let decoded_bytes = area(width, height) * decoded * sample_bytes;
    let alpha = decoded == 2 || decoded == 4;
    Ok(Walk {
        frames,
        frame_pixels,
        decode_bytes: decoded_bytes + 4 * row_bytes + flatten_bytes(width, height, alpha),
    })
}

// ---------------------------------------------------------------------------------------------
// GIF

/// GIF: the logical screen descriptor follows the 6-byte signature, little-endian u16s.
fn gif_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    Some((u32::from(le_u16(bytes, 6)?), u32::from(le_u16(bytes, 8)?)))
}

/// The offset after a run of GIF sub-blocks (each a length byte and that many bytes, ended by
/// a zero length) starting at `at`, or `None` when the file ends first.
fn gif_skip_sub_blocks(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let size = usize::from(*bytes.get(at)?);
        at += 1;
        if size == 0 {
            return Some(at);
        }
        at += size;
    }
}

/// The size of a GIF colour table announced by `packed` (global or local), in bytes.
fn gif_table_bytes(packed: u8) -> usize {
    if packed & 0x80 != 0 {
        3 << ((packed & 0x07) + 1)
    } else {
        0
    }
}

/// GIF: every image descriptor, each inside the logical screen. The walk ends at the trailer,
/// at the end of the file, or at a byte that starts no block (where the gif crate stops too).
fn gif(bytes: &[u8], width: u32, height: u32, limits: &UploadLimits) -> Result<Walk, UploadError> {
    let packed = *bytes.get(10).ok_or(UploadError::Damaged)?;
    let mut at = 13 + gif_table_bytes(packed);
    let mut frames = 0u32;
    let mut frame_pixels = 0u64;
    let mut largest_frame = 0u64;
    while let Some(&block) = bytes.get(at) {
        match block {
            // Extension: a label, then sub-blocks.
            0x21 => match gif_skip_sub_blocks(bytes, at + 2) {
                Some(next) => at = next,
                None => break,
            },
            // Image descriptor: left, top, width, height, packed fields.
            0x2C => {
                let (Some(x), Some(y), Some(w), Some(h), Some(&packed)) = (
                    le_u16(bytes, at + 1),
                    le_u16(bytes, at + 3),
                    le_u16(bytes, at + 5),
                    le_u16(bytes, at + 7),
                    bytes.get(at + 9),
                ) else {
                    break;
                };
                let (x, y, w, h) = (u32::from(x), u32::from(y), u32::from(w), u32::from(h));
                if !fits(x, y, w, h, width, height) {
                    return Err(UploadError::Damaged);
                }
                frame_within_limits(w, h, limits)?;
                frames = frames.saturating_add(1);
                frame_pixels = frame_pixels.saturating_add(area(w, h));
                largest_frame = largest_frame.max(area(w, h));
                // Local colour table, LZW minimum code size, then the image data sub-blocks.
                let data = at + 10 + gif_table_bytes(packed) + 1;
                match gif_skip_sub_blocks(bytes, data) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    if frames == 0 {
        return Err(UploadError::Damaged);
    }
    // image's GifDecoder decodes the first frame as RGBA into the screen-sized output; a frame
    // that is not the screen's full width is decoded into a buffer of its own (4 bytes a
    // pixel) first, and the gif crate decodes LZW indices into a buffer of one byte a pixel.
    Ok(Walk {
        frames,
        frame_pixels,
        decode_bytes: area(width, height) * 4
            + largest_frame * 5
            + flatten_bytes(width, height, true),
    })
}

// ---------------------------------------------------------------------------------------------
// WebP

/// A chunk of a RIFF container: its FourCC, where its data starts, its declared size, and
/// the data that is really there (possibly cut short by the end of the file).
struct Chunk<'a> {
    fourcc: &'a [u8],
    data: &'a [u8],
    size: u32,
    /// Offset just past the chunk and its padding byte.
    next: usize,
}

/// The RIFF chunk whose header starts at `at` in `bytes`, if its 8-byte header is there.
fn riff_chunk(bytes: &[u8], at: usize) -> Option<Chunk<'_>> {
    let fourcc = bytes.get(at..at.checked_add(4)?)?;
    let size = le_u32(bytes, at + 4)?;
    let start = at + 8;
    let padded = usize::try_from(u64::from(size) + u64::from(size & 1)).ok()?;
    let end = start.saturating_add(size as usize).min(bytes.len());
    Some(Chunk {
        fourcc,
        data: &bytes[start.min(end)..end],
        size,
        next: start.saturating_add(padded),
    })
}

/// The chunks of a RIFF list from `at` to the end of `bytes`, while their headers are whole.
fn riff_chunks(bytes: &[u8], mut at: usize) -> impl Iterator<Item = Chunk<'_>> {
    std::iter::from_fn(move || {
        let chunk = riff_chunk(bytes, at)?;
        at = chunk.next;
        Some(chunk)
    })
}

/// A WebP bitstream's frame header: size, and whether it carries alpha (VP8L only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bitstream {
    lossless: bool,
    width: u32,
    height: u32,
    alpha: bool,
    /// Bytes of the bitstream chunk as declared.
    size: u32,
}

/// The frame header of a `VP8 ` or `VP8L` chunk; `None` when it is not a frame header a
/// decoder would accept (a lossy frame must be a key frame with the start code; a lossless one
/// needs its signature byte and version 0), or is cut short.
fn bitstream(chunk: &Chunk) -> Option<Bitstream> {
    let data = chunk.data;
    match chunk.fourcc {
        b"VP8 " => {
            // A 3-byte frame tag (bit 0 clear for a key frame), the start code 9d 01 2a, then
            // 14-bit width and height (the top two bits of each are a scaling hint).
            if data.first()? & 1 != 0 || data.get(3..6)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some(Bitstream {
                lossless: false,
                width: u32::from(le_u16(data, 6)? & 0x3FFF),
                height: u32::from(le_u16(data, 8)? & 0x3FFF),
                alpha: false,
                size: chunk.size,
            })
        }
        b"VP8L" => {
            // The signature byte 0x2f, then width − 1 and height − 1 in 14 bits each, an alpha
            // hint bit and a 3-bit version that must be 0.
            if *data.first()? != 0x2F {
                return None;
            }
            let bits = le_u32(data, 1)?;
            if bits >> 29 != 0 {
                return None;
            }
            Some(Bitstream {
                lossless: true,
                width: (bits & 0x3FFF) + 1,
                height: ((bits >> 14) & 0x3FFF) + 1,
                alpha: (bits >> 28) & 1 != 0,
                size: chunk.size,
            })
        }
        _ => None,
    }
}

/// WebP: a RIFF container whose first chunk is `VP8 ` (lossy), `VP8L` (lossless) or `VP8X`
/// (extended, which carries the canvas size).
fn webp_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let first = riff_chunk(bytes, 12)?;
    match first.fourcc {
        b"VP8 " | b"VP8L" => {
            let frame = bitstream(&first)?;
            Some((frame.width, frame.height))
        }
        // Flags and reserved bytes, then canvas width − 1 and height − 1 in 24 bits each.
        b"VP8X" => Some((le_u24(first.data, 4)? + 1, le_u24(first.data, 7)? + 1)),
        _ => None,
    }
}

/// Bytes image-webp allocates to decode a lossy frame (`vp8.rs`): Y, U and V planes rounded
/// up to whole 16×16 macroblocks, a 30-byte record per macroblock pushed one by one (so up to
/// twice that while the vector grows, three times while it moves), and the partitions read
/// whole, more than once, from the chunk. Each partition's buffer is allocated at the size
/// the bitstream declares before it is read (found by the upload fuzz target): the first
/// partition's 19-bit size, and a DCT partition's 24-bit size, up to 16 MiB, whatever the
/// file holds.
fn vp8_bytes(width: u32, height: u32, chunk_size: u32) -> u64 {
    const DECLARED_PARTITIONS: u64 = (1 << 19) + (1 << 24);
    let macroblocks = u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16));
    macroblocks * (16 * 16 + 2 * 8 * 8 + 3 * 32) + 4 * u64::from(chunk_size) + DECLARED_PARTITIONS
}

/// Bytes image-webp's lossless decoder allocates besides the frame's own ARGB buffer
/// (`lossless.rs`): predictor and colour transform images and the entropy image, each at most
/// a sixteenth of the frame at 4 bytes a pixel, the entropy image again as u16 codes, and a
/// colour cache of at most 2¹¹ entries.
///
/// Not covered: the Huffman tables. image-webp reads as many Huffman groups as the largest
/// code in the entropy image names (up to 65536, five tables of up to 4 KiB each), whether or
/// not any pixel uses them, and their number is only known after entropy-decoding the
/// transforms and the entropy image. So a lossless bitstream can make the decoder allocate
/// far more than its pixels need: `scripts/webp_huffman_groups.py` writes a 476 KB 1×1 file
/// for which it allocates 170 MB (3.8 MB of file name all 65536 groups). Only the budget's
/// slot count bounds that today; counting the groups needs a VP8L entropy decoder here.
fn vp8l_extra_bytes(width: u32, height: u32) -> u64 {
    area(width, height) * 2
}

/// Bytes of an `ALPH` chunk's decoding at `width` × `height` (`extended.rs`): compressed alpha
/// is a lossless image decoded to ARGB, then its green channel copied out.
fn alpha_bytes(width: u32, height: u32) -> u64 {
    area(width, height) * (4 + 1) + vp8l_extra_bytes(width, height)
}

/// Bytes to decode one bitstream at its own size besides the buffer it is decoded into: a
/// lossy frame's planes and macroblocks, a lossless frame's transforms and entropy image, and
/// an alpha plane when `with_alpha`.
fn bitstream_bytes(frame: &Bitstream, with_alpha: bool) -> u64 {
    let (w, h) = (frame.width, frame.height);
    let working = if frame.lossless {
        vp8l_extra_bytes(w, h)
    } else {
        vp8_bytes(w, h, frame.size)
    };
    working + if with_alpha { alpha_bytes(w, h) } else { 0 }
}

/// Bytes to decode a still image's bitstream into the output (`decoder.rs`, `read_image`): a
/// lossy frame is decoded, then written into the RGB or RGBA output (its alpha plane decoded
/// apart); a lossless one is decoded straight into an RGBA output, or into an RGBA buffer of
/// its own when the output is RGB.
fn still_bytes(frame: &Bitstream, alpha: bool) -> u64 {
    if frame.lossless {
        bitstream_bytes(frame, false)
            + if alpha {
                0
            } else {
                area(frame.width, frame.height) * 4
            }
    } else {
        bitstream_bytes(frame, alpha)
    }
}

/// VP8X flag bits (RFC 9649 §2.7).
const VP8X_ALPHA: u8 = 0x10;
const VP8X_ANIMATION: u8 = 0x02;

/// WebP: every bitstream's own frame header and every animation frame. A still image's
/// bitstream must be exactly the canvas; an animation frame must fit inside the canvas and its
/// bitstream must be exactly the frame.
fn webp(bytes: &[u8], width: u32, height: u32, limits: &UploadLimits) -> Result<Walk, UploadError> {
    let first = riff_chunk(bytes, 12).ok_or(UploadError::Damaged)?;
    if first.fourcc != b"VP8X" {
        // A simple file: the header already read is the frame's own.
        let frame = bitstream(&first).ok_or(UploadError::Damaged)?;
        frame_within_limits(frame.width, frame.height, limits)?;
        // Only a lossless header can announce alpha here.
        let output = area(width, height) * if frame.alpha { 4 } else { 3 };
        return Ok(Walk {
            frames: 1,
            frame_pixels: area(width, height),
            decode_bytes: output
                + still_bytes(&frame, frame.alpha)
                + flatten_bytes(width, height, frame.alpha),
        });
    }

    let flags = *first.data.first().ok_or(UploadError::Damaged)?;
    let alpha = flags & VP8X_ALPHA != 0;
    let animated = flags & VP8X_ANIMATION != 0;
    let mut stills = 0u32;
    let mut frames = 0u32;
    let mut frame_pixels = 0u64;
    // The most any one bitstream costs; frames are decoded one at a time.
    let mut largest = 0u64;
    for chunk in riff_chunks(bytes, first.next) {
        match chunk.fourcc {
            b"VP8 " | b"VP8L" => {
                let frame = bitstream(&chunk).ok_or(UploadError::Damaged)?;
                if (frame.width, frame.height) != (width, height) {
                    return Err(UploadError::Damaged);
                }
                frame_within_limits(frame.width, frame.height, limits)?;
                stills = stills.saturating_add(1);
                largest = largest.max(still_bytes(&frame, alpha));
            }
            b"ANMF" => {
                let frame = anmf_frame(&chunk, width, height, limits)?;
                frames = frames.saturating_add(1);
                frame_pixels = frame_pixels.saturating_add(area(frame.width, frame.height));
                largest = largest.max(frame.bytes);
            }
            _ => {}
        }
    }
    let output = area(width, height) * if alpha { 4 } else { 3 };
    if animated {
        if frames == 0 {
            return Err(UploadError::Damaged);
        }
        // Frames are composed onto an RGBA canvas of their own, then copied to the output.
        return Ok(Walk {
            frames,
            frame_pixels,
            decode_bytes: area(width, height) * 4
                + output
                + largest
                + flatten_bytes(width, height, alpha),
        });
    }
    if stills == 0 {
        return Err(UploadError::Damaged);
    }
    Ok(Walk {
        frames: 1,
        frame_pixels: area(width, height),
        decode_bytes: output + largest + flatten_bytes(width, height, alpha),
    })
}

/// An animation frame's size and what decoding it costs.
struct AnimationFrame {
    width: u32,
    height: u32,
    bytes: u64,
}

/// An `ANMF` chunk: X and Y offsets (halved) and width − 1 and height − 1, 24 bits each, a
/// duration and flags, then the frame's chunks: an optional `ALPH` and a `VP8 ` or `VP8L`
/// bitstream (image-webp decodes whatever follows `ALPH` as lossy), then unknown chunks.
fn anmf_frame(
    chunk: &Chunk,
    canvas_w: u32,
    canvas_h: u32,
    limits: &UploadLimits,
) -> Result<AnimationFrame, UploadError> {
    let data = chunk.data;
    // The frame chunks are whole chunks, so the ANMF size is even; image-webp steps from frame
    // to frame by the unpadded size, and an odd one would set it reading somewhere else.
    if !chunk.size.is_multiple_of(2) {
        return Err(UploadError::Damaged);
    }
    let field = |at: usize| le_u24(data, at).ok_or(UploadError::Damaged);
    let (x, y) = (field(0)? * 2, field(3)? * 2);
    let (width, height) = (field(6)? + 1, field(9)? + 1);
    if !fits(x, y, width, height, canvas_w, canvas_h) {
        return Err(UploadError::Damaged);
    }
    frame_within_limits(width, height, limits)?;

    let mut inner = riff_chunks(data, 16);
    let first = inner.next().ok_or(UploadError::Damaged)?;
    let (with_alpha, stream) = if first.fourcc == b"ALPH" {
        let next = inner.next().ok_or(UploadError::Damaged)?;
        if next.fourcc != b"VP8 " {
            return Err(UploadError::Damaged);
        }
        (true, next)
    } else {
        (false, first)
    };
    let frame = bitstream(&stream).ok_or(UploadError::Damaged)?;
    if (frame.width, frame.height) != (width, height) {
        return Err(UploadError::Damaged);
    }
    // The frame decoded to RGB or RGBA (4 bytes a pixel at most) beside the bitstream's own
    // buffers; it is then composed onto the canvas.
    Ok(AnimationFrame {
        width,
        height,
        bytes: area(width, height) * 4 + bitstream_bytes(&frame, with_alpha),
    })
}

// ---------------------------------------------------------------------------------------------
// JPEG

/// A JPEG start-of-frame segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JpegFrame {
    marker: u8,
    width: u32,
    height: u32,
    /// (horizontal, vertical) sampling factors of each component.
    sampling: Vec<(u8, u8)>,
    /// Whether the segment held every component.
    complete: bool,
}

/// What a walk of a JPEG's marker stream found.
struct JpegMarkers {
    frames: Vec<JpegFrame>,
    /// Components in the first scan.
    first_scan_components: Option<u8>,
    /// Whether an end-of-image marker was reached.
    ended: bool,
}

fn is_start_of_frame(marker: u8) -> bool {
    // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC).
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Walks a JPEG's markers from SOI to EOI: segments by their lengths (so an `APP1` holding an
/// EXIF thumbnail is skipped whole), and after each start of scan the entropy-coded data up to
/// the next marker (in it every 0xFF is followed by a stuffed 0x00 or a restart marker).
/// Bytes between segments are skipped up to the next 0xFF, as zune-jpeg does.
fn jpeg_markers(bytes: &[u8]) -> Result<JpegMarkers, UploadError> {
    let mut found = JpegMarkers {
        frames: Vec::new(),
        first_scan_components: None,
        ended: false,
    };
    let mut at = 2usize;
    let mut in_scan = false;
    loop {
        // Find the next marker: 0xFF, any fill 0xFFs, then a byte that is not 0x00 (and,
        // inside a scan, not a restart marker).
        let Some(offset) = bytes.get(at..).and_then(|rest| {
            rest.windows(2).position(|w| {
                w[0] == 0xFF
                    && w[1] != 0xFF
                    && w[1] != 0x00
                    && !(in_scan && (0xD0..=0xD7).contains(&w[1]))
            })
        }) else {
            return Ok(found);
        };
        let marker = bytes[at + offset + 1];
        at += offset + 2;
        match marker {
            0xD9 => {
                found.ended = true;
                return Ok(found);
            }
            // Standalone markers: TEM, RST0–7, SOI.
            0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        in_scan = false;
        let Some(length) = be_u16(bytes, at).map(usize::from) else {
            return Ok(found);
        };
        if length < 2 {
            return Err(UploadError::Damaged);
        }
        // A segment cut off by the end of the file ends the walk; a frame header cut off is
        // still read as far as it goes, so that its size can be reported.
        let end = (at + length).min(bytes.len());
        let segment = &bytes[(at + 2).min(end)..end];
        let cut = at + length > bytes.len();
        if is_start_of_frame(marker) {
            if let Some(frame) = jpeg_frame(marker, segment) {
                found.frames.push(frame);
            }
        } else if marker == 0xDA && !cut {
            found
                .first_scan_components
                .get_or_insert(*segment.first().unwrap_or(&0));
            in_scan = true;
        }
        if cut {
            return Ok(found);
        }
        at += length;
    }
}

/// A start-of-frame segment's data: precision, height, width, component count, then three
/// bytes per component (id, sampling factors, quantization table). `None` when even the size
/// is missing; `complete` is false when components are.
fn jpeg_frame(marker: u8, segment: &[u8]) -> Option<JpegFrame> {
    let height = be_u16(segment, 1)?;
    let width = be_u16(segment, 3)?;
    let count = segment.get(5).map_or(0, |&c| usize::from(c));
    let sampling: Vec<(u8, u8)> = (0..count)
        .map_while(|i| segment.get(6 + 3 * i + 1).map(|&f| (f >> 4, f & 0x0F)))
        .collect();
    Some(JpegFrame {
        marker,
        width: u32::from(width),
        height: u32::from(height),
        complete: segment.len() > 5 && sampling.len() == count,
        sampling,
    })
}

/// JPEG: the first start-of-frame's size, found by walking the marker segments.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let markers = jpeg_markers(bytes).ok()?;
    let frame = markers.frames.first()?;
    Some((frame.width, frame.height))
}

/// JPEG: exactly one frame header (zune-jpeg refuses a second, and hierarchical JPEG), of at
/// most four components, within the limits, and an end-of-image marker after it (the decoder
/// fills a cut-off scan with grey rather than failing).
fn jpeg(bytes: &[u8], limits: &UploadLimits) -> Result<Walk, UploadError> {
    let markers = jpeg_markers(bytes)?;
    for frame in &markers.frames {
        if frame.width == 0 || frame.height == 0 {
            return Err(UploadError::Damaged);
        }
        frame_within_limits(frame.width, frame.height, limits)?;
    }
    let [frame] = markers.frames.as_slice() else {
        return Err(UploadError::Damaged);
    };
    if !frame.complete {
        return Err(UploadError::Damaged);
    }
    let components = frame.sampling.len();
    if components == 0 {
        return Err(UploadError::Damaged);
    }
    if components > 4 {
        return Err(UploadError::Unsupported {
            format: ImageFormat::Jpeg,
        });
    }
    if !markers.ended {
        return Err(UploadError::Damaged);
    }

    let (w, h) = (frame.width, frame.height);
    // zune-jpeg pads each component to whole MCUs; a progressive frame, or one whose first scan
    // does not hold every component, keeps every component's coefficients (i16) until the end.
    let h_max = frame.sampling.iter().map(|s| s.0.max(1)).max().unwrap_or(1);
    let v_max = frame.sampling.iter().map(|s| s.1.max(1)).max().unwrap_or(1);
    let mcu_x = u64::from(w.div_ceil(8 * u32::from(h_max)));
    let mcu_y = u64::from(h.div_ceil(8 * u32::from(v_max)));
    let whole =
        |(hs, vs): (u8, u8)| mcu_x * u64::from(hs.max(1)) * 8 * mcu_y * u64::from(vs.max(1)) * 8;
    let progressive = matches!(frame.marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
    let all_in_first_scan = markers.first_scan_components == Some(components as u8);
    let coefficients = if progressive || !all_in_first_scan {
        frame.sampling.iter().map(|&s| whole(s) * 2).sum()
    } else {
        0
    };
    // Row buffers: coefficients, upsampling and colour conversion of one MCU row per component.
    let rows = components as u64 * mcu_x * u64::from(h_max) * 8 * u64::from(v_max) * 8 * 2 * 6;
    // image reads the whole file into memory for zune-jpeg; the output is grey (1 byte a
    // pixel), grey and alpha (2) or RGB (3; CMYK and YCCK are converted).
    let output = area(w, h)
        * match components {
            1 => 1,
            2 => 2,
            _ => 3,
        };
    Ok(Walk {
        frames: 1,
        frame_pixels: area(w, h),
        decode_bytes: 2 * bytes.len() as u64
            + output
            + coefficients
            + rows
            + flatten_bytes(w, h, components == 2),
    })
}
