//! Standardizing style vectors: `(x − mean) / std` per axis, with a pool's statistics.
//!
//! Tastes are learnt and steered on standardized axes, so that an axis measured in large
//! units does not dominate one measured in small units.

use serde::{Deserialize, Serialize};

/// Axis statistics of a pool: `(x − mean) / std` per axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// The smallest standard deviation used, so constant axes do not divide by zero.
const MIN_STD: f32 = 1e-4;

impl Standardizer {
    /// Mean and standard deviation of every axis over `pool` (vectors of `dim` values). An
    /// empty pool gives the identity (mean 0, std 1).
    pub fn fit<V: AsRef<[f32]>>(pool: &[V], dim: usize) -> Standardizer {
        if pool.is_empty() {
            return Standardizer::identity(dim);
        }
        let n = pool.len() as f64;
        let mut mean = vec![0f64; dim];
        for v in pool {
            for (m, &x) in mean.iter_mut().zip(v.as_ref()) {
                *m += f64::from(x) / n;
            }
        }
        let mut var = vec![0f64; dim];
        for v in pool {
            for ((s, &x), m) in var.iter_mut().zip(v.as_ref()).zip(&mean) {
                *s += (f64::from(x) - m).powi(2) / n;
            }
        }
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var
                .iter()
                .map(|&v| (v.sqrt() as f32).max(MIN_STD))
                .collect(),
        }
    }

    /// Mean 0 and std 1 on each of `dim` axes: leaves vectors unchanged.
    pub fn identity(dim: usize) -> Standardizer {
        Standardizer {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }

    /// The standardized values of `v`.
    pub fn apply<V: AsRef<[f32]> + ?Sized>(&self, v: &V) -> Vec<f32> {
        v.as_ref()
            .iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(x, (m, s))| (x - m) / s.max(MIN_STD))
            .collect()
    }
}
