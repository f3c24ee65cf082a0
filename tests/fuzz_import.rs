//! Fuzzing the model importers on stable Rust (the harness is `tests/fuzzing`): PyTorch state
//! dicts as `.safetensors` and `.pt`, Keras `.keras` files and ONNX encoder/decoder pairs. A mutated zip entry is zipped
//! again with a correct checksum so the mutation reaches the pickle, JSON or HDF5 reader
//! rather than stopping at the zip's CRC. Every case must give a model or an error naming the
//! file, never a panic, within the allocation watch; the regressions below are cases the
//! fuzzing found or that a careful reading suggested.

use std::path::Path;

use arbitrary::Unstructured;
use bottleneck::model::import::{import, ImportOptions};

mod fuzzing;
use fuzzing::*;
// ---------------------------------------------------------------- model import (PyTorch, Keras)

fn exchange_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exchange")
        .join(name)
}

/// The entries of a zip whose entries are stored (as torch.save and Keras write them), found
/// through its central directory.
fn unzip_stored(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    let end = zip.len() - 22;
    assert_eq!(&zip[end..end + 4], b"PK\x05\x06", "a zip without a comment");
    let mut p = u32at(end + 16);
    let mut out = Vec::new();
    for _ in 0..u16at(end + 10) {
        assert_eq!(&zip[p..p + 4], b"PK\x01\x02");
        let size = u32at(p + 20);
        let (n, x, c) = (u16at(p + 28), u16at(p + 30), u16at(p + 32));
        let name = String::from_utf8(zip[p + 46..p + 46 + n].to_vec()).unwrap();
        let local = u32at(p + 42);
        let start = local + 30 + u16at(local + 26) + u16at(local + 28);
        out.push((name, zip[start..start + size].to_vec()));
        p += 46 + n + x + c;
    }
    out
}

/// CRC-32 (the zip one).
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// A zip of stored entries with correct checksums, so a mutation inside an entry reaches the
/// parser behind the zip.
fn zip_stored(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let mut fields = Vec::new();
        fields.extend(0u16.to_le_bytes()); // flags
        fields.extend(0u16.to_le_bytes()); // stored
        fields.extend(0u32.to_le_bytes()); // time, date
        fields.extend(crc32(data).to_le_bytes());
        fields.extend((data.len() as u32).to_le_bytes());
        fields.extend((data.len() as u32).to_le_bytes());
        fields.extend((name.len() as u16).to_le_bytes());
        fields.extend(0u16.to_le_bytes()); // extra
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        out.extend(&fields);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes()); // made by
        central.extend(20u16.to_le_bytes()); // needed
        central.extend(&fields);
        central.extend([0u8; 10]); // comment length, disk, attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (at, size, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend(central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend(n.to_le_bytes());
    out.extend(n.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// `bytes` written to `dir/name`, imported (with `decoder`); whether a model came out, which
/// must then run.
fn import_case(dir: &Path, name: &str, bytes: &[u8], decoder: Option<&Path>) -> bool {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let options = ImportOptions {
        decoder: decoder.map(Path::to_path_buf),
        ..ImportOptions::default()
    };
    let Ok(m) = import(&path, &options) else {
        return false;
    };
    let codes = m.encode(&vec![0.5; 784]);
    assert!(codes.is_ok(), "{codes:?}");
    true
}

/// Mutations of one of an entry's bytes, 3 times in 4 within its first `head` bytes.
fn mutate_head(u: &mut Unstructured, w: &mut Vec<u8>, head: usize) -> arbitrary::Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        if u.ratio(3, 4)? && !w.is_empty() {
            let i = u.choose_index(w.len().min(head))?;
            w[i] = u.arbitrary()?;
        } else {
            mutate_once(u, w)?;
        }
    }
    Ok(())
}

