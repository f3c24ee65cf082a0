//! Lessons as files: the built-in course (`assets/lessons/*.lesson`, compiled in), lessons a
//! teacher opens from a file, and the lesson card's state (which lesson, which step, the
//! class's guesses and each question's Reveal). `format` parses the files, `answer` (the
//! engine's `analysis::answers`) measures what a question asks, `card` draws the card, `apply`
//! sets a step up in the app's panels, `menu` is the Lessons menu, `markdown` draws a step's
//! text.

/// What a question's Reveal measures (the engine's `analysis::answers`).
pub use crate::analysis::answers as answer;
pub mod apply;
pub mod card;
pub mod format;
pub mod markdown;
pub mod menu;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use answer::{AnswerKind, Measured};
pub use format::{Control, Lesson, LessonError, ModelChoice, Origin, Step};

use super::Shared;
use crate::model::{TrainConfig, TrainedModel};
use crate::tasks::Task;
use crate::train::worker::RunState;

/// The built-in course, in teaching order: (file name, text).
pub const COURSE: [(&str, &str); 17] = [
    (
        "01-what-an-autoencoder-is.lesson",
        include_str!("../../../assets/lessons/01-what-an-autoencoder-is.lesson"),
    ),
    (
        "02-mse-vs-bce.lesson",
        include_str!("../../../assets/lessons/02-mse-vs-bce.lesson"),
    ),
    (
        "03-vanilla-deep-conv.lesson",
        include_str!("../../../assets/lessons/03-vanilla-deep-conv.lesson"),
    ),
    (
        "04-undercomplete-overcomplete.lesson",
        include_str!("../../../assets/lessons/04-undercomplete-overcomplete.lesson"),
    ),
    (
        "05-denoising.lesson",
        include_str!("../../../assets/lessons/05-denoising.lesson"),
    ),
    (
        "06-sparse.lesson",
        include_str!("../../../assets/lessons/06-sparse.lesson"),
    ),
    (
        "07-contractive.lesson",
        include_str!("../../../assets/lessons/07-contractive.lesson"),
    ),
    (
        "08-vae.lesson",
        include_str!("../../../assets/lessons/08-vae.lesson"),
    ),
    (
        "09-interpolation-generation.lesson",
        include_str!("../../../assets/lessons/09-interpolation-generation.lesson"),
    ),
    (
        "10-style-and-content.lesson",
        include_str!("../../../assets/lessons/10-style-and-content.lesson"),
    ),
    (
        "11-one-training-step.lesson",
        include_str!("../../../assets/lessons/11-one-training-step.lesson"),
    ),
    (
        "12-ae-vs-pca.lesson",
        include_str!("../../../assets/lessons/12-ae-vs-pca.lesson"),
    ),
    (
        "13-maps-of-wide-codes.lesson",
        include_str!("../../../assets/lessons/13-maps-of-wide-codes.lesson"),
    ),
    (
        "14-anomaly-detection.lesson",
        include_str!("../../../assets/lessons/14-anomaly-detection.lesson"),
    ),
    (
        "15-features.lesson",
        include_str!("../../../assets/lessons/15-features.lesson"),
    ),
    (
        "16-reconstruction-vs-representation.lesson",
        include_str!("../../../assets/lessons/16-reconstruction-vs-representation.lesson"),
    ),
    (
        "17-compression.lesson",
        include_str!("../../../assets/lessons/17-compression.lesson"),
    ),
];

/// Built-in lesson `i` (0-based), parsed.
pub fn built_in(i: usize) -> Option<Result<Lesson, LessonError>> {
    let (name, text) = COURSE.get(i)?;
    Some(format::parse(
        text,
        &format!("built-in: {name}"),
        None,
        Origin::BuiltIn(name),
    ))
}

/// Whether a dropped or opened file is a lesson (`.lesson`, or `.lesson.md`).
pub fn is_lesson_path(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    p.is_file() && (name.ends_with(".lesson") || name.ends_with(".lesson.md"))
}

/// Where the class is in a lesson (kept in the settings: the last lesson reopens at its step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// `builtin:FILE` for the built-in course, else the lesson file's path.
    pub lesson: String,
    pub step: usize,
    pub open: bool,
}

