//! Pixels: the built-in renderer, the style descriptor, Stable Diffusion backends, image files.
//!
//! The only layer that touches pixels or image backends:
//! - [`style`] measures any image as a named style vector (space [`style::SPACE`]);
//! - [`sketch`] is the built-in renderer, steered by the [`knobs`] it exposes;
//! - [`backend`] is the `Backend` trait over [`sketch`], [`automatic1111`] and [`comfyui`],
//!   whose knobs are weighted phrases from the [`vocabulary`];
//! - [`calibrate`] fits how knobs move style, which steering (`taste::steer`) relies on;
//! - [`files`] writes content-addressed PNGs, the 2×2 grid and the labelled pair image;
//! - [`cli`] holds the logic behind `tastebud style`, `render` and `calibrate`;
//! - [`upload`] checks images from users (size, format, every frame in them) before decoding
//!   them within a process-wide decoding budget;
//! - [`chart`] draws charts: what a profile leans towards, and learning curves.

pub mod automatic1111;
pub mod backend;
pub mod calibrate;
pub mod chart;
pub mod cli;
pub mod comfyui;
pub mod files;
mod http;
pub mod knobs;
pub mod personalize;
pub mod sketch;
pub mod style;
pub mod upload;
pub mod vocabulary;

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
    #[error("cannot reach the image server at {url}: {reason}. Is it running?")]
    Unreachable { url: String, reason: String },
    #[error("the image server at {url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("the image server at {url} dropped the connection: {reason}")]
    Dropped { url: String, reason: String },
    #[error("the image server at {url} answered {status}: {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the image server at {url} answered something unexpected: {reason}")]
    Protocol { url: String, reason: String },
    #[error("{0}")]
    Backend(String),
    #[error("calibration failed: {0}")]
    Calibration(#[from] crate::taste::steer::SteerError),
}
