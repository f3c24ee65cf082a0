//! The Train panel on a data set smaller than the presets assume (1,438 training digits):
//! Start takes the preset's optimizer steps and the model beats PCA; a run that ends behind
//! PCA says so and its button puts more epochs in the form; after switching data sets, the
//! curves and the test MSE of a model trained on the other one say where it was trained.

mod common;
mod small;

use std::time::{Duration, Instant};

use bottleneck::app::{App, AppOptions};
use bottleneck::data::{Dataset, DatasetSource};
use bottleneck::model::{Term, TrainConfig, Variant};
use bottleneck::train::worker::RunState;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn final_mse(a: &App) -> f64 {
    let m = a.shared.model().expect("a model");
    m.meta.history.last().unwrap().test.get(Term::Mse).unwrap()
}

fn done(a: &App) -> bool {
    a.shared.a().view.state == RunState::Idle && a.shared.model().is_some()
}

#[test]
fn start_on_a_small_folder_takes_the_presets_steps_and_beats_pca() {
    let dir = small::digits_folder();
    let cfg = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data: Some(DatasetSource::Dir(dir.path().to_path_buf())),
        import: None,
        settings_path: Some(cfg.path().join("settings.json")),
        load_bundled: false,
    };
    let mut h = harness_with(opts, |a: &mut App| {
        a.shared.settings.train = TrainConfig::preset(Variant::Dense, 2)
    });
    assert!(wait_until(&mut h, T, |a| a.shared.pca.is_some()));
    assert_eq!(state(&h).shared.data.train.len(), small::TRAIN);
    h.step();
    assert!(
        h.query_by_label_contains("54 epochs instead of 10 for 1,438 images")
            .is_some(),
        "the panel says which schedule Start takes"
    );
    let started = Instant::now();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.epochs > 0));
    assert_eq!(state(&h).shared.a().view.epochs, 54, "the fitted epochs");
    assert_eq!(
        state(&h).shared.settings.train.epochs,
        10,
        "the form keeps the preset's"
    );
    assert!(wait_until(&mut h, T, done), "the run ends");
    let seconds = started.elapsed().as_secs_f64();
    let mse = final_mse(state(&h));
    let pca = state_mut(&mut h).shared.pca_test_mse(2).unwrap();
    eprintln!("app, 1,438 digits, k = 2: test MSE {mse:.5}, PCA {pca:.5}, {seconds:.1} s");
    assert!(mse < pca, "test MSE {mse} is not below PCA's {pca}");
    assert_eq!(state(&h).shared.model().unwrap().meta.epochs_trained, 54);
    h.step();
    assert!(
        state(&h).train.verdict.is_none(),
        "no warning for a model that beats PCA"
    );

    // Epochs set by the user are kept.
    state_mut(&mut h).shared.settings.train.epochs = 2;
    h.step();
    assert!(h.query_by_label_contains("epochs instead of").is_none());
}

/// The app on the embedded digits after a dense k = 2 run of one epoch started with *Start*
/// has ended (PCA fitted first, so the Train panel has its line).
fn one_epoch_run_ended() -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(|a| {
        let mut c = TrainConfig::preset(Variant::Dense, 2);
        c.epochs = 1;
        a.shared.settings.train = c;
    });
    assert!(wait_until(&mut h, T, |a| a.shared.pca.is_some()));
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, done), "the run ends");
    h.step();
    (h, dir)
}

#[test]
fn a_run_behind_pca_says_so_and_its_button_sets_more_epochs() {
    let (mut h, _dir) = one_epoch_run_ended();
    let mse = final_mse(state(&h));
    let pca = state_mut(&mut h).shared.pca_test_mse(2).unwrap();
    assert!(mse > pca, "one epoch should not beat PCA ({mse} vs {pca})");
    let sentence = state(&h).train.verdict.clone().expect("a verdict");
    assert!(sentence.contains(&format!("{mse:.4}")), "{sentence}");
    assert!(h
        .query_by_label_contains("it has likely not trained enough")
        .is_some());
    h.get_by_label("Use 3 epochs").click();
    h.step();
    assert_eq!(
        state(&h).shared.settings.train.epochs,
        3,
        "the fix is in the form"
    );
}

#[test]
fn after_switching_data_sets_the_old_models_figures_say_where_it_was_trained() {
    let (mut h, _dir) = one_epoch_run_ended();
    assert!(state(&h).train.plotted.iter().any(|n| n.starts_with("PCA")));
    let old = state(&h).shared.data.name.clone();
    let dir = small::digits_folder();
    let d = Dataset::load_dir(dir.path()).unwrap();
    state_mut(&mut h).shared.set_dataset(d);
    assert!(wait_until(&mut h, T, |a| a.shared.pca.is_some()));
    h.step();
    let new = state(&h).shared.data.name.clone();
    assert_ne!(old, new);
    assert!(
        !state(&h).train.plotted.iter().any(|n| n.starts_with("PCA")),
        "no PCA line of the new data set against the old model's curves: {:?}",
        state(&h).train.plotted
    );
    assert!(h
        .query_by_label_contains(&format!("These curves are of the model trained on {old}"))
        .is_some());
    assert!(h
        .query_by_label_contains(&format!(
            "after 1 epochs on {old} (the model was trained there)"
        ))
        .is_some());
    assert!(
        state(&h).train.verdict.is_none(),
        "no verdict against another data set's PCA"
    );
}
