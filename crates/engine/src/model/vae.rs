//! The variational autoencoder (Kingma & Welling): a dense encoder trunk with two heads, μ and
//! log σ², the reparameterisation z = μ + σ·ε with ε ~ N(0, I), and the dense decoder.
//! The loss is reconstruction + β·KL(q(z|x) ‖ N(0, I)); sampling decodes z ~ N(0, I).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use super::config::ModelConfig;
use super::dense::decoder_sizes;
use super::layers::{linear, Mlp};

#[derive(Clone, Debug)]
pub struct Vae {
    /// 784 → hidden… (activated after every layer).
    pub trunk: Mlp,
    pub mu: Linear,
    pub logvar: Linear,
    pub decoder: Mlp,
}

impl Vae {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let mut trunk_sizes = vec![crate::PIXELS];
        trunk_sizes.extend(&cfg.hidden);
        let last = *trunk_sizes.last().unwrap();
        Ok(Self {
            trunk: Mlp::new(&trunk_sizes, cfg.activation, vb.pp("enc"))?,
            mu: linear(last, cfg.latent, vb.pp("mu"))?,
            logvar: linear(last, cfg.latent, vb.pp("logvar"))?,
            decoder: Mlp::new(&decoder_sizes(cfg), cfg.activation, vb.pp("dec"))?,
        })
    }

    /// (μ, log σ²), each `[B, k]`.
    pub fn encode_dist(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.trunk.forward(x, true)?;
        Ok((self.mu.forward(&h)?, self.logvar.forward(&h)?))
    }

    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z, false)
    }
}
