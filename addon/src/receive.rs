//! A byte count from a non-blocking socket into a file range, with a running crc32, for a
//! dedicated (non-libuv) thread: the bytes of a piece never become JS objects.

use crate::error::{last_errno, Code, OpError, OpResult};
use crate::fileio::pwrite_all;
use crate::poll::wait_ready;
use crate::sendfile::ABORT_SOCKET_CLOSED;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const OP: &str = "receiveToFile";
/// Bytes gathered from the socket before one pwrite: few syscalls, and small enough to stay in cache.
pub const RECEIVE_BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub struct Received {
    pub bytes: u64,
    pub crc32: u32,
}

/// Errors of a read on the socket that mean the connection is gone, not a bug in the caller.
fn connection_lost(errno: i32) -> bool {
    matches!(
        errno,
        libc::ECONNRESET
            | libc::EPIPE
            | libc::ETIMEDOUT
            | libc::ENOTCONN
            | libc::ECONNABORTED
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::ENETDOWN
    )
}

/// Writes `prefix` (body bytes the caller already read) at `position`, then reads the rest of
/// `length` bytes from `sock` and writes them after it; the crc32 covers all of them. `sock` must
/// be non-blocking (Node's sockets are): an empty socket gives EAGAIN and the thread waits in poll,
/// looking at `abort` every POLL_SLICE_MS. Bytes after `length` are never read. End of stream
/// before `length` is PeerClosed; no byte for `idle_timeout` is Timeout. `progress`, when given,
/// gets the count of bytes on disk (prefix included) after every pwrite, with Release ordering:
/// a piece server relaying this piece reads the file up to it while the receive runs.
#[allow(clippy::too_many_arguments)]
pub fn receive_to_file(
    sock: RawFd,
    file: RawFd,
    position: u64,
    length: u64,
    prefix: &[u8],
    abort: &AtomicI32,
    progress: Option<&AtomicI32>,
    idle_timeout: Duration,
) -> OpResult<Received> {
    if prefix.len() as u64 > length {
        return Err(OpError::invalid(format!("{OP}: prefix of {} bytes is longer than length {length}", prefix.len())));
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix);
    pwrite_all(OP, file, prefix, position)?;
    // Pieces are at most 64 MiB, so the count always fits the i32 slot JS shares with us.
    let publish = |written: u64| {
        if let Some(slot) = progress {
            slot.store(written.min(i32::MAX as u64) as i32, Ordering::Release);
        }
    };
    // `written` bytes are on disk; `filled` more wait in `buf`.
    let mut written = prefix.len() as u64;
    publish(written);
    let mut filled = 0usize;
    let mut buf = vec![0u8; (length - written).min(RECEIVE_BUFFER_BYTES as u64) as usize];
    let mut last_progress = Instant::now();
    loop {
        let received = written + filled as u64;
        let full = filled == buf.len();
        if received == length || (full && filled > 0) {
            pwrite_all(OP, file, &buf[..filled], position + written)?;
            written += filled as u64;
            filled = 0;
            publish(written);
            if written == length {
                return Ok(Received { bytes: written, crc32: crc.finalize() });
            }
        }
        match abort.load(Ordering::Acquire) {
            0 => {}
            ABORT_SOCKET_CLOSED => {
                return Err(OpError::new(
                    Code::PeerClosed,
                    format!("{OP}: socket closed after {received} of {length} bytes"),
                ))
            }
            _ => return Err(OpError::new(Code::Aborted, format!("{OP}: aborted after {received} of {length} bytes"))),
        }
        let room = &mut buf[filled..];
        let want = (room.len() as u64).min(length - received) as usize;
        let r = unsafe { libc::read(sock, room.as_mut_ptr().cast(), want) };
        if r > 0 {
            crc.update(&room[..r as usize]);
            filled += r as usize;
            last_progress = Instant::now();
            continue;
        }
        if r == 0 {
            return Err(OpError::new(
                Code::PeerClosed,
                format!("{OP}: peer closed the connection after {received} of {length} bytes"),
            ));
        }
        match last_errno() {
            libc::EINTR => {}
            libc::EAGAIN => {
                // Nothing to read: put what we hold on disk while the sender catches up.
                if filled > 0 {
                    pwrite_all(OP, file, &buf[..filled], position + written)?;
                    written += filled as u64;
                    filled = 0;
                    publish(written);
                }
                if last_progress.elapsed() >= idle_timeout {
                    return Err(OpError::new(
                        Code::Timeout,
                        format!(
                            "{OP}: sender sent nothing for {} ms, after {received} of {length} bytes",
                            idle_timeout.as_millis()
                        ),
                    ));
                }
                wait_ready(sock, libc::POLLIN, OP)?;
            }
            errno => {
                let mut e = OpError::from_errno(&format!("{OP}: read after {received} of {length} bytes"), errno);
                if connection_lost(errno) {
                    e.code = Code::PeerClosed;
                }
                return Err(e);
            }
        }
    }
}

