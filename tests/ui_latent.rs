//! The Latent space and Interpolate panels driven through egui_kittest: clicking a point
//! selects it and shows its reconstruction, clicking empty space decodes that location, the
//! view survives a model update, the manifold, a VAE's prior samples, the training split,
//! pictures dropped on the panel (good and bad), and the interpolation slider.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::panels::latent::SplitChoice;
use bottleneck::app::widgets::scatter::ViewTransform;
use bottleneck::app::{App, Tab};
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::worker::Command;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

/// A 2-D dense AE trained one epoch on the embedded digits (once for all tests).
fn dense2() -> Arc<TrainedModel> {
    one_epoch_2d(Variant::Dense)
}

/// The app on `tab` with `model` adopted, once its map is drawn and the view settled.
fn app_with(model: Arc<TrainedModel>, tab: Tab) -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(move |a: &mut App| a.tab = tab);
    adopt(&mut h, model);
    let ready = wait_until(&mut h, T, |a| match a.tab {
        Tab::Interpolate => a.interpolate.map().is_some() && !a.interpolate.scatter.is_moving(),
        _ => a.latent.map().is_some() && !a.latent.panes[0].scatter.is_moving(),
    });
    assert!(ready, "the latent map never appeared");
    h.step();
    (h, dir)
}

fn click_at(h: &mut AppHarness, pos: egui::Pos2) {
    h.hover_at(pos);
    h.step();
    h.drag_at(pos);
    h.step();
    h.drop_at(pos);
    h.step();
}

fn transform(a: &App) -> ViewTransform {
    a.latent.panes[0]
        .scatter
        .last_transform
        .expect("the map was drawn")
}

#[test]
fn clicking_a_point_selects_it_and_shows_its_reconstruction() {
    let model = dense2();
    let (mut h, _d) = app_with(model.clone(), Tab::Latent);
    let a = state(&h);
    assert!(a.latent.selected.is_none());
    let xf = transform(a);
    let map = a.latent.map().unwrap().clone();
    let inner = xf.screen.shrink(30.0);
    // A point well inside the plot.
    let i = (0..map.points.len())
        .find(|&i| inner.contains(xf.to_screen(map.points.xy[i])))
        .expect("a point inside the plot");
    let pos = xf.to_screen(map.points.xy[i]);
    click_at(&mut h, pos);

    let a = state(&h);
    let sel = a.latent.selected.as_ref().expect("a point is selected");
    // The selected point is the one under the pointer (or one exactly on top of it).
    let at = xf.to_screen(map.points.xy[sel.index]);
    assert!(
        (at - pos).length() < 1.0,
        "selected {} at {at:?}, clicked {pos:?}",
        sel.index
    );
    let expected = model
        .reconstruct(map.split_data().image(sel.index))
        .unwrap();
    let (_, index, recon) = a.latent.panes[0]
        .recon
        .as_ref()
        .expect("A's reconstruction");
    assert_eq!(*index, sel.index);
    assert!(
        max_diff(recon, &expected) < 1e-6,
        "its reconstruction is shown"
    );
    assert!(
        a.latent.decoded.is_none(),
        "clicking a point decodes nothing else"
    );
    let label = format!("test image #{}", sel.index);
    assert!(
        h.query_by_label_contains(&label).is_some(),
        "the side panel names it"
    );
    assert!(h.query_by_label("reconstruction").is_some());
}

#[test]
fn clicking_empty_space_decodes_that_location() {
    let model = dense2();
    let (mut h, _d) = app_with(model.clone(), Tab::Latent);
    let a = state(&h);
    let xf = transform(a);
    let map = a.latent.map().unwrap().clone();
    let inner = xf.screen.shrink(40.0);
    let mut empty = None;
    'search: for gy in 0..30 {
        for gx in 0..30 {
            let p = egui::pos2(
                inner.min.x + inner.width() * gx as f32 / 29.0,
                inner.min.y + inner.height() * gy as f32 / 29.0,
            );
            if map.points.hit(&xf, p, 12.0, &[]).is_none() {
                empty = Some(p);
                break 'search;
            }
        }
    }
    let pos = empty.expect("an empty place on the map");
    click_at(&mut h, pos);

    let a = state(&h);
    assert!(a.latent.selected.is_none(), "no point was hit");
    let d = a.latent.decoded.as_ref().expect("the location is decoded");
    let want = xf.to_data(pos);
    let s = xf.scale();
    assert!(((d.xy[0] - want[0]) * s.x).abs() < 1.0 && ((d.xy[1] - want[1]) * s.y).abs() < 1.0);
    // A 2-D code is the location itself.
    assert_eq!(d.code, d.xy.to_vec());
    assert!(max_diff(&d.pixels, &model.decode(&d.code).unwrap()) < 1e-6);
    let (lo, hi) = d
        .pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, u), &v| (l.min(v), u.max(v)));
    assert!(hi - lo > 0.2, "an image, not a flat square");
    assert!(h
        .query_by_label_contains("Decoded at the clicked location")
        .is_some());
}

