//! The fused training engine for dense autoencoders and dense VAEs.
//!
//! Profiling candle's autograd loop on the 784-256-128-32 autoencoder showed most of a step's
//! time outside the matrix products: dozens of small tensor allocations, a graph walk, and an
//! optimiser that makes ~10 passes per parameter tensor. This engine computes exactly the same
//! step (same loss, same gradients, same Adam/AdamW update as `candle_nn::AdamW`) by hand:
//!
//! - the batch is split across the rayon threads; each thread runs forward and backward on its
//!   rows with single-threaded `gemm` calls (the crate candle itself uses) into buffers it owns
//!   and reuses every step, with bias, activation and loss gradient fused into single passes;
//! - the per-thread gradients are summed and the Adam update applied in one parallel pass.
//!
//! Weights live here while training and are copied to and from the model's `VarMap` at
//! synchronisation points (end of epoch, snapshots, saving). The unit tests check the
//! gradients against candle's autograd on the same weights.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::kernels;
use crate::linalg::{matmul, SERIAL};

use crate::model::config::{Activation, Arch, LossKind, TrainConfig};
use crate::model::dense::{decoder_sizes, encoder_sizes};
use crate::model::loss::{LossTerms, Term};

/// Gradients by variable name.
pub type NamedGrads = Vec<(String, Vec<f32>)>;

/// One fully connected layer's place in the flat parameter vector.
#[derive(Clone, Debug)]
struct Layer {
    /// Variable prefix in the VarMap, e.g. "enc.0".
    name: String,
    input: usize,
    output: usize,
    /// Offset of the weight; the bias follows it.
    offset: usize,
    /// The weight is stored `[input, output]` (transposed from candle's `[output, input]`),
    /// so the sparse first-layer products read contiguous rows.
    transposed: bool,
}

impl Layer {
    fn w_len(&self) -> usize {
        self.input * self.output
    }
    fn b_off(&self) -> usize {
        self.offset + self.w_len()
    }
    fn end(&self) -> usize {
        self.b_off() + self.output
    }
}

/// Per-thread buffers, sized for the largest chunk seen so far.
#[derive(Default)]
struct Worker {
    rows: usize,
    /// Post-activation outputs of the encoder layers (the last is the code, or the trunk's
    /// output for a VAE).
    enc: Vec<Vec<f32>>,
    mu: Vec<f32>,
    logvar: Vec<f32>,
    /// VAE: the sampled code z.
    z: Vec<f32>,
    /// Decoder outputs; the last holds the reconstruction y.
    dec: Vec<Vec<f32>>,
    /// Output logits (before the sigmoid).
    logits: Vec<f32>,
    /// Two gradient buffers, wide enough for any layer, swapped as backprop walks down.
    g_a: Vec<f32>,
    g_b: Vec<f32>,
    g_mu: Vec<f32>,
    g_lv: Vec<f32>,
    /// This thread's parameter gradient.
    grad: Vec<f32>,
    /// Partial sums: reconstruction, Σ|code|, KL.
    sums: [f64; 3],
    /// The chunk's input in sparse form.
    csr: kernels::Csr,
}

pub struct FusedMlp {
    enc: Vec<Layer>,
    /// VAE heads (μ, log σ²).
    heads: Option<(Layer, Layer)>,
    dec: Vec<Layer>,
    act: Activation,
    sigmoid_out: bool,
    loss: LossKind,
    l1: f32,
    beta: f32,
    latent: usize,
    params: Vec<f32>,
    adam: kernels::Adam,
    workers: Vec<Worker>,
    eps: Vec<f32>,
    /// Workers holding gradients after the last forward/backward (1 or 2).
    active: usize,
}

fn layers_for(prefix: &str, sizes: &[usize], offset: &mut usize) -> Vec<Layer> {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, w)| layer(format!("{prefix}.{i}"), w[0], w[1], offset))
        .collect()
}

