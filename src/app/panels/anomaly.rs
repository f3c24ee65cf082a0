//! The Anomaly panel: "train on normal data; anomalies have high reconstruction error". The
//! user picks the normal classes and trains a small detector on them in the background, then
//! sees every test image scored by its reconstruction error: a histogram of normal against
//! anomalous errors, a threshold slider with precision and recall, the ROC curve with its AUC,
//! and a gallery of the worst-reconstructed images. Another dataset can be scored the same way
//! (out of distribution). The detector is the panel's own: the current model stays. Training
//! and scoring are `analysis::anomaly`, shared with `bottleneck anomaly`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use egui::{Color32, RichText, TextureHandle};
use egui_plot::{
    uniform_grid_spacer, Bar, BarChart, Legend, Line, LineStyle, Plot, PlotPoints, Points, VLine,
};

use crate::analysis::anomaly::{self, DetectorSettings, Scored};
use crate::analysis::metrics;
use crate::app::jobs::{self, DialogKind, Task};
use crate::app::panels::pca::denser_x_labels;
use crate::app::widgets;
use crate::app::{Level, Shared};
use crate::data::{Dataset, Split};
use crate::id::Id;
use crate::model::TrainedModel;

pub const NORMAL_COLOR: Color32 = Color32::from_rgb(0x56, 0xB4, 0xE9);
pub const ANOMALY_COLOR: Color32 = Color32::from_rgb(0xD5, 0x5E, 0x00);
/// Images in the gallery of highest errors.
pub const GALLERY: usize = 16;
const BINS: usize = 40;
/// The default threshold: this quantile of the normal images' errors (5 % false alarms).
pub const DEFAULT_QUANTILE: f32 = 0.95;

/// Which scores the plots show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The current dataset's test images; the classes left out are the anomalies.
    HeldOut,
    /// The normal test images against another dataset's test images.
    OtherDataset,
}

/// A trained detector and its scores on the held-out classes.
pub struct Detector {
    pub model: Arc<TrainedModel>,
    pub settings: DetectorSettings,
    pub seconds: f64,
    pub train_images: usize,
    pub held_out: Arc<Scored>,
}

/// Another dataset's test images, kept to score them again after retraining.
pub struct OtherData {
    pub name: String,
    pub class_names: Vec<String>,
    pub test: Arc<Split>,
}

type TrainOutcome = Result<Option<(TrainedModel, Scored, f64)>, String>;
/// Another dataset loaded (when it is new) and scored.
type OtherOutcome = Result<(Option<OtherData>, Scored), String>;

/// The detector training in the background (cancelled when dropped).
struct TrainRun {
    run: Task<TrainOutcome>,
    settings: DetectorSettings,
    train_images: usize,
    data: Id,
}

/// What the plots need from one set of scores, computed once per set.
struct Stats {
    key: u64,
    roc: Vec<[f64; 2]>,
    auc: Option<f32>,
    /// Histogram range and the share (%) of each group per bin.
    hist_hi: f32,
    hist_normal: Vec<f64>,
    hist_anomalous: Vec<f64>,
    min: f32,
    max: f32,
    top: Vec<usize>,
}

pub struct AnomalyPanel {
    pub settings: DetectorSettings,
    data: Id,
    classes: usize,
    run: Option<TrainRun>,
    pub detector: Option<Detector>,
    pub other: Option<OtherData>,
    pub other_scored: Option<Arc<Scored>>,
    other_dialog: Option<Task<Vec<PathBuf>>>,
    other_job: Option<Task<OtherOutcome>>,
    pub view: View,
    pub threshold: f32,
    threshold_key: Option<u64>,
    /// Increments whenever the detector or the other dataset's scores change.
    scores_gen: u64,
    stats: Option<Stats>,
    gallery: Vec<Option<TextureHandle>>,
    gallery_key: Option<u64>,
    pub error: Option<String>,
}

