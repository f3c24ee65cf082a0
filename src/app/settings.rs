//! Settings that survive a restart: the training form, the last dataset (a `DatasetSource`,
//! stored as `"embedded"` or a folder or CSV path, as always, and how it was imported), the window's size and the UI's mode. Stored as JSON in the user's config folder (`BOTTLENECK_CONFIG_DIR` overrides
//! it, for tests). A file that cannot be parsed is set aside as `settings.json.bad-<unix
//! seconds>` (never overwriting an earlier one) and the defaults are used, with a notice:
//! nothing the user made is silently destroyed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Tab;
use crate::model::TrainConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub version: u32,
    /// The training form.
    pub train: TrainConfig,
    /// The last dataset (in the file: `"embedded"` or a dataset folder).
    pub dataset: crate::data::DatasetSource,
    /// How the last dataset was imported (preprocessing of pictures, inversion).
    pub dataset_import: crate::data::ImportOptions,
    pub tab: Tab,
    /// Inner size of the window in points.
    pub window_size: Option<[f32; 2]>,
    pub log_scale: bool,
    pub presenter: bool,
    pub dark: bool,
    /// Train a second variant (run B) beside the form's model.
    pub compare: bool,
    /// Run B's variant.
    pub compare_variant: crate::model::Variant,
    /// The Anomaly panel's detector settings (normal classes, k, epochs, seed).
    pub anomaly: Option<crate::analysis::anomaly::DetectorSettings>,
    /// The last lesson and its step (it reopens there).
    pub lesson: Option<crate::app::lessons::Place>,
    /// Lesson files opened before (the Lessons menu and `bottleneck lessons` list them).
    pub opened_lessons: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: 1,
            train: TrainConfig::preset(crate::model::Variant::Dense, 2),
            dataset: crate::data::DatasetSource::Embedded,
            dataset_import: Default::default(),
            tab: Tab::Train,
            window_size: None,
            log_scale: false,
            presenter: false,
            dark: true,
            compare: false,
            compare_variant: crate::model::Variant::Vae,
            anomaly: None,
            lesson: None,
            opened_lessons: Vec::new(),
        }
    }
}

/// The folder holding `settings.json`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BOTTLENECK_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("org", "Bottleneck", "bottleneck")
        .map(|p| p.config_dir().to_path_buf())
}

pub fn settings_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("settings.json"))
}

/// Moves a damaged settings file to `settings.json.bad-<unix seconds>` (with `-2`, `-3`… if
/// that exists), so that neither the defaults saved later nor an earlier damaged file's copy
/// overwrite it; copies it when it cannot be renamed. Returns where it went.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = path
        .file_name()
        .map_or("settings.json".into(), |n| n.to_string_lossy().into_owned());
    let mut bad = path.with_file_name(format!("{name}.bad-{stamp}"));
    let mut n = 1;
    while bad.exists() {
        n += 1;
        bad = path.with_file_name(format!("{name}.bad-{stamp}-{n}"));
    }
    std::fs::rename(path, &bad)
        .or_else(|_| std::fs::copy(path, &bad).map(|_| ()))
        .map(|()| bad)
}

impl Settings {
    /// Loads settings from `path`. Returns the settings and, when the file existed but could
    /// not be used, a notice for the user (the bad file is renamed to `*.bad`).
    pub fn load(path: Option<&Path>) -> (Settings, Option<String>) {
        let Some(path) = path else {
            return (Settings::default(), None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "Settings {} could not be read ({e}); using defaults.",
                        path.display()
                    )),
                )
            }
        };
        match Settings::parse(&text) {
            Ok(s) => (s, None),
            Err(e) => {
                let mut msg = format!(
                    "Settings file {} is damaged ({e}); using defaults.",
                    path.display()
                );
                match set_aside(path) {
                    Ok(bad) => {
                        msg.push_str(&format!(" The old file was kept as {}.", bad.display()))
                    }
                    Err(why) => msg.push_str(&format!(
                        " It could not be set aside ({why}) and will be replaced when the \
                         settings are saved."
                    )),
                }
                (Settings::default(), Some(msg))
            }
        }
    }

    /// Settings from a settings file's text; a training form that does not validate is
    /// replaced by the default one.
    pub fn parse(text: &str) -> Result<Settings, serde_json::Error> {
        let mut s = serde_json::from_str::<Settings>(text)?;
        if s.train.validate().is_err() {
            s.train = Settings::default().train;
        }
        Ok(s)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_vec_pretty(self).expect("settings serialise");
        crate::model::io::write_atomic(path, &text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetSource;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/settings.json");
        let (s, notice) = Settings::load(Some(&p));
        assert_eq!(s, Settings::default());
        assert!(notice.is_none());
        let mut s2 = s.clone();
        s2.train.model.latent = 7;
        s2.tab = Tab::Denoise;
        s2.save(&p).unwrap();
        let (back, notice) = Settings::load(Some(&p));
        assert!(notice.is_none());
        assert_eq!(back, s2);
    }

    #[test]
    fn corrupt_settings_are_set_aside_with_a_notice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        std::fs::write(&p, b"{ this is not json").unwrap();
        let (s, notice) = Settings::load(Some(&p));
        assert_eq!(s, Settings::default());
        let n = notice.expect("a notice");
        assert!(n.contains("damaged") && n.contains("kept as"), "{n}");
        // A second damaged file is set aside beside the first, which keeps its bytes.
        std::fs::write(&p, b"[1, 2").unwrap();
        let (_, notice) = Settings::load(Some(&p));
        assert!(notice.is_some());
        assert!(!p.exists());
        let mut kept: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|q| q.to_string_lossy().contains("settings.json.bad-"))
            .map(|q| std::fs::read(q).unwrap())
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            vec![b"[1, 2".to_vec(), b"{ this is not json".to_vec()]
        );
    }

    #[test]
    fn unknown_fields_and_partial_files_are_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        std::fs::write(&p, br#"{"dataset": "/data/x", "future_field": 3}"#).unwrap();
        let (s, notice) = Settings::load(Some(&p));
        assert!(notice.is_none());
        assert_eq!(s.dataset, DatasetSource::Dir("/data/x".into()));
        assert_eq!(s.train, Settings::default().train);
    }

    /// Files written before the dataset was typed keep their meaning, and are written the same.
    #[test]
    fn old_dataset_strings_are_read_and_written_alike() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        for (text, want) in [
            ("embedded", DatasetSource::Embedded),
            ("", DatasetSource::Embedded),
            ("/data/fashion", DatasetSource::Dir("/data/fashion".into())),
        ] {
            let json = format!(r#"{{"version": 1, "dataset": "{text}", "tab": "train"}}"#);
            std::fs::write(&p, json).unwrap();
            let (s, notice) = Settings::load(Some(&p));
            assert!(notice.is_none(), "{notice:?}");
            assert_eq!(s.dataset, want);
            let written: serde_json::Value = serde_json::to_value(&s).unwrap();
            let text = if text.is_empty() { "embedded" } else { text };
            assert_eq!(written["dataset"], text);
        }
    }
}
