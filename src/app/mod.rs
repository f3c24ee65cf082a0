//! The desktop app (eframe/egui). [`App`] owns the panels (one struct per tab, each with
//! `ui(&mut self, ui, &mut Shared)`) and [`Shared`], the state they all read: the dataset, the
//! training worker's handle and what it reported, the current model snapshot, PCA, settings
//! and notices. Worker events are drained once per frame; slow work runs in [`jobs`].

pub mod classroom;
pub mod export;
pub mod jobs;
pub mod panels;
pub mod settings;
pub mod sidebar;
pub mod snapshot;
pub mod widgets;

use panels::{anomaly, denoise, interpolate, latent, pca as pca_panel, train as train_panel};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::analysis::Pca;
use crate::data::{Dataset, DatasetSource};
use crate::model::io::EpochRecord;
use crate::model::{LossTerms, TrainConfig, TrainedModel};
use crate::train::worker::{Command, Event, RunState, Snapshot, WorkerHandle};
use jobs::Job;
use settings::Settings;

/// The activities, one tab each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tab {
    #[default]
    Train,
    Latent,
    Interpolate,
    Denoise,
    Pca,
    Anomaly,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Train,
        Tab::Latent,
        Tab::Interpolate,
        Tab::Denoise,
        Tab::Pca,
        Tab::Anomaly,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Latent => "Latent space",
            Tab::Interpolate => "Interpolate",
            Tab::Denoise => "Denoise",
            Tab::Pca => "PCA vs AE",
            Tab::Anomaly => "Anomaly",
        }
    }

    /// The command-line spelling (`snapshot --panel`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Tab::Train => "train",
            Tab::Latent => "latent",
            Tab::Interpolate => "interpolate",
            Tab::Denoise => "denoise",
            Tab::Pca => "pca",
            Tab::Anomaly => "anomaly",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Self::ALL
            .into_iter()
            .find(|t| t.cli_name().eq_ignore_ascii_case(s.trim()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub at: Instant,
}

/// The training run as the UI sees it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub state: RunState,
    pub config: Option<TrainConfig>,
    pub steps_per_epoch: usize,
    /// Total epochs of the run (including any the model had before continuing).
    pub epochs: usize,
    pub first_epoch: usize,
    /// 1-based epoch and step of the last reported step.
    pub epoch: usize,
    pub step: usize,
    pub global_step: usize,
    pub samples_per_sec: f64,
    pub fused: bool,
    /// Step losses: x = epochs as a fraction (e.g. 2.5 is half way through epoch 3).
    pub step_curve: Vec<(f64, LossTerms)>,
    pub history: Vec<EpochRecord>,
    /// A message about the run shown in the Train panel (divergence, errors, finish).
    pub message: Option<(Level, String)>,
}

impl Default for RunView {
    fn default() -> Self {
        Self {
            state: RunState::Idle,
            config: None,
            steps_per_epoch: 0,
            epochs: 0,
            first_epoch: 0,
            epoch: 0,
            step: 0,
            global_step: 0,
            samples_per_sec: 0.0,
            fused: false,
            step_curve: Vec::new(),
            history: Vec::new(),
            message: None,
        }
    }
}

impl RunView {
    /// Fraction of the run done, in [0, 1].
    pub fn progress(&self) -> f32 {
        let total = (self.epochs.saturating_sub(self.first_epoch)) * self.steps_per_epoch;
        if total == 0 {
            return 0.0;
        }
        let done =
            self.epoch.saturating_sub(1 + self.first_epoch) * self.steps_per_epoch + self.step;
        (done as f32 / total as f32).clamp(0.0, 1.0)
    }

    /// Estimated seconds left from the current throughput.
    pub fn seconds_left(&self) -> f64 {
        let Some(c) = &self.config else {
            return f64::NAN;
        };
        let total = (self.epochs.saturating_sub(self.first_epoch)) * self.steps_per_epoch;
        let done =
            self.epoch.saturating_sub(1 + self.first_epoch) * self.steps_per_epoch + self.step;
        let left = total.saturating_sub(done) as f64 * c.batch as f64;
        if self.samples_per_sec > 0.0 {
            left / self.samples_per_sec
        } else {
            f64::NAN
        }
    }
}

/// Where one run's worker events land (A's fields in [`Shared`], or B's in [`CompareRun`]), so
/// both runs apply events with the same code.
struct RunSlot<'a> {
    run: &'a mut RunView,
    snapshot: &'a mut Option<Snapshot>,
    version: &'a mut u64,
    epoch_snapshots: &'a mut Vec<Snapshot>,
}

/// What an event asks of the rest of the app once its run is updated.
enum FollowUp {
    Notify(Level, String),
    /// A model to list among the session's models.
    Remember(Arc<TrainedModel>),
}

