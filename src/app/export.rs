//! Export: the current panel as a PNG (the view on screen, cropped from a screenshot of the
//! window; or re-rendered at 2× by the headless renderer with the same model, dataset and
//! settings), the test set's latent codes and the loss history as CSV. File writing happens on
//! a background job; every outcome is a notice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};
use egui::ColorImage;

use super::{Level, Shared, Tab};
use crate::app::jobs::{self, DialogKind, Task};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// The panel as on screen.
    PanelPng,
    /// The panel re-rendered at twice the pixel density.
    PanelPng2x,
    /// label, z1 … zk for the test images.
    CodesCsv,
    /// One row per epoch: train and test terms, throughput.
    HistoryCsv,
    /// The Features panel's per-dimension statistics (given with [`Exporter::start_text`]).
    UnitStatsCsv,
    /// The Features panel's probe sweep (given with [`Exporter::start_text`]).
    ProbeCsv,
}

impl ExportKind {
    fn dialog(self) -> DialogKind {
        match self {
            ExportKind::PanelPng | ExportKind::PanelPng2x => DialogKind::SavePng,
            _ => DialogKind::SaveCsv,
        }
    }
}

#[derive(Default)]
pub struct Exporter {
    /// What the open dialog is for.
    pending: Option<(ExportKind, Tab)>,
    dialog: Option<Task<Vec<PathBuf>>>,
    /// A screenshot requested for this path and panel rectangle (in points).
    shot: Option<(Receiver<Arc<ColorImage>>, PathBuf, egui::Rect)>,
    write: Option<Task<Result<Vec<PathBuf>, String>>>,
    /// The CSV of a panel-made export, written once a path is chosen (`None`: not measured).
    text: Option<String>,
    /// The map the Latent space panel shows (t-SNE or UMAP), for the 2× re-render.
    pub projection: Option<crate::analysis::embed::Method>,
}

