//! The one geometry of a square-kernel convolution, with its im2col and col2im, shared by the
//! candle custom ops (`convops`, batch-major tensors, all threads) and the fused conv engine
//! (`train::fused_conv`, channel-major chunks, one thread per chunk). Also the two layout
//! shuffles between `[row][c][hw]` and `[c][row][hw]`.
//!
//! A transposed convolution is described by the convolution it is the adjoint of (input and
//! output swapped), so it needs no geometry of its own.

use rayon::prelude::*;

/// How the planes of a `rows`-image, `c`-channel activation are ordered in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planes {
    /// `[row][c][h][w]` (candle's `[b, c, h, w]`).
    BatchMajor,
    /// `[c][row][h][w]` (the fused engine's activations).
    ChannelMajor,
}

/// A convolution from `[c, h, w]` to `[o, ho, wo]` with a `k×k` kernel, stride `s` and padding
/// `p` (the same on both axes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub ho: usize,
    pub wo: usize,
    pub k: usize,
    pub s: usize,
    pub p: usize,
}

/// Runs `f(i, chunk)` over the `n`-value chunks of `out`, on all threads when `parallel`.
fn for_chunks(out: &mut [f32], n: usize, parallel: bool, f: impl Fn(usize, &mut [f32]) + Sync) {
    if n == 0 {
        return;
    }
    if parallel {
        out.par_chunks_mut(n).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(n).enumerate().for_each(|(i, c)| f(i, c));
    }
}

