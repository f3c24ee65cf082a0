//! The Latent space panel's non-linear maps ([`MapMethods`]): for a code wider than 2, the
//! t-SNE or UMAP map of a [`LatentMap`]'s codes computed in a background job (progress and the
//! layout of every iteration shared with the UI, which animates it; cancel), cached per model,
//! epoch, dataset, split and method; and the trust figures of whatever map is shown (PCA's
//! too). The computing is `analysis::embed` and `analysis::trust`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::analysis::embed::{embed, map_projection, Method};
use crate::analysis::trust::{measure, Trust};
use crate::analysis::tsne::Stopped;
use crate::app::jobs::Task;
use crate::app::widgets::scatter::ScatterPoints;
use crate::id::Id;

use super::map::{LatentMap, SplitChoice};

/// Seed of every map the panel computes (one seed, one map).
pub const MAP_SEED: u64 = 42;

/// What a map is keyed on: the model (one per epoch snapshot), the dataset, the split, the
/// method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MethodKey {
    model: Id,
    data: Id,
    split: SplitChoice,
    codes: usize,
    method: Method,
    /// PCA's map is the source's own, whose axes the user picks: its point set.
    layout: Option<Id>,
}

impl MethodKey {
    fn of(map: &LatentMap, method: Method) -> MethodKey {
        MethodKey {
            model: map.model.id(),
            data: map.data.id(),
            split: map.split,
            // The codes' identity (the same model's codes of another snapshot are new codes).
            codes: Arc::as_ptr(&map.codes) as usize,
            method,
            layout: (method == Method::Pca).then_some(map.points.id),
        }
    }
}

/// A finished map: the drawn map and how far to trust it.
pub struct Computed {
    pub map: Arc<LatentMap>,
    pub trust: Trust,
    pub seconds: f64,
}

/// What the job shares with the UI while it runs.
#[derive(Default)]
struct Live {
    layout: Option<Vec<[f32; 2]>>,
    version: u64,
    measuring: bool,
}

/// What the job returns: every point's place, a note, the trust figures, seconds.
type Outcome = Result<(Vec<[f32; 2]>, Option<String>, Trust, f64), String>;

struct Running {
    key: MethodKey,
    live: Arc<Mutex<Live>>,
    job: Task<Outcome>,
    base: Arc<LatentMap>,
    /// The live map last built, and the layout version it shows.
    shown: Option<(u64, Arc<LatentMap>)>,
}

/// Non-linear maps and trust figures of one pane.
#[derive(Default)]
pub struct MapMethods {
    cache: HashMap<MethodKey, Arc<Computed>>,
    /// Insertion order, to forget the oldest maps.
    order: Vec<MethodKey>,
    running: Option<Running>,
    /// Keys whose computation was cancelled or failed (not restarted by themselves).
    stopped: HashMap<MethodKey, String>,
}

/// Maps kept per pane (a replayed timeline computes one per epoch).
const CACHE_SIZE: usize = 12;

/// What the pane shows this frame.
pub struct Shown {
    /// The map to draw (the base map when nothing else is ready).
    pub map: Arc<LatentMap>,
    /// Trust figures of the map drawn, once measured.
    pub trust: Option<Trust>,
    /// Seconds the map took, once done.
    pub seconds: Option<f64>,
    /// Progress while computing: (done, total, measuring).
    pub progress: Option<(usize, usize, bool)>,
    /// Why the map wanted is not shown (cancelled or failed).
    pub stopped: Option<String>,
}

impl MapMethods {
    /// True while a map or its trust figures are being computed.
    pub fn working(&self) -> bool {
        self.running.is_some()
    }

    /// Cancels the running computation; the map it was for is not restarted by itself.
    pub fn cancel(&mut self) {
        // Dropping the task cancels it.
        if let Some(r) = self.running.take() {
            self.stopped.insert(r.key, "cancelled".into());
        }
    }

    /// Forgets that the `method` map of `base` was cancelled or failed (asks for it again).
    pub fn retry(&mut self, base: &LatentMap, method: Method) {
        self.stopped.remove(&MethodKey::of(base, method));
    }