impl RunSlot<'_> {
    fn set_snapshot(&mut self, s: Snapshot) {
        *self.snapshot = Some(s);
        *self.version += 1;
    }

    /// Applies one worker event to the run. `label` names the run in notices ("B (vae)"),
    /// `None` for the main run.
    fn apply(&mut self, e: Event, label: Option<&str>) -> Vec<FollowUp> {
        let mut follow = Vec::new();
        match e {
            Event::Started {
                config,
                steps_per_epoch,
                epochs,
                fused,
                first_epoch,
            } => {
                let history = if first_epoch > 0 {
                    self.snapshot
                        .as_ref()
                        .map(|s| s.model.meta.history.clone())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                *self.run = RunView {
                    state: RunState::Running,
                    config: Some(config),
                    steps_per_epoch,
                    epochs,
                    first_epoch,
                    epoch: first_epoch + 1,
                    fused,
                    history,
                    ..RunView::default()
                };
                self.epoch_snapshots.clear();
            }
            Event::Steps(s) => {
                self.run.epoch = s.epoch;
                self.run.step = s.step;
                self.run.global_step = s.global_step;
                self.run.samples_per_sec = s.samples_per_sec;
                let x = (s.epoch - 1) as f64 + s.step as f64 / s.steps_per_epoch.max(1) as f64;
                self.run.step_curve.push((x, s.terms));
            }
            Event::Epoch { record, snapshot } => {
                self.run.history.push(record);
                self.epoch_snapshots.push(snapshot.clone());
                self.set_snapshot(snapshot);
            }
            Event::StateChanged(s) => self.run.state = s,
            Event::Snapshot(s) => self.set_snapshot(s),
            Event::Finished(s) => {
                let msg = match s.model.meta.history.last() {
                    Some(r) => format!(
                        "Finished {} epochs: test MSE {:.4}.",
                        s.model.meta.epochs_trained,
                        r.test.get(crate::model::Term::Mse).unwrap_or(f64::NAN)
                    ),
                    None => "Finished.".into(),
                };
                self.run.message = Some((Level::Info, msg));
                let m = s.model.clone();
                self.set_snapshot(s);
                follow.push(FollowUp::Remember(m));
            }
            Event::Diverged { message, snapshot } => {
                self.run.message = Some((Level::Error, message));
                let who = label.map_or("Training".to_string(), |l| format!("Run {l}"));
                follow.push(FollowUp::Notify(
                    Level::Warning,
                    format!("{who} stopped: it diverged (details in the Train panel)."),
                ));
                self.set_snapshot(snapshot);
            }
            Event::Saved(p) => follow.push(FollowUp::Notify(
                Level::Info,
                format!("Saved the model to {}.", p.display()),
            )),
            Event::Loaded { path, snapshot } => {
                let m = snapshot.model.clone();
                if let Some(path) = path {
                    follow.push(FollowUp::Notify(
                        Level::Info,
                        format!("Loaded {} ({}).", path.display(), m.config().describe()),
                    ));
                }
                *self.run = RunView {
                    history: m.meta.history.clone(),
                    config: Some(m.config().clone()),
                    ..RunView::default()
                };
                self.epoch_snapshots.clear();
                self.set_snapshot(snapshot);
                follow.push(FollowUp::Remember(m));
            }
            Event::Error(msg) => follow.push(FollowUp::Notify(
                Level::Error,
                match label {
                    Some(l) => format!("Run {l}: {msg}"),
                    None => msg,
                },
            )),
        }
        follow
    }
}

/// The second run of a comparison ("B"): trained beside the main run on the same data with
/// the same seed, latent size, epochs and batch, by its own worker (spawned on demand).
pub struct CompareRun {
    pub worker: WorkerHandle,
    pub run: RunView,
    /// B's current model (latest snapshot of its run, or the model adopted as B).
    pub snapshot: Option<Snapshot>,
    /// Increments whenever B's `snapshot` changes.
    pub model_version: u64,
    /// One snapshot per finished epoch of B's run.
    pub epoch_snapshots: Vec<Snapshot>,
}

impl CompareRun {
    fn slot(&mut self) -> RunSlot<'_> {
        RunSlot {
            run: &mut self.run,
            snapshot: &mut self.snapshot,
            version: &mut self.model_version,
            epoch_snapshots: &mut self.epoch_snapshots,
        }
    }

    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.snapshot.as_ref().map(|s| &s.model)
    }

    /// B's variant as shown in legends and titles ("vae"), from its run or its model.
    pub fn variant_name(&self) -> &'static str {
        self.run
            .config
            .as_ref()
            .or(self.model().map(|m| m.config()))
            .map_or("?", |c| c.variant.name())
    }
}

