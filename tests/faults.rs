//! Faults: saving where writing fails (an injected failing writer, a full disk, a read-only
//! folder, a rename that fails) leaves no temporary file, keeps an existing file as it was and
//! the model in memory; a model file deleted or replaced after loading; a corrupt settings
//! file; a panic in the training worker and in background jobs.
//!
//! The full disk and the read-only folder are real tmpfs mounts (200 KB, and `ro`): tests run
//! as root here, where `chmod` does not stop writes. Where mounting is not allowed the two
//! tests print a note and check the same paths through the injected writer only.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bottleneck::app::{App, AppOptions, Level};
use bottleneck::model::io;
use bottleneck::model::{TrainConfig, TrainedModel, Variant};
use bottleneck::train::worker::{Command, RunState};
use common::*;

const T: Duration = Duration::from_secs(120);

/// An untrained 2-D dense model (its weights are about 1.9 MB).
fn model() -> TrainedModel {
    TrainedModel::new(&TrainConfig::preset(Variant::Dense, 2), "embedded").unwrap()
}

/// Every file in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A tmpfs mounted on a fresh folder, unmounted when dropped.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    /// `None` (with a note) where mounting is not allowed.
    fn tmpfs(options: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: cannot mount a tmpfs ({options}) here; that part is skipped");
            return None;
        }
        Some(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_failing_writer_leaves_no_temporary_file_and_the_old_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    std::fs::write(&p, b"the old model").unwrap();
    let e = io::write_atomic_with(&p, |w| {
        w.write_all(&[0u8; 5000])?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device (injected)",
        ))
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.safetensors") && e.contains("no space left"),
        "{e}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"the old model");
    assert_eq!(listing(dir.path()), vec!["m.safetensors"]);
}

#[test]
fn a_failing_rename_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // A non-empty folder where the file should go: the rename fails.
    let p = dir.path().join("m.safetensors");
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("keep"), b"x").unwrap();
    let e = io::write_atomic(&p, b"new").unwrap_err().to_string();
    assert!(e.contains("m.safetensors"), "{e}");
    assert_eq!(listing(dir.path()), vec!["m.safetensors"]);
    assert_eq!(std::fs::read(p.join("keep")).unwrap(), b"x");
}

