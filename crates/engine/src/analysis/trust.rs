//! How far a 2-D map of codes can be trusted: trustworthiness (Venna and Kaski: how many of a
//! point's neighbours on the map are also its neighbours in the full code, penalised by how far
//! down the true ranking they are) and leave-one-out k-NN accuracy of the labels, on the map and
//! in the full code. The Latent space panel shows them beside every map; `bottleneck project`
//! prints them.

use super::neighbours::{for_each_distance_row, knn_of_rows, Neighbours};

/// At most this many points are scored (evenly spaced; their neighbours are sought among all
/// points): the measures cost O(points × all points).
pub const MAX_SCORED: usize = 10_000;

/// Neighbours used by the trust measures (scikit-learn's default for trustworthiness, and the
/// 5-NN accuracy the issue reports).
pub const TRUST_K: usize = 5;

/// Trust measures of a map against the codes it was drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trust {
    /// Leave-one-out 5-NN accuracy of the labels on the 2-D map.
    pub knn_accuracy_2d: f32,
    /// The same in the full code.
    pub knn_accuracy_code: f32,
    /// Trustworthiness of the map with 5 neighbours, in [0, 1] (1: every map neighbour is a
    /// true neighbour).
    pub trustworthiness: f32,
    /// Points scored (every point up to [`MAX_SCORED`], else an even sample of them).
    pub points: usize,
}

/// Leave-one-out k-NN accuracy: each point is classified by the majority label of its `k`
/// nearest other points (a tie goes to the tied class whose member is nearest). 0 for fewer
/// than 2 points.
pub fn knn_accuracy_loo(neighbours: &Neighbours, labels: &[u8]) -> f32 {
    let rows: Vec<usize> = (0..neighbours.len().min(labels.len())).collect();
    knn_accuracy_of_rows(neighbours, &rows, labels)
}

/// [`knn_accuracy_loo`] scored on points `rows` (`neighbours` has one row per entry of `rows`).
pub fn knn_accuracy_of_rows(neighbours: &Neighbours, rows: &[usize], labels: &[u8]) -> f32 {
    let n = neighbours.len().min(rows.len());
    if n == 0 || labels.len() < 2 {
        return 0.0;
    }
    let mut correct = 0usize;
    for (q, &i) in rows.iter().enumerate().take(n) {
        let label = labels[i];
        let mut counts = [0u32; 256];
        let row: Vec<usize> = neighbours.row(q).map(|(i, _)| i).collect();
        for &i in &row {
            counts[labels[i] as usize] += 1;
        }
        let best = counts.iter().copied().max().unwrap_or(0);
        let vote = row
            .iter()
            .map(|&i| labels[i])
            .find(|&l| counts[l as usize] == best);
        if vote == Some(label) {
            correct += 1;
        }
    }
    correct as f32 / n as f32
}

/// Trustworthiness of `low` (`n × low_dim`, the map) as an embedding of `high` (`n × dim`) with
/// `k` neighbours:
/// T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢ} (r(i, j) − k),
/// where Uᵢ are i's k nearest on the map that are not among its k nearest in the code, and
/// r(i, j) is j's rank among i's neighbours in the code (1 = nearest). 1 when `n` is too small
/// for the formula (2n − 3k − 1 ≤ 0).
pub fn trustworthiness(high: &[f32], dim: usize, low: &[f32], low_dim: usize, k: usize) -> f32 {
    if dim == 0 || low_dim == 0 {
        return 1.0;
    }
    let n = (high.len() / dim).min(low.len() / low_dim);
    trustworthiness_of_rows(high, dim, low, low_dim, k, &(0..n).collect::<Vec<_>>())
}

