//! Maps of a wide code in the Latent space panel, driven through egui_kittest: choosing t-SNE
//! computes it in the background (progress, live layout), then shows how far to trust it and
//! keeps it; cancelling leaves the app responsive; empty space decodes weighted codes (and
//! says so); a selected image's nearest neighbours are ringed; the map exports as CSV.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::panels::latent::{Method, NeighbourSpace};
use bottleneck::app::{App, Tab};
use bottleneck::model::TrainedModel;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(180);

fn dense32() -> Arc<TrainedModel> {
    Arc::new(
        bottleneck::model::bundled::find("dense-32d")
            .unwrap()
            .load()
            .unwrap(),
    )
}

fn latent_app() -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(|a: &mut App| a.tab = Tab::Latent);
    adopt(&mut h, dense32());
    assert!(
        wait_until(&mut h, T, |a| a.latent.map().is_some()
            && !a.latent.working()),
        "the PCA map never appeared"
    );
    (h, dir)
}

fn method_shown(a: &App) -> Method {
    a.latent
        .map()
        .map_or(Method::Pca, |m| m.projection.method())
}

fn finished(a: &App, m: Method) -> bool {
    method_shown(a) == m
        && a.latent.panes[0]
            .shown
            .as_ref()
            .is_some_and(|s| s.trust.is_some())
}

#[test]
fn choosing_tsne_computes_it_in_the_background_shows_its_trust_and_keeps_it() {
    let (mut h, _dir) = latent_app();
    // PCA's own figures are on screen first.
    let pca = state(&h).latent.panes[0]
        .shown
        .as_ref()
        .unwrap()
        .trust
        .unwrap();
    assert!(h.query_by_label_contains("How far to trust").is_some());
    h.get_by_label("t-SNE").click();
    h.run_steps(2);
    // The job has started: progress on screen, the map still there.
    let s = state(&h).latent.panes[0].shown.as_ref().unwrap();
    assert!(s.progress.is_some());
    assert!(h.query_by_label("Cancel").is_some());
    assert!(state(&h).latent.map().is_some());
    // While it converges, its layout so far is drawn (t-SNE points with progress on screen).
    let saw_live_layout = std::cell::Cell::new(false);
    let done = wait_until(&mut h, T, |a| {
        let s = a.latent.panes[0].shown.as_ref().unwrap();
        if s.progress.is_some() && method_shown(a) == Method::Tsne {
            saw_live_layout.set(true);
        }
        finished(a, Method::Tsne)
    });
    assert!(done, "t-SNE never finished");
    assert!(saw_live_layout.get(), "no layout was drawn while t-SNE ran");
    let t = state(&h).latent.panes[0]
        .shown
        .as_ref()
        .unwrap()
        .trust
        .unwrap();
    assert!(
        t.knn_accuracy_2d > pca.knn_accuracy_2d + 0.3,
        "{t:?} vs {pca:?}"
    );
    assert!(t.trustworthiness > 0.95, "{t:?}");
    let tsne_map = state(&h).latent.map().unwrap().clone();
    assert_eq!(tsne_map.points.len(), 2000);

    // Back to PCA and to t-SNE again: the map is kept (the same one, nothing recomputed).
    h.get_by_label("PCA").click();
    h.run_steps(2);
    assert_eq!(method_shown(state(&h)), Method::Pca);
    h.get_by_label("t-SNE").click();
    h.run_steps(2);
    assert!(Arc::ptr_eq(state(&h).latent.map().unwrap(), &tsne_map));
    assert!(!state(&h).latent.working());
}

