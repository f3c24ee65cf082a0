//! The Features analysis on real digits: the linear probe beats chance by far and improves with
//! more labels; a sparse autoencoder's codes are smaller than a plain one's (same k, epochs,
//! seed), as the Keras tutorial reports.

mod common;

use bottleneck_engine::analysis::{features, probe};
use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::{bundled, Variant};
use bottleneck_engine::tasks::RunControl;

#[test]
fn probe_beats_chance_and_improves_with_labels() {
    let data = Dataset::embedded().unwrap();
    let model = bundled::find("dense-32d").unwrap().load().unwrap();
    let r = probe::sweep(&model, &data, None, &RunControl::default())
        .unwrap()
        .unwrap();
    assert_eq!(r.sizes, vec![100, 1000, data.train.len()]);
    for acc in [&r.codes, &r.pca, &r.pixels, &r.knn_codes, &r.knn_pca] {
        assert_eq!(acc.len(), 3);
        // Chance is 0.1.
        assert!(acc.iter().all(|&a| a > 0.5), "{r:?}");
    }
    for acc in [&r.codes, &r.pca, &r.pixels] {
        assert!(acc[2] > acc[0] + 0.05, "{r:?}");
    }
    assert!(r.codes[2] > 0.85, "{r:?}");
}

#[test]
fn sparse_codes_are_smaller_than_plain_ones() {
    let data = Dataset::embedded().unwrap().into_arc();
    let mean_abs = |v: Variant| {
        let m = common::train_model(data.clone(), v, 32, 3);
        features::model_stats(&m, &data.test.images)
            .unwrap()
            .mean_abs_activation
    };
    let (plain, sparse) = (mean_abs(Variant::Dense), mean_abs(Variant::Sparse));
    assert!(sparse < plain, "sparse {sparse} vs plain {plain}");
}
