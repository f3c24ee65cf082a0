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

#[test]
fn the_export_menu_writes_the_code_statistics_and_the_probe_table() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, _d) = app(|a| a.tab = Tab::Features);
    let model = Arc::new(bundled::find("dense-32d").unwrap().load().unwrap());
    adopt(&mut h, model);
    assert!(
        wait_until(&mut h, T, |a| a.features.probe_result().is_some()),
        "the codes are measured and the probe finishes"
    );
    let export = |h: &mut AppHarness, item: &str, path: &std::path::Path| {
        state_mut(h).shared.dialog_override = Some(path.to_path_buf());
        h.get_by_label("Export").click();
        h.run_steps(2);
        h.get_by_label(item).click();
        h.run_steps(2);
        assert!(wait_until(h, T, |a| !a.exporter.busy()), "{item} finishes");
        // A path without an extension gets ".csv".
        let written = path.with_extension("csv");
        std::fs::read_to_string(written).unwrap_or_else(|e| panic!("{item}: {e}"))
    };

    let units = export(&mut h, "Code statistics as CSV…", &dir.path().join("units"));
    let lines: Vec<&str> = units.lines().collect();
    assert_eq!(
        lines[0],
        "dim,mean,variance,mean_abs,active_fraction,p01,p99,kl"
    );
    assert_eq!(lines.len(), 33, "one row per code dimension");
    let a = state(&h);
    let stats = &a.features.analysis.as_ref().unwrap().stats;
    for (j, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], (j + 1).to_string());
        let variance: f64 = cells[2].parse().unwrap();
        assert_eq!(variance, stats.units[j].variance, "z{}", j + 1);
        assert_eq!(cells[7], "", "no KL for a plain autoencoder");
    }

    let probe = export(&mut h, "Probe table as CSV…", &dir.path().join("probe.csv"));
    let r = state(&h).features.probe_result().unwrap().clone();
    let lines: Vec<&str> = probe.lines().collect();
    assert_eq!(
        lines[0],
        "labels,probe_codes,probe_pca,probe_pixels,knn_codes,knn_pca"
    );
    assert_eq!(lines.len(), 1 + r.sizes.len());
    let last: Vec<&str> = lines.last().unwrap().split(',').collect();
    assert_eq!(last[0], r.sizes.last().unwrap().to_string());
    assert_eq!(last[1].parse::<f32>().unwrap(), *r.codes.last().unwrap());
    assert_eq!(last[3].parse::<f32>().unwrap(), *r.pixels.last().unwrap());
}
