//! Comparing two variants side by side, driven through egui_kittest: "Compare with" plus Start
//! trains both runs on the same data with the same seed, Pause / Resume / Stop act on both,
//! the loss plot carries both runs' curves, the Latent space panel draws B's map beside A's
//! (and only A's without B), a point clicked on B's map is selected in both, loading a model
//! as A leaves B training, and
//! `bottleneck snapshot --compare` renders the comparison.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::export::ExportKind;
use bottleneck::app::snapshot::{render, SnapshotRequest};
use bottleneck::app::{App, Tab};
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::worker::{Command, RunState};
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn form(epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::preset(Variant::Dense, 2);
    c.epochs = epochs;
    c.seed = 7;
    c
}

/// The app with the form at `epochs` and "Compare with" on, B a VAE.
fn comparing(epochs: usize) -> (AppHarness, tempfile::TempDir) {
    app(move |a: &mut App| {
        a.shared.settings.train = form(epochs);
        a.shared.settings.compare = true;
        a.shared.settings.compare_variant = Variant::Vae;
    })
}

fn b_run(a: &App) -> &bottleneck::app::RunView {
    &a.shared.b().expect("run B exists").view
}

fn steps(a: &App) -> (usize, usize) {
    (a.shared.a().view.global_step, b_run(a).global_step)
}

#[test]
fn start_trains_both_runs_with_the_same_seed_and_the_controls_act_on_both() {
    let (mut h, _d) = comparing(500);
    h.step();
    assert!(
        state(&h).shared.b().is_none(),
        "B's worker starts on demand"
    );
    assert!(h
        .query_by_label_contains("B: vae · not trained yet")
        .is_some());
    h.get_by_label("Start").click();
    assert!(
        wait_until(&mut h, T, |a| a.shared.b().is_some()
            && a.shared.a().view.history.len() >= 2
            && b_run(a).history.len() >= 2),
        "both runs finish epochs"
    );
    let a = state(&h);
    let (ca, cb) = (
        a.shared.a().view.config.as_ref().unwrap(),
        b_run(a).config.as_ref().unwrap(),
    );
    assert_eq!(ca.variant, Variant::Dense);
    assert_eq!(cb.variant, Variant::Vae);
    assert_eq!((ca.seed, cb.seed), (7, 7), "the same seed");
    assert_eq!(ca.model.latent, cb.model.latent);
    assert_eq!((ca.epochs, ca.batch), (cb.epochs, cb.batch));
    assert_eq!(a.shared.runs_state(), RunState::Running);
    h.step();
    assert!(h.query_by_label_contains("A: dense · Epoch").is_some());
    assert!(h.query_by_label_contains("B: vae · Epoch").is_some());

    h.get_by_label("Pause").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Paused
        && b_run(a).state == RunState::Paused));
    // Everything sent before pausing has arrived; then neither count moves.
    wait_until(&mut h, Duration::from_millis(300), |_| false);
    let paused = steps(state(&h));
    wait_until(&mut h, Duration::from_millis(500), |_| false);
    assert_eq!(steps(state(&h)), paused, "both runs are paused");

    h.get_by_label("Step").click();
    assert!(
        wait_until(&mut h, T, |a| steps(a) == (paused.0 + 1, paused.1 + 1)),
        "Step trains one batch of each run"
    );

    h.get_by_label("Resume").click();
    assert!(wait_until(&mut h, T, |a| {
        let s = steps(a);
        s.0 > paused.0 + 3 && s.1 > paused.1 + 3
    }));

    h.get_by_label("Stop").click();
    assert!(wait_until(&mut h, T, |a| a.shared.runs_state() == RunState::Idle));
    // Stopping keeps what both runs made: weights, curves and the epochs' maps (published by
    // the workers as they stop, so waited for rather than timed).
    assert!(
        wait_until(&mut h, T, |a| {
            let b = a.shared.b().unwrap();
            a.shared.a().snapshot.is_some() && b.snapshot.is_some()
        }),
        "stopping publishes both snapshots"
    );
    wait_until(&mut h, Duration::from_millis(300), |_| false);
    let a = state(&h);
    let b = a.shared.b().unwrap();
    assert!(a.shared.a().snapshot.is_some() && b.snapshot.is_some());
    assert!(a.shared.a().view.history.len() >= 2 && b.view.history.len() >= 2);
    assert_eq!(
        a.shared.a().epoch_snapshots.len(),
        a.shared.a().view.history.len()
    );
    assert_eq!(b.epoch_snapshots.len(), b.view.history.len());
    assert!(!a.shared.a().view.step_curve.is_empty() && !b.view.step_curve.is_empty());
}

