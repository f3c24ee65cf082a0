//! A step's text: the small part of Markdown a lesson needs, drawn with egui. Paragraphs
//! (blank lines between), `# headings`, `- ` or `* ` bullet lists, `**bold**` and `*italic*`
//! inside a line. Formulas are plain Unicode (L = mean (x̂ − x)²), as everywhere in the app.

use egui::text::{LayoutJob, TextFormat};
use egui::{FontId, TextStyle};

/// One block of the text.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Bullet(String),
}

/// Splits Markdown into blocks (lines of a paragraph are joined with spaces).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut Vec<Block>| {
        if !para.trim().is_empty() {
            out.push(Block::Paragraph(para.trim().to_string()));
        }
        para.clear();
    };
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            flush(&mut para, &mut out);
        } else if let Some(h) = t.strip_prefix('#') {
            flush(&mut para, &mut out);
            out.push(Block::Heading(h.trim_start_matches('#').trim().to_string()));
        } else if let Some(b) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            flush(&mut para, &mut out);
            out.push(Block::Bullet(b.trim().to_string()));
        } else if matches!(out.last(), Some(Block::Bullet(_)))
            && para.is_empty()
            && line.starts_with("  ")
        {
            // A bullet's continuation line.
            if let Some(Block::Bullet(b)) = out.last_mut() {
                b.push(' ');
                b.push_str(t);
            }
        } else {
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(t);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// A line with `**bold**` and `*italic*` spans, wrapped to the width available.
fn inline(ui: &egui::Ui, text: &str, font: FontId, strong: bool) -> LayoutJob {
    let color = ui.visuals().text_color();
    let strong_color = ui.visuals().strong_text_color();
    let mut job = LayoutJob::default();
    let (mut bold, mut italic) = (strong, false);
    let mut rest = text;
    while !rest.is_empty() {
        let next = rest.find('*').unwrap_or(rest.len());
        if next > 0 {
            let fmt = TextFormat {
                font_id: font.clone(),
                color: if bold { strong_color } else { color },
                italics: italic,
                ..Default::default()
            };
            job.append(&rest[..next], 0.0, fmt);
        }
        rest = &rest[next..];
        if let Some(r) = rest.strip_prefix("**") {
            bold = !bold || strong;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            italic = !italic;
            rest = r;
        }
    }
    job.wrap.max_width = ui.available_width();
    job
}

/// Draws Markdown `text`.
pub fn show(ui: &mut egui::Ui, text: &str) {
    let body = TextStyle::Body.resolve(ui.style());
    let heading = FontId::new(body.size * 1.15, body.family.clone());
    for b in blocks(text) {
        match b {
            Block::Heading(h) => {
                let job = inline(ui, &h, heading.clone(), true);
                ui.label(job);
            }
            Block::Paragraph(p) => {
                let job = inline(ui, &p, body.clone(), false);
                ui.label(job);
            }
            Block::Bullet(item) => {
                ui.horizontal_top(|ui| {
                    ui.label("•");
                    let job = inline(ui, &item, body.clone(), false);
                    ui.label(job);
                });
            }
        }
        ui.add_space(2.0);
    }
}

/// The text without Markdown marks (tests search it).
pub fn plain(text: &str) -> String {
    blocks(text)
        .into_iter()
        .map(|b| match b {
            Block::Heading(s) | Block::Paragraph(s) | Block::Bullet(s) => s.replace('*', ""),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_headings_and_bullets() {
        let b = blocks("# Title\nfirst line\nsecond line\n\n- one\n- two\n  more\n\nlast");
        assert_eq!(
            b,
            vec![
                Block::Heading("Title".into()),
                Block::Paragraph("first line second line".into()),
                Block::Bullet("one".into()),
                Block::Bullet("two more".into()),
                Block::Paragraph("last".into()),
            ]
        );
        assert_eq!(plain("a **b** c"), "a b c");
    }
}