/// PyTorch state dicts: a `.safetensors` (mostly its header) and a `.pt` (its pickle, a
/// tensor's storage, or the zip around them).
fn torch_target(long: bool) {
    let st = std::fs::read(exchange_path("torch_conv.safetensors")).unwrap();
    let pt = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    let pkl = pt
        .iter()
        .position(|(n, _)| n.ends_with("data.pkl"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    drive("torch", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let (name, bytes) = match u.int_in_range(0..=2)? {
                0 => {
                    let mut w = st.clone();
                    mutate_head(u, &mut w, 1200)?;
                    ("fuzz.safetensors", w)
                }
                1 => {
                    let mut e = pt.clone();
                    let i = if u.ratio(3, 4)? {
                        pkl
                    } else {
                        u.choose_index(e.len())?
                    };
                    for _ in 0..u.int_in_range(1..=8)? {
                        mutate_once(u, &mut e[i].1)?;
                    }
                    ("fuzz.pt", zip_stored(&e))
                }
                _ => {
                    let mut z = zip_stored(&pt);
                    for _ in 0..u.int_in_range(1..=4)? {
                        mutate_once(u, &mut z)?;
                    }
                    ("fuzz.pt", z)
                }
            };
            Ok(import_case(dir.path(), name, &bytes, None))
        })()
        .unwrap_or(false)
    });
}

/// Keras: a `.keras` encoder (its config.json, its HDF5 weights, or the zip) with the fixture's
/// decoder beside it.
fn keras_target(long: bool) {
    let entries = unzip_stored(&std::fs::read(exchange_path("keras_dense_encoder.keras")).unwrap());
    let config = entries
        .iter()
        .position(|(n, _)| n == "config.json")
        .unwrap();
    let h5 = entries
        .iter()
        .position(|(n, _)| n == "model.weights.h5")
        .unwrap();
    let jsons = vec![String::from_utf8(entries[config].1.clone()).unwrap()];
    let decoder = exchange_path("keras_dense_decoder.keras");
    let dir = tempfile::tempdir().unwrap();
    drive("keras", long, |u| {
        (|| -> arbitrary::Result<bool> {
            let mut e = entries.clone();
            let bytes = match u.int_in_range(0..=2)? {
                0 => {
                    e[config].1 = mutated_json(u, &jsons)?.into_bytes();
                    zip_stored(&e)
                }
                1 => {
                    // The HDF5 metadata: the superblock and headers before the first kernel.
                    mutate_head(u, &mut e[h5].1, 4096)?;
                    zip_stored(&e)
                }
                _ => {
                    let mut z = zip_stored(&e);
                    for _ in 0..u.int_in_range(1..=4)? {
                        mutate_once(u, &mut z)?;
                    }
                    z
                }
            };
            Ok(import_case(
                dir.path(),
                "fuzz.keras",
                &bytes,
                Some(&decoder),
            ))
        })()
        .unwrap_or(false)
    });
}

