//! Projections of codes onto a 2-D map and back: a 1- or 2-value code drawn as is, a wider
//! one on two principal components of the codes, or on a computed non-linear map (t-SNE or
//! UMAP, see `embed`) whose forward and inverse are inverse-distance weighting of the nearest
//! points. The inverse gives the code at a map point (decoding empty space on the Latent space
//! map, the manifold of decoded images).

use std::sync::Arc;

use crate::analysis::map_method::Method;
use crate::analysis::neighbours::idw_mean;
use crate::analysis::Pca;

/// At most this many principal components of the codes are offered as axes.
pub const MAX_COMPONENTS: usize = 10;

/// Nearest points that place a code on a non-linear map, or give the code of a map point.
pub const IDW_NEIGHBOURS: usize = 5;

/// A computed non-linear map of codes: the codes and their places.
pub struct MapLayout {
    pub method: Method,
    pub codes: Arc<Vec<f32>>,
    pub dim: usize,
    pub points: Arc<Vec<[f32; 2]>>,
    /// Points with a finite place and code.
    usable: Vec<usize>,
}

impl MapLayout {
    pub fn new(
        method: Method,
        codes: Arc<Vec<f32>>,
        dim: usize,
        points: Arc<Vec<[f32; 2]>>,
    ) -> MapLayout {
        let dim = dim.max(1);
        let usable = (0..points.len().min(codes.len() / dim))
            .filter(|&i| {
                points[i].iter().all(|v| v.is_finite())
                    && codes[i * dim..(i + 1) * dim].iter().all(|v| v.is_finite())
            })
            .collect();
        MapLayout {
            method,
            codes,
            dim,
            points,
            usable,
        }
    }

    /// The `IDW_NEIGHBOURS` usable points nearest by `dist(i)`, nearest first.
    fn nearest(&self, dist: impl Fn(usize) -> f32) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = self.usable.iter().map(|&i| (i, dist(i))).collect();
        let cmp = |a: &(usize, f32), b: &(usize, f32)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
        let k = IDW_NEIGHBOURS.min(all.len());
        if k == 0 {
            return all;
        }
        if all.len() > k {
            all.select_nth_unstable_by(k - 1, cmp);
            all.truncate(k);
        }
        all.sort_unstable_by(cmp);
        all
    }

    /// A code's place: the inverse-distance weighted place of its nearest codes.
    pub fn place(&self, code: &[f32]) -> [f32; 2] {
        let d = self.dim;
        let nb = self.nearest(|i| {
            let c = &self.codes[i * d..(i + 1) * d];
            c.iter()
                .zip(code)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt()
        });
        if nb.is_empty() || code.iter().any(|v| !v.is_finite()) {
            return [f32::NAN; 2];
        }
        let flat: Vec<f32> = self.points.iter().flat_map(|p| [p[0], p[1]]).collect();
        let p = idw_mean(&nb, &flat, 2);
        [p[0], p[1]]
    }

    /// The code at map point `xy`: the inverse-distance weighted mean of the codes of the
    /// nearest points on the map (t-SNE and UMAP have no inverse).
    pub fn code_at(&self, xy: [f32; 2]) -> Vec<f32> {
        let nb = self.nearest(|i| {
            let p = self.points[i];
            ((p[0] - xy[0]).powi(2) + (p[1] - xy[1]).powi(2)).sqrt()
        });
        if nb.is_empty() {
            return vec![0.0; self.dim];
        }
        idw_mean(&nb, &self.codes, self.dim)
    }
}

/// How codes become points on the map, and points codes again.
pub enum Projection {
    /// Code coordinates `x` and `y` as they are (`y = None`: a 1-D code, drawn on y = 0).
    /// `base` gives the other coordinates of an inverse (the mean code; unused for k ≤ 2).
    Axes {
        base: Vec<f32>,
        x: usize,
        y: Option<usize>,
    },
    /// Principal components `x` and `y` (0-based) of the codes.
    Pca { pca: Arc<Pca>, x: usize, y: usize },
    /// A computed t-SNE or UMAP map.
    Map(Arc<MapLayout>),
}

