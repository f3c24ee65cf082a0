//! Reading ONNX autoencoders: an encoder graph and a decoder graph (two files). A graph that is
//! a chain of Bottleneck's own layers — `Gemm` (or `MatMul` + `Add`) with `Relu` between, an
//! optional `Sigmoid` at the decoder's end, for a VAE two `Gemm` heads (μ, log σ²) — becomes a
//! native model through [`super::assemble`]: it trains further and saves in Bottleneck's format.
//! Any other graph runs through tract for inference only ([`TractNet`], an [`ExternalNet`]).
//! This module owns the walk over the ONNX protobuf, the recognition of the chain and the tract
//! runner; the shared assembly lives in [`super`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::{
    assemble, at, dense_config, Activations, Format, ImportError, ImportOptions, LayerRow,
    Recognised, SourceLayer, Weights,
};
use crate::model::config::{Activation, ModelConfig};
use crate::model::external::ExternalNet;

/// Rows per call into tract.
const CHUNK: usize = 1024;

/// Reads `path` (the encoder) and its decoder (`options.decoder`, else the sibling file with
/// "encoder" replaced by "decoder" in its name) and recognises them.
pub fn inspect(path: &Path, options: &ImportOptions) -> Result<Recognised, ImportError> {
    let enc = Graph::read(path)?;
    let decoder = options.decoder.clone().or_else(|| sibling(path));
    let Some(dec_path) = decoder else {
        let whole = enc.input_width == Some(crate::PIXELS)
            && enc.outputs.len() == 1
            && enc.outputs[0].1 == Some(crate::PIXELS);
        let message = if whole {
            "is a whole autoencoder (784 values in, 784 out): Bottleneck reads the code between \
             the two halves, so it needs the encoder and the decoder as two ONNX files"
                .to_string()
        } else {
            "is one ONNX graph: Bottleneck needs the encoder and the decoder as two files \
             (choose the decoder too, or name them …encoder.onnx and …decoder.onnx)"
                .to_string()
        };
        return Err(ImportError::new(path, message));
    };
    let dec = Graph::read(&dec_path)?;
    if let Some(w) = enc.input_width.filter(|&w| w != crate::PIXELS) {
        return Err(ImportError::new(
            path,
            format!("takes {w} values per row where an encoder of 28×28 images takes 784"),
        ));
    }
    let files = vec![path.to_path_buf(), dec_path.clone()];
    let native = match (chain(&enc, "encoder"), chain(&dec, "decoder")) {
        (Ok(e), Ok(d)) => recognise(&dec, e, d),
        (Err(e), _) => Err(Unmapped::Other(format!("the encoder {e}"))),
        (_, Err(e)) => Err(Unmapped::Other(format!("the decoder {e}"))),
    };
    match native {
        Ok((config, sources)) => {
            assemble(Format::Onnx, files, config, sources, Vec::new()).map_err(at(path))
        }
        Err(Unmapped::Width(p, m)) => Err(ImportError::new(&p, m)),
        Err(Unmapped::Other(why)) => external(&enc, &dec, files, &why),
    }
}

/// `…encoder….onnx` → `…decoder….onnx`, when that file exists.
fn sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if !name.contains("encoder") {
        return None;
    }
    let other = path.with_file_name(name.replacen("encoder", "decoder", 1));
    other.is_file().then_some(other)
}

/// Why a pair of graphs is not a native model: a width that cannot work at all (an error), or
/// anything else (the graphs then run in tract for inference only).
enum Unmapped {
    Width(PathBuf, String),
    Other(String),
}

/// One ONNX file, parsed.
struct Graph {
    path: PathBuf,
    proto: pb::GraphProto,
    /// The data input (the one input that is not an initializer).
    input: String,
    /// The data input's last dimension, if the file gives it.
    input_width: Option<usize>,
    /// (name, last dimension) of each output.
    outputs: Vec<(String, Option<usize>)>,
}

