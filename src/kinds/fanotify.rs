//! fanotify: file-system events for mounts, file systems and files, with permission events.
//!
//! Event descriptors never leak: for a notification event the descriptor the kernel opened
//! is turned into its path and closed while the event is parsed. For a permission event it is
//! kept inside the group, under an event id, until the answer is written (closing it first
//! would let its number be reused and the answer reach another event); then it is closed.
//! When the last handle of the group here goes (closed or released) with questions
//! unanswered, the ones this process read are answered "allow", what the kernel does when a
//! group's last descriptor closes: only this process could answer them (by their ids), so
//! nothing is left waiting for an answer that can no longer come, even when a child forked
//! earlier still holds the group (as the openers themselves may). Questions a forked child
//! inherited are its parent's: the child's close answers none of them. Then their
//! descriptors are closed.
//!
//! Duplicates made with `fdsafe_dup` share the unanswered questions and the events read but
//! not handed out, as they share the group: any of them can answer, and closing one loses
//! nothing the others can still take.

use std::collections::{HashMap, VecDeque};
use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::handles::{Kind, Object, WriteGuard};
use crate::sys::{self, cvt};

// Kernel values (include/uapi/linux/fanotify.h).
pub(crate) const FAN_CLOEXEC: u32 = 0x1;
pub(crate) const FAN_NONBLOCK: u32 = 0x2;
pub(crate) const FAN_CLASS_CONTENT: u32 = 0x4;
pub(crate) const FAN_CLASS_PRE_CONTENT: u32 = 0x8;
pub(crate) const FAN_UNLIMITED_QUEUE: u32 = 0x10;
pub(crate) const FAN_UNLIMITED_MARKS: u32 = 0x20;
pub(crate) const FAN_REPORT_TID: u32 = 0x100;
pub(crate) const FAN_REPORT_FID: u32 = 0x200;
pub(crate) const FAN_REPORT_DIR_FID: u32 = 0x400;
pub(crate) const FAN_REPORT_NAME: u32 = 0x800;
/// The `fanotify_init` flags fdsafe passes on.
pub(crate) const INIT_FLAGS: u32 = FAN_CLOEXEC
    | FAN_NONBLOCK
    | FAN_CLASS_CONTENT
    | FAN_CLASS_PRE_CONTENT
    | FAN_UNLIMITED_QUEUE
    | FAN_UNLIMITED_MARKS
    | FAN_REPORT_TID
    | FAN_REPORT_FID
    | FAN_REPORT_DIR_FID
    | FAN_REPORT_NAME;

pub(crate) const FAN_MARK_ADD: u32 = 0x1;
pub(crate) const FAN_MARK_REMOVE: u32 = 0x2;
pub(crate) const FAN_MARK_DONT_FOLLOW: u32 = 0x4;
pub(crate) const FAN_MARK_ONLYDIR: u32 = 0x8;
pub(crate) const FAN_MARK_MOUNT: u32 = 0x10;
pub(crate) const FAN_MARK_FLUSH: u32 = 0x80;
pub(crate) const FAN_MARK_FILESYSTEM: u32 = 0x100;
pub(crate) const FAN_MARK_EVICTABLE: u32 = 0x200;
pub(crate) const MARK_FLAGS: u32 = FAN_MARK_ADD
    | FAN_MARK_REMOVE
    | FAN_MARK_DONT_FOLLOW
    | FAN_MARK_ONLYDIR
    | FAN_MARK_MOUNT
    | FAN_MARK_FLUSH
    | FAN_MARK_FILESYSTEM
    | FAN_MARK_EVICTABLE;

pub(crate) const FAN_Q_OVERFLOW: u64 = 0x4000;
pub(crate) const FAN_OPEN_PERM: u64 = 0x1_0000;
pub(crate) const FAN_ACCESS_PERM: u64 = 0x2_0000;
pub(crate) const FAN_OPEN_EXEC_PERM: u64 = 0x4_0000;
pub(crate) const FAN_PRE_ACCESS: u64 = 0x10_0000;
const PERMISSION_EVENTS: u64 = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM | FAN_PRE_ACCESS;
/// Every event bit fdsafe knows: the plain events 0x1-0x1000, overflow, file-system error,
/// the permission events, event-on-child, rename and on-dir.
pub(crate) const EVENT_BITS: u64 = 0x1fff | FAN_Q_OVERFLOW | 0x8000 | PERMISSION_EVENTS | 0x0800_0000 | 0x1000_0000 | 0x4000_0000;

const FAN_ALLOW: u32 = 0x1;

