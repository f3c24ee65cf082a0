//! The headless subcommands (all but `bench`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{DenoiseArgs, EncodeArgs, EvalArgs, TrainArgs};
use crate::analysis::denoise::{self, Corruption, Denoiser};
use crate::data::{self, Dataset, DatasetSource};
use crate::model::config::parse_sizes;
use crate::model::{io, NoiseSpec, TrainConfig};
use crate::train::Trainer;

pub fn load_dataset(source: &DatasetSource) -> anyhow::Result<Dataset> {
    Dataset::load(source).with_context(|| format!("cannot load dataset --data {source}"))
}

/// Loads a dataset with import options; the import's notes and skipped files (each named
/// with its reason) go to stderr.
pub fn load_with(source: &DatasetSource, options: &data::ImportOptions) -> anyhow::Result<Dataset> {
    load_picking(source, options, &data::NpzArrays::default())
}

/// [`load_with`], with the arrays of a `.npz` file named.
pub fn load_picking(
    source: &DatasetSource,
    options: &data::ImportOptions,
    arrays: &data::NpzArrays,
) -> anyhow::Result<Dataset> {
    let started = Instant::now();
    let imported = data::import::load_picking(source, options, arrays, None)
        .with_context(|| format!("cannot load dataset --data {source}"))?;
    let d = &imported.dataset;
    eprintln!(
        "read {} ({} images, {} classes) in {:.2} s",
        d.name,
        d.train.len() + d.test.len(),
        d.present_classes().len(),
        started.elapsed().as_secs_f64()
    );
    for n in &imported.notes {
        eprintln!("note: {n}");
    }
    if !imported.skipped.is_empty() {
        eprintln!("{} file(s) skipped:", imported.skipped.len());
        for s in &imported.skipped {
            eprintln!("  {}: {}", s.path.display(), s.reason);
        }
    }
    Ok(imported.dataset)
}

/// A Bottleneck model, or one trained in PyTorch, Keras or ONNX (with the command line's
/// import flags, [`super::import::options`]).
pub fn load_model(path: &Path) -> anyhow::Result<crate::model::TrainedModel> {
    crate::model::import::import(path, &super::import::options())
        .with_context(|| format!("cannot load model {}", path.display()))
}

/// A saved model, or a built-in one named `builtin:KEY` (what `compress`, `project` and
/// `snapshot` take).
pub fn load_model_spec(spec: &str) -> anyhow::Result<crate::model::TrainedModel> {
    if let Some(key) = spec.strip_prefix("builtin:") {
        let b = crate::model::bundled::find(key).ok_or_else(|| {
            anyhow::anyhow!(
                "no built-in model '{key}' (expected one of: {})",
                crate::model::bundled::ALL.map(|b| b.key).join(", ")
            )
        })?;
        return b.load().context("the built-in model is damaged");
    }
    load_model(Path::new(spec))
}

/// Builds the training settings from the variant's preset and the flags given.
pub fn train_config(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut c = TrainConfig::preset(a.variant, a.latent);
    if let Some(h) = &a.hidden {
        c.model.hidden = parse_sizes(h).map_err(|e| anyhow::anyhow!("--hidden: {e}"))?;
    }
    if let Some(ch) = &a.channels {
        c.model.channels = parse_sizes(ch).map_err(|e| anyhow::anyhow!("--channels: {e}"))?;
    }
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    if let Some(v) = a.batch {
        c.batch = v;
    }
    if let Some(v) = a.lr {
        c.lr = v;
    }
    if let Some(f) = a.noise {
        let kind = a.noise_type.or(c.noise.map(|n| n.kind)).unwrap_or_default();
        c.noise = if f > 0.0 {
            Some(NoiseSpec { kind, factor: f })
        } else {
            None
        };
    } else if let (Some(kind), Some(n)) = (a.noise_type, c.noise.as_mut()) {
        n.kind = kind;
    }
    if let Some(v) = a.l1 {
        c.l1 = v;
    }
    if let Some(v) = a.contractive {
        c.contractive = v;
    }
    if let Some(v) = a.beta {
        c.beta = v;
    }
    if let Some(v) = a.loss {
        c.loss = v;
    }
    if let Some(v) = a.optimizer {
        c.optimizer = v;
    }
    if let Some(v) = a.weight_decay {
        c.weight_decay = v;
    }
    c.seed = a.seed;
    c.validate()
        .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
    Ok(c)
}

