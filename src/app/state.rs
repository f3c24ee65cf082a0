//! The app's state: [`Shared`], which every panel reads and changes, around [`Run`], one
//! training run with its worker thread, what the worker reported and the model it produced.
//! The app has one run (A) or, while two variants are compared, two (A and B): both are the
//! same type and every event, command and cache key goes through the same code for each.
//!
//! Nothing here grows with the length of a session: the latent timeline keeps at most
//! [`MAX_EPOCH_SNAPSHOTS`] snapshots, the step curve and the epoch history at most
//! [`MAX_CURVE_POINTS`] points (each a [`Thinned`] record: thinned evenly, the first and the
//! latest always kept), the session's models at most [`MAX_SESSION_MODELS`] and the notices 20.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::analysis::Pca;
use crate::app::jobs::{self, Task};
use crate::app::settings::Settings;
use crate::app::{classroom, Tab};
use crate::data::Dataset;
use crate::id::Id;
use crate::model::io::EpochRecord;
use crate::model::{LossTerms, TrainConfig, TrainedModel};
use crate::train::worker::{Command, Event, RunState, Snapshot, WorkerHandle};

/// Most snapshots the latent timeline keeps (each holds a copy of the model's weights).
pub const MAX_EPOCH_SNAPSHOTS: usize = 64;
/// Most points a run's step curve and its epoch history keep.
pub const MAX_CURVE_POINTS: usize = 4096;
/// Most models the session lists (the oldest goes first).
/// Each holds its weights (about 2 MB for the 2-D dense preset), so the list reaches its
/// memory ceiling after a few runs rather than late in a long session.
pub const MAX_SESSION_MODELS: usize = 16;

/// A record of a sequence that keeps at most `CAP` items however long the sequence gets: every
/// item while there are at most `CAP`, then every 2nd, every 4th… (an even stride, doubled
/// whenever the record is full), plus always the latest. Reads as a slice.
#[derive(Clone, Debug)]
pub struct Thinned<T, const CAP: usize> {
    items: Vec<T>,
    /// Position in the sequence of each item.
    index: Vec<usize>,
    /// Items pushed so far.
    count: usize,
    stride: usize,
}

impl<T, const CAP: usize> Default for Thinned<T, CAP> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: Vec::new(),
            count: 0,
            stride: 1,
        }
    }
}

impl<T, const CAP: usize> Thinned<T, CAP> {
    /// Appends the next item of the sequence, thinning the older ones when full.
    pub fn push(&mut self, item: T) {
        // The latest item stays until the next one comes, even off the stride.
        if self.index.last().is_some_and(|i| i % self.stride != 0) {
            self.items.pop();
            self.index.pop();
        }
        self.items.push(item);
        self.index.push(self.count);
        self.count += 1;
        if self.items.len() > CAP.max(3) {
            self.stride *= 2;
            let (stride, last) = (self.stride, self.count - 1);
            let keep: Vec<bool> = self
                .index
                .iter()
                .map(|i| i % stride == 0 || *i == last)
                .collect();
            let mut k = keep.iter();
            self.items.retain(|_| *k.next().unwrap_or(&true));
            let mut k = keep.iter();
            self.index.retain(|_| *k.next().unwrap_or(&true));
        }
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// True once some items were dropped (the record keeps every `stride()`-th).
    pub fn is_thinned(&self) -> bool {
        self.stride > 1
    }

    /// How many items of the sequence each kept one stands for.
    pub fn stride(&self) -> usize {
        self.stride
    }
}

impl<T, const CAP: usize> std::ops::Deref for Thinned<T, CAP> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T, const CAP: usize> From<Vec<T>> for Thinned<T, CAP> {
    fn from(v: Vec<T>) -> Self {
        let mut t = Self::default();
        for x in v {
            t.push(x);
        }
        t
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
    pub step_curve: Thinned<(f64, LossTerms), MAX_CURVE_POINTS>,
    pub history: Thinned<EpochRecord, MAX_CURVE_POINTS>,
    /// A message about the run shown in the Train panel (divergence, errors, finish).
    pub message: Option<(Level, String)>,
    /// The record of the last step taken in slow motion (`Command::SlowStep`), for a Step view.
    pub slow_step: Option<std::sync::Arc<crate::train::slow_step::SlowStep>>,
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
            step_curve: Thinned::default(),
            history: Thinned::default(),
            message: None,
            slow_step: None,
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

/// Which of the (at most two) runs: A, the form's model, or B, the variant compared with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunId {
    A,
    B,
}

impl RunId {
    pub fn index(self) -> usize {
        match self {
            RunId::A => 0,
            RunId::B => 1,
        }
    }

