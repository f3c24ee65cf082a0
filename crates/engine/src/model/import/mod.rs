//! Opening autoencoders trained elsewhere: PyTorch state dicts (`.safetensors`, `.pt`), Keras 3
//! files (`.keras`) and ONNX graphs. Each reader turns its file into a [`Recognised`] model:
//! a [`ModelConfig`], the weights in Bottleneck's own layout and names, one [`LayerRow`] per
//! layer for the import dialog, and what had to be assumed. [`Recognised::build`] makes it a
//! [`TrainedModel`] like any other: a recognised model trains further and saves in Bottleneck's
//! own format; an ONNX graph that is not made of Bottleneck's layers runs for inference only
//! (see [`super::external`]).
//!
//! This module owns the part every reader shares: the options ([`ImportOptions`]), the error,
//! dispatching a path to its reader ([`inspect`], [`import`]) and assembling read layers into
//! a model ([`assemble`], [`dense_config`]), checking every shape against the layout
//! `model::params` gives for the config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::config::{Activation, Arch, LossKind, ModelConfig, TrainConfig, Variant};
use super::external::ExternalNet;
use super::io::{ModelMeta, Origin};
use super::params::{self, LayerKind, LayerSpec, ParamKind};
use super::TrainedModel;

mod keras;
pub mod onnx;
mod torch;
mod torch_pickle;

/// A file that cannot be imported: one sentence naming the file and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// A Bottleneck model that does not load (its message names the file).
    #[error(transparent)]
    Model(#[from] super::io::ModelIoError),
}

impl ImportError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        ImportError::File {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Turns a reader's sentence into an error naming `path`.
fn at(path: &Path) -> impl Fn(String) -> ImportError + '_ {
    move |m| ImportError::new(path, m)
}

/// A zip entry's bytes (the `.pt` and `.keras` readers'), refusing one larger than `limit`;
/// `missing` is the sentence when there is no such entry.
fn zip_entry<R: std::io::Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
    missing: impl FnOnce() -> String,
) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let entry = zip.by_name(name).map_err(|_| missing())?;
    if entry.size() > limit {
        return Err(format!(
            "has an entry '{name}' of {} bytes, too large",
            entry.size()
        ));
    }
    // Grows with what is actually there, not with what the entry claims.
    let mut buf = Vec::new();
    entry
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read '{name}' ({e})"))?;
    Ok(buf)
}

/// The user's answers to what a file does not say. `None` keeps what the file says, or the
/// assumption (ReLU between layers, a linear code, a sigmoid output: what tutorials write).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOptions {
    /// A decoder saved as a file of its own (the model file is then the encoder).
    pub decoder: Option<PathBuf>,
    /// The hidden layers' activation.
    pub activation: Option<Activation>,
    /// The code's activation.
    pub code_activation: Option<Activation>,
    /// A sigmoid on the output (`false`: a linear output).
    pub sigmoid_output: Option<bool>,
}

/// The kinds of file [`inspect`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A model Bottleneck saved (safetensors with its JSON sidecar).
    Bottleneck,
    /// `safetensors.torch.save_file(model.state_dict(), …)`.
    Safetensors,
    /// `torch.save(model.state_dict(), …)`: a zip of a pickle and the tensors' bytes.
    TorchPickle,
    /// `model.save("….keras")`: a zip of `config.json` and `model.weights.h5`.
    Keras,
    /// An ONNX graph (`torch.onnx.export`, `tf2onnx`).
    Onnx,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Bottleneck => "Bottleneck model",
            Format::Safetensors => "PyTorch state dict (.safetensors)",
            Format::TorchPickle => "PyTorch state dict (.pt)",
            Format::Keras => "Keras 3 (.keras)",
            Format::Onnx => "ONNX",
        }
    }

    /// Whether the file records its activations (Keras, ONNX) or they are assumed.
    pub fn records_activations(self) -> bool {
        matches!(self, Format::Bottleneck | Format::Keras | Format::Onnx)
    }
}

