//! glibc malloc settings for a long-running daemon, applied once when the addon loads.
//!
//! Measured with bench:soak (bench/README.md, "Soak"): the peer dfdaemon's RSS grew ~7 MB a
//! minute while its JS heap stayed flat (heap snapshots 5 minutes apart differed by 1 MB); the
//! growth was all in glibc's per-thread arenas (/proc/<pid>/smaps: 81 -> 146 MB in 9 minutes, in
//! steps of ~9 MB), not in V8's pages or the main arena. Threads here come and go (transfer
//! threads end after 10 s idle, hashing workers after 30 s, or when a cancelled check kills one),
//! and each touches a megabyte or more at a time (receive buffers, a worker's isolate). glibc's
//! dynamic mmap threshold moves such blocks, once one was freed, from mmap into the arenas, one
//! arena per thread up to 8 per core; memory freed inside an arena heap stays resident. With the
//! threshold fixed at 128 KiB (big blocks are mmapped and unmapped again) and two arenas, the same
//! soak kept the arenas at ~4 MB.
//! Linux with glibc only; elsewhere (and with DF_NO_ADDON) nothing changes.

/// Blocks at least this big are mmapped and returned to the kernel on free (glibc's default start
/// value; setting it explicitly turns off the dynamic raise).
pub const MMAP_THRESHOLD_BYTES: i32 = 128 << 10;
/// Arenas besides the main one threads may create: few threads here allocate much at once.
pub const ARENA_MAX: i32 = 2;

/// Applies the settings; true when glibc took both. Process-wide and idempotent.
pub fn tune_malloc() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        let threshold = libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        let arenas = libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
        threshold == 1 && arenas == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// glibc marks a chunk it mmapped with bit 1 of the size word just before the block.
    fn is_mmapped(block: &[u8]) -> bool {
        unsafe { *(block.as_ptr() as *const usize).sub(1) & 2 != 0 }
    }

    #[test]
    fn big_blocks_stay_mmapped_after_one_was_freed() {
        assert!(tune_malloc());
        // Without the fixed threshold, freeing the first block raises the threshold above its size
        // and the next one comes from an arena heap, where what is freed stays resident. 16 MiB:
        // more than any free space other tests leave in an arena (a free chunk that fits is used
        // whatever the threshold), below glibc's 32 MiB cap of the dynamic threshold.
        let size = 16 << 20;
        let first = vec![1u8; size];
        assert!(is_mmapped(&first));
        drop(first);
        let second = vec![1u8; size];
        assert!(is_mmapped(&second), "a big block after a freed one is mmapped");
        let small = vec![1u8; 64 << 10];
        assert!(!is_mmapped(&small), "below the threshold blocks come from an arena");
    }
}
