//! The logic behind the command-line tools `tastebud style`, `render` and `calibrate`.
//!
//! Each function returns the text to print; `main.rs` only parses arguments and prints.

use std::io::Read;
use std::path::Path;

use image::RgbImage;

use super::RenderError;
use super::style::{SPACE, describe};
use super::upload::{UploadError, UploadLimits, check_upload};

/// `tastebud style FILE…`: one JSON line per file,
/// `{"file": …, "space": "style-v1", "style": {axis name: raw value, …}}`.
///
/// The files may come from anywhere, so each goes through the same checks as an upload
/// ([`check_upload`]: size, format, every frame, the process's decoding budget) before it is
/// decoded: a hostile file costs no more here than on Discord.
pub fn style_files<P: AsRef<Path>>(paths: &[P]) -> Result<String, RenderError> {
    let limits = UploadLimits::default();
    let mut out = String::new();
    for path in paths {
        let path = path.as_ref();
        let style = describe(&read_checked(path, &limits)?);
        out.push_str(&format!(
            "{{\"file\":{},\"space\":{},\"style\":{}}}\n",
            serde_json::json!(path.display().to_string()),
            serde_json::json!(SPACE),
            style.to_json_string()
        ));
    }
    Ok(out)
}

/// The image in the file at `path`, read (no further than `limits` allow) and checked as an
/// upload.
fn read_checked(path: &Path, limits: &UploadLimits) -> Result<RgbImage, RenderError> {
    let error = |reason: String| RenderError::ReadImage {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
    let length = file.metadata().map_err(|e| error(e.to_string()))?.len();
    let too_long = |bytes: u64| {
        error(
            UploadError::TooManyBytes {
                bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
                limit: limits.max_bytes,
            }
            .to_string(),
        )
    };
    if length > limits.max_bytes as u64 {
        return Err(too_long(length));
    }
    // The file may grow while it is read: read one byte past the limit at most.
    let mut bytes = Vec::with_capacity(length as usize);
    file.take(limits.max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(e.to_string()))?;
    check_upload(&bytes, limits).map_err(|e| error(e.to_string()))
}

/// What `tastebud render` draws.
#[derive(Debug, Clone)]
pub struct RenderArgs {
    pub prompt: String,
    pub seed: u64,
    /// `name=value` pairs as typed after `--knob`.
    pub knobs: Vec<String>,
    /// Side of each of the four pictures, in pixels.
    pub size: u32,
}

/// `tastebud render "PROMPT" [--seed N] [--knob name=value …] --out FILE`: renders four
/// pictures with the built-in renderer and writes their 2×2 grid as a PNG at `out`. Returns the
/// line to print.
pub fn render_to_file(args: &RenderArgs, out: &Path) -> Result<String, RenderError> {
    if args.size == 0 || args.size > 4096 {
        return Err(RenderError::BadRequest(format!(
            "size must be between 1 and 4096 pixels, not {}",
            args.size
        )));
    }
    let settings = args
        .knobs
        .iter()
        .map(|k| super::knobs::parse_knob_arg(k))
        .collect::<Result<Vec<_>, _>>()?;
    let knobs = super::knobs::knob_vector(&super::knobs::sketch_knobs(), &settings)?;
    let images =
        super::sketch::render_batch(&args.prompt, args.seed, &knobs, args.size, args.size, 4);
    let grid = super::files::grid(&images)?;
    super::files::write_png(out, &grid)?;
    Ok(format!(
        "wrote {} ({}×{}, seed {})",
        out.display(),
        grid.width(),
        grid.height(),
        args.seed
    ))
}

/// A finished calibration, for the caller to store and print.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// The backend that was calibrated.
    pub backend: &'static str,
    pub calibration: crate::taste::steer::Calibration,
    /// The per-axis fit report.
    pub report: String,
}

/// `tastebud calibrate --version V`: calibrates the backend configured for `version` and
/// returns the map with its per-axis fit report (storing it is the caller's job). The built-in
/// renderer takes a second or two; a Stable Diffusion backend renders 5 × (1 + 2·knobs +
/// `random`) images of 512².
pub async fn calibrate(
    config: &crate::config::Config,
    version: &str,
) -> Result<Calibrated, RenderError> {
    use super::backend::{AnyBackend, Backend};
    if !config.personalization.versions.iter().any(|v| v == version) {
        return Err(RenderError::BadRequest(format!(
            "version {version:?} is not personalized; the versions are {}",
            config.personalization.versions.join(", ")
        )));
    }
    let backend = AnyBackend::for_version(config, version)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "calibrating {msg} [{bar:30}] {pos}/{len} renders ({eta} left)",
        )
        .map_err(|e| RenderError::Backend(e.to_string()))?
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} for version {version}", backend.name()));
    let tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let run = match &backend {
        AnyBackend::Sketch(_) => super::calibrate::calibrate_sketch(&tick)?,
        other => super::calibrate::calibrate_backend(other, 6, 512, &tick).await?,
    };
    bar.finish_and_clear();
    Ok(Calibrated {
        backend: backend.name(),
        report: format!(
            "version {version} ({}):\n{}",
            backend.name(),
            super::calibrate::fit_report(&run.calibration)
        ),
        calibration: run.calibration,
    })
}