/// A model trained or loaded during this session (the PCA-vs-AE panel plots them all).
#[derive(Clone)]
pub struct SessionModel {
    pub label: String,
    pub model: Arc<TrainedModel>,
    /// Test MSE on the dataset it was measured on.
    pub test_mse: Option<f64>,
}

/// State every panel can read and change.
pub struct Shared {
    pub data: Arc<Dataset>,
    pub worker: WorkerHandle,
    pub run: RunView,
    /// The current model (latest snapshot of the run, or the loaded model).
    pub snapshot: Option<Snapshot>,
    /// Increments whenever `snapshot` changes (panels cache on it).
    pub model_version: u64,
    /// One snapshot per finished epoch of the current run (the latent timeline).
    pub epoch_snapshots: Vec<Snapshot>,
    pub session_models: Vec<SessionModel>,
    /// The comparison run B (`None` until a comparison first starts); shown while
    /// `settings.compare` is on, see [`Shared::comparison`].
    pub compare: Option<CompareRun>,
    pub pca: Option<Arc<Pca>>,
    /// Wall time of fitting `pca`.
    pub pca_fit_seconds: Option<f64>,
    pca_job: Option<Job<Result<(Pca, f64), String>>>,
    /// PCA test MSE by k, computed on demand.
    pca_mse: HashMap<usize, f64>,
    pub settings: Settings,
    pub settings_path: Option<PathBuf>,
    pub notices: Vec<Notice>,
    /// Files dropped on the window this frame; a panel that uses them takes them.
    pub dropped_files: Vec<egui::DroppedFileHandle>,
    /// Tests set this to answer file dialogs without a window.
    pub dialog_override: Option<PathBuf>,
    /// A panel may ask to switch tabs.
    pub switch_to: Option<Tab>,
    pub egui: egui::Context,
    /// Where the current panel was drawn last frame (points), for exports.
    pub panel_rect: egui::Rect,
    /// The window's size in points, for exports at 2×.
    pub panel_window_size: egui::Vec2,
}

