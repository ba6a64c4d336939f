//! inotify.

use std::ffi::{c_char, c_int};

use super::kinds::map_flags;
use super::signal::c_str;
use super::{call, fdsafe_handle, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, get_as, Handle};
use crate::kinds::inotify::{Event, Inotify, InotifyFlags, MIN_BATCH, NAME_MAX};

/// A read asking for at least this many events never leaves any buffered inside fdsafe (see
/// `fdsafe_inotify_read`); use it (or more) in event loops.
pub const FDSAFE_INOTIFY_MIN_BATCH: usize = 17;
/// Room for the longest name an event carries, with its terminating NUL (`NAME_MAX + 1`).
pub const FDSAFE_INOTIFY_NAME_SIZE: usize = 256;

/// inotify event: file read (`IN_ACCESS`). The `FDSAFE_IN_*` values equal the kernel's.
pub const FDSAFE_IN_ACCESS: u32 = 0x0000_0001;
/// inotify event: file written (`IN_MODIFY`).
pub const FDSAFE_IN_MODIFY: u32 = 0x0000_0002;
/// inotify event: metadata changed (`IN_ATTRIB`).
pub const FDSAFE_IN_ATTRIB: u32 = 0x0000_0004;
/// inotify event: a file opened for writing was closed (`IN_CLOSE_WRITE`).
pub const FDSAFE_IN_CLOSE_WRITE: u32 = 0x0000_0008;
/// inotify event: a file not opened for writing was closed (`IN_CLOSE_NOWRITE`).
pub const FDSAFE_IN_CLOSE_NOWRITE: u32 = 0x0000_0010;
/// inotify event: opened (`IN_OPEN`).
pub const FDSAFE_IN_OPEN: u32 = 0x0000_0020;
/// inotify event: renamed away from the watched directory (`IN_MOVED_FROM`); its `cookie`
/// matches the `FDSAFE_IN_MOVED_TO` event of the same rename.
pub const FDSAFE_IN_MOVED_FROM: u32 = 0x0000_0040;
/// inotify event: renamed into the watched directory (`IN_MOVED_TO`).
pub const FDSAFE_IN_MOVED_TO: u32 = 0x0000_0080;
/// inotify event: created in the watched directory (`IN_CREATE`).
pub const FDSAFE_IN_CREATE: u32 = 0x0000_0100;
/// inotify event: deleted from the watched directory (`IN_DELETE`).
pub const FDSAFE_IN_DELETE: u32 = 0x0000_0200;
/// inotify event: the watched file itself was deleted (`IN_DELETE_SELF`).
pub const FDSAFE_IN_DELETE_SELF: u32 = 0x0000_0400;
/// inotify event: the watched file itself was moved (`IN_MOVE_SELF`).
pub const FDSAFE_IN_MOVE_SELF: u32 = 0x0000_0800;
/// All the events above.
pub const FDSAFE_IN_ALL_EVENTS: u32 = 0x0000_0fff;
/// inotify event (reported only): the watched file system was unmounted (`IN_UNMOUNT`).
pub const FDSAFE_IN_UNMOUNT: u32 = 0x0000_2000;
/// inotify event (reported only): the kernel's queue overflowed and events were lost
/// (`IN_Q_OVERFLOW`); the event's `wd` is -1.
pub const FDSAFE_IN_Q_OVERFLOW: u32 = 0x0000_4000;
/// inotify event (reported only): the watch is gone, removed or dropped by the kernel
/// (`IN_IGNORED`).
pub const FDSAFE_IN_IGNORED: u32 = 0x0000_8000;
/// Watch option: fail with `-ENOTDIR` unless the path is a directory (`IN_ONLYDIR`).
pub const FDSAFE_IN_ONLYDIR: u32 = 0x0100_0000;
/// Watch option: do not follow a final symbolic link (`IN_DONT_FOLLOW`).
pub const FDSAFE_IN_DONT_FOLLOW: u32 = 0x0200_0000;
/// Watch option: no events for children after they are unlinked (`IN_EXCL_UNLINK`).
pub const FDSAFE_IN_EXCL_UNLINK: u32 = 0x0400_0000;
/// Watch option: fail with `-EEXIST` if the path is already watched (`IN_MASK_CREATE`).
pub const FDSAFE_IN_MASK_CREATE: u32 = 0x1000_0000;
/// Watch option: add to an existing watch's mask instead of replacing it (`IN_MASK_ADD`).
pub const FDSAFE_IN_MASK_ADD: u32 = 0x2000_0000;
/// Event flag (reported only): the subject is a directory (`IN_ISDIR`).
pub const FDSAFE_IN_ISDIR: u32 = 0x4000_0000;
/// Watch option: report one event, then drop the watch (`IN_ONESHOT`).
pub const FDSAFE_IN_ONESHOT: u32 = 0x8000_0000;

/// One inotify event, parsed: fixed size, with the name copied out.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct fdsafe_inotify_event {
    /// The watch id (`fdsafe_inotify_add_watch`); -1 for `FDSAFE_IN_Q_OVERFLOW`.
    pub wd: i32,
    /// `FDSAFE_IN_*` bits: what happened.
    pub mask: u32,
    /// Ties the two halves of a rename together (`FDSAFE_IN_MOVED_FROM`/`_TO`); else 0.
    pub cookie: u32,
    /// Length of `name` without its NUL; 0 when the event is about the watched object itself.
    pub name_len: u32,
    /// The name of the entry in a watched directory, NUL-terminated (any name fits).
    pub name: [c_char; FDSAFE_INOTIFY_NAME_SIZE],
}

const _: () = assert!(FDSAFE_INOTIFY_NAME_SIZE == NAME_MAX + 1 && FDSAFE_INOTIFY_MIN_BATCH == MIN_BATCH);

