//! The lesson file format and its parser. A lesson is a text file: blocks of TOML between two
//! lines `+++`, each followed by Markdown. The first block is the lesson's header (title,
//! topics), the Markdown after it an introduction; every further block is one step: what it sets
//! up (data set, model, panel, the panel's state, hidden controls, a question) and its text.
//! The README's "Lessons" section documents it with a complete example.
//!
//! Errors name the file, the line and what was expected. A step that does not parse becomes an
//! `Err` in [`Lesson::steps`] (shown as an error card) without breaking the others; only a
//! lesson without a readable header or without any step fails as a whole.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::answer::AnswerKind;
use crate::analysis::embed::Method;
use crate::app::Tab;
use crate::data::{DatasetSource, NoiseKind};
use crate::model::{LossKind, NoiseSpec, OptimizerKind, TrainConfig, Variant};

/// Where Debian installs Fashion-MNIST (`data = "fashion"`).
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// What is wrong in a lesson file, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonError {
    /// The file's path as given (or `built-in: NAME`).
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for LessonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, line {}: {}", self.file, self.line, self.reason)
    }
}

impl std::error::Error for LessonError {}

/// Where a lesson came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in course: the file name under `assets/lessons/`.
    BuiltIn(&'static str),
    File(PathBuf),
}

/// A parsed lesson.
#[derive(Clone, Debug)]
pub struct Lesson {
    pub title: String,
    pub topics: Vec<String>,
    /// The Markdown after the header (may be empty).
    pub intro: String,
    /// Every step in order; one that did not parse is its error.
    pub steps: Vec<Result<Step, LessonError>>,
    pub origin: Origin,
}

/// The data set a step opens.
#[derive(Clone, Debug, PartialEq)]
pub enum DataChoice {
    /// The 10,000 MNIST digits built in.
    Digits,
    /// Fashion-MNIST where Debian installs it.
    Fashion,
    /// A folder or file, resolved against the lesson file's folder.
    Path(PathBuf),
}

impl DataChoice {
    pub fn source(&self) -> DatasetSource {
        match self {
            DataChoice::Digits => DatasetSource::Embedded,
            DataChoice::Fashion => DatasetSource::Dir(FASHION_MNIST_DIR.into()),
            DataChoice::Path(p) => DatasetSource::Dir(p.clone()),
        }
    }
}

/// The model a step shows.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    /// A built-in trained model, by key (`dense-2d`, …).
    Bundled(&'static str),
    /// Settings for the form; *Train it* (or a question's Reveal) trains them.
    Train(TrainConfig),
}

/// The panel's state where a step sets it (absent: the panel keeps its own).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PanelState {
    /// Latent space: how a code wider than 2 is drawn.
    pub method: Option<Method>,
    /// Latent space: decode a grid of the map behind the points.
    pub manifold: Option<bool>,
    /// Denoise: the corruption and its level.
    pub noise: Option<NoiseKind>,
    pub level: Option<f32>,
    /// Anomaly: the classes held out of training (the anomalies).
    pub held_out: Option<Vec<u8>>,
    /// Interpolate: the two test images (indices); Latent space: the image selected.
    pub images: Option<Vec<usize>>,
    /// Interpolate: where the slider stands (0 … 1).
    pub t: Option<f32>,
    /// Compression: bytes per image of the side-by-side view.
    pub budget: Option<f64>,
    /// Train: the loss plot's logarithmic scale.
    pub log_scale: Option<bool>,
    /// Generate: which of its views (every class, the style × class grid, the style plane,
    /// prior samples).
    pub generate: Option<crate::app::panels::generate::View>,
}

/// A control of the side panel a step may hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    Dataset,
    Variant,
    Latent,
    Layers,
    Loss,
    Denoising,
    Sparsity,
    Contractive,
    Beta,
    Optimiser,
    LearningRate,
    Batch,
    Epochs,
    Seed,
    /// Not a side-panel control: the figures a panel measures beside its pictures (the
    /// Generate panel's recognition and style lines), hidden so a question can be asked first.
    Measures,
}

impl Control {
    pub const ALL: [Control; 15] = [
        Control::Dataset,
        Control::Variant,
        Control::Latent,
        Control::Layers,
        Control::Loss,
        Control::Denoising,
        Control::Sparsity,
        Control::Contractive,
        Control::Beta,
        Control::Optimiser,
        Control::LearningRate,
        Control::Batch,
        Control::Epochs,
        Control::Seed,
        Control::Measures,
    ];

