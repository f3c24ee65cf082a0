//! Networks Bottleneck runs but does not own: an imported graph (an ONNX file) that is not
//! made of Bottleneck's own layers. It encodes and decodes, so every panel that only does that
//! works on it; it has no weights Bottleneck can train, save or draw, and the places that
//! would need them say so with [`INFERENCE_ONLY`].

/// Why an inference-only model cannot be trained, saved or have its weights drawn (one
/// sentence, shown as is).
pub const INFERENCE_ONLY: &str = "this model runs through the ONNX runtime for inference only: \
     its graph is not made of Bottleneck's layers, so Bottleneck cannot compute its gradients, \
     train it further, save it in its own format or draw its weights";

/// An encoder and decoder Bottleneck can run but not differentiate.
pub trait ExternalNet: Send + Sync + std::fmt::Debug {
    /// `n` images (`n × 784`, 0–1, row-major) → `n` codes (`n × k`).
    fn encode(&self, x: &[f32], n: usize) -> Result<Vec<f32>, String>;
    /// `n` codes (`n × k`) → `n` images (`n × 784`): the network's final output.
    fn decode(&self, z: &[f32], n: usize) -> Result<Vec<f32>, String>;
}
