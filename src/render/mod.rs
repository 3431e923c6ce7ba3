//! Pixels: the built-in renderer, the style descriptor, image backends, image files, charts.
//!
//! The only layer that touches pixels or image backends, in rooms by job:
//! - [`style`] measures any image as a named style vector (space [`style::SPACE`]);
//! - [`sketch`] is the built-in renderer, drawing with the knobs of [`backend::knobs`];
//! - [`backend`] is the `Backend` trait over the built-in renderer, AUTOMATIC1111 and ComfyUI
//!   (whose knobs are weighted phrases from [`backend::vocabulary`]);
//! - [`steering`] fits how knobs move style (calibration) and renders personalized pictures;
//! - [`images`] holds image files (content-addressed PNGs, grids, pair images) and the checks
//!   on images from users (size, format, every frame, a process-wide decoding budget);
//! - [`probe`] measures picture statistics apart from the style descriptor, for simulated
//!   raters;
//! - [`chart`] draws charts: what a profile leans towards, and learning curves.
//!
//! The command line's logic lives with the binary's frontend, in [`crate::cli`].

pub mod backend;
pub mod chart;
pub mod images;
pub mod probe;
pub mod sketch;
pub mod steering;
pub mod style;

use std::path::PathBuf;

/// Everything that can go wrong while making, reading or writing pixels.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read the image {}: {reason}", path.display())]
    ReadImage { path: PathBuf, reason: String },
    #[error("cannot write the image {}: {reason}", path.display())]
    WriteImage { path: PathBuf, reason: String },
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("the image store {place}: {reason}")]
    ImageStore { place: String, reason: String },
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
    #[error(
        "the image server at {url} has no model {model:?}; it has: {}",
        list_or_none(available)
    )]
    UnknownModel {
        url: String,
        model: String,
        available: Vec<String>,
    },
    #[error("the image server at {url} rendered with the model {ran:?} instead of {wanted:?}")]
    WrongModel {
        url: String,
        wanted: String,
        ran: String,
    },
    #[error("the job on the image server at {url} was interrupted there")]
    Interrupted { url: String },
    #[error("no image server for this version can take the job: {0}")]
    NoServer(String),
    #[error("{0}")]
    Backend(String),
    #[error("calibration failed: {0}")]
    Calibration(#[from] crate::taste::steer::SteerError),
}

impl RenderError {
    /// Whether another server of the same version might succeed where this one failed: it is
    /// down or unreachable, dropped the job, did not finish in time, answered with an error of
    /// its own (5xx) or with something tastebud cannot read. A request no server can serve and
    /// pixel errors are not. A model the server lacks (`UnknownModel`) or did not use
    /// (`WrongModel`) is not counted here either: it is that server's configuration, which the
    /// dispatcher marks down at once (rather than after repeated failures) while the job goes on
    /// to another server.
    pub fn server_failed(&self) -> bool {
        match self {
            RenderError::Unreachable { .. }
            | RenderError::Timeout { .. }
            | RenderError::Dropped { .. }
            | RenderError::Protocol { .. }
            | RenderError::Interrupted { .. } => true,
            RenderError::Server { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Names joined by commas, or "none".
fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
