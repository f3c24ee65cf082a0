//! The process gives freed memory back (issue 17's hour-long session). Alone in its own test
//! binary so that no other test allocates while the resident memory is measured.

use bottleneck::cli::soak::rss_mb;

/// Regression: blocks freed between live ones stayed resident in glibc's heap, and the soak's
/// resident memory kept rising by 8–11 MB per training cycle after everything the app held had
/// stopped growing. `release_free_memory` (called by the app every second) must hand those
/// holes back.
#[test]
fn holes_left_in_the_heap_by_freed_blocks_go_back_to_the_kernel() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        eprintln!("note: glibc only; skipped");
        return;
    }
    bottleneck::tune_allocator();
    const BLOCK: usize = 64 * 1024;
    const BLOCKS: usize = 3_200; // 200 MB, each block written (so resident)
    let blocks: Vec<Vec<u8>> = (0..BLOCKS)
        .map(|i| vec![(i % 251) as u8 + 1; BLOCK])
        .collect();
    let (full, _) = rss_mb();
    // Keep one block in ten: the other nine leave holes between live blocks, which the heap
    // cannot shrink past.
    let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(10).collect();
    let (after_free, _) = rss_mb();
    assert!(
        full - after_free < 60.0,
        "the premise changed: glibc gave back {:.0} MB of holes on its own ({full:.0} -> \
         {after_free:.0} MB)",
        full - after_free
    );
    assert!(bottleneck::release_free_memory(), "nothing was released");
    let (after_trim, _) = rss_mb();
    assert!(
        after_free - after_trim > 120.0,
        "only {:.0} MB of the 180 MB freed went back ({after_free:.0} -> {after_trim:.0} MB)",
        after_free - after_trim
    );
    // The kept blocks are intact.
    for (j, b) in kept.iter().enumerate() {
        assert!(b.iter().all(|&x| x == ((j * 10) % 251) as u8 + 1));
    }
}
