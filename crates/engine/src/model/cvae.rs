//! The conditional variational autoencoder (Kingma et al. 2014, "M2"; Sohn et al. 2015): a
//! VAE whose encoder sees the image and its one-hot class label, and whose decoder sees the
//! code and the label. The label says which class; the code z is left to hold what the label
//! does not say (slant, thickness, width: the style). The loss is the VAE's, reconstruction +
//! β·KL. Decoding one z with every label writes that style as every class.
//!
//! The layers are the VAE's (`vae::Vae`, laid out by `params::DenseLayout`, whose first
//! encoder and decoder layers are `classes` inputs wider); this module owns building the
//! one-hot labels ([`one_hot`]) and putting them beside the inputs.

use candle_core::{Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::vae::Vae;

/// What a conditional VAE says when asked to encode or decode without the class.
pub const NEEDS_CLASS: &str = "a conditional VAE (CVAE) needs each image's class to encode or \
    decode it: this view does not give one. Use the Generate panel (or `bottleneck generate`)";

#[derive(Clone, Debug)]
pub struct Cvae {
    pub vae: Vae,
    pub classes: usize,
}

/// Rows of one-hot labels, `[B, classes]` row-major; a label outside `0..classes` is an error
/// naming it.
pub fn one_hot_rows(labels: &[u8], classes: usize) -> Result<Vec<f32>> {
    let mut v = vec![0f32; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        if l >= classes {
            candle_core::bail!(
                "class {l} is not one of the model's {classes} classes (0 to {})",
                classes.saturating_sub(1)
            );
        }
        v[i * classes + l] = 1.0;
    }
    Ok(v)
}

/// [`one_hot_rows`] as a `[B, classes]` tensor.
pub fn one_hot(labels: &[u8], classes: usize) -> Result<Tensor> {
    let v = one_hot_rows(labels, classes)?;
    Tensor::from_vec(v, (labels.len(), classes), &Device::Cpu)
}

impl Cvae {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            vae: Vae::new(cfg, vb)?,
            classes: cfg.classes,
        })
    }

    fn check(&self, y: &Tensor, rows: usize) -> Result<()> {
        if y.dims() != [rows, self.classes] {
            candle_core::bail!(
                "the labels are {:?}, expected {rows} one-hot rows of {} classes",
                y.dims(),
                self.classes
            );
        }
        Ok(())
    }

    /// (μ, log σ²) of `x` `[B, 784]` given its one-hot labels `y` `[B, classes]`.
    pub fn encode_dist(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        self.check(y, x.dim(0)?)?;
        self.vae.encode_dist(&Tensor::cat(&[x, y], 1)?)
    }

    /// Output logits of codes `z` `[B, k]` decoded as the classes `y` `[B, classes]`.
    pub fn decode_logits(&self, z: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.check(y, z.dim(0)?)?;
        self.vae.decode_logits(&Tensor::cat(&[z, y], 1)?)
    }
}
