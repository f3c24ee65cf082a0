//! The Train panel's loss plot: one curve per loss term and run (train and test), with
//! their names, widths, styles and markers, and which terms a model's curves show.

use std::collections::BTreeSet;

use egui::Color32;
use egui_plot::{LineStyle, MarkerShape};

use crate::app::{widgets, RunView};
use crate::model::io::EpochRecord;
use crate::model::{LossTerms, Term};

/// One item of the loss plot.
pub(super) enum PlotItem {
    Line {
        name: String,
        points: Vec<[f64; 2]>,
        color: Color32,
        width: f32,
        style: LineStyle,
    },
    Points {
        name: String,
        points: Vec<[f64; 2]>,
        color: Color32,
        radius: f32,
        shape: MarkerShape,
        filled: bool,
    },
}

impl PlotItem {
    pub(super) fn name(&self) -> &str {
        match self {
            PlotItem::Line { name, .. } | PlotItem::Points { name, .. } => name,
        }
    }
}

/// How one run is drawn on the loss plot.
pub(super) struct RunCurves<'a> {
    pub(super) run: &'a RunView,
    /// Prepended to every legend entry ("A: dense "), empty for a single run.
    pub(super) prefix: String,
    pub(super) terms: Vec<Term>,
    /// Run B: dotted lines and diamond markers, so it reads apart from A at a glance.
    pub(super) second: bool,
}

impl RunCurves<'_> {
    /// The run's curves: per-step training losses (faint), per-epoch train (solid or dotted)
    /// and test (dashed or loosely dotted) values, each term in its colour.
    pub(super) fn items(
        &self,
        hidden: &BTreeSet<Term>,
        k_w: f32,
        tf: impl Fn(f64) -> f64,
    ) -> Vec<PlotItem> {
        let mut out = Vec::new();
        let run = self.run;
        let (train_style, test_style, shape) = if self.second {
            (
                LineStyle::Dotted { spacing: 6.0 * k_w },
                LineStyle::Dotted {
                    spacing: 11.0 * k_w,
                },
                MarkerShape::Diamond,
            )
        } else {
            (
                LineStyle::Solid,
                LineStyle::dashed_dense(),
                MarkerShape::Circle,
            )
        };
        let line_w = if self.second { 1.6 } else { 2.0 } * k_w;
        let radius = if self.second { 4.0 } else { 3.0 } * k_w;
        for &t in self.terms.iter().filter(|t| !hidden.contains(*t)) {
            let c = widgets::term_color(t.name());
            let train_name = format!("{}train {t}", self.prefix);
            let test_name = format!("{}test {t}", self.prefix);
            let per_epoch = |terms: fn(&EpochRecord) -> &LossTerms| -> Vec<[f64; 2]> {
                run.history
                    .iter()
                    .filter_map(|r| terms(r).get(t).map(|v| [r.epoch as f64, tf(v)]))
                    .collect()
            };
            let train = per_epoch(|r| &r.train);
            push_epoch_curve(
                &mut out,
                &train_name,
                train,
                c,
                line_w,
                train_style,
                (shape, radius, true),
            );
            let steps: Vec<[f64; 2]> = run
                .step_curve
                .iter()
                .filter_map(|(x, st)| st.get(t).map(|v| [*x, tf(v)]))
                .collect();
            if !steps.is_empty() {
                // Same name as the epoch curve: one legend entry shows and hides both (pushed after
                // it; the legend picks the first item's colour, the epoch curve's full one).
                out.push(PlotItem::Line {
                    name: train_name,
                    points: steps,
                    color: c.gamma_multiply(0.35),
                    width: 1.0 * k_w,
                    style: LineStyle::Solid,
                });
            }
            // B's test markers are hollow, its train markers filled.
            let test = per_epoch(|r| &r.test);
            let marker = (shape, radius, !self.second);
            push_epoch_curve(&mut out, &test_name, test, c, line_w, test_style, marker);
        }
        out
    }
}

/// Pushes one epoch curve: a line with a marker at each epoch (`marker`: shape, radius,
/// filled); nothing when there are no points yet.
fn push_epoch_curve(
    out: &mut Vec<PlotItem>,
    name: &str,
    points: Vec<[f64; 2]>,
    color: Color32,
    width: f32,
    style: LineStyle,
    marker: (MarkerShape, f32, bool),
) {
    if points.is_empty() {
        return;
    }
    let (shape, radius, filled) = marker;
    out.push(PlotItem::Line {
        name: name.to_string(),
        points: points.clone(),
        color,
        width,
        style,
    });
    out.push(PlotItem::Points {
        name: name.to_string(),
        points,
        color,
        radius,
        shape,
        filled,
    });
}

/// The loss terms worth a curve: the objective's terms, "total" only when it sums several, and
/// the clean-input MSE only when it differs from the reconstruction term (BCE, denoising, VAE).
pub fn plotted_terms(cfg: &crate::model::TrainConfig) -> Vec<Term> {
    let mut t: Vec<Term> = cfg
        .terms()
        .into_iter()
        .filter(|n| *n != Term::Total)
        .collect();
    if t.len() > 1 {
        t.push(Term::Total);
    }
    let differs = cfg.loss != crate::model::LossKind::Mse
        || cfg.noise.is_some()
        || cfg.model.arch == crate::model::Arch::Vae;
    if differs {
        t.push(Term::Mse);
    }
    t
}
