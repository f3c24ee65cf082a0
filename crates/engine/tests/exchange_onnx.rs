//! ONNX import and the ONNX / PyTorch exports on the committed fixtures
//! (tests/fixtures/exchange): PyTorch's dense AE and VAE exported as ONNX come in as native
//! models with PyTorch's outputs; a graph with a layer Bottleneck does not have runs in tract
//! for inference only; Bottleneck's own models survive an export and import; corrupt files
//! give an error naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::export;
use bottleneck_engine::model::external::INFERENCE_ONLY;
use bottleneck_engine::model::import::{self, ImportOptions};
use bottleneck_engine::model::{io, Activation, Arch, TrainConfig, TrainedModel, Variant};
use bottleneck_engine::train::Trainer;
use common::{exchange_csv, exchange_fixtures, max_diff};
use tract_onnx::pb;
use tract_onnx::prelude::*;

fn assets(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/models")
        .join(name)
}

fn import(path: &Path) -> TrainedModel {
    import::import(path, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// (μ, log σ²) of a VAE, computed with its own weights.
fn logvar(model: &TrainedModel, x: &[f32]) -> Vec<f32> {
    let n = x.len() / 784;
    let t = candle_core::Tensor::from_slice(x, (n, 784), &candle_core::Device::Cpu).unwrap();
    let f = model.model.forward(&t, None).unwrap();
    f.logvar.unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn pytorch_dense_onnx_pair_imports_as_a_native_model_with_pytorchs_outputs() {
    // The decoder is found beside the encoder.
    let m = import(&exchange_fixtures().join("torch_dense_encoder.onnx"));
    assert!(m.inference_only().is_none());
    let c = &m.config().model;
    assert_eq!(
        (c.arch, c.latent, c.hidden.clone()),
        (Arch::Dense, 8, vec![64, 32])
    );
    assert_eq!(
        (c.activation, c.code_activation),
        (Activation::Relu, Activation::Identity)
    );
    assert!(c.sigmoid_output);
    let x = exchange_csv("images.csv");
    let code = max_diff(
        &m.encode(&x).unwrap(),
        &exchange_csv("torch_dense_codes.csv"),
    );
    let recon = max_diff(
        &m.reconstruct(&x).unwrap(),
        &exchange_csv("torch_dense_recon.csv"),
    );
    println!("torch_dense ONNX → native: max |Δcode| {code:.2e}, max |Δrecon| {recon:.2e}");
    assert!(code < 1e-4 && recon < 1e-4, "{code} {recon}");
}

#[test]
fn pytorch_vae_onnx_pair_imports_as_a_native_vae() {
    let opts = ImportOptions {
        decoder: Some(exchange_fixtures().join("torch_vae_decoder.onnx")),
        ..Default::default()
    };
    let r = import::inspect(&exchange_fixtures().join("torch_vae_encoder.onnx"), &opts).unwrap();
    assert!(r.assumed.is_empty(), "{:?}", r.assumed);
    let names: Vec<&str> = r.layers.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(
        names,
        ["enc.0", "enc.1", "mu", "logvar", "dec.0", "dec.1", "dec.2"]
    );
    let m = r.build().unwrap();
    assert!(m.inference_only().is_none());
    assert_eq!((m.config().model.arch, m.latent()), (Arch::Vae, 2));
    let x = exchange_csv("images.csv");
    let mu = max_diff(&m.encode(&x).unwrap(), &exchange_csv("torch_vae_codes.csv"));
    let lv = max_diff(&logvar(&m, &x), &exchange_csv("torch_vae_logvar.csv"));
    let recon = max_diff(
        &m.reconstruct(&x).unwrap(),
        &exchange_csv("torch_vae_recon.csv"),
    );
    println!(
        "torch_vae ONNX → native: max |Δμ| {mu:.2e}, |Δlogvar| {lv:.2e}, |Δrecon| {recon:.2e}"
    );
    assert!(mu < 1e-4 && lv < 1e-4 && recon < 1e-4, "{mu} {lv} {recon}");
}

/// tract's own run of an ONNX file on `x` (`[n, width]`), output `idx`.
fn tract_run(path: &Path, x: &[f32], width: usize, idx: usize) -> Vec<f32> {
    let n = x.len() / width;
    let plan = tract_onnx::onnx()
        .model_for_path(path)
        .unwrap()
        .with_input_fact(0, f32::fact([n, width]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let out = plan
        .run(tvec![Tensor::from_shape(&[n, width], x).unwrap().into()])
        .unwrap();
    out[idx]
        .to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// The dense fixture's encoder with its first ReLU replaced by a Tanh, and its decoder, in
/// `dir` as tanh_encoder.onnx / tanh_decoder.onnx.
fn tanh_pair(dir: &Path) -> PathBuf {
    use prost::Message;
    let bytes = std::fs::read(exchange_fixtures().join("torch_dense_encoder.onnx")).unwrap();
    let mut proto = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let relu = graph.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
    relu.op_type = "Tanh".into();
    let enc = dir.join("tanh_encoder.onnx");
    std::fs::write(&enc, export::onnx::encode(proto.graph.unwrap())).unwrap();
    std::fs::copy(
        exchange_fixtures().join("torch_dense_decoder.onnx"),
        dir.join("tanh_decoder.onnx"),
    )
    .unwrap();
    enc
}

#[test]
fn a_graph_with_another_layer_runs_in_tract_for_inference_only() {
    let dir = tempfile::tempdir().unwrap();
    let enc = tanh_pair(dir.path());
    let r = import::inspect(&enc, &ImportOptions::default()).unwrap();
    assert!(r.inference_only());
    assert!(
        r.layers.iter().any(|l| l.description == "Tanh"),
        "{:?}",
        r.layers
    );
    assert!(r
        .assumed
        .iter()
        .any(|a| a.contains("Tanh") && a.contains("inference only")));
    let m = r.build().unwrap();
    assert_eq!(m.inference_only(), Some(INFERENCE_ONLY));
    assert_eq!(m.latent(), 8);
    let x = exchange_csv("images.csv");
    let z = m.encode(&x).unwrap();
    assert_eq!(z, tract_run(&enc, &x, 784, 0));
    let dec = dir.path().join("tanh_decoder.onnx");
    assert_eq!(m.decode(&z).unwrap(), tract_run(&dec, &z, 8, 0));
    // Not PyTorch's code any more: the Tanh is run, not replaced.
    assert!(max_diff(&z, &exchange_csv("torch_dense_codes.csv")) > 1e-3);
    // More rows than one call into tract takes: the same codes, row for row.
    let many: Vec<f32> = x.iter().copied().cycle().take(784 * 16 * 70).collect();
    let zs = m.encode(&many).unwrap();
    assert_eq!(zs.len(), 8 * 16 * 70);
    assert_eq!(&zs[8 * 16 * 69..], &z[..]);
    let data = Arc::new(Dataset::embedded().unwrap());
    let e = Trainer::from_model(m, data)
        .err()
        .expect("training must be refused");
    assert_eq!(e.to_string(), INFERENCE_ONLY);
}

/// Exports `m` to ONNX, imports the files back; prints and returns the max differences of
/// codes and reconstructions on the fixture images.
fn onnx_round_trip(m: &TrainedModel, label: &str) -> (TrainedModel, f32, f32) {
    let dir = tempfile::tempdir().unwrap();
    let files = export::onnx::write(m, dir.path()).unwrap();
    assert_eq!(
        files,
        [
            dir.path().join("encoder.onnx"),
            dir.path().join("decoder.onnx")
        ]
    );
    let back = import(&files[0]);
    let x = exchange_csv("images.csv");
    let code = max_diff(&back.encode(&x).unwrap(), &m.encode(&x).unwrap());
    let recon = max_diff(&back.reconstruct(&x).unwrap(), &m.reconstruct(&x).unwrap());
    println!("{label} → ONNX → import: max |Δcode| {code:.2e}, max |Δrecon| {recon:.2e}");
    (back, code, recon)
}

#[test]
fn bundled_dense_and_vae_come_back_from_onnx_native_and_equal() {
    for name in ["dense-2d.safetensors", "vae-2d.safetensors"] {
        let m = io::load(&assets(name)).unwrap();
        let (back, code, recon) = onnx_round_trip(&m, name);
        assert!(back.inference_only().is_none(), "{name}");
        // The same architecture (a dense model's conv channels are unused and not exported).
        let mut want = m.config().model.clone();
        want.channels.clear();
        assert_eq!(back.config().model, want, "{name}");
        assert!(code < 1e-5 && recon < 1e-5, "{name}: {code} {recon}");
        if name.starts_with("vae") {
            let x = exchange_csv("images.csv");
            let lv = max_diff(&logvar(&back, &x), &logvar(&m, &x));
            assert!(lv < 1e-5, "{lv}");
        }
    }
}

#[test]
fn a_conv_model_comes_back_from_onnx_running_in_tract() {
    let m = TrainedModel::new(&TrainConfig::preset(Variant::Conv, 4), "x").unwrap();
    let (back, code, recon) = onnx_round_trip(&m, "conv (fresh)");
    // Conv graphs are not recognised as native layers: the import runs them for inference.
    assert_eq!(back.inference_only(), Some(INFERENCE_ONLY));
    assert!(code < 1e-5 && recon < 1e-5, "{code} {recon}");
}

#[test]
fn pytorch_export_imports_back_bit_for_bit() {
    let conv = TrainedModel::new(&TrainConfig::preset(Variant::Conv, 4), "x").unwrap();
    let models = [
        io::load(&assets("dense-2d.safetensors")).unwrap(),
        io::load(&assets("vae-2d.safetensors")).unwrap(),
        conv,
    ];
    for m in models {
        let dir = tempfile::tempdir().unwrap();
        let files = export::pytorch::write(&m, dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        let py = std::fs::read_to_string(dir.path().join("model.py")).unwrap();
        let attr = match m.config().model.arch {
            Arch::Dense => "self.enc = nn.ModuleList([nn.Linear(784,",
            Arch::Vae => "self.mu = nn.Linear(",
            Arch::Conv => "self.deconv = nn.ModuleList([nn.ConvTranspose2d(",
        };
        assert!(py.contains(attr) && py.contains("def load("), "{py}");
        let back = import(&dir.path().join("model.safetensors"));
        assert_eq!(back.config().model, m.config().model);
        let a = m.varmap.data().lock().unwrap();
        let b = back.varmap.data().lock().unwrap();
        assert_eq!(a.len(), b.len());
        for (name, var) in a.iter() {
            let bits = |t: &candle_core::Tensor| -> Vec<u32> {
                let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                v.iter().map(|f| f.to_bits()).collect()
            };
            assert_eq!(bits(var.as_tensor()), bits(b[name].as_tensor()), "{name}");
        }
    }
}

#[test]
fn an_inference_only_model_is_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let m = import(&tanh_pair(dir.path()));
    let e = export::onnx::write(&m, &dir.path().join("out")).unwrap_err();
    assert!(e.to_string().contains("inference only"), "{e}");
    assert!(export::pytorch::write(&m, &dir.path().join("out")).is_err());
}

fn import_err(path: &Path, decoder: Option<PathBuf>) -> String {
    let opts = ImportOptions {
        decoder,
        ..Default::default()
    };
    match import::import(path, &opts) {
        Ok(_) => panic!("{} imported", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn corrupt_and_truncated_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(exchange_fixtures().join("torch_dense_encoder.onnx")).unwrap();
    let dec = exchange_fixtures().join("torch_dense_decoder.onnx");
    let garbage = dir.path().join("garbage_encoder.onnx");
    std::fs::write(
        &garbage,
        b"\x08\x07not an onnx file at all \xff\xfe\x00\x01",
    )
    .unwrap();
    let e = import_err(&garbage, Some(dec.clone()));
    assert!(e.contains("garbage_encoder.onnx"), "{e}");
    // Cut anywhere: an error, never a panic or a model.
    for cut in [
        1,
        7,
        40,
        100,
        1000,
        good.len() / 2,
        good.len() - 300,
        good.len() - 1,
    ] {
        let p = dir.path().join(format!("cut{cut}_encoder.onnx"));
        std::fs::write(&p, &good[..cut]).unwrap();
        let e = import_err(&p, Some(dec.clone()));
        assert!(e.contains(&format!("cut{cut}_encoder.onnx")), "{cut}: {e}");
        // The same file as the decoder.
        let e = import_err(
            &exchange_fixtures().join("torch_dense_encoder.onnx"),
            Some(p.clone()),
        );
        assert!(
            e.contains(&format!("cut{cut}_encoder.onnx")),
            "{cut} as decoder: {e}"
        );
    }
}

#[test]
fn widths_and_missing_halves_are_explained() {
    let f = exchange_fixtures();
    // A decoder of another code width.
    let e = import_err(
        &f.join("torch_dense_encoder.onnx"),
        Some(f.join("torch_vae_decoder.onnx")),
    );
    assert!(
        e.contains("torch_vae_decoder.onnx") && e.contains("code has 8"),
        "{e}"
    );
    // The decoder given as the encoder.
    let e = import_err(
        &f.join("torch_dense_decoder.onnx"),
        Some(f.join("torch_dense_decoder.onnx")),
    );
    assert!(
        e.contains("takes 8 values per row") && e.contains("784"),
        "{e}"
    );
    // One file, no decoder beside it.
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("lone.onnx");
    std::fs::copy(f.join("torch_dense_encoder.onnx"), &lone).unwrap();
    let e = import_err(&lone, None);
    assert!(e.contains("lone.onnx") && e.contains("two files"), "{e}");
}

/// Not a check: writes Bottleneck's codes and reconstructions of the fixture images for the
/// bundled dense and VAE models and a fresh conv model, for `check_export.py` (the conv
/// model is saved to /tmp/exp-conv-model/conv.safetensors). Run by hand:
/// `cargo test --release -p bottleneck-engine --test exchange_onnx -- --ignored`.
#[test]
#[ignore]
fn write_reference_outputs_to_tmp() {
    let conv = TrainedModel::new(&TrainConfig::preset(Variant::Conv, 4), "x").unwrap();
    std::fs::create_dir_all("/tmp/exp-conv-model").unwrap();
    io::save(&conv, Path::new("/tmp/exp-conv-model/conv.safetensors")).unwrap();
    let models = [
        ("dense", io::load(&assets("dense-2d.safetensors")).unwrap()),
        ("vae", io::load(&assets("vae-2d.safetensors")).unwrap()),
        ("conv", conv),
    ];
    let x = exchange_csv("images.csv");
    for (name, m) in models {
        let dir = PathBuf::from(format!("/tmp/exp-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let k = m.latent();
        let rows = |v: Vec<f32>, w: usize| -> String {
            v.chunks(w)
                .map(|r| {
                    let s: Vec<String> = r.iter().map(|f| format!("{f:e}")).collect();
                    s.join(",") + "\n"
                })
                .collect()
        };
        std::fs::write(dir.join("codes.csv"), rows(m.encode(&x).unwrap(), k)).unwrap();
        std::fs::write(dir.join("recon.csv"), rows(m.reconstruct(&x).unwrap(), 784)).unwrap();
        println!("wrote {}/codes.csv, recon.csv", dir.display());
    }
}
