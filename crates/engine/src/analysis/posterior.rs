//! A VAE's posterior q(z | x) = N(μ, diag σ²) for images, as the Latent space panel draws it:
//! σ-ellipses around μ on a 2-D code, and codes sampled from the posterior to decode.

use candle_core::{Device, Tensor};
use rand::Rng;

use crate::model::TrainedModel;

/// μ and σ (row-major `n × k` each) of a VAE's posterior for `n` images (`n × 784`).
pub fn posterior(model: &TrainedModel, images: &[f32]) -> Result<(Vec<f32>, Vec<f32>), String> {
    let n = images.len() / crate::PIXELS;
    let k = model.latent();
    let mut mu = Vec::with_capacity(n * k);
    let mut sigma = Vec::with_capacity(n * k);
    for chunk in images[..n * crate::PIXELS].chunks(1024 * crate::PIXELS) {
        let rows = chunk.len() / crate::PIXELS;
        let run = || -> candle_core::Result<(Vec<f32>, Option<Vec<f32>>)> {
            let x = Tensor::from_slice(chunk, (rows, crate::PIXELS), &Device::Cpu)?;
            let f = model.model.forward(&x, None)?;
            let m = f.code.flatten_all()?.to_vec1::<f32>()?;
            let s = match f.logvar {
                Some(lv) => Some((lv * 0.5)?.exp()?.flatten_all()?.to_vec1::<f32>()?),
                None => None,
            };
            Ok((m, s))
        };
        match run() {
            Ok((m, Some(s))) => {
                mu.extend(m);
                sigma.extend(s);
            }
            Ok((_, None)) => return Err("this model has no posterior (not a VAE)".into()),
            Err(e) => return Err(format!("cannot encode: {e}")),
        }
    }
    Ok((mu, sigma))
}

/// The ellipse of `n_sigma` standard deviations around `mu` (axis-aligned, a diagonal
/// Gaussian), as `segments` points.
pub fn ellipse(mu: [f32; 2], sigma: [f32; 2], n_sigma: f32, segments: usize) -> Vec<[f32; 2]> {
    (0..segments.max(3))
        .map(|i| {
            let t = i as f32 / segments.max(3) as f32 * std::f32::consts::TAU;
            [
                mu[0] + n_sigma * sigma[0] * t.cos(),
                mu[1] + n_sigma * sigma[1] * t.sin(),
            ]
        })
        .collect()
}

/// `count` codes drawn from N(μ, diag σ²) (row-major `count × k`).
pub fn sample(mu: &[f32], sigma: &[f32], count: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * mu.len());
    for _ in 0..count {
        for (&m, &s) in mu.iter().zip(sigma) {
            let e: f32 = rng.sample(rand_distr::StandardNormal);
            out.push(m + s * e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipses_have_their_radii_along_the_axes() {
        let e = ellipse([1.0, 2.0], [0.5, 0.25], 2.0, 4);
        assert!((e[0][0] - 2.0).abs() < 1e-6 && (e[0][1] - 2.0).abs() < 1e-6);
        assert!((e[1][0] - 1.0).abs() < 1e-5 && (e[1][1] - 2.5).abs() < 1e-6);
    }

    #[test]
    fn samples_spread_like_the_posterior() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let z = sample(&[3.0, -1.0], &[0.1, 2.0], 4000, &mut rng);
        let col = |c: usize| -> (f32, f32) {
            let v: Vec<f32> = z.chunks_exact(2).map(|r| r[c]).collect();
            let m = v.iter().sum::<f32>() / v.len() as f32;
            let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
            (m, s)
        };
        let (m0, s0) = col(0);
        let (m1, s1) = col(1);
        assert!((m0 - 3.0).abs() < 0.01 && (s0 - 0.1).abs() < 0.01);
        assert!((m1 + 1.0).abs() < 0.1 && (s1 - 2.0).abs() < 0.1);
    }

    #[test]
    fn a_vae_posterior_is_tight_around_its_code() {
        let data = crate::data::Dataset::embedded().unwrap();
        let vae = crate::model::bundled::find("vae-2d")
            .unwrap()
            .load()
            .unwrap();
        let x = &data.test.images[..50 * crate::PIXELS];
        let (mu, sigma) = posterior(&vae, x).unwrap();
        assert_eq!(mu, vae.encode(x).unwrap());
        assert_eq!(sigma.len(), 100);
        assert!(sigma.iter().all(|&s| s > 0.0 && s < 1.0), "{sigma:?}");
        let ae = crate::model::bundled::find("dense-2d")
            .unwrap()
            .load()
            .unwrap();
        assert!(posterior(&ae, x).is_err());
    }
}
