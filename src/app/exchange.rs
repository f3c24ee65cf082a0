//! Models in and out of the app: the import dialog (a PyTorch, Keras or ONNX file opened with
//! *Load model…* or dropped on the window: the recognised layers, which one is the code, the
//! parameter count, what was assumed and the choices that change it) and the export dialog
//! (*Models → Export model…*: ONNX or PyTorch into a folder, with the Python lines that load it).
//! Reading and writing the files is the engine's (`model::import`, `model::export`); these
//! windows show what it found and send the model to run A's worker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::jobs::{self, take_done, DialogKind, Task};
use super::state::{Level, Shared};
use crate::model::config::thousands;
use crate::model::export::Target;
use crate::model::import::{self, ImportOptions, Recognised};
use crate::model::Activation;

/// Whether `path` names a model file the import dialog reads (not a Bottleneck model).
pub fn is_import_path(path: &Path) -> bool {
    import::format_of(path).is_some_and(|f| f != import::Format::Bottleneck)
}

/// Whether `path` names any model file (Bottleneck's own or an importable one).
pub fn is_model_path(path: &Path) -> bool {
    import::format_of(path).is_some()
}

/// Opens a chosen model file: a Bottleneck model loads in run A's worker; a PyTorch, Keras or
/// ONNX file opens the import dialog first.
pub fn open_model(shared: &mut Shared, path: PathBuf) {
    if is_import_path(&path) {
        shared.import_request = Some(path);
    } else {
        shared.a().worker.send(crate::train::worker::Command::Load {
            path,
            data: shared.data.clone(),
        });
    }
}

/// The import dialog for one file.
pub struct ImportDialog {
    pub path: PathBuf,
    pub options: ImportOptions,
    /// What the last inspection found (or why it failed).
    pub found: Option<Result<Recognised, String>>,
    inspecting: Option<Task<Result<Recognised, String>>>,
    decoder_dialog: Option<Task<Vec<PathBuf>>>,
    /// The model being built after *Import* (reading large weights can take a moment).
    building: Option<Task<Result<crate::model::TrainedModel, String>>>,
}

impl ImportDialog {
    /// Opens the dialog on `path` and starts reading it.
    pub fn new(path: PathBuf, shared: &Shared) -> Self {
        let mut d = Self {
            path,
            options: ImportOptions::default(),
            found: None,
            inspecting: None,
            decoder_dialog: None,
            building: None,
        };
        d.inspect(shared);
        d
    }

    fn inspect(&mut self, shared: &Shared) {
        let (path, options) = (self.path.clone(), self.options.clone());
        self.inspecting = Some(jobs::spawn("import-inspect", &shared.egui, move || {
            import::inspect(&path, &options).map_err(|e| e.to_string())
        }));
    }

    /// Whether the dialog is waiting for a background read.
    pub fn busy(&self) -> bool {
        self.inspecting.is_some() || self.building.is_some()
    }

