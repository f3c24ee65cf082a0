//! The autoencoders. One module per architecture (`dense`, `conv`, `vae`), each a struct built
//! with `new(cfg, vb)` whose weights live in a candle `VarMap`; [`Autoencoder`] puts them behind
//! one `encode`/`decode`/`forward` interface. `loss` holds the loss terms (named by `term`),
//! `config` the settings, `params` the name and shape of every parameter tensor (read by the
//! constructors and the fused engines), `convgeom` the convolution geometry, `io` saving and
//! loading, and [`TrainedModel`] is a self-contained copy of a model for inference (what the
//! UI panels and the command line use).

pub mod bundled;
pub mod config;
pub mod conv;
pub mod convgeom;
pub mod convops;
pub mod cvae;
pub mod dense;
pub mod export;
pub mod external;
pub mod import;
pub mod io;
pub mod layers;
pub mod loss;
pub mod params;
pub mod term;
pub mod vae;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{
    Activation, Arch, ConfigError, LossKind, ModelConfig, NoiseSpec, OptimizerKind, TrainConfig,
    Variant,
};
pub use loss::LossTerms;
pub use term::Term;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::id::{Id, Identity};

#[derive(Clone, Debug)]
enum Net {
    Dense(dense::DenseAe),
    Conv(conv::ConvAe),
    Vae(vae::Vae),
    Cvae(cvae::Cvae),
    /// An imported graph run for inference only (see [`external`]).
    External(std::sync::Arc<dyn external::ExternalNet>),
}

/// Runs an external network on a `[B, width]` tensor.
fn run_external(
    x: &Tensor,
    f: impl FnOnce(&[f32], usize) -> std::result::Result<Vec<f32>, String>,
) -> Result<Tensor> {
    let (b, _) = x.dims2()?;
    let input = x.flatten_all()?.to_vec1::<f32>()?;
    let out = f(&input, b).map_err(candle_core::Error::Msg)?;
    if b == 0 || out.len() % b != 0 {
        candle_core::bail!(
            "the imported network gave {} values for {b} rows",
            out.len()
        );
    }
    let width = out.len() / b;
    Tensor::from_vec(out, (b, width), &Device::Cpu)
}

/// Any of the architectures, with a common interface on `[B, 784]` batches.
#[derive(Clone, Debug)]
pub struct Autoencoder {
    pub cfg: ModelConfig,
    net: Net,
}

/// What one forward pass produces.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The code the rest of the app shows: z for plain AEs, μ for a VAE.
    pub code: Tensor,
    /// Output before the sigmoid.
    pub logits: Tensor,
    /// The reconstruction (sigmoid of the logits, or the logits for a linear output).
    pub recon: Tensor,
    pub mu: Option<Tensor>,
    pub logvar: Option<Tensor>,
}

