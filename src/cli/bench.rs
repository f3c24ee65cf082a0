//! `bottleneck bench`: training throughput (samples/s) of the dense AE (784-256-128-32, batch
//! 256) and the conv AE on both engines, the VAE on the embedded digits, PCA's fit time, and
//! (`latent-ui`) the CPU time of app frames on the Latent space panel with 10,000 and 60,000
//! points while hovering, panning and zooming, and (`compare`) each run's throughput when the
//! app trains two variants side by side, and (`soak`, only when asked for) the memory of a
//! long session (see [`super::soak`]).
//! With `--pytorch FILE` (the JSON of `bench/pytorch_reference.py --json`, run on the same
//! machine) it also prints the ratio to PyTorch. Speed targets live here, never in tests.
//!
//! Beside each training case it reports the step's floating-point work per sample
//! ([`flops_per_sample`]) and the fraction of this machine's matrix-product peak that the
//! measured rate amounts to. The peak is measured in the same run ([`peak_gflops`]), once
//! before each half-second of training steps, since on a shared machine it drifts within
//! seconds ([`training_throughput`]).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::harness::{app_harness, FASHION_MNIST_DIR};
use super::BenchArgs;
use crate::data::{Dataset, DatasetSource};
use crate::model::config::{Arch, ModelConfig};
use crate::model::{TrainConfig, Variant};
use crate::train::{EngineChoice, Trainer};

/// Times training steps for about `seconds` after a warm-up; steps that end an epoch (and so
/// include the test evaluation) are not counted, nor partial batches. `samples_per_sec` is
/// the samples of the counted steps over their summed time; `median_samples_per_sec` the
/// median of the per-step rates (batch / step time), the figure `bench/compare.sh` compares
/// with PyTorch's median per-step rate.
///
/// With `flops` (per sample), the steps run in blocks of about half a second, each right
/// after a measurement of the matrix-product peak (one round of [`peak_gflops`]), and
/// `fraction_of_peak` is the median over blocks of the block's median step rate × `flops`
/// over the peak measured just before it: on a shared machine whose speed drifts, each block
/// is held against the peak of its own moment (`block_peaks_gflops`).
pub fn training_throughput(
    cfg: TrainConfig,
    data: Arc<Dataset>,
    engine: EngineChoice,
    seconds: f64,
    flops: Option<f64>,
) -> anyhow::Result<Value> {
    let mut cfg = cfg;
    cfg.epochs = 100_000;
    let batch = cfg.batch;
    let mut t = Trainer::with_engine(cfg, data, engine)?;
    for _ in 0..5 {
        t.step()?;
    }
    let mut samples = 0usize;
    let mut wall = 0.0f64;
    let mut per_step = Vec::new();
    let mut fractions = Vec::new();
    let mut block_peaks = Vec::new();
    let block_seconds = if flops.is_some() { 0.5 } else { seconds };
    let mut stepping = 0.0f64;
    while stepping < seconds || per_step.len() < 10 {
        let peak = flops.map(|_| peak_gflops(1).0);
        let mut block = Vec::new();
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < block_seconds || block.len() < 3 {
            let s = Instant::now();
            let r = t.step()?;
            let dt = s.elapsed().as_secs_f64();
            if r.epoch_done.is_none() && r.batch_size == batch {
                samples += r.batch_size;
                wall += dt;
                block.push(dt);
            }
        }
        stepping += started.elapsed().as_secs_f64();
        if let (Some(f), Some(p)) = (flops, peak) {
            // (Sorting the block is harmless: per_step is sorted for its median anyway.)
            let rate = batch as f64 / median(&mut block);
            fractions.push(rate * f / (p * 1e9));
            block_peaks.push(p);
        }
        per_step.extend(block);
    }
    let median_step = median(&mut per_step);
    let mut out = json!({
        "model": t.config().describe(),
        "engine": if t.is_fused() { "fused" } else { "candle" },
        "batch": batch,
        "steps": per_step.len(),
        "samples_per_sec": samples as f64 / wall.max(1e-9),
        "median_ms_per_step": median_step * 1e3,
        "median_samples_per_sec": batch as f64 / median_step,
    });
    if let Some(f) = flops {
        out["flops_per_sample"] = json!(f);
        out["block_fractions"] = json!(fractions);
        out["fraction_of_peak"] = json!(median(&mut fractions));
        out["block_peaks_gflops"] = json!(block_peaks);
    }
    Ok(out)
}