#[test]
fn the_loss_plot_draws_both_runs_and_one_pca_line() {
    let (mut h, _d) = comparing(2);
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.pca.is_some()
        && a.shared.runs_state() == RunState::Idle
        && a.shared.a().view.history.len() == 2
        && b_run(a).history.len() == 2));
    h.step();
    let plotted = state(&h).train.plotted.clone();
    for name in [
        "A: dense train reconstruction",
        "A: dense test reconstruction",
        // The VAE's reconstruction term is a BCE: both runs show their test MSE as well.
        "A: dense test mse",
        "B: vae train reconstruction",
        "B: vae train kl",
        "B: vae test total",
        "B: vae test mse",
    ] {
        assert!(
            plotted.iter().any(|p| p == name),
            "{name} missing from {plotted:?}"
        );
    }
    assert_eq!(
        plotted.iter().filter(|p| p.starts_with("PCA")).count(),
        1,
        "PCA's reference once: {plotted:?}"
    );
    assert!(
        plotted
            .iter()
            .all(|p| p.starts_with("A: ") || p.starts_with("B: ") || p.starts_with("PCA")),
        "{plotted:?}"
    );
    // Both runs finished: each says so, and B's reconstructions are shown under A's.
    assert!(h
        .query_by_label_contains("A: dense · Finished 2 epochs")
        .is_some());
    assert!(h
        .query_by_label_contains("B: vae · Finished 2 epochs")
        .is_some());
    let t = &state(&h).train;
    let (ra, rb) = (t.shown_recon.as_ref(), t.shown_recon_b.as_ref());
    assert_eq!(rb.map(|r| r.len()), Some(16 * 784));
    assert_ne!(ra, rb, "A's and B's reconstructions differ");

    // Without the comparison the plot is the single run's, as before.
    state_mut(&mut h).shared.settings.compare = false;
    h.step();
    h.step();
    let plotted = &state(&h).train.plotted;
    assert!(plotted.iter().any(|p| p == "train reconstruction"));
    assert!(!plotted.iter().any(|p| p.starts_with("B: ")), "{plotted:?}");
    assert!(state(&h).train.shown_recon_b.is_none());
}

/// A model of `variant` (k = 2) trained one epoch with seed 42 (once per variant).
fn trained(variant: Variant) -> Arc<TrainedModel> {
    one_epoch_2d(variant)
}

fn click_at(h: &mut AppHarness, pos: egui::Pos2) {
    h.hover_at(pos);
    h.step();
    h.drag_at(pos);
    h.step();
    h.drop_at(pos);
    h.step();
}

