//! PyTorch state dicts: `.safetensors` (`safetensors.torch.save_file(model.state_dict(), …)`)
//! and `.pt` / `.pth` / `.bin` (`torch.save(model.state_dict(), …)`, read by
//! [`super::torch_pickle`]). A state dict holds only named tensors, so the architecture is
//! recognised from the names and shapes:
//!
//! - Tensors are grouped into layers by prefix (`X.weight` and an optional `X.bias`); any other
//!   tensor (a BatchNorm's `running_mean`, …) is refused. A 2-D weight is a Linear layer, a 4-D
//!   one a (transposed) convolution. Layers are ordered by name with numbers compared as numbers
//!   (`encoder.2` before `encoder.10`).
//! - A layer belongs to the encoder when the first part of its name that says so starts with
//!   `enc` (or is `conv`, Bottleneck's own name), to the decoder when it starts with `dec`
//!   (`decoder`, `dec_fc`, `deconv`), at any nesting (`model.encoder.0`). Without such names the
//!   layers are one stack, split after its narrowest Linear layer (the code).
//! - A VAE has two Linear heads of the same shape: one named like `mu` / `fc_mu` / `z_mean`, the
//!   other like `logvar` / `log_var` / `sigma` / `std` (or the tutorial's `fc21` and `fc22`).
//! - Dense: Linear layers that chain from 784 inputs to the code and back to 784 outputs.
//! - Conv: 3×3 Conv2d layers (`[out, in, 3, 3]`) and a Linear to the code; a Linear from the code
//!   and 3×3 ConvTranspose2d layers (`[in, out, 3, 3]`) back to one channel of 28×28.
//!
//! Assumed, because a state dict does not record them, and listed in the import report: ReLU
//! between layers, a linear code and a sigmoid output (the user's [`ImportOptions`] replace any
//! of them), and for convolutions stride 2 and padding 1, with the transposed convolutions'
//! output padding landing on 28×28 again.

use std::cmp::Ordering;
use std::path::Path;

use candle_core::DType;

use super::torch_pickle::{self, NamedTensor};
use super::{assemble, dense_config, format_of, Activations, Format, ImportError, ImportOptions};
use super::{at, Recognised, SourceLayer};
use crate::model::config::{Arch, ModelConfig};

/// The largest state dict read (an MNIST autoencoder is a few MB).
const MAX_FILE: u64 = 512 << 20;

/// Reads and recognises a state dict (and `options.decoder`, a second state dict holding the
/// decoder).
pub fn inspect(path: &Path, options: &ImportOptions) -> Result<Recognised, ImportError> {
    let format = format_of(path).unwrap_or(Format::Safetensors);
    let mut tensors = read(path).map_err(at(path))?;
    let mut files = vec![path.to_path_buf()];
    if let Some(dec) = &options.decoder {
        let d = read(dec).map_err(at(dec))?;
        for t in &mut tensors {
            t.0 = format!("encoder.{}", t.0);
        }
        tensors.extend(
            d.into_iter()
                .map(|(n, s, v)| (format!("decoder.{n}"), s, v)),
        );
        files.push(dec.clone());
    }
    let acts = Activations::ASSUMED.with(options);
    let (config, sources) = recognise(tensors, acts).map_err(at(path))?;
    let mut assumed = acts.assumed(options);
    if config.arch == Arch::Vae {
        // μ and log σ² are linear heads by definition: nothing is assumed of the code.
        assumed.retain(|a| !a.starts_with("code:"));
    }
    if config.arch == Arch::Conv {
        assumed.push(
            "convolutions: 3×3, stride 2, padding 1; transposed ones with the output padding \
             that lands on 28×28 (assumed)"
                .into(),
        );
    }
    assemble(format, files, config, sources, assumed).map_err(at(path))
}

/// The tensors of a `.safetensors` or `.pt` file, as f32.
pub fn read(path: &Path) -> Result<Vec<NamedTensor>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot be read ({e})"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "is {size} bytes; a state dict of an MNIST autoencoder is far smaller"
        ));
    }
    match format_of(path) {
        Some(Format::TorchPickle) => torch_pickle::read(path),
        _ => read_safetensors(path),
    }
}

fn read_safetensors(path: &Path) -> Result<Vec<NamedTensor>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("is not a valid safetensors file ({e})"))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F64 => DType::F64,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            other => {
                return Err(format!(
                    "holds '{name}' as {other:?}; expected float tensors (F32, F16, BF16, F64)"
                ))
            }
        };
        let shape = view.shape().to_vec();
        let values = torch_pickle::to_f32(view.data(), dtype, &shape)?;
        out.push((name, shape, values));
    }
    Ok(out)
}

