//! Model tests: every loss term against hand-computed values, the exact Jacobian norm on a
//! hand-checked network, the conv Jacobian estimator against the exact value, and candle's
//! convolution gradients against finite differences.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::config::*;
use super::layers::Mlp;
use super::loss;
use super::*;

fn t(v: &[f32], shape: (usize, usize)) -> Tensor {
    Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
}

/// All of a tensor's values, flattened (test helper shared with `train::fused`'s tests).
pub(crate) fn flat(x: &Tensor) -> Vec<f32> {
    x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn scalar(x: &Tensor) -> f64 {
    x.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

#[test]
fn mse_term_by_hand() {
    // ((0.5 - 0)² + (1 - 1)²) / 2 = 0.125
    let r = t(&[0.5, 1.0], (1, 2));
    let target = t(&[0.0, 1.0], (1, 2));
    close(
        scalar(&loss::reconstruction(LossKind::Mse, &r, &r, &target).unwrap()),
        0.125,
        1e-7,
    );
}

#[test]
fn bce_term_by_hand_from_logits() {
    // z = 0, t = 1: softplus(0) = ln 2;  z = 2, t = 0: softplus(2) = 2 + ln(1 + e^-2).
    let z = t(&[0.0, 2.0], (1, 2));
    let target = t(&[1.0, 0.0], (1, 2));
    let want = (2f64.ln() + 2.0 + (1.0 + (-2f64).exp()).ln()) / 2.0;
    let got = scalar(&loss::reconstruction(LossKind::Bce, &z, &z, &target).unwrap());
    close(got, want, 1e-6);
    // Far in the saturated region the stable form stays finite: z = -100, t = 1 costs 100.
    let z = t(&[-100.0], (1, 1));
    let one = t(&[1.0], (1, 1));
    close(
        scalar(&loss::reconstruction(LossKind::Bce, &z, &z, &one).unwrap()),
        100.0,
        1e-4,
    );
}

#[test]
fn kl_term_by_hand() {
    // μ = (1, 0), log σ² = (0, ln 2): KL = 0.5 + (−0.5)(1 + ln 2 − 2) = 0.5 + 0.5(1 − ln 2).
    let mu = t(&[1.0, 0.0], (1, 2));
    let lv = t(&[0.0, 2f32.ln()], (1, 2));
    let want = (0.5 + 0.5 * (1.0 - 2f64.ln())) / 784.0;
    close(scalar(&loss::kl(&mu, &lv).unwrap()), want, 1e-9);
    // A posterior equal to the prior costs nothing.
    let z = t(&[0.0; 4], (2, 2));
    close(scalar(&loss::kl(&z, &z).unwrap()), 0.0, 1e-12);
}

#[test]
fn l1_term_by_hand() {
    // (|1| + |-2| + |0| + |3|) / 2 rows = 3
    let c = t(&[1.0, -2.0, 0.0, 3.0], (2, 2));
    close(scalar(&loss::l1(&c).unwrap()), 3.0, 1e-7);
}

#[test]
fn objective_weights_and_sums_its_terms() {
    let mut cfg = TrainConfig::preset(Variant::Vae, 2);
    cfg.loss = LossKind::Mse;
    cfg.beta = 2.0;
    cfg.l1 = 0.5;
    let target = t(&[0.0, 1.0], (1, 2));
    let recon = t(&[0.5, 1.0], (1, 2));
    let fwd = Forward {
        code: t(&[1.0, -2.0], (1, 2)),
        logits: recon.clone(),
        recon,
        mu: Some(t(&[1.0, 0.0], (1, 2))),
        logvar: Some(t(&[0.0, 2f32.ln()], (1, 2))),
    };
    let (total, terms) = loss::objective(&cfg, &fwd, &target, None).unwrap();
    let terms = loss::to_terms(&terms).unwrap();
    let kl = 2.0 * (0.5 + 0.5 * (1.0 - 2f64.ln())) / 784.0;
    close(terms.get(Term::Reconstruction).unwrap(), 0.125, 1e-7);
    close(terms.get(Term::Kl).unwrap(), kl, 1e-7);
    close(terms.get(Term::L1).unwrap(), 0.5 * 3.0, 1e-6);
    close(scalar(&total), 0.125 + kl + 1.5, 1e-6);
    close(terms.total(), 0.125 + kl + 1.5, 1e-6);
}

fn fixed_linear(w: &[f32], out: usize, inp: usize) -> Linear {
    Linear::new(
        t(w, (out, inp)),
        Some(Tensor::zeros(out, DType::F32, &Device::Cpu).unwrap()),
    )
}

#[test]
fn exact_jacobian_norm_by_hand() {
    // W1 = [[1, 2], [-1, 1]], ReLU, W2 = [[1, 1]].
    let mlp = Mlp {
        layers: vec![
            fixed_linear(&[1.0, 2.0, -1.0, 1.0], 2, 2),
            fixed_linear(&[1.0, 1.0], 1, 2),
        ],
        act: Activation::Relu,
    };
    // x = (1, 1): z1 = (3, 0), only unit 0 active: J = (1, 2), ‖J‖² = 5.
    // x = (1, -1): z1 = (-1, -2), nothing active: J = 0.
    // x = (0, 1): z1 = (2, 1), both active: J = (0, 3), ‖J‖² = 9.
    let x = t(&[1.0, 1.0, 1.0, -1.0, 0.0, 1.0], (3, 2));
    let j = mlp.jacobian_sq_norm(&x).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(j, vec![5.0, 0.0, 9.0]);
    // Contractive term: λ · mean = 0.1 · 14/3.
    let cfg = TrainConfig {
        contractive: 0.1,
        ..TrainConfig::preset(Variant::Contractive, 1)
    };
    let fwd = Forward {
        code: t(&[0.0; 3], (3, 1)),
        logits: t(&[0.0; 6], (3, 2)),
        recon: t(&[0.0; 6], (3, 2)),
        mu: None,
        logvar: None,
    };
    let jt = Tensor::new(&[5f32, 0.0, 9.0], &Device::Cpu).unwrap();
    let (_, terms) = loss::objective(&cfg, &fwd, &t(&[0.0; 6], (3, 2)), Some(&jt)).unwrap();
    let terms = loss::to_terms(&terms).unwrap();
    close(
        terms.get(Term::Contractive).unwrap(),
        0.1 * 14.0 / 3.0,
        1e-6,
    );
}

#[test]
fn dense_jacobian_matches_finite_differences() {
    let cfg = TrainConfig::preset(Variant::Contractive, 3);
    let m = TrainedModel::new(&cfg, "t").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..784).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    let exact = scalar(
        &m.model
            .jacobian_sq_norm(&t(&x, (1, 784)), None)
            .unwrap()
            .sum_all()
            .unwrap(),
    );
    // Column by column: (f(x + h e_i) − f(x)) / h for all 784 inputs at once.
    let h = 1e-2f32;
    let mut rows = Vec::with_capacity(785 * 784);
    rows.extend_from_slice(&x);
    for i in 0..784 {
        let mut xi = x.clone();
        xi[i] += h;
        rows.extend_from_slice(&xi);
    }
    let codes = m.encode(&rows).unwrap();
    let k = 3;
    let mut fd = 0f64;
    for i in 0..784 {
        for j in 0..k {
            let d = (codes[(i + 1) * k + j] - codes[j]) / h;
            fd += (d * d) as f64;
        }
    }
    let _ = &mut rng;
    assert!(
        (fd - exact).abs() <= 0.02 * exact,
        "finite differences {fd} vs exact {exact}"
    );
}

#[test]
fn conv_jacobian_estimator_is_close_to_exact() {
    let mut cfg = TrainConfig::preset(Variant::Conv, 2);
    cfg.model.channels = vec![4, 4];
    cfg.contractive = 1.0;
    let m = TrainedModel::new(&cfg, "t").unwrap();
    let x: Vec<f32> = (0..784).map(|i| ((i * 13) % 29) as f32 / 28.0).collect();
    // Exact by finite differences on every input pixel.
    let h = 1e-2f32;
    let mut rows = x.clone();
    for i in 0..784 {
        let mut xi = x.clone();
        xi[i] += h;
        rows.extend_from_slice(&xi);
    }
    let codes = m.encode(&rows).unwrap();
    let mut exact = 0f64;
    for i in 0..784 {
        for j in 0..2 {
            let d = (codes[(i + 1) * 2 + j] - codes[j]) / h;
            exact += (d * d) as f64;
        }
    }
    // The estimator averaged over many probes.
    let probes = 3000;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let v: Vec<f32> = (0..probes * 784)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let xs: Vec<f32> = (0..probes).flat_map(|_| x.iter().copied()).collect();
    let est = m
        .model
        .jacobian_sq_norm(&t(&xs, (probes, 784)), Some(&t(&v, (probes, 784))))
        .unwrap()
        .mean_all()
        .unwrap();
    let est = scalar(&est);
    assert!(
        (est - exact).abs() <= 0.1 * exact,
        "estimator {est} vs exact {exact}"
    );
}

/// Candle's conv and transposed-conv backward passes (stride 2, output padding 1) against
/// central finite differences of the loss.
#[test]
fn conv_gradients_match_finite_differences() {
    let mut cfg = TrainConfig::preset(Variant::Conv, 2);
    cfg.model.channels = vec![2, 3];
    // Identity activations keep the loss smooth, so finite differences are trustworthy; what
    // is under test is the (transposed) convolutions' backward pass.
    cfg.model.activation = Activation::Identity;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Autoencoder::new(&cfg.model, vb).unwrap();
    super::layers::seeded_init(&varmap, 3).unwrap();
    let x: Vec<f32> = (0..2 * 784).map(|i| ((i * 7) % 23) as f32 / 22.0).collect();
    let xt = t(&x, (2, 784));
    // The loss summed in f64 (an f32 mean would drown the small differences).
    let loss_of = |m: &Autoencoder| -> f64 {
        let r = flat(&m.forward(&xt, None).unwrap().recon);
        r.iter()
            .zip(&x)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / r.len() as f64
    };
    let f = model.forward(&xt, None).unwrap();
    let l = loss::reconstruction(LossKind::Mse, &f.logits, &f.recon, &xt).unwrap();
    let grads = l.backward().unwrap();
    let vars: Vec<(String, Var)> = {
        let d = varmap.data().lock().unwrap();
        let mut v: Vec<_> = d.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let h = 1e-2f32;
    for (name, var) in vars.iter().filter(|(n, _)| n.contains("conv")) {
        let g = flat(grads.get(var.as_tensor()).unwrap());
        let orig = flat(var.as_tensor());
        let dims = var.dims().to_vec();
        // The largest gradients (where a wrong formula shows; tiny ones drown in f32 noise).
        let mut order: Vec<usize> = (0..g.len()).collect();
        order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()));
        for &idx in order.iter().take(3) {
            let mut p = orig.clone();
            p[idx] += h;
            var.set(&Tensor::from_vec(p.clone(), dims.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let up = loss_of(&model);
            p[idx] -= 2.0 * h;
            var.set(&Tensor::from_vec(p, dims.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let down = loss_of(&model);
            var.set(&Tensor::from_vec(orig.clone(), dims.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let fd = (up - down) / (2.0 * h as f64);
            let tol = 0.03 * (g[idx] as f64).abs();
            assert!(
                (fd - g[idx] as f64).abs() <= tol,
                "{name}[{idx}]: autograd {} vs finite differences {fd}",
                g[idx]
            );
        }
    }
}

#[test]
fn every_architecture_has_the_right_shapes() {
    for v in [
        Variant::Dense,
        Variant::Deep,
        Variant::Conv,
        Variant::Vae,
        Variant::Linear,
    ] {
        for k in [2, 7] {
            let cfg = TrainConfig::preset(v, k);
            let m = TrainedModel::new(&cfg, "t").unwrap();
            let x = vec![0.5f32; 3 * 784];
            let z = m.encode(&x).unwrap();
            assert_eq!(z.len(), 3 * k, "{v}");
            let y = m.decode(&z).unwrap();
            assert_eq!(y.len(), 3 * 784, "{v}");
            if cfg.model.sigmoid_output {
                assert!(y.iter().all(|p| (0.0..=1.0).contains(p)), "{v}");
            }
        }
    }
}

#[test]
fn seeded_init_is_deterministic_and_glorot() {
    let cfg = TrainConfig::preset(Variant::Dense, 4);
    let a = TrainedModel::new(&cfg, "t").unwrap();
    let b = TrainedModel::new(&cfg, "t").unwrap();
    let w = |m: &TrainedModel, n: &str| flat(m.varmap.data().lock().unwrap()[n].as_tensor());
    assert_eq!(w(&a, "enc.0.weight"), w(&b, "enc.0.weight"));
    let bound = (6.0f32 / (784.0 + 256.0)).sqrt();
    let w0 = w(&a, "enc.0.weight");
    assert!(w0.iter().all(|v| v.abs() <= bound));
    assert!(w0.iter().fold(0f32, |m, v| m.max(v.abs())) > 0.9 * bound);
    assert!(w(&a, "enc.0.bias").iter().all(|&v| v == 0.0));
    let mut other = cfg.clone();
    other.seed += 1;
    let c = TrainedModel::new(&other, "t").unwrap();
    assert_ne!(w(&a, "enc.0.weight"), w(&c, "enc.0.weight"));
}