    /// Takes the finished background work; `true` when the model was imported (the dialog
    /// is done).
    fn poll(&mut self, shared: &mut Shared) -> bool {
        if let Some(found) = take_done(&mut self.inspecting) {
            self.found = Some(found);
        }
        if let Some(paths) = take_done(&mut self.decoder_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.options.decoder = Some(p);
                self.inspect(shared);
            }
        }
        match take_done(&mut self.building) {
            Some(Ok(model)) => {
                let name = file_name(&self.path);
                let note = match &model.meta.origin {
                    Some(o) if !o.assumed.is_empty() => {
                        let said: Vec<&str> = o
                            .assumed
                            .iter()
                            .map(|a| a.trim_end_matches(" (assumed)"))
                            .collect();
                        format!(" Assumed: {}.", said.join("; "))
                    }
                    _ => String::new(),
                };
                shared.notify(
                    Level::Info,
                    format!("Imported {name}: {}.{note}", model.config().describe()),
                );
                shared.a().adopt(Arc::new(model), shared.data.clone());
                true
            }
            Some(Err(e)) => {
                self.found = Some(Err(e));
                false
            }
            None => false,
        }
    }

    /// Imports what was recognised (the model becomes run A's current model).
    pub fn import(&mut self, shared: &Shared) {
        if let Some(Ok(r)) = &self.found {
            let r = r.clone();
            self.building = Some(jobs::spawn("import-build", &shared.egui, move || {
                r.build().map_err(|e| e.to_string())
            }));
        }
    }

    /// Draws the dialog; `false` once it is closed (imported or cancelled).
    pub fn show(&mut self, ctx: &egui::Context, shared: &mut Shared) -> bool {
        if self.poll(shared) {
            return false;
        }
        centred_window(ctx, "Import a model", 620.0, |ui| self.ui(ui, shared))
    }

    /// The dialog's contents; `true` when the user cancelled.
    fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) -> bool {
        ui.horizontal_wrapped(|ui| {
            ui.strong(file_name(&self.path));
            if let Some(d) = &self.options.decoder {
                ui.label(format!("with the decoder {}", file_name(d)));
            }
        });
        let mut cancel = false;
        let mut changed = false;
        match &self.found {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the file…");
                });
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                ui.label("Nothing was changed.");
            }
            Some(Ok(r)) => {
                ui.label(format!(
                    "{} · {} · {} parameters",
                    r.format.label(),
                    describe(r),
                    thousands(r.params())
                ));
                layers_table(ui, r);
                ui.label(format!("The code: {}", r.code_layer()));
                if r.inference_only() {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Runs for inference only: every panel that encodes and decodes works; \
                         training, saving and drawing weights do not.",
                    );
                }
                if !r.assumed.is_empty() {
                    ui.label(
                        "A state dict records tensors, not layers: what it does not say was \
                         assumed, as the tutorials write it.",
                    );
                }
                for a in &r.assumed {
                    ui.weak(format!("• {a}"));
                }
            }
        }
        if let Some(Ok(r)) = &self.found {
            if r.format.records_activations() {
                ui.weak("The activations are the file's own.");
            } else if !r.inference_only() {
                let config = r.config.clone();
                changed = self.choices(ui, &config);
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            let ready = matches!(self.found, Some(Ok(_))) && !self.busy();
            if ui
                .add_enabled(ready, egui::Button::new("Import"))
                .on_hover_text("Make it the current model: every panel shows it.")
                .clicked()
            {
                self.import(shared);
            }
            if ui
                .add_enabled(
                    self.decoder_dialog.is_none(),
                    egui::Button::new("Decoder file…"),
                )
                .on_hover_text("For an encoder and a decoder saved as two files.")
                .clicked()
            {
                match shared.dialog_override.clone() {
                    Some(p) => {
                        self.options.decoder = Some(p);
                        changed = true;
                    }
                    None => {
                        self.decoder_dialog =
                            Some(jobs::file_dialog(DialogKind::OpenModel, &shared.egui, ""))
                    }
                }
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
            if self.busy() {
                ui.spinner();
            }
        });
        if changed {
            self.inspect(shared);
        }
        cancel
    }

    /// The activation choices a state dict leaves open; `true` when one changed.
    fn choices(&mut self, ui: &mut egui::Ui, m: &crate::model::ModelConfig) -> bool {
        let before = self.options.clone();
        egui::Grid::new("import-choices")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Between layers");
                activation_choice(ui, m.activation, &mut self.options.activation);
                ui.end_row();
                if m.arch != crate::model::Arch::Vae {
                    ui.label("The code");
                    activation_choice(ui, m.code_activation, &mut self.options.code_activation);
                    ui.end_row();
                }
                ui.label("The output");
                let mut sigmoid = m.sigmoid_output;
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut sigmoid, true, "sigmoid");
                    ui.selectable_value(&mut sigmoid, false, "linear");
                });
                if sigmoid != m.sigmoid_output {
                    self.options.sigmoid_output = Some(sigmoid);
                }
                ui.end_row();
            });
        self.options != before
    }
}

/// A ReLU / linear choice; sets `choice` when the user picks another than `current`.
fn activation_choice(ui: &mut egui::Ui, current: Activation, choice: &mut Option<Activation>) {
    let mut a = current;
    ui.horizontal(|ui| {
        for option in [Activation::Relu, Activation::Identity] {
            ui.selectable_value(&mut a, option, option.label());
        }
    });
    if a != current {
        *choice = Some(a);
    }
}

