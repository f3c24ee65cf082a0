//! The training worker: a named thread that owns the [`Trainer`] and obeys typed
//! [`Command`]s, reporting back with typed [`Event`]s over bounded channels. The UI sends
//! commands and drains events once per frame, so it never waits on training.
//!
//! - Step events are aggregated and sent at most every [`STEP_EVENT_INTERVAL`], so a fast
//!   model cannot flood the channel or make the UI repaint on every step (repainting under
//!   software GL made steps 4–10× slower).
//! - After every epoch, and on pause, stop, finish or divergence, the worker publishes a
//!   snapshot of the weights ([`TrainedModel`], an independent copy) plus the test set's latent
//!   codes, so panels can encode and decode without touching the live model.
//! - The waker (e.g. `egui::Context::request_repaint`) is called after each event sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::slow_step::SlowStep;
use super::{StepReport, TrainError, Trainer};
use crate::data::Dataset;
use crate::id::{Id, Identity};
use crate::model::io::{self, EpochRecord};
use crate::model::{LossTerms, TrainConfig, TrainedModel};

/// How often aggregated step losses are sent while training.
pub const STEP_EVENT_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub enum Command {
    /// Starts a new run from scratch.
    Start {
        config: TrainConfig,
        data: Arc<Dataset>,
    },
    /// Continues training `model` (e.g. one just loaded) for its config's epochs more.
    Continue {
        model: Arc<TrainedModel>,
        data: Arc<Dataset>,
        epochs: usize,
    },
    /// Takes `model` up as a run of one more epoch that starts paused: no batch is trained
    /// until a command says so (a `Step` or `SlowStep` of the model as it is; `Continue`
    /// followed by `Pause` could train a batch in between).
    Hold {
        model: Arc<TrainedModel>,
        data: Arc<Dataset>,
    },
    Pause,
    Resume,
    /// Trains exactly one mini-batch (when paused or idle with a run in place).
    Step,
    /// [`Command::Step`] in slow motion (`slow_step`): the same step, on the next training
    /// batch (`rows: None`) or on the given rows (`rows.len() / 784` images, values in 0..1;
    /// the batcher does not move), answered by [`Event::SlowStep`] before the usual events.
    /// Like `Step`, only when paused or idle with a run in place (ignored while running; an
    /// error without a run).
    SlowStep {
        rows: Option<Vec<f32>>,
    },
    /// Ends the run, keeping the weights reached.
    Stop,
    /// Saves the current weights (the running model, or the last one) to this path.
    Save(PathBuf),
    /// Loads a model file; training stops, the loaded model becomes current. Its snapshot's
    /// codes are computed on `data`'s test split.
    Load {
        path: PathBuf,
        data: Arc<Dataset>,
    },
    /// Makes `model` current (e.g. a bundled checkpoint), as if it had been loaded.
    Adopt {
        model: Arc<TrainedModel>,
        data: Arc<Dataset>,
    },
    Shutdown,
    /// Panics inside the worker with this message (tests use it to check that a panic
    /// becomes an error message and the worker stays usable).
    #[doc(hidden)]
    Panic(String),
}

/// What state the worker is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Running,
    Paused,
}

/// Loss terms averaged over the steps since the previous `Steps` event.
#[derive(Clone, Debug)]
pub struct StepsSummary {
    /// 1-based epoch and step within it of the last step included.
    pub epoch: usize,
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Steps taken in this run so far (x axis of the step curves).
    pub global_step: usize,
    pub terms: LossTerms,
    /// Training throughput over the steps included.
    pub samples_per_sec: f64,
}

/// A published copy of the model and what panels need with it.
#[derive(Clone)]
pub struct Snapshot {
    /// Names this snapshot (and so its codes) in cache keys; its copies share it.
    pub id: Id,
    pub model: Arc<TrainedModel>,
    /// Test images' codes, row-major `n × k`.
    pub test_codes: Arc<Vec<f32>>,
    /// Completed epochs when taken.
    pub epoch: usize,
}