/// [`trustworthiness`] with the sum taken over points `rows` only (and scaled to them): an
/// unbiased estimate when `rows` are an even sample.
pub fn trustworthiness_of_rows(
    high: &[f32],
    dim: usize,
    low: &[f32],
    low_dim: usize,
    k: usize,
    rows: &[usize],
) -> f32 {
    if dim == 0 || low_dim == 0 {
        return 1.0;
    }
    let n = (high.len() / dim).min(low.len() / low_dim);
    let rows: Vec<usize> = rows.iter().copied().filter(|&i| i < n).collect();
    let k = k.max(1);
    let denom = rows.len() as f64 * k as f64 * (2.0 * n as f64 - 3.0 * k as f64 - 1.0);
    if denom <= 0.0 {
        return 1.0;
    }
    let high = &high[..n * dim];
    let low = &low[..n * low_dim];
    let map_nb = knn_of_rows(low, low_dim, &rows, k);
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&i| high[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let penalty = std::sync::atomic::AtomicU64::new(0);
    for_each_distance_row(high, &queries, dim, |q, row| {
        let i = rows[q];
        // Rank of j among i's neighbours in the code: 1 + points strictly nearer (i itself,
        // at distance 0, is not counted), ties by index as in the neighbour lists.
        let mut p = 0u64;
        let nearer = |j: usize| {
            let dj = row[j];
            row.iter()
                .enumerate()
                .filter(|&(l, &d)| l != i && (d < dj || (d == dj && l < j)))
                .count()
        };
        for (j, _) in map_nb.row(q) {
            let rank = nearer(j) + 1;
            if rank > k {
                p += (rank - k) as u64;
            }
        }
        penalty.fetch_add(p, std::sync::atomic::Ordering::Relaxed);
    });
    let p = penalty.into_inner() as f64;
    (1.0 - 2.0 / denom * p) as f32
}

/// Points scored by [`measure`] when there are `n`: all, or [`MAX_SCORED`] evenly spaced.
pub fn scored_rows(n: usize) -> Vec<usize> {
    if n <= MAX_SCORED {
        (0..n).collect()
    } else {
        (0..MAX_SCORED).map(|i| i * n / MAX_SCORED).collect()
    }
}

/// All three measures for a map of `n` points with `labels`. Points whose code or place is not
/// finite are left out.
pub fn measure(codes: &[f32], dim: usize, map: &[[f32; 2]], labels: &[u8]) -> Trust {
    let dim = dim.max(1);
    let n = map.len().min(labels.len()).min(codes.len() / dim);
    let keep: Vec<usize> = (0..n)
        .filter(|&i| {
            map[i].iter().all(|v| v.is_finite())
                && codes[i * dim..(i + 1) * dim].iter().all(|v| v.is_finite())
        })
        .collect();
    let flat: Vec<f32> = keep.iter().flat_map(|&i| map[i]).collect();
    let codes: Vec<f32> = keep
        .iter()
        .flat_map(|&i| codes[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let labels: Vec<u8> = keep.iter().map(|&i| labels[i]).collect();
    let rows = scored_rows(keep.len());
    let nb2 = knn_of_rows(&flat, 2, &rows, TRUST_K);
    let nbk = knn_of_rows(&codes, dim, &rows, TRUST_K);
    Trust {
        knn_accuracy_2d: knn_accuracy_of_rows(&nb2, &rows, &labels),
        knn_accuracy_code: knn_accuracy_of_rows(&nbk, &rows, &labels),
        trustworthiness: trustworthiness_of_rows(&codes, dim, &flat, 2, TRUST_K, &rows),
        points: rows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trustworthiness_of_a_hand_checked_case() {
        // Five points on a line in the code at x = 0, 1, 2.5, 4.5, 7; the map keeps those
        // places but swaps points 0 and 4 (map x = 7, 1, 2.5, 4.5, 0). With k = 1 each point's
        // map neighbour and its rank in the code (1 = nearest):
        //   0 (map 7)   -> 3 (d 2.5): code distances from 0: 1, 2.5, 4.5, 7 -> rank 3, +2
        //   1 (map 1)   -> 4 (d 1):   code distances from 1: 1, 1.5, 3.5, 6 -> rank 4, +3
        //   2 (map 2.5) -> 1 (d 1.5): its nearest in the code too -> +0
        //   3 (map 4.5) -> 2 (d 2):   its nearest in the code too -> +0
        //   4 (map 0)   -> 1 (d 1):   code distances from 4: 2.5, 4.5, 6, 7 -> rank 3, +2
        // Penalty 7; n k (2n - 3k - 1) = 5 * 1 * 6 = 30; T = 1 - 2/30 * 7 = 0.5333...
        let high = [0.0, 1.0, 2.5, 4.5, 7.0];
        let low = [7.0, 0.0, 1.0, 0.0, 2.5, 0.0, 4.5, 0.0, 0.0, 0.0];
        let t = trustworthiness(&high, 1, &low, 2, 1);
        assert!((t - (1.0 - 14.0 / 30.0)).abs() < 1e-6, "{t}");
        // A map equal to the code is perfectly trustworthy.
        let same = [0.0, 0.0, 1.0, 0.0, 2.5, 0.0, 4.5, 0.0, 7.0, 0.0];
        assert_eq!(trustworthiness(&high, 1, &same, 2, 1), 1.0);
    }

    #[test]
    fn loo_accuracy_counts_the_majority_of_other_points() {
        // Two tight groups, labels 0 and 1, and one mislabelled point inside group 0.
        let pts = [0.0, 0.1, 0.2, 0.35, 10.0, 10.1, 10.2];
        let labels = [0, 0, 0, 1, 1, 1, 1];
        let nb = super::super::neighbours::knn(&pts, &pts, 1, 2, true);
        let acc = knn_accuracy_loo(&nb, &labels);
        // Point 3 (label 1) has neighbours 2 and 1 (label 0): wrong. Point 2's neighbours are 1
        // (label 0, nearer) and 3 (label 1): a tie, won by the nearer, right. The rest right.
        assert!((acc - 6.0 / 7.0).abs() < 1e-6, "{acc}");
    }
}
