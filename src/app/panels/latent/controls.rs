//! The Latent space panel's controls: the row above the map (split, axes, manifold, fit,
//! picture, prior samples), the timeline of finished epochs with its replay, and reading the
//! user's pictures (dropped or opened).

use std::sync::Arc;

use super::{LatentMap, LatentPanel, SplitChoice};
use crate::analysis::Projection;
use crate::app::jobs::{self, load_picture, DialogKind, PictureSource};
use crate::app::widgets;
use crate::app::Shared;

impl LatentPanel {
    pub(super) fn poll_pictures(&mut self, shared: &mut Shared) {
        if !shared.dropped_files.is_empty() && shared.a().snapshot.is_some() {
            let mut files = std::mem::take(&mut shared.dropped_files);
            let extra = files.len() - 1;
            let f = files.swap_remove(0);
            self.picture_job = Some(load_picture(PictureSource::Dropped(f), &shared.egui));
            self.picture_error = (extra > 0)
                .then(|| format!("{} files were dropped: using the first one.", extra + 1));
        }
        if let Some(paths) = jobs::take_done(&mut self.open_dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.picture_job = Some(load_picture(PictureSource::Path(p), &shared.egui));
            }
        }
        // A picture read while the map is still being prepared waits for it.
        let Some(map) = self.map().cloned() else {
            return;
        };
        if let Some(r) = jobs::take_done(&mut self.picture_job) {
            match r {
                Ok(p) => {
                    self.picture_error = p.blank.then(|| {
                        format!("{}: no ink found, the model sees a black square.", p.name)
                    });
                    self.place_picture(&map, p);
                }
                Err(e) => self.picture_error = Some(e),
            }
        }
    }

    pub(super) fn open_picture(&mut self, shared: &Shared) {
        match &shared.dialog_override {
            Some(p) => {
                self.picture_job = Some(load_picture(PictureSource::Path(p.clone()), &shared.egui))
            }
            None => {
                self.open_dialog = Some(jobs::file_dialog(DialogKind::OpenImages, &shared.egui, ""))
            }
        }
    }

    pub(super) fn advance_playback(&mut self, ui: &egui::Ui, shared: &Shared) {
        if !self.playing {
            return;
        }
        let n = shared.a().epoch_snapshots.len();
        let now = ui.input(|i| i.time);
        if now - self.play_clock >= 0.7 {
            self.play_clock = now;
            let next = self.timeline.map_or(0, |i| i + 1);
            if next >= n {
                self.playing = false;
            } else {
                self.timeline = Some(next);
            }
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }

    pub(super) fn controls(
        &mut self,
        ui: &mut egui::Ui,
        shared: &mut Shared,
        map: &Arc<LatentMap>,
    ) {
        ui.horizontal_wrapped(|ui| {
            let data = &shared.data;
            let before = self.split;
            egui::ComboBox::new("latent-split", "on the map")
                .selected_text(format!(
                    "{} images ({})",
                    self.split.name(),
                    widgets::thousands(self.split.of(data).len() as f64)
                ))
                .show_ui(ui, |ui| {
                    for s in [SplitChoice::Test, SplitChoice::Train] {
                        ui.selectable_value(
                            &mut self.split,
                            s,
                            format!(
                                "{} images ({})",
                                s.name(),
                                widgets::thousands(s.of(data).len() as f64)
                            ),
                        );
                    }
                })
                .response
                .on_hover_text(
                    "Which images to place on the map. The training split is encoded in the \
                     background the first time.",
                );
            if self.split != before {
                self.selected = None;
                self.fit_next_maps();
            }

            if let (Projection::Pca { x, y, .. }, Some(ratio)) =
                (&map.projection, map.projection.explained())
            {
                let (mut cx, mut cy) = (*x, *y);
                let name = |i: usize| format!("PC{} ({:.1} %)", i + 1, 100.0 * ratio[i]);
                egui::ComboBox::new("latent-pc-x", "x")
                    .selected_text(format!("PC{}", cx + 1))
                    .show_ui(ui, |ui| {
                        for i in 0..ratio.len() {
                            ui.selectable_value(&mut cx, i, name(i));
                        }
                    });
                egui::ComboBox::new("latent-pc-y", "y")
                    .selected_text(format!("PC{}", cy + 1))
                    .show_ui(ui, |ui| {
                        for i in 0..ratio.len() {
                            ui.selectable_value(&mut cy, i, name(i));
                        }
                    });
                if (cx, cy) != (*x, *y) {
                    if cx == cy {
                        // Swap rather than show one component against itself.
                        if cx != *x {
                            cy = *x;
                        } else {
                            cx = *y;
                        }
                    }
                    self.comps = (cx, cy);
                    self.fit_next_maps();
                }
            }
            ui.separator();
            ui.checkbox(&mut self.manifold_on, "Manifold")
                .on_hover_text(
                "Tile the visible region with the images decoded at each place, under the points.",
            );
            ui.add_enabled(
                self.manifold_on,
                egui::Slider::new(&mut self.density, 5..=25).text("tiles"),
            )
            .on_hover_text("How many decoded images along the shorter side of the map.");
            ui.checkbox(&mut self.show_points, "Points");
            ui.separator();
            if ui
                .button("Fit view")
                .on_hover_text("Show all the points (or double-click the map).")
                .clicked()
            {
                for p in &mut self.panes {
                    p.scatter.fit();
                }
            }
            if ui
                .add_enabled(
                    self.picture_job.is_none(),
                    egui::Button::new("Open picture…"),
                )
                .on_hover_text(
                    "Encode a picture of your own and mark where it lands (or drop an image \
                     file on this panel).",
                )
                .clicked()
            {
                self.open_picture(shared);
            }
            if map.is_vae()
                && ui
                    .button("Sample from the prior")
                    .on_hover_text(
                        "Draw 16 codes from N(0, I), the distribution a VAE is trained to \
                         match, decode them and mark them on the map.",
                    )
                    .clicked()
            {
                self.sample_prior(map);
            }
        });
    }

    pub(super) fn timeline_row(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        let snaps = &shared.a().epoch_snapshots;
        let n = snaps.len();
        ui.horizontal(|ui| {
            ui.label("Timeline:");
            let mut live = self.timeline.is_none();
            if ui
                .checkbox(&mut live, "live")
                .on_hover_text("Follow the current model (updates after every epoch).")
                .changed()
            {
                self.timeline = if live { None } else { Some(n - 1) };
                self.playing = false;
            }
            let mut i = self.timeline.unwrap_or(n - 1);
            let text = format!("epoch {} of {}", snaps[i].epoch, snaps[n - 1].epoch);
            let resp = ui.add_enabled(
                n > 1,
                egui::Slider::new(&mut i, 0..=n - 1)
                    .show_value(false)
                    .text(text),
            );
            if resp.changed() {
                self.timeline = Some(i);
                self.playing = false;
            }
            if shared.a().timeline_thinned() {
                ui.label(format!("({n} epochs kept)"))
                    .on_hover_text(format!(
                        "A long run keeps at most {} maps: older epochs are thinned evenly, the \
                     first and the latest always kept.",
                        crate::app::state::MAX_EPOCH_SNAPSHOTS
                    ));
            }
            let play_label = if self.playing { "Pause" } else { "Replay" };
            if ui
                .add_enabled(n > 1, egui::Button::new(play_label))
                .on_hover_text("Replay the map of every finished epoch.")
                .clicked()
            {
                self.playing = !self.playing;
                if self.playing {
                    if self.timeline.is_none_or(|t| t + 1 >= n) {
                        self.timeline = Some(0);
                    }
                    self.play_clock = ui.input(|i| i.time);
                }
            }
        });
    }
}
