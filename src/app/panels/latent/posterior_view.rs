//! The VAE's uncertainty on a 2-D map: the prior's unit circle drawn faintly, the selected and
//! hovered images' posteriors as 1σ and 2σ ellipses around μ (optionally the 1σ ellipses of
//! the selected image's whole class), and 16 codes sampled from the selected image's posterior.
//! The posterior itself is `analysis::posterior`.

use egui::{Color32, Shape, Stroke};

use super::{LatentMap, LatentPanel, PRIOR_SAMPLES};
use crate::analysis::posterior::{ellipse, posterior, sample};
use crate::app::widgets::scatter::ViewTransform;
use crate::id::Id;

/// σ of every image of one map (row-major `n × 2`).
#[derive(Default)]
pub struct PosteriorView {
    /// Draw the 1σ ellipses of every image of the selected image's class.
    pub whole_class: bool,
    sigma: Option<(Id, Result<Vec<f32>, String>)>,
}

impl PosteriorView {
    /// σ of image `i` of `map`, computing the map's posteriors the first time.
    fn sigmas(&mut self, map: &LatentMap) -> Option<&[f32]> {
        if self
            .sigma
            .as_ref()
            .is_none_or(|(id, _)| *id != map.points.id)
        {
            let s = posterior(&map.model, &map.split_data().images).map(|(_, s)| s);
            self.sigma = Some((map.points.id, s));
        }
        self.sigma.as_ref()?.1.as_ref().ok().map(|v| v.as_slice())
    }
}

/// Whether `map` shows a VAE's 2-D code as is (where its posteriors are drawn).
pub fn shows_posteriors(map: &LatentMap) -> bool {
    map.is_vae() && map.k == 2
}

fn polyline(painter: &egui::Painter, xf: &ViewTransform, pts: &[[f32; 2]], stroke: Stroke) {
    let mut screen: Vec<egui::Pos2> = pts.iter().map(|p| xf.to_screen(*p)).collect();
    if let Some(&first) = screen.first() {
        screen.push(first);
    }
    painter.add(Shape::line(screen, stroke));
}

impl LatentPanel {
    /// Draws the prior's unit circle and the posteriors' ellipses over A's map.
    pub(super) fn draw_posteriors(
        &mut self,
        painter: &egui::Painter,
        xf: &ViewTransform,
        map: &LatentMap,
    ) {
        if !shows_posteriors(map) {
            return;
        }
        let faint = Stroke::new(1.5, Color32::from_white_alpha(70));
        polyline(
            painter,
            xf,
            &ellipse([0.0, 0.0], [1.0, 1.0], 1.0, 96),
            faint,
        );
        let selected = self.selected.as_ref().map(|s| s.index);
        let hovered = self.panes[0].hovered;
        let whole_class = self.posterior.whole_class;
        let Some(sigma) = self.posterior.sigmas(map) else {
            return;
        };
        let ell = |i: usize, n: f32| {
            let mu = map.points.xy[i];
            ellipse(mu, [sigma[2 * i], sigma[2 * i + 1]], n, 48)
        };
        if let (Some(s), true) = (selected, whole_class) {
            let label = map.points.labels[s];
            let c = crate::app::widgets::class_color(label).gamma_multiply(0.5);
            for i in (0..map.points.len()).filter(|&i| map.points.labels[i] == label) {
                polyline(painter, xf, &ell(i, 1.0), Stroke::new(1.0, c));
            }
        }
        for i in [selected, hovered].into_iter().flatten() {
            if i >= map.points.len() {
                continue;
            }
            for (n, w) in [(1.0, 2.0), (2.0, 1.2)] {
                polyline(
                    painter,
                    xf,
                    &ell(i, n),
                    Stroke::new(w + 2.0, Color32::BLACK),
                );
                polyline(painter, xf, &ell(i, n), Stroke::new(w, Color32::WHITE));
            }
        }
    }

    /// The side column's posterior controls for the selected image of a 2-D VAE.
    pub(super) fn posterior_side(&mut self, ui: &mut egui::Ui, map: &LatentMap) {
        if !shows_posteriors(map) {
            return;
        }
        let Some(index) = self.selected.as_ref().map(|s| s.index) else {
            ui.weak("Select an image to see its posterior: the white ellipses are 1σ and 2σ around μ; the faint circle is the prior's 1σ.");
            return;
        };
        ui.weak("White ellipses: the posterior q(z | x) at 1σ and 2σ around μ; faint circle: the prior N(0, I) at 1σ.");
        ui.checkbox(
            &mut self.posterior.whole_class,
            "Ellipses for its whole class",
        );
        if ui
            .button("Sample 16 from its posterior")
            .on_hover_text(
                "Draw 16 codes from N(μ, σ²) of this image, decode them and mark them on the map.",
            )
            .clicked()
        {
            self.sample_posterior(map, index);
        }
    }

    /// Draws 16 codes from image `index`'s posterior and decodes them.
    pub fn sample_posterior(&mut self, map: &LatentMap, index: usize) {
        let Some(sigma) = self.posterior.sigmas(map).map(|s| s.to_vec()) else {
            self.panes[0].error = Some("cannot compute the posterior of this model".into());
            return;
        };
        if index >= map.points.len() {
            return;
        }
        let mu = map.code(index).to_vec();
        let z = sample(
            &mu,
            &sigma[2 * index..2 * index + 2],
            PRIOR_SAMPLES,
            &mut self.rng,
        );
        self.show_samples(map, z, Some(index));
    }
}
