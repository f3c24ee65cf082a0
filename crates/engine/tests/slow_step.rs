//! One training step in slow motion (`train::slow_step`): the slow step leaves the model
//! bit-identical to an ordinary `Trainer::step`; the gradients it reports are the ones Adam
//! consumed; the loss after is measured on the updated model; and loss and per-tensor gradient
//! norms agree with PyTorch on the model's PyTorch export (`tests/fixtures/step`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bottleneck_engine::data::Dataset;
use bottleneck_engine::model::config::{LossKind, NoiseSpec};
use bottleneck_engine::model::{io, loss, Term, TrainConfig, TrainedModel, Variant};
use bottleneck_engine::train::slow_step::{norm, SlowStep};
use bottleneck_engine::train::Trainer;
use candle_core::{Device, Tensor};

fn mnist() -> Arc<Dataset> {
    Arc::new(Dataset::embedded().unwrap())
}

/// The variants the tests cover: a small copy of each preset (quick to step).
fn config(v: Variant) -> TrainConfig {
    let mut c = TrainConfig::preset(v, 4);
    c.batch = 24;
    if v == Variant::Deep {
        c.model.hidden = vec![64, 48, 32];
    } else if !c.model.hidden.is_empty() {
        c.model.hidden = vec![64, 32];
    }
    c.model.channels = vec![4, 8];
    c
}

/// Every variant, plus two that train on candle's autograd with their own draws: a conv AE
/// with the contractive penalty (a Hutchinson probe) and a contractive VAE (ε drawn by the
/// candle engine, not the fused one).
fn cases() -> Vec<(String, TrainConfig)> {
    // Every variant but the linear one (the dense engine without activations) and the
    // conditional VAE (a slow step refuses it: tests/generate.rs).
    let mut out: Vec<(String, TrainConfig)> = Variant::ALL
        .iter()
        .filter(|v| !matches!(**v, Variant::Linear | Variant::Cvae))
        .map(|v| (v.to_string(), config(*v)))
        .collect();
    let mut conv = config(Variant::Conv);
    conv.contractive = 1e-2;
    out.push(("conv contractive".into(), conv));
    let mut vae = config(Variant::Vae);
    vae.contractive = 1e-2;
    out.push(("vae contractive".into(), vae));
    out
}

