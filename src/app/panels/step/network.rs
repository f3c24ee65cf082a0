//! The Step panel's drawing of the model: its layers in order, left to right, each a box
//! sized by its width (a convolution as a stack of feature maps), a VAE's μ and log σ² heads
//! side by side with the sampling node after them, a denoiser's corruption node before the
//! encoder. It owns the layout ([`Network`], built from a slow step's record or, before the
//! first step, from the model's config) and the painting, with the current layer highlighted
//! and, for the backward pass and the update, each layer's weight gradient (and update) norm
//! drawn as a bar above its box. It measures nothing: every number comes from the record.

use egui::{pos2, vec2, Align2, Color32, FontId, Rect, Stroke};

use crate::model::config::{Arch, ModelConfig};
use crate::model::params::{self, ConvLayout};
use crate::train::slow_step::SlowStep;

/// What a node of the drawing stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input digits.
    Input,
    /// The denoiser's corruption of the input.
    Corrupt,
    /// A layer with weights.
    Layer,
    /// A VAE's sampling node: z = μ + σ·ε.
    Sample,
    /// The reconstruction (after the output's sigmoid).
    Output,
}

/// One box of the drawing.
#[derive(Clone, Debug)]
pub struct Node {
    /// The layer's own name ("enc.0", "mu", "conv.1"), or "input", "corrupt", "z", "recon".
    pub name: String,
    /// One row's shape: `[n]`, or `[c, h, w]` for a convolutional layer.
    pub shape: Vec<usize>,
    pub kind: Kind,
    /// Left-to-right position.
    pub column: usize,
    /// Several nodes in one column (the VAE's heads) are stacked: 0 the top one.
    pub lane: usize,
}

impl Node {
    /// The width of the layer: its number of outputs.
    pub fn width(&self) -> usize {
        self.shape.iter().product::<usize>().max(1)
    }

    /// A short caption: the name and the size ("enc.0 256", "conv.0 8x14x14").
    pub fn caption(&self) -> String {
        let size = self
            .shape
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("x");
        match self.kind {
            Kind::Sample => "z = μ + σ·ε".to_string(),
            _ => format!("{} {size}", self.name),
        }
    }
}

/// The model as boxes in columns.
#[derive(Clone, Debug, Default)]
pub struct Network {
    pub nodes: Vec<Node>,
    pub columns: usize,
}

impl Network {
    /// The layout of `cfg`'s model (before any step), its shapes from the config.
    pub fn from_config(cfg: &ModelConfig, denoising: bool) -> Network {
        let mut layers: Vec<(String, Vec<usize>)> = Vec::new();
        match cfg.arch {
            Arch::Conv => {
                let c = ConvLayout::new(cfg);
                for (i, l) in c.convs.iter().enumerate() {
                    layers.push((
                        l.name.clone(),
                        vec![l.output, c.sizes[i + 1], c.sizes[i + 1]],
                    ));
                }
                layers.push((c.enc_fc.name.clone(), vec![cfg.latent]));
                let (ch, side) = c.last();
                layers.push((c.dec_fc.name.clone(), vec![ch, side, side]));
                let n = c.convs.len();
                for (j, l) in c.deconvs.iter().enumerate() {
                    let s = c.sizes[n - 1 - j];
                    layers.push((l.name.clone(), vec![l.output, s, s]));
                }
            }
            Arch::Dense | Arch::Vae => {
                for l in params::layers(cfg) {
                    if l.name == "dec.0" && cfg.arch == Arch::Vae {
                        layers.push(("z".into(), vec![cfg.latent]));
                    }
                    layers.push((l.name, vec![l.output]));
                }
            }
        }
        Self::build(layers, denoising)
    }

    /// The layout of the record's model, its shapes the layer outputs the step recorded.
    pub fn from_record(rec: &SlowStep) -> Network {
        let layers = rec
            .before
            .layers
            .iter()
            .filter(|l| l.name != "sigma" && l.name != "eps" && l.name != "recon")
            .map(|l| (l.name.clone(), l.shape.clone()))
            .collect();
        Self::build(layers, rec.corrupted.is_some())
    }

