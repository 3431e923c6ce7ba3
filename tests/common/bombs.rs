//! Decompression bombs: small files whose pixels would need far more memory than their bytes.
#![allow(dead_code)]

/// A WebP whose extended header (VP8X) declares a 16×16 canvas while its lossy frame declares
/// 16383×16383: about 400 MB of frame buffers for a decoder that trusts the frame, in a file of
/// a few kilobytes.
pub fn webp_frame_bomb() -> Vec<u8> {
    let mut vp8x = vec![0u8; 4];
    vp8x.extend(&15u32.to_le_bytes()[..3]);
    vp8x.extend(&15u32.to_le_bytes()[..3]);
    let first_partition = 2000u32;
    // Frame tag: a key frame (bit 0 clear), version 0, shown, then the first partition's size.
    let tag = (first_partition << 5) | (1 << 4);
    let mut vp8 = tag.to_le_bytes()[..3].to_vec();
    vp8.extend([0x9D, 0x01, 0x2A]);
    vp8.extend(0x3FFFu16.to_le_bytes());
    vp8.extend(0x3FFFu16.to_le_bytes());
    vp8.extend(vec![0u8; first_partition as usize + 2000]);
    riff(&[(b"VP8X", vp8x), (b"VP8 ", vp8)])
}

/// A RIFF WebP file of `chunks`.
pub fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (fourcc, data) in chunks {
        body.extend(*fourcc);
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        if !data.len().is_multiple_of(2) {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend((body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}
