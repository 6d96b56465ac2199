//! Positional file I/O: pread into a per-thread buffer, pwrite loops, fallocate.

use crate::error::{last_errno, Code, OpError, OpResult};
use std::cell::RefCell;
use std::os::fd::RawFd;

/// Big enough that syscall overhead vanishes next to hashing, small enough to stay in L2/L3.
pub const READ_BUFFER_BYTES: usize = 1 << 20;

thread_local! {
    // One buffer per thread (libuv pool threads and worker threads live long), reused across
    // calls so hashing a large file does not churn the allocator.
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub fn with_read_buffer<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    READ_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < READ_BUFFER_BYTES {
                buf.resize(READ_BUFFER_BYTES, 0);
            }
            f(&mut buf[..])
        }
        Err(_) => f(&mut vec![0u8; READ_BUFFER_BYTES]),
    })
}

/// Size of `fd` if it is a regular file; other kinds (block devices, pipes) have no useful size.
pub fn regular_file_size(op: &str, fd: RawFd) -> OpResult<Option<u64>> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(OpError::last_os(&format!("{op}: fstat")));
    }
    if st.st_mode & libc::S_IFMT == libc::S_IFREG {
        Ok(Some(st.st_size as u64))
    } else {
        Ok(None)
    }
}

pub fn check_range(op: &str, fd: RawFd, offset: u64, length: u64) -> OpResult<()> {
    if let Some(size) = regular_file_size(op, fd)? {
        if offset.saturating_add(length) > size {
            return Err(OpError::new(
                Code::RangePastEof,
                format!("{op}: range {offset}+{length} is past end of file ({size} bytes)"),
            ));
        }
    }
    Ok(())
}

/// Reads until `buf` is full or end of file; returns the bytes read.
pub fn pread_full(op: &str, fd: RawFd, buf: &mut [u8], offset: u64) -> OpResult<usize> {
    let mut got = 0usize;
    while got < buf.len() {
        let rest = &mut buf[got..];
        let pos = (offset + got as u64) as libc::off_t;
        let r = unsafe { libc::pread(fd, rest.as_mut_ptr().cast(), rest.len(), pos) };
        if r < 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(OpError::from_errno(&format!("{op}: pread at {pos}"), errno));
        }
        if r == 0 {
            break;
        }
        got += r as usize;
    }
    Ok(got)
}

/// pwrite of all of `data` at `position`, looping on short writes. Returns bytes written.
pub fn write_at(fd: RawFd, data: &[u8], position: u64) -> OpResult<u64> {
    pwrite_all("writeAt", fd, data, position)
}

/// write_at for any operation: `op` names it in errors.
pub fn pwrite_all(op: &str, fd: RawFd, data: &[u8], position: u64) -> OpResult<u64> {
    let mut done = 0usize;
    while done < data.len() {
        let rest = &data[done..];
        let pos = (position + done as u64) as libc::off_t;
        let r = unsafe { libc::pwrite(fd, rest.as_ptr().cast(), rest.len(), pos) };
        if r < 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(OpError::from_errno(&format!("{op}: pwrite at {pos}"), errno));
        }
        if r == 0 {
            // pwrite returning 0 for a non-empty buffer would loop forever; treat it as a full disk.
            return Err(OpError::from_errno(&format!("{op}: pwrite at {pos}"), libc::ENOSPC));
        }
        done += r as usize;
    }
    Ok(done as u64)
}

/// Reserves [offset, offset+length) like posix_fallocate (the file grows to cover the range).
/// Ok(false) when the file system cannot, in which case nothing changed.
pub fn allocate(fd: RawFd, offset: u64, length: u64) -> OpResult<bool> {
    if length == 0 {
        return Ok(true);
    }
    loop {
        let r = unsafe { libc::fallocate(fd, 0, offset as libc::off_t, length as libc::off_t) };
        if r == 0 {
            return Ok(true);
        }
        match last_errno() {
            libc::EINTR => continue,
            libc::EOPNOTSUPP | libc::ENOSYS => return Ok(false),
            errno => return Err(OpError::from_errno(&format!("allocate: fallocate {offset}+{length}"), errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{pattern, TempFile};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn write_at_far_offset_leaves_a_hole() {
        let f = TempFile::with(&[]);
        let data = pattern(4097);
        let n = write_at(f.file.as_raw_fd(), &data, 10 << 20).unwrap();
        assert_eq!(n, data.len() as u64);
        let meta = f.file.metadata().unwrap();
        assert_eq!(meta.len(), (10 << 20) + 4097);
        assert!(meta.blocks() * 512 < 1 << 20, "expected a sparse file, {} blocks", meta.blocks());
        let mut back = vec![0u8; data.len()];
        assert_eq!(pread_full("t", f.file.as_raw_fd(), &mut back, 10 << 20).unwrap(), data.len());
        assert_eq!(back, data);
        let mut hole = vec![1u8; 100];
        pread_full("t", f.file.as_raw_fd(), &mut hole, 5 << 20).unwrap();
        assert!(hole.iter().all(|&b| b == 0));
    }

    #[test]
    fn write_at_empty_and_bad_fd() {
        assert_eq!(write_at(-1, &[], 0).unwrap(), 0);
        let e = write_at(-1, b"x", 0).unwrap_err();
        assert_eq!(e.errno_name(), Some("EBADF"));
        assert!(e.message.starts_with("writeAt: pwrite at 0 failed"), "{}", e.message);
    }

    #[test]
    fn allocate_grows_and_reserves_or_declines() {
        let f = TempFile::with(&[]);
        match allocate(f.file.as_raw_fd(), 4096, 1 << 20).unwrap() {
            true => {
                let meta = f.file.metadata().unwrap();
                assert_eq!(meta.len(), 4096 + (1 << 20));
                assert!(meta.blocks() * 512 >= 1 << 20);
            }
            false => assert_eq!(f.file.metadata().unwrap().len(), 0),
        }
        assert!(allocate(f.file.as_raw_fd(), 0, 0).unwrap());
        assert_eq!(allocate(-1, 0, 1).unwrap_err().errno_name(), Some("EBADF"));
    }

    #[test]
    fn read_buffer_is_reused_and_reentrant() {
        let p1 = with_read_buffer(|b| b.as_ptr() as usize);
        let p2 = with_read_buffer(|b| b.as_ptr() as usize);
        assert_eq!(p1, p2);
        let inner_len = with_read_buffer(|_| with_read_buffer(|b| b.len()));
        assert_eq!(inner_len, READ_BUFFER_BYTES);
    }
}