impl From<&Event> for fdsafe_inotify_event {
    fn from(e: &Event) -> Self {
        let mut name = [0 as c_char; FDSAFE_INOTIFY_NAME_SIZE];
        let len = e.name.len().min(NAME_MAX);
        for (dst, src) in name.iter_mut().zip(&e.name[..len]) {
            *dst = *src as c_char;
        }
        fdsafe_inotify_event { wd: e.wd, mask: e.mask, cookie: e.cookie, name_len: len as u32, name }
    }
}

/// Creates an inotify instance (close-on-exec; `flags`: `FDSAFE_NONBLOCK` (`IN_NONBLOCK`) or 0;
/// `FDSAFE_O_CLOEXEC`, `IN_CLOEXEC`, is accepted).
///
/// Ownership: the caller owns `*handle_out`; closing it removes all its watches.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for unknown flags or a NULL `handle_out`; `-EMFILE`
/// (also when the per-user instance limit is reached). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_inotify_create(flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_inotify_create", || {
        let flags = map_flags(
            flags,
            &[(super::FDSAFE_NONBLOCK, InotifyFlags::NONBLOCK), (super::file::FDSAFE_O_CLOEXEC, InotifyFlags::empty())],
            "inotify",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(Inotify::new(flags)?))?.0);
        Ok(0)
    })
}

/// Watches `path` (NUL-terminated) for `mask` (`FDSAFE_IN_*` events and watch options) and
/// writes the watch id to `*wd_out`. Watching a path that is already watched by this instance
/// returns the same id and replaces its mask (unless `FDSAFE_IN_MASK_ADD`/`_MASK_CREATE`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for NULL `path` or
/// `wd_out`, unknown mask bits, or a mask with no event (options alone, which the kernel
/// would take and leave the watch silent); from the kernel `-ENOENT`, `-ENAMETOOLONG`,
/// `-EACCES`, `-ENOTDIR`
/// (`FDSAFE_IN_ONLYDIR`), `-EEXIST` (`FDSAFE_IN_MASK_CREATE`), `-EINVAL`
/// (`FDSAFE_IN_MASK_ADD` with `_MASK_CREATE`), `-ENOSPC` (watch limit). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_inotify_add_watch(handle: fdsafe_handle, path: *const c_char, mask: u32, wd_out: *mut i32) -> c_int {
    call("fdsafe_inotify_add_watch", || {
        let path = c_str(path, "path")?;
        let out = Out::new(wd_out, "wd_out")?;
        out.write(get_as::<Inotify>(Handle(handle), "an inotify instance")?.add_watch(path, mask)?);
        Ok(0)
    })
}

/// Removes watch `wd`. The kernel then queues an `FDSAFE_IN_IGNORED` event for it. A watch
/// the kernel already dropped by itself (the watched file deleted, its file system
/// unmounted, a one-shot watch fired) is removed without error, returning 0, until
/// `fdsafe_inotify_read` has handed out its `FDSAFE_IN_IGNORED` event: so a removal racing
/// with the kernel's own succeeds, and fdsafe remembers no more ids than are in use.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-EINVAL`, as `inotify_rm_watch(2)`, for an id
/// this instance never issued, one already removed, or one whose `FDSAFE_IN_IGNORED` event
/// was read. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_inotify_remove_watch(handle: fdsafe_handle, wd: i32) -> c_int {
    call("fdsafe_inotify_remove_watch", || {
        get_as::<Inotify>(Handle(handle), "an inotify instance")?.remove_watch(wd)?;
        Ok(0)
    })
}

/// Reads up to `max` events into `events_out`, parsed: the caller never sees the kernel's
/// variable-length records. Waits for the first event unless non-blocking. Returns the number
/// written (>= 1). A lost-events condition arrives as an event with `FDSAFE_IN_Q_OVERFLOW`.
///
/// With `max >= FDSAFE_INOTIFY_MIN_BATCH` (17) every event the kernel gives is handed out at
/// once. With fewer, the events that did not fit are kept inside fdsafe and returned first by
/// the next read (which then does not wait); `fdsafe_inotify_pending` counts them; duplicates
/// of the handle (`fdsafe_dup`) share them, as they share the instance. An epoll
/// set does not see these, so an event loop should read with at least 17, or drain
/// `fdsafe_inotify_pending` before waiting again.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `events_out`, `max == 0` or an absurd `max`; `-EAGAIN` (non-blocking, nothing to read);
/// `-EINTR`. Thread safety: any thread; concurrent readers each get different events.
#[no_mangle]
pub extern "C" fn fdsafe_inotify_read(handle: fdsafe_handle, events_out: *mut fdsafe_inotify_event, max: usize) -> c_int {
    call("fdsafe_inotify_read", || {
        let out = out_slice(events_out, max, "events_out")?;
        if out.is_empty() {
            return Err(Error::invalid("max is 0"));
        }
        let inotify = get_as::<Inotify>(Handle(handle), "an inotify instance")?;
        let mut events = Vec::new();
        let n = inotify.read(out.len().min(c_int::MAX as usize), &mut events)?;
        for (slot, e) in out.iter_mut().zip(&events) {
            *slot = e.into();
        }
        Ok(n as c_int)
    })
}

/// The number of events already read from the kernel and waiting inside fdsafe for the next
/// `fdsafe_inotify_read` (only ever non-zero after reads with `max` below
/// `FDSAFE_INOTIFY_MIN_BATCH`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_inotify_pending(handle: fdsafe_handle) -> c_int {
    call("fdsafe_inotify_pending", || {
        Ok(get_as::<Inotify>(Handle(handle), "an inotify instance")?.pending().min(c_int::MAX as usize) as c_int)
    })
}
