//! The handle model: generational 64-bit handles that lend out descriptor objects.
//!
//! A handle is `[kind: 8 bits | generation: 32 bits | slot index: 24 bits]`. A slot's
//! generation is odd while it holds a live object and even while free; every close makes it
//! move on, so a handle value works for exactly one lifetime. A slot whose generation would
//! wrap is retired, never reused. The kind byte is part of what a lookup checks: a value with
//! any bit changed names no live object.
//!
//! Every operation holds a counted reference on the slot for its whole duration ([`Guard`]).
//! Closing marks the slot so that no new operation can start, and the object (with its
//! descriptor) is dropped by whichever thread lets go of the last reference. The descriptor
//! number is therefore never released to the kernel while an fdsafe operation could still
//! use it. `docs/design.md` explains the protocol and what was measured to choose it.

mod fork;
mod hooks;
mod kept;
mod kind;
mod owners;
mod slot;
mod sync;
mod table;

use std::any::Any;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub use kind::Kind;
pub use fork::Section as ForkSection;
pub use hooks::{CloseHook, Closing, Hooks};
pub use table::{Guard, Table};

use crate::error::{Error, Result};
use crate::kinds::pipe::PipeEnd;
use crate::kinds::socket::Socket;

/// A generational handle. Never 0 when valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub u64);

impl Handle {
    pub const INVALID: Handle = Handle(0);
    const INDEX_BITS: u32 = 24;
    const GEN_SHIFT: u32 = 24;
    const KIND_SHIFT: u32 = 56;

    fn new(kind: Kind, generation: u32, index: u32) -> Handle {
        Handle::new_raw(kind as u8, generation, index)
    }
    fn new_raw(kind: u8, generation: u32, index: u32) -> Handle {
        Handle(((kind as u64) << Self::KIND_SHIFT) | ((generation as u64) << Self::GEN_SHIFT) | index as u64)
    }
    fn index(self) -> u32 {
        (self.0 & ((1 << Self::INDEX_BITS) - 1)) as u32
    }
    fn generation(self) -> u32 {
        (self.0 >> Self::GEN_SHIFT) as u32
    }
    /// The kind recorded in the handle's bits (checked against the slot on lookup).
    pub(crate) fn kind_bits(self) -> u8 {
        (self.0 >> Self::KIND_SHIFT) as u8
    }
    /// The kind the handle's bits name, if any.
    pub fn kind(self) -> Option<Kind> {
        Kind::from_u32(self.kind_bits() as u32)
    }
    /// What a slot must carry for this handle to name its object: generation and kind.
    fn tag(self) -> u64 {
        slot::tag(self.generation(), self.kind_bits())
    }
    fn from_tag(tag: u64, index: u32) -> Handle {
        Handle::new_raw(tag as u8, (tag >> 8) as u32, index)
    }
}

/// A descriptor object owned by the table: one of the types in [`crate::kinds`].
pub trait Object: Any + Send + Sync {
    fn kind(&self) -> Kind;
    fn as_fd(&self) -> BorrowedFd<'_>;
    /// Gives up the descriptor without the kind's cleanup on drop (used by release), freeing
    /// everything else the object holds.
    fn into_fd(self: Box<Self>) -> OwnedFd;
    /// How a generic write must protect the caller from `SIGPIPE`.
    fn write_guard(&self) -> WriteGuard {
        WriteGuard::BlockSigpipe
    }
}

/// How [`crate::kinds::io::write`] keeps a write from raising `SIGPIPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteGuard {
    /// The kind cannot raise `SIGPIPE` (eventfd, regular files).
    None,
    /// A socket: `send` with `MSG_NOSIGNAL`.
    Socket,
    /// Pipes, FIFOs and anything unknown: block `SIGPIPE` in the calling thread around the
    /// write and discard the one the write raised.
    BlockSigpipe,
    /// The write end of a pipe whose read end is the live handle `reader`: a write that holds
    /// that handle cannot raise `SIGPIPE` (the pipe has a reader), so it needs no guard as
    /// long as it does not wait while holding it (see `kinds::io::write_holding_reader`).
    PipeWithReader { reader: Handle },
}

