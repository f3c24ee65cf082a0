//! The convolutional autoencoder: 3×3 stride-2 convolutions (28→14→7…) and a dense layer to a
//! k-dimensional code; the decoder mirrors it with a dense layer and 3×3 stride-2 transposed
//! convolutions back to 28×28.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::{Activation, ModelConfig};
use super::convops;
use super::layers::{activate, linear};

/// A 3×3 stride-2 (transposed) convolution's parameters.
#[derive(Clone, Debug)]
struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    /// Transposed convolutions only.
    output_padding: usize,
}

impl ConvLayer {
    fn conv(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        convops::conv2d(x, &self.weight, &self.bias, 2, 1, relu)
    }
    fn deconv(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        convops::conv_transpose2d(x, &self.weight, &self.bias, 2, 1, self.output_padding, relu)
    }
}

#[derive(Clone, Debug)]
pub struct ConvAe {
    convs: Vec<ConvLayer>,
    enc_fc: Linear,
    dec_fc: Linear,
    deconvs: Vec<ConvLayer>,
    act: Activation,
    /// Spatial sizes: `sizes[0] = 28`, then after each convolution.
    sizes: Vec<usize>,
    channels: Vec<usize>,
}

fn glorot(fan_in: usize, fan_out: usize) -> candle_nn::Init {
    let b = (6.0 / (fan_in + fan_out) as f64).sqrt();
    candle_nn::Init::Uniform { lo: -b, up: b }
}

impl ConvAe {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let mut sizes = vec![crate::SIDE];
        for _ in &cfg.channels {
            let s = *sizes.last().unwrap();
            sizes.push((s - 1) / 2 + 1);
        }
        let mut chans = vec![1usize];
        chans.extend(&cfg.channels);
        let mut convs = Vec::new();
        for i in 0..cfg.channels.len() {
            let (cin, cout) = (chans[i], chans[i + 1]);
            let vbi = vb.pp(format!("conv.{i}"));
            let w = vbi.get_with_hints((cout, cin, 3, 3), "weight", glorot(cin * 9, cout * 9))?;
            let b = vbi.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
            convs.push(ConvLayer {
                weight: w,
                bias: b,
                output_padding: 0,
            });
        }
        let last_c = *chans.last().unwrap();
        let last_s = *sizes.last().unwrap();
        let flat = last_c * last_s * last_s;
        let enc_fc = linear(flat, cfg.latent, vb.pp("enc_fc"))?;
        let dec_fc = linear(cfg.latent, flat, vb.pp("dec_fc"))?;
        // Transposed convolutions from the deepest layer back to one channel.
        let mut deconvs = Vec::new();
        for j in 0..cfg.channels.len() {
            let i = cfg.channels.len() - j; // from layer i (size sizes[i]) to i-1
            let (cin, cout) = (chans[i], chans[i - 1]);
            let output_padding = sizes[i - 1] + 1 - 2 * sizes[i];
            let vbj = vb.pp(format!("deconv.{j}"));
            let w = vbj.get_with_hints((cin, cout, 3, 3), "weight", glorot(cin * 9, cout * 9))?;
            let b = vbj.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
            deconvs.push(ConvLayer {
                weight: w,
                bias: b,
                output_padding,
            });
        }
        Ok(Self {
            convs,
            enc_fc,
            dec_fc,
            deconvs,
            act: cfg.activation,
            sizes,
            channels: cfg.channels.clone(),
        })
    }

    /// `[B, 784]` → `[B, k]`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let b = x.dim(0)?;
        let mut h = x.reshape((b, 1, crate::SIDE, crate::SIDE))?;
        for c in &self.convs {
            h = c.conv(&h, self.act == Activation::Relu)?;
        }
        self.enc_fc.forward(&h.flatten_from(1)?)
    }

    /// `[B, k]` → output logits `[B, 784]`.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        let b = z.dim(0)?;
        let s = *self.sizes.last().unwrap();
        let c = *self.channels.last().unwrap();
        let mut h = activate(&self.dec_fc.forward(z)?, self.act)?.reshape((b, c, s, s))?;
        let n = self.deconvs.len();
        for (j, d) in self.deconvs.iter().enumerate() {
            // The last layer gives logits: no activation.
            h = d.deconv(&h, j + 1 < n && self.act == Activation::Relu)?;
        }
        h.reshape((b, crate::PIXELS))
    }
}