fn layer(name: String, input: usize, output: usize, offset: &mut usize) -> Layer {
    let l = Layer {
        name,
        input,
        output,
        offset: *offset,
        transposed: false,
    };
    *offset = l.end();
    l
}

/// Below this fraction of nonzero inputs the first layer uses sparse products.
const SPARSE_BELOW: f32 = 0.35;

/// `out = x Wᵀ + b`, then the activation. `sparse` is `x` in CSR form when it is worth using
/// (first layer only: its weight is stored transposed).
fn dense_forward(
    p: &[f32],
    l: &Layer,
    x: &[f32],
    sparse: Option<&kernels::Csr>,
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
) {
    let w = &p[l.offset..l.b_off()];
    let b = &p[l.b_off()..l.end()];
    let out = &mut out[..rows * l.output];
    match (sparse, l.transposed) {
        (Some(csr), true) => kernels::sparse_matmul(csr, w, l.output, out),
        (_, true) => matmul(
            rows, l.output, l.input, out, x, false, w, false, false, SERIAL,
        ),
        (_, false) => matmul(
            rows, l.output, l.input, out, x, false, w, true, false, SERIAL,
        ),
    }
    kernels::bias_act(out, b, act == Some(Activation::Relu));
}

/// Weight and bias gradients of `l` from the output gradient `g` and the layer input `x`.
fn dense_param_grad(
    grad: &mut [f32],
    l: &Layer,
    g: &[f32],
    x: &[f32],
    sparse: Option<&kernels::Csr>,
    rows: usize,
) {
    let (w, b) = grad[l.offset..l.end()].split_at_mut(l.w_len());
    let g = &g[..rows * l.output];
    match (sparse, l.transposed) {
        (Some(csr), true) => kernels::sparse_t_matmul(csr, g, l.output, w),
        (_, true) => matmul(l.input, l.output, rows, w, x, true, g, false, false, SERIAL),
        (_, false) => matmul(l.output, l.input, rows, w, g, true, x, false, false, SERIAL),
    }
    kernels::col_sums(g, b);
}

/// Input gradient `g_in = g W`, masked by the ReLU of the layer's input `x` when `relu`.
fn dense_input_grad(
    p: &[f32],
    l: &Layer,
    g: &[f32],
    rows: usize,
    g_in: &mut [f32],
    x: &[f32],
    relu: bool,
) {
    let w = &p[l.offset..l.b_off()];
    debug_assert!(!l.transposed, "the first layer has no input gradient");
    matmul(
        rows, l.input, l.output, g_in, g, false, w, false, false, SERIAL,
    );
    if relu {
        kernels::relu_mask(&mut g_in[..rows * l.input], &x[..rows * l.input]);
    }
}

impl FusedMlp {
    /// Dense AEs and dense VAEs without the contractive penalty (that one needs the
    /// Jacobian's own gradient and stays on candle's autograd).
    pub fn supports(cfg: &TrainConfig) -> bool {
        matches!(cfg.model.arch, Arch::Dense | Arch::Vae) && cfg.contractive == 0.0
    }

    pub fn new(cfg: &TrainConfig, varmap: &VarMap) -> candle_core::Result<Self> {
        if !Self::supports(cfg) {
            candle_core::bail!("the fused engine does not support {}", cfg.describe());
        }
        let m = &cfg.model;
        let mut off = 0;
        let (enc, heads) = if m.arch == Arch::Vae {
            let mut trunk = vec![crate::PIXELS];
            trunk.extend(&m.hidden);
            let enc = layers_for("enc", &trunk, &mut off);
            let last = *trunk.last().expect("non-empty");
            let mu = layer("mu".into(), last, m.latent, &mut off);
            let lv = layer("logvar".into(), last, m.latent, &mut off);
            (enc, Some((mu, lv)))
        } else {
            (layers_for("enc", &encoder_sizes(m), &mut off), None)
        };
        let mut enc = enc;
        enc[0].transposed = true;
        let dec = layers_for("dec", &decoder_sizes(m), &mut off);
        let mut s = Self {
            enc,
            heads,
            dec,
            act: m.activation,
            sigmoid_out: m.sigmoid_output,
            loss: cfg.loss,
            l1: cfg.l1,
            beta: cfg.beta,
            latent: m.latent,
            params: vec![0.0; off],
            adam: kernels::Adam::new(cfg, off),
            workers: Vec::new(),
            eps: Vec::new(),
            active: 1,
        };
        s.read_from(varmap)?;
        Ok(s)
    }

