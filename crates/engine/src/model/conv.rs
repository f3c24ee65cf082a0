//! The convolutional autoencoder: 3×3 stride-2 convolutions (28→14→7…) and a dense layer to a
//! k-dimensional code; the decoder mirrors it with a dense layer and 3×3 stride-2 transposed
//! convolutions back to 28×28.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::{Activation, ModelConfig};
use super::convops;
use super::layers::{activate, linear, params};
use super::params::{ConvLayout, LayerSpec, PADDING, STRIDE};

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
        convops::conv2d(x, &self.weight, &self.bias, STRIDE, PADDING, relu)
    }
    fn deconv(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        convops::conv_transpose2d(
            x,
            &self.weight,
            &self.bias,
            STRIDE,
            PADDING,
            self.output_padding,
            relu,
        )
    }
}

#[derive(Clone, Debug)]
pub struct ConvAe {
    convs: Vec<ConvLayer>,
    enc_fc: Linear,
    dec_fc: Linear,
    deconvs: Vec<ConvLayer>,
    act: Activation,
    code_activation: Activation,
    /// Spatial sizes: `sizes[0] = 28`, then after each convolution.
    sizes: Vec<usize>,
    channels: Vec<usize>,
}

impl ConvAe {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let l = ConvLayout::new(cfg);
        let layer = |spec: &LayerSpec, output_padding: usize| -> Result<ConvLayer> {
            let (weight, bias) = params(spec, &vb)?;
            Ok(ConvLayer {
                weight,
                bias,
                output_padding,
            })
        };
        let convs = l.convs.iter().map(|s| layer(s, 0)).collect::<Result<_>>()?;
        let (enc_fc, dec_fc) = (linear(&l.enc_fc, &vb)?, linear(&l.dec_fc, &vb)?);
        let deconvs = l
            .deconvs
            .iter()
            .enumerate()
            .map(|(j, s)| layer(s, l.output_padding(j)))
            .collect::<Result<_>>()?;
        Ok(Self {
            convs,
            enc_fc,
            dec_fc,
            deconvs,
            act: cfg.activation,
            code_activation: cfg.code_activation,
            sizes: l.sizes,
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
        activate(
            &self.enc_fc.forward(&h.flatten_from(1)?)?,
            self.code_activation,
        )
    }

    /// Every layer's output of [`ConvAe::encode`] in order: each convolution's feature maps
    /// `[B, c, h, w]`, then the code `[B, k]`.
    pub fn encode_each(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let b = x.dim(0)?;
        let mut outs = Vec::with_capacity(self.convs.len() + 1);
        let mut h = x.reshape((b, 1, crate::SIDE, crate::SIDE))?;
        for c in &self.convs {
            h = c.conv(&h, self.act == Activation::Relu)?;
            outs.push(h.clone());
        }
        outs.push(activate(
            &self.enc_fc.forward(&h.flatten_from(1)?)?,
            self.code_activation,
        )?);
        Ok(outs)
    }

    /// Every layer's output of [`ConvAe::decode_logits`] in order: the dense layer's as
    /// feature maps `[B, c, s, s]`, then each transposed convolution's (the last are the
    /// logits, `[B, 1, 28, 28]`).
    pub fn decode_each(&self, z: &Tensor) -> Result<Vec<Tensor>> {
        let b = z.dim(0)?;
        let s = *self.sizes.last().unwrap();
        let c = *self.channels.last().unwrap();
        let mut h = activate(&self.dec_fc.forward(z)?, self.act)?.reshape((b, c, s, s))?;
        let mut outs = vec![h.clone()];
        let n = self.deconvs.len();
        for (j, d) in self.deconvs.iter().enumerate() {
            h = d.deconv(&h, j + 1 < n && self.act == Activation::Relu)?;
            outs.push(h.clone());
        }
        Ok(outs)
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
