//! The Features panel: what the bottleneck learned. Four parts on one page, each with its
//! "What am I looking at?" note:
//!
//! - `weights`: the encoder's first layer and the decoder's last layer as 28×28 tiles in a
//!   diverging colour map (conv models: the first filters and their activation maps);
//! - `traversals`: one slider per code dimension (ordered by variance, or KL for a VAE) over
//!   its 1st–99th percentile, the decoded image, and a grid sweeping the leading dimensions;
//! - `stats`: per-dimension variance, mean |z| and active fraction, a histogram of code values,
//!   and the mean |z| of every model of the session side by side;
//! - `probe`: what the codes are worth: a linear probe and 5-NN on the model's codes, PCA's and
//!   raw pixels against the number of labels.
//!
//! Everything measured comes from `analysis::features` and `analysis::probe`, in background
//! jobs keyed on the ids of the model snapshot and the dataset (so the tiles follow training
//! epoch by epoch).

mod probe;
mod stats;
mod traversals;
mod weights;

use std::collections::HashMap;
use std::sync::Arc;

use crate::analysis::features::{self, CodeStats, WeightMatrix};
use crate::analysis::probe::ProbeResult;
use crate::app::jobs;
use crate::app::Shared;
use crate::id::Id;
use crate::model::TrainedModel;
use crate::tasks::{Keyed, Task};
use crate::train::worker::RunState;

pub use traversals::Base;
pub use weights::{diverging, weight_tiles};

/// What the panel's measurements depend on: the model snapshot and the dataset.
pub type Key = (Id, Id);

/// Everything measured for one (model, dataset).
pub struct Analysis {
    pub key: Key,
    pub model: Arc<TrainedModel>,
    pub stats: CodeStats,
    /// Histogram of all test code values: counts, low and high edge.
    pub hist: (Vec<u32>, f32, f32),
    pub encoder: WeightMatrix,
    pub decoder: Option<WeightMatrix>,
}

impl Analysis {
    /// Measures `model` on `data`'s test images.
    pub fn measure(
        model: Arc<TrainedModel>,
        data: &crate::data::Dataset,
    ) -> Result<Analysis, features::FeatureError> {
        let key = (model.id(), data.id());
        let (codes, logvar) = features::encode_with_logvar(&model, &data.test.images)?;
        let stats = features::code_stats(&codes, model.latent(), logvar.as_deref())?;
        let hist = features::value_histogram(&codes, 40);
        let encoder = features::encoder_weights(&model)?;
        let decoder = features::decoder_weights(&model)?;
        Ok(Analysis {
            key,
            model,
            stats,
            hist,
            encoder,
            decoder,
        })
    }
}

/// The probe sweep running in the background (cancelled when dropped).
type ProbeRun = Task<Result<Option<ProbeResult>, String>>;
/// Mean |z| and active units of session models, by (model, dataset).
type SessionStats = Vec<(Key, Option<(f64, usize)>)>;

pub struct FeaturesPanel {
    /// The last analysis measured (its `key` says for which model and dataset).
    pub analysis: Option<Arc<Analysis>>,
    analyses: Keyed<Key, Arc<Analysis>>,
    /// Mean |z| and active units of the session's models.
    pub session: HashMap<Key, Option<(f64, usize)>>,
    session_job: Option<Task<SessionStats>>,
    /// Probe results by (model, dataset).
    pub probes: HashMap<Key, ProbeResult>,
    probe_run: Option<(Key, ProbeRun)>,
    probe_failed: Option<(Key, String)>,
    pub weights: weights::WeightsView,
    pub traversal: traversals::TraversalView,
}

impl Default for FeaturesPanel {
    fn default() -> Self {
        Self::new()
    }
}

impl FeaturesPanel {
    pub fn new() -> Self {
        Self {
            analysis: None,
            analyses: Keyed::new(),
            session: HashMap::new(),
            session_job: None,
            probes: HashMap::new(),
            probe_run: None,
            probe_failed: None,
            weights: weights::WeightsView::default(),
            traversal: traversals::TraversalView::default(),
        }
    }

    /// Background work is under way.
    pub fn working(&self) -> bool {
        self.analyses.is_running() || self.session_job.is_some() || self.probe_run.is_some()
    }

    /// The probe result of the current analysis, if measured.
    pub fn probe_result(&self) -> Option<&ProbeResult> {
        self.probes.get(&self.analysis.as_ref()?.key)
    }