impl Graph {
    fn read(path: &Path) -> Result<Self, ImportError> {
        let bytes = std::fs::read(path).map_err(|e| ImportError::new(path, e.to_string()))?;
        let model = <pb::ModelProto as prost::Message>::decode(bytes.as_slice())
            .map_err(|e| ImportError::new(path, format!("is not a readable ONNX file ({e})")))?;
        let Some(proto) = model.graph else {
            return Err(ImportError::new(path, "is an ONNX file without a graph"));
        };
        let inits: HashSet<&str> = proto.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&pb::ValueInfoProto> = proto
            .input
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .collect();
        if inputs.len() != 1 {
            return Err(ImportError::new(
                path,
                format!(
                    "has {} inputs where an encoder or decoder has one",
                    inputs.len()
                ),
            ));
        }
        if proto.output.is_empty() {
            return Err(ImportError::new(path, "is an ONNX graph without outputs"));
        }
        // Every output must be computed by something (tract indexes them unchecked).
        let made: HashSet<&str> = proto
            .input
            .iter()
            .map(|i| i.name.as_str())
            .chain(inits.iter().copied())
            .chain(
                proto
                    .node
                    .iter()
                    .flat_map(|n| n.output.iter().map(String::as_str)),
            )
            .collect();
        if let Some(o) = proto
            .output
            .iter()
            .find(|o| !made.contains(o.name.as_str()))
        {
            return Err(ImportError::new(
                path,
                format!(
                    "names an output '{}' that no node of the graph computes",
                    o.name
                ),
            ));
        }
        let (input, input_width) = (inputs[0].name.clone(), last_dim(inputs[0]));
        let outputs = proto
            .output
            .iter()
            .map(|o| (o.name.clone(), last_dim(o)))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            input,
            input_width,
            outputs,
            proto,
        })
    }
}

/// The last dimension of a value's declared shape, when it is a number.
fn last_dim(v: &pb::ValueInfoProto) -> Option<usize> {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as Type;
    let Some(Type::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    match t.shape.as_ref()?.dim.last()?.value {
        Some(Value::DimValue(d)) if d > 0 => usize::try_from(d).ok(),
        _ => None,
    }
}

/// What follows a linear layer in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    None,
    Relu,
    Sigmoid,
}

/// A graph that is a chain of linear layers, each followed by at most one activation, and
/// for a VAE encoder two linear heads on the last value.
struct Chain {
    layers: Vec<(SourceLayer, Act)>,
    /// (output name, layer) of each head.
    heads: Option<[(String, SourceLayer); 2]>,
}

/// The chain of `graph`, or the reason it is not one ("has a Tanh node").
fn chain(g: &Graph, role: &str) -> Result<Chain, String> {
    let graph = &g.proto;
    let mut consts: HashMap<&str, &pb::TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    for n in graph.node.iter().filter(|n| n.op_type == "Constant") {
        let value = n.attribute.iter().find(|a| a.name == "value");
        if let (Some(out), Some(t)) = (n.output.first(), value.and_then(|a| a.t.as_ref())) {
            consts.insert(out.as_str(), t);
        }
    }
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let mut cur = g.input.clone();
    let consumers = |v: &str| -> Vec<usize> {
        (0..graph.node.len())
            .filter(|&i| graph.node[i].op_type != "Constant")
            .filter(|&i| graph.node[i].input.iter().any(|x| x == v))
            .collect()
    };
    let mut used = HashSet::new();
    let mut layers: Vec<(SourceLayer, Act)> = Vec::new();
    let mut heads = None;
    loop {
        let next = consumers(&cur);
        if next.is_empty() {
            if outputs.contains(cur.as_str()) && outputs.len() == 1 {
                break;
            }
            return Err("is not a single chain of layers".into());
        }
        if next.len() == 2 && !layers.is_empty() {
            let mut hs = Vec::new();
            for &i in &next {
                let (layer, out, nodes) = linear(graph, i, &consts, role, &consumers)?;
                if !outputs.contains(out.as_str()) || !consumers(&out).is_empty() {
                    return Err("branches into something other than two linear heads".into());
                }
                used.extend(nodes);
                hs.push((out, layer));
            }
            let [a, b]: [(String, SourceLayer); 2] = hs.try_into().map_err(|_| "heads")?;
            heads = Some(order_heads(a, b));
            break;
        }
        if next.len() != 1 {
            return Err("branches".into());
        }
        let node = &graph.node[next[0]];
        match node.op_type.as_str() {
            "Gemm" | "MatMul" => {
                let (layer, out, nodes) = linear(graph, next[0], &consts, role, &consumers)?;
                used.extend(nodes);
                layers.push((layer, Act::None));
                cur = out;
            }
            "Relu" | "Sigmoid" => {
                let act = if node.op_type == "Relu" {
                    Act::Relu
                } else {
                    Act::Sigmoid
                };
                match layers.last_mut() {
                    Some((_, a @ Act::None)) => *a = act,
                    _ => return Err(format!("has a {} not after a linear layer", node.op_type)),
                }
                used.insert(next[0]);
                cur = node.output.first().cloned().unwrap_or_default();
            }
            "Identity" | "Dropout" => {
                used.insert(next[0]);
                cur = node.output.first().cloned().unwrap_or_default();
            }
            op => return Err(format!("has a {op} node")),
        }
    }
    let extra = (0..graph.node.len())
        .filter(|i| graph.node[*i].op_type != "Constant" && !used.contains(i))
        .count();
    if extra > 0 || layers.is_empty() {
        return Err("has nodes outside the chain of layers".into());
    }
    Ok(Chain { layers, heads })
}

