//! `bottleneck bench --only soak --seconds N`: a long session of the app, driven headless through
//! the same harness as the UI tests, that checks memory stays flat. It repeats a cycle until
//! the time is up: train a 2-D dense AE for [`SOAK_EPOCHS`] epochs (more than the latent
//! timeline keeps, so the timeline is thinned), replay the timeline on the Latent space panel,
//! Continue for [`SOAK_CONTINUE`] epochs, save the model and load it back, switching panels
//! every few frames throughout. It reports the resident memory (`VmRSS`, and the peak
//! `VmHWM`) at the start, after five minutes and at the end, and the epochs trained.
//! Fashion-MNIST's 60,000 training images are used when installed, else (or with
//! `BOTTLENECK_SOAK_EMBEDDED=1`) the embedded digits. Progress goes to stderr after each cycle
//! (resident memory, the session's models and timeline snapshots, and how long handing free
//! memory back took);
//! `BOTTLENECK_SOAK_TRACE=1` also prints every frame that moves the resident memory or its peak
//! by 4 MB or more, with the panel shown and the threads alive (how the Denoise table's and the
//! probe's copies of the whole dataset were found).

use std::time::Instant;

use serde_json::{json, Value};

use crate::app::{App, Level, Tab};
use crate::data::{Dataset, DatasetSource};
use crate::model::{TrainConfig, Variant};
use crate::train::worker::{Command, RunState};

/// Epochs of each fresh run (above [`crate::app::state::MAX_EPOCH_SNAPSHOTS`]).
pub const SOAK_EPOCHS: usize = 80;
/// Epochs added by each Continue.
pub const SOAK_CONTINUE: usize = 5;
/// When the warm-up figure is taken.
const WARM_UP_SECONDS: f64 = 300.0;

/// Resident memory of this process in MB: (`VmRSS`, `VmHWM`) from /proc/self/status
/// (NaN where the file is missing, e.g. off Linux).
pub fn rss_mb() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The names of this process's threads, each once (Linux), for the trace.
fn thread_names() -> String {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names.dedup();
    names.join(",")
}

type AppHarness = egui_kittest::Harness<'static, Option<App>>;

/// Drives the app frame by frame, switching panels, and keeps the memory figures.
struct Soak {
    harness: AppHarness,
    started: Instant,
    frames: usize,
    /// Panels visited in turn while waiting (the Latent space panel every other time).
    tabs: Vec<Tab>,
    rss_start: f64,
    at_5min: Option<(f64, f64)>,
    samples: Vec<(f64, f64)>,
    /// `BOTTLENECK_SOAK_TRACE=1`: print every frame that moves RSS or its peak by 4 MB or more.
    trace: bool,
}

impl Soak {
    fn app(&mut self) -> &mut App {
        self.harness.state_mut().as_mut().expect("app built")
    }

    fn frame(&mut self) {
        let (before, hwm_before) = if self.trace { rss_mb() } else { (0.0, 0.0) };
        self.harness.step();
        self.frames += 1;
        let t = self.started.elapsed().as_secs_f64();
        if self.trace {
            let (after, hwm) = rss_mb();
            if (after - before).abs() >= 4.0 || hwm - hwm_before >= 4.0 {
                let app = self.app();
                let v = &app.shared.a().view;
                eprintln!(
                    "trace {t:>7.1} s  {:+6.1} MB -> {after:.0} MB (peak {hwm:.0})  tab {:?}  \
                     epoch {}  state {:?}  threads {}",
                    after - before,
                    app.tab,
                    v.epochs,
                    v.state,
                    thread_names()
                );
            }
        }
        if self.at_5min.is_none() && t >= WARM_UP_SECONDS {
            self.at_5min = Some(rss_mb());
        }
        if self.frames.is_multiple_of(600) {
            self.samples.push((t, rss_mb().0));
        }
        std::thread::sleep(std::time::Duration::from_millis(15));
    }

    /// Steps frames until `done` holds (at most `limit` seconds), switching panels every 40
    /// frames when `switch` is set.
    fn until(&mut self, limit: f64, switch: bool, done: impl Fn(&App) -> bool) -> bool {
        let t0 = Instant::now();
        let mut i = 0usize;
        loop {
            if done(self.app()) {
                return true;
            }
            if t0.elapsed().as_secs_f64() > limit {
                return false;
            }
            if switch && self.frames.is_multiple_of(40) {
                i += 1;
                let tab = self.tabs[i % self.tabs.len()];
                self.app().tab = tab;
            }
            self.frame();
        }
    }

    /// Waits for the run started just before to begin and then to finish; returns the epochs
    /// it trained.
    fn train_to_end(&mut self, what: &str) -> anyhow::Result<usize> {
        let before = self.app().shared.a().view.global_step;
        let begun = self.until(60.0, false, |a| {
            a.shared.a().view.state == RunState::Running || a.shared.a().view.global_step != before
        });
        if !begun {
            anyhow::bail!("soak: {what} did not start");
        }
        if !self.until(7200.0, true, |a| a.shared.runs_state() == RunState::Idle) {
            anyhow::bail!("soak: {what} did not finish in two hours");
        }
        let v = &self.app().shared.a().view;
        Ok(v.epochs.saturating_sub(v.first_epoch))
    }

