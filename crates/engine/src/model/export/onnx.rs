//! ONNX export: a model as two graphs, `encoder.onnx` (`x` [N, 784] → `z` [N, k]; a VAE
//! gives `mu` and `logvar`) and `decoder.onnx` (`z` [N, k] → `x_hat` [N, 784]), opset 17, IR
//! version 8, the batch dimension `N` dynamic. Dense layers are `Gemm` (transB = 1, weights
//! in Bottleneck's `[out, in]` layout), convolutions `Conv` / `ConvTranspose` (3×3, stride 2,
//! padding 1), activations `Relu` and `Sigmoid`. This module owns building the protobuf
//! messages (tract-onnx's `pb` structs, encoded with prost) and writing the two files.

use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb;

use super::{prepare, python_path, tensor, ExportError};
use crate::model::config::{Activation, Arch, ModelConfig};
use crate::model::io::write_atomic;
use crate::model::params::{
    ConvLayout, DenseLayout, LayerSpec, ParamKind, KERNEL, PADDING, STRIDE,
};
use crate::model::TrainedModel;

/// ONNX opset and IR version written.
pub const OPSET: i64 = 17;
pub const IR_VERSION: i64 = 8;

/// Writes `dir/encoder.onnx` and `dir/decoder.onnx`; gives back their paths.
pub fn write(model: &TrainedModel, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    prepare(model, dir)?;
    let (enc, dec) = graphs(model)?;
    let mut files = Vec::new();
    for (name, graph) in [("encoder.onnx", enc), ("decoder.onnx", dec)] {
        let path = dir.join(name);
        write_atomic(&path, &model_proto(graph).encode_to_vec())?;
        files.push(path);
    }
    Ok(files)
}

/// The Python lines that run the export in `dir` with onnxruntime (a VAE's first encoder
/// output is `mu`).
pub fn load_lines(dir: &Path) -> [String; 5] {
    let file = |name: &str| python_path(&dir.join(name));
    [
        "import onnxruntime as ort".to_string(),
        format!("enc = ort.InferenceSession(\"{}\")", file("encoder.onnx")),
        format!("dec = ort.InferenceSession(\"{}\")", file("decoder.onnx")),
        "z = enc.run(None, {\"x\": x})[0]  # x: float32 [N, 784], pixels in 0..1".to_string(),
        "x_hat = dec.run(None, {\"z\": z})[0]".to_string(),
    ]
}

/// The encoder's and the decoder's graphs.
pub fn graphs(model: &TrainedModel) -> Result<(pb::GraphProto, pb::GraphProto), ExportError> {
    let cfg = &model.config().model;
    match cfg.arch {
        Arch::Dense | Arch::Vae => dense(model, cfg),
        Arch::Conv => conv(model, cfg),
    }
}

/// The file around a graph: IR version, opset, producer.
fn model_proto(graph: pb::GraphProto) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "Bottleneck".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        ..Default::default()
    }
}

/// Builds one graph node by node.
struct Builder<'a> {
    model: &'a TrainedModel,
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
}

impl<'a> Builder<'a> {
    fn new(model: &'a TrainedModel) -> Self {
        Self {
            model,
            nodes: Vec::new(),
            inits: Vec::new(),
        }
    }