#[test]
fn the_latent_panel_shows_two_maps_with_b_and_one_without() {
    let (mut h, _d) = app(|a: &mut App| a.tab = Tab::Latent);
    h.step();
    let data = state(&h).shared.data.clone();
    state(&h).shared.a().worker.send(Command::Adopt {
        model: trained(Variant::Dense),
        data,
    });
    assert!(wait_until(&mut h, T, |a| a.latent.map().is_some()));
    h.step();
    assert!(
        state(&h).latent.panes[1].map().is_none(),
        "no B yet: one map"
    );
    assert!(h.query_by_label_contains("B: vae").is_none());

    state_mut(&mut h)
        .shared
        .adopt_compare(trained(Variant::Vae))
        .unwrap();
    assert!(
        wait_until(&mut h, T, |a| a.latent.panes[1].map().is_some()
            && !a.latent.panes[1].scatter.is_moving()
            && !a.latent.panes[0].scatter.is_moving()),
        "B's map appears beside A's"
    );
    h.step();
    let a = state(&h);
    let (ma, mb) = (a.latent.map().unwrap(), a.latent.panes[1].map().unwrap());
    assert_eq!(ma.model.config().variant, Variant::Dense);
    assert_eq!(mb.model.config().variant, Variant::Vae);
    assert_eq!(ma.points.len(), mb.points.len(), "the same images");
    assert!(h
        .query_by_label_contains("A: dense 784-256-128-2")
        .is_some());
    assert!(h.query_by_label_contains("B: vae 784-256-128-2").is_some());
    // The two maps sit side by side, the same size.
    let xa = a.latent.panes[0].scatter.last_transform.unwrap().screen;
    let xb = a.latent.panes[1].scatter.last_transform.unwrap().screen;
    assert!(xb.left() >= xa.right(), "{xa:?} then {xb:?}");
    assert!((xa.width() - xb.width()).abs() < 1.0 && (xa.height() - xb.height()).abs() < 1.0);

    // Hiding a class hides it in both maps (one legend).
    state_mut(&mut h).latent.hidden[3] = true;
    h.step();
    let xf = state(&h).latent.panes[1].scatter.last_transform.unwrap();
    let mb = state(&h).latent.panes[1].map().unwrap().clone();
    let inner = xf.screen.shrink(30.0);
    let visible =
        |i: &usize| mb.points.labels[*i] != 3 && inner.contains(xf.to_screen(mb.points.xy[*i]));
    let i = (0..mb.points.len())
        .find(visible)
        .expect("a visible point on B's map");
    // Clicking a point on B's map selects that image in both maps, with B's reconstruction.
    click_at(&mut h, xf.to_screen(mb.points.xy[i]));
    h.step();
    let a = state(&h);
    let sel = a.latent.selected.as_ref().expect("selected from B's map");
    let at = xf.to_screen(mb.points.xy[sel.index]);
    assert!((at - xf.to_screen(mb.points.xy[i])).length() < 1.0);
    let (_, ri, recon) = a.latent.panes[1]
        .recon
        .as_ref()
        .expect("B's reconstruction");
    assert_eq!(*ri, sel.index);
    let expected = mb
        .model
        .reconstruct(mb.split_data().image(sel.index))
        .unwrap();
    assert_eq!(recon, &expected);
    assert!(a.latent.decoded.is_none(), "B's map decodes nothing");
    assert!(
        h.query_by_label("B: vae").is_some(),
        "B's reconstruction is captioned"
    );
    // Deselected then selected again: B's reconstruction comes back.
    let index = sel.index;
    state_mut(&mut h).latent.selected = None;
    h.step();
    assert!(state(&h).latent.panes[1].recon.is_none());
    state_mut(&mut h).latent.select(index);
    h.step();
    assert_eq!(
        state(&h).latent.panes[1].recon.as_ref().map(|r| r.1),
        Some(index)
    );

    // Turning the comparison off goes back to the single map.
    state_mut(&mut h).shared.settings.compare = false;
    h.step();
    h.step();
    assert!(state(&h).latent.panes[1].map().is_none());
    assert!(state(&h).latent.map().is_some());
    assert!(h.query_by_label_contains("B: vae 784").is_none());
}

#[test]
fn latent_maps_of_both_runs_follow_the_epochs() {
    let (mut h, _d) = comparing(4);
    h.step();
    h.get_by_label("Start").click();
    h.step();
    state_mut(&mut h).tab = Tab::Latent;
    // Both maps show the second epoch while training goes on (or after it ended).
    assert!(wait_until(&mut h, T, |a| {
        let e =
            |m: Option<&Arc<bottleneck::app::panels::latent::LatentMap>>| m.map_or(0, |m| m.epoch);
        e(a.latent.map()) >= 2 && e(a.latent.panes[1].map()) >= 2
    }));
    assert!(wait_until(&mut h, T, |a| a.shared.runs_state()
        == RunState::Idle
        && a.latent.panes[1].map().is_some_and(|m| m.epoch == 4)
        && a.latent.map().is_some_and(|m| m.epoch == 4)));
    // The timeline replays both: B shows its map of the same epoch.
    state_mut(&mut h).latent.timeline = Some(0);
    assert!(wait_until(&mut h, T, |a| a.latent.panes[1]
        .map()
        .is_some_and(|m| m.epoch == 1)
        && a.latent.map().is_some_and(|m| m.epoch == 1)));
}

