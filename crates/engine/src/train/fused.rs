//! The fused training engine's layer code for dense autoencoders and dense VAEs.
//!
//! Profiling candle's autograd loop on the 784-256-128-32 autoencoder showed most of a step's
//! time outside the matrix products: dozens of small tensor allocations, a graph walk, and an
//! optimiser that makes ~10 passes per parameter tensor. This engine computes exactly the same
//! step (same loss, same gradients, same Adam/AdamW update as `candle_nn::AdamW`) by hand: each
//! thread runs forward and backward on its rows with single-threaded `gemm` calls (the crate
//! candle itself uses), with bias, activation and loss gradient fused into single passes, and
//! the first layer's products sparse when the inputs are mostly black.
//!
//! The batch split, the gradient fold, the Adam update and the copies to and from the model's
//! `VarMap` are `framework`'s; the layer names and sizes are `model::params`'. The unit tests
//! check the gradients against candle's autograd on the same weights.

use super::cond;
pub use super::framework::NamedGrads;
use super::framework::{Chunk, Fused, LayerCode, Slot};
use super::kernels::{self, OutputLoss};
use crate::linalg::{matmul, SERIAL};
use crate::model::config::{Activation, Arch, TrainConfig};

/// Per-thread buffers, sized for the largest chunk seen so far.
#[derive(Default)]
pub struct Buffers {
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
    /// The chunk's input in sparse form.
    csr: kernels::Csr,
    /// A conditional VAE's encoder and decoder inputs, the one-hot class beside (`cond`).
    xin: Vec<f32>,
    zin: Vec<f32>,
}

/// The dense layer code: encoder (or VAE trunk and heads) and decoder.
pub struct DenseNet {
    enc: Vec<Slot>,
    /// VAE heads (μ, log σ²).
    heads: Option<(Slot, Slot)>,
    dec: Vec<Slot>,
    act: Activation,
    loss: OutputLoss,
    l1: f32,
    beta: f32,
    latent: usize,
    /// A conditional VAE's classes (0 for none).
    classes: usize,
}

/// The fused engine for dense AEs and VAEs.
pub type FusedMlp = Fused<DenseNet>;

/// Below this fraction of nonzero inputs the first layer uses sparse products.
const SPARSE_BELOW: f32 = 0.35;

/// `out = x Wᵀ + b`, then the activation. `sparse` is `x` in CSR form when it is worth using
/// (first layer only: its weight is stored transposed).
fn dense_forward(
    p: &[f32],
    l: &Slot,
    x: &[f32],
    sparse: Option<&kernels::Csr>,
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
) {
    let (w, b) = (l.w(p), l.b(p));
    let (input, output) = (l.input(), l.output());
    let out = &mut out[..rows * output];
    match (sparse, l.transposed) {
        (Some(csr), true) => kernels::sparse_matmul(csr, w, output, out),
        (_, true) => matmul(rows, output, input, out, x, false, w, false, false, SERIAL),
        (_, false) => matmul(rows, output, input, out, x, false, w, true, false, SERIAL),
    }
    kernels::bias_act(out, b, act == Some(Activation::Relu));
}

/// Weight and bias gradients of `l` from the output gradient `g` and the layer input `x`.
fn dense_param_grad(
    grad: &mut [f32],
    l: &Slot,
    g: &[f32],
    x: &[f32],
    sparse: Option<&kernels::Csr>,
    rows: usize,
) {
    let (w, b) = l.wb_mut(grad);
    let (input, output) = (l.input(), l.output());
    let g = &g[..rows * output];
    match (sparse, l.transposed) {
        (Some(csr), true) => kernels::sparse_t_matmul(csr, g, output, w),
        (_, true) => matmul(input, output, rows, w, x, true, g, false, false, SERIAL),
        (_, false) => matmul(output, input, rows, w, g, true, x, false, false, SERIAL),
    }
    kernels::col_sums(g, b);
}

/// Input gradient `g_in = g W`, masked by the ReLU of the layer's input `x` when `relu`.
fn dense_input_grad(
    p: &[f32],
    l: &Slot,
    g: &[f32],
    rows: usize,
    g_in: &mut [f32],
    x: &[f32],
    relu: bool,
) {
    let (input, output) = (l.input(), l.output());
    // Stored [output, input]: g W; stored [input, output]: g Wᵀ.
    let w_t = l.transposed;
    matmul(
        rows,
        input,
        output,
        g_in,
        g,
        false,
        l.w(p),
        w_t,
        false,
        SERIAL,
    );
    if relu {
        kernels::relu_mask(&mut g_in[..rows * input], &x[..rows * input]);
    }
}

