//! The Train panel driven through egui_kittest by its labels: start, progress, pause, step,
//! resume, stop, save and load, divergence, bad files, settings persistence, and a snapshot.

mod common;

use std::time::Duration;

use bottleneck::app::Level;
use bottleneck::model::{TrainConfig, Variant};
use bottleneck::train::worker::RunState;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn dense2(epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::preset(Variant::Dense, 2);
    c.epochs = epochs;
    c
}

#[test]
fn start_shows_progress_then_pause_step_resume_stop() {
    let (mut h, _dir) = app(|a| a.shared.settings.train = dense2(500));
    h.step();
    h.get_by_label("Start").click();
    assert!(
        wait_until(&mut h, T, |a| a.shared.a().view.global_step > 0),
        "training never reported a step"
    );
    assert_eq!(state(&h).shared.a().view.state, RunState::Running);
    h.step();
    assert!(
        h.query_by_label_contains("Epoch 1/500").is_some()
            || h.query_by_label_contains("/500 · step").is_some(),
        "the progress bar shows the epoch"
    );

    h.get_by_label("Pause").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Paused));
    assert!(
        wait_until(&mut h, T, |a| a.shared.a().snapshot.is_some()),
        "pausing publishes a snapshot"
    );
    // Everything the worker sent before pausing has arrived; the count then stays put.
    wait_until(&mut h, Duration::from_millis(300), |_| false);
    let before = state(&h).shared.a().view.global_step;
    assert!(h.query_by_label_contains("samples/s · paused").is_some());

    h.get_by_label("Step").click();
    assert!(
        wait_until(&mut h, T, |a| a.shared.a().view.global_step == before + 1),
        "Step trains one batch"
    );
    wait_until(&mut h, Duration::from_millis(300), |_| false);
    assert_eq!(
        state(&h).shared.a().view.global_step,
        before + 1,
        "exactly one batch"
    );
    assert_eq!(state(&h).shared.a().view.state, RunState::Paused);

    h.get_by_label("Resume").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Running
        && a.shared.a().view.global_step > before + 3));

    h.get_by_label("Stop").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Idle));
    assert!(state(&h).shared.model().is_some());
    h.step();
    assert!(h.query_by_label_contains("samples/s · stopped").is_some());
}

#[test]
fn a_finished_run_updates_curves_and_reconstructions() {
    let (mut h, _dir) = app(|a| a.shared.settings.train = dense2(2));
    h.step();
    assert!(
        state(&h).train.shown_recon.is_none(),
        "no reconstructions before training"
    );
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.history.len()
        == 2
        && a.shared.a().view.state == RunState::Idle));
    h.step();
    let a = state(&h);
    let first = &a.shared.a().view.history[0];
    let second = &a.shared.a().view.history[1];
    assert!(second.train.total() < first.train.total(), "the loss falls");
    let recon = a
        .train
        .shown_recon
        .as_ref()
        .expect("reconstructions after training");
    assert_eq!(recon.len(), 16 * 784);
    assert!(h.query_by_label_contains("Finished 2 epochs").is_some());
    assert!(
        h.query_by_label_contains("samples/s · done").is_some(),
        "the progress bar says the run is done"
    );
}

#[test]
fn step_when_idle_starts_a_paused_run_and_trains_one_batch() {
    let (mut h, _dir) = app(|a| a.shared.settings.train = dense2(5));
    h.step();
    h.get_by_label("Step").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.global_step
        == 1
        && a.shared.a().view.state == RunState::Paused));
}

#[test]
fn save_then_load_through_the_buttons() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let p2 = path.clone();
    let (mut h, _d) = app(move |a| {
        a.shared.settings.train = dense2(1);
        a.shared.dialog_override = Some(p2);
    });
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Idle
        && a.shared.model().is_some()));
    h.step();
    h.get_by_label("Save model…").click();
    assert!(wait_until(&mut h, T, |_| path.exists()
        && path.with_extension("json").exists()));
    let saved = bottleneck::model::io::load(&path).unwrap();
    assert_eq!(saved.meta.epochs_trained, 1);

    // A second app loads it.
    let p3 = path.clone();
    let (mut h2, _d2) = app(move |a| a.shared.dialog_override = Some(p3));
    h2.step();
    assert!(state(&h2).shared.model().is_none());
    h2.get_by_label("Load model…").click();
    assert!(wait_until(&mut h2, T, |a| a.shared.model().is_some()));
    let a = state(&h2);
    assert_eq!(a.shared.model().unwrap().config(), saved.config());
    assert_eq!(
        a.shared.a().view.history.len(),
        1,
        "the loaded model's curves are shown"
    );
}

