//! The Latent space panel's view of a wide code's map: the choice of PCA, t-SNE or UMAP, the
//! progress of a map being computed (with Cancel), how far the map shown can be trusted, the
//! selected image's 10 nearest neighbours in the full code (or in pixel space) ringed on the
//! map, and exporting the map's coordinates as CSV.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Stroke};

use super::{LatentMap, LatentPanel};
use crate::analysis::embed::{map_csv, Method};
use crate::analysis::neighbours::knn;
use crate::app::jobs::{self, DialogKind, Task};
use crate::app::widgets::scatter::ViewTransform;
use crate::app::{Level, Shared};
use crate::id::Id;

/// Neighbours ringed around the selected image.
pub const HIGHLIGHT_NEIGHBOURS: usize = 10;
/// Their colour.
pub const NEIGHBOUR_COLOUR: Color32 = Color32::from_rgb(0xFF, 0xD0, 0x20);

/// Where the selected image's neighbours are sought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NeighbourSpace {
    #[default]
    Code,
    Pixels,
}

/// The selected image's nearest neighbours, as computed for one map and image.
pub struct Highlight {
    key: (Id, usize, NeighbourSpace),
    /// Nearest first.
    pub neighbours: Vec<usize>,
    /// How many of them are also among its 10 nearest on the map.
    pub kept_on_map: usize,
}

/// The pieces of the panel state this view keeps.
#[derive(Default)]
pub struct MapView {
    pub method: Method,
    pub highlight_on: bool,
    pub space: NeighbourSpace,
    pub highlight: Option<Highlight>,
    export_dialog: Option<Task<Vec<PathBuf>>>,
    export_job: Option<Task<Result<PathBuf, String>>>,
}

impl MapView {
    pub fn new() -> Self {
        MapView {
            highlight_on: true,
            ..Default::default()
        }
    }

    pub fn working(&self) -> bool {
        self.export_dialog.is_some() || self.export_job.is_some()
    }
}

/// The `HIGHLIGHT_NEIGHBOURS` nearest other images of image `index` in `map`'s full code (or
/// its pixels), and how many of them the map keeps among the image's nearest on the map.
pub fn neighbours_of(map: &LatentMap, index: usize, space: NeighbourSpace) -> Highlight {
    let (rows, dim): (&[f32], usize) = match space {
        NeighbourSpace::Code => (&map.codes, map.k),
        NeighbourSpace::Pixels => (&map.split_data().images, crate::PIXELS),
    };
    let one = &rows[index * dim..(index + 1) * dim];
    let nearest = |rows: &[f32], one: &[f32], dim: usize| -> Vec<usize> {
        let nb = knn(rows, one, dim, HIGHLIGHT_NEIGHBOURS + 1, false);
        nb.row(0)
            .map(|(i, _)| i)
            .filter(|&i| i != index)
            .take(HIGHLIGHT_NEIGHBOURS)
            .collect()
    };
    let neighbours = nearest(rows, one, dim);
    let flat: Vec<f32> = map.points.xy.iter().flat_map(|p| [p[0], p[1]]).collect();
    let on_map = nearest(&flat, &flat[index * 2..index * 2 + 2], 2);
    let kept_on_map = neighbours.iter().filter(|i| on_map.contains(i)).count();
    Highlight {
        key: (map.points.id, index, space),
        neighbours,
        kept_on_map,
    }
}

impl LatentPanel {
    /// Keeps the selected image's neighbours current for `map`.
    pub(super) fn refresh_highlight(&mut self, map: &LatentMap) {
        let Some(index) = self.selected.as_ref().map(|s| s.index) else {
            self.view.highlight = None;
            return;
        };
        // A code of 1 or 2 values is the map: its neighbours are the map's.
        if !self.view.highlight_on || index >= map.points.len() || map.k <= 2 {
            self.view.highlight = None;
            return;
        }
        let key = (map.points.id, index, self.view.space);
        if self.view.highlight.as_ref().is_some_and(|h| h.key == key) {
            return;
        }
        self.view.highlight = Some(neighbours_of(map, index, self.view.space));
    }

    /// Rings the selected image's neighbours and joins them to it.
    pub(super) fn draw_highlight(
        &self,
        painter: &egui::Painter,
        xf: &ViewTransform,
        map: &LatentMap,
        r: f32,
    ) {
        let (Some(h), Some(s)) = (&self.view.highlight, &self.selected) else {
            return;
        };
        let Some(from) = map.points.xy.get(s.index) else {
            return;
        };
        let from = xf.to_screen(*from);
        for &i in &h.neighbours {
            let Some(p) = map.points.xy.get(i) else {
                continue;
            };
            let to = xf.to_screen(*p);
            painter.line_segment(
                [from, to],
                Stroke::new(1.0, NEIGHBOUR_COLOUR.gamma_multiply(0.6)),
            );
            painter.circle_stroke(to, r + 3.0, Stroke::new(3.0, Color32::BLACK));
            painter.circle_stroke(to, r + 3.0, Stroke::new(2.0, NEIGHBOUR_COLOUR));
        }
    }