/// Implements `AsFd` and [`Object`] for a kind type whose descriptor is its `fd: OwnedFd` field
/// and that gives it up as is: `fd_object!(EventFd, Kind::EventFd, WriteGuard::None)`. The
/// write guard defaults to [`WriteGuard::BlockSigpipe`].
macro_rules! fd_object {
    ($type:ty, $kind:expr) => {
        $crate::handles::fd_object!($type, $kind, $crate::handles::WriteGuard::BlockSigpipe);
    };
    ($type:ty, $kind:expr, $guard:expr) => {
        impl std::os::fd::AsFd for $type {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.fd)
            }
        }
        impl $crate::handles::Object for $type {
            fn kind(&self) -> $crate::handles::Kind {
                $kind
            }
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.fd)
            }
            fn into_fd(self: Box<Self>) -> std::os::fd::OwnedFd {
                self.fd
            }
            fn write_guard(&self) -> $crate::handles::WriteGuard {
                $guard
            }
        }
    };
}
pub(crate) use fd_object;

/// A descriptor that is nothing but its number: one of a kind fdsafe has no type for
/// ([`Kind::Other`], generic operations only) or an eventfd. The table keeps it inline in the
/// slot ([`Stored::Plain`]), so creating, receiving or adopting one allocates nothing, and
/// closing it needs no cleanup (the descriptor is closed by the system call itself).
#[derive(Debug)]
pub struct PlainFd {
    fd: OwnedFd,
    kind: Kind,
}

impl PlainFd {
    /// A [`Kind::Other`] descriptor.
    pub fn from_fd(fd: OwnedFd) -> PlainFd {
        PlainFd { fd, kind: Kind::Other }
    }
    /// A descriptor of `kind`, which must be one whose object holds nothing but the descriptor
    /// ([`Kind::Other`] or [`Kind::EventFd`]).
    pub fn with_kind(fd: OwnedFd, kind: Kind) -> PlainFd {
        debug_assert!(matches!(kind, Kind::Other | Kind::EventFd));
        PlainFd { fd, kind }
    }
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl std::os::fd::AsFd for PlainFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }
}

impl Object for PlainFd {
    fn kind(&self) -> Kind {
        self.kind
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        self.fd
    }
    fn write_guard(&self) -> WriteGuard {
        match self.kind {
            Kind::EventFd => WriteGuard::None, // an eventfd cannot raise SIGPIPE
            _ => WriteGuard::BlockSigpipe,     // it may be a pipe or FIFO
        }
    }
}

/// An object as the table holds it: the kinds every daemon makes by the thousand (plain
/// descriptors, eventfds, sockets, pipe ends) inline in the slot, so making one allocates
/// nothing and closing one on another thread frees nothing across threads (a freed box would
/// go to the closing thread's cache while the creating thread allocates afresh: measured, the
/// socketpair lifecycle lost a tenth of its speed to it); the others boxed.
pub enum Stored {
    Plain(PlainFd),
    Socket(Socket),
    Pipe(PipeEnd),
    Boxed(Box<dyn Object>),
}

impl Stored {
    #[inline]
    pub fn object(&self) -> &dyn Object {
        match self {
            Stored::Plain(plain) => plain,
            Stored::Socket(socket) => socket,
            Stored::Pipe(end) => end,
            Stored::Boxed(object) => &**object,
        }
    }
    #[inline]
    pub fn raw_fd(&self) -> RawFd {
        self.object().raw_fd()
    }
    #[inline]
    pub fn kind(&self) -> Kind {
        self.object().kind()
    }
    /// The object as a `T`, if that is its type.
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        self.object().downcast::<T>()
    }
    /// Gives up the descriptor without the kind's cleanup on drop (used by release), freeing
    /// everything else the object holds.
    pub fn into_fd(self) -> OwnedFd {
        match self {
            Stored::Plain(plain) => plain.fd,
            Stored::Socket(socket) => socket.into_owned_fd(),
            Stored::Pipe(end) => end.into_owned_fd(),
            Stored::Boxed(object) => object.into_fd(),
        }
    }
}

