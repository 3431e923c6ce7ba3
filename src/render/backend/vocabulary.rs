//! The knob vocabulary of Stable Diffusion backends: knobs as weighted style phrases.
//!
//! Read from `config/vocabulary.toml` (or a user's copy). A knob at value `v` adds
//! `(more:w)` to the prompt and `(less:w)` to the negative prompt with `w = max_weight·|v|`;
//! a negative value swaps the two phrases.

use serde::Deserialize;

use super::knobs::KnobSpec;
use crate::render::RenderError;

/// The built-in vocabulary, the same text as `config/vocabulary.toml`.
pub const DEFAULT_VOCABULARY: &str = include_str!("../../../config/vocabulary.toml");

/// One knob: its name and the two phrases it moves between.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseKnob {
    pub name: String,
    pub more: String,
    pub less: String,
}

/// A parsed vocabulary.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub max_weight: f32,
    pub min_value: f32,
    #[serde(rename = "knob")]
    pub knobs: Vec<PhraseKnob>,
}

/// Prompt and negative prompt with the knobs' phrases added.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrased {
    pub prompt: String,
    pub negative: String,
}

impl Vocabulary {
    /// Parses vocabulary TOML text, checking names are unique and phrases are not empty.
    pub fn parse(text: &str) -> Result<Vocabulary, RenderError> {
        let v: Vocabulary = toml::from_str(text)
            .map_err(|e| RenderError::BadRequest(format!("knob vocabulary: {e}")))?;
        for (i, k) in v.knobs.iter().enumerate() {
            if k.name.trim().is_empty() || k.more.trim().is_empty() || k.less.trim().is_empty() {
                return Err(RenderError::BadRequest(format!(
                    "knob vocabulary: knob {} needs a name and both phrases",
                    i + 1
                )));
            }
            if v.knobs[..i].iter().any(|o| o.name == k.name) {
                return Err(RenderError::BadRequest(format!(
                    "knob vocabulary: knob {:?} is listed twice",
                    k.name
                )));
            }
        }
        if !(v.max_weight > 0.0 && v.max_weight <= 3.0) {
            return Err(RenderError::BadRequest(
                "knob vocabulary: max_weight must be above 0 and at most 3".into(),
            ));
        }
        Ok(v)
    }

    /// The built-in vocabulary.
    pub fn builtin() -> Result<Vocabulary, RenderError> {
        Vocabulary::parse(DEFAULT_VOCABULARY)
    }

    /// Reads the vocabulary at `path`, or the built-in one if `path` is empty.
    pub fn load(path: &str) -> Result<Vocabulary, RenderError> {
        if path.is_empty() {
            return Vocabulary::builtin();
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            RenderError::BadRequest(format!("cannot read the knob vocabulary {path}: {e}"))
        })?;
        Vocabulary::parse(&text)
    }

    /// The knobs, in order, each over −1…1.
    pub fn knob_specs(&self) -> Vec<KnobSpec> {
        self.knobs.iter().map(|k| KnobSpec::unit(&k.name)).collect()
    }

    /// `prompt` and `negative` with the phrases of `knobs` (in knob order) appended.
    pub fn apply(&self, prompt: &str, negative: &str, knobs: &[f32]) -> Phrased {
        let mut positive = vec![prompt.trim().to_string()];
        let mut negatives = Vec::new();
        if !negative.trim().is_empty() {
            negatives.push(negative.trim().to_string());
        }
        for (k, &v) in self.knobs.iter().zip(knobs) {
            if !v.is_finite() || v.abs() < self.min_value {
                continue;
            }
            let weight = self.max_weight * v.abs().min(1.0);
            let (more, less) = if v > 0.0 {
                (&k.more, &k.less)
            } else {
                (&k.less, &k.more)
            };
            positive.push(format!("({more}:{weight:.2})"));
            negatives.push(format!("({less}:{weight:.2})"));
        }
        Phrased {
            prompt: positive.join(", "),
            negative: negatives.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_vocabulary_has_the_sketch_knobs() {
        let v = Vocabulary::builtin().unwrap();
        let names: Vec<&str> = v.knobs.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, super::super::knobs::SKETCH_KNOBS.to_vec());
    }

    #[test]
    fn knobs_become_weighted_phrases() {
        let v = Vocabulary::builtin().unwrap();
        let p = v.apply("a cat", "blurry", &[0.5, 0.0, -1.0]);
        assert_eq!(
            p.prompt,
            "a cat, (vibrant saturated colors:0.70), (dark moody shadows, low key:1.40)"
        );
        assert_eq!(
            p.negative,
            "blurry, (muted desaturated colors:0.70), (bright airy light, high key:1.40)"
        );
        let plain = v.apply("a cat", "", &[0.01]);
        assert_eq!(
            (plain.prompt.as_str(), plain.negative.as_str()),
            ("a cat", "")
        );
    }

    #[test]
    fn bad_vocabularies_are_refused() {
        assert!(Vocabulary::parse("max_weight = 1\nmin_value = 0\nknob = []\nextra = 1").is_err());
        let twice = "max_weight = 1\nmin_value = 0\n[[knob]]\nname='a'\nmore='x'\nless='y'\n[[knob]]\nname='a'\nmore='x'\nless='y'\n";
        assert!(Vocabulary::parse(twice).is_err());
    }
}
