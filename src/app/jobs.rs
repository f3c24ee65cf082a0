//! Background jobs for the UI: run a closure on a named thread and poll its result once per
//! frame, so slow work (file dialogs, loading a dataset, fitting PCA, encoding 60,000 images)
//! never blocks a frame. The thread asks egui to repaint when the result is ready. A panic in
//! the work becomes its result ([`FromPanic`]: an error), so nothing waits forever.
//! [`load_picture`] reads a user's picture (a path or a dropped file) that way.
//! [`file_dialog`] opens the system's file dialog, or Bottleneck's own picker where none can
//! be shown.

use std::path::PathBuf;

use crossbeam_channel::{bounded, Receiver};

use crate::app::widgets::file_picker::{self, PickMode, PickerRequest};
use crate::data::preprocess;
use crate::tasks::{catching, FromPanic};

/// A result that will arrive later.
pub struct Job<T> {
    rx: Receiver<T>,
    pub name: String,
}

impl<T: FromPanic + Send + 'static> Job<T> {
    /// Runs `f` on a new named thread; `ctx` (if any) is asked to repaint when it finishes.
    pub fn spawn(
        name: &str,
        ctx: Option<egui::Context>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Job<T> {
        let (tx, rx) = bounded(1);
        let thread_name = format!("bottleneck-{name}");
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let r = catching(f);
                let _ = tx.send(r);
                if let Some(c) = ctx {
                    c.request_repaint();
                }
            });
        if let Err(e) = spawned {
            eprintln!("bottleneck: cannot start a background thread for {name}: {e}");
        }
        Job {
            rx,
            name: name.into(),
        }
    }
}

impl<T> Job<T> {
    /// The result, once (later calls return `None`).
    pub fn poll(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Waits for the result (tests only: the UI never waits).
    pub fn wait(self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Polls an optional job: returns its result and clears the slot when it is done.
pub fn take_done<T>(slot: &mut Option<Job<T>>) -> Option<T> {
    let r = slot.as_ref()?.poll()?;
    *slot = None;
    Some(r)
}

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    OpenModel,
    SaveModel,
    /// A dataset folder (IDX, CSV or pictures); the in-app picker also takes a CSV file.
    OpenDataset,
    /// A CSV dataset file.
    OpenCsv,
    OpenImages,
    SavePng,
    SaveCsv,
}

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "gif", "webp"];

/// Shown atop the in-app picker when no system dialog can be shown.
pub const NO_NATIVE_DIALOG: &str = "No system file dialog is available here (it needs a \
     desktop portal or zenity), so Bottleneck shows its own.";
/// Shown atop the in-app picker when the system dialog returned at once without an answer.
pub const NATIVE_DIALOG_FAILED: &str = "The system file dialog did not open (no desktop \
     portal or zenity answered), so Bottleneck shows its own.";

/// Whether a system dialog can be expected: a D-Bus session (for the desktop portal) or
/// `zenity` on the PATH. `BOTTLENECK_FILE_PICKER=builtin` forces the in-app picker and
/// `=native` the system one.
pub fn native_dialogs_available() -> bool {
    match std::env::var("BOTTLENECK_FILE_PICKER").as_deref() {
        Ok("builtin") => return false,
        Ok("native") => return true,
        _ => {}
    }
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("zenity").is_file()));
    zenity || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

/// The in-app picker's request for a dialog of `kind`.
fn picker_request(
    kind: DialogKind,
    suggested: &str,
    note: &str,
    reply: crossbeam_channel::Sender<Vec<PathBuf>>,
) -> PickerRequest {
    let (title, mode) = match kind {
        DialogKind::OpenModel => (
            "Load a Bottleneck model",
            PickMode::File(vec!["safetensors"]),
        ),
        DialogKind::SaveModel => (
            "Save the model",
            PickMode::Save {
                extension: "safetensors",
            },
        ),
        DialogKind::OpenDataset | DialogKind::OpenCsv => (
            "Open a dataset (a folder or a CSV file)",
            PickMode::FolderOrFile(vec!["csv"]),
        ),
        DialogKind::OpenImages => ("Open images", PickMode::File(IMAGE_EXTENSIONS.to_vec())),
        DialogKind::SavePng => ("Export as PNG", PickMode::Save { extension: "png" }),
        DialogKind::SaveCsv => ("Export as CSV", PickMode::Save { extension: "csv" }),
    };
    PickerRequest {
        title: title.into(),
        mode,
        suggested: suggested.into(),
        note: Some(note.into()),
        reply,
    }
}