/// ONNX: an encoder and decoder pair exported by torch, one of them mutated (mostly the graph
/// and the first initializers), read by prost and recognised or run by tract.
fn onnx_target(long: bool) {
    let enc = std::fs::read(exchange_path("torch_dense_encoder.onnx")).unwrap();
    let dec = std::fs::read(exchange_path("torch_dense_decoder.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good_dec = dir.path().join("good_decoder.onnx");
    std::fs::write(&good_dec, &dec).unwrap();
    let bad_dec = dir.path().join("fuzz_decoder.onnx");
    drive("onnx", long, |u| {
        (|| -> arbitrary::Result<bool> {
            if u.ratio(2, 3)? {
                let mut w = enc.clone();
                mutate_head(u, &mut w, 2048)?;
                Ok(import_case(dir.path(), "fuzz.onnx", &w, Some(&good_dec)))
            } else {
                let mut w = dec.clone();
                mutate_head(u, &mut w, 2048)?;
                std::fs::write(&bad_dec, &w).unwrap();
                Ok(import_case(dir.path(), "fuzz.onnx", &enc, Some(&bad_dec)))
            }
        })()
        .unwrap_or(false)
    });
}

#[test]
fn fuzz_onnx() {
    onnx_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz_import -- --ignored"]
fn fuzz_onnx_long() {
    onnx_target(true);
}

#[test]
fn fuzz_torch() {
    torch_target(false);
}

#[test]
fn fuzz_keras() {
    keras_target(false);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz_import -- --ignored"]
fn fuzz_torch_long() {
    torch_target(true);
}

#[test]
#[ignore = "long: FUZZ_SECONDS=N cargo test --release --test fuzz_import -- --ignored"]
fn fuzz_keras_long() {
    keras_target(true);
}

// ---------------------------------------------------------------- regressions

/// `pickle` as the `data.pkl` of the fixture `torch_conv.pt`, imported; the error.
fn torch_pickle_case(name: &str, pickle: &[u8]) -> String {
    let mut e = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    for (n, b) in &mut e {
        if n.ends_with("data.pkl") {
            *b = pickle.to_vec();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pt"));
    std::fs::write(&path, zip_stored(&e)).unwrap();
    regression(name, || import(&path, &ImportOptions::default()))
}

#[test]
fn torch_regression_a_string_claiming_4_gb_ends_early() {
    let e = torch_pickle_case("huge-string", b"\x80\x02X\xff\xff\xff\xffabc.");
    assert_mentions("huge string", &e, &["huge-string.pt", "ends early"]);
}

#[test]
fn torch_regression_memo_doubling_stays_small() {
    // Each round makes a pair of the previous object twice: 2^60 leaves if copied.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for _ in 0..60 {
        p.extend(b"h\x00h\x00\x86q\x00");
    }
    p.push(b'.');
    let e = torch_pickle_case("doubling", &p);
    assert_mentions(
        "doubling",
        &e,
        &["doubling.pt", "does not hold a state dict"],
    );
}

#[test]
fn torch_regression_deep_nesting_does_not_overflow() {
    let mut p = b"\x80\x02N".to_vec();
    p.extend(std::iter::repeat_n(0x85u8, 500_000)); // TUPLE1
    p.push(b'.');
    let e = torch_pickle_case("nested", &p);
    assert_mentions("nested", &e, &["nested.pt", "does not hold a state dict"]);
}

#[test]
fn torch_regression_a_whole_module_says_to_save_the_state_dict() {
    let e = torch_pickle_case("module", b"\x80\x02c__main__\nNet\nq\x00)\x81q\x01}q\x02b.");
    assert_mentions(
        "module",
        &e,
        &["whole pickled nn.Module (__main__.Net)", "state_dict()"],
    );
}

#[test]
fn torch_regression_a_storage_shorter_than_it_claims() {
    let mut e = unzip_stored(&std::fs::read(exchange_path("torch_conv.pt")).unwrap());
    for (n, b) in &mut e {
        if n.ends_with("data/4") {
            b.truncate(100);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.pt");
    std::fs::write(&path, zip_stored(&e)).unwrap();
    let e = regression("short storage", || import(&path, &ImportOptions::default()));
    assert_mentions(
        "short storage",
        &e,
        &["short.pt", "encoder.5.weight", "shorter"],
    );
}

#[test]
fn torch_regression_a_safetensors_shape_of_2_pow_64() {
    let header =
        r#"{"w.weight":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend(header.as_bytes());
    st.extend([0u8; 16]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.safetensors");
    std::fs::write(&path, st).unwrap();
    let e = regression("huge shape", || import(&path, &ImportOptions::default()));
    assert_mentions(
        "huge shape",
        &e,
        &["huge.safetensors", "not a valid safetensors"],
    );
}

/// The fixture `keras_dense_encoder.keras` with `edit` applied to its config.json, imported
/// with its decoder; the error.
fn keras_config_case(name: &str, edit: impl Fn(&str) -> String) -> String {
    let mut e = unzip_stored(&std::fs::read(exchange_path("keras_dense_encoder.keras")).unwrap());
    for (n, b) in &mut e {
        if n == "config.json" {
            *b = edit(std::str::from_utf8(b).unwrap()).into_bytes();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.keras"));
    std::fs::write(&path, zip_stored(&e)).unwrap();
    let options = ImportOptions {
        decoder: Some(exchange_path("keras_dense_decoder.keras")),
        ..ImportOptions::default()
    };
    regression(name, || import(&path, &options))
}

#[test]
fn keras_regression_a_conv_layer_is_refused_with_the_reason() {
    let e = keras_config_case("conv", |c| c.replacen("\"Dense\"", "\"Conv2D\"", 1));
    assert_mentions(
        "conv",
        &e,
        &["conv.keras", "Conv2D", "expected Dense", "'same' padding"],
    );
}

#[test]
fn keras_regression_a_layer_without_weights_names_its_path() {
    // Four Dense layers in the config, three in the HDF5 file.
    let e = keras_config_case("extra", |c| {
        let v: serde_json::Value = serde_json::from_str(c).unwrap();
        let mut v = v;
        let layers = v["config"]["layers"].as_array_mut().unwrap();
        let last = layers.last().unwrap().clone();
        layers.push(last);
        v.to_string()
    });
    assert_mentions("extra", &e, &["extra.keras", "/layers/dense_3/vars/0"]);
}
