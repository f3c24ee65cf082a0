//! Corruptions used by the denoising autoencoder and the Denoise panel: additive Gaussian
//! noise clipped to [0, 1], salt-and-pepper, random masking, and a rectangular occlusion.
//! Every corruption draws from the caller's generator, so a seeded generator gives the same
//! noisy image every time.

use rand::Rng;
use rand_distr::StandardNormal;
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
///
/// A NaN factor counts as 0 and Gaussian noise is clamped to a standard deviation in [0, 10].
pub fn apply(kind: NoiseKind, factor: f32, pixels: &mut [f32], rng: &mut impl Rng) {
    let factor = if factor.is_nan() { 0.0 } else { factor };
    match kind {
        NoiseKind::Gaussian => {
            let sigma = factor.clamp(0.0, MAX_GAUSSIAN_SIGMA);
            if sigma == 0.0 {
                return;
            }
            for x in pixels.iter_mut() {
                let n: f32 = rng.sample(StandardNormal);
                *x = (*x + sigma * n).clamp(0.0, 1.0);
            }
        }
        NoiseKind::SaltPepper => {
            let p = f64::from(factor.clamp(0.0, 1.0));
            for x in pixels.iter_mut() {
                if rng.random_bool(p) {
                    *x = if rng.random_bool(0.5) { 1.0 } else { 0.0 };
                }
            }
        }
        NoiseKind::Mask => {
            let p = f64::from(factor.clamp(0.0, 1.0));
            for x in pixels.iter_mut() {
                if rng.random_bool(p) {
                    *x = 0.0;
                }
            }
        }
    }
}

