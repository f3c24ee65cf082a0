//! The fused training engine's layer code for the convolutional autoencoder (and the
//! denoising and sparse variants built on it).
//!
//! candle's autograd step for the conv AE spent most of its time outside the matrix products:
//! im2col buffers allocated and filled on every call, layout shuffles between candle's
//! `[batch, channel, h, w]` and the `[channel, batch·h·w]` matrices the products want, the
//! graph walk and the optimiser's passes. This engine computes the same step by hand:
//!
//! - activations stay channel-major over the chunk (`[c][row][h][w]`), so a 3×3 stride-2
//!   convolution is one `gemm` of its weight `[o, c·9]` with the chunk's im2col matrix
//!   `[c·9, rows·ho·wo]`, its output needs no reshuffling, and a transposed convolution is the
//!   adjoint (`gemm` with the transposed weight, then col2im); the geometry, im2col and col2im
//!   are `model::convgeom`'s, shared with the candle ops;
//! - the dense code layers are plain products on `[row, c·h·w]` (candle's flatten order).
//!
//! Weights use candle's layouts (`[out, in, 3, 3]`, `[in, out, 3, 3]` for the transposed
//! convolutions, `[out, in]` for the linear layers). The batch split, the gradient fold, the
//! Adam update and the `VarMap` copies are `framework`'s. The unit tests check loss and
//! gradients against candle's autograd.

use super::framework::{Chunk, Fused, LayerCode, Slot};
use super::kernels::{self, OutputLoss};
use crate::linalg::{matmul, SERIAL};
use crate::model::config::{Activation, Arch, TrainConfig};
use crate::model::convgeom::{to_channels, to_rows, ConvGeom, Planes::ChannelMajor};
use crate::model::params::ConvLayout;

/// Per-thread buffers, sized for the largest chunk seen so far.
#[derive(Default)]
pub struct Buffers {
    rows: usize,
    /// Encoder: each convolution's im2col matrix (kept for its weight gradient) and its
    /// activated output `[o][rows][ho·wo]`.
    cols: Vec<Vec<f32>>,
    enc: Vec<Vec<f32>>,
    /// The last convolution's output as `[rows, flat]` (candle's flatten order).
    flat: Vec<f32>,
    code: Vec<f32>,
    /// The decoder's dense layer output, `[rows, flat]` then channel-major.
    dfc: Vec<f32>,
    dfc_c: Vec<f32>,
    /// Decoder: each transposed convolution's output `[co][rows][ho·wo]`; the last holds the
    /// logits.
    dec: Vec<Vec<f32>>,
    /// Scratch for the transposed convolutions' column matrices (forward and backward).
    scratch: Vec<f32>,
    y: Vec<f32>,
    /// Two gradient buffers, swapped as backprop walks down.
    g_a: Vec<f32>,
    g_b: Vec<f32>,
    g_code: Vec<f32>,
}

/// The conv AE's layer code.
pub struct ConvNet {
    /// Encoder convolutions (geometry, parameters).
    convs: Vec<(ConvGeom, Slot)>,
    enc_fc: Slot,
    dec_fc: Slot,
    /// Transposed convolutions, deepest first; each is the adjoint of its geometry.
    deconvs: Vec<(ConvGeom, Slot)>,
    /// Channels and side² of the last convolution's output.
    last_c: usize,
    last_hw: usize,
    latent: usize,
    relu: bool,
    loss: OutputLoss,
    l1: f32,
}

/// The fused engine for the conv AE.
pub type FusedConv = Fused<ConvNet>;

/// Adds `bias[c]` to plane `c` (`n` values each) of `out`, then the ReLU when `relu`.
fn plane_bias_act(out: &mut [f32], bias: &[f32], n: usize, relu: bool) {
    for (plane, &b) in out.chunks_exact_mut(n).zip(bias) {
        kernels::add_scalar_act(plane, b, relu);
    }
}

/// `bias[c] = Σ plane c` of `g` (`n` values a plane).
fn plane_sums(g: &[f32], bias: &mut [f32], n: usize) {
    for (plane, b) in g.chunks_exact(n).zip(bias.iter_mut()) {
        *b = kernels::sum(plane);
    }
}

impl LayerCode for ConvNet {
    type Buffers = Buffers;
    const NAME: &'static str = "fused conv engine";

    /// Conv AEs without the contractive penalty (its finite-difference Jacobian stays on
    /// candle's autograd).
    fn supports(cfg: &TrainConfig) -> bool {
        cfg.model.arch == Arch::Conv && cfg.contractive == 0.0 && cfg.model.is_standard()
    }