impl Shared {
    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        if level == Level::Error {
            eprintln!("bottleneck: {text}");
        }
        self.notices.push(Notice {
            level,
            text,
            at: Instant::now(),
        });
        if self.notices.len() > 20 {
            self.notices.remove(0);
        }
    }

    /// How much thicker lines and bigger points are drawn (presenter mode: larger).
    pub fn draw_scale(&self) -> f32 {
        if self.settings.presenter {
            classroom::PRESENTER_SCALE
        } else {
            1.0
        }
    }

    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.snapshot.as_ref().map(|s| &s.model)
    }

    /// Run B, when the comparison is on and B exists (panels show it beside A).
    pub fn comparison(&self) -> Option<&CompareRun> {
        if self.settings.compare {
            self.compare.as_ref()
        } else {
            None
        }
    }

    /// The state of the runs together: running if either runs, else paused if either is
    /// paused, else idle (B counts whenever it exists, so it is never left running unseen).
    pub fn runs_state(&self) -> RunState {
        let states = [
            Some(self.run.state),
            self.compare.as_ref().map(|b| b.run.state),
        ];
        let has = |s: RunState| states.contains(&Some(s));
        if has(RunState::Running) {
            RunState::Running
        } else if has(RunState::Paused) {
            RunState::Paused
        } else {
            RunState::Idle
        }
    }

    /// Sends a control command (pause, resume, step, stop) to A and, if it exists, to B; a
    /// worker without a run in the right state ignores it.
    pub fn send_runs(&self, make: impl Fn() -> Command) {
        self.worker.send(make());
        if let Some(b) = &self.compare {
            b.worker.send(make());
        }
    }

    /// B's training settings: the form's latent size, epochs, batch and seed with B's
    /// variant's preset for everything else.
    pub fn compare_config(&self) -> TrainConfig {
        let mut c = self.settings.train.clone();
        c.apply_preset(self.settings.compare_variant);
        c
    }

    /// Run B, spawning its worker the first time.
    fn compare_run(&mut self) -> Result<&mut CompareRun, String> {
        if self.compare.is_none() {
            let waker_ctx = self.egui.clone();
            let worker = WorkerHandle::spawn(move || waker_ctx.request_repaint())
                .map_err(|e| format!("cannot start a second training thread: {e}"))?;
            self.compare = Some(CompareRun {
                worker,
                run: RunView::default(),
                snapshot: None,
                model_version: 0,
                epoch_snapshots: Vec::new(),
            });
        }
        Ok(self.compare.as_mut().expect("just created"))
    }

    /// Makes `model` run B's current model (e.g. a saved model shown as B) and turns the
    /// comparison on.
    pub fn adopt_compare(&mut self, model: Arc<TrainedModel>) -> Result<(), String> {
        self.settings.compare = true;
        self.settings.compare_variant = model.config().variant;
        let data = self.data.clone();
        self.compare_run()?
            .worker
            .send(Command::Adopt { model, data });
        Ok(())
    }

    /// Trains the current models (A, and B when comparing) for `epochs` more.
    pub fn continue_training(&mut self, epochs: usize) {
        let data = self.data.clone();
        if let Some(m) = self.model().cloned() {
            self.run.message = None;
            self.worker.send(Command::Continue {
                model: m,
                data: data.clone(),
                epochs,
            });
        }
        if self.settings.compare {
            if let Some(b) = self.compare.as_mut() {
                if let Some(m) = b.model().cloned() {
                    b.run.message = None;
                    b.worker.send(Command::Continue {
                        model: m,
                        data,
                        epochs,
                    });
                }
            }
        }
    }

    /// PCA's test MSE with `k` components (None until PCA is fitted).
    pub fn pca_test_mse(&mut self, k: usize) -> Option<f64> {
        let pca = self.pca.clone()?;
        Some(
            *self
                .pca_mse
                .entry(k)
                .or_insert_with(|| pca.mse(&self.data.test.images, k) as f64),
        )
    }

    /// Starts fitting PCA on the current dataset's training images in the background.
    pub fn refit_pca(&mut self) {
        self.pca = None;
        self.pca_fit_seconds = None;
        self.pca_mse.clear();
        let data = self.data.clone();
        self.pca_job = Some(Job::spawn("pca", Some(self.egui.clone()), move || {
            let started = Instant::now();
            Pca::fit(&data.train.images, crate::PIXELS, 100)
                .map(|p| (p, started.elapsed().as_secs_f64()))
                .map_err(|e| e.to_string())
        }));
    }

    /// Replaces the dataset (training in progress keeps its own copy).
    pub fn set_dataset(&mut self, data: Dataset) {
        self.settings.dataset = data.source.clone();
        self.data = Arc::new(data);
        self.refit_pca();
        self.epoch_snapshots.clear();
        if let Some(m) = self.model().cloned() {
            self.worker.send(Command::Adopt {
                model: m,
                data: self.data.clone(),
            });
        }
        if let Some(b) = self.compare.as_mut() {
            b.epoch_snapshots.clear();
            if let Some(m) = b.model().cloned() {
                b.worker.send(Command::Adopt {
                    model: m,
                    data: self.data.clone(),
                });
            }
        }
    }

    fn remember_model(&mut self, model: &Arc<TrainedModel>) {
        if self
            .session_models
            .iter()
            .any(|m| Arc::ptr_eq(&m.model, model))
        {
            return;
        }
        let test_mse = model
            .meta
            .history
            .last()
            .and_then(|r| r.test.get(crate::model::Term::Mse));
        let n = self.session_models.len() + 1;
        self.session_models.push(SessionModel {
            label: format!("#{n} {}", model.config().describe()),
            model: model.clone(),
            test_mse,
        });
    }

    /// Where A's events land: the run fields of `Shared` itself.
    fn slot_a(&mut self) -> RunSlot<'_> {
        RunSlot {
            run: &mut self.run,
            snapshot: &mut self.snapshot,
            version: &mut self.model_version,
            epoch_snapshots: &mut self.epoch_snapshots,
        }
    }

    /// Applies one event of the main run (A).
    pub fn apply_event(&mut self, e: Event) {
        let follow = self.slot_a().apply(e, None);
        self.follow_up(follow);
    }

    /// Applies one event of the comparison run (B).
    pub fn apply_compare_event(&mut self, e: Event) {
        let Some(b) = self.compare.as_mut() else {
            return;
        };
        let label = format!("B ({})", b.variant_name());
        let follow = b.slot().apply(e, Some(&label));
        self.follow_up(follow);
    }

    fn follow_up(&mut self, follow: Vec<FollowUp>) {
        for f in follow {
            match f {
                FollowUp::Notify(level, text) => self.notify(level, text),
                FollowUp::Remember(m) => self.remember_model(&m),
            }
        }
    }

    /// Drains the worker's events and finished jobs (once per frame).
    pub fn poll(&mut self) {
        for e in self.worker.drain() {
            self.apply_event(e);
        }
        let b_events = self.compare.as_ref().map(|b| b.worker.drain());
        for e in b_events.into_iter().flatten() {
            self.apply_compare_event(e);
        }
        if let Some(r) = jobs::take_done(&mut self.pca_job) {
            match r {
                Ok((p, seconds)) => {
                    self.pca = Some(Arc::new(p));
                    self.pca_fit_seconds = Some(seconds);
                    self.pca_mse.clear();
                }
                Err(e) => self.notify(Level::Error, format!("PCA failed: {e}")),
            }
        }
    }

    /// Sends a start command with the form's settings (after validating them); when the
    /// comparison is on, run B starts too, on the same data with the same seed.
    pub fn start_training(&mut self) -> Result<(), String> {
        let cfg = self.settings.train.clone();
        cfg.validate().map_err(|e| e.to_string())?;
        let data = self.data.clone();
        if self.settings.compare {
            let b_cfg = self.compare_config();
            let variant = b_cfg.variant.name();
            b_cfg
                .validate()
                .map_err(|e| format!("run B ({variant}): {e}"))?;
            let b = self.compare_run()?;
            b.run.message = None;
            b.worker.send(Command::Start {
                config: b_cfg,
                data: data.clone(),
            });
        }
        self.run.message = None;
        self.worker.send(Command::Start { config: cfg, data });
        Ok(())
    }

    pub fn save_settings(&self) {
        if let Some(p) = &self.settings_path {
            if let Err(e) = self.settings.save(p) {
                eprintln!("bottleneck: cannot save settings: {e}");
            }
        }
    }
}

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// `--data`: overrides the dataset remembered in the settings.
    pub data: Option<DatasetSource>,
    /// Where settings live (`None`: nowhere, nothing persists).
    pub settings_path: Option<PathBuf>,
    /// Open with the bundled pre-trained models (on the embedded digits): the real app does,
    /// tests that start from nothing don't.
    pub load_bundled: bool,
}