/// The median of `v` (sorts it); NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Side of the square product timed by [`peak_gflops`].
pub const PEAK_SIZE: usize = 2048;

/// The f32 matrix-product peak of this machine in GFLOP/s, as the training engines see it:
/// every thread of the current rayon pool multiplies its own pair of `PEAK_SIZE²` matrices on
/// one thread (`SERIAL`), all at once, as the fused engines run one product per thread on
/// their share of the batch; the best of `rounds` rounds (a shared machine only ever slows a
/// round down). Measured with each matrix library the engine may use (`gemm`, faer's
/// kernels); the peak is the faster, so the engine's own choice of library cannot flatter its
/// fraction of it. Returns the peak and each library's figure.
pub fn peak_gflops(rounds: usize) -> (f64, Vec<(&'static str, f64)>) {
    use crate::linalg::Kernel;
    let by_kernel: Vec<_> = [Kernel::Gemm, Kernel::Faer]
        .into_iter()
        .filter(|k| k.available())
        .map(|k| (k.name(), peak_by(k, rounds)))
        .collect();
    let peak = by_kernel.iter().map(|k| k.1).fold(0f64, f64::max);
    (peak, by_kernel)
}

/// [`peak_gflops`] with the products by `kernel`.
pub fn peak_by(kernel: crate::linalg::Kernel, rounds: usize) -> f64 {
    use crate::linalg::{matmul_by, SERIAL};
    let n = PEAK_SIZE;
    let threads = rayon::current_num_threads();
    let fill = |seed: u32| -> Vec<f32> {
        (0..n * n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 / u32::MAX as f32 - 0.5)
            .collect()
    };
    let (a, b) = (fill(1), fill(2));
    let mut best = 0f64;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        rayon::broadcast(|_| {
            let mut c = vec![0f32; n * n];
            matmul_by(kernel, n, n, n, &mut c, &a, false, &b, false, false, SERIAL);
            std::hint::black_box(&c);
        });
        let secs = started.elapsed().as_secs_f64();
        best = best.max(threads as f64 * 2.0 * (n * n * n) as f64 / secs / 1e9);
    }
    best
}

/// Floating-point operations of one training step per sample, from the model's layer sizes:
/// 2 × the multiply-adds of the forward products, of the weight gradients, and of the input
/// gradients (every layer but the first, whose input needs none). Dense counting throughout:
/// the fused engine's sparse first layer skips zero pixels and so does less than counted;
/// biases, activations, the loss, the VAE's sampling and the optimiser are not counted.
/// For the 784-256-128-32 dense AE this is 2,449,408; for the VAE of the same sizes
/// 2,473,984; for the conv AE 16-32 with a 32-number code 3,593,856.
pub fn flops_per_sample(m: &ModelConfig) -> f64 {
    // (multiply-adds per sample) of each layer, input side first.
    let dense = |sizes: &[usize]| -> Vec<usize> { sizes.windows(2).map(|w| w[0] * w[1]).collect() };
    let layers: Vec<usize> = match m.arch {
        Arch::Dense => {
            let mut l = dense(&crate::model::dense::encoder_sizes(m));
            l.extend(dense(&crate::model::dense::decoder_sizes(m)));
            l
        }
        Arch::Vae => {
            let mut trunk = vec![crate::PIXELS];
            trunk.extend(&m.hidden);
            let mut l = dense(&trunk);
            let last = *trunk.last().unwrap_or(&crate::PIXELS);
            l.extend([last * m.latent, last * m.latent]);
            l.extend(dense(&crate::model::dense::decoder_sizes(m)));
            l
        }
        Arch::Conv => {
            // 3×3 stride-2 convolutions 28→14→7…, a dense layer to the code and back, and
            // the transposed convolutions mirroring them.
            let mut side = crate::SIDE;
            let mut chans = 1;
            let mut convs = Vec::new();
            for &c in &m.channels {
                side = (side - 1) / 2 + 1;
                convs.push(side * side * c * chans * 9);
                chans = c;
            }
            let fc = side * side * chans * m.latent;
            let mut l = convs.clone();
            l.extend([fc, fc]);
            l.extend(convs.iter().rev());
            l
        }
    };
    let macs: usize = layers.iter().sum();
    let first = layers.first().copied().unwrap_or(0);
    (2 * (3 * macs - first)) as f64
}