#[test]
fn cancelling_a_running_projection_leaves_the_app_responsive() {
    let (mut h, _dir) = latent_app();
    h.get_by_label("UMAP").click();
    h.run_steps(3);
    assert!(state(&h).latent.working());
    h.get_by_label("Cancel").click();
    assert!(
        wait_until(&mut h, Duration::from_secs(5), |a| !a.latent.working()),
        "the projection did not stop"
    );
    h.run_steps(2);
    assert!(h.query_by_label_contains("cancelled").is_some());
    // The PCA map stays, and the app answers: another tab and back, PCA chosen.
    assert!(state(&h).latent.map().is_some());
    state_mut(&mut h).tab = Tab::Train;
    h.run_steps(2);
    state_mut(&mut h).tab = Tab::Latent;
    h.run_steps(2);
    h.get_by_label("PCA").click();
    h.run_steps(2);
    assert!(finished(state(&h), Method::Pca) || state(&h).latent.working());
    // Asking again computes it.
    h.get_by_label("UMAP").click();
    h.run_steps(2);
    h.get_by_label("Compute again").click();
    assert!(wait_until(&mut h, T, |a| finished(a, Method::Umap)));
}

#[test]
fn empty_space_on_a_tsne_map_decodes_the_nearest_codes_weighted_and_says_so() {
    let (mut h, _dir) = latent_app();
    state_mut(&mut h).latent.view.method = Method::Tsne;
    assert!(wait_until(&mut h, T, |a| finished(a, Method::Tsne)));
    let map = state(&h).latent.map().unwrap().clone();
    let (p, q) = (map.points.xy[3], map.points.xy[4]);
    let mid = [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0];
    state_mut(&mut h).latent.decode_at(&map, mid);
    h.run_steps(2);
    let d = state(&h).latent.decoded.as_ref().unwrap();
    // The documented rule, computed here by brute force: the 5 points nearest on the map,
    // weighted by 1 / distance².
    let mut near: Vec<(f32, usize)> = (0..map.points.xy.len())
        .map(|i| (dist2(map.points.xy[i], mid).sqrt(), i))
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    let near = &near[..5];
    let total: f32 = near.iter().map(|(d, _)| 1.0 / (d * d)).sum();
    let mut want = vec![0f32; map.k];
    for &(d, i) in near {
        for (w, c) in want.iter_mut().zip(map.code(i)) {
            *w += c / (d * d) / total;
        }
    }
    assert_eq!(d.code.len(), map.k);
    for (j, (a, b)) in d.code.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "z{}: decoded {a}, weighted mean of the 5 nearest {b}",
            j + 1
        );
    }
    // A blend, not one point's code.
    assert!(near.iter().all(|&(_, i)| map.code(i) != d.code.as_slice()));
    // On a point itself: that point's code.
    let c = map.projection.inverse(map.points.xy[10]);
    for (a, b) in c.iter().zip(map.code(10)) {
        assert!((a - b).abs() < 1e-5);
    }
    assert!(h.query_by_label_contains("has no inverse").is_some());
}

#[test]
fn a_selected_image_rings_its_nearest_neighbours_in_the_code_or_in_pixels() {
    let (mut h, _dir) = latent_app();
    state_mut(&mut h).latent.view.method = Method::Umap;
    assert!(wait_until(&mut h, T, |a| finished(a, Method::Umap)));
    state_mut(&mut h).latent.select(5);
    h.run_steps(2);
    let map = state(&h).latent.map().unwrap().clone();
    let nearest = |rows: &[f32], dim: usize| -> Vec<usize> {
        let me = &rows[5 * dim..6 * dim];
        let mut d: Vec<(f32, usize)> = rows
            .chunks_exact(dim)
            .enumerate()
            .filter(|(i, _)| *i != 5)
            .map(|(i, r)| (r.iter().zip(me).map(|(a, b)| (a - b) * (a - b)).sum(), i))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        d.iter().take(10).map(|x| x.1).collect()
    };
    let h1 = state(&h).latent.view.highlight.as_ref().unwrap();
    assert_eq!(h1.neighbours, nearest(&map.codes, map.k));
    assert!(h.query_by_label_contains("nearest on this map").is_some());
    state_mut(&mut h).latent.view.space = NeighbourSpace::Pixels;
    h.run_steps(2);
    let h2 = state(&h).latent.view.highlight.as_ref().unwrap();
    assert_eq!(
        h2.neighbours,
        nearest(&map.split_data().images, bottleneck::PIXELS)
    );
}

