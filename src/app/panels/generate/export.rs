//! The Generate panel's export: the view as a PNG (the picture shown, pixel for pixel at 4×)
//! and its generated images as CSV in the Kaggle layout (the class asked for, then 784 values
//! 0–1 a row: it opens again as a data set), written off the UI thread.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::Shown;
use crate::app::jobs::{self, DialogKind, Task};
use crate::app::{Level, Shared};
use crate::data::Dataset;

/// What is being exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Png,
    Csv,
}

/// What an export needs once its path is known.
struct Pending {
    kind: Kind,
    png: egui::ColorImage,
    csv: String,
}

#[derive(Default)]
pub struct Export {
    dialog: Option<(Task<Vec<PathBuf>>, Pending)>,
    write: Option<Task<Result<PathBuf, String>>>,
}

/// The images as CSV: `label,p1,…,p784`, one row per image (label: the class asked for).
pub fn images_csv(images: &[f32], asked: &[u8]) -> String {
    let mut out = String::from("label");
    for j in 1..=crate::PIXELS {
        let _ = write!(out, ",p{j}");
    }
    out.push('\n');
    for (i, row) in images.chunks_exact(crate::PIXELS).enumerate() {
        let _ = write!(out, "{}", asked.get(i).copied().unwrap_or(0));
        for v in row {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

impl Export {
    pub fn busy(&self) -> bool {
        self.dialog.is_some() || self.write.is_some()
    }

    /// The two buttons.
    pub fn buttons(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        shown: Option<&Shown>,
        _data: &Dataset,
    ) {
        let Some(s) = shown else {
            return;
        };
        if ui
            .button("Export PNG…")
            .on_hover_text("The generated images as shown, 4 pixels a pixel.")
            .clicked()
        {
            self.start(shared, Kind::Png, s);
        }
        if ui
            .button("Export CSV…")
            .on_hover_text(
                "The generated images, one a row: the class asked for, then 784 values 0–1 \
                 (the Kaggle layout: it opens as a data set).",
            )
            .clicked()
        {
            self.start(shared, Kind::Csv, s);
        }
    }

    fn start(&mut self, shared: &Shared, kind: Kind, s: &Shown) {
        let pending = Pending {
            kind,
            png: s.png.clone(),
            csv: if kind == Kind::Csv {
                images_csv(&s.images, &s.asked)
            } else {
                String::new()
            },
        };
        match &shared.dialog_override {
            Some(p) => self.write(shared, p.clone(), pending),
            None => {
                let (dk, name) = match kind {
                    Kind::Png => (DialogKind::SavePng, "generated.png"),
                    Kind::Csv => (DialogKind::SaveCsv, "generated.csv"),
                };
                self.dialog = Some((jobs::file_dialog(dk, &shared.egui, name), pending));
            }
        }
    }

    fn write(&mut self, shared: &Shared, path: PathBuf, p: Pending) {
        self.write = Some(jobs::spawn("generate-export", &shared.egui, move || {
            let fail = |e: String| format!("cannot write {}: {e}", path.display());
            match p.kind {
                Kind::Csv => crate::model::io::write_atomic(&path, p.csv.as_bytes())
                    .map_err(|e| fail(e.to_string()))?,
                Kind::Png => {
                    let [w, h] = p.png.size;
                    let s = 4;
                    let img = image::RgbImage::from_fn((w * s) as u32, (h * s) as u32, |x, y| {
                        let c = p.png.pixels[(y as usize / s) * w + x as usize / s];
                        image::Rgb([c.r(), c.g(), c.b()])
                    });
                    img.save_with_format(&path, image::ImageFormat::Png)
                        .map_err(|e| fail(e.to_string()))?
                }
            }
            Ok(path)
        }));
    }

    pub fn poll(&mut self, shared: &mut Shared) {
        if let Some((task, _)) = &self.dialog {
            if let Some(paths) = task.poll() {
                if let Some((_, pending)) = self.dialog.take() {
                    if let Some(p) = paths.into_iter().next() {
                        self.write(shared, p, pending);
                    }
                }
            }
        }
        if let Some(r) = jobs::take_done(&mut self.write) {
            match r {
                Ok(p) => shared.notify(Level::Info, format!("Exported {}.", p.display())),
                Err(e) => shared.notify(Level::Error, format!("Export failed: {e}")),
            }
        }
    }
}