/// Every variable's bits, by name.
fn bits(m: &TrainedModel) -> Vec<(String, Vec<u32>)> {
    let d = m.varmap.data().lock().unwrap();
    let mut v: Vec<_> = d
        .iter()
        .map(|(k, v)| {
            let vals = v
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            (k.clone(), vals.iter().map(|x| x.to_bits()).collect())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn assert_same_weights(a: &TrainedModel, b: &TrainedModel, what: &str) {
    let (a, b) = (bits(a), bits(b));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let differ = va.iter().zip(vb).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "{what}: {na}: {differ} values differ");
    }
}

/// Two trainers on the same fresh model (seeded, so identical weights) and data.
fn twins(cfg: &TrainConfig, data: &Arc<Dataset>) -> (Trainer, Trainer) {
    let t = || Trainer::new(cfg.clone(), data.clone()).unwrap();
    (t(), t())
}

fn rows(data: &Dataset, from: usize, n: usize) -> Vec<f32> {
    let d = bottleneck_engine::PIXELS;
    data.test.images[from * d..(from + n) * d].to_vec()
}

#[test]
fn slow_step_leaves_the_same_weights_as_step() {
    let data = mnist();
    for (v, cfg) in cases() {
        let (mut a, mut b) = twins(&cfg, &data);
        // One ordinary step each first: the optimiser has state to carry.
        a.step().unwrap();
        b.step().unwrap();
        let ra = a.step().unwrap();
        let (rb, slow) = b.slow_step().unwrap();
        assert_eq!(ra.terms, rb.terms, "{v}: the same loss");
        assert_eq!(slow.before.loss, rb.terms, "{v}");
        assert!(slow.applied, "{v}");
        assert_same_weights(&a.snapshot().unwrap(), &b.snapshot().unwrap(), &v);
        // …and the same optimiser state and generator: the next ordinary steps agree too.
        a.step().unwrap();
        b.step().unwrap();
        assert_same_weights(
            &a.snapshot().unwrap(),
            &b.snapshot().unwrap(),
            &format!("{v}, the step after"),
        );

        // On rows of one's choosing: `step_on` and `slow_step_on`.
        let x = rows(&data, 5, 6);
        let ta = a.step_on(&x).unwrap();
        let slow = b.slow_step_on(&x).unwrap();
        assert_eq!(slow.before.loss, ta, "{v}: picked rows");
        assert_same_weights(
            &a.snapshot().unwrap(),
            &b.snapshot().unwrap(),
            &format!("{v}, picked rows"),
        );
        a.step().unwrap();
        b.step().unwrap();
        assert_same_weights(
            &a.snapshot().unwrap(),
            &b.snapshot().unwrap(),
            &format!("{v}, picked rows, the step after"),
        );
    }
}

/// Loss terms of `model` on the step's batch (its corrupted input, its ε), computed here with
/// the model's public forward pass and objective.
fn evaluate(model: &TrainedModel, s: &SlowStep) -> (f64, Vec<(Term, f64)>, Tensor) {
    let d = bottleneck_engine::PIXELS;
    let cfg = model.config();
    let input = s.corrupted.as_ref().unwrap_or(&s.batch);
    let x = Tensor::from_slice(input, (s.rows, d), &Device::Cpu).unwrap();
    let t = Tensor::from_slice(&s.batch, (s.rows, d), &Device::Cpu).unwrap();
    let eps = s
        .eps
        .as_ref()
        .map(|e| Tensor::from_slice(e, (s.rows, cfg.model.latent), &Device::Cpu).unwrap());
    let fwd = model.model.forward(&x, eps.as_ref()).unwrap();
    let probe = s
        .probe
        .as_ref()
        .map(|p| Tensor::from_slice(p, (s.rows, d), &Device::Cpu).unwrap());
    let jac =
        (cfg.contractive > 0.0).then(|| model.model.jacobian_sq_norm(&x, probe.as_ref()).unwrap());
    let (total, terms) = loss::objective(cfg, &fwd, &t, jac.as_ref()).unwrap();
    let terms = loss::to_terms(&terms).unwrap();
    (terms.total(), terms.iter().collect(), total)
}

/// The gradients of the step are the ones Adam consumed: on a fresh optimiser Adam's first
/// update of every value is −lr·g/(|g| + ε) of the gradient it was given, and the reported
/// gradient gives back the reported update. And they are the loss's gradients: autograd on
/// the weights before the step gives the same norms.
#[test]
fn reported_gradients_are_the_ones_adam_used() {
    let data = mnist();
    for (v, cfg) in cases() {
        let model = TrainedModel::new(&cfg, "test").unwrap();
        let before = TrainedModel::from_varmap(model.meta.clone(), &model.varmap).unwrap();
        let mut t = Trainer::from_model(model, data.clone()).unwrap();
        let s = t.slow_step_on(&rows(&data, 0, 9)).unwrap();
        let lr = cfg.lr as f32;
        let mut grad_sq = 0f64;
        for ts in &s.tensors {
            assert_eq!(ts.grad.len(), ts.update.len(), "{v}: {}", ts.name);
            assert_eq!(ts.grad.len(), ts.shape.iter().product::<usize>());
            assert_eq!(ts.grad_norm, norm(&ts.grad));
            assert_eq!(ts.update_norm, norm(&ts.update));
            for (i, (&g, &u)) in ts.grad.iter().zip(&ts.update).enumerate() {
                let want = -lr * g / (g.abs() + 1e-8);
                assert!(
                    (u - want).abs() <= 2e-3 * lr,
                    "{v}: {}[{i}]: update {u}, Adam's from the gradient {g}: {want}",
                    ts.name
                );
            }
            grad_sq += ts.grad_norm * ts.grad_norm;
        }
        assert!(grad_sq > 0.0, "{v}: some gradient");

        // Autograd on the weights before the step.
        let (_, _, total) = evaluate(&before, &s);
        let grads = total.backward().unwrap();
        let vars = before.varmap.data().lock().unwrap();
        for ts in &s.tensors {
            let g = grads.get(vars[&ts.name].as_tensor()).unwrap();
            let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let want = norm(&g);
            assert!(
                (ts.grad_norm - want).abs() <= 1e-4 * want.max(1e-9),
                "{v}: {}: norm {} vs autograd's {want}",
                ts.name,
                ts.grad_norm
            );
        }
    }
}

/// `loss_after` is the updated model's loss on the same batch, measured: an evaluation of the
/// model an ordinary step leaves gives the same terms.
#[test]
fn loss_after_is_measured_on_the_updated_model() {
    let data = mnist();
    for (v, cfg) in cases() {
        let (mut a, mut b) = twins(&cfg, &data);
        let x = rows(&data, 20, 8);
        a.step_on(&x).unwrap();
        let s = b.slow_step_on(&x).unwrap();
        let stepped = a.snapshot().unwrap();
        let (total, terms, _) = evaluate(&stepped, &s);
        let after = s.loss_after();
        for (term, value) in terms {
            let got = after.get(term).unwrap();
            assert!(
                (got - value).abs() <= 1e-6 * value.abs().max(1e-9),
                "{v}: {term:?} after: {got} vs {value}"
            );
        }
        assert_ne!(after.total(), s.loss_before().total(), "{v}");
        assert!((after.total() - total).abs() <= 1e-6 * total);
        // The after-pass is the updated model's: its reconstructions are not the old ones.
        assert_ne!(s.after.recon, s.before.recon, "{v}");
        assert_eq!(s.after.recon.len(), s.batch.len());
    }
}

/// The record's parts have the shapes the Step view draws.
#[test]
fn the_record_names_every_layer_and_tensor() {
    let data = mnist();
    let x = rows(&data, 0, 3);
    let d = bottleneck_engine::PIXELS;
    for (v, cfg) in cases() {
        let mut t = Trainer::new(cfg.clone(), data.clone()).unwrap();
        let s = t.slow_step_on(&x).unwrap();
        let names: Vec<&str> = s.before.layers.iter().map(|l| l.name.as_str()).collect();
        let want: Vec<String> = bottleneck_engine::model::params::tensors(&cfg.model)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(
            s.tensors.iter().map(|t| &t.name).collect::<Vec<_>>(),
            want.iter().collect::<Vec<_>>(),
            "{v}"
        );
        assert_eq!(names.last(), Some(&"recon"), "{v}");
        for l in &s.before.layers {
            assert_eq!(
                l.values.len(),
                3 * l.shape.iter().product::<usize>(),
                "{v}: {}",
                l.name
            );
        }
        assert_eq!(s.pixel_loss.len(), 3 * d);
        assert_eq!(s.grad_recon.len(), 3 * d);
        assert_eq!(s.grad_code.len(), 3 * cfg.model.latent);
        assert!(norm(&s.grad_code) > 0.0, "{v}: dL/dz");
        assert_eq!(s.corrupted.is_some(), cfg.noise.is_some(), "{v}");
        if cfg.model.arch == bottleneck_engine::model::Arch::Vae {
            let i = |n: &str| names.iter().position(|x| *x == n).unwrap();
            assert!(i("mu") < i("logvar") && i("logvar") < i("sigma"));
            assert!(i("sigma") < i("eps") && i("eps") < i("z") && i("z") < i("dec.0"));
            // z = μ + σ·ε, from the record's own numbers.
            let get = |n: &str| &s.before.layers[i(n)].values;
            let (mu, sigma, eps, z) = (get("mu"), get("sigma"), get("eps"), get("z"));
            for j in 0..z.len() {
                assert_eq!(z[j], mu[j] + sigma[j] * eps[j]);
            }
            assert_eq!(s.eps.as_deref(), Some(eps.as_slice()));
            assert!(s.kl_per_dim.is_some());
        }
        if v == "conv" {
            assert_eq!(s.before.layers[0].shape, vec![4, 14, 14]);
        }
        // The mean of the per-pixel loss is the reconstruction term.
        let mean = s.pixel_loss.iter().map(|&x| x as f64).sum::<f64>() / s.pixel_loss.len() as f64;
        let rec = s.loss_before().get(Term::Reconstruction).unwrap();
        assert!((mean - rec).abs() <= 1e-5 * rec, "{v}: {mean} vs {rec}");
    }
}

// ---- against PyTorch ----

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/step")
}