#[test]
fn the_map_exports_as_csv_label_x_y() {
    let (mut h, dir) = latent_app();
    let path = dir.path().join("map.csv");
    state_mut(&mut h).shared.dialog_override = Some(path.clone());
    h.get_by_label("Export map (CSV)…").click();
    assert!(wait_until(&mut h, Duration::from_secs(20), |_| path.exists()));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "label,x,y");
    assert_eq!(lines.len(), 2001);
    let map = state(&h).latent.map().unwrap().clone();
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], map.points.labels[0].to_string());
    assert_eq!(first[1].parse::<f32>().unwrap(), map.points.xy[0][0]);
}

#[test]
fn a_snapshot_with_a_projection_waits_for_that_map_and_rings_neighbours() {
    use bottleneck::app::snapshot::{settled, SnapshotRequest};
    let req = SnapshotRequest {
        tab: Tab::Latent,
        model: Some(dense32()),
        projection: Some(Method::Umap),
        ..Default::default()
    };
    let h = settled(&req).unwrap();
    let a = h.state().as_ref().unwrap();
    assert!(finished(a, Method::Umap));
    let hl = a.latent.view.highlight.as_ref().unwrap();
    assert_eq!(hl.neighbours.len(), 10);
    assert!(hl.kept_on_map <= 10);
}

#[test]
fn a_2d_vae_samples_16_codes_from_the_selected_images_posterior() {
    let (mut h, _dir) = app(|a: &mut App| a.tab = Tab::Latent);
    let vae = Arc::new(
        bottleneck::model::bundled::find("vae-2d")
            .unwrap()
            .load()
            .unwrap(),
    );
    adopt(&mut h, vae.clone());
    assert!(wait_until(&mut h, T, |a| a.latent.map().is_some()));
    state_mut(&mut h).latent.select(7);
    h.run_steps(2);
    assert!(h.query_by_label_contains("prior N(0, I) at 1σ").is_some());
    h.get_by_label("Sample 16 from its posterior").click();
    h.run_steps(2);
    let a = state(&h);
    let p = a.latent.prior.as_ref().unwrap();
    assert_eq!(p.from, Some(7));
    assert_eq!(p.z.len(), 32);
    let data = &a.latent.map().unwrap().data;
    let (mu, sigma) = bottleneck::analysis::posterior::posterior(&vae, data.test.image(7)).unwrap();
    // Every sample within 5σ of μ, and not all at μ.
    for z in p.z.chunks_exact(2) {
        for c in 0..2 {
            assert!(
                (z[c] - mu[c]).abs() <= 5.0 * sigma[c],
                "{z:?} {mu:?} {sigma:?}"
            );
        }
    }
    assert!(p.z.chunks_exact(2).any(|z| z[0] != mu[0]));
    assert!(h
        .query_by_label_contains("Samples from image #7's posterior")
        .is_some());
}