fn share(counts: &[u32], total: usize) -> Vec<f64> {
    counts
        .iter()
        .map(|&c| 100.0 * c as f64 / total.max(1) as f64)
        .collect()
}

fn stats_of(s: &Scored, key: u64) -> Stats {
    let finite: Vec<f32> = s.errors.iter().copied().filter(|v| v.is_finite()).collect();
    let min = finite.iter().copied().fold(f32::INFINITY, f32::min);
    let max = finite.iter().copied().fold(0.0f32, f32::max);
    // The histogram spans [0, 99.5th percentile]; larger errors are counted in the last bin.
    let mut sorted = finite.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let hi = sorted
        .get(((sorted.len() as f32 * 0.995) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(1.0)
        .max(1e-6);
    let group = |anomalous: bool| {
        let v: Vec<f32> = s
            .errors_of(anomalous)
            .into_iter()
            .map(|e| e.min(hi))
            .collect();
        share(&metrics::histogram(&v, BINS, 0.0, hi), v.len())
    };
    Stats {
        key,
        roc: metrics::roc_curve(&s.errors, &s.anomalous)
            .into_iter()
            .map(|(x, y)| [x as f64, y as f64])
            .collect(),
        auc: s.auc(),
        hist_hi: hi,
        hist_normal: group(false),
        hist_anomalous: group(true),
        min: if min.is_finite() { min } else { 0.0 },
        max,
        top: s.top(GALLERY),
    }
}

impl AnomalyPanel {
    pub fn new(shared: &Shared) -> Self {
        let classes = shared.data.num_classes();
        // The settings remembered from the last session, when they fit this dataset.
        let settings = shared
            .settings
            .anomaly
            .clone()
            .filter(|s| s.validate(classes).is_ok())
            .unwrap_or_else(|| DetectorSettings::all_but(7, classes));
        Self {
            settings,
            data: shared.data.id(),
            classes,
            run: None,
            detector: None,
            other: None,
            other_scored: None,
            other_dialog: None,
            other_job: None,
            view: View::HeldOut,
            threshold: 0.0,
            threshold_key: None,
            scores_gen: 0,
            stats: None,
            gallery: Vec::new(),
            gallery_key: None,
            error: None,
        }
    }

    /// True while the detector trains or another dataset is loaded and scored.
    pub fn busy(&self) -> bool {
        self.run.is_some() || self.other_job.is_some() || self.other_dialog.is_some()
    }

    /// The scores the plots show now.
    pub fn scored(&self) -> Option<Arc<Scored>> {
        match self.view {
            View::HeldOut => self.detector.as_ref().map(|d| d.held_out.clone()),
            View::OtherDataset => self.other_scored.clone(),
        }
    }

    /// Precision and recall at the current threshold, for the scores shown.
    pub fn precision_recall(&self) -> Option<(f32, f32)> {
        let s = self.scored()?;
        let (n, a) = s.counts();
        (n > 0 && a > 0).then(|| s.precision_recall(self.threshold))
    }

    /// The AUC shown, if any.
    pub fn auc(&self) -> Option<f32> {
        self.scored()?.auc()
    }

    /// True while a background job of this panel is still computing (headless renders wait).
    pub fn working(&self) -> bool {
        self.busy()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.update(shared);
        widgets::repaint_while(ui, self.busy());
        ui.heading("Anomaly detection");
        widgets::help_note(
            ui,
            "anomaly-help",
            "Train an autoencoder on the normal classes only: it learns to reconstruct them \
             well, and nothing else. Every test image then gets a score, its reconstruction \
             error (per-pixel MSE); images of the classes left out should score higher. The \
             histogram shows both groups' errors (each as a share of its group); every image \
             at or above the threshold is flagged as an anomaly. Precision: the share of \
             flagged images that really are anomalies. Recall: the share of anomalies flagged. \
             The ROC curve sweeps the threshold from high to low; its area (AUC) is the chance \
             that a random anomaly scores higher than a random normal image (0.5 is guessing, \
             1 is perfect). With another dataset, all its images are the anomalies: something \
             the detector never saw, like clothes shown to a digits model.",
        );
        egui::ScrollArea::vertical()
            .id_salt("anomaly-scroll")
            .show(ui, |ui| {
                self.controls(ui, shared);
                ui.separator();
                if self.detector.is_none() {
                    ui.label(
                        "Choose the normal classes and press \"Train on normal classes\": the \
                         scores appear here.",
                    );
                    return;
                }
                self.view_selector(ui, shared);
                self.results(ui, shared);
            });
    }

    /// Collects finished jobs; drops results that belong to another dataset.
    fn update(&mut self, shared: &mut Shared) {
        let data_key = shared.data.id();
        if data_key != self.data {
            self.data = data_key;
            self.scores_gen += 1;
            let classes = shared.data.num_classes();
            if classes != self.classes {
                self.classes = classes;
                self.settings.normal = DetectorSettings::all_but(7, classes).normal;
            }
            self.run = None;
            if self.detector.take().is_some() {
                shared.notify(
                    Level::Info,
                    "The dataset changed: train the anomaly detector again.",
                );
            }
            self.other_scored = None;
            self.view = View::HeldOut;
        }
        if let Some(run) = &self.run {
            if let Some(r) = run.run.poll() {
                let (settings, train_images, dk) =
                    (run.settings.clone(), run.train_images, run.data);
                self.run = None;
                match r {
                    Ok(Some((model, held_out, seconds))) if dk == data_key => {
                        let model = Arc::new(model);
                        let all_normal = held_out.counts().1 == 0;
                        self.detector = Some(Detector {
                            model: model.clone(),
                            settings: settings.clone(),
                            seconds,
                            train_images,
                            held_out: Arc::new(held_out),
                        });
                        self.error = None;
                        self.other_scored = None;
                        self.scores_gen += 1;
                        if let Some(o) = &self.other {
                            let (test, split) = (shared.data.test.clone(), o.test.clone());
                            let normal = settings.normal.clone();
                            self.other_job = Some(crate::app::jobs::spawn(
                                "anomaly-ood",
                                &shared.egui,
                                move || {
                                    anomaly::score_ood(&model, &test, &normal, &split)
                                        .map(|s| (None, s))
                                        .map_err(|e| e.to_string())
                                },
                            ));
                        }
                        self.view = if all_normal && self.other.is_some() {
                            View::OtherDataset
                        } else {
                            View::HeldOut
                        };
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.error = Some(format!("Training the detector failed: {e}"));
                    }
                }
            }
        }
        if let Some(paths) = jobs::take_done(&mut self.other_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.score_other(shared, p);
            }
        }
        if let Some(r) = jobs::take_done(&mut self.other_job) {
            match r {
                Ok((other, scored)) => {
                    if let Some(o) = other {
                        self.other = Some(o);
                    }
                    self.other_scored = Some(Arc::new(scored));
                    self.scores_gen += 1;
                    self.view = View::OtherDataset;
                    self.error = None;
                }
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Starts training a detector with the panel's settings.
    pub fn start(&mut self, shared: &mut Shared) {
        let settings = self.settings.clone();
        if let Err(e) = settings.validate(shared.data.num_classes()) {
            self.error = Some(format!("Cannot train: {e}."));
            return;
        }
        let data = shared.data.clone();
        let s = settings.clone();
        let ctx = shared.egui.clone();
        let train_images = data.train.filter_classes(&settings.normal).len();
        self.error = None;
        self.run = Some(TrainRun {
            run: Task::spawn_controlled(
                "anomaly-train",
                0,
                Some(crate::app::jobs::repaint(&ctx)),
                move |control| {
                    let started = Instant::now();
                    let model = anomaly::train_detector(&s, &data, |done, all| {
                        control.report(done, all);
                        !control.is_cancelled()
                    })
                    .map_err(|e| e.to_string())?;
                    let seconds = started.elapsed().as_secs_f64();
                    match model {
                        Some(m) => {
                            let scored = anomaly::score_held_out(&m, &data.test, &s.normal)
                                .map_err(|e| e.to_string())?;
                            Ok(Some((m, scored, seconds)))
                        }
                        None => Ok(None),
                    }
                },
            ),
            settings,
            train_images,
            data: shared.data.id(),
        });
    }

    /// Opens the folder dialog (or the tests' override) to score another dataset.
    pub fn open_other(&mut self, shared: &mut Shared) {
        if let Some(p) = shared.dialog_override.clone() {
            self.score_other(shared, p);
        } else {
            self.other_dialog = Some(jobs::file_dialog(DialogKind::OpenDataset, &shared.egui, ""));
        }
    }

    fn score_other(&mut self, shared: &mut Shared, dir: PathBuf) {
        let Some(d) = &self.detector else {
            return;
        };
        let (model, normal) = (d.model.clone(), d.settings.normal.clone());
        let test = shared.data.test.clone();
        self.other_job = Some(crate::app::jobs::spawn(
            "anomaly-ood",
            &shared.egui,
            move || {
                let other = Dataset::load(&crate::data::DatasetSource::Dir(dir.clone()))
                    .map_err(|e| format!("Cannot open dataset {}: {e}", dir.display()))?;
                let o = OtherData {
                    name: other.name,
                    class_names: other.class_names,
                    test: Arc::new(other.test),
                };
                if o.test.is_empty() {
                    return Err(format!("{} has no test images to score", dir.display()));
                }
                let scored = anomaly::score_ood(&model, &test, &normal, &o.test)
                    .map_err(|e| e.to_string())?;
                Ok((Some(o), scored))
            },
        ));
    }

    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let training = self.run.is_some();
        ui.horizontal_wrapped(|ui| {
            ui.strong("Normal classes:");
            for c in 0..self.classes.min(256) {
                let c = c as u8;
                let mut on = self.settings.normal.contains(&c);
                let name = shared.data.class_name(c);
                if ui
                    .add_enabled(!training, egui::Checkbox::new(&mut on, name))
                    .changed()
                {
                    if on {
                        self.settings.normal.push(c);
                        self.settings.normal.sort_unstable();
                    } else {
                        self.settings.normal.retain(|&x| x != c);
                    }
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(!training, |ui| {
                let l = ui.label("Code size k");
                ui.add(egui::DragValue::new(&mut self.settings.latent).range(1..=256))
                    .labelled_by(l.id)
                    .on_hover_text("Size of the detector's code: smaller codes generalise less.");
                let l = ui.label("Epochs");
                ui.add(egui::DragValue::new(&mut self.settings.epochs).range(1..=500))
                    .labelled_by(l.id)
                    .on_hover_text("Passes over the normal training images.");
                let l = ui.label("Seed");
                ui.add(egui::DragValue::new(&mut self.settings.seed))
                    .labelled_by(l.id)
                    .on_hover_text("Seed of the initial weights and the batch order.");
            });
            let valid = self.settings.validate(self.classes);
            let button = ui
                .add_enabled(
                    !training && valid.is_ok(),
                    egui::Button::new("Train on normal classes"),
                )
                .on_hover_text(
                    "Train a dense autoencoder on the training images of the normal classes only \
                     (in the background: the current model stays).",
                );
            if let Err(e) = &valid {
                button.clone().on_disabled_hover_text(e.to_string());
            }
            if button.clicked() {
                self.start(shared);
            }
            if training && ui.button("Cancel").clicked() {
                self.run = None;
            }
        });
        let held: Vec<String> = (0..self.classes.min(256))
            .map(|c| c as u8)
            .filter(|c| !self.settings.normal.contains(c))
            .map(|c| shared.data.class_name(c))
            .collect();
        if let Some(run) = &self.run {
            let (done, total) = run.run.progress();
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!(
                    "Training {} · {} epochs on {} images · step {done}/{total}",
                    run.settings.train_config().describe(),
                    run.settings.epochs,
                    widgets::thousands(run.train_images as f64)
                )),
            );
        } else {
            let cfg = self.settings.train_config();
            ui.weak(format!(
                "Detector: {} · {} epochs · batch {} · lr {} · held out: {}",
                cfg.describe(),
                cfg.epochs,
                cfg.batch,
                cfg.lr,
                if held.is_empty() {
                    "none (score another dataset)".to_string()
                } else {
                    held.join(", ")
                }
            ));
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    fn view_selector(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let Some(d) = &self.detector else {
            return;
        };
        ui.label(format!(
            "Detector trained on {} images of classes {} in {:.1} s ({}).",
            widgets::thousands(d.train_images as f64),
            d.settings
                .normal
                .iter()
                .map(|&c| shared.data.class_name(c))
                .collect::<Vec<_>>()
                .join(", "),
            d.seconds,
            d.settings.train_config().describe()
        ));
        let held_out_label = {
            let held: Vec<String> = (0..shared.data.num_classes().min(256))
                .map(|c| c as u8)
                .filter(|c| !d.settings.normal.contains(c))
                .map(|c| shared.data.class_name(c))
                .collect();
            if held.is_empty() {
                "Held-out classes: none".to_string()
            } else {
                format!("Held-out classes: {}", held.join(", "))
            }
        };
        ui.horizontal_wrapped(|ui| {
            ui.label("Score:");
            if ui
                .selectable_label(self.view == View::HeldOut, held_out_label)
                .clicked()
            {
                self.view = View::HeldOut;
            }
            if let (Some(o), Some(_)) = (&self.other, &self.other_scored) {
                if ui
                    .selectable_label(
                        self.view == View::OtherDataset,
                        format!("Other dataset: {}", o.name),
                    )
                    .clicked()
                {
                    self.view = View::OtherDataset;
                }
            }
            let busy = self.other_job.is_some() || self.other_dialog.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Open dataset to score…"))
                .on_hover_text(
                    "Score another dataset's test images (a folder of IDX files, e.g. \
                     Fashion-MNIST) as anomalies against this dataset's normal test images.",
                )
                .clicked()
            {
                self.open_other(shared);
            }
            if busy {
                ui.spinner();
            }
        });
    }

    fn results(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let Some(s) = self.scored() else {
            return;
        };
        let key = 2 * self.scores_gen + u64::from(self.view == View::OtherDataset);
        if self.stats.as_ref().map(|st| st.key) != Some(key) {
            self.stats = Some(stats_of(&s, key));
        }
        if self.threshold_key != Some(key) {
            self.threshold = s.normal_quantile(DEFAULT_QUANTILE).unwrap_or(0.0);
            self.threshold_key = Some(key);
        }
        let Some(st) = self.stats.take() else {
            return;
        };
        let (n_normal, n_anom) = s.counts();
        match st.auc {
            Some(auc) => ui.label(
                RichText::new(format!(
                    "ROC AUC {auc:.3}   ({} normal vs {} anomalous test images)",
                    widgets::thousands(n_normal as f64),
                    widgets::thousands(n_anom as f64)
                ))
                .heading(),
            ),
            None => ui.label(
                "Every class is normal: nothing is held out. Open another dataset to score it.",
            ),
        };
        if st.auc.is_none() {
            self.stats = Some(st);
            return;
        }

        // Threshold.
        let (p, r) = s.precision_recall(self.threshold);
        let flagged = s.errors.iter().filter(|&&e| e >= self.threshold).count();
        let fp = s
            .errors
            .iter()
            .zip(&s.anomalous)
            .filter(|(&e, &a)| e >= self.threshold && !a)
            .count();
        let fpr = fp as f64 / n_normal.max(1) as f64;
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().slider_width = 280.0;
            let lo = st.min.max(1e-6);
            let hi = st.max.max(lo * 1.0001);
            ui.add(
                egui::Slider::new(&mut self.threshold, lo..=hi)
                    .logarithmic(true)
                    .text("threshold")
                    .custom_formatter(|v, _| format!("{v:.4}")),
            )
            .on_hover_text("Images whose reconstruction error is at or above this are flagged.");
            if ui
                .button("5 % false alarms")
                .on_hover_text(
                    "Put the threshold at the 95th percentile of the normal images' errors.",
                )
                .clicked()
            {
                self.threshold = s
                    .normal_quantile(DEFAULT_QUANTILE)
                    .unwrap_or(self.threshold);
            }
        });
        ui.label(
            RichText::new(format!(
                "Precision {:.1} %   Recall {:.1} %",
                100.0 * p,
                100.0 * r
            ))
            .strong(),
        );
        ui.columns(2, |cols| {
            self.histogram(&mut cols[0], &st);
            let ui = &mut cols[1];
            ui.strong(match st.auc {
                Some(a) => format!("ROC curve (AUC {a:.3})"),
                None => "ROC curve".into(),
            });
            ui.horizontal_top(|ui| {
                self.roc(ui, &st, fpr, r as f64);
                ui.vertical(|ui| {
                    ui.label(RichText::new("At this threshold").strong());
                    ui.label(format!(
                        "{} images flagged",
                        widgets::thousands(flagged as f64)
                    ));
                    ui.label(
                        RichText::new(format!(
                            "{} of {} anomalies caught",
                            widgets::thousands((r * n_anom as f32).round() as f64),
                            widgets::thousands(n_anom as f64)
                        ))
                        .color(ANOMALY_COLOR),
                    );
                    ui.label(
                        RichText::new(format!(
                            "{} of {} normal images flagged ({:.1} % false alarms)",
                            widgets::thousands(fp as f64),
                            widgets::thousands(n_normal as f64),
                            100.0 * fpr
                        ))
                        .color(NORMAL_COLOR),
                    );
                    ui.label(format!("Precision {:.1} %", 100.0 * p));
                    ui.label(format!("Recall {:.1} %", 100.0 * r));
                });
            });
        });
        ui.add_space(6.0);
        self.gallery_ui(ui, shared, &s, &st);
        self.stats = Some(st);
    }

    fn histogram(&self, ui: &mut egui::Ui, st: &Stats) {
        ui.strong("Reconstruction error: normal against anomalous");
        let w = st.hist_hi as f64 / BINS as f64;
        let bars = |h: &[f64], c: Color32| -> Vec<Bar> {
            h.iter()
                .enumerate()
                .map(|(i, &v)| {
                    Bar::new((i as f64 + 0.5) * w, v)
                        .width(w)
                        .fill(c.gamma_multiply(0.4))
                        .stroke(egui::Stroke::new(1.0, c))
                })
                .collect()
        };
        let normal = bars(&st.hist_normal, NORMAL_COLOR);
        let anomalous = bars(&st.hist_anomalous, ANOMALY_COLOR);
        let t = self.threshold as f64;
        let shown = denser_x_labels(Plot::new("anomaly-hist"))
            .height(250.0)
            .legend(Legend::default())
            .x_axis_label(format!(
                "reconstruction error (MSE per pixel; the last bar holds {:.3} and above)",
                st.hist_hi
            ))
            .y_axis_label("% of the group")
            .include_y(0.0)
            .allow_scroll(false)
            .show(ui, |p| {
                p.bar_chart(BarChart::new("normal", normal).color(NORMAL_COLOR));
                p.bar_chart(BarChart::new("anomalous", anomalous).color(ANOMALY_COLOR));
                p.vline(
                    VLine::new("threshold", t)
                        .color(Color32::WHITE)
                        .style(LineStyle::dashed_dense()),
                );
            });
        widgets::name_widget(&shown.response, "Error histogram");
    }

    fn roc(&self, ui: &mut egui::Ui, st: &Stats, fpr: f64, tpr: f64) {
        let roc = st.roc.clone();
        let quarters = || uniform_grid_spacer(|_| [0.05, 0.25, 1.0]);
        let fmt = |m: egui_plot::GridMark, _: &std::ops::RangeInclusive<f64>| {
            if (0.0..=1.0).contains(&m.value) {
                format!("{}", (m.value * 100.0).round() / 100.0)
            } else {
                String::new()
            }
        };
        let shown = denser_x_labels(Plot::new("anomaly-roc"))
            .width(250.0)
            .height(250.0)
            .x_grid_spacer(quarters())
            .y_grid_spacer(quarters())
            .x_axis_formatter(fmt)
            .y_axis_formatter(fmt)
            .x_axis_label("false positive rate")
            .y_axis_label("true positive rate")
            .default_x_bounds(-0.02, 1.02)
            .default_y_bounds(-0.02, 1.02)
            .allow_scroll(false)
            .show(ui, |p| {
                p.line(
                    Line::new("chance", PlotPoints::from(vec![[0.0, 0.0], [1.0, 1.0]]))
                        .color(Color32::GRAY)
                        .style(LineStyle::dashed_loose()),
                );
                p.line(
                    Line::new("ROC", PlotPoints::from(roc))
                        .color(ANOMALY_COLOR)
                        .width(2.0),
                );
                p.points(
                    Points::new("threshold", PlotPoints::from(vec![[fpr, tpr]]))
                        .color(Color32::WHITE)
                        .radius(5.0)
                        .filled(true),
                );
            });
        widgets::name_widget(&shown.response, "ROC curve");
    }

    fn gallery_ui(&mut self, ui: &mut egui::Ui, shared: &Shared, s: &Scored, st: &Stats) {
        ui.strong("Highest reconstruction errors");
        if self.gallery_key != Some(st.key) {
            self.gallery.resize_with(GALLERY, || None);
            for (slot, &i) in self.gallery.iter_mut().zip(&st.top) {
                let img = widgets::digit_image(s.split.image(i));
                widgets::set_texture(slot, ui.ctx(), &format!("anomaly-gallery-{i}"), img);
            }
            self.gallery_key = Some(st.key);
        }
        let other_names = self.other.as_ref().map(|o| o.class_names.clone());
        let per_row = ((ui.available_width() / 70.0).floor() as usize).max(1);
        egui::Grid::new("anomaly-gallery")
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                for (n, (slot, &i)) in self.gallery.iter().zip(&st.top).enumerate() {
                    if n > 0 && n % per_row == 0 {
                        ui.end_row();
                    }
                    let Some(tex) = slot else {
                        continue;
                    };
                    let anomalous = s.anomalous[i];
                    let label = s.split.labels[i];
                    let name = match (&self.view, anomalous, &other_names) {
                        (View::OtherDataset, true, Some(names)) => names
                            .get(label as usize)
                            .cloned()
                            .unwrap_or_else(|| label.to_string()),
                        _ => shared.data.class_name(label),
                    };
                    ui.vertical(|ui| {
                        ui.set_width(64.0);
                        widgets::show_texture(ui, tex, 56.0).on_hover_text(format!(
                            "Test image {i}: {name}, {}, error {:.4}",
                            if anomalous { "anomalous" } else { "normal" },
                            s.errors[i]
                        ));
                        ui.label(
                            RichText::new(format!("{name} {:.3}", s.errors[i]))
                                .small()
                                .color(if anomalous {
                                    ANOMALY_COLOR
                                } else {
                                    NORMAL_COLOR
                                }),
                        );
                    });
                }
            });
        ui.label(
            RichText::new(
                "Orange captions: anomalies. Blue: normal images the detector reconstructs badly.",
            )
            .small()
            .weak(),
        );
    }
}
