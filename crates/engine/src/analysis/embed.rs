//! Non-linear maps of codes, as the Latent space panel and `bottleneck project` use them:
//! the choice of method, a cap on the points a map is computed on (a larger split is
//! subsampled evenly and the other points are placed at the inverse-distance weighted position
//! of their nearest sampled codes, with a note saying so), progress and a live layout for
//! every iteration, and cancelling. The t-SNE and UMAP themselves are in `tsne` and `umap`.

use std::sync::Arc;

use super::neighbours::{idw_weights, knn};
use super::projection::{MapLayout, Projection};
use super::tsne::{tsne, TsneParams};
use super::umap::{umap, UmapParams};

pub use super::map_method::{Method, Step, Stopped};

/// Points a non-linear map is computed on; a larger split is subsampled.
pub const MAX_MAP_POINTS: usize = 20_000;
/// Sampled neighbours that place a point left out of the computation.
const PLACE_K: usize = 5;

/// A computed map: every point's place and what the user should know about it.
pub struct Embedding {
    pub points: Vec<[f32; 2]>,
    pub note: Option<String>,
}

/// Points that were left out, each with its sampled neighbours and their weights.
struct Placement {
    sample: Vec<usize>,
    /// For every point: (sample position, weight) pairs.
    weights: Vec<Vec<(usize, f32)>>,
}

impl Placement {
    fn new(codes: &[f32], dim: usize, n: usize, cap: usize) -> Placement {
        if n <= cap {
            return Placement {
                sample: (0..n).collect(),
                weights: (0..n).map(|i| vec![(i, 1.0)]).collect(),
            };
        }
        let sample: Vec<usize> = (0..cap).map(|i| i * n / cap).collect();
        let mut pos = vec![usize::MAX; n];
        for (s, &i) in sample.iter().enumerate() {
            pos[i] = s;
        }
        let rest: Vec<usize> = (0..n).filter(|&i| pos[i] == usize::MAX).collect();
        let sampled: Vec<f32> = sample
            .iter()
            .flat_map(|&i| codes[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let queries: Vec<f32> = rest
            .iter()
            .flat_map(|&i| codes[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let nb = knn(&sampled, &queries, dim, PLACE_K, false);
        let mut weights: Vec<Vec<(usize, f32)>> = (0..n).map(|_| Vec::new()).collect();
        for (i, &s) in pos.iter().enumerate() {
            if s != usize::MAX {
                weights[i] = vec![(s, 1.0)];
            }
        }
        for (q, &i) in rest.iter().enumerate() {
            let row: Vec<(usize, f32)> = nb.row(q).collect();
            let d: Vec<f32> = row.iter().map(|r| r.1).collect();
            let w = idw_weights(&d);
            weights[i] = row.iter().zip(w).map(|(r, w)| (r.0, w)).collect();
        }
        Placement { sample, weights }
    }

    fn place(&self, sampled: &[[f32; 2]]) -> Vec<[f32; 2]> {
        self.weights
            .iter()
            .map(|ws| {
                let mut p = [0f32; 2];
                for &(s, w) in ws {
                    p[0] += w * sampled[s][0];
                    p[1] += w * sampled[s][1];
                }
                if ws.is_empty() {
                    [f32::NAN, f32::NAN]
                } else {
                    p
                }
            })
            .collect()
    }
}

/// The `method` map of `n × dim` codes (PCA's is the first two components). `step(done,
/// total, layout)` gets every point's place after each iteration; returning false cancels.
/// Non-finite codes are drawn nowhere (NaN) and named in the note.
pub fn embed(
    method: Method,
    codes: &[f32],
    dim: usize,
    seed: u64,
    step: &mut Step,
) -> Result<Embedding, Stopped> {
    embed_with_cap(method, codes, dim, seed, MAX_MAP_POINTS, step)
}

/// [`embed`] computed on at most `cap` points (the others placed from their nearest).
pub fn embed_with_cap(
    method: Method,
    codes: &[f32],
    dim: usize,
    seed: u64,
    cap: usize,
    step: &mut Step,
) -> Result<Embedding, Stopped> {
    let cap = cap.max(10);
    let dim = dim.max(1);
    let n = codes.len() / dim;
    if method == Method::Pca {
        let (p, note) = Projection::fit(codes, dim, (0, 1), None);
        return Ok(Embedding {
            points: p.project_all(codes),
            note,
        });
    }
    // Only finite codes take part; the others are NaN on the map.
    let finite: Vec<usize> = (0..n)
        .filter(|&i| codes[i * dim..(i + 1) * dim].iter().all(|v| v.is_finite()))
        .collect();
    let clean: Vec<f32> = finite
        .iter()
        .flat_map(|&i| codes[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let m = finite.len();
    let placement = Placement::new(&clean, dim, m, cap);
    let sampled: Vec<f32> = placement
        .sample
        .iter()
        .flat_map(|&i| clean[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let spread = |clean_pts: &[[f32; 2]]| -> Vec<[f32; 2]> {
        let mut all = vec![[f32::NAN; 2]; n];
        for (&i, p) in finite.iter().zip(clean_pts) {
            all[i] = *p;
        }
        all
    };
    let mut inner = |done: usize, total: usize, layout: &[[f32; 2]]| -> bool {
        step(done, total, &spread(&placement.place(layout)))
    };
    let xy = match method {
        Method::Tsne => tsne(
            &sampled,
            dim,
            &TsneParams {
                seed,
                ..Default::default()
            },
            &mut inner,
        )?,
        Method::Umap | Method::Pca => umap(
            &sampled,
            dim,
            &UmapParams {
                seed,
                ..Default::default()
            },
            &mut inner,
        )?,
    };
    let mut notes = Vec::new();
    if m > cap {
        notes.push(format!(
            "{} computed on {} evenly spaced images of the {}; each other image is placed \
             between its 5 nearest of those (by code).",
            method.name(),
            cap,
            m
        ));
    }
    if m < n {
        notes.push(format!(
            "{} codes are not finite numbers and are not drawn.",
            n - m
        ));
    }
    Ok(Embedding {
        points: spread(&placement.place(&xy)),
        note: (!notes.is_empty()).then(|| notes.join(" ")),
    })
}

/// The projection that draws a computed non-linear map: codes are placed, and map points
/// decoded, by inverse-distance weighting of the nearest points.
pub fn map_projection(
    method: Method,
    codes: Arc<Vec<f32>>,
    dim: usize,
    points: Arc<Vec<[f32; 2]>>,
) -> Projection {
    Projection::Map(Arc::new(MapLayout::new(method, codes, dim, points)))
}

/// A map as CSV text: a header, then label,x,y per image.
pub fn map_csv(labels: &[u8], points: &[[f32; 2]]) -> String {
    let mut s = String::from("label,x,y\n");
    for (l, p) in labels.iter().zip(points) {
        s.push_str(&format!("{l},{},{}\n", p[0], p[1]));
    }
    s
}
