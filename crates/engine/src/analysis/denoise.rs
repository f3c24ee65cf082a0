//! The denoising experiment, shared by the Denoise panel and `bottleneck denoise`: corrupt clean
//! images (noise drawn from a seeded generator, or a rectangular occlusion), reconstruct the
//! corrupted images with a model or with PCA, and measure the corrupted and the reconstructed
//! images against the clean ones (MSE and PSNR). The test-set version ([`test_set_scores`])
//! averages PSNR over many images; it is what shows that a denoising autoencoder beats a plain
//! one on noisy input.
//!
//! This module owns that pipeline and its numbers; reading and preprocessing a picture is
//! `data::preprocess`, drawing is the app's.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::metrics::{mse, psnr, row_mse};
use super::Pca;
use crate::data::noise::{self, NoiseKind, Occlusion};
use crate::data::preprocess::{self, Preprocessed};
use crate::data::DataError;
use crate::model::TrainedModel;
use crate::{PIXELS, SIDE};

/// What can fail while denoising.
#[derive(Debug, thiserror::Error)]
pub enum DenoiseError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("the model could not reconstruct the image: {0}")]
    Model(#[from] candle_core::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DenoiseError> = std::result::Result<T, E>;

/// How the clean image is damaged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Corruption {
    /// Random noise (see [`noise::apply`]): `factor` is Gaussian σ, or the fraction of pixels
    /// flipped (salt and pepper) or zeroed (masking).
    Noise { kind: NoiseKind, factor: f32 },
    /// A black rectangle over every image (no randomness).
    Occlusion(Occlusion),
}

impl Corruption {
    /// Corrupts row-major 28×28 `images` in place. The noise of all images comes from one
    /// generator seeded with `seed`, so the same seed gives the same noisy images.
    pub fn apply(&self, images: &mut [f32], seed: u64) {
        self.apply_from(images, &mut ChaCha8Rng::seed_from_u64(seed));
    }

    /// [`Corruption::apply`] with noise drawn from `rng`: consecutive chunks of a set given
    /// the same generator get the noise the whole set gets at once.
    fn apply_from(&self, images: &mut [f32], rng: &mut ChaCha8Rng) {
        match self {
            Corruption::Noise { kind, factor } => noise::apply(*kind, *factor, images, rng),
            Corruption::Occlusion(o) => {
                for img in images.chunks_exact_mut(PIXELS) {
                    o.apply(img, SIDE);
                }
            }
        }
    }

    /// A copy of `clean`, corrupted.
    pub fn corrupt(&self, clean: &[f32], seed: u64) -> Vec<f32> {
        let mut out = clean.to_vec();
        self.apply(&mut out, seed);
        out
    }

    /// A short description, e.g. "Gaussian 0.50" or "occlusion 12×8 at (8, 10)".
    pub fn describe(&self) -> String {
        match self {
            Corruption::Noise { kind, factor } => format!("{} {factor:.2}", kind.label()),
            Corruption::Occlusion(o) => {
                format!("occlusion {}×{} at ({}, {})", o.w, o.h, o.x, o.y)
            }
        }
    }
}

/// Something that reconstructs images: an autoencoder, or PCA with `k` components.
#[derive(Clone, Copy)]
pub enum Denoiser<'a> {
    Model(&'a TrainedModel),
    Pca { pca: &'a Pca, k: usize },
}

impl Denoiser<'_> {
    /// Reconstructions of row-major 28×28 `images`, as the model or PCA outputs them (a linear
    /// autoencoder and PCA can leave [0, 1]: errors are measured on the raw values, as
    /// everywhere else in Bottleneck; only drawing clamps).
    pub fn reconstruct(&self, images: &[f32]) -> Result<Vec<f32>> {
        let out = match self {
            Denoiser::Model(m) => m.reconstruct(images)?,
            Denoiser::Pca { pca, k } => {
                if pca.n_components() == 0 || *k == 0 {
                    return Err(DenoiseError::Invalid(
                        "PCA needs at least one component".into(),
                    ));
                }
                pca.reconstruct(&pca.project(images, *k), *k)
            }
        };
        if out.len() != images.len() {
            return Err(DenoiseError::Invalid(format!(
                "the reconstruction has {} values for {} inputs",
                out.len(),
                images.len()
            )));
        }
        Ok(out)
    }
}

