//! Exact nearest neighbours of rows of points (Euclidean), the ground every non-linear map
//! stands on: the neighbour graphs of t-SNE and UMAP, the placement of points left out of a
//! subsampled map, inverse-distance weighting on a map, the trust measures and the
//! neighbours a selected point highlights. Brute force in blocks (dot products by faer's
//! matrix product, rayon over blocks of queries): exact, deterministic, and fast enough for
//! the 20,000 points a map holds at most.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Queries per block (each block holds `QUERY_BLOCK × n` squared distances).
const QUERY_BLOCK: usize = 64;

/// The `k` nearest reference rows of each query row: `index[q * k + j]` is the j-th nearest
/// (by distance, then index) at Euclidean distance `dist[q * k + j]`. Rows with fewer than `k`
/// candidates are padded with `u32::MAX` at +∞.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    pub index: Vec<u32>,
    pub dist: Vec<f32>,
}

impl Neighbours {
    /// Query `q`'s neighbours as (index, distance), nearest first, padding left out.
    pub fn row(&self, q: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = q * self.k..(q + 1) * self.k;
        self.index[r.clone()]
            .iter()
            .zip(&self.dist[r])
            .filter(|(&i, _)| i != u32::MAX)
            .map(|(&i, &d)| (i as usize, d))
    }

    pub fn len(&self) -> usize {
        self.index.len() / self.k.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

fn squared_norms(rows: &[f32], dim: usize) -> Vec<f32> {
    rows.chunks_exact(dim)
        .map(|r| r.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32)
        .collect()
}

fn column_mean(rows: &[f32], dim: usize) -> Vec<f32> {
    let n = rows.len() / dim.max(1);
    let mut mean = vec![0f64; dim];
    for row in rows.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            if x.is_finite() {
                *m += x as f64;
            }
        }
    }
    mean.iter().map(|&m| (m / n.max(1) as f64) as f32).collect()
}

fn centred(rows: &[f32], dim: usize, mean: &[f32]) -> Vec<f32> {
    let mut out = rows.to_vec();
    for row in out.chunks_exact_mut(dim) {
        for (x, &m) in row.iter_mut().zip(mean) {
            *x -= m;
        }
    }
    out
}

/// Calls `f(q, row)` for every query `q` with its squared distances to every reference row
/// (`row[j]`, NaN where a row holds NaN), in parallel blocks. `f` must be thread-safe; the
/// rows of one block are handed over in order.
pub fn for_each_distance_row<F>(refs: &[f32], queries: &[f32], dim: usize, f: F)
where
    F: Fn(usize, &[f32]) + Sync,
{
    if dim == 0 {
        return;
    }
    let n = refs.len() / dim;
    let m = queries.len() / dim;
    if n == 0 || m == 0 {
        return;
    }
    let mean = column_mean(&refs[..n * dim], dim);
    let refs = centred(&refs[..n * dim], dim, &mean);
    let queries = centred(&queries[..m * dim], dim, &mean);
    let ref_norms = squared_norms(&refs, dim);
    let rhs = MatRef::from_row_major_slice(&refs, n, dim);
    queries
        .par_chunks(QUERY_BLOCK * dim)
        .enumerate()
        .for_each(|(b, block)| {
            let rows = block.len() / dim;
            let norms = squared_norms(block, dim);
            let mut d = vec![0f32; rows * n];
            let a = MatRef::from_row_major_slice(block, rows, dim);
            let dst = MatMut::from_row_major_slice_mut(&mut d, rows, n);
            matmul(dst, Accum::Replace, a, rhs.transpose(), 1.0, Par::Seq);
            for (i, row) in d.chunks_exact_mut(n).enumerate() {
                let qn = norms[i];
                for (x, &rn) in row.iter_mut().zip(&ref_norms) {
                    // Rounding can make a squared distance slightly negative.
                    *x = (qn + rn - 2.0 * *x).max(0.0);
                }
                f(b * QUERY_BLOCK + i, row);
            }
        });
}

/// The `k` nearest rows of `refs` to each row of `queries`. With `exclude_self`, the queries
/// are the references themselves and each row is not its own neighbour. NaN distances never
/// make a neighbour.
pub fn knn(refs: &[f32], queries: &[f32], dim: usize, k: usize, exclude_self: bool) -> Neighbours {
    knn_excluding(refs, queries, dim, k, |q| exclude_self.then_some(q))
}