    /// Waits for a notice starting with `prefix` newer than `since`.
    fn notice(&mut self, prefix: &str, since: Instant) -> anyhow::Result<()> {
        let prefix = prefix.to_string();
        let ok = self.until(120.0, false, |a| {
            a.shared
                .notices
                .iter()
                .any(|n| n.at >= since && n.text.starts_with(&prefix))
        });
        let error = self
            .app()
            .shared
            .notices
            .iter()
            .rev()
            .find(|n| n.at >= since && n.level == Level::Error)
            .map(|n| n.text.clone());
        match (ok, error) {
            (true, _) => Ok(()),
            (false, Some(e)) => anyhow::bail!("soak: waiting for \"{prefix}…\": {e}"),
            (false, None) => anyhow::bail!("soak: no \"{prefix}…\" notice within 120 s"),
        }
    }
}

/// Runs the soak for about `seconds` (whole cycles: the last one finishes).
pub fn soak(seconds: f64) -> anyhow::Result<Value> {
    let fashion = std::path::Path::new(super::harness::FASHION_MNIST_DIR);
    let embedded = std::env::var_os("BOTTLENECK_SOAK_EMBEDDED").is_some();
    let data = match Dataset::load_dir(fashion) {
        Ok(d) if !embedded => d,
        Ok(_) => Dataset::load(&DatasetSource::Embedded)?,
        Err(e) => {
            eprintln!("soak: Fashion-MNIST not usable ({e}); using the embedded digits");
            Dataset::load(&DatasetSource::Embedded)?
        }
    };
    let dataset = data.name.clone();
    let train_images = data.train.len();
    let dir = std::env::temp_dir().join(format!("bottleneck-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let model_path = dir.join("soak.safetensors");

    let mut harness = super::harness::app_harness(|a| {
        let mut cfg = TrainConfig::preset(Variant::Dense, 2);
        cfg.epochs = SOAK_EPOCHS;
        a.shared.settings.train = cfg;
        a.tab = Tab::Latent;
    });
    harness.step();
    if let Some(app) = harness.state_mut().as_mut() {
        app.shared.set_dataset(data);
    }
    let mut tabs = Vec::new();
    for t in Tab::ALL {
        if t != Tab::Latent {
            tabs.extend([Tab::Latent, t]);
        }
    }
    let mut s = Soak {
        harness,
        started: Instant::now(),
        frames: 0,
        tabs,
        rss_start: rss_mb().0,
        at_5min: None,
        samples: Vec::new(),
        trace: std::env::var_os("BOTTLENECK_SOAK_TRACE").is_some(),
    };
    let mut epochs = 0usize;
    let mut cycles = 0usize;
    let mut most_snapshots = 0usize;
    while s.started.elapsed().as_secs_f64() < seconds {
        cycles += 1;
        s.app()
            .shared
            .start_training()
            .map_err(|e| anyhow::anyhow!("soak: {e}"))?;
        epochs += s.train_to_end("training")?;
        most_snapshots = most_snapshots.max(s.app().shared.a().epoch_snapshots.len());

        // Replay the timeline on the Latent space panel (at most a minute).
        let app = s.app();
        app.tab = Tab::Latent;
        app.latent.timeline = Some(0);
        app.latent.playing = true;
        s.until(60.0, false, |a| !a.latent.playing);
        let app = s.app();
        app.latent.playing = false;
        app.latent.timeline = None;

        s.app().shared.continue_training(SOAK_CONTINUE);
        epochs += s.train_to_end("Continue")?;

        let since = Instant::now();
        s.app()
            .shared
            .a()
            .worker
            .send(Command::Save(model_path.clone()));
        s.notice("Saved", since)?;
        let since = Instant::now();
        let data = s.app().shared.data.clone();
        s.app().shared.a().worker.send(Command::Load {
            path: model_path.clone(),
            data,
        });
        s.notice("Loaded", since)?;
        // Progress on stderr, so that --json keeps one line on stdout.
        let (rss, peak) = rss_mb();
        let trim_started = Instant::now();
        crate::release_free_memory();
        let trim_ms = trim_started.elapsed().as_secs_f64() * 1000.0;
        let app = s.app();
        let models = app.shared.session_models.len();
        let snapshots = app.shared.a().epoch_snapshots.len();
        eprintln!(
            "soak  {:>6.0} s  cycle {cycles}: {epochs} epochs, RSS {rss:.0} MB, peak {peak:.0} MB, \
             {models} session models, {snapshots} timeline snapshots, trim {trim_ms:.1} ms",
            s.started.elapsed().as_secs_f64()
        );
    }
    let duration = s.started.elapsed().as_secs_f64();
    let (rss_end, peak) = rss_mb();
    std::fs::remove_dir_all(&dir).ok();
    let (rss_5, peak_5) = s.at_5min.unwrap_or((f64::NAN, f64::NAN));
    Ok(json!({
        "seconds": duration,
        "dataset": dataset,
        "train_images": train_images,
        "cycles": cycles,
        "epochs": epochs,
        "frames": s.frames,
        "most_timeline_snapshots": most_snapshots,
        "rss_mb_start": s.rss_start,
        "rss_mb_at_5min": rss_5,
        "peak_rss_mb_at_5min": peak_5,
        "rss_mb_end": rss_end,
        "peak_rss_mb": peak,
        "peak_over_5min_peak": peak / peak_5,
        "rss_samples": s.samples.iter().map(|(t, m)| json!([t.round(), m.round()])).collect::<Vec<_>>(),
    }))
}
