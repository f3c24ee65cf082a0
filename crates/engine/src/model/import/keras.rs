//! Keras 3 `.keras` files: a zip of `config.json` (the architecture) and `model.weights.h5`
//! (the weights, read with the pure-Rust `hdf5-reader` crate).
//!
//! The model is a `Functional` or `Sequential` model of `Dense` layers, possibly nested (an
//! `encoder` and a `decoder` model inside an autoencoder); `InputLayer`s are skipped and any
//! other layer is refused with a sentence naming it. Keras' convolutions are refused too: its
//! `'same'` padding at stride 2 pads 0 before and 1 after, which is not Bottleneck's
//! convolution. The code is the output of the nested model whose name contains "enc", or,
//! without one, of the narrowest Dense layer. The activations are the config's own (ReLU or
//! linear between layers and at the code, sigmoid or linear at the output), so nothing is
//! assumed; the user's [`ImportOptions`] still replace them.
//!
//! In the HDF5 file a layer's weights are not under its name but under its class's snake-case
//! name numbered per container in order (`dense`, `dense_1`, …; nested models `functional`,
//! `functional_1`, …), so layers are matched by their order in `config.json`. Dense kernels are
//! `[in, out]` and are transposed to Bottleneck's `[out, in]`. `/optimizer` is never read.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{assemble, dense_config, Activations, Format, ImportError, ImportOptions};
use super::{at, zip_entry, Recognised, SourceLayer};
use crate::model::config::{Activation, ModelConfig};

/// The largest `config.json` read.
const MAX_CONFIG: u64 = 16 << 20;
/// The largest `model.weights.h5` read.
const MAX_WEIGHTS: u64 = 256 << 20;
/// How deep models may nest.
const MAX_NESTING: usize = 8;

/// A Dense layer as the config describes it, with where its weights are.
struct Dense {
    /// "encoder/dense_1".
    name: String,
    units: usize,
    activation: String,
    use_bias: bool,
    /// "/layers/functional/layers/dense_1".
    h5: String,
}

/// A `.keras` file's Dense layers in order, and the index of the encoder's last layer when a
/// nested model is named like an encoder.
struct KerasModel {
    dense: Vec<Dense>,
    encoder_end: Option<usize>,
    weights: Vec<(Vec<f32>, Vec<usize>, Vec<f32>)>,
}

/// Reads and recognises a `.keras` file (and `options.decoder`, a second `.keras` file holding
/// the decoder).
pub fn inspect(path: &Path, options: &ImportOptions) -> Result<Recognised, ImportError> {
    let mut model = read(path).map_err(at(path))?;
    let mut files = vec![path.to_path_buf()];
    if let Some(dec) = &options.decoder {
        let d = read(dec).map_err(at(dec))?;
        model.encoder_end = Some(model.dense.len().saturating_sub(1));
        model.dense.extend(d.dense);
        model.weights.extend(d.weights);
        files.push(dec.clone());
    }
    let (config, sources, acts) = recognise(model, options).map_err(at(path))?;
    let assumed = acts
        .assumed(options)
        .into_iter()
        .filter(|s| s.ends_with("(your choice)"))
        .collect();
    assemble(Format::Keras, files, config, sources, assumed).map_err(at(path))
}