impl Place {
    /// The lesson this place names.
    pub fn load(&self) -> Result<Lesson, LessonError> {
        if let Some(name) = self.lesson.strip_prefix("builtin:") {
            let i = COURSE.iter().position(|(n, _)| *n == name);
            return i.and_then(built_in).unwrap_or_else(|| {
                Err(LessonError {
                    file: self.lesson.clone(),
                    line: 1,
                    reason: "no such built-in lesson".into(),
                })
            });
        }
        format::load(Path::new(&self.lesson))
    }
}

/// Where a question's Reveal is.
pub enum Reveal {
    /// Not asked yet.
    Waiting,
    /// Training the step's model first (`seen_running` once the run has started).
    Training {
        seen_running: bool,
    },
    Measuring(Task<Result<Measured, String>>),
    Done(Result<Measured, String>),
}

/// The class's answers to one step's question.
pub struct Answers {
    /// Votes per choice.
    pub votes: Vec<u32>,
    /// Number guesses, in the order given.
    pub guesses: Vec<f64>,
    /// The number being entered.
    pub entry: f64,
    pub reveal: Reveal,
}

impl Answers {
    fn new(choices: usize) -> Self {
        Answers {
            votes: vec![0; choices],
            guesses: Vec::new(),
            entry: 0.0,
            reveal: Reveal::Waiting,
        }
    }

    /// The measured answer, once revealed.
    pub fn measured(&self) -> Option<&Measured> {
        match &self.reveal {
            Reveal::Done(Ok(m)) => Some(m),
            _ => None,
        }
    }
}

/// The lesson card's state.
#[derive(Default)]
pub struct Lessons {
    pub open: bool,
    /// Folded to its title line, so the panel gets the room.
    pub collapsed: bool,
    /// The lesson shown (`None`: the first built-in one, loaded when the card opens).
    pub lesson: Option<Arc<Lesson>>,
    /// The step shown (0-based).
    pub index: usize,
    /// Lesson files opened (this session and remembered), newest last.
    pub opened: Vec<PathBuf>,
    /// Tests cap the epochs a step trains for.
    pub epoch_cap: Option<usize>,
    /// The class's answers by step.
    pub answers: HashMap<usize, Answers>,
    /// The step is to be set up in the panels (the app does it after drawing the card).
    pub apply_pending: bool,
    /// Interpolate's endpoints wait for its map.
    pub pending_images: Option<Vec<usize>>,
    /// Why the last lesson file could not be opened.
    pub error: Option<LessonError>,
    /// The *Open lesson file…* dialog, while it is open.
    pub dialog: Option<Task<Vec<PathBuf>>>,
}

impl Lessons {
    /// The lesson shown (the first built-in one by default).
    pub fn lesson(&mut self) -> Arc<Lesson> {
        if self.lesson.is_none() {
            let first = built_in(0)
                .expect("the course has lessons")
                .expect("the first built-in lesson parses");
            self.lesson = Some(Arc::new(first));
        }
        self.lesson.clone().expect("set above")
    }

    /// The step shown, or why it cannot be.
    pub fn step(&mut self) -> Result<Step, LessonError> {
        let l = self.lesson();
        let i = self.index.min(l.steps.len() - 1);
        l.steps[i].clone()
    }

    /// Shows `lesson` from its first step (or `step`), and asks for it to be set up.
    pub fn show(&mut self, lesson: Lesson, step: usize) {
        self.index = step.min(lesson.steps.len().saturating_sub(1));
        if let Origin::File(p) = &lesson.origin {
            self.opened.retain(|o| o != p);
            self.opened.push(p.clone());
        }
        self.lesson = Some(Arc::new(lesson));
        self.answers.clear();
        self.error = None;
        self.open = true;
        self.collapsed = false;
        self.apply_pending = true;
    }

    /// Opens a lesson file; a file that cannot be read or parsed is shown as an error card.
    pub fn open_file(&mut self, path: &Path, shared: &mut Shared) {
        match format::load(path) {
            Ok(l) => self.show(l, 0),
            Err(e) => {
                shared.notify(super::Level::Error, format!("Cannot open the lesson: {e}"));
                self.error = Some(e);
                self.open = true;
            }
        }
    }

    /// Goes to step `i` and asks for it to be set up.
    pub fn go(&mut self, i: usize) {
        let n = self.lesson().steps.len();
        self.index = i.min(n - 1);
        self.apply_pending = true;
    }