impl Exporter {
    /// True while an export is in progress.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
            || self.dialog.is_some()
            || self.shot.is_some()
            || self.write.is_some()
    }

    /// Starts an export of `kind` for panel `tab` (asks where, unless a test set the path).
    pub fn start(&mut self, kind: ExportKind, tab: Tab, shared: &mut Shared) {
        if self.busy() {
            shared.notify(Level::Warning, "An export is already in progress.");
            return;
        }
        let name = match kind {
            ExportKind::PanelPng => format!("bottleneck-{}.png", tab.cli_name()),
            ExportKind::PanelPng2x => format!("bottleneck-{}@2x.png", tab.cli_name()),
            ExportKind::CodesCsv => "latent-codes.csv".into(),
            ExportKind::HistoryCsv => "loss-history.csv".into(),
            ExportKind::UnitStatsCsv => "code-units.csv".into(),
            ExportKind::ProbeCsv => "probe.csv".into(),
        };
        self.pending = Some((kind, tab));
        match shared.dialog_override.clone() {
            Some(p) => self.chosen(p, shared),
            None => self.dialog = Some(jobs::file_dialog(kind.dialog(), &shared.egui, &name)),
        }
    }

    /// Starts an export whose CSV a panel already made (`None` when there is nothing yet).
    pub fn start_text(
        &mut self,
        kind: ExportKind,
        tab: Tab,
        text: Option<String>,
        shared: &mut Shared,
    ) {
        if self.busy() {
            shared.notify(Level::Warning, "An export is already in progress.");
            return;
        }
        self.text = text;
        self.start(kind, tab, shared);
    }

    fn chosen(&mut self, path: PathBuf, shared: &mut Shared) {
        let Some((kind, tab)) = self.pending.take() else {
            return;
        };
        let ext = match kind {
            ExportKind::PanelPng | ExportKind::PanelPng2x => "png",
            _ => "csv",
        };
        let path = if path.extension().is_none() {
            path.with_extension(ext)
        } else {
            path
        };
        match kind {
            ExportKind::PanelPng => {
                let (tx, rx) = bounded(1);
                let ctx = shared.egui.clone();
                shared
                    .egui
                    .send_viewport_cmd(egui::ViewportCommand::Screenshot(
                        egui::ScreenshotCallback::new(move |img| {
                            let _ = tx.send(img);
                            ctx.request_repaint();
                        }),
                    ));
                self.shot = Some((rx, path, shared.panel_rect));
            }
            ExportKind::PanelPng2x => {
                let req = crate::app::snapshot::SnapshotRequest {
                    tab,
                    model: shared.model().cloned(),
                    compare: shared.comparison().and_then(|b| b.model().cloned()),
                    data: shared.data.source.clone(),
                    width: shared.panel_window_size.x,
                    height: shared.panel_window_size.y,
                    scale: 2.0,
                    presenter: shared.settings.presenter,
                    settings: Some(shared.settings.clone()),
                    lesson: None,
                    lesson_file: None,
                    step: 0,
                    projection: self.projection.filter(|_| tab == Tab::Latent),
                };
                self.write = Some(crate::app::jobs::spawn(
                    "export-2x",
                    &shared.egui,
                    move || {
                        let img = crate::app::snapshot::render(&req).map_err(|e| e.to_string())?;
                        img.save(&path)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        Ok(vec![path])
                    },
                ));
            }
            ExportKind::CodesCsv => {
                let codes = |snap: Option<&crate::train::worker::Snapshot>| {
                    snap.filter(|s| !s.test_codes.is_empty()).map(|s| {
                        let labels = &shared.data.test.labels;
                        crate::model::io::codes_csv(labels, &s.test_codes, s.model.latent())
                    })
                };
                let a = codes(shared.a().snapshot.as_ref());
                let b = codes(shared.comparison().and_then(|b| b.snapshot.as_ref()));
                self.write_csvs(
                    shared,
                    path,
                    a,
                    b,
                    "latent codes",
                    "train or load a model first",
                );
            }
            ExportKind::HistoryCsv => {
                let history = |h: &[crate::model::io::EpochRecord]| {
                    (!h.is_empty()).then(|| crate::model::io::history_csv(h))
                };
                let a = history(&shared.a().view.history);
                let b = shared.comparison().and_then(|b| history(&b.view.history));
                self.write_csvs(shared, path, a, b, "loss history", "train a model first");
            }
            ExportKind::UnitStatsCsv => {
                let text = self.text.take();
                let hint = "wait until the codes are measured";
                self.write_csvs(shared, path, text, None, "code statistics", hint);
            }
            ExportKind::ProbeCsv => {
                let text = self.text.take();
                let hint = "run the probe first (it starts when training ends)";
                self.write_csvs(shared, path, text, None, "probe result", hint);
            }
        }
    }

    /// Writes run A's CSV to `path` and, when two runs are compared, run B's beside it
    /// (`name-B.csv`), on a background job; a notice when there is nothing to write.
    fn write_csvs(
        &mut self,
        shared: &mut Shared,
        path: PathBuf,
        a: Option<String>,
        b: Option<String>,
        what: &str,
        hint: &str,
    ) {
        let mut files = Vec::new();
        if let Some(a) = a {
            files.push((path.clone(), a));
        }
        if let Some(b) = b {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let ext = path.extension().unwrap_or_default().to_string_lossy();
            files.push((path.with_file_name(format!("{stem}-B.{ext}")), b));
        }
        if files.is_empty() {
            shared.notify(Level::Warning, format!("There is no {what} yet: {hint}."));
            return;
        }
        self.write = Some(crate::app::jobs::spawn(
            "export-csv",
            &shared.egui,
            move || {
                let mut written = Vec::new();
                for (p, text) in &files {
                    written.push(write(p, text.as_bytes())?);
                }
                Ok(written)
            },
        ));
    }

    /// Advances dialogs, screenshots and writes; call once per frame.
    pub fn poll(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.dialog) {
            match paths.into_iter().next() {
                Some(p) => self.chosen(p, shared),
                None => {
                    self.pending = None;
                    self.text = None;
                }
            }
        }
        if let Some((rx, _, _)) = &self.shot {
            if let Ok(img) = rx.try_recv() {
                let (_, path, rect) = self.shot.take().expect("checked");
                let ppp = shared.egui.pixels_per_point();
                let cropped = crop(&img, rect, ppp);
                self.write = Some(crate::app::jobs::spawn(
                    "export-png",
                    &shared.egui,
                    move || {
                        let [w, h] = cropped.size;
                        let bytes: Vec<u8> =
                            cropped.pixels.iter().flat_map(|c| c.to_array()).collect();
                        let img = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
                            .ok_or("empty image")?;
                        img.save(&path)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        Ok(vec![path])
                    },
                ));
            }
        }
        if let Some(r) = jobs::take_done(&mut self.write) {
            match r {
                Ok(paths) => {
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    shared.notify(Level::Info, format!("Exported {}.", names.join(" and ")))
                }
                Err(e) => shared.notify(Level::Error, format!("Export failed: {e}")),
            }
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf, String> {
    crate::model::io::write_atomic(path, bytes).map_err(|e| e.to_string())?;
    Ok(path.to_path_buf())
}

/// The part of a window screenshot covered by `rect` (in points).
pub fn crop(img: &ColorImage, rect: egui::Rect, ppp: f32) -> ColorImage {
    let [w, h] = img.size;
    let x0 = ((rect.min.x * ppp).round().max(0.0) as usize).min(w);
    let y0 = ((rect.min.y * ppp).round().max(0.0) as usize).min(h);
    let x1 = ((rect.max.x * ppp).round().max(0.0) as usize).clamp(x0, w);
    let y1 = ((rect.max.y * ppp).round().max(0.0) as usize).clamp(y0, h);
    if x1 <= x0 || y1 <= y0 {
        return img.clone();
    }
    let mut px = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        px.extend_from_slice(&img.pixels[y * w + x0..y * w + x1]);
    }
    ColorImage {
        size: [x1 - x0, y1 - y0],
        source_size: egui::vec2((x1 - x0) as f32, (y1 - y0) as f32),
        pixels: px,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_rectangle_in_pixels() {
        let mut img = ColorImage::filled([10, 8], egui::Color32::BLACK);
        img.pixels[3 * 10 + 4] = egui::Color32::WHITE;
        let c = crop(
            &img,
            egui::Rect::from_min_max(egui::pos2(1.0, 1.0), egui::pos2(3.0, 3.0)),
            2.0,
        );
        assert_eq!(c.size, [4, 4]);
        // Pixel (4, 3) lands at (2, 1) of the crop, which starts at (2, 2) in pixels.
        assert_eq!(c.pixels[4 + 2], egui::Color32::WHITE);
        // Outside the image: the whole image.
        let all = crop(
            &img,
            egui::Rect::from_min_max(egui::pos2(50.0, 50.0), egui::pos2(60.0, 60.0)),
            1.0,
        );
        assert_eq!(all.size, [10, 8]);
    }
}