/// The error of an image against the clean one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub mse: f32,
    /// 10 log10(1 / mse), capped at 99 dB.
    pub psnr: f32,
}

impl Score {
    pub fn of(image: &[f32], clean: &[f32]) -> Score {
        let mse = mse(image, clean);
        Score {
            mse,
            psnr: psnr(mse),
        }
    }
}

/// One image through the experiment.
#[derive(Clone, Debug)]
pub struct DenoiseResult {
    pub clean: Vec<f32>,
    pub noisy: Vec<f32>,
    pub denoised: Vec<f32>,
    pub noisy_mse: f32,
    pub denoised_mse: f32,
}

impl DenoiseResult {
    pub fn noisy_psnr(&self) -> f32 {
        psnr(self.noisy_mse)
    }
    pub fn denoised_psnr(&self) -> f32 {
        psnr(self.denoised_mse)
    }
}

/// Corrupts one clean 28×28 image, reconstructs it and measures both against it.
pub fn denoise(
    denoiser: Denoiser,
    clean: Vec<f32>,
    corruption: &Corruption,
    seed: u64,
) -> Result<DenoiseResult> {
    if clean.len() != PIXELS {
        return Err(DenoiseError::Invalid(format!(
            "expected a 28×28 image ({PIXELS} values), got {}",
            clean.len()
        )));
    }
    let noisy = corruption.corrupt(&clean, seed);
    let denoised = denoiser.reconstruct(&noisy)?;
    Ok(DenoiseResult {
        noisy_mse: mse(&noisy, &clean),
        denoised_mse: mse(&denoised, &clean),
        clean,
        noisy,
        denoised,
    })
}

/// Reads a picture (with the decoder's size and memory limits) and preprocesses it MNIST-style.
pub fn load_input(path: &Path) -> Result<Preprocessed> {
    let image = preprocess::load(path)?;
    Ok(preprocess::preprocess(&image))
}

/// What `bottleneck denoise` does: load and preprocess the picture at `path`, add `kind` noise
/// of strength `factor` with `seed`, and reconstruct it with `model`.
pub fn denoise_file(
    model: &TrainedModel,
    path: &Path,
    kind: NoiseKind,
    factor: f32,
    seed: u64,
) -> Result<DenoiseResult> {
    let clean = load_input(path)?.pixels;
    denoise(
        Denoiser::Model(model),
        clean,
        &Corruption::Noise { kind, factor },
        seed,
    )
}

/// Mean over images of the per-image PSNR of `images` against `clean` (row-major 28×28).
/// 0 images give NaN.
pub fn mean_psnr(images: &[f32], clean: &[f32]) -> f32 {
    let mut sum = SetSums::default();
    sum.add(images, clean);
    sum.mean_psnr()
}

/// Test-set averages of the experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SetScores {
    /// Corrupted input against clean.
    pub noisy_psnr: f32,
    pub noisy_mse: f32,
    /// Reconstruction of the corrupted input against clean.
    pub denoised_psnr: f32,
    pub denoised_mse: f32,
}

/// Images corrupted and reconstructed at a time by the test-set measures, so that their memory
/// does not grow with the test set (60,000 Fashion-MNIST images would need three 188 MB copies).
const SET_CHUNK: usize = 500;

/// Running sums of per-image PSNR and of squared error, over images added chunk by chunk.
#[derive(Default)]
struct SetSums {
    psnr: f64,
    squared: f64,
    images: usize,
}

impl SetSums {
    fn add(&mut self, images: &[f32], clean: &[f32]) {
        for e in row_mse(images, clean, PIXELS) {
            self.psnr += f64::from(psnr(e));
            self.squared += f64::from(e) * PIXELS as f64;
            self.images += 1;
        }
    }

    fn mean_psnr(&self) -> f32 {
        if self.images == 0 {
            return f32::NAN;
        }
        (self.psnr / self.images as f64) as f32
    }

    fn mse(&self) -> f32 {
        if self.images == 0 {
            return 0.0;
        }
        (self.squared / (self.images * PIXELS) as f64) as f32
    }
}