fn recognise(
    model: KerasModel,
    options: &ImportOptions,
) -> Result<(ModelConfig, Vec<SourceLayer>, Activations), String> {
    let d = &model.dense;
    if d.len() < 2 {
        return Err(format!(
            "has {} Dense layers; expected an encoder and a decoder of Dense layers",
            d.len()
        ));
    }
    let code = match model.encoder_end {
        Some(i) => i,
        None => (0..d.len() - 1)
            .min_by_key(|&i| (d[i].units, i))
            .unwrap_or(0),
    };
    if code + 1 >= d.len() {
        return Err("has no decoder after the encoder's Dense layers".into());
    }
    let act = |l: &Dense, allowed: &[&str]| -> Result<Activation, String> {
        if !allowed.contains(&l.activation.as_str()) {
            return Err(format!(
                "layer '{}' has activation '{}'; expected {}",
                l.name,
                l.activation,
                allowed.join(" or ")
            ));
        }
        Ok(match l.activation.as_str() {
            "relu" => Activation::Relu,
            _ => Activation::Identity,
        })
    };
    let last = d.len() - 1;
    let mut hidden = None;
    for (i, l) in d.iter().enumerate() {
        if i == code || i == last {
            continue;
        }
        let a = act(l, &["relu", "linear"])?;
        if hidden.is_some_and(|h| h != a) {
            return Err(format!(
                "mixes activations between layers (layer '{}' is {}); Bottleneck uses one",
                l.name, l.activation
            ));
        }
        hidden = Some(a);
    }
    act(&d[last], &["sigmoid", "linear"])?;
    let file_acts = Activations {
        hidden: hidden.unwrap_or(Activation::Relu),
        code: act(&d[code], &["relu", "linear"])?,
        sigmoid_output: d[last].activation == "sigmoid",
    };
    let acts = file_acts.with(options);
    let first_in = model.weights[0].1[1];
    let mut enc = vec![first_in];
    enc.extend(d[..=code].iter().map(|l| l.units));
    let mut dec = vec![d[code].units];
    dec.extend(d[code + 1..].iter().map(|l| l.units));
    let config = dense_config(&enc, &dec, d[code].units, false, acts).ok_or_else(|| {
        format!(
            "has Dense layers of widths {enc:?} (encoder) and {dec:?} (decoder); expected an \
             encoder from 784 inputs and a decoder back to 784 outputs"
        )
    })?;
    let sources = d
        .iter()
        .zip(model.weights)
        .map(|(l, (weight, shape, bias))| SourceLayer {
            source: l.name.clone(),
            weight,
            weight_shape: shape,
            bias,
        })
        .collect();
    Ok((config, sources, acts))
}

/// The sentence for a `.keras` zip without the entry `name`.
fn missing(name: &str) -> String {
    format!("has no {name} (expected a Keras 3 .keras file)")
}

/// The Dense layers and weights of a `.keras` file.
fn read(path: &Path) -> Result<KerasModel, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|_| "is not a .keras file (not a zip; Keras 3 model.save writes one)")?;
    let config = zip_entry(&mut zip, "config.json", MAX_CONFIG, || {
        missing("config.json")
    })?;
    let config: Value = serde_json::from_slice(&config)
        .map_err(|e| format!("has a config.json that is not JSON ({e})"))?;
    let mut dense = Vec::new();
    let mut encoder_end = None;
    walk(&config, "", "", 0, &mut dense, &mut encoder_end)?;
    let h5 = zip_entry(&mut zip, "model.weights.h5", MAX_WEIGHTS, || {
        missing("model.weights.h5")
    })?;
    let options = hdf5_reader::OpenOptions::default().with_max_read_bytes(MAX_WEIGHTS as usize);
    let h5 = hdf5_reader::Hdf5File::from_vec_with_options(h5, options)
        .map_err(|e| format!("has a model.weights.h5 that cannot be read ({e})"))?;
    let mut weights = Vec::with_capacity(dense.len());
    let mut inputs = None;
    for l in &dense {
        let (kernel, shape) = dataset(&h5, &format!("{}/vars/0", l.h5), &l.name)?;
        if shape.len() != 2 || shape[1] != l.units || inputs.is_some_and(|i| i != shape[0]) {
            return Err(format!(
                "layer '{}' has a kernel of shape {shape:?} where [{}, {}] was expected",
                l.name,
                inputs.map_or("inputs".to_string(), |i: usize| i.to_string()),
                l.units
            ));
        }
        let (n_in, n_out) = (shape[0], shape[1]);
        inputs = Some(n_out);
        // Keras' kernel is [in, out]; Bottleneck's (and PyTorch's) weight is [out, in].
        let mut w = vec![0f32; kernel.len()];
        for i in 0..n_in {
            for o in 0..n_out {
                w[o * n_in + i] = kernel[i * n_out + o];
            }
        }
        let bias = if l.use_bias {
            let (b, bshape) = dataset(&h5, &format!("{}/vars/1", l.h5), &l.name)?;
            if bshape != [l.units] {
                return Err(format!(
                    "layer '{}' has a bias of shape {bshape:?} where [{}] was expected",
                    l.name, l.units
                ));
            }
            b
        } else {
            vec![0.0; l.units]
        };
        weights.push((w, vec![n_out, n_in], bias));
    }
    Ok(KerasModel {
        dense,
        encoder_end,
        weights,
    })
}

