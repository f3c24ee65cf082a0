//! Saving and loading models: weights as safetensors, plus a JSON sidecar (same name, `.json`)
//! holding the full configuration, the dataset's name and the training history. Both files are
//! written to a temporary name, synced and renamed into place, so a crash never leaves half a
//! file; a failed save (a full disk, a read-only folder) removes its temporary files and
//! leaves an existing model as it was.
//! Loading checks the sidecar, then every tensor's name and shape against the configuration.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::loss::{LossTerms, Term};
use super::{TrainConfig, TrainedModel};

pub const FORMAT: &str = "bottleneck-model";
pub const VERSION: u32 = 1;

/// One finished epoch, as kept in a model's history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    pub train: LossTerms,
    pub test: LossTerms,
    pub samples_per_sec: f64,
    /// Wall time of the epoch's training steps.
    pub seconds: f64,
}

/// Most records a model's history keeps: past it, the older records are thinned (every other
/// one dropped, the first and the latest always kept; a kept record's `seconds` then covers the
/// epochs since the previous kept one), so a model trained for any number of epochs, and every
/// snapshot of it, stays small. Each record names its epoch.
pub const MAX_HISTORY: usize = 1024;

/// Appends `rec` to a model's `history`, thinning it to at most [`MAX_HISTORY`] records.
pub fn push_record(history: &mut Vec<EpochRecord>, rec: EpochRecord) {
    history.push(rec);
    if history.len() > MAX_HISTORY {
        // A dropped record's training time moves to the next record, so the history's seconds
        // still add up to the whole training time.
        let last = history.len() - 1;
        let old = std::mem::take(history);
        let mut carried = 0.0;
        for (i, mut r) in old.into_iter().enumerate() {
            if i % 2 == 0 || i == last {
                r.seconds += carried;
                carried = 0.0;
                history.push(r);
            } else {
                carried += r.seconds;
            }
        }
    }
}

/// The JSON sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format: String,
    pub version: u32,
    pub config: TrainConfig,
    /// Human name of the dataset the model was trained on.
    pub dataset: String,
    #[serde(default)]
    pub epochs_trained: usize,
    #[serde(default)]
    pub history: Vec<EpochRecord>,
    /// Where an imported model came from and what was assumed about it (`None` for a model
    /// Bottleneck trained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where an imported model came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The format, e.g. "PyTorch state dict (.pt)", "Keras 3 (.keras)", "ONNX".
    pub format: String,
    /// The files read (the model, and a separate decoder if there was one).
    pub files: Vec<PathBuf>,
    /// What the file did not say and was assumed, one sentence each (e.g. "activations: ReLU
    /// between layers (a state dict does not record them)").
    #[serde(default)]
    pub assumed: Vec<String>,
}

impl ModelMeta {
    pub fn new(config: TrainConfig, dataset: &str) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            config,
            dataset: dataset.into(),
            epochs_trained: 0,
            history: Vec::new(),
            origin: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelIoError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        // In the message, not chained: the one-line CLI report would print it twice.
        error: std::io::Error,
    },
    #[error("{path}: not a Bottleneck model description: {message}")]
    Meta { path: PathBuf, message: String },
    #[error("{path}: the configuration cannot be built: {error}")]
    Config {
        path: PathBuf,
        error: super::ConfigError,
    },
    #[error("{path}: not a readable safetensors file: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("{path}: tensor '{name}' is missing (the configuration needs it)")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor '{name}' has shape {found:?}, the configuration expects {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor '{name}' is not part of a {variant} model with this configuration")]
    UnexpectedTensor {
        path: PathBuf,
        name: String,
        variant: String,
    },
    #[error("{path}: the weights path must not end in .json (that name is the sidecar's)")]
    BadPath { path: PathBuf },
    #[error("{path}: {why}")]
    InferenceOnly { path: PathBuf, why: &'static str },
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
}

/// `model.safetensors` → `model.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelIoError + '_ {
    move |error| ModelIoError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelIoError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically with what `fill` writes: into a temporary file beside it, synced
/// to disk, then renamed over it. On any failure (writing, a full disk, syncing, renaming)
/// the temporary file is removed and an existing file at `path` is left as it was. Tests
/// inject failures through `fill`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), ModelIoError> {
    let tmp = write_temp(path, fill)?;
    commit(&tmp, path)
}