#[test]
fn saving_onto_a_full_disk_keeps_the_old_pair_and_leaves_nothing_behind() {
    let Some(m) = Mount::tmpfs("size=200k") else {
        return;
    };
    let p = m.path().join("m.safetensors");
    std::fs::write(&p, b"old weights").unwrap();
    std::fs::write(io::sidecar_path(&p), b"old sidecar").unwrap();
    let e = io::save(&model(), &p).unwrap_err().to_string();
    assert!(
        e.contains("m.safetensors") && e.contains("No space left"),
        "{e}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"old weights");
    assert_eq!(std::fs::read(io::sidecar_path(&p)).unwrap(), b"old sidecar");
    assert_eq!(listing(m.path()), vec!["m.json", "m.safetensors"]);
}

#[test]
fn saving_into_a_read_only_folder_says_so_and_leaves_nothing_behind() {
    let Some(m) = Mount::tmpfs("size=1m,ro") else {
        return;
    };
    let p = m.path().join("m.safetensors");
    let e = io::save(&model(), &p).unwrap_err().to_string();
    assert!(
        e.contains("m.safetensors") && e.contains("Read-only"),
        "{e}"
    );
    assert!(listing(m.path()).is_empty());
}

/// The app with run A holding `model`.
fn app_with_model(model: Arc<TrainedModel>) -> (AppHarness, tempfile::TempDir) {
    let (mut h, dir) = app(|_| {});
    adopt(&mut h, model);
    assert!(wait_until(&mut h, T, |a| a.shared.model().is_some()));
    (h, dir)
}

/// Waits for a notice containing `text`; returns it.
fn notice(h: &mut AppHarness, level: Level, text: &str) -> String {
    let found = wait_until(h, T, |a| {
        a.shared
            .notices
            .iter()
            .any(|n| n.level == level && n.text.contains(text))
    });
    let all: Vec<String> = state(h)
        .shared
        .notices
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(found, "no notice with \"{text}\" in {all:?}");
    all.into_iter().rev().find(|n| n.contains(text)).unwrap()
}

fn save(h: &mut AppHarness, p: &Path) {
    state(h)
        .shared
        .a()
        .worker
        .send(Command::Save(p.to_path_buf()));
}

fn load(h: &mut AppHarness, p: &Path) {
    let data = state(h).shared.data.clone();
    state(h).shared.a().worker.send(Command::Load {
        path: p.to_path_buf(),
        data,
    });
}

#[test]
fn the_app_reports_a_failed_save_and_keeps_the_model_and_the_old_file() {
    let m = Arc::new(model());
    let (mut h, dir) = app_with_model(m.clone());
    let mount = Mount::tmpfs("size=200k");
    let (folder, why): (PathBuf, &str) = match &mount {
        Some(mnt) => (mnt.path().to_path_buf(), "No space left"),
        // Without a mount: a file where the folder should be.
        None => {
            let f = dir.path().join("not-a-folder");
            std::fs::write(&f, b"").unwrap();
            (f, "Not a directory")
        }
    };
    let p = folder.join("m.safetensors");
    if mount.is_some() {
        std::fs::write(&p, b"old weights").unwrap();
    }
    save(&mut h, &p);
    let n = notice(&mut h, Level::Error, "cannot save the model");
    assert!(n.contains("m.safetensors") && n.contains(why), "{n}");
    assert!(Arc::ptr_eq(state(&h).shared.model().unwrap(), &m));
    if mount.is_some() {
        assert_eq!(std::fs::read(&p).unwrap(), b"old weights");
        assert_eq!(listing(&folder), vec!["m.safetensors"]);
    }
    // A save somewhere else still works.
    let good = dir.path().join("good.safetensors");
    save(&mut h, &good);
    notice(&mut h, Level::Info, "Saved the model");
    assert!(io::load(&good).is_ok());
}

#[test]
fn a_model_file_deleted_or_replaced_after_loading() {
    let (mut h, dir) = app_with_model(Arc::new(model()));
    let p = dir.path().join("m.safetensors");
    save(&mut h, &p);
    notice(&mut h, Level::Info, "Saved the model");
    load(&mut h, &p);
    notice(&mut h, Level::Info, "Loaded");
    let loaded = state(&h).shared.model().unwrap().clone();

    // Deleted: the model stays in memory, loading it again says the file is gone, saving
    // again writes it back.
    std::fs::remove_file(&p).unwrap();
    std::fs::remove_file(io::sidecar_path(&p)).unwrap();
    load(&mut h, &p);
    let n = notice(&mut h, Level::Error, "cannot load the model");
    assert!(n.contains("m.json") && n.contains("No such file"), "{n}");
    assert!(Arc::ptr_eq(state(&h).shared.model().unwrap(), &loaded));
    save(&mut h, &p);
    wait_until(&mut h, T, |_| p.exists());
    notice(&mut h, Level::Info, "Saved the model");
    let back = io::load(&p).unwrap();
    assert_eq!(back.meta.config, loaded.meta.config);

    // Replaced by garbage: loading it fails clearly, the model in memory is untouched.
    std::fs::write(&p, b"not safetensors at all").unwrap();
    load(&mut h, &p);
    let n = notice(&mut h, Level::Error, "m.safetensors");
    assert!(n.contains("cannot load the model"), "{n}");
    assert!(Arc::ptr_eq(state(&h).shared.model().unwrap(), &loaded));
    assert_eq!(std::fs::read(&p).unwrap(), b"not safetensors at all");
}

#[test]
fn a_corrupt_settings_file_gives_defaults_a_notice_and_is_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("settings.json");
    std::fs::write(&p, b"{\"train\": {\"epochs\": 12,").unwrap();
    let opts = AppOptions {
        data: Some(bottleneck::data::DatasetSource::Embedded),
        import: None,
        settings_path: Some(p.clone()),
        load_bundled: false,
    };
    let mut h = harness_with(opts, |_| {});
    h.step();
    let n = notice(&mut h, Level::Warning, "damaged");
    assert!(n.contains("using defaults") && n.contains("kept as"), "{n}");
    assert_eq!(
        state(&h).shared.settings.train,
        bottleneck::app::settings::Settings::default().train
    );
    // Saving the settings writes a fresh file and leaves the damaged one as it was.
    state(&h).shared.save_settings();
    let bad: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|q| q.to_string_lossy().contains("settings.json.bad-"))
        .collect();
    assert_eq!(bad.len(), 1, "{:?}", listing(dir.path()));
    assert_eq!(
        std::fs::read(&bad[0]).unwrap(),
        b"{\"train\": {\"epochs\": 12,"
    );
    assert!(bottleneck::app::settings::Settings::load(Some(&p))
        .1
        .is_none());
}

#[test]
fn a_panic_in_the_worker_becomes_a_message_and_training_works_again() {
    let (mut h, _dir) = app(|a: &mut App| {
        let mut cfg = TrainConfig::preset(Variant::Dense, 2);
        cfg.epochs = 1;
        a.shared.settings.train = cfg;
    });
    h.step();
    // While training: the run stops, with a message.
    state_mut(&mut h).shared.start_training().unwrap();
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Running));
    state(&h)
        .shared
        .a()
        .worker
        .send(Command::Panic("injected failure".into()));
    let n = notice(&mut h, Level::Error, "injected failure");
    assert!(
        n.contains("internal error") && n.contains("start again"),
        "{n}"
    );
    assert!(wait_until(&mut h, T, |a| a.shared.a().view.state == RunState::Idle));
    // The same worker trains again, to the end.
    state_mut(&mut h).shared.start_training().unwrap();
    assert!(wait_until(&mut h, T, |a| a
        .shared
        .a()
        .view
        .message
        .as_ref()
        .is_some_and(|(_, m)| m.starts_with("Finished"))));
    assert_eq!(state(&h).shared.a().view.history.len(), 1);
    assert!(h.state().is_some());
}

#[test]
fn a_panic_in_a_background_job_becomes_an_error_result() {
    let job: bottleneck::app::jobs::Job<Result<u8, String>> =
        bottleneck::app::jobs::Job::spawn("test-panic", None, || panic!("job exploded"));
    let r = job.wait().expect("a result, not a hang");
    let e = r.unwrap_err();
    assert!(
        e.contains("internal error") && e.contains("job exploded"),
        "{e}"
    );
}
