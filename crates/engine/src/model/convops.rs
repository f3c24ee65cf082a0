//! Convolutions for the conv autoencoder as candle custom ops, computed with im2col and one
//! `gemm` product per pass (candle 0.11's CPU convolutions loop over dot products and were
//! ~13× slower than PyTorch here). The bias is added inside the op, so its gradient is a row
//! sum instead of candle's strided reduction over a broadcast. Forward and backward are both
//! provided, so the rest of the model stays on candle's autograd. Weights use candle's layouts
//! (`[out, in, k, k]` for a convolution, `[in, out, k, k]` for a transposed one), so saved
//! models are unchanged. The geometry, im2col and col2im are `convgeom`'s (shared with the
//! fused conv engine), run here over the whole batch on all threads.
//! Tests check values and gradients against candle's own `conv2d` / `conv_transpose2d`.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::convgeom::{to_channels, to_rows, ConvGeom, Planes};

/// A convolution's geometry over a batch of `b` images (batch-major, as candle lays them out).
#[derive(Clone, Copy, Debug)]
struct Batched {
    g: ConvGeom,
    b: usize,
}

/// The geometry's sizes read through (`g.o`, `g.ckk()`, …); the batch-wide `im2col` and
/// `col2im` below shadow the geometry's per-layout ones.
impl std::ops::Deref for Batched {
    type Target = ConvGeom;
    fn deref(&self) -> &ConvGeom {
        &self.g
    }
}

impl Batched {
    /// Columns of the im2col matrix: one per output position.
    fn n(&self) -> usize {
        self.b * self.g.howo()
    }

    /// `[b, c, h, w]` → `[c·k·k, b·ho·wo]`.
    fn im2col(&self, x: &[f32]) -> Vec<f32> {
        let mut cols = vec![0f32; self.g.ckk() * self.n()];
        self.g
            .im2col(x, Planes::BatchMajor, self.b, &mut cols, true);
        cols
    }

    /// The adjoint of `im2col`: sums `[c·k·k, b·ho·wo]` back onto `[b, c, h, w]`.
    fn col2im(&self, cols: &[f32]) -> Vec<f32> {
        let mut x = vec![0f32; self.b * self.g.c * self.g.hw()];
        self.g
            .col2im(cols, Planes::BatchMajor, self.b, &mut x, true);
        x
    }

    /// `[b, o, ho, wo]` → `[o, b·ho·wo]` (output-shaped tensor to matrix).
    fn gather_out(&self, t: &[f32]) -> Vec<f32> {
        let mut m = vec![0f32; self.g.o * self.n()];
        to_channels(t, self.g.o, self.b, self.g.howo(), &mut m, true);
        m
    }

    /// `[o, b·ho·wo]` → `[b, o, ho, wo]` (matrix back to an output-shaped tensor).
    fn scatter_out(&self, m: &[f32]) -> Vec<f32> {
        let mut t = vec![0f32; self.b * self.g.o * self.g.howo()];
        to_rows(m, self.g.o, self.b, self.g.howo(), &mut t, true);
        t
    }
}

/// `a[m×k] · b[k×n]` (either operand may be given transposed), row-major, all threads.
fn matmul(m: usize, n: usize, k: usize, a: &[f32], a_t: bool, b: &[f32], b_t: bool) -> Vec<f32> {
    let mut c = vec![0f32; m * n];
    let par = gemm::Parallelism::Rayon(rayon::current_num_threads());
    crate::linalg::matmul(m, n, k, &mut c, a, a_t, b, b_t, false, par);
    c
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let all = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&all[a..b]),
        None => candle_core::bail!("conv op: non-contiguous input"),
    }
}

/// Adds `bias[c]` to every element of channel `c` of a `[b, c, hw]` tensor.
fn add_bias(t: &mut [f32], bias: &[f32], hw: usize) {
    let c = bias.len();
    t.par_chunks_mut(hw).enumerate().for_each(|(bc, plane)| {
        let v = bias[bc % c];
        for x in plane {
            *x += v;
        }
    });
}

