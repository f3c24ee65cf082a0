//! The PCA vs AE panel driven through egui_kittest: with a model it measures both methods at
//! the model's k (grid, table, maps, the model's point on the error curve), and the linear
//! autoencoder button trains one in the background that lands on PCA's error; without a model
//! it shows PCA alone and says what to do.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::Tab;
use bottleneck::model::{Term, Variant};
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

/// Trains a small dense model directly and makes it the app's current model.
fn adopt_dense(h: &mut AppHarness, k: usize, epochs: usize) {
    let data = state(h).shared.data.clone();
    let model = Arc::new(train_model(data, Variant::Dense, k, epochs));
    adopt(h, model);
    assert!(wait_until(h, T, |a| a.shared.model().is_some()));
}

#[test]
fn a_model_is_measured_against_pca_and_a_linear_autoencoder_lands_on_pca() {
    let (mut h, _d) = app(|a| a.tab = Tab::Pca);
    h.step();
    adopt_dense(&mut h, 4, 2);
    assert!(
        wait_until(&mut h, T, |a| a.pca.analysis.is_some()
            && a.pca.curve.is_some()
            && !a.pca.measured(&a.shared).is_empty()),
        "the analysis finishes"
    );
    h.step();
    {
        let a = state(&h);
        let an = a.pca.analysis.as_ref().unwrap();
        let data = &a.shared.data;
        assert_eq!(an.k, 4);
        let pca = a.shared.pca.as_ref().unwrap();
        assert!((an.pca_test_mse - pca.mse(&data.test.images, 4) as f64).abs() < 1e-6);
        let model = a.shared.model().unwrap();
        let history_mse = model
            .meta
            .history
            .last()
            .unwrap()
            .test
            .get(Term::Mse)
            .unwrap();
        assert!(
            (an.ae_test_mse - history_mse).abs() < 1e-4,
            "{} vs {history_mse}",
            an.ae_test_mse
        );
        for acc in [an.ae_knn, an.pca_knn] {
            assert!(acc > 0.3 && acc <= 1.0, "5-NN accuracy {acc}");
        }
        let points = |m: &Vec<Vec<egui_plot::PlotPoint>>| m.iter().map(Vec::len).sum::<usize>();
        assert_eq!(points(&an.pca_map), data.test.len());
        assert_eq!(points(&an.ae_map), data.test.len());
        assert_eq!(
            an.map_kind,
            bottleneck::app::panels::pca::MapKind::Projected
        );
        assert_eq!(a.pca.grid_errors.len(), 10);
        assert!(a
            .pca
            .grid_errors
            .iter()
            .all(|(p, e)| p.is_finite() && e.is_finite() && *p > 0.0));
        // The session's model is a point on the error curve, at its k and test MSE.
        let measured = a.pca.measured(&a.shared);
        assert_eq!(measured.len(), 1);
        assert_eq!(measured[0].0, 4);
        assert!((measured[0].1 - an.ae_test_mse).abs() < 1e-9);
    }
    for label in [
        "PCA vs autoencoder at k = 4",
        "Representation quality",
        "5-NN accuracy",
        "Test MSE against k",
        "PCA: first two components",
    ] {
        assert!(h.query_by_label_contains(label).is_some(), "{label}");
    }

    h.get_by_label("Train a linear autoencoder (k = 4)").click();
    assert!(
        wait_until(&mut h, T, |a| a.pca.linear_result.is_some()),
        "the linear autoencoder finishes"
    );
    // Its point is measured too.
    assert!(wait_until(&mut h, T, |a| a.pca.measured(&a.shared).len() == 2));
    h.step();
    let a = state(&h);
    let r = a.pca.linear_result.as_ref().unwrap();
    assert_eq!(r.k, 4);
    assert!(
        r.gap().abs() <= 0.10,
        "linear AE {} vs PCA {}",
        r.test_mse,
        r.pca_test_mse
    );
    assert_eq!(
        a.shared.model().unwrap().config().variant,
        Variant::Dense,
        "the current model stays"
    );
    assert_eq!(a.shared.session_models.len(), 2);
    assert_eq!(
        a.shared.session_models[1].model.config().variant,
        Variant::Linear
    );
    assert!(h
        .query_by_label_contains("it lands on PCA's error")
        .is_some());
}

#[test]
fn without_a_model_pca_is_shown_alone() {
    let (mut h, _d) = app(|a| a.tab = Tab::Pca);
    assert!(wait_until(&mut h, T, |a| a.pca.curve.is_some()));
    h.step();
    assert!(h.query_by_label_contains("No model yet").is_some());
    assert!(h.query_by_label_contains("Test MSE against k").is_some());
    assert!(h
        .query_by_label_contains("Train a linear autoencoder")
        .is_none());
    let a = state(&h);
    let c = a.pca.curve.as_ref().unwrap();
    assert_eq!(c.mse.len(), 100);
    assert!(c.mse.windows(2).all(|w| w[1] <= w[0]));
    assert!(c.cumulative.windows(2).all(|w| w[1] >= w[0]));
    assert!(a.pca.analysis.is_none());
}

#[test]
fn a_new_dataset_is_measured_again() {
    let (mut h, _d) = app(|a| a.tab = Tab::Pca);
    h.step();
    adopt_dense(&mut h, 3, 1);
    assert!(wait_until(&mut h, T, |a| a.pca.analysis.is_some()
        && !a.pca.measured(&a.shared).is_empty()));
    let before = state(&h).pca.measured(&state(&h).shared)[0].1;

    // The first 300 test digits, upside down, as a new dataset.
    let dir = tempfile::tempdir().unwrap();
    let test = &state(&h).shared.data.test;
    let n = 300;
    let pixels: Vec<u8> = (0..n)
        .flat_map(|i| {
            let img = test.image(i);
            (0..784).map(move |p| (img[783 - p] * 255.0).round() as u8)
        })
        .collect();
    let images = bottleneck::data::idx::IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels,
    };
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        bottleneck::data::idx::encode_images(&images),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        bottleneck::data::idx::encode_labels(&test.labels[..n]),
    )
    .unwrap();
    let flipped = bottleneck::data::Dataset::load_dir(dir.path()).unwrap();
    state_mut(&mut h).shared.set_dataset(flipped);
    assert!(
        wait_until(&mut h, T, |a| {
            a.shared.pca.is_some()
                && a.pca.analysis.as_ref().is_some_and(|an| {
                    let p = a.shared.pca.as_ref().unwrap();
                    (an.pca_test_mse - p.mse(&a.shared.data.test.images, 3) as f64).abs() < 1e-6
                })
                && !a.pca.measured(&a.shared).is_empty()
        }),
        "the analysis follows the new dataset"
    );
    let a = state(&h);
    let after = a.pca.measured(&a.shared)[0].1;
    assert_eq!(a.shared.data.test.len(), 60);
    let direct =
        bottleneck::app::panels::pca::test_mse(a.shared.model().unwrap(), &a.shared.data).unwrap();
    assert!(
        (after - direct).abs() < 1e-9,
        "measured on the new test split"
    );
    assert!(
        (after - before).abs() > 1e-4,
        "not the old value: {before} -> {after}"
    );
    let an = a.pca.analysis.as_ref().unwrap();
    assert!((an.ae_test_mse - after).abs() < 1e-9);
    let points: usize = an.pca_map.iter().map(Vec::len).sum();
    assert_eq!(points, 60);
}