/// (μ, log σ²) from two heads: by their output names ("logvar", "log_var", "var"), else in
/// the graph's order.
fn order_heads(a: (String, SourceLayer), b: (String, SourceLayer)) -> [(String, SourceLayer); 2] {
    let is_var = |n: &str| n.to_ascii_lowercase().contains("var");
    if is_var(&a.0) && !is_var(&b.0) {
        [b, a]
    } else {
        [a, b]
    }
}

type Consumers<'a> = dyn Fn(&str) -> Vec<usize> + 'a;

/// The linear layer of node `i` (a `Gemm`, or a `MatMul` with the `Add` after it): the layer
/// in Bottleneck's `[out, in]` layout, its output value and the nodes it used.
fn linear(
    graph: &pb::GraphProto,
    i: usize,
    consts: &HashMap<&str, &pb::TensorProto>,
    role: &str,
    consumers: &Consumers,
) -> Result<(SourceLayer, String, Vec<usize>), String> {
    let node = &graph.node[i];
    let konst = |name: &str| -> Result<(Vec<usize>, Vec<f32>), String> {
        let t = consts
            .get(name)
            .ok_or_else(|| format!("has a {} whose weights are computed", node.op_type))?;
        floats(t)
    };
    let out = node.output.first().cloned().unwrap_or_default();
    let wname = node.input.get(1).cloned().unwrap_or_default();
    let source = format!("{role} {}", wname.strip_suffix(".weight").unwrap_or(&wname));
    let (shape, w) = konst(&wname)?;
    let [a, b] = shape[..] else {
        return Err(format!(
            "has a {} with a {}-d weight",
            node.op_type,
            shape.len()
        ));
    };
    let mut nodes = vec![i];
    let (weight, out_w, in_w, bias, out) = if node.op_type == "Gemm" {
        let attr_i = |n: &str, d: i64| {
            node.attribute
                .iter()
                .find(|x| x.name == n)
                .map_or(d, |x| x.i)
        };
        let attr_f = |n: &str| {
            node.attribute
                .iter()
                .find(|x| x.name == n)
                .map_or(1.0, |x| x.f)
        };
        if attr_i("transA", 0) != 0 {
            return Err("has a Gemm with transA".into());
        }
        let (alpha, beta) = (attr_f("alpha"), attr_f("beta"));
        let (o, n_in, mut weight) = if attr_i("transB", 0) != 0 {
            (a, b, w)
        } else {
            (b, a, transpose(&w, a, b))
        };
        if alpha != 1.0 {
            weight.iter_mut().for_each(|v| *v *= alpha);
        }
        let bias = match node.input.get(2).filter(|s| !s.is_empty()) {
            None => vec![0.0; o],
            Some(c) => {
                let (_, v) = konst(c)?;
                let v = broadcast(v, o).ok_or("has a Gemm bias of another shape")?;
                v.into_iter().map(|x| x * beta).collect()
            }
        };
        (weight, o, n_in, bias, out)
    } else {
        // MatMul(x, W[in, out]), optionally followed by Add(·, b).
        let weight = transpose(&w, a, b);
        let next = consumers(&out);
        let add = next
            .first()
            .filter(|_| next.len() == 1)
            .map(|&j| (j, &graph.node[j]))
            .filter(|(_, n)| n.op_type == "Add");
        match add {
            Some((j, n)) => {
                let other = n
                    .input
                    .iter()
                    .find(|x| **x != out)
                    .cloned()
                    .unwrap_or_default();
                let (_, v) = konst(&other)?;
                let bias = broadcast(v, b).ok_or("has an Add of another shape")?;
                nodes.push(j);
                (
                    weight,
                    b,
                    a,
                    bias,
                    n.output.first().cloned().unwrap_or_default(),
                )
            }
            None => (weight, b, a, vec![0.0; b], out),
        }
    };
    if node
        .input
        .first()
        .is_some_and(|x| consts.contains_key(x.as_str()))
    {
        return Err(format!("has a {} on two constants", node.op_type));
    }
    Ok((
        SourceLayer {
            source,
            weight,
            weight_shape: vec![out_w, in_w],
            bias,
        },
        out,
        nodes,
    ))
}