impl LayerCode for DenseNet {
    type Buffers = Buffers;
    const NAME: &'static str = "fused engine";

    /// Dense AEs and dense VAEs without the contractive penalty (that one needs the
    /// Jacobian's own gradient and stays on candle's autograd).
    fn supports(cfg: &TrainConfig) -> bool {
        matches!(cfg.model.arch, Arch::Dense | Arch::Vae)
            && cfg.contractive == 0.0
            && cfg.model.is_standard()
    }

    fn build(cfg: &TrainConfig, slots: &mut [Slot]) -> candle_core::Result<Self> {
        let m = &cfg.model;
        let vae = m.arch == Arch::Vae;
        // model::params lays out the encoder (or trunk), the two heads, then the decoder.
        let n_enc = if vae {
            m.hidden.len()
        } else {
            m.hidden.len() + 1
        };
        let n_heads = if vae { 2 } else { 0 };
        if n_enc == 0 || slots.len() != n_enc + n_heads + m.hidden.len() + 1 {
            candle_core::bail!("the fused engine needs at least one encoder layer");
        }
        // The first layer's weight is stored transposed, for the sparse products.
        slots[0].transposed = true;
        // Trunk and decoder layers with a long input are stored transposed too: the forward
        // product x Wᵀ reads W across its rows, and with an inner dimension of 256 or more
        // that ran at 76–80 % of the speed of x W (measured: `examples/gemmprobe.rs`), while
        // the backward g Wᵀ it moves to costs less. The VAE's heads stay as they are.
        for (i, s) in slots.iter_mut().enumerate() {
            let trunk_or_decoder = (1..n_enc).contains(&i) || i >= n_enc + n_heads;
            if trunk_or_decoder && s.input() > 128 {
                s.transposed = true;
            }
        }
        let heads = vae.then(|| (slots[n_enc].clone(), slots[n_enc + 1].clone()));
        Ok(Self {
            enc: slots[..n_enc].to_vec(),
            heads,
            dec: slots[n_enc + n_heads..].to_vec(),
            act: m.activation,
            loss: OutputLoss::new(cfg.loss, m.sigmoid_output),
            l1: cfg.l1,
            beta: cfg.beta,
            latent: m.latent,
            classes: m.classes,
        })
    }

    fn noise_per_row(&self) -> usize {
        if self.heads.is_some() {
            self.latent
        } else {
            0
        }
    }

    fn kl_weight(&self) -> Option<f32> {
        self.heads.as_ref().map(|_| self.beta)
    }

    fn cond_per_row(&self) -> usize {
        self.classes
    }

    fn l1(&self) -> f32 {
        self.l1
    }

