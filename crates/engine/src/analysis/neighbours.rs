//! Exact nearest neighbours of rows of points (Euclidean), the ground every non-linear map
//! stands on: the neighbour graphs of t-SNE and UMAP, the placement of points left out of a
//! subsampled map, inverse-distance weighting on a map, the trust measures and the
//! neighbours a selected point highlights. Brute force in blocks (dot products by faer's
//! matrix product, rayon over blocks of queries): exact, deterministic, and fast enough for
//! the 20,000 points a map holds at most.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

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

/// Query rows per block, and the unit rayon spreads over the cores.
const QUERY_BLOCK: usize = 128;
/// Reference rows per block of dot products (a block holds `QUERY_BLOCK × REF_BLOCK` f32s, so
/// memory stays bounded however many references there are).
const REF_BLOCK: usize = 1024;

fn squared_norms(rows: &[f32], dim: usize) -> Vec<f32> {
    rows.chunks_exact(dim)
        .map(|r| r.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32)
        .collect()
}

/// The mean of each column over its finite values (0 for a column with none), so that a NaN
/// or infinite code does not poison the centring of every other row.
fn finite_column_mean(rows: &[f32], dim: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dim];
    let mut count = vec![0usize; dim];
    for row in rows.chunks_exact(dim) {
        for ((s, c), &x) in sum.iter_mut().zip(count.iter_mut()).zip(row) {
            if x.is_finite() {
                *s += x as f64;
                *c += 1;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| if c == 0 { 0.0 } else { (s / c as f64) as f32 })
        .collect()
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

/// The whole rows of `refs` and `queries`, both centred on the references' finite column mean
/// (distances are unchanged, norms smaller: ‖a‖² + ‖b‖² − 2a·b loses less to rounding), with
/// the references' squared norms.
struct Centred {
    refs: Vec<f32>,
    queries: Vec<f32>,
    ref_norms: Vec<f32>,
}

impl Centred {
    fn new(refs: &[f32], queries: &[f32], dim: usize) -> Self {
        let n = refs.len() / dim;
        let m = queries.len() / dim;
        let mean = finite_column_mean(&refs[..n * dim], dim);
        let refs = centred(&refs[..n * dim], dim, &mean);
        let queries = centred(&queries[..m * dim], dim, &mean);
        let ref_norms = squared_norms(&refs, dim);
        Centred {
            refs,
            queries,
            ref_norms,
        }
    }
}

/// Squared distance from the products: rounding can make it slightly negative (clamped to 0);
/// NaN stays NaN.
fn squared_distance(query_norm: f32, ref_norm: f32, dot: f32) -> f32 {
    let d = query_norm + ref_norm - 2.0 * dot;
    if d < 0.0 {
        0.0
    } else {
        d
    }
}

/// Calls `f(q, row)` for every query `q` with its squared distances to every reference row
/// (`row[j]`, NaN where a row holds NaN), in parallel blocks. `f` must be thread-safe; the
/// rows of one block are handed over in order.
pub fn for_each_distance_row<F>(refs: &[f32], queries: &[f32], dim: usize, f: F)
where
    F: Fn(usize, &[f32]) + Sync,
{
    if dim == 0 || refs.len() < dim || queries.len() < dim {
        return;
    }
    let c = Centred::new(refs, queries, dim);
    let n = c.ref_norms.len();
    let rhs = MatRef::from_row_major_slice(&c.refs, n, dim);
    c.queries
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
                for (x, &rn) in row.iter_mut().zip(&c.ref_norms) {
                    *x = squared_distance(qn, rn, *x);
                }
                f(b * QUERY_BLOCK + i, row);
            }
        });
}

/// The `k` nearest rows of `refs` to each row of `queries`. With `exclude_self`, the queries
/// are the references themselves and each row is not its own neighbour. See [`search`] for
/// the rules (ties, non-finite codes).
pub fn knn(refs: &[f32], queries: &[f32], dim: usize, k: usize, exclude_self: bool) -> Neighbours {
    search(refs, queries, dim, k, |q| exclude_self.then_some(q))
}

