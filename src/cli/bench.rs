//! `bottleneck bench`: training throughput (samples/s) of the dense AE (784-256-128-32, batch
//! 256) on both engines, the conv AE and the VAE on the embedded digits, and PCA's fit time.
//! With `--pytorch FILE` (the JSON of `bench/pytorch_reference.py --json`, run on the same
//! machine) it also prints the ratio to PyTorch. Speed targets live here, never in tests.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::BenchArgs;
use crate::data::Dataset;
use crate::model::{TrainConfig, Variant};
use crate::train::{EngineChoice, Trainer};

/// Times training steps for about `seconds` after a warm-up; steps that end an epoch (and so
/// include the test evaluation) are not counted.
pub fn training_throughput(
    cfg: TrainConfig,
    data: Arc<Dataset>,
    engine: EngineChoice,
    seconds: f64,
) -> anyhow::Result<Value> {
    let mut cfg = cfg;
    cfg.epochs = 100_000;
    let mut t = Trainer::with_engine(cfg, data, engine)?;
    for _ in 0..5 {
        t.step()?;
    }
    let mut samples = 0usize;
    let mut wall = 0.0f64;
    let mut per_step = Vec::new();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds || per_step.len() < 10 {
        let s = Instant::now();
        let r = t.step()?;
        let dt = s.elapsed().as_secs_f64();
        if r.epoch_done.is_none() && r.batch_size == t.config().batch {
            samples += r.batch_size;
            wall += dt;
            per_step.push(dt);
        }
    }
    per_step.sort_by(|a, b| a.total_cmp(b));
    let median = per_step[per_step.len() / 2];
    Ok(json!({
        "model": t.config().describe(),
        "engine": if t.is_fused() { "fused" } else { "candle" },
        "batch": t.config().batch,
        "steps": per_step.len(),
        "samples_per_sec": samples as f64 / wall.max(1e-9),
        "median_ms_per_step": median * 1e3,
        "median_samples_per_sec": t.config().batch as f64 / median,
    }))
}

/// Frame CPU time of the whole app (Train panel visible) while its worker trains a dense AE:
/// the app is driven headless by egui_kittest at ~60 frames per second.
pub fn ui_frame_times_while_training(seconds: f64) -> anyhow::Result<Value> {
    use crate::app::{App, AppOptions};
    let mut times: Vec<f64> = Vec::new();
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    let mut a = App::new(
                        ui.ctx(),
                        AppOptions {
                            data: Some("embedded".into()),
                            settings_path: None,
                        },
                    );
                    let mut cfg = TrainConfig::preset(Variant::Dense, 2);
                    cfg.epochs = 1000;
                    a.shared.settings.train = cfg;
                    a
                });
                app.show(ui);
            },
            None,
        );
    harness.step();
    if let Some(app) = harness.state_mut().as_mut() {
        app.shared.start_training().map_err(anyhow::Error::msg)?;
    }
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        harness.step();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(std::time::Duration::from_millis(16));
    }
    let app = harness.state().as_ref().expect("app built");
    let sps = app.shared.run.samples_per_sec;
    let steps = app.shared.run.global_step;
    app.shared.worker.send(crate::train::worker::Command::Stop);
    times.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(json!({
        "frames": times.len(),
        "median_ms": pick(0.5),
        "p95_ms": pick(0.95),
        "max_ms": pick(1.0),
        "samples_per_sec": sps,
        "training_steps": steps,
    }))
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let only: Option<Vec<String>> = a
        .only
        .as_ref()
        .map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| p == name));
    let data = Arc::new(super::commands::load_dataset("embedded")?);
    let mut out = json!({
        "threads": rayon::current_num_threads(),
        "dataset": data.name,
        "train_images": data.train.len(),
    });
    let cases: [(&str, Variant, EngineChoice); 4] = [
        ("dense", Variant::Dense, EngineChoice::Auto),
        ("dense-candle", Variant::Dense, EngineChoice::Candle),
        ("vae", Variant::Vae, EngineChoice::Auto),
        ("conv", Variant::Conv, EngineChoice::Auto),
    ];
    for (name, variant, engine) in cases {
        if !wanted(name) {
            continue;
        }
        let cfg = TrainConfig::preset(variant, 32);
        let r = training_throughput(cfg, data.clone(), engine, a.seconds)?;
        if !a.json {
            println!(
                "{name:13} {:>8.0} samples/s  (median step {:.2} ms, {} engine, {})",
                r["samples_per_sec"].as_f64().unwrap_or(0.0),
                r["median_ms_per_step"].as_f64().unwrap_or(0.0),
                r["engine"].as_str().unwrap_or(""),
                r["model"].as_str().unwrap_or("")
            );
        }
        out[name] = r;
    }
    if wanted("pca") {
        let mut times = Vec::new();
        for _ in 0..3 {
            let s = Instant::now();
            let pca = crate::analysis::Pca::fit(&data.train.images, crate::PIXELS, 100)?;
            times.push(s.elapsed().as_secs_f64());
            std::hint::black_box(pca);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let t = times[1];
        if !a.json {
            println!("pca fit       {:>8.3} s  (8,000 × 784, median of 3)", t);
        }
        out["pca_fit_seconds"] = json!(t);
    }
    if wanted("ui-train") {
        let r = ui_frame_times_while_training(a.seconds.max(3.0))?;
        if !a.json {
            println!(
                "ui-train      frame CPU time while training: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} frames; training at {:.0} samples/s)",
                r["median_ms"].as_f64().unwrap_or(0.0),
                r["p95_ms"].as_f64().unwrap_or(0.0),
                r["max_ms"].as_f64().unwrap_or(0.0),
                r["frames"],
                r["samples_per_sec"].as_f64().unwrap_or(0.0),
            );
        }
        out["ui-train"] = r;
    }
    if let Some(path) = &a.pytorch {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--pytorch {}: {e}", path.display()))?;
        let torch: Value =
            serde_json::from_str(text.lines().last().unwrap_or("")).map_err(|e| {
                anyhow::anyhow!(
                    "--pytorch {}: not the JSON of pytorch_reference.py: {e}",
                    path.display()
                )
            })?;
        for name in ["dense", "vae", "conv"] {
            let ours = out[name]["samples_per_sec"].as_f64();
            let theirs = torch[name]["samples_per_sec"].as_f64();
            if let (Some(o), Some(t)) = (ours, theirs) {
                out[format!("{name}_vs_pytorch")] = json!(o / t);
                if !a.json {
                    println!("{name:13} {:.2}× PyTorch ({t:.0} samples/s)", o / t);
                }
            }
        }
        out["pytorch"] = torch;
    }
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    }
    Ok(())
}
