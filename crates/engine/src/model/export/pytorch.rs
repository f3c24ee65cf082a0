//! PyTorch export: `model.py`, a plain `nn.Module` with the model's structure whose
//! `state_dict` keys are Bottleneck's tensor names (`enc.0.weight`, `mu.weight`,
//! `conv.0.weight`, `deconv.0.weight`, …), with `encode`, `decode`, `forward` (and for a VAE
//! `encode_dist`) and a module-level `load(dir)`; `model.safetensors` (the weights, read by
//! `safetensors.torch.load_file`) and `model.json` (Bottleneck's own sidecar, so the folder
//! also imports back into Bottleneck unchanged). This module owns writing the Python source.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{prepare, python_path, ExportError};
use crate::model::config::{Activation, Arch, ModelConfig};
use crate::model::io::{self, write_atomic};
use crate::model::params::{ConvLayout, DenseLayout, LayerSpec, KERNEL, PADDING, STRIDE};
use crate::model::TrainedModel;

/// Writes `dir/model.py`, `dir/model.safetensors` and `dir/model.json`; gives back their paths.
pub fn write(model: &TrainedModel, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    prepare(model, dir)?;
    let weights = dir.join("model.safetensors");
    io::save(model, &weights)?;
    let py = dir.join("model.py");
    write_atomic(&py, source(model, dir).as_bytes())?;
    Ok(vec![py, weights.clone(), io::sidecar_path(&weights)])
}

/// The Python lines that load the export in `dir` and run it.
pub fn load_lines(dir: &Path) -> [String; 4] {
    let d = python_path(dir);
    [
        format!("import sys; sys.path.insert(0, \"{d}\")"),
        "import model".to_string(),
        format!("m = model.load(\"{d}\")"),
        "z = m.encode(x); x_hat = m.decode(z)  # x: float32 tensor [N, 784], pixels in 0..1"
            .to_string(),
    ]
}

fn linear(s: &LayerSpec) -> String {
    format!("nn.Linear({}, {})", s.input, s.output)
}

fn list(specs: &[LayerSpec], f: impl Fn(usize, &LayerSpec) -> String) -> String {
    let items: Vec<String> = specs.iter().enumerate().map(|(i, s)| f(i, s)).collect();
    format!("nn.ModuleList([{}])", items.join(", "))
}

fn act_body(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "return torch.relu(h)",
        Activation::Identity => "return h",
    }
}

/// The text of `model.py`.
pub fn source(model: &TrainedModel, dir: &Path) -> String {
    let cfg: &ModelConfig = &model.config().model;
    let mut s = String::new();
    let [l1, l2, l3, l4] = load_lines(dir);
    let _ = write!(
        s,
        "\"\"\"{desc}, exported by Bottleneck {ver} (`bottleneck export … --format pytorch`).\n\n\
         A plain torch.nn.Module with the structure of the Bottleneck model; its state_dict keys\n\
         are Bottleneck's tensor names, and the weights are in model.safetensors beside this file\n\
         (model.json is Bottleneck's own description: the folder also imports back into Bottleneck).\n\
         Trained on {data}, {epochs} epochs.\n\n\
         To load it:\n\n    {l1}\n    {l2}\n    {l3}\n    {l4}\n\"\"\"\n\n\
         import os\n\nimport torch\nfrom torch import nn\nfrom safetensors.torch import load_file\n\n\
         LATENT = {k}\n\n\n\
         class Autoencoder(nn.Module):\n    def __init__(self):\n        super().__init__()\n",
        desc = cfg_label(cfg),
        ver = env!("CARGO_PKG_VERSION"),
        data = model.meta.dataset,
        epochs = model.meta.epochs_trained,
        k = cfg.latent,
    );
    match cfg.arch {
        Arch::Dense | Arch::Vae => dense(&mut s, cfg),
        Arch::Conv => conv(&mut s, cfg),
    }
    let _ = write!(
        s,
        "\n    def _hidden(self, h):\n        {}\n\n    def _code(self, h):\n        {}\n\n    \
         def _output(self, h):\n        {}\n",
        act_body(cfg.activation),
        act_body(cfg.code_activation),
        if cfg.sigmoid_output {
            "return torch.sigmoid(h)"
        } else {
            "return h"
        }
    );
    s.push_str(
        "\n\ndef load(directory=os.path.dirname(os.path.abspath(__file__))):\n    \
         \"\"\"The model with the weights in `directory`/model.safetensors, in eval mode.\"\"\"\n    \
         m = Autoencoder()\n    \
         m.load_state_dict(load_file(os.path.join(directory, \"model.safetensors\")))\n    \
         m.eval()\n    return m\n",
    );
    s
}

