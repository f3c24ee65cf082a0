//! Corruptions used by the denoising autoencoder and the Denoise panel: additive Gaussian
//! noise clipped to [0, 1], salt-and-pepper, random masking, and a rectangular occlusion.

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// x + factor · N(0, 1), then clipped to [0, 1] (the Keras tutorial's noise).
    #[default]
    Gaussian,
    /// A fraction `factor` of the pixels set to 0 or 1 with equal odds.
    SaltPepper,
    /// A fraction `factor` of the pixels set to 0.
    Mask,
}

impl NoiseKind {
    pub const ALL: [NoiseKind; 3] = [NoiseKind::Gaussian, NoiseKind::SaltPepper, NoiseKind::Mask];

    pub fn label(self) -> &'static str {
        match self {
            NoiseKind::Gaussian => "Gaussian",
            NoiseKind::SaltPepper => "Salt and pepper",
            NoiseKind::Mask => "Masking",
        }
    }

    /// The command-line spelling.
    pub fn cli_name(self) -> &'static str {
        match self {
            NoiseKind::Gaussian => "gaussian",
            NoiseKind::SaltPepper => "saltpepper",
            NoiseKind::Mask => "mask",
        }
    }

    pub fn parse(s: &str) -> Option<NoiseKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.cli_name().eq_ignore_ascii_case(s.trim()))
    }
}

/// Corrupts `pixels` in place. `factor` is the noise standard deviation for Gaussian noise
/// and the fraction of affected pixels for the others (clamped to [0, 1]).
pub fn apply(kind: NoiseKind, factor: f32, pixels: &mut [f32], rng: &mut impl Rng) {
    let _ = (kind, factor, pixels, rng);
    todo!("data helper")
}

/// A rectangle (in pixels of the 28×28 image) painted black: the "occlusion" noise of the
/// Denoise panel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Occlusion {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Occlusion {
    /// Sets the covered pixels of a `side`×`side` image to 0 (clipped at the borders).
    pub fn apply(&self, pixels: &mut [f32], side: usize) {
        let _ = (pixels, side);
        todo!("data helper")
    }
}