/// Corrupts `clean` (row-major 28×28) chunk by chunk with the same noise as
/// [`Corruption::corrupt`] gives the whole set, and hands each clean chunk and its corrupted
/// copy to `each`.
fn corrupt_in_chunks<E>(
    clean: &[f32],
    corruption: &Corruption,
    seed: u64,
    mut each: impl FnMut(&[f32], &[f32]) -> Result<(), E>,
) -> Result<(), E> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut noisy = Vec::with_capacity(SET_CHUNK * PIXELS);
    for chunk in clean.chunks(SET_CHUNK * PIXELS) {
        noisy.clear();
        noisy.extend_from_slice(chunk);
        corruption.apply_from(&mut noisy, &mut rng);
        each(chunk, &noisy)?;
    }
    Ok(())
}

/// The corrupted test set's averages alone (MSE over all pixels, PSNR per image then
/// averaged): what every row of the Denoise panel's table starts from.
pub fn corrupted_set_scores(clean: &[f32], corruption: &Corruption, seed: u64) -> (f32, f32) {
    let n = clean.len() / PIXELS;
    let mut noisy = SetSums::default();
    let Ok(()) = corrupt_in_chunks::<std::convert::Infallible>(
        &clean[..n * PIXELS],
        corruption,
        seed,
        |clean, corrupted| {
            noisy.add(corrupted, clean);
            Ok(())
        },
    );
    (noisy.mean_psnr(), noisy.mse())
}