/// A float dataset's values (as f32) and shape.
fn dataset(
    h5: &hdf5_reader::Hdf5File,
    path: &str,
    layer: &str,
) -> Result<(Vec<f32>, Vec<usize>), String> {
    let ds = h5.dataset(path).map_err(|e| {
        format!("has no weights for layer '{layer}' at {path} in model.weights.h5 ({e})")
    })?;
    let shape: Vec<usize> = ds.shape().iter().map(|&d| d as usize).collect();
    let values: Vec<f32> = match ds.read_array::<f32>() {
        Ok(a) => a.iter().copied().collect(),
        Err(_) => ds
            .read_array::<f64>()
            .map_err(|e| format!("layer '{layer}' has weights that are not floats ({e})"))?
            .iter()
            .map(|&v| v as f32)
            .collect(),
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(format!("layer '{layer}' has a malformed dataset at {path}"));
    }
    Ok((values, shape))
}

/// Keras' snake case of a class name: "Functional" → "functional", "InputLayer" → "input_layer".
fn snake(class: &str) -> String {
    let mut s = String::new();
    let mut prev_lower = false;
    for c in class.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            s.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        s.push(c.to_ascii_lowercase());
    }
    s
}

/// Collects the Dense layers of a model config (recursing into nested models) in order.
fn walk(
    model: &Value,
    name_prefix: &str,
    h5_prefix: &str,
    depth: usize,
    dense: &mut Vec<Dense>,
    encoder_end: &mut Option<usize>,
) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err("nests models too deeply".into());
    }
    let layers = model
        .pointer("/config/layers")
        .and_then(Value::as_array)
        .ok_or(
        "has a config.json without a model's layers (expected a Functional or Sequential model)",
    )?;
    let mut used: HashMap<String, usize> = HashMap::new();
    for layer in layers {
        let class = layer
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let cfg = layer.get("config").unwrap_or(&Value::Null);
        let name = cfg.get("name").and_then(Value::as_str).unwrap_or("?");
        let snake_name = snake(class);
        let n = used.entry(snake_name.clone()).or_insert(0);
        let h5_name = if *n == 0 {
            snake_name.clone()
        } else {
            format!("{snake_name}_{n}")
        };
        *n += 1;
        let full = format!("{name_prefix}{name}");
        let h5 = format!("{h5_prefix}/layers/{h5_name}");
        match class {
            "InputLayer" => {}
            "Dense" => {
                let units = cfg.get("units").and_then(Value::as_u64).unwrap_or(0) as usize;
                let activation = match cfg.get("activation") {
                    Some(Value::String(a)) => a.clone(),
                    None | Some(Value::Null) => "linear".into(),
                    Some(_) => {
                        return Err(format!(
                            "layer '{full}' has an activation that is not a name"
                        ))
                    }
                };
                if units == 0 || units > 1 << 20 {
                    return Err(format!("layer '{full}' has no sensible number of units"));
                }
                dense.push(Dense {
                    name: full,
                    units,
                    activation,
                    use_bias: cfg.get("use_bias").and_then(Value::as_bool).unwrap_or(true),
                    h5,
                });
            }
            "Functional" | "Sequential" | "Model" => {
                walk(
                    layer,
                    &format!("{full}/"),
                    &h5,
                    depth + 1,
                    dense,
                    encoder_end,
                )?;
                if encoder_end.is_none() && name.to_ascii_lowercase().contains("enc") {
                    *encoder_end = dense.len().checked_sub(1);
                }
            }
            c if c.starts_with("Conv") => {
                return Err(format!(
                    "layer '{full}' is a {c}: not importable, expected Dense layers (Keras' \
                     'same' padding at stride 2 pads 0 before and 1 after, which is not \
                     Bottleneck's convolution)"
                ))
            }
            c => {
                return Err(format!(
                    "layer '{full}' is a {c}; expected only Dense layers (and nested models)"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn class_names_snake_like_keras() {
        assert_eq!(snake("Dense"), "dense");
        assert_eq!(snake("InputLayer"), "input_layer");
        assert_eq!(snake("Functional"), "functional");
    }
}