/// `[r, c]` → `[c, r]`.
fn transpose(w: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for i in 0..r {
        for j in 0..c {
            t[j * r + i] = w[i * c + j];
        }
    }
    t
}

/// A bias of `n` values from `v` (`n` values, or one broadcast).
fn broadcast(v: Vec<f32>, n: usize) -> Option<Vec<f32>> {
    match v.len() {
        l if l == n => Some(v),
        1 => Some(vec![v[0]; n]),
        _ => None,
    }
}

/// A float32 tensor stored in the file: (shape, values).
fn floats(t: &pb::TensorProto) -> Result<(Vec<usize>, Vec<f32>), String> {
    if t.data_type != pb::tensor_proto::DataType::Float as i32 {
        return Err(format!(
            "has weights of ONNX type {} (not float32)",
            t.data_type
        ));
    }
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err("keeps its weights in an external file".into());
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "has a negative dimension".to_string()))
        .collect::<Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("has a tensor '{}' of impossible size {shape:?}", t.name))?;
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        t.float_data.clone()
    };
    if values.len() != n {
        return Err(format!(
            "has a tensor '{}' with {} values for shape {shape:?}",
            t.name,
            values.len()
        ));
    }
    Ok((shape, values))
}

/// The configuration and the layers (in `params::layers` order) of two chains, or why they
/// are not one of Bottleneck's models.
fn recognise(dec: &Graph, e: Chain, d: Chain) -> Result<(ModelConfig, Vec<SourceLayer>), Unmapped> {
    let other = |s: &str| Unmapped::Other(s.to_string());
    let mut hidden: Option<Activation> = None;
    let mut agree = |a: Act| -> Result<(), Unmapped> {
        let act = match a {
            Act::None => Activation::Identity,
            Act::Relu => Activation::Relu,
            Act::Sigmoid => return Err(other("has a sigmoid between layers")),
        };
        match hidden {
            Some(h) if h != act => Err(other("mixes activations between layers")),
            _ => {
                hidden = Some(act);
                Ok(())
            }
        }
    };
    let vae = e.heads.is_some();
    let (enc_layers, code_act) = if vae {
        for (_, a) in &e.layers {
            agree(*a)?;
        }
        (e.layers, Activation::Identity)
    } else {
        let mut layers = e.layers;
        let (last, a) = layers.pop().ok_or_else(|| other("has no layers"))?;
        for (_, h) in &layers {
            agree(*h)?;
        }
        let code = match a {
            Act::None => Activation::Identity,
            Act::Relu => Activation::Relu,
            Act::Sigmoid => return Err(other("has a sigmoid code")),
        };
        layers.push((last, a));
        (layers, code)
    };
    let mut dec_layers = d.layers;
    let (_, out_act) = *dec_layers.last().ok_or_else(|| other("has no layers"))?;
    for (_, h) in &dec_layers[..dec_layers.len() - 1] {
        agree(*h)?;
    }
    let sigmoid_output = match out_act {
        Act::Sigmoid => true,
        Act::None => false,
        Act::Relu => return Err(other("has a ReLU output")),
    };
    let widths = |ls: &[(SourceLayer, Act)]| -> Option<Vec<usize>> {
        let mut w = vec![ls.first()?.0.weight_shape[1]];
        for (l, _) in ls {
            if l.weight_shape[1] != *w.last()? {
                return None;
            }
            w.push(l.weight_shape[0]);
        }
        Some(w)
    };
    let ew = widths(&enc_layers).ok_or_else(|| other("layers do not chain"))?;
    let dw = widths(&dec_layers).ok_or_else(|| other("layers do not chain"))?;
    if ew[0] != crate::PIXELS {
        return Err(other("does not take 784 values per row"));
    }
    let mut sources: Vec<SourceLayer> = enc_layers.into_iter().map(|(l, _)| l).collect();
    let latent = match e.heads {
        Some([mu, logvar]) => {
            let k = mu.1.weight_shape[0];
            let trunk = *ew.last().unwrap_or(&0);
            if logvar.1.weight_shape[0] != k
                || mu.1.weight_shape[1] != trunk
                || logvar.1.weight_shape[1] != trunk
            {
                return Err(other("heads do not match"));
            }
            sources.push(mu.1);
            sources.push(logvar.1);
            k
        }
        None => *ew.last().unwrap_or(&0),
    };
    if dw[0] != latent {
        let m = format!(
            "takes {} values per row where the encoder's code has {latent}",
            dw[0]
        );
        return Err(Unmapped::Width(dec.path.clone(), m));
    }
    if dw.last() != Some(&crate::PIXELS) {
        let m = format!(
            "gives {} values per row where a decoder of 28×28 images gives 784",
            dw.last().unwrap_or(&0)
        );
        return Err(Unmapped::Width(dec.path.clone(), m));
    }
    let acts = Activations {
        hidden: hidden.unwrap_or(Activation::Relu),
        code: code_act,
        sigmoid_output,
    };
    let config = dense_config(&ew, &dw, latent, vae, acts)
        .ok_or_else(|| other("widths do not chain from 784 to 784"))?;
    sources.extend(dec_layers.drain(..).map(|(l, _)| l));
    Ok((config, sources))
}

