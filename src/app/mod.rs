//! The desktop app (eframe/egui). [`App`] owns the window's frame (tabs, status bar, notices,
//! shortcuts), the panels (`panels/`, one struct per tab, each with
//! `ui(&mut self, ui, &mut Shared)`) and [`Shared`] (`state.rs`), the state they all read: the
//! dataset, one or two training [`Run`]s (each a worker thread and what it reported), PCA,
//! settings and notices. Worker events are drained once per frame; slow work runs in [`jobs`].
//! Drawing shared by panels lives in `widgets/`.

pub mod chrome;
pub mod classroom;
pub mod dataset_ui;
pub mod exchange;
pub mod export;
pub mod jobs;
pub mod lessons;
pub mod panels;
pub mod settings;
pub mod sidebar;
pub mod snapshot;
pub mod state;
pub mod widgets;

use panels::anomaly::AnomalyPanel;
use panels::compression::CompressionPanel;
use panels::denoise::DenoisePanel;
use panels::features::FeaturesPanel;
use panels::interpolate::{self, InterpolatePanel};
use panels::latent::LatentPanel;
use panels::pca::PcaPanel;
use panels::step::StepPanel;
use panels::train::TrainPanel;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, DatasetSource};
use settings::Settings;
pub use state::{Level, Notice, Run, RunId, RunView, SessionModel, Shared};

/// How often the app hands free heap memory back to the kernel.
const TRIM_EVERY: Duration = Duration::from_secs(1);

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
    Compression,
    Features,
    Step,
    Generate,
}