    /// The row that chooses how a wide code is drawn, with the progress of a map being
    /// computed, and the trust figures of the map shown.
    pub(super) fn method_row(
        &mut self,
        ui: &mut egui::Ui,
        shared: &mut Shared,
        map: &Arc<LatentMap>,
    ) {
        self.poll_export(shared);
        if map.k <= 2 {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let before = self.view.method;
            ui.label("Map:");
            for m in Method::ALL {
                let hint = match m {
                    Method::Pca => "The codes' two main directions of variance: a linear view; distances along the axes mean something, but classes overlap.",
                    Method::Tsne => "t-SNE keeps each code's nearest neighbours near: clusters become visible, but distances between clusters and cluster sizes mean little.",
                    Method::Umap => "UMAP keeps each code's neighbourhood like t-SNE, and a little more of the global layout.",
                };
                ui.selectable_value(&mut self.view.method, m, m.name())
                    .on_hover_text(hint);
            }
            if self.view.method != before {
                self.view.highlight = None;
            }
            let pane = &self.panes[0];
            if let Some(s) = &pane.shown {
                if let Some((done, total, measuring)) = s.progress {
                    let name = self.view.method.name();
                    let text = if measuring {
                        "measuring how far to trust it…".to_string()
                    } else if total == 0 {
                        format!("{name}: finding each code's neighbours…")
                    } else {
                        format!("{name}: iteration {done} of {total}")
                    };
                    let frac = if total == 0 { 0.0 } else { done as f32 / total as f32 };
                    ui.add(egui::ProgressBar::new(frac).text(text).desired_width(260.0));
                    if ui
                        .button("Cancel")
                        .on_hover_text("Stop computing this map (the PCA map stays).")
                        .clicked()
                    {
                        for p in &mut self.panes {
                            p.methods.cancel();
                        }
                    }
                } else if let Some(why) = &s.stopped {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        if why == "cancelled" {
                            format!("{} cancelled: showing PCA.", self.view.method.name())
                        } else {
                            format!("{} failed ({why}): showing PCA.", self.view.method.name())
                        },
                    );
                    if ui.button("Compute again").clicked() {
                        let m = self.view.method;
                        for p in &mut self.panes {
                            if let Some(b) = p.source.map().cloned() {
                                p.methods.retry(&b, m);
                            }
                        }
                    }
                } else if let Some(sec) = s.seconds.filter(|_| self.view.method != Method::Pca) {
                    ui.weak(format!("computed in {sec:.1} s"));
                }
            }
            ui.separator();
            if ui
                .add_enabled(self.view.export_job.is_none() && self.view.export_dialog.is_none(), egui::Button::new("Export map (CSV)…"))
                .on_hover_text("Write label,x,y for every image on this map.")
                .clicked()
            {
                self.start_export(shared);
            }
        });
        self.trust_line(ui);
    }

    fn trust_line(&self, ui: &mut egui::Ui) {
        let Some(s) = &self.panes[0].shown else {
            return;
        };
        match s.trust {
            Some(t) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label("How far to trust this map:");
                    ui.strong(format!("5-NN accuracy {:.2}", t.knn_accuracy_2d));
                    ui.label(format!(
                        "on the map, {:.2} in the full {}-value code",
                        t.knn_accuracy_code, s.map.k
                    ));
                    ui.label("·");
                    ui.strong(format!("trustworthiness {:.2}", t.trustworthiness))
                        .on_hover_text(
                            "Of each image's 5 nearest on the map, how many are truly near it in \
                             the full code (1: all of them; lower: the map puts strangers side \
                             by side).",
                        );
                    if t.points < s.map.points.len() {
                        ui.weak(format!(
                            "(scored on {} evenly spaced images)",
                            crate::app::widgets::thousands(t.points as f64)
                        ));
                    }
                });
            }
            None if s.progress.is_none() && s.stopped.is_none() => {}
            None => {}
        }
    }

    /// The selected image's neighbour summary and the pixel-space switch (side column).
    pub(super) fn highlight_side(&mut self, ui: &mut egui::Ui, map: &LatentMap) {
        if self.selected.is_none() || map.k <= 2 {
            return;
        }
        ui.checkbox(
            &mut self.view.highlight_on,
            "Ring its 10 nearest neighbours",
        );
        if !self.view.highlight_on {
            return;
        }
        ui.horizontal(|ui| {
            ui.label("nearest in");
            ui.radio_value(&mut self.view.space, NeighbourSpace::Code, "the code");
            ui.radio_value(&mut self.view.space, NeighbourSpace::Pixels, "pixels");
        });
        if let Some(h) = &self.view.highlight {
            let space = match self.view.space {
                NeighbourSpace::Code => format!("in the full {}-value code", map.k),
                NeighbourSpace::Pixels => "in pixel space".into(),
            };
            ui.weak(format!(
                "Ringed in yellow: its {} nearest {space}. {} of them are also among its {} \
                 nearest on this map; the others are where the map misleads.",
                h.neighbours.len(),
                h.kept_on_map,
                HIGHLIGHT_NEIGHBOURS
            ));
        }
    }

    fn start_export(&mut self, shared: &mut Shared) {
        match &shared.dialog_override {
            Some(p) => self.write_export(shared, p.clone()),
            None => {
                let name = format!("latent-{}.csv", self.view.method.cli_name());
                self.view.export_dialog =
                    Some(jobs::file_dialog(DialogKind::SaveCsv, &shared.egui, &name));
            }
        }
    }

    fn write_export(&mut self, shared: &mut Shared, path: PathBuf) {
        let Some(map) = self.map().cloned() else {
            shared.notify(Level::Warning, "There is no map to export yet.");
            return;
        };
        let text = map_csv(&map.points.labels, &map.points.xy);
        self.view.export_job = Some(crate::app::jobs::spawn(
            "export-map",
            &shared.egui,
            move || {
                crate::model::io::write_atomic(&path, text.as_bytes())
                    .map(|_| path.clone())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            },
        ));
    }

    fn poll_export(&mut self, shared: &mut Shared) {
        if let Some(paths) = jobs::take_done(&mut self.view.export_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.write_export(shared, p);
            }
        }
        match jobs::take_done(&mut self.view.export_job) {
            Some(Ok(p)) => shared.notify(Level::Info, format!("Map written to {}", p.display())),
            Some(Err(e)) => shared.notify(Level::Error, e),
            None => {}
        }
    }
}
