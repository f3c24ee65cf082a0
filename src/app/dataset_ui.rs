//! Opening a dataset from the app: the sidebar's dataset section (name, counts, *Open
//! dataset…*, *Open CSV…*, back to the built-in digits, the last import's notes and skipped
//! files), and the import preview window for image folders: a few pictures beside what the
//! model will see under MNIST-style or "fit" preprocessing (with inversion), then the import
//! with a progress bar and Cancel. IDX and CSV data open at once. Paths arrive from a dialog,
//! the in-app picker or a drop on the window ([`DatasetUi::open_path`]). The reading itself is
//! `data::import`'s and `data::folder`'s, on background threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::jobs::{self, DialogKind, Task};
use super::{Level, Shared};
use crate::data::folder::{self, PreviewItem, Scan};
use crate::data::import::{self, Imported, Kind, Progress, Skipped};
use crate::data::{Dataset, DatasetSource, ImportOptions, Preprocess};

/// Pictures shown in the preview.
const PREVIEW_COUNT: usize = 10;

/// An image folder waiting for the user's choice of preprocessing.
pub struct Preview {
    pub dir: PathBuf,
    pub scan: Arc<Scan>,
    pub options: ImportOptions,
    /// The options the shown pictures were prepared with.
    shown_options: Option<ImportOptions>,
    items: Vec<(PreviewItem, egui::TextureHandle, egui::TextureHandle)>,
    job: Option<Task<Vec<PreviewItem>>>,
}

impl Preview {
    /// The pictures shown are prepared with the current options.
    pub fn ready(&self) -> bool {
        self.job.is_none() && self.shown_options == Some(self.options)
    }
}

/// A running import: its result, its progress and the options it uses.
type Loading = (Task<Result<Imported, String>>, Arc<Progress>, ImportOptions);

/// What `kind_of` found for a chosen path (and the scan of an image folder).
type Probe = Result<(Kind, Option<Scan>), String>;

#[derive(Default)]
pub struct DatasetUi {
    dialog: Option<Task<Vec<PathBuf>>>,
    probe: Option<Task<Probe>>,
    probe_path: Option<PathBuf>,
    pub preview: Option<Preview>,
    load: Option<Loading>,
    /// The last import's skipped files.
    pub skipped: Vec<Skipped>,
    /// The last import's notes.
    pub notes: Vec<String>,
}

/// Whether a dropped path looks like a dataset (a folder, a CSV file or NumPy arrays) rather
/// than a picture.
pub fn is_dataset_path(path: &Path) -> bool {
    path.is_dir()
        || path.extension().is_some_and(|e| {
            ["csv", "npz", "npy"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x))
        })
}

impl DatasetUi {
    pub fn busy(&self) -> bool {
        self.dialog.is_some() || self.probe.is_some() || self.load.is_some()
    }