/// The largest standard deviation of Gaussian noise (far beyond useful: the image is gone).
const MAX_GAUSSIAN_SIGMA: f32 = 10.0;

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
    /// Rectangles partly outside are clipped; empty or fully outside ones change nothing, and
    /// so do the rows a too-short `pixels` does not have.
    pub fn apply(&self, pixels: &mut [f32], side: usize) {
        let x_end = self.x.saturating_add(self.w).min(side);
        let y_end = self.y.saturating_add(self.h).min(side);
        if self.x >= x_end {
            return;
        }
        for y in self.y..y_end {
            let Some(start) = y.checked_mul(side).and_then(|r| r.checked_add(self.x)) else {
                return;
            };
            let end = start.saturating_add(x_end - self.x).min(pixels.len());
            if start >= end {
                return;
            }
            pixels[start..end].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const N: usize = 100_000;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(42)
    }

    #[test]
    fn salt_and_pepper_flips_the_requested_fraction_half_to_white() {
        let mut px = vec![0.5f32; N];
        apply(NoiseKind::SaltPepper, 0.3, &mut px, &mut rng());
        let ones = px.iter().filter(|&&v| v == 1.0).count();
        let zeros = px.iter().filter(|&&v| v == 0.0).count();
        let untouched = px.iter().filter(|&&v| v == 0.5).count();
        assert_eq!(ones + zeros + untouched, N);
        let flipped = (ones + zeros) as f64 / N as f64;
        assert!((flipped - 0.3).abs() < 0.01, "flipped {flipped}");
        let white = ones as f64 / (ones + zeros) as f64;
        assert!((white - 0.5).abs() < 0.02, "share of white {white}");
    }

    #[test]
    fn mask_zeroes_the_requested_fraction() {
        let mut px = vec![0.7f32; N];
        apply(NoiseKind::Mask, 0.25, &mut px, &mut rng());
        let zeros = px.iter().filter(|&&v| v == 0.0).count() as f64 / N as f64;
        assert!((zeros - 0.25).abs() < 0.01, "masked {zeros}");
        assert!(px.iter().all(|&v| v == 0.0 || v == 0.7));
    }

    #[test]
    fn gaussian_stays_in_range_with_the_requested_spread() {
        let mut px = vec![0.5f32; N];
        apply(NoiseKind::Gaussian, 0.1, &mut px, &mut rng());
        assert!(px.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mean = px.iter().map(|&v| f64::from(v)).sum::<f64>() / N as f64;
        let var = px
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / N as f64;
        assert!((mean - 0.5).abs() < 0.002, "mean {mean}");
        assert!((var.sqrt() - 0.1).abs() < 0.003, "std {}", var.sqrt());

        let mut strong = vec![0.5f32; 1000];
        apply(NoiseKind::Gaussian, 5.0, &mut strong, &mut rng());
        assert!(strong.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn same_seed_same_noise() {
        for kind in NoiseKind::ALL {
            let mut a = vec![0.5f32; 1000];
            let mut b = a.clone();
            apply(kind, 0.4, &mut a, &mut rng());
            apply(kind, 0.4, &mut b, &mut rng());
            assert_eq!(a, b, "{kind:?}");
            let mut c = vec![0.5f32; 1000];
            apply(kind, 0.4, &mut c, &mut ChaCha8Rng::seed_from_u64(43));
            assert_ne!(a, c, "{kind:?}");
        }
    }

    #[test]
    fn odd_factors_are_clamped() {
        for kind in NoiseKind::ALL {
            let mut px = vec![0.5f32; 1000];
            apply(kind, f32::NAN, &mut px, &mut rng());
            assert!(px.iter().all(|&v| v == 0.5), "{kind:?} with NaN");
            apply(kind, -3.0, &mut px, &mut rng());
            assert!(px.iter().all(|&v| v == 0.5), "{kind:?} with -3");
            apply(kind, 1e9, &mut px, &mut rng());
            assert!(px.iter().all(|&v| (0.0..=1.0).contains(&v)), "{kind:?}");
        }
        let mut px = vec![0.5f32; 1000];
        apply(NoiseKind::Mask, 7.0, &mut px, &mut rng());
        assert!(px.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn occlusion_clips_at_the_borders() {
        let side = 28;
        let mut px = vec![1.0f32; side * side];
        Occlusion {
            x: 20,
            y: 25,
            w: 100,
            h: 100,
        }
        .apply(&mut px, side);
        for y in 0..side {
            for x in 0..side {
                let covered = x >= 20 && y >= 25;
                assert_eq!(px[y * side + x] == 0.0, covered, "({x}, {y})");
            }
        }

        let mut px = vec![1.0f32; side * side];
        Occlusion {
            x: 2,
            y: 3,
            w: 4,
            h: 5,
        }
        .apply(&mut px, side);
        assert_eq!(px.iter().filter(|&&v| v == 0.0).count(), 20);
        assert_eq!(px[3 * side + 2], 0.0);
        assert_eq!(px[7 * side + 5], 0.0);
        assert_eq!(px[8 * side + 5], 1.0);
        assert_eq!(px[3 * side + 6], 1.0);

        // Empty, outside, overflowing, and a short buffer: no effect, no panic.
        let mut px = vec![1.0f32; side * side];
        for occ in [
            Occlusion {
                x: 3,
                y: 3,
                w: 0,
                h: 9,
            },
            Occlusion {
                x: 3,
                y: 3,
                w: 9,
                h: 0,
            },
            Occlusion {
                x: 28,
                y: 0,
                w: 5,
                h: 5,
            },
            Occlusion {
                x: 0,
                y: 40,
                w: 5,
                h: 5,
            },
            Occlusion {
                x: usize::MAX,
                y: usize::MAX,
                w: usize::MAX,
                h: usize::MAX,
            },
        ] {
            occ.apply(&mut px, side);
        }
        assert!(px.iter().all(|&v| v == 1.0));
        let mut short = vec![1.0f32; 30];
        Occlusion {
            x: 0,
            y: 0,
            w: 28,
            h: 28,
        }
        .apply(&mut short, side);
        assert!(short.iter().all(|&v| v == 0.0));
        Occlusion {
            x: 0,
            y: 0,
            w: 28,
            h: 28,
        }
        .apply(&mut [], 0);
    }
}