/// The pair as an inference-only model run by tract.
fn external(
    enc: &Graph,
    dec: &Graph,
    files: Vec<PathBuf>,
    why: &str,
) -> Result<Recognised, ImportError> {
    let (encoder, code) = plan(enc, crate::PIXELS, true)?;
    let k = code.1;
    if let Some(w) = dec.input_width.filter(|&w| w != k) {
        return Err(ImportError::new(
            &dec.path,
            format!("takes {w} values per row where the encoder's code has {k}"),
        ));
    }
    let (decoder, out) = plan(dec, k, false)?;
    if out.1 != crate::PIXELS {
        return Err(ImportError::new(
            &dec.path,
            format!(
                "gives {} values per row where a decoder of 28×28 images gives 784",
                out.1
            ),
        ));
    }
    let mut layers = rows(enc, "encoder");
    layers.extend(rows(dec, "decoder"));
    let net = TractNet {
        encoder,
        code_output: code.0,
        k,
        decoder,
        decoder_output: out.0,
    };
    Ok(Recognised {
        format: Format::Onnx,
        files,
        config: ModelConfig {
            latent: k,
            ..Default::default()
        },
        layers,
        assumed: vec![format!(
            "runs for inference only: {why}, which is not one of Bottleneck's layers"
        )],
        weights: Weights::External(Arc::new(net)),
    })
}

