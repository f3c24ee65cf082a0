//! Maps of wide codes (t-SNE, UMAP beside PCA) on real digit codes: the built-in 32-D
//! autoencoder's codes of the 2,000 embedded test digits.

use std::sync::Arc;

use bottleneck_engine::analysis::embed::{embed, embed_with_cap, map_projection, Method};
use bottleneck_engine::analysis::trust::{measure, trustworthiness};
use bottleneck_engine::analysis::tsne::Stopped;
use bottleneck_engine::data::Dataset;

fn digit_codes() -> (Vec<f32>, Vec<u8>, usize) {
    let data = Dataset::embedded().unwrap();
    let model = bottleneck_engine::model::bundled::find("dense-32d")
        .unwrap()
        .load()
        .unwrap();
    let codes = model.encode(&data.test.images).unwrap();
    (codes, data.test.labels.clone(), model.latent())
}

#[test]
fn tsne_and_umap_maps_of_digit_codes_separate_classes_far_better_than_pca() {
    let (codes, labels, k) = digit_codes();
    assert_eq!(k, 32);
    assert_eq!(labels.len(), 2000);
    let mut results = Vec::new();
    for method in Method::ALL {
        let map = embed(method, &codes, k, 42, &mut |_, _, _| true).unwrap();
        assert_eq!(map.points.len(), 2000);
        assert!(map.note.is_none(), "{:?}", map.note);
        let t = measure(&codes, k, &map.points, &labels);
        eprintln!("{}: {t:?}", method.name());
        results.push(t);
    }
    let (pca, tsne, umap) = (results[0], results[1], results[2]);
    // The same full code for all three.
    assert_eq!(pca.knn_accuracy_code, tsne.knn_accuracy_code);
    assert!(pca.knn_accuracy_code > 0.85, "{pca:?}");
    // PCA's two components smear the classes; the non-linear maps keep most of the code's
    // neighbourhoods.
    assert!(pca.knn_accuracy_2d < 0.5, "{pca:?}");
    for t in [tsne, umap] {
        assert!(
            t.knn_accuracy_2d > pca.knn_accuracy_2d + 0.35,
            "{t:?} vs {pca:?}"
        );
        assert!(t.knn_accuracy_2d > 0.8, "{t:?}");
        assert!(
            t.trustworthiness > pca.trustworthiness + 0.1,
            "{t:?} vs {pca:?}"
        );
    }
    assert!(tsne.trustworthiness >= 0.98, "{tsne:?}");
}

#[test]
fn projecting_is_deterministic_for_a_seed() {
    let (codes, _, k) = digit_codes();
    let codes = &codes[..600 * k];
    for method in [Method::Tsne, Method::Umap] {
        let a = embed(method, codes, k, 7, &mut |_, _, _| true).unwrap();
        let b = embed(method, codes, k, 7, &mut |_, _, _| true).unwrap();
        assert_eq!(a.points, b.points, "{}", method.name());
        let c = embed(method, codes, k, 8, &mut |_, _, _| true).unwrap();
        assert_ne!(a.points, c.points, "{}: the seed matters", method.name());
    }
}

#[test]
fn cancelling_stops_a_projection_and_every_step_shows_every_point() {
    let (codes, _, k) = digit_codes();
    let codes = &codes[..400 * k];
    for method in [Method::Tsne, Method::Umap] {
        let mut steps = 0;
        let r = embed(method, codes, k, 1, &mut |done, total, layout| {
            assert!(done <= total);
            assert_eq!(layout.len(), 400);
            steps += 1;
            done < 10
        });
        assert!(matches!(r, Err(Stopped::Cancelled)), "{}", method.name());
        assert_eq!(steps, 10);
    }
}

#[test]
fn a_split_larger_than_the_cap_is_subsampled_with_a_note_and_every_point_placed() {
    let (codes, labels, k) = digit_codes();
    let map = embed_with_cap(Method::Umap, &codes, k, 3, 500, &mut |_, _, _| true).unwrap();
    assert_eq!(map.points.len(), 2000);
    assert!(map
        .points
        .iter()
        .all(|p| p[0].is_finite() && p[1].is_finite()));
    assert!(
        map.note.as_deref().unwrap().contains("500"),
        "{:?}",
        map.note
    );
    // Points placed from their nearest sampled codes still land among their class.
    let t = measure(&codes, k, &map.points, &labels);
    assert!(t.knn_accuracy_2d > 0.7, "{t:?}");
}

#[test]
fn decoding_a_non_linear_map_point_weights_the_nearest_codes() {
    let (codes, _, k) = digit_codes();
    let codes = Arc::new(codes[..300 * k].to_vec());
    let map = embed(Method::Umap, &codes, k, 5, &mut |_, _, _| true).unwrap();
    let points = Arc::new(map.points);
    let p = map_projection(Method::Umap, codes.clone(), k, points.clone());
    // On a point itself: that point's code.
    let c = p.inverse(points[17]);
    for (a, b) in c.iter().zip(&codes[17 * k..18 * k]) {
        assert!((a - b).abs() < 1e-5);
    }
    // A code of the map is placed where it was drawn.
    let xy = p.project(&codes[42 * k..43 * k]);
    assert!((xy[0] - points[42][0]).abs() < 1e-5 && (xy[1] - points[42][1]).abs() < 1e-5);
    // Between two points: a code between theirs (a weighted mean of nearby codes).
    let mid = [
        (points[3][0] + points[4][0]) / 2.0,
        (points[3][1] + points[4][1]) / 2.0,
    ];
    let c = p.inverse(mid);
    assert_eq!(c.len(), k);
    assert!(c.iter().all(|v| v.is_finite()));
}

#[test]
fn trustworthiness_of_an_exact_copy_is_one_and_of_noise_is_low() {
    let (codes, _, k) = digit_codes();
    let n = 500;
    let codes = &codes[..n * k];
    // A map equal to two of the code's coordinates, where the code is only two wide.
    let two: Vec<f32> = codes.chunks_exact(k).flat_map(|c| [c[0], c[1]]).collect();
    assert_eq!(trustworthiness(&two, 2, &two, 2, 5), 1.0);
    // A map with no relation to the code.
    let mut s = 1u64;
    let noise: Vec<f32> = (0..2 * n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 40) as f32
        })
        .collect();
    let t = trustworthiness(codes, k, &noise, 2, 5);
    assert!(t < 0.6, "{t}");
}
