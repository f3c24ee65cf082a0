//! The training worker thread (next issue).
