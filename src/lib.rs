//! fdsafe: safe, generational handles for Linux file descriptors.
//!
//! - [`kinds`]: one module per descriptor kind, safe Rust types that own their descriptor.
//! - [`handles`]: the generational handle table that lends those objects out to C callers.
//! - [`ffi`]: the thin C ABI (`fdsafe_*` functions) over the two; `include/fdsafe.h` is
//!   generated from it.

pub mod error;
pub mod ffi;
pub mod handles;
pub mod kinds;
pub mod sys;

pub use error::{Error, Result};
pub use handles::{Handle, Kind};