#[derive(Clone)]
pub enum Event {
    /// A run started (or continued): its settings and shape.
    Started {
        config: TrainConfig,
        steps_per_epoch: usize,
        epochs: usize,
        fused: bool,
        /// Epochs already in the model (non-zero when continuing).
        first_epoch: usize,
    },
    Steps(StepsSummary),
    Epoch {
        record: EpochRecord,
        snapshot: Snapshot,
    },
    StateChanged(RunState),
    /// A snapshot taken on pause or stop.
    Snapshot(Snapshot),
    /// The run trained all its epochs.
    Finished(Snapshot),
    /// The run stopped on a non-finite or runaway loss; the snapshot holds the restored weights.
    Diverged {
        message: String,
        snapshot: Snapshot,
    },
    Saved(PathBuf),
    /// What a [`Command::SlowStep`] did (the record of the real step).
    SlowStep(Arc<SlowStep>),
    Loaded {
        /// The file it came from; `None` for a model handed over in memory (`Command::Adopt`).
        path: Option<PathBuf>,
        snapshot: Snapshot,
    },
    /// Something failed; training (if any) is stopped, nothing else changed.
    Error(String),
}

pub struct WorkerHandle {
    tx: Sender<Command>,
    rx: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts the worker thread. `waker` is called after every event (from the worker thread).
    pub fn spawn(waker: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (tx, cmd_rx) = bounded::<Command>(64);
        let (ev_tx, rx) = bounded::<Event>(256);
        let thread = std::thread::Builder::new()
            .name("bottleneck-trainer".into())
            .spawn(move || {
                Worker {
                    commands: cmd_rx,
                    events: ev_tx,
                    waker: Box::new(waker),
                    trainer: None,
                    last_model: None,
                    state: RunState::Idle,
                    pending: Pending::default(),
                }
                .run()
            })?;
        Ok(Self {
            tx,
            rx,
            thread: Some(thread),
        })
    }

    /// Sends a command (never blocks the caller for long: the queue holds 64 commands).
    pub fn send(&self, c: Command) {
        let _ = self.tx.send_timeout(c, Duration::from_millis(100));
    }

    /// All events waiting, oldest first.
    pub fn drain(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }

    /// Waits up to `timeout` for the next event (for tests and the command line).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        // Unblock a worker waiting to send, then join it.
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !t.is_finished() && Instant::now() < deadline {
                while self.rx.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

/// Step losses accumulated since the last `Steps` event.
#[derive(Default)]
struct Pending {
    terms: LossTerms,
    samples: usize,
    seconds: f64,
    steps: usize,
    global_step: usize,
    last_sent: Option<Instant>,
}

struct Worker {
    commands: Receiver<Command>,
    events: Sender<Event>,
    waker: Box<dyn Fn() + Send>,
    trainer: Option<Trainer>,
    /// The latest model when no trainer is running (after a load, or a finished run).
    last_model: Option<Arc<TrainedModel>>,
    state: RunState,
    pending: Pending,
}

impl Worker {
    fn run(mut self) {
        loop {
            // While running, poll for commands between steps; otherwise wait for one.
            let cmd = if self.state == RunState::Running {
                match self.commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(crossbeam_channel::TryRecvError::Empty) => None,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return,
                }
            } else {
                match self.commands.recv_timeout(Duration::from_millis(200)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            if let Some(c) = cmd {
                if matches!(c, Command::Shutdown) {
                    return;
                }
                self.guarded(|w| w.handle(c));
                continue;
            }
            self.guarded(Self::train_one);
        }
    }

    /// Runs one command or step; a panic in it ends the run in progress (its trainer may be
    /// half-updated) and becomes an error event, and the worker goes on waiting for commands.
    /// The last finished model is kept.
    fn guarded(&mut self, f: impl FnOnce(&mut Self)) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        if let Err(payload) = r {
            let what = crate::tasks::panic_message(&*payload);
            let had_run = self.trainer.take().is_some();
            self.pending = Pending::default();
            self.set_state(RunState::Idle);
            self.emit(Event::Error(format!(
                "internal error in the training thread ({what}); {}you can start again",
                if had_run { "the run was stopped; " } else { "" }
            )));
        }
    }

    fn emit(&self, e: Event) {
        // Step summaries may be dropped if the UI is behind; everything else waits for room.
        match e {
            Event::Steps(_) => {
                if let Err(TrySendError::Disconnected(_)) = self.events.try_send(e) {
                    return;
                }
            }
            other => {
                let _ = self.events.send_timeout(other, Duration::from_secs(2));
            }
        }
        (self.waker)();
    }

    fn set_state(&mut self, s: RunState) {
        if self.state != s {
            self.state = s;
            self.emit(Event::StateChanged(s));
        }
    }

    fn handle(&mut self, c: Command) {
        match c {
            Command::Start { config, data } => match Trainer::new(config, data) {
                Ok(t) => self.begin(t),
                Err(e) => self.emit(Event::Error(format!("cannot start training: {e}"))),
            },
            Command::Continue {
                model,
                data,
                epochs,
            } => {
                // The model shown elsewhere (a snapshot, the epoch history, run B) must not
                // change as this run trains: train a copy with weights of its own.
                let mut m = match model.independent_copy() {
                    Ok(m) => m,
                    Err(e) => {
                        return self.emit(Event::Error(format!("cannot continue training: {e}")))
                    }
                };
                m.meta.config.epochs = m.meta.epochs_trained + epochs.max(1);
                match Trainer::from_model(m, data) {
                    Ok(t) => self.begin(t),
                    Err(e) => self.emit(Event::Error(format!("cannot continue training: {e}"))),
                }
            }
            Command::Hold { model, data } => {
                let mut m = match model.independent_copy() {
                    Ok(m) => m,
                    Err(e) => {
                        return self.emit(Event::Error(format!("cannot take the model up: {e}")))
                    }
                };
                m.meta.config.epochs = m.meta.epochs_trained + 1;
                match Trainer::from_model(m, data) {
                    Ok(t) => {
                        self.begin(t);
                        self.set_state(RunState::Paused);
                    }
                    Err(e) => self.emit(Event::Error(format!("cannot take the model up: {e}"))),
                }
            }
            Command::Pause => {
                if self.state == RunState::Running {
                    self.flush_steps();
                    self.set_state(RunState::Paused);
                    self.publish_snapshot(SnapshotKind::Plain);
                }
            }
            Command::Resume => {
                if self.state == RunState::Paused && self.trainer.is_some() {
                    self.set_state(RunState::Running);
                }
            }
            Command::Step => {
                if self.trainer.is_some() && self.state != RunState::Running {
                    if self.state == RunState::Idle {
                        self.set_state(RunState::Paused);
                    }
                    self.train_one();
                    self.flush_steps();
                    if self.state == RunState::Paused {
                        self.publish_snapshot(SnapshotKind::Plain);
                    }
                }
            }
            Command::SlowStep { rows } => {
                if self.trainer.is_none() {
                    self.emit(Event::Error(
                        "there is no run to step: start or continue training first".into(),
                    ));
                } else if self.state != RunState::Running {
                    if self.state == RunState::Idle {
                        self.set_state(RunState::Paused);
                    }
                    self.slow_one(rows);
                    self.flush_steps();
                    if self.state == RunState::Paused {
                        self.publish_snapshot(SnapshotKind::Plain);
                    }
                }
            }
            Command::Stop => {
                if self.trainer.is_some() {
                    self.flush_steps();
                    self.publish_snapshot(SnapshotKind::Plain);
                    self.end_run();
                }
            }
            Command::Save(path) => {
                let model = match self.trainer.as_mut() {
                    Some(t) => t.snapshot().map(Arc::new).map_err(|e| e.to_string()),
                    None => self.last_model.clone().ok_or_else(|| {
                        "there is no model to save yet: train or load one first".to_string()
                    }),
                };
                match model.and_then(|m| io::save(&m, &path).map_err(|e| e.to_string())) {
                    Ok(()) => self.emit(Event::Saved(path)),
                    Err(e) => self.emit(Event::Error(format!("cannot save the model: {e}"))),
                }
            }
            Command::Load { path, data } => match io::load(&path) {
                Ok(m) => self.adopt(Arc::new(m), &data, Some(path)),
                Err(e) => self.emit(Event::Error(format!("cannot load the model: {e}"))),
            },
            Command::Adopt { model, data } => self.adopt(model, &data, None),
            Command::Shutdown => {}
            Command::Panic(message) => panic!("{message}"),
        }
    }

    fn adopt(&mut self, model: Arc<TrainedModel>, data: &Dataset, path: Option<PathBuf>) {
        match snapshot_of(model.clone(), data) {
            Ok(snapshot) => {
                if self.trainer.is_some() {
                    self.flush_steps();
                    self.end_run();
                }
                self.last_model = Some(model);
                self.emit(Event::Loaded { path, snapshot });
            }
            Err(e) => self.emit(Event::Error(format!("cannot use the model: {e}"))),
        }
    }

    fn begin(&mut self, t: Trainer) {
        let first_epoch = t.epochs_done();
        self.emit(Event::Started {
            config: t.config().clone(),
            steps_per_epoch: t.steps_per_epoch(),
            epochs: t.config().epochs,
            fused: t.is_fused(),
            first_epoch,
        });
        self.pending = Pending::default();
        self.trainer = Some(t);
        self.set_state(RunState::Running);
    }

    fn end_run(&mut self) {
        if let Some(mut t) = self.trainer.take() {
            if let Ok(m) = t.snapshot() {
                self.last_model = Some(Arc::new(m));
            }
        }
        self.set_state(RunState::Idle);
    }

    fn train_one(&mut self) {
        let Some(t) = self.trainer.as_mut() else {
            self.set_state(RunState::Idle);
            return;
        };
        if t.is_finished() {
            self.publish_snapshot(SnapshotKind::Finished);
            self.end_run();
            return;
        }
        match t.step() {
            Ok(r) => self.stepped(r),
            Err(e) => self.failed(e),
        }
    }

    /// One step in slow motion (see [`Command::SlowStep`]).
    fn slow_one(&mut self, rows: Option<Vec<f32>>) {
        let Some(t) = self.trainer.as_mut() else {
            return;
        };
        if rows.is_none() && t.is_finished() {
            // As an ordinary step would: the run is over.
            self.train_one();
            return;
        }
        if let Some(x) = &rows {
            let d = crate::PIXELS;
            if x.is_empty() || !x.len().is_multiple_of(d) {
                let n = x.len();
                self.emit(Event::Error(format!(
                    "cannot step on {n} values: a step needs whole rows of {d} pixels"
                )));
                return;
            }
        }
        let r = match rows {
            None => t.slow_step().map(|(r, s)| (Some(r), s)),
            Some(x) => t.slow_step_on(&x).map(|s| (None, s)),
        };
        match r {
            Ok((report, slow)) => {
                self.emit(Event::SlowStep(Arc::new(slow)));
                if let Some(r) = report {
                    self.stepped(r);
                }
            }
            Err(e) => self.failed(e),
        }
    }

    /// Accounts for a step taken: the step losses, the epoch's end.
    fn stepped(&mut self, r: StepReport) {
        let p = &mut self.pending;
        p.terms.add_scaled(&r.terms, 1.0);
        p.samples += r.batch_size;
        p.seconds += r.seconds;
        p.steps += 1;
        p.global_step += 1;
        let summary_base = (r.epoch, r.step, r.steps_per_epoch);
        let due = p
            .last_sent
            .is_none_or(|s| s.elapsed() >= STEP_EVENT_INTERVAL);
        if due || r.epoch_done.is_some() {
            self.flush_steps_with(summary_base);
        }
        if let Some(record) = r.epoch_done {
            match self.make_snapshot() {
                Ok(snapshot) => self.emit(Event::Epoch { record, snapshot }),
                Err(e) => self.emit(Event::Error(format!(
                    "cannot publish the epoch's model: {e}"
                ))),
            }
            if self.trainer.as_ref().is_some_and(|t| t.is_finished()) {
                self.publish_snapshot(SnapshotKind::Finished);
                self.end_run();
            }
        }
    }

    /// A step failed: diverged (the snapshot holds the restored weights) or an error.
    fn failed(&mut self, e: TrainError) {
        self.flush_steps();
        let message = e.to_string();
        if matches!(e, TrainError::Diverged { .. }) {
            match self.make_snapshot() {
                Ok(snapshot) => self.emit(Event::Diverged { message, snapshot }),
                Err(e2) => self.emit(Event::Error(format!("{message} ({e2})"))),
            }
        } else {
            self.emit(Event::Error(format!("training stopped: {message}")));
        }
        self.end_run();
    }

    fn flush_steps(&mut self) {
        if let Some(t) = &self.trainer {
            let spe = t.steps_per_epoch();
            let done = t.epochs_done();
            let p = &self.pending;
            let step = if p.global_step == 0 {
                0
            } else {
                ((p.global_step - 1) % spe) + 1
            };
            self.flush_steps_with((done + 1, step, spe));
        }
    }

    fn flush_steps_with(&mut self, (epoch, step, steps_per_epoch): (usize, usize, usize)) {
        let p = &mut self.pending;
        if p.steps == 0 {
            return;
        }
        let mut terms = std::mem::take(&mut p.terms);
        terms.scale(1.0 / p.steps as f64);
        let s = StepsSummary {
            epoch,
            step,
            steps_per_epoch,
            global_step: p.global_step,
            terms,
            samples_per_sec: p.samples as f64 / p.seconds.max(1e-9),
        };
        p.samples = 0;
        p.seconds = 0.0;
        p.steps = 0;
        p.last_sent = Some(Instant::now());
        self.emit(Event::Steps(s));
    }

    fn make_snapshot(&mut self) -> Result<Snapshot, SnapshotError> {
        let t = self.trainer.as_mut().ok_or(SnapshotError::NoRun)?;
        let model = Arc::new(
            t.snapshot()
                .map_err(|e| SnapshotError::Train(Box::new(e)))?,
        );
        let data = t.dataset().clone();
        Ok(snapshot_of(model, &data)?)
    }

    fn publish_snapshot(&mut self, kind: SnapshotKind) {
        match self.make_snapshot() {
            Ok(s) => self.emit(match kind {
                SnapshotKind::Plain => Event::Snapshot(s),
                SnapshotKind::Finished => Event::Finished(s),
            }),
            Err(e) => self.emit(Event::Error(format!("cannot take a snapshot: {e}"))),
        }
    }
}

enum SnapshotKind {
    Plain,
    Finished,
}

/// Why the worker could not take a snapshot of its run.
#[derive(Debug, thiserror::Error)]
enum SnapshotError {
    #[error("no run")]
    NoRun,
    #[error("{0}")]
    Train(Box<TrainError>),
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
}

/// A snapshot of `model` with the codes of `data`'s test images.
pub fn snapshot_of(model: Arc<TrainedModel>, data: &Dataset) -> candle_core::Result<Snapshot> {
    let codes = model.encode_labelled(&data.test.images, &data.test.labels)?;
    Ok(Snapshot {
        id: Identity::new().id(),
        epoch: model.meta.epochs_trained,
        model,
        test_codes: Arc::new(codes),
    })
}
