//! The core error type. The C layer turns it into a negative return code
//! (see `ffi::codes`) and a thread-local message.

use std::borrow::Cow;
use std::fmt;

use crate::handles::Kind;

/// What went wrong in a core operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused: the errno, and what was being done (a path, an operation).
    /// A literal context (most are) costs no allocation.
    Os { errno: i32, context: Option<Cow<'static, str>> },
    /// The handle is 0, was closed, or was never issued.
    Stale(StaleReason),
    /// The handle is alive but of another kind than the operation needs.
    WrongKind { actual: Kind, expected: &'static str },
    /// An argument the library checks itself: a NULL pointer, unknown flag bits, a length that
    /// does not fit.
    InvalidArgument(String),
    /// The caller's buffer cannot hold the result; `needed` bytes (or items) would.
    BufferTooSmall { needed: usize },
    /// A bug in fdsafe, such as a caught panic.
    Internal(String),
}

/// Why a handle did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReason {
    /// The value 0 (`FDSAFE_INVALID_HANDLE`).
    Zero,
    /// A handle that was issued once and has since been closed or released.
    Closed,
    /// A value that fdsafe never issued (forged, corrupted, or from another process).
    NeverIssued,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The current thread's `errno` as an error.
    #[cold]
    pub fn last_os() -> Error {
        Error::from_errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }

    pub fn from_errno(errno: i32) -> Error {
        Error::Os { errno, context: None }
    }

    /// A negative raw descriptor number: `-EBADF`, as the kernel says for one.
    pub fn bad_descriptor(fd: i32) -> Error {
        Error::from_errno(libc::EBADF).context(format!("{fd} is not a descriptor number"))
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }

    /// Adds what was being done to an OS error (other errors already say it).
    pub fn context(self, what: impl Into<Cow<'static, str>>) -> Error {
        match self {
            Error::Os { errno, context: None } => Error::Os { errno, context: Some(what.into()) },
            other => other,
        }
    }

    /// The errno for OS errors; `None` for the library's own errors.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            Error::Stale(_) => Some(libc::EBADF),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { errno, context } => {
                let text = std::io::Error::from_raw_os_error(*errno);
                match context {
                    Some(ctx) => write!(f, "{ctx}: {text}"),
                    None => write!(f, "{text}"),
                }
            }
            Error::Stale(StaleReason::Zero) => f.write_str("the invalid handle 0 (FDSAFE_INVALID_HANDLE)"),
            Error::Stale(StaleReason::Closed) => f.write_str("stale handle: it was closed or released"),
            Error::Stale(StaleReason::NeverIssued) => f.write_str("unknown handle: fdsafe never issued this value"),
            Error::WrongKind { actual, expected } => {
                write!(f, "wrong kind of handle: this is a {} handle, the operation needs {expected}", actual.name())
            }
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} needed"),
            Error::Internal(msg) => write!(f, "internal error in fdsafe: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::from_errno(err.raw_os_error().unwrap_or(libc::EIO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure with a literal context allocates nothing (a nonblocking accept loop ends in
    /// one every time); a built one keeps its text. Both read the same.
    #[test]
    fn a_literal_context_is_borrowed_and_reads_as_given() {
        let literal = Error::from_errno(libc::EAGAIN).context("accept");
        assert!(matches!(&literal, Error::Os { context: Some(Cow::Borrowed("accept")), .. }));
        let built = Error::from_errno(libc::ENOENT).context(format!("open {}", "/x"));
        assert!(matches!(&built, Error::Os { context: Some(Cow::Owned(text)), .. } if text == "open /x"));
        assert_eq!(literal.to_string(), format!("accept: {}", std::io::Error::from_raw_os_error(libc::EAGAIN)));
        assert!(built.to_string().starts_with("open /x: "));
    }
}
