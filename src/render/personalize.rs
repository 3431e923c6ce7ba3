//! Personalized rendering on any backend: steer the knobs with a taste, render, keep the best.
//!
//! The knob choice is pure math (`taste::steer`); this file renders each candidate setting as a
//! batch and, slot by slot, keeps the image the taste scores highest (`wᵀx` on standardized
//! style). With stylize 0 there is one candidate, the base knobs: exactly the plain images.

use image::RgbImage;

use super::RenderError;
use super::backend::{Backend, ProgressFn, RenderRequest};
use super::style::{Standardizer, StyleVector, describe};
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
            candidates(
                &base,
                &s.calibration.ranges,
                &jacobian,
                s.taste,
                s.stylize,
                s.reach,
                s.candidates.max(1),
            )
        }
    };
    let mut best: Vec<Option<(f32, RenderedImage)>> = vec![None; request.count as usize];
    for knobs in settings {
        let r = RenderRequest {
            knobs: knobs.clone(),
            ..request.clone()
        };
        let images = backend.render(&r, progress.clone()).await?;
        for (slot, image) in best.iter_mut().zip(images) {
            let style = describe(&image);
            let score = steering
                .as_ref()
                .map_or(0.0, |s| taste_score(s.taste, &s.standardizer.apply(&style)));
            if slot.as_ref().is_none_or(|(b, _)| score > *b) {
                *slot = Some((
                    score,
                    RenderedImage {
                        image,
                        knobs: knobs.clone(),
                        style,
                    },
                ));
            }
        }
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
