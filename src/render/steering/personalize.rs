//! Personalized rendering on any backend: steer the knobs with a taste, render, keep the best.
//!
//! The knob choice is pure math (`taste::steer`); this file renders each candidate setting as a
//! batch and, slot by slot, keeps the image the taste scores highest (its utility on
//! standardized style). With two or more candidates the first is the plain picture: it is
//! measured, steering starts from where it actually is (a prompt's content moves it away from
//! the calibration's average), and a slot keeps it if the taste likes it best. With stylize 0
//! there is one candidate, the base knobs: exactly the plain images.

use image::RgbImage;

use crate::render::RenderError;
use crate::render::backend::{Backend, ProgressFn, RenderRequest};
use crate::render::style::{StyleVector, describe};
use crate::taste::standardize::Standardizer;
use crate::taste::steer::{Calibration, candidates, taste_score};

/// How to personalize a render.
#[derive(Debug, Clone, Copy)]
pub struct Steering<'a> {
    /// Taste over standardized style axes (standardized by `standardizer`).
    pub taste: &'a [f32],
    /// `--s`, 0–1000.
    pub stylize: u32,
    pub calibration: &'a Calibration,
    pub standardizer: &'a Standardizer,
    /// Candidate settings rendered per shown image (config `render.candidates`).
    pub candidates: usize,
    /// Config `render.reach`.
    pub reach: f32,
}

/// One rendered image with the knobs that made it and its raw style.
#[derive(Debug, Clone)]
pub struct RenderedImage {
    pub image: RgbImage,
    pub knobs: Vec<f32>,
    pub style: StyleVector,
}

/// Renders `request` (its `knobs` are the base the taste moves from) steered by `steering`,
/// or plainly when `steering` is `None`. Returns `request.count` images.
pub async fn render_personalized<B: Backend>(
    backend: &B,
    request: &RenderRequest,
    steering: Option<Steering<'_>>,
    progress: ProgressFn,
) -> Result<Vec<RenderedImage>, RenderError> {
    let m = backend.knobs().len();
    let mut base = request.knobs.clone();
    base.resize(m, 0.0);
    let mut best: Vec<Option<(f32, RenderedImage)>> = vec![None; request.count as usize];
    let settings = match &steering {
        None => vec![base.clone()],
        Some(s) => {
            if s.calibration.knobs.len() != m {
                return Err(RenderError::BadRequest(format!(
                    "the calibration has {} knobs but the {} backend has {m}; recalibrate",
                    s.calibration.knobs.len(),
                    backend.name()
                )));
            }
            let jacobian = s.calibration.standardized_jacobian(&s.standardizer.std);
            let count = s.candidates.max(1);
            // The plain picture as the first candidate, measured: the mean standardized style
            // of its batch is where steering starts.
            let plain = if s.stylize > 0 && count >= 2 {
                let styles =
                    render_and_keep(backend, request, &base, &steering, &progress, &mut best)
                        .await?;
                Some(mean(&styles))
            } else {
                None
            };
            candidates(
                &base,
                &s.calibration.ranges,
                &jacobian,
                s.taste,
                s.stylize,
                s.reach,
                if plain.is_some() { count - 1 } else { count },
                plain.as_deref(),
            )
        }
    };
    for knobs in settings {
        render_and_keep(backend, request, &knobs, &steering, &progress, &mut best).await?;
    }
    best.into_iter()
        .map(|slot| {
            slot.map(|(_, r)| r).ok_or_else(|| {
                RenderError::Backend(format!(
                    "the {} backend returned too few images",
                    backend.name()
                ))
            })
        })
        .collect()
}

/// Renders `request` with `knobs` and, slot by slot, keeps each image the taste scores above
/// the slot's best so far. Returns the batch's standardized styles (empty when not steering).
async fn render_and_keep<B: Backend>(
    backend: &B,
    request: &RenderRequest,
    knobs: &[f32],
    steering: &Option<Steering<'_>>,
    progress: &ProgressFn,
    best: &mut [Option<(f32, RenderedImage)>],
) -> Result<Vec<Vec<f32>>, RenderError> {
    let r = RenderRequest {
        knobs: knobs.to_vec(),
        ..request.clone()
    };
    let images = backend.render(&r, progress.clone()).await?;
    let mut styles = Vec::new();
    for (slot, image) in best.iter_mut().zip(images) {
        let style = describe(&image);
        let score = match steering {
            Some(s) => {
                let z = s.standardizer.apply(&style);
                let score = taste_score(s.taste, &z);
                styles.push(z);
                score
            }
            None => 0.0,
        };
        if slot.as_ref().is_none_or(|(b, _)| score > *b) {
            *slot = Some((
                score,
                RenderedImage {
                    image,
                    knobs: knobs.to_vec(),
                    style,
                },
            ));
        }
    }
    Ok(styles)
}

/// The mean of equally long vectors (empty for none).
fn mean(vectors: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = vectors.first() else {
        return Vec::new();
    };
    let n = vectors.len() as f32;
    (0..first.len())
        .map(|k| vectors.iter().map(|v| v[k]).sum::<f32>() / n)
        .collect()
}