impl Projection {
    /// The projection for `n × k` codes: as is for k ≤ 2, else PCA on components `comps`
    /// (clamped), fitting unless `cached` is given. Falls back to the first two coordinates
    /// (with a note saying why) when PCA cannot be fitted.
    pub fn fit(
        codes: &[f32],
        k: usize,
        comps: (usize, usize),
        cached: Option<Arc<Pca>>,
    ) -> (Projection, Option<String>) {
        let k = k.max(1);
        let mean = mean_code(codes, k);
        if k <= 2 {
            return (
                Projection::Axes {
                    base: mean,
                    x: 0,
                    y: (k == 2).then_some(1),
                },
                None,
            );
        }
        let pca = match cached {
            Some(p) if p.dim == k => Ok(p),
            _ => Pca::fit(codes, k, k.min(MAX_COMPONENTS)).map(Arc::new),
        };
        match pca {
            Ok(pca) if pca.n_components() >= 2 => {
                let m = pca.n_components();
                let x = comps.0.min(m - 1);
                let mut y = comps.1.min(m - 1);
                if y == x {
                    y = if x == 0 { 1 } else { 0 };
                }
                (Projection::Pca { pca, x, y }, None)
            }
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "too few components".into(),
                };
                (
                    Projection::Axes {
                        base: mean,
                        x: 0,
                        y: Some(1),
                    },
                    Some(format!(
                        "PCA of the codes failed ({why}): showing code coordinates 1 and 2."
                    )),
                )
            }
        }
    }

    /// Width of the codes this projection reads.
    pub fn k(&self) -> usize {
        match self {
            Projection::Axes { base, .. } => base.len(),
            Projection::Pca { pca, .. } => pca.dim,
            Projection::Map(m) => m.dim,
        }
    }

    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        match self {
            Projection::Axes { x, y, .. } => [
                code.get(*x).copied().unwrap_or(f32::NAN),
                y.map_or(0.0, |y| code.get(y).copied().unwrap_or(f32::NAN)),
            ],
            Projection::Pca { pca, x, y } => {
                let d = pca.dim;
                let cx = &pca.components[x * d..(x + 1) * d];
                let cy = &pca.components[y * d..(y + 1) * d];
                let mut p = [0f32; 2];
                for i in 0..d.min(code.len()) {
                    let c = code[i] - pca.mean[i];
                    p[0] += c * cx[i];
                    p[1] += c * cy[i];
                }
                p
            }
            Projection::Map(m) => m.place(code),
        }
    }

    /// Points of `n × k` codes.
    pub fn project_all(&self, codes: &[f32]) -> Vec<[f32; 2]> {
        if let Projection::Map(m) = self {
            if codes.as_ptr() == m.codes.as_ptr() && codes.len() == m.codes.len() {
                return m.points.to_vec();
            }
        }
        codes
            .chunks_exact(self.k())
            .map(|c| self.project(c))
            .collect()
    }

    /// The code at map point `xy`: for PCA, the mean code plus `xy` along the two components
    /// shown (the point of the plane through the mean that projects onto `xy`).
    pub fn inverse(&self, xy: [f32; 2]) -> Vec<f32> {
        match self {
            Projection::Axes { base, x, y } => {
                let mut code = base.clone();
                code[*x] = xy[0];
                if let Some(y) = y {
                    code[*y] = xy[1];
                }
                code
            }
            Projection::Pca { pca, x, y } => {
                let d = pca.dim;
                let cx = &pca.components[x * d..(x + 1) * d];
                let cy = &pca.components[y * d..(y + 1) * d];
                (0..d)
                    .map(|i| pca.mean[i] + xy[0] * cx[i] + xy[1] * cy[i])
                    .collect()
            }
            Projection::Map(m) => m.code_at(xy),
        }
    }

    /// The non-linear method drawing this map, if any.
    pub fn method(&self) -> Method {
        match self {
            Projection::Map(m) => m.method,
            _ => Method::Pca,
        }
    }

    /// Names of the two axes.
    pub fn axis_names(&self) -> (String, String) {
        match self {
            Projection::Axes { x, y, .. } => (
                format!("z{}", x + 1),
                y.map_or("(none)".into(), |y| format!("z{}", y + 1)),
            ),
            Projection::Pca { x, y, .. } => (format!("PC{}", x + 1), format!("PC{}", y + 1)),
            Projection::Map(m) => (
                format!("{} 1", m.method.name()),
                format!("{} 2", m.method.name()),
            ),
        }
    }

    /// The fraction of the codes' variance along each component (PCA only).
    pub fn explained(&self) -> Option<Vec<f32>> {
        match self {
            Projection::Pca { pca, .. } => Some(pca.explained_variance_ratio()),
            Projection::Axes { .. } | Projection::Map(_) => None,
        }
    }
}

