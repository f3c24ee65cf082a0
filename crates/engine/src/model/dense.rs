//! The dense autoencoder: 784 → hidden… → k → …hidden → 784 with ReLU (or no) activations,
//! a linear code (ReLU for some imported models) and a sigmoid (or linear) output. "Deep" is the same with more hidden layers;
//! the linear autoencoder is the same with no activations at all.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::{Activation, ModelConfig};
use super::layers::{activate, Mlp};
use super::params::DenseLayout;

#[derive(Clone, Debug)]
pub struct DenseAe {
    pub encoder: Mlp,
    pub decoder: Mlp,
    /// Linear for Bottleneck's own models; ReLU for some imported ones.
    pub code_activation: Activation,
}

pub use super::params::{decoder_sizes, encoder_sizes};

impl DenseAe {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let l = DenseLayout::new(cfg);
        Ok(Self {
            encoder: Mlp::new(&l.encoder, cfg.activation, &vb)?,
            decoder: Mlp::new(&l.decoder, cfg.activation, &vb)?,
            code_activation: cfg.code_activation,
        })
    }

    /// `[B, 784]` → `[B, k]`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        activate(&self.encoder.forward(x, false)?, self.code_activation)
    }

    /// `[B, k]` → output logits `[B, 784]` (before the sigmoid).
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z, false)
    }
}