impl Tab {
    pub const ALL: [Tab; 10] = [
        Tab::Train,
        Tab::Latent,
        Tab::Interpolate,
        Tab::Denoise,
        Tab::Pca,
        Tab::Anomaly,
        Tab::Compression,
        Tab::Features,
        Tab::Step,
        Tab::Generate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Latent => "Latent space",
            Tab::Interpolate => "Interpolate",
            Tab::Denoise => "Denoise",
            Tab::Pca => "PCA vs AE",
            Tab::Anomaly => "Anomaly",
            Tab::Compression => "Compression",
            Tab::Features => "Features",
            Tab::Step => "One step",
            Tab::Generate => "Generate",
        }
    }

    /// A shorter name for a narrow top bar.
    pub fn short_label(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Latent => "Latent",
            Tab::Interpolate => "Interp.",
            Tab::Denoise => "Denoise",
            Tab::Pca => "PCA",
            Tab::Anomaly => "Anomaly",
            Tab::Compression => "Compress",
            Tab::Features => "Features",
            Tab::Step => "Step",
            Tab::Generate => "Generate",
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
            Tab::Compression => "compression",
            Tab::Features => "features",
            Tab::Step => "step",
            Tab::Generate => "generate",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Self::ALL
            .into_iter()
            .find(|t| t.cli_name().eq_ignore_ascii_case(s.trim()))
    }
}

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// `--data`: overrides the dataset remembered in the settings.
    pub data: Option<DatasetSource>,
    /// `--preprocess`/`--invert`: override the import options remembered in the settings.
    pub import: Option<crate::data::ImportOptions>,
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
    pub train: TrainPanel,
    pub latent: LatentPanel,
    pub interpolate: InterpolatePanel,
    pub denoise: DenoisePanel,
    pub pca: PcaPanel,
    pub anomaly: AnomalyPanel,
    pub compression: CompressionPanel,
    pub features: FeaturesPanel,
    pub step: StepPanel,
    pub generate: panels::generate::GeneratePanel,
    pub frames: FrameStats,
    /// Hide run-dependent text (frame time, thread count) so renders are reproducible.
    pub deterministic: bool,
    pub lessons: lessons::Lessons,
    pub help_open: bool,
    pub exporter: export::Exporter,
    /// The import dialog, while a PyTorch, Keras or ONNX file is being opened.
    pub import: Option<exchange::ImportDialog>,
    /// The export dialog, while it is open (*Models → Export model…*).
    pub export_model: Option<exchange::ExportDialog>,
    /// Bottleneck's own file picker, while it is open.
    pub picker: Option<widgets::file_picker::FilePicker>,
    /// In presenter mode the settings panel is collapsed unless this is set.
    pub presenter_sidebar: bool,
    /// How the top bar fitted the window last frame.
    pub bar_layout: chrome::BarLayout,
    /// Whether the top bar has room for the title beside every button.
    bar_title: bool,
    /// The look (presenter, dark) last applied to the context.
    look: Option<(bool, bool)>,
    /// Startup timing has been reported (BOTTLENECK_TIMING).
    timed: bool,
    last_settings_save: Instant,
    /// When free heap memory was last handed back ([`crate::release_free_memory`]).
    last_trim: Instant,
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
        let import = opts.import.unwrap_or(settings.dataset_import);
        let data = match crate::data::import::load(&spec, &import, None) {
            Ok(imported) => {
                let summary = imported.summary();
                if !summary.is_empty() && spec != DatasetSource::Embedded {
                    notices.push((Level::Info, summary));
                }
                imported.dataset
            }
            Err(e) => {
                notices.push((
                    Level::Error,
                    format!("Cannot open dataset {spec}: {e}. Using the embedded MNIST digits."),
                ));
                Dataset::embedded().expect("the embedded dataset is valid")
            }
        };
        let mut tab = settings.tab;
        let mut shared = Shared::new(ctx, data, settings, opts.settings_path)
            .expect("cannot start the training thread");
        shared.settings.dataset = shared.data.source.clone();
        shared.settings.dataset_import = import;
        for (l, n) in notices {
            shared.notify(l, n);
        }
        shared.refit_pca();
        if opts.load_bundled && shared.data.source == crate::data::DatasetSource::Embedded {
            load_bundled(&mut shared);
            if fresh {
                // A first launch opens on the trained 2-D latent map.
                tab = Tab::Latent;
            }
        }
        let mut app = App {
            train: TrainPanel::new(&shared),
            sidebar: sidebar::Sidebar::default(),
            latent: LatentPanel::new(),
            interpolate: InterpolatePanel::new(),
            denoise: DenoisePanel::new(),
            pca: PcaPanel::new(),
            anomaly: AnomalyPanel::new(&shared),
            compression: CompressionPanel::new(),
            features: FeaturesPanel::new(),
            step: StepPanel::new(),
            generate: panels::generate::GeneratePanel::new(),
            shared,
            tab,
            frames: FrameStats::default(),
            deterministic: false,
            lessons: lessons::Lessons::default(),
            help_open: false,
            import: None,
            export_model: None,
            exporter: export::Exporter::default(),
            presenter_sidebar: false,
            picker: None,
            look: None,
            bar_layout: chrome::BarLayout::default(),
            bar_title: true,
            timed: false,
            last_settings_save: Instant::now(),
            last_trim: Instant::now(),
        };
        app.reopen_lesson();
        app
    }

    /// The last lesson reopens at its step (its card open if it was), with the files opened
    /// before listed in the Lessons menu.
    fn reopen_lesson(&mut self) {
        self.lessons.opened = self.shared.settings.opened_lessons.clone();
        let Some(place) = self.shared.settings.lesson.clone() else {
            return;
        };
        match place.load() {
            Ok(l) => {
                self.lessons.show(l, place.step);
                self.lessons.open = place.open;
                // The form, data and tab were remembered; only the hidden controls come back.
                self.lessons.apply_pending = false;
                if let Ok(step) = self.lessons.step() {
                    if place.open {
                        self.shared.hidden_controls = step.hide.clone();
                    }
                }
            }
            Err(e) => self.shared.notify(
                Level::Warning,
                format!("The last lesson cannot be reopened: {e}"),
            ),
        }
    }

    /// Opens a lesson file (`--lesson`, the Lessons menu, a file dropped on the window) at its
    /// first step and sets that step up.
    pub fn open_lesson(&mut self, path: &std::path::Path) {
        self.lessons.open_file(path, &mut self.shared);
        lessons::apply::apply_if_pending(self);
    }

    /// True once the model, PCA and every panel's background work are done (headless renders
    /// wait for this).
    pub fn is_settled(&self) -> bool {
        self.shared
            .shown_runs()
            .iter()
            .all(|r| r.snapshot.is_some())
            && self.shared.pca.is_some()
            && !self.latent.working()
            && !self.interpolate.working()
            && !self.denoise.working()
            && !self.pca.working()
            && !self.anomaly.working()
            && !self.compression.working()
            && !self.features.working()
            && !self.generate.working()
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
            Tab::Latent => {
                self.latent.manifold_on = self.shared.comparison().is_none()
                    && self.latent.view.method == panels::latent::Method::Pca
            }
            Tab::Denoise => self.denoise.demo(&self.shared),
            // The traversal starts from a test digit; the probe starts by itself.
            Tab::Features => self.features.traversal.base = panels::features::Base::Digit(0),
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
                Shortcut::Lessons => {
                    self.lessons.open = !self.lessons.open;
                    self.lessons_shown_changed();
                }
                Shortcut::Close => {
                    self.help_open = false;
                    if self.lessons.open {
                        self.lessons.open = false;
                        self.lessons_shown_changed();
                    }
                }
            }
        }
    }

    /// The whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let started = Instant::now();
        self.shared.poll();
        self.shared.dropped_files = ui.ctx().input(|i| i.raw.dropped_files.clone());
        // A folder, CSV or NumPy file dropped on the window opens as a dataset.
        if let Some(p) = self.shared.take_dropped(dataset_ui::is_dataset_path) {
            self.sidebar.dataset.open_path(&self.shared, p);
        }
        // A lesson file dropped on the window opens at its first step.
        if let Some(p) = self.shared.take_dropped(lessons::is_lesson_path) {
            self.open_lesson(&p);
        }
        // A model file dropped on the window loads (or opens the import dialog).
        if let Some(p) = self.shared.take_dropped(exchange::is_model_path) {
            exchange::open_model(&mut self.shared, p);
        }

        let ctx = ui.ctx().clone();
        self.apply_shortcuts(&ctx);
        let look = (self.shared.settings.presenter, self.shared.settings.dark);
        if self.look != Some(look) {
            classroom::apply_look(&ctx, look.0, look.1);
            self.look = Some(look);
        }
        self.exporter.poll(&mut self.shared);
        self.train.poll_dialogs(&mut self.shared);
        self.poll_lesson_dialog();
        // In native points: a re-render at that size zooms the same way.
        self.shared.panel_window_size = ctx.content_rect().size() * ctx.zoom_factor();

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
        if let Some(p) = self.shared.import_request.take() {
            self.import = Some(exchange::ImportDialog::new(p, &self.shared));
        }
        if let Some(d) = &mut self.import {
            if !d.show(&ctx, &mut self.shared) {
                self.import = None;
            }
        }
        if let Some(d) = &mut self.export_model {
            if !d.show(&ctx, &mut self.shared) {
                self.export_model = None;
            }
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
            lessons::apply::apply_if_pending(self);
            match self.tab {
                Tab::Train => self.train.ui(ui, &mut self.shared),
                Tab::Latent => self.latent.ui(ui, &mut self.shared),
                Tab::Interpolate => self.interpolate.ui(ui, &mut self.shared),
                Tab::Denoise => self.denoise.ui(ui, &mut self.shared),
                Tab::Pca => self.pca.ui(ui, &mut self.shared),
                Tab::Anomaly => self.anomaly.ui(ui, &mut self.shared),
                Tab::Compression => self.compression.ui(ui, &mut self.shared),
                Tab::Features => self.features.ui(ui, &mut self.shared),
                Tab::Step => self.step.ui(ui, &mut self.shared),
                Tab::Generate => self.generate.ui(ui, &mut self.shared),
            }
        });

        self.sidebar.dataset.update(&ctx, &mut self.shared);
        if let Some(req) = widgets::file_picker::take_request(&ctx) {
            let start = match &self.shared.data.source {
                DatasetSource::Dir(p) => p.parent().map(std::path::Path::to_path_buf),
                DatasetSource::Embedded => None,
            };
            self.picker = Some(widgets::file_picker::FilePicker::new(req, start));
        }
        if let Some(p) = &mut self.picker {
            if !p.show(&ctx) {
                self.picker = None;
            }
        }
        if !self.shared.dropped_files.is_empty() {
            let n = self.shared.dropped_files.len();
            self.shared.dropped_files.clear();
            self.shared.notify(
                Level::Warning,
                format!(
                    "{n} file(s) dropped here were not used: drop images on the Latent space, \
                     Interpolate, Denoise or Generate panel."
                ),
            );
        }
        if let Some(t) = self.shared.switch_to.take() {
            self.tab = t;
        }
        self.lessons.poll(&mut self.shared);
        self.shared.settings.lesson = self.lessons.place();
        self.shared.settings.opened_lessons = self.lessons.opened.clone();
        self.shared.settings.tab = self.tab;
        if let Some(r) = ui.ctx().input(|i| i.viewport().inner_rect) {
            self.shared.settings.window_size = Some([r.width(), r.height()]);
        }
        if self.last_trim.elapsed() > TRIM_EVERY {
            crate::release_free_memory();
            self.last_trim = Instant::now();
        }
        if self.last_settings_save.elapsed() > Duration::from_secs(20) {
            self.save_settings();
            self.last_settings_save = Instant::now();
        }
        if !self.timed && self.tab == Tab::Latent && self.shared.a().snapshot.is_some() {
            self.timed = true;
            if std::env::var_os("BOTTLENECK_TIMING").is_some() {
                eprintln!(
                    "timing: the latent map was first drawn {:.2} s after launch",
                    crate::started().elapsed().as_secs_f64()
                );
            }
        }
        // Last, so that presenter mode switched on this frame is zoomed from the next one.
        self.fit_zoom(&ctx);
        self.frames.push(started.elapsed().as_secs_f32() * 1e3);
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
                    shared.a().adopt(m.clone(), shared.data.clone());
                    first = false;
                }
                shared
                    .session_models
                    .push(SessionModel::new(format!("built-in: {}", b.title), m));
            }
            Err(e) => shared.notify(
                Level::Error,
                format!("Built-in model {} is damaged: {e}", b.key),
            ),
        }
    }
}

/// Makes a bundled model current (from the Models menu).
pub(crate) fn adopt_bundled(shared: &mut Shared, b: crate::model::bundled::Bundled) {
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
            shared.a().adopt(Arc::new(m), shared.data.clone());
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
pub fn run(
    data: &DatasetSource,
    import: Option<crate::data::ImportOptions>,
    lesson: Option<PathBuf>,
) -> anyhow::Result<()> {
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
            let mut app = App::new(
                &cc.egui_ctx,
                AppOptions {
                    data,
                    import,
                    settings_path,
                    load_bundled: true,
                },
            );
            if let Some(p) = &lesson {
                app.open_lesson(p);
            }
            Ok(Box::new(EframeApp(app)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