/// Rolling frame-time statistics (CPU time spent building each frame).
#[derive(Default)]
pub struct FrameStats {
    recent: std::collections::VecDeque<f32>,
}

impl FrameStats {
    fn push(&mut self, ms: f32) {
        self.recent.push_back(ms);
        if self.recent.len() > 120 {
            self.recent.pop_front();
        }
    }
    /// Median and maximum of the last frames, in milliseconds.
    pub fn summary(&self) -> (f32, f32) {
        if self.recent.is_empty() {
            return (0.0, 0.0);
        }
        let mut v: Vec<f32> = self.recent.iter().copied().collect();
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], *v.last().unwrap())
    }
}

pub struct App {
    pub shared: Shared,
    pub tab: Tab,
    pub sidebar: sidebar::Sidebar,
    pub train: train_panel::TrainPanel,
    pub latent: latent::LatentPanel,
    pub interpolate: interpolate::InterpolatePanel,
    pub denoise: denoise::DenoisePanel,
    pub pca: pca_panel::PcaPanel,
    pub anomaly: anomaly::AnomalyPanel,
    pub frames: FrameStats,
    /// Hide run-dependent text (frame time, thread count) so renders are reproducible.
    pub deterministic: bool,
    pub lessons: classroom::Lessons,
    pub help_open: bool,
    pub exporter: export::Exporter,
    /// In presenter mode the settings panel is collapsed unless this is set.
    pub presenter_sidebar: bool,
    /// The look (presenter, dark) last applied to the context.
    look: Option<(bool, bool)>,
    /// Startup timing has been reported (BOTTLENECK_TIMING).
    timed: bool,
    last_settings_save: Instant,
}

impl App {
    /// Builds the app: loads settings and the dataset, starts the worker and PCA.
    pub fn new(ctx: &egui::Context, opts: AppOptions) -> App {
        let fresh = opts.settings_path.as_ref().is_none_or(|p| !p.exists());
        let (settings, settings_notice) = Settings::load(opts.settings_path.as_deref());
        let mut notices = Vec::new();
        if let Some(n) = settings_notice {
            notices.push((Level::Warning, n));
        }
        let spec = opts
            .data
            .clone()
            .unwrap_or_else(|| settings.dataset.clone());
        let data = match Dataset::load(&spec) {
            Ok(d) => d,
            Err(e) => {
                notices.push((
                    Level::Error,
                    format!("Cannot open dataset {spec}: {e}. Using the embedded MNIST digits."),
                ));
                Dataset::embedded().expect("the embedded dataset is valid")
            }
        };
        let waker_ctx = ctx.clone();
        let worker = WorkerHandle::spawn(move || waker_ctx.request_repaint())
            .expect("cannot start the training thread");
        let tab = settings.tab;
        let mut shared = Shared {
            data: Arc::new(data),
            worker,
            run: RunView::default(),
            snapshot: None,
            model_version: 0,
            epoch_snapshots: Vec::new(),
            session_models: Vec::new(),
            compare: None,
            pca: None,
            pca_fit_seconds: None,
            pca_job: None,
            pca_mse: HashMap::new(),
            settings,
            settings_path: opts.settings_path,
            notices: Vec::new(),
            dropped_files: Vec::new(),
            dialog_override: None,
            switch_to: None,
            egui: ctx.clone(),
            panel_rect: egui::Rect::NOTHING,
            panel_window_size: egui::vec2(1280.0, 800.0),
        };
        shared.settings.dataset = shared.data.source.clone();
        for (l, n) in notices {
            shared.notify(l, n);
        }
        shared.refit_pca();
        let mut tab = tab;
        if opts.load_bundled && shared.data.source == crate::data::DatasetSource::Embedded {
            load_bundled(&mut shared);
            if fresh {
                // A first launch opens on the trained 2-D latent map.
                tab = Tab::Latent;
            }
        }
        App {
            train: train_panel::TrainPanel::new(&shared),
            sidebar: sidebar::Sidebar::default(),
            latent: latent::LatentPanel::new(),
            interpolate: interpolate::InterpolatePanel::new(),
            denoise: denoise::DenoisePanel::new(),
            pca: pca_panel::PcaPanel::new(),
            anomaly: anomaly::AnomalyPanel::new(&shared),
            shared,
            tab,
            frames: FrameStats::default(),
            deterministic: false,
            lessons: classroom::Lessons::default(),
            help_open: false,
            exporter: export::Exporter::default(),
            presenter_sidebar: false,
            look: None,
            timed: false,
            last_settings_save: Instant::now(),
        }
    }

