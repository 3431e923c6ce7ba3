//! The logic behind the command-line tools `tastebud style`, `render` and `calibrate`.
//!
//! Each function returns the text to print; `main.rs` only parses arguments and prints.

use std::io::Read;
use std::path::Path;

use image::RgbImage;

use crate::render::RenderError;
use crate::render::images::upload::{UploadError, UploadLimits, check_upload};
use crate::render::style::{SPACE, describe};

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
        .map(|k| crate::render::backend::knobs::parse_knob_arg(k))
        .collect::<Result<Vec<_>, _>>()?;
    let knobs = crate::render::backend::knobs::knob_vector(
        &crate::render::backend::knobs::sketch_knobs(),
        &settings,
    )?;
    let images = crate::render::sketch::render_batch(
        &args.prompt,
        args.seed,
        &knobs,
        args.size,
        args.size,
        4,
    );
    let grid = crate::render::images::files::grid(&images)?;
    crate::render::images::files::write_png(out, &grid)?;
    Ok(format!(
        "wrote {} ({}×{}, seed {})",
        out.display(),
        grid.width(),
        grid.height(),
        args.seed
    ))
}

/// `tastebud calibrate --version V`: calibrates the backend of `version` through `service`
/// (which stores the result, and every render as it finishes) with a progress bar, and returns
/// the text to print: the per-axis fit report.
pub async fn calibrate(service: &crate::service::Service, version: &str) -> anyhow::Result<String> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "calibrating version {msg} [{bar:30}] {pos}/{len} renders ({eta} left)",
        )?
        .progress_chars("=> "),
    );
    bar.set_message(version.to_string());
    let tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let done = service.calibrate(version, &tick).await;
    bar.finish_and_clear();
    let done = done.map_err(|e| match e {
        crate::service::Error::Render(_) => anyhow::anyhow!(
            "{}\nThe renders done so far are kept: run the calibration again to resume.",
            e.for_operator()
        ),
        other => anyhow::anyhow!(other.for_operator()),
    })?;
    let resumed = if done.resumed > 0 {
        format!("(resumed: {} renders from an earlier run)\n", done.resumed)
    } else {
        String::new()
    };
    Ok(format!("{resumed}{}", done.report))
}

/// `tastebud servers`: asks every server of every Stable Diffusion version whether it answers
/// and has the configured model (what happens before a server's first job), and returns the
/// report to print and whether every server is up.
pub async fn servers(config: &crate::config::Config) -> anyhow::Result<(String, bool)> {
    use crate::render::backend::Backend;
    use crate::render::backend::dispatch::Health;
    let backends = crate::render::backend::Backends::from_config(config)?;
    let mut report = String::new();
    let mut all_up = true;
    for (_, dispatcher) in backends.configured() {
        if dispatcher.is_sketch() {
            continue;
        }
        // The verdict per server is in the status; the error only repeats it.
        let _ = dispatcher.verify().await;
        let status = dispatcher.status();
        all_up &= status.servers.iter().all(|s| s.health == Health::Up);
        report.push_str(&status.to_string());
    }
    if report.is_empty() {
        report.push_str("Every version uses the built-in renderer: there is no server to check.\n");
    }
    Ok((report, all_up))
}