    /// The spelling in a lesson file.
    pub fn name(self) -> &'static str {
        match self {
            Control::Dataset => "dataset",
            Control::Variant => "variant",
            Control::Latent => "k",
            Control::Layers => "layers",
            Control::Loss => "loss",
            Control::Denoising => "denoising",
            Control::Sparsity => "sparsity",
            Control::Contractive => "contractive",
            Control::Beta => "beta",
            Control::Optimiser => "optimiser",
            Control::LearningRate => "lr",
            Control::Batch => "batch",
            Control::Epochs => "epochs",
            Control::Seed => "seed",
            Control::Measures => "measures",
        }
    }

    pub fn parse(s: &str) -> Option<Control> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// A question the class answers before the step shows the answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub ask: String,
    /// What Reveal measures.
    pub answer: AnswerKind,
    /// A multiple-choice question's options, in the order of the answer's outcomes (empty: a
    /// number question).
    pub choices: Vec<String>,
}

impl Question {
    pub fn is_choice(&self) -> bool {
        !self.choices.is_empty()
    }
}

/// One step of a lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub title: String,
    /// Markdown.
    pub text: String,
    pub panel: Tab,
    pub data: Option<DataChoice>,
    pub model: Option<ModelChoice>,
    pub view: PanelState,
    pub hide: Vec<Control>,
    pub question: Option<Question>,
    /// The line of the step's opening `+++`.
    pub line: usize,
}

impl Step {
    /// The training settings of a step that trains (None for a built-in model or none).
    pub fn config(&self) -> Option<&TrainConfig> {
        match &self.model {
            Some(ModelChoice::Train(c)) => Some(c),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    title: String,
    #[serde(default)]
    topics: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: String,
    panel: String,
    data: Option<String>,
    #[serde(default)]
    hide: Vec<String>,
    model: Option<RawModel>,
    view: Option<RawView>,
    question: Option<RawQuestion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    bundled: Option<String>,
    variant: Option<String>,
    k: Option<usize>,
    epochs: Option<usize>,
    seed: Option<u64>,
    hidden: Option<Vec<usize>>,
    channels: Option<Vec<usize>>,
    loss: Option<String>,
    lr: Option<f64>,
    batch: Option<usize>,
    noise: Option<String>,
    noise_level: Option<f32>,
    l1: Option<f32>,
    contractive: Option<f32>,
    beta: Option<f32>,
    optimizer: Option<String>,
    weight_decay: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    method: Option<String>,
    manifold: Option<bool>,
    noise: Option<String>,
    level: Option<f32>,
    held_out: Option<Vec<u8>>,
    images: Option<Vec<usize>>,
    t: Option<f32>,
    budget: Option<f64>,
    log_scale: Option<bool>,
    generate: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    ask: String,
    answer: String,
    choices: Option<Vec<String>>,
}

/// One `+++` block and the Markdown after it.
struct Block<'a> {
    /// Line of the opening `+++` (1-based).
    open: usize,
    toml: String,
    body: String,
    file: &'a str,
}

impl Block<'_> {
    fn err(&self, line: usize, reason: impl Into<String>) -> LessonError {
        LessonError {
            file: self.file.to_string(),
            line,
            reason: reason.into(),
        }
    }

    /// The line where `key = …` is written in the block (the block's first line if nowhere).
    fn line_of(&self, key: &str) -> usize {
        for (i, l) in self.toml.lines().enumerate() {
            let t = l.trim_start();
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return self.open + 1 + i;
                }
            }
        }
        self.open + 1
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, LessonError> {
        toml::from_str::<T>(&self.toml).map_err(|e| {
            let line = e.span().map_or(self.open + 1, |s| {
                self.open
                    + 1
                    + self.toml[..s.start.min(self.toml.len())]
                        .matches('\n')
                        .count()
            });
            let msg = e.message().trim().replace('\n', " ");
            self.err(line, format!("in the {what}: {msg}"))
        })
    }
}

