//! Settings that survive a restart: the training form, the last dataset (a `DatasetSource`,
//! stored as `"embedded"` or a folder path, as always), the window's size and the UI's mode. Stored as JSON in the user's config folder (`BOTTLENECK_CONFIG_DIR` overrides
//! it, for tests). A file that cannot be read is set aside as `settings.json.bad` and the
//! defaults are used, with a notice: nothing the user made is silently destroyed.

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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: 1,
            train: TrainConfig::preset(crate::model::Variant::Dense, 2),
            dataset: crate::data::DatasetSource::Embedded,
            tab: Tab::Train,
            window_size: None,
            log_scale: false,
            presenter: false,
            dark: true,
            compare: false,
            compare_variant: crate::model::Variant::Vae,
            anomaly: None,
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
        match serde_json::from_str::<Settings>(&text) {
            Ok(mut s) => {
                if s.train.validate().is_err() {
                    s.train = Settings::default().train;
                }
                (s, None)
            }
            Err(e) => {
                let bad = path.with_extension("json.bad");
                let kept = std::fs::rename(path, &bad).is_ok();
                let mut msg = format!(
                    "Settings file {} is damaged ({e}); using defaults.",
                    path.display()
                );
                if kept {
                    msg.push_str(&format!(" The old file was kept as {}.", bad.display()));
                }
                (Settings::default(), Some(msg))
            }
        }
    }

    /// Writes the settings atomically (creating the folder). Errors are returned for the UI.
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
        assert!(n.contains("damaged"), "{n}");
        assert!(dir.path().join("settings.json.bad").exists());
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
