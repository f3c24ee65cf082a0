//! Principal component analysis fitted with faer's symmetric eigendecomposition of the
//! covariance matrix. Components are orthonormal rows sorted by decreasing variance, so
//! projecting onto the first k and reconstructing is optimal among rank-k linear maps.
//!
//! Conventions shared by every method:
//!
//! * data are row-major `f32` slices, `dim` values per row; a trailing partial row (when the
//!   length is not a multiple of `dim`) is ignored by the methods that take data;
//! * a requested `k` larger than [`Pca::n_components`] is clamped to it, and `k = 0` means
//!   "no component": every row is reconstructed as the mean;
//! * the work is done in blocks of rows (bounded memory even on 60,000 rows), with faer's
//!   matrix product inside a block and rayon across blocks.
//!
//! ```
//! use bottleneck_engine::analysis::Pca;
//! // Three points on the line y = 2x, plus one off it.
//! let data = [0.0, 0.0, 1.0, 2.0, 2.0, 4.0, 1.0, 1.0];
//! let pca = Pca::fit(&data, 2, 2).unwrap();
//! // A 2-D code sent back to input space projects onto itself.
//! let z = [0.7, -0.3];
//! let back = pca.project(&pca.reconstruct(&z, 2), 2);
//! assert!((back[0] - z[0]).abs() < 1e-5 && (back[1] - z[1]).abs() < 1e-5);
//! ```

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::AnalysisError;

/// Rows per block when fitting (the centred block is converted to f64).
const FIT_BLOCK: usize = 2048;
/// Rows per block (and per rayon task) in `project`, `reconstruct`, `mse` and `mse_curve`.
const ROW_BLOCK: usize = 512;

#[derive(Clone, Debug)]
pub struct Pca {
    /// Input dimension.
    pub dim: usize,
    /// The mean of the fitted data (length `dim`).
    pub mean: Vec<f32>,
    /// `n_components` orthonormal rows of length `dim`, by decreasing variance.
    pub components: Vec<f32>,
    /// Variance along each component (eigenvalues of the covariance), decreasing.
    pub variances: Vec<f32>,
    /// Total variance of the data (trace of the covariance).
    pub total_variance: f32,
    /// For cache keys (a clone gets its own).
    identity: crate::id::Identity,
}

impl Pca {
    /// Fits on `n` rows of length `dim` (row-major `data`), keeping the first `max_components`
    /// components (clamped to `dim`).
    ///
    /// The covariance divides by `n - 1`; tiny negative eigenvalues from rounding are clamped to
    /// 0. Each component's sign is fixed so that its largest-magnitude entry (the first one on
    /// a tie) is positive, which makes fits reproducible. `max_components = 0` is allowed and
    /// gives a PCA that only knows the mean.
    ///
    /// Errors: [`AnalysisError::TooFewSamples`] with fewer than 2 rows, and
    /// [`AnalysisError::Invalid`] when `dim` is 0, `data.len()` is not a multiple of `dim`, a
    /// value is not finite, or the eigendecomposition does not converge. Constant data are
    /// fine: every variance is 0 (the components are then an arbitrary orthonormal basis).
    pub fn fit(data: &[f32], dim: usize, max_components: usize) -> Result<Pca, AnalysisError> {
        if dim == 0 {
            return Err(AnalysisError::Invalid("PCA needs dim > 0".into()));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(AnalysisError::Invalid(format!(
                "PCA data length {} is not a multiple of dim {dim}",
                data.len()
            )));
        }
        let n = data.len() / dim;
        if n < 2 {
            return Err(AnalysisError::TooFewSamples(n));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(AnalysisError::Invalid(format!(
                "PCA data hold a non-finite value at row {}, column {}",
                i / dim,
                i % dim
            )));
        }

        // Mean in f64.
        let mut mean = vec![0f64; dim];
        for row in data.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }

        // Covariance: sum over row blocks of Xcᵀ Xc (f64, row-major block), then / (n - 1).
        // Only the lower triangle is computed: it is all the eigendecomposition reads.
        let par = faer::get_global_parallelism();
        let mut cov = Mat::<f64>::zeros(dim, dim);
        let mut block = vec![0f64; FIT_BLOCK.min(n) * dim];
        for chunk in data.chunks(FIT_BLOCK * dim) {
            let rows = chunk.len() / dim;
            let xb = &mut block[..rows * dim];
            for (xrow, row) in xb.chunks_exact_mut(dim).zip(chunk.chunks_exact(dim)) {
                for ((x, &v), &m) in xrow.iter_mut().zip(row).zip(&mean) {
                    *x = v as f64 - m;
                }
            }
            let xb = MatRef::from_row_major_slice(&block[..rows * dim], rows, dim);
            triangular::matmul(
                cov.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                xb.transpose(),
                BlockStructure::Rectangular,
                xb,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
        }
        let scale = 1.0 / (n - 1) as f64;
        for j in 0..dim {
            for i in 0..dim {
                cov[(i, j)] *= scale;
            }
        }
        let total_variance: f64 = (0..dim).map(|i| cov[(i, i)]).sum();

        let evd = cov
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| AnalysisError::Invalid(format!("eigendecomposition failed: {e:?}")))?;
        let u = evd.U();
        let s = evd.S().column_vector();

        // faer sorts eigenvalues increasing; take them from the end.
        let kept = max_components.min(dim);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        let mut components = Vec::with_capacity(kept * dim);
        let mut variances = Vec::with_capacity(kept);
        for &c in order.iter().take(kept) {
            let v = u.col(c);
            let mut pivot = 0;
            for i in 1..dim {
                if v[i].abs() > v[pivot].abs() {
                    pivot = i;
                }
            }
            let sign = if v[pivot] < 0.0 { -1.0 } else { 1.0 };
            components.extend(v.iter().map(|&x| (sign * x) as f32));
            variances.push(s[c].max(0.0) as f32);
        }

