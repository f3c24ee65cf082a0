//! The command line, run as a user would: JSON reports, files written, and every error one
//! line on stderr naming the file or argument, with a non-zero exit code.

mod common;
use common::bottleneck;

use std::path::Path;
use std::process::Output;

mod small;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn last_json(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().last().expect("output");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

/// The error is exactly one line starting with "error:" and mentioning `what`.
fn one_line_error(o: &Output, what: &str) {
    assert!(!o.status.success(), "must fail");
    let e = stderr(o);
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {e}");
    assert!(lines[0].contains(what), "'{what}' not in: {e}");
}

#[test]
fn train_json_reports_every_field_and_saves_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let o = bottleneck(&[
        "train",
        "--variant",
        "dense",
        "--latent",
        "2",
        "--epochs",
        "2",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    for key in [
        "variant",
        "latent",
        "epochs",
        "seconds",
        "samples_per_sec",
        "train_loss",
        "test_mse",
        "test_terms",
        "pca_test_mse",
        "knn_accuracy",
        "pca_knn_accuracy",
    ] {
        assert!(j.get(key).is_some(), "missing {key} in {j}");
    }
    assert_eq!(j["variant"], "dense");
    assert_eq!(j["latent"], 2);
    assert_eq!(j["epochs"], 2);
    assert!(j["test_terms"]["reconstruction"].as_f64().unwrap() > 0.0);
    assert!(
        j["pca_test_mse"].as_f64().unwrap() > 0.05 && j["pca_test_mse"].as_f64().unwrap() < 0.06
    );
    assert!(out.exists() && out.with_extension("json").exists());

    // eval gives the same test MSE for the saved model.
    let e = bottleneck(&["eval", out.to_str().unwrap(), "--json"]);
    assert!(e.status.success(), "{}", stderr(&e));
    let je = last_json(&e);
    let (a, b) = (
        je["test_mse"].as_f64().unwrap(),
        j["test_mse"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    assert!(
        je.get("denoise").is_none(),
        "no noise asked, no denoise figures"
    );

    // eval --noise adds the Denoise panel's test-set experiment; the same seed, the same figures.
    let noisy = |seed: &str| {
        let e = bottleneck(&[
            "eval",
            out.to_str().unwrap(),
            "--noise",
            "0.5",
            "--seed",
            seed,
            "--json",
        ]);
        assert!(e.status.success(), "{}", stderr(&e));
        last_json(&e)["denoise"].clone()
    };
    let d = noisy("7");
    assert_eq!(d["corruption"], "Gaussian 0.50");
    let (noisy_mse, denoised_mse) = (
        d["noisy_mse"].as_f64().unwrap(),
        d["denoised_mse"].as_f64().unwrap(),
    );
    assert!(
        noisy_mse > 0.1 && noisy_mse < 0.13,
        "σ = 0.5 noise clipped to [0, 1]: {noisy_mse}"
    );
    assert!(denoised_mse > 0.0 && denoised_mse < noisy_mse, "{d}");
    assert_eq!(noisy("7"), d);
    assert_ne!(noisy("8")["noisy_mse"], d["noisy_mse"]);
    one_line_error(
        &bottleneck(&["eval", out.to_str().unwrap(), "--noise=-1"]),
        "--noise",
    );

    // encode writes label, z1, z2 for the 2,000 test digits.
    let csv = dir.path().join("codes.csv");
    let c = bottleneck(&[
        "encode",
        out.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(c.status.success(), "{}", stderr(&c));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("label,z1,z2"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2000);
    assert!(rows.iter().all(|r| r.split(',').count() == 3));

    // denoise an image the test draws.
    let img = dir.path().join("digit.png");
    let mut canvas = image::GrayImage::from_pixel(60, 90, image::Luma([255]));
    for y in 15..75 {
        for x in 25..35 {
            canvas.put_pixel(x, y, image::Luma([0]));
        }
    }
    canvas.save(&img).unwrap();
    let den = dir.path().join("den.png");
    let d = bottleneck(&[
        "denoise",
        out.to_str().unwrap(),
        img.to_str().unwrap(),
        "--noise",
        "saltpepper",
        "--factor",
        "0.2",
        "--out",
        den.to_str().unwrap(),
        "--json",
    ]);
    assert!(d.status.success(), "{}", stderr(&d));
    let back = image::open(&den).unwrap();
    assert_eq!((back.width(), back.height()), (28, 28));
    let jd = last_json(&d);
    assert!(jd["noisy_mse"].as_f64().unwrap() > 0.0);
}

#[test]
fn every_variant_name_is_accepted_and_a_wrong_one_is_named() {
    let o = bottleneck(&["train", "--variant", "bogus"]);
    one_line_error(&o, "--variant");
    assert!(stderr(&o).contains("bogus"));
    one_line_error(&bottleneck(&["train", "--no-such-flag"]), "--no-such-flag");
}

#[test]
fn a_missing_dataset_folder_is_one_line_naming_it() {
    let o = bottleneck(&["train", "--data", "/nonexistent/mnist", "--epochs", "1"]);
    one_line_error(&o, "/nonexistent/mnist");
}

#[test]
fn a_missing_model_file_is_one_line_naming_it() {
    let o = bottleneck(&["eval", "/nonexistent/model.safetensors"]);
    one_line_error(&o, "/nonexistent/model");
}

#[test]
fn invalid_settings_are_one_line_naming_the_setting() {
    one_line_error(
        &bottleneck(&["train", "--latent", "0", "--epochs", "1"]),
        "latent",
    );
    one_line_error(
        &bottleneck(&["train", "--hidden", "256,x", "--epochs", "1"]),
        "--hidden",
    );
    one_line_error(
        &bottleneck(&["train", "--lr", "-1", "--epochs", "1"]),
        "learning rate",
    );
    one_line_error(
        &bottleneck(&[
            "train",
            "--epochs",
            "1",
            "--out",
            "/nonexistent/dir/m.safetensors",
        ]),
        "/nonexistent/dir",
    );
}

#[test]
fn a_diverging_run_fails_with_a_readable_message_and_keeps_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.safetensors");
    let o = bottleneck(&[
        "train",
        "--lr",
        "100",
        "--epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("diverged") && e.contains("smaller learning rate"),
        "{e}"
    );
    assert!(out.exists(), "the last good weights are saved");
    assert!(bottleneck(&["eval", out.to_str().unwrap()])
        .status
        .success());
}

#[test]
fn denoise_rejects_a_file_that_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    assert!(bottleneck(&[
        "train",
        "--epochs",
        "1",
        "--latent",
        "2",
        "--out",
        model.to_str().unwrap()
    ])
    .status
    .success());
    let bad = dir.path().join("notes.png");
    std::fs::write(&bad, b"this is text, not a picture").unwrap();
    let o = bottleneck(&[
        "denoise",
        model.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("o.png").to_str().unwrap(),
    ]);
    one_line_error(&o, "notes.png");
    assert!(!Path::new(&dir.path().join("o.png")).exists());
}

#[test]
fn bench_reports_json() {
    let o = bottleneck(&["bench", "--only", "pca", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    assert!(j["pca_fit_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn on_a_small_folder_the_preset_takes_more_epochs_and_beats_pca() {
    // 1,438 training digits: the preset's 10 epochs of batch 256 are 60 steps and end near the
    // mean image, behind PCA. Without --epochs the run takes the preset's 320 steps.
    let dir = small::digits_folder();
    let data = dir.path().to_str().unwrap();
    let started = std::time::Instant::now();
    let o = bottleneck(&["train", "--data", data, "--latent", "2", "--json"]);
    let seconds = started.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    let said: Vec<&str> = e.lines().filter(|l| l.starts_with("schedule:")).collect();
    assert_eq!(
        said,
        vec![
            "schedule: 54 epochs instead of 10 for 1,438 images: 324 steps of 256, as the \
             preset's 8,000-image schedule (320 steps) (--epochs sets them yourself)"
        ],
        "{e}"
    );
    let v = last_json(&o);
    assert_eq!(v["epochs"], 54);
    assert_eq!(v["config"]["batch"], 256);
    assert_eq!(v["train_images"], small::TRAIN);
    let (mse, pca) = (
        v["test_mse"].as_f64().unwrap(),
        v["pca_test_mse"].as_f64().unwrap(),
    );
    eprintln!("1,438 digits, k = 2: test MSE {mse:.5}, PCA {pca:.5}, {seconds:.1} s");
    assert!(mse < pca, "test MSE {mse} is not below PCA's {pca}");
    assert!(seconds < 60.0, "{seconds} s");

    // --epochs is the user's choice: kept as given, and nothing is said.
    let o = bottleneck(&[
        "train", "--data", data, "--latent", "2", "--epochs", "1", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("schedule:"));
    assert_eq!(last_json(&o)["epochs"], 1);
}

// ---------------------------------------------------------------- encode --input, decode

fn model_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dense-2d.safetensors")
}

/// The first `n` embedded training digits (values in [0, 1]).
fn digits(n: usize) -> Vec<f32> {
    bottleneck::data::Dataset::embedded().unwrap().train.images[..n * 784].to_vec()
}

/// Rows of `width` values as CSV, each value written by `fmt`.
fn csv_rows(
    header: Option<&str>,
    values: &[f32],
    width: usize,
    fmt: impl Fn(f32) -> String,
) -> String {
    let mut out = header.map(|h| format!("{h}\n")).unwrap_or_default();
    for row in values.chunks(width) {
        out.push_str(&row.iter().map(|&v| fmt(v)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// A written matrix: its header and its values, parsed.
fn read_rows(path: &Path) -> (String, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse::<f32>().unwrap()).collect())
        .collect();
    (header, rows)
}

fn bits(rows: &[Vec<f32>]) -> Vec<u32> {
    rows.iter().flatten().map(|v| v.to_bits()).collect()
}

fn run_ok(args: &[&str]) {
    let o = bottleneck(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

#[test]
fn encode_and_decode_rows_give_exactly_the_models_codes_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let model_file = model_path();
    let model = bottleneck::model::io::load(&model_file).unwrap();
    let m = model_file.to_str().unwrap();
    let images = digits(5);
    let want_codes = model.encode(&images).unwrap();
    let want_images = model.decode(&want_codes).unwrap();

    // 0–1 with a header, and 0–255 without: the same codes, bit for bit.
    let unit = dir.path().join("unit.csv");
    let header: Vec<String> = (1..=784).map(|j| format!("pixel{j}")).collect();
    std::fs::write(
        &unit,
        csv_rows(Some(&header.join(",")), &images, 784, |v| v.to_string()),
    )
    .unwrap();
    let bytes = dir.path().join("bytes.csv");
    std::fs::write(
        &bytes,
        csv_rows(None, &images, 784, |v| {
            ((v * 255.0).round() as u8).to_string()
        }),
    )
    .unwrap();
    let (codes_a, codes_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    run_ok(&[
        "encode",
        m,
        "--input",
        unit.to_str().unwrap(),
        "--out",
        codes_a.to_str().unwrap(),
    ]);
    let o = bottleneck(&[
        "encode",
        m,
        "--input",
        bytes.to_str().unwrap(),
        "--out",
        codes_b.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("divided by 255"), "{}", stderr(&o));
    let (h, a) = read_rows(&codes_a);
    assert_eq!(h, "z1,z2");
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|r| r.len() == 2));
    let want: Vec<u32> = want_codes.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits(&a), want);
    assert_eq!(read_rows(&codes_b).1, a);

    // decode the codes file (header), and the same codes without one.
    let out = dir.path().join("images.csv");
    run_ok(&[
        "decode",
        m,
        "--input",
        codes_a.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (h, back) = read_rows(&out);
    assert!(h.starts_with("p1,p2,") && h.ends_with(",p784"), "{h}");
    assert_eq!(back.len(), 5);
    let want: Vec<u32> = want_images.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits(&back), want);
    let bare = dir.path().join("bare.csv");
    std::fs::write(&bare, csv_rows(None, &want_codes, 2, |v| v.to_string())).unwrap();
    let out2 = dir.path().join("images2.csv");
    run_ok(&[
        "decode",
        m,
        "--input",
        bare.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&out2).unwrap(), std::fs::read(&out).unwrap());
}

#[test]
fn encode_and_decode_name_the_row_of_another_width_and_refuse_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    let model_file = model_path();
    let m = model_file.to_str().unwrap();
    let out = dir.path().join("out.csv");
    let o = out.to_str().unwrap();
    let mut rows = csv_rows(Some("z1,z2"), &[0.5, 1.0, -1.0, 2.0], 2, |v| v.to_string());
    rows.push_str("1,2,3\n");
    let codes = dir.path().join("codes.csv");
    std::fs::write(&codes, rows).unwrap();
    let e = bottleneck(&["decode", m, "--input", codes.to_str().unwrap(), "--out", o]);
    one_line_error(&e, "codes.csv");
    assert!(
        stderr(&e).contains("row 3 (line 4)") && stderr(&e).contains("expected 2"),
        "{}",
        stderr(&e)
    );
    assert!(!out.exists(), "nothing written on an error");

    let short = dir.path().join("short.csv");
    let images = digits(2);
    let mut text = csv_rows(None, &images, 784, |v| v.to_string());
    text.push_str("0,1\n");
    std::fs::write(&short, text).unwrap();
    let e = bottleneck(&["encode", m, "--input", short.to_str().unwrap(), "--out", o]);
    one_line_error(&e, "short.csv");
    assert!(
        stderr(&e).contains("row 3") && stderr(&e).contains("expected 784"),
        "{}",
        stderr(&e)
    );

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "z1,z2\n").unwrap();
    let e = bottleneck(&["decode", m, "--input", empty.to_str().unwrap(), "--out", o]);
    one_line_error(&e, "empty.csv");
    assert!(stderr(&e).contains("no rows"), "{}", stderr(&e));

    let e = bottleneck(&[
        "decode",
        m,
        "--decoder",
        m,
        "--input",
        codes.to_str().unwrap(),
        "--out",
        o,
    ]);
    one_line_error(&e, "a decoder file is only for models saved as two files");
    let e = bottleneck(&[
        "encode",
        m,
        "--input",
        short.to_str().unwrap(),
        "--split",
        "all",
        "--out",
        o,
    ]);
    assert!(!e.status.success());
}

// ---------------------------------------------------------------- NumPy data

#[test]
fn npz_data_is_read_and_its_arrays_can_be_named() {
    let dir = tempfile::tempdir().unwrap();
    let model_file = model_path();
    let m = model_file.to_str().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/engine/tests/data/npz/mnist50.npz");
    let o = bottleneck(&["eval", m, "--data", fixture.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Keras"), "{}", stderr(&o));

    // Two arrays of images and two of labels: listed; named, they are used.
    let npy = |descr: &str, shape: &str, data: &[u8]| {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
        while (10 + header.len()) % 64 != 0 {
            header.insert(header.len() - 1, ' ');
        }
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    };
    let pixels: Vec<u8> = digits(10)
        .iter()
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    let labels: Vec<u8> = (0..10).map(|i| i % 2).collect();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [
        ("a", npy("|u1", "(10, 28, 28)", &pixels)),
        ("b", npy("|u1", "(10, 784)", &pixels)),
        ("la", npy("|u1", "(10,)", &labels)),
        ("lb", npy("|u1", "(10,)", &labels)),
    ] {
        use std::io::Write;
        w.start_file(
            format!("{name}.npy"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(&bytes).unwrap();
    }
    let npz = dir.path().join("several.npz");
    std::fs::write(&npz, w.finish().unwrap().into_inner()).unwrap();
    let p = npz.to_str().unwrap();
    let e = bottleneck(&["eval", m, "--data", p]);
    one_line_error(&e, "several.npz");
    assert!(
        stderr(&e).contains("a (10, 28, 28) uint8") && stderr(&e).contains("--npz-images"),
        "{}",
        stderr(&e)
    );
    run_ok(&[
        "eval",
        m,
        "--data",
        p,
        "--npz-images",
        "b",
        "--npz-labels",
        "la",
        "--json",
    ]);
    one_line_error(
        &bottleneck(&[
            "eval",
            m,
            "--data",
            p,
            "--npz-images",
            "c",
            "--npz-labels",
            "la",
        ]),
        "'c'",
    );
}
