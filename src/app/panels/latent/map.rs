//! The map a panel draws: [`LatentMap`], a model's codes for one split, projected (see
//! [`Projection`]) and bucketed for drawing; [`MapSource`] prepares one in a background job
//! (encoding the split when the snapshot does not carry its codes, fitting PCA of the codes)
//! and keeps the latest. Latent space and Interpolate both draw from it.

use std::sync::Arc;

use crate::analysis::{Pca, Projection};
use crate::app::jobs;
use crate::app::widgets;
use crate::app::widgets::scatter::ScatterPoints;
use crate::data::{Dataset, Split};
use crate::id::Id;
use crate::model::{Arch, TrainedModel};
use crate::tasks::Keyed;
use crate::train::worker::Snapshot;
use crate::PIXELS;

/// Which split's images are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SplitChoice {
    #[default]
    Test,
    Train,
}

impl SplitChoice {
    pub fn of(self, data: &Dataset) -> &Split {
        match self {
            SplitChoice::Test => &data.test,
            SplitChoice::Train => &data.train,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SplitChoice::Test => "test",
            SplitChoice::Train => "training",
        }
    }
}

/// A model's codes for one split, projected and ready to draw.
pub struct LatentMap {
    pub model: Arc<TrainedModel>,
    pub data: Arc<Dataset>,
    pub split: SplitChoice,
    /// Completed epochs of the model.
    pub epoch: usize,
    /// Row-major `n × k`.
    pub codes: Arc<Vec<f32>>,
    pub k: usize,
    pub projection: Projection,
    pub points: Arc<ScatterPoints>,
    /// Something the user should know about the map (e.g. why PCA fell back).
    pub note: Option<String>,
    key: MapKey,
}

impl LatentMap {
    pub fn split_data(&self) -> &Split {
        self.split.of(&self.data)
    }

    pub fn code(&self, i: usize) -> &[f32] {
        &self.codes[i * self.k..(i + 1) * self.k]
    }

    pub fn is_vae(&self) -> bool {
        self.model.config().model.arch == Arch::Vae
    }

    /// This map drawn on another layout (a t-SNE or UMAP map of the same codes).
    pub fn with_layout(
        &self,
        projection: Projection,
        points: Arc<ScatterPoints>,
        note: Option<String>,
    ) -> LatentMap {
        LatentMap {
            model: self.model.clone(),
            data: self.data.clone(),
            split: self.split,
            epoch: self.epoch,
            codes: self.codes.clone(),
            k: self.k,
            projection,
            points,
            note,
            key: self.key.clone(),
        }
    }

