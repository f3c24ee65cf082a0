//! The PCA vs AE panel: PCA and the current autoencoder side by side at the same k. It owns
//! the reconstruction grid (originals, both reconstructions with their errors, per-pixel error
//! heatmaps), the error-against-k plot (PCA's curve for k = 1…100, every autoencoder of the
//! session as a point) with the cumulative explained variance, both 2-D maps coloured by class,
//! the representation-quality table (5-NN accuracy, fit and training time), and the
//! "Train a linear autoencoder" experiment that shows a linear AE landing on PCA's error.
//! Everything slow (encoding, kNN, fitting, training) runs in background jobs keyed on the
//! model version and the ids (`crate::id`) of the dataset and the PCA.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, RichText, TextureHandle};
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, PlotPoints, Points, VLine};

use crate::analysis::compare::{self, Comparison};
use crate::analysis::{metrics, Pca};
use crate::app::jobs::Job;
use crate::app::widgets;
use crate::app::{SessionModel, Shared};
use crate::data::Dataset;
use crate::id::Id;
use crate::model::{TrainConfig, TrainedModel, Variant};
use crate::train::background::{BackgroundRun, RunControl};
use crate::train::Trainer;

/// Test digits in the reconstruction grid (one per class first).
pub const GRID: usize = 10;
/// Largest k on the error-against-k curve (the app's PCA keeps 100 components).
pub const KMAX: usize = 100;
pub use crate::analysis::compare::{test_mse, KNN};
const TILE: f32 = 38.0;
/// Shortest time between two analyses while a model trains.
const ANALYSIS_INTERVAL_WHILE_TRAINING: Duration = Duration::from_secs(3);
const ERROR_PLOT_HEIGHT: f32 = 175.0;
const VARIANCE_PLOT_HEIGHT: f32 = 110.0;
const MAP_HEIGHT: f32 = 318.0;
/// Colours of the two methods.
pub const PCA_COLOR: Color32 = Color32::from_rgb(0xE6, 0x9F, 0x00);
pub const AE_COLOR: Color32 = Color32::from_rgb(0x56, 0xB4, 0xE9);
const LINEAR_COLOR: Color32 = Color32::from_rgb(0xCC, 0x79, 0xA7);

/// The linear autoencoder trained by the panel's button: the Linear preset (no hidden layer, no
/// activation, linear output, Adam at 3e-3) with enough epochs to reach PCA's error (20 up to
/// k = 32, 40 above; about a second on the embedded digits).
pub fn linear_config(k: usize) -> TrainConfig {
    let mut c = TrainConfig::preset(Variant::Linear, k);
    c.epochs = if k <= 32 { 20 } else { 40 };
    c
}

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

