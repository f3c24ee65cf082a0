//! What a lesson's question measures when the class presses Reveal: a small set of answer
//! kinds, each computed with the other analysis functions on the model and data given (the
//! app's: those on screen; never read from the lesson file). [`measure`] may take seconds (a
//! probe or an anomaly detector trains): the app runs it as a task.

use crate::analysis::anomaly::{self, DetectorSettings};
use crate::analysis::codec::CodeRanges;
use crate::analysis::{compare, features, generate, metrics, probe, Pca};
use crate::data::Dataset;
use crate::model::TrainedModel;
use crate::tasks::RunControl;

/// A measurable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnswerKind {
    /// Choice: does the model's test error beat PCA's with as many components as its code?
    AeVsPca,
    /// Number: the model's test MSE per pixel.
    TestMse,
    /// Number: PCA's test MSE with k = the model's code size.
    PcaTestMse,
    /// Number: code units that stay active (variance at least a hundredth of the largest; a
    /// VAE's: KL above a small threshold).
    ActiveUnits,
    /// Number: 5-NN accuracy (%) of the test codes against the training codes.
    KnnAccuracy,
    /// Number: a linear probe's test accuracy (%) on the codes.
    ProbeAccuracy,
    /// Number: ROC AUC of the anomaly detector (trained without the held-out classes) at
    /// telling held-out test images from the others by reconstruction error.
    AnomalyAuc,
    /// Number: PSNR (dB) of the test images sent as the code rounded to 8 bits per number.
    CodecPsnr,
    /// Number: of held-out test images (the first ten of each class) each written by a
    /// conditional VAE as every class, the share (%) a pixel probe recognises as the class
    /// asked for (`generate::measure_sources`).
    GeneratedRecognition,
    /// Number: of the same generated images re-encoded with their class, the share (%) whose
    /// code lands nearest its own source's style code.
    StyleKept,
}

/// What Reveal found.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The number (for a choice question, the number the outcome rests on).
    pub value: f64,
    /// A choice question's outcome (index into the choices).
    pub outcome: Option<usize>,
    /// One sentence with the numbers behind it.
    pub detail: String,
}

impl AnswerKind {
    pub const ALL: [AnswerKind; 10] = [
        AnswerKind::AeVsPca,
        AnswerKind::TestMse,
        AnswerKind::PcaTestMse,
        AnswerKind::ActiveUnits,
        AnswerKind::KnnAccuracy,
        AnswerKind::ProbeAccuracy,
        AnswerKind::AnomalyAuc,
        AnswerKind::CodecPsnr,
        AnswerKind::GeneratedRecognition,
        AnswerKind::StyleKept,
    ];

    /// The spelling in a lesson file.
    pub fn name(self) -> &'static str {
        match self {
            AnswerKind::AeVsPca => "ae_vs_pca",
            AnswerKind::TestMse => "test_mse",
            AnswerKind::PcaTestMse => "pca_test_mse",
            AnswerKind::ActiveUnits => "active_units",
            AnswerKind::KnnAccuracy => "knn_accuracy",
            AnswerKind::ProbeAccuracy => "probe_accuracy",
            AnswerKind::AnomalyAuc => "anomaly_auc",
            AnswerKind::CodecPsnr => "codec_psnr",
            AnswerKind::GeneratedRecognition => "generated_recognition",
            AnswerKind::StyleKept => "style_kept",
        }
    }

    pub fn parse(s: &str) -> Option<AnswerKind> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
    }

    /// A choice answer's outcomes, in order (empty: a number).
    pub fn outcomes(self) -> &'static [&'static str] {
        match self {
            AnswerKind::AeVsPca => &["The autoencoder", "PCA"],
            _ => &[],
        }
    }

    /// The unit a number is shown in.
    pub fn unit(self) -> &'static str {
        match self {
            AnswerKind::KnnAccuracy
            | AnswerKind::ProbeAccuracy
            | AnswerKind::GeneratedRecognition
            | AnswerKind::StyleKept => "%",
            AnswerKind::CodecPsnr => "dB",
            _ => "",
        }
    }

    /// How much the guess entry's − and + buttons (and a drag by one point) move a guess.
    pub fn guess_step(self) -> f64 {
        match self {
            AnswerKind::TestMse | AnswerKind::PcaTestMse | AnswerKind::AeVsPca => 0.005,
            AnswerKind::AnomalyAuc => 0.05,
            AnswerKind::ActiveUnits | AnswerKind::CodecPsnr => 1.0,
            AnswerKind::KnnAccuracy
            | AnswerKind::ProbeAccuracy
            | AnswerKind::GeneratedRecognition
            | AnswerKind::StyleKept => 5.0,
        }
    }

    /// Whether the answer measures the model on screen (the anomaly detector trains its own).
    pub fn needs_model(self) -> bool {
        self != AnswerKind::AnomalyAuc
    }
}

