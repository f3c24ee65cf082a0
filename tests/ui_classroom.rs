//! Classroom mode: a fresh start opens on a trained latent map, lessons set what they say,
//! shortcuts, presenter mode, exports, and headless snapshots of every panel.

mod common;

use std::time::Duration;

use bottleneck::app::lessons;
use bottleneck::app::snapshot::{render, SnapshotRequest};
use bottleneck::app::{AppOptions, Tab};
use bottleneck::train::worker::RunState;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(60);

/// The app as the real binary starts it: built-in models, settings in `dir`.
fn real_start(dir: &std::path::Path) -> AppHarness {
    let opts = AppOptions {
        data: None,
        import: None,
        settings_path: Some(dir.join("settings.json")),
        load_bundled: true,
    };
    harness_with(opts, |_| {})
}

#[test]
fn a_fresh_start_shows_the_trained_latent_map() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = real_start(dir.path());
    h.step();
    assert_eq!(
        state(&h).tab,
        Tab::Latent,
        "no settings: open on the latent map"
    );
    assert!(wait_until(&mut h, T, |a| a
        .shared
        .a()
        .snapshot
        .as_ref()
        .is_some_and(|s| !s.test_codes.is_empty())));
    let a = state(&h);
    let m = a.shared.model().unwrap();
    assert_eq!(m.latent(), 2);
    assert!(
        m.meta.epochs_trained > 0,
        "a trained model, not a fresh one"
    );
    assert!(
        a.shared.session_models.len() >= 4,
        "the other built-in models are offered too"
    );
    // Saved settings mean this is no longer a fresh start: the remembered tab wins.
    let mut a = h.into_state().unwrap();
    a.tab = Tab::Pca;
    a.shared.settings.tab = Tab::Pca;
    a.on_exit();
    drop(a);
    let mut h2 = real_start(dir.path());
    h2.step();
    assert_eq!(state(&h2).tab, Tab::Pca);
}

#[test]
fn lessons_move_through_the_course_and_set_the_form() {
    // The course is files now (assets/lessons): open the first lesson from the Lessons menu
    // and walk its steps; each sets the form (or a built-in model) and switches to its panel.
    let (mut h, _d) = app(|_| {});
    h.step();
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    let first = lessons::built_in(0).unwrap().unwrap();
    h.get_by_label(&format!("1. {}", first.title)).click();
    h.run_steps(2);
    let steps: Vec<lessons::Step> = first.steps.iter().map(|s| s.clone().unwrap()).collect();
    let n = steps.len();
    assert!(h
        .query_by_label_contains(&format!("Step 1 of {n}"))
        .is_some());
    h.get_by_label("Use these settings").click();
    h.step();
    h.step();
    let check = |a: &bottleneck::app::App, s: &lessons::Step| {
        assert_eq!(a.tab, s.panel, "{}", s.title);
        match &s.model {
            Some(lessons::ModelChoice::Train(c)) => assert_eq!(&a.shared.settings.train, c),
            Some(lessons::ModelChoice::Bundled(k)) => assert_eq!(
                a.shared.settings.train.model.latent,
                bottleneck::model::bundled::find(k)
                    .unwrap()
                    .load()
                    .unwrap()
                    .latent()
            ),
            None => {}
        }
    };
    check(state(&h), &steps[0]);
    for (i, step) in steps.iter().enumerate().skip(1) {
        h.get_by_label("Next").click();
        h.step();
        h.step();
        assert!(h
            .query_by_label_contains(&format!("Step {} of {n}", i + 1))
            .is_some());
        check(state(&h), step);
    }
    h.get_by_label("Back").click();
    h.step();
    h.step();
    check(state(&h), &steps[n - 2]);
}

#[test]
fn keyboard_shortcuts() {
    let (mut h, _d) = app(|a| {
        let mut c = bottleneck::model::TrainConfig::preset(bottleneck::model::Variant::Dense, 2);
        c.epochs = 200;
        a.shared.settings.train = c;
    });
    h.step();
    for (key, tab) in [
        (egui::Key::Num2, Tab::Latent),
        (egui::Key::Num5, Tab::Pca),
        (egui::Key::Num1, Tab::Train),
    ] {
        h.key_press(key);
        h.step();
        assert_eq!(state(&h).tab, tab);
    }
    h.key_press(egui::Key::F1);
    h.step();
    assert!(state(&h).help_open);
    assert!(h
        .query_by_label_contains("Start, pause or resume training")
        .is_some());
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(!state(&h).help_open);
    h.key_press(egui::Key::F5);
    h.step();
    assert!(state(&h).shared.settings.presenter);
    // The zoom follows the window (1280×800 here).
    let want = bottleneck::app::chrome::presenter_zoom(egui::vec2(1280.0, 800.0));
    assert!((h.ctx.zoom_factor() - want).abs() < 1e-3);
    h.key_press(egui::Key::F5);
    h.step();
    assert!(!state(&h).shared.settings.presenter);
    // Space starts, then pauses.
    h.key_press(egui::Key::Space);
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Running));
    h.key_press(egui::Key::Space);
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Paused));
    let before = state(&h).shared.a().view.global_step;
    wait_until(&mut h, Duration::from_millis(300), |_| false);
    let before = state(&h).shared.a().view.global_step.max(before);
    h.key_press(egui::Key::S);
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.global_step == before + 1));
    // Arrows move the interpolation slider.
    h.key_press(egui::Key::Num3);
    h.step();
    let t0 = state(&h).interpolate.t;
    h.key_press(egui::Key::ArrowRight);
    h.step();
    assert!((state(&h).interpolate.t - (t0 + 0.05).min(1.0)).abs() < 1e-6);
}