#[test]
fn loading_a_bad_file_shows_an_error_and_keeps_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"not a model").unwrap();
    std::fs::write(bad.with_extension("json"), b"{ nope").unwrap();
    let b2 = bad.clone();
    let (mut h, _d) = app(move |a| {
        a.shared.settings.train = dense2(1);
        a.shared.dialog_override = Some(b2);
    });
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Idle
        && a.shared.model().is_some()));
    let version = state(&h).shared.a().snapshot_id();
    h.get_by_label("Load model…").click();
    assert!(wait_until(&mut h, T, |a| a
        .shared
        .notices
        .iter()
        .any(|n| n.level == Level::Error)));
    let a = state(&h);
    let msg = &a
        .shared
        .notices
        .iter()
        .find(|n| n.level == Level::Error)
        .unwrap()
        .text;
    assert!(
        msg.contains("bad.json"),
        "the message names the file: {msg}"
    );
    assert_eq!(
        a.shared.a().snapshot_id(),
        version,
        "the current model is kept"
    );
    h.step();
    assert!(
        h.query_by_label_contains("cannot load the model").is_some(),
        "the error is on screen"
    );
}

#[test]
fn diverging_settings_end_with_a_message_and_the_last_good_weights() {
    let (mut h, _d) = app(|a| {
        let mut c = dense2(3);
        c.lr = 100.0;
        a.shared.settings.train = c;
    });
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Idle
        && a.shared
            .a()
            .view
            .message
            .as_ref()
            .is_some_and(|(l, _)| *l == Level::Error)));
    h.step();
    let a = state(&h);
    let (_, msg) = a.shared.a().view.message.as_ref().unwrap();
    assert!(msg.contains("diverged"), "{msg}");
    assert!(
        h.query_by_label_contains("training diverged").is_some(),
        "shown in the panel"
    );
    // The kept weights are the last good ones: here the initial weights, finite.
    let kept = a.shared.model().expect("a model is kept");
    let fresh = bottleneck::model::TrainedModel::new(kept.config(), "x").unwrap();
    let w = |m: &bottleneck::model::TrainedModel| {
        m.varmap.data().lock().unwrap()["enc.0.weight"]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(kept), w(&fresh));
}

#[test]
fn invalid_settings_do_not_start_and_say_why() {
    let (mut h, _d) = app(|a| {
        // BCE needs outputs in [0, 1]; the linear autoencoder's output is unbounded.
        let mut c = TrainConfig::preset(Variant::Linear, 2);
        c.loss = bottleneck::model::LossKind::Bce;
        a.shared.settings.train = c;
    });
    h.step();
    assert!(
        h.query_by_label_contains("Cannot train: BCE needs")
            .is_some(),
        "the form says why"
    );
    h.get_by_label("Start").click();
    h.step();
    h.step();
    assert_eq!(state(&h).shared.a().view.state, RunState::Idle);
    assert!(h
        .query_by_label_contains("Cannot start: BCE needs")
        .is_some());
}

#[test]
fn settings_persist_and_a_corrupt_file_gives_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut s = bottleneck::app::settings::Settings::default();
    s.train.model.latent = 7;
    s.tab = bottleneck::app::Tab::Train;
    s.save(&path).unwrap();
    let (loaded, notice) = bottleneck::app::settings::Settings::load(Some(&path));
    assert!(notice.is_none());
    assert_eq!(loaded.train.model.latent, 7);

    std::fs::write(&path, b"{{{{").unwrap();
    let ctx = egui::Context::default();
    let app = bottleneck::app::App::new(
        &ctx,
        bottleneck::app::AppOptions {
            data: Some(bottleneck::data::DatasetSource::Embedded),
            import: None,
            settings_path: Some(path.clone()),
            load_bundled: false,
        },
    );
    assert!(
        app.shared
            .notices
            .iter()
            .any(|n| n.text.contains("damaged")),
        "a notice about the bad file"
    );
    assert_eq!(
        app.shared.settings.train,
        bottleneck::app::settings::Settings::default().train
    );
}

#[test]
fn a_missing_dataset_folder_falls_back_with_a_message() {
    let ctx = egui::Context::default();
    let app = bottleneck::app::App::new(
        &ctx,
        bottleneck::app::AppOptions {
            data: Some(bottleneck::data::DatasetSource::Dir(
                "/nonexistent/folder".into(),
            )),
            import: None,
            settings_path: None,
            load_bundled: false,
        },
    );
    assert_eq!(app.shared.data.train.len(), 8000, "the embedded digits");
    assert!(app
        .shared
        .notices
        .iter()
        .any(|n| n.level == Level::Error && n.text.contains("/nonexistent/folder")));
}

#[test]
fn train_panel_snapshot() {
    let (mut h, _d) = app(|a| a.shared.settings.train = dense2(10));
    // Let PCA finish so the reference line is drawn, then render the idle panel.
    assert!(wait_until(&mut h, T, |a| a.shared.pca.is_some()));
    h.step();
    h.snapshot("train_panel");
}
