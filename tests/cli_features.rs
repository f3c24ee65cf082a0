//! `bottleneck features` and `bottleneck probe` as a user runs them: the JSON fields, the PNGs
//! written, and a clear one-line error for a missing model.

use std::process::{Command, Output};

fn bottleneck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn last_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().expect("output")).expect("the last line is JSON")
}

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/models/dense-32d.safetensors"
);
const VAE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/models/vae-2d.safetensors"
);

#[test]
fn features_reports_units_and_writes_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pics");
    let j = last_json(&bottleneck(&[
        "features",
        MODEL,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let units = j["units"].as_array().unwrap();
    assert_eq!(units.len(), 32);
    for u in units {
        for key in ["variance", "mean_abs", "active_fraction"] {
            assert!(u[key].as_f64().unwrap() >= 0.0, "{key} in {u}");
        }
        assert!(u.get("kl").is_none());
    }
    assert!(j["active_units"].as_u64().unwrap() <= 32);
    assert!(j["mean_abs_activation"].as_f64().unwrap() > 0.0);
    for f in ["encoder-weights.png", "traversals.png"] {
        let img = image::open(out.join(f)).unwrap();
        assert!(img.width() > 100 && img.height() > 50, "{f}");
    }
    let v = last_json(&bottleneck(&["features", VAE, "--json"]));
    assert!(v["units"][0]["kl"].as_f64().unwrap() > 0.0);
}

#[test]
fn probe_reports_aligned_accuracies() {
    let j = last_json(&bottleneck(&["probe", MODEL, "--json"]));
    let sizes: Vec<u64> = j["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![100, 1000, 8000]);
    for key in ["codes", "pca", "pixels", "knn_codes", "knn_pca"] {
        let acc = j[key].as_array().unwrap();
        assert_eq!(acc.len(), 3, "{key}");
        assert!(acc.iter().all(|a| a.as_f64().unwrap() > 0.5), "{key}: {j}");
    }
}

#[test]
fn a_missing_model_is_one_clear_line() {
    let o = bottleneck(&["probe", "/nonexistent/m.safetensors"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains("/nonexistent/m.safetensors"), "{e}");
}
