//! `bottleneck lessons [--json]` and `bottleneck snapshot --lesson FILE|N --step M` as a user
//! runs them: the course and the lesson files opened before (from the settings) with their
//! topics and steps, in the JSON shape; any step rendered; one-line errors naming the
//! file and line of a bad lesson, or the step that does not exist.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bottleneck(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .env("BOTTLENECK_CONFIG_DIR", config)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lessons")
        .join(name)
}

#[test]
fn lessons_json_lists_the_course_and_the_opened_files() {
    let dir = tempfile::tempdir().unwrap();
    // A lesson opened in the app before is remembered in the settings.
    let settings = serde_json::json!({ "opened_lessons": [fixture("my-class.lesson")] });
    std::fs::write(dir.path().join("settings.json"), settings.to_string()).unwrap();
    let o = bottleneck(dir.path(), &["lessons", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["lessons"]);
    let lessons = v["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), bottleneck::app::lessons::COURSE.len() + 1);
    for l in lessons {
        let mut keys: Vec<&String> = l.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["steps", "title", "topics"]);
        assert!(l["topics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.is_string()));
        for s in l["steps"].as_array().unwrap() {
            let s = s.as_object().unwrap();
            assert!(s["title"].is_string() && s["panel"].is_string());
            let extra: Vec<&String> = s
                .keys()
                .filter(|k| !["title", "panel"].contains(&k.as_str()))
                .collect();
            assert!(extra.is_empty() || extra == vec!["question"], "{extra:?}");
        }
    }
    assert_eq!(lessons[0]["title"], "What an autoencoder is");
    assert_eq!(lessons[0]["steps"][0]["panel"], "train");
    assert!(lessons[0]["steps"][0].get("question").is_none());
    assert!(lessons[0]["steps"][2]["question"]
        .as_str()
        .unwrap()
        .contains("PCA"));
    let last = lessons.last().unwrap();
    assert_eq!(last["title"], "Shapes, a teacher's own lesson");
    assert_eq!(last["steps"][1]["panel"], "features");

    let o = bottleneck(dir.path(), &["lessons"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("1. What an autoencoder is (3 steps)"),
        "{text}"
    );
}

#[test]
fn snapshot_renders_a_lesson_files_step_and_names_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("step.png");
    let lesson = fixture("my-class.lesson");
    let o = bottleneck(
        dir.path(),
        &[
            "snapshot",
            "--lesson",
            lesson.to_str().unwrap(),
            "--step",
            "2",
            "--size",
            "1024x768",
            "--presenter",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (1024, 768));
    assert!(String::from_utf8_lossy(&o.stderr).contains("panel features"));

    let o = bottleneck(
        dir.path(),
        &[
            "snapshot",
            "--lesson",
            "3",
            "--step",
            "9",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has 3 steps: there is no step 9"), "{err}");

    let o = bottleneck(
        dir.path(),
        &["snapshot", "--lesson", "99", "--out", out.to_str().unwrap()],
    );
    let course = bottleneck::app::lessons::COURSE.len();
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("numbered 1 to {course}")));

    let bad = dir.path().join("bad.lesson");
    std::fs::write(&bad, "+++\ntitle = \"x\"\ntopics = 3\n+++\n").unwrap();
    let o = bottleneck(
        dir.path(),
        &[
            "snapshot",
            "--lesson",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}, line 3: in the lesson's header",
            bad.display()
        )),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}
