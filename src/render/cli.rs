//! The logic behind the command-line tools `tastebud style`, `render` and `calibrate`.
//!
//! Each function returns the text to print; `main.rs` only parses arguments and prints.

use std::path::Path;

use super::RenderError;
use super::files::load_image;
use super::style::{SPACE, describe};

/// `tastebud style FILE…`: one JSON line per file,
/// `{"file": …, "space": "style-v1", "style": {axis name: raw value, …}}`.
pub fn style_files<P: AsRef<Path>>(paths: &[P]) -> Result<String, RenderError> {
    let mut out = String::new();
    for path in paths {
        let path = path.as_ref();
        let style = describe(&load_image(path)?);
        out.push_str(&format!(
            "{{\"file\":{},\"space\":{},\"style\":{}}}\n",
            serde_json::json!(path.display().to_string()),
            serde_json::json!(SPACE),
            style.to_json_string()
        ));
    }
    Ok(out)
}