/// How a measured number is written (as many digits as the kind needs).
pub fn format_value(kind: AnswerKind, v: f64) -> String {
    match kind {
        AnswerKind::TestMse | AnswerKind::PcaTestMse | AnswerKind::AeVsPca => format!("{v:.4}"),
        AnswerKind::ActiveUnits => format!("{v:.0}"),
        AnswerKind::AnomalyAuc => format!("{v:.3}"),
        AnswerKind::KnnAccuracy
        | AnswerKind::ProbeAccuracy
        | AnswerKind::GeneratedRecognition
        | AnswerKind::StyleKept => format!("{v:.1} %"),
        AnswerKind::CodecPsnr => format!("{v:.1} dB"),
    }
}

/// The anomaly detector a step's `held_out` classes ask for (the Anomaly panel's defaults
/// otherwise: all classes but 7).
pub fn detector(held_out: Option<&[u8]>, classes: usize) -> DetectorSettings {
    let mut d = DetectorSettings::all_but(7, classes);
    if let Some(h) = held_out {
        d.normal = (0..classes.min(256) as u16)
            .map(|c| c as u8)
            .filter(|c| !h.contains(c))
            .collect();
    }
    d
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Measures `kind` for `model` (run A's) on `data`; `detector` is used by
/// [`AnswerKind::AnomalyAuc`] only. `control` stops long work when cancelled.
pub fn measure(
    kind: AnswerKind,
    model: Option<&TrainedModel>,
    data: &Dataset,
    detector: &DetectorSettings,
    control: Option<&RunControl>,
) -> Result<Measured, String> {
    if kind == AnswerKind::AnomalyAuc {
        return anomaly_auc(data, detector, control);
    }
    let model = model.ok_or("there is no model to measure yet: train one first")?;
    let k = model.latent();
    let number = |value: f64, detail: String| Measured {
        value,
        outcome: None,
        detail,
    };
    match kind {
        AnswerKind::AeVsPca => {
            let ae = compare::test_mse(model, data).map_err(err)?;
            let pca = pca_mse(data, k)?;
            Ok(Measured {
                value: ae,
                outcome: Some(if ae < pca { 0 } else { 1 }),
                detail: format!(
                    "test MSE on {} images: autoencoder {ae:.4}, PCA with k = {k} {pca:.4}",
                    data.test.len()
                ),
            })
        }
        AnswerKind::TestMse => {
            let ae = compare::test_mse(model, data).map_err(err)?;
            let pca = pca_mse(data, k)?;
            Ok(number(
                ae,
                format!(
                    "measured on {} test images (PCA with k = {k}: {pca:.4})",
                    data.test.len()
                ),
            ))
        }
        AnswerKind::PcaTestMse => {
            let pca = pca_mse(data, k)?;
            Ok(number(
                pca,
                format!(
                    "PCA with k = {k}, fitted on {} training images, on {} test images",
                    data.train.len(),
                    data.test.len()
                ),
            ))
        }
        AnswerKind::ActiveUnits => {
            let s = features::model_stats(model, &data.test.images).map_err(err)?;
            Ok(number(
                s.active_units as f64,
                format!(
                    "{} of the {k} code units are active on {} test images (mean |z| {:.3})",
                    s.active_units,
                    data.test.len(),
                    s.mean_abs_activation
                ),
            ))
        }
        AnswerKind::KnnAccuracy => {
            let train = model.encode(&data.train.images).map_err(err)?;
            let test = model.encode(&data.test.images).map_err(err)?;
            let acc = metrics::knn_accuracy(
                &train,
                &data.train.labels,
                &test,
                &data.test.labels,
                k,
                compare::KNN,
            ) as f64
                * 100.0;
            Ok(number(
                acc,
                format!(
                    "{}-NN on the {k}-number codes, {} test images",
                    compare::KNN,
                    data.test.len()
                ),
            ))
        }
        AnswerKind::ProbeAccuracy => {
            let train = model.encode(&data.train.images).map_err(err)?;
            let test = model.encode(&data.test.images).map_err(err)?;
            let p = probe::train_probe(
                &train,
                &data.train.labels,
                k,
                data.num_classes(),
                42,
                control,
            )
            .map_err(err)?;
            let acc = p.accuracy(&test, &data.test.labels) as f64 * 100.0;
            Ok(number(
                acc,
                format!(
                    "a linear classifier on the {k}-number codes of {} training images, tested on {}",
                    data.train.len(),
                    data.test.len()
                ),
            ))
        }
        AnswerKind::CodecPsnr => {
            let train = model.encode(&data.train.images).map_err(err)?;
            let test = model.encode(&data.test.images).map_err(err)?;
            let ranges = CodeRanges::fit(&train, k).map_err(err)?;
            let q = ranges.quantizer(8).map_err(err)?;
            let sent = q.round_trip(&test).map_err(err)?;
            let decoded = model.decode(&sent).map_err(err)?;
            let mse = metrics::mse(&decoded, &data.test.images);
            Ok(number(
                metrics::psnr(mse) as f64,
                format!(
                    "{} bytes per image (8 bits for each of {k} numbers), MSE {mse:.4}",
                    q.bytes_per_image()
                ),
            ))
        }
        AnswerKind::GeneratedRecognition | AnswerKind::StyleKept => {
            let r = generated(model, data)?;
            Ok(if kind == AnswerKind::StyleKept {
                number(100.0 * r.style.nearest_own, r.style.describe())
            } else {
                number(
                    100.0 * r.recognition,
                    format!(
                        "{} images: {} held-out test images each written as all {} classes; {}",
                        r.style.images,
                        r.style.sources,
                        r.style.images / r.style.sources.max(1),
                        r.judge
                    ),
                )
            })
        }
        AnswerKind::AnomalyAuc => unreachable!("measured above"),
    }
}

/// A conditional VAE's held-out test images (the first ten of each class) written as every
/// class and measured: the pixel probe's recognition and the style kept (the same measure and
/// probe as the Generate panel's line, so Reveal and the panel give the same figures).
fn generated(model: &TrainedModel, data: &Dataset) -> Result<generate::StyleReport, String> {
    // A model that is not a conditional VAE is refused before the probe trains.
    generate::classes_of(model).map_err(err)?;
    let probe = generate::PixelProbe::train(data, generate::PROBE_SEED).map_err(err)?;
    generate::measure_held_out(model, &probe, data, generate::HELD_OUT_PER_CLASS).map_err(err)
}

fn pca_mse(data: &Dataset, k: usize) -> Result<f64, String> {
    let pca = Pca::fit(&data.train.images, crate::PIXELS, k).map_err(err)?;
    Ok(pca.mse(&data.test.images, k) as f64)
}

fn anomaly_auc(
    data: &Dataset,
    d: &DetectorSettings,
    control: Option<&RunControl>,
) -> Result<Measured, String> {
    let model = anomaly::train_detector(d, data, |done, total| {
        control.is_none_or(|c| {
            c.report(done, total);
            !c.is_cancelled()
        })
    })
    .map_err(err)?
    .ok_or("cancelled")?;
    let scored = anomaly::score_held_out(&model, &data.test, &d.normal).map_err(err)?;
    let auc = scored
        .auc()
        .ok_or("the test images hold no anomaly or no normal image")?;
    let (normal, anomalous) = scored.counts();
    Ok(Measured {
        value: auc as f64,
        outcome: None,
        detail: format!(
            "a {}-number detector trained {} epochs on the normal classes; {anomalous} held-out and {normal} normal test images",
            d.latent, d.epochs
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled(key: &str) -> TrainedModel {
        crate::model::bundled::find(key).unwrap().load().unwrap()
    }

    #[test]
    fn names_round_trip_and_only_ae_vs_pca_is_a_choice() {
        for a in AnswerKind::ALL {
            assert_eq!(AnswerKind::parse(a.name()), Some(a));
            assert_eq!(a.outcomes().is_empty(), a != AnswerKind::AeVsPca);
            assert!(a.guess_step() > 0.0);
        }
        assert_eq!(AnswerKind::parse("nonsense"), None);
    }

    /// Each answer equals the same quantity measured another way on the embedded digits.
    #[test]
    fn answers_equal_an_independent_measurement() {
        let data = Dataset::embedded().unwrap();
        let d = detector(None, data.num_classes());
        let m = bundled("dense-2d");
        let test = &data.test.images;
        let recon = m.reconstruct(test).unwrap();
        let mse = metrics::mse(&recon, test) as f64;
        let got = measure(AnswerKind::TestMse, Some(&m), &data, &d, None).unwrap();
        assert!((got.value - mse).abs() <= 1e-6, "{} vs {mse}", got.value);
        // PCA's error from its own reconstruction: project, then back.
        let pca = Pca::fit(&data.train.images, crate::PIXELS, 2).unwrap();
        let pca_mse = pca.mse(test, 2) as f64;
        let got = measure(AnswerKind::PcaTestMse, Some(&m), &data, &d, None).unwrap();
        assert!((got.value - pca_mse).abs() <= 1e-6);
        let got = measure(AnswerKind::AeVsPca, Some(&m), &data, &d, None).unwrap();
        assert_eq!(got.outcome, Some(if mse < pca_mse { 0 } else { 1 }));
        let m32 = bundled("dense-32d");
        let codes = m32.encode(test).unwrap();
        let stats = features::code_stats(&codes, 32, None).unwrap();
        let got = measure(AnswerKind::ActiveUnits, Some(&m32), &data, &d, None).unwrap();
        assert_eq!(got.value, stats.active_units as f64);
        assert!(measure(AnswerKind::TestMse, None, &data, &d, None).is_err());
    }

    /// A conditional VAE's generated images: the revealed recognition is the share the pixel
    /// probe predicts as the class asked for, counted here one by one; style kept is the
    /// report's own share.
    #[test]
    fn generated_recognition_counts_the_probe_s_predictions() {
        let data = Dataset::embedded().unwrap();
        let d = detector(None, data.num_classes());
        let m = bundled("cvae-4d");
        let got = measure(AnswerKind::GeneratedRecognition, Some(&m), &data, &d, None).unwrap();
        let idx = generate::held_out_sources(&data, 10, 10);
        let images: Vec<f32> = idx
            .iter()
            .flat_map(|&i| data.test.image(i).to_vec())
            .collect();
        let labels: Vec<u8> = idx.iter().map(|&i| data.test.labels[i]).collect();
        let codes = generate::style_codes(&m, &images, &labels).unwrap();
        let (generated, asked) = generate::every_class(&m, &codes).unwrap();
        let probe = generate::PixelProbe::train(&data, 42).unwrap();
        let predicted = probe.predict(&generated);
        let right = predicted.iter().zip(&asked).filter(|(p, a)| p == a).count();
        let want = 100.0 * right as f64 / asked.len() as f64;
        assert!((got.value - want).abs() < 1e-9, "{} vs {want}", got.value);
        assert_eq!(asked.len(), 1000);
        let kept = measure(AnswerKind::StyleKept, Some(&m), &data, &d, None).unwrap();
        let style = generate::style_kept(&m, &codes, &generated).unwrap();
        assert!((kept.value - 100.0 * style.nearest_own).abs() < 1e-9);
        // A plain VAE cannot be asked.
        assert!(measure(
            AnswerKind::GeneratedRecognition,
            Some(&bundled("vae-2d")),
            &data,
            &d,
            None
        )
        .is_err());
    }
}
