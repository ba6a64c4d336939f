//! inotify: file-system events, parsed out of the kernel's variable-length records.

use std::collections::{HashSet, VecDeque};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt};

bitflags! {
    /// Options for [`Inotify::new`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct InotifyFlags: u32 {
        const NONBLOCK = 1 << 0;
    }
}

/// The mask bits a watch may ask for (events and watch options).
pub const WATCH_BITS: u32 = libc::IN_ALL_EVENTS
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW
    | libc::IN_EXCL_UNLINK
    | libc::IN_MASK_ADD
    | libc::IN_ONESHOT
    | 0x1000_0000; // IN_MASK_CREATE

/// The longest name an event carries (`NAME_MAX`).
pub(crate) const NAME_MAX: usize = 255;
const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
/// A kernel read buffer of `16 * n` bytes never yields more than `n` events, and one of at
/// least this size always fits the longest event.
pub(crate) const MIN_BATCH: usize = (HEADER + NAME_MAX + 1).div_ceil(HEADER);

/// One parsed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub wd: i32,
    pub mask: u32,
    pub cookie: u32,
    pub name: Vec<u8>,
}

#[derive(Default)]
struct State {
    /// Events read from the kernel but not yet handed out (only when a caller asks for fewer
    /// than [`MIN_BATCH`] at a time).
    pending: VecDeque<Event>,
    /// The watch ids this instance issued that the caller has not yet seen end: not removed
    /// by [`Inotify::remove_watch`], their `IN_IGNORED` event not yet handed out. A removal
    /// that races with the kernel dropping the watch by itself is then still answered with
    /// success, and the set stays as small as the watches in use.
    issued: HashSet<i32>,
}

impl State {
    /// Hands `events` to the caller, forgetting the watches whose end they announce.
    fn hand_out(&mut self, events: impl Iterator<Item = Event>, out: &mut Vec<Event>) {
        for event in events {
            if event.mask & libc::IN_IGNORED != 0 {
                self.issued.remove(&event.wd);
            }
            out.push(event);
        }
    }
}

pub struct Inotify {
    fd: OwnedFd,
    /// Shared with the duplicates of this handle (`fdsafe_dup`), as they share the instance:
    /// events one read and did not hand out are the next read's through any of them.
    state: Arc<Mutex<State>>,
}

impl Inotify {
    pub fn new(flags: InotifyFlags) -> Result<Inotify> {
        let mut raw = libc::IN_CLOEXEC;
        if flags.contains(InotifyFlags::NONBLOCK) {
            raw |= libc::IN_NONBLOCK;
        }
        // SAFETY: inotify_init1 returns a new descriptor on success.
        let fd = cvt(unsafe { libc::inotify_init1(raw) }).map_err(|e| e.context("inotify_init1"))?;
        Ok(Inotify::from_fd(unsafe { sys::owned(fd) }))
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("inotify") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not an inotify instance", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> Inotify {
        Inotify { fd, state: Arc::default() }
    }

    /// Another handle of this instance, for `fd` (a duplicate of this one's descriptor).
    pub fn duplicate(&self, fd: OwnedFd) -> Inotify {
        Inotify { fd, state: Arc::clone(&self.state) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or changes) a watch on `path`; returns its watch id.
    pub fn add_watch(&self, path: &CStr, mask: u32) -> Result<i32> {
        if mask & !WATCH_BITS != 0 {
            return Err(Error::invalid(format!("unknown inotify mask bits {:#x}", mask & !WATCH_BITS)));
        }
        // The kernel takes options alone and replaces the watch's mask with no event: the
        // watch would stay, silent.
        if mask & libc::IN_ALL_EVENTS == 0 {
            return Err(Error::invalid(format!("inotify mask {mask:#x} names no event")));
        }
        // SAFETY: a NUL-terminated path.
        let wd = cvt(unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) })
            .map_err(|e| e.context(format!("inotify_add_watch {}", path.to_string_lossy())))?;
        self.state().issued.insert(wd);
        Ok(wd)
    }

    /// Removes a watch. A watch the kernel already dropped by itself (its file deleted, its
    /// file system unmounted, a one-shot watch that fired) is removed without error until its
    /// `IN_IGNORED` event has been handed out; after that, and after a removal, the id is
    /// unknown again (`EINVAL`, as the raw call answers).
    pub fn remove_watch(&self, wd: i32) -> Result<()> {
        // SAFETY: plain system call.
        let removed = cvt(unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) });
        let was_issued = self.state().issued.remove(&wd);
        match removed {
            Ok(_) => Ok(()),
            Err(Error::Os { errno: libc::EINVAL, .. }) if was_issued => Ok(()),
            Err(e) => Err(e.context(format!("inotify_rm_watch {wd}"))),
        }
    }

    /// The number of events read from the kernel and waiting to be handed out.
    pub fn pending(&self) -> usize {
        self.state().pending.len()
    }

    /// Hands out up to `max` events: buffered ones first (without waiting), else reads from
    /// the kernel (waiting unless non-blocking).
    pub fn read(&self, max: usize, out: &mut Vec<Event>) -> Result<usize> {
        if max == 0 {
            return Err(Error::invalid("room for at least one event is needed"));
        }
        {
            let mut state = self.state();
            if !state.pending.is_empty() {
                let n = max.min(state.pending.len());
                let taken: Vec<Event> = state.pending.drain(..n).collect();
                state.hand_out(taken.into_iter(), out);
                return Ok(n);
            }
        }
        // 16 bytes per event the caller can take, so the kernel never gives more than `max`;
        // at least one longest event; at most 64 KiB.
        let size = (max.max(MIN_BATCH) * HEADER).min(65536);
        let mut buf = vec![0u8; size];
        // SAFETY: the buffer has `size` writable bytes.
        let n = cvt(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), size) })? as usize;
        let mut events = parse(&buf[..n])?;
        let mut state = self.state();
        if events.len() > max {
            state.pending.extend(events.drain(max..));
        }
        let count = events.len();
        state.hand_out(events.into_iter(), out);
        Ok(count)
    }
}

