//! Small building blocks shared by the architectures: a fully connected stack (`Mlp`) with
//! a chosen hidden activation, and the seeded Glorot initialisation that makes runs
//! reproducible (candle's CPU random generator cannot be seeded).

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::Activation;
use super::params::{LayerSpec, ParamKind};

pub fn activate(x: &Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::Relu => x.relu(),
        Activation::Identity => Ok(x.clone()),
    }
}

/// A layer's weight and bias, created (or fetched) under the names and shapes of its spec.
pub fn params(spec: &LayerSpec, vb: &VarBuilder) -> Result<(Tensor, Tensor)> {
    let vb = vb.pp(&spec.name);
    let get = |k: ParamKind| vb.get_with_hints(spec.shape(k), k.suffix(), spec.init(k));
    Ok((get(ParamKind::Weight)?, get(ParamKind::Bias)?))
}

/// A linear layer `y = x Wᵀ + b` (weight `[out, in]`) from its spec.
pub fn linear(spec: &LayerSpec, vb: &VarBuilder) -> Result<Linear> {
    let (w, b) = params(spec, vb)?;
    Ok(Linear::new(w, Some(b)))
}

/// Fully connected layers `sizes[0] → sizes[1] → …`, the activation after every layer but
/// (optionally) the last.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    pub act: Activation,
}

impl Mlp {
    /// The stack of `specs` (linear layers), variables under the names the specs give.
    pub fn new(specs: &[LayerSpec], act: Activation, vb: &VarBuilder) -> Result<Self> {
        let layers = specs
            .iter()
            .map(|s| linear(s, vb))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, act })
    }

    /// Runs the stack; the last layer is activated only when `activate_last`.
    pub fn forward(&self, x: &Tensor, activate_last: bool) -> Result<Tensor> {
        let outs = self.forward_each(x, activate_last)?;
        Ok(outs.last().cloned().unwrap_or_else(|| x.clone()))
    }

    /// Every layer's output of [`Mlp::forward`], in order (the last is its result).
    pub fn forward_each(&self, x: &Tensor, activate_last: bool) -> Result<Vec<Tensor>> {
        let mut outs = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h)?;
            if i + 1 < n || activate_last {
                h = activate(&h, self.act)?;
            }
            outs.push(h.clone());
        }
        Ok(outs)
    }

    /// Squared Frobenius norm of the Jacobian of `forward(x, false)` with respect to `x`, per
    /// row of `x`, computed exactly: for ReLU or identity layers the Jacobian is the product
    /// `W_n D_{n-1} W_{n-1} … D_1 W_1` with `D_i` the 0/1 diagonal of active units.
    pub fn jacobian_sq_norm(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.layers.len();
        // Masks of the hidden layers (treated as constants: their derivative is 0 a.e.).
        let mut masks = Vec::with_capacity(n.saturating_sub(1));
        let mut h = x.clone();
        for (i, l) in self.layers.iter().enumerate() {
            let z = l.forward(&h)?;
            if i + 1 < n {
                let m = match self.act {
                    Activation::Relu => z.gt(0.0)?.to_dtype(DType::F32)?,
                    Activation::Identity => z.ones_like()?,
                };
                h = activate(&z, self.act)?;
                masks.push(m);
            }
        }
        let b = x.dim(0)?;
        // Start from the last weight [k, h] and walk back towards the input.
        let last = self.layers[n - 1].weight();
        let (k, hdim) = last.dims2()?;
        let mut m = last.unsqueeze(0)?.broadcast_as((b, k, hdim))?;
        for i in (0..n - 1).rev() {
            m = m.broadcast_mul(&masks[i].unsqueeze(1)?)?;
            m = m.broadcast_matmul(self.layers[i].weight())?;
        }
        m.sqr()?.sum((1, 2))
    }
}

/// Overwrites every variable of `varmap` with seeded values: Glorot-uniform weights (fans from
/// the shape), zero biases. Variables are visited in name order, so the same seed gives the
/// same weights whatever the map's insertion order.
pub fn seeded_init(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b0e_771e_ec00_0001);
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            let (fan_in, fan_out) = match dims.as_slice() {
                [o, i] => (*i, *o),
                [o, i, kh, kw] => (i * kh * kw, o * kh * kw),
                [d] => (*d, *d),
                _ => (n, n),
            };
            let bound = (6.0 / (fan_in + fan_out) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        var.set(&Tensor::from_vec(values, dims, &Device::Cpu)?)?;
    }
    Ok(())
}
