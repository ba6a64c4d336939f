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
pub mod handle;
pub mod inotify;
pub mod kinds;
pub mod memfd;
pub mod mqueue;
pub mod net;
pub mod pidfd;
pub mod pipe;
pub mod signal;
pub mod sigpipe;
pub mod socket;
pub mod splice;
pub mod stdio;
pub mod terminal;
pub mod timerfd;
pub mod unix;
pub mod version;

pub(crate) use boundary::{call, call_direct, in_slice, out_slice, Out};

/// A handle to a descriptor owned by fdsafe: a generational 64-bit value, never 0 when valid.
/// A closed handle never works again, even after its slot and descriptor number are reused.
pub type fdsafe_handle = u64;

/// The value that no handle ever has. Functions that take a handle return `-EBADF` for it.
pub const FDSAFE_INVALID_HANDLE: fdsafe_handle = 0;
