//! Background jobs for the UI: run a closure on a named thread and poll its result once per
//! frame, so slow work (file dialogs, loading a dataset, fitting PCA, encoding 60,000 images)
//! never blocks a frame. The thread asks egui to repaint when the result is ready. A panic in
//! the work becomes its result ([`FromPanic`]: an error), so nothing waits forever.
//! [`load_picture`] reads a user's picture (a path or a dropped file) that way.

use std::path::PathBuf;

use crossbeam_channel::{bounded, Receiver};

use crate::data::preprocess;
use crate::train::background::{catching, FromPanic};

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
    OpenDataset,
    OpenImages,
    SavePng,
    SaveCsv,
}

/// Opens a native dialog on its own thread (rfd's blocking dialog would freeze the UI).
/// `None` in the result means the user cancelled (or no dialog could be shown).
pub fn file_dialog(
    kind: DialogKind,
    ctx: &egui::Context,
    suggested_name: &str,
) -> Job<Vec<PathBuf>> {
    let suggested = suggested_name.to_string();
    Job::spawn("file-dialog", Some(ctx.clone()), move || {
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
                .set_file_name(&suggested)
                .add_filter("Bottleneck model", &["safetensors"])
                .save_file()
                .into_iter()
                .collect(),
            DialogKind::OpenDataset => d
                .set_title("Open a folder of IDX files (MNIST layout)")
                .pick_folder()
                .into_iter()
                .collect(),
            DialogKind::OpenImages => d
                .set_title("Open images")
                .add_filter("Images", &["png", "jpg", "jpeg", "bmp", "gif", "webp"])
                .pick_files()
                .unwrap_or_default(),
            DialogKind::SavePng => d
                .set_title("Export as PNG")
                .set_file_name(&suggested)
                .add_filter("PNG image", &["png"])
                .save_file()
                .into_iter()
                .collect(),
            DialogKind::SaveCsv => d
                .set_title("Export as CSV")
                .set_file_name(&suggested)
                .add_filter("CSV", &["csv"])
                .save_file()
                .into_iter()
                .collect(),
        }
    })
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