    fn build(cfg: &TrainConfig, slots: &mut [Slot]) -> candle_core::Result<Self> {
        let m = &cfg.model;
        let layout = ConvLayout::new(m);
        let n = layout.convs.len();
        // model::params lays out the convolutions, the two dense layers, then the transposed
        // convolutions.
        if n == 0 || slots.len() != 2 * n + 2 {
            candle_core::bail!("the fused conv engine needs at least one convolution");
        }
        let (last_c, last_s) = layout.last();
        Ok(Self {
            convs: (0..n).map(|i| (layout.geom(i), slots[i].clone())).collect(),
            enc_fc: slots[n].clone(),
            dec_fc: slots[n + 1].clone(),
            deconvs: (0..n)
                .map(|j| (layout.geom(n - 1 - j), slots[n + 2 + j].clone()))
                .collect(),
            last_c,
            last_hw: last_s * last_s,
            latent: m.latent,
            relu: m.activation == Activation::Relu,
            loss: OutputLoss::new(cfg.loss, m.sigmoid_output),
            l1: cfg.l1,
        })
    }

    fn l1(&self) -> f32 {
        self.l1
    }

    /// Forward and backward for one chunk of rows.
    fn run_chunk(&self, p: &[f32], w: &mut Buffers, grad: &mut [f32], c: Chunk) -> [f64; 3] {
        let Chunk { x, t, b, .. } = c;
        let d = crate::PIXELS;
        let rows = x.len() / d;
        self.ensure(w, rows);
        let relu = self.relu;
        let k = self.latent;
        let flat = self.flat_len();
        let (lc, lhw) = (self.last_c, self.last_hw);
        let n_conv = self.convs.len();

        // ---- forward: convolutions (x is [1][rows][784], already channel-major) ----
        for (i, (g, s)) in self.convs.iter().enumerate() {
            let n = rows * g.howo();
            let (before, after) = w.enc.split_at_mut(i);
            let inp: &[f32] = if i == 0 { x } else { &before[i - 1] };
            let cols = &mut w.cols[i];
            g.im2col(inp, ChannelMajor, rows, cols, false);
            let out = &mut after[0][..g.o * n];
            matmul(
                g.o,
                n,
                g.ckk(),
                out,
                s.w(p),
                false,
                cols,
                false,
                false,
                SERIAL,
            );
            plane_bias_act(out, s.b(p), n, relu);
        }
        // ---- forward: dense code layers ----
        to_rows(&w.enc[n_conv - 1], lc, rows, lhw, &mut w.flat, false);
        let code = &mut w.code[..rows * k];
        matmul(
            rows,
            k,
            flat,
            code,
            &w.flat,
            false,
            self.enc_fc.w(p),
            true,
            false,
            SERIAL,
        );
        kernels::bias_act(code, self.enc_fc.b(p), false);
        let l1_sum = if self.l1 > 0.0 {
            code.iter().map(|v| v.abs() as f64).sum()
        } else {
            0.0
        };
        let dfc = &mut w.dfc[..rows * flat];
        matmul(
            rows,
            flat,
            k,
            dfc,
            code,
            false,
            self.dec_fc.w(p),
            true,
            false,
            SERIAL,
        );
        kernels::bias_act(dfc, self.dec_fc.b(p), relu);
        to_channels(dfc, lc, rows, lhw, &mut w.dfc_c, false);
        // ---- forward: transposed convolutions ----
        let n_dec = self.deconvs.len();
        for (j, (g, s)) in self.deconvs.iter().enumerate() {
            let n = rows * g.howo();
            let (before, after) = w.dec.split_at_mut(j);
            let inp: &[f32] = if j == 0 { &w.dfc_c } else { &before[j - 1] };
            let cols = &mut w.scratch[..g.ckk() * n];
            // cols[co·9, n] = Wᵀ[co·9, ci] · X[ci, n]
            matmul(
                g.ckk(),
                n,
                g.o,
                cols,
                s.w(p),
                true,
                inp,
                false,
                false,
                SERIAL,
            );
            let out = &mut after[0];
            g.col2im(cols, ChannelMajor, rows, out, false);
            // The last layer gives logits: no activation.
            plane_bias_act(
                &mut out[..g.c * rows * g.hw()],
                s.b(p),
                rows * g.hw(),
                relu && j + 1 < n_dec,
            );
        }

        // ---- loss and its gradient at the logits ----
        let n = rows * d;
        let scale = 1.0 / (b * d) as f32;
        let rec_sum = kernels::output_grad(
            &w.dec[n_dec - 1][..n],
            &t[..n],
            &mut w.y[..n],
            &mut w.g_a[..n],
            scale,
            self.loss,
        );

        // ---- backward: transposed convolutions ----
        // Invariant: w.g_a holds the gradient at the current layer's (masked) output.
        for j in (0..n_dec).rev() {
            let (g, s) = &self.deconvs[j];
            let n = rows * g.howo();
            let inp: &[f32] = if j == 0 { &w.dfc_c } else { &w.dec[j - 1] };
            let (gw, gb) = s.wb_mut(grad);
            plane_sums(&w.g_a[..g.c * rows * g.hw()], gb, rows * g.hw());
            let cols = &mut w.scratch[..g.ckk() * n];
            g.im2col(&w.g_a, ChannelMajor, rows, cols, false);
            // dW[ci, co·9] = X[ci, n] · colsᵀ ; dX[ci, n] = W[ci, co·9] · cols
            matmul(g.o, g.ckk(), n, gw, inp, false, cols, true, false, SERIAL);
            let gx = &mut w.g_b[..g.o * n];
            matmul(
                g.o,
                n,
                g.ckk(),
                gx,
                s.w(p),
                false,
                cols,
                false,
                false,
                SERIAL,
            );
            if relu {
                kernels::relu_mask(gx, &inp[..g.o * n]);
            }
            std::mem::swap(&mut w.g_a, &mut w.g_b);
        }
        // ---- backward: dense code layers ----
        // g_a: gradient at dfc_c (channel-major, masked).
        let g_dfc = &mut w.g_b[..rows * flat];
        to_rows(&w.g_a, lc, rows, lhw, g_dfc, false);
        {
            let (gw, gb) = self.dec_fc.wb_mut(grad);
            matmul(
                flat, k, rows, gw, g_dfc, true, &w.code, false, false, SERIAL,
            );
            kernels::col_sums(g_dfc, gb);
        }
        let g_code = &mut w.g_code[..rows * k];
        matmul(
            rows,
            k,
            flat,
            g_code,
            g_dfc,
            false,
            self.dec_fc.w(p),
            false,
            false,
            SERIAL,
        );
        if self.l1 > 0.0 {
            let l1_scale = self.l1 / b as f32;
            for (g, &c) in g_code.iter_mut().zip(&w.code) {
                *g += l1_scale * kernels::sign(c);
            }
        }
        {
            let (gw, gb) = self.enc_fc.wb_mut(grad);
            matmul(
                k, flat, rows, gw, g_code, true, &w.flat, false, false, SERIAL,
            );
            kernels::col_sums(g_code, gb);
        }
        let g_flat = &mut w.g_b[..rows * flat];
        matmul(
            rows,
            flat,
            k,
            g_flat,
            g_code,
            false,
            self.enc_fc.w(p),
            false,
            false,
            SERIAL,
        );
        if relu {
            kernels::relu_mask(g_flat, &w.flat[..rows * flat]);
        }
        to_channels(g_flat, lc, rows, lhw, &mut w.g_a, false);
        // ---- backward: convolutions ----
        for i in (0..n_conv).rev() {
            let (g, s) = &self.convs[i];
            let n = rows * g.howo();
            let gy = &w.g_a[..g.o * n];
            let (gw, gb) = s.wb_mut(grad);
            plane_sums(gy, gb, n);
            // dW[o, c·9] = dY[o, n] · colsᵀ
            matmul(
                g.o,
                g.ckk(),
                n,
                gw,
                gy,
                false,
                &w.cols[i],
                true,
                false,
                SERIAL,
            );
            if i > 0 {
                // dX = col2im(Wᵀ[c·9, o] · dY[o, n])
                let cols = &mut w.scratch[..g.ckk() * n];
                matmul(
                    g.ckk(),
                    n,
                    g.o,
                    cols,
                    s.w(p),
                    true,
                    gy,
                    false,
                    false,
                    SERIAL,
                );
                let gx = &mut w.g_b[..g.c * rows * g.hw()];
                g.col2im(cols, ChannelMajor, rows, gx, false);
                if relu {
                    kernels::relu_mask(gx, &w.enc[i - 1][..g.c * rows * g.hw()]);
                }
                std::mem::swap(&mut w.g_a, &mut w.g_b);
            }
        }
        [rec_sum, l1_sum, 0.0]
    }
}

