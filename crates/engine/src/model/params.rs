//! The parameter layout: for a model config, every layer's name, kind and sizes, in one order.
//! The candle constructors (`dense`, `vae`, `conv`, through `layers`) create their variables
//! from it, so the `VarMap` names and shapes are spelled here only; the fused training engines
//! (`train::fused`, `train::fused_conv`) lay their flat parameter buffer out in the same order
//! and name their gradients from it. The conv autoencoder's spatial sizes and convolution
//! geometries live here too.

use super::config::{Arch, ModelConfig};
use super::convgeom::ConvGeom;

/// Kernel size, stride and padding of every (transposed) convolution of the conv AE.
pub const KERNEL: usize = 3;
pub const STRIDE: usize = 2;
pub const PADDING: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `y = x Wᵀ + b`, weight `[output, input]`.
    Linear,
    /// A `KERNEL²` convolution, weight `[output, input, k, k]`.
    Conv,
    /// A transposed convolution, weight `[input, output, k, k]` (candle's layout).
    ConvTranspose,
}

/// Which of a layer's two tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Weight,
    Bias,
}

impl ParamKind {
    pub fn suffix(self) -> &'static str {
        match self {
            ParamKind::Weight => "weight",
            ParamKind::Bias => "bias",
        }
    }
}

/// One layer: a weight and a bias (one per output feature or channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// The variables' prefix, e.g. "enc.0": they are "enc.0.weight" and "enc.0.bias".
    pub name: String,
    pub kind: LayerKind,
    /// Input and output features (channels for a convolution).
    pub input: usize,
    pub output: usize,
}

impl LayerSpec {
    fn new(name: String, kind: LayerKind, input: usize, output: usize) -> Self {
        Self {
            name,
            kind,
            input,
            output,
        }
    }

    /// Taps of the kernel (1 for a linear layer).
    fn taps(&self) -> usize {
        match self.kind {
            LayerKind::Linear => 1,
            LayerKind::Conv | LayerKind::ConvTranspose => KERNEL * KERNEL,
        }
    }

    pub fn shape(&self, which: ParamKind) -> Vec<usize> {
        let (i, o, k) = (self.input, self.output, KERNEL);
        match (which, self.kind) {
            (ParamKind::Bias, _) => vec![o],
            (ParamKind::Weight, LayerKind::Linear) => vec![o, i],
            (ParamKind::Weight, LayerKind::Conv) => vec![o, i, k, k],
            (ParamKind::Weight, LayerKind::ConvTranspose) => vec![i, o, k, k],
        }
    }

    pub fn len(&self, which: ParamKind) -> usize {
        match which {
            ParamKind::Weight => self.input * self.output * self.taps(),
            ParamKind::Bias => self.output,
        }
    }

    /// The variable's name, e.g. "enc.0.weight".
    pub fn var(&self, which: ParamKind) -> String {
        format!("{}.{}", self.name, which.suffix())
    }

    /// Glorot-uniform weights (fans include the kernel taps), zero biases.
    pub fn init(&self, which: ParamKind) -> candle_nn::Init {
        match which {
            ParamKind::Bias => candle_nn::Init::Const(0.0),
            ParamKind::Weight => {
                let fans = (self.input + self.output) * self.taps();
                let b = (6.0 / fans as f64).sqrt();
                candle_nn::Init::Uniform { lo: -b, up: b }
            }
        }
    }
}

/// `prefix.0`, `prefix.1`, … linear layers through `sizes`.
fn linear_stack(prefix: &str, sizes: &[usize]) -> Vec<LayerSpec> {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, w)| LayerSpec::new(format!("{prefix}.{i}"), LayerKind::Linear, w[0], w[1]))
        .collect()
}

/// Layer sizes of the dense encoder: input, hidden…, code.
pub fn encoder_sizes(cfg: &ModelConfig) -> Vec<usize> {
    let mut s = trunk_sizes(cfg);
    s.push(cfg.latent);
    s
}

/// Layer sizes of the VAE's trunk: input, hidden… (the heads follow). A conditional VAE's
/// input is the pixels and the one-hot label.
pub fn trunk_sizes(cfg: &ModelConfig) -> Vec<usize> {
    let mut s = vec![crate::PIXELS + cfg.classes];
    s.extend(&cfg.hidden);
    s
}

/// Layer sizes of the dense decoder: code, hidden (mirrored, or an imported model's own)…,
/// output. A conditional VAE's decoder input is the code and the one-hot label.
pub fn decoder_sizes(cfg: &ModelConfig) -> Vec<usize> {
    let mut s = vec![cfg.latent + cfg.classes];
    s.extend(cfg.decoder_widths());
    s.push(crate::PIXELS);
    s
}

/// A dense AE (`heads` empty) or a VAE (`heads` = μ, log σ² after the trunk `encoder`).
#[derive(Clone, Debug)]
pub struct DenseLayout {
    pub encoder: Vec<LayerSpec>,
    pub heads: Option<[LayerSpec; 2]>,
    pub decoder: Vec<LayerSpec>,
}

impl DenseLayout {
    pub fn new(cfg: &ModelConfig) -> Self {
        let decoder = linear_stack("dec", &decoder_sizes(cfg));
        if cfg.arch != Arch::Vae {
            return Self {
                encoder: linear_stack("enc", &encoder_sizes(cfg)),
                heads: None,
                decoder,
            };
        }
        let trunk = trunk_sizes(cfg);
        let last = trunk.last().copied().unwrap_or(crate::PIXELS);
        let head = |name: &str| LayerSpec::new(name.into(), LayerKind::Linear, last, cfg.latent);
        Self {
            encoder: linear_stack("enc", &trunk),
            heads: Some([head("mu"), head("logvar")]),
            decoder,
        }
    }
}

