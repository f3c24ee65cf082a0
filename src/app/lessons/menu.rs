//! The top bar's Lessons menu: show or hide the card, the built-in course, the lesson files
//! opened before, and *Open lesson file…* (through the app's file dialogs, which fall back to
//! the in-app picker).

use super::{built_in, format, COURSE};
use crate::app::jobs::{self, DialogKind};
use crate::app::App;

impl App {
    /// The menu's items.
    pub(crate) fn lessons_menu(&mut self, ui: &mut egui::Ui) {
        if ui
            .selectable_label(self.lessons.open, "Show the lesson card")
            .on_hover_text("Show or hide the card above the panel (L).")
            .clicked()
        {
            self.lessons.open = !self.lessons.open;
            self.lessons_shown_changed();
            ui.close();
        }
        ui.separator();
        ui.weak("The course:");
        for i in 0..COURSE.len() {
            let Some(Ok(l)) = built_in(i) else { continue };
            let label = format!("{}. {}", i + 1, l.title);
            let tip = if l.topics.is_empty() {
                format!("{} steps", l.steps.len())
            } else {
                format!("{} steps: {}", l.steps.len(), l.topics.join(", "))
            };
            if ui.button(label).on_hover_text(tip).clicked() {
                self.lessons.show(l, 0);
                ui.close();
            }
        }
        if !self.lessons.opened.is_empty() {
            ui.separator();
            ui.weak("Opened before:");
            for p in self.lessons.opened.clone().iter().rev() {
                let name = p
                    .file_name()
                    .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into());
                if ui
                    .button(name)
                    .on_hover_text(p.display().to_string())
                    .clicked()
                {
                    self.open_lesson(p);
                    ui.close();
                }
            }
        }
        ui.separator();
        if ui
            .button("Open lesson file…")
            .on_hover_text(
                "A lesson of your own: Markdown text with a TOML header per step (see the README).",
            )
            .clicked()
        {
            if let Some(p) = self.shared.dialog_override.clone() {
                self.open_lesson(&p);
            } else {
                self.lessons.dialog = Some(jobs::file_dialog(
                    DialogKind::OpenLesson,
                    &self.shared.egui,
                    "",
                ));
            }
            ui.close();
        }
    }

    /// The card was shown or hidden: the step's hidden controls follow it.
    pub fn lessons_shown_changed(&mut self) {
        self.shared.hidden_controls.clear();
        if self.lessons.open {
            if let Ok(s) = self.lessons.step() {
                self.shared.hidden_controls = s.hide;
            }
        }
    }

    /// The answer of the *Open lesson file…* dialog (every frame).
    pub(crate) fn poll_lesson_dialog(&mut self) {
        if let Some(paths) = crate::tasks::take_done(&mut self.lessons.dialog) {
            if let Some(p) = paths.into_iter().next() {
                self.open_lesson(&p);
            }
        }
    }
}

/// Every built-in lesson, parsed (a broken one as its error).
pub fn course() -> Vec<Result<format::Lesson, format::LessonError>> {
    (0..COURSE.len()).filter_map(built_in).collect()
}
