//! sendfile(2) from a file range to a non-blocking socket, for a dedicated (non-libuv) thread.

use crate::error::{last_errno, Code, OpError, OpResult};
use crate::fileio::check_range;
use crate::poll::wait_ready;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Values JS stores into the abort flag (addon/native.ts uses the same numbers).
pub const ABORT_SIGNAL: i32 = 1;
pub const ABORT_SOCKET_CLOSED: i32 = 2;
/// Per-call cap; the socket buffer limits each call far below this anyway.
const MAX_CHUNK: u64 = 8 << 20;

/// Sends [offset, offset+length) of `file` to `sock`. Node's sockets are non-blocking, so a full
/// send buffer gives EAGAIN and the thread waits in poll; `abort` != 0 stops it between calls, and
/// `idle_timeout` without any byte accepted fails it (a receiver that stopped reading).
/// The flag says who stopped it: ABORT_SIGNAL (caller's AbortSignal) or ABORT_SOCKET_CLOSED.
pub fn send_file(
    sock: RawFd,
    file: RawFd,
    offset: u64,
    length: u64,
    abort: &AtomicI32,
    idle_timeout: Duration,
) -> OpResult<u64> {
    check_range("sendFile", file, offset, length)?;
    let mut pos = offset as libc::off_t;
    let mut sent = 0u64;
    let mut last_progress = Instant::now();
    while sent < length {
        match abort.load(Ordering::Acquire) {
            0 => {}
            ABORT_SOCKET_CLOSED => {
                return Err(OpError::new(
                    Code::PeerClosed,
                    format!("sendFile: socket closed after {sent} of {length} bytes"),
                ))
            }
            _ => return Err(OpError::new(Code::Aborted, format!("sendFile: aborted after {sent} of {length} bytes"))),
        }
        let want = (length - sent).min(MAX_CHUNK) as usize;
        let r = unsafe { libc::sendfile(sock, file, &mut pos, want) };
        if r > 0 {
            sent += r as u64;
            last_progress = Instant::now();
            continue;
        }
        if r == 0 {
            // The file shrank after check_range.
            return Err(OpError::new(
                Code::RangePastEof,
                format!("sendFile: file ended at byte {pos}, before range end {}", offset + length),
            ));
        }
        match last_errno() {
            libc::EINTR => {}
            libc::EAGAIN => {
                if last_progress.elapsed() >= idle_timeout {
                    return Err(OpError::new(
                        Code::Timeout,
                        format!(
                            "sendFile: receiver accepted nothing for {} ms, after {sent} of {length} bytes",
                            idle_timeout.as_millis()
                        ),
                    ));
                }
                wait_ready(sock, libc::POLLOUT, "sendFile")?;
            }
            errno => {
                return Err(OpError::from_errno(&format!("sendFile: sendfile after {sent} of {length} bytes"), errno))
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{pattern, TempFile};
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    const LONG: Duration = Duration::from_secs(30);

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn sends_the_exact_range_through_a_slow_reader() {
        let data = pattern(5 * (1 << 20) + 3);
        let f = TempFile::with(&data);
        let (tx, mut rx) = pair();
        let reader = std::thread::spawn(move || {
            // Sleep first so the sender fills the buffer and has to poll.
            std::thread::sleep(Duration::from_millis(150));
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        });
        let flag = AtomicI32::new(0);
        let (off, len) = (7u64, data.len() as u64 - 10);
        let n = send_file(tx.as_raw_fd(), f.file.as_raw_fd(), off, len, &flag, LONG).unwrap();
        assert_eq!(n, len);
        drop(tx);
        let got = reader.join().unwrap();
        assert!(got == data[off as usize..(off + len) as usize]);
    }

    #[test]
    fn abort_flag_stops_a_blocked_transfer() {
        let f = TempFile::with(&pattern(8 << 20));
        let (tx, _rx) = pair();
        let flag = Arc::new(AtomicI32::new(0));
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                flag.store(ABORT_SIGNAL, Ordering::Release);
            })
        };
        let e = send_file(tx.as_raw_fd(), f.file.as_raw_fd(), 0, 8 << 20, &flag, LONG).unwrap_err();
        setter.join().unwrap();
        assert_eq!(e.code, Code::Aborted);
        assert!(e.message.starts_with("sendFile: aborted after "), "{}", e.message);
    }

    #[test]
    fn socket_closed_flag_is_reported_as_peer_closed() {
        let f = TempFile::with(&pattern(100));
        let (tx, _rx) = pair();
        let flag = AtomicI32::new(ABORT_SOCKET_CLOSED);
        let e = send_file(tx.as_raw_fd(), f.file.as_raw_fd(), 0, 100, &flag, LONG).unwrap_err();
        assert_eq!(e.code, Code::PeerClosed);
        assert_eq!(e.message, "sendFile: socket closed after 0 of 100 bytes");
    }

    #[test]
    fn receiver_that_never_reads_times_out() {
        let f = TempFile::with(&pattern(8 << 20));
        let (tx, _rx) = pair();
        let flag = AtomicI32::new(0);
        let e =
            send_file(tx.as_raw_fd(), f.file.as_raw_fd(), 0, 8 << 20, &flag, Duration::from_millis(120)).unwrap_err();
        assert_eq!(e.code, Code::Timeout);
    }

    #[test]
    fn closed_receiver_is_peer_closed() {
        let f = TempFile::with(&pattern(8 << 20));
        let (tx, rx) = pair();
        drop(rx);
        let flag = AtomicI32::new(0);
        let e = send_file(tx.as_raw_fd(), f.file.as_raw_fd(), 0, 8 << 20, &flag, LONG).unwrap_err();
        assert_eq!(e.code, Code::PeerClosed, "{e}");
        assert_eq!(e.errno_name(), Some("EPIPE"));
    }

    #[test]
    fn range_past_eof_is_refused_before_sending() {
        let f = TempFile::with(&pattern(100));
        let (tx, _rx) = pair();
        let e = send_file(tx.as_raw_fd(), f.file.as_raw_fd(), 90, 11, &AtomicI32::new(0), LONG).unwrap_err();
        assert_eq!(e.code, Code::RangePastEof);
        assert_eq!(e.message, "sendFile: range 90+11 is past end of file (100 bytes)");
    }
}