#[test]
fn presenter_mode_collapses_the_settings_and_enlarges_everything() {
    let (mut h, _d) = app(|_| {});
    h.step();
    assert!(h.query_by_label("Open dataset…").is_some());
    h.get_by_label("Presenter").click();
    h.step();
    h.step();
    assert!(
        h.query_by_label("Open dataset…").is_none(),
        "the side panel is collapsed"
    );
    assert!(state(&h).shared.draw_scale() > 1.0);
    // Zoomed, so click through accessibility (kittest's pointer positions ignore the zoom).
    // With eight tabs the zoomed top bar folds its buttons into the Menu (once the zoom has
    // taken effect): open it first.
    h.run_steps(2);
    if state(&h).bar_layout != bottleneck::app::chrome::BarLayout::Full {
        h.get_by_label(bottleneck::app::chrome::MENU)
            .click_accesskit();
        h.step();
        h.step();
    }
    h.get_by_label("Settings").click_accesskit();
    h.step();
    h.step();
    assert!(state(&h).presenter_sidebar);
    assert!(
        h.query_by_label("Open dataset…").is_some(),
        "and can be shown again"
    );
}

#[test]
fn exports_write_csv_and_png_files() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, _d) = app(|a| {
        let mut c = bottleneck::model::TrainConfig::preset(bottleneck::model::Variant::Dense, 2);
        c.epochs = 1;
        a.shared.settings.train = c;
    });
    h.step();
    h.get_by_label("Start").click();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state
        == RunState::Idle
        && a.shared.a().snapshot.is_some()));

    let codes = dir.path().join("codes.csv");
    state_mut(&mut h).shared.dialog_override = Some(codes.clone());
    let a = state_mut(&mut h);
    a.exporter.start(
        bottleneck::app::export::ExportKind::CodesCsv,
        Tab::Latent,
        &mut a.shared,
    );
    assert!(wait_until(&mut h, T, |a| !a.exporter.busy()));
    let text = std::fs::read_to_string(&codes).unwrap();
    assert!(text.starts_with("label,z1,z2\n"));
    assert_eq!(text.lines().count(), 2001);
    assert!(
        !dir.path().join("codes-B.csv").exists(),
        "no run B, no second file"
    );

    let hist = dir.path().join("history.csv");
    state_mut(&mut h).shared.dialog_override = Some(hist.clone());
    let a = state_mut(&mut h);
    a.exporter.start(
        bottleneck::app::export::ExportKind::HistoryCsv,
        Tab::Train,
        &mut a.shared,
    );
    assert!(wait_until(&mut h, T, |a| !a.exporter.busy()));
    let text = std::fs::read_to_string(&hist).unwrap();
    assert!(text.starts_with("epoch,train_reconstruction"));
    assert_eq!(text.lines().count(), 2);

    // The panel as on screen: a window screenshot cropped to the panel.
    let png = dir.path().join("panel.png");
    state_mut(&mut h).shared.dialog_override = Some(png.clone());
    let a = state_mut(&mut h);
    a.exporter.start(
        bottleneck::app::export::ExportKind::PanelPng,
        Tab::Train,
        &mut a.shared,
    );
    assert!(wait_until(&mut h, T, |a| !a.exporter.busy()));
    let img = image::open(&png).expect("a PNG was written").to_rgba8();
    let rect = state(&h).shared.panel_rect;
    assert_eq!(img.width() as f32, rect.width().round());
    assert_eq!(img.height() as f32, rect.height().round());
    assert!(not_blank(&img));
}

fn not_blank(img: &image::RgbaImage) -> bool {
    let first = img.get_pixel(0, 0);
    img.pixels().filter(|p| *p != first).count() > (img.width() * img.height()) as usize / 20
}

#[test]
fn snapshot_renders_every_panel_at_the_requested_size() {
    for tab in Tab::ALL {
        let req = SnapshotRequest {
            tab,
            width: 900.0,
            height: 600.0,
            ..Default::default()
        };
        let img = render(&req).unwrap_or_else(|e| panic!("{}: {e}", tab.cli_name()));
        assert_eq!(
            (img.width(), img.height()),
            (900, 600),
            "{}",
            tab.cli_name()
        );
        assert!(not_blank(&img), "{} rendered blank", tab.cli_name());
    }
    let big = render(&SnapshotRequest {
        tab: Tab::Train,
        width: 640.0,
        height: 400.0,
        scale: 2.0,
        presenter: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!((big.width(), big.height()), (1280, 800));
    assert!(render(&SnapshotRequest {
        width: 10.0,
        ..Default::default()
    })
    .is_err());
}
