//! fanotify.

use std::ffi::{c_char, c_int};

use super::signal::c_str;
use super::{call, fdsafe_handle, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, get_as, Handle};
use crate::kinds::fanotify::{self as fan, Event, Fanotify};

/// `fdsafe_fanotify_init` flag: reads return `-EAGAIN` instead of waiting.
pub const FDSAFE_FAN_NONBLOCK: u32 = 0x2;
/// `fdsafe_fanotify_init` flag, accepted and always in force: the group is close-on-exec
/// (`FAN_CLOEXEC`).
pub const FDSAFE_FAN_CLOEXEC: u32 = 0x1;
/// `fdsafe_fanotify_init` class: permission events, after the file's content is final
/// (for antivirus-like checks). Without a class flag the group is notification-only.
pub const FDSAFE_FAN_CLASS_CONTENT: u32 = 0x4;
/// `fdsafe_fanotify_init` class: permission events before the content is final (for
/// hierarchical storage managers).
pub const FDSAFE_FAN_CLASS_PRE_CONTENT: u32 = 0x8;
/// `fdsafe_fanotify_init` flag: no limit on the event queue (needs `CAP_SYS_ADMIN`).
pub const FDSAFE_FAN_UNLIMITED_QUEUE: u32 = 0x10;
/// `fdsafe_fanotify_init` flag: no limit on the number of marks.
pub const FDSAFE_FAN_UNLIMITED_MARKS: u32 = 0x20;
/// `fdsafe_fanotify_init` flag: report the thread id instead of the process id.
pub const FDSAFE_FAN_REPORT_TID: u32 = 0x100;
/// `fdsafe_fanotify_init` flag: report file identities (`fsid` + file handle) instead of
/// descriptors. Notification class only.
pub const FDSAFE_FAN_REPORT_FID: u32 = 0x200;
/// `fdsafe_fanotify_init` flag: report the identity of the directory.
pub const FDSAFE_FAN_REPORT_DIR_FID: u32 = 0x400;
/// `fdsafe_fanotify_init` flag: with `FDSAFE_FAN_REPORT_DIR_FID`, report the entry name.
pub const FDSAFE_FAN_REPORT_NAME: u32 = 0x800;
/// `fdsafe_fanotify_init` flags: directory identity and entry name.
pub const FDSAFE_FAN_REPORT_DFID_NAME: u32 = 0xc00;

/// `fdsafe_fanotify_mark` action: add the events to the mark.
pub const FDSAFE_FAN_MARK_ADD: u32 = 0x1;
/// `fdsafe_fanotify_mark` action: remove the events from the mark.
pub const FDSAFE_FAN_MARK_REMOVE: u32 = 0x2;
/// `fdsafe_fanotify_mark` option: do not follow a final symbolic link.
pub const FDSAFE_FAN_MARK_DONT_FOLLOW: u32 = 0x4;
/// `fdsafe_fanotify_mark` option: fail with `-ENOTDIR` unless the path is a directory.
pub const FDSAFE_FAN_MARK_ONLYDIR: u32 = 0x8;
/// `fdsafe_fanotify_mark` target: the mount containing the path (default: the file itself).
pub const FDSAFE_FAN_MARK_MOUNT: u32 = 0x10;
/// `fdsafe_fanotify_mark` action: remove all marks (of the type given by
/// `FDSAFE_FAN_MARK_MOUNT` / `_FILESYSTEM`, else inode marks); `path` may be NULL.
pub const FDSAFE_FAN_MARK_FLUSH: u32 = 0x80;
/// `fdsafe_fanotify_mark` target: the whole file system containing the path.
pub const FDSAFE_FAN_MARK_FILESYSTEM: u32 = 0x100;
/// `fdsafe_fanotify_mark` option: the kernel may drop the inode mark under memory pressure.
pub const FDSAFE_FAN_MARK_EVICTABLE: u32 = 0x200;