#[test]
fn invalid_settings_start_neither_run() {
    let (mut h, _d) = app(|a: &mut App| {
        // BCE needs outputs in [0, 1]; the linear autoencoder's output is unbounded.
        let mut c = TrainConfig::preset(Variant::Linear, 2);
        c.loss = bottleneck::model::LossKind::Bce;
        a.shared.settings.train = c;
        a.shared.settings.compare = true;
    });
    h.step();
    h.get_by_label("Start").click();
    h.step();
    h.step();
    assert_eq!(state(&h).shared.runs_state(), RunState::Idle);
    assert!(
        state(&h).shared.b().is_none(),
        "B is not started (nor its worker) when the form is refused"
    );
    assert!(h
        .query_by_label_contains("Cannot start: BCE needs")
        .is_some());
}

#[test]
fn snapshot_renders_the_comparison() {
    let find = |k: &str| Arc::new(bottleneck::model::bundled::find(k).unwrap().load().unwrap());
    for tab in [Tab::Latent, Tab::Train] {
        let img = render(&SnapshotRequest {
            tab,
            model: Some(find("dense-2d")),
            compare: Some(find("vae-2d")),
            width: 900.0,
            height: 600.0,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((img.width(), img.height()), (900, 600));
    }
    // A model B that cannot be read is a one-line error naming it.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args([
            "snapshot",
            "--panel",
            "latent",
            "--compare",
            "/nonexistent/b.safetensors",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/b"), "{err}");
    assert!(!out.exists());
}

#[test]
fn loading_a_model_as_a_leaves_run_b_training() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.safetensors");
    bottleneck::model::io::save(&trained(Variant::Dense), &path).unwrap();
    let p2 = path.clone();
    let (mut h, _d) = app(move |a: &mut App| {
        a.shared.settings.train = form(500);
        a.shared.settings.compare = true;
        a.shared.dialog_override = Some(p2);
    });
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.b().is_some()
        && a.shared.a().view.global_step > 0
        && b_run(a).global_step > 0));
    h.get_by_label("Load model…").click();
    assert!(
        wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Idle
            && a.shared.a().view.history.len() == 1),
        "A stops and shows the loaded model"
    );
    let b_steps = b_run(state(&h)).global_step;
    assert!(
        wait_until(&mut h, T, |a| b_run(a).global_step > b_steps + 3),
        "B trains on"
    );
    assert_eq!(b_run(state(&h)).state, RunState::Running);
    // Stop still reaches B.
    h.get_by_label("Stop").click();
    assert!(wait_until(&mut h, T, |a| a.shared.runs_state() == RunState::Idle));
}

#[test]
fn csv_exports_write_run_b_beside_run_a() {
    let (mut h, _d) = comparing(1);
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| {
        let b = a.shared.b();
        a.shared.runs_state() == RunState::Idle
            && a.shared.a().snapshot.is_some()
            && b.is_some_and(|b| b.snapshot.is_some() && !b.view.history.is_empty())
    }));
    let dir = tempfile::tempdir().unwrap();
    for (kind, name) in [
        (ExportKind::CodesCsv, "codes.csv"),
        (ExportKind::HistoryCsv, "history.csv"),
    ] {
        state_mut(&mut h).shared.dialog_override = Some(dir.path().join(name));
        let a = state_mut(&mut h);
        a.exporter.start(kind, Tab::Latent, &mut a.shared);
        assert!(wait_until(&mut h, T, |a| !a.exporter.busy()));
    }
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    let (codes_a, codes_b) = (read("codes.csv"), read("codes-B.csv"));
    for c in [&codes_a, &codes_b] {
        assert!(c.starts_with("label,z1,z2\n"));
        assert_eq!(c.lines().count(), 2001);
    }
    assert_ne!(codes_a, codes_b, "B's file holds B's codes");
    let (hist_a, hist_b) = (read("history.csv"), read("history-B.csv"));
    assert_eq!(hist_a.lines().count(), 2);
    assert_eq!(hist_b.lines().count(), 2);
    assert!(
        hist_b.lines().next().unwrap().contains("kl") && !hist_a.contains("kl"),
        "B is the VAE: its history has the KL term"
    );
    let notice = &state(&h).shared.notices;
    assert!(notice
        .iter()
        .any(|n| n.text.contains("history.csv and") && n.text.contains("history-B.csv")));
}
