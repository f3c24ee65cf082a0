//! A cancellable background run: work on a named thread that reports progress (steps done of
//! a total) and stops when asked, with its result polled once it is ready. Used for the
//! trainings the UI panels start beside the main run (the PCA panel's linear autoencoder, the
//! Anomaly panel's detector); no UI in here: whoever spawns it says how to be woken.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};

#[derive(Debug, Default)]
struct Counters {
    done: AtomicUsize,
    total: AtomicUsize,
    cancel: AtomicBool,
}

/// The run's progress counters and cancel flag, shared by the work and its owner.
#[derive(Clone, Debug, Default)]
pub struct RunControl(Arc<Counters>);

impl RunControl {
    /// One more step done.
    pub fn step(&self) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Steps done and to do.
    pub fn report(&self, done: usize, total: usize) {
        self.0.done.store(done, Ordering::Relaxed);
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// (steps done, steps in all).
    pub fn progress(&self) -> (usize, usize) {
        (
            self.0.done.load(Ordering::Relaxed),
            self.0.total.load(Ordering::Relaxed),
        )
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.0.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancel.load(Ordering::Relaxed)
    }
}

/// Work running on its own thread. Dropping it cancels the work (which then ends at its next
/// check; its result is discarded).
pub struct BackgroundRun<T> {
    control: RunControl,
    rx: Receiver<T>,
}

impl<T: Send + 'static> BackgroundRun<T> {
    /// Runs `work` on a thread named `bottleneck-{name}` with `total` steps to do (the work may
    /// change it with [`RunControl::report`]); `on_done` is called after the result is ready
    /// (e.g. to ask the UI to repaint).
    pub fn spawn(
        name: &str,
        total: usize,
        on_done: impl FnOnce() + Send + 'static,
        work: impl FnOnce(&RunControl) -> T + Send + 'static,
    ) -> Self {
        let control = RunControl::default();
        control.report(0, total);
        let (tx, rx) = bounded(1);
        let c = control.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("bottleneck-{name}"))
            .spawn(move || {
                let _ = tx.send(work(&c));
                on_done();
            });
        if let Err(e) = spawned {
            eprintln!("bottleneck: cannot start a background thread for {name}: {e}");
        }
        Self { control, rx }
    }

    /// The result, once it is ready (later calls return `None`).
    pub fn poll(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// (steps done, steps in all).
    pub fn progress(&self) -> (usize, usize) {
        self.control.progress()
    }
}

impl<T> Drop for BackgroundRun<T> {
    fn drop(&mut self) {
        self.control.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_progress_and_result() {
        let run = BackgroundRun::spawn(
            "test",
            3,
            || {},
            |c| {
                for _ in 0..3 {
                    c.step();
                }
                7
            },
        );
        let r = loop {
            if let Some(r) = run.poll() {
                break r;
            }
            std::thread::yield_now();
        };
        assert_eq!(r, 7);
        assert_eq!(run.progress(), (3, 3));
        assert_eq!(run.poll(), None);
    }

    #[test]
    fn dropping_cancels() {
        let (tx, rx) = bounded(1);
        let run = BackgroundRun::spawn(
            "test",
            0,
            || {},
            move |c| {
                while !c.is_cancelled() {
                    std::thread::yield_now();
                }
                let _ = tx.send(());
            },
        );
        drop(run);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the work saw the cancel");
    }
}
