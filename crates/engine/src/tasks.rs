//! A cancellable background run: work on a named thread that reports progress (steps done of
//! a total) and stops when asked, with its result polled once it is ready. Used for the
//! trainings the UI panels start beside the main run (the PCA panel's linear autoencoder, the
//! Anomaly panel's detector); no UI in here: whoever spawns it says how to be woken.
//! A panic in the work becomes its result through [`FromPanic`] (an error, for a `Result`),
//! never a run that silently never finishes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};

/// Work on a background thread panicked: the panic's message, in place of the result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("internal error in the background work ({0}); nothing was changed")]
pub struct Panicked(pub String);

impl From<Panicked> for String {
    fn from(p: Panicked) -> String {
        p.to_string()
    }
}

/// A result a panicked background work can be turned into, so that whoever waits for it gets
/// an error (or an empty answer) instead of waiting forever.
pub trait FromPanic {
    fn from_panic(p: Panicked) -> Self;
}

impl<T, E: From<Panicked>> FromPanic for Result<T, E> {
    fn from_panic(p: Panicked) -> Self {
        Err(E::from(p))
    }
}

/// Work run for its effects only.
impl FromPanic for () {
    fn from_panic(_: Panicked) -> Self {}
}

/// A list (e.g. the paths a file dialog picked) comes back empty.
impl<T> FromPanic for Vec<T> {
    fn from_panic(_: Panicked) -> Self {
        Vec::new()
    }
}

/// Runs `f`, turning a panic into `T::from_panic` with the panic's message.
pub fn catching<T: FromPanic>(f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|e| T::from_panic(Panicked(panic_message(&*e))))
}

/// The text of a panic's payload ("unknown panic" when it is not a string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

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

impl<T: FromPanic + Send + 'static> BackgroundRun<T> {
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
                let _ = tx.send(catching(|| work(&c)));
                on_done();
            });
        if let Err(e) = spawned {
            eprintln!("bottleneck: cannot start a background thread for {name}: {e}");
        }
        Self { control, rx }
    }
}

impl<T> BackgroundRun<T> {
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
                Ok::<u8, String>(7)
            },
        );
        let r = loop {
            if let Some(r) = run.poll() {
                break r;
            }
            std::thread::yield_now();
        };
        assert_eq!(r, Ok(7));
        assert_eq!(run.progress(), (3, 3));
        assert_eq!(run.poll(), None);
    }

    #[test]
    fn a_panic_becomes_an_error_result() {
        let run: BackgroundRun<Result<u8, String>> =
            BackgroundRun::spawn("test-panic", 1, || {}, |_| panic!("boom at step 3"));
        let r = loop {
            if let Some(r) = run.poll() {
                break r;
            }
            std::thread::yield_now();
        };
        let e = r.unwrap_err();
        assert!(
            e.contains("internal error") && e.contains("boom at step 3"),
            "{e}"
        );
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
