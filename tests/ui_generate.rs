//! The Generate panel driven through egui_kittest: a model that does not generate says what to
//! train and offers the built-in conditional VAE; with it, a digit drawn on the canvas is
//! written as all ten digits (the pixel probe recognises them as the digits asked for), the
//! style × class grid shows ten styles × ten classes, the held-out measure appears with what it
//! was measured on, prior samples per class, and the CSV export writes the images shown.

mod common;

use std::time::Duration;

use bottleneck::app::Tab;
use bottleneck::model::Variant;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(120);

fn shown_len(h: &AppHarness) -> usize {
    state(h)
        .generate
        .shown()
        .map_or(0, |s| s.images.len() / bottleneck::PIXELS)
}

/// Makes the built-in conditional VAE current and waits until it is.
fn adopt_builtin_cvae(h: &mut AppHarness) {
    let cvae = bottleneck::model::bundled::find("cvae-4d")
        .unwrap()
        .load()
        .unwrap();
    adopt(h, std::sync::Arc::new(cvae));
    assert!(wait_until(h, T, |a| a
        .shared
        .model()
        .is_some_and(|m| m.classes() == 10)));
}

#[test]
fn draw_a_digit_and_see_it_written_as_every_digit_then_the_grid() {
    let (mut h, dir) = app(|a| a.tab = Tab::Generate);
    // A dense autoencoder does not generate: the panel says what to train.
    adopt(&mut h, one_epoch_2d(Variant::Dense));
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));
    h.run_steps(2);
    h.get_by_label_contains("train a conditional VAE (variant cvae)");
    h.get_by_label("Use the built-in conditional VAE").click();
    h.run_steps(2);
    assert!(
        wait_until(&mut h, T, |a| a
            .shared
            .model()
            .is_some_and(|m| m.classes() == 10)),
        "the built-in CVAE became current"
    );
    h.run_steps(3);
    // A test image's style, written as every digit.
    h.get_by_label_contains("written as every digit");
    assert_eq!(shown_len(&h), 10);

    // Draw a digit: a long vertical stroke, a 1.
    h.get_by_label("Draw").click();
    h.run_steps(2);
    let canvas = h.get_by_label("Drawing canvas").rect();
    let p = |x: f32, y: f32| canvas.min + (canvas.size() * egui::vec2(x, y));
    mouse_drag(&mut h, p(0.55, 0.15), p(0.45, 0.85));
    assert!(!state(&h).generate.canvas.is_blank());
    // The probe trains in the background; then it reads the drawing and judges the ten.
    assert!(wait_until(&mut h, T, |a| !a.generate.working()));
    h.run_steps(3);
    let shown = state(&h).generate.shown().unwrap();
    assert_eq!(
        shown.asked,
        (0..10).collect::<Vec<u8>>(),
        "one of each digit"
    );
    assert_eq!(shown.images.len(), 10 * bottleneck::PIXELS);
    for c in 0..10 {
        h.get_by_label(&format!("Generated {c}"));
    }
    // What the panel says under the ten: the probe's verdict on them.
    h.get_by_label_contains("The pixel probe recognises");
    let a = state(&h);
    let probe = a.generate.judge().expect("the probe is trained");
    let rate = probe.recognition(&shown.images, &shown.asked);
    assert!(rate >= 0.9, "the probe recognised {rate} of the ten");
    // The held-out measure says what it was measured on, and is high.
    h.get_by_label_contains("Measured on the first 10 test images of each class");
    h.get_by_label_contains("(100 held-out digits)");
    let r = a.generate.held_out_report().expect("the held-out measure");
    assert!(
        r.recognition >= 0.9,
        "held-out recognition {}",
        r.recognition
    );
    assert!(
        r.style.nearest_own > 0.5,
        "style kept {}",
        r.style.nearest_own
    );

    // The style × class grid: the first test image of each class, written as every digit.
    h.get_by_label("Style × class grid").click();
    h.run_steps(3);
    assert_eq!(shown_len(&h), 100);
    h.get_by_label("Style by class grid");
    h.get_by_label_contains("land nearest their own source's style (of 10 sources)");

    // Prior samples per class, then the CSV export of what is shown.
    h.get_by_label("Prior samples").click();
    h.run_steps(3);
    assert_eq!(shown_len(&h), 80);
    let csv = dir.path().join("generated.csv");
    state_mut(&mut h).shared.dialog_override = Some(csv.clone());
    h.get_by_label("Export CSV…").click();
    h.run_steps(2);
    assert!(wait_until(&mut h, T, |a| !a.generate.working()));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 81, "a header and 80 images");
    assert!(lines[0].starts_with("label,p1,p2"));
    assert_eq!(lines[1].split(',').count(), 785);
    assert!(lines[80].starts_with("9,"), "the last row is a 9");
}