    /// The map to draw for `base` with `method` (PCA: `base` itself), starting or collecting
    /// the background job as needed.
    pub fn update(&mut self, base: &Arc<LatentMap>, method: Method, ctx: &egui::Context) -> Shown {
        // A 1- or 2-value code is drawn as is (nothing to measure: the map is the code).
        if base.k <= 2 {
            return Shown {
                map: base.clone(),
                trust: None,
                seconds: None,
                progress: None,
                stopped: None,
            };
        }
        let key = MethodKey::of(base, method);
        self.collect();
        if let Some(c) = self.cache.get(&key) {
            return Shown {
                map: c.map.clone(),
                trust: Some(c.trust),
                seconds: Some(c.seconds),
                progress: None,
                stopped: None,
            };
        }
        if let Some(why) = self.stopped.get(&key) {
            return Shown {
                map: base.clone(),
                trust: None,
                seconds: None,
                progress: None,
                stopped: Some(why.clone()),
            };
        }
        if self.running.as_ref().is_some_and(|r| r.key != key) {
            // Another map is wanted: stop the one running (it is not needed now; dropping the
            // task cancels it).
            self.running = None;
        }
        if self.running.is_none() {
            self.start(base, method, key.clone(), ctx);
        }
        let r = self.running.as_mut().expect("started");
        let live = r.live.lock().unwrap_or_else(|e| e.into_inner());
        let (done, total) = r.job.progress();
        let progress = Some((done, total, live.measuring));
        let map = match &live.layout {
            None => base.clone(),
            Some(layout) => {
                let fresh = r.shown.as_ref().is_some_and(|(v, _)| *v == live.version);
                if !fresh {
                    let m = Arc::new(derive(&r.base, method, layout.clone(), None));
                    r.shown = Some((live.version, m));
                }
                r.shown
                    .as_ref()
                    .map_or_else(|| base.clone(), |(_, m)| m.clone())
            }
        };
        drop(live);
        // Keep the animation going while the job runs.
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
        Shown {
            map,
            trust: None,
            seconds: None,
            progress,
            stopped: None,
        }
    }

    fn start(
        &mut self,
        base: &Arc<LatentMap>,
        method: Method,
        key: MethodKey,
        ctx: &egui::Context,
    ) {
        let live = Arc::new(Mutex::new(Live::default()));
        let (l2, b2) = (live.clone(), base.clone());
        let ctx2 = ctx.clone();
        let job = Task::spawn_controlled(
            "latent-projection",
            0,
            Some(crate::app::jobs::repaint(ctx)),
            move |control| {
                let started = std::time::Instant::now();
                let codes = &b2.codes;
                let k = b2.k;
                let mut last = std::time::Instant::now();
                let emb = if method == Method::Pca {
                    // The base map's own points (whatever components are on the axes).
                    Ok(crate::analysis::embed::Embedding {
                        points: b2.points.xy.clone(),
                        note: None,
                    })
                } else {
                    embed(method, codes, k, MAP_SEED, &mut |done, total, layout| {
                        if control.is_cancelled() {
                            return false;
                        }
                        control.report(done, total);
                        // Hand a layout to the UI ten times a second (and the last one).
                        let show = last.elapsed().as_millis() >= 100 || done == total;
                        if show {
                            let mut l = l2.lock().unwrap_or_else(|e| e.into_inner());
                            l.layout = Some(layout.to_vec());
                            l.version += 1;
                            last = std::time::Instant::now();
                            ctx2.request_repaint();
                        }
                        true
                    })
                };
                let emb = match emb {
                    Ok(e) => e,
                    Err(Stopped::Cancelled) => return Err("cancelled".to_string()),
                    Err(Stopped::Failed(m)) => return Err(m),
                };
                let seconds = started.elapsed().as_secs_f64();
                l2.lock().unwrap_or_else(|e| e.into_inner()).measuring = true;
                ctx2.request_repaint();
                let labels = &b2.points.labels;
                let trust = measure(codes, k, &emb.points, labels);
                Ok((emb.points, emb.note, trust, seconds))
            },
        );
        self.running = Some(Running {
            key,
            live,
            job,
            base: base.clone(),
            shown: None,
        });
    }

    /// Takes in a finished job.
    fn collect(&mut self) {
        let Some(r) = &self.running else {
            return;
        };
        let Some(result) = r.job.poll() else {
            return;
        };
        let r = self.running.take().expect("running");
        match result {
            Ok((points, note, trust, seconds)) => {
                let map = if r.key.method == Method::Pca {
                    r.base.clone()
                } else {
                    Arc::new(derive(&r.base, r.key.method, points, note))
                };
                if self.order.len() >= CACHE_SIZE {
                    let old = self.order.remove(0);
                    self.cache.remove(&old);
                }
                self.order.push(r.key.clone());
                self.cache.insert(
                    r.key,
                    Arc::new(Computed {
                        map,
                        trust,
                        seconds,
                    }),
                );
            }
            Err(e) => {
                self.stopped.insert(r.key, e);
            }
        }
    }
}

/// `base` drawn on a computed non-linear layout.
fn derive(
    base: &Arc<LatentMap>,
    method: Method,
    points: Vec<[f32; 2]>,
    note: Option<String>,
) -> LatentMap {
    let xy = Arc::new(points);
    let projection = map_projection(method, base.codes.clone(), base.k, xy.clone());
    let scatter = Arc::new(ScatterPoints::new(xy.to_vec(), base.points.labels.clone()));
    base.with_layout(projection, scatter, note.or_else(|| base.note.clone()))
}