    fn build(layers: Vec<(String, Vec<usize>)>, denoising: bool) -> Network {
        let mut nodes = vec![Node {
            name: "input".into(),
            shape: vec![crate::PIXELS],
            kind: Kind::Input,
            column: 0,
            lane: 0,
        }];
        let mut column = 1;
        if denoising {
            nodes.push(Node {
                name: "corrupt".into(),
                shape: vec![crate::PIXELS],
                kind: Kind::Corrupt,
                column,
                lane: 0,
            });
            column += 1;
        }
        for (name, shape) in layers {
            let (kind, lane, col) = match name.as_str() {
                "mu" => (Kind::Layer, 0, column),
                // log σ² sits under μ, in the same column.
                "logvar" => (Kind::Layer, 1, column - 1),
                "z" => (Kind::Sample, 0, column),
                _ => (Kind::Layer, 0, column),
            };
            if col == column {
                column += 1;
            }
            nodes.push(Node {
                name,
                shape,
                kind,
                column: col,
                lane,
            });
        }
        nodes.push(Node {
            name: "recon".into(),
            shape: vec![crate::PIXELS],
            kind: Kind::Output,
            column,
            lane: 0,
        });
        Network {
            nodes,
            columns: column + 1,
        }
    }

    /// The node a recorded layer output is drawn on ("sigma" and "eps" on the sampling node).
    pub fn node_of(&self, layer: &str) -> Option<usize> {
        let name = match layer {
            "sigma" | "eps" => "z",
            other => other,
        };
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// Bars drawn above the layers: per layer, (gradient norm, update norm) of its weight tensor.
pub struct Bars<'a> {
    pub rec: &'a SlowStep,
    /// Also draw the update's norm beside the gradient's.
    pub updates: bool,
}

/// The colour of the gradient bars and of the update bars.
pub const GRAD: Color32 = Color32::from_rgb(0xE6, 0x9F, 0x00);
pub const UPDATE: Color32 = Color32::from_rgb(0x56, 0xB4, 0xE9);

/// Paints `net` in a strip `height` points tall across the available width; `current` is
/// highlighted. Returns the response of the whole drawing (named for tests and screen readers).
pub fn draw(
    ui: &mut egui::Ui,
    net: &Network,
    current: Option<usize>,
    bars: Option<Bars<'_>>,
    height: f32,
) -> egui::Response {
    let width = ui.available_width();
    let (rect, resp) = ui.allocate_exact_size(vec2(width, height), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let text = visuals.text_color();
    let weak = visuals.weak_text_color();
    let accent = visuals.selection.stroke.color;
    let fill = visuals.widgets.inactive.bg_fill;
    let font = FontId::proportional(11.0);
    let cols = net.columns.max(1) as f32;
    let col_w = rect.width() / cols;
    // Bars above, captions below, boxes between.
    // The bars' strip is kept when there are none, so the drawing does not jump.
    let bar_h = height * 0.26;
    let top = rect.top() + bar_h + 4.0;
    let caption_h = 30.0;
    let box_area = (rect.bottom() - caption_h - top).max(20.0);
    let mid_y = top + box_area / 2.0;
    let lanes_in = |c: usize| net.nodes.iter().filter(|n| n.column == c).count().max(1);

    let mut centers = Vec::with_capacity(net.nodes.len());
    let mut boxes = Vec::with_capacity(net.nodes.len());
    for n in &net.nodes {
        let cx = rect.left() + col_w * (n.column as f32 + 0.5);
        let lanes = lanes_in(n.column) as f32;
        let lane_h = box_area / lanes;
        let cy = top + lane_h * (n.lane as f32 + 0.5);
        let rel = (n.width() as f32 / crate::PIXELS as f32)
            .sqrt()
            .clamp(0.06, 1.0);
        let h = (lane_h * 0.92 * rel).max(8.0);
        let w = (col_w * 0.42).clamp(8.0, 30.0);
        let b = Rect::from_center_size(pos2(cx, cy), vec2(w, h));
        centers.push(pos2(cx, cy));
        boxes.push(b);
    }
    // Connections: each node to the next column's nodes (the heads both feed the sampler).
    for (i, n) in net.nodes.iter().enumerate() {
        for (j, m) in net.nodes.iter().enumerate() {
            if m.column == n.column + 1 {
                painter.line_segment(
                    [boxes[i].right_center(), boxes[j].left_center()],
                    Stroke::new(1.0, weak),
                );
            }
        }
    }
    for (i, n) in net.nodes.iter().enumerate() {
        let b = boxes[i];
        let on = current == Some(i);
        let stroke = if on {
            Stroke::new(3.0, accent)
        } else {
            Stroke::new(1.0, text)
        };
        match (n.kind, n.shape.len()) {
            (Kind::Sample, _) | (Kind::Corrupt, _) => {
                let r = (b.width() * 0.6).max(9.0);
                painter.circle(centers[i], r, fill, stroke);
                let sign = if n.kind == Kind::Sample { "+" } else { "~" };
                painter.text(centers[i], Align2::CENTER_CENTER, sign, font.clone(), text);
            }
            (_, 3) => {
                // Feature maps: a stack of squares, one per channel (at most 6 drawn).
                let c = n.shape[0].min(6);
                let side = ((n.shape[1] as f32 / 28.0).sqrt() * box_area * 0.45).max(10.0);
                let step = 4.0;
                let total = side + step * (c as f32 - 1.0);
                let origin = centers[i] - vec2(total / 2.0, total / 2.0);
                for k in (0..c).rev() {
                    let o = origin + vec2(step * k as f32, step * k as f32);
                    let r = Rect::from_min_size(o, vec2(side, side));
                    painter.rect(r, 1.0, fill, stroke, egui::StrokeKind::Middle);
                }
                boxes[i] = Rect::from_min_size(origin, vec2(total, total));
            }
            _ => {
                painter.rect(b, 2.0, fill, stroke, egui::StrokeKind::Middle);
            }
        }
        let color = if on { accent } else { text };
        let stacked = lanes_in(n.column) > 1;
        let bottom = match n.kind {
            Kind::Sample | Kind::Corrupt => centers[i].y + (b.width() * 0.6).max(9.0),
            _ => boxes[i].bottom(),
        };
        if stacked {
            // Heads share a column: one line each, right under its box.
            painter.text(
                pos2(centers[i].x, bottom + 2.0),
                Align2::CENTER_TOP,
                n.caption(),
                font.clone(),
                color,
            );
            continue;
        }
        let caption = n.caption();
        // Stack the parts of a long caption: the name over the size.
        let (a, b2) = caption.split_once(' ').unwrap_or((&caption, ""));
        let (a, b2) = if n.kind == Kind::Sample {
            ("z", "μ + σ·ε")
        } else {
            (a, b2)
        };
        let y = (bottom.max(mid_y) + 4.0).min(rect.bottom() - caption_h + 2.0);
        let below = pos2(centers[i].x, y);
        painter.text(below, Align2::CENTER_TOP, a, font.clone(), color);
        painter.text(
            below + vec2(0.0, 13.0),
            Align2::CENTER_TOP,
            b2,
            font.clone(),
            weak,
        );
    }
    if let Some(bars) = bars {
        draw_bars(&painter, net, &boxes, &bars, rect.top(), bar_h, &font, text);
    }
    resp
}

/// Per layer, its weight tensor's gradient norm (and update norm) as bars in the `bar_h`
/// strip at the top, each scaled to the largest of its kind, with the number over it.
#[allow(clippy::too_many_arguments)]
fn draw_bars(
    painter: &egui::Painter,
    net: &Network,
    boxes: &[Rect],
    bars: &Bars<'_>,
    top: f32,
    bar_h: f32,
    font: &FontId,
    text: Color32,
) {
    let weight = |n: &Node| bars.rec.tensor(&format!("{}.weight", n.name));
    let max_g = net
        .nodes
        .iter()
        .filter_map(|n| weight(n).map(|t| t.grad_norm))
        .fold(0.0f64, f64::max);
    let max_u = net
        .nodes
        .iter()
        .filter_map(|n| weight(n).map(|t| t.update_norm))
        .fold(0.0f64, f64::max);
    let bottom = top + bar_h;
    let room = bar_h - 14.0;
    for (i, n) in net.nodes.iter().enumerate() {
        let Some(t) = weight(n) else { continue };
        // A VAE's μ and log σ² heads share an x: their bars and numbers go either side.
        let twin = (0..boxes.len())
            .find(|&j| j != i && (boxes[j].center().x - boxes[i].center().x).abs() < 1.0);
        let side = match twin {
            Some(j) if j > i => -1.0,
            Some(_) => 1.0,
            None => 0.0,
        };
        let x = boxes[i].center().x + side * 14.0;
        let one = |v: f64, max: f64, dx: f32, color: Color32| {
            let h = if max > 0.0 {
                (v / max) as f32 * room
            } else {
                0.0
            };
            let r = Rect::from_min_max(pos2(x + dx - 4.0, bottom - h), pos2(x + dx + 4.0, bottom));
            painter.rect_filled(r, 1.0, color);
        };
        if bars.updates {
            one(t.grad_norm, max_g, -5.0, GRAD);
            one(t.update_norm, max_u, 5.0, UPDATE);
        } else {
            one(t.grad_norm, max_g, 0.0, GRAD);
            let (at, align) = match side {
                s if s < 0.0 => (pos2(x - 8.0, top), Align2::RIGHT_TOP),
                s if s > 0.0 => (pos2(x + 8.0, top), Align2::LEFT_TOP),
                _ => (pos2(x, top), Align2::CENTER_TOP),
            };
            painter.text(
                at,
                align,
                format!("{:.2e}", t.grad_norm),
                font.clone(),
                text,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{TrainConfig, Variant};

    fn names(net: &Network) -> Vec<&str> {
        net.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn dense_is_a_chain_sized_by_width() {
        let cfg = TrainConfig::preset(Variant::Dense, 2).model;
        let net = Network::from_config(&cfg, false);
        let widths: Vec<usize> = net.nodes.iter().map(Node::width).collect();
        assert_eq!(widths.first(), Some(&784));
        assert_eq!(widths.last(), Some(&784));
        assert!(widths.contains(&2));
        assert_eq!(net.columns, net.nodes.len());
    }

    #[test]
    fn a_vae_has_two_heads_in_one_column_and_a_sampler() {
        let cfg = TrainConfig::preset(Variant::Vae, 2).model;
        let net = Network::from_config(&cfg, false);
        let n = names(&net);
        let mu = n.iter().position(|&s| s == "mu").unwrap();
        let lv = n.iter().position(|&s| s == "logvar").unwrap();
        assert_eq!(net.nodes[mu].column, net.nodes[lv].column);
        assert_eq!((net.nodes[mu].lane, net.nodes[lv].lane), (0, 1));
        let z = n.iter().position(|&s| s == "z").unwrap();
        assert_eq!(net.nodes[z].kind, Kind::Sample);
        assert_eq!(net.nodes[z].column, net.nodes[mu].column + 1);
        assert_eq!(net.node_of("eps"), Some(z));
    }

    #[test]
    fn conv_layers_are_stacks_and_a_denoiser_has_its_corruption_node() {
        let cfg = TrainConfig::preset(Variant::Conv, 2).model;
        let net = Network::from_config(&cfg, true);
        assert_eq!(net.nodes[1].kind, Kind::Corrupt);
        assert!(net.nodes.iter().any(|n| n.shape.len() == 3));
    }
}