/// The format a path's name says, if it is one [`inspect`] reads: `.safetensors` (a
/// Bottleneck model when its `.json` sidecar is beside it), `.pt` / `.pth` / `.bin`,
/// `.keras`, `.onnx`.
pub fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "safetensors" if super::io::sidecar_path(path).is_file() => Format::Bottleneck,
        "safetensors" => Format::Safetensors,
        "pt" | "pth" | "bin" => Format::TorchPickle,
        "keras" => Format::Keras,
        "onnx" => Format::Onnx,
        _ => return None,
    })
}

/// The file-name extensions a model may have (for file dialogs).
pub const EXTENSIONS: &[&str] = &["safetensors", "pt", "pth", "bin", "keras", "onnx"];

/// A layer as a reader found it, its weight already in Bottleneck's layout: `[out, in]` for a
/// linear layer, `[out, in, 3, 3]` for a convolution, `[in, out, 3, 3]` for a transposed one
/// (PyTorch's layouts; Keras' kernels are transposed by its reader).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceLayer {
    /// Its name in the file, e.g. "encoder.0" or "encoder/dense_1".
    pub source: String,
    pub weight: Vec<f32>,
    pub weight_shape: Vec<usize>,
    /// Zeros for a layer without a bias.
    pub bias: Vec<f32>,
}

/// One layer of a recognised model, as the import dialog lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// Its name in the file.
    pub source: String,
    /// Bottleneck's name for it, e.g. "enc.0".
    pub target: String,
    /// e.g. "Linear 784 to 64" or "Conv 3×3, stride 2: 1 to 8 channels".
    pub description: String,
    /// The activation after it, e.g. "ReLU", "linear (the code)", "sigmoid (assumed)".
    pub activation: String,
    pub params: usize,
    /// Whether this layer's output is the code (μ for a VAE).
    pub is_code: bool,
}

/// The weights of a recognised model.
#[derive(Clone, Debug)]
pub enum Weights {
    /// Every tensor of `params::tensors(config)`, in that order: (name, shape, values).
    Native(Vec<(String, Vec<usize>, Vec<f32>)>),
    /// A graph run for inference only.
    External(Arc<dyn ExternalNet>),
}

/// A model read from a file and recognised, before it becomes a [`TrainedModel`].
#[derive(Clone, Debug)]
pub struct Recognised {
    pub format: Format,
    pub files: Vec<PathBuf>,
    pub config: ModelConfig,
    pub layers: Vec<LayerRow>,
    /// What the file did not say and was assumed, one sentence each.
    pub assumed: Vec<String>,
    pub weights: Weights,
}

impl Recognised {
    /// Parameters of all layers.
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Whether it runs for inference only (see [`super::external`]).
    pub fn inference_only(&self) -> bool {
        matches!(self.weights, Weights::External(_))
    }

    /// The layer whose output is the code, e.g. "encoder.4 (8 units, linear)".
    pub fn code_layer(&self) -> String {
        let code: Vec<&str> = self
            .layers
            .iter()
            .filter(|l| l.is_code)
            .map(|l| l.source.as_str())
            .collect();
        format!(
            "{} ({} units, {})",
            if code.is_empty() {
                "the encoder's output".to_string()
            } else {
                code.join(" and ")
            },
            self.config.latent,
            if self.config.arch == Arch::Vae {
                "μ and log σ²"
            } else {
                self.config.code_activation.label()
            }
        )
    }

    /// The training settings an imported model continues with: its variant's preset (Adam,
    /// its learning rate and batch) over the recognised architecture.
    pub fn train_config(&self) -> TrainConfig {
        let m = &self.config;
        let variant = match m.arch {
            Arch::Vae => Variant::Vae,
            Arch::Conv => Variant::Conv,
            Arch::Dense if m.activation == Activation::Identity && !m.sigmoid_output => {
                Variant::Linear
            }
            Arch::Dense if m.hidden.len() >= 3 => Variant::Deep,
            Arch::Dense => Variant::Dense,
        };
        let mut c = TrainConfig::preset(variant, m.latent);
        c.model = m.clone();
        if !m.sigmoid_output {
            c.loss = LossKind::Mse;
        }
        c
    }

