//! A long run stays bounded in memory: 300 epochs on a tiny slice of the digits keep at most
//! `MAX_EPOCH_SNAPSHOTS` timeline snapshots (first and last epoch kept, thinned evenly), the
//! step curve and history stay under their caps, the Latent space panel says the timeline was
//! thinned, and the timeline still replays from the first kept epoch to the last.

mod common;

use std::time::Duration;

use bottleneck::app::state::{MAX_CURVE_POINTS, MAX_EPOCH_SNAPSHOTS};
use bottleneck::app::{App, Tab};
use bottleneck::data::Dataset;
use bottleneck::model::{TrainConfig, Variant};
use bottleneck::train::worker::RunState;
use common::*;
use egui_kittest::kittest::Queryable;

#[test]
fn three_hundred_epochs_keep_a_bounded_timeline_that_still_replays() {
    let (mut h, _dir) = app(|a: &mut App| {
        let mut cfg = TrainConfig::preset(Variant::Dense, 2);
        cfg.epochs = 300;
        cfg.batch = 64;
        a.shared.settings.train = cfg;
        a.tab = Tab::Latent;
    });
    h.step();
    let full = Dataset::embedded().unwrap();
    let mut tiny = full.clone();
    tiny.train = full.train.take(128);
    tiny.test = full.test.take(64);
    let app = state_mut(&mut h);
    app.shared.set_dataset(tiny);
    app.shared.start_training().unwrap();
    let started = wait_until(&mut h, Duration::from_secs(60), |a| {
        a.shared.a().view.state == RunState::Running || !a.shared.a().view.history.is_empty()
    });
    assert!(started, "training never started");
    let done = wait_until(&mut h, Duration::from_secs(600), |a| {
        a.shared.runs_state() == RunState::Idle
    });
    assert!(done, "300 epochs did not finish");

    let run = state(&h).shared.a();
    let snaps = &run.epoch_snapshots;
    assert!(
        snaps.len() <= MAX_EPOCH_SNAPSHOTS,
        "{} snapshots",
        snaps.len()
    );
    assert!(
        snaps.len() >= MAX_EPOCH_SNAPSHOTS / 2,
        "{} snapshots",
        snaps.len()
    );
    assert_eq!(snaps[0].epoch, 1);
    assert_eq!(snaps.last().unwrap().epoch, 300);
    assert!(snaps.windows(2).all(|w| w[0].epoch < w[1].epoch));
    assert!(run.timeline_thinned());
    assert!(run.view.step_curve.len() <= MAX_CURVE_POINTS);
    assert_eq!(run.view.history.len(), 300);
    let kept = snaps.len();

    // The panel notes the thinning and the timeline replays every kept epoch.
    let ready = wait_until(&mut h, Duration::from_secs(60), |a| {
        a.latent.map().is_some()
    });
    assert!(ready, "no latent map");
    h.get_by_label(&format!("({kept} epochs kept)"));
    h.get_by_label("Replay").click();
    h.step();
    assert_eq!(state(&h).latent.timeline, Some(0));
    let replayed = wait_until(&mut h, Duration::from_secs(300), |a| !a.latent.playing);
    assert!(replayed, "the replay never ended");
    assert_eq!(
        state(&h).latent.timeline,
        Some(kept - 1),
        "the replay stopped early"
    );
    let first = state(&h).shared.a().snapshot_at(Some(1)).unwrap().epoch;
    assert_eq!(first, 1);
    let stride = run_stride(&h);
    let mid = state(&h).shared.a().snapshot_at(Some(150)).unwrap().epoch;
    assert!(mid <= 150 && mid > 150 - stride, "epoch 150 shows {mid}");
}

fn run_stride(h: &AppHarness) -> usize {
    state(h).shared.a().epoch_snapshots.stride()
}
