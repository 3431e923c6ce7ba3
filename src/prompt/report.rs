//! The JSON that `tastebud parse` prints: what a prompt will do, job by job.
//!
//! The shape is documented field by field in the README ("Checking a prompt"); change both
//! together.

use serde_json::{Value, json};

use super::Limits;
use super::parse::parse;
use super::types::{Parsed, Prompt, RefTarget, StyleTarget};

/// Parses `text` and describes it as pretty-printed JSON, or gives the error sentence.
/// `tastebud parse` prints the one (exit 0) or the other (exit 2).
pub fn parse_report(text: &str, limits: &Limits) -> Result<String, String> {
    let parsed = parse(text, limits).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&to_json(&parsed)).map_err(|e| e.to_string())
}

/// The JSON description of every job of a parsed prompt.
pub fn to_json(parsed: &Parsed) -> Value {
    json!({
        "jobs": parsed.job_count(),
        "prompts": parsed.prompts.iter().map(prompt_json).collect::<Vec<_>>(),
    })
}

fn prompt_json(p: &Prompt) -> Value {
    let personalize = p.personalize.as_ref().map(|refs| {
        refs.iter()
            .map(|r| {
                let (kind, id) = match &r.target {
                    RefTarget::Code(c) => ("code", c.as_str()),
                    RefTarget::Profile(id) => ("profile", id.0.as_str()),
                };
                json!({ "kind": kind, "id": id, "weight": r.weight })
            })
            .collect::<Vec<_>>()
    });
    let sref: Vec<Value> = p
        .sref
        .iter()
        .map(|r| {
            let (kind, value) = match &r.target {
                StyleTarget::Url(u) => ("url", u.as_str()),
                StyleTarget::Code(c) => ("code", c.as_str()),
            };
            json!({ "kind": kind, "value": value, "weight": r.weight })
        })
        .collect();
    json!({
        "canonical": p.canonical(),
        "images": p.images,
        "text": p.text.iter().map(|t| json!({ "text": t.text, "weight": t.weight })).collect::<Vec<_>>(),
        "no": p.no,
        "personalize": personalize,
        "stylize": p.stylize,
        "version": p.version,
        "aspect": p.aspect.to_string(),
        "seed": p.seed,
        "chaos": p.chaos,
        "weird": p.weird,
        "quality": p.quality.value(),
        "style": p.style.as_ref().map(|s| s.canonical()),
        "tile": p.tile,
        "stop": p.stop,
        "image_weight": p.image_weight,
        "sref": sref,
        "style_weight": p.style_weight,
        "style_version": p.style_version,
        "cref": p.cref,
        "character_weight": p.character_weight,
        "oref": p.oref,
        "omni_weight": p.omni_weight,
        "video": p.video,
        "motion": p.motion.as_str(),
        "loop": p.video_loop,
        "end": p.video_end,
        "video_batch": p.video_batch,
        "repeat": p.repeat,
        "exp": p.exp,
        "draft": p.draft,
        "speed": p.speed.map(|s| s.as_str()),
    })
}
