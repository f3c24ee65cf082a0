//! The Features panel driven through egui_kittest on the built-in 32-D dense model: the
//! weights, sliders, statistics and probe plot are there; moving a slider changes the decoded
//! image; the probe finishes in the background and beats chance.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::Tab;
use bottleneck::model::bundled;
use common::*;
use egui_kittest::kittest::Queryable;

const T: Duration = Duration::from_secs(180);

/// Presses the primary button at `pos` and releases it.
fn click_at(h: &mut AppHarness, pos: egui::Pos2) {
    let button = |pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    h.input_mut().events.push(egui::Event::PointerMoved(pos));
    h.input_mut().events.push(button(true));
    h.step();
    h.input_mut().events.push(button(false));
    h.step();
}

#[test]
fn sliders_move_the_image_and_the_probe_finishes() {
    let (mut h, _d) = app(|a| a.tab = Tab::Features);
    let model = Arc::new(bundled::find("dense-32d").unwrap().load().unwrap());
    adopt(&mut h, model);
    assert!(
        wait_until(&mut h, T, |a| a.features.analysis.is_some()
            && !a.features.traversal.decoded.is_empty()),
        "the codes are measured and a code decoded"
    );
    h.run_steps(3);
    for name in [
        "Encoder weights",
        "Traversal grid",
        "Decoded image",
        "Unit statistics plot",
    ] {
        assert!(h.query_by_label(name).is_some(), "{name} is shown");
    }
    let a = state(&h);
    let an = a.features.analysis.as_ref().unwrap();
    assert_eq!(an.stats.k(), 32);
    assert_eq!(an.encoder.cols, 784);
    let first = an.stats.order()[0];
    let before = a.features.traversal.decoded.clone();
    let code_before = a.features.traversal.values.clone();

    // Click near the low end of the slider of the leading dimension.
    let name = format!("Slider z{}", first + 1);
    let rect = h.get_by_label(&name).rect();
    click_at(&mut h, egui::pos2(rect.left() + 6.0, rect.center().y));
    h.run_steps(2);
    let a = state(&h);
    let t = &a.features.traversal;
    assert_ne!(t.values[first], code_before[first], "the slider moved");
    for (d, (v, b)) in t.values.iter().zip(&code_before).enumerate() {
        if d != first {
            assert_eq!(v, b, "only the slider's dimension changes");
        }
    }
    assert_ne!(t.decoded, before, "the decoded image changed");

    assert!(
        wait_until(&mut h, T, |a| a.features.probe_result().is_some()),
        "the probe finishes"
    );
    h.run_steps(2);
    assert!(h.query_by_label("Probe plot").is_some());
    let r = state(&h).features.probe_result().unwrap().clone();
    assert_eq!(r.sizes.len(), 3);
    assert!(r.codes.iter().all(|&a| a > 0.5), "{r:?}");
    assert!(!state(&h).features.working());
}
