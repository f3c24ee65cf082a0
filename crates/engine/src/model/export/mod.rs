//! Writing a model in other frameworks' formats: ONNX graphs (`encoder.onnx`, `decoder.onnx`,
//! see [`onnx`]) and a PyTorch module (`model.py` with its weights, see [`pytorch`]). This
//! module owns the error and what both share: reading a model's tensors by name and making
//! the output folder. Each writer gives back the files it wrote.

pub mod onnx;
pub mod pytorch;

use std::path::{Path, PathBuf};

use super::io::ModelIoError;
use super::TrainedModel;

/// Why an export failed: one sentence.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot export: {0}")]
    InferenceOnly(&'static str),
    #[error("cannot create {}: {error}", path.display())]
    Folder {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot export: the model has no tensor '{0}'")]
    Missing(String),
    #[error(transparent)]
    Io(#[from] ModelIoError),
}

/// Refuses a model run for inference only, and makes `dir`.
fn prepare(model: &TrainedModel, dir: &Path) -> Result<(), ExportError> {
    if let Some(why) = model.inference_only() {
        return Err(ExportError::InferenceOnly(why));
    }
    std::fs::create_dir_all(dir).map_err(|error| ExportError::Folder {
        path: dir.to_path_buf(),
        error,
    })
}

/// The values of the model's tensor `name`, row-major.
fn tensor(model: &TrainedModel, name: &str) -> Result<Vec<f32>, ExportError> {
    let data = model.varmap.data().lock().expect("varmap lock");
    let var = data
        .get(name)
        .ok_or_else(|| ExportError::Missing(name.to_string()))?;
    var.as_tensor()
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| ExportError::Io(ModelIoError::Candle(e)))
}