/// A layer of the state dict.
struct Layer {
    prefix: String,
    shape: Vec<usize>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl Layer {
    fn is_linear(&self) -> bool {
        self.shape.len() == 2
    }

    /// Inputs and outputs of a Linear layer.
    fn io(&self) -> (usize, usize) {
        (self.shape[1], self.shape[0])
    }

    /// As a source for [`assemble`]; `out` = its bias length.
    fn source(self, out: usize) -> SourceLayer {
        SourceLayer {
            bias: self.bias.unwrap_or_else(|| vec![0.0; out]),
            source: self.prefix,
            weight: self.weight,
            weight_shape: self.shape,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Encoder,
    Decoder,
    Unnamed,
}

/// The part of the model a layer's name puts it in.
fn part(prefix: &str) -> Part {
    for c in prefix.split('.') {
        let c = c.to_ascii_lowercase();
        if c.starts_with("dec") {
            return Part::Decoder;
        }
        if c.starts_with("enc") || c == "conv" {
            return Part::Encoder;
        }
    }
    Part::Unnamed
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    Mu,
    LogVar,
}

/// Whether a layer's name says it is a VAE head.
fn head(prefix: &str) -> Option<Head> {
    let last = prefix
        .split('.')
        .rev()
        .find(|c| !c.chars().all(|ch| ch.is_ascii_digit()))?
        .to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| last.contains(w));
    if any(&["logvar", "log_var", "sigma", "std"]) || last == "var" || last.ends_with("_var") {
        Some(Head::LogVar)
    } else if last == "mu" || last.ends_with("_mu") || last.starts_with("mu_") || any(&["mean"]) {
        Some(Head::Mu)
    } else {
        None
    }
}

/// Compares names part by part, runs of digits as numbers (`encoder.2` < `encoder.10`).
fn natural(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then(x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

/// "found 3 tensors (a, b, c) but …": the sentence for a state dict that is not an autoencoder.
fn not_found(names: &[String], detail: &str) -> String {
    let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
    format!(
        "found {} tensors ({}{}) but no encoder and decoder of Linear or Conv2d layers from 784 \
         inputs back to 784 outputs{}",
        names.len(),
        shown.join(", "),
        if names.len() > shown.len() {
            ", …"
        } else {
            ""
        },
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    )
}

/// The model a state dict holds: its config and its layers in `assemble`'s order.
pub fn recognise(
    tensors: Vec<NamedTensor>,
    acts: Activations,
) -> Result<(ModelConfig, Vec<SourceLayer>), String> {
    let names: Vec<String> = tensors.iter().map(|t| t.0.clone()).collect();
    let mut layers: Vec<Layer> = Vec::new();
    let mut biases: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (name, shape, values) in tensors {
        if let Some(p) = name.strip_suffix(".weight") {
            if shape.len() != 2 && shape.len() != 4 {
                return Err(format!(
                    "'{name}' has shape {shape:?}; expected Linear (2-D) or Conv2d (4-D) weights"
                ));
            }
            layers.push(Layer {
                prefix: p.to_string(),
                shape,
                weight: values,
                bias: None,
            });
        } else if let Some(p) = name.strip_suffix(".bias") {
            biases.push((p.to_string(), shape, values));
        } else {
            return Err(not_found(
                &names,
                &format!("'{name}' is neither a weight nor a bias"),
            ));
        }
    }
    for (p, shape, values) in biases {
        let Some(l) = layers.iter_mut().find(|l| l.prefix == p) else {
            return Err(format!("'{p}.bias' has no weight"));
        };
        if shape.len() != 1 {
            return Err(format!("'{p}.bias' has shape {shape:?}; expected 1-D"));
        }
        l.bias = Some(values);
    }
    if layers.is_empty() {
        return Err(not_found(&names, ""));
    }
    layers.sort_by(|a, b| natural(&a.prefix, &b.prefix));

    // The VAE heads, taken out of the stack.
    let heads = find_heads(&layers);
    let mut mu_logvar = None;
    if let Some((m, l)) = heads {
        let (hi, lo) = (m.max(l), m.min(l));
        let second = layers.remove(hi);
        let first = layers.remove(lo);
        mu_logvar = Some(if m < l {
            (first, second)
        } else {
            (second, first)
        });
    }
    let latent_of_heads = mu_logvar.as_ref().map(|(m, _)| m.shape[0]);

    // Encoder and decoder.
    let named = layers.iter().any(|l| part(&l.prefix) != Part::Unnamed);
    let (encoder, decoder): (Vec<Layer>, Vec<Layer>) = if named {
        if let Some(l) = layers.iter().find(|l| part(&l.prefix) == Part::Unnamed) {
            return Err(format!(
                "layer '{}' is in neither the encoder nor the decoder (expected names starting \
                 with enc/encoder or dec/decoder)",
                l.prefix
            ));
        }
        layers
            .into_iter()
            .partition(|l| part(&l.prefix) == Part::Encoder)
    } else {
        let split = match latent_of_heads {
            Some(z) => layers
                .iter()
                .position(|l| l.is_linear() && l.io().0 == z)
                .unwrap_or(layers.len()),
            None => {
                let n = layers.len();
                let code = (0..n.saturating_sub(1))
                    .filter(|&i| layers[i].is_linear())
                    .min_by_key(|&i| (layers[i].io().1, i));
                match code {
                    Some(i) => i + 1,
                    None => return Err(not_found(&names, "")),
                }
            }
        };
        let decoder = layers.split_off(split);
        (layers, decoder)
    };
    if encoder.is_empty() && mu_logvar.is_none() || decoder.is_empty() {
        return Err(not_found(&names, ""));
    }
    let conv = encoder.iter().chain(&decoder).any(|l| !l.is_linear());
    if conv {
        if mu_logvar.is_some() {
            return Err(
                "is a convolutional VAE, which Bottleneck does not have (its VAE is dense)".into(),
            );
        }
        return conv_model(&names, encoder, decoder, acts);
    }
    dense_model(&names, encoder, mu_logvar, decoder, acts)
}

/// The indices of the μ and log σ² heads, if the names say so.
fn find_heads(layers: &[Layer]) -> Option<(usize, usize)> {
    let linear = |i: &usize| layers[*i].is_linear();
    let of = |h: Head| -> Vec<usize> {
        (0..layers.len())
            .filter(linear)
            .filter(|&i| head(&layers[i].prefix) == Some(h))
            .collect()
    };
    let (mu, lv) = (of(Head::Mu), of(Head::LogVar));
    if let ([m], [l]) = (mu.as_slice(), lv.as_slice()) {
        if layers[*m].shape == layers[*l].shape {
            return Some((*m, *l));
        }
    }
    // The PyTorch example VAE: fc21 (μ) and fc22 (log σ²).
    for m in (0..layers.len()).filter(linear) {
        if let Some(stem) = layers[m].prefix.strip_suffix("21") {
            let lv = format!("{stem}22");
            if let Some(l) = layers.iter().position(|x| x.prefix == lv) {
                if layers[l].shape == layers[m].shape {
                    return Some((m, l));
                }
            }
        }
    }
    None
}

/// Checks that Linear layers chain (each takes what the previous gives); their widths.
fn chain(layers: &[Layer]) -> Result<Vec<usize>, String> {
    let mut widths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        if !l.is_linear() {
            return Err(format!(
                "'{}' is a convolution among Linear layers",
                l.prefix
            ));
        }
        let (inp, out) = l.io();
        if i == 0 {
            widths.push(inp);
        } else if widths.last() != Some(&inp) {
            return Err(format!(
                "'{}' gives {} outputs but '{}' takes {inp} inputs",
                layers[i - 1].prefix,
                widths.last().copied().unwrap_or(0),
                l.prefix
            ));
        }
        widths.push(out);
    }
    Ok(widths)
}

fn dense_model(
    names: &[String],
    encoder: Vec<Layer>,
    heads: Option<(Layer, Layer)>,
    decoder: Vec<Layer>,
    acts: Activations,
) -> Result<(ModelConfig, Vec<SourceLayer>), String> {
    let enc = chain(&encoder)?;
    let dec = chain(&decoder)?;
    let latent = match &heads {
        Some((mu, _)) => {
            let (inp, out) = mu.io();
            if enc.last() != Some(&inp) {
                return Err(format!(
                    "the heads '{}' take {inp} inputs but the encoder gives {}",
                    mu.prefix,
                    enc.last().copied().unwrap_or(0)
                ));
            }
            out
        }
        None => enc.last().copied().unwrap_or(0),
    };
    let detail = format!(
        "the encoder's widths are {enc:?}{}, the decoder's {dec:?}",
        if heads.is_some() {
            format!(" (then μ and log σ² of {latent})")
        } else {
            String::new()
        }
    );
    let config = dense_config(&enc, &dec, latent, heads.is_some(), acts)
        .ok_or_else(|| not_found(names, &detail))?;
    let mut sources: Vec<SourceLayer> = encoder
        .into_iter()
        .map(|l| {
            let out = l.shape[0];
            l.source(out)
        })
        .collect();
    if let Some((mu, lv)) = heads {
        sources.push(mu.source(latent));
        sources.push(lv.source(latent));
    }
    sources.extend(decoder.into_iter().map(|l| {
        let out = l.shape[0];
        l.source(out)
    }));
    Ok((config, sources))
}

fn conv_model(
    names: &[String],
    encoder: Vec<Layer>,
    decoder: Vec<Layer>,
    acts: Activations,
) -> Result<(ModelConfig, Vec<SourceLayer>), String> {
    let expected = "expected Conv2d layers then one Linear to the code, and one Linear from the \
                    code then ConvTranspose2d layers";
    let n = encoder.len();
    let enc_ok =
        n >= 2 && encoder[..n - 1].iter().all(|l| !l.is_linear()) && encoder[n - 1].is_linear();
    let dec_ok =
        decoder.len() >= 2 && decoder[0].is_linear() && decoder[1..].iter().all(|l| !l.is_linear());
    if !enc_ok || !dec_ok {
        return Err(not_found(names, expected));
    }
    if let Some(l) = encoder
        .iter()
        .chain(&decoder)
        .find(|l| !l.is_linear() && l.shape[2..] != [3, 3])
    {
        return Err(format!(
            "'{}' has a {}×{} kernel; expected 3×3 convolutions (stride 2, padding 1)",
            l.prefix, l.shape[2], l.shape[3]
        ));
    }
    let channels: Vec<usize> = encoder[..n - 1].iter().map(|l| l.shape[0]).collect();
    let latent = encoder[n - 1].shape[0];
    let config = ModelConfig {
        arch: Arch::Conv,
        latent,
        hidden: Vec::new(),
        channels,
        activation: acts.hidden,
        sigmoid_output: acts.sigmoid_output,
        code_activation: acts.code,
        decoder_hidden: None,
        classes: 0,
    };
    let mut sources = Vec::with_capacity(n + decoder.len());
    for l in encoder {
        let out = l.shape[0];
        sources.push(l.source(out));
    }
    for (i, l) in decoder.into_iter().enumerate() {
        // ConvTranspose2d weights are [in, out, k, k]: the bias has `out` entries.
        let out = if i == 0 { l.shape[0] } else { l.shape[1] };
        sources.push(l.source(out));
    }
    Ok((config, sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_with_numbers_as_numbers() {
        let mut v = vec![
            "encoder.10",
            "encoder.2",
            "decoder.0",
            "encoder.0",
            "fc21",
            "fc3",
        ];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(
            v,
            [
                "decoder.0",
                "encoder.0",
                "encoder.2",
                "encoder.10",
                "fc3",
                "fc21"
            ]
        );
        assert!(part("model.encoder.0") == Part::Encoder);
        assert!(part("deconv.1") == Part::Decoder && part("conv.0") == Part::Encoder);
        assert!(head("fc_mu") == Some(Head::Mu) && head("vae.log_var") == Some(Head::LogVar));
        assert!(head("encoder.0").is_none() && head("enc_fc").is_none());
    }

    fn lin(name: &str, out: usize, inp: usize) -> NamedTensor {
        (
            format!("{name}.weight"),
            vec![out, inp],
            vec![0.01; out * inp],
        )
    }

    #[test]
    fn a_flat_stack_splits_at_its_narrowest_layer() {
        let t = vec![
            lin("net.0", 64, 784),
            lin("net.2", 8, 64),
            lin("net.4", 64, 8),
            lin("net.6", 784, 64),
        ];
        let (c, s) = recognise(t, Activations::ASSUMED).unwrap();
        assert_eq!((c.latent, c.hidden.clone()), (8, vec![64]));
        assert_eq!(s.len(), 4);
        assert!(s[1].bias.iter().all(|&b| b == 0.0));
    }

    #[test]
    fn the_pytorch_example_vae_is_recognised() {
        let t = vec![
            lin("fc1", 400, 784),
            lin("fc21", 20, 400),
            lin("fc22", 20, 400),
            lin("fc3", 400, 20),
            lin("fc4", 784, 400),
        ];
        let (c, s) = recognise(t, Activations::ASSUMED).unwrap();
        assert_eq!((c.arch, c.latent), (Arch::Vae, 20));
        assert_eq!(s[1].source, "fc21");
        assert_eq!(s[3].source, "fc3");
    }
}