impl From<Box<dyn Object>> for Stored {
    fn from(object: Box<dyn Object>) -> Stored {
        Stored::Boxed(object)
    }
}

impl<T: Object> From<Box<T>> for Stored {
    fn from(object: Box<T>) -> Stored {
        Stored::Boxed(object)
    }
}

impl From<PlainFd> for Stored {
    fn from(plain: PlainFd) -> Stored {
        Stored::Plain(plain)
    }
}

impl From<Socket> for Stored {
    fn from(socket: Socket) -> Stored {
        Stored::Socket(socket)
    }
}

impl From<PipeEnd> for Stored {
    fn from(end: PipeEnd) -> Stored {
        Stored::Pipe(end)
    }
}

impl dyn Object {
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
    pub fn raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Drops an object the table no longer holds (or refused), closing its descriptor. Objects
/// with no cleanup (plain descriptors, pipe ends, sockets bound to no path) are closed by the
/// system call itself, which is no cancellation point; any other object's cleanup may enter
/// cancellation points (`close` through libc among them), so it runs with cancellation
/// disabled.
pub fn discard(object: Stored) {
    match object {
        Stored::Plain(plain) => crate::sys::direct::close(plain.into_fd()),
        Stored::Pipe(end) => crate::sys::direct::close(end.into_owned_fd()), // no cleanup
        Stored::Socket(socket) if socket.bound_path().is_none() => {
            crate::sys::direct::close(socket.into_owned_fd()) // no path to remove
        }
        other => {
            let _no_cancel = crate::sys::NoCancellation::begin();
            drop(other);
        }
    }
}

/// The process-wide table that C handles refer to.
#[cfg(not(loom))]
pub static TABLE: Table = Table::new();
/// Under loom `Table::new` is not `const` (loom's atomics are made at run time); only the
/// model tests' own tables are used there.
#[cfg(loom)]
pub static TABLE: std::sync::LazyLock<Table> = std::sync::LazyLock::new(Table::new);

/// Registers an object whose descriptor fdsafe has just made (its open file has no other
/// descriptor: see [`Table::insert_made`]) and returns its handle. If the table refuses it,
/// the object is dropped, which closes its descriptor. A copy of a file others may hold
/// (received, duplicated) goes in with [`insert_copy`]; descriptors that come from the caller
/// are adopted with [`Table::insert`], which checks that no live handle owns the number.
pub fn insert(object: impl Into<Stored>) -> Result<Handle> {
    TABLE.insert_made(object.into()).map_err(|(err, object)| {
        discard(object);
        err
    })
}

/// [`insert`] that gives the object back when the table refuses it, for a caller that must
/// act on it before it is dropped (a child's pidfd, to kill and reap the child through it).
pub fn try_insert(object: impl Into<Stored>) -> std::result::Result<Handle, (Error, Stored)> {
    TABLE.insert_made(object.into())
}

/// Registers a descriptor the kernel has just installed in this process as a copy of an open
/// file others may hold: one a message brought, a duplicate, a standard stream's copy (see
/// [`Table::insert_copy`]).
pub fn insert_copy(object: Stored) -> Result<Handle> {
    TABLE.insert_copy(object).map_err(|(err, object)| {
        discard(object);
        err
    })
}

/// Holds a live handle for the length of one operation.
#[inline]
pub fn get(handle: Handle) -> Result<Guard> {
    TABLE.get(handle)
}

/// Holds a live handle and checks it is a `T`; `expected` names the kind for the error message.
#[inline]
pub fn get_as<T: Object>(handle: Handle, expected: &'static str) -> Result<TypedGuard<T>> {
    let guard = TABLE.get(handle)?;
    if guard.downcast::<T>().is_none() {
        return Err(wrong_kind(guard.kind(), expected));
    }
    Ok(TypedGuard { guard, _marker: std::marker::PhantomData })
}

/// Holds a live handle and checks that it is of `kind` (for operations that need only the
/// descriptor, such as an eventfd's read and write).
#[inline]
pub fn get_kind(handle: Handle, kind: Kind, expected: &'static str) -> Result<Guard> {
    let guard = TABLE.get(handle)?;
    if guard.kind() != kind {
        return Err(wrong_kind(guard.kind(), expected));
    }
    Ok(guard)
}

/// Whether this process is the child of a `fork()` taken after fdsafe was in use. Other
/// threads of the parent may have created or closed descriptors between the kernel's copy of
/// the descriptor table and its copy of memory, so the child's table can name a number that
/// is now another file: a pipe write must then not trust its read end's handle to prove
/// the pipe has a reader (see `ffi::handle::write_iov`).
pub fn forked_child() -> bool {
    fork::in_child()
}

/// Installs fdsafe's `pthread_atfork` handlers (once). Another module's child handler that
/// must run after the table's walk calls this before registering its own.
#[cfg(not(any(loom, miri)))]
pub fn install_fork_handlers() {
    fork::install()
}

/// A critical section that a `fork()` must not split (see `fork`): hold one around every
/// use of a lock that the child of a fork may need.
pub fn fork_section() -> fork::Section {
    fork::section()
}

/// Closes a handle (see [`Table::close`]).
pub fn close(handle: Handle) -> Result<u64> {
    TABLE.close(handle)
}

/// Closes many handles; returns how many were live (see [`Table::close_many`]).
pub fn close_many(handles: impl IntoIterator<Item = Handle>) -> usize {
    TABLE.close_many(handles)
}

/// Whether `handle` names a live object, not closing (the answer may be out of date at once).
pub fn is_live(handle: Handle) -> bool {
    TABLE.is_live(handle)
}

/// Closes every live handle but those in `keep` (see [`Table::close_all_except`]).
pub fn close_all_except(mut keep: Vec<Handle>) -> usize {
    keep.sort_unstable();
    TABLE.close_all_except(&keep)
}

/// Whether a handle owns descriptor number `fd` (live, claimed for an insert, or closing and
/// not yet closed): a number to leave alone. The answer may be out of date at once.
pub fn number_is_held(fd: RawFd) -> bool {
    TABLE.owner_of(fd).is_some()
}

/// Marks the handle owning descriptor number `fd`, if any, as sharing its open file (see
/// [`Table::mark_number_shared`]).
pub fn mark_number_shared(fd: RawFd) {
    TABLE.mark_number_shared(fd)
}

/// Ends a handle and hands its descriptor over (see [`Table::release`]).
pub fn release(handle: Handle) -> Result<OwnedFd> {
    TABLE.release(handle)
}

#[cold]
fn wrong_kind(actual: Kind, expected: &'static str) -> Error {
    Error::WrongKind { actual, expected }
}

/// A [`Guard`] known to hold a `T`.
pub struct TypedGuard<T> {
    guard: Guard,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T: Object> std::ops::Deref for TypedGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // The type was checked when the guard was made and cannot change while it lives.
        self.guard.downcast::<T>().expect("kind checked at lookup")
    }
}

impl<T> TypedGuard<T> {
    pub fn handle(&self) -> Handle {
        self.guard.handle()
    }
    pub fn untyped(&self) -> &Guard {
        &self.guard
    }
}



#[cfg(test)]
mod tests;
#[cfg(all(test, loom))] mod loom_tests;