const METADATA_LEN: usize = 24;
const FAN_NOFD: i32 = -1;
/// The longest file handle (`MAX_HANDLE_SZ`).
pub(crate) const MAX_HANDLE: usize = 128;
pub(crate) const NAME_MAX: usize = 255;
pub(crate) const PATH_MAX: usize = 4096;
/// Room for any one event with the report flags fdsafe supports.
const LARGEST_EVENT: usize = 1024;
/// A read of at least this many events never leaves any buffered inside fdsafe.
pub const MIN_BATCH: usize = LARGEST_EVENT.div_ceil(METADATA_LEN);

/// A file identity from an FID record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fid {
    pub fsid: u64,
    pub handle_type: i32,
    pub handle: Vec<u8>,
}

/// One parsed event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub mask: u64,
    pub pid: i32,
    /// Non-zero for permission events: the id to answer with.
    pub id: u64,
    /// The path of the event's file (descriptor-based groups).
    pub path: Vec<u8>,
    pub fid: Option<Fid>,
    /// The entry name (`FAN_REPORT_NAME` groups).
    pub name: Vec<u8>,
}

/// An unanswered permission event.
struct Question {
    /// Its descriptor, which its answer names.
    fd: OwnedFd,
    /// The process that read it (see the module documentation).
    reader: libc::pid_t,
}

/// What the handles of one group in this process share (see the module documentation).
#[derive(Default)]
struct Shared {
    /// Unanswered permission events, by event id.
    questions: Mutex<HashMap<u64, Question>>,
    /// Events read from the kernel and not handed out yet.
    buffered: Mutex<VecDeque<Event>>,
}

