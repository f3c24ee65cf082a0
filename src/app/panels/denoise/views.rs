//! What the Denoise panel draws: the row of images (clean, damaged, each model's and PCA's
//! output with its error), the test-set table measured in the background, and the batch of
//! 16 test digits.

use egui::{Color32, Sense, Stroke, StrokeKind, TextureHandle, Vec2};

use crate::analysis::denoise::{self as experiment, Score};
use crate::analysis::metrics::psnr;
use crate::app::widgets;
use crate::app::Shared;
use crate::model::TrainedModel;
use crate::{PIXELS, SIDE};

use super::*;

impl DenoisePanel {
    pub(super) fn images_row(&mut self, ui: &mut egui::Ui, entries: &[Entry]) {
        let Some(shown) = self.shown.clone() else {
            return;
        };
        let n = 2 + shown.outputs.len();
        let gap = ui.spacing().item_spacing.x + 8.0;
        let size = ((ui.available_width() - gap * (n as f32 - 1.0)) / n as f32).clamp(90.0, 200.0);
        let best = shown
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.result.as_ref().ok().map(|(_, s)| (i, s.psnr)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = gap;
            column(ui, size, "Clean", &self.source_caption(), self.tex_clean.as_ref(), None, false);
            let occl = self.noise == NoiseChoice::Occlusion;
            ui.vertical(|ui| {
                ui.set_width(size);
                ui.strong("Noisy input");
                ui.small(self.corruption().describe());
                if let Some(tex) = &self.tex_noisy {
                    let sense = if occl { Sense::drag() } else { Sense::hover() };
                    let resp = ui.add(
                        egui::Image::new(tex)
                            .fit_to_exact_size(Vec2::splat(size))
                            .corner_radius(2.0)
                            .sense(sense),
                    );
                    resp.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Image, true, "Noisy input image")
                    });
                    if occl {
                        self.drag_occlusion(ui, &resp);
                        let r = occlusion_rect(self.occlusion, resp.rect);
                        ui.painter().rect_stroke(
                            r,
                            0.0,
                            Stroke::new(1.5, Color32::from_rgb(0xE6, 0x9F, 0x00)),
                            StrokeKind::Outside,
                        );
                        resp.on_hover_cursor(egui::CursorIcon::Crosshair);
                    }
                }
                ui.label(format!("MSE {:.4}", shown.noisy_score.mse));
                ui.label(format!("PSNR {:.1} dB", shown.noisy_score.psnr));
            });
            for (i, o) in shown.outputs.iter().enumerate() {
                let detail = entries.get(i).map(|e| e.detail.clone()).unwrap_or_default();
                match &o.result {
                    Ok((_, s)) => {
                        let is_best = Some(i) == best && shown.outputs.len() > 1;
                        let tex = self.tex_out.get(i).and_then(|t| t.as_ref());
                        column(ui, size, &o.title, &detail, tex, Some(s), is_best);
                    }
                    Err(e) => {
                        ui.vertical(|ui| {
                            ui.set_width(size);
                            ui.strong(&o.title);
                            ui.colored_label(ui.visuals().error_fg_color, e);
                        });
                    }
                }
            }
            if shown.outputs.is_empty() {
                ui.vertical(|ui| {
                    ui.set_width(size);
                    ui.strong("Denoised");
                    widgets::empty_square(ui, size);
                    ui.weak("Train a model in the Train tab or load one to see it denoise; tick PCA to compare.");
                });
            }
        });
    }

    pub(super) fn source_caption(&self) -> String {
        match self.source {
            Source::Test(i) => format!("test digit #{i}"),
            Source::User(id) => self
                .user_images
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            Source::Drawing => "your drawing".into(),
        }
    }

    pub(super) fn right_column(&mut self, ui: &mut egui::Ui, shared: &Shared, entries: &[Entry]) {
        self.set_table_ui(ui, shared);
        ui.add_space(4.0);
        self.batch_ui(ui, shared, entries);
    }

    pub(super) fn set_key(&self, shared: &Shared, entries: &[Entry]) -> SetKey {
        SetKey {
            data: shared.data.id(),
            corruption: self.corruption(),
            seed: self.seed,
            engines: entries.iter().map(|e| e.key).collect(),
        }
    }

    /// Measures the test set in the background when the settings changed (one job at a time:
    /// while the slider moves, the table follows as fast as it can).
    pub(super) fn spawn_set_job(&mut self, shared: &Shared, entries: &[Entry]) {
        let key = self.set_key(shared, entries);
        let corruption = self.corruption();
        let seed = self.seed;
        self.set_tables.get_or_start(key, || {
            let data = shared.data.clone();
            let entries: Vec<Entry> = entries.to_vec();
            crate::app::jobs::spawn("denoise-test-set", &shared.egui, move || {
                let clean = &data.test.images;
                let (noisy_psnr, noisy_mse) =
                    experiment::corrupted_set_scores(clean, &corruption, seed);
                let rows = entries
                    .iter()
                    .map(|e| {
                        let r = experiment::test_set_scores(e.denoiser(), clean, &corruption, seed)
                            .map_err(|err| err.to_string());
                        ((e.title.clone(), e.detail.clone()), r)
                    })
                    .collect();
                Ok(SetTable {
                    images: data.test.len(),
                    noisy_psnr,
                    noisy_mse,
                    rows,
                })
            })
        });
    }

    pub(super) fn set_table_ui(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        ui.horizontal(|ui| {
            ui.strong(format!(
                "All {} test digits, same noise",
                widgets::thousands(shared.data.test.len() as f64)
            ));
            if self.set_tables.is_running() {
                ui.spinner();
            }
        });
        if let Some((_, Err(e))) = self.set_tables.last() {
            ui.colored_label(ui.visuals().error_fg_color, format!("Cannot score: {e}"));
            return;
        }
        let Some((_, t)) = self.set_tables.latest() else {
            ui.weak("Measuring…");
            return;
        };
        let best = t
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.as_ref().ok().map(|s| (i, -s.denoised_mse)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        egui::Grid::new("denoise-set-table")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.strong("Output");
                ui.strong("PSNR").on_hover_text(
                    "10 log10(1 / MSE), with the MSE over all pixels of all test digits.",
                );
                ui.strong("MSE");
                ui.end_row();
                ui.label("Noisy input");
                ui.label(format!("{:.2} dB", psnr(t.noisy_mse)));
                ui.label(format!("{:.4}", t.noisy_mse));
                ui.end_row();
                for (i, ((title, detail), r)) in t.rows.iter().enumerate() {
                    ui.label(title).on_hover_text(detail);
                    match r {
                        Ok(s) => {
                            let text = format!("{:.2} dB", psnr(s.denoised_mse));
                            if Some(i) == best && t.rows.len() > 1 {
                                ui.colored_label(BEST, format!("{text} best"));
                            } else {
                                ui.label(text);
                            }
                            ui.label(format!("{:.4}", s.denoised_mse));
                        }
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e);
                            ui.label("");
                        }
                    }
                    ui.end_row();
                }
            });
    }

    pub(super) fn batch_ui(&mut self, ui: &mut egui::Ui, shared: &Shared, entries: &[Entry]) {
        if self.batch_output >= entries.len() {
            self.batch_output = 0;
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.batch_view, "Batch view")
                .on_hover_text("16 test digits at this noise: noisy above, denoised below.");
            if self.batch_view && !entries.is_empty() {
                egui::ComboBox::from_label("denoised by")
                    .selected_text(&entries[self.batch_output].title)
                    .show_ui(ui, |ui| {
                        for (i, e) in entries.iter().enumerate() {
                            ui.selectable_value(&mut self.batch_output, i, &e.title);
                        }
                    });
            }
        });
        if !self.batch_view {
            return;
        }
        ui.weak("16 test digits at this noise: noisy rows, each above its denoised row.");
        if entries.is_empty() {
            ui.weak("No model to denoise with: train or load one, or tick PCA.");
            return;
        }
        let entry = &entries[self.batch_output];
        let key = ViewKey {
            source: Source::Test(usize::MAX),
            stamp: 0,
            data: shared.data.id(),
            corruption: self.corruption(),
            seed: self.seed,
            engines: vec![entry.key],
        };
        if self.batch_key.as_ref() != Some(&key) || self.batch_tex.is_none() {
            let idx = crate::app::panels::train::pick_grid(&shared.data.test.labels, BATCH);
            let clean = shared.data.test.subset(&idx).images;
            let noisy = self.corruption().corrupt(&clean, self.seed);
            let denoised = entry.denoiser().reconstruct(&noisy).ok();
            let img = batch_image(&noisy, denoised.as_deref());
            widgets::set_texture(&mut self.batch_tex, ui.ctx(), "denoise-batch", img);
            self.batch_denoised = denoised;
            self.batch_key = Some(key);
        }
        if let Some(tex) = &self.batch_tex {
            let w = ui.available_width().min(320.0);
            let s = tex.size_vec2();
            ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::new(w, w * s.y / s.x)));
        }
    }
}

