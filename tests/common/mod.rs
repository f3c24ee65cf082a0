//! Shared helpers for the application's tests: an app in a headless egui_kittest harness with
//! its own settings folder, waiting (in real time, stepping frames) for the worker thread, and
//! files dropped on the window; the engine's helpers (trained models, Fashion-MNIST, files made
//! on the fly) come from `crates/engine/tests/common` through the `engine` module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bottleneck::app::{App, AppOptions};
use bottleneck::data::Dataset;
use bottleneck::model::{TrainedModel, Variant};
use egui_kittest::Harness;

#[path = "../../crates/engine/tests/common/mod.rs"]
mod engine;
pub use engine::*;

pub type AppHarness = Harness<'static, Option<App>>;

/// Runs the `bottleneck` binary with `args`, as a user on the command line would.
pub fn bottleneck(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A file of the repository by its path from the top, as text for a command line.
pub fn asset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

/// The app on the embedded dataset, 1280×800, settings in a fresh temporary folder (kept alive
/// by the returned guard).
pub fn app(setup: impl FnOnce(&mut App) + 'static) -> (AppHarness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data: Some(bottleneck::data::DatasetSource::Embedded),
        import: None,
        settings_path: Some(dir.path().join("settings.json")),
        load_bundled: false,
    };
    (harness_with(opts, setup), dir)
}

/// The app built from `opts` (as the binary would build it), 1280×800, deterministic, with
/// `setup` run once on it before its first frame.
pub fn harness_with(opts: AppOptions, setup: impl FnOnce(&mut App) + 'static) -> AppHarness {
    let builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    bottleneck::app::snapshot::harness(builder, opts, move |a| {
        a.deterministic = true;
        setup(a);
    })
}

pub fn state(h: &AppHarness) -> &App {
    h.state()
        .as_ref()
        .expect("the app is built on the first frame")
}

pub fn state_mut(h: &mut AppHarness) -> &mut App {
    h.state_mut()
        .as_mut()
        .expect("the app is built on the first frame")
}

/// Hands `model` to run A's worker (as if loaded), after a first frame.
pub fn adopt(h: &mut AppHarness, model: Arc<TrainedModel>) {
    h.step();
    let data = state(h).shared.data.clone();
    state(h).shared.a().adopt(model, data);
}

/// Steps frames until `cond` holds (true) or `timeout` passes (false).
pub fn wait_until(h: &mut AppHarness, timeout: Duration, cond: impl Fn(&App) -> bool) -> bool {
    let start = Instant::now();
    loop {
        h.step();
        if cond(state(h)) {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A 2-D `variant` model trained one epoch on the embedded digits, trained once per test
/// binary and shared by its tests.
pub fn one_epoch_2d(variant: Variant) -> Arc<TrainedModel> {
    static CACHE: Mutex<Vec<(Variant, Arc<TrainedModel>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, m)) = cache.iter().find(|(v, _)| *v == variant) {
        return m.clone();
    }
    let data = Arc::new(Dataset::embedded().unwrap());
    let m = Arc::new(train_model(data, variant, 2, 1));
    cache.push((variant, m.clone()));
    m
}

/// A file dropped on the window.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops `paths` onto the window, then runs a frame.
pub fn drop_files(h: &mut AppHarness, paths: &[PathBuf]) {
    for p in paths {
        h.input_mut()
            .dropped_files
            .push(Arc::new(Dropped(p.clone())));
    }
    h.step();
}

/// Presses at `from`, moves to `to` in a few frames, releases.
pub fn mouse_drag(h: &mut AppHarness, from: egui::Pos2, to: egui::Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for i in 1..=6 {
        h.hover_at(from + (to - from) * (i as f32 / 6.0));
        h.step();
    }
    h.drop_at(to);
    h.step();
    h.step();
}