/// fanotify event: file read (`FAN_ACCESS`). The `FDSAFE_FAN_*` event values equal the kernel's.
pub const FDSAFE_FAN_ACCESS: u64 = 0x1;
/// fanotify event: file written (`FAN_MODIFY`).
pub const FDSAFE_FAN_MODIFY: u64 = 0x2;
/// fanotify event: metadata changed (FID groups).
pub const FDSAFE_FAN_ATTRIB: u64 = 0x4;
/// fanotify event: a file opened for writing was closed.
pub const FDSAFE_FAN_CLOSE_WRITE: u64 = 0x8;
/// fanotify event: a file not opened for writing was closed.
pub const FDSAFE_FAN_CLOSE_NOWRITE: u64 = 0x10;
/// fanotify event: opened.
pub const FDSAFE_FAN_OPEN: u64 = 0x20;
/// fanotify event: renamed away (FID groups).
pub const FDSAFE_FAN_MOVED_FROM: u64 = 0x40;
/// fanotify event: renamed in (FID groups).
pub const FDSAFE_FAN_MOVED_TO: u64 = 0x80;
/// fanotify event: created (FID groups).
pub const FDSAFE_FAN_CREATE: u64 = 0x100;
/// fanotify event: deleted (FID groups).
pub const FDSAFE_FAN_DELETE: u64 = 0x200;
/// fanotify event: the marked file was deleted (FID groups).
pub const FDSAFE_FAN_DELETE_SELF: u64 = 0x400;
/// fanotify event: the marked file was moved (FID groups).
pub const FDSAFE_FAN_MOVE_SELF: u64 = 0x800;
/// fanotify event: opened for execution.
pub const FDSAFE_FAN_OPEN_EXEC: u64 = 0x1000;
/// fanotify event (reported only): the queue overflowed, events were lost.
pub const FDSAFE_FAN_Q_OVERFLOW: u64 = 0x4000;
/// fanotify event: a file-system error (filesystem marks, FID groups).
pub const FDSAFE_FAN_FS_ERROR: u64 = 0x8000;
/// fanotify permission event: an open waits for the answer (`fdsafe_fanotify_respond`).
pub const FDSAFE_FAN_OPEN_PERM: u64 = 0x1_0000;
/// fanotify permission event: a read waits for the answer.
pub const FDSAFE_FAN_ACCESS_PERM: u64 = 0x2_0000;
/// fanotify permission event: an open for execution waits for the answer.
pub const FDSAFE_FAN_OPEN_EXEC_PERM: u64 = 0x4_0000;
/// fanotify permission event (pre-content class): an access to not-yet-present content.
pub const FDSAFE_FAN_PRE_ACCESS: u64 = 0x10_0000;
/// Mark flag: also report events of the marked directory's children.
pub const FDSAFE_FAN_EVENT_ON_CHILD: u64 = 0x0800_0000;
/// fanotify event: a rename (FID groups with names).
pub const FDSAFE_FAN_RENAME: u64 = 0x1000_0000;
/// Event flag: the subject is a directory (and, in a mask, ask for directory events too).
pub const FDSAFE_FAN_ONDIR: u64 = 0x4000_0000;

/// `fdsafe_fanotify_respond`: let the operation go ahead.
pub const FDSAFE_FAN_ALLOW: u32 = 0x1;
/// `fdsafe_fanotify_respond`: make the operation fail with `EPERM`.
pub const FDSAFE_FAN_DENY: u32 = 0x2;
/// A read of at least this many events never leaves any buffered inside fdsafe.
pub const FDSAFE_FANOTIFY_MIN_BATCH: usize = 43;
/// Room for the longest file handle (`MAX_HANDLE_SZ`).
pub const FDSAFE_FANOTIFY_HANDLE_SIZE: usize = 128;
/// Room for the longest entry name with its NUL.
pub const FDSAFE_FANOTIFY_NAME_SIZE: usize = 256;
/// Room for the longest path with its NUL (`PATH_MAX`).
pub const FDSAFE_FANOTIFY_PATH_SIZE: usize = 4096;

const _: () = assert!(FDSAFE_FAN_NONBLOCK == fan::FAN_NONBLOCK && FDSAFE_FAN_CLOEXEC == fan::FAN_CLOEXEC);
const _: () = assert!(
    FDSAFE_FANOTIFY_MIN_BATCH == fan::MIN_BATCH
        && FDSAFE_FANOTIFY_HANDLE_SIZE == fan::MAX_HANDLE
        && FDSAFE_FANOTIFY_NAME_SIZE == fan::NAME_MAX + 1
        && FDSAFE_FANOTIFY_PATH_SIZE == fan::PATH_MAX
);

