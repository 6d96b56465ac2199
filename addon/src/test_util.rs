//! Temp files and deterministic data for unit tests (no tempfile crate offline).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TempFile {
    pub file: File,
    path: PathBuf,
}

impl TempFile {
    pub fn with(data: &[u8]) -> TempFile {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!("df-addon-test-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        file.write_all(data).unwrap();
        TempFile { file, path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Non-repeating-ish bytes so an off-by-one range shows up as a digest mismatch.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