        Ok(Pca {
            dim,
            mean: mean.iter().map(|&m| m as f32).collect(),
            components,
            variances,
            total_variance: total_variance.max(0.0) as f32,
            identity: crate::id::Identity::new(),
        })
    }

    /// This PCA's identity, for cache keys.
    pub fn id(&self) -> crate::id::Id {
        self.identity.id()
    }

    pub fn n_components(&self) -> usize {
        self.variances.len()
    }

    /// The effective number of components for a requested `k`.
    fn clamp_k(&self, k: usize) -> usize {
        k.min(self.n_components())
    }

    /// The first `k` components as a `k × dim` matrix view.
    fn basis(&self, k: usize) -> MatRef<'_, f32> {
        MatRef::from_row_major_slice(&self.components[..k * self.dim], k, self.dim)
    }

    /// Codes of the rows of `data` on the first `k` components (row-major, `k` per row).
    ///
    /// `k` is clamped to [`Pca::n_components`], so the result has `min(k, n_components)` values
    /// per row (none when that is 0).
    pub fn project(&self, data: &[f32], k: usize) -> Vec<f32> {
        let k = self.clamp_k(k);
        let n = self.rows_in(data);
        let mut codes = vec![0f32; n * k];
        if k == 0 || n == 0 {
            return codes;
        }
        codes
            .par_chunks_mut(ROW_BLOCK * k)
            .zip(data[..n * self.dim].par_chunks(ROW_BLOCK * self.dim))
            .for_each_init(Vec::new, |centred, (out, rows)| {
                self.centre_into(rows, centred);
                self.codes_of(centred, k, out);
            });
        codes
    }

    /// Rows back in input space from `k`-dimensional codes.
    ///
    /// `k` is clamped to [`Pca::n_components`] and the codes are read as rows of that clamped
    /// width, so `reconstruct(&project(x, k), k)` always round-trips. A trailing partial code
    /// row is ignored. When the clamped `k` is 0 the codes cannot tell how many rows there
    /// are, and the result is empty (every reconstruction would be [`Pca::mean`]).
    pub fn reconstruct(&self, codes: &[f32], k: usize) -> Vec<f32> {
        let k = self.clamp_k(k);
        if k == 0 || self.dim == 0 {
            return Vec::new();
        }
        let n = codes.len() / k;
        let mut out = vec![0f32; n * self.dim];
        out.par_chunks_mut(ROW_BLOCK * self.dim)
            .zip(codes[..n * k].par_chunks(ROW_BLOCK * k))
            .for_each(|(out, codes)| {
                let rows = codes.len() / k;
                for row in out.chunks_exact_mut(self.dim) {
                    row.copy_from_slice(&self.mean);
                }
                let z = MatRef::from_row_major_slice(codes, rows, k);
                let dst = MatMut::from_row_major_slice_mut(out, rows, self.dim);
                matmul(dst, Accum::Add, z, self.basis(k), 1.0, Par::Seq);
            });
        out
    }

    /// Fraction of the total variance explained by each component.
    ///
    /// All zeros when the total variance is 0 (constant data).
    pub fn explained_variance_ratio(&self) -> Vec<f32> {
        if self.total_variance > 0.0 {
            let total = self.total_variance as f64;
            self.variances
                .iter()
                .map(|&v| (v as f64 / total) as f32)
                .collect()
        } else {
            vec![0.0; self.variances.len()]
        }
    }

    /// Mean squared error per element of reconstructing `data` with `k` components.
    ///
    /// Computed from the actual reconstructions (not the orthogonality shortcut of
    /// [`Pca::mse_curve`]), accumulated in f64. `k = 0` measures the error of the mean, i.e.
    /// the variance per element (with a 1/n normalisation). Returns 0 for empty data.
    pub fn mse(&self, data: &[f32], k: usize) -> f32 {
        let k = self.clamp_k(k);
        let n = self.rows_in(data);
        if n == 0 {
            return 0.0;
        }
        let sum: f64 = data[..n * self.dim]
            .par_chunks(ROW_BLOCK * self.dim)
            .map_init(
                || (Vec::new(), Vec::new()),
                |(centred, codes), rows| {
                    self.centre_into(rows, centred);
                    if k > 0 {
                        let r = rows.len() / self.dim;
                        codes.clear();
                        codes.resize(r * k, 0.0);
                        self.codes_of(centred, k, codes);
                        // Residual in place: centred -= codes · C.
                        let z = MatRef::from_row_major_slice(codes, r, k);
                        let dst = MatMut::from_row_major_slice_mut(centred, r, self.dim);
                        matmul(dst, Accum::Add, z, self.basis(k), -1.0, Par::Seq);
                    }
                    centred
                        .iter()
                        .map(|&e| (e as f64) * (e as f64))
                        .sum::<f64>()
                },
            )
            .sum();
        (sum / (n * self.dim) as f64) as f32
    }

    /// `mse(data, k)` for k = 1..=kmax in one pass (index 0 is k = 1).
    ///
    /// Uses orthonormality: a row's squared residual with k components is
    /// ‖x − μ‖² − Σ_{i≤k} zᵢ², clamped at 0. The result has `kmax` entries; those past
    /// [`Pca::n_components`] repeat the last value (k is clamped). Empty for `kmax = 0`; all
    /// zeros for empty data.
    pub fn mse_curve(&self, data: &[f32], kmax: usize) -> Vec<f32> {
        let k = self.clamp_k(kmax);
        let n = self.rows_in(data);
        if kmax == 0 {
            return Vec::new();
        }
        if n == 0 {
            return vec![0.0; kmax];
        }
        let dim = self.dim;
        // Entry 0 accumulates k = 0 (the mean), entry i accumulates k = i.
        let sums = data[..n * dim]
            .par_chunks(ROW_BLOCK * dim)
            .map_init(
                || (Vec::new(), Vec::new()),
                |(centred, codes), rows| {
                    self.centre_into(rows, centred);
                    let r = rows.len() / dim;
                    codes.clear();
                    codes.resize(r * k, 0.0);
                    self.codes_of(centred, k, codes);
                    let mut acc = vec![0f64; k + 1];
                    for i in 0..r {
                        let x = &centred[i * dim..(i + 1) * dim];
                        let mut left: f64 = x.iter().map(|&e| (e as f64) * (e as f64)).sum();
                        acc[0] += left;
                        for (a, &z) in acc[1..].iter_mut().zip(&codes[i * k..(i + 1) * k]) {
                            left -= (z as f64) * (z as f64);
                            *a += left.max(0.0);
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![0f64; k + 1],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let norm = (n * dim) as f64;
        (1..=kmax).map(|i| (sums[i.min(k)] / norm) as f32).collect()
    }

    /// Whole rows of length `dim` in `data`.
    fn rows_in(&self, data: &[f32]) -> usize {
        data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Copies `rows` minus the mean into `out` (resized to fit).
    fn centre_into(&self, rows: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(rows);
        for row in out.chunks_exact_mut(self.dim) {
            for (x, &m) in row.iter_mut().zip(&self.mean) {
                *x -= m;
            }
        }
    }

    /// `out = centred · Cₖᵀ` for a block of centred rows (`out` has `k` values per row).
    fn codes_of(&self, centred: &[f32], k: usize, out: &mut [f32]) {
        let r = centred.len() / self.dim;
        let x = MatRef::from_row_major_slice(centred, r, self.dim);
        let dst = MatMut::from_row_major_slice_mut(out, r, k);
        matmul(
            dst,
            Accum::Replace,
            x,
            self.basis(k).transpose(),
            1.0,
            Par::Seq,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    /// Four points t·(1, 2) + s·(−2, 1) + (3, −1) with t = −2, −1, 1, 2 and s = ±0.1 chosen so
    /// that Σs = Σts = 0: the mean is (3, −1), the variance along (1, 2)/√5 is
    /// 5·Σt²/3 = 50/3, and along (−2, 1)/√5 it is 5·Σs²/3 = 1/15.
    fn line_data() -> Vec<f32> {
        let mut data = Vec::new();
        for (t, s) in [(-2.0f32, 0.1f32), (-1.0, -0.1), (1.0, -0.1), (2.0, 0.1)] {
            data.push(t - 2.0 * s + 3.0);
            data.push(2.0 * t + s - 1.0);
        }
        data
    }

    /// Deterministic pseudo-random data with correlated columns.
    fn random_data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32) / ((1u64 << 24) as f32) - 0.5
        };
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let common = next();
            for j in 0..dim {
                data.push(next() * (1.0 + j as f32 * 0.3) + common * 2.0 + j as f32 * 0.1);
            }
        }
        data
    }

    #[test]
    fn line_by_hand() {
        let pca = Pca::fit(&line_data(), 2, 2).unwrap();
        assert!(close(pca.mean[0], 3.0, 1e-6) && close(pca.mean[1], -1.0, 1e-6));
        assert!(
            close(pca.variances[0], 50.0 / 3.0, 1e-4),
            "{:?}",
            pca.variances
        );
        assert!(
            close(pca.variances[1], 1.0 / 15.0, 1e-5),
            "{:?}",
            pca.variances
        );
        assert!(close(pca.total_variance, 251.0 / 15.0, 1e-4));
        let r5 = 5f32.sqrt();
        // Signs: the largest-magnitude entry is positive.
        let c = &pca.components;
        assert!(
            close(c[0], 1.0 / r5, 1e-5) && close(c[1], 2.0 / r5, 1e-5),
            "{c:?}"
        );
        assert!(
            close(c[2], 2.0 / r5, 1e-5) && close(c[3], -1.0 / r5, 1e-5),
            "{c:?}"
        );
        // Codes of the first point: t√5 along the line, −s√5 across it (sign flipped).
        let z = pca.project(&line_data()[..2], 2);
        assert!(
            close(z[0], -2.0 * r5, 1e-5) && close(z[1], -0.1 * r5, 1e-5),
            "{z:?}"
        );
        let ratio = pca.explained_variance_ratio();
        assert!(close(ratio[0], 250.0 / 251.0, 1e-6) && close(ratio[1], 1.0 / 251.0, 1e-6));
    }

    #[test]
    fn full_rank_round_trip() {
        let (n, dim) = (700, 12);
        let data = random_data(n, dim, 1);
        let pca = Pca::fit(&data, dim, dim).unwrap();
        let back = pca.reconstruct(&pca.project(&data, dim), dim);
        assert_eq!(back.len(), data.len());
        let worst = data
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "worst round-trip error {worst}");
        assert!(pca.mse(&data, dim) < 1e-9);
    }

    #[test]
    fn components_are_orthonormal_and_sorted() {
        let dim = 9;
        let pca = Pca::fit(&random_data(300, dim, 2), dim, dim).unwrap();
        for a in 0..dim {
            for b in 0..dim {
                let dot: f32 = (0..dim)
                    .map(|i| pca.components[a * dim + i] * pca.components[b * dim + i])
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!(close(dot, want, 1e-5), "<c{a}, c{b}> = {dot}");
            }
        }
        assert!(pca.variances.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn mean_projects_to_zero() {
        let dim = 7;
        let pca = Pca::fit(&random_data(200, dim, 3), dim, 4).unwrap();
        let z = pca.project(&pca.mean, 4);
        assert_eq!(z.len(), 4);
        assert!(z.iter().all(|v| v.abs() < 1e-5), "{z:?}");
    }

    #[test]
    fn ratios_sum_to_one_at_full_rank() {
        let dim = 10;
        let pca = Pca::fit(&random_data(150, dim, 4), dim, dim).unwrap();
        let sum: f32 = pca.explained_variance_ratio().iter().sum();
        assert!(close(sum, 1.0, 1e-5), "{sum}");
        let trace: f32 = pca.variances.iter().sum();
        assert!(close(trace, pca.total_variance, 1e-4 * pca.total_variance));
    }

    #[test]
    fn mse_curve_matches_mse_and_decreases() {
        let (n, dim) = (1100, 16);
        let train = random_data(n, dim, 5);
        let test = random_data(300, dim, 6);
        let pca = Pca::fit(&train, dim, 10).unwrap();
        for data in [&train, &test] {
            let curve = pca.mse_curve(data, 13);
            assert_eq!(curve.len(), 13);
            assert!(curve.windows(2).all(|w| w[1] <= w[0]), "{curve:?}");
            for (i, &c) in curve.iter().enumerate() {
                let m = pca.mse(data, i + 1);
                assert!(close(c, m, 1e-5 * m.max(1e-3)), "k = {}: {c} vs {m}", i + 1);
            }
            // Past n_components the value stays put (k is clamped).
            assert_eq!(curve[9], curve[12]);
        }
    }

    #[test]
    fn mse_at_zero_is_variance_per_element() {
        let (n, dim) = (500, 6);
        let data = random_data(n, dim, 7);
        let pca = Pca::fit(&data, dim, 3).unwrap();
        // The covariance divides by n − 1, the MSE by n.
        let want = pca.total_variance / dim as f32 * (n - 1) as f32 / n as f32;
        let got = pca.mse(&data, 0);
        assert!(close(got, want, 1e-5 * want), "{got} vs {want}");
        // Reconstructing with k = 0 … n_components keeps working past the clamp.
        assert_eq!(pca.mse(&data, 3), pca.mse(&data, 99));
    }

    #[test]
    fn two_d_code_round_trips_through_input_space() {
        // The 2-D scatter's inverse projection lands back on the clicked code.
        let dim = 20;
        let pca = Pca::fit(&random_data(400, dim, 8), dim, 5).unwrap();
        let codes = [1.5f32, -0.25, -3.0, 0.0, 0.0, 0.75];
        let images = pca.reconstruct(&codes, 2);
        assert_eq!(images.len(), 3 * dim);
        let back = pca.project(&images, 2);
        for (a, b) in codes.iter().zip(&back) {
            assert!(close(*a, *b, 1e-5), "{codes:?} -> {back:?}");
        }
    }

    #[test]
    fn degenerate_inputs() {
        assert!(matches!(
            Pca::fit(&[1.0, 2.0, 3.0], 3, 2),
            Err(AnalysisError::TooFewSamples(1))
        ));
        assert!(matches!(
            Pca::fit(&[], 3, 2),
            Err(AnalysisError::TooFewSamples(0))
        ));
        assert!(matches!(
            Pca::fit(&[1.0; 6], 0, 2),
            Err(AnalysisError::Invalid(_))
        ));
        assert!(matches!(
            Pca::fit(&[1.0; 7], 3, 2),
            Err(AnalysisError::Invalid(_))
        ));
        assert!(matches!(
            Pca::fit(&[1.0, f32::NAN, 0.0, 1.0], 2, 2),
            Err(AnalysisError::Invalid(_))
        ));

        // Constant data: zero variances, orthonormal components, no NaN anywhere.
        let data = vec![0.5f32; 40 * 5];
        let pca = Pca::fit(&data, 5, 3).unwrap();
        assert_eq!(pca.n_components(), 3);
        assert!(pca.variances.iter().all(|&v| v == 0.0));
        assert_eq!(pca.total_variance, 0.0);
        assert!(pca.components.iter().all(|v| v.is_finite()));
        assert_eq!(pca.explained_variance_ratio(), vec![0.0; 3]);
        assert_eq!(pca.mse(&data, 2), 0.0);
        assert_eq!(pca.mse_curve(&data, 4), vec![0.0; 4]);
        assert!(pca.project(&data, 3).iter().all(|&z| z == 0.0));

        // k = 0, max_components = 0, more components than dim, empty inputs.
        let pca = Pca::fit(&random_data(30, 4, 9), 4, 10).unwrap();
        assert_eq!(pca.n_components(), 4);
        assert!(pca.project(&[1.0; 8], 0).is_empty());
        assert!(pca.reconstruct(&[], 0).is_empty());
        assert!(pca.project(&[], 2).is_empty());
        assert!(pca.mse_curve(&[1.0; 8], 0).is_empty());
        assert_eq!(pca.mse(&[], 2), 0.0);
        assert_eq!(pca.project(&[1.0; 8], 7).len(), 2 * 4);
        let empty = Pca::fit(&random_data(30, 4, 9), 4, 0).unwrap();
        assert_eq!(empty.n_components(), 0);
        assert!(empty.mse(&random_data(5, 4, 1), 3) > 0.0);
        // A trailing partial row is ignored.
        assert_eq!(pca.project(&[1.0; 9], 2).len(), 2 * 2);

        // A hand-built PCA with dim 0 (fit never makes one) still does not panic.
        let odd = Pca {
            dim: 0,
            mean: vec![],
            components: vec![],
            variances: vec![1.0],
            total_variance: 1.0,
            identity: crate::id::Identity::new(),
        };
        assert!(odd.project(&[1.0; 4], 1).is_empty());
        assert!(odd.reconstruct(&[1.0; 4], 1).is_empty());
        assert_eq!(odd.mse(&[1.0; 4], 1), 0.0);
        assert_eq!(odd.mse_curve(&[1.0; 4], 2), vec![0.0; 2]);
    }
}