    /// The model, named after its file; its sidecar records where it came from and what was
    /// assumed.
    pub fn build(self) -> Result<TrainedModel, ImportError> {
        let first = self.files.first().cloned().unwrap_or_default();
        let name = first
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let config = self.train_config();
        config
            .validate()
            .map_err(|e| ImportError::new(&first, format!("cannot be used: {e}")))?;
        let mut meta = ModelMeta::new(config, &format!("unknown (imported from {name})"));
        meta.origin = Some(Origin {
            format: self.format.label().to_string(),
            files: self.files.clone(),
            assumed: self.assumed.clone(),
        });
        let tensors = match self.weights {
            Weights::External(net) => return Ok(TrainedModel::external(meta, net)),
            Weights::Native(t) => t,
        };
        let bad = |e: candle_core::Error| ImportError::new(&first, e.to_string());
        let mut model = TrainedModel::new(&meta.config, &meta.dataset).map_err(bad)?;
        {
            let data = model.varmap.data().lock().expect("varmap lock");
            if data.len() != tensors.len() {
                return Err(ImportError::new(
                    &first,
                    format!(
                        "has {} tensors, the model needs {}",
                        tensors.len(),
                        data.len()
                    ),
                ));
            }
            for (name, shape, values) in tensors {
                let Some(var) = data.get(&name) else {
                    return Err(ImportError::new(&first, format!("no place for '{name}'")));
                };
                let t = Tensor::from_vec(values, shape, &Device::Cpu).map_err(bad)?;
                var.set(&t).map_err(bad)?;
            }
        }
        model.meta = meta;
        Ok(model)
    }
}

/// What decides the activations of a recognised model: the file's (or the assumptions), then
/// the user's [`ImportOptions`] over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activations {
    pub hidden: Activation,
    pub code: Activation,
    pub sigmoid_output: bool,
}

impl Activations {
    /// What tutorials write and a state dict does not record: ReLU between layers, a linear
    /// code, a sigmoid output.
    pub const ASSUMED: Activations = Activations {
        hidden: Activation::Relu,
        code: Activation::Identity,
        sigmoid_output: true,
    };

    /// These activations with the user's choices over them.
    pub fn with(self, o: &ImportOptions) -> Self {
        Self {
            hidden: o.activation.unwrap_or(self.hidden),
            code: o.code_activation.unwrap_or(self.code),
            sigmoid_output: o.sigmoid_output.unwrap_or(self.sigmoid_output),
        }
    }

    /// The sentences saying what was assumed (for a format that does not record activations),
    /// naming the user's choices where they replaced an assumption.
    pub fn assumed(self, o: &ImportOptions) -> Vec<String> {
        let say = |what: &str, value: &str, chosen: bool| {
            if chosen {
                format!("{what}: {value} (your choice)")
            } else {
                format!("{what}: {value} (assumed)")
            }
        };
        vec![
            say(
                "hidden activations",
                self.hidden.label(),
                o.activation.is_some(),
            ),
            say("code", self.code.label(), o.code_activation.is_some()),
            say(
                "output",
                if self.sigmoid_output {
                    "sigmoid"
                } else {
                    "linear"
                },
                o.sigmoid_output.is_some(),
            ),
        ]
    }
}

/// The configuration of a dense autoencoder (or VAE, with `vae`) from its layers' widths:
/// `encoder` from 784 through the hidden widths to the code (for a VAE, to the trunk's last
/// width; the heads give the code), `decoder` from the code to 784. A decoder that does not
/// mirror the encoder is kept as it is. `None` when the widths do not chain from 784 to 784.
pub fn dense_config(
    encoder: &[usize],
    decoder: &[usize],
    latent: usize,
    vae: bool,
    acts: Activations,
) -> Option<ModelConfig> {
    if encoder.first() != Some(&crate::PIXELS)
        || decoder.first() != Some(&latent)
        || decoder.last() != Some(&crate::PIXELS)
    {
        return None;
    }
    let hidden: Vec<usize> = if vae {
        encoder[1..].to_vec()
    } else {
        if encoder.last() != Some(&latent) || encoder.len() < 2 {
            return None;
        }
        encoder[1..encoder.len() - 1].to_vec()
    };
    let dec_hidden = decoder[1..decoder.len() - 1].to_vec();
    let mirrored: Vec<usize> = hidden.iter().rev().copied().collect();
    Some(ModelConfig {
        arch: if vae { Arch::Vae } else { Arch::Dense },
        latent,
        hidden,
        channels: Vec::new(),
        activation: acts.hidden,
        sigmoid_output: acts.sigmoid_output,
        code_activation: if vae { Activation::Identity } else { acts.code },
        decoder_hidden: (dec_hidden != mirrored).then_some(dec_hidden),
        classes: 0,
    })
}