/// Opens the in-app picker for `kind`; its answer arrives in the returned job.
pub fn builtin_dialog(
    kind: DialogKind,
    ctx: &egui::Context,
    suggested_name: &str,
) -> Job<Vec<PathBuf>> {
    let (tx, rx) = bounded(1);
    file_picker::request(
        ctx,
        picker_request(kind, suggested_name, NO_NATIVE_DIALOG, tx),
    );
    Job {
        rx,
        name: "file-dialog".into(),
    }
}

/// Opens a native dialog on its own thread (rfd's blocking dialog would freeze the UI).
/// An empty result means the user cancelled. Where no native dialog can be shown, or the
/// native one returns nothing within a second (it failed to open), the in-app picker
/// ([`file_picker`]) is shown instead, saying why, and answers through the same job.
pub fn file_dialog(
    kind: DialogKind,
    ctx: &egui::Context,
    suggested_name: &str,
) -> Job<Vec<PathBuf>> {
    if !native_dialogs_available() {
        return builtin_dialog(kind, ctx, suggested_name);
    }
    let suggested = suggested_name.to_string();
    let (tx, rx) = bounded(1);
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("bottleneck-file-dialog".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let paths: Vec<PathBuf> = catching(|| native_dialog(kind, &suggested));
            if paths.is_empty() && started.elapsed() < std::time::Duration::from_secs(1) {
                file_picker::request(
                    &ctx,
                    picker_request(kind, &suggested, NATIVE_DIALOG_FAILED, tx),
                );
            } else {
                let _ = tx.send(paths);
                ctx.request_repaint();
            }
        });
    if let Err(e) = spawned {
        eprintln!("bottleneck: cannot start a background thread for a file dialog: {e}");
    }
    Job {
        rx,
        name: "file-dialog".into(),
    }
}

/// rfd's blocking dialog for `kind`.
fn native_dialog(kind: DialogKind, suggested: &str) -> Vec<PathBuf> {
    let d = rfd::FileDialog::new();
    match kind {
        DialogKind::OpenModel => d
            .set_title("Load a Bottleneck model")
            .add_filter("Bottleneck model", &["safetensors"])
            .pick_file()
            .into_iter()
            .collect(),
        DialogKind::SaveModel => d
            .set_title("Save the model")
            .set_file_name(suggested)
            .add_filter("Bottleneck model", &["safetensors"])
            .save_file()
            .into_iter()
            .collect(),
        DialogKind::OpenDataset => d
            .set_title(
                "Open a dataset folder (IDX files, CSV files, or pictures in one folder per class)",
            )
            .pick_folder()
            .into_iter()
            .collect(),
        DialogKind::OpenCsv => d
            .set_title("Open a CSV dataset (label, then the pixels)")
            .add_filter("CSV", &["csv"])
            .pick_file()
            .into_iter()
            .collect(),
        DialogKind::OpenImages => d
            .set_title("Open images")
            .add_filter("Images", &IMAGE_EXTENSIONS)
            .pick_files()
            .unwrap_or_default(),
        DialogKind::SavePng => d
            .set_title("Export as PNG")
            .set_file_name(suggested)
            .add_filter("PNG image", &["png"])
            .save_file()
            .into_iter()
            .collect(),
        DialogKind::SaveCsv => d
            .set_title("Export as CSV")
            .set_file_name(suggested)
            .add_filter("CSV", &["csv"])
            .save_file()
            .into_iter()
            .collect(),
    }
}

/// Where a user's picture comes from.
pub enum PictureSource {
    Path(PathBuf),
    Dropped(egui::DroppedFileHandle),
}

/// A user's picture after MNIST-style preprocessing.
#[derive(Clone, Debug)]
pub struct Picture {
    pub name: String,
    /// The 28×28 input the model sees.
    pub pixels: Vec<f32>,
    /// No ink was found: the input is all black.
    pub blank: bool,
}

/// Reads, decodes and preprocesses a picture on a background thread.
pub fn load_picture(source: PictureSource, ctx: &egui::Context) -> Job<Result<Picture, String>> {
    Job::spawn("picture", Some(ctx.clone()), move || {
        let (path, gray) = match source {
            PictureSource::Path(p) => {
                let g = preprocess::load(&p);
                (p, g)
            }
            PictureSource::Dropped(f) => {
                let p = f.path().to_path_buf();
                let g = if p.is_file() {
                    preprocess::load(&p)
                } else {
                    match f.bytes() {
                        Ok(b) => preprocess::decode(&b, &p),
                        Err(e) => return Err(format!("Cannot read {}: {e}", p.display())),
                    }
                };
                (p, g)
            }
        };
        let gray = gray.map_err(|e| format!("Cannot use this picture: {e}"))?;
        let pre = preprocess::preprocess(&gray);
        let blank = pre.pixels.iter().all(|&v| v <= 0.0);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Picture {
            name,
            pixels: pre.pixels,
            blank,
        })
    })
}
