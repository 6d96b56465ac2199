//! Digests: running CRC-32, streaming SHA-256/512, and hashing a byte range of an open file.

use crate::error::{Code, OpError, OpResult};
use crate::fileio::{check_range, pread_full, with_read_buffer};
use sha2::{Digest, Sha256, Sha512};
use std::os::fd::RawFd;

/// CRC-32 (IEEE) continuing from `initial`, identical to zlib's `crc32(initial, data)`.
pub fn crc32(initial: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(initial);
    h.update(data);
    h.finalize()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
    Crc32,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            "crc32" => Some(Algorithm::Crc32),
            _ => None,
        }
    }
}

pub enum StreamHasher {
    Sha256(Sha256),
    Sha512(Sha512),
    Crc32(crc32fast::Hasher),
}

impl StreamHasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => StreamHasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => StreamHasher::Sha512(Sha512::new()),
            Algorithm::Crc32 => StreamHasher::Crc32(crc32fast::Hasher::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            StreamHasher::Sha256(h) => h.update(data),
            StreamHasher::Sha512(h) => h.update(data),
            StreamHasher::Crc32(h) => h.update(data),
        }
    }

    /// Lower-case hex for SHA, decimal for CRC-32: the forms Dragonfly's digest strings use.
    pub fn finish(self) -> String {
        match self {
            StreamHasher::Sha256(h) => to_hex(&h.finalize()),
            StreamHasher::Sha512(h) => to_hex(&h.finalize()),
            StreamHasher::Crc32(h) => h.finalize().to_string(),
        }
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Feeds [offset, offset+length) of `fd` into `hasher`. A range past the end of a regular file is
/// an error rather than a short hash: a silently shorter digest would look like corruption later.
pub fn update_from_file(op: &str, hasher: &mut StreamHasher, fd: RawFd, offset: u64, length: u64) -> OpResult<()> {
    check_range(op, fd, offset, length)?;
    with_read_buffer(|buf| {
        let mut done = 0u64;
        while done < length {
            let want = buf.len().min((length - done) as usize);
            let got = pread_full(op, fd, &mut buf[..want], offset + done)?;
            hasher.update(&buf[..got]);
            if got < want {
                // The file shrank between the size check and this read.
                return Err(OpError::new(
                    Code::RangePastEof,
                    format!(
                        "{op}: range {offset}+{length} is past end of file (ended at byte {})",
                        offset + done + got as u64
                    ),
                ));
            }
            done += got as u64;
        }
        Ok(())
    })
}

pub fn hash_file_range(fd: RawFd, offset: u64, length: u64, algorithm: Algorithm) -> OpResult<String> {
    let mut hasher = StreamHasher::new(algorithm);
    update_from_file("hashFileRange", &mut hasher, fd, offset, length)?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{pattern, TempFile};
    use std::os::fd::AsRawFd;

    #[test]
    fn crc32_matches_the_check_value_and_runs() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(0, b""), 0);
        let whole = crc32(0, b"hello world");
        assert_eq!(crc32(crc32(0, b"hello "), b"world"), whole);
    }

    #[test]
    fn sha_known_vectors() {
        let mut h = StreamHasher::new(Algorithm::Sha256);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let h = StreamHasher::new(Algorithm::Sha512);
        assert!(h.finish().starts_with("cf83e1357eefb8bdf1542850d66d8007"));
        let mut h = StreamHasher::new(Algorithm::Crc32);
        h.update(b"123456789");
        assert_eq!(h.finish(), "3421780262");
    }

    #[test]
    fn file_range_equals_hash_of_the_slice() {
        let data = pattern(3 * (1 << 20) + 7);
        let f = TempFile::with(&data);
        let fd = f.file.as_raw_fd();
        for &(off, len) in &[(0u64, 0u64), (1, 1), (13, 1 << 20), (5, data.len() as u64 - 5), (0, data.len() as u64)] {
            let got = hash_file_range(fd, off, len, Algorithm::Sha256).unwrap();
            let mut h = StreamHasher::new(Algorithm::Sha256);
            h.update(&data[off as usize..(off + len) as usize]);
            assert_eq!(got, h.finish(), "range {off}+{len}");
            let c = hash_file_range(fd, off, len, Algorithm::Crc32).unwrap();
            assert_eq!(c, crc32(0, &data[off as usize..(off + len) as usize]).to_string());
        }
    }

    #[test]
    fn range_past_eof_is_an_error_with_sizes_in_the_message() {
        let f = TempFile::with(&pattern(120));
        let e = hash_file_range(f.file.as_raw_fd(), 100, 50, Algorithm::Sha256).unwrap_err();
        assert_eq!(e.code, Code::RangePastEof);
        assert_eq!(e.message, "hashFileRange: range 100+50 is past end of file (120 bytes)");
        // Zero length at the very end is fine, one byte further is not.
        assert!(hash_file_range(f.file.as_raw_fd(), 120, 0, Algorithm::Crc32).is_ok());
        assert!(hash_file_range(f.file.as_raw_fd(), 121, 0, Algorithm::Crc32).is_err());
    }

    #[test]
    fn bad_fd_is_an_io_error_naming_ebadf() {
        let e = hash_file_range(1_000_000, 0, 1, Algorithm::Sha256).unwrap_err();
        assert_eq!(e.code, Code::Io);
        assert_eq!(e.errno_name(), Some("EBADF"));
    }
}
