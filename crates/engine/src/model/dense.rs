//! The dense autoencoder: 784 → hidden… → k → …hidden → 784 with ReLU (or no) activations,
//! a linear code and a sigmoid (or linear) output. "Deep" is the same with more hidden layers;
//! the linear autoencoder is the same with no activations at all.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::layers::Mlp;

#[derive(Clone, Debug)]
pub struct DenseAe {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

/// Layer sizes of the encoder: input, hidden…, code.
pub fn encoder_sizes(cfg: &ModelConfig) -> Vec<usize> {
    let mut s = vec![crate::PIXELS];
    s.extend(&cfg.hidden);
    s.push(cfg.latent);
    s
}

/// Layer sizes of the decoder: code, hidden (mirrored)…, output.
pub fn decoder_sizes(cfg: &ModelConfig) -> Vec<usize> {
    let mut s = vec![cfg.latent];
    s.extend(cfg.hidden.iter().rev());
    s.push(crate::PIXELS);
    s
}

impl DenseAe {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            encoder: Mlp::new(&encoder_sizes(cfg), cfg.activation, vb.pp("enc"))?,
            decoder: Mlp::new(&decoder_sizes(cfg), cfg.activation, vb.pp("dec"))?,
        })
    }

    /// `[B, 784]` → `[B, k]`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.encoder.forward(x, false)
    }

    /// `[B, k]` → output logits `[B, 784]` (before the sigmoid).
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z, false)
    }
}