/// The `k` nearest other points to each of the points `rows` (indices into `points`).
pub fn knn_of_rows(points: &[f32], dim: usize, rows: &[usize], k: usize) -> Neighbours {
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&i| points[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    search(points, &queries, dim, k, |q| Some(rows[q]))
}

/// The one exact neighbour search (brute force) behind [`knn`], [`knn_of_rows`] and the kNN
/// classifier of `metrics::knn_predict`: the `k` nearest reference rows of each query row,
/// where query `q` may not have reference `skip(q)` as a neighbour.
///
/// * Neighbours are ordered by distance, then by reference index (an equal distance never
///   puts a later reference before an earlier one).
/// * **Non-finite codes:** a squared distance that is not finite (NaN, or ±∞ from an infinite
///   or overflowing code) never makes a neighbour; a query with no finite distance at all has
///   no neighbours (its row is padding only). The centring uses each column's finite values.
/// * `k` is at least 1; rows with fewer than `k` candidates are padded (`u32::MAX` at +∞).
///
/// Squared distances are ‖a‖² + ‖b‖² − 2a·b (both sets centred first), the dot products by
/// faer's matrix product in blocks of queries and references; rayon spreads the query blocks
/// over the cores, and memory stays bounded.
pub fn search(
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
    if m == 0 || refs.len() < dim {
        return Neighbours { k, index, dist };
    }
    let c = Centred::new(refs, queries, dim);
    let n = c.ref_norms.len();
    index
        .par_chunks_mut(QUERY_BLOCK * k)
        .zip(dist.par_chunks_mut(QUERY_BLOCK * k))
        .zip(c.queries.par_chunks(QUERY_BLOCK * dim))
        .enumerate()
        .for_each(|(b, ((index, dist), block))| {
            let rows = block.len() / dim;
            let norms = squared_norms(block, dim);
            let mut best = Best { k, index, dist };
            let mut dots = vec![0f32; rows * REF_BLOCK.min(n)];
            let a = MatRef::from_row_major_slice(block, rows, dim);
            for start in (0..n).step_by(REF_BLOCK) {
                let cols = REF_BLOCK.min(n - start);
                let rhs = MatRef::from_row_major_slice(
                    &c.refs[start * dim..(start + cols) * dim],
                    cols,
                    dim,
                );
                let dst = MatMut::from_row_major_slice_mut(&mut dots[..rows * cols], rows, cols);
                matmul(dst, Accum::Replace, a, rhs.transpose(), 1.0, Par::Seq);
                let rn = &c.ref_norms[start..start + cols];
                for (i, &qn) in norms.iter().enumerate() {
                    let own = skip(b * QUERY_BLOCK + i);
                    let g = &dots[i * cols..(i + 1) * cols];
                    let mut worst = best.worst(i);
                    for (j, (&gj, &bn)) in g.iter().zip(rn).enumerate() {
                        let d = squared_distance(qn, bn, gj);
                        // False for NaN and +∞: those never make a neighbour.
                        if d < worst && own != Some(start + j) {
                            worst = best.insert(i, d, (start + j) as u32);
                        }
                    }
                }
            }
            for d in best.dist.iter_mut() {
                *d = d.sqrt();
            }
        });
    Neighbours { k, index, dist }
}

/// The k best (squared distance, index) pairs of each query row of one block, sorted by
/// distance then index; unfilled slots hold `u32::MAX` at +∞.
struct Best<'a> {
    k: usize,
    index: &'a mut [u32],
    dist: &'a mut [f32],
}

impl Best<'_> {
    /// The distance a candidate for `row` must beat (+∞ until the row holds k neighbours).
    fn worst(&self, row: usize) -> f32 {
        self.dist[row * self.k + self.k - 1]
    }

    /// Inserts reference `index` at squared distance `d` (finite, below [`Best::worst`]) into
    /// `row`, and returns the new worst. References arrive in increasing order, so an equal
    /// distance never displaces an earlier neighbour.
    fn insert(&mut self, row: usize, d: f32, index: u32) -> f32 {
        let k = self.k;
        let dist = &mut self.dist[row * k..(row + 1) * k];
        let idx = &mut self.index[row * k..(row + 1) * k];
        let mut pos = k - 1;
        while pos > 0 && d < dist[pos - 1] {
            dist[pos] = dist[pos - 1];
            idx[pos] = idx[pos - 1];
            pos -= 1;
        }
        dist[pos] = d;
        idx[pos] = index;
        dist[k - 1]
    }
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
    fn non_finite_codes_never_make_neighbours() {
        // Five 2-D points: #1 has an infinite coordinate, #2 a NaN.
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        let pts = [0.0, 0.0, inf, 0.0, nan, 1.0, 1.0, 0.0, 2.0, 0.0];
        let nb = knn(&pts, &pts, 2, 4, true);
        let ids = |q| nb.row(q).map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(ids(0), vec![3, 4]);
        assert_eq!(ids(3), vec![0, 4]);
        assert!(ids(1).is_empty() && ids(2).is_empty());
        assert!(nb.dist.iter().all(|d| d.is_finite() || *d == f32::INFINITY));
        // The classifier follows the same rule: from (0.9, 0) the five "nearest" are the three
        // finite points, one vote each, and the nearest of them (#3) wins the tie.
        let labels = [0, 1, 2, 3, 4];
        assert_eq!(
            crate::analysis::metrics::knn_predict(&pts, &labels, &[0.9, 0.0], 2, 5),
            vec![3]
        );
    }

    #[test]
    fn the_classifier_votes_over_the_same_neighbours() {
        let mut rnd = crate::testing::uniform(9);
        let dim = 4;
        let train: Vec<f32> = (0..2500 * dim).map(|_| rnd()).collect();
        let test: Vec<f32> = (0..300 * dim).map(|_| rnd()).collect();
        let labels: Vec<u8> = (0..2500).map(|i| (i * 7 % 10) as u8).collect();
        let nb = knn(&train, &test, dim, 1, false);
        let predicted = crate::analysis::metrics::knn_predict(&train, &labels, &test, dim, 1);
        for (q, p) in predicted.iter().enumerate() {
            let (i, _) = nb.row(q).next().expect("a neighbour");
            assert_eq!(*p, labels[i]);
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
