//! The variational autoencoder (Kingma & Welling): a dense encoder trunk with two heads, μ and
//! log σ², the reparameterisation z = μ + σ·ε with ε ~ N(0, I), and the dense decoder.
//! The loss is reconstruction + β·KL(q(z|x) ‖ N(0, I)); sampling decodes z ~ N(0, I).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use super::config::ModelConfig;
use super::layers::{linear, Mlp};
use super::params::DenseLayout;

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
        let l = DenseLayout::new(cfg);
        let Some([mu, logvar]) = &l.heads else {
            candle_core::bail!("a VAE needs the μ and log σ² heads");
        };
        Ok(Self {
            trunk: Mlp::new(&l.encoder, cfg.activation, &vb)?,
            mu: linear(mu, &vb)?,
            logvar: linear(logvar, &vb)?,
            decoder: Mlp::new(&l.decoder, cfg.activation, &vb)?,
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