/// One fanotify event, parsed. No descriptor is handed out in it: see `fdsafe_fanotify_read`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_fanotify_event {
    /// `FDSAFE_FAN_*` bits: what happened.
    pub mask: u64,
    /// For permission events, the id to pass to `fdsafe_fanotify_respond` (and
    /// `fdsafe_fanotify_event_fd`); 0 for other events.
    pub id: u64,
    /// The process (or, with `FDSAFE_FAN_REPORT_TID`, thread) that caused the event.
    pub pid: i32,
    /// 1 if `fsid`, `handle_type`, `handle_bytes` and `handle` hold a file identity (FID
    /// groups), else 0.
    pub has_fid: u32,
    /// The file system id of the identity.
    pub fsid: u64,
    /// The file handle type (for `open_by_handle_at`).
    pub handle_type: i32,
    /// The number of bytes in `handle`.
    pub handle_bytes: u32,
    /// The file handle.
    pub handle: [u8; FDSAFE_FANOTIFY_HANDLE_SIZE],
    /// Length of `name` (FID groups with `FDSAFE_FAN_REPORT_NAME`), else 0.
    pub name_len: u32,
    /// Length of `path` (descriptor groups), else 0.
    pub path_len: u32,
    /// The entry name, NUL-terminated.
    pub name: [c_char; FDSAFE_FANOTIFY_NAME_SIZE],
    /// The path of the event's file as the kernel resolved its descriptor, NUL-terminated
    /// (a deleted file's path ends in " (deleted)").
    pub path: [c_char; FDSAFE_FANOTIFY_PATH_SIZE],
}

fn copy_c(dst: &mut [c_char], src: &[u8]) -> u32 {
    let n = src.len().min(dst.len() - 1);
    for (d, s) in dst.iter_mut().zip(&src[..n]) {
        *d = *s as c_char;
    }
    dst[n] = 0;
    n as u32
}

fn fill(slot: &mut fdsafe_fanotify_event, e: &Event) {
    slot.mask = e.mask;
    slot.id = e.id;
    slot.pid = e.pid;
    slot.has_fid = 0;
    slot.fsid = 0;
    slot.handle_type = 0;
    slot.handle_bytes = 0;
    slot.handle = [0; FDSAFE_FANOTIFY_HANDLE_SIZE];
    if let Some(fid) = &e.fid {
        slot.has_fid = 1;
        slot.fsid = fid.fsid;
        slot.handle_type = fid.handle_type;
        let n = fid.handle.len().min(FDSAFE_FANOTIFY_HANDLE_SIZE);
        slot.handle[..n].copy_from_slice(&fid.handle[..n]);
        slot.handle_bytes = n as u32;
    }
    slot.name_len = copy_c(&mut slot.name, &e.name);
    slot.path_len = copy_c(&mut slot.path, &e.path);
}

/// Creates a fanotify group (needs `CAP_SYS_ADMIN`). `flags`: a class
/// (`FDSAFE_FAN_CLASS_CONTENT` or `_PRE_CONTENT` for permission events; neither for
/// notification only), `FDSAFE_FAN_NONBLOCK`, `FDSAFE_FAN_CLOEXEC` (always in force), report flags (`FDSAFE_FAN_REPORT_FID`,
/// `_DIR_FID`, `_NAME`, `_DFID_NAME`, `_TID`), `_UNLIMITED_QUEUE`, `_UNLIMITED_MARKS`. The
/// group descriptor and every event descriptor the kernel opens for it are close-on-exec.
///
/// Ownership: the caller owns `*handle_out`. Closing (or releasing) the group's last handle
/// in this process answers "allow" the unanswered permission events this process read (as
/// the kernel does when a group closes: only this process knew their ids) and closes their
/// descriptors; a forked child's close answers none of those it inherited, which stay its
/// parent's to answer. Duplicates (`fdsafe_dup`) share the unanswered events and the events
/// read but not handed out: any of them can answer.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for unknown flags, both classes, `_REPORT_NAME`
/// without `_REPORT_DIR_FID` (its bit is `O_NONBLOCK`'s, so `FDSAFE_NONBLOCK` lands here: use
/// `FDSAFE_FAN_NONBLOCK`), or a NULL `handle_out`; `-EPERM` without `CAP_SYS_ADMIN`; `-EINVAL` (kernel) for combinations it
/// refuses (FID reporting with a permission class); `-EMFILE` (also the per-user group limit).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_init(flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_fanotify_init", || {
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(Fanotify::new(flags)?))?.0);
        Ok(0)
    })
}

/// Changes the group's marks: `flags` holds one action (`FDSAFE_FAN_MARK_ADD`, `_REMOVE`,
/// `_FLUSH`), optionally a target type (`FDSAFE_FAN_MARK_MOUNT` or `_FILESYSTEM`; default:
/// the file or directory itself) and options (`_ONLYDIR`, `_DONT_FOLLOW`, `_EVICTABLE`);
/// `mask` the `FDSAFE_FAN_*` events; `path` the object (relative paths from the current
/// directory; NULL only with flush).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown bits, not
/// exactly one action, both target types, or a NULL path without flush; from the kernel
/// `-ENOENT`, `-ENAMETOOLONG`, `-ENOTDIR`, `-EINVAL` (events the group's class or report
/// flags cannot give, such as directory events on a mount without FID reporting), `-EEXIST` (an `_EVICTABLE` mark
/// added over one that is not), `-EXDEV`, `-ENOSPC` (mark limit). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_mark(handle: fdsafe_handle, flags: u32, mask: u64, path: *const c_char) -> c_int {
    call("fdsafe_fanotify_mark", || {
        let path = if path.is_null() { None } else { Some(c_str(path, "path")?) };
        get_as::<Fanotify>(Handle(handle), "a fanotify group")?.mark(flags, mask, path)?;
        Ok(0)
    })
}