impl Autoencoder {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let net = match cfg.arch {
            Arch::Dense => Net::Dense(dense::DenseAe::new(cfg, vb)?),
            Arch::Conv => Net::Conv(conv::ConvAe::new(cfg, vb)?),
            Arch::Vae if cfg.classes > 0 => Net::Cvae(cvae::Cvae::new(cfg, vb)?),
            Arch::Vae => Net::Vae(vae::Vae::new(cfg, vb)?),
        };
        Ok(Self {
            cfg: cfg.clone(),
            net,
        })
    }

    /// An imported network run for inference only; `cfg` gives its code size (its other
    /// fields describe nothing that is run).
    pub fn external(cfg: &ModelConfig, net: std::sync::Arc<dyn external::ExternalNet>) -> Self {
        Self {
            cfg: cfg.clone(),
            net: Net::External(net),
        }
    }

    /// Whether this is an imported graph run for inference only (no gradients, no weights).
    pub fn is_external(&self) -> bool {
        matches!(self.net, Net::External(_))
    }

    pub fn latent(&self) -> usize {
        self.cfg.latent
    }

    /// Classes a conditional VAE is conditioned on (0 for any other model).
    pub fn classes(&self) -> usize {
        match &self.net {
            Net::Cvae(m) => m.classes,
            _ => 0,
        }
    }

    /// Whether encoding and decoding need each row's class (a conditional VAE).
    pub fn is_conditional(&self) -> bool {
        self.classes() > 0
    }

    /// The deterministic code of `x`: z, or μ for a VAE. A conditional VAE refuses (it needs
    /// the class: [`Autoencoder::encode_cond`]).
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.encode_cond(x, None)
    }

    /// [`Autoencoder::encode`] given the rows' one-hot classes `y` (`[B, classes]`), which
    /// only a conditional VAE reads (and needs).
    pub fn encode_cond(&self, x: &Tensor, y: Option<&Tensor>) -> Result<Tensor> {
        match &self.net {
            Net::Dense(m) => m.encode(x),
            Net::Conv(m) => m.encode(x),
            Net::Vae(m) => Ok(m.encode_dist(x)?.0),
            Net::Cvae(m) => Ok(m.encode_dist(x, needs_class(y)?)?.0),
            Net::External(n) => run_external(x, |v, b| n.encode(v, b)),
        }
    }

    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor> {
        self.decode_logits_cond(z, None)
    }

    /// [`Autoencoder::decode_logits`] given one-hot classes (see `encode_cond`).
    pub fn decode_logits_cond(&self, z: &Tensor, y: Option<&Tensor>) -> Result<Tensor> {
        match &self.net {
            Net::Dense(m) => m.decode_logits(z),
            Net::Conv(m) => m.decode_logits(z),
            Net::Vae(m) => m.decode_logits(z),
            Net::Cvae(m) => m.decode_logits(z, needs_class(y)?),
            // The imported network's final output (its configuration has no sigmoid output,
            // so `output` leaves it as it is).
            Net::External(n) => run_external(z, |v, b| n.decode(v, b)),
        }
    }

    /// Codes `[B, k]` → images `[B, 784]`, given one-hot classes (see `encode_cond`).
    pub fn decode_cond(&self, z: &Tensor, y: Option<&Tensor>) -> Result<Tensor> {
        self.output(&self.decode_logits_cond(z, y)?)
    }

    fn output(&self, logits: &Tensor) -> Result<Tensor> {
        if self.cfg.sigmoid_output {
            candle_nn::ops::sigmoid(logits)
        } else {
            Ok(logits.clone())
        }
    }

    /// Codes `[B, k]` → images `[B, 784]`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.output(&self.decode_logits(z)?)
    }

    /// A full pass. For a VAE, `eps` (`[B, k]`, standard normal) is the reparameterisation
    /// noise; without it the decoder sees μ (the deterministic reconstruction).
    pub fn forward(&self, x: &Tensor, eps: Option<&Tensor>) -> Result<Forward> {
        self.forward_cond(x, None, eps)
    }

    /// [`Autoencoder::forward`] given the rows' one-hot classes (see `encode_cond`).
    pub fn forward_cond(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        eps: Option<&Tensor>,
    ) -> Result<Forward> {
        let dist = match &self.net {
            Net::Cvae(m) => Some(m.encode_dist(x, needs_class(y)?)?),
            Net::Vae(m) => Some(m.encode_dist(x)?),
            _ => None,
        };
        let (code, mu, logvar, z) = match dist {
            Some((mu, logvar)) => {
                let z = match eps {
                    Some(e) => (&mu + ((&logvar * 0.5)?.exp()? * e)?)?,
                    None => mu.clone(),
                };
                (mu.clone(), Some(mu), Some(logvar), z)
            }
            None => {
                let z = self.encode(x)?;
                (z.clone(), None, None, z)
            }
        };
        let logits = self.decode_logits_cond(&z, y)?;
        let recon = self.output(&logits)?;
        Ok(Forward {
            code,
            logits,
            recon,
            mu,
            logvar,
        })
    }

    /// [`Autoencoder::forward`] with every layer's output, in order, each named after its layer
    /// (`params::layers`' names: "enc.0", "mu", "conv.1", "dec_fc", "deconv.0", …), plus the
    /// steps that are no layer: a VAE's "sigma", "eps" (when given) and "z" after "logvar",
    /// and "recon" (the output after its sigmoid) last. A layer's output is after its
    /// activation; the last decoder layer's are the logits. Dense outputs are `[B, n]`,
    /// convolutional ones `[B, c, h, w]`. Same operations as `forward`, so the same numbers.
    pub fn forward_layers(
        &self,
        x: &Tensor,
        eps: Option<&Tensor>,
    ) -> Result<(Forward, Vec<(String, Tensor)>)> {
        let b = x.dim(0)?;
        let mut outs: Vec<Tensor> = Vec::new();
        let mut extra: Vec<(String, Tensor)> = Vec::new();
        let (code, mu, logvar, z) = match &self.net {
            Net::Dense(m) => {
                let mut enc = m.encoder.forward_each(x, false)?;
                let Some(last) = enc.pop() else {
                    candle_core::bail!("the encoder has no layer");
                };
                let z = layers::activate(&last, m.code_activation)?;
                outs.extend(enc);
                outs.push(z.clone());
                (z.clone(), None, None, z)
            }
            Net::Vae(m) => {
                let trunk = m.trunk.forward_each(x, true)?;
                let h = trunk.last().cloned().unwrap_or_else(|| x.clone());
                let mu = candle_nn::Module::forward(&m.mu, &h)?;
                let logvar = candle_nn::Module::forward(&m.logvar, &h)?;
                outs.extend(trunk);
                outs.push(mu.clone());
                outs.push(logvar.clone());
                let sigma = (&logvar * 0.5)?.exp()?;
                extra.push(("sigma".into(), sigma.clone()));
                let z = match eps {
                    Some(e) => {
                        extra.push(("eps".into(), e.clone()));
                        (&mu + (sigma * e)?)?
                    }
                    None => mu.clone(),
                };
                extra.push(("z".into(), z.clone()));
                (mu.clone(), Some(mu), Some(logvar), z)
            }
            Net::Conv(m) => {
                let enc = m.encode_each(x)?;
                let Some(z) = enc.last().cloned() else {
                    candle_core::bail!("the encoder has no layer");
                };
                outs.extend(enc);
                (z.clone(), None, None, z)
            }
            Net::External(_) => candle_core::bail!("{}", external::INFERENCE_ONLY),
            Net::Cvae(_) => candle_core::bail!("{}", cvae::NEEDS_CLASS),
        };
        let n_enc = outs.len();
        let dec = match &self.net {
            Net::Dense(m) => m.decoder.forward_each(&z, false)?,
            Net::Vae(m) => m.decoder.forward_each(&z, false)?,
            Net::Conv(m) => m.decode_each(&z)?,
            Net::External(_) => candle_core::bail!("{}", external::INFERENCE_ONLY),
            Net::Cvae(_) => candle_core::bail!("{}", cvae::NEEDS_CLASS),
        };
        let Some(last) = dec.last() else {
            candle_core::bail!("the decoder has no layer");
        };
        let logits = last.reshape((b, crate::PIXELS))?;
        let recon = self.output(&logits)?;
        outs.extend(dec);
        let names: Vec<String> = params::layers(&self.cfg)
            .into_iter()
            .map(|l| l.name)
            .collect();
        if names.len() != outs.len() {
            candle_core::bail!(
                "{} layer outputs for the {} layers of the layout",
                outs.len(),
                names.len()
            );
        }
        let mut named: Vec<(String, Tensor)> = names.into_iter().zip(outs).collect();
        let tail = named.split_off(n_enc);
        named.extend(extra);
        named.extend(tail);
        named.push(("recon".into(), recon.clone()));
        Ok((
            Forward {
                code,
                logits,
                recon,
                mu,
                logvar,
            },
            named,
        ))
    }

    /// Per-sample squared Frobenius norm of the Jacobian of the code with respect to the input.
    ///
    /// Dense encoders (and a VAE's μ) are exact: with ReLU or identity activations the Jacobian
    /// is a product of masked weight matrices. The conv encoder uses Hutchinson's estimator,
    /// ‖J‖²_F = E_v ‖J v‖² for v ~ N(0, I), with a finite-difference Jacobian-vector product
    /// J v ≈ (f(x + h v) − f(x)) / h, h = 10⁻²; `probe` is v (`[B, 784]`). It is unbiased up to
    /// the O(h) finite-difference error (zero where no ReLU changes state between x and x + h v)
    /// and one probe per sample makes it noisy per sample, but its batch mean is a fair penalty.
    pub fn jacobian_sq_norm(&self, x: &Tensor, probe: Option<&Tensor>) -> Result<Tensor> {
        match &self.net {
            Net::Dense(m) => m.encoder.jacobian_sq_norm(x),
            Net::Vae(m) => {
                // μ(x) = W_μ h(x) + b: the trunk's Jacobian followed by W_μ.
                let mut layers = m.trunk.layers.clone();
                layers.push(m.mu.clone());
                layers::Mlp {
                    layers,
                    act: m.trunk.act,
                }
                .jacobian_sq_norm(x)
            }
            Net::External(_) => candle_core::bail!("{}", external::INFERENCE_ONLY),
            Net::Cvae(_) => {
                candle_core::bail!("the contractive penalty is not available for a conditional VAE")
            }
            Net::Conv(m) => {
                const H: f64 = 1e-2;
                let v = match probe {
                    Some(p) => p.clone(),
                    None => candle_core::bail!("the conv contractive penalty needs a probe"),
                };
                let f0 = m.encode(x)?;
                let f1 = m.encode(&(x + (v * H)?)?)?;
                ((f1 - f0)? / H)?.sqr()?.sum(1)
            }
        }
    }
}

