//! Scalar metrics on flat slices: reconstruction errors, PSNR, kNN accuracy of codes and the
//! area under the ROC curve, plus the precision/recall and histogram helpers of the anomaly
//! detection panel.
//!
//! None of these functions panics. Conventions for awkward input, repeated on each function:
//! slices of different lengths are compared over their common prefix (and row-based functions
//! ignore a trailing partial row); empty input gives a documented neutral value (0 for an
//! error, 0.5 for an AUC); NaN in values that are averaged propagates to the result (it is a
//! bug upstream, and hiding it would be worse), while NaN scores in the ranking metrics are
//! skipped.

/// The PSNR reported for a perfect reconstruction (mse = 0), and the ceiling of every PSNR.
///
/// A finite cap keeps JSON reports and plots sane; 99 dB is an MSE of about 1.3e-10 on [0, 1]
/// images, far below anything an f32 network produces.
pub const PSNR_CAP_DB: f32 = 99.0;

/// Mean squared error per element.
///
/// Compared over the common prefix when the lengths differ; 0 for empty input. Accumulated in
/// f64.
pub fn mse(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    (sum_sq_diff(&a[..n], &b[..n]) / n as f64) as f32
}

/// Mean binary cross-entropy per element of `recon` (probabilities) against `target` in [0, 1],
/// with `recon` clamped to [1e-7, 1 - 1e-7].
///
/// Compared over the common prefix when the lengths differ; 0 for empty input; a NaN in
/// `recon` or `target` gives NaN. Computed in f64, so with the clamp the per-element loss is
/// at most −ln(1e-7) ≈ 16.1.
pub fn bce(recon: &[f32], target: &[f32]) -> f32 {
    let n = recon.len().min(target.len());
    if n == 0 {
        return 0.0;
    }
    const EPS: f64 = 1e-7;
    let sum: f64 = recon
        .iter()
        .zip(target)
        .map(|(&p, &t)| {
            let p = (p as f64).clamp(EPS, 1.0 - EPS);
            let t = t as f64;
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        })
        .sum();
    (sum / n as f64) as f32
}

/// Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / mse).
///
/// Capped at [`PSNR_CAP_DB`] (99 dB), which is also the value for `mse <= 0`; NaN for a NaN
/// `mse`. Negative for `mse > 1`.
pub fn psnr(mse: f32) -> f32 {
    if mse.is_nan() {
        return f32::NAN;
    }
    if mse <= 0.0 {
        return PSNR_CAP_DB;
    }
    ((-10.0 * (mse as f64).log10()) as f32).min(PSNR_CAP_DB)
}

/// Per-row MSE of `n` rows of length `dim`.
///
/// `n` is the number of whole rows both slices hold; empty when `dim` is 0.
pub fn row_mse(a: &[f32], b: &[f32], dim: usize) -> Vec<f32> {
    if dim == 0 {
        return Vec::new();
    }
    a.chunks_exact(dim)
        .zip(b.chunks_exact(dim))
        .map(|(x, y)| (sum_sq_diff(x, y) / dim as f64) as f32)
        .collect()
}

