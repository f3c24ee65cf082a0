//! The one cache of "the result for this key, or the task computing it" (a key is what the
//! result depends on, e.g. the model snapshot, dataset and PCA ids). It holds at most one
//! running task, the last value and, when the last result was an error, that error, each with
//! its key, so that a result for one key is never taken for another's.

use super::Task;

/// The result of slow work for one key at a time: the task computing it, the last value, and
/// the last error (kept until a value arrives), each with its key.
///
/// Each frame, call [`Keyed::get_or_start`] with the key of what is shown: it collects a
/// finished result and starts the work when nothing is known for that key. A key whose work
/// failed is not tried again while its error is the last result (the error is shown
/// instead); a later value, for any key, clears the error.
///
/// When the key changes while a task runs for the old one: a task that can be cancelled
/// ([`Task::spawn_controlled`]) is cancelled and dropped at once (its result is never used)
/// and the new key's task starts; a task that cannot is left to finish (its result is kept for
/// its own key, e.g. to be shown as the previous figure, see [`Keyed::latest`]) and the new
/// key's task starts after it, so that at most one such work runs per cache.
pub struct Keyed<K, V, E = String> {
    task: Option<(K, Task<Result<V, E>>)>,
    value: Option<(K, V)>,
    error: Option<(K, E)>,
    /// Counts the results collected (a view redraws what it derived when it changes).
    generation: u64,
}

impl<K, V, E> Default for Keyed<K, V, E> {
    fn default() -> Self {
        Keyed {
            task: None,
            value: None,
            error: None,
            generation: 0,
        }
    }
}

