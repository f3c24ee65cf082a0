//! `bottleneck anomaly`: trains a detector on the normal classes and reports how well its
//! reconstruction error separates the held-out classes (ROC AUC), and with `--ood DIR` the
//! images of another dataset. The core is `analysis::anomaly`, shared with the Anomaly panel.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::analysis::anomaly::{self, DetectorSettings, Scored};
use crate::data::Dataset;

#[derive(Args, Debug, Clone)]
pub struct AnomalyArgs {
    /// Classes that count as normal, e.g. 0,1,2,3,4,5,6,8,9; the others are the anomalies.
    #[arg(long, value_name = "C,C,...")]
    pub normal: String,
    #[command(flatten)]
    pub data: super::DataArg,
    /// Also score this dataset's test images (a folder of IDX files) as anomalies.
    #[arg(long, value_name = "DIR")]
    pub ood: Option<PathBuf>,
    /// Size of the detector's code.
    #[arg(long, default_value_t = 16)]
    pub latent: usize,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// One group's scores in the report.
fn summary(s: &Scored) -> serde_json::Value {
    let (n, a) = s.counts();
    let threshold = s.normal_quantile(0.95);
    let (precision, recall) = threshold.map_or((f32::NAN, f32::NAN), |t| s.precision_recall(t));
    json!({
        "auc": s.auc(),
        "normal_images": n,
        "anomalous_images": a,
        "threshold_95": threshold,
        "precision_at_95": precision,
        "recall_at_95": recall,
    })
}

/// What `bottleneck anomaly` measured.
pub struct Outcome {
    pub dataset: String,
    pub normal: Vec<u8>,
    pub held_out: Vec<u8>,
    pub settings: DetectorSettings,
    pub train_seconds: f64,
    /// The test split scored with the held-out classes as anomalies.
    pub held: Scored,
    /// `--ood`: the other dataset's name and its images scored against the normal ones.
    pub ood: Option<(String, Scored)>,
}

pub fn run(a: AnomalyArgs) -> anyhow::Result<()> {
    let o = measure(&a)?;
    if a.json {
        println!("{}", serde_json::to_string(&o.to_json())?);
    } else {
        o.print_human();
    }
    Ok(())
}

/// Checks the arguments, trains the detector and scores the images (progress on stderr).
pub fn measure(a: &AnomalyArgs) -> anyhow::Result<Outcome> {
    let normal = anomaly::parse_classes(&a.normal).map_err(|e| anyhow!("--normal: {e}"))?;
    if a.latent == 0 || a.latent > 784 {
        bail!("--latent {}: must be between 1 and 784", a.latent);
    }
    if a.epochs == 0 || a.epochs > 100_000 {
        bail!("--epochs {}: must be between 1 and 100000", a.epochs);
    }
    let data = a.data.load()?;
    let classes = data.num_classes();
    if let Some(&c) = normal.iter().find(|&&c| c as usize >= classes) {
        bail!(
            "--normal: class {c} is not in {} (its classes are 0 to {})",
            data.name,
            classes.saturating_sub(1)
        );
    }
    let held_out: Vec<u8> = (0..classes as u16)
        .map(|c| c as u8)
        .filter(|c| !normal.contains(c))
        .collect();
    if held_out.is_empty() && a.ood.is_none() {
        bail!("--normal: every class is normal, so nothing is held out: leave a class out or give --ood DIR");
    }
    // Load the other dataset before training, so a wrong path fails at once.
    let ood = match &a.ood {
        Some(dir) => {
            Some(Dataset::load_dir(dir).map_err(|e| anyhow!("--ood {}: {e}", dir.display()))?)
        }
        None => None,
    };
    let settings = DetectorSettings {
        normal: normal.clone(),
        latent: a.latent,
        epochs: a.epochs,
        seed: a.seed,
    };
    settings
        .validate(classes)
        .map_err(|e| anyhow!("invalid settings: {e}"))?;

    let cfg = settings.train_config();
    eprintln!(
        "training {} on the normal classes of {} ({} of {} training images)",
        cfg.describe(),
        data.name,
        data.train.filter_classes(&normal).len(),
        data.train.len()
    );
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} steps ({elapsed}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let model = anomaly::train_detector(&settings, &data, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        true
    })
    .map_err(|e| anyhow!("training the detector failed: {e}"))?
    .ok_or_else(|| anyhow!("training was cancelled"))?;
    bar.finish_and_clear();
    let train_seconds = started.elapsed().as_secs_f64();

    let held = anomaly::score_held_out(&model, &data.test, &normal).map_err(|e| anyhow!("{e}"))?;
    let ood_scored = match &ood {
        Some(o) => Some(
            anomaly::score_ood(&model, &data.test, &normal, &o.test).map_err(|e| anyhow!("{e}"))?,
        ),
        None => None,
    };

    Ok(Outcome {
        dataset: data.name.clone(),
        normal,
        held_out,
        settings,
        train_seconds,
        held,
        ood: ood.map(|o| o.name).zip(ood_scored),
    })
}

impl Outcome {
    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({
            "dataset": self.dataset,
            "normal": self.normal,
            "held_out": self.held_out,
            "model": self.settings.train_config().describe(),
            "latent": self.settings.latent,
            "epochs": self.settings.epochs,
            "seed": self.settings.seed,
            "train_seconds": self.train_seconds,
            "auc": self.held.auc(),
            "held_out_scores": summary(&self.held),
        });
        if let Some((name, s)) = &self.ood {
            v["ood_dataset"] = json!(name);
            v["ood_auc"] = json!(s.auc());
            v["ood_scores"] = summary(s);
        }
        v
    }

    pub fn print_human(&self) {
        let names = |cs: &[u8]| {
            cs.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        println!("dataset          {}", self.dataset);
        println!(
            "normal classes   {}   (held out: {})",
            names(&self.normal),
            if self.held_out.is_empty() {
                "none".into()
            } else {
                names(&self.held_out)
            }
        );
        println!(
            "detector         {}, {} epochs in {:.1} s",
            self.settings.train_config().describe(),
            self.settings.epochs,
            self.train_seconds
        );
        let line = |what: &str, s: &Scored| {
            let (n, an) = s.counts();
            match s.auc() {
                Some(auc) => {
                    let t = s.normal_quantile(0.95).unwrap_or(f32::NAN);
                    let (p, r) = s.precision_recall(t);
                    println!(
                        "{what:<16} AUC {auc:.4}   ({n} normal vs {an} anomalous test images)"
                    );
                    println!(
                        "{:<16} at 5 % false alarms (error >= {t:.4}): precision {:.1} %, \
                         recall {:.1} %",
                        "",
                        100.0 * p,
                        100.0 * r
                    );
                }
                None => println!("{what:<16} no image of a held-out class in the test split"),
            }
        };
        if !self.held_out.is_empty() {
            line("held out", &self.held);
        }
        if let Some((name, s)) = &self.ood {
            line(&format!("OOD {name}"), s);
        }
    }
}
