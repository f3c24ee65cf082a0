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
    #[error(
        "cannot export a conditional VAE yet: its encoder and decoder take the one-hot class \
         beside the pixels and the code, which the exported encoder/decoder pair has no input for"
    )]
    Conditional,
    #[error(transparent)]
    Io(#[from] ModelIoError),
}

/// What a model is exported as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `encoder.onnx` and `decoder.onnx`.
    Onnx,
    /// `model.py`, `model.safetensors` and `model.json`.
    Pytorch,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Onnx, Target::Pytorch];

    pub fn label(self) -> &'static str {
        match self {
            Target::Onnx => "ONNX",
            Target::Pytorch => "PyTorch",
        }
    }

    /// The files written, in words.
    pub fn files(self) -> &'static str {
        match self {
            Target::Onnx => "encoder.onnx and decoder.onnx (opset 17, any batch size)",
            Target::Pytorch => "model.py (an nn.Module), model.safetensors and model.json",
        }
    }

    /// Writes `model` into `dir`; gives back the files written.
    pub fn write(self, model: &TrainedModel, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
        match self {
            Target::Onnx => onnx::write(model, dir),
            Target::Pytorch => pytorch::write(model, dir),
        }
    }

    /// The Python lines that load what [`Target::write`] wrote into `dir`.
    pub fn python(self, dir: &Path) -> Vec<String> {
        match self {
            Target::Onnx => onnx::load_lines(dir).to_vec(),
            Target::Pytorch => pytorch::load_lines(dir).to_vec(),
        }
    }
}

/// Refuses a model run for inference only, and makes `dir`.
fn prepare(model: &TrainedModel, dir: &Path) -> Result<(), ExportError> {
    if let Some(why) = model.inference_only() {
        return Err(ExportError::InferenceOnly(why));
    }
    if model.classes() > 0 {
        return Err(ExportError::Conditional);
    }
    std::fs::create_dir_all(dir).map_err(|error| ExportError::Folder {
        path: dir.to_path_buf(),
        error,
    })
}

/// `path` inside a Python string literal's quotes (backslashes and quotes escaped).
fn python_path(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
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