fn write_csv(path: &Path, values: &[f32], width: usize) {
    let mut s = String::new();
    for row in values.chunks_exact(width) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// The fixture's models: a small dense AE (MSE), a small VAE (BCE + KL) and a small conv AE
/// (MSE).
fn fixture_configs() -> [(&'static str, TrainConfig); 3] {
    let mut dense = TrainConfig::preset(Variant::Dense, 2);
    dense.model.hidden = vec![16];
    let mut vae = TrainConfig::preset(Variant::Vae, 2);
    vae.model.hidden = vec![16];
    let mut conv = TrainConfig::preset(Variant::Conv, 2);
    conv.model.channels = vec![4, 8];
    [("dense", dense), ("vae", vae), ("conv", conv)]
}

/// Writes `tests/fixtures/step/{dense,vae,conv}`: each model trained 20 steps on the embedded
/// digits, its PyTorch export, four test digits (`rows.csv`) and for the VAE the ε the slow
/// step draws (`eps.csv`). Then `make_reference.py` writes `reference.json` beside them.
/// Run with `cargo test --release -p bottleneck-engine --test slow_step -- --ignored`.
#[test]
#[ignore = "writes the fixture"]
fn make_pytorch_fixture() {
    let data = mnist();
    for (name, cfg) in fixture_configs() {
        let mut t = Trainer::new(cfg, data.clone()).unwrap();
        for _ in 0..20 {
            t.step().unwrap();
        }
        let model = t.snapshot().unwrap();
        let dir = fixtures().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        bottleneck_engine::model::export::pytorch::write(&model, &dir).unwrap();
        // The docstring's load lines name this machine's folder: name the repository's.
        let py = dir.join("model.py");
        let text = std::fs::read_to_string(&py).unwrap();
        let here = dir.display().to_string();
        let text = text.replace(&here, &format!("tests/fixtures/step/{name}"));
        std::fs::write(&py, text).unwrap();
        let x = rows(&data, 0, 4);
        write_csv(&dir.join("rows.csv"), &x, bottleneck_engine::PIXELS);
        let loaded = io::load(&dir.join("model.safetensors")).unwrap();
        let (s, _) = bottleneck_engine::train::slow_step::step_model(loaded, &x).unwrap();
        if let Some(eps) = &s.eps {
            write_csv(&dir.join("eps.csv"), eps, 2);
        }
    }
}

fn read_rows(path: &Path, width: usize) -> Vec<f32> {
    bottleneck_engine::data::csv::read_matrix(path, width).unwrap()
}

/// The loss terms and per-tensor gradient norms of one step on the fixture's rows agree with
/// PyTorch's (`reference.json`, made by `make_reference.py` from the PyTorch export) to a
/// relative 1e-3. The VAE is given the same ε (the one the slow step drew, in `eps.csv`).
#[test]
fn loss_and_gradient_norms_match_pytorch() {
    for (name, _) in fixture_configs() {
        let dir = fixtures().join(name);
        let model = io::load(&dir.join("model.safetensors")).unwrap();
        let x = read_rows(&dir.join("rows.csv"), bottleneck_engine::PIXELS);
        let (s, _) = bottleneck_engine::train::slow_step::step_model(model, &x).unwrap();
        if let Some(eps) = &s.eps {
            assert_eq!(
                eps,
                &read_rows(&dir.join("eps.csv"), 2),
                "{name}: the same ε"
            );
        }
        let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        let close = |got: f64, want: f64, what: &str| {
            let rel = (got - want).abs() / want.abs().max(1e-12);
            assert!(
                rel <= 1e-3,
                "{name}: {what}: {got} vs PyTorch {want} (rel {rel:.2e})"
            );
            rel
        };
        let mut worst = (0f64, 0f64);
        for (term, want) in r["loss"].as_object().unwrap() {
            let t: Term = serde_json::from_value(serde_json::Value::String(term.clone())).unwrap();
            let got = s.loss_before().get(t).unwrap_or(f64::NAN);
            worst.0 = worst.0.max(close(got, want.as_f64().unwrap(), term));
        }
        let norms = r["grad_norms"].as_object().unwrap();
        assert_eq!(norms.len(), s.tensors.len(), "{name}: every tensor");
        for ts in &s.tensors {
            let want = norms[&ts.name].as_f64().unwrap();
            worst.1 = worst.1.max(close(ts.grad_norm, want, &ts.name));
        }
        // Printed for the record (run with --nocapture).
        println!(
            "{name}: max relative difference to PyTorch: loss {:.2e}, gradient norms {:.2e}",
            worst.0, worst.1
        );
    }
}

/// A loss kind the fixture does not cover still records a finite dL/dx̂.
#[test]
fn bce_dense_and_denoising_mask_step() {
    let data = mnist();
    let mut c = config(Variant::Dense);
    c.loss = LossKind::Bce;
    c.noise = Some(NoiseSpec {
        kind: bottleneck_engine::data::NoiseKind::Mask,
        factor: 0.3,
    });
    let mut t = Trainer::new(c, data.clone()).unwrap();
    let s = t.slow_step_on(&rows(&data, 0, 4)).unwrap();
    assert!(s.grad_recon.iter().all(|v| v.is_finite()));
    assert!(s.corrupted.as_ref().unwrap() != &s.batch);
}

/// The worker takes a slow step on command: `Event::SlowStep` with the record, then the
/// paused run's snapshot, which is the stepped model. Bad rows are an error that leaves the
/// run in place.
#[test]
fn the_worker_answers_a_slow_step() {
    use bottleneck_engine::train::worker::{Command, Event, RunState, WorkerHandle};
    use std::time::Duration;
    let data = mnist();
    let w = WorkerHandle::spawn(|| {}).unwrap();
    let mut cfg = config(Variant::Dense);
    cfg.epochs = 1000;
    w.send(Command::Start {
        config: cfg,
        data: data.clone(),
    });
    w.send(Command::Pause);
    let x = rows(&data, 30, 5);
    w.send(Command::SlowStep {
        rows: Some(vec![0.5; 100]),
    });
    w.send(Command::SlowStep {
        rows: Some(x.clone()),
    });
    let (mut slow, mut snapshot, mut errors, mut paused) = (None, None, Vec::new(), false);
    while let Some(e) = w.recv_timeout(Duration::from_secs(30)) {
        match e {
            Event::SlowStep(s) => slow = Some(s),
            Event::Snapshot(s) if slow.is_some() => {
                snapshot = Some(s);
                break;
            }
            Event::Error(m) => errors.push(m),
            Event::StateChanged(RunState::Paused) => paused = true,
            Event::StateChanged(RunState::Idle) => panic!("the run ended"),
            _ => {}
        }
    }
    assert!(paused);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("784"), "{errors:?}");
    let (slow, snapshot) = (slow.unwrap(), snapshot.unwrap());
    assert_eq!(slow.batch, x);
    let recon = snapshot.model.reconstruct(&x).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&recon),
        bits(&slow.after.recon),
        "the snapshot is the stepped model"
    );
}