    /// Decodes codes (row-major `n × k`), as a message on failure.
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>, String> {
        self.model
            .decode(codes)
            .map_err(|e| format!("cannot decode: {e}"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MapKey {
    model: Id,
    data: Id,
    split: SplitChoice,
    comps: (usize, usize),
    /// The snapshot whose test codes are used (test split only): a new snapshot of the same
    /// model, e.g. after the dataset changed, gives a new map.
    codes: Option<Id>,
}

/// What map a panel wants this frame.
#[derive(Clone)]
pub struct MapRequest {
    pub model: Arc<TrainedModel>,
    pub data: Arc<Dataset>,
    pub split: SplitChoice,
    /// Principal components for the axes (0-based), when k > 2.
    pub comps: (usize, usize),
    /// The test split's codes, when the snapshot has them, with the snapshot's id.
    pub test_codes: Option<(Id, Arc<Vec<f32>>)>,
    pub epoch: usize,
}

impl MapRequest {
    /// The map of `snapshot`'s model on `data`.
    pub fn of(
        snapshot: &Snapshot,
        data: &Arc<Dataset>,
        split: SplitChoice,
        comps: (usize, usize),
    ) -> MapRequest {
        MapRequest {
            model: snapshot.model.clone(),
            data: data.clone(),
            split,
            comps,
            test_codes: Some((snapshot.id, snapshot.test_codes.clone())),
            epoch: snapshot.epoch,
        }
    }

    fn key(&self) -> MapKey {
        MapKey {
            model: self.model.id(),
            data: self.data.id(),
            split: self.split,
            comps: self.comps,
            codes: match (&self.test_codes, self.split) {
                (Some((id, _)), SplitChoice::Test) => Some(*id),
                _ => None,
            },
        }
    }
}

/// Prepares [`LatentMap`]s off the UI thread and keeps the latest one.
#[derive(Default)]
pub struct MapSource {
    maps: Keyed<MapKey, Arc<LatentMap>>,
    busy: Option<String>,
}

impl MapSource {
    /// The latest map prepared (it stays while the next one is prepared, or failed).
    pub fn map(&self) -> Option<&Arc<LatentMap>> {
        self.maps.latest().map(|(_, m)| m)
    }

    /// The last preparation's error, if it failed.
    pub fn error(&self) -> Option<&str> {
        match self.maps.last() {
            Some((_, Err(e))) => Some(e.as_str()),
            _ => None,
        }
    }

    /// What the background job is doing, while it runs.
    pub fn busy(&self) -> Option<&str> {
        self.busy.as_deref().filter(|_| self.maps.is_running())
    }

    /// Collects a finished job and starts the one `req` needs. Returns true when a new map
    /// was installed this frame. Only one job runs at a time: while it runs the current map
    /// stays, and the latest request is started when it ends.
    pub fn update(&mut self, req: Option<MapRequest>, ctx: &egui::Context) -> bool {
        let mut changed = self.maps.poll() && matches!(self.maps.last(), Some((_, Ok(_))));
        let Some(req) = req else {
            changed |= self.maps.latest().is_some();
            self.maps.clear();
            return changed;
        };
        let key = req.key();
        let prev = self.maps.latest().map(|(_, m)| m.clone());
        let busy = &mut self.busy;
        self.maps.get_or_start(key.clone(), || {
            // Reuse what the current map already computed; codes from the snapshot are
            // checked against a few fresh encodings (they may belong to the previous dataset).
            let n = req.split.of(&req.data).len();
            let k = req.model.latent();
            let mut codes = match (&req.test_codes, req.split) {
                (Some((_, c)), SplitChoice::Test) if c.len() == n * k => Some(c.clone()),
                _ => None,
            };
            let mut verify = codes.is_some();
            let mut pca = None;
            if let Some(m) = &prev {
                if m.key.model == key.model && m.key.data == key.data && m.split == req.split {
                    if codes.is_none() {
                        codes = Some(m.codes.clone());
                        verify = false;
                    }
                    if codes.as_ref().is_some_and(|c| Arc::ptr_eq(c, &m.codes)) {
                        if let Projection::Pca { pca: p, .. } = &m.projection {
                            pca = Some(p.clone());
                        }
                    }
                }
            }
            *busy = Some(if codes.is_none() {
                format!(
                    "Encoding {} {} images…",
                    widgets::thousands(n as f64),
                    req.split.name()
                )
            } else {
                "Projecting the codes…".into()
            });
            jobs::spawn("latent-map", ctx, move || {
                prepare_map(req, key, codes, verify, pca).map(Arc::new)
            })
        });
        changed
    }
}

fn prepare_map(
    req: MapRequest,
    key: MapKey,
    codes: Option<Arc<Vec<f32>>>,
    verify: bool,
    pca: Option<Arc<Pca>>,
) -> Result<LatentMap, String> {
    let split = req.split.of(&req.data);
    let k = req.model.latent().max(1);
    let n = split.len();
    let codes = codes.filter(|c| !verify || codes_match(&req.model, split, c, k));
    let codes = match codes {
        Some(c) => c,
        None => Arc::new(
            req.model
                .encode_labelled(&split.images, &split.labels)
                .map_err(|e| format!("Cannot encode the {} images: {e}", req.split.name()))?,
        ),
    };
    if codes.len() != n * k {
        return Err(format!(
            "The model gave {} values for {n} images with a {k}-value code.",
            codes.len()
        ));
    }
    let (projection, mut note) = Projection::fit(&codes, k, req.comps, pca);
    let xy = projection.project_all(&codes);
    let bad = xy
        .iter()
        .filter(|p| !(p[0].is_finite() && p[1].is_finite()))
        .count();
    if bad > 0 {
        note = Some(format!(
            "{bad} codes are not finite numbers and are not drawn."
        ));
    }
    let points = Arc::new(ScatterPoints::new(xy, split.labels.clone()));
    Ok(LatentMap {
        model: req.model,
        data: req.data,
        split: req.split,
        epoch: req.epoch,
        codes,
        k,
        projection,
        points,
        note,
        key,
    })
}

/// Whether `codes` are this model's codes of `split`, judged on its first few images.
fn codes_match(model: &TrainedModel, split: &Split, codes: &[f32], k: usize) -> bool {
    let m = split.len().min(8);
    if m == 0 {
        return true;
    }
    match model.encode_labelled(&split.images[..m * PIXELS], &split.labels[..m]) {
        Ok(fresh) => fresh
            .iter()
            .zip(&codes[..m * k])
            .all(|(a, b)| (a - b).abs() <= 1e-3 * (1.0 + a.abs())),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for_map(src: &mut MapSource, req: &MapRequest, ctx: &egui::Context) {
        let start = std::time::Instant::now();
        loop {
            src.update(Some(req.clone()), ctx);
            if src.map().is_some_and(|m| m.key == req.key()) {
                return;
            }
            assert!(src.error().is_none(), "{:?}", src.error());
            assert!(start.elapsed().as_secs() < 60, "the map job never finished");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn snapshot_codes_are_used_only_when_they_belong_to_the_dataset() {
        use crate::id::Identity;
        use crate::model::{TrainConfig, Variant};
        let data = Arc::new(Dataset::embedded().unwrap());
        let cfg = TrainConfig::preset(Variant::Dense, 2);
        let model = Arc::new(TrainedModel::new(&cfg, "embedded").unwrap());
        let n = data.test.len();
        let ctx = egui::Context::default();
        let mut src = MapSource::default();
        // Codes of the right size but from elsewhere (e.g. the dataset used before).
        let wrong = Arc::new(vec![0.5f32; n * 2]);
        let req = MapRequest {
            model: model.clone(),
            data: data.clone(),
            split: SplitChoice::Test,
            comps: (0, 1),
            test_codes: Some((Identity::new().id(), wrong.clone())),
            epoch: 0,
        };
        wait_for_map(&mut src, &req, &ctx);
        let m = src.map().unwrap();
        assert!(!Arc::ptr_eq(&m.codes, &wrong), "stale codes are not drawn");
        let fresh = model.encode(data.test.image(1234)).unwrap();
        for (a, b) in m.code(1234).iter().zip(&fresh) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        assert_eq!(m.points.len(), n);
        // The model's own codes are used as they are (no re-encoding).
        let right = Arc::new(model.encode(&data.test.images).unwrap());
        let req = MapRequest {
            test_codes: Some((Identity::new().id(), right.clone())),
            ..req
        };
        wait_for_map(&mut src, &req, &ctx);
        assert!(Arc::ptr_eq(&src.map().unwrap().codes, &right));
    }
}
