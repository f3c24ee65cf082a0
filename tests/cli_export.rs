//! `bottleneck export` as a user runs it: the ONNX and PyTorch files written into the folder,
//! the Python lines printed, and one-line errors for a bad format or model.

mod common;
use common::bottleneck;

use std::path::Path;

fn model() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/models/dense-2d.safetensors")
        .display()
        .to_string()
}

#[test]
fn export_writes_onnx_and_pytorch_files_into_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let out_s = out.to_str().unwrap();
    let o = bottleneck(&["export", &model(), "--format", "onnx", "--out", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    for f in ["encoder.onnx", "decoder.onnx"] {
        assert!(out.join(f).is_file(), "{f}");
        assert!(text.contains(f), "{text}");
    }
    assert!(text.contains("ort.InferenceSession("), "{text}");
    let o = bottleneck(&["export", &model(), "--format", "pytorch", "--out", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    for f in ["model.py", "model.safetensors", "model.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(
        text.contains("import model") && text.contains("model.load("),
        "{text}"
    );
    let py = std::fs::read_to_string(out.join("model.py")).unwrap();
    assert!(py.contains("self.enc = nn.ModuleList("), "{py}");
}

#[test]
fn a_bad_format_or_model_is_one_line_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = bottleneck(&["export", &model(), "--format", "tflite", "--out", out]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("tflite"), "{err}");
    let o = bottleneck(&[
        "export",
        "/no/such/model.safetensors",
        "--format",
        "onnx",
        "--out",
        out,
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/no/such/model.safetensors"), "{err}");
    assert!(
        std::fs::read_dir(out).unwrap().next().is_none(),
        "nothing written"
    );
}
