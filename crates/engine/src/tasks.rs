//! Work on background threads: the one task type ([`Task`]) every slow computation of the
//! engine and the app runs as (a named thread, a bounded channel for its one result, a panic
//! caught and turned into that result through [`FromPanic`], so nothing waits forever), with an
//! optional progress and cancel control ([`RunControl`]), and the one cache of "the result for
//! this key, or the task computing it" the panels keep ([`Keyed`], in `tasks/keyed.rs`).
//! No UI in here: whoever spawns a task says how to be woken when it is done ([`Waker`], e.g.
//! a closure asking egui to repaint).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};

mod keyed;
pub use keyed::Keyed;

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

/// A task's progress counters and cancel flag, shared by the work and its owner.
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

/// Called on the task's thread once its result is ready (e.g. to ask the UI to repaint).
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Waker(Arc::new(wake))
    }

    pub fn wake(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// A result that will arrive later: work running on its own thread (or an answer someone else
/// sends, [`Task::from_channel`]). Dropping it cancels the work (which then ends at its next
/// check, if it checks; its result is discarded).
pub struct Task<T> {
    control: RunControl,
    rx: Receiver<T>,
    controlled: bool,
}

impl<T: FromPanic + Send + 'static> Task<T> {
    /// Runs `work` on a thread named `bottleneck-{name}`; `waker` (if any) is called once the
    /// result is ready.
    pub fn spawn(
        name: &str,
        waker: Option<Waker>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Self {
        let mut task = Self::start(name, 0, waker, move |_| work());
        task.controlled = false;
        task
    }

    /// [`Task::spawn`] for work that reports progress and stops when asked: `work` gets the
    /// task's [`RunControl`], with `total` steps to do (the work may change it with
    /// [`RunControl::report`]).
    pub fn spawn_controlled(
        name: &str,
        total: usize,
        waker: Option<Waker>,
        work: impl FnOnce(&RunControl) -> T + Send + 'static,
    ) -> Self {
        Self::start(name, total, waker, work)
    }

    fn start(
        name: &str,
        total: usize,
        waker: Option<Waker>,
        work: impl FnOnce(&RunControl) -> T + Send + 'static,
    ) -> Self {
        let control = RunControl::default();
        control.report(0, total);
        let (tx, rx) = bounded(1);
        let c = control.clone();
        let tx_here = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("bottleneck-{name}"))
            .spawn(move || {
                let _ = tx.send(catching(|| work(&c)));
                if let Some(w) = waker {
                    w.wake();
                }
            });
        if let Err(e) = spawned {
            // No thread, no work: the result says so at once instead of never arriving.
            let why = format!("cannot start a background thread for {name}: {e}");
            let _ = tx_here.send(T::from_panic(Panicked(why)));
        }
        Task {
            control,
            rx,
            controlled: true,
        }
    }
}

impl<T> Task<T> {
    /// A task whose result someone else sends on `rx` (e.g. the answer of a dialog).
    pub fn from_channel(rx: Receiver<T>) -> Self {
        Task {
            control: RunControl::default(),
            rx,
            controlled: false,
        }
    }

    /// The result, once it is ready (later calls return `None`).
    pub fn poll(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Waits for the result (tests and the command line; the UI never waits). `None` when
    /// nobody will ever send one.
    pub fn wait(self) -> Option<T> {
        self.rx.recv().ok()
    }

    /// (steps done, steps in all); (0, 0) for work without a control.
    pub fn progress(&self) -> (usize, usize) {
        self.control.progress()
    }

    /// Asks the work to stop (work spawned without a control never looks).
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// Whether the work was given a [`RunControl`] (and so can be cancelled).
    pub fn is_controlled(&self) -> bool {
        self.controlled
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.control.cancel();
    }
}

/// Polls an optional task: returns its result and clears the slot when it is done.
pub fn take_done<T>(slot: &mut Option<Task<T>>) -> Option<T> {
    let r = slot.as_ref()?.poll()?;
    *slot = None;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_progress_and_result() {
        let run = Task::spawn_controlled("test", 3, None, |c| {
            for _ in 0..3 {
                c.step();
            }
            Ok::<u8, String>(7)
        });
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
        let run: Task<Result<u8, String>> =
            Task::spawn("test-panic", None, || panic!("boom at step 3"));
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
        let run = Task::spawn_controlled("test", 0, None, move |c| {
            while !c.is_cancelled() {
                std::thread::yield_now();
            }
            let _ = tx.send(());
        });
        drop(run);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the work saw the cancel");
    }

    #[test]
    fn the_waker_is_called_after_the_result_is_ready() {
        let (tx, rx) = bounded(1);
        let task = Task::spawn(
            "test-wake",
            Some(Waker::new(move || {
                let _ = tx.try_send(());
            })),
            || vec![1u8],
        );
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("woken");
        assert_eq!(task.poll(), Some(vec![1]));
        assert!(!task.is_controlled());
    }

    #[test]
    fn a_task_from_a_channel_answers_what_is_sent() {
        let (tx, rx) = bounded(1);
        let mut slot = Some(Task::from_channel(rx));
        assert_eq!(take_done(&mut slot), None);
        tx.send(5u8).unwrap();
        assert_eq!(take_done(&mut slot), Some(5));
        assert!(slot.is_none());
    }
}