/// The conv AE: stride-2 convolutions, a dense layer to the code and back, transposed
/// convolutions (deepest first) back to one channel.
#[derive(Clone, Debug)]
pub struct ConvLayout {
    /// Spatial sides: `sizes[0] = 28`, then after each convolution.
    pub sizes: Vec<usize>,
    /// Channels: `chans[0] = 1`, then each convolution's.
    pub chans: Vec<usize>,
    pub convs: Vec<LayerSpec>,
    pub enc_fc: LayerSpec,
    pub dec_fc: LayerSpec,
    pub deconvs: Vec<LayerSpec>,
}

impl ConvLayout {
    pub fn new(cfg: &ModelConfig) -> Self {
        let mut sizes = vec![crate::SIDE];
        for _ in &cfg.channels {
            let s = sizes.last().copied().unwrap_or(crate::SIDE);
            sizes.push((s + 2 * PADDING - KERNEL) / STRIDE + 1);
        }
        let mut chans = vec![1usize];
        chans.extend(&cfg.channels);
        let n = cfg.channels.len();
        let convs = (0..n)
            .map(|i| LayerSpec::new(format!("conv.{i}"), LayerKind::Conv, chans[i], chans[i + 1]))
            .collect();
        let flat = chans[n] * sizes[n] * sizes[n];
        let deconvs = (0..n)
            .map(|j| {
                let i = n - j; // from layer i back to i − 1
                let name = format!("deconv.{j}");
                LayerSpec::new(name, LayerKind::ConvTranspose, chans[i], chans[i - 1])
            })
            .collect();
        Self {
            enc_fc: LayerSpec::new("enc_fc".into(), LayerKind::Linear, flat, cfg.latent),
            dec_fc: LayerSpec::new("dec_fc".into(), LayerKind::Linear, cfg.latent, flat),
            sizes,
            chans,
            convs,
            deconvs,
        }
    }

    /// Channels and side of the last convolution's output.
    pub fn last(&self) -> (usize, usize) {
        let n = self.convs.len();
        (self.chans[n], self.sizes[n])
    }

    /// Convolution `i`'s geometry (transposed convolution `j` is the adjoint of convolution
    /// `n − 1 − j`).
    pub fn geom(&self, i: usize) -> ConvGeom {
        ConvGeom {
            c: self.chans[i],
            h: self.sizes[i],
            w: self.sizes[i],
            o: self.chans[i + 1],
            ho: self.sizes[i + 1],
            wo: self.sizes[i + 1],
            k: KERNEL,
            s: STRIDE,
            p: PADDING,
        }
    }

    /// Transposed convolution `j`'s output padding (so that it lands on the size convolution
    /// `n − 1 − j` started from).
    pub fn output_padding(&self, j: usize) -> usize {
        let i = self.convs.len() - j;
        (self.sizes[i - 1] + 2 * PADDING).saturating_sub((self.sizes[i] - 1) * STRIDE + KERNEL)
    }
}

/// Every layer of the model `cfg` describes, in the order the variables are created and the
/// fused engines store them.
pub fn layers(cfg: &ModelConfig) -> Vec<LayerSpec> {
    match cfg.arch {
        Arch::Dense | Arch::Vae => {
            let d = DenseLayout::new(cfg);
            let heads = d.heads.into_iter().flatten();
            d.encoder
                .into_iter()
                .chain(heads)
                .chain(d.decoder)
                .collect()
        }
        Arch::Conv => {
            let c = ConvLayout::new(cfg);
            c.convs
                .into_iter()
                .chain([c.enc_fc, c.dec_fc])
                .chain(c.deconvs)
                .collect()
        }
    }
}

/// Every parameter tensor of the model: (variable name, shape, kind), in layer order, each
/// layer's weight before its bias.
pub fn tensors(cfg: &ModelConfig) -> Vec<(String, Vec<usize>, ParamKind)> {
    layers(cfg)
        .iter()
        .flat_map(|l| [ParamKind::Weight, ParamKind::Bias].map(|k| (l.var(k), l.shape(k), k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{TrainConfig, Variant};
    use crate::model::TrainedModel;

    /// The model's `VarMap` holds exactly the tensors of the layout, with its shapes.
    #[test]
    fn varmap_matches_the_layout_for_every_variant() {
        for v in [
            Variant::Dense,
            Variant::Vae,
            Variant::Conv,
            Variant::Deep,
            Variant::Linear,
            Variant::Cvae,
        ] {
            let cfg = TrainConfig::preset(v, 3);
            let model = TrainedModel::new(&cfg, "test").unwrap();
            let data = model.varmap.data().lock().unwrap();
            let want = tensors(&cfg.model);
            assert_eq!(data.len(), want.len(), "{v:?}");
            for (name, shape, _) in want {
                let var = data
                    .get(&name)
                    .unwrap_or_else(|| panic!("{v:?}: no {name}"));
                assert_eq!(var.dims(), shape.as_slice(), "{v:?}: {name}");
            }
        }
    }

    #[test]
    fn conv_geometry_goes_28_14_7_and_back() {
        let mut cfg = TrainConfig::preset(Variant::Conv, 3).model;
        cfg.channels = vec![4, 6, 3];
        let c = ConvLayout::new(&cfg);
        assert_eq!(c.sizes, vec![28, 14, 7, 4]);
        assert_eq!(c.last(), (3, 4));
        let g = c.geom(1);
        assert_eq!((g.c, g.h, g.o, g.ho), (4, 14, 6, 7));
        // 4 → 7 needs no output padding, 7 → 14 and 14 → 28 need one.
        assert_eq!(
            (0..3).map(|j| c.output_padding(j)).collect::<Vec<_>>(),
            vec![0, 1, 1]
        );
    }
}