impl Shared {
    fn questions(&self) -> MutexGuard<'_, HashMap<u64, Question>> {
        self.questions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn buffered(&self) -> MutexGuard<'_, VecDeque<Event>> {
        self.buffered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write_response(group: RawFd, fd: RawFd, response: u32) -> Result<()> {
    let answer: [u32; 2] = [fd as u32, response];
    // SAFETY: writes the 8-byte struct fanotify_response.
    cvt(unsafe { libc::write(group, answer.as_ptr().cast(), 8) }).map_err(|e| e.context("answering a fanotify permission event"))?;
    Ok(())
}

pub struct Fanotify {
    shared: Arc<Shared>,
    /// Always set; taken only by `into_fd`, after the questions are dealt with.
    fd: Option<OwnedFd>,
}

impl Drop for Fanotify {
    fn drop(&mut self) {
        self.let_go();
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Fanotify {
    pub fn new(flags: u32) -> Result<Fanotify> {
        if flags & !INIT_FLAGS != 0 {
            return Err(Error::invalid(format!("unknown fanotify flag bits {:#x}", flags & !INIT_FLAGS)));
        }
        if flags & FAN_CLASS_CONTENT != 0 && flags & FAN_CLASS_PRE_CONTENT != 0 {
            return Err(Error::invalid("choose one class: content or pre-content"));
        }
        // FAN_REPORT_NAME is O_NONBLOCK's bit (0x800): refuse it alone here, where the kernel
        // would say EINVAL, so FDSAFE_NONBLOCK given to fanotify is fdsafe's invalid argument.
        if flags & FAN_REPORT_NAME != 0 && flags & FAN_REPORT_DIR_FID == 0 {
            return Err(Error::invalid("FAN_REPORT_NAME needs FAN_REPORT_DIR_FID (for non-blocking use FAN_NONBLOCK)"));
        }
        let event_flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_LARGEFILE) as u32;
        // SAFETY: fanotify_init returns a new descriptor on success.
        let fd = cvt(unsafe { libc::fanotify_init(flags | FAN_CLOEXEC, event_flags) }).map_err(|e| e.context("fanotify_init"))?;
        Ok(Fanotify::from_fd(unsafe { sys::owned(fd) }))
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("fanotify") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not a fanotify group", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> Fanotify {
        Fanotify { shared: Arc::default(), fd: Some(fd) }
    }

    /// Another handle of this group, for `fd` (a duplicate of this one's descriptor): it
    /// shares the questions and buffered events.
    pub fn duplicate(&self, fd: OwnedFd) -> Fanotify {
        Fanotify { shared: Arc::clone(&self.shared), fd: Some(fd) }
    }

    fn group(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("a live group has its descriptor").as_fd()
    }

    /// Ends this handle's share of the questions. The last handle of the group here answers
    /// "allow" the questions this process read, through its still open descriptor, and
    /// closes every question's descriptor (see the module documentation). `into_inner`, not
    /// a count, tells the last: of two duplicates dropped at once, exactly one gets it.
    fn let_go(&mut self) {
        let Some(shared) = Arc::into_inner(std::mem::take(&mut self.shared)) else { return };
        let Some(group) = &self.fd else { return };
        let me = std::process::id() as libc::pid_t;
        let questions = shared.questions.into_inner().unwrap_or_else(|p| p.into_inner());
        for question in questions.into_values().filter(|question| question.reader == me) {
            let _ = write_response(group.as_raw_fd(), question.fd.as_raw_fd(), FAN_ALLOW);
        }
    }

    /// Adds, removes or flushes marks. `path` may be `None` only for a flush.
    pub fn mark(&self, flags: u32, mask: u64, path: Option<&CStr>) -> Result<()> {
        if flags & !MARK_FLAGS != 0 {
            return Err(Error::invalid(format!("unknown fanotify mark flag bits {:#x}", flags & !MARK_FLAGS)));
        }
        let actions = [FAN_MARK_ADD, FAN_MARK_REMOVE, FAN_MARK_FLUSH].iter().filter(|a| flags & **a != 0).count();
        if actions != 1 {
            return Err(Error::invalid("give exactly one of add, remove and flush"));
        }
        if flags & FAN_MARK_MOUNT != 0 && flags & FAN_MARK_FILESYSTEM != 0 {
            return Err(Error::invalid("a mark is on a mount or on a file system, not both"));
        }
        if mask & !EVENT_BITS != 0 {
            return Err(Error::invalid(format!("unknown fanotify event bits {:#x}", mask & !EVENT_BITS)));
        }
        if path.is_none() && flags & FAN_MARK_FLUSH == 0 {
            return Err(Error::invalid("path is NULL"));
        }
        let path_ptr = path.map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: a NUL-terminated path or NULL (flush).
        cvt(unsafe { libc::fanotify_mark(self.group().as_raw_fd(), flags, mask, libc::AT_FDCWD, path_ptr) })
            .map_err(|e| e.context(format!("fanotify_mark {}", path.map_or("(flush)".into(), |p| p.to_string_lossy()))))?;
        Ok(())
    }

    pub fn buffered(&self) -> usize {
        self.shared.buffered().len()
    }

    /// Hands out up to `max` events: buffered ones first, else reads the kernel (waiting
    /// unless non-blocking).
    pub fn read(&self, max: usize, out: &mut Vec<Event>) -> Result<usize> {
        if max == 0 {
            return Err(Error::invalid("room for at least one event is needed"));
        }
        {
            let mut buffered = self.shared.buffered();
            if !buffered.is_empty() {
                let n = max.min(buffered.len());
                out.extend(buffered.drain(..n));
                return Ok(n);
            }
        }
        let size = (max * METADATA_LEN).clamp(LARGEST_EVENT, 65536);
        let mut buf = vec![0u8; size];
        // SAFETY: the buffer has `size` writable bytes.
        let n = cvt(unsafe { libc::read(self.group().as_raw_fd(), buf.as_mut_ptr().cast(), size) })? as usize;
        let mut events = self.parse(&buf[..n]);
        if events.len() > max {
            self.shared.buffered().extend(events.drain(max..));
        }
        let count = events.len();
        out.extend(events);
        Ok(count)
    }

    /// Parses a buffer of events. Every descriptor in it is taken over at once, so none can
    /// leak whatever happens next.
    fn parse(&self, mut buf: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        while buf.len() >= METADATA_LEN {
            let u32_at = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            let event_len = (u32_at(buf, 0) as usize).clamp(METADATA_LEN, buf.len());
            let metadata_len = (u16::from_ne_bytes([buf[6], buf[7]]) as usize).clamp(METADATA_LEN, event_len);
            let mut mask_bytes = [0u8; 8];
            mask_bytes.copy_from_slice(&buf[8..16]);
            let mask = u64::from_ne_bytes(mask_bytes);
            let fd = u32_at(buf, 16) as i32;
            let pid = u32_at(buf, 20) as i32;
            let mut event = Event { mask, pid, ..Event::default() };
            if fd >= 0 {
                // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                event.path = std::fs::read_link(sys::proc_fd_path(fd))
                    .map(|p| p.into_os_string().into_encoded_bytes())
                    .unwrap_or_default();
                event.path.truncate(PATH_MAX - 1);
                if mask & PERMISSION_EVENTS != 0 {
                    event.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    let question = Question { fd: owned, reader: std::process::id() as libc::pid_t };
                    self.shared.questions().insert(event.id, question);
                }
                // Otherwise `owned` drops here: the descriptor is closed.
            } else if fd != FAN_NOFD {
                // FAN_NOPIDFD / error values: nothing to own.
            }
            parse_info(&buf[metadata_len..event_len], &mut event);
            events.push(event);
            buf = &buf[event_len..];
        }
        events
    }

    /// Answers permission event `id` (`FAN_ALLOW` or `FAN_DENY`) and closes its descriptor.
    pub fn respond(&self, id: u64, response: u32) -> Result<()> {
        let mut open = self.shared.questions();
        let question = open.get(&id).ok_or_else(|| Error::from_errno(libc::ENOENT).context("no unanswered permission event with this id"))?;
        let result = write_response(self.group().as_raw_fd(), question.fd.as_raw_fd(), response);
        match result {
            // The kernel no longer waits for it (ENOENT): forget it too.
            Ok(()) | Err(Error::Os { errno: libc::ENOENT, .. }) => {
                open.remove(&id);
            }
            Err(_) => {}
        }
        result
    }

    /// Lends the descriptor of unanswered permission event `id`.
    pub fn event_fd(&self, id: u64) -> Result<RawFd> {
        self.shared
            .questions()
            .get(&id)
            .map(|question| question.fd.as_raw_fd())
            .ok_or_else(|| Error::from_errno(libc::ENOENT).context("no unanswered permission event with this id"))
    }

    pub fn unanswered(&self) -> usize {
        self.shared.questions().len()
    }
}

const FAN_EVENT_INFO_TYPE_FID: u8 = 1;
const FAN_EVENT_INFO_TYPE_DFID_NAME: u8 = 2;
const FAN_EVENT_INFO_TYPE_DFID: u8 = 3;
const FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: u8 = 10;
const FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: u8 = 12;

/// Reads the first file-identity record (and its name) of an event's info records.
fn parse_info(mut info: &[u8], event: &mut Event) {
    while info.len() >= 4 {
        let info_type = info[0];
        let len = (u16::from_ne_bytes([info[2], info[3]]) as usize).clamp(4, info.len());
        let record = &info[..len];
        let is_fid = matches!(
            info_type,
            FAN_EVENT_INFO_TYPE_FID
                | FAN_EVENT_INFO_TYPE_DFID_NAME
                | FAN_EVENT_INFO_TYPE_DFID
                | FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
                | FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
        );
        // header (4), fsid (8), file_handle { handle_bytes u32, handle_type i32, f_handle[] }.
        if is_fid && event.fid.is_none() && record.len() >= 20 {
            let mut fsid = [0u8; 8];
            fsid.copy_from_slice(&record[4..12]);
            let handle_bytes = u32::from_ne_bytes([record[12], record[13], record[14], record[15]]) as usize;
            let handle_type = i32::from_ne_bytes([record[16], record[17], record[18], record[19]]);
            let end = 20usize.saturating_add(handle_bytes).min(record.len());
            let handle = record[20..end].iter().copied().take(MAX_HANDLE).collect();
            event.fid = Some(Fid { fsid: u64::from_ne_bytes(fsid), handle_type, handle });
            if matches!(
                info_type,
                FAN_EVENT_INFO_TYPE_DFID_NAME | FAN_EVENT_INFO_TYPE_OLD_DFID_NAME | FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
            ) {
                let name = &record[end..];
                let stop = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                event.name = name[..stop.min(NAME_MAX)].to_vec();
            }
        }
        info = &info[len..];
    }
}

impl AsFd for Fanotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.group()
    }
}

