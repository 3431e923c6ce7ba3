//! Pixels: the built-in renderer, the style descriptor, Stable Diffusion backends, image files.
//!
//! The only layer that touches pixels or image backends:
//! - [`style`] measures any image as a named style vector (space [`style::SPACE`]);
//! - [`sketch`] is the built-in renderer, steered by the [`knobs`] it exposes;
//! - [`files`] writes content-addressed PNGs, the 2×2 grid and the labelled pair image;
//! - [`cli`] holds the logic behind `tastebud style`, `render` and `calibrate`.

pub mod cli;
pub mod files;
pub mod knobs;
pub mod sketch;
pub mod style;

use std::path::PathBuf;

/// Everything that can go wrong while making, reading or writing pixels.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read the image {}: {reason}", path.display())]
    ReadImage { path: PathBuf, reason: String },
    #[error("cannot write the image {}: {reason}", path.display())]
    WriteImage { path: PathBuf, reason: String },
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("cannot encode a PNG: {0}")]
    Encode(String),
    #[error("{0}")]
    BadRequest(String),
}
