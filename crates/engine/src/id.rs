//! Identities for cache keys. A value that caches are keyed on (a [`crate::model::TrainedModel`],
//! a [`crate::data::Dataset`], a [`crate::analysis::Pca`]) holds an [`Identity`], and its
//! `id()` returns the [`Id`] in it: unique in the process, never reused, and fresh for every
//! clone, so a cloned-then-changed value never shares a key with its original (sharing an
//! `Arc` shares the id, as it shares the value).

use std::sync::atomic::{AtomicU64, Ordering};

/// A process-wide unique number naming one value; compare and hash it as a cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u64);

/// Where a value keeps its [`Id`]: `Clone` and `Default` issue a new one.
#[derive(Debug)]
pub struct Identity(Id);

impl Identity {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Identity(Id(NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    pub fn id(&self) -> Id {
        self.0
    }
}

impl Default for Identity {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_clones_get_their_own() {
        let a = Identity::new();
        let b = a.clone();
        assert_eq!(a.id(), a.id());
        assert_ne!(a.id(), b.id());
        assert_ne!(Identity::default().id(), a.id());
    }
}