/// The one-hot classes a conditional VAE needs, or why it cannot go on without them.
fn needs_class(y: Option<&Tensor>) -> Result<&Tensor> {
    y.ok_or_else(|| candle_core::Error::Msg(cvae::NEEDS_CLASS.into()))
}

/// A model with its weights and settings, independent of any trainer: what is saved, loaded,
/// shown in the panels and used on the command line.
#[derive(Clone)]
pub struct TrainedModel {
    pub meta: io::ModelMeta,
    pub varmap: VarMap,
    pub model: Autoencoder,
    /// For cache keys (a clone gets its own); not saved.
    identity: Identity,
}

impl std::fmt::Debug for TrainedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TrainedModel({}, {} epochs)",
            self.meta.config.describe(),
            self.meta.epochs_trained
        )
    }
}

impl TrainedModel {
    /// A freshly initialised model (seeded Glorot weights).
    pub fn new(config: &TrainConfig, dataset: &str) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Autoencoder::new(&config.model, vb)?;
        layers::seeded_init(&varmap, config.seed)?;
        Ok(Self {
            meta: io::ModelMeta::new(config.clone(), dataset),
            varmap,
            model,
            identity: Identity::new(),
        })
    }

    /// A deep copy of `varmap`'s current values under `meta`: later training does not change it.
    pub fn from_varmap(meta: io::ModelMeta, varmap: &VarMap) -> Result<Self> {
        let copy = VarMap::new();
        {
            let src = varmap.data().lock().expect("varmap lock");
            let mut dst = copy.data().lock().expect("varmap lock");
            for (name, var) in src.iter() {
                let t = var.as_tensor().copy()?;
                dst.insert(name.clone(), candle_core::Var::from_tensor(&t)?);
            }
        }
        let vb = VarBuilder::from_varmap(&copy, DType::F32, &Device::Cpu);
        let model = Autoencoder::new(&meta.config.model, vb)?;
        Ok(Self {
            meta,
            varmap: copy,
            model,
            identity: Identity::new(),
        })
    }

    /// A copy with weights of its own: training it leaves this model as it is (a plain
    /// `clone` shares the weights). An inference-only model is cloned (it has no weights).
    pub fn independent_copy(&self) -> Result<Self> {
        if self.inference_only().is_some() {
            return Ok(self.clone());
        }
        Self::from_varmap(self.meta.clone(), &self.varmap)
    }

    /// An imported network run for inference only (see [`external`]): no weights, and its
    /// configuration has a linear output (the network's output is used as it is).
    pub fn external(
        mut meta: io::ModelMeta,
        net: std::sync::Arc<dyn external::ExternalNet>,
    ) -> Self {
        meta.config.model.sigmoid_output = false;
        let model = Autoencoder::external(&meta.config.model, net);
        Self {
            meta,
            varmap: VarMap::new(),
            model,
            identity: Identity::new(),
        }
    }

    /// Why this model cannot be trained, saved or have its weights drawn, if it cannot (an
    /// imported graph run for inference only).
    pub fn inference_only(&self) -> Option<&'static str> {
        self.model.is_external().then_some(external::INFERENCE_ONLY)
    }

    /// Where its weights stand after `epoch` epochs here: "epoch 12", or for an imported model
    /// "imported from Keras 3 (.keras)" before any and "imported, then epoch 3" after.
    pub fn epoch_label(&self, epoch: usize) -> String {
        match &self.meta.origin {
            Some(o) if epoch == 0 => format!("imported from {}", o.format),
            Some(_) => format!("imported, then epoch {epoch}"),
            None => format!("epoch {epoch}"),
        }
    }

    /// This model's identity, for cache keys.
    pub fn id(&self) -> Id {
        self.identity.id()
    }

    pub fn config(&self) -> &TrainConfig {
        &self.meta.config
    }

    pub fn latent(&self) -> usize {
        self.model.latent()
    }

    /// Codes of `n` images (row-major `n × 784`), computed in batches.
    pub fn encode(&self, images: &[f32]) -> Result<Vec<f32>> {
        self.map_batches(images, crate::PIXELS, |x| self.model.encode(x))
    }

    /// Images from `n` codes (row-major `n × k`).
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>> {
        self.map_batches(codes, self.latent(), |z| self.model.decode(z))
    }

    /// Classes a conditional VAE is conditioned on (0 for any other model).
    pub fn classes(&self) -> usize {
        self.model.classes()
    }

    /// Codes of `n` images given their classes (`labels`, one per image): a conditional VAE's
    /// μ(x, y); any other model ignores the labels.
    pub fn encode_labelled(&self, images: &[f32], labels: &[u8]) -> Result<Vec<f32>> {
        self.labelled(images, crate::PIXELS, labels, |x, y| {
            self.model.encode_cond(x, y)
        })
    }

    /// Images from `n` codes, each decoded as the class `labels` gives it (see
    /// `encode_labelled`).
    pub fn decode_labelled(&self, codes: &[f32], labels: &[u8]) -> Result<Vec<f32>> {
        self.labelled(codes, self.latent(), labels, |z, y| {
            self.model.decode_cond(z, y)
        })
    }

    /// Deterministic reconstructions given the images' classes (see `encode_labelled`).
    pub fn reconstruct_labelled(&self, images: &[f32], labels: &[u8]) -> Result<Vec<f32>> {
        self.labelled(images, crate::PIXELS, labels, |x, y| {
            Ok(self.model.forward_cond(x, y, None)?.recon)
        })
    }

    /// Runs `f` on `rows` (`width` values each) with their one-hot `labels` (when the model
    /// reads them), 1,024 rows at a time.
    fn labelled(
        &self,
        rows: &[f32],
        width: usize,
        labels: &[u8],
        f: impl Fn(&Tensor, Option<&Tensor>) -> Result<Tensor>,
    ) -> Result<Vec<f32>> {
        let n = rows.len() / width.max(1);
        if labels.len() != n {
            candle_core::bail!("{} labels for {n} rows", labels.len());
        }
        let classes = self.classes();
        let mut out = Vec::new();
        for start in (0..n).step_by(1024) {
            let end = (start + 1024).min(n);
            let x = Tensor::from_slice(
                &rows[start * width..end * width],
                (end - start, width),
                &Device::Cpu,
            )?;
            let y = if classes > 0 {
                Some(cvae::one_hot(&labels[start..end], classes)?)
            } else {
                None
            };
            out.extend(f(&x, y.as_ref())?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Deterministic reconstructions (μ for a VAE).
    pub fn reconstruct(&self, images: &[f32]) -> Result<Vec<f32>> {
        self.map_batches(images, crate::PIXELS, |x| {
            Ok(self.model.forward(x, None)?.recon)
        })
    }

    /// [`TrainedModel::reconstruct`] batch by batch: `each` gets a batch of `images` and its
    /// reconstructions, so no copy of all reconstructions is held (a measure over 60,000
    /// images would otherwise need 188 MB for them).
    pub fn reconstruct_each(&self, images: &[f32], each: impl FnMut(&[f32], &[f32])) -> Result<()> {
        self.batches(
            images,
            crate::PIXELS,
            |x| Ok(self.model.forward(x, None)?.recon),
            each,
        )
    }

    /// [`TrainedModel::decode`] batch by batch: `each` gets a batch of `codes` and its images.
    pub fn decode_each(&self, codes: &[f32], each: impl FnMut(&[f32], &[f32])) -> Result<()> {
        self.batches(codes, self.latent(), |z| self.model.decode(z), each)
    }

    fn map_batches(
        &self,
        rows: &[f32],
        width: usize,
        f: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.batches(rows, width, f, |_, y| out.extend_from_slice(y))?;
        Ok(out)
    }

    /// Runs `f` on `rows` (`width` values each) 1,024 rows at a time and hands `each` every
    /// batch of rows with `f`'s output for it.
    fn batches(
        &self,
        rows: &[f32],
        width: usize,
        f: impl Fn(&Tensor) -> Result<Tensor>,
        mut each: impl FnMut(&[f32], &[f32]),
    ) -> Result<()> {
        const CHUNK: usize = 1024;
        let n = rows.len() / width.max(1);
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let batch = &rows[start * width..end * width];
            let x = Tensor::from_slice(batch, (end - start, width), &Device::Cpu)?;
            each(batch, &f(&x)?.flatten_all()?.to_vec1::<f32>()?);
            start = end;
        }
        Ok(())
    }
}
