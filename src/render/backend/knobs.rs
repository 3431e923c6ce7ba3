//! Style knobs: the continuous controls a backend exposes for steering, and their parsing.
//!
//! Every knob ranges over −1…1 with 0 meaning "the backend's own default look". The built-in
//! renderer's knobs are its own parameters ([`SKETCH_KNOBS`]); for Stable Diffusion backends
//! they are weighted style phrases from `config/vocabulary.toml`, usually with the same names.
//! Knob values travel as a plain `Vec<f32>` in the order of the backend's knob list.

use crate::render::RenderError;

/// One knob: a name users can type (`--knob warmth=0.5`) and its range.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobSpec {
    pub name: String,
    pub min: f32,
    pub max: f32,
}

impl KnobSpec {
    /// A knob named `name` over −1…1.
    pub fn unit(name: &str) -> KnobSpec {
        KnobSpec {
            name: name.to_string(),
            min: -1.0,
            max: 1.0,
        }
    }
}

/// The built-in renderer's knobs, in order.
pub const SKETCH_KNOBS: [&str; 9] = [
    "saturation",
    "contrast",
    "brightness",
    "warmth",
    "detail",
    "softness",
    "harmony",
    "vignette",
    "composition",
];

/// The built-in renderer's knob list.
pub fn sketch_knobs() -> Vec<KnobSpec> {
    SKETCH_KNOBS.iter().map(|n| KnobSpec::unit(n)).collect()
}

/// Parses one `name=value` argument.
pub fn parse_knob_arg(arg: &str) -> Result<(String, f32), RenderError> {
    let (name, value) = arg.split_once('=').ok_or_else(|| {
        RenderError::BadRequest(format!("knob {arg:?} should look like name=value"))
    })?;
    let value: f32 = value
        .trim()
        .parse()
        .map_err(|_| RenderError::BadRequest(format!("knob {name}: {value:?} is not a number")))?;
    if !value.is_finite() {
        return Err(RenderError::BadRequest(format!(
            "knob {name}: {value} is not a finite number"
        )));
    }
    Ok((name.trim().to_string(), value))
}

/// The knob vector for `specs` with the named `settings` applied (others 0). Unknown names and
/// values out of range are errors that list what is allowed.
pub fn knob_vector(
    specs: &[KnobSpec],
    settings: &[(String, f32)],
) -> Result<Vec<f32>, RenderError> {
    let mut values = vec![0.0; specs.len()];
    for (name, value) in settings {
        let index = specs.iter().position(|s| &s.name == name).ok_or_else(|| {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            RenderError::BadRequest(format!(
                "there is no knob {name:?}; the knobs are {}",
                names.join(", ")
            ))
        })?;
        let spec = &specs[index];
        if *value < spec.min || *value > spec.max {
            return Err(RenderError::BadRequest(format!(
                "knob {name} must be between {} and {}, not {value}",
                spec.min, spec.max
            )));
        }
        values[index] = *value;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knob_arguments_parse_and_land_in_place() {
        let specs = sketch_knobs();
        let set = vec![
            parse_knob_arg("warmth=0.5").unwrap(),
            parse_knob_arg("detail = -1").unwrap(),
        ];
        let v = knob_vector(&specs, &set).unwrap();
        assert_eq!(v[3], 0.5);
        assert_eq!(v[4], -1.0);
        assert_eq!(v.iter().filter(|x| **x != 0.0).count(), 2);
    }

    #[test]
    fn bad_knobs_are_explained() {
        let specs = sketch_knobs();
        assert!(parse_knob_arg("warmth").is_err());
        assert!(parse_knob_arg("warmth=hot").is_err());
        assert!(parse_knob_arg("warmth=NaN").is_err());
        let e = knob_vector(&specs, &[("heat".into(), 0.1)]).unwrap_err();
        assert!(e.to_string().contains("saturation"), "{e}");
        assert!(knob_vector(&specs, &[("warmth".into(), 1.5)]).is_err());
    }
}