    /// The sidebar's dataset section.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.strong("Dataset");
        ui.label(&shared.data.name);
        let present = shared.data.present_classes().len();
        ui.label(format!(
            "{} training / {} test images, {} classes",
            shared.data.train.len(),
            shared.data.test.len(),
            present
        ));
        ui.horizontal_wrapped(|ui| {
            let busy = self.busy();
            if ui
                .add_enabled(!busy, egui::Button::new("Open dataset…"))
                .on_hover_text(
                    "Open a folder: MNIST-style IDX files, CSV files, or pictures in one \
                     subfolder per class (the subfolders name the classes). Or drop a folder \
                     or a CSV file on the window.",
                )
                .clicked()
            {
                self.open_dialog(shared, DialogKind::OpenDataset);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Open CSV…"))
                .on_hover_text(
                    "Open a CSV file: one image per row, the label first, then 784 pixel \
                     values (0–255 or 0–1), with or without a header.",
                )
                .clicked()
            {
                self.open_dialog(shared, DialogKind::OpenCsv);
            }
            if shared.data.source != DatasetSource::Embedded
                && ui
                    .add_enabled(!busy, egui::Button::new("Embedded MNIST"))
                    .on_hover_text("Go back to the 10,000 MNIST digits built into Bottleneck.")
                    .clicked()
            {
                match Dataset::embedded() {
                    Ok(d) => {
                        shared.set_dataset(d);
                        self.notes.clear();
                        self.skipped.clear();
                    }
                    Err(e) => shared.notify(Level::Error, e.to_string()),
                }
            }
            if self.dialog.is_some() || self.probe.is_some() {
                ui.spinner();
            }
        });
        if let Some((_, progress, _)) = &self.load {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(progress.fraction())
                        .desired_width(150.0)
                        .show_percentage(),
                );
                if ui.small_button("Cancel").clicked() {
                    progress
                        .cancel
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            super::widgets::repaint_while(ui, true);
        }
        if !self.notes.is_empty() {
            for n in &self.notes {
                ui.small(n);
            }
        }
        if !self.skipped.is_empty() {
            egui::CollapsingHeader::new(format!("{} file(s) skipped", self.skipped.len()))
                .id_salt("skipped-files")
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(160.0)
                        .show(ui, |ui| {
                            for s in self.skipped.iter().take(500) {
                                ui.small(format!("{}: {}", s.path.display(), s.reason));
                            }
                        });
                });
        }
    }

    /// Every frame, whether the sidebar is shown or not: polls the jobs and shows the import
    /// preview window.
    pub fn update(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        self.poll(shared);
        self.preview_window(ctx, shared);
    }

    /// Opens the dataset dialog.
    pub fn open_path_dialog(&mut self, shared: &Shared) {
        self.open_dialog(shared, DialogKind::OpenDataset);
    }

    fn open_dialog(&mut self, shared: &Shared, kind: DialogKind) {
        if let Some(p) = shared.dialog_override.clone() {
            self.open_path(shared, p);
        } else {
            self.dialog = Some(jobs::file_dialog(kind, &shared.egui, ""));
        }
    }

    /// Opens `path` as a dataset: an image folder shows the preview first, anything else
    /// loads at once.
    pub fn open_path(&mut self, shared: &Shared, path: PathBuf) {
        let p = path.clone();
        self.probe_path = Some(path);
        self.probe = Some(crate::app::jobs::spawn(
            "dataset-probe",
            &shared.egui,
            move || {
                let source = DatasetSource::Dir(p.clone());
                let kind = import::kind_of(&source).map_err(|e| e.to_string())?;
                let scan = match kind {
                    Kind::Images => Some(folder::scan(&p).map_err(|e| e.to_string())?),
                    _ => None,
                };
                Ok((kind, scan))
            },
        ));
    }

    fn start_load(&mut self, shared: &Shared, path: PathBuf, options: ImportOptions) {
        let progress = Arc::new(Progress::default());
        let p2 = progress.clone();
        let job = crate::app::jobs::spawn("dataset", &shared.egui, move || {
            import::load(&DatasetSource::Dir(path), &options, Some(&p2)).map_err(|e| e.to_string())
        });
        self.load = Some((job, progress, options));
    }

    fn poll(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.open_path(shared, p);
            }
        }
        if let Some(r) = jobs::take_done(&mut self.probe) {
            let path = self.probe_path.take().unwrap_or_default();
            match r {
                Err(e) => shared.notify(Level::Error, format!("Cannot open the dataset: {e}")),
                Ok((Kind::Images, Some(scan))) => {
                    let mut options = shared.settings.dataset_import;
                    if options.preprocess == Preprocess::Mnist {
                        options.invert = false;
                    }
                    self.preview = Some(Preview {
                        dir: path,
                        scan: Arc::new(scan),
                        options,
                        shown_options: None,
                        items: Vec::new(),
                        job: None,
                    });
                }
                Ok(_) => {
                    // IDX and CSV: no pictures to preprocess, nothing inverted unasked.
                    let options = ImportOptions {
                        preprocess: shared.settings.dataset_import.preprocess,
                        invert: false,
                    };
                    self.start_load(shared, path, options);
                }
            }
        }
        let done = self.load.as_ref().and_then(|(j, _, _)| j.poll());
        if let Some(r) = done {
            let (_, _, options) = self.load.take().expect("a load");
            self.finish(shared, r, options);
        }
    }

    fn finish(&mut self, shared: &mut Shared, r: Result<Imported, String>, options: ImportOptions) {
        match r {
            Ok(imported) => {
                let name = imported.dataset.name.clone();
                let summary = imported.summary();
                self.notes = imported.notes;
                self.skipped = imported.skipped;
                shared.set_dataset(imported.dataset);
                shared.settings.dataset_import = options;
                let level = if self.skipped.is_empty() {
                    Level::Info
                } else {
                    Level::Warning
                };
                shared.notify(level, format!("Opened {name}. {summary}"));
            }
            Err(e) => shared.notify(Level::Error, format!("Cannot open the dataset: {e}")),
        }
    }

    /// Waits for a dataset load started from a test (tests only).
    pub fn wait(&mut self, shared: &mut Shared) {
        if let Some(j) = self.probe.take() {
            self.probe = Some(j);
            while self.probe.is_some() {
                self.poll(shared);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        if let Some((j, _, options)) = self.load.take() {
            if let Some(r) = j.wait() {
                self.finish(shared, r, options);
            }
        }
    }

    fn preview_window(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        let Some(pv) = &mut self.preview else {
            return;
        };
        if let Some(items) = jobs::take_done(&mut pv.job) {
            pv.items = items
                .into_iter()
                .enumerate()
                .map(|(i, it)| {
                    let o = &it.original;
                    let a = super::widgets::texture(
                        ctx,
                        &format!("import-preview-original-{i}"),
                        super::widgets::gray_image(&o.pixels, o.width, o.height),
                    );
                    let b = super::widgets::texture(
                        ctx,
                        &format!("import-preview-prepared-{i}"),
                        super::widgets::digit_image(&it.prepared),
                    );
                    (it, a, b)
                })
                .collect();
        }
        if pv.job.is_none() && pv.shown_options != Some(pv.options) {
            let (scan, options) = (pv.scan.clone(), pv.options);
            pv.shown_options = Some(options);
            pv.job = Some(crate::app::jobs::spawn("import-preview", ctx, move || {
                folder::preview(&scan, &options, PREVIEW_COUNT)
            }));
        }
        let mut open = true;
        let mut import_now = false;
        let mut cancel = false;
        egui::Window::new("Import pictures")
            .id(egui::Id::unique("import-preview"))
            .collapsible(false)
            .default_width(560.0)
            .open(&mut open)
            .show(ctx, |ui| {
                let n = pv.scan.files.len();
                let classes = &pv.scan.classes;
                ui.label(format!(
                    "{}: {} file(s) in {} class(es)",
                    pv.dir.display(),
                    n,
                    classes.len()
                ));
                let shown: Vec<&str> = classes.iter().take(12).map(String::as_str).collect();
                let more = classes.len().saturating_sub(shown.len());
                ui.small(format!(
                    "Classes: {}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
                if !pv.scan.skipped.is_empty() {
                    ui.small(format!(
                        "{} file(s) outside the class folders will be skipped.",
                        pv.scan.skipped.len()
                    ));
                }
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label("Preprocessing");
                    ui.radio_value(&mut pv.options.preprocess, Preprocess::Mnist, "MNIST-style")
                        .on_hover_text(
                            "For drawings and scans of digits or letters: grey, light ink on \
                             dark, cropped to the ink, scaled to 20 px and centred by centre \
                             of mass, like MNIST.",
                        );
                    ui.radio_value(
                        &mut pv.options.preprocess,
                        Preprocess::Fit,
                        "Fit whole picture",
                    )
                    .on_hover_text(
                        "For other pictures: grey, the whole picture resized to 28×28 \
                             keeping its shape.",
                    );
                    ui.add_enabled(
                        pv.options.preprocess == Preprocess::Fit,
                        egui::Checkbox::new(&mut pv.options.invert, "Invert"),
                    )
                    .on_hover_text(
                        "Make dark light and light dark (the models expect light on dark). \
                         MNIST-style finds the background itself.",
                    );
                });
                ui.add_space(4.0);
                if pv.job.is_some() && pv.items.is_empty() {
                    super::widgets::busy_line(ui, "Preparing the preview…");
                }
                egui::Grid::new("import-preview-grid")
                    .spacing([10.0, 4.0])
                    .show(ui, |ui| {
                        for (it, _, _) in &pv.items {
                            ui.small(&it.class);
                        }
                        ui.end_row();
                        for (_, a, _) in &pv.items {
                            ui.add(
                                egui::Image::new(a)
                                    .fit_to_exact_size(egui::vec2(56.0, 56.0))
                                    .maintain_aspect_ratio(true),
                            );
                        }
                        ui.end_row();
                        for (_, _, b) in &pv.items {
                            super::widgets::show_texture(ui, b, 56.0)
                                .on_hover_text("What the model sees (28×28)");
                        }
                        ui.end_row();
                    });
                ui.small("Top: the pictures (in grey); bottom: what the model will see.");
                ui.separator();
                ui.horizontal(|ui| {
                    if ui
                        .button(format!("Import {n} pictures"))
                        .on_hover_text(
                            "Read every picture; files that cannot be read are skipped and listed.",
                        )
                        .clicked()
                    {
                        import_now = true;
                    }
                    if ui.button("Cancel").clicked() {
                        cancel = true;
                    }
                });
            });
        if import_now {
            let pv = self.preview.take().expect("a preview");
            let mut options = pv.options;
            if options.preprocess == Preprocess::Mnist {
                options.invert = false;
            }
            self.start_load(shared, pv.dir, options);
        } else if cancel || !open {
            self.preview = None;
        }
    }
}