/// Trains [`linear_config`]`(k)` on `data`, counting steps done in `control`, stopping (with
/// `Ok(None)`) when it is cancelled. Returns the model, its test MSE and the training time.
pub fn train_linear(k: usize, data: Arc<Dataset>, control: &RunControl) -> LinearOutcome {
    let started = Instant::now();
    let mut t = Trainer::new(linear_config(k), data.clone()).map_err(|e| e.to_string())?;
    while !t.is_finished() {
        if control.is_cancelled() {
            return Ok(None);
        }
        t.step().map_err(|e| e.to_string())?;
        control.step();
    }
    let seconds = started.elapsed().as_secs_f64();
    let model = t.snapshot().map_err(|e| e.to_string())?;
    let mse = test_mse(&model, &data).map_err(|e| e.to_string())?;
    Ok(Some((model, mse, seconds)))
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
type LinearOutcome = Result<Option<(TrainedModel, f64, f64)>, String>;
/// Models' test MSE on a dataset (`None` when a model cannot run on it).
type SessionMse = Vec<((Id, Id), Option<f64>)>;

/// The linear autoencoder training in the background (cancelled when dropped).
struct LinearRun {
    run: BackgroundRun<LinearOutcome>,
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
    pub analysis: Option<Arc<Analysis>>,
    analysis_key: Option<Key>,
    analysis_job: Option<(Key, Job<Result<Analysis, String>>)>,
    analysis_started: Option<Instant>,
    pub analysis_error: Option<String>,
    pub curve: Option<Arc<Curve>>,
    curve_key: Option<CurveKey>,
    curve_job: Option<(CurveKey, Job<Curve>)>,
    /// Test MSE of session models on a dataset, by model and dataset.
    session_mse: HashMap<(Id, Id), Option<f64>>,
    session_job: Option<Job<SessionMse>>,
    linear_run: Option<LinearRun>,
    pub linear_result: Option<LinearResult>,
    pub linear_error: Option<String>,
    grid: Vec<Tile>,
    /// Increments with every new analysis (the grid is rebuilt when it changes).
    analysis_gen: u64,
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
            analysis_key: None,
            analysis_job: None,
            analysis_started: None,
            analysis_error: None,
            curve: None,
            curve_key: None,
            curve_job: None,
            session_mse: HashMap::new(),
            session_job: None,
            linear_run: None,
            linear_result: None,
            linear_error: None,
            grid: Vec::new(),
            analysis_gen: 0,
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
        self.analysis_job.is_some()
            || self.curve_job.is_some()
            || self.session_job.is_some()
            || self.linear_run.is_some()
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.busy()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.update(shared);
        if self.busy() {
            ui.ctx().request_repaint_after(Duration::from_millis(250));
        }
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
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Fitting PCA on the training images…");
            });
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
                } else {
                    ui.columns(2, |cols| {
                        self.grid_ui(&mut cols[0], shared);
                        self.quality_ui(&mut cols[1], shared);
                    });
                    ui.add_space(6.0);
                }
                ui.horizontal_wrapped(|ui| {
                    ui.strong("Test images by class:");
                    class_legend(ui, &shared.data.class_names);
                });
                ui.columns(3, |cols| {
                    self.error_plot(&mut cols[0], shared);
                    self.variance_plot(&mut cols[0], shared);
                    self.map_ui(&mut cols[1], shared, false);
                    self.map_ui(&mut cols[2], shared, true);
                });
            });
    }

    /// Starts and collects background work.
    fn update(&mut self, shared: &mut Shared) {
        let data_key = shared.data.id();
        // PCA's curve.
        if let Some(pca) = shared.pca.clone() {
            let key = (pca.id(), data_key);
            if let Some((k, job)) = &self.curve_job {
                if let Some(c) = job.poll() {
                    if *k == key {
                        self.curve = Some(Arc::new(c));
                        self.curve_key = Some(key);
                    }
                    self.curve_job = None;
                }
            }
            if self.curve_key.as_ref() != Some(&key) && self.curve_job.is_none() {
                let data = shared.data.clone();
                self.curve_job = Some((
                    key,
                    Job::spawn("pca-curve", Some(shared.egui.clone()), move || Curve {
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
                    }),
                ));
            }
        }

        // The current model's analysis.
        if let Some((key, job)) = &self.analysis_job {
            if let Some(r) = job.poll() {
                let key = *key;
                self.analysis_job = None;
                self.analysis_gen += 1;
                match r {
                    Ok(a) => {
                        self.analysis = Some(Arc::new(a));
                        self.analysis_error = None;
                    }
                    Err(e) => {
                        self.analysis = None;
                        self.analysis_error = Some(format!("Cannot compare with PCA: {e}"));
                    }
                }
                self.analysis_key = Some(key);
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
            if self.analysis_key.as_ref() != Some(&key)
                && self.analysis_job.is_none()
                && !(training && recent && self.analysis.is_some())
            {
                self.analysis_started = Some(Instant::now());
                let data = shared.data.clone();
                let fit_seconds = shared.pca_fit_seconds;
                self.analysis_job = Some((
                    key,
                    Job::spawn("pca-vs-ae", Some(shared.egui.clone()), move || {
                        analyse(&snap.model, &snap.test_codes, &data, pca, fit_seconds)
                    }),
                ));
            }
        } else if shared.a().snapshot.is_none() {
            self.analysis = None;
            self.analysis_key = None;
        }

        // Session models' test MSE on this dataset.
        if let Some(r) = crate::app::jobs::take_done(&mut self.session_job) {
            self.session_mse.extend(r);
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
                self.session_job = Some(Job::spawn(
                    "session-mse",
                    Some(shared.egui.clone()),
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
                        let n = shared.session_models.len() + 1;
                        shared.session_models.push(SessionModel {
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
            run: BackgroundRun::spawn(
                "linear-ae",
                total,
                move || ctx.request_repaint(),
                move |control| train_linear(k, data, control),
            ),
            k,
            pca_test_mse: a.pca_test_mse,
            data: data_tag,
        });
    }

    fn grid_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Test digits and their reconstructions");
        let Some(a) = self.analysis.clone() else {
            self.waiting(ui);
            return;
        };
        if self.grid_gen != Some(self.analysis_gen) {
            self.build_grid(ui.ctx(), &a, &shared.data);
            self.grid_gen = Some(self.analysis_gen);
        }
        let rows = ["Original", "PCA", "AE", "PCA error", "AE error"];
        egui::Grid::new("pca-grid")
            .spacing([3.0, 2.0])
            .show(ui, |ui| {
                for (r, name) in rows.iter().enumerate() {
                    let color = match r {
                        1 | 3 => PCA_COLOR,
                        2 | 4 => AE_COLOR,
                        _ => ui.visuals().text_color(),
                    };
                    ui.label(RichText::new(*name).color(color).small());
                    for c in 0..GRID {
                        let Some(tile) = self.grid.get(r * GRID + c) else {
                            continue;
                        };
                        ui.vertical(|ui| {
                            match &tile.tex {
                                Some(t) => widgets::show_texture(ui, t, TILE),
                                None => widgets::empty_square(ui, TILE),
                            };
                            if let Some(e) = tile.error {
                                ui.label(RichText::new(format!("{e:.3}")).size(9.0).weak());
                            }
                        });
                    }
                    ui.end_row();
                }
            });
        ui.label(
            RichText::new(format!(
                "Numbers: per-pixel MSE of each digit. Heatmaps: squared error per pixel, \
                 black 0 to yellow {:.2} or more (same scale for both).",
                self.heat_max
            ))
            .small()
            .weak(),
        );
    }

    fn build_grid(&mut self, ctx: &egui::Context, a: &Analysis, data: &Dataset) {
        let idx = crate::app::panels::train::pick_grid(&data.test.labels, GRID);
        let n = idx.len();
        let originals = data.test.subset(&idx).images;
        let px = crate::PIXELS;
        let pca_recon = a.pca.reconstruct(&a.pca.project(&originals, a.k), a.k);
        let ae_recon = a.model.reconstruct(&originals).unwrap_or_default();
        let sq = |r: &[f32]| -> Vec<f32> {
            if r.len() != originals.len() {
                return vec![0.0; originals.len()];
            }
            originals
                .iter()
                .zip(r)
                .map(|(x, y)| (x - y) * (x - y))
                .collect()
        };
        let (pca_sq, ae_sq) = (sq(&pca_recon), sq(&ae_recon));
        // The heatmaps' top colour: the 99th percentile of both methods' squared errors, so a
        // handful of extreme pixels do not leave the rest black.
        let mut all: Vec<f32> = pca_sq.iter().chain(&ae_sq).copied().collect();
        all.sort_by(|a, b| a.total_cmp(b));
        let heat_max = all
            .get(all.len() * 99 / 100)
            .copied()
            .unwrap_or(0.0)
            .max(1e-3);
        self.heat_max = heat_max;
        let pca_err = metrics::row_mse(&originals, &pca_recon, px);
        let ae_err = metrics::row_mse(&originals, &ae_recon, px);
        self.grid_errors = (0..n)
            .map(|i| {
                (
                    pca_err.get(i).copied().unwrap_or(f32::NAN),
                    ae_err.get(i).copied().unwrap_or(f32::NAN),
                )
            })
            .collect();
        self.grid.resize_with(5 * GRID, || Tile {
            tex: None,
            error: None,
        });
        for c in 0..GRID {
            for r in 0..5 {
                let tile = &mut self.grid[r * GRID + c];
                if c >= n {
                    tile.tex = None;
                    tile.error = None;
                    continue;
                }
                let s = c * px..(c + 1) * px;
                let img = match r {
                    0 => widgets::digit_image(&originals[s]),
                    1 if pca_recon.len() >= s.end => widgets::digit_image(&pca_recon[s]),
                    2 if ae_recon.len() >= s.end => widgets::digit_image(&ae_recon[s]),
                    3 => widgets::heatmap_image(&pca_sq[s], crate::SIDE, heat_max),
                    4 => widgets::heatmap_image(&ae_sq[s], crate::SIDE, heat_max),
                    _ => widgets::digit_image(&[0.0; crate::PIXELS]),
                };
                tile.error = match r {
                    1 => pca_err.get(c).copied(),
                    2 => ae_err.get(c).copied(),
                    _ => None,
                };
                widgets::set_texture(&mut tile.tex, ctx, &format!("pca-grid-{r}-{c}"), img);
            }
        }
    }

    fn waiting(&self, ui: &mut egui::Ui) {
        if let Some(e) = &self.analysis_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        } else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Encoding the images and measuring both methods…");
            });
        }
    }

    fn quality_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Representation quality");
        let Some(a) = self.analysis.clone() else {
            self.waiting(ui);
            return;
        };
        let pct = |v: f32| format!("{:.1} %", 100.0 * v);
        let secs = |v: Option<f64>| match v {
            Some(s) if s < 1.0 => format!("{:.0} ms", s * 1e3),
            Some(s) => format!("{s:.1} s"),
            None => "–".into(),
        };
        egui::Grid::new("pca-quality")
            .num_columns(3)
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.label(format!("k = {}", a.k));
                ui.label(RichText::new("PCA").color(PCA_COLOR).strong());
                ui.label(RichText::new("Autoencoder").color(AE_COLOR).strong());
                ui.end_row();
                ui.label("Test MSE");
                ui.label(format!("{:.4}", a.pca_test_mse));
                ui.label(format!("{:.4}", a.ae_test_mse));
                ui.end_row();
                ui.label("Test PSNR");
                ui.label(format!("{:.2} dB", metrics::psnr(a.pca_test_mse as f32)));
                ui.label(format!("{:.2} dB", metrics::psnr(a.ae_test_mse as f32)));
                ui.end_row();
                ui.label(format!("{KNN}-NN accuracy")).on_hover_text(
                    "Classify each test image by a majority vote of its 5 nearest training \
                         images in code space: how well the code keeps the classes apart.",
                );
                ui.label(pct(a.pca_knn));
                ui.label(pct(a.ae_knn));
                ui.end_row();
                ui.label("Fit / training time");
                ui.label(secs(a.pca_fit_seconds))
                    .on_hover_text("Fitting PCA once (covariance and eigendecomposition).");
                ui.label(secs(a.ae_train_seconds))
                    .on_hover_text("Sum of the model's training epochs (steps only).");
                ui.end_row();
            });
        let better = if a.ae_test_mse < a.pca_test_mse {
            format!(
                "The autoencoder reconstructs {:.0} % better than PCA at this k.",
                100.0 * (1.0 - a.ae_test_mse / a.pca_test_mse)
            )
        } else {
            format!(
                "PCA reconstructs {:.0} % better than this autoencoder at this k.",
                100.0 * (1.0 - a.pca_test_mse / a.ae_test_mse)
            )
        };
        ui.label(better);
        ui.add_space(8.0);
        ui.separator();
        ui.strong("The textbook result: a linear autoencoder finds PCA");
        let running = self.linear_run.is_some();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !running,
                    egui::Button::new(format!("Train a linear autoencoder (k = {})", a.k)),
                )
                .on_hover_text(
                    "784 inputs, k linear units, 784 linear outputs: no activation anywhere. \
                     Trained in the background; the current model stays.",
                )
                .clicked()
            {
                self.start_linear(shared);
            }
            if running && ui.button("Cancel").clicked() {
                self.linear_run = None;
            }
        });
        if let Some(run) = &self.linear_run {
            let (done, total) = run.run.progress();
            let cfg = linear_config(run.k);
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!(
                    "{} · {} epochs · lr {} · step {done}/{total}",
                    cfg.describe(),
                    cfg.epochs,
                    cfg.lr,
                )),
            );
        }
        if let Some(e) = &self.linear_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(r) = &self.linear_result {
            let gap = r.gap();
            let verdict = if gap.abs() <= 0.1 {
                "it lands on PCA's error"
            } else if gap > 0.0 {
                "still above PCA: train longer to close the gap"
            } else {
                "below PCA on the test split"
            };
            ui.label(
                RichText::new(format!(
                    "Linear AE, k = {}: test MSE {:.4} vs PCA {:.4} ({:+.1} %), {verdict}. \
                     Trained in {:.1} s.",
                    r.k,
                    r.test_mse,
                    r.pca_test_mse,
                    100.0 * gap,
                    r.seconds
                ))
                .color(LINEAR_COLOR),
            );
        }
    }

    fn error_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Test MSE against k");
        let Some(curve) = self.curve.clone() else {
            ui.spinner();
            return;
        };
        let data_key = shared.data.id();
        let current = shared.model().map(|m| m.id());
        let mut ae_pts = Vec::new();
        let mut linear_pts = Vec::new();
        let mut current_pt = None;
        for m in &shared.session_models {
            let tag = m.model.id();
            let Some(Some(mse)) = self.session_mse.get(&(tag, data_key)) else {
                continue;
            };
            let p = [log_k(m.model.latent()), *mse];
            if m.model.config().variant == Variant::Linear {
                linear_pts.push(p);
            } else {
                ae_pts.push(p);
            }
            if current.as_ref() == Some(&tag) {
                current_pt = Some(p);
            }
        }
        if current_pt.is_none() {
            if let Some(a) = &self.analysis {
                current_pt = Some([log_k(a.k), a.ae_test_mse]);
            }
        }
        let k = shared.model().map(|m| m.latent());
        let pca_line: Vec<[f64; 2]> = curve
            .mse
            .iter()
            .enumerate()
            .map(|(i, &v)| [log_k(i + 1), v as f64])
            .collect();
        k_axis(Plot::new("pca-error-k"), "test MSE")
            .height(ERROR_PLOT_HEIGHT)
            .legend(Legend::default().text_style(egui::TextStyle::Small))
            .x_axis_label("k (code size, log scale)")
            .y_axis_label("test MSE")
            .include_y(0.0)
            .show(ui, |p| {
                p.line(
                    Line::new("PCA", PlotPoints::from(pca_line))
                        .color(PCA_COLOR)
                        .width(2.0),
                );
                if !ae_pts.is_empty() {
                    p.points(
                        Points::new("autoencoders (this session)", PlotPoints::from(ae_pts))
                            .color(AE_COLOR)
                            .radius(4.0)
                            .filled(true),
                    );
                }
                if !linear_pts.is_empty() {
                    p.points(
                        Points::new("linear autoencoders", PlotPoints::from(linear_pts))
                            .color(LINEAR_COLOR)
                            .shape(MarkerShape::Diamond)
                            .radius(6.0)
                            .filled(true),
                    );
                }
                if let Some(c) = current_pt {
                    p.points(
                        Points::new("current model", PlotPoints::from(vec![c]))
                            .color(Color32::WHITE)
                            .shape(MarkerShape::Circle)
                            .radius(7.0)
                            .filled(false),
                    );
                }
                if let Some(k) = k {
                    p.vline(
                        VLine::new("", log_k(k))
                            .color(Color32::GRAY)
                            .style(LineStyle::dashed_loose()),
                    );
                }
            });
    }

    fn variance_plot(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let k = shared.model().map(|m| m.latent());
        let Some(curve) = self.curve.clone() else {
            ui.strong("Explained variance");
            ui.spinner();
            return;
        };
        match k.and_then(|k| curve.cumulative.get(k.min(curve.cumulative.len()) - 1)) {
            Some(v) => ui.strong(format!(
                "Explained variance: {:.1} % at k = {}",
                100.0 * v,
                k.unwrap_or(0)
            )),
            None => ui.strong("Explained variance (cumulative)"),
        };
        let pts: Vec<[f64; 2]> = curve
            .cumulative
            .iter()
            .enumerate()
            .map(|(i, &v)| [log_k(i + 1), 100.0 * v as f64])
            .collect();
        k_axis(Plot::new("pca-variance"), "% of variance")
            .height(VARIANCE_PLOT_HEIGHT)
            .x_axis_label("number of components (log scale)")
            .y_axis_label("% of variance")
            .include_y(0.0)
            .include_y(100.0)
            .show(ui, |p| {
                p.line(
                    Line::new("explained variance", PlotPoints::from(pts))
                        .color(PCA_COLOR)
                        .width(2.0),
                );
                if let Some(k) = k {
                    p.vline(
                        VLine::new("", log_k(k))
                            .color(Color32::GRAY)
                            .style(LineStyle::dashed_loose()),
                    );
                }
            });
    }

    /// One 2-D map: PCA's first two components, or the autoencoder's code (`ae`).
    fn map_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, ae: bool) {
        let a = self.analysis.clone();
        let title = if !ae {
            "PCA: first two components".to_string()
        } else {
            match a.as_ref().map(|a| a.map_kind) {
                Some(MapKind::Code) => "Autoencoder: its 2-D code".to_string(),
                Some(MapKind::OneD) => "Autoencoder: its 1-D code (on x)".to_string(),
                Some(MapKind::Projected) => format!(
                    "Autoencoder: {}-D code, first 2 PCs",
                    a.as_ref().map_or(0, |a| a.k)
                ),
                None => "Autoencoder".to_string(),
            }
        };
        ui.label(
            RichText::new(title)
                .strong()
                .color(if ae { AE_COLOR } else { PCA_COLOR }),
        );
        let Some(a) = a else {
            ui.label(if ae {
                "Train or load a model to see its code."
            } else {
                "Appears with a model."
            });
            return;
        };
        let names = &shared.data.class_names;
        let map = if ae { &a.ae_map } else { &a.pca_map };
        denser_x_labels(Plot::new(if ae { "ae-map" } else { "pca-map" }))
            .y_grid_spacer(egui_plot::uniform_grid_spacer(nice_grid))
            .height(MAP_HEIGHT)
            .allow_scroll(false)
            .show(ui, |p| {
                for (c, pts) in map.iter().enumerate() {
                    if pts.is_empty() {
                        continue;
                    }
                    let name = names.get(c).cloned().unwrap_or_else(|| c.to_string());
                    p.points(
                        Points::new(name, PlotPoints::Borrowed(pts))
                            .color(widgets::class_color(c as u8))
                            .radius(1.5)
                            .filled(true),
                    );
                }
            });
    }
}