    /// "A" or "B", as legends and titles name the runs.
    pub fn letter(self) -> &'static str {
        match self {
            RunId::A => "A",
            RunId::B => "B",
        }
    }
}

/// One training run: its worker thread, what the worker reported, and the model it holds.
/// Run A is the form's model; run B, while two variants are compared, trains beside it on the
/// same data with the same seed, latent size, epochs and batch.
pub struct Run {
    pub id: RunId,
    pub worker: WorkerHandle,
    pub view: RunView,
    /// The current model (latest snapshot of the run, or the model adopted or loaded).
    pub snapshot: Option<Snapshot>,
    /// Snapshots of finished epochs of the current run (the latent timeline): one per epoch
    /// until there are more than [`MAX_EPOCH_SNAPSHOTS`], then thinned evenly (see
    /// [`Run::timeline_thinned`]).
    pub epoch_snapshots: Thinned<Snapshot, MAX_EPOCH_SNAPSHOTS>,
}

/// What an event asks of the rest of the app once its run is updated.
enum FollowUp {
    Notify(Level, String),
    /// A model to list among the session's models.
    Remember(Arc<TrainedModel>),
}

impl Run {
    /// A run with its own worker thread; `waker` asks the UI for a frame when events come.
    pub fn spawn(id: RunId, ctx: &egui::Context) -> std::io::Result<Run> {
        let waker_ctx = ctx.clone();
        let worker = WorkerHandle::spawn(move || waker_ctx.request_repaint())?;
        Ok(Run {
            id,
            worker,
            view: RunView::default(),
            snapshot: None,
            epoch_snapshots: Thinned::default(),
        })
    }

    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.snapshot.as_ref().map(|s| &s.model)
    }

    /// The current snapshot's id (caches of what the current model shows key on it).
    pub fn snapshot_id(&self) -> Option<Id> {
        self.snapshot.as_ref().map(|s| s.id)
    }