    fn all_layers(&self) -> impl Iterator<Item = &Layer> {
        self.enc
            .iter()
            .chain(self.heads.iter().flat_map(|(a, b)| [a, b]))
            .chain(self.dec.iter())
    }

    /// Copies the weights from the model's variables.
    pub fn read_from(&mut self, varmap: &VarMap) -> candle_core::Result<()> {
        let data = varmap.data().lock().expect("varmap lock");
        let layers: Vec<Layer> = self.all_layers().cloned().collect();
        for l in layers {
            for (suffix, start, end) in [
                ("weight", l.offset, l.b_off()),
                ("bias", l.b_off(), l.end()),
            ] {
                let name = format!("{}.{suffix}", l.name);
                let var = data
                    .get(&name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {name}")))?;
                let values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                if values.len() != end - start {
                    candle_core::bail!(
                        "variable {name} has {} values, expected {}",
                        values.len(),
                        end - start
                    );
                }
                if suffix == "weight" && l.transposed {
                    // candle's [output, input] → our [input, output]
                    let t = transpose(&values, l.output, l.input);
                    self.params[start..end].copy_from_slice(&t);
                } else {
                    self.params[start..end].copy_from_slice(&values);
                }
            }
        }
        self.adam.measure(&self.params);
        Ok(())
    }

    /// Copies the weights into the model's variables.
    pub fn write_to(&self, varmap: &VarMap) -> candle_core::Result<()> {
        let data = varmap.data().lock().expect("varmap lock");
        for l in self.all_layers() {
            let w = Tensor::from_slice(
                &self.layer_weight(l, &self.params),
                (l.output, l.input),
                &Device::Cpu,
            )?;
            let b = Tensor::from_slice(&self.params[l.b_off()..l.end()], l.output, &Device::Cpu)?;
            for (suffix, t) in [("weight", w), ("bias", b)] {
                let name = format!("{}.{suffix}", l.name);
                data.get(&name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("missing variable {name}")))?
                    .set(&t)?;
            }
        }
        Ok(())
    }

    /// Forward and backward over the batch; leaves the summed gradient in the first worker's
    /// buffer. Returns the loss terms and whether every gradient is finite.
    fn forward_backward(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<(LossTerms, bool)> {
        let d = crate::PIXELS;
        if input.len() != b * d || target.len() != b * d || b == 0 {
            candle_core::bail!("fused step: expected {b} rows of {d} pixels");
        }
        let vae = self.heads.is_some();
        if vae {
            // Drawn in the same order as the candle engine does, so both see the same ε.
            self.eps.clear();
            self.eps
                .extend((0..b * self.latent).map(|_| -> f32 { StandardNormal.sample(rng) }));
        }
        let threads = rayon::current_num_threads().clamp(1, b);
        let chunk = b.div_ceil(threads);
        let n_chunks = b.div_ceil(chunk);
        if self.workers.len() < n_chunks {
            self.workers.resize_with(n_chunks, Worker::default);
        }
        let plen = self.params.len();
        let mut workers = std::mem::take(&mut self.workers);
        workers[..n_chunks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, w)| {
                let r0 = c * chunk;
                let r1 = ((c + 1) * chunk).min(b);
                self.run_chunk(
                    w,
                    &input[r0 * d..r1 * d],
                    &target[r0 * d..r1 * d],
                    if vae {
                        &self.eps[r0 * self.latent..r1 * self.latent]
                    } else {
                        &[]
                    },
                    b,
                );
            });
        let mut sums = [0f64; 3];
        for w in &workers[..n_chunks] {
            for (s, ws) in sums.iter_mut().zip(w.sums) {
                *s += ws;
            }
        }
        // More than two workers: fold the extra gradients into the second one; the first two
        // are summed inside the Adam pass.
        fold_extra_gradients(&mut workers[..n_chunks], plen);
        self.active = n_chunks.min(2);
        self.workers = workers;
        let bd = (b * d) as f64;
        let mut terms = LossTerms::default();
        let rec = sums[0] / bd;
        let mut total = rec;
        terms.set(Term::Reconstruction, rec);
        if vae {
            let kl = self.beta as f64 * sums[2] / bd;
            terms.set(Term::Kl, kl);
            total += kl;
        }
        if self.l1 > 0.0 {
            let l = self.l1 as f64 * sums[1] / b as f64;
            terms.set(Term::L1, l);
            total += l;
        }
        terms.set(Term::Total, total);
        Ok((terms, true))
    }