/// Splits the text into blocks; an error for text before the first `+++` or a block left open.
fn blocks<'a>(text: &str, file: &'a str) -> Result<Vec<Block<'a>>, LessonError> {
    let err = |line, reason: &str| LessonError {
        file: file.to_string(),
        line,
        reason: reason.to_string(),
    };
    let mut out: Vec<Block> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, l)) = lines.next() {
        let fence = l.trim_end() == "+++";
        if out.is_empty() && !fence {
            if l.trim().is_empty() {
                continue;
            }
            return Err(err(
                i + 1,
                "expected a line +++ opening the lesson's header (title, topics)",
            ));
        }
        if fence {
            let mut toml = String::new();
            let mut closed = false;
            for (_, l) in lines.by_ref() {
                if l.trim_end() == "+++" {
                    closed = true;
                    break;
                }
                toml.push_str(l);
                toml.push('\n');
            }
            if !closed {
                return Err(err(
                    i + 1,
                    "this +++ block is never closed (expected a line +++ after its settings)",
                ));
            }
            out.push(Block {
                open: i + 1,
                toml,
                body: String::new(),
                file,
            });
        } else if let Some(b) = out.last_mut() {
            b.body.push_str(l);
            b.body.push('\n');
        }
    }
    if out.is_empty() {
        return Err(err(
            1,
            "the file is empty: expected a +++ header with a title",
        ));
    }
    Ok(out)
}

/// Parses a lesson. `file` names it in errors; `dir` is where relative data paths start.
pub fn parse(
    text: &str,
    file: &str,
    dir: Option<&Path>,
    origin: Origin,
) -> Result<Lesson, LessonError> {
    let blocks = blocks(text, file)?;
    let head = &blocks[0];
    let raw: RawHeader = head.parse("lesson's header")?;
    if raw.title.trim().is_empty() {
        return Err(head.err(head.line_of("title"), "the lesson's title is empty"));
    }
    if blocks.len() < 2 {
        return Err(head.err(
            head.open,
            "the lesson has no step: expected a +++ block for each step after the header",
        ));
    }
    let steps = blocks[1..].iter().map(|b| step(b, dir)).collect();
    Ok(Lesson {
        title: raw.title.trim().to_string(),
        topics: raw.topics,
        intro: head.body.trim().to_string(),
        steps,
        origin,
    })
}

/// Reads and parses a lesson file.
pub fn load(path: &Path) -> Result<Lesson, LessonError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LessonError {
        file: name.clone(),
        line: 1,
        reason: format!("cannot read it: {e}"),
    })?;
    parse(
        &text,
        &name,
        path.parent(),
        Origin::File(path.to_path_buf()),
    )
}

fn step(b: &Block, dir: Option<&Path>) -> Result<Step, LessonError> {
    let raw: RawStep = b.parse("step")?;
    let panel = Tab::parse(&raw.panel).ok_or_else(|| {
        b.err(
            b.line_of("panel"),
            format!(
                "unknown panel \"{}\" (expected one of: {})",
                raw.panel,
                Tab::ALL.map(|t| t.cli_name()).join(", ")
            ),
        )
    })?;
    let data = raw
        .data
        .as_deref()
        .map(|d| match d.trim() {
            "digits" | "mnist" | "embedded" => Ok(DataChoice::Digits),
            "fashion" | "fashion-mnist" => Ok(DataChoice::Fashion),
            "" => Err(b.err(
                b.line_of("data"),
                "data is empty (expected digits, fashion or a path)",
            )),
            p => {
                let p = Path::new(p);
                Ok(DataChoice::Path(match dir {
                    Some(d) if p.is_relative() => d.join(p),
                    _ => p.to_path_buf(),
                }))
            }
        })
        .transpose()?;
    let mut hide = Vec::new();
    for h in &raw.hide {
        hide.push(Control::parse(h).ok_or_else(|| {
            b.err(
                b.line_of("hide"),
                format!(
                    "unknown control \"{h}\" in hide (expected some of: {})",
                    Control::ALL.map(|c| c.name()).join(", ")
                ),
            )
        })?);
    }
    let model = raw.model.map(|m| model(b, m)).transpose()?;
    let view = raw
        .view
        .map(|v| view(b, v))
        .transpose()?
        .unwrap_or_default();
    let question = raw.question.map(|q| question(b, q)).transpose()?;
    let text = b.body.trim().to_string();
    if raw.title.trim().is_empty() {
        return Err(b.err(b.line_of("title"), "the step's title is empty"));
    }
    Ok(Step {
        title: raw.title.trim().to_string(),
        text,
        panel,
        data,
        model,
        view,
        hide,
        question,
        line: b.open,
    })
}