#[test]
fn a_model_update_keeps_the_users_zoom() {
    let model = dense2();
    let (mut h, _d) = app_with(model.clone(), Tab::Latent);
    let xf = transform(state(&h));
    let c = xf.screen.center();
    h.hover_at(c);
    for _ in 0..3 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 60.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: Default::default(),
        });
        h.step();
    }
    for _ in 0..10 {
        h.step();
    }
    let zoomed = state(&h).latent.panes[0].scatter.view.unwrap();
    assert!(zoomed.width() < xf.data.width() * 0.9, "the wheel zooms in");
    assert!(!state(&h).latent.panes[0].scatter.follow);

    // The same weights as a new snapshot: a new map, as after an epoch.
    let old = Arc::as_ptr(state(&h).latent.map().unwrap());
    let data = state(&h).shared.data.clone();
    state(&h).shared.a().worker.send(Command::Adopt {
        model: Arc::new((*model).clone()),
        data,
    });
    assert!(wait_until(&mut h, T, |a| a
        .latent
        .map()
        .is_some_and(|m| Arc::as_ptr(m) != old)));
    h.step();
    assert_eq!(
        state(&h).latent.panes[0].scatter.view.unwrap(),
        zoomed,
        "the view is kept"
    );

    // "Fit view" shows everything again.
    h.get_by_label("Fit view").click();
    assert!(wait_until(&mut h, T, |a| !a.latent.panes[0]
        .scatter
        .is_moving()));
    let fitted = state(&h).latent.panes[0].scatter.view.unwrap();
    assert!(fitted.width() > zoomed.width() * 1.1);
}

#[test]
fn the_manifold_tiles_decoded_images_under_the_points() {
    let (mut h, _d) = app_with(dense2(), Tab::Latent);
    assert_eq!(state(&h).latent.manifold_size(), None);
    h.get_by_label("Manifold").click();
    assert!(wait_until(&mut h, T, |a| a
        .latent
        .manifold_size()
        .is_some()));
    let (cols, rows) = state(&h).latent.manifold_size().unwrap();
    assert!(
        cols.min(rows) == 15 || cols.min(rows) == 14,
        "about 15 tiles on the shorter side: {cols} x {rows}"
    );
}