/// The temporary name `path` is written under before the rename.
pub fn temp_path(path: &Path) -> PathBuf {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()))
}

/// Writes and syncs the temporary file of `path`; removes it again on failure.
fn write_temp(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<PathBuf, ModelIoError> {
    let tmp = temp_path(path);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        fill(&mut f)?;
        f.sync_all()
    });
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io_err(path)(e))
        }
    }
}

/// Renames a written temporary file over `path`; removes it on failure.
fn commit(tmp: &Path, path: &Path) -> Result<(), ModelIoError> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        io_err(path)(e)
    })
}

/// Saves the weights to `path` and the sidecar beside it.
pub fn save(model: &TrainedModel, path: &Path) -> Result<(), ModelIoError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return Err(ModelIoError::BadPath {
            path: path.to_path_buf(),
        });
    }
    if let Some(why) = model.inference_only() {
        return Err(ModelIoError::InferenceOnly {
            path: path.to_path_buf(),
            why,
        });
    }
    let tensors: HashMap<String, Tensor> = {
        let data = model.varmap.data().lock().expect("varmap lock");
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    let bytes = safetensors::serialize(
        tensors
            .iter()
            .map(|(k, t)| (k.clone(), SafeView::new(t)))
            .collect::<Vec<_>>(),
        None,
    )
    .map_err(|e| ModelIoError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let meta = serde_json::to_vec_pretty(&model.meta).expect("metadata serialises");
    // Both files are written in full before either replaces an older pair, so a full disk
    // or a failed write leaves the old pair as it was.
    let side = sidecar_path(path);
    let tmp = write_temp(path, |w| w.write_all(&bytes))?;
    let tmp_side = match write_temp(&side, |w| w.write_all(&meta)) {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = commit(&tmp, path) {
        let _ = std::fs::remove_file(&tmp_side);
        return Err(e);
    }
    commit(&tmp_side, &side)
}

/// Reads the sidecar of `path` (the weights file) and checks its format.
pub fn load_meta(path: &Path) -> Result<ModelMeta, ModelIoError> {
    let side = sidecar_path(path);
    let text = std::fs::read_to_string(&side).map_err(io_err(&side))?;
    parse_meta(&text, &side)
}

/// Parses and checks a sidecar's text; `side` names it in errors.
pub fn parse_meta(text: &str, side: &Path) -> Result<ModelMeta, ModelIoError> {
    let meta: ModelMeta = serde_json::from_str(text).map_err(|e| ModelIoError::Meta {
        path: side.to_path_buf(),
        message: e.to_string(),
    })?;
    if meta.format != FORMAT {
        return Err(ModelIoError::Meta {
            path: side.to_path_buf(),
            message: format!("format is '{}', expected '{FORMAT}'", meta.format),
        });
    }
    if meta.version > VERSION {
        return Err(ModelIoError::Meta {
            path: side.to_path_buf(),
            message: format!(
                "version {} is newer than this Bottleneck understands ({VERSION})",
                meta.version
            ),
        });
    }
    meta.config
        .validate()
        .map_err(|error| ModelIoError::Config {
            path: side.to_path_buf(),
            error,
        })?;
    Ok(meta)
}

/// Loads a model saved with [`save`].
pub fn load(path: &Path) -> Result<TrainedModel, ModelIoError> {
    let meta = load_meta(path)?;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    from_parts(meta, &bytes, path)
}

/// Builds a model from its metadata and safetensors bytes, checking every tensor's name and
/// shape against the configuration; `path` names the weights in errors.
pub fn from_parts(
    meta: ModelMeta,
    bytes: &[u8],
    path: &Path,
) -> Result<TrainedModel, ModelIoError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| ModelIoError::Weights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut fresh = TrainedModel::new(&meta.config, &meta.dataset)?;
    {
        let data = fresh.varmap.data().lock().expect("varmap lock");
        for (name, _) in st.tensors() {
            if !data.contains_key(&name) {
                return Err(ModelIoError::UnexpectedTensor {
                    path: path.to_path_buf(),
                    name,
                    variant: meta.config.variant.to_string(),
                });
            }
        }
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let view = st.tensor(name).map_err(|_| ModelIoError::MissingTensor {
                path: path.to_path_buf(),
                name: name.clone(),
            })?;
            let expected = var.dims().to_vec();
            if view.shape() != expected.as_slice() {
                return Err(ModelIoError::ShapeMismatch {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    found: view.shape().to_vec(),
                    expected,
                });
            }
            let t =
                candle_core::safetensors::Load::load(&view, &Device::Cpu)?.to_dtype(DType::F32)?;
            var.set(&t)?;
        }
    }
    fresh.meta = meta;
    Ok(fresh)
}