/// A recognised model from `config` and the layers read from the file, in the order
/// `model::params::layers(config)` lists them (encoder, VAE heads, decoder; or convolutions,
/// the two dense layers, transposed convolutions). Every weight and bias is checked against
/// the layout's shapes; the message names the first layer that does not fit.
pub fn assemble(
    format: Format,
    files: Vec<PathBuf>,
    config: ModelConfig,
    sources: Vec<SourceLayer>,
    assumed: Vec<String>,
) -> Result<Recognised, String> {
    let specs = params::layers(&config);
    if specs.len() != sources.len() {
        return Err(format!(
            "has {} layers where a {} needs {}",
            sources.len(),
            describe_arch(&config),
            specs.len()
        ));
    }
    let roles = roles(&config, &specs);
    let records = format.records_activations();
    let mut tensors = Vec::with_capacity(2 * specs.len());
    let mut layers = Vec::with_capacity(specs.len());
    for ((spec, src), (role, is_code)) in specs.iter().zip(sources).zip(roles) {
        let want_w = spec.shape(ParamKind::Weight);
        let want_b = spec.shape(ParamKind::Bias);
        if src.weight_shape != want_w || src.weight.len() != spec.len(ParamKind::Weight) {
            return Err(format!(
                "layer '{}' has a weight of shape {:?} where {} expects {:?}",
                src.source,
                src.weight_shape,
                describe_arch(&config),
                want_w
            ));
        }
        if src.bias.len() != spec.len(ParamKind::Bias) {
            return Err(format!(
                "layer '{}' has {} biases where {} are expected",
                src.source,
                src.bias.len(),
                want_b[0]
            ));
        }
        let activation =
            if records || role.starts_with("linear (μ") || role.starts_with("linear (log") {
                role
            } else {
                format!("{role} (assumed)")
            };
        layers.push(LayerRow {
            source: src.source.clone(),
            target: spec.name.clone(),
            description: describe_layer(spec),
            activation,
            params: src.weight.len() + src.bias.len(),
            is_code,
        });
        tensors.push((spec.var(ParamKind::Weight), want_w, src.weight));
        tensors.push((spec.var(ParamKind::Bias), want_b, src.bias));
    }
    Ok(Recognised {
        format,
        files,
        config,
        layers,
        assumed,
        weights: Weights::Native(tensors),
    })
}

/// "dense 784-64-32-8 autoencoder", "VAE", "conv autoencoder" (for messages).
fn describe_arch(c: &ModelConfig) -> String {
    match c.arch {
        Arch::Conv => "conv autoencoder".into(),
        Arch::Vae => "VAE".into(),
        Arch::Dense => "dense autoencoder".into(),
    }
}

/// "Linear 784 to 64", "Conv 3×3, stride 2: 1 to 8 channels".
fn describe_layer(spec: &LayerSpec) -> String {
    let (i, o) = (spec.input, spec.output);
    let (k, s) = (params::KERNEL, params::STRIDE);
    match spec.kind {
        LayerKind::Linear => format!("Linear {i} to {o}"),
        LayerKind::Conv => format!("Conv {k}×{k}, stride {s}: {i} to {o} channels"),
        LayerKind::ConvTranspose => {
            format!("ConvTranspose {k}×{k}, stride {s}: {i} to {o} channels")
        }
    }
}

/// Each layer's activation as the dialog says it, and whether its output is the code.
fn roles(c: &ModelConfig, specs: &[LayerSpec]) -> Vec<(String, bool)> {
    let hidden = c.activation.label().to_string();
    let output = if c.sigmoid_output {
        "sigmoid"
    } else {
        "linear"
    };
    let code = format!("{} (the code)", c.code_activation.label());
    let n = specs.len();
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| match (c.arch, s.name.as_str()) {
            (_, _) if i + 1 == n => (format!("{output} (the output)"), false),
            (Arch::Vae, "mu") => ("linear (μ, the code)".into(), true),
            (Arch::Vae, "logvar") => ("linear (log σ²)".into(), false),
            (Arch::Conv, "enc_fc") => (code.clone(), true),
            (Arch::Dense, name) if name == format!("enc.{}", c.hidden.len()) => {
                (code.clone(), true)
            }
            _ => (hidden.clone(), false),
        })
        .collect()
}