    /// Adds a node; its output is named after it (`/3/Gemm`).
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<pb::AttributeProto>) -> String {
        let name = format!("/{}/{op}", self.nodes.len());
        let output = format!("{name}_output");
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name,
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// The layer's weight and bias as initializers named as in Bottleneck.
    fn params(&mut self, spec: &LayerSpec) -> Result<[String; 2], ExportError> {
        let mut names = [String::new(), String::new()];
        for (i, kind) in [ParamKind::Weight, ParamKind::Bias].into_iter().enumerate() {
            let name = spec.var(kind);
            let values = tensor(self.model, &name)?;
            let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.inits.push(pb::TensorProto {
                dims: spec.shape(kind).iter().map(|&d| d as i64).collect(),
                data_type: pb::tensor_proto::DataType::Float as i32,
                name: name.clone(),
                raw_data,
                ..Default::default()
            });
            names[i] = name;
        }
        Ok(names)
    }

    /// An int64 constant (a shape for `Reshape`).
    fn shape(&mut self, name: &str, dims: &[i64]) -> String {
        self.inits.push(pb::TensorProto {
            dims: vec![dims.len() as i64],
            data_type: pb::tensor_proto::DataType::Int64 as i32,
            name: name.into(),
            raw_data: dims.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    fn gemm(&mut self, spec: &LayerSpec, x: &str) -> Result<String, ExportError> {
        let [w, b] = self.params(spec)?;
        Ok(self.node("Gemm", &[x, &w, &b], vec![int("transB", 1)]))
    }

    /// A 3×3 stride-2 convolution (`transposed`: with `output_padding`).
    fn conv(
        &mut self,
        spec: &LayerSpec,
        x: &str,
        transposed: Option<usize>,
    ) -> Result<String, ExportError> {
        let [w, b] = self.params(spec)?;
        let (k, s, p) = (KERNEL as i64, STRIDE as i64, PADDING as i64);
        let mut attrs = vec![
            ints("kernel_shape", &[k, k]),
            ints("strides", &[s, s]),
            ints("pads", &[p, p, p, p]),
        ];
        let op = match transposed {
            Some(op) => {
                attrs.push(ints("output_padding", &[op as i64, op as i64]));
                "ConvTranspose"
            }
            None => "Conv",
        };
        Ok(self.node(op, &[x, &w, &b], attrs))
    }

    fn act(&mut self, x: String, act: Activation) -> String {
        match act {
            Activation::Relu => self.node("Relu", &[&x], vec![]),
            Activation::Identity => x,
        }
    }

    /// Names the value `from` as the graph output `to` (renaming the node that makes it).
    fn rename(&mut self, from: &str, to: &str) {
        for n in &mut self.nodes {
            for o in n.output.iter_mut().chain(n.input.iter_mut()) {
                if o == from {
                    *o = to.into();
                }
            }
        }
    }

    fn finish(self, name: &str, input: (&str, usize), outputs: &[(&str, usize)]) -> pb::GraphProto {
        pb::GraphProto {
            node: self.nodes,
            name: name.into(),
            initializer: self.inits,
            input: vec![value_info(input.0, input.1)],
            output: outputs.iter().map(|&(n, w)| value_info(n, w)).collect(),
            ..Default::default()
        }
    }
}

fn int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A float32 `[N, width]` value, `N` dynamic.
fn value_info(name: &str, width: usize) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = |v: Value| Dimension {
        value: Some(v),
        ..Default::default()
    };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: vec![
                        dim(Value::DimParam("N".into())),
                        dim(Value::DimValue(width as i64)),
                    ],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The sigmoid output, if the model has one.
fn output(b: &mut Builder, h: String, cfg: &ModelConfig) -> String {
    if cfg.sigmoid_output {
        b.node("Sigmoid", &[&h], vec![])
    } else {
        h
    }
}

/// Dense AE or VAE: Gemm layers with the hidden activation between.
fn dense(
    model: &TrainedModel,
    cfg: &ModelConfig,
) -> Result<(pb::GraphProto, pb::GraphProto), ExportError> {
    let l = DenseLayout::new(cfg);
    let k = cfg.latent;
    let mut e = Builder::new(model);
    let mut h = "x".to_string();
    let n = l.encoder.len();
    for (i, spec) in l.encoder.iter().enumerate() {
        h = e.gemm(spec, &h)?;
        let act = match (&l.heads, i + 1 == n) {
            (None, true) => cfg.code_activation,
            _ => cfg.activation,
        };
        h = e.act(h, act);
    }
    let enc = match &l.heads {
        Some([mu, logvar]) => {
            let m = e.gemm(mu, &h)?;
            let v = e.gemm(logvar, &h)?;
            e.rename(&m, "mu");
            e.rename(&v, "logvar");
            e.finish("encoder", ("x", crate::PIXELS), &[("mu", k), ("logvar", k)])
        }
        None => {
            e.rename(&h, "z");
            e.finish("encoder", ("x", crate::PIXELS), &[("z", k)])
        }
    };
    let mut d = Builder::new(model);
    let mut h = "z".to_string();
    let n = l.decoder.len();
    for (i, spec) in l.decoder.iter().enumerate() {
        h = d.gemm(spec, &h)?;
        if i + 1 < n {
            h = d.act(h, cfg.activation);
        }
    }
    let h = output(&mut d, h, cfg);
    d.rename(&h, "x_hat");
    let dec = d.finish("decoder", ("z", k), &[("x_hat", crate::PIXELS)]);
    Ok((enc, dec))
}

/// Conv AE: Reshape, Conv + activation…, Flatten, Gemm; Gemm, activation, Reshape,
/// ConvTranspose…, Sigmoid, Reshape.
fn conv(
    model: &TrainedModel,
    cfg: &ModelConfig,
) -> Result<(pb::GraphProto, pb::GraphProto), ExportError> {
    let l = ConvLayout::new(cfg);
    let k = cfg.latent;
    let side = crate::SIDE as i64;
    let mut e = Builder::new(model);
    let shape = e.shape("image_shape", &[-1, 1, side, side]);
    let mut h = e.node("Reshape", &["x", &shape], vec![]);
    for spec in &l.convs {
        h = e.conv(spec, &h, None)?;
        h = e.act(h, cfg.activation);
    }
    h = e.node("Flatten", &[&h], vec![int("axis", 1)]);
    h = e.gemm(&l.enc_fc, &h)?;
    h = e.act(h, cfg.code_activation);
    e.rename(&h, "z");
    let enc = e.finish("encoder", ("x", crate::PIXELS), &[("z", k)]);

    let mut d = Builder::new(model);
    let (c, s) = l.last();
    let mut h = d.gemm(&l.dec_fc, "z")?;
    h = d.act(h, cfg.activation);
    let shape = d.shape("feature_shape", &[-1, c as i64, s as i64, s as i64]);
    h = d.node("Reshape", &[&h, &shape], vec![]);
    let n = l.deconvs.len();
    for (j, spec) in l.deconvs.iter().enumerate() {
        h = d.conv(spec, &h, Some(l.output_padding(j)))?;
        if j + 1 < n {
            h = d.act(h, cfg.activation);
        }
    }
    h = output(&mut d, h, cfg);
    let flat = d.shape("row_shape", &[-1, crate::PIXELS as i64]);
    h = d.node("Reshape", &[&h, &flat], vec![]);
    d.rename(&h, "x_hat");
    let dec = d.finish("decoder", ("z", k), &[("x_hat", crate::PIXELS)]);
    Ok((enc, dec))
}

/// Encodes a graph as an ONNX file's bytes (for tests that build graphs of their own).
pub fn encode(graph: pb::GraphProto) -> Vec<u8> {
    model_proto(graph).encode_to_vec()
}
