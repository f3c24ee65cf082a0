//! `bottleneck features` and `bottleneck probe` as a user runs them: the JSON fields, the PNGs
//! written, and a clear one-line error for a missing model.

mod common;
use common::bottleneck;

use std::process::Output;

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

/// What `features` reports for a (non-VAE) model, computed directly from its codes.
struct CodeFigures {
    /// Per dimension: variance (over images, dividing by n), mean |z|, fraction with |z| > 0.1.
    units: Vec<[f64; 3]>,
    /// Dimensions whose variance is at least 1 % of the largest.
    active_units: u64,
    mean_abs: f64,
}

fn code_figures(model: &str) -> CodeFigures {
    let model = bottleneck::model::io::load(std::path::Path::new(model)).unwrap();
    let data = bottleneck::data::Dataset::embedded().unwrap();
    let codes = model.encode(&data.test.images).unwrap();
    let k = model.latent();
    let n = codes.len() / k;
    assert_eq!(n, data.test.len());
    let units: Vec<[f64; 3]> = (0..k)
        .map(|d| {
            let col: Vec<f64> = (0..n).map(|i| codes[i * k + d] as f64).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let mean_abs = col.iter().map(|v| v.abs()).sum::<f64>() / n as f64;
            let active = col.iter().filter(|v| v.abs() > 0.1).count() as f64 / n as f64;
            [var, mean_abs, active]
        })
        .collect();
    let max = units.iter().map(|u| u[0]).fold(0.0, f64::max);
    CodeFigures {
        active_units: units.iter().filter(|u| u[0] >= 0.01 * max).count() as u64,
        mean_abs: units.iter().map(|u| u[1]).sum::<f64>() / k as f64,
        units,
    }
}

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
    // Every figure recomputed here from the model's codes of the embedded test digits.
    let want = code_figures(MODEL);
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1e-3),
            "{what}: reported {got}, recomputed {want}"
        );
    };
    for (d, (u, w)) in units.iter().zip(&want.units).enumerate() {
        close(
            u["variance"].as_f64().unwrap(),
            w[0],
            &format!("z{} variance", d + 1),
        );
        close(
            u["mean_abs"].as_f64().unwrap(),
            w[1],
            &format!("z{} mean |z|", d + 1),
        );
        close(
            u["active_fraction"].as_f64().unwrap(),
            w[2],
            &format!("z{} active fraction", d + 1),
        );
        assert!(u.get("kl").is_none());
    }
    assert_eq!(j["active_units"].as_u64().unwrap(), want.active_units);
    close(
        j["mean_abs_activation"].as_f64().unwrap(),
        want.mean_abs,
        "mean |z|",
    );
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