    /// Forward and backward for one chunk of rows.
    fn run_chunk(&self, p: &[f32], w: &mut Buffers, grad: &mut [f32], c: Chunk) -> [f64; 3] {
        let Chunk {
            x,
            t,
            eps,
            b,
            cond: y,
        } = c;
        let d = crate::PIXELS;
        let rows = t.len() / d;
        self.ensure(w, rows);
        let nc = self.classes;
        // A conditional VAE's inputs with the class beside them (`cond`); taken out of the
        // buffers for the pass and put back at its end.
        let (mut xin, mut zin) = (std::mem::take(&mut w.xin), std::mem::take(&mut w.zin));
        let (x, d_in) = if nc > 0 {
            cond::beside(x, d, y, nc, &mut xin);
            (&xin[..], d + nc)
        } else {
            (x, d)
        };
        let act = Some(self.act);
        let relu = self.act == Activation::Relu;
        let vae = self.heads.is_some();
        let k = self.latent;
        let n_enc = self.enc.len();
        let n_dec = self.dec.len();
        // Mostly-black inputs go through the sparse first-layer products.
        let use_sparse = w.csr.fill(x, d_in) < SPARSE_BELOW;

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
                // The engine's own e^x (kernels::exp, ~2 ulp) rather than libm's, a call each.
                let sd = kernels::exp(0.5 * lvar);
                *z = mu + sd * e;
                kl_sum += (-0.5 * (1.0 + lvar - mu * mu - sd * sd)) as f64;
            }
            if nc > 0 {
                cond::beside(&w.z[..n], k, y, nc, &mut zin);
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
                0 if nc > 0 => &zin,
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
        let scale = 1.0 / (b * d) as f32;
        let n = rows * d;
        let rec_sum = kernels::output_grad(
            &w.logits[..n],
            &t[..n],
            &mut w.dec[n_dec - 1][..n],
            &mut w.g_a[..n],
            scale,
            self.loss,
        );

        // ---- backward: decoder ----
        // Invariant: w.g_a holds the gradient at the current layer's output.
        for j in (0..n_dec).rev() {
            let l = &self.dec[j];
            let inp: &[f32] = match j {
                0 if nc > 0 => &zin,
                0 if vae => &w.z,
                0 => &w.enc[n_enc - 1],
                _ => &w.dec[j - 1],
            };
            dense_param_grad(grad, l, &w.g_a, inp, None, rows);
            // The code is linear: no mask at j == 0.
            dense_input_grad(p, l, &w.g_a, rows, &mut w.g_b, inp, relu && j > 0);
            std::mem::swap(&mut w.g_a, &mut w.g_b);
        }
        if nc > 0 {
            // The gradient at [z, y]: z's columns only.
            cond::keep_columns(&mut w.g_a, k + nc, k, rows);
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
                let sd = kernels::exp(0.5 * lvar);
                let mut gm = gz + kl_scale * mu;
                if self.l1 > 0.0 {
                    gm += l1_scale * kernels::sign(mu);
                }
                *gm_out = gm;
                *glv_out = gz * e * 0.5 * sd + kl_scale * 0.5 * (sd * sd - 1.0);
            }
            let h = &w.enc[n_enc - 1];
            dense_param_grad(grad, lm, &w.g_mu, h, None, rows);
            dense_param_grad(grad, lv, &w.g_lv, h, None, rows);
            // g_h = g_mu W_mu + g_lv W_lv, masked by the trunk's ReLU.
            let wm = lm.w(p);
            let wl = lv.w(p);
            matmul(
                rows,
                lm.input(),
                k,
                &mut w.g_a,
                &w.g_mu,
                false,
                wm,
                false,
                false,
                SERIAL,
            );
            matmul(
                rows,
                lv.input(),
                k,
                &mut w.g_a,
                &w.g_lv,
                false,
                wl,
                false,
                true,
                SERIAL,
            );
            if relu {
                let n = rows * lm.input();
                kernels::relu_mask(&mut w.g_a[..n], &h[..n]);
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
            dense_param_grad(grad, l, &w.g_a, inp, sp, rows);
            if j > 0 {
                dense_input_grad(p, l, &w.g_a, rows, &mut w.g_b, inp, relu);
                std::mem::swap(&mut w.g_a, &mut w.g_b);
            }
        }
        (w.xin, w.zin) = (xin, zin);
        [rec_sum, l1_sum, kl_sum]
    }
}

impl DenseNet {
    fn all_layers(&self) -> impl Iterator<Item = &Slot> {
        self.enc
            .iter()
            .chain(self.heads.iter().flat_map(|(a, b)| [a, b]))
            .chain(self.dec.iter())
    }

    /// Sizes the worker's buffers for `rows` rows (reallocating only when it grows).
    fn ensure(&self, w: &mut Buffers, rows: usize) {
        if w.rows >= rows && w.enc.len() == self.enc.len() {
            w.rows = w.rows.max(rows);
            return;
        }
        let widest = self
            .all_layers()
            .map(|l| l.input().max(l.output()))
            .max()
            .unwrap_or(0);
        w.enc = self
            .enc
            .iter()
            .map(|l| vec![0.0; rows * l.output()])
            .collect();
        w.dec = self
            .dec
            .iter()
            .map(|l| vec![0.0; rows * l.output()])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{LossKind, NoiseSpec, Variant};
    use crate::model::TrainedModel;
    use crate::train::test_support::{assert_matches, autograd, batch};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn check(cfg: TrainConfig, b: usize) {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let x = batch(b, 3, 0.2);
        let want = autograd(&cfg, &model, &x, &x, b, 9);
        let mut f = FusedMlp::new(&cfg, &model.varmap).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        assert_matches(&cfg, f.gradients(&x, &x, b, &mut rng).unwrap(), want);
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
