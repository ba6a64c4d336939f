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

/// Installs the fork handlers when the library is loaded, before `main` (or at `dlopen`):
/// the table's, then epoll's (a child runs them in that order: the table's walk closes what
/// it closes before epoll's looks). Installed later, at the first handle or set, they were
/// wrong: a fork while another thread made the process's first handle or set left the child
/// stuck for ever in the `Once` that installs them, and handlers the program registered
/// before that ran on the wrong side of fdsafe's (its `prepare` after fdsafe had closed its
/// gate, its `child` before fdsafe had opened it and given the child its own epoll tokens),
/// so an fdsafe call in them waited for ever or acted on the parent's registrations.
#[cfg(not(any(loom, miri)))]
#[used]
#[link_section = ".init_array"]
static FORK_HANDLERS_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        kinds::epoll::install_fork_handler();
    }
    at_load
};