impl<K: PartialEq, V, E> Keyed<K, V, E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Collects the running task's result if it is ready: a value replaces the last value and
    /// clears the error, an error becomes the error. True when a result arrived.
    pub fn poll(&mut self) -> bool {
        let Some(r) = self.task.as_ref().and_then(|(_, t)| t.poll()) else {
            return false;
        };
        let Some((key, _)) = self.task.take() else {
            return false;
        };
        match r {
            Ok(v) => {
                self.error = None;
                self.value = Some((key, v));
            }
            Err(e) => self.error = Some((key, e)),
        }
        self.generation += 1;
        true
    }

    /// The value for `key`, collecting a finished result first; when neither a value nor an
    /// error is known for `key` and no task runs for it, starts one with `start` (see the
    /// type's documentation for a task of another key).
    pub fn get_or_start(
        &mut self,
        key: K,
        start: impl FnOnce() -> Task<Result<V, E>>,
    ) -> Option<&V> {
        self.poll();
        if self.is_settled(&key) {
            return self.get(&key);
        }
        match &self.task {
            Some((k, _)) if *k == key => return None,
            Some((_, t)) if t.is_controlled() => self.task = None,
            Some(_) => return None,
            None => {}
        }
        self.task = Some((key, start()));
        None
    }

    /// The value for exactly `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.value
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The error of the work for exactly `key`.
    pub fn error(&self, key: &K) -> Option<&E> {
        self.error
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, e)| e)
    }

    /// The last value, whatever its key (a view that keeps showing the previous figure while
    /// the next is computed says so).
    pub fn latest(&self) -> Option<(&K, &V)> {
        self.value.as_ref().map(|(k, v)| (k, v))
    }

    /// The last result collected, value or error, whatever its key.
    pub fn last(&self) -> Option<(&K, Result<&V, &E>)> {
        match &self.error {
            Some((k, e)) => Some((k, Err(e))),
            None => self.value.as_ref().map(|(k, v)| (k, Ok(v))),
        }
    }

    /// The error, whatever its key, while it is the last result.
    pub fn latest_error(&self) -> Option<(&K, &E)> {
        self.error.as_ref().map(|(k, e)| (k, e))
    }

    /// A value or an error is known for `key`.
    pub fn is_settled(&self, key: &K) -> bool {
        self.get(key).is_some() || self.error(key).is_some()
    }

    /// A task is running (for any key).
    pub fn is_running(&self) -> bool {
        self.task.is_some()
    }

    /// The key the running task computes.
    pub fn running_key(&self) -> Option<&K> {
        self.task.as_ref().map(|(k, _)| k)
    }

    /// The running task's (steps done, steps in all).
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.task.as_ref().map(|(_, t)| t.progress())
    }

    /// How many results were collected so far.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Drops the running task (cancelled; its result is never used).
    pub fn cancel(&mut self) {
        self.task = None;
    }

    /// Forgets everything: the task (cancelled), the value and the error.
    pub fn clear(&mut self) {
        self.task = None;
        self.value = None;
        self.error = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    type Cache = Keyed<&'static str, u32>;

    /// Calls `get_or_start(key, …)` until a value or an error is known for `key`.
    fn settle(cache: &mut Cache, key: &'static str, start: impl Fn() -> Task<Result<u32, String>>) {
        let t = Instant::now();
        while !cache.is_settled(&key) {
            cache.get_or_start(key, &start);
            assert!(t.elapsed() < Duration::from_secs(20), "no result for {key}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_result_for_one_key_is_not_shown_for_another() {
        let mut cache = Cache::new();
        settle(&mut cache, "a", || Task::spawn("a", None, || Ok(1)));
        assert_eq!(cache.get(&"a"), Some(&1));
        // Key b: nothing yet, even though a value (a's) is at hand.
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        assert_eq!(
            cache.get_or_start("b", move || Task::spawn("b", None, move || {
                let _ = rx.recv();
                Ok(2)
            })),
            None
        );
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.running_key(), Some(&"b"));
        assert_eq!(cache.latest(), Some((&"a", &1)));
        tx.send(()).unwrap();
        settle(&mut cache, "b", || panic!("b is already running"));
        assert_eq!(cache.get(&"b"), Some(&2));
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.generation(), 2);
    }

    #[test]
    fn a_panic_becomes_the_error_of_its_key_and_is_not_retried() {
        let mut cache = Cache::new();
        settle(&mut cache, "a", || {
            Task::spawn("p", None, || panic!("exploded"))
        });
        let e = cache.error(&"a").expect("an error for a");
        assert!(e.contains("exploded"), "{e}");
        assert_eq!(cache.get(&"a"), None);
        assert!(matches!(cache.last(), Some((&"a", Err(_)))));
        assert!(cache.error(&"b").is_none());
        // Not started again for the same key.
        assert_eq!(cache.get_or_start("a", || panic!("retried")), None);
        assert!(!cache.is_running());
        // A value (for any key) clears the error: a is tried again.
        settle(&mut cache, "b", || Task::spawn("b", None, || Ok(2)));
        assert_eq!(cache.error(&"a"), None);
        settle(&mut cache, "a", || Task::spawn("a", None, || Ok(3)));
        assert_eq!(
            (cache.get(&"a"), cache.last()),
            (Some(&3), Some((&"a", Ok(&3))))
        );
    }

    #[test]
    fn a_new_key_cancels_a_cancellable_task_and_starts_at_once() {
        let mut cache = Cache::new();
        let (saw_cancel, rx) = crossbeam_channel::bounded(1);
        cache.get_or_start("a", move || {
            Task::spawn_controlled("a", 0, None, move |c| {
                while !c.is_cancelled() {
                    std::thread::yield_now();
                }
                let _ = saw_cancel.send(());
                Ok(1)
            })
        });
        assert_eq!(cache.running_key(), Some(&"a"));
        cache.get_or_start("b", || Task::spawn("b", None, || Ok(2)));
        assert_eq!(cache.running_key(), Some(&"b"));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the old task saw the cancel");
        settle(&mut cache, "b", || panic!("b is already running"));
        assert_eq!(cache.get(&"b"), Some(&2));
        // a's result was never used.
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.generation(), 1);
    }

    #[test]
    fn a_new_key_waits_for_an_uncancellable_task_to_finish() {
        let mut cache = Cache::new();
        let (go, wait) = crossbeam_channel::bounded::<()>(1);
        cache.get_or_start("a", move || {
            Task::spawn("a", None, move || {
                let _ = wait.recv();
                Ok(1)
            })
        });
        // b waits for a: one such work at a time.
        cache.get_or_start("b", || panic!("b started while a runs"));
        assert_eq!(cache.running_key(), Some(&"a"));
        go.send(()).unwrap();
        settle(&mut cache, "b", || Task::spawn("b", None, || Ok(2)));
        assert_eq!(cache.get(&"b"), Some(&2));
        assert_eq!(cache.generation(), 2);
    }
}
