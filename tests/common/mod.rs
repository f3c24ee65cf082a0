//! Shared helpers for the egui_kittest UI tests: an app in a headless harness with its own
//! settings folder, and waiting (in real time, stepping frames) for the worker thread.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bottleneck::app::{App, AppOptions};
use egui_kittest::Harness;

pub type AppHarness = Harness<'static, Option<App>>;

/// The app on the embedded dataset, 1280×800, settings in a fresh temporary folder (kept alive
/// by the returned guard).
pub fn app(setup: impl FnOnce(&mut App) + 'static) -> (AppHarness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data: Some("embedded".into()),
        settings_path: Some(dir.path().join("settings.json")),
        load_bundled: false,
    };
    let mut setup = Some(setup);
    let harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    let mut a = App::new(ui.ctx(), opts.clone());
                    a.deterministic = true;
                    if let Some(f) = setup.take() {
                        f(&mut a);
                    }
                    a
                });
                app.show(ui);
            },
            None,
        );
    (harness, dir)
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