fn model(b: &Block, m: RawModel) -> Result<ModelChoice, LessonError> {
    if let Some(key) = &m.bundled {
        let Some(found) = crate::model::bundled::find(key.trim()) else {
            return Err(b.err(
                b.line_of("bundled"),
                format!(
                    "no built-in model \"{key}\" (expected one of: {})",
                    crate::model::bundled::ALL.map(|m| m.key).join(", ")
                ),
            ));
        };
        if m.variant.is_some() || m.k.is_some() || m.epochs.is_some() {
            return Err(b.err(
                b.line_of("bundled"),
                "a built-in model is already trained: give bundled, or variant, k and epochs, not both",
            ));
        }
        return Ok(ModelChoice::Bundled(found.key));
    }
    let variant_text = m.variant.as_deref().unwrap_or("dense");
    let variant = Variant::parse(variant_text).ok_or_else(|| {
        b.err(
            b.line_of("variant"),
            format!(
                "unknown variant \"{variant_text}\" (expected one of: {})",
                Variant::ALL.map(|v| v.name()).join(", ")
            ),
        )
    })?;
    let Some(k) = m.k else {
        return Err(b.err(
            b.line_of("variant"),
            "the model needs k, the size of its code (or bundled = a built-in model)",
        ));
    };
    let mut c = TrainConfig::preset(variant, k);
    if let Some(e) = m.epochs {
        c.epochs = e;
    }
    if let Some(s) = m.seed {
        c.seed = s;
    }
    if let Some(h) = m.hidden {
        c.model.hidden = h;
    }
    if let Some(ch) = m.channels {
        c.model.channels = ch;
    }
    if let Some(l) = &m.loss {
        c.loss = match l.trim().to_ascii_lowercase().as_str() {
            "mse" => LossKind::Mse,
            "bce" => LossKind::Bce,
            _ => {
                return Err(b.err(
                    b.line_of("loss"),
                    format!("unknown loss \"{l}\" (expected mse or bce)"),
                ))
            }
        };
    }
    if let Some(o) = &m.optimizer {
        c.optimizer = match o.trim().to_ascii_lowercase().as_str() {
            "adam" => OptimizerKind::Adam,
            "adamw" => OptimizerKind::AdamW,
            _ => {
                return Err(b.err(
                    b.line_of("optimizer"),
                    format!("unknown optimizer \"{o}\" (expected adam or adamw)"),
                ))
            }
        };
    }
    if let Some(lr) = m.lr {
        c.lr = lr;
    }
    if let Some(batch) = m.batch {
        c.batch = batch;
    }
    if let Some(n) = &m.noise {
        let kind = noise(b, "noise", n)?;
        let factor = m.noise_level.or(c.noise.map(|s| s.factor)).unwrap_or(0.5);
        c.noise = Some(NoiseSpec { kind, factor });
    } else if let Some(level) = m.noise_level {
        match c.noise.as_mut() {
            Some(s) => s.factor = level,
            None => {
                return Err(b.err(
                    b.line_of("noise_level"),
                    "noise_level without noise (expected noise = \"gaussian\", \"saltpepper\" or \"mask\")",
                ))
            }
        }
    }
    if let Some(v) = m.l1 {
        c.l1 = v;
    }
    if let Some(v) = m.contractive {
        c.contractive = v;
    }
    if let Some(v) = m.beta {
        c.beta = v;
    }
    if let Some(v) = m.weight_decay {
        c.weight_decay = v;
    }
    c.validate().map_err(|e| {
        b.err(
            b.line_of("variant").max(b.line_of("k")),
            format!("the model cannot train: {e}"),
        )
    })?;
    Ok(ModelChoice::Train(c))
}

fn noise(b: &Block, key: &str, s: &str) -> Result<NoiseKind, LessonError> {
    NoiseKind::parse(s).ok_or_else(|| {
        b.err(
            b.line_of(key),
            format!("unknown noise \"{s}\" (expected gaussian, saltpepper or mask)"),
        )
    })
}

