//! Background jobs for the UI: run a closure on a named thread and poll its result once per
//! frame, so slow work (file dialogs, loading a dataset, fitting PCA, encoding 60,000 images)
//! never blocks a frame. The thread asks egui to repaint when the result is ready. A panic in
//! the work becomes its result ([`FromPanic`]: an error), so nothing waits forever.
//! [`load_picture`] reads a user's picture (a path or a dropped file) that way.
//! [`file_dialog`] opens the system's file dialog, or Bottleneck's own picker where none can
//! be shown.

use std::path::PathBuf;

use crossbeam_channel::bounded;

use crate::app::widgets::file_picker::{self, PickMode, PickerRequest};
use crate::data::preprocess;
use crate::tasks::{panic_message, FromPanic, Waker};
pub use crate::tasks::{take_done, Task};

/// The app's name for a [`Task`] (one type: the engine's).
pub type Job<T> = Task<T>;

/// A waker that asks egui to repaint (the task's result is drawn on the next frame).
pub fn repaint(ctx: &egui::Context) -> Waker {
    let ctx = ctx.clone();
    Waker::new(move || ctx.request_repaint())
}

/// Runs `f` on a thread named `bottleneck-{name}`; `ctx` repaints when the result is ready.
pub fn spawn<T: FromPanic + Send + 'static>(
    name: &str,
    ctx: &egui::Context,
    f: impl FnOnce() -> T + Send + 'static,
) -> Task<T> {
    Task::spawn(name, Some(repaint(ctx)), f)
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
    /// A folder to export a model into.
    ExportFolder,
    /// A lesson file (`.lesson`, `.lesson.md`).
    OpenLesson,
}

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "gif", "webp"];

/// Shown atop the in-app picker when no system dialog can be shown.
pub const NO_NATIVE_DIALOG: &str = "No system file dialog is available here (it needs a \
     desktop portal or zenity), so Bottleneck shows its own.";
/// Shown atop the in-app picker when the system dialog failed (its backend broke down).
pub const NATIVE_DIALOG_FAILED: &str = "The system file dialog failed, so Bottleneck shows \
     its own.";

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
            "Load a model (Bottleneck, PyTorch, Keras or ONNX)",
            PickMode::File(crate::model::import::EXTENSIONS.to_vec()),
        ),
        DialogKind::SaveModel => (
            "Save the model",
            PickMode::Save {
                extension: "safetensors",
            },
        ),
        DialogKind::OpenDataset | DialogKind::OpenCsv => (
            "Open a dataset (a folder or a CSV file)",
            PickMode::FolderOrFile(vec!["csv", "npz", "npy"]),
        ),
        DialogKind::OpenImages => ("Open images", PickMode::File(IMAGE_EXTENSIONS.to_vec())),
        DialogKind::SavePng => ("Export as PNG", PickMode::Save { extension: "png" }),
        DialogKind::SaveCsv => ("Export as CSV", PickMode::Save { extension: "csv" }),
        DialogKind::ExportFolder => ("Export the model into a folder", PickMode::Folder),
        DialogKind::OpenLesson => ("Open a lesson", PickMode::File(vec!["lesson", "md"])),
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
) -> Task<Vec<PathBuf>> {
    let (tx, rx) = bounded(1);
    file_picker::request(
        ctx,
        picker_request(kind, suggested_name, NO_NATIVE_DIALOG, tx),
    );
    Task::from_channel(rx)
}

/// Opens a system dialog on its own thread (rfd's blocking dialog would freeze the UI). An
/// empty answer means the user cancelled, however quickly: it never opens another dialog.
/// Where no system dialog can be shown ([`native_dialogs_available`]), or the system one
/// fails (its backend breaks down: a panic in rfd), the in-app picker ([`file_picker`]) is
/// shown instead, saying why, and answers through the same job.
pub fn file_dialog(
    kind: DialogKind,
    ctx: &egui::Context,
    suggested_name: &str,
) -> Task<Vec<PathBuf>> {
    if !native_dialogs_available() {
        return builtin_dialog(kind, ctx, suggested_name);
    }
    dialog_with(kind, ctx, suggested_name, native_dialog)
}

/// [`file_dialog`] with the system dialog `native` (tests pass a fake one).
fn dialog_with(
    kind: DialogKind,
    ctx: &egui::Context,
    suggested_name: &str,
    native: impl FnOnce(DialogKind, &str) -> Vec<PathBuf> + Send + 'static,
) -> Task<Vec<PathBuf>> {
    let suggested = suggested_name.to_string();
    let (tx, rx) = bounded(1);
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("bottleneck-file-dialog".into())
        .spawn(move || {
            let answer =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| native(kind, &suggested)));
            match answer {
                Ok(paths) => {
                    let _ = tx.send(paths);
                    ctx.request_repaint();
                }
                Err(payload) => {
                    let note = format!("{NATIVE_DIALOG_FAILED} ({})", panic_message(&*payload));
                    file_picker::request(&ctx, picker_request(kind, &suggested, &note, tx));
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("bottleneck: cannot start a background thread for a file dialog: {e}");
    }
    Task::from_channel(rx)
}

/// rfd's blocking dialog for `kind`.
fn native_dialog(kind: DialogKind, suggested: &str) -> Vec<PathBuf> {
    let d = rfd::FileDialog::new();
    match kind {
        DialogKind::OpenModel => d
            .set_title("Load a model (Bottleneck, PyTorch, Keras or ONNX)")
            .add_filter(
                "Models (.safetensors, .pt, .keras, .onnx)",
                crate::model::import::EXTENSIONS,
            )
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
        DialogKind::ExportFolder => d
            .set_title("Export the model into a folder")
            .pick_folder()
            .into_iter()
            .collect(),
        DialogKind::OpenLesson => d
            .set_title("Open a lesson")
            .add_filter("Lessons (.lesson, .lesson.md)", &["lesson", "md"])
            .pick_file()
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
pub fn load_picture(source: PictureSource, ctx: &egui::Context) -> Task<Result<Picture, String>> {
    spawn("picture", ctx, move || {
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// The job's answer, or `None` when none came within a few seconds.
    fn answer(job: &Task<Vec<PathBuf>>) -> Option<Vec<PathBuf>> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Some(r) = job.poll() {
                return Some(r);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn a_quick_cancel_opens_no_other_dialog() {
        let ctx = egui::Context::default();
        // The user cancels the system dialog at once: an empty answer within a second.
        let job = dialog_with(DialogKind::OpenModel, &ctx, "", |_, _| Vec::new());
        assert_eq!(answer(&job), Some(Vec::new()), "the cancel is the answer");
        assert!(
            file_picker::take_request(&ctx).is_none(),
            "no in-app picker after a cancel"
        );
    }

    #[test]
    fn a_failed_system_dialog_falls_back_to_the_picker() {
        let ctx = egui::Context::default();
        let job = dialog_with(DialogKind::SaveCsv, &ctx, "codes.csv", |_, _| {
            panic!("no portal")
        });
        let t = Instant::now();
        let req = loop {
            if let Some(r) = file_picker::take_request(&ctx) {
                break r;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "no picker opened");
            std::thread::sleep(Duration::from_millis(5));
        };
        let note = req.note.clone().unwrap_or_default();
        assert!(
            note.starts_with(NATIVE_DIALOG_FAILED) && note.contains("no portal"),
            "{note}"
        );
        assert_eq!(req.suggested, "codes.csv");
        req.reply.send(vec![PathBuf::from("/tmp/x.csv")]).unwrap();
        assert_eq!(answer(&job), Some(vec![PathBuf::from("/tmp/x.csv")]));
    }
}