    /// One training step on `b` rows of `input` (what the network sees) and `target` (what
    /// it should reconstruct). Returns the loss terms before the update; the update is skipped
    /// when the loss or a gradient is not finite.
    pub fn step(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<LossTerms> {
        let (terms, finite) = self.forward_backward(input, target, b, rng)?;
        if finite && terms.total().is_finite() {
            self.adam_update();
        }
        Ok(terms)
    }

    /// Layer `l`'s weight from a parameter-shaped buffer, in candle's `[output, input]` layout.
    fn layer_weight(&self, l: &Layer, buf: &[f32]) -> Vec<f32> {
        let w = &buf[l.offset..l.b_off()];
        if l.transposed {
            transpose(w, l.input, l.output)
        } else {
            w.to_vec()
        }
    }

    /// Root mean square of all parameters (after the last update).
    pub fn param_rms(&self) -> f64 {
        self.adam.param_rms()
    }

    /// The gradient of the loss for one batch, by variable name, without updating anything
    /// (for tests against autograd).
    pub fn gradients(
        &mut self,
        input: &[f32],
        target: &[f32],
        b: usize,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<(LossTerms, NamedGrads)> {
        let (terms, _) = self.forward_backward(input, target, b, rng)?;
        let mut g = self.workers[0].grad.clone();
        if self.active == 2 {
            kernels::add_assign(&mut g, &self.workers[1].grad);
        }
        let g = &g;
        let mut out = Vec::new();
        for l in self.all_layers() {
            out.push((format!("{}.weight", l.name), self.layer_weight(l, g)));
            out.push((format!("{}.bias", l.name), g[l.b_off()..l.end()].to_vec()));
        }
        Ok((terms, out))
    }

    /// Applies Adam(W) to every parameter with the summed gradient, in parallel blocks.
    fn adam_update(&mut self) {
        let plen = self.params.len();
        let g1: &[f32] = if self.active == 2 {
            &self.workers[1].grad[..plen]
        } else {
            &[]
        };
        self.adam
            .update(&mut self.params, &self.workers[0].grad[..plen], g1);
    }

    /// Forward and backward for one chunk of rows; `b` is the whole batch's size (the loss is
    /// a mean over the whole batch).
    fn run_chunk(&self, w: &mut Worker, x: &[f32], t: &[f32], eps: &[f32], b: usize) {
        let d = crate::PIXELS;
        let rows = x.len() / d;
        self.ensure(w, rows);
        let p = &self.params;
        let act = Some(self.act);
        let relu = self.act == Activation::Relu;
        let vae = self.heads.is_some();
        let k = self.latent;
        let n_enc = self.enc.len();
        let n_dec = self.dec.len();
        // Mostly-black inputs go through the sparse first-layer products.
        let use_sparse = w.csr.fill(x, d) < SPARSE_BELOW;

        // ---- forward: encoder ----
        for (j, l) in self.enc.iter().enumerate() {
            let activate = vae || j + 1 < n_enc;
            let (before, after) = w.enc.split_at_mut(j);
            let (inp, sp): (&[f32], _) = if j == 0 {
                (x, use_sparse.then_some(&w.csr))
            } else {
                (&before[j - 1], None)
            };
            dense_forward(
                p,
                l,
                inp,
                sp,
                rows,
                &mut after[0],
                if activate { act } else { None },
            );
        }
        let mut kl_sum = 0f64;
        if let Some((lm, lv)) = &self.heads {
            let h = &w.enc[n_enc - 1];
            dense_forward(p, lm, h, None, rows, &mut w.mu, None);
            dense_forward(p, lv, h, None, rows, &mut w.logvar, None);
            let n = rows * k;
            for (((z, &mu), &lvar), &e) in w.z[..n]
                .iter_mut()
                .zip(&w.mu[..n])
                .zip(&w.logvar[..n])
                .zip(&eps[..n])
            {
                *z = mu + (0.5 * lvar).exp() * e;
                kl_sum += (-0.5 * (1.0 + lvar - mu * mu - lvar.exp())) as f64;
            }
        }
        let l1_sum = if self.l1 > 0.0 {
            let code: &[f32] = if vae { &w.mu } else { &w.enc[n_enc - 1] };
            code[..rows * k].iter().map(|v| v.abs() as f64).sum()
        } else {
            0.0
        };

        // ---- forward: decoder ----
        for (j, l) in self.dec.iter().enumerate() {
            let (before, after) = w.dec.split_at_mut(j);
            let inp: &[f32] = match j {
                0 if vae => &w.z,
                0 => &w.enc[n_enc - 1],
                _ => &before[j - 1],
            };
            if j + 1 == n_dec {
                dense_forward(p, l, inp, None, rows, &mut w.logits, None);
            } else {
                dense_forward(p, l, inp, None, rows, &mut after[0], act);
            }
        }

        // ---- loss and its gradient at the logits ----
        let kind = match (self.loss, self.sigmoid_out) {
            (LossKind::Mse, true) => 0,
            (LossKind::Bce, _) => 1,
            (LossKind::Mse, false) => 2,
        };
        let scale = 1.0 / (b * d) as f32;
        let n = rows * d;
        let rec_sum = kernels::output_grad(
            &w.logits[..n],
            &t[..n],
            &mut w.dec[n_dec - 1][..n],
            &mut w.g_a[..n],
            scale,
            kind,
        );
        w.sums = [rec_sum, l1_sum, kl_sum];

        // ---- backward: decoder ----
        // Invariant: w.g_a holds the gradient at the current layer's output.
        for j in (0..n_dec).rev() {
            let l = &self.dec[j];
            let inp: &[f32] = match j {
                0 if vae => &w.z,
                0 => &w.enc[n_enc - 1],
                _ => &w.dec[j - 1],
            };
            dense_param_grad(&mut w.grad, l, &w.g_a, inp, None, rows);
            // The code is linear: no mask at j == 0.
            dense_input_grad(p, l, &w.g_a, rows, &mut w.g_b, inp, relu && j > 0);
            std::mem::swap(&mut w.g_a, &mut w.g_b);
        }
        // w.g_a: gradient at the code (z for a VAE).

        // ---- backward: code regularisers, VAE heads ----
        let l1_scale = self.l1 / b as f32;
        if let Some((lm, lv)) = &self.heads {
            let kl_scale = self.beta * scale;
            let n = rows * k;
            let heads = w.g_mu[..n].iter_mut().zip(w.g_lv[..n].iter_mut());
            let inputs = w.mu[..n]
                .iter()
                .zip(&w.logvar[..n])
                .zip(&w.g_a[..n])
                .zip(&eps[..n]);
            for ((gm_out, glv_out), (((&mu, &lvar), &gz), &e)) in heads.zip(inputs) {
                let sd = (0.5 * lvar).exp();
                let mut gm = gz + kl_scale * mu;
                if self.l1 > 0.0 {
                    gm += l1_scale * kernels::sign(mu);
                }
                *gm_out = gm;
                *glv_out = gz * e * 0.5 * sd + kl_scale * 0.5 * (lvar.exp() - 1.0);
            }
            let h = &w.enc[n_enc - 1];
            dense_param_grad(&mut w.grad, lm, &w.g_mu, h, None, rows);
            dense_param_grad(&mut w.grad, lv, &w.g_lv, h, None, rows);
            // g_h = g_mu W_mu + g_lv W_lv, masked by the trunk's ReLU.
            let wm = &p[lm.offset..lm.b_off()];
            let wl = &p[lv.offset..lv.b_off()];
            matmul(
                rows, lm.input, k, &mut w.g_a, &w.g_mu, false, wm, false, false, SERIAL,
            );
            matmul(
                rows, lv.input, k, &mut w.g_a, &w.g_lv, false, wl, false, true, SERIAL,
            );
            if relu {
                kernels::relu_mask(&mut w.g_a[..rows * lm.input], &h[..rows * lm.input]);
            }
        } else if self.l1 > 0.0 {
            for (g, &c) in w.g_a[..rows * k].iter_mut().zip(&w.enc[n_enc - 1]) {
                *g += l1_scale * kernels::sign(c);
            }
        }

        // ---- backward: encoder ----
        for j in (0..n_enc).rev() {
            let l = &self.enc[j];
            let (inp, sp): (&[f32], _) = if j == 0 {
                (x, use_sparse.then_some(&w.csr))
            } else {
                (&w.enc[j - 1], None)
            };
            dense_param_grad(&mut w.grad, l, &w.g_a, inp, sp, rows);
            if j > 0 {
                dense_input_grad(p, l, &w.g_a, rows, &mut w.g_b, inp, relu);
                std::mem::swap(&mut w.g_a, &mut w.g_b);
            }
        }
    }

    /// Sizes the worker's buffers for `rows` rows (reallocating only when it grows).
    fn ensure(&self, w: &mut Worker, rows: usize) {
        let plen = self.params.len();
        if w.grad.len() != plen {
            w.grad = vec![0.0; plen];
        }
        if w.rows >= rows && w.enc.len() == self.enc.len() {
            w.rows = w.rows.max(rows);
            return;
        }
        let widest = self
            .all_layers()
            .map(|l| l.input.max(l.output))
            .max()
            .unwrap_or(0);
        w.enc = self
            .enc
            .iter()
            .map(|l| vec![0.0; rows * l.output])
            .collect();
        w.dec = self
            .dec
            .iter()
            .map(|l| vec![0.0; rows * l.output])
            .collect();
        let k = rows * self.latent;
        w.mu = vec![0.0; k];
        w.logvar = vec![0.0; k];
        w.z = vec![0.0; k];
        w.g_mu = vec![0.0; k];
        w.g_lv = vec![0.0; k];
        w.logits = vec![0.0; rows * crate::PIXELS];
        w.g_a = vec![0.0; rows * widest];
        w.g_b = vec![0.0; rows * widest];
        w.rows = rows;
    }
}

/// A row-major `[rows × cols]` matrix transposed.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// Adds the gradients of workers 2, 3, … into worker 1's (the Adam pass sums 0 and 1).
fn fold_extra_gradients(workers: &mut [Worker], plen: usize) {
    if workers.len() <= 2 {
        return;
    }
    let (head, rest) = workers.split_at_mut(2);
    for other in rest.iter() {
        kernels::add_assign(&mut head[1].grad[..plen], &other.grad[..plen]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{NoiseSpec, Variant};
    use crate::model::tests::flat;
    use crate::model::TrainedModel;
    use candle_core::DType;
    use rand::{Rng, SeedableRng};

    fn batch(b: usize, seed: u64) -> Vec<f32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        // Sparse-ish "digits": mostly zeros, some ink.
        (0..b * crate::PIXELS)
            .map(|_| {
                if r.random::<f32>() < 0.2 {
                    r.random::<f32>()
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Gradients of the candle objective on the same weights, batch and noise draws.
    fn autograd(
        cfg: &TrainConfig,
        model: &TrainedModel,
        x: &[f32],
        b: usize,
        seed: u64,
    ) -> (f64, Vec<(String, Vec<f32>)>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let xt = Tensor::from_slice(x, (b, crate::PIXELS), &Device::Cpu).unwrap();
        let (terms, total) =
            crate::train::objective_terms(cfg, &model.model, &xt, &xt, &mut rng).unwrap();
        let grads = total.backward().unwrap();
        let data = model.varmap.data().lock().unwrap();
        let mut out = Vec::new();
        for (name, var) in data.iter() {
            out.push((name.clone(), flat(grads.get(var.as_tensor()).unwrap())));
        }
        let total = terms
            .iter()
            .find(|(k, _)| *k == Term::Total)
            .unwrap()
            .1
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        (total, out)
    }

    fn check(cfg: TrainConfig, b: usize) {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let x = batch(b, 3);
        let (want_total, want) = autograd(&cfg, &model, &x, b, 9);
        let mut f = FusedMlp::new(&cfg, &model.varmap).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (terms, got) = f.gradients(&x, &x, b, &mut rng).unwrap();
        assert!(
            (terms.total() - want_total).abs() <= 1e-5 * want_total.abs().max(1e-3),
            "{}: loss {} vs autograd {}",
            cfg.describe(),
            terms.total(),
            want_total
        );
        for (name, g) in got {
            let w = &want.iter().find(|(n, _)| *n == name).unwrap().1;
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
            let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 2e-4 * scale,
                "{}: {name} differs by {err} (scale {scale})",
                cfg.describe()
            );
        }
    }

    #[test]
    fn gradients_match_autograd_dense_mse() {
        check(TrainConfig::preset(Variant::Dense, 8), 37);
    }

    #[test]
    fn gradients_match_autograd_dense_bce_sparse() {
        let mut c = TrainConfig::preset(Variant::Sparse, 4);
        c.loss = LossKind::Bce;
        c.l1 = 0.05;
        check(c, 64);
    }

    #[test]
    fn gradients_match_autograd_vae() {
        let mut c = TrainConfig::preset(Variant::Vae, 3);
        c.beta = 2.0;
        check(c, 50);
        let mut m = TrainConfig::preset(Variant::Vae, 2);
        m.loss = LossKind::Mse;
        m.l1 = 0.01;
        m.model.hidden = vec![64];
        check(m, 9);
    }

    #[test]
    fn gradients_match_autograd_linear_and_deep() {
        check(TrainConfig::preset(Variant::Linear, 5), 16);
        let mut d = TrainConfig::preset(Variant::Deep, 6);
        d.model.hidden = vec![100, 60, 30];
        check(d, 1);
    }

    #[test]
    fn denoising_is_supported_and_contractive_is_not() {
        let mut c = TrainConfig::preset(Variant::Denoising, 2);
        c.noise = Some(NoiseSpec {
            kind: crate::data::NoiseKind::Mask,
            factor: 0.3,
        });
        assert!(FusedMlp::supports(&c));
        assert!(!FusedMlp::supports(&TrainConfig::preset(
            Variant::Contractive,
            2
        )));
        assert!(!FusedMlp::supports(&TrainConfig::preset(Variant::Conv, 2)));
    }
}