pub fn train(a: TrainArgs) -> anyhow::Result<()> {
    let mut cfg = train_config(&a)?;
    if let Some(out) = &a.out {
        check_writable(out)?;
    }
    let data = Arc::new(a.data.load()?);
    if a.epochs.is_none() {
        // The preset's epochs were chosen for 8,000 images: on fewer, take as many epochs as
        // give the same number of optimizer steps.
        let s = cfg.schedule_for(data.train.len());
        if s.changed() {
            eprintln!("schedule: {} (--epochs sets them yourself)", s.describe());
            cfg.epochs = s.epochs;
        }
    }
    let mut trainer = Trainer::new(cfg.clone(), data.clone())?;
    let steps = trainer.steps_per_epoch() * cfg.epochs;
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    eprintln!(
        "training {} on {} ({} train / {} test images, {} engine)",
        cfg.describe(),
        data.name,
        data.train.len(),
        data.test.len(),
        if trainer.is_fused() {
            "fused"
        } else {
            "candle"
        }
    );
    let started = Instant::now();
    let mut samples = 0usize;
    let mut step_seconds = 0.0;
    let mut last_train = f64::NAN;
    while !trainer.is_finished() {
        let r = match trainer.step() {
            Ok(r) => r,
            Err(e) => {
                bar.abandon();
                if let Some(out) = &a.out {
                    let model = trainer.snapshot()?;
                    io::save(&model, out)?;
                    eprintln!("the last good weights were saved to {}", out.display());
                }
                return Err(e.into());
            }
        };
        samples += r.batch_size;
        step_seconds += r.seconds;
        bar.set_prefix(format!("{}/{}", r.epoch, cfg.epochs));
        bar.inc(1);
        if r.step % 4 == 0 || r.epoch_done.is_some() {
            bar.set_message(format!(
                "loss {:.4} · {:.0} samples/s",
                r.terms.total(),
                samples as f64 / step_seconds.max(1e-9)
            ));
        }
        if let Some(e) = r.epoch_done {
            last_train = e.train.total();
            let line = format!(
                "epoch {:>3}: train {:.5}  test {:.5}  test MSE {:.5}  {:.0} samples/s",
                e.epoch,
                e.train.total(),
                e.test.total(),
                e.test.get(crate::model::Term::Mse).unwrap_or(f64::NAN),
                e.samples_per_sec
            );
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let model = trainer.snapshot()?;
    if let Some(out) = &a.out {
        io::save(&model, out).with_context(|| format!("cannot save model to {}", out.display()))?;
        eprintln!(
            "saved {} (settings in {})",
            out.display(),
            io::sidecar_path(out).display()
        );
    }
    let report = super::report::measure(&model, &data)?;
    let samples_per_sec = samples as f64 / step_seconds.max(1e-9);
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        let o = v.as_object_mut().expect("object");
        o.insert("epochs".into(), json!(cfg.epochs));
        o.insert("seconds".into(), json!(seconds));
        o.insert("samples_per_sec".into(), json!(samples_per_sec));
        o.insert("train_loss".into(), json!(last_train));
        o.insert("train_images".into(), json!(data.train.len()));
        o.insert("test_images".into(), json!(data.test.len()));
        o.insert("classes".into(), json!(data.present_classes().len()));
        o.insert(
            "engine".into(),
            json!(if trainer.is_fused() {
                "fused"
            } else {
                "candle"
            }),
        );
        o.insert("config".into(), serde_json::to_value(&cfg)?);
        println!("{}", serde_json::to_string(&v)?);
    } else {
        report.print_human();
        println!(
            "trained {} epochs in {seconds:.1} s ({samples_per_sec:.0} samples/s)",
            cfg.epochs
        );
    }
    Ok(())
}

/// Fails early (before training) when the output folder does not exist.
fn check_writable(out: &Path) -> anyhow::Result<()> {
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        bail!("--out {}: use a weights name such as model.safetensors (the .json sidecar is written beside it)", out.display());
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "--out {}: folder {} does not exist",
            out.display(),
            dir.display()
        );
    }
    Ok(())
}