#[test]
fn the_training_split_is_encoded_in_the_background() {
    let (mut h, _d) = app_with(dense2(), Tab::Latent);
    state_mut(&mut h).latent.split = SplitChoice::Train;
    assert!(wait_until(&mut h, T, |a| a
        .latent
        .map()
        .is_some_and(|m| m.split == SplitChoice::Train)));
    let a = state(&h);
    let m = a.latent.map().unwrap();
    assert_eq!(m.points.len(), a.shared.data.train.len());
    let model = dense2();
    let first = model.encode(a.shared.data.train.image(0)).unwrap();
    for (x, y) in m.code(0).iter().zip(&first) {
        assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn a_vae_samples_from_its_prior() {
    let mut cfg = TrainConfig::preset(Variant::Vae, 4);
    cfg.epochs = 1;
    let vae = Arc::new(TrainedModel::new(&cfg, "embedded").unwrap());
    let (mut h, _d) = app_with(vae, Tab::Latent);
    assert!(
        h.query_by_label_contains("shown on PC1 and PC2").is_some(),
        "a 4-value code is projected"
    );
    h.get_by_label("Sample from the prior").click();
    h.step();
    let p = state(&h).latent.prior.as_ref().expect("samples");
    assert_eq!(p.z.len(), 16 * 4);
    assert_eq!(p.pixels.len(), 16 * 784);
    assert_eq!(p.xy.len(), 16);
}

fn drop_file(h: &mut AppHarness, path: &Path) {
    drop_files(h, &[path.to_path_buf()]);
}

/// A dark stroke on white paper, like a photo of a drawn digit.
fn write_digit_png(path: &Path) {
    let mut img = image::GrayImage::from_pixel(60, 60, image::Luma([250]));
    for y in 10..50 {
        for x in 27..34 {
            img.put_pixel(x, y, image::Luma([20]));
        }
    }
    img.save(path).unwrap();
}

#[test]
fn a_dropped_picture_is_placed_and_a_bad_one_explained() {
    let model = dense2();
    let (mut h, _d) = app_with(model.clone(), Tab::Latent);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("one.png");
    write_digit_png(&good);
    drop_file(&mut h, &good);
    assert!(wait_until(&mut h, T, |a| a.latent.picture.is_some()));
    let a = state(&h);
    let p = a.latent.picture.as_ref().unwrap();
    assert_eq!(p.picture.name, "one.png");
    let expected = bottleneck::data::preprocess::preprocess(
        &bottleneck::data::preprocess::load(&good).unwrap(),
    );
    assert_eq!(p.picture.pixels, expected.pixels);
    assert_eq!(p.code, model.encode(&expected.pixels).unwrap());
    assert_eq!(p.xy, [p.code[0], p.code[1]]);
    let placed = p.xy;
    h.step();
    assert!(h.query_by_label_contains("Your picture").is_some());

    let bad = dir.path().join("notes.png");
    std::fs::write(&bad, b"this is not a picture").unwrap();
    drop_file(&mut h, &bad);
    assert!(wait_until(&mut h, T, |a| a.latent.picture_error.is_some()
        && !a.latent.picture_pending()));
    let a = state(&h);
    let e = a.latent.picture_error.as_ref().unwrap();
    assert!(e.contains("notes.png"), "the message names the file: {e}");
    assert_eq!(
        a.latent.picture.as_ref().unwrap().xy,
        placed,
        "nothing else changes"
    );
    assert!(
        a.shared.notices.is_empty(),
        "the panel used the files: {:?}",
        a.shared.notices.len()
    );
    h.step();
    assert!(
        h.query_by_label_contains("notes.png").is_some(),
        "the error is on screen"
    );
}

#[test]
fn the_interpolation_slider_changes_the_shown_image() {
    let model = dense2();
    let (mut h, _d) = app_with(model.clone(), Tab::Interpolate);
    h.step();
    let a = state(&h);
    let p = &a.interpolate;
    let (ea, eb) = (
        p.a.as_ref().expect("A is picked"),
        p.b.as_ref().expect("B is picked"),
    );
    let labels = &a.shared.data.test.labels;
    assert_eq!(labels[ea.test_index.unwrap()], 2, "A is a random 2");
    assert_eq!(labels[eb.test_index.unwrap()], 7, "B is a random 7");
    let before = p.shown.clone().expect("an image at t");
    assert_eq!(p.t, 0.5);
    let (pa, pb) = (ea.pixels.clone(), eb.pixels.clone());

    h.get_by_role_and_label(egui::Role::Slider, "t")
        .set_value_accesskit(0.9);
    h.step();
    h.step();
    let p = &state(&h).interpolate;
    assert!((p.t - 0.9).abs() < 1e-6, "t = {}", p.t);
    let after = p.shown.clone().unwrap();
    assert_ne!(after, before, "the shown image changes");
    let za = model.encode(&pa).unwrap();
    let zb = model.encode(&pb).unwrap();
    let z = bottleneck::app::panels::interpolate::lerp(&za, &zb, p.t);
    assert!(
        max_diff(&after, &model.decode(&z).unwrap()) < 1e-5,
        "it is the decode at t"
    );
    let fade = p.crossfade.as_ref().unwrap();
    assert!((fade[300] - (0.1 * pa[300] + 0.9 * pb[300])).abs() < 1e-5);
    assert_eq!(p.strip.len(), p.steps * 784);

    // Spherical interpolation shows the decode of the slerp at the same t.
    h.get_by_label("spherical (slerp)").click();
    h.run();
    let p = &state(&h).interpolate;
    let zs = bottleneck::app::panels::interpolate::slerp(&za, &zb, p.t);
    let shown = p.shown.as_ref().unwrap();
    assert!(max_diff(shown, &model.decode(&zs).unwrap()) < 1e-5);
}

#[test]
fn clicking_the_interpolation_map_sets_the_endpoints() {
    let (mut h, _d) = app_with(dense2(), Tab::Interpolate);
    let a = state(&h);
    let xf = a.interpolate.scatter.last_transform.unwrap();
    let map = a.interpolate.map().unwrap().clone();
    let inner = xf.screen.shrink(30.0);
    let picks: Vec<usize> = (0..map.points.len())
        .filter(|&i| inner.contains(xf.to_screen(map.points.xy[i])))
        .step_by(97)
        .take(2)
        .collect();
    for &i in &picks {
        click_at(&mut h, xf.to_screen(map.points.xy[i]));
    }
    let a = state(&h);
    let ia = a.interpolate.a.as_ref().unwrap().test_index.unwrap();
    let ib = a.interpolate.b.as_ref().unwrap().test_index.unwrap();
    let near = |i: usize, j: usize| {
        (xf.to_screen(map.points.xy[i]) - xf.to_screen(map.points.xy[j])).length() < 1.0
    };
    assert!(
        near(ia, picks[0]) && near(ib, picks[1]),
        "A then B: {ia} {ib} {picks:?}"
    );
}

#[test]
fn animate_sweeps_t_until_the_slider_is_touched() {
    let (mut h, _d) = app_with(dense2(), Tab::Interpolate);
    h.get_by_label("Animate").click();
    h.step();
    let mut seen = Vec::new();
    for _ in 0..12 {
        h.step();
        seen.push(state(&h).interpolate.t);
    }
    let p = &state(&h).interpolate;
    assert!(p.animate, "still animating");
    let (lo, hi) = seen
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, u), &t| (l.min(t), u.max(t)));
    assert!(hi - lo > 0.2, "t moves: {seen:?}");
    assert!(seen.iter().all(|t| (0.0..=1.0).contains(t)));
    let shown = p.shown.clone();
    h.get_by_role_and_label(egui::Role::Slider, "t")
        .set_value_accesskit(0.25);
    h.step();
    h.step();
    let p = &state(&h).interpolate;
    assert!(!p.animate, "moving the slider stops the animation");
    assert_eq!(p.t, 0.25);
    assert_ne!(p.shown, shown);
}