/// Corrupts all `clean` images (row-major 28×28) with `seed`, reconstructs them with
/// `denoiser`, and averages the errors (MSE over all pixels, PSNR per image then averaged).
/// Works [`SET_CHUNK`] images at a time; the noise is the same as on the whole set at once.
pub fn test_set_scores(
    denoiser: Denoiser,
    clean: &[f32],
    corruption: &Corruption,
    seed: u64,
) -> Result<SetScores> {
    let n = clean.len() / PIXELS;
    if n == 0 {
        return Err(DenoiseError::Invalid("no images to measure".into()));
    }
    let (mut noisy, mut denoised) = (SetSums::default(), SetSums::default());
    corrupt_in_chunks::<DenoiseError>(
        &clean[..n * PIXELS],
        corruption,
        seed,
        |clean, corrupted| {
            noisy.add(corrupted, clean);
            denoised.add(&denoiser.reconstruct(corrupted)?, clean);
            Ok(())
        },
    )?;
    Ok(SetScores {
        noisy_psnr: noisy.mean_psnr(),
        noisy_mse: noisy.mse(),
        denoised_psnr: denoised.mean_psnr(),
        denoised_mse: denoised.mse(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit() -> Vec<f32> {
        let mut px = vec![0.0f32; PIXELS];
        for y in 6..22 {
            for x in 12..16 {
                px[y * SIDE + x] = 1.0;
            }
        }
        px
    }

    #[test]
    fn the_same_seed_gives_the_same_noisy_image_and_another_seed_another() {
        let c = Corruption::Noise {
            kind: NoiseKind::Gaussian,
            factor: 0.5,
        };
        let a = c.corrupt(&digit(), 7);
        assert_eq!(a, c.corrupt(&digit(), 7));
        assert_ne!(a, c.corrupt(&digit(), 8));
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn occlusion_blacks_out_the_rectangle_in_every_image() {
        let c = Corruption::Occlusion(Occlusion {
            x: 12,
            y: 10,
            w: 2,
            h: 3,
        });
        let mut two = [digit(), digit()].concat();
        c.apply(&mut two, 0);
        for img in two.chunks_exact(PIXELS) {
            let zeroed = img.iter().zip(digit()).filter(|(a, b)| **a != *b).count();
            assert_eq!(zeroed, 6, "2×3 ink pixels covered");
            assert_eq!(img[10 * SIDE + 12], 0.0);
            assert_eq!(img[13 * SIDE + 12], 1.0);
        }
        assert_eq!(c.describe(), "occlusion 2×3 at (12, 10)");
    }

    #[test]
    fn mean_psnr_averages_per_image_psnr() {
        let clean = vec![0.0f32; 2 * PIXELS];
        let mut images = clean.clone();
        images[..PIXELS].fill(0.1); // MSE 0.01: 20 dB
        images[PIXELS..].fill(0.01); // MSE 1e-4: 40 dB
        assert!((mean_psnr(&images, &clean) - 30.0).abs() < 1e-3);
        assert!(mean_psnr(&[], &[]).is_nan());
    }

    #[test]
    fn the_pca_denoiser_projects_and_reconstructs_at_k() {
        let data = crate::data::Dataset::embedded().unwrap();
        let train = &data.train.images[..500 * PIXELS];
        let pca = Pca::fit(train, PIXELS, 20).unwrap();
        let test = &data.test.images[..50 * PIXELS];
        let d = Denoiser::Pca { pca: &pca, k: 8 };
        let out = d.reconstruct(test).unwrap();
        assert_eq!(out, pca.reconstruct(&pca.project(test, 8), 8));
        assert!((mse(&out, test) - pca.mse(test, 8)).abs() < 1e-5);

        // Without noise the "noisy" image is the clean one and the error is PCA's own.
        let r = denoise(
            d,
            test[..PIXELS].to_vec(),
            &Corruption::Noise {
                kind: NoiseKind::Mask,
                factor: 0.0,
            },
            1,
        )
        .unwrap();
        assert_eq!(r.noisy, r.clean);
        assert_eq!(r.noisy_psnr(), crate::analysis::metrics::PSNR_CAP_DB);
        assert!((r.denoised_mse - pca.mse(&test[..PIXELS], 8)).abs() < 1e-6);

        assert!(matches!(
            Denoiser::Pca { pca: &pca, k: 0 }.reconstruct(test),
            Err(DenoiseError::Invalid(_))
        ));
        let square = Corruption::Occlusion(Occlusion {
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        });
        assert!(matches!(
            denoise(d, vec![0.0; 5], &square, 0),
            Err(DenoiseError::Invalid(_))
        ));
    }

    /// Regression: the test-set measures held three copies of the whole test set (188 MB each
    /// on Fashion-MNIST's 60,000 images); now they go chunk by chunk, with the same noise.
    #[test]
    fn the_test_set_is_measured_chunk_by_chunk_with_the_noise_of_the_whole_set() {
        let data = crate::data::Dataset::embedded().unwrap();
        let pca = Pca::fit(&data.train.images[..500 * PIXELS], PIXELS, 20).unwrap();
        // More than two chunks, the last one partial.
        let n = 2 * SET_CHUNK + 123;
        let clean = &data.test.images[..n * PIXELS];
        let d = Denoiser::Pca { pca: &pca, k: 8 };
        for c in [
            Corruption::Noise {
                kind: NoiseKind::Gaussian,
                factor: 0.4,
            },
            Corruption::Noise {
                kind: NoiseKind::SaltPepper,
                factor: 0.2,
            },
            Corruption::Occlusion(Occlusion {
                x: 5,
                y: 5,
                w: 10,
                h: 10,
            }),
        ] {
            let noisy = c.corrupt(clean, 9);
            let denoised = d.reconstruct(&noisy).unwrap();
            let s = test_set_scores(d, clean, &c, 9).unwrap();
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * b.abs().max(1.0);
            assert!(close(s.noisy_mse, mse(&noisy, clean)), "{c:?} {s:?}");
            assert!(close(s.noisy_psnr, mean_psnr(&noisy, clean)), "{c:?} {s:?}");
            assert!(close(s.denoised_mse, mse(&denoised, clean)), "{c:?} {s:?}");
            assert!(
                close(s.denoised_psnr, mean_psnr(&denoised, clean)),
                "{c:?} {s:?}"
            );
            assert_eq!(
                corrupted_set_scores(clean, &c, 9),
                (s.noisy_psnr, s.noisy_mse)
            );
        }
        // Another seed is other noise, so the chunks do not each restart one generator.
        let g = Corruption::Noise {
            kind: NoiseKind::Gaussian,
            factor: 0.4,
        };
        assert_ne!(
            corrupted_set_scores(clean, &g, 9),
            corrupted_set_scores(clean, &g, 10)
        );
    }
}