impl ConvGeom {
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
    pub fn howo(&self) -> usize {
        self.ho * self.wo
    }
    /// Rows of the im2col matrix: one per (input channel, ky, kx).
    pub fn ckk(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Along an axis of `len` inputs: the input coordinate that output coordinate `od` reads
    /// through kernel tap `kd`, if inside.
    #[inline(always)]
    fn src(&self, od: usize, kd: usize, len: usize) -> Option<usize> {
        (od * self.s + kd).checked_sub(self.p).filter(|&i| i < len)
    }

    /// For kernel column `kx`: the output columns `lo..hi` whose input lies inside (a
    /// contiguous range), and the input column of `lo` (steps of `s` from there).
    #[inline(always)]
    fn span(&self, kx: usize) -> (usize, usize, usize) {
        let inside = |o: usize| self.src(o, kx, self.w).is_some();
        let lo = (0..self.wo).find(|&o| inside(o)).unwrap_or(self.wo);
        let hi = (lo..self.wo).find(|&o| !inside(o)).unwrap_or(self.wo);
        (lo, hi, self.src(lo, kx, self.w).unwrap_or(0))
    }

    /// Offset of plane (`ch`, `r`) of a `rows`-image activation laid out as `order`.
    #[inline(always)]
    fn plane(&self, order: Planes, rows: usize, ch: usize, r: usize) -> usize {
        let planes = match order {
            Planes::BatchMajor => r * self.c + ch,
            Planes::ChannelMajor => ch * rows + r,
        };
        planes * self.hw()
    }

    /// `x` (`rows` images of `[c, h, w]`, laid out as `order`) → `cols` `[c·k·k][rows·ho·wo]`
    /// (overwritten).
    pub fn im2col(&self, x: &[f32], order: Planes, rows: usize, cols: &mut [f32], parallel: bool) {
        let n = rows * self.howo();
        let (hw, howo, k) = (self.hw(), self.howo(), self.k);
        for_chunks(&mut cols[..self.ckk() * n], n, parallel, |row, out| {
            let (c, ky, kx) = (row / (k * k), (row / k) % k, row % k);
            let (lo, hi, ix0) = self.span(kx);
            for r in 0..rows {
                let plane = &x[self.plane(order, rows, c, r)..][..hw];
                let dst = &mut out[r * howo..][..howo];
                for oy in 0..self.ho {
                    let line = &mut dst[oy * self.wo..][..self.wo];
                    let Some(iy) = self.src(oy, ky, self.h) else {
                        line.fill(0.0);
                        continue;
                    };
                    let src = &plane[iy * self.w..][..self.w];
                    line[..lo].fill(0.0);
                    line[hi..].fill(0.0);
                    for (v, &s) in line[lo..hi]
                        .iter_mut()
                        .zip(src[ix0..].iter().step_by(self.s))
                    {
                        *v = s;
                    }
                }
            }
        });
    }

    /// The adjoint of [`ConvGeom::im2col`]: `x` = Σ of `cols` scattered back (overwritten).
    /// Each input pixel sums its taps in (ky, kx) order.
    pub fn col2im(&self, cols: &[f32], order: Planes, rows: usize, x: &mut [f32], parallel: bool) {
        let (hw, howo, k) = (self.hw(), self.howo(), self.k);
        let n = rows * howo;
        for_chunks(&mut x[..self.c * rows * hw], hw, parallel, |i, plane| {
            let (c, r) = match order {
                Planes::BatchMajor => (i % self.c, i / self.c),
                Planes::ChannelMajor => (i / rows, i % rows),
            };
            plane.fill(0.0);
            for ky in 0..k {
                for kx in 0..k {
                    let (lo, hi, ix0) = self.span(kx);
                    let src = &cols[((c * k + ky) * k + kx) * n + r * howo..][..howo];
                    for oy in 0..self.ho {
                        let Some(iy) = self.src(oy, ky, self.h) else {
                            continue;
                        };
                        let dst = &mut plane[iy * self.w..][..self.w];
                        let line = &src[oy * self.wo + lo..oy * self.wo + hi];
                        for (d, &v) in dst[ix0..].iter_mut().step_by(self.s).zip(line) {
                            *d += v;
                        }
                    }
                }
            }
        });
    }
}

/// `[c][rows][hw]` → `[rows][c·hw]` (`out` overwritten).
pub fn to_rows(x: &[f32], c: usize, rows: usize, hw: usize, out: &mut [f32], parallel: bool) {
    for_chunks(&mut out[..c * rows * hw], hw, parallel, |i, dst| {
        let (r, ch) = (i / c, i % c);
        dst.copy_from_slice(&x[(ch * rows + r) * hw..][..hw]);
    });
}

/// `[rows][c·hw]` → `[c][rows][hw]` (`out` overwritten).
pub fn to_channels(x: &[f32], c: usize, rows: usize, hw: usize, out: &mut [f32], parallel: bool) {
    for_chunks(&mut out[..c * rows * hw], hw, parallel, |i, dst| {
        let (ch, r) = (i / rows, i % rows);
        dst.copy_from_slice(&x[(r * c + ch) * hw..][..hw]);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col against its definition, and col2im as its adjoint (⟨im2col x, y⟩ = ⟨x, col2im y⟩),
    /// in both plane orders, with odd sizes, stride 1 and 2, and padding 0 and 1.
    #[test]
    fn im2col_matches_definition_and_col2im_is_its_adjoint() {
        for (c, h, w, k, s, p) in [(2, 7, 5, 3, 2, 1), (3, 6, 6, 3, 1, 1), (1, 5, 4, 2, 2, 0)] {
            let out = |i: usize| (i + 2 * p - k) / s + 1;
            let g = ConvGeom {
                c,
                h,
                w,
                o: 1,
                ho: out(h),
                wo: out(w),
                k,
                s,
                p,
            };
            let rows = 3;
            let x: Vec<f32> = (0..rows * c * h * w)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            for order in [Planes::BatchMajor, Planes::ChannelMajor] {
                let n = rows * g.howo();
                let mut cols = vec![9.0; g.ckk() * n];
                g.im2col(&x, order, rows, &mut cols, order == Planes::BatchMajor);
                for (row, line) in cols.chunks(n).enumerate() {
                    let (ch, ky, kx) = (row / (k * k), (row / k) % k, row % k);
                    for (j, &v) in line.iter().enumerate() {
                        let (r, oy, ox) = (j / g.howo(), (j % g.howo()) / g.wo, j % g.wo);
                        let iy = (oy * s + ky) as isize - p as isize;
                        let ix = (ox * s + kx) as isize - p as isize;
                        let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                        let want = if inside {
                            x[g.plane(order, rows, ch, r) + iy as usize * w + ix as usize]
                        } else {
                            0.0
                        };
                        assert_eq!(v, want, "{order:?} row {row} col {j}");
                    }
                }
                let y: Vec<f32> = (0..cols.len()).map(|i| (i as f32 * 0.11).cos()).collect();
                let mut back = vec![7.0; x.len()];
                g.col2im(&y, order, rows, &mut back, order == Planes::ChannelMajor);
                let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum();
                let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
                assert!((lhs - rhs).abs() < 1e-3, "{order:?}: {lhs} vs {rhs}");
            }
        }
    }

    #[test]
    fn to_rows_and_to_channels_are_inverse() {
        let (c, rows, hw) = (3, 4, 5);
        let x: Vec<f32> = (0..c * rows * hw).map(|i| i as f32).collect();
        let (mut a, mut b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        to_rows(&x, c, rows, hw, &mut a, false);
        assert_eq!(
            a[hw],
            x[rows * hw],
            "row 0 channel 1 comes from channel 1's first plane"
        );
        to_channels(&a, c, rows, hw, &mut b, true);
        assert_eq!(b, x);
    }
}