/// Reads and recognises `path` (and `options.decoder`) without building the model: what the
/// import dialog shows before the user confirms.
pub fn inspect(path: &Path, options: &ImportOptions) -> Result<Recognised, ImportError> {
    let Some(format) = format_of(path) else {
        return Err(ImportError::new(
            path,
            format!(
                "not a model file Bottleneck reads (expected one of: .{})",
                EXTENSIONS.join(", .")
            ),
        ));
    };
    if !path.is_file() {
        return Err(ImportError::new(path, "no such file"));
    }
    match format {
        Format::Bottleneck if options.decoder.is_some() => Err(ImportError::new(
            path,
            "is a Bottleneck model: a decoder file is only for models saved as two files (a \
             Keras or ONNX encoder and decoder)",
        )),
        Format::Bottleneck => Err(ImportError::new(
            path,
            "is a Bottleneck model: it loads as it is, there is nothing to recognise",
        )),
        Format::Safetensors | Format::TorchPickle => torch::inspect(path, options),
        Format::Keras => keras::inspect(path, options),
        Format::Onnx => onnx::inspect(path, options),
    }
}

/// Reads, recognises and builds `path` (see [`inspect`]); a Bottleneck model is loaded as is.
pub fn import(path: &Path, options: &ImportOptions) -> Result<TrainedModel, ImportError> {
    if format_of(path) == Some(Format::Bottleneck) && options.decoder.is_none() {
        return Ok(super::io::load(path)?);
    }
    inspect(path, options)?.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, out: usize, inp: usize) -> SourceLayer {
        SourceLayer {
            source: name.into(),
            weight: (0..out * inp).map(|i| i as f32 * 1e-4).collect(),
            weight_shape: vec![out, inp],
            bias: vec![0.5; out],
        }
    }

    #[test]
    fn a_tutorial_dense_stack_becomes_a_dense_model() {
        let acts = Activations::ASSUMED;
        let cfg = dense_config(&[784, 64, 8], &[8, 64, 784], 8, false, acts).unwrap();
        assert_eq!(
            (cfg.hidden.clone(), cfg.decoder_hidden.clone()),
            (vec![64], None)
        );
        let layers = vec![
            layer("encoder.0", 64, 784),
            layer("encoder.2", 8, 64),
            layer("decoder.0", 64, 8),
            layer("decoder.2", 784, 64),
        ];
        let r = assemble(Format::Safetensors, vec![], cfg, layers, vec![]).unwrap();
        assert_eq!(
            r.params(),
            784 * 64 + 64 + 64 * 8 + 8 + 8 * 64 + 64 + 64 * 784 + 784
        );
        assert!(r.layers[1].is_code && r.layers[1].activation.contains("assumed"));
        assert_eq!(r.layers[3].target, "dec.1");
        let m = r.build().unwrap();
        let x = vec![0.3f32; 784];
        let z = m.encode(&x).unwrap();
        assert_eq!(z.len(), 8);
        // The weights landed: the first code unit is ReLU-free Σ w·x + b over both layers.
        assert!(z.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn an_asymmetric_decoder_is_kept() {
        let cfg =
            dense_config(&[784, 64, 8], &[8, 32, 784], 8, false, Activations::ASSUMED).unwrap();
        assert_eq!(cfg.decoder_hidden, Some(vec![32]));
        assert_eq!(params::decoder_sizes(&cfg), vec![8, 32, 784]);
        assert!(dense_config(&[100, 8], &[8, 784], 8, false, Activations::ASSUMED).is_none());
    }

    #[test]
    fn a_wrong_shape_names_the_layer() {
        let cfg = dense_config(&[784, 8], &[8, 784], 8, false, Activations::ASSUMED).unwrap();
        let e = assemble(
            Format::Safetensors,
            vec![],
            cfg,
            vec![layer("encoder.0", 8, 784), layer("decoder.0", 783, 8)],
            vec![],
        )
        .unwrap_err();
        assert!(e.contains("'decoder.0'"), "{e}");
    }
}
