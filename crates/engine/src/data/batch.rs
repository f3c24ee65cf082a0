//! Shuffled mini-batches over a split: a seeded permutation per epoch, batches copied into
//! a caller-owned buffer so the training loop allocates nothing per step.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Split;

/// Walks a split in a new seeded random order every epoch.
#[derive(Clone, Debug)]
pub struct Batcher {
    order: Vec<usize>,
    pos: usize,
    batch: usize,
    rng: ChaCha8Rng,
}

impl Batcher {
    /// `n` examples, batches of `batch` (the last batch of an epoch may be smaller).
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        let mut b = Self {
            order: (0..n).collect(),
            pos: 0,
            batch: batch.max(1),
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        b.order.shuffle(&mut b.rng);
        b
    }

    /// Number of batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.batch)
    }

    /// Number of batches handed out so far in this epoch.
    pub fn position(&self) -> usize {
        self.pos.div_ceil(self.batch)
    }

    /// The indices of the next batch, or `None` at the end of the epoch (then call
    /// [`Batcher::next_epoch`]).
    pub fn next_indices(&mut self) -> Option<&[usize]> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch).min(self.order.len());
        let s = &self.order[self.pos..end];
        self.pos = end;
        Some(s)
    }

    /// Reshuffle and start over.
    pub fn next_epoch(&mut self) {
        self.order.shuffle(&mut self.rng);
        self.pos = 0;
    }
}

/// Copies the listed images into `out` (resized to fit) and their labels into `labels`.
pub fn gather(split: &Split, indices: &[usize], out: &mut Vec<f32>, labels: &mut Vec<u8>) {
    out.clear();
    labels.clear();
    for &i in indices {
        out.extend_from_slice(split.image(i));
        labels.push(split.labels[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_per_epoch_and_reshuffled() {
        let mut b = Batcher::new(10, 3, 7);
        assert_eq!(b.batches_per_epoch(), 4);
        let mut seen = Vec::new();
        while let Some(ix) = b.next_indices() {
            seen.extend_from_slice(ix);
        }
        let first = seen.clone();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        b.next_epoch();
        let mut second = Vec::new();
        while let Some(ix) = b.next_indices() {
            second.extend_from_slice(ix);
        }
        assert_ne!(first, second, "a new epoch must reshuffle");
    }

    #[test]
    fn same_seed_same_order() {
        let mut a = Batcher::new(100, 10, 1);
        let mut b = Batcher::new(100, 10, 1);
        assert_eq!(a.next_indices(), b.next_indices());
    }
}