#[test]
fn changing_the_pca_axes_shows_the_new_axes_not_the_measured_map() {
    let (mut h, _dir) = latent_app();
    let pc12 = state(&h).latent.panes[0]
        .shown
        .as_ref()
        .unwrap()
        .trust
        .unwrap();
    state_mut(&mut h).latent.comps = (0, 2);
    let ok = wait_until(&mut h, T, |a| {
        a.latent
            .map()
            .is_some_and(|m| m.projection.axis_names() == ("PC1".to_string(), "PC3".to_string()))
            && !a.latent.working()
    });
    assert!(ok, "the map stayed on the old axes");
    // Its own trust figures, not those of PC1 and PC2: recomputed here by brute force on the
    // points shown (PC1 and PC3) and the codes.
    let a = state(&h);
    let map = a.latent.map().unwrap().clone();
    let shown = a.latent.panes[0].shown.as_ref().unwrap().trust.unwrap();
    let (acc, tw) = brute_force_trust(&map.codes, map.k, &map.points.xy, &map.points.labels);
    eprintln!("PC1/PC2 {pc12:?}; PC1/PC3 shown {shown:?}, brute force 5-NN {acc}, T {tw}");
    assert_eq!(shown.points, 2000);
    // (Within a few points of 2,000: equal distances may be ordered either way.)
    assert!(
        (shown.knn_accuracy_2d - acc).abs() <= 0.002,
        "shown 5-NN accuracy {} vs {acc} on PC1/PC3",
        shown.knn_accuracy_2d
    );
    assert!(
        (shown.trustworthiness - tw).abs() <= 1e-3,
        "shown trustworthiness {} vs {tw} on PC1/PC3",
        shown.trustworthiness
    );
    // The old axes' figures would not pass the checks above.
    assert!(
        (pc12.knn_accuracy_2d - acc).abs() > 0.01 || (pc12.trustworthiness - tw).abs() > 0.01,
        "PC1/PC2 and PC1/PC3 give the same figures: {pc12:?}"
    );
}

fn dist2(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Leave-one-out 5-NN accuracy of `labels` on the map (majority vote, a tie going to the tied
/// class whose member is nearest) and trustworthiness with 5 neighbours (Venna and Kaski:
/// 1 − 2 / (n k (2n − 3k − 1)) Σ over map neighbours that are not code neighbours of their
/// rank in the code minus k), both by sorting all distances.
fn brute_force_trust(codes: &[f32], k: usize, xy: &[[f32; 2]], labels: &[u8]) -> (f32, f32) {
    const K: usize = 5;
    let n = xy.len();
    let code_dist = |i: usize, j: usize| -> f32 {
        let (a, b) = (&codes[i * k..(i + 1) * k], &codes[j * k..(j + 1) * k]);
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    };
    let mut correct = 0usize;
    let mut penalty = 0f64;
    for i in 0..n {
        let mut on_map: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (dist2(xy[i], xy[j]), j))
            .collect();
        on_map.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let map_nb: Vec<usize> = on_map[..K].iter().map(|x| x.1).collect();
        let mut votes = [0usize; 256];
        for &j in &map_nb {
            votes[labels[j] as usize] += 1;
        }
        let best = *votes.iter().max().unwrap();
        let vote = map_nb
            .iter()
            .map(|&j| labels[j])
            .find(|&l| votes[l as usize] == best);
        correct += usize::from(vote == Some(labels[i]));
        let mut in_code: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (code_dist(i, j), j))
            .collect();
        in_code.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut rank = vec![0usize; n];
        for (r, &(_, j)) in in_code.iter().enumerate() {
            rank[j] = r + 1;
        }
        penalty += map_nb
            .iter()
            .map(|&j| rank[j])
            .filter(|&r| r > K)
            .map(|r| (r - K) as f64)
            .sum::<f64>();
    }
    let (nf, kf) = (n as f64, K as f64);
    let tw = 1.0 - 2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)) * penalty;
    (correct as f32 / n as f32, tw as f32)
}

/// Before the fix, the 2× re-render always drew the PCA map, whatever the panel showed.
#[test]
fn the_2x_png_export_re_renders_the_map_the_panel_shows() {
    let (mut h, dir) = latent_app();
    state_mut(&mut h).latent.view.method = Method::Umap;
    let png = dir.path().join("map@2x.png");
    state_mut(&mut h).shared.dialog_override = Some(png.clone());
    h.get_by_label("Export").click();
    h.run_steps(2);
    h.get_by_label("Panel as PNG at 2×…").click();
    h.step();
    assert_eq!(state(&h).exporter.projection, Some(Method::Umap));
    assert!(
        wait_until(&mut h, T, |a| !a.exporter.busy()),
        "the export finishes"
    );
    let img = image::open(&png).expect("a PNG was written");
    assert!(img.width() > 1000, "twice the density: {}", img.width());
}
