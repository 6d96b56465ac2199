//! Waiting for a non-blocking socket on a dedicated thread, in short slices so the caller can
//! look at its abort flag between them.

use crate::error::{last_errno, OpError, OpResult};
use std::os::fd::RawFd;

/// How long one poll may block before the abort flag is looked at again: bounds how long a
/// destroyed socket stays open after JS gave up on it.
pub const POLL_SLICE_MS: i32 = 50;

/// Waits up to one slice for `events` (POLLIN, POLLOUT) on `sock`. POLLHUP/POLLERR return Ok: the
/// next read or send reports end of stream or the real errno (EPIPE, ECONNRESET).
pub fn wait_ready(sock: RawFd, events: libc::c_short, op: &str) -> OpResult<()> {
    let mut pfd = libc::pollfd { fd: sock, events, revents: 0 };
    let r = unsafe { libc::poll(&mut pfd, 1, POLL_SLICE_MS) };
    if r < 0 && last_errno() != libc::EINTR {
        return Err(OpError::last_os(&format!("{op}: poll")));
    }
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(OpError::from_errno(&format!("{op}: poll"), libc::EBADF));
    }
    Ok(())
}