/// Row sums of a row-major `[rows × n]` matrix (the bias gradient from a `[o, b·hw]` matrix).
fn row_sums(m: &[f32], n: usize) -> Vec<f32> {
    m.chunks_exact(n)
        .map(|r| r.iter().map(|&v| v as f64).sum::<f64>() as f32)
        .collect()
}

fn relu_in_place(y: &mut [f32]) {
    y.par_chunks_mut(4096).for_each(|c| {
        for v in c {
            *v = v.max(0.0);
        }
    });
}

/// The output gradient, zeroed where a fused ReLU clipped the output.
fn masked_grad(dy: &Tensor, res: &Tensor, relu: bool) -> Result<Vec<f32>> {
    let mut g = values(dy)?;
    if relu {
        let out = values(res)?;
        g.par_chunks_mut(4096)
            .zip(out.par_chunks(4096))
            .for_each(|(gc, oc)| {
                for (gv, &o) in gc.iter_mut().zip(oc) {
                    if o <= 0.0 {
                        *gv = 0.0;
                    }
                }
            });
    }
    Ok(g)
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// A convolution without bias: `[b, c, h, w] ⊛ [o, c, k, k]`, square kernel, stride and padding.
#[derive(Clone, Copy, Debug)]
struct Conv {
    stride: usize,
    padding: usize,
    /// Apply max(0, ·) to the output (and mask the gradient by it).
    relu: bool,
}

impl Conv {
    fn geom(&self, x: &[usize], w: &[usize]) -> Result<Batched> {
        let ([b, c, h, wd], [o, c2, k, k2]) = (dims4(x)?, dims4(w)?);
        if c != c2 || k != k2 || h + 2 * self.padding < k || wd + 2 * self.padding < k {
            candle_core::bail!("conv op: input {x:?} does not fit kernel {w:?}");
        }
        if self.stride == 0 {
            candle_core::bail!("conv op: stride 0");
        }
        let out = |i: usize| (i + 2 * self.padding - k) / self.stride + 1;
        let g = ConvGeom {
            c,
            h,
            w: wd,
            o,
            ho: out(h),
            wo: out(wd),
            k,
            s: self.stride,
            p: self.padding,
        };
        Ok(Batched { g, b })
    }
}

fn dims4(d: &[usize]) -> Result<[usize; 4]> {
    match d {
        &[a, b, c, e] => Ok([a, b, c, e]),
        _ => candle_core::bail!("conv op: expected a 4-d tensor, got {d:?}"),
    }
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "bottleneck-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geom(l1.dims(), l2.dims())?;
        let (x, w, bias) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        if bias.len() != g.o {
            candle_core::bail!("conv op: bias of {} for {} channels", bias.len(), g.o);
        }
        let mut y = g.scatter_out(&matmul(g.o, g.n(), g.ckk(), w, false, &g.im2col(x), false));
        add_bias(&mut y, bias, g.ho * g.wo);
        if self.relu {
            relu_in_place(&mut y);
        }
        Ok((CpuStorage::F32(y), Shape::from((g.b, g.o, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geom(x.dims(), w.dims())?;
        let dy = masked_grad(dy, res, self.relu)?;
        let (xv, wv, dyv) = (values(x)?, values(w)?, g.gather_out(&dy));
        // dW[o, ckk] = dY[o, n] · colsᵀ ; dX = col2im(Wᵀ[ckk, o] · dY[o, n]) ; db = Σ dY rows
        let dw = matmul(g.o, g.ckk(), g.n(), &dyv, false, &g.im2col(&xv), true);
        let dx = g.col2im(&matmul(g.ckk(), g.n(), g.o, &wv, true, &dyv, false));
        let db = row_sums(&dyv, g.n());
        Ok((
            Some(Tensor::from_vec(dx, x.dims(), x.device())?),
            Some(Tensor::from_vec(dw, w.dims(), w.device())?),
            Some(Tensor::from_vec(db, b.dims(), b.device())?),
        ))
    }
}

/// A transposed convolution without bias: `[b, ci, hi, wi]` with weight `[ci, co, k, k]` to
/// `[b, co, ho, wo]`, `ho = (hi − 1)·stride − 2·padding + k + output_padding`.
#[derive(Clone, Copy, Debug)]
struct ConvTranspose {
    stride: usize,
    padding: usize,
    output_padding: usize,
    /// Apply max(0, ·) to the output (and mask the gradient by it).
    relu: bool,
}

impl ConvTranspose {
    /// The geometry of the *forward* convolution this op is the adjoint of: its input is our
    /// output, its output is our input.
    fn geom(&self, x: &[usize], w: &[usize]) -> Result<Batched> {
        let ([b, ci, hi, wi], [ci2, co, k, k2]) = (dims4(x)?, dims4(w)?);
        if ci != ci2 || k != k2 || hi == 0 || wi == 0 || self.stride == 0 {
            candle_core::bail!("conv-transpose op: input {x:?} does not fit kernel {w:?}");
        }
        let out = |i: usize| {
            ((i - 1) * self.stride + k + self.output_padding).checked_sub(2 * self.padding)
        };
        let (Some(ho), Some(wo)) = (out(hi), out(wi)) else {
            candle_core::bail!("conv-transpose op: padding too large for input {x:?}");
        };
        let g = ConvGeom {
            c: co,
            h: ho,
            w: wo,
            o: ci,
            ho: hi,
            wo: wi,
            k,
            s: self.stride,
            p: self.padding,
        };
        Ok(Batched { g, b })
    }
}

impl CustomOp3 for ConvTranspose {
    fn name(&self) -> &'static str {
        "bottleneck-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geom(l1.dims(), l2.dims())?;
        let (x, w, bias) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        if bias.len() != g.c {
            candle_core::bail!(
                "conv-transpose op: bias of {} for {} channels",
                bias.len(),
                g.c
            );
        }
        // y = col2im(Wᵀ[co·k·k, ci] · X[ci, n]) + bias
        let mut y = g.col2im(&matmul(
            g.ckk(),
            g.n(),
            g.o,
            w,
            true,
            &g.gather_out(x),
            false,
        ));
        add_bias(&mut y, bias, g.h * g.w);
        if self.relu {
            relu_in_place(&mut y);
        }
        Ok((CpuStorage::F32(y), Shape::from((g.b, g.c, g.h, g.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geom(x.dims(), w.dims())?;
        let dyv = masked_grad(dy, res, self.relu)?;
        let (xv, wv) = (g.gather_out(&values(x)?), values(w)?);
        let cols = g.im2col(&dyv);
        // dX = W[ci, co·k·k] · im2col(dY) ; dW = X[ci, n] · im2col(dY)ᵀ ; db = Σ dY per channel
        let dx = g.scatter_out(&matmul(g.o, g.n(), g.ckk(), &wv, false, &cols, false));
        let dw = matmul(g.o, g.ckk(), g.n(), &xv, false, &cols, true);
        let hw = g.h * g.w;
        let mut db = vec![0f64; g.c];
        for (bc, plane) in dyv.chunks_exact(hw).enumerate() {
            db[bc % g.c] += plane.iter().map(|&v| v as f64).sum::<f64>();
        }
        let db: Vec<f32> = db.into_iter().map(|v| v as f32).collect();
        Ok((
            Some(Tensor::from_vec(dx, x.dims(), x.device())?),
            Some(Tensor::from_vec(dw, w.dims(), w.device())?),
            Some(Tensor::from_vec(db, b.dims(), b.device())?),
        ))
    }
}

/// `conv2d(x, w) + b` (one bias per output channel) with the given stride and padding, then
/// `max(0, ·)` when `relu`.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
    relu: bool,
) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        Conv {
            stride,
            padding,
            relu,
        },
    )
}

/// `conv_transpose2d(x, w) + b` with the given stride, padding and output padding, then
/// `max(0, ·)` when `relu`.
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
    output_padding: usize,
    relu: bool,
) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        ConvTranspose {
            stride,
            padding,
            output_padding,
            relu,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand_t(shape: &[usize], seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0) - 1.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Asserts that `ours` and `theirs` agree, and so do their gradients with respect to `vars`
    /// under a loss that weights every output differently (mask from `seed`).
    fn assert_same(ours: &Tensor, theirs: &Tensor, vars: [&Var; 3], seed: u64, what: &str) {
        assert!(max_diff(ours, theirs) < 1e-4, "{what} forward");
        let mask = rand_t(ours.dims(), seed);
        let grads = |t: &Tensor| (t * &mask).unwrap().sum_all().unwrap().backward().unwrap();
        let (g1, g2) = (grads(ours), grads(theirs));
        for v in vars {
            let d = max_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
            assert!(d < 1e-3, "{what} gradient differs by {d}");
        }
    }

    #[test]
    fn conv_matches_candle_values_and_gradients() {
        for (xs, ws, s, p, relu) in [
            ([3, 1, 28, 28], [4, 1, 3, 3], 2, 1, false),
            ([2, 4, 14, 14], [5, 4, 3, 3], 2, 1, true),
            ([2, 3, 7, 7], [2, 3, 3, 3], 1, 1, false),
            ([1, 2, 7, 7], [3, 2, 3, 3], 2, 0, true),
        ] {
            let x = Var::from_tensor(&rand_t(&xs, 1)).unwrap();
            let w = Var::from_tensor(&rand_t(&ws, 2)).unwrap();
            let b = Var::from_tensor(&rand_t(&[ws[0]], 7)).unwrap();
            let ours = conv2d(&x, &w, &b, s, p, relu).unwrap();
            let theirs = x
                .conv2d(&w, p, s, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, ws[0], 1, 1)).unwrap())
                .unwrap();
            let theirs = if relu { theirs.relu().unwrap() } else { theirs };
            assert_same(&ours, &theirs, [&x, &w, &b], 3, &format!("{xs:?} {ws:?}"));
        }
    }

    #[test]
    fn conv_transpose_matches_candle_values_and_gradients() {
        for (xs, ws, s, p, op, relu) in [
            ([3, 4, 7, 7], [4, 2, 3, 3], 2, 1, 1, true),
            ([2, 2, 14, 14], [2, 1, 3, 3], 2, 1, 1, false),
            ([2, 3, 4, 4], [3, 2, 3, 3], 2, 1, 0, true),
            ([1, 2, 5, 5], [2, 3, 3, 3], 1, 1, 0, false),
        ] {
            let x = Var::from_tensor(&rand_t(&xs, 4)).unwrap();
            let w = Var::from_tensor(&rand_t(&ws, 5)).unwrap();
            let b = Var::from_tensor(&rand_t(&[ws[1]], 8)).unwrap();
            let ours = conv_transpose2d(&x, &w, &b, s, p, op, relu).unwrap();
            let theirs = x
                .conv_transpose2d(&w, p, op, s, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, ws[1], 1, 1)).unwrap())
                .unwrap();
            let theirs = if relu { theirs.relu().unwrap() } else { theirs };
            assert_same(&ours, &theirs, [&x, &w, &b], 6, &format!("{xs:?} {ws:?}"));
        }
    }

    #[test]
    fn mismatched_shapes_are_errors_not_panics() {
        let x = rand_t(&[1, 2, 8, 8], 1);
        let w = rand_t(&[3, 5, 3, 3], 2);
        let b = rand_t(&[3], 3);
        assert!(conv2d(&x, &w, &b, 2, 1, false).is_err());
        assert!(conv_transpose2d(&x, &w, &b, 2, 1, 1, false).is_err());
        // A bias of the wrong size is an error too.
        let w_ok = rand_t(&[3, 2, 3, 3], 4);
        assert!(conv2d(&x, &w_ok, &rand_t(&[2], 5), 2, 1, false).is_err());
    }
}