/// One row per node for the import dialog.
fn rows(g: &Graph, role: &str) -> Vec<LayerRow> {
    let sizes: HashMap<&str, usize> = g
        .proto
        .initializer
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.dims
                    .iter()
                    .fold(1usize, |a, &d| a.saturating_mul(d.max(0) as usize)),
            )
        })
        .collect();
    g.proto
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type != "Constant")
        .map(|(i, n)| LayerRow {
            source: if n.name.is_empty() {
                format!("{role} node {i}")
            } else {
                format!("{role} {}", n.name)
            },
            target: "(tract)".into(),
            description: n.op_type.clone(),
            activation: String::new(),
            params: n.input.iter().filter_map(|x| sizes.get(x.as_str())).sum(),
            is_code: false,
        })
        .collect()
}

type Plan = Arc<TypedRunnableModel>;

/// A runnable plan of `g` with input `[N, width]` (N symbolic), and the output it reads:
/// (index, width) — for an encoder with several outputs the one named "mu", else the first.
fn plan(g: &Graph, width: usize, encoder: bool) -> Result<(Plan, (usize, usize)), ImportError> {
    let bad = |e: TractError| ImportError::new(&g.path, format!("cannot be run: {e:#}"));
    let guarded = std::panic::catch_unwind(|| -> TractResult<(Plan, usize, Vec<TDim>)> {
        let mut model = tract_onnx::onnx().model_for_path(&g.path)?;
        let n = model.sym("N");
        let fact = InferenceFact::dt_shape(f32::datum_type(), [n.to_dim(), width.to_dim()]);
        model.set_input_fact(0, fact)?;
        let model = model.into_optimized()?;
        let names: Vec<&str> = g.outputs.iter().map(|o| o.0.as_str()).collect();
        let idx = if encoder {
            names.iter().position(|n| *n == "mu").unwrap_or(0)
        } else {
            0
        };
        let outlet = model.output_outlets()?[idx];
        let shape = model.outlet_fact(outlet)?.shape.to_tvec().to_vec();
        Ok((model.into_runnable()?, idx, shape))
    });
    let (plan, idx, shape) = match guarded {
        Ok(r) => r.map_err(bad)?,
        Err(_) => return Err(ImportError::new(&g.path, "could not be read by tract")),
    };
    let w = match shape.as_slice() {
        [_, w] => w.to_i64().ok().and_then(|w| usize::try_from(w).ok()),
        _ => None,
    };
    let Some(w) = w else {
        return Err(ImportError::new(
            &g.path,
            format!(
                "gives an output of shape {shape:?} where [N, width] is expected (input {}: [N, {width}])",
                g.input
            ),
        ));
    };
    Ok((plan, (idx, w)))
}

/// An encoder and a decoder graph run by tract (inference only).
pub struct TractNet {
    encoder: Plan,
    code_output: usize,
    k: usize,
    decoder: Plan,
    decoder_output: usize,
}

impl std::fmt::Debug for TractNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TractNet(code {})", self.k)
    }
}

/// Runs `plan` on `n` rows of `width` values, `CHUNK` rows per call, reading output `idx`.
fn run(plan: &Plan, x: &[f32], n: usize, width: usize, idx: usize) -> Result<Vec<f32>, String> {
    if x.len() != n * width {
        return Err(format!("{} values for {n} rows of {width}", x.len()));
    }
    let mut out = Vec::new();
    for (start, rows) in (0..n).step_by(CHUNK).map(|s| (s, CHUNK.min(n - s))) {
        let slice = &x[start * width..(start + rows) * width];
        let go = || -> TractResult<Vec<f32>> {
            let t = Tensor::from_shape(&[rows, width], slice)?;
            let outs = plan.run(tvec![t.into()])?;
            let o = outs
                .get(idx)
                .ok_or_else(|| TractError::msg(format!("no output {idx}")))?;
            Ok(o.to_plain_array_view::<f32>()?.iter().copied().collect())
        };
        out.extend(go().map_err(|e| format!("the ONNX graph failed: {e:#}"))?);
    }
    Ok(out)
}

impl ExternalNet for TractNet {
    fn encode(&self, x: &[f32], n: usize) -> Result<Vec<f32>, String> {
        run(&self.encoder, x, n, crate::PIXELS, self.code_output)
    }

    fn decode(&self, z: &[f32], n: usize) -> Result<Vec<f32>, String> {
        run(&self.decoder, z, n, self.k, self.decoder_output)
    }
}