fn view(b: &Block, v: RawView) -> Result<PanelState, LessonError> {
    let method = v
        .method
        .as_deref()
        .map(|m| {
            Method::parse(m).ok_or_else(|| {
                b.err(
                    b.line_of("method"),
                    format!("unknown map method \"{m}\" (expected pca, tsne or umap)"),
                )
            })
        })
        .transpose()?;
    let noise_kind = v
        .noise
        .as_deref()
        .map(|n| noise(b, "noise", n))
        .transpose()?;
    if let Some(l) = v.level {
        if !(0.0..=1.0).contains(&l) {
            return Err(b.err(b.line_of("level"), format!("level {l} is outside 0 … 1")));
        }
    }
    if let Some(t) = v.t {
        if !(0.0..=1.0).contains(&t) {
            return Err(b.err(b.line_of("t"), format!("t {t} is outside 0 … 1")));
        }
    }
    if let Some(budget) = v.budget {
        if !(budget > 0.0 && budget <= 100_000.0) {
            return Err(b.err(
                b.line_of("budget"),
                format!("budget {budget} is not a number of bytes per image (expected 1 … 100000)"),
            ));
        }
    }
    if let Some(h) = &v.held_out {
        if h.is_empty() {
            return Err(b.err(
                b.line_of("held_out"),
                "held_out is empty (expected at least one class, e.g. [7])",
            ));
        }
    }
    let generate = v
        .generate
        .as_deref()
        .map(|g| {
            crate::app::panels::generate::View::parse(g).ok_or_else(|| {
                b.err(
                    b.line_of("generate"),
                    format!("unknown Generate view \"{g}\" (expected every_class, grid, plane or prior)"),
                )
            })
        })
        .transpose()?;
    Ok(PanelState {
        method,
        generate,
        manifold: v.manifold,
        noise: noise_kind,
        level: v.level,
        held_out: v.held_out,
        images: v.images,
        t: v.t,
        budget: v.budget,
        log_scale: v.log_scale,
    })
}

fn question(b: &Block, q: RawQuestion) -> Result<Question, LessonError> {
    let line = b.line_of("answer");
    let answer = AnswerKind::parse(&q.answer).ok_or_else(|| {
        b.err(
            line,
            format!(
                "unknown answer \"{}\" (expected one of: {})",
                q.answer,
                AnswerKind::ALL.map(|a| a.name()).join(", ")
            ),
        )
    })?;
    if q.ask.trim().is_empty() {
        return Err(b.err(b.line_of("ask"), "the question is empty"));
    }
    let outcomes = answer.outcomes();
    let choices = match (q.choices, outcomes.is_empty()) {
        (None, true) => Vec::new(),
        (Some(_), true) => {
            return Err(b.err(
                b.line_of("choices"),
                format!(
                "answer {} is a number: the class types a guess, so the question has no choices",
                answer.name()
            ),
            ))
        }
        (None, false) => outcomes.iter().map(|s| s.to_string()).collect(),
        (Some(c), false) if c.len() == outcomes.len() => c,
        (Some(c), false) => {
            return Err(b.err(
                b.line_of("choices"),
                format!(
                    "answer {} has {} outcomes ({}), in that order, but {} choices are given",
                    answer.name(),
                    outcomes.len(),
                    outcomes.join(", "),
                    c.len()
                ),
            ))
        }
    };
    Ok(Question {
        ask: q.ask.trim().to_string(),
        answer,
        choices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Lesson, LessonError> {
        parse(text, "t.lesson", None, Origin::File("t.lesson".into()))
    }

    #[test]
    fn a_minimal_lesson_parses() {
        let l = p("+++\ntitle = \"T\"\ntopics = [\"a\"]\n+++\nIntro.\n\n+++\ntitle = \"S\"\npanel = \"pca\"\n[model]\nvariant = \"linear\"\nk = 8\nepochs = 3\n+++\nText **bold**.\n").unwrap();
        assert_eq!(l.title, "T");
        assert_eq!(l.intro, "Intro.");
        let s = l.steps[0].as_ref().unwrap();
        assert_eq!(s.panel, Tab::Pca);
        assert_eq!(s.line, 7);
        let c = s.config().unwrap();
        assert_eq!(
            (c.variant, c.model.latent, c.epochs),
            (Variant::Linear, 8, 3)
        );
    }

    #[test]
    fn errors_name_the_line_and_a_bad_step_leaves_the_others() {
        let l = p("+++\ntitle = \"T\"\n+++\n+++\ntitle = \"ok\"\npanel = \"train\"\n+++\n+++\ntitle = \"bad\"\npanel = \"nowhere\"\n+++\n+++\ntitle = \"bad toml\"\npanel = \"train\"\n[model]\nk = \"two\"\n+++\n").unwrap();
        assert!(l.steps[0].is_ok());
        let e = l.steps[1].as_ref().unwrap_err();
        assert_eq!(e.line, 10, "{e}");
        assert!(e.reason.contains("unknown panel") && e.reason.contains("latent"));
        let e = l.steps[2].as_ref().unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.to_string().starts_with("t.lesson, line 16:"), "{e}");
        let e = p("+++\ntitle = \"T\"\n").unwrap_err();
        assert_eq!((e.line, e.reason.contains("never closed")), (1, true));
        let e = p("hello\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = p("+++\ntitle = \"T\"\n+++\n").unwrap_err();
        assert!(e.reason.contains("no step"), "{e}");
    }
}