/// Σ (a − b)² over the common prefix, in f64.
pub(crate) fn sum_sq_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Accuracy of a k-nearest-neighbour classifier (Euclidean, majority vote, ties broken by the
/// nearest neighbour's label) fitted on `train` codes and scored on `test` codes.
///
/// See [`knn_predict`] for the details (neighbour ties, k clamping, NaN). The train and test
/// sets each use as many rows as they have both whole code rows and labels for. Returns 0 when
/// `dim` is 0 or either set is empty.
pub fn knn_accuracy(
    train: &[f32],
    train_labels: &[u8],
    test: &[f32],
    test_labels: &[u8],
    dim: usize,
    k: usize,
) -> f32 {
    if dim == 0 {
        return 0.0;
    }
    let n_test = (test.len() / dim).min(test_labels.len());
    let predicted = knn_predict(train, train_labels, &test[..n_test * dim], dim, k);
    if predicted.is_empty() {
        return 0.0;
    }
    let correct = predicted
        .iter()
        .zip(test_labels)
        .filter(|(p, t)| p == t)
        .count();
    (correct as f64 / predicted.len() as f64) as f32
}

/// k-nearest-neighbour predictions for each whole row of `test` (Euclidean distance in `dim`
/// dimensions), against the first `min(train rows, train_labels.len())` training rows.
///
/// * The vote is a majority among the k nearest; a tie between classes goes to the tied class
///   whose member is nearest. Neighbours at equal distance are ordered by training index.
/// * `k` is clamped to `1..=n_train`.
/// * Returns an empty vector when `dim` is 0 or there is no training row.
/// * Non-finite codes follow the rule of the one neighbour search,
///   [`neighbours::search`](super::neighbours::search): a distance that is not finite (NaN or
///   infinite in a code) never makes a neighbour; a test row with no finite distance at all is
///   predicted as label 0.
pub fn knn_predict(
    train: &[f32],
    train_labels: &[u8],
    test: &[f32],
    dim: usize,
    k: usize,
) -> Vec<u8> {
    if dim == 0 {
        return Vec::new();
    }
    let n_train = (train.len() / dim).min(train_labels.len());
    if n_train == 0 {
        return Vec::new();
    }
    let k = k.clamp(1, n_train);
    let labels = &train_labels[..n_train];
    let nb = super::neighbours::search(&train[..n_train * dim], test, dim, k, |_| None);
    (0..nb.len())
        .map(|q| {
            let row: Vec<u32> = nb.row(q).map(|(i, _)| i as u32).collect();
            vote(&row, labels)
        })
        .collect()
}

/// Majority label of the neighbours (nearest first); a tie goes to the tied class met first.
fn vote(neighbours: &[u32], labels: &[u8]) -> u8 {
    let mut counts = [0u32; 256];
    for &i in neighbours {
        counts[labels[i as usize] as usize] += 1;
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    neighbours
        .iter()
        .map(|&i| labels[i as usize])
        .find(|&l| counts[l as usize] == best)
        .unwrap_or(0)
}

/// Area under the ROC curve of `scores` where `positive[i]` marks the positives (higher score =
/// more positive). Ties count one half. Returns 0.5 when either class is empty.
///
/// Computed as the Mann–Whitney U statistic with average ranks for tied scores. Pairs are taken
/// over the common prefix of the two slices, and NaN scores are skipped.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> f32 {
    let mut pairs = scored(scores, positive);
    let n_pos = pairs.iter().filter(|p| p.1).count();
    let n_neg = pairs.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return 0.5;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0f64;
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start + 1;
        while end < pairs.len() && pairs[end].0 == pairs[start].0 {
            end += 1;
        }
        // Ranks start..end (1-based: start+1..=end) share their average.
        let avg = (start + 1 + end) as f64 / 2.0;
        let pos_here = pairs[start..end].iter().filter(|p| p.1).count();
        rank_sum += avg * pos_here as f64;
        start = end;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    ((rank_sum - p * (p + 1.0) / 2.0) / (p * n)) as f32
}

/// (score, label) pairs over the common prefix, without NaN scores.
fn scored(scores: &[f32], positive: &[bool]) -> Vec<(f32, bool)> {
    scores
        .iter()
        .zip(positive)
        .filter(|(s, _)| !s.is_nan())
        .map(|(&s, &p)| (s, p))
        .collect()
}

/// One point of a ROC curve: predicting "positive" for `score >= threshold` gives these rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RocPoint {
    pub threshold: f32,
    pub fpr: f32,
    pub tpr: f32,
}

/// The ROC curve with the threshold of each point, by decreasing threshold.
///
/// The first point is (0, 0) at threshold +∞; then one point per distinct score (tied scores
/// make one step, possibly diagonal), the last being (1, 1) at the lowest score. When either
/// class is empty the rates are undefined and the curve is the diagonal: (0, 0) at +∞ and
/// (1, 1) at −∞. Pairs are taken over the common prefix; NaN scores are skipped.
pub fn roc_points(scores: &[f32], positive: &[bool]) -> Vec<RocPoint> {
    let mut pairs = scored(scores, positive);
    let n_pos = pairs.iter().filter(|p| p.1).count();
    let n_neg = pairs.len() - n_pos;
    let start = RocPoint {
        threshold: f32::INFINITY,
        fpr: 0.0,
        tpr: 0.0,
    };
    if n_pos == 0 || n_neg == 0 {
        let end = RocPoint {
            threshold: f32::NEG_INFINITY,
            fpr: 1.0,
            tpr: 1.0,
        };
        return vec![start, end];
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = vec![start];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < pairs.len() {
        let threshold = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == threshold {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push(RocPoint {
            threshold,
            fpr: (fp as f64 / n_neg as f64) as f32,
            tpr: (tp as f64 / n_pos as f64) as f32,
        });
    }
    points
}

/// The ROC curve as (false positive rate, true positive rate) points from (0,0) to (1,1).
///
/// The points of [`roc_points`] without their thresholds: by decreasing threshold, so both
/// rates are non-decreasing, with tied scores as one step. The diagonal when a class is empty.
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Vec<(f32, f32)> {
    roc_points(scores, positive)
        .into_iter()
        .map(|p| (p.fpr, p.tpr))
        .collect()
}

/// Precision and recall of the rule "positive when `score >= threshold`".
///
/// Conventions for empty denominators: precision is 1.0 when nothing is predicted positive
/// (no false alarm was raised), and recall is 1.0 when there are no positives (none was
/// missed). Pairs are taken over the common prefix; NaN scores are skipped.
pub fn precision_recall_at(scores: &[f32], positive: &[bool], threshold: f32) -> (f32, f32) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (s, p) in scored(scores, positive) {
        match (s >= threshold, p) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            (num as f64 / den as f64) as f32
        }
    };
    (ratio(tp, tp + fp), ratio(tp, tp + fn_))
}