fn mean_code(codes: &[f32], k: usize) -> Vec<f32> {
    let mut mean = vec![0f64; k];
    let mut n = 0usize;
    for c in codes.chunks_exact(k) {
        if c.iter().all(|v| v.is_finite()) {
            for (m, &v) in mean.iter_mut().zip(c) {
                *m += v as f64;
            }
            n += 1;
        }
    }
    mean.iter().map(|&m| (m / n.max(1) as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_in_a_plane(n: usize, k: usize) -> Vec<f32> {
        // Points of the plane through m spanned by u and v, plus a little noise off it.
        let mut rnd = crate::testing::uniform(99);
        let u: Vec<f32> = (0..k).map(|i| (i as f32 * 0.7).sin()).collect();
        let v: Vec<f32> = (0..k).map(|i| (i as f32 * 1.3).cos()).collect();
        let mut out = Vec::new();
        for _ in 0..n {
            let (a, b) = (3.0 * rnd(), rnd());
            for i in 0..k {
                out.push(0.5 + a * u[i] + b * v[i] + 0.01 * rnd());
            }
        }
        out
    }

    #[test]
    fn pca_inverse_projection_lands_back_on_the_point() {
        let k = 6;
        let codes = codes_in_a_plane(500, k);
        for comps in [(0, 1), (1, 0), (0, 2), (2, 3)] {
            let (p, note) = Projection::fit(&codes, k, comps, None);
            assert!(note.is_none());
            assert!(matches!(p, Projection::Pca { .. }));
            // A map point sent to code space projects back onto itself.
            for xy in [[0.0, 0.0], [1.5, -0.7], [-3.0, 2.0]] {
                let back = p.project(&p.inverse(xy));
                assert!((back[0] - xy[0]).abs() < 1e-4 && (back[1] - xy[1]).abs() < 1e-4);
            }
            // A code's projection, inverted and projected again, is the same point.
            for c in codes.chunks_exact(k).take(50) {
                let xy = p.project(c);
                let again = p.project(&p.inverse(xy));
                assert!((again[0] - xy[0]).abs() < 1e-4 && (again[1] - xy[1]).abs() < 1e-4);
            }
        }
        // On the two main components, codes of the plane come back to themselves (up to the
        // noise off the plane).
        let (p, _) = Projection::fit(&codes, k, (0, 1), None);
        for c in codes.chunks_exact(k).take(50) {
            let back = p.inverse(p.project(c));
            let err = back
                .iter()
                .zip(c)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.06, "error {err}");
        }
    }

    #[test]
    fn small_codes_are_shown_as_is() {
        let codes = vec![1.0, 2.0, 3.0, 4.0];
        let (p, _) = Projection::fit(&codes, 2, (0, 1), None);
        assert_eq!(p.project(&[1.0, 2.0]), [1.0, 2.0]);
        assert_eq!(p.inverse([5.0, -1.0]), vec![5.0, -1.0]);
        let (p1, _) = Projection::fit(&[1.0, 2.0, 3.0], 1, (0, 1), None);
        assert_eq!(p1.project(&[2.5]), [2.5, 0.0]);
        assert_eq!(p1.inverse([7.0, 3.0]), vec![7.0]);
    }

    #[test]
    fn pca_that_cannot_be_fitted_falls_back_with_a_note() {
        // One code only: PCA needs two.
        let (p, note) = Projection::fit(&[1.0, 2.0, 3.0], 3, (0, 1), None);
        assert!(note.unwrap().contains("PCA"));
        assert_eq!(p.project(&[1.0, 2.0, 3.0]), [1.0, 2.0]);
        assert_eq!(p.inverse([0.0, 0.0]), vec![0.0, 0.0, 3.0]);
    }

    #[test]
    fn components_are_clamped_and_distinct() {
        let codes = codes_in_a_plane(100, 3);
        let (p, _) = Projection::fit(&codes, 3, (7, 7), None);
        match p {
            Projection::Pca { x, y, .. } => {
                assert_eq!(x, 2);
                assert_ne!(x, y);
            }
            _ => panic!("PCA expected"),
        }
    }
}