#[test]
fn a_dropped_picture_becomes_the_style_and_a_bad_file_only_leaves_a_message() {
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("seven.png");
    bottleneck::data::preprocess::save_png(&seven_on_paper(), &good).unwrap();
    let bad = files.path().join("notes.png");
    std::fs::write(&bad, b"these are my notes, not a picture").unwrap();
    let (mut h, _dir) = app(|a| a.tab = Tab::Generate);
    adopt_builtin_cvae(&mut h);
    drop_files(&mut h, std::slice::from_ref(&good));
    assert!(wait_until(&mut h, T, |a| a.generate.picture.is_some()
        && !a.generate.working()));
    h.run_steps(3);
    let a = state(&h);
    assert!(a.shared.dropped_files.is_empty(), "the panel took the drop");
    assert_eq!(
        a.generate.source,
        bottleneck::app::panels::generate::Source::Picture
    );
    assert!(a.generate.message.is_none(), "{:?}", a.generate.message);
    // Preprocessed MNIST-style (light ink on dark), written as every digit.
    let px = &a.generate.picture.as_ref().unwrap().pixels;
    assert!(px.iter().filter(|&&v| v > 0.5).count() > 30, "ink found");
    assert_eq!(shown_len(&h), 10);
    h.get_by_label_contains("written as every digit");
    h.get_by_label("(the probe's guess)");
    // A file that is not a picture leaves a message and keeps the picture.
    drop_files(&mut h, std::slice::from_ref(&bad));
    assert!(wait_until(&mut h, T, |a| a.generate.message.is_some()));
    let a = state(&h);
    assert!(a.generate.picture.is_some());
    assert_eq!(shown_len(&h), 10);
}

#[test]
fn on_a_projector_the_ten_digits_and_the_grid_fit_the_window() {
    let (mut h, _dir) = app(|a| a.tab = Tab::Generate);
    adopt_builtin_cvae(&mut h);
    h.set_size(egui::vec2(1024.0, 768.0));
    state_mut(&mut h).shared.settings.presenter = true;
    assert!(wait_until(&mut h, T, |a| !a.generate.working()));
    h.run_steps(4);
    let win = h.ctx.content_rect().expand(1.0);
    for c in 0..10 {
        let r = h.get_by_label(&format!("Generated {c}")).rect();
        assert!(
            win.contains_rect(r),
            "digit {c} at {r:?} is outside {win:?}"
        );
        assert!(
            r.width() >= 80.0,
            "digit {c} is small on a projector: {r:?}"
        );
    }
    h.get_by_label("Style × class grid").click();
    h.run_steps(4);
    let r = h.get_by_label("Style by class grid").rect();
    assert!(win.contains_rect(r), "the grid at {r:?} is outside {win:?}");
}

/// A lesson step that asks what the probe will recognise hides the panel's measured lines
/// (`hide = ["measures"]`) so the class guesses first; without it they show.
#[test]
fn a_lesson_step_hides_the_measured_lines_until_its_question_is_answered() {
    use bottleneck::app::lessons::Control;
    let (mut h, _dir) = app(|a| a.tab = Tab::Generate);
    adopt(&mut h, one_epoch_2d(Variant::Dense));
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));
    h.run_steps(2);
    h.get_by_label("Use the built-in conditional VAE").click();
    h.run_steps(2);
    assert!(wait_until(&mut h, T, |a| a
        .shared
        .model()
        .is_some_and(|m| m.classes() == 10)));
    h.run_steps(3);
    assert!(wait_until(&mut h, T, |a| !a.generate.working()
        && a.generate.held_out_report().is_some()));
    h.run_steps(3);
    h.get_by_label_contains("Measured on the first 10 test images of each class");
    h.get_by_label_contains("The pixel probe recognises");

    state_mut(&mut h).shared.hidden_controls = vec![Control::Measures];
    h.run_steps(3);
    assert!(h
        .query_by_label_contains("Measured on the first 10 test images")
        .is_none());
    assert!(h
        .query_by_label_contains("The pixel probe recognises")
        .is_none());
    h.get_by_label_contains("written as every digit");

    state_mut(&mut h).shared.hidden_controls.clear();
    h.run_steps(3);
    h.get_by_label_contains("Measured on the first 10 test images of each class");
}
