//! One error type for every operation, carrying the stable code that addon/errors.ts exposes.

use std::fmt;

/// Stable codes; the same strings are used by the JS fallback (addon/errors.ts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    RangePastEof,
    Io,
    PeerClosed,
    Aborted,
    Timeout,
    HasherFinished,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "DF_ERR_ADDON_INVALID_ARGUMENT",
            Code::RangePastEof => "DF_ERR_ADDON_RANGE_PAST_EOF",
            Code::Io => "DF_ERR_ADDON_IO",
            Code::PeerClosed => "DF_ERR_ADDON_PEER_CLOSED",
            Code::Aborted => "DF_ERR_ADDON_ABORTED",
            Code::Timeout => "DF_ERR_ADDON_TIMEOUT",
            Code::HasherFinished => "DF_ERR_ADDON_HASHER_FINISHED",
            Code::Internal => "DF_ERR_ADDON_INTERNAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub code: Code,
    /// errno of the failed syscall, surfaced to JS as `errno: 'EBADF'` so callers can tell a full
    /// disk from a bad descriptor without parsing messages.
    pub errno: Option<i32>,
    pub message: String,
}

pub type OpResult<T> = Result<T, OpError>;

impl OpError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        OpError { code, errno: None, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        OpError::new(Code::InvalidArgument, message)
    }

    /// `context` names the operation and the syscall, e.g. "hashFileRange: pread".
    pub fn from_errno(context: &str, errno: i32) -> Self {
        let code = if errno == libc::EPIPE || errno == libc::ECONNRESET { Code::PeerClosed } else { Code::Io };
        OpError {
            code,
            errno: Some(errno),
            message: format!("{context} failed: {} ({})", strerror(errno), errno_name(errno)),
        }
    }

    pub fn last_os(context: &str) -> Self {
        OpError::from_errno(context, last_errno())
    }

    pub fn errno_name(&self) -> Option<&'static str> {
        self.errno.map(errno_name)
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code.as_str())
    }
}

pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the errno name we add is more useful to a JS reader.
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Names match Node's `err.code` for the same errno, so both implementations report alike.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EDQUOT => "EDQUOT",
        _ => "EUNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_errors_name_the_errno_and_classify_peer_loss() {
        let e = OpError::from_errno("sendFile: sendfile", libc::EPIPE);
        assert_eq!(e.code, Code::PeerClosed);
        assert_eq!(e.errno_name(), Some("EPIPE"));
        assert!(e.message.starts_with("sendFile: sendfile failed: "), "{}", e.message);
        assert!(e.message.ends_with("(EPIPE)"), "{}", e.message);
        assert_eq!(OpError::from_errno("x", libc::EBADF).code, Code::Io);
    }
}