    /// The run's variant as shown in legends and titles ("vae"), from its run or its model.
    pub fn variant_name(&self) -> &'static str {
        self.view
            .config
            .as_ref()
            .or(self.model().map(|m| m.config()))
            .map_or("?", |c| c.variant.name())
    }

    /// True when the timeline no longer holds every epoch of the run (it was thinned).
    pub fn timeline_thinned(&self) -> bool {
        self.epoch_snapshots.is_thinned()
    }

    /// The snapshot to show for the epoch `epoch` of the timeline (`None`: the current model):
    /// the run's latest snapshot at or before that epoch, else its first, else its current one.
    pub fn snapshot_at(&self, epoch: Option<usize>) -> Option<&Snapshot> {
        match epoch {
            Some(e) => self
                .epoch_snapshots
                .iter()
                .rev()
                .find(|s| s.epoch <= e)
                .or(self.epoch_snapshots.first())
                .or(self.snapshot.as_ref()),
            None => self.snapshot.as_ref(),
        }
    }

    /// Makes `model` this run's model, on `data`.
    pub fn adopt(&self, model: Arc<TrainedModel>, data: Arc<Dataset>) {
        self.worker.send(Command::Adopt { model, data });
    }

    /// Starts training `config` from scratch on `data`.
    fn start(&mut self, config: TrainConfig, data: Arc<Dataset>) {
        self.view.message = None;
        self.worker.send(Command::Start { config, data });
    }

    /// Trains the current model for `epochs` more (nothing without a model).
    fn continue_training(&mut self, data: Arc<Dataset>, epochs: usize) {
        if let Some(model) = self.model().cloned() {
            self.view.message = None;
            self.worker.send(Command::Continue {
                model,
                data,
                epochs,
            });
        }
    }

    /// Moves the current model to a new dataset (its codes and test errors are recomputed);
    /// the timeline of the old dataset's epochs is dropped.
    fn set_dataset(&mut self, data: Arc<Dataset>) {
        self.epoch_snapshots.clear();
        if let Some(m) = self.model().cloned() {
            self.adopt(m, data);
        }
    }

    fn set_snapshot(&mut self, s: Snapshot) {
        self.snapshot = Some(s);
    }

    /// Applies one worker event to the run. `label` names the run in notices ("B (vae)"),
    /// `None` for the only run.
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
                self.view = RunView {
                    state: RunState::Running,
                    config: Some(config),
                    steps_per_epoch,
                    epochs,
                    first_epoch,
                    epoch: first_epoch + 1,
                    fused,
                    history: history.into(),
                    ..RunView::default()
                };
                self.epoch_snapshots.clear();
            }
            Event::Steps(s) => {
                let v = &mut self.view;
                v.epoch = s.epoch;
                v.step = s.step;
                v.global_step = s.global_step;
                v.samples_per_sec = s.samples_per_sec;
                let x = (s.epoch - 1) as f64 + s.step as f64 / s.steps_per_epoch.max(1) as f64;
                v.step_curve.push((x, s.terms));
            }
            Event::Epoch { record, snapshot } => {
                self.view.history.push(record);
                self.epoch_snapshots.push(snapshot.clone());
                self.set_snapshot(snapshot);
            }
            Event::StateChanged(s) => self.view.state = s,
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
                self.view.message = Some((Level::Info, msg));
                let m = s.model.clone();
                self.set_snapshot(s);
                follow.push(FollowUp::Remember(m));
            }
            Event::Diverged { message, snapshot } => {
                self.view.message = Some((Level::Error, message));
                let who = label.map_or("Training".to_string(), |l| format!("Run {l}"));
                follow.push(FollowUp::Notify(
                    Level::Warning,
                    format!("{who} stopped: it diverged (details in the Train panel)."),
                ));
                self.set_snapshot(snapshot);
            }
            Event::SlowStep(s) => self.view.slow_step = Some(s),
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
                self.view = RunView {
                    history: m.meta.history.clone().into(),
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

/// A model trained or loaded during this session (the PCA-vs-AE panel plots them all).
#[derive(Clone)]
pub struct SessionModel {
    pub label: String,
    pub model: Arc<TrainedModel>,
    /// Test MSE on the dataset it was measured on.
    pub test_mse: Option<f64>,
}

impl SessionModel {
    /// Lists `model` under `label`, with the test MSE of its last recorded epoch.
    pub fn new(label: String, model: Arc<TrainedModel>) -> SessionModel {
        let test_mse = model
            .meta
            .history
            .last()
            .and_then(|r| r.test.get(crate::model::Term::Mse));
        SessionModel {
            label,
            model,
            test_mse,
        }
    }
}

/// State every panel can read and change.
pub struct Shared {
    pub data: Arc<Dataset>,
    /// Run A, and run B once a comparison has started (B stays, idle, when the comparison is
    /// switched off; it is shown while `settings.compare` is on, see [`Shared::shown_runs`]).
    pub runs: Vec<Run>,
    /// At most [`MAX_SESSION_MODELS`]; push with [`Shared::push_session_model`].
    pub session_models: Vec<SessionModel>,
    /// Models listed so far in the session (numbers their labels).
    pub session_count: usize,
    pub pca: Option<Arc<Pca>>,
    /// Wall time of fitting `pca`.
    pub pca_fit_seconds: Option<f64>,
    pca_job: Option<Task<Result<(Pca, f64), String>>>,
    /// PCA test MSE by k, computed on demand.
    pca_mse: HashMap<usize, f64>,
    pub settings: Settings,
    pub settings_path: Option<PathBuf>,
    pub notices: Vec<Notice>,
    /// Files dropped on the window this frame; a panel that uses them takes them.
    pub dropped_files: Vec<egui::DroppedFileHandle>,
    /// Tests set this to answer file dialogs without a window.
    pub dialog_override: Option<PathBuf>,
    /// A model file to open in the import dialog (a panel asks; the app opens the dialog).
    pub import_request: Option<PathBuf>,
    /// A panel may ask to switch tabs.
    pub switch_to: Option<Tab>,
    pub egui: egui::Context,
    /// Where the current panel was drawn last frame (points), for exports.
    pub panel_rect: egui::Rect,
    /// The window's size in points, for exports at 2×.
    pub panel_window_size: egui::Vec2,
    /// Side-panel controls the lesson's step hides.
    pub hidden_controls: Vec<crate::app::lessons::Control>,
}

impl Shared {
    /// The state of a fresh app on `data`, with run A's worker started.
    pub fn new(
        ctx: &egui::Context,
        data: Dataset,
        settings: Settings,
        settings_path: Option<PathBuf>,
    ) -> std::io::Result<Shared> {
        Ok(Shared {
            data: Arc::new(data),
            runs: vec![Run::spawn(RunId::A, ctx)?],
            session_models: Vec::new(),
            session_count: 0,
            pca: None,
            pca_fit_seconds: None,
            pca_job: None,
            pca_mse: HashMap::new(),
            settings,
            settings_path,
            notices: Vec::new(),
            dropped_files: Vec::new(),
            dialog_override: None,
            import_request: None,
            switch_to: None,
            egui: ctx.clone(),
            panel_rect: egui::Rect::NOTHING,
            panel_window_size: egui::vec2(1280.0, 800.0),
            hidden_controls: Vec::new(),
        })
    }

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

    /// Takes the first file dropped this frame whose path `wanted` accepts (the panels see the
    /// rest).
    pub fn take_dropped(&mut self, wanted: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        let i = self.dropped_files.iter().position(|f| wanted(f.path()))?;
        Some(self.dropped_files.remove(i).path().to_path_buf())
    }

    /// Run A: the form's model.
    pub fn a(&self) -> &Run {
        &self.runs[0]
    }

    pub fn a_mut(&mut self) -> &mut Run {
        &mut self.runs[0]
    }

    /// Run B, once a comparison has started (shown or not).
    pub fn b(&self) -> Option<&Run> {
        self.runs.get(1)
    }

    /// Run A's model.
    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.a().model()
    }

    /// The runs the panels show: A, and B while the comparison is on.
    pub fn shown_runs(&self) -> &[Run] {
        let n = if self.settings.compare { 2 } else { 1 };
        &self.runs[..n.min(self.runs.len())]
    }

    /// Run B, when the comparison is on and B exists (panels show it beside A).
    pub fn comparison(&self) -> Option<&Run> {
        self.shown_runs().get(1)
    }

    /// The state of the runs together: running if either runs, else paused if either is
    /// paused, else idle (B counts whenever it exists, so it is never left running unseen).
    pub fn runs_state(&self) -> RunState {
        let has = |s: RunState| self.runs.iter().any(|r| r.view.state == s);
        if has(RunState::Running) {
            RunState::Running
        } else if has(RunState::Paused) {
            RunState::Paused
        } else {
            RunState::Idle
        }
    }

    /// Sends a control command (pause, resume, step, stop) to every run; a worker without a
    /// run in the right state ignores it.
    pub fn send_runs(&self, make: impl Fn() -> Command) {
        for r in &self.runs {
            r.worker.send(make());
        }
    }

    /// B's training settings: the form's latent size, epochs and seed, and its batch size if
    /// the user changed it from A's preset, with B's variant's preset for everything else (so a
    /// convolutional B trains in the conv preset's smaller batches).
    pub fn compare_config(&self) -> TrainConfig {
        let mut c = self.settings.train.clone();
        c.apply_preset(self.settings.compare_variant);
        c
    }

    /// Run B, spawning its worker the first time.
    fn run_b(&mut self) -> Result<&mut Run, String> {
        if self.runs.len() < 2 {
            let b = Run::spawn(RunId::B, &self.egui)
                .map_err(|e| format!("cannot start a second training thread: {e}"))?;
            self.runs.push(b);
        }
        Ok(&mut self.runs[1])
    }

    /// Makes `model` run B's current model (e.g. a saved model shown as B) and turns the
    /// comparison on.
    pub fn adopt_compare(&mut self, model: Arc<TrainedModel>) -> Result<(), String> {
        self.settings.compare = true;
        self.settings.compare_variant = model.config().variant;
        let data = self.data.clone();
        self.run_b()?.adopt(model, data);
        Ok(())
    }

    /// Trains the shown runs' current models (A, and B when comparing) for `epochs` more.
    pub fn continue_training(&mut self, epochs: usize) {
        let n = self.shown_runs().len();
        let data = self.data.clone();
        for r in &mut self.runs[..n] {
            r.continue_training(data.clone(), epochs);
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
        self.pca_job = Some(crate::app::jobs::spawn("pca", &self.egui, move || {
            let started = Instant::now();
            Pca::fit(&data.train.images, crate::PIXELS, 100)
                .map(|p| (p, started.elapsed().as_secs_f64()))
                .map_err(|e| e.to_string())
        }));
    }

    /// Replaces the dataset (training in progress keeps its own copy); every run's model
    /// moves to it.
    pub fn set_dataset(&mut self, data: Dataset) {
        self.settings.dataset = data.source.clone();
        self.data = Arc::new(data);
        self.refit_pca();
        for r in &mut self.runs {
            r.set_dataset(self.data.clone());
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
        let label = format!("#{} {}", self.session_count + 1, model.config().describe());
        self.push_session_model(SessionModel::new(label, model.clone()));
    }

    /// Lists a model of the session (the oldest one goes once there are too many).
    pub fn push_session_model(&mut self, m: SessionModel) {
        self.session_count += 1;
        self.session_models.push(m);
        if self.session_models.len() > MAX_SESSION_MODELS {
            self.session_models.remove(0);
        }
    }

    /// Applies one event of run `id`.
    pub fn apply_event(&mut self, id: RunId, e: Event) {
        let Some(run) = self.runs.get_mut(id.index()) else {
            return;
        };
        let label = (id == RunId::B).then(|| format!("B ({})", run.variant_name()));
        let follow = run.apply(e, label.as_deref());
        for f in follow {
            match f {
                FollowUp::Notify(level, text) => self.notify(level, text),
                FollowUp::Remember(m) => self.remember_model(&m),
            }
        }
    }

    /// Drains the workers' events and finished jobs (once per frame).
    pub fn poll(&mut self) {
        for i in 0..self.runs.len() {
            let id = self.runs[i].id;
            for e in self.runs[i].worker.drain() {
                self.apply_event(id, e);
            }
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
            self.run_b()?.start(b_cfg, data.clone());
        }
        self.a_mut().start(cfg, data);
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

#[cfg(test)]
mod tests {
    use super::Thinned;

    #[test]
    fn thinning_keeps_first_latest_and_an_even_stride_under_the_cap() {
        let mut v: Thinned<usize, 64> = Thinned::default();
        for i in 0..1000 {
            v.push(i);
            assert!(v.len() <= 64, "{} items after {i}", v.len());
            assert_eq!((v[0], *v.last().unwrap()), (0, i));
            let s = v.stride();
            assert!(v[..v.len() - 1]
                .iter()
                .enumerate()
                .all(|(j, x)| *x == j * s));
        }
        assert!(v.is_thinned() && v.len() >= 32);
        assert_eq!(v.stride(), 16);
    }

    #[test]
    fn short_records_are_kept_whole() {
        let v: Thinned<u8, 64> = (0..10).collect::<Vec<u8>>().into();
        assert!(!v.is_thinned());
        assert_eq!(&v[..], &(0..10).collect::<Vec<u8>>()[..]);
    }
}