/// The `k` nearest other points to each of the points `rows` (indices into `points`).
pub fn knn_of_rows(points: &[f32], dim: usize, rows: &[usize], k: usize) -> Neighbours {
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&i| points[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    knn_excluding(points, &queries, dim, k, |q| Some(rows[q]))
}

/// [`knn`] where query `q` may not have reference `skip(q)` as a neighbour.
fn knn_excluding(
    refs: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let m = queries.len().checked_div(dim).unwrap_or(0);
    let k = k.max(1);
    let mut index = vec![u32::MAX; m * k];
    let mut dist = vec![f32::INFINITY; m * k];
    {
        let slots: Vec<std::sync::Mutex<(&mut [u32], &mut [f32])>> = index
            .chunks_exact_mut(k)
            .zip(dist.chunks_exact_mut(k))
            .map(std::sync::Mutex::new)
            .collect();
        for_each_distance_row(refs, queries, dim, |q, row| {
            let own = skip(q);
            let mut cand: Vec<(f32, u32)> = row
                .iter()
                .enumerate()
                .filter(|&(j, d)| !d.is_nan() && own != Some(j))
                .map(|(j, &d)| (d, j as u32))
                .collect();
            let cmp = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if cand.len() > k {
                cand.select_nth_unstable_by(k - 1, cmp);
                cand.truncate(k);
            }
            cand.sort_unstable_by(cmp);
            let mut slot = slots[q].lock().unwrap_or_else(|e| e.into_inner());
            for (j, (d, i)) in cand.into_iter().enumerate() {
                slot.0[j] = i;
                slot.1[j] = d.sqrt();
            }
        });
    }
    Neighbours { k, index, dist }
}

/// Inverse-distance weights (1/d², normalised) of a neighbour row; an exact hit (d ≈ 0) takes
/// all the weight.
pub fn idw_weights(dist: &[f32]) -> Vec<f32> {
    if let Some(hit) = dist.iter().position(|&d| d <= 1e-12) {
        let mut w = vec![0.0; dist.len()];
        w[hit] = 1.0;
        return w;
    }
    let w: Vec<f32> = dist.iter().map(|&d| 1.0 / (d * d)).collect();
    let s: f32 = w.iter().sum();
    w.iter().map(|&x| x / s).collect()
}

/// The inverse-distance weighted mean of `values` rows (`width` wide) at the neighbours of
/// one query.
pub fn idw_mean(neighbours: &[(usize, f32)], values: &[f32], width: usize) -> Vec<f32> {
    let dist: Vec<f32> = neighbours.iter().map(|&(_, d)| d).collect();
    let w = idw_weights(&dist);
    let mut out = vec![0f32; width];
    for (&(i, _), &wi) in neighbours.iter().zip(&w) {
        for (o, &v) in out.iter_mut().zip(&values[i * width..(i + 1) * width]) {
            *o += wi * v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_matches_brute_force_and_excludes_self() {
        let mut rnd = crate::testing::uniform(5);
        let dim = 3;
        let pts: Vec<f32> = (0..300 * dim).map(|_| rnd()).collect();
        let nb = knn(&pts, &pts, dim, 4, true);
        for q in [0, 17, 299] {
            let mut all: Vec<(f32, usize)> = (0..300)
                .filter(|&j| j != q)
                .map(|j| {
                    let d: f32 = (0..dim)
                        .map(|c| (pts[q * dim + c] - pts[j * dim + c]).powi(2))
                        .sum();
                    (d.sqrt(), j)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let got: Vec<(usize, f32)> = nb.row(q).collect();
            for (g, w) in got.iter().zip(&all) {
                assert_eq!(g.0, w.1);
                assert!((g.1 - w.0).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn idw_of_an_exact_hit_is_that_point() {
        assert_eq!(idw_weights(&[0.0, 1.0]), vec![1.0, 0.0]);
        let w = idw_weights(&[1.0, 2.0]);
        assert!((w[0] - 0.8).abs() < 1e-6 && (w[1] - 0.2).abs() < 1e-6);
        let m = idw_mean(&[(0, 1.0), (1, 2.0)], &[0.0, 0.0, 5.0, 10.0], 2);
        assert!((m[0] - 1.0).abs() < 1e-5 && (m[1] - 2.0).abs() < 1e-5);
    }
}
