//! Importing the PyTorch and Keras fixtures of `tests/fixtures/exchange`: each recognised model
//! reproduces its framework's own codes and reconstructions, reports what it recognised and
//! assumed, trains further, saves and loads; broken files give a sentence, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::import::{import, inspect, ImportOptions};
use bottleneck_engine::model::{io, TrainedModel};
use bottleneck_engine::train::Trainer;
use common::{exchange_csv, exchange_fixtures, max_diff};

fn fixture(name: &str) -> PathBuf {
    exchange_fixtures().join(name)
}

/// (label, model file, decoder file, reference name)
const FIXTURES: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "torch_dense.safetensors",
        "torch_dense.safetensors",
        None,
        "torch_dense",
    ),
    ("torch_dense.pt", "torch_dense.pt", None, "torch_dense"),
    (
        "torch_vae.safetensors",
        "torch_vae.safetensors",
        None,
        "torch_vae",
    ),
    ("torch_vae.pt", "torch_vae.pt", None, "torch_vae"),
    (
        "torch_conv.safetensors",
        "torch_conv.safetensors",
        None,
        "torch_conv",
    ),
    ("torch_conv.pt", "torch_conv.pt", None, "torch_conv"),
    (
        "keras_dense.keras",
        "keras_dense.keras",
        None,
        "keras_dense",
    ),
    (
        "keras_dense_encoder.keras + decoder",
        "keras_dense_encoder.keras",
        Some("keras_dense_decoder.keras"),
        "keras_dense",
    ),
    ("keras_flat.keras", "keras_flat.keras", None, "keras_flat"),
];

fn options(decoder: Option<&str>) -> ImportOptions {
    ImportOptions {
        decoder: decoder.map(fixture),
        ..ImportOptions::default()
    }
}

#[test]
fn every_fixture_reproduces_its_framework() {
    let images = exchange_csv("images.csv");
    for &(label, file, decoder, reference) in FIXTURES {
        let m = import(&fixture(file), &options(decoder)).unwrap_or_else(|e| panic!("{e}"));
        let codes = m.encode(&images).unwrap();
        let want_codes = exchange_csv(&format!("{reference}_codes.csv"));
        let want_recon = exchange_csv(&format!("{reference}_recon.csv"));
        let dc = max_diff(&codes, &want_codes);
        let recon = m.decode(&codes).unwrap();
        let dr = max_diff(&recon, &want_recon);
        let recon_of_theirs = m.decode(&want_codes).unwrap();
        let dd = max_diff(&recon_of_theirs, &want_recon);
        println!("{label:38} max |Δcode| {dc:.2e}  max |Δrecon| {dr:.2e}  decoder alone {dd:.2e}");
        assert!(
            dc < 1e-4 && dr < 1e-4 && dd < 1e-4,
            "{label}: {dc} {dr} {dd}"
        );
    }
}

#[test]
fn the_report_lists_layers_code_and_assumptions() {
    let o = ImportOptions::default();
    let r = inspect(&fixture("torch_dense.pt"), &o).unwrap();
    assert_eq!(r.layers.len(), 6);
    assert_eq!(r.code_layer(), "encoder.4 (8 units, linear)");
    let encoder = 784 * 64 + 64 + 64 * 32 + 32 + 32 * 8 + 8;
    let decoder = 8 * 32 + 32 + 32 * 64 + 64 + 64 * 784 + 784;
    assert_eq!(r.params(), encoder + decoder);
    assert_eq!(r.layers[3].target, "dec.0");
    assert_eq!(r.assumed.len(), 3, "{:?}", r.assumed);
    assert!(r.assumed.iter().all(|s| s.contains("assumed")));

    let r = inspect(&fixture("torch_vae.safetensors"), &o).unwrap();
    assert_eq!(r.layers.len(), 7);
    assert!(
        r.code_layer().starts_with("mu (2 units"),
        "{}",
        r.code_layer()
    );
    assert_eq!(r.layers[3].target, "logvar");
    assert!(
        !r.assumed.iter().any(|a| a.starts_with("code:")),
        "a VAE's code is its linear mu head, not an assumption: {:?}",
        r.assumed
    );

    let r = inspect(&fixture("torch_conv.safetensors"), &o).unwrap();
    assert_eq!(r.config.channels, vec![8, 16]);
    assert_eq!(r.layers.len(), 6);
    assert!(
        r.code_layer().starts_with("encoder.5"),
        "{}",
        r.code_layer()
    );
    assert!(
        r.assumed.iter().any(|s| s.contains("stride 2")),
        "{:?}",
        r.assumed
    );

    let r = inspect(&fixture("keras_dense.keras"), &o).unwrap();
    assert!(r.assumed.is_empty(), "{:?}", r.assumed);
    assert_eq!(r.code_layer(), "encoder/dense_2 (8 units, ReLU)");
    assert_eq!(
        r.params(),
        2 * (784 * 64 + 64 * 32 + 32 * 8) + 64 + 32 + 8 + 32 + 64 + 784
    );
    let r = inspect(&fixture("keras_flat.keras"), &o).unwrap();
    assert_eq!(r.code_layer(), "code (8 units, linear)");
    assert_eq!(r.layers.len(), 4);

    // A choice of the user's is said, and only that, for Keras.
    let chosen = ImportOptions {
        sigmoid_output: Some(false),
        ..ImportOptions::default()
    };
    let r = inspect(&fixture("keras_flat.keras"), &chosen).unwrap();
    assert_eq!(r.assumed, vec!["output: linear (your choice)".to_string()]);
}

