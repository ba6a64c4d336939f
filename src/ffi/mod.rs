//! The C ABI: `fdsafe_*` functions that check arguments, look handles up, call the safe core
//! in [`crate::kinds`] and map errors to return codes. `include/fdsafe.h` is generated from
//! this folder.
#![allow(non_camel_case_types)]

pub mod batch;
mod boundary;
pub mod codes;
pub mod daemon;
pub mod epoll;
pub mod eventfd;
pub mod fanotify;
pub mod fifo;
pub mod file;
pub mod generic_socket;
pub mod handle;
pub mod inotify;
pub mod kinds;
pub mod memfd;
pub mod message;
pub mod mqueue;
pub mod net;
pub mod pidfd;
pub mod pty_spawn;
pub mod pipe;
pub mod signal;
pub mod sigpipe;
pub mod socket;
pub mod splice;
pub mod stdio;
pub mod terminal;
pub mod termios;
pub mod timerfd;
pub mod tun;
pub mod unix;
pub mod version;

pub(crate) use boundary::{call, call_direct, in_slice, out_slice, Out};

/// A handle to a descriptor owned by fdsafe: a generational 64-bit value, never 0 when valid.
/// A closed handle never works again, even after its slot and descriptor number are reused.
pub type fdsafe_handle = u64;

/// The value that no handle ever has. Functions that take a handle return `-EBADF` for it.
pub const FDSAFE_INVALID_HANDLE: fdsafe_handle = 0;

/// Creation flag accepted by every call that creates a descriptor which can block (pipes,
/// eventfd, timerfd, signalfd, inotify, pidfd, sockets and accept, FIFOs, character devices,
/// terminals, files, message queues): the new descriptor is non-blocking. Its value is the
/// kernel's `O_NONBLOCK`, which is also `EFD_NONBLOCK`, `TFD_NONBLOCK`, `SFD_NONBLOCK`,
/// `IN_NONBLOCK`, `SOCK_NONBLOCK` and `PIDFD_NONBLOCK`, so those work too. (fanotify's own
/// `FDSAFE_FAN_NONBLOCK` is the kernel's `FAN_NONBLOCK`.)
pub const FDSAFE_NONBLOCK: u32 = 0x800;

/// The bit that every fdsafe-only flag carries: flags with no kernel counterpart
/// (`FDSAFE_SOCKET_REUSEPORT`, `FDSAFE_STDIO_CLOSE_STREAM`...) are this bit plus one bit that
/// no other fdsafe-only flag uses. No kernel flag accepted by any fdsafe function uses this
/// bit, so a flag meant for another function is refused (`FDSAFE_E_INVALID_ARGUMENT`) rather
/// than read as something else.
pub const FDSAFE_OWN_FLAG: u32 = 0x0080_0000;

mod kernel_values {
    // The C API's kernel-valued constants are literals (cbindgen copies them into the header,
    // which must not depend on system headers); these checks keep them the kernel's.
    use super::*;
    const _: () = assert!(FDSAFE_NONBLOCK == libc::O_NONBLOCK as u32);
    const _: () = assert!(FDSAFE_NONBLOCK == libc::EFD_NONBLOCK as u32 && FDSAFE_NONBLOCK == libc::SOCK_NONBLOCK as u32);
    const _: () = assert!(FDSAFE_NONBLOCK == libc::TFD_NONBLOCK as u32 && FDSAFE_NONBLOCK == libc::SFD_NONBLOCK as u32);
    const _: () = assert!(FDSAFE_NONBLOCK == libc::IN_NONBLOCK as u32);
    // No accepted kernel flag uses the own-flag bit: O_* (up to O_TMPFILE), MSG_*, IN_*,
    // EPOLL*, FAN_* and MFD_* leave bit 23 clear.
    const _: () = assert!(libc::O_TMPFILE as u32 & FDSAFE_OWN_FLAG == 0 && libc::O_PATH as u32 & FDSAFE_OWN_FLAG == 0);
}