    /// True once the model, PCA and every panel's background work are done (headless renders
    /// wait for this).
    pub fn is_settled(&self) -> bool {
        self.shared.snapshot.is_some()
            && self
                .shared
                .comparison()
                .is_none_or(|b| b.snapshot.is_some())
            && self.shared.pca.is_some()
            && !self.latent.working()
            && !self.interpolate.working()
            && !self.denoise.working()
            && !self.pca.working()
            && !self.anomaly.working()
            && !self.exporter.busy()
    }

    /// Puts the current panel in a state worth a picture (for `bottleneck snapshot`): two
    /// endpoints to interpolate, a test digit to denoise, a trained anomaly detector.
    pub fn prepare_demo(&mut self) {
        match self.tab {
            Tab::Interpolate => {
                if let Some(map) = self.interpolate.map().cloned() {
                    let labels = &self.shared.data.test.labels;
                    let first = |c: u8| labels.iter().position(|&l| l == c);
                    if let (Some(a), Some(b)) = (first(0), first(1)) {
                        self.interpolate
                            .set_test_image(&map, interpolate::Which::A, a);
                        self.interpolate
                            .set_test_image(&map, interpolate::Which::B, b);
                    }
                    self.interpolate.t = 0.5;
                }
            }
            Tab::Anomaly => self.anomaly.start(&mut self.shared),
            // Two maps side by side read best as plain points.
            Tab::Latent => self.latent.manifold_on = self.shared.comparison().is_none(),
            Tab::Denoise => self.denoise.demo(&self.shared),
            _ => {}
        }
    }