impl ConvNet {
    fn flat_len(&self) -> usize {
        self.last_c * self.last_hw
    }

    /// Sizes the worker's buffers for `rows` rows (reallocating only when it grows).
    fn ensure(&self, w: &mut Buffers, rows: usize) {
        if w.rows >= rows && w.enc.len() == self.convs.len() {
            return;
        }
        let flat = self.flat_len();
        w.cols = self
            .convs
            .iter()
            .map(|(g, _)| vec![0.0; g.ckk() * rows * g.howo()])
            .collect();
        w.enc = self
            .convs
            .iter()
            .map(|(g, _)| vec![0.0; g.o * rows * g.howo()])
            .collect();
        w.dec = self
            .deconvs
            .iter()
            .map(|(g, _)| vec![0.0; g.c * rows * g.hw()])
            .collect();
        let widest = self
            .deconvs
            .iter()
            .map(|(g, _)| (g.ckk() * g.howo()).max(g.c * g.hw()).max(g.o * g.howo()))
            .max()
            .unwrap_or(0)
            .max(flat);
        w.flat = vec![0.0; rows * flat];
        w.code = vec![0.0; rows * self.latent];
        w.g_code = vec![0.0; rows * self.latent];
        w.dfc = vec![0.0; rows * flat];
        w.dfc_c = vec![0.0; rows * flat];
        w.scratch = vec![0.0; rows * widest];
        w.y = vec![0.0; rows * crate::PIXELS];
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
    use crate::train::test_support;
    use candle_core::{Device, Tensor};

    fn batch(b: usize, seed: u64) -> Vec<f32> {
        test_support::batch(b, seed, 0.3)
    }

    /// Every variable's gradient (and the loss) agrees with autograd; biases are perturbed
    /// first so that they matter.
    fn check(cfg: TrainConfig, b: usize, noisy_input: bool) {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        {
            let data = model.varmap.data().lock().unwrap();
            for (name, var) in data.iter() {
                if name.ends_with("bias") {
                    let n = var.as_tensor().elem_count();
                    let v: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01).collect();
                    var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                }
            }
        }
        let target = batch(b, 3);
        let input = if noisy_input {
            batch(b, 4)
        } else {
            target.clone()
        };
        // Autograd runs through `model::convops`.
        let want = test_support::autograd(&cfg, &model, &input, &target, b, 1);
        let mut f = FusedConv::new(&cfg, &model.varmap).unwrap();
        test_support::assert_matches(&cfg, f.gradients(&input, &target, b, None).unwrap(), want);
    }