/// Grid steps of 1, 2 or 5 times a power of ten, about five labelled steps across the view
/// (egui_plot's default only uses powers of ten, which leaves a narrow plot with one label).
pub fn nice_grid(input: egui_plot::GridInput) -> [f64; 3] {
    let span = (input.bounds.1 - input.bounds.0).abs().max(1e-12);
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let step = p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    [step / 2.0, step, step * 10.0]
}

/// A plot whose x-axis labels may sit closer than egui_plot's default (60 points apart), on
/// [`nice_grid`] steps, so a narrow plot still gets a few numbers.
pub fn denser_x_labels(plot: Plot<'_>) -> Plot<'_> {
    plot.custom_x_axes(vec![
        egui_plot::AxisHints::new_x().label_spacing(34.0..=50.0)
    ])
    .x_grid_spacer(egui_plot::uniform_grid_spacer(nice_grid))
}

/// Where k sits on the (logarithmic) k axes.
fn log_k(k: usize) -> f64 {
    (k.max(1) as f64).log10()
}

/// A plot whose x axis is log10(k): marks at 1, 2, 5, 10, 20, 50, 100 (fainter lines between),
/// labels and hover text in k.
fn k_axis<'a>(plot: Plot<'a>, y_name: &'a str) -> Plot<'a> {
    plot.include_x(0.0)
        .include_x(log_k(KMAX))
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_grid_spacer(|input| {
            let (lo, hi) = input.bounds;
            [1usize, 10, 100]
                .into_iter()
                .flat_map(|decade| (1..=9).map(move |m| (decade * m, m)))
                .filter(|&(k, _)| (lo..=hi).contains(&log_k(k)))
                .map(|(k, m)| egui_plot::GridMark {
                    value: log_k(k),
                    step_size: if matches!(m, 1 | 2 | 5) { 1.0 } else { 0.1 },
                })
                .collect()
        })
        .x_axis_formatter(|mark, _| {
            if mark.step_size >= 1.0 {
                format!("{:.0}", 10f64.powf(mark.value))
            } else {
                String::new()
            }
        })
        .label_formatter(move |pos| {
            let (name, p) = match pos {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, *position),
                egui_plot::HoverPosition::Elsewhere { position } => ("", *position),
            };
            let k = 10f64.powf(p.x);
            let head = if name.is_empty() {
                String::new()
            } else {
                format!("{name}\n")
            };
            Some(format!("{head}k = {k:.0}\n{y_name} {:.4}", p.y))
        })
}

/// Splits 2-D points by class.
fn by_class(xy: &[[f64; 2]], labels: &[u8]) -> Vec<Vec<PlotPoint>> {
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut out = vec![Vec::new(); classes];
    for (p, &l) in xy.iter().zip(labels) {
        out[l as usize].push(PlotPoint::new(p[0], p[1]));
    }
    out
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

/// One coloured swatch and name per class, laid out by the caller's (horizontal) layout.
pub fn class_legend(ui: &mut egui::Ui, names: &[String]) {
    for (c, name) in names.iter().enumerate() {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter()
            .rect_filled(rect, 2.0, widgets::class_color(c as u8));
        ui.label(name);
        ui.add_space(6.0);
    }
}