/// The recognised layers, one row each.
fn layers_table(ui: &mut egui::Ui, r: &Recognised) {
    egui::ScrollArea::vertical()
        .max_height(260.0)
        .show(ui, |ui| {
            egui::Grid::new("import-layers")
                .num_columns(5)
                .striped(true)
                .show(ui, |ui| {
                    for h in ["In the file", "Bottleneck", "Layer", "Then", "Parameters"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for l in &r.layers {
                        let text = |s: &str| {
                            if l.is_code {
                                egui::RichText::new(s).strong()
                            } else {
                                egui::RichText::new(s)
                            }
                        };
                        ui.label(text(&l.source));
                        ui.label(text(&l.target));
                        ui.label(text(&l.description));
                        ui.label(text(&l.activation));
                        ui.label(text(&thousands(l.params)));
                        ui.end_row();
                    }
                });
        });
}

/// "dense 784-64-32-8, MSE" without the variant's preset name.
fn describe(r: &Recognised) -> String {
    r.train_config().describe()
}

/// A dialog in the middle of the window; `false` once it is closed (its ✕, or `body`
/// answering `true`).
fn centred_window(
    ctx: &egui::Context,
    title: &str,
    width: f32,
    body: impl FnOnce(&mut egui::Ui) -> bool,
) -> bool {
    let mut open = true;
    let mut close = false;
    egui::Window::new(title)
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(width)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| close = body(ui));
    open && !close
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The export dialog (*Models → Export model…*): run A's model as ONNX or PyTorch into a
/// folder, then the files written and the Python lines that load them.
pub struct ExportDialog {
    pub target: Target,
    /// The folder chosen (none yet: the *Export* button asks for one).
    pub folder: Option<PathBuf>,
    folder_dialog: Option<Task<Vec<PathBuf>>>,
    writing: Option<Task<Result<Vec<PathBuf>, String>>>,
    /// The files written by the last export, or why it failed.
    pub written: Option<Result<Vec<PathBuf>, String>>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            target: Target::Onnx,
            folder: None,
            folder_dialog: None,
            writing: None,
            written: None,
        }
    }
}

impl ExportDialog {
    /// Writes run A's model into `folder` in the background.
    pub fn export(&mut self, shared: &Shared, folder: PathBuf) {
        let Some(model) = shared.model().cloned() else {
            return;
        };
        let target = self.target;
        self.folder = Some(folder.clone());
        self.written = None;
        self.writing = Some(jobs::spawn("model-export", &shared.egui, move || {
            target.write(&model, &folder).map_err(|e| e.to_string())
        }));
    }

    fn poll(&mut self, shared: &mut Shared) {
        if let Some(paths) = take_done(&mut self.folder_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.export(shared, p);
            }
        }
        if let Some(done) = take_done(&mut self.writing) {
            match &done {
                Ok(files) => shared.notify(
                    Level::Info,
                    format!(
                        "Exported the model as {} into {} ({} files).",
                        self.target.label(),
                        self.folder.as_deref().map(file_name).unwrap_or_default(),
                        files.len()
                    ),
                ),
                Err(e) => shared.notify(Level::Error, e.clone()),
            }
            self.written = Some(done);
        }
    }

    /// Draws the dialog; `false` once it is closed.
    pub fn show(&mut self, ctx: &egui::Context, shared: &mut Shared) -> bool {
        self.poll(shared);
        centred_window(ctx, "Export the model", 760.0, |ui| self.ui(ui, shared))
    }

    /// The dialog's contents; `true` when the user closed it.
    fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) -> bool {
        let model = shared.model().cloned();
        let blocked = match &model {
            None => Some("There is no model yet: train one, load one or pick a built-in one."),
            Some(m) => m.inference_only(),
        };
        if let Some(m) = &model {
            ui.strong(m.config().describe());
        }
        if let Some(why) = blocked {
            ui.colored_label(ui.visuals().warn_fg_color, why);
        }
        ui.horizontal(|ui| {
            for t in Target::ALL {
                if ui
                    .selectable_label(self.target == t, t.label())
                    .on_hover_text(t.files())
                    .clicked()
                    && self.target != t
                {
                    self.target = t;
                    self.written = None;
                }
            }
        });
        ui.weak(format!("Writes {}.", self.target.files()));
        let mut close = false;
        ui.horizontal(|ui| {
            let ready = blocked.is_none() && self.writing.is_none() && self.folder_dialog.is_none();
            if ui
                .add_enabled(ready, egui::Button::new("Export into a folder…"))
                .on_hover_text("Files of the same names in that folder are replaced.")
                .clicked()
            {
                match shared.dialog_override.clone() {
                    Some(p) => self.export(shared, p),
                    None => {
                        self.folder_dialog = Some(jobs::file_dialog(
                            DialogKind::ExportFolder,
                            &shared.egui,
                            "",
                        ))
                    }
                }
            }
            if ui.button("Close").clicked() {
                close = true;
            }
            if self.writing.is_some() {
                ui.spinner();
            }
        });
        match &self.written {
            Some(Ok(files)) => {
                ui.separator();
                ui.label("Written:");
                for f in files {
                    ui.monospace(f.display().to_string());
                }
                let folder = self.folder.clone().unwrap_or_default();
                let lines = self.target.python(&folder).join("\n");
                ui.horizontal(|ui| {
                    ui.label("Load it in Python:");
                    if ui.button("Copy").clicked() {
                        ui.ctx().copy_text(lines.clone());
                    }
                });
                ui.add(
                    egui::TextEdit::multiline(&mut lines.as_str())
                        .code_editor()
                        .desired_width(f32::INFINITY),
                );
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
        close
    }
}