    #[test]
    fn conv_gradients_match_autograd_mse() {
        check(TrainConfig::preset(Variant::Conv, 8), 13, false);
    }

    #[test]
    fn conv_gradients_match_autograd_bce_one_and_three_layers() {
        let mut c = TrainConfig::preset(Variant::Conv, 3);
        c.loss = LossKind::Bce;
        c.model.channels = vec![5];
        check(c.clone(), 6, false);
        c.model.channels = vec![4, 6, 3];
        check(c, 5, false);
    }

    #[test]
    fn conv_gradients_match_autograd_sparse_denoising_linear() {
        let mut c = TrainConfig::preset(Variant::Conv, 4);
        c.l1 = 0.05;
        c.noise = Some(NoiseSpec {
            kind: crate::data::NoiseKind::Gaussian,
            factor: 0.5,
        });
        check(c.clone(), 9, true);
        c.model.activation = Activation::Identity;
        c.model.sigmoid_output = false;
        check(c, 4, false);
    }

    #[test]
    fn conv_engine_supports_conv_but_not_contractive_or_dense() {
        assert!(FusedConv::supports(&TrainConfig::preset(Variant::Conv, 2)));
        let mut c = TrainConfig::preset(Variant::Conv, 2);
        c.contractive = 0.01;
        assert!(!FusedConv::supports(&c));
        assert!(!FusedConv::supports(&TrainConfig::preset(
            Variant::Dense,
            2
        )));
    }

    /// Training for a few steps gives identical losses from the same seed, and the weights
    /// written back to the model reproduce the engine's own loss.
    #[test]
    fn conv_engine_is_deterministic_and_round_trips_weights() {
        let cfg = TrainConfig::preset(Variant::Conv, 4);
        let run = || {
            let model = TrainedModel::new(&cfg, "test").unwrap();
            let mut f = FusedConv::new(&cfg, &model.varmap).unwrap();
            let x = batch(32, 5);
            let losses: Vec<f64> = (0..4)
                .map(|_| f.step(&x, &x, 32, None).unwrap().total())
                .collect();
            f.write_to(&model.varmap).unwrap();
            let mut again = FusedConv::new(&cfg, &model.varmap).unwrap();
            let (t, _) = again.gradients(&x, &x, 32, None).unwrap();
            let (t2, _) = f.gradients(&x, &x, 32, None).unwrap();
            assert_eq!(t.total(), t2.total());
            losses
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert!(a[3] < a[0], "the loss goes down: {a:?}");
    }
}