/// Counts of `values` in `bins` equal-width bins spanning [lo, hi].
///
/// Bin i covers [lo + i·w, lo + (i+1)·w) with w = (hi − lo) / bins, except that values equal to
/// `hi` go in the last bin. Values outside [lo, hi] and NaN are not counted. With `bins = 0` the
/// result is empty; with a degenerate range (`lo >= hi` or a bound that is not finite) every
/// count is 0, so callers showing constant data should widen the range first.
pub fn histogram(values: &[f32], bins: usize, lo: f32, hi: f32) -> Vec<u32> {
    let mut counts = vec![0u32; bins];
    if bins == 0 || !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return counts;
    }
    let (lo, hi) = (lo as f64, hi as f64);
    let scale = bins as f64 / (hi - lo);
    for &v in values {
        let v = v as f64;
        // Comparisons with NaN are false, so NaN is skipped here too.
        if v >= lo && v <= hi {
            let b = (((v - lo) * scale) as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mse_and_row_mse_by_hand() {
        // Differences 1, −2, 0, 3 → squares 1, 4, 0, 9.
        let a = [1.0, 0.0, 2.0, 3.0];
        let b = [0.0, 2.0, 2.0, 0.0];
        assert!(close(mse(&a, &b), 14.0 / 4.0, 1e-6));
        assert_eq!(row_mse(&a, &b, 2), vec![2.5, 4.5]);
        assert_eq!(mse(&[], &[]), 0.0);
        assert!(row_mse(&a, &b, 0).is_empty());
        // Common prefix; trailing partial row ignored.
        assert!(close(mse(&a, &b[..2]), 2.5, 1e-6));
        assert_eq!(row_mse(&a, &b, 3), vec![5.0 / 3.0]);
        assert!(mse(&[f32::NAN], &[0.0]).is_nan());
    }

    #[test]
    fn bce_by_hand() {
        // −ln 0.5 for every element.
        assert!(close(
            bce(&[0.5, 0.5], &[1.0, 0.0]),
            std::f32::consts::LN_2,
            1e-6
        ));
        // (−ln 0.8 − ln 0.9) / 2, and a soft target: −(0.3 ln 0.4 + 0.7 ln 0.6).
        let want = (-(0.8f64.ln()) - 0.9f64.ln()) / 2.0;
        assert!(close(bce(&[0.8, 0.1], &[1.0, 0.0]), want as f32, 1e-6));
        let soft = -(0.3 * 0.4f64.ln() + 0.7 * 0.6f64.ln());
        assert!(close(bce(&[0.4], &[0.3]), soft as f32, 1e-6));
        // Clamped: a confident wrong answer costs −ln(1e-7), not infinity.
        let worst = bce(&[0.0, 1.0], &[1.0, 0.0]);
        assert!(close(worst, 16.118_095, 1e-4), "{worst}");
        assert!(bce(&[1.0], &[1.0]) < 1e-6);
        assert_eq!(bce(&[], &[]), 0.0);
    }

    #[test]
    fn psnr_values() {
        assert!(close(psnr(0.01), 20.0, 1e-5));
        assert!(close(psnr(1.0), 0.0, 1e-6));
        assert!(close(psnr(0.001), 30.0, 1e-4));
        assert_eq!(psnr(0.0), PSNR_CAP_DB);
        assert_eq!(psnr(-1.0), PSNR_CAP_DB);
        assert_eq!(psnr(1e-30), PSNR_CAP_DB);
        assert!(psnr(f32::NAN).is_nan());
    }

    /// Train points of a 2-D example checked by hand.
    ///
    /// A (0, 0) → 0, B (1, 0) → 1, C (0, 2) → 1, D (3, 0) → 2, E (0, −3) → 0.
    /// From q = (0.4, 0) the squared distances are A 0.16, B 0.36, C 4.16, D 6.76, E 9.16;
    /// from r = (0.6, 0) they are B 0.16, A 0.36, C 4.36, D 5.76, E 9.36.
    const TRAIN: [f32; 10] = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 0.0, -3.0];
    const LABELS: [u8; 5] = [0, 1, 1, 2, 0];
    const QUERIES: [f32; 4] = [0.4, 0.0, 0.6, 0.0];

    #[test]
    fn knn_by_hand() {
        let predict = |k| knn_predict(&TRAIN, &LABELS, &QUERIES, 2, k);
        assert_eq!(predict(1), vec![0, 1]); // the nearest: A, B
        assert_eq!(predict(3), vec![1, 1]); // {A, B, C} → 1 by two votes to one
        assert_eq!(predict(4), vec![1, 1]); // {A, B, C, D} → 1
                                            // Ties: k = 2 splits 1–1, k = 5 splits 0: 2, 1: 2, 2: 1; the nearest decides.
        assert_eq!(predict(2), vec![0, 1]);
        assert_eq!(predict(5), vec![0, 1]);
        // k = 0 is read as 1, k past the training set as all of it.
        assert_eq!(predict(0), vec![0, 1]);
        assert_eq!(predict(50), vec![0, 1]);
        assert_eq!(knn_accuracy(&TRAIN, &LABELS, &QUERIES, &[0, 0], 2, 1), 0.5);
        assert_eq!(knn_accuracy(&TRAIN, &LABELS, &QUERIES, &[0, 0], 2, 3), 0.0);
        assert_eq!(knn_accuracy(&TRAIN, &LABELS, &QUERIES, &[0, 1], 2, 5), 1.0);
    }

    #[test]
    fn knn_tie_goes_to_nearest_tied_class() {
        // From the origin: labels by distance 1..5 are 2, 1, 0, 0, 1. Votes 0: 2, 1: 2, 2: 1.
        // The tie is between 0 and 1, and 1 is met first (the nearest overall, 2, is not tied).
        let train = [1.0, 0.0, 0.0, -2.0, 3.0, 0.0, 0.0, 4.0, -5.0, 0.0];
        let labels = [2, 1, 0, 0, 1];
        assert_eq!(knn_predict(&train, &labels, &[0.0, 0.0], 2, 5), vec![1]);
        // Equal distances: the lower training index is nearer. Both at distance 1.
        let train = [1.0, 0.0, -1.0, 0.0];
        assert_eq!(knn_predict(&train, &[7, 3], &[0.0, 0.0], 2, 1), vec![7]);
        assert_eq!(knn_predict(&train, &[7, 3], &[0.0, 0.0], 2, 2), vec![7]);
    }

    #[test]
    fn knn_separated_clusters_and_blocks() {
        // Three well-separated clusters with an offset, more rows than one block on both sides.
        let (dim, per) = (5, 1500);
        let point = |c: usize, i: usize| -> Vec<f32> {
            (0..dim)
                .map(|j| {
                    let jitter = ((i * 31 + j * 17) % 97) as f32 / 97.0 - 0.5;
                    100.0 + c as f32 * 10.0 * (j % 2) as f32 + (c * j) as f32 + jitter
                })
                .collect()
        };
        let (mut train, mut train_labels, mut test, mut test_labels) =
            (vec![], vec![], vec![], vec![]);
        for i in 0..per {
            for c in 0..3 {
                train.extend(point(c, i));
                train_labels.push(c as u8);
                if i % 5 == 0 {
                    test.extend(point(c, i + 7));
                    test_labels.push(c as u8);
                }
            }
        }
        let acc = knn_accuracy(&train, &train_labels, &test, &test_labels, dim, 5);
        assert_eq!(acc, 1.0);
    }

    #[test]
    fn knn_degenerate() {
        assert_eq!(knn_accuracy(&[], &[], &QUERIES, &[0, 1], 2, 5), 0.0);
        assert_eq!(knn_accuracy(&TRAIN, &LABELS, &[], &[], 2, 5), 0.0);
        assert_eq!(knn_accuracy(&TRAIN, &LABELS, &QUERIES, &[0, 1], 0, 5), 0.0);
        // Fewer labels than rows: only labelled rows count.
        assert_eq!(
            knn_predict(&TRAIN, &LABELS[..1], &QUERIES, 2, 3),
            vec![0, 0]
        );
        // NaN codes never make neighbours and never panic.
        let mut train = TRAIN;
        train[0] = f32::NAN; // A is no longer a candidate
        assert_eq!(knn_predict(&train, &LABELS, &QUERIES, 2, 1), vec![1, 1]);
        assert_eq!(
            knn_predict(&TRAIN, &LABELS, &[f32::NAN, 0.0], 2, 3),
            vec![0]
        );
    }

    #[test]
    fn auc_values() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            1.0
        );
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]),
            0.0
        );
        assert_eq!(
            roc_auc(&[0.3; 6], &[true, false, true, false, false, true]),
            0.5
        );
        assert!(close(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75,
            1e-6
        ));
        // Ties: positives {0.5, 0.9} against negatives {0.5, 0.2}: ½ + 1 + 1 + 1 over 4 pairs.
        assert!(close(
            roc_auc(&[0.5, 0.5, 0.2, 0.9], &[true, false, false, true]),
            0.875,
            1e-6
        ));
        // Empty classes, empty input, NaN scores skipped.
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, true]), 0.5);
        assert_eq!(roc_auc(&[], &[]), 0.5);
        assert_eq!(roc_auc(&[0.1, f32::NAN, 0.9], &[false, false, true]), 1.0);
    }

    #[test]
    fn roc_curve_shape() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.05];
        let positive = [false, false, true, true, true, false];
        let curve = roc_curve(&scores, &positive);
        assert_eq!(curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        // Five distinct scores → five steps after (0, 0); the tie at 0.4 is one diagonal step.
        assert_eq!(curve.len(), 6);
        assert!(close(curve[2].0, 1.0 / 3.0, 1e-6) && close(curve[2].1, 2.0 / 3.0, 1e-6));
        assert!(curve
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        // The trapezoidal area equals the rank AUC.
        let area: f32 = curve
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        assert!(close(area, roc_auc(&scores, &positive), 1e-6));
        let points = roc_points(&scores, &positive);
        assert!(points.windows(2).all(|w| w[0].threshold > w[1].threshold));
        assert_eq!(points[2].threshold, 0.4);
        // A single class gives the diagonal.
        assert_eq!(
            roc_curve(&[0.2, 0.3], &[false, false]),
            vec![(0.0, 0.0), (1.0, 1.0)]
        );
        assert_eq!(roc_curve(&[], &[]), vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn precision_recall_by_hand() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2];
        let positive = [true, false, true, true, false];
        // ≥ 0.7 predicts the first three: tp 2, fp 1, fn 1.
        let (p, r) = precision_recall_at(&scores, &positive, 0.7);
        assert!(close(p, 2.0 / 3.0, 1e-6) && close(r, 2.0 / 3.0, 1e-6));
        assert_eq!(precision_recall_at(&scores, &positive, 0.0), (0.6, 1.0));
        assert_eq!(
            precision_recall_at(&scores, &positive, 0.85),
            (1.0, 1.0 / 3.0)
        );
        // Nothing predicted: precision 1 by convention, recall 0.
        assert_eq!(precision_recall_at(&scores, &positive, 5.0), (1.0, 0.0));
        // No positives at all: recall 1 by convention.
        assert_eq!(precision_recall_at(&[0.5], &[false], 0.1), (0.0, 1.0));
        assert_eq!(precision_recall_at(&[], &[], 0.1), (1.0, 1.0));
    }

    #[test]
    fn histogram_counts() {
        let values = [0.0, 0.1, 0.25, 0.5, 0.99, 1.0, f32::NAN, -0.1, 1.5];
        // Bins [0, .25) [.25, .5) [.5, .75) [.75, 1]; 1.0 goes in the last bin.
        assert_eq!(histogram(&values, 4, 0.0, 1.0), vec![2, 1, 1, 2]);
        assert_eq!(histogram(&values, 1, 0.0, 1.0), vec![6]);
        assert!(histogram(&values, 0, 0.0, 1.0).is_empty());
        assert_eq!(histogram(&values, 3, 1.0, 1.0), vec![0; 3]);
        assert_eq!(histogram(&values, 3, 0.0, f32::INFINITY), vec![0; 3]);
        assert_eq!(histogram(&[], 2, 0.0, 1.0), vec![0, 0]);
    }
}
