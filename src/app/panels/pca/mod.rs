//! The PCA vs AE panel: PCA and the current autoencoder side by side at the same k. It owns
//! the reconstruction grid (originals, both reconstructions with their errors, per-pixel error
//! heatmaps), the error-against-k plot (PCA's curve for k = 1…100, every autoencoder of the
//! session as a point) with the cumulative explained variance, both 2-D maps coloured by class,
//! the representation-quality table (5-NN accuracy, fit and training time), and the
//! "Train a linear autoencoder" experiment that shows a linear AE landing on PCA's error.
//! Everything slow (encoding, kNN, fitting, training) runs in background jobs keyed on the
//! ids (`crate::id`) of the dataset and the PCA.
//!
//! - `grid`: the reconstruction grid and the representation-quality table;
//! - `plots`: the error-against-k and explained-variance plots, the two maps, and the plot
//!   helpers the Anomaly panel shares.

mod grid;
mod plots;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, TextureHandle};
use egui_plot::PlotPoint;

use crate::analysis::compare::{self, linear_config, train_linear, CompareError, Comparison};
use crate::analysis::Pca;
use crate::app::jobs;
use crate::app::widgets;
use crate::app::{SessionModel, Shared};
use crate::data::Dataset;
use crate::id::Id;
use crate::model::TrainedModel;
use crate::tasks::{Keyed, Task};

/// Test digits in the reconstruction grid (one per class first).
pub const GRID: usize = 10;
/// Largest k on the error-against-k curve (the app's PCA keeps 100 components).
pub const KMAX: usize = 100;
pub use crate::analysis::compare::{test_mse, KNN};

use plots::by_class;
pub use plots::{class_legend, denser_x_labels, log10_grid, log10_label, nice_grid};
/// The largest tile of the reconstruction grid (smaller when the column is narrow).
const TILE: f32 = 38.0;
/// From this width on, the grid sits beside the table and the plots in three columns.
const WIDE: f32 = 900.0;
/// Shortest time between two analyses while a model trains.
const ANALYSIS_INTERVAL_WHILE_TRAINING: Duration = Duration::from_secs(3);
const ERROR_PLOT_HEIGHT: f32 = 175.0;
const VARIANCE_PLOT_HEIGHT: f32 = 110.0;
const MAP_HEIGHT: f32 = 318.0;
/// Colours of the two methods.
pub const PCA_COLOR: Color32 = Color32::from_rgb(0xE6, 0x9F, 0x00);
pub const AE_COLOR: Color32 = Color32::from_rgb(0x56, 0xB4, 0xE9);
const LINEAR_COLOR: Color32 = Color32::from_rgb(0xCC, 0x79, 0xA7);

/// What a trained linear AE measured.
#[derive(Clone)]
pub struct LinearResult {
    pub k: usize,
    pub test_mse: f64,
    pub pca_test_mse: f64,
    pub seconds: f64,
    pub model: Arc<TrainedModel>,
    data: Id,
}

impl LinearResult {
    /// Relative gap to PCA: (AE − PCA) / PCA.
    pub fn gap(&self) -> f64 {
        (self.test_mse - self.pca_test_mse) / self.pca_test_mse
    }
}

/// How the autoencoder's 2-D map was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// k = 2: the code itself.
    Code,
    /// k = 1: the code on x, 0 on y.
    OneD,
    /// k > 2: the code's first two principal components.
    Projected,
}

/// Everything measured for one (model, dataset, PCA): the shared measurement (its fields read
/// through `Deref`; its PCA is the app's, or one fitted when k exceeds its components) and the
/// panel's maps.
pub struct Analysis {
    pub measured: Comparison,
    /// Training time of the model (sum of its epochs' step times), if it has a history.
    pub ae_train_seconds: Option<f64>,
    /// Test points of each map, one list per class.
    pub pca_map: Vec<Vec<PlotPoint>>,
    pub ae_map: Vec<Vec<PlotPoint>>,
    pub map_kind: MapKind,
    pub model: Arc<TrainedModel>,
}

impl std::ops::Deref for Analysis {
    type Target = Comparison;

    fn deref(&self) -> &Comparison {
        &self.measured
    }
}

/// PCA's test error for k = 1…KMAX and its cumulative explained variance.
pub struct Curve {
    pub mse: Vec<f32>,
    pub cumulative: Vec<f32>,
}

