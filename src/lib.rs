//! Bottleneck: a desktop lab for autoencoders.
//!
//! The application crate: the egui application (`app`) and the command line (`cli`, with the
//! benches and the soak). Everything that is not drawing lives in the engine crate
//! (`bottleneck_engine`: data, model, train, analysis, tasks), re-exported here under the same
//! names, so `bottleneck::data` and `bottleneck_engine::data` are one module.

pub mod app;
pub mod cli;

#[cfg(test)]
pub(crate) use bottleneck_engine::testing;
pub use bottleneck_engine::{analysis, data, id, linalg, model, tasks, train, PIXELS, SIDE};

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When the process started (first call to this function, made at the top of `main`).
pub fn started() -> std::time::Instant {
    *STARTED.get_or_init(std::time::Instant::now)
}

/// Tunes glibc's allocator for a long session: blocks of 4 MB and more (a dataset, a copy of a
/// test set, a matrix of codes) are mapped straight from the kernel and go back to it when
/// freed, and at most 2 heaps (arenas) serve all threads. With glibc's defaults the mapping
/// threshold creeps up to 32 MB after the first large free, and every short-lived analysis
/// thread may get a heap of its own where freed buffers stay resident: a Fashion-MNIST session
/// grew by 60–90 MB per training cycle that way.
///
/// Freed memory at the top of a heap stays there up to 64 MB instead of glibc's 128 kB
/// (`M_TRIM_THRESHOLD`; setting the mapping threshold turns off its automatic growth): the
/// matrix-product crate allocates its packing buffers afresh in every call, and with the
/// default every step handed those pages back and faulted them in again (a 3-second
/// `bottleneck bench --only dense,vae` took 502,000 page faults, 76,000 with this, and the
/// dense step ran about 8 % faster). The app still returns free memory every second
/// ([`release_free_memory`]), so a long session stays flat. Call once, early in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation parameters; called before other threads
    // start allocating, with valid parameter constants.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Hands the free memory inside glibc's heaps back to the kernel (`malloc_trim`). Freed blocks
/// under the mapping threshold stay in the heap, and the holes left between live blocks are
/// not given back on their own: the soak's resident memory kept rising by 8–11 MB per training
/// cycle that way after everything the app holds had stopped growing. The app calls this every
/// second ([`app::App`]); it took 3–13 ms in the Fashion-MNIST soak. Returns whether memory
/// was released (false off glibc).
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the kernel.
    unsafe {
        libc::malloc_trim(0) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