/// One labelled image column: title, a detail line, the image, and its error against the clean
/// image on two lines (or "the target").
pub(super) fn column(
    ui: &mut egui::Ui,
    size: f32,
    title: &str,
    detail: &str,
    tex: Option<&TextureHandle>,
    score: Option<&Score>,
    best: bool,
) -> egui::Response {
    ui.vertical(|ui| {
        ui.set_width(size);
        ui.strong(title);
        ui.small(detail);
        let r = match tex {
            Some(t) => widgets::show_texture(ui, t, size),
            None => widgets::empty_square(ui, size),
        };
        widgets::name_widget(&r, &format!("{title} image"));
        match score {
            Some(s) => {
                ui.label(format!("MSE {:.4}", s.mse));
                let psnr = format!("PSNR {:.1} dB", s.psnr);
                if best {
                    ui.colored_label(BEST, format!("{psnr}  best"));
                } else {
                    ui.label(psnr);
                }
            }
            None => {
                ui.label("the target");
            }
        }
        r
    })
    .inner
}

/// The colour marking the best output.
pub(super) const BEST: Color32 = Color32::from_rgb(0x00, 0x9E, 0x73);

/// "Denoising AE, k = 32".
pub(super) fn short_name(m: &TrainedModel) -> String {
    let c = m.config();
    let noise = match c.noise {
        Some(n) => format!(
            ", trained on {} {:.2}",
            n.kind.label().to_lowercase(),
            n.factor
        ),
        None => String::new(),
    };
    format!("{}, k = {}{noise}", c.variant.label(), m.latent())
}

