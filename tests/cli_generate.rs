//! `bottleneck generate` as a user runs it: the built-in conditional VAE writes ten held-out
//! digits (one of each class) as all ten classes (a CSV of 100 rows in class order, a grid PNG,
//! the recognition rate and the style measure in `--json`); without `--style`, prior samples
//! of every class; a plain VAE samples its prior; and one-line errors for a model that does
//! not generate, a label the model does not know and labels that do not match the rows.

mod common;
use common::{asset, bottleneck};

use std::path::Path;
use std::process::Output;

use bottleneck::data::Dataset;

fn json_line(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.trim().lines().last().unwrap()).unwrap()
}

/// Writes the first test image of each class as rows.csv (0–255) and their labels.
fn style_files(dir: &Path) -> (String, String) {
    let d = Dataset::embedded().unwrap();
    let mut rows = String::new();
    let mut labels = String::new();
    for c in 0..10u8 {
        let i = d.test.labels.iter().position(|&l| l == c).unwrap();
        let px: Vec<String> = d
            .test
            .image(i)
            .iter()
            .map(|v| ((v * 255.0).round() as u8).to_string())
            .collect();
        rows.push_str(&px.join(","));
        rows.push('\n');
        labels.push_str(&format!("{c}\n"));
    }
    let (r, l) = (dir.join("rows.csv"), dir.join("labels.txt"));
    std::fs::write(&r, rows).unwrap();
    std::fs::write(&l, labels).unwrap();
    (r.display().to_string(), l.display().to_string())
}

#[test]
fn generate_writes_every_class_in_each_style_and_measures_it() {
    let model = asset("assets/models/cvae-4d.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let (rows, labels) = style_files(dir.path());
    let out = dir.path().join("images.csv");
    let png = dir.path().join("grid.png");
    let j = json_line(&bottleneck(&[
        "generate",
        &model,
        "--style",
        &rows,
        "--style-labels",
        &labels,
        "--out",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["images"], 100);
    assert_eq!(j["styles"], 10);
    assert_eq!(j["classes"], 10);
    let rate = j["recognition"].as_f64().unwrap();
    assert!(rate >= 0.9, "recognised {rate}: {j}");
    assert!(j["judge"]
        .as_str()
        .unwrap()
        .contains("linear probe on pixels"));
    let kept = j["style"]["nearest_own"].as_f64().unwrap();
    assert!(kept > 0.5, "style kept for {kept}: {j}");
    // 100 rows of 784 values in 0..1 after the header; the grid is 10 × 10 tiles.
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 101);
    assert!(lines[0].starts_with("p1,p2,"));
    for l in &lines[1..] {
        let v: Vec<f32> = l.split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(v.len(), 784);
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    let img = image::open(&png).unwrap();
    assert_eq!(img.width(), 2 * (10 * 29 + 1));
    assert_eq!(img.height(), 2 * (10 * 29 + 1));

    // Without --style: 8 prior codes, each as every class; the probe's guess when no labels.
    let j = json_line(&bottleneck(&[
        "generate",
        &model,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["images"], 80);
    assert!(j["style"].is_null());
    let o = bottleneck(&[
        "generate",
        &model,
        "--style",
        &rows,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("the pixel probe's guess"));
    // A plain VAE samples its prior.
    let vae = asset("assets/models/vae-2d.safetensors");
    let j = json_line(&bottleneck(&[
        "generate",
        &vae,
        "--samples",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["images"], 5);
}

#[test]
fn generate_explains_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = style_files(dir.path());
    let out = dir.path().join("images.csv");
    let run = |args: &[&str]| {
        let o = bottleneck(args);
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!e.contains("panicked"), "{e}");
        e
    };
    let dense = asset("assets/models/dense-2d.safetensors");
    let e = run(&["generate", &dense, "--out", out.to_str().unwrap()]);
    assert!(e.contains("train a conditional VAE (variant cvae)"), "{e}");
    let vae = asset("assets/models/vae-2d.safetensors");
    let e = run(&[
        "generate",
        &vae,
        "--style",
        &rows,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("is a plain VAE"), "{e}");
    let cvae = asset("assets/models/cvae-4d.safetensors");
    let bad = dir.path().join("bad.txt");
    // The error `generate` gives for a labels file holding `labels`.
    let with_labels = |labels: &str| {
        std::fs::write(&bad, labels).unwrap();
        run(&[
            "generate",
            &cvae,
            "--style",
            &rows,
            "--style-labels",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let e = with_labels("3\n12\n");
    assert!(e.contains("line 2: class 12"), "{e}");
    let e = with_labels("3\nseven\n");
    assert!(
        e.contains("'seven' is neither a class number nor a class name"),
        "{e}"
    );
    let e = with_labels("3\n4\n");
    assert!(e.contains("has 2 labels for the 10 rows"), "{e}");
    // The other commands that need a code say why a CVAE cannot go without its classes.
    let e = run(&[
        "decode",
        &cvae,
        "--input",
        &rows,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("needs each image's class") || e.contains("values"),
        "{e}"
    );
    let e = run(&[
        "encode",
        &cvae,
        "--input",
        &rows,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("needs each image's class"), "{e}");
    let x = dir.path().join("x");
    let e = run(&[
        "export",
        &cvae,
        "--format",
        "onnx",
        "--out",
        x.to_str().unwrap(),
    ]);
    assert!(e.contains("cannot export a conditional VAE"), "{e}");
    let e = run(&["step", &cvae, "--input", &rows]);
    assert!(e.contains("conditional VAE"), "{e}");
}