/// What an analysis depends on: the snapshot of the model, the dataset and the PCA.
type Key = (Id, Id, Id);
/// What PCA's curve depends on.
type CurveKey = (Id, Id);
/// A trained linear AE with its test MSE and training seconds (`None`: cancelled).
type LinearOutcome = Result<Option<(TrainedModel, f64, f64)>, CompareError>;
/// Models' test MSE on a dataset (`None` when a model cannot run on it).
type SessionMse = Vec<((Id, Id), Option<f64>)>;

/// The linear autoencoder training in the background (cancelled when dropped).
struct LinearRun {
    run: Task<LinearOutcome>,
    k: usize,
    pca_test_mse: f64,
    data: Id,
}

/// One tile of the grid: a texture and the error under it.
struct Tile {
    tex: Option<TextureHandle>,
    error: Option<f32>,
}

pub struct PcaPanel {
    /// The analysis shown: the current snapshot's, or while a training run sends new ones,
    /// the last one measured (a few seconds old at most).
    pub analysis: Option<Arc<Analysis>>,
    analyses: Keyed<Key, Arc<Analysis>>,
    analysis_started: Option<Instant>,
    pub analysis_error: Option<String>,
    /// PCA's curve for the current PCA and dataset.
    pub curve: Option<Arc<Curve>>,
    curves: Keyed<CurveKey, Arc<Curve>>,
    curve_error: Option<String>,
    /// Test MSE of session models on a dataset, by model and dataset.
    session_mse: HashMap<(Id, Id), Option<f64>>,
    session_job: Option<Task<SessionMse>>,
    linear_run: Option<LinearRun>,
    pub linear_result: Option<LinearResult>,
    pub linear_error: Option<String>,
    grid: Vec<Tile>,
    /// The analyses' generation the grid was built for (rebuilt when a new one arrives).
    grid_gen: Option<u64>,
    /// Errors shown under the grid's reconstructions: (PCA, AE) per digit, for tests.
    pub grid_errors: Vec<(f32, f32)>,
    heat_max: f32,
}

impl Default for PcaPanel {
    fn default() -> Self {
        Self::new()
    }
}

impl PcaPanel {
    pub fn new() -> Self {
        Self {
            analysis: None,
            analyses: Keyed::new(),
            analysis_started: None,
            analysis_error: None,
            curve: None,
            curves: Keyed::new(),
            curve_error: None,
            session_mse: HashMap::new(),
            session_job: None,
            linear_run: None,
            linear_result: None,
            linear_error: None,
            grid: Vec::new(),
            grid_gen: None,
            grid_errors: Vec::new(),
            heat_max: 0.0,
        }
    }

    /// The session models with a measured test MSE on the current dataset: (k, MSE).
    pub fn measured(&self, shared: &Shared) -> Vec<(usize, f64)> {
        let dk = shared.data.id();
        shared
            .session_models
            .iter()
            .filter_map(|m| match self.session_mse.get(&(m.model.id(), dk)) {
                Some(Some(v)) => Some((m.model.latent(), *v)),
                _ => None,
            })
            .collect()
    }

