//! `bottleneck lessons`: the built-in course and the lesson files opened in the app (from the
//! settings), each with its topics and steps; `--json` prints
//! `{"lessons": [{"title", "topics": [...], "steps": [{"title", "panel", "question"}]}]}`
//! (`question` only where the step asks one).

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use crate::app::lessons::{self, Lesson, LessonError};

#[derive(Args, Debug, Clone)]
pub struct LessonsArgs {
    /// Also list these lesson files.
    pub files: Vec<PathBuf>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One lesson as the JSON lists it (a step that does not parse: its error as the title, no panel).
pub fn lesson_json(l: &Lesson) -> Value {
    let steps: Vec<Value> = l
        .steps
        .iter()
        .map(|s| match s {
            Ok(s) => {
                let mut v = json!({"title": s.title, "panel": s.panel.cli_name()});
                if let Some(q) = &s.question {
                    v["question"] = json!(q.ask);
                }
                v
            }
            Err(e) => json!({"title": format!("error: {e}"), "panel": ""}),
        })
        .collect();
    json!({"title": l.title, "topics": l.topics, "steps": steps})
}

/// The built-in lessons, then the opened files (the settings' and `extra`), in order.
pub fn all(extra: &[PathBuf]) -> Vec<Result<Lesson, LessonError>> {
    let mut out = lessons::menu::course();
    let settings_path = crate::app::settings::settings_path();
    let (settings, _) = crate::app::settings::Settings::load(settings_path.as_deref());
    let mut files = settings.opened_lessons.clone();
    for f in extra {
        if !files.contains(f) {
            files.push(f.clone());
        }
    }
    out.extend(files.iter().map(|p| lessons::format::load(p)));
    out
}

pub fn run(a: LessonsArgs) -> anyhow::Result<()> {
    let found = all(&a.files);
    if a.json {
        let list: Vec<Value> = found
            .iter()
            .filter_map(|l| l.as_ref().ok().map(lesson_json))
            .collect();
        println!("{}", json!({ "lessons": list }));
        for e in found.iter().filter_map(|l| l.as_ref().err()) {
            eprintln!("error: {e}");
        }
        return Ok(());
    }
    for (i, l) in found.iter().enumerate() {
        match l {
            Ok(l) => {
                let n = l.steps.len();
                let s = if n == 1 { "" } else { "s" };
                println!("{}. {} ({n} step{s})", i + 1, l.title);
                if !l.topics.is_empty() {
                    println!("   topics: {}", l.topics.join(", "));
                }
                for (j, s) in l.steps.iter().enumerate() {
                    match s {
                        Ok(s) => {
                            let q = s
                                .question
                                .as_ref()
                                .map_or(String::new(), |q| format!(" — asks: {}", q.ask));
                            println!("   {}. {} [{}]{q}", j + 1, s.title, s.panel.cli_name());
                        }
                        Err(e) => println!("   {}. error: {e}", j + 1),
                    }
                }
            }
            Err(e) => println!("{}. error: {e}", i + 1),
        }
    }
    Ok(())
}
