//! Principal component analysis fitted with faer's symmetric eigendecomposition of the
//! covariance matrix. Components are orthonormal rows sorted by decreasing variance, so
//! projecting onto the first k and reconstructing is optimal among rank-k linear maps.

use super::AnalysisError;

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
}

impl Pca {
    /// Fits on `n` rows of length `dim` (row-major `data`), keeping the first `max_components`
    /// components (clamped to `dim`).
    pub fn fit(data: &[f32], dim: usize, max_components: usize) -> Result<Pca, AnalysisError> {
        let _ = (data, dim, max_components);
        todo!("analysis helper")
    }

    pub fn n_components(&self) -> usize {
        self.variances.len()
    }

    /// Codes of the rows of `data` on the first `k` components (row-major, `k` per row).
    pub fn project(&self, data: &[f32], k: usize) -> Vec<f32> {
        let _ = (data, k);
        todo!("analysis helper")
    }

    /// Rows back in input space from `k`-dimensional codes.
    pub fn reconstruct(&self, codes: &[f32], k: usize) -> Vec<f32> {
        let _ = (codes, k);
        todo!("analysis helper")
    }

    /// Fraction of the total variance explained by each component.
    pub fn explained_variance_ratio(&self) -> Vec<f32> {
        todo!("analysis helper")
    }

    /// Mean squared error per element of reconstructing `data` with `k` components.
    pub fn mse(&self, data: &[f32], k: usize) -> f32 {
        let _ = (data, k);
        todo!("analysis helper")
    }

    /// `mse(data, k)` for k = 1..=kmax in one pass (index 0 is k = 1).
    pub fn mse_curve(&self, data: &[f32], kmax: usize) -> Vec<f32> {
        let _ = (data, kmax);
        todo!("analysis helper")
    }
}