/// `Command::Hold` takes a model up as a paused run: no batch is trained before the slow step
/// that follows (no step losses come), and the snapshot after it is the stepped model.
#[test]
fn a_held_model_takes_exactly_the_slow_step() {
    use bottleneck_engine::train::worker::{Command, Event, RunState, WorkerHandle};
    use std::time::Duration;
    let data = mnist();
    let w = WorkerHandle::spawn(|| {}).unwrap();
    let model = Arc::new(TrainedModel::new(&config(Variant::Dense), "held").unwrap());
    w.send(Command::Hold {
        model,
        data: data.clone(),
    });
    let x = rows(&data, 0, 8);
    w.send(Command::SlowStep {
        rows: Some(x.clone()),
    });
    let (mut slow, mut snapshot, mut states) = (None, None, Vec::new());
    while let Some(e) = w.recv_timeout(Duration::from_secs(30)) {
        match e {
            Event::Steps(_) => panic!("a batch was trained"),
            Event::SlowStep(s) => slow = Some(s),
            Event::Snapshot(s) if slow.is_some() => {
                snapshot = Some(s);
                break;
            }
            Event::StateChanged(s) => states.push(s),
            Event::Error(m) => panic!("{m}"),
            _ => {}
        }
    }
    assert_eq!(states.last(), Some(&RunState::Paused));
    let (slow, snapshot) = (slow.unwrap(), snapshot.unwrap());
    let recon = snapshot.model.reconstruct(&x).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&recon), bits(&slow.after.recon));
}