fn cfg_label(cfg: &ModelConfig) -> String {
    let arch = match cfg.arch {
        Arch::Dense => "Dense autoencoder",
        Arch::Vae => "Variational autoencoder",
        Arch::Conv => "Convolutional autoencoder",
    };
    format!("{arch} with a {}-dimensional code", cfg.latent)
}

/// `__init__`'s layers and the methods of a dense AE or VAE.
fn dense(s: &mut String, cfg: &ModelConfig) {
    let l = DenseLayout::new(cfg);
    let _ = writeln!(
        s,
        "        self.enc = {}",
        list(&l.encoder, |_, x| linear(x))
    );
    if let Some([mu, logvar]) = &l.heads {
        let _ = writeln!(s, "        self.mu = {}", linear(mu));
        let _ = writeln!(s, "        self.logvar = {}", linear(logvar));
    }
    let _ = writeln!(
        s,
        "        self.dec = {}",
        list(&l.decoder, |_, x| linear(x))
    );
    if l.heads.is_some() {
        s.push_str(
            "\n    def encode_dist(self, x):\n        \"\"\"x [N, 784] → (μ, log σ²), each [N, k].\"\"\"\n        \
             h = x\n        for layer in self.enc:\n            h = self._hidden(layer(h))\n        \
             return self.mu(h), self.logvar(h)\n\n    \
             def encode(self, x):\n        \"\"\"x [N, 784] → the code μ [N, k].\"\"\"\n        \
             return self.encode_dist(x)[0]\n",
        );
    } else {
        s.push_str(
            "\n    def encode(self, x):\n        \"\"\"x [N, 784] → the code [N, k].\"\"\"\n        \
             h = x\n        for i, layer in enumerate(self.enc):\n            h = layer(h)\n            \
             if i + 1 < len(self.enc):\n                h = self._hidden(h)\n        \
             return self._code(h)\n",
        );
    }
    s.push_str(
        "\n    def decode(self, z):\n        \"\"\"z [N, k] → images [N, 784].\"\"\"\n        \
         h = z\n        for i, layer in enumerate(self.dec):\n            h = layer(h)\n            \
         if i + 1 < len(self.dec):\n                h = self._hidden(h)\n        \
         return self._output(h)\n\n    \
         def forward(self, x):\n        \"\"\"The deterministic reconstruction (a VAE decodes μ).\"\"\"\n        \
         return self.decode(self.encode(x))\n",
    );
}

/// `__init__`'s layers and the methods of a conv AE.
fn conv(s: &mut String, cfg: &ModelConfig) {
    let l = ConvLayout::new(cfg);
    let (c, side) = l.last();
    let conv = |_: usize, x: &LayerSpec| {
        format!(
            "nn.Conv2d({}, {}, {KERNEL}, stride={STRIDE}, padding={PADDING})",
            x.input, x.output
        )
    };
    let deconv = |j: usize, x: &LayerSpec| {
        format!(
            "nn.ConvTranspose2d({}, {}, {KERNEL}, stride={STRIDE}, padding={PADDING}, output_padding={})",
            x.input,
            x.output,
            l.output_padding(j)
        )
    };
    let _ = writeln!(s, "        self.conv = {}", list(&l.convs, conv));
    let _ = writeln!(s, "        self.enc_fc = {}", linear(&l.enc_fc));
    let _ = writeln!(s, "        self.dec_fc = {}", linear(&l.dec_fc));
    let _ = writeln!(s, "        self.deconv = {}", list(&l.deconvs, deconv));
    let _ = write!(
        s,
        "\n    def encode(self, x):\n        \"\"\"x [N, 784] → the code [N, k].\"\"\"\n        \
         h = x.reshape(-1, 1, 28, 28)\n        for layer in self.conv:\n            \
         h = self._hidden(layer(h))\n        return self._code(self.enc_fc(h.flatten(1)))\n\n    \
         def decode(self, z):\n        \"\"\"z [N, k] → images [N, 784].\"\"\"\n        \
         h = self._hidden(self.dec_fc(z)).reshape(-1, {c}, {side}, {side})\n        \
         for i, layer in enumerate(self.deconv):\n            h = layer(h)\n            \
         if i + 1 < len(self.deconv):\n                h = self._hidden(h)\n        \
         return self._output(h).reshape(-1, 784)\n\n    \
         def forward(self, x):\n        \"\"\"The reconstruction.\"\"\"\n        \
         return self.decode(self.encode(x))\n"
    );
}
