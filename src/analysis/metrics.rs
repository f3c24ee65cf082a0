//! Scalar metrics on flat slices: reconstruction errors, PSNR, kNN accuracy of codes and the
//! area under the ROC curve.

/// Mean squared error per element.
pub fn mse(a: &[f32], b: &[f32]) -> f32 {
    let _ = (a, b);
    todo!("analysis helper")
}

/// Mean binary cross-entropy per element of `recon` (probabilities) against `target` in [0, 1],
/// with `recon` clamped to [1e-7, 1 - 1e-7].
pub fn bce(recon: &[f32], target: &[f32]) -> f32 {
    let _ = (recon, target);
    todo!("analysis helper")
}

/// Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / mse).
pub fn psnr(mse: f32) -> f32 {
    let _ = mse;
    todo!("analysis helper")
}

/// Per-row MSE of `n` rows of length `dim`.
pub fn row_mse(a: &[f32], b: &[f32], dim: usize) -> Vec<f32> {
    let _ = (a, b, dim);
    todo!("analysis helper")
}

/// Accuracy of a k-nearest-neighbour classifier (Euclidean, majority vote, ties broken by the
/// nearest neighbour's label) fitted on `train` codes and scored on `test` codes.
pub fn knn_accuracy(
    train: &[f32],
    train_labels: &[u8],
    test: &[f32],
    test_labels: &[u8],
    dim: usize,
    k: usize,
) -> f32 {
    let _ = (train, train_labels, test, test_labels, dim, k);
    todo!("analysis helper")
}

/// Area under the ROC curve of `scores` where `positive[i]` marks the positives (higher score =
/// more positive). Ties count one half. Returns 0.5 when either class is empty.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> f32 {
    let _ = (scores, positive);
    todo!("analysis helper")
}

/// The ROC curve as (false positive rate, true positive rate) points from (0,0) to (1,1).
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Vec<(f32, f32)> {
    let _ = (scores, positive);
    todo!("analysis helper")
}