pub fn eval(a: EvalArgs) -> anyhow::Result<()> {
    if let Some(factor) = a.noise.filter(|f| !(f.is_finite() && *f >= 0.0)) {
        anyhow::bail!("--noise must be a number ≥ 0 (got {factor})");
    }
    let model = load_model(&a.model)?;
    let data = a.data.load()?;
    let report = super::report::measure(&model, &data)?;
    let noisy = match a.noise {
        Some(factor) => {
            let c = Corruption::Noise {
                kind: a.noise_type,
                factor,
            };
            let s =
                denoise::test_set_scores(Denoiser::Model(&model), &data.test.images, &c, a.seed)?;
            Some((c, s))
        }
        None => None,
    };
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        let o = v.as_object_mut().expect("object");
        o.insert("epochs".into(), json!(model.meta.epochs_trained));
        if let Some((c, s)) = &noisy {
            o.insert(
                "denoise".into(),
                json!({
                    "corruption": c.describe(), "seed": a.seed,
                    "noisy_mse": s.noisy_mse, "noisy_psnr": s.noisy_psnr,
                    "denoised_mse": s.denoised_mse, "denoised_psnr": s.denoised_psnr,
                }),
            );
        }
        println!("{}", serde_json::to_string(&v)?);
    } else {
        report.print_human();
        if let Some((c, s)) = &noisy {
            println!(
                "{} on the test images: noisy input MSE {:.5} ({:.2} dB), its reconstruction \
                 MSE {:.5} ({:.2} dB)",
                c.describe(),
                s.noisy_mse,
                s.noisy_psnr,
                s.denoised_mse,
                s.denoised_psnr
            );
        }
    }
    Ok(())
}

pub fn encode(a: EncodeArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let data = a.data.load()?;
    let splits: Vec<&data::Split> = match a.split.as_str() {
        "train" => vec![&data.train],
        "all" => vec![&data.train, &data.test],
        _ => vec![&data.test],
    };
    let k = model.latent();
    let mut labels = Vec::new();
    let mut codes = Vec::new();
    for s in splits {
        codes.extend(model.encode_labelled(&s.images, &s.labels)?);
        labels.extend_from_slice(&s.labels);
    }
    let rows = labels.len();
    let out = io::codes_csv(&labels, &codes, k);
    io::write_atomic(&a.out, out.as_bytes())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!("wrote {rows} codes of size {k} to {}", a.out.display());
    Ok(())
}

pub fn denoise(a: DenoiseArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&a.factor) {
        bail!("--factor {}: must be between 0 and 1", a.factor);
    }
    let model = load_model(&a.model)?;
    let result =
        crate::analysis::denoise::denoise_file(&model, &a.input, a.noise, a.factor, a.seed)?;
    let side = crate::SIDE;
    let to_gray = |p: &[f32]| data::preprocess::Gray {
        width: side,
        height: side,
        pixels: p.to_vec(),
    };
    data::preprocess::save_png(&to_gray(&result.denoised), &a.out)?;
    if let Some(n) = &a.noisy_out {
        data::preprocess::save_png(&to_gray(&result.noisy), n)?;
    }
    if a.json {
        println!(
            "{}",
            json!({
                "input": a.input, "out": a.out, "noise": a.noise.cli_name(), "factor": a.factor,
                "noisy_mse": result.noisy_mse, "denoised_mse": result.denoised_mse,
                "noisy_psnr": crate::analysis::metrics::psnr(result.noisy_mse),
                "denoised_psnr": crate::analysis::metrics::psnr(result.denoised_mse),
            })
        );
    } else {
        let mut so = std::io::stdout().lock();
        writeln!(
            so,
            "noisy vs clean: MSE {:.5} ({:.2} dB); denoised vs clean: MSE {:.5} ({:.2} dB); wrote {}",
            result.noisy_mse,
            crate::analysis::metrics::psnr(result.noisy_mse),
            result.denoised_mse,
            crate::analysis::metrics::psnr(result.denoised_mse),
            a.out.display()
        )?;
    }
    Ok(())
}