/// Latent codes as CSV: a `label,z1,…,zk` header, then one row per image.
pub fn codes_csv(labels: &[u8], codes: &[f32], k: usize) -> String {
    use std::fmt::Write;
    let mut out = String::from("label");
    for j in 1..=k {
        let _ = write!(out, ",z{j}");
    }
    out.push('\n');
    for (i, &label) in labels.iter().enumerate() {
        let Some(row) = codes.get(i * k..(i + 1) * k) else {
            break;
        };
        let _ = write!(out, "{label}");
        for v in row {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

/// The loss history as CSV: `epoch,train_<term>…,test_<term>…,samples_per_sec,seconds`.
pub fn history_csv(history: &[EpochRecord]) -> String {
    use std::fmt::Write;
    let mut train_terms: Vec<Term> = Vec::new();
    let mut test_terms: Vec<Term> = Vec::new();
    for r in history {
        for (t, _) in r.train.iter() {
            if !train_terms.contains(&t) {
                train_terms.push(t);
            }
        }
        for (t, _) in r.test.iter() {
            if !test_terms.contains(&t) {
                test_terms.push(t);
            }
        }
    }
    let mut out = String::from("epoch");
    for t in &train_terms {
        let _ = write!(out, ",train_{t}");
    }
    for t in &test_terms {
        let _ = write!(out, ",test_{t}");
    }
    out.push_str(",samples_per_sec,seconds\n");
    for r in history {
        let _ = write!(out, "{}", r.epoch);
        for t in &train_terms {
            let _ = write!(
                out,
                ",{}",
                r.train.get(*t).map(|v| v.to_string()).unwrap_or_default()
            );
        }
        for t in &test_terms {
            let _ = write!(
                out,
                ",{}",
                r.test.get(*t).map(|v| v.to_string()).unwrap_or_default()
            );
        }
        let _ = writeln!(out, ",{},{}", r.samples_per_sec, r.seconds);
    }
    out
}

/// Adapter so safetensors can serialise candle tensors without a detour through files.
struct SafeView {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl SafeView {
    fn new(t: &Tensor) -> Self {
        let values: Vec<f32> = t
            .flatten_all()
            .and_then(|f| f.to_vec1::<f32>())
            .expect("f32 weights");
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            shape: t.dims().to_vec(),
            bytes,
        }
    }
}

impl safetensors::View for SafeView {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn a_long_history_is_thinned_keeping_the_first_and_the_latest_epoch() {
        let mut h = Vec::new();
        for epoch in 1..=5000 {
            push_record(
                &mut h,
                EpochRecord {
                    epoch,
                    seconds: 1.0,
                    ..Default::default()
                },
            );
            assert!(h.len() <= MAX_HISTORY, "epoch {epoch}: {} records", h.len());
            assert_eq!(h.last().unwrap().epoch, epoch);
        }
        assert_eq!(h[0].epoch, 1);
        assert!(h.windows(2).all(|w| w[0].epoch < w[1].epoch), "in order");
        assert!(h.len() > MAX_HISTORY / 2, "{} records", h.len());
        let total: f64 = h.iter().map(|r| r.seconds).sum();
        assert_eq!(total, 5000.0, "the training time adds up");
    }

    #[test]
    fn codes_and_history_csv() {
        let csv = codes_csv(&[3, 7], &[0.5, -1.0, 2.0, 0.25], 2);
        assert_eq!(csv, "label,z1,z2\n3,0.5,-1\n7,2,0.25\n");
        let mut a = EpochRecord {
            epoch: 1,
            samples_per_sec: 100.0,
            seconds: 2.0,
            ..Default::default()
        };
        a.train.set(Term::Total, 0.5);
        a.test.set(Term::Total, 0.25);
        a.test.set(Term::Mse, 0.125);
        let csv = history_csv(&[a]);
        assert_eq!(csv, "epoch,train_total,test_mse,test_total,samples_per_sec,seconds\n1,0.5,0.125,0.25,100,2\n");
    }
}