impl Object for Fanotify {
    fn kind(&self) -> Kind {
        Kind::Fanotify
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.group()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        // The questions are dealt with while the group is still open; its descriptor goes on.
        let mut group = self;
        group.let_go();
        group.fd.take().expect("a live group has its descriptor")
    }
    fn write_guard(&self) -> WriteGuard {
        WriteGuard::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dfid_name_record() {
        let mut rec = vec![FAN_EVENT_INFO_TYPE_DFID_NAME, 0, 0, 0];
        rec.extend_from_slice(&0x1122_3344_5566_7788u64.to_ne_bytes());
        rec.extend_from_slice(&8u32.to_ne_bytes());
        rec.extend_from_slice(&1i32.to_ne_bytes());
        rec.extend_from_slice(&[9u8; 8]);
        rec.extend_from_slice(b"name\0\0\0\0");
        let len = rec.len() as u16;
        rec[2..4].copy_from_slice(&len.to_ne_bytes());
        let mut event = Event::default();
        parse_info(&rec, &mut event);
        let fid = event.fid.unwrap();
        assert_eq!(fid.fsid, 0x1122_3344_5566_7788);
        assert_eq!(fid.handle_type, 1);
        assert_eq!(fid.handle, vec![9u8; 8]);
        assert_eq!(event.name, b"name");
    }

    #[test]
    fn garbage_info_never_panics() {
        let mut event = Event::default();
        parse_info(&[2, 0, 0xff, 0xff, 1, 2, 3], &mut event);
        parse_info(&[1, 0, 0, 0], &mut event);
        parse_info(&[1, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1], &mut event);
        assert!(event.name.is_empty());
    }

    // Checked when the tests compile: a batch holds the largest event, metadata plus a
    // DFID_NAME record with the longest handle and name.
    const _: () = assert!(MIN_BATCH * METADATA_LEN >= LARGEST_EVENT);
    const _: () = assert!(METADATA_LEN + 4 + 8 + 8 + MAX_HANDLE + NAME_MAX < LARGEST_EVENT);
}