fn parse(mut buf: &[u8]) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    while buf.len() >= HEADER {
        // SAFETY: at least HEADER bytes; read_unaligned copes with any alignment.
        let raw: libc::inotify_event = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        let len = raw.len as usize;
        let Some(name_bytes) = buf.get(HEADER..HEADER + len) else {
            return Err(Error::Internal("truncated inotify record".into()));
        };
        let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(len);
        events.push(Event { wd: raw.wd, mask: raw.mask, cookie: raw.cookie, name: name_bytes[..end].to_vec() });
        buf = &buf[HEADER + len..];
    }
    Ok(events)
}

fd_object!(Inotify, Kind::Inotify, WriteGuard::None);

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wd: i32, mask: u32, cookie: u32, name: &[u8], padded: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&wd.to_ne_bytes());
        out.extend_from_slice(&mask.to_ne_bytes());
        out.extend_from_slice(&cookie.to_ne_bytes());
        out.extend_from_slice(&(padded as u32).to_ne_bytes());
        let mut n = name.to_vec();
        n.resize(padded, 0);
        out.extend_from_slice(&n);
        out
    }

    #[test]
    fn parses_several_records_with_padding() {
        let mut buf = record(1, libc::IN_CREATE, 0, b"a", 16);
        buf.extend(record(2, libc::IN_MOVED_FROM, 7, &[b'x'; 255], 256));
        buf.extend(record(-1, libc::IN_Q_OVERFLOW, 0, b"", 0));
        let events = parse(&buf).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], Event { wd: 1, mask: libc::IN_CREATE, cookie: 0, name: b"a".to_vec() });
        assert_eq!(events[1].name.len(), 255);
        assert_eq!(events[1].cookie, 7);
        assert_eq!(events[2].wd, -1);
        assert!(events[2].name.is_empty());
    }

    #[test]
    fn a_truncated_record_is_an_error_not_a_panic() {
        let mut buf = record(1, libc::IN_CREATE, 0, b"abc", 16);
        buf.truncate(20);
        assert!(parse(&buf).is_err());
    }

    #[test]
    fn ids_are_forgotten_when_removed_or_their_end_is_read() {
        let watcher = Inotify::new(InotifyFlags::NONBLOCK).unwrap();
        let dir = std::env::temp_dir().join(format!("fdsafe-inotify-ids-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        for _ in 0..1000 {
            let wd = watcher.add_watch(&path, libc::IN_CREATE).unwrap();
            watcher.remove_watch(wd).unwrap();
        }
        assert!(watcher.state().issued.is_empty(), "add and remove cycles leave nothing behind");
        let mut events = Vec::new();
        while watcher.read(64, &mut events).is_ok() {}
        assert_eq!(events.len(), 1000, "one IN_IGNORED per removal");
        let wd = watcher.add_watch(&path, libc::IN_CREATE | libc::IN_ONESHOT).unwrap();
        let created = dir.join("oneshot");
        std::fs::write(&created, b"").unwrap();
        std::fs::remove_file(&created).unwrap();
        events.clear();
        while watcher.read(64, &mut events).is_ok() {}
        assert!(events.iter().any(|e| e.wd == wd && e.mask & libc::IN_IGNORED != 0));
        assert!(watcher.state().issued.is_empty(), "a one-shot watch's end forgets it");
        std::fs::remove_dir(&dir).unwrap();
    }

    // Checked when the tests compile: a batch holds the longest event.
    const _: () = assert!(MIN_BATCH * HEADER > HEADER + NAME_MAX);

    #[test]
    fn min_batch_is_seventeen_headers() {
        assert_eq!(MIN_BATCH, 17);
    }
}
