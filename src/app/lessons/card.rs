//! The lesson card above the panel: the lesson's and the step's titles, Back / Next, the step's
//! text (or, for a step that did not parse, its error: file, line, reason), the question with
//! the class's guesses and Reveal, and the buttons that set up or train the step's model.

use egui::RichText;

use super::answer::format_value;
use super::format::{Question, Step};
use super::{Lessons, Reveal};
use crate::app::{Level, Shared};
use crate::train::worker::RunState;

impl Lessons {
    /// The card.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        if let Some(e) = self.error.clone() {
            ui.horizontal(|ui| {
                ui.strong("This lesson cannot be opened");
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("Close").clicked() {
                        self.error = None;
                    }
                });
            });
            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
            return;
        }
        let lesson = self.lesson();
        let n = lesson.steps.len();
        self.index = self.index.min(n - 1);
        let step = lesson.steps[self.index].clone();
        let step_title = match &step {
            Ok(s) => s.title.clone(),
            Err(_) => "(cannot be shown)".into(),
        };
        ui.horizontal(|ui| {
            ui.strong(format!(
                "{} · Step {} of {n}: {step_title}",
                lesson.title,
                self.index + 1
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Close").clicked() {
                    self.open = false;
                    shared.hidden_controls.clear();
                }
                let (label, tip) = if self.collapsed {
                    ("Show text", "Show the lesson's text and buttons again.")
                } else {
                    (
                        "Fold",
                        "Fold the lesson to this line, so the panel gets the room.",
                    )
                };
                if ui.button(label).on_hover_text(tip).clicked() {
                    self.collapsed = !self.collapsed;
                }
                if ui
                    .add_enabled(self.index + 1 < n, egui::Button::new("Next"))
                    .clicked()
                {
                    self.go(self.index + 1);
                }
                if ui
                    .add_enabled(self.index > 0, egui::Button::new("Back"))
                    .clicked()
                {
                    self.go(self.index - 1);
                }
            });
        });
        if self.collapsed {
            return;
        }
        let step = match step {
            Ok(s) => s,
            Err(e) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("This step cannot be shown: {e}"),
                );
                ui.weak("The other steps are not affected: Back and Next move on.");
                return;
            }
        };
        egui::ScrollArea::vertical()
            .id_salt("lesson-text")
            .max_height(ui.available_height() * 0.45)
            .show(ui, |ui| {
                if self.index == 0 && !lesson.intro.is_empty() {
                    super::markdown::show(ui, &lesson.intro);
                }
                super::markdown::show(ui, &step.text);
            });
        if let Some(q) = &step.question {
            ui.separator();
            self.question_ui(ui, shared, &step, q);
        }
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Use these settings")
                .on_hover_text("Set the step up again: its data, model, panel and view.")
                .clicked()
            {
                self.apply_pending = true;
            }
            if let Some(cfg) = self.config_of(&step) {
                let idle = shared.runs_state() == RunState::Idle;
                if ui
                    .add_enabled(idle, egui::Button::new("Train it"))
                    .on_hover_text("Set the step's model and start training it.")
                    .clicked()
                {
                    shared.settings.train = cfg.clone();
                    if let Err(e) = shared.start_training() {
                        shared.notify(Level::Error, format!("Cannot start: {e}"));
                    }
                }
                ui.weak(cfg.describe());
            }
        });
    }

    fn question_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, step: &Step, q: &Question) {
        let i = self.index;
        ui.label(RichText::new(format!("Predict first: {}", q.ask)).strong());
        let unit = q.answer.unit();
        let mut reveal = false;
        {
            let a = self.answers_mut(i, q.choices.len());
            let measured = a.measured().cloned();
            if q.is_choice() {
                ui.horizontal_wrapped(|ui| {
                    for (c, choice) in q.choices.iter().enumerate() {
                        let votes = a.votes[c];
                        let right = measured.as_ref().and_then(|m| m.outcome) == Some(c);
                        let text = format!("{choice} ({votes})");
                        let text = if right {
                            RichText::new(format!("✔ {text}")).strong()
                        } else {
                            RichText::new(text)
                        };
                        if ui
                            .add_enabled(measured.is_none(), egui::Button::new(text))
                            .on_hover_text("A vote for this answer (click once per student).")
                            .clicked()
                        {
                            a.votes[c] += 1;
                        }
                    }
                });
            } else {
                ui.horizontal_wrapped(|ui| {
                    let label = ui.label("A guess:");
                    let step = q.answer.guess_step();
                    if ui.button("−").on_hover_text("Lower the guess.").clicked() {
                        a.entry = (a.entry - step).max(0.0);
                    }
                    ui.add(
                        egui::DragValue::new(&mut a.entry)
                            .speed(step)
                            .range(0.0..=f64::MAX)
                            .max_decimals(4),
                    )
                    .labelled_by(label.id);
                    if ui.button("+").on_hover_text("Raise the guess.").clicked() {
                        a.entry += step;
                    }
                    if !unit.is_empty() {
                        ui.label(unit);
                    }
                    if ui
                        .add_enabled(measured.is_none(), egui::Button::new("Add guess"))
                        .clicked()
                    {
                        a.guesses.push(a.entry);
                    }
                    if !a.guesses.is_empty() {
                        let best = measured.as_ref().and_then(|m| closest(&a.guesses, m.value));
                        let list: Vec<String> = a
                            .guesses
                            .iter()
                            .enumerate()
                            .map(|(j, g)| {
                                let mark = if best == Some(j) { " (closest)" } else { "" };
                                format!("{}{mark}", trim_number(*g))
                            })
                            .collect();
                        ui.label(format!("Guesses: {}", list.join(", ")));
                    }
                });
            }
            ui.horizontal_wrapped(|ui| match &a.reveal {
                Reveal::Waiting => {
                    let what = if q.answer.needs_model() && step.config().is_some() {
                        "Train the step's model if it is not trained yet, then measure the answer."
                    } else {
                        "Measure the answer on the model and data on screen."
                    };
                    if ui.button("Reveal").on_hover_text(what).clicked() {
                        reveal = true;
                    }
                }
                Reveal::Training { .. } => {
                    ui.spinner();
                    ui.label("Training the step's model (watch the Train panel's curve)…");
                }
                Reveal::Measuring(task) => {
                    ui.spinner();
                    let (done, total) = task.progress();
                    if total > 0 {
                        ui.label(format!("Measuring… {done} of {total} steps"));
                    } else {
                        ui.label("Measuring…");
                    }
                }
                Reveal::Done(Ok(m)) => {
                    let answer = match m.outcome {
                        Some(o) => q.choices.get(o).cloned().unwrap_or_default(),
                        None => format_value(q.answer, m.value),
                    };
                    ui.label(RichText::new(format!("Measured: {answer}")).strong());
                    ui.label(format!("({})", m.detail));
                }
                Reveal::Done(Err(e)) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Cannot measure: {e}"));
                }
            });
            if matches!(a.reveal, Reveal::Done(_)) && ui.small_button("Ask again").clicked() {
                a.reveal = Reveal::Waiting;
                a.votes.iter_mut().for_each(|v| *v = 0);
                a.guesses.clear();
            }
        }
        if reveal {
            self.reveal(shared);
        }
    }
}

/// The guess nearest `value`.
fn closest(guesses: &[f64], value: f64) -> Option<usize> {
    guesses
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - value).abs().total_cmp(&(b.1 - value).abs()))
        .map(|(i, _)| i)
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