    /// Where the class is, for the settings.
    pub fn place(&self) -> Option<Place> {
        let l = self.lesson.as_ref()?;
        let lesson = match &l.origin {
            Origin::BuiltIn(name) => format!("builtin:{name}"),
            Origin::File(p) => p.display().to_string(),
        };
        Some(Place {
            lesson,
            step: self.index,
            open: self.open,
        })
    }

    /// The step's training settings, with the tests' cap on epochs.
    pub fn config_of(&self, step: &Step) -> Option<TrainConfig> {
        step.config().map(|c| {
            let mut c = c.clone();
            if let Some(cap) = self.epoch_cap {
                c.epochs = c.epochs.min(cap);
            }
            c
        })
    }

    /// The class's answers to step `i`'s question.
    pub fn answers_mut(&mut self, i: usize, choices: usize) -> &mut Answers {
        self.answers
            .entry(i)
            .or_insert_with(|| Answers::new(choices))
    }

    /// Starts the Reveal of the current step's question: trains the step's model first when
    /// the model on screen is not it, then measures.
    pub fn reveal(&mut self, shared: &mut Shared) {
        let Ok(step) = self.step() else { return };
        let Some(q) = step.question.clone() else {
            return;
        };
        let i = self.index;
        let cfg = self.config_of(&step);
        let needs_training = q.answer.needs_model()
            && cfg
                .as_ref()
                .is_some_and(|c| !shared.model().is_some_and(|m| trained_for(m, c)));
        if needs_training {
            let cfg = cfg.expect("checked");
            shared.settings.train = cfg;
            let state = match shared.start_training() {
                Ok(()) => Reveal::Training {
                    seen_running: false,
                },
                Err(e) => Reveal::Done(Err(format!("cannot train the step's model: {e}"))),
            };
            self.answers_mut(i, q.choices.len()).reveal = state;
        } else {
            let task = self.measure_task(&step, shared);
            self.answers_mut(i, q.choices.len()).reveal = Reveal::Measuring(task);
        }
    }

    fn measure_task(&self, step: &Step, shared: &Shared) -> Task<Result<Measured, String>> {
        let kind = step
            .question
            .as_ref()
            .map_or(AnswerKind::TestMse, |q| q.answer);
        let model = shared.model().cloned();
        let data = shared.data.clone();
        let mut detector = answer::detector(step.view.held_out.as_deref(), data.num_classes());
        if let Some(cap) = self.epoch_cap {
            detector.epochs = detector.epochs.min(cap);
        }
        let waker = super::jobs::repaint(&shared.egui);
        Task::spawn_controlled("lesson-answer", 0, Some(waker), move |c| {
            answer::measure(kind, model.as_deref(), &data, &detector, Some(c))
        })
    }

    /// Moves every Reveal on (once per frame).
    pub fn poll(&mut self, shared: &mut Shared) {
        let Some(lesson) = self.lesson.clone() else {
            return;
        };
        let state = shared.runs_state();
        let keys: Vec<usize> = self.answers.keys().copied().collect();
        for i in keys {
            let Some(Ok(step)) = lesson.steps.get(i) else {
                continue;
            };
            let cfg = self.config_of(step);
            let next = match &mut self.answers.get_mut(&i).expect("listed").reveal {
                Reveal::Training { seen_running } => {
                    if state != RunState::Idle {
                        *seen_running = true;
                        None
                    } else if *seen_running {
                        let ok = cfg
                            .as_ref()
                            .is_none_or(|c| shared.model().is_some_and(|m| trained_for(m, c)));
                        Some(if ok {
                            Reveal::Measuring(self.measure_task(step, shared))
                        } else {
                            let why = shared
                                .a()
                                .view
                                .message
                                .as_ref()
                                .map(|(_, m)| m.clone())
                                .unwrap_or_else(|| {
                                    "training stopped before the step's model was trained".into()
                                });
                            Reveal::Done(Err(why))
                        })
                    } else {
                        None
                    }
                }
                Reveal::Measuring(task) => task.poll().map(Reveal::Done),
                _ => None,
            };
            if let Some(n) = next {
                self.answers.get_mut(&i).expect("listed").reveal = n;
            }
        }
    }
}

/// Whether `model` was trained with `cfg` (its epochs aside: a small data set stretches them).
pub fn trained_for(model: &TrainedModel, cfg: &TrainConfig) -> bool {
    let mut c = model.config().clone();
    c.epochs = cfg.epochs;
    c == *cfg && model.meta.epochs_trained > 0
}