/// "#2" from a session label such as "#2 dense 784-…".
/// "#3" for a model of this session, "built-in" for one shipped with the app.
pub(super) fn session_number(label: &str) -> String {
    if let Some(rest) = label.strip_prefix('#') {
        return format!("#{}", rest.split_whitespace().next().unwrap_or(""));
    }
    label.split(':').next().unwrap_or(label).trim().to_string()
}

/// A column title for a session model.
pub(super) fn session_title(label: &str) -> String {
    let n = session_number(label);
    if n.starts_with('#') {
        format!("Model {n}")
    } else {
        format!("Model ({n})")
    }
}

/// Noisy digits on rows 0 and 2, their reconstructions on rows 1 and 3, 1-pixel gaps.
pub(super) fn batch_image(noisy: &[f32], denoised: Option<&[f32]>) -> egui::ColorImage {
    let s = SIDE;
    let gap = 1;
    let n = noisy.len() / PIXELS;
    let rows = 2 * n.div_ceil(BATCH_COLS);
    let w = BATCH_COLS * (s + gap) + gap;
    let h = rows * (s + gap) + gap;
    let mut px = vec![0.12f32; w * h];
    let mut put = |img: &[f32], r: usize, c: usize| {
        for y in 0..s {
            let row = (gap + r * (s + gap) + y) * w + gap + c * (s + gap);
            px[row..row + s].copy_from_slice(&img[y * s..(y + 1) * s]);
        }
    };
    let blank = vec![0.0f32; PIXELS];
    for i in 0..n {
        let (r, c) = (2 * (i / BATCH_COLS), i % BATCH_COLS);
        put(&noisy[i * PIXELS..(i + 1) * PIXELS], r, c);
        let d = denoised
            .and_then(|d| d.get(i * PIXELS..(i + 1) * PIXELS))
            .unwrap_or(&blank);
        put(d, r + 1, c);
    }
    widgets::gray_image(&px, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_image_puts_noisy_over_denoised() {
        let noisy = vec![1.0f32; 16 * PIXELS];
        let img = batch_image(&noisy, None);
        let w = BATCH_COLS * (SIDE + 1) + 1;
        assert_eq!(img.size, [w, 4 * (SIDE + 1) + 1]);
        // Row 0 (noisy) is white, row 1 (no reconstruction) is black.
        assert_eq!(img.pixels[(1 + 5) * w + 1 + 5], Color32::from_gray(255));
        assert_eq!(
            img.pixels[(1 + SIDE + 1 + 5) * w + 1 + 5],
            Color32::from_gray(0)
        );
    }
}