    /// Starts, polls and adopts the background work for the current model.
    fn update(&mut self, shared: &mut Shared) {
        if self.analyses.poll() {
            self.analysis = self.analyses.latest().map(|(_, a)| a.clone());
        }
        if let Some(r) = jobs::take_done(&mut self.session_job) {
            self.session.extend(r);
        }
        if let Some((key, run)) = &self.probe_run {
            if let Some(r) = run.poll() {
                let key = *key;
                self.probe_run = None;
                match r {
                    Ok(Some(p)) => {
                        self.probes.insert(key, p);
                    }
                    Ok(None) => {}
                    Err(e) => self.probe_failed = Some((key, e)),
                }
            }
        }
        let Some(model) = shared.model().cloned() else {
            return;
        };
        let key = (model.id(), shared.data.id());
        self.analyses.get_or_start(key, || {
            let data = shared.data.clone();
            jobs::spawn("features", &shared.egui, move || {
                Analysis::measure(model, &data)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
        });
        if self.session_job.is_none() {
            let data_id = shared.data.id();
            let missing: Vec<Arc<TrainedModel>> = shared
                .session_models
                .iter()
                .map(|m| m.model.clone())
                .filter(|m| !self.session.contains_key(&(m.id(), data_id)))
                .collect();
            if !missing.is_empty() {
                let data = shared.data.clone();
                self.session_job = Some(crate::app::jobs::spawn(
                    "features-session",
                    &shared.egui,
                    move || {
                        missing
                            .iter()
                            .map(|m| {
                                let s = features::model_stats(m, &data.test.images)
                                    .ok()
                                    .map(|s| (s.mean_abs_activation, s.active_units));
                                ((m.id(), data.id()), s)
                            })
                            .collect()
                    },
                ));
            }
        }
    }

    /// Starts the probe sweep for the current analysis unless it is measured or running.
    pub fn start_probe(&mut self, shared: &Shared) {
        let Some(a) = &self.analysis else {
            return;
        };
        let key = a.key;
        if self.probes.contains_key(&key) || self.probe_run.as_ref().is_some_and(|r| r.0 == key) {
            return;
        }
        if key.1 != shared.data.id() {
            return;
        }
        let model = a.model.clone();
        let data = shared.data.clone();
        let pca = shared.pca.clone();
        let ctx = shared.egui.clone();
        self.probe_failed = None;
        let run = Task::spawn_controlled(
            "probe",
            crate::analysis::probe::sweep_steps(data.train.len()),
            Some(crate::app::jobs::repaint(&ctx)),
            move |c| {
                crate::analysis::probe::sweep(&model, &data, pca, c).map_err(|e| e.to_string())
            },
        );
        self.probe_run = Some((key, run));
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.update(shared);
        widgets::repaint_while(ui, self.working());
        if shared.model().is_none() {
            ui.label("No model yet: train one in the Train panel, or pick a built-in model.");
            return;
        }
        // The probe starts by itself once the model is done training.
        let idle = shared.a().view.state == RunState::Idle;
        if idle && self.probe_failed.is_none() {
            self.start_probe(shared);
        }
        let Some(a) = self.analysis.clone() else {
            if let Some((_, e)) = self.analyses.latest_error() {
                ui.colored_label(ui.visuals().error_fg_color, format!("Cannot measure: {e}"));
            } else {
                widgets::busy_line(ui, "Measuring the codes...");
            }
            return;
        };
        egui::ScrollArea::vertical()
            .id_salt("features-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.strong(a.model.config().describe());
                    ui.label(format!(
                        "k = {}   mean |z| {:.3}   active units {} of {}",
                        a.stats.k(),
                        a.stats.mean_abs_activation,
                        a.stats.active_units,
                        a.stats.k()
                    ));
                    if self.analyses.is_running() {
                        ui.spinner();
                    }
                });
                let wide = ui.available_width() > 760.0;
                let digit = self.traversal.digit();
                if wide {
                    ui.columns(2, |cols| {
                        self.weights.ui(&mut cols[0], shared, &a, digit);
                        cols[0].separator();
                        self.probe_ui(&mut cols[0], shared, &a);
                        self.traversal.ui(&mut cols[1], shared, &a);
                        cols[1].separator();
                        stats::ui(&mut cols[1], shared, &a, &self.session);
                    });
                } else {
                    self.weights.ui(ui, shared, &a, digit);
                    ui.separator();
                    self.traversal.ui(ui, shared, &a);
                    ui.separator();
                    stats::ui(ui, shared, &a, &self.session);
                    ui.separator();
                    self.probe_ui(ui, shared, &a);
                }
            });
    }
}

use crate::app::widgets;