/// Reads up to `max` events into `events_out`, waiting for the first unless non-blocking.
/// Returns the number written (>= 1).
///
/// No descriptor ever reaches the caller, so none can leak: for a notification event fdsafe
/// resolves the kernel's descriptor to `path` and closes it at once; for a permission event
/// it keeps the descriptor under the event's `id` until `fdsafe_fanotify_respond` writes the
/// answer (lend it with `fdsafe_fanotify_event_fd` to read the content). FID groups report
/// `fsid`/`handle` (and `name`) instead of a path. A lost-events condition arrives as an event
/// with `FDSAFE_FAN_Q_OVERFLOW`.
///
/// With `max >= FDSAFE_FANOTIFY_MIN_BATCH` (43), every event the kernel gives is handed out
/// at once; with fewer, the rest is kept inside fdsafe and returned first by the next read
/// (without waiting), as `fdsafe_fanotify_pending` counts.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `events_out`, `max == 0` or an absurd `max`; `-EAGAIN`; `-EINTR`; `-EMFILE` when the
/// kernel cannot open an event's descriptor at the descriptor limit (the kernel then drops
/// that event, and answers a permission event "deny"). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_read(handle: fdsafe_handle, events_out: *mut fdsafe_fanotify_event, max: usize) -> c_int {
    call("fdsafe_fanotify_read", || {
        let out = out_slice(events_out, max, "events_out")?;
        if out.is_empty() {
            return Err(Error::invalid("max is 0"));
        }
        let group = get_as::<Fanotify>(Handle(handle), "a fanotify group")?;
        let mut events = Vec::new();
        let n = group.read(out.len().min(c_int::MAX as usize), &mut events)?;
        for (slot, e) in out.iter_mut().zip(&events) {
            fill(slot, e);
        }
        Ok(n as c_int)
    })
}

/// Answers permission event `id`: `FDSAFE_FAN_ALLOW` or `FDSAFE_FAN_DENY` (the waiting
/// operation then fails with `EPERM`), then closes the event's descriptor. Each event is
/// answered once.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for another response;
/// `-ENOENT` for an id that is not an unanswered permission event of this group.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_respond(handle: fdsafe_handle, id: u64, response: u32) -> c_int {
    call("fdsafe_fanotify_respond", || {
        if response != FDSAFE_FAN_ALLOW && response != FDSAFE_FAN_DENY {
            return Err(Error::invalid(format!("response {response} is neither FDSAFE_FAN_ALLOW nor FDSAFE_FAN_DENY")));
        }
        get_as::<Fanotify>(Handle(handle), "a fanotify group")?.respond(id, response)?;
        Ok(0)
    })
}

/// Lends the descriptor of unanswered permission event `id` (read-only, close-on-exec), to
/// inspect the file before answering. fdsafe keeps ownership: do not close it, and stop using
/// it once the event is answered or the group closed.
///
/// Returns the descriptor (>= 0). Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-ENOENT` for an
/// id that is not an unanswered permission event. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_event_fd(handle: fdsafe_handle, id: u64) -> c_int {
    call("fdsafe_fanotify_event_fd", || get_as::<Fanotify>(Handle(handle), "a fanotify group")?.event_fd(id))
}

/// The number of events read from the kernel and kept for the next `fdsafe_fanotify_read`
/// (only after reads with `max` below `FDSAFE_FANOTIFY_MIN_BATCH`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_pending(handle: fdsafe_handle) -> c_int {
    call("fdsafe_fanotify_pending", || {
        Ok(get_as::<Fanotify>(Handle(handle), "a fanotify group")?.buffered().min(c_int::MAX as usize) as c_int)
    })
}

/// The number of permission events read but not yet answered.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fanotify_unanswered(handle: fdsafe_handle) -> c_int {
    call("fdsafe_fanotify_unanswered", || {
        Ok(get_as::<Fanotify>(Handle(handle), "a fanotify group")?.unanswered().min(c_int::MAX as usize) as c_int)
    })
}
