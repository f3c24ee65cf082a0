//! Bottleneck's own file picker, for machines where no system file dialog can be shown (no
//! desktop portal and no zenity: rfd then returns nothing at all). `jobs::file_dialog` files a
//! [`PickerRequest`] in the egui context; the app takes it each frame ([`take_request`]) and
//! shows a [`FilePicker`] window, whose answer goes back through the same channel the native
//! dialog would have used, so the panels that asked cannot tell the difference.
//!
//! The window lists the current folder (folders first, then the files the request accepts;
//! hidden files left out), with Up, Home and an editable path; a click selects, a double click
//! opens a folder or chooses a file. Saving asks for a file name; picking a dataset accepts a
//! folder or a CSV file.

use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;

/// What the picker is asked to choose.
#[derive(Clone, Debug, PartialEq)]
pub enum PickMode {
    /// One existing file with one of these extensions (lower case; empty: any).
    File(Vec<&'static str>),
    /// A folder, or a file with one of these extensions.
    FolderOrFile(Vec<&'static str>),
    /// A folder (files are not listed).
    Folder,
    /// A new or existing file name; the extension is added when missing.
    Save { extension: &'static str },
}

/// A request for the in-app picker.
#[derive(Clone, Debug)]
pub struct PickerRequest {
    pub title: String,
    pub mode: PickMode,
    /// Suggested file name (saving).
    pub suggested: String,
    /// Why the in-app picker is shown (e.g. no system dialog).
    pub note: Option<String>,
    /// Where the answer goes: the chosen paths, or none when cancelled.
    pub reply: Sender<Vec<PathBuf>>,
}

fn request_id() -> egui::Id {
    egui::Id::unique("bottleneck-file-picker-request")
}

/// Files a request (from any thread); the app shows it on its next frame.
pub fn request(ctx: &egui::Context, req: PickerRequest) {
    ctx.data_mut(|d| d.insert_temp(request_id(), Some(req)));
    ctx.request_repaint();
}

/// The pending request, if any (taken: the next call returns `None`).
pub fn take_request(ctx: &egui::Context) -> Option<PickerRequest> {
    ctx.data_mut(|d| d.remove_temp::<Option<PickerRequest>>(request_id()))
        .flatten()
}

#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    name: String,
    is_dir: bool,
}

/// The picker window's state.
pub struct FilePicker {
    req: PickerRequest,
    dir: PathBuf,
    path_text: String,
    entries: Vec<Entry>,
    selected: Option<PathBuf>,
    file_name: String,
    error: Option<String>,
}

/// At most this many entries of one folder are listed.
const MAX_ENTRIES: usize = 5_000;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl FilePicker {
    /// A picker for `req`, starting in `start` (or the current folder, or home).
    pub fn new(req: PickerRequest, start: Option<PathBuf>) -> FilePicker {
        let dir = start
            .filter(|p| p.is_dir())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(home);
        let mut p = FilePicker {
            file_name: req.suggested.clone(),
            req,
            path_text: String::new(),
            dir: PathBuf::new(),
            entries: Vec::new(),
            selected: None,
            error: None,
        };
        p.go(dir);
        p
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn accepts_file(&self, path: &Path) -> bool {
        let exts: &[&str] = match &self.req.mode {
            PickMode::File(e) | PickMode::FolderOrFile(e) => e,
            PickMode::Save { extension } => std::slice::from_ref(extension),
            PickMode::Folder => return false,
        };
        exts.is_empty()
            || path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }

    /// Opens folder `dir`.
    pub fn go(&mut self, dir: PathBuf) {
        match std::fs::read_dir(&dir) {
            Err(e) => self.error = Some(format!("Cannot open {}: {e}", dir.display())),
            Ok(rd) => {
                let mut entries: Vec<Entry> = rd
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let path = e.path();
                        let name = e.file_name().to_string_lossy().into_owned();
                        if name.starts_with('.') {
                            return None;
                        }
                        let is_dir = path.is_dir();
                        (is_dir || self.accepts_file(&path)).then_some(Entry { path, name, is_dir })
                    })
                    .take(MAX_ENTRIES)
                    .collect();
                entries.sort_by(|a, b| {
                    (!a.is_dir, a.name.to_lowercase()).cmp(&(!b.is_dir, b.name.to_lowercase()))
                });
                self.entries = entries;
                self.path_text = dir.display().to_string();
                self.dir = dir;
                self.selected = None;
                self.error = None;
            }
        }
    }

    fn answer(&mut self, paths: Vec<PathBuf>) {
        let _ = self.req.reply.send(paths);
    }

    /// The path the main button would choose now, if any.
    fn choice(&self) -> Option<PathBuf> {
        match &self.req.mode {
            PickMode::File(_) => self.selected.clone().filter(|p| p.is_file()),
            PickMode::FolderOrFile(_) | PickMode::Folder => {
                Some(self.selected.clone().unwrap_or_else(|| self.dir.clone()))
            }
            PickMode::Save { extension } => {
                let name = self.file_name.trim();
                if name.is_empty() {
                    return None;
                }
                let mut p = self.dir.join(name);
                if p.extension().is_none() {
                    p.set_extension(extension);
                }
                Some(p)
            }
        }
    }

    fn button_label(&self) -> String {
        match (&self.req.mode, &self.selected) {
            (PickMode::Save { .. }, _) => "Save".into(),
            (PickMode::FolderOrFile(_), Some(p)) if p.is_dir() => "Open this folder".into(),
            (PickMode::FolderOrFile(_), None) => "Open the current folder".into(),
            (PickMode::Folder, Some(p)) if p.is_dir() => "Choose this folder".into(),
            (PickMode::Folder, None) => "Choose the current folder".into(),
            _ => "Open".into(),
        }
    }

    /// Shows the window; returns `false` once it has answered (the caller drops it).
    pub fn show(&mut self, ctx: &egui::Context) -> bool {
        let mut open = true;
        let mut done: Option<Vec<PathBuf>> = None;
        let mut go_to: Option<PathBuf> = None;
        egui::Window::new(self.req.title.clone())
            .id(egui::Id::unique("bottleneck-file-picker"))
            .collapsible(false)
            .resizable(true)
            .default_size([560.0, 420.0])
            .open(&mut open)
            .show(ctx, |ui| {
                if let Some(note) = &self.req.note {
                    ui.label(egui::RichText::new(note).italics());
                    ui.add_space(4.0);
                }
                ui.horizontal(|ui| {
                    if ui.button("Up").on_hover_text("The parent folder").clicked() {
                        if let Some(parent) = self.dir.parent() {
                            go_to = Some(parent.to_path_buf());
                        }
                    }
                    if ui.button("Home").clicked() {
                        go_to = Some(home());
                    }
                    let r = ui.add(
                        egui::TextEdit::singleline(&mut self.path_text)
                            .desired_width(f32::INFINITY),
                    );
                    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        let p = PathBuf::from(self.path_text.trim());
                        if p.is_dir() {
                            go_to = Some(p);
                        } else if p.is_file() && self.accepts_file(&p) {
                            done = Some(vec![p]);
                        } else {
                            self.error = Some(format!("{} is not a folder", p.display()));
                        }
                    }
                });
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                let list_height = (ui.available_height() - 60.0).max(120.0);
                egui::ScrollArea::vertical()
                    .max_height(list_height)
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        if self.entries.is_empty() {
                            ui.weak("(nothing to choose here)");
                        }
                        for e in &self.entries {
                            let label = if e.is_dir {
                                format!("{}/", e.name)
                            } else {
                                e.name.clone()
                            };
                            let selected = self.selected.as_ref() == Some(&e.path);
                            let r = ui.selectable_label(selected, label);
                            if r.double_clicked() {
                                if e.is_dir {
                                    go_to = Some(e.path.clone());
                                } else {
                                    done = Some(vec![e.path.clone()]);
                                }
                            } else if r.clicked() {
                                self.selected = Some(e.path.clone());
                                if !e.is_dir {
                                    self.file_name = e.name.clone();
                                }
                            }
                        }
                    });
                if matches!(self.req.mode, PickMode::Save { .. }) {
                    ui.horizontal(|ui| {
                        ui.label("File name");
                        ui.text_edit_singleline(&mut self.file_name);
                    });
                }
                ui.horizontal(|ui| {
                    let choice = self.choice();
                    if ui
                        .add_enabled(choice.is_some(), egui::Button::new(self.button_label()))
                        .clicked()
                    {
                        if let Some(c) = choice {
                            done = Some(vec![c]);
                        }
                    }
                    if ui.button("Cancel").clicked() {
                        done = Some(Vec::new());
                    }
                });
            });
        if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            done = Some(Vec::new());
        }
        if let Some(p) = go_to {
            self.go(p);
        }
        if !open {
            done = Some(Vec::new());
        }
        match done {
            Some(paths) => {
                self.answer(paths);
                false
            }
            None => true,
        }
    }
}

impl Drop for FilePicker {
    fn drop(&mut self) {
        // A picker dropped without answering (the app closing) answers "cancelled"; the
        // channel holds one answer, so this is a no-op after a real one.
        let _ = self.req.reply.try_send(Vec::new());
    }
}