    fn apply_shortcuts(&mut self, ctx: &egui::Context) {
        use classroom::Shortcut;
        for s in classroom::read_shortcuts(ctx) {
            match s {
                Shortcut::PlayPause => classroom::play_pause(&mut self.shared),
                Shortcut::Step => self.train.step(&mut self.shared),
                Shortcut::Tab(t) => self.tab = t,
                Shortcut::Nudge(d) => {
                    if self.tab == Tab::Interpolate {
                        self.interpolate.animate = false;
                        self.interpolate.t = (self.interpolate.t + 0.05 * d as f32).clamp(0.0, 1.0);
                    }
                }
                Shortcut::Presenter => {
                    self.shared.settings.presenter = !self.shared.settings.presenter
                }
                Shortcut::FullScreen => {
                    let full = ctx.input(|i| i.viewport().fullscreen.unwrap_or(false));
                    ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
                }
                Shortcut::Help => self.help_open = !self.help_open,
                Shortcut::Lessons => self.lessons.open = !self.lessons.open,
                Shortcut::Close => {
                    self.help_open = false;
                    self.lessons.open = false;
                }
            }
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            // In presenter mode everything is bigger: the title gives its room to the tabs.
            if !self.shared.settings.presenter {
                ui.heading("Bottleneck");
                ui.separator();
            }
            for (i, t) in Tab::ALL.into_iter().enumerate() {
                if ui
                    .selectable_label(self.tab == t, t.label())
                    .on_hover_text(format!("Key {}", i + 1))
                    .clicked()
                {
                    self.tab = t;
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Help").on_hover_text("Keyboard shortcuts (F1)").clicked() {
                    self.help_open = !self.help_open;
                }
                ui.menu_button("Export", |ui| {
                    let tab = self.tab;
                    let items = [
                        ("Panel as PNG…", export::ExportKind::PanelPng, "The panel as it is on screen."),
                        ("Panel as PNG at 2×…", export::ExportKind::PanelPng2x, "The panel re-rendered at twice the resolution (default view)."),
                        ("Latent codes as CSV…", export::ExportKind::CodesCsv, "label, z1 … zk for every test image."),
                        ("Loss history as CSV…", export::ExportKind::HistoryCsv, "Train and test loss terms per epoch."),
                    ];
                    for (label, kind, tip) in items {
                        if ui.button(label).on_hover_text(tip).clicked() {
                            self.exporter.start(kind, tab, &mut self.shared);
                            ui.close();
                        }
                    }
                });
                ui.menu_button("Models", |ui| {
                    ui.label("Built-in, trained on the embedded digits:");
                    for b in crate::model::bundled::ALL {
                        if ui.button(b.title).clicked() {
                            adopt_bundled(&mut self.shared, b);
                            ui.close();
                        }
                    }
                });
                let p = self.shared.settings.presenter;
                if ui
                    .selectable_label(p, "Presenter")
                    .on_hover_text("Bigger type, thicker lines, high contrast (F5). F11: full screen.")
                    .clicked()
                {
                    self.shared.settings.presenter = !p;
                }
                if ui
                    .selectable_label(self.lessons.open, "Lessons")
                    .on_hover_text("A guided sequence: plain, sparse, deep, convolutional, denoising, variational (L).")
                    .clicked()
                {
                    self.lessons.open = !self.lessons.open;
                }
                if self.shared.settings.presenter
                    && ui
                        .selectable_label(self.presenter_sidebar, "Settings")
                        .on_hover_text("Show the settings panel in presenter mode.")
                        .clicked()
                {
                    self.presenter_sidebar = !self.presenter_sidebar;
                }
            });
        });
    }

    /// The whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let started = Instant::now();
        self.shared.poll();
        self.shared.dropped_files = ui.ctx().input(|i| i.raw.dropped_files.clone());

        let ctx = ui.ctx().clone();
        self.apply_shortcuts(&ctx);
        let look = (self.shared.settings.presenter, self.shared.settings.dark);
        if self.look != Some(look) {
            classroom::apply_look(&ctx, look.0, look.1);
            self.look = Some(look);
        }
        self.exporter.poll(&mut self.shared);
        self.shared.panel_window_size = ctx.content_rect().size();

        egui::Panel::top("tabs").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if !self.shared.settings.presenter || self.presenter_sidebar {
            egui::Panel::left("settings")
                .resizable(true)
                .default_size(290.0)
                .min_size(240.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .show(ui, |ui| self.sidebar.ui(ui, &mut self.shared));
                });
        }
        let mut help_open = self.help_open;
        classroom::help_window(&ctx, &mut help_open);
        self.help_open = help_open;
        egui::CentralPanel::default().show(ui, |ui| {
            self.shared.panel_rect = ui.max_rect();
            self.notices(ui);
            if self.lessons.open {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    self.lessons.ui(ui, &mut self.shared);
                });
                ui.add_space(4.0);
            }
            match self.tab {
                Tab::Train => self.train.ui(ui, &mut self.shared),
                Tab::Latent => self.latent.ui(ui, &mut self.shared),
                Tab::Interpolate => self.interpolate.ui(ui, &mut self.shared),
                Tab::Denoise => self.denoise.ui(ui, &mut self.shared),
                Tab::Pca => self.pca.ui(ui, &mut self.shared),
                Tab::Anomaly => self.anomaly.ui(ui, &mut self.shared),
            }
        });

        if !self.shared.dropped_files.is_empty() {
            let n = self.shared.dropped_files.len();
            self.shared.dropped_files.clear();
            self.shared.notify(
                Level::Warning,
                format!(
                    "{n} file(s) dropped here were not used: drop images on the Latent space, \
                     Interpolate or Denoise panel."
                ),
            );
        }
        if let Some(t) = self.shared.switch_to.take() {
            self.tab = t;
        }
        self.shared.settings.tab = self.tab;
        if let Some(r) = ui.ctx().input(|i| i.viewport().inner_rect) {
            self.shared.settings.window_size = Some([r.width(), r.height()]);
        }
        if self.last_settings_save.elapsed() > Duration::from_secs(20) {
            self.save_settings();
            self.last_settings_save = Instant::now();
        }
        if !self.timed && self.tab == Tab::Latent && self.shared.snapshot.is_some() {
            self.timed = true;
            if std::env::var_os("BOTTLENECK_TIMING").is_some() {
                eprintln!(
                    "timing: the latent map was first drawn {:.2} s after launch",
                    crate::started().elapsed().as_secs_f64()
                );
            }
        }
        self.frames.push(started.elapsed().as_secs_f32() * 1e3);
    }

    fn notices(&mut self, ui: &mut egui::Ui) {
        let now = Instant::now();
        self.shared.notices.retain(|n| {
            n.level == Level::Error || now.duration_since(n.at) < Duration::from_secs(8)
        });
        let mut dismiss = None;
        for (i, n) in self.shared.notices.iter().enumerate() {
            let color = match n.level {
                Level::Info => ui.visuals().text_color(),
                Level::Warning => ui.visuals().warn_fg_color,
                Level::Error => ui.visuals().error_fg_color,
            };
            ui.horizontal(|ui| {
                ui.colored_label(color, &n.text);
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.shared.notices.remove(i);
        }
        // Info notices fade by themselves: make sure a frame comes to remove them.
        if self.shared.notices.iter().any(|n| n.level != Level::Error) {
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        let s = &self.shared;
        ui.horizontal(|ui| {
            ui.label(format!(
                "Dataset: {} ({} train / {} test)",
                s.data.name,
                s.data.train.len(),
                s.data.test.len()
            ));
            ui.separator();
            match s.model() {
                Some(m) => ui.label(format!(
                    "Model: {} · {} epochs",
                    m.config().describe(),
                    m.meta.epochs_trained
                )),
                None => ui.label("Model: none yet"),
            };
            ui.separator();
            if self.deterministic {
                ui.label("Device: CPU");
            } else {
                ui.label(format!(
                    "Device: CPU ({} threads)",
                    rayon::current_num_threads()
                ));
            }
            ui.separator();
            let state = match s.runs_state() {
                RunState::Idle => "idle",
                RunState::Running => "training",
                RunState::Paused => "paused",
            };
            ui.label(format!("Training: {state}"));
            if !self.deterministic {
                ui.separator();
                let (median, _) = self.frames.summary();
                ui.label(format!("Frame {median:.1} ms"))
                    .on_hover_text("CPU time to build a frame (median of the last 120)");
            }
        });
    }

    pub fn on_exit(&mut self) {
        self.save_settings();
    }

    /// Writes the settings, with the panels' own (the anomaly detector's) folded in.
    fn save_settings(&mut self) {
        self.shared.settings.anomaly = Some(self.anomaly.settings.clone());
        self.shared.save_settings();
    }
}

/// Makes the bundled 2-D dense autoencoder current and lists the other bundled models as
/// session models (so the comparison panels have them).
fn load_bundled(shared: &mut Shared) {
    let mut first = true;
    for b in crate::model::bundled::ALL {
        match b.load() {
            Ok(m) => {
                let m = Arc::new(m);
                if first {
                    shared.worker.send(Command::Adopt {
                        model: m.clone(),
                        data: shared.data.clone(),
                    });
                    first = false;
                }
                let test_mse = m
                    .meta
                    .history
                    .last()
                    .and_then(|r| r.test.get(crate::model::Term::Mse));
                shared.session_models.push(SessionModel {
                    label: format!("built-in: {}", b.title),
                    model: m,
                    test_mse,
                });
            }
            Err(e) => shared.notify(
                Level::Error,
                format!("Built-in model {} is damaged: {e}", b.key),
            ),
        }
    }
}

/// Makes a bundled model current (from the Models menu).
fn adopt_bundled(shared: &mut Shared, b: crate::model::bundled::Bundled) {
    match b.load() {
        Ok(m) => {
            if shared.data.source != crate::data::DatasetSource::Embedded {
                shared.notify(
                    Level::Warning,
                    format!(
                        "{} was trained on the embedded MNIST digits, not on {}.",
                        b.title, shared.data.name
                    ),
                );
            }
            shared.worker.send(Command::Adopt {
                model: Arc::new(m),
                data: shared.data.clone(),
            });
        }
        Err(e) => shared.notify(
            Level::Error,
            format!("Built-in model {} is damaged: {e}", b.key),
        ),
    }
}

struct EframeApp(App);

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.show(ui);
    }
    fn on_exit(&mut self) {
        self.0.on_exit();
    }
}

/// Opens the app window on dataset `data`.
pub fn run(data: &DatasetSource) -> anyhow::Result<()> {
    let settings_path = settings::settings_path();
    let (settings, _) = Settings::load(settings_path.as_deref());
    let size = settings.window_size.unwrap_or([1280.0, 800.0]);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Bottleneck")
            .with_inner_size(size)
            .with_min_inner_size([800.0, 560.0])
            .with_drag_and_drop(true)
            .with_app_id("bottleneck"),
        ..Default::default()
    };
    let data = if *data == DatasetSource::Embedded
        && settings.dataset != DatasetSource::Embedded
        && std::env::args().all(|a| a != "--data")
    {
        None
    } else {
        Some(data.clone())
    };
    eframe::run_native(
        "Bottleneck",
        options,
        Box::new(move |cc| {
            let app = App::new(
                &cc.egui_ctx,
                AppOptions {
                    data,
                    settings_path,
                    load_bundled: true,
                },
            );
            Ok(Box::new(EframeApp(app)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