    /// True while something is being computed or trained.
    pub fn busy(&self) -> bool {
        self.analyses.is_running()
            || self.curves.is_running()
            || self.session_job.is_some()
            || self.linear_run.is_some()
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.busy()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.update(shared);
        widgets::repaint_while(ui, self.busy());
        let k = shared.model().map(|m| m.latent());
        ui.horizontal_wrapped(|ui| {
            match (k, shared.model()) {
                (Some(k), Some(_)) => ui.heading(format!("PCA vs autoencoder at k = {k}")),
                _ => ui.heading("PCA vs autoencoder"),
            };
            if let Some(m) = shared.model() {
                ui.weak(m.config().describe());
            }
        });
        widgets::help_note(
            ui,
            "pca-help",
            "PCA is the best linear way to squeeze an image into k numbers: it keeps the k \
             directions along which the training images vary most. An autoencoder learns its own \
             k-number code, and with non-linear layers it can beat PCA. Top left: test digits, \
             their reconstructions by each method (with the per-pixel MSE under them) and where \
             each method errs (bright = large squared error, same scale for both). The curve \
             shows PCA's test error for every k, with each autoencoder of this session as a \
             point at its own k; the second plot shows how much of the variance the first k \
             components explain. The maps place every test image by its first two PCA \
             components and by the autoencoder's code (or that code's first two principal \
             components when k > 2). A linear autoencoder (no activation) can only learn a \
             linear subspace: trained well, it finds PCA's subspace and lands on PCA's error.",
        );
        if shared.pca.is_none() {
            widgets::busy_line(ui, "Fitting PCA on the training images…");
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("pca-scroll")
            .show(ui, |ui| {
                if shared.model().is_none() {
                    ui.label(
                        "No model yet: train one in the Train tab (or load one) to compare it \
                         with PCA. PCA's own curves are shown below.",
                    );
                    ui.add_space(6.0);
                } else if ui.available_width() >= WIDE {
                    ui.columns(2, |cols| {
                        self.grid_ui(&mut cols[0], shared);
                        self.quality_ui(&mut cols[1], shared);
                    });
                    ui.add_space(6.0);
                } else {
                    // Narrow (a projector): the grid over the table.
                    self.grid_ui(ui, shared);
                    ui.add_space(6.0);
                    self.quality_ui(ui, shared);
                    ui.add_space(6.0);
                }
                ui.horizontal_wrapped(|ui| {
                    ui.strong("Test images by class:");
                    class_legend(ui, &shared.data.class_names, &shared.data.present_classes());
                });
                if ui.available_width() >= WIDE {
                    ui.columns(3, |cols| {
                        self.error_plot(&mut cols[0], shared);
                        self.variance_plot(&mut cols[0], shared);
                        self.map_ui(&mut cols[1], shared, false);
                        self.map_ui(&mut cols[2], shared, true);
                    });
                } else {
                    // The two plots side by side, then the two maps.
                    ui.columns(2, |cols| {
                        self.error_plot(&mut cols[0], shared);
                        self.variance_plot(&mut cols[1], shared);
                    });
                    ui.columns(2, |cols| {
                        self.map_ui(&mut cols[0], shared, false);
                        self.map_ui(&mut cols[1], shared, true);
                    });
                }
            });
    }

    /// Starts and collects background work.
    fn update(&mut self, shared: &mut Shared) {
        let data_key = shared.data.id();
        // PCA's curve.
        if let Some(pca) = shared.pca.clone() {
            let key = (pca.id(), data_key);
            self.curves.get_or_start(key, || {
                let data = shared.data.clone();
                jobs::spawn("pca-curve", &shared.egui, move || {
                    Ok(Arc::new(Curve {
                        mse: pca.mse_curve(&data.test.images, KMAX),
                        cumulative: pca
                            .explained_variance_ratio()
                            .iter()
                            .scan(0.0f32, |acc, &v| {
                                *acc += v;
                                Some(*acc)
                            })
                            .take(KMAX)
                            .collect(),
                    }))
                })
            });
            self.curve = self.curves.get(&key).cloned();
            self.curve_error = self.curves.error(&key).cloned();
        }

        // The current model's analysis.
        if self.analyses.poll() {
            match self.analyses.last() {
                Some((_, Ok(a))) => {
                    self.analysis = Some(a.clone());
                    self.analysis_error = None;
                }
                Some((_, Err(e))) => {
                    self.analysis = None;
                    self.analysis_error = Some(format!("Cannot compare with PCA: {e}"));
                }
                None => {}
            }
        }
        if let (Some(snap), Some(pca)) = (shared.a().snapshot.clone(), shared.pca.clone()) {
            let key = (snap.id, data_key, pca.id());
            // While a run trains, a new snapshot arrives every epoch: measure at most every
            // few seconds so the analysis does not take the training's cores.
            let training = shared.a().view.state == crate::train::worker::RunState::Running;
            let recent = self
                .analysis_started
                .is_some_and(|t| t.elapsed() < ANALYSIS_INTERVAL_WHILE_TRAINING);
            if !(self.analyses.is_settled(&key)
                || self.analyses.is_running()
                || (training && recent && self.analysis.is_some()))
            {
                self.analysis_started = Some(Instant::now());
                let data = shared.data.clone();
                let fit_seconds = shared.pca_fit_seconds;
                self.analyses.get_or_start(key, || {
                    jobs::spawn("pca-vs-ae", &shared.egui, move || {
                        analyse(&snap.model, &snap.test_codes, &data, pca, fit_seconds)
                            .map(Arc::new)
                    })
                });
            }
        } else if shared.a().snapshot.is_none() {
            self.analysis = None;
            self.analyses.clear();
        }

        // Session models' test MSE on this dataset.
        if let Some(r) = jobs::take_done(&mut self.session_job) {
            self.session_mse.extend(r);
            let listed: Vec<Id> = shared.session_models.iter().map(|m| m.model.id()).collect();
            self.session_mse.retain(|k, _| listed.contains(&k.0));
        }
        if self.session_job.is_none() {
            let missing: Vec<Arc<TrainedModel>> = shared
                .session_models
                .iter()
                .filter(|m| !self.session_mse.contains_key(&(m.model.id(), data_key)))
                .map(|m| m.model.clone())
                .collect();
            if !missing.is_empty() {
                let data = shared.data.clone();
                let dk = data_key;
                self.session_job = Some(crate::app::jobs::spawn(
                    "session-mse",
                    &shared.egui,
                    move || {
                        missing
                            .iter()
                            .map(|m| ((m.id(), dk), test_mse(m, &data).ok()))
                            .collect()
                    },
                ));
            }
        }

        // The linear autoencoder.
        if let Some(run) = &self.linear_run {
            if let Some(r) = run.run.poll() {
                let (k, pca_mse, dk) = (run.k, run.pca_test_mse, run.data);
                self.linear_run = None;
                match r {
                    Ok(Some((model, mse, seconds))) => {
                        let model = Arc::new(model);
                        let res = LinearResult {
                            k,
                            test_mse: mse,
                            pca_test_mse: pca_mse,
                            seconds,
                            model: model.clone(),
                            data: dk,
                        };
                        self.session_mse.insert((model.id(), dk), Some(mse));
                        let n = shared.session_count + 1;
                        shared.push_session_model(SessionModel {
                            label: format!("#{n} {} (PCA vs AE panel)", model.config().describe()),
                            model,
                            test_mse: Some(mse),
                        });
                        self.linear_result = Some(res);
                        self.linear_error = None;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.linear_error = Some(format!("The linear autoencoder failed: {e}"));
                    }
                }
            }
        }
        if self
            .linear_result
            .as_ref()
            .is_some_and(|r| r.data != data_key)
        {
            self.linear_result = None;
        }
    }

    /// Starts training a linear autoencoder with the current model's k.
    pub fn start_linear(&mut self, shared: &mut Shared) {
        let Some(a) = self.analysis.clone() else {
            return;
        };
        let k = a.k;
        let data = shared.data.clone();
        let cfg = linear_config(k);
        let total = data.train.len().div_ceil(cfg.batch) * cfg.epochs;
        let data_tag = data.id();
        let ctx = shared.egui.clone();
        self.linear_error = None;
        self.linear_run = Some(LinearRun {
            run: Task::spawn_controlled(
                "linear-ae",
                total,
                Some(crate::app::jobs::repaint(&ctx)),
                move |control| train_linear(k, data, control),
            ),
            k,
            pca_test_mse: a.pca_test_mse,
            data: data_tag,
        });
    }
}

/// Measures `model` against PCA on `data` (the slow part of the panel, run in a job): the
/// shared measurement ([`compare::compare`]) and the two maps.
pub fn analyse(
    model: &Arc<TrainedModel>,
    snapshot_codes: &[f32],
    data: &Dataset,
    pca: Arc<Pca>,
    pca_fit_seconds: Option<f64>,
) -> Result<Analysis, String> {
    let (measured, codes) = compare::compare(
        model,
        data,
        Some((pca, pca_fit_seconds)),
        Some(snapshot_codes),
    )
    .map_err(|e| e.to_string())?;
    let (k, pca, test) = (measured.k, measured.pca.clone(), &data.test);
    let (train_codes, test_codes) = (codes.train, codes.test);
    let pca_xy: Vec<[f64; 2]> = pca
        .project(&test.images, 2)
        .chunks_exact(2.min(pca.n_components()).max(1))
        .map(|c| [c[0] as f64, c.get(1).copied().unwrap_or(0.0) as f64])
        .collect();
    let (ae_xy, map_kind): (Vec<[f64; 2]>, MapKind) = match k {
        1 => (
            test_codes.iter().map(|&z| [z as f64, 0.0]).collect(),
            MapKind::OneD,
        ),
        2 => (
            test_codes
                .chunks_exact(2)
                .map(|c| [c[0] as f64, c[1] as f64])
                .collect(),
            MapKind::Code,
        ),
        _ => {
            let p = Pca::fit(&train_codes, k, 2).map_err(|e| e.to_string())?;
            (
                p.project(&test_codes, 2)
                    .chunks_exact(2)
                    .map(|c| [c[0] as f64, c[1] as f64])
                    .collect(),
                MapKind::Projected,
            )
        }
    };
    let history = &model.meta.history;
    let ae_train_seconds = (!history.is_empty()).then(|| history.iter().map(|r| r.seconds).sum());
    Ok(Analysis {
        measured,
        ae_train_seconds,
        pca_map: by_class(&pca_xy, &test.labels),
        ae_map: by_class(&ae_xy, &test.labels),
        map_kind,
        model: model.clone(),
    })
}