#[test]
fn a_choice_of_the_user_changes_the_model() {
    let images = exchange_csv("images.csv");
    let file = fixture("torch_dense.safetensors");
    let default = import(&file, &ImportOptions::default()).unwrap();
    let linear = ImportOptions {
        sigmoid_output: Some(false),
        ..ImportOptions::default()
    };
    let linear = import(&file, &linear).unwrap();
    let a = default.decode(&default.encode(&images).unwrap()).unwrap();
    let b = linear.decode(&linear.encode(&images).unwrap()).unwrap();
    assert!(max_diff(&a, &b) > 0.1);
    assert!(b.iter().any(|&v| v < 0.0), "a linear output leaves [0, 1]");
}

#[test]
fn an_imported_model_trains_saves_and_loads() {
    let images = exchange_csv("images.csv");
    let data = Arc::new(Dataset::embedded().unwrap());
    for file in [
        "torch_vae.pt",
        "torch_conv.safetensors",
        "keras_dense.keras",
    ] {
        let m = import(&fixture(file), &ImportOptions::default()).unwrap();
        let before = m.encode(&images).unwrap();
        let mut t = Trainer::from_model(m, data.clone()).unwrap();
        for _ in 0..3 {
            let step = t.step().unwrap();
            assert!(step.terms.total().is_finite(), "{file}: {:?}", step.terms);
        }
        let trained: TrainedModel = t.snapshot().unwrap();
        let after = trained.encode(&images).unwrap();
        assert!(
            max_diff(&before, &after) > 0.0,
            "{file}: the weights did not move"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imported.safetensors");
        io::save(&trained, &path).unwrap();
        let back = io::load(&path).unwrap();
        assert_eq!(back.encode(&images).unwrap(), after, "{file}");
        let origin = back
            .meta
            .origin
            .clone()
            .expect("the sidecar says where it came from");
        assert!(origin.files[0].ends_with(file), "{origin:?}");

        // Without its sidecar the file is a state dict in Bottleneck's own names (a model
        // exported to PyTorch and fine-tuned there): recognised as the same model, given the
        // code's activation where it is not the assumed linear one (Keras' ReLU code).
        let bare = dir.path().join("bare.safetensors");
        std::fs::copy(&path, &bare).unwrap();
        let choice = ImportOptions {
            code_activation: Some(trained.meta.config.model.code_activation),
            ..ImportOptions::default()
        };
        let again = import(&bare, &choice).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.meta.config.model.arch, trained.meta.config.model.arch);
        let codes = again.encode(&images).unwrap();
        assert!(max_diff(&codes, &after) < 1e-5, "{file}");
    }
}

/// `bytes` written as `name` in a temp dir; the import's error message.
fn import_bytes(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match import(&path, &ImportOptions::default()) {
        Ok(_) => panic!("{name} was imported"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "the message names the file: {msg}");
            msg
        }
    }
}

/// A zip of (name, bytes) entries, stored.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    out.into_inner()
}

fn unzip(file: &str) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(fixture(file)).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            (e.name().unwrap().into_owned(), b)
        })
        .collect()
}

#[test]
fn broken_files_give_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    for &(_, file, _, _) in FIXTURES {
        let bytes = std::fs::read(fixture(file)).unwrap();
        for cut in [0, 7, 100, bytes.len() / 2, bytes.len() - 1] {
            let name = format!("cut{cut}_{file}");
            import_bytes(dir.path(), &name, &bytes[..cut]);
        }
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    for name in ["random.pt", "random.safetensors", "random.keras"] {
        import_bytes(dir.path(), name, &random);
    }

    // Unrelated tensors.
    let t: Vec<f32> = vec![0.5; 10 * 3];
    let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = r#"{"classifier.weight":{"dtype":"F32","shape":[10,3],"data_offsets":[0,120]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend(header.as_bytes());
    st.extend(&bytes);
    let msg = import_bytes(dir.path(), "unrelated.safetensors", &st);
    assert!(msg.contains("classifier.weight"), "{msg}");
    assert!(msg.contains("784"), "{msg}");

    // A Keras model with a Conv2D layer.
    let entries = unzip("keras_flat.keras");
    let edited: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| {
            let b = if n == "config.json" {
                String::from_utf8(b.clone())
                    .unwrap()
                    .replacen("\"Dense\"", "\"Conv2D\"", 1)
                    .into_bytes()
            } else {
                b.clone()
            };
            (n.as_str(), b)
        })
        .collect();
    let msg = import_bytes(dir.path(), "conv.keras", &zip_of(&edited));
    assert!(msg.contains("Conv2D") && msg.contains("Dense"), "{msg}");

    // A whole pickled module: its pickle's root is an object, not a dict.
    let mut entries = unzip("torch_dense.pt");
    for (n, b) in &mut entries {
        if n.ends_with("data.pkl") {
            *b = b"\x80\x02c__main__\nAutoencoder\nq\x00)\x81q\x01}q\x02b.".to_vec();
        }
    }
    let e: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let msg = import_bytes(dir.path(), "module.pt", &zip_of(&e));
    assert!(
        msg.contains("whole pickled nn.Module (__main__.Autoencoder)"),
        "{msg}"
    );
}