#[test]
fn continuing_or_holding_a_model_leaves_the_original_weights_alone() {
    // The worker trained a clone that shared its Vars with the model it was given, so the
    // model shown by the app (and its epoch history) changed as the run trained.
    use bottleneck_engine::train::worker::{Command, Event, WorkerHandle};
    use std::time::Duration;
    let data = mnist();
    for variant in [Variant::Dense, Variant::Conv, Variant::Contractive] {
        let original = Arc::new(TrainedModel::new(&config(variant), "shown").unwrap());
        let x = rows(&data, 0, 8);
        let before = original.reconstruct(&x).unwrap();
        let w = WorkerHandle::spawn(|| {}).unwrap();
        w.send(Command::Hold {
            model: original.clone(),
            data: data.clone(),
        });
        w.send(Command::SlowStep {
            rows: Some(x.clone()),
        });
        w.send(Command::Continue {
            model: original.clone(),
            data: data.clone(),
            epochs: 1,
        });
        let (mut stepped, mut finished) = (false, false);
        while let Some(e) = w.recv_timeout(Duration::from_secs(120)) {
            match e {
                Event::SlowStep(_) => stepped = true,
                Event::Finished(_) => {
                    finished = true;
                    break;
                }
                Event::Error(m) => panic!("{m}"),
                _ => {}
            }
        }
        assert!(stepped && finished, "{variant}: the runs never reported");
        let after = original.reconstruct(&x).unwrap();
        assert!(before == after, "{variant}: the original model changed");
    }
}
