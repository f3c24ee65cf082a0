//! `bottleneck step MODEL --input ROWS.csv --json` as a user runs it: one step of a built-in
//! model on four digits, the breakdown as JSON on the last line (loss before and after, every
//! tensor's gradient and update norms under the model's own names), the stepped model saved
//! with --out, and one-line errors for a missing model or a bad CSV.

mod common;
use common::{asset, bottleneck};

use std::path::Path;

#[test]
fn step_prints_the_breakdown_and_saves_the_stepped_model() {
    let model = asset("assets/models/vae-2d.safetensors");
    let rows = asset("tests/fixtures/step/vae/rows.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stepped.safetensors");
    let o = bottleneck(&[
        "step",
        &model,
        "--input",
        &rows,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let last = text.trim().lines().last().unwrap();
    let j: serde_json::Value = serde_json::from_str(last).unwrap();
    for key in ["loss_before", "loss_after"] {
        let t = &j[key];
        for term in ["reconstruction", "kl", "total"] {
            assert!(
                t[term].as_f64().unwrap().is_finite(),
                "{key}.{term}: {last}"
            );
        }
    }
    assert_ne!(j["loss_before"]["total"], j["loss_after"]["total"]);
    let names: Vec<&str> = j["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert!(l["grad_norm"].as_f64().unwrap() > 0.0, "{l}");
            assert!(l["update_norm"].as_f64().unwrap() > 0.0, "{l}");
            l["name"].as_str().unwrap()
        })
        .collect();
    for n in ["enc.0.weight", "mu.weight", "logvar.bias", "dec.0.weight"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(text.contains("loss before"), "{text}");
    // The saved model is the stepped one: it loads, and its weights moved.
    let before = bottleneck::model::io::load(Path::new(&model)).unwrap();
    let after = bottleneck::model::io::load(&out).unwrap();
    let w = |m: &bottleneck::model::TrainedModel| {
        let d = m.varmap.data().lock().unwrap();
        d["enc.0.weight"]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_ne!(w(&before), w(&after));
}

#[test]
fn a_missing_model_or_bad_rows_is_one_line() {
    let rows = asset("tests/fixtures/step/dense/rows.csv");
    let o = bottleneck(&["step", "/no/such/model.safetensors", "--input", &rows]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/no/such/model.safetensors"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1,2,3\n").unwrap();
    let model = asset("assets/models/dense-2d.safetensors");
    let o = bottleneck(&["step", &model, "--input", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("bad.csv"), "{err}");
}