/// After a kept-alive receive: true while `sock` may carry another answer, false once the peer has
/// ended the stream or reset it (seen without consuming a byte: MSG_PEEK). Bytes already waiting
/// (a pipelined answer) or none yet both mean open; so does an interrupted peek.
pub fn still_open(sock: RawFd) -> bool {
    let mut byte = 0u8;
    let r = unsafe { libc::recv(sock, (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    if r > 0 {
        return true;
    }
    if r == 0 {
        return false;
    }
    matches!(last_errno(), libc::EAGAIN | libc::EINTR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::crc32;
    use crate::sendfile::ABORT_SIGNAL;
    use crate::test_util::{pattern, TempFile};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    const LONG: Duration = Duration::from_secs(30);

    /// (receiving side, non-blocking like a Node socket; sending side, blocking).
    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (a, b)
    }

    fn file_bytes(f: &TempFile, offset: u64, len: usize) -> Vec<u8> {
        let mut back = vec![0u8; len];
        f.file.read_exact_at(&mut back, offset).unwrap();
        back
    }

    #[test]
    fn prefix_then_a_slow_sender_lands_at_the_position_with_the_crc_of_everything() {
        let data = pattern(3 * RECEIVE_BUFFER_BYTES + 12345);
        let (prefix, rest) = data.split_at(777);
        let rest = rest.to_vec();
        let f = TempFile::with(&[]);
        let (rx, mut tx) = pair();
        let sender = std::thread::spawn(move || {
            for chunk in rest.chunks(300_001) {
                std::thread::sleep(Duration::from_millis(20));
                tx.write_all(chunk).unwrap();
            }
            tx
        });
        let flag = AtomicI32::new(0);
        let got =
            receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 4099, data.len() as u64, prefix, &flag, None, LONG).unwrap();
        drop(sender.join().unwrap());
        assert_eq!(got, Received { bytes: data.len() as u64, crc32: crc32(0, &data) });
        assert!(file_bytes(&f, 4099, data.len()) == data);
        assert_eq!(file_bytes(&f, 0, 4099), vec![0u8; 4099], "nothing before the position");
    }

    #[test]
    fn progress_follows_the_bytes_on_disk_before_the_receive_ends() {
        let data = pattern(2 * RECEIVE_BUFFER_BYTES + 500);
        let (first, rest) = data.split_at(RECEIVE_BUFFER_BYTES / 2);
        let (first, rest) = (first.to_vec(), rest.to_vec());
        let f = Arc::new(TempFile::with(&[]));
        let (rx, mut tx) = pair();
        let progress = Arc::new(AtomicI32::new(-1));
        let receiver = {
            let (f, progress) = (f.clone(), progress.clone());
            let length = data.len() as u64;
            std::thread::spawn(move || {
                receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 64, length, b"", &AtomicI32::new(0), Some(&*progress), LONG)
            })
        };
        tx.write_all(&first).unwrap();
        // The sender holds the rest back: the receiver must publish what it has while it waits.
        let deadline = Instant::now() + LONG;
        while progress.load(Ordering::Acquire) < first.len() as i32 {
            assert!(Instant::now() < deadline, "progress stuck at {}", progress.load(Ordering::Acquire));
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(progress.load(Ordering::Acquire), first.len() as i32, "nothing is published before it is sent");
        assert!(file_bytes(&f, 64, first.len()) == first, "published bytes are on disk");
        tx.write_all(&rest).unwrap();
        let got = receiver.join().unwrap().unwrap();
        assert_eq!(got, Received { bytes: data.len() as u64, crc32: crc32(0, &data) });
        assert_eq!(progress.load(Ordering::Acquire), data.len() as i32);
    }

    #[test]
    fn a_prefix_is_published_at_once() {
        let f = TempFile::with(&[]);
        let progress = AtomicI32::new(0);
        let (rx, mut tx) = pair();
        tx.write_all(b"cd").unwrap();
        let got = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 4, b"ab", &AtomicI32::new(0), Some(&progress), LONG)
            .unwrap();
        assert_eq!(got.bytes, 4);
        assert_eq!(progress.load(Ordering::Acquire), 4);
    }

    #[test]
    fn bytes_after_length_stay_in_the_socket() {
        let f = TempFile::with(&[]);
        let (mut rx, mut tx) = pair();
        tx.write_all(b"0123456789").unwrap();
        let got = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 6, b"ab", &AtomicI32::new(0), None, LONG).unwrap();
        assert_eq!(got, Received { bytes: 6, crc32: crc32(0, b"ab0123") });
        assert_eq!(file_bytes(&f, 0, 6), b"ab0123");
        let mut rest = [0u8; 6];
        rx.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"456789");
    }

    #[test]
    fn a_kept_socket_is_open_with_a_pipelined_answer_waiting_or_nothing_yet() {
        let f = TempFile::with(&[]);
        let (mut rx, mut tx) = pair();
        assert!(still_open(rx.as_raw_fd()), "nothing sent yet");
        tx.write_all(b"bodyNEXT").unwrap();
        let got = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 4, &[], &AtomicI32::new(0), None, LONG).unwrap();
        assert_eq!(got, Received { bytes: 4, crc32: crc32(0, b"body") });
        assert!(still_open(rx.as_raw_fd()), "the next answer is waiting");
        let mut next = [0u8; 4];
        rx.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"NEXT", "the peek consumed nothing");
        assert!(still_open(rx.as_raw_fd()));
    }

    #[test]
    fn a_kept_socket_whose_peer_ended_after_the_body_is_not_open() {
        let f = TempFile::with(&[]);
        let (rx, mut tx) = pair();
        tx.write_all(b"body").unwrap();
        drop(tx);
        let got = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 4, &[], &AtomicI32::new(0), None, LONG).unwrap();
        assert_eq!(got.bytes, 4);
        assert!(!still_open(rx.as_raw_fd()));
        assert!(!still_open(-1), "a bad descriptor is not open");
    }

    #[test]
    fn zero_length_touches_neither_socket_nor_file() {
        let (rx, _tx) = pair();
        let got = receive_to_file(rx.as_raw_fd(), -1, 0, 0, &[], &AtomicI32::new(0), None, LONG).unwrap();
        assert_eq!(got, Received { bytes: 0, crc32: 0 });
    }

    #[test]
    fn a_prefix_that_is_the_whole_length_needs_no_socket() {
        let f = TempFile::with(&[]);
        let got = receive_to_file(-1, f.file.as_raw_fd(), 10, 3, b"xyz", &AtomicI32::new(0), None, LONG).unwrap();
        assert_eq!(got, Received { bytes: 3, crc32: crc32(0, b"xyz") });
        assert_eq!(file_bytes(&f, 10, 3), b"xyz");
    }

    #[test]
    fn end_of_stream_before_length_is_peer_closed_with_the_count() {
        let f = TempFile::with(&[]);
        let (rx, mut tx) = pair();
        tx.write_all(&pattern(1000)).unwrap();
        drop(tx);
        let e =
            receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 5000, b"12", &AtomicI32::new(0), None, LONG).unwrap_err();
        assert_eq!(e.code, Code::PeerClosed);
        assert_eq!(e.message, "receiveToFile: peer closed the connection after 1002 of 5000 bytes");
    }

    #[test]
    fn abort_flag_stops_a_receive_from_a_silent_sender() {
        let f = TempFile::with(&[]);
        let (rx, _tx) = pair();
        let flag = Arc::new(AtomicI32::new(0));
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                flag.store(ABORT_SIGNAL, Ordering::Release);
            })
        };
        let e = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 100, &[], &flag, None, LONG).unwrap_err();
        setter.join().unwrap();
        assert_eq!(e.code, Code::Aborted);
        assert_eq!(e.message, "receiveToFile: aborted after 0 of 100 bytes");
    }

    #[test]
    fn socket_closed_flag_is_peer_closed() {
        let f = TempFile::with(&[]);
        let (rx, _tx) = pair();
        let flag = AtomicI32::new(ABORT_SOCKET_CLOSED);
        let e = receive_to_file(rx.as_raw_fd(), f.file.as_raw_fd(), 0, 100, b"a", &flag, None, LONG).unwrap_err();
        assert_eq!(e.code, Code::PeerClosed);
        assert_eq!(e.message, "receiveToFile: socket closed after 1 of 100 bytes");
    }

    #[test]
    fn a_sender_that_stops_times_out() {
        let f = TempFile::with(&[]);
        let (rx, mut tx) = pair();
        tx.write_all(b"some").unwrap();
        let e = receive_to_file(
            rx.as_raw_fd(),
            f.file.as_raw_fd(),
            0,
            100,
            &[],
            &AtomicI32::new(0),
            None,
            Duration::from_millis(120),
        )
        .unwrap_err();
        assert_eq!(e.code, Code::Timeout);
        assert_eq!(e.message, "receiveToFile: sender sent nothing for 120 ms, after 4 of 100 bytes");
        assert_eq!(file_bytes(&f, 0, 4), b"some", "what arrived was written before waiting");
    }

    #[test]
    fn a_prefix_longer_than_length_is_refused() {
        let e = receive_to_file(-1, -1, 0, 2, b"abc", &AtomicI32::new(0), None, LONG).unwrap_err();
        assert_eq!(e.code, Code::InvalidArgument);
        assert_eq!(e.message, "receiveToFile: prefix of 3 bytes is longer than length 2");
    }

    #[test]
    fn a_file_that_cannot_be_written_is_io() {
        let (rx, mut tx) = pair();
        tx.write_all(b"data").unwrap();
        let e = receive_to_file(rx.as_raw_fd(), -1, 0, 4, &[], &AtomicI32::new(0), None, LONG).unwrap_err();
        assert_eq!(e.code, Code::Io);
        assert_eq!(e.errno_name(), Some("EBADF"));
        assert!(e.message.starts_with("receiveToFile: pwrite at 0 failed"), "{}", e.message);
    }

    #[test]
    fn a_socket_read_error_is_io_unless_the_connection_is_lost() {
        let f = TempFile::with(&[]);
        let e = receive_to_file(-1, f.file.as_raw_fd(), 0, 4, &[], &AtomicI32::new(0), None, LONG).unwrap_err();
        assert_eq!((e.code, e.errno_name()), (Code::Io, Some("EBADF")));
        assert!(connection_lost(libc::ECONNRESET) && !connection_lost(libc::EBADF));
    }
}