/// Frame CPU time of the whole app (Train panel visible) while its worker trains a dense AE:
/// the app is driven headless by egui_kittest at ~60 frames per second.
pub fn ui_frame_times_while_training(seconds: f64) -> anyhow::Result<Value> {
    let mut times: Vec<f64> = Vec::new();
    let mut harness = app_harness(|a| {
        let mut cfg = TrainConfig::preset(Variant::Dense, 2);
        cfg.epochs = 1000;
        a.shared.settings.train = cfg;
    });
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
    let sps = app.shared.a().view.samples_per_sec;
    let steps = app.shared.a().view.global_step;
    app.shared
        .a()
        .worker
        .send(crate::train::worker::Command::Stop);
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

/// Wall-clock throughput of the app's runs (samples/s between two instants, epoch-end
/// evaluations included) while it trains the form's dense AE (k = 2), alone or with a VAE
/// beside it ("Compare with"), and the frame CPU time meanwhile.
pub fn compare_throughput(seconds: f64, with_b: bool) -> anyhow::Result<Value> {
    use crate::app::App;
    let mut harness = app_harness(move |a| {
        let mut cfg = TrainConfig::preset(Variant::Dense, 2);
        cfg.epochs = 10_000;
        a.shared.settings.train = cfg;
        a.shared.settings.compare = with_b;
        a.shared.settings.compare_variant = Variant::Vae;
    });
    harness.step();
    if let Some(app) = harness.state_mut().as_mut() {
        app.shared.start_training().map_err(anyhow::Error::msg)?;
    }
    let steps = |h: &egui_kittest::Harness<'_, Option<App>>| {
        let a = h.state().as_ref().expect("app built");
        let b = a.shared.b().map_or(0, |b| b.view.global_step);
        (a.shared.a().view.global_step, b)
    };
    let mut frames = Vec::new();
    let mut drive = |h: &mut egui_kittest::Harness<'_, Option<App>>, secs: f64, log: bool| {
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < secs {
            let t = Instant::now();
            h.step();
            if log {
                frames.push(t.elapsed().as_secs_f64() * 1e3);
            }
            std::thread::sleep(std::time::Duration::from_millis(16));
        }
    };
    // Warm up (both runs started, first steps taken), then measure.
    drive(&mut harness, 1.0, false);
    let (a0, b0) = steps(&harness);
    let t0 = Instant::now();
    drive(&mut harness, seconds, true);
    let (a1, b1) = steps(&harness);
    let dt = t0.elapsed().as_secs_f64();
    if let Some(app) = harness.state().as_ref() {
        app.shared.send_runs(|| crate::train::worker::Command::Stop);
    }
    let batch = TrainConfig::preset(Variant::Dense, 2).batch as f64;
    frames.sort_by(|a, b| a.total_cmp(b));
    let median = frames.get(frames.len() / 2).copied().unwrap_or(0.0);
    let mut r = json!({
        "seconds": dt,
        "a_dense_samples_per_sec": (a1 - a0) as f64 * batch / dt,
        "frame_median_ms": median,
    });
    if with_b {
        r["b_vae_samples_per_sec"] = json!((b1 - b0) as f64 * batch / dt);
    }
    Ok(r)
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(n) = a.threads {
        set_threads(n)?;
    }
    let only: Option<Vec<String>> = a
        .only
        .as_ref()
        .map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| p == name));
    let data = Arc::new(super::commands::load_dataset(&DatasetSource::Embedded)?);
    let mut out = json!({
        "threads": rayon::current_num_threads(),
        "dataset": data.name,
        "train_images": data.train.len(),
    });
    let cases: [(&str, Variant, EngineChoice); 5] = [
        ("dense", Variant::Dense, EngineChoice::Auto),
        ("dense-candle", Variant::Dense, EngineChoice::Candle),
        ("vae", Variant::Vae, EngineChoice::Auto),
        ("conv", Variant::Conv, EngineChoice::Auto),
        ("conv-candle", Variant::Conv, EngineChoice::Candle),
    ];
    let training: Vec<_> = cases.iter().filter(|c| wanted(c.0)).collect();
    let peak = if training.is_empty() {
        None
    } else {
        let (p, by_kernel) = peak_gflops(3);
        out["peak_gflops"] = json!(p);
        out["isa"] = json!(crate::linalg::isa());
        out["matmul"] = json!(crate::linalg::serial_kernel().name());
        out["peak"] = json!({
            "gflops": p,
            "method": "one f32 product per thread, all threads at once, on one thread each; best of 3; the faster of gemm and faer's kernels",
            "by_kernel": by_kernel.iter().map(|&(k, g)| (k.to_string(), json!(g))).collect::<serde_json::Map<_, _>>(),
            "size": PEAK_SIZE,
            "threads": rayon::current_num_threads(),
        });
        if !a.json {
            println!(
                "peak          {p:>8.1} GFLOP/s  (f32 {PEAK_SIZE}³ products, one per thread on {} threads, best of 3; {}; {} instructions, products by {})",
                rayon::current_num_threads(),
                by_kernel
                    .iter()
                    .map(|(k, g)| format!("{k} {g:.1}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::linalg::isa(),
                crate::linalg::serial_kernel().name(),
            );
        }
        Some(p)
    };
    for &&(name, variant, engine) in &training {
        let cfg = TrainConfig::preset(variant, 32);
        let flops = flops_per_sample(&cfg.model);
        let mut r = training_throughput(cfg, data.clone(), engine, a.seconds, peak.map(|_| flops))?;
        let fraction = r["fraction_of_peak"].as_f64();
        let median = r["median_samples_per_sec"].as_f64().unwrap_or(0.0);
        // The same rate against the run's best-of-3 peak above (the quietest moment's peak
        // against a typical step: lower on a machine whose speed drifts).
        r["fraction_of_best_peak"] = json!(peak.map(|p| median * flops / (p * 1e9)));
        if !a.json {
            println!(
                "{name:13} {:>8.0} samples/s  (median step {:.2} ms = {median:.0} samples/s, {:.2} MFLOP/sample, {:.0} % of peak; {} engine, {})",
                r["samples_per_sec"].as_f64().unwrap_or(0.0),
                r["median_ms_per_step"].as_f64().unwrap_or(0.0),
                flops / 1e6,
                100.0 * fraction.unwrap_or(f64::NAN),
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
    if wanted("latent-ui") {
        out["latent-ui"] = latent_ui(a.json)?;
    }
    if wanted("compare") {
        let secs = a.seconds.max(3.0);
        let alone = compare_throughput(secs, false)?;
        let both = compare_throughput(secs, true)?;
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
        if !a.json {
            println!(
                "compare       dense k=2 alone {:>6.0} samples/s; beside a VAE (k=2): dense {:.0} + vae {:.0} samples/s; frame median {:.2} ms",
                f(&alone, "a_dense_samples_per_sec"),
                f(&both, "a_dense_samples_per_sec"),
                f(&both, "b_vae_samples_per_sec"),
                f(&both, "frame_median_ms"),
            );
        }
        out["compare"] = json!({ "alone": alone, "both": both });
    }
    // The soak runs for as long as asked, so only when named.
    if only.as_ref().is_some_and(|o| o.iter().any(|p| p == "soak")) {
        let r = super::soak::soak(a.seconds)?;
        if !a.json {
            println!(
                "soak          {:.0} s, {} epochs on {}: RSS {:.0} MB at start, {:.0} MB after 5 min, {:.0} MB at the end; peak {:.0} MB ({:.0} MB after 5 min)",
                r["seconds"].as_f64().unwrap_or(0.0),
                r["epochs"],
                r["dataset"].as_str().unwrap_or(""),
                r["rss_mb_start"].as_f64().unwrap_or(f64::NAN),
                r["rss_mb_at_5min"].as_f64().unwrap_or(f64::NAN),
                r["rss_mb_end"].as_f64().unwrap_or(f64::NAN),
                r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
                r["peak_rss_mb_at_5min"].as_f64().unwrap_or(f64::NAN),
            );
        }
        out["soak"] = r;
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
        // Both medians of per-step rates (pytorch_reference.py's `samples_per_sec` is one).
        for name in ["dense", "vae", "conv"] {
            let ours = out[name]["median_samples_per_sec"].as_f64();
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

/// Runs this process's thread pools on `n` threads: rayon's global pool (the fused engines)
/// and, through `RAYON_NUM_THREADS`, candle's own (the candle engine and evaluations). Must
/// come before either pool is first used.
fn set_threads(n: usize) -> anyhow::Result<()> {
    if n == 0 {
        anyhow::bail!("--threads: give at least 1");
    }
    if let Ok(v) = std::env::var("RAYON_NUM_THREADS") {
        if v.trim() != n.to_string() {
            anyhow::bail!("--threads {n} contradicts RAYON_NUM_THREADS={v}");
        }
    }
    // Nothing else runs yet (the command line was just parsed), so setting the variable
    // races with no reader.
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .or_else(|e| {
            if rayon::current_num_threads() == n {
                Ok(())
            } else {
                Err(anyhow::anyhow!("--threads {n}: {e}"))
            }
        })
}

/// 60,000 training and 10,000 test images made from the embedded digits, each copy with light
/// noise so that no two points coincide (the `latent-ui` stand-in for Fashion-MNIST).
fn synthetic_dataset() -> anyhow::Result<Dataset> {
    use rand::{Rng, SeedableRng};
    let base = Dataset::embedded()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut grow = |split: &crate::data::Split, n: usize| {
        let mut images = Vec::with_capacity(n * crate::PIXELS);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let j = i % split.len();
            images.extend(
                split
                    .image(j)
                    .iter()
                    .map(|&v| (v + rng.random_range(0.0..0.15f32)).min(1.0)),
            );
            labels.push(split.labels[j]);
        }
        crate::data::Split::new(images, labels)
    };
    let train = grow(&base.train, 60_000);
    let test = grow(&base.test, 10_000);
    Ok(Dataset::from_parts(
        "synthetic (embedded digits repeated with noise)".into(),
        base.class_names,
        train,
        test,
        base.source,
    ))
}

/// Runs app frames headless (egui context + tessellation, no GPU) and times each one.
struct FrameDriver {
    ctx: egui::Context,
    time: f64,
    screen: egui::Rect,
}

impl FrameDriver {
    fn frame(&mut self, app: &mut crate::app::App, events: Vec<egui::Event>) -> f64 {
        self.time += 1.0 / 60.0;
        let raw = egui::RawInput {
            screen_rect: Some(self.screen),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let started = Instant::now();
        let out = self.ctx.run_ui(raw, |ui| app.show(ui));
        let prims = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(prims);
        ms
    }

    /// Steps frames (in real time) until `cond` holds.
    fn wait(
        &mut self,
        app: &mut crate::app::App,
        what: &str,
        cond: impl Fn(&crate::app::App) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        while !cond(app) {
            if started.elapsed().as_secs() > 300 {
                anyhow::bail!("latent-ui: timed out waiting for {what}");
            }
            self.frame(app, Vec::new());
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
        Ok(())
    }
}

fn median_p95(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let p95 = s[((s.len() as f64 * 0.95).ceil() as usize).clamp(1, s.len()) - 1];
    (s[s.len() / 2], p95)
}

/// Frame times of the Latent space panel with the test (10,000) and training (60,000) splits
/// of Fashion-MNIST, for a 2-D dense AE trained one epoch: 120 frames hovering along a curve
/// across the map, 120 dragging (panning), 60 scrolling (zooming in and out) and 60 idle.
fn latent_ui(json: bool) -> anyhow::Result<Value> {
    use crate::app::panels::latent::SplitChoice;
    use crate::app::{App, AppOptions, Tab};

    use egui::{pos2, vec2, Event, PointerButton};

    let (data, synthetic) = match Dataset::load_dir(std::path::Path::new(FASHION_MNIST_DIR)) {
        Ok(d) if d.train.len() >= 60_000 => (d, false),
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(d) => format!("only {} training images", d.train.len()),
            };
            eprintln!(
                "latent-ui: Fashion-MNIST not usable at {FASHION_MNIST_DIR} ({why}); using \
                 synthetic points from the embedded digits"
            );
            (synthetic_dataset()?, true)
        }
    };
    let data = Arc::new(data);
    let mut cfg = TrainConfig::preset(Variant::Dense, 2);
    cfg.epochs = 1;
    let mut trainer = Trainer::new(cfg, data.clone())?;
    while !trainer.is_finished() {
        trainer.step()?;
    }
    let model = Arc::new(trainer.snapshot()?);
    let describe = model.config().describe();
    drop(trainer);
    let data = Arc::try_unwrap(data).unwrap_or_else(|d| (*d).clone());
    let name = data.name.clone();

    let ctx = egui::Context::default();
    let mut driver = FrameDriver {
        ctx: ctx.clone(),
        time: 0.0,
        screen: egui::Rect::from_min_size(pos2(0.0, 0.0), vec2(1280.0, 800.0)),
    };
    let mut app = App::new(
        &ctx,
        AppOptions {
            data: Some(DatasetSource::Embedded),
            import: None,
            settings_path: None,
            load_bundled: false,
        },
    );
    app.deterministic = true;
    app.tab = Tab::Latent;
    app.shared.set_dataset(data);
    app.shared.a().adopt(model, app.shared.data.clone());
    driver.wait(&mut app, "the model and PCA", |a| {
        a.shared.a().snapshot.is_some() && a.shared.pca.is_some()
    })?;

    let mut results = json!({ "dataset": name, "synthetic": synthetic, "model": describe });
    if !json {
        println!("latent-ui     {name}, {describe} (1 epoch); frame = egui pass + tessellation");
    }
    for split in [SplitChoice::Test, SplitChoice::Train] {
        app.latent.split = split;
        driver.wait(&mut app, "the latent map", |a| {
            a.latent.map().is_some_and(|m| m.split == split)
                && a.latent.panes[0].source.busy().is_none()
                && !a.latent.panes[0].scatter.is_moving()
        })?;
        let n = app.latent.map().map_or(0, |m| m.points.len());
        for _ in 0..30 {
            driver.frame(&mut app, Vec::new());
        }
        let rect = app.latent.panes[0]
            .scatter
            .last_transform
            .map(|t| t.screen)
            .ok_or_else(|| anyhow::anyhow!("latent-ui: the map was not drawn"))?;
        let at = |f: f32| {
            let c = rect.center();
            pos2(
                c.x + 0.45 * rect.width() * (f * std::f32::consts::TAU).sin(),
                c.y + 0.45 * rect.height() * (f * 2.0 * std::f32::consts::TAU).cos(),
            )
        };
        let mut hover = Vec::new();
        for i in 0..120 {
            let p = at(i as f32 / 120.0);
            hover.push(driver.frame(&mut app, vec![Event::PointerMoved(p)]));
        }
        let mut drag = Vec::new();
        let start = rect.center();
        drag.push(driver.frame(
            &mut app,
            vec![
                Event::PointerMoved(start),
                Event::PointerButton {
                    pos: start,
                    button: PointerButton::Primary,
                    pressed: true,
                    modifiers: Default::default(),
                },
            ],
        ));
        let mut last = start;
        for i in 1..120 {
            let a = i as f32 / 120.0 * std::f32::consts::TAU;
            last = start + vec2(120.0 * a.sin(), 80.0 * (1.0 - a.cos()));
            drag.push(driver.frame(&mut app, vec![Event::PointerMoved(last)]));
        }
        drag.push(driver.frame(
            &mut app,
            vec![Event::PointerButton {
                pos: last,
                button: PointerButton::Primary,
                pressed: false,
                modifiers: Default::default(),
            }],
        ));
        let mut zoom = Vec::new();
        for i in 0..60 {
            let dy = if (i / 15) % 2 == 0 { 10.0 } else { -10.0 };
            zoom.push(driver.frame(
                &mut app,
                vec![
                    Event::PointerMoved(at(i as f32 / 60.0)),
                    Event::MouseWheel {
                        unit: egui::MouseWheelUnit::Point,
                        delta: vec2(0.0, dy),
                        phase: egui::TouchPhase::Move,
                        source: egui::MouseWheelSource::Unknown,
                        modifiers: Default::default(),
                    },
                ],
            ));
        }
        let mut idle = Vec::new();
        for _ in 0..60 {
            idle.push(driver.frame(&mut app, vec![Event::PointerMoved(rect.center())]));
        }
        let all: Vec<f64> = [&hover, &drag, &zoom, &idle]
            .iter()
            .flat_map(|v| v.iter().copied())
            .collect();
        let (med, p95) = median_p95(&all);
        let phase = |v: &[f64]| {
            let (m, p) = median_p95(v);
            json!({ "median_ms": m, "p95_ms": p })
        };
        // Hit-testing cost: the grid against a plain scan of every point.
        let (grid_us, scan_us) =
            match (app.latent.map(), app.latent.panes[0].scatter.last_transform) {
                (Some(m), Some(xf)) => {
                    let pts = &m.points;
                    let queries = 2000;
                    let t0 = Instant::now();
                    for i in 0..queries {
                        std::hint::black_box(pts.hit(&xf, at(i as f32 / queries as f32), 6.0, &[]));
                    }
                    let grid = t0.elapsed().as_secs_f64() * 1e6 / queries as f64;
                    let t0 = Instant::now();
                    for i in 0..200 {
                        let p = at(i as f32 / 200.0);
                        let best = pts
                            .xy
                            .iter()
                            .map(|q| (xf.to_screen(*q) - p).length_sq())
                            .enumerate()
                            .filter(|(_, d)| *d <= 36.0)
                            .min_by(|a, b| a.1.total_cmp(&b.1));
                        std::hint::black_box(best);
                    }
                    (grid, t0.elapsed().as_secs_f64() * 1e6 / 200.0)
                }
                _ => (f64::NAN, f64::NAN),
            };
        if !json {
            let (hm, hp) = median_p95(&hover);
            let (dm, dp) = median_p95(&drag);
            let (zm, zp) = median_p95(&zoom);
            let (im, ip) = median_p95(&idle);
            println!(
                "  {:>6} points: frame median {med:.2} ms, p95 {p95:.2} ms  (hover {hm:.2}/{hp:.2}, \
                 pan {dm:.2}/{dp:.2}, zoom {zm:.2}/{zp:.2}, idle {im:.2}/{ip:.2}); hit test \
                 {grid_us:.2} µs with the grid, {scan_us:.0} µs scanning",
                widgets_thousands(n),
            );
        }
        results[format!("points_{n}")] = json!({
            "points": n,
            "median_ms": med,
            "p95_ms": p95,
            "hover": phase(&hover),
            "pan": phase(&drag),
            "zoom": phase(&zoom),
            "idle": phase(&idle),
            "hit_test_grid_us": grid_us,
            "hit_test_scan_us": scan_us,
        });
    }
    Ok(results)
}

fn widgets_thousands(n: usize) -> String {
    crate::app::widgets::thousands(n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_per_sample_counts_the_presets() {
        // 784-256-128-32-128-256-784: 475,136 multiply-adds a pass; three passes, less the
        // first layer's input gradient (200,704), times two.
        let dense = TrainConfig::preset(Variant::Dense, 32).model;
        assert_eq!(flops_per_sample(&dense), 2_449_408.0);
        let vae = TrainConfig::preset(Variant::Vae, 32).model;
        assert_eq!(flops_per_sample(&vae), 2_473_984.0);
        let conv = TrainConfig::preset(Variant::Conv, 32).model;
        assert_eq!(flops_per_sample(&conv), 3_593_856.0);
    }
}
