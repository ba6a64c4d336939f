//! Random sequences of C-API calls over a pool of handles of every kind that can be made
//! without side effects on the machine (pipes, eventfds, stdin, Unix socket pairs of the three
//! types, a TCP listener with a connected client and the accepted stream, UDP, epoll sets,
//! timerfds, inotify on a private directory, memfds, O_TMPFILE files, a signalfd for a signal
//! nobody sends, message queues unlinked at once, a pidfd of this process, and whatever
//! arrives over the pool's Unix sockets), plus closed handles and forged values, with NULL
//! pointers, absurd lengths and unknown flags. Every descriptor is non-blocking (standard
//! input, whose mode is never changed, is only used by calls that cannot block) and every
//! timeout is 0, so nothing can hang.
//!
//! After every call: no panic reached the boundary (FDSAFE_E_INTERNAL), stale handles gave
//! -EBADF, every epoll set holds exactly the registrations of live handles the model expects
//! and no epoll event names a dead handle. After every sequence: no handle and no descriptor
//! is left behind.
#![no_main]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::ffi::{c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use arbitrary::Arbitrary;
use fdsafe::ffi::batch::fdsafe_close_all_except;
use fdsafe::ffi::codes::*;
use fdsafe::ffi::epoll::*;
use fdsafe::ffi::eventfd::*;
use fdsafe::ffi::file::*;
use fdsafe::ffi::handle::*;
use fdsafe::ffi::inotify::*;
use fdsafe::ffi::kinds::*;
use fdsafe::ffi::memfd::*;
use fdsafe::ffi::mqueue::*;
use fdsafe::ffi::net::*;
use fdsafe::ffi::pidfd::*;
use fdsafe::ffi::pipe::*;
use fdsafe::ffi::signal::*;
use fdsafe::ffi::socket::*;
use fdsafe::ffi::splice::*;
use fdsafe::ffi::stdio::*;
use fdsafe::ffi::timerfd::*;
use fdsafe::ffi::unix::*;
use fdsafe::ffi::FDSAFE_NONBLOCK;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Target {
    Live(u8),
    Closed(u8),
    Forged(u64),
    /// A live handle with one bit changed (kind byte, generation or index): never usable.
    Flipped(u8, u8),
    Zero,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Length {
    Fits(u16),
    Zero,
    Max,
    AboveIsizeMax,
    NullWith(u16),
}

#[derive(Arbitrary, Debug)]
enum Call {
    // Generic calls and the first kinds.
    PipeCreate { flags: u32 },
    EventfdCreate { initial: u32, flags: u32 },
    Close(Target),
    /// `fdsafe_close_all_except`, keeping up to four picked handles (and the directory).
    CloseAllExcept(Vec<Target>),
    Dup(Target),
    ReleaseThenCloseRaw(Target),
    ReleaseThenAdopt(Target, u32),
    AdoptRawPipe { kind: u32 },
    AdoptBorrowed { target: Target, kind: u32 },
    Read(Target, Length),
    Write(Target, Length),
    Readv(Target, u8, i32),
    Writev(Target, u8, i32),
    Wait(Target, u32, i32),
    NonblockingGet(Target),
    NonblockingCycle(Target),
    EventfdRead(Target, bool),
    EventfdWrite(Target, u64),
    PipeCapacity(Target),
    PipeSetCapacity(Target, u32),
    Kind(Target),
    KindName(u32),
    Borrow(Target),
    LastError(u16, bool),
    ErrorText(i32),
    // Standard input (never its blocking mode).
    StdinOpen { flags: u32 },
    // Sockets.
    UnixPair { ty: u8, flags: u32 },
    TcpTrio { backlog: i8 },
    UdpBind { flags: u32 },
    SocketSend(Target, Length, u32),
    SocketRecv(Target, Length, u32),
    SocketSendTo(Target, Length, u32, u8),
    SocketRecvFrom(Target, Length, u32, u16),
    SocketShutdown(Target, i32),
    SocketAccept(Target, u32, u16),
    SocketOptionGet(Target, u8, u8, bool),
    SocketOptionSet(Target, u8, u8, i32),
    SocketAddress(Target, u16, bool),
    PeerCredentials(Target, bool),
    SendHandles(Target, Vec<Target>, Length, u32),
    SendFds(Target, Vec<Target>, u32),
    RecvHandles(Target, Length, u8, u32, bool),
    // Epoll.
    EpollCreate,
    EpollAdd(Target, Target, u32, u64),
    EpollModify(Target, Target, u32, u64),
    EpollDelete(Target, Target),
    EpollWait(Target, u8, bool),
    EpollCount(Target),
    // Timers.
    TimerfdCreate { clock: i32, flags: u32 },
    TimerfdSet(Target, u32, i64, i64, bool),
    TimerfdGet(Target, bool),
    TimerfdRead(Target, bool),
    // Inotify.
    InotifyCreate { flags: u32 },
    InotifyAddWatch(Target, u32, u8),
    InotifyRemoveWatch(Target, i32),
    InotifyRead(Target, u8, bool),
    InotifyPending(Target),
    // Memory and temporary files.
    MemfdCreate { flags: u32, name_len: u16 },
    MemfdAddSeals(Target, u32),
    MemfdGetSeals(Target),
    TmpfileOpen { flags: u16, mode: u16 },
    FilePread(Target, Length, i64),
    FilePwrite(Target, Length, i64),
    FileSize(Target),
    FileTruncate(Target, u32),
    FileSeek(Target, i64, i32),
    // Signals.
    SignalfdCreate { flags: u32, usr2: bool },
    SignalfdUpdate(Target, bool),
    SignalfdRead(Target, u8, bool),
    // Message queues.
    MqOpen { flags: u32, max_messages: i8, message_size: i16, with_attr: bool },
    MqSend(Target, Length, u32),
    MqReceive(Target, Length, bool),
    MqGetAttr(Target, bool),
    MqSetAttr(Target, u32, bool),
    MqNotify(Target, i32),
    // This process's pidfd.
    PidfdSelf { flags: u32 },
    PidfdSignal(Target, bool, u32),
    PidfdGetPid(Target),
    PidfdGetfd(Target, Target, i32, u32),
    PidfdWait(Target, u32, bool),
    // Moving data between pool handles (pipes, files, memfds, sockets).
    Splice(Target, Option<i64>, Target, Option<i64>, u32, u32),
    Tee(Target, Target, u32, u32),
    Vmsplice(Target, u8, i32, u32),
    Sendfile(Target, Option<i64>, Target, u32),
    CopyFileRange(Target, Option<i64>, Target, Option<i64>, u32, u32),
    // More socket and epoll calls.
    SocketConnect(Target, Target, u8),
    SocketConnectFinish(Target),
    SendBatch(Target, u8, u16, bool, u32),
    RecvBatch(Target, u8, u16, u32),
    PeerGroups(Target, u16, bool),
    EpollWaitNs(Target, u8, bool, bool),
    // Files relative to a directory handle, inside the private directory.
    FileOpenAt(u8, u32, u32, u32),
    FileSync(Target, u32),
}

const POOL_MAX: usize = 24;

struct Pool {
    live: Vec<u64>,
    closed: Vec<u64>,
    /// A directory handle on the private directory, for the *_at calls (closed at the end).
    dir: u64,
    /// Model of every epoll set's registrations: set -> targets. The handles of one kernel
    /// epoll instance (a dup, a copy adopted or received) share one record, as fdsafe does.
    registered: BTreeMap<u64, Rc<RefCell<BTreeSet<u64>>>>,
}

impl Pool {
    fn pick(&self, target: Target) -> (u64, bool) {
        match target {
            Target::Live(i) if !self.live.is_empty() => (self.live[i as usize % self.live.len()], false),
            Target::Closed(i) if !self.closed.is_empty() => (self.closed[i as usize % self.closed.len()], true),
            Target::Forged(v) => (v, false),
            Target::Flipped(i, bit) if !self.live.is_empty() => {
                let forged = self.live[i as usize % self.live.len()] ^ (1u64 << (bit % 64));
                (forged, !self.live.contains(&forged))
            }
            _ => (0, true),
        }
    }
    fn keep(&mut self, handle: u64) {
        let kind = fdsafe_handle_kind(handle);
        assert!(kind > 0, "a new handle is not alive");
        if kind == FDSAFE_KIND_EPOLL as i32 {
            // Created: a set of its own with no registrations. Dup'd, adopted or received while
            // another handle of the same kernel instance lives: that handle's registrations.
            let fd = fdsafe_fd_borrow(handle);
            let same = self.registered.iter().find(|(&other, _)| same_open_file(fd, fdsafe_fd_borrow(other)));
            let record = same.map_or_else(Default::default, |(_, record)| record.clone());
            self.registered.insert(handle, record);
        }
        if self.live.len() < POOL_MAX {
            self.live.push(handle);
        } else {
            assert_eq!(fdsafe_close(handle), 0);
            self.gone(handle);
        }
    }
    /// A handle ended (closed or released): no set may keep it.
    fn gone(&mut self, handle: u64) {
        self.registered.remove(&handle);
        for targets in self.registered.values() {
            targets.borrow_mut().remove(&handle);
        }
        self.closed.push(handle);
        if self.closed.len() > 64 {
            self.closed.remove(0);
        }
    }
    fn forget(&mut self, handle: u64) {
        self.live.retain(|h| *h != handle);
        self.gone(handle);
    }
}

fn open_fds() -> BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().into_string().unwrap()).collect()
}

fn check(rc: i64, stale: bool, call: &Call) {
    assert_ne!(rc, FDSAFE_E_INTERNAL as i64, "a panic reached the boundary in {call:?}");
    assert!(rc >= -4095 || [FDSAFE_E_WRONG_KIND, FDSAFE_E_INVALID_ARGUMENT, FDSAFE_E_BUFFER_TOO_SMALL].contains(&(rc as i32)),
        "unknown code {rc} from {call:?}");
    if stale {
        // Argument checks (NULL, lengths, a too small address buffer) may come first.
        assert!(
            rc == -(libc::EBADF as i64) || rc == FDSAFE_E_INVALID_ARGUMENT as i64 || rc == FDSAFE_E_BUFFER_TOO_SMALL as i64,
            "stale handle worked: {rc} in {call:?}"
        );
    }
}

fn buffer(len: Length, storage: &mut [u8]) -> (*mut c_void, usize) {
    match len {
        Length::Fits(n) => (storage.as_mut_ptr().cast(), (n as usize).min(storage.len())),
        Length::Zero => (storage.as_mut_ptr().cast(), 0),
        Length::Max => (storage.as_mut_ptr().cast(), usize::MAX),
        Length::AboveIsizeMax => (storage.as_mut_ptr().cast(), isize::MAX as usize + 1),
        Length::NullWith(n) => (ptr::null_mut(), n as usize),
    }
}

/// True if the handle's descriptor is in blocking mode: only standard input and what shares
/// its open file (dups, received copies); calls that could wait are not made on it.
fn blocking(h: u64) -> bool {
    let fd = fdsafe_fd_borrow(h);
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK == 0
}

/// Once per process: SIGUSR2 blocked in this thread (the signalfds read it; nobody sends it),
/// and a private directory for inotify and O_TMPFILE.
fn setup() -> &'static CString {
    static SIGNALS: Once = Once::new();
    static DIR: OnceLock<CString> = OnceLock::new();
    SIGNALS.call_once(|| {
        let mut set = fdsafe_sigset::default();
        assert_eq!(fdsafe_sigset_add(&mut set, libc::SIGUSR2), 0);
        assert_eq!(fdsafe_signal_mask(FDSAFE_SIG_BLOCK, &set, ptr::null_mut()), 0);
    });
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fdsafe-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // libFuzzer ends with exit(): remove the directory (and the files made in it) then.
        unsafe { libc::atexit(remove_private_dir) };
        CString::new(dir.into_os_string().into_encoded_bytes()).unwrap()
    })
}

extern "C" fn remove_private_dir() {
    let dir = std::env::temp_dir().join(format!("fdsafe-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

fn mq_name() -> CString {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    CString::new(format!("/fdsafe-fuzz-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))).unwrap()
}

/// An optional offset: within 1 MiB, or absurd, or none (NULL).
fn offset(value: Option<i64>, slot: &mut i64) -> *mut i64 {
    match value {
        None => ptr::null_mut(),
        Some(v) => {
            *slot = if (0..i64::MAX / 2).contains(&v) { v % (1 << 20) } else { v };
            slot
        }
    }
}

/// Makes a new descriptor non-blocking (kinds that have no creation flag for it).
fn nonblocking(h: u64) {
    assert_eq!(fdsafe_nonblocking_set(h, true), 0);
}

/// Whether two descriptors of this process are the same open file (`kcmp(KCMP_FILE)`).
fn same_open_file(a: i32, b: i32) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp only compares; a bad descriptor gives an error.
    let pid = unsafe { libc::getpid() };
    a >= 0 && b >= 0 && unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a, b) } == 0
}

/// After every call: each set's count is the model's, and no event names a dead handle.
fn check_epoll(pool: &Pool) {
    for (set, targets) in &pool.registered {
        let targets = targets.borrow();
        assert_eq!(fdsafe_epoll_count(*set), targets.len() as i64, "epoll count differs from the model {targets:?}");
        let mut events = [fdsafe_epoll_event::default(); 32];
        let n = fdsafe_epoll_wait(*set, events.as_mut_ptr(), events.len(), 0);
        assert!(n >= 0, "epoll wait failed: {n}");
        for ev in &events[..n as usize] {
            assert!(targets.contains(&ev.handle), "event for a handle not registered: {ev:?}");
            assert!(fdsafe_handle_kind(ev.handle) > 0, "event names a dead handle: {ev:?}");
        }
    }
}

/// Eight iovecs over `storage`, a pointer to them (NULL when `count` is 255) and a count:
/// one the array really holds, or one the library must refuse (negative, above IOV_MAX).
fn iov_args(storage: &mut [u8], count: u8, iovcnt: i32) -> (Vec<libc::iovec>, *const libc::iovec, i32) {
    let chunk = storage.len() / 8;
    let base = storage.as_mut_ptr();
    let iov: Vec<libc::iovec> =
        (0..8).map(|i| libc::iovec { iov_base: unsafe { base.add(i * chunk) }.cast(), iov_len: chunk }).collect();
    let cnt = if !(0..=1024).contains(&iovcnt) { iovcnt } else { (count % 9) as i32 };
    let iov_ptr = if count == 255 { ptr::null() } else { iov.as_ptr() };
    (iov, iov_ptr, cnt)
}

/// A socket option level: mostly one fdsafe supports, sometimes any number.
fn option_level(pick: u8) -> i32 {
    match pick % 5 {
        0 => FDSAFE_SOL_SOCKET,
        1 => FDSAFE_IPPROTO_TCP,
        2 => FDSAFE_IPPROTO_IP,
        3 => FDSAFE_IPPROTO_IPV6,
        _ => pick as i32,
    }
}

fn run(pool: &mut Pool, call: &Call) {
    let dir = setup();
    let mut storage = [0u8; 4096];
    let mut out = 0u64;
    let mut out2 = 0u64;
    let (rc, stale): (i64, bool) = match *call {
        Call::PipeCreate { flags } => {
            let rc = fdsafe_pipe_create(flags | FDSAFE_NONBLOCK, &mut out, &mut out2);
            if rc == 0 {
                pool.keep(out);
                pool.keep(out2);
            }
            (rc as i64, false)
        }
        Call::EventfdCreate { initial, flags } => {
            let rc = fdsafe_eventfd_create(initial, flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::Close(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_close(h);
            if rc == 0 {
                pool.forget(h);
            }
            (rc as i64, stale)
        }
        Call::CloseAllExcept(ref targets) => {
            let mut keep: Vec<u64> = targets.iter().take(4).map(|&t| pool.pick(t).0).collect();
            if pool.dir != 0 {
                keep.push(pool.dir); // opened lazily, kept to the end of the run
            }
            let all_live = keep.iter().all(|&h| fdsafe_handle_kind(h) > 0);
            let rc = fdsafe_close_all_except(keep.as_ptr(), keep.len());
            if all_live {
                // Every other handle of the process closes: the pool's, and nothing else exists.
                let closed: Vec<u64> = pool.live.iter().copied().filter(|h| !keep.contains(h)).collect();
                assert_eq!(rc, closed.len() as i64, "close_all_except closed another number of handles");
                for h in closed {
                    assert!(fdsafe_handle_kind(h) < 0, "a handle not kept is still live");
                    pool.forget(h);
                }
            } else {
                assert_eq!(rc, -(libc::EBADF as i64), "a keep list with a dead handle must be refused");
            }
            (rc, false)
        }
        Call::Dup(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_dup(h, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, stale)
        }
        Call::ReleaseThenCloseRaw(t) => {
            let (h, stale) = pool.pick(t);
            let rc = fdsafe_fd_release(h);
            if rc >= 0 {
                pool.forget(h);
                unsafe { libc::close(rc) };
            }
            (rc as i64, stale)
        }
        Call::ReleaseThenAdopt(t, kind) => {
            let (h, stale) = pool.pick(t);
            let was = fdsafe_handle_kind(h);
            let rc = fdsafe_fd_release(h);
            if rc >= 0 {
                pool.forget(h);
                assert!(fdsafe_handle_kind(h) == -libc::EBADF, "a released handle still works");
                // Adopt it back as a random kind, else as the kind it was, else close it.
                if fdsafe_fd_adopt(rc, kind as i32, &mut out) == 0 || fdsafe_fd_adopt(rc, was, &mut out) == 0 {
                    pool.keep(out);
                } else {
                    unsafe { libc::close(rc) };
                }
            }
            (rc as i64, stale)
        }
        Call::AdoptRawPipe { kind } => {
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) }, 0);
            for fd in fds {
                let rc = fdsafe_fd_adopt(fd, kind as i32, &mut out);
                check(rc as i64, false, call);
                if rc == 0 {
                    pool.keep(out);
                } else {
                    unsafe { libc::close(fd) }; // refused: still ours
                }
            }
            (0, false)
        }
        Call::AdoptBorrowed { target, kind } => {
            let (h, _) = pool.pick(target);
            let fd = fdsafe_fd_borrow(h);
            if fd >= 0 {
                // Already owned by a live handle: must be refused, never double-owned.
                assert_eq!(fdsafe_fd_adopt(fd, kind as i32, &mut out), FDSAFE_E_INVALID_ARGUMENT);
            }
            (0, false)
        }
        Call::Read(t, len) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_read(h, p, n), stale)
        }
        Call::Write(t, len) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_write(h, p, n), stale)
        }
        Call::Readv(t, count, iovcnt) | Call::Writev(t, count, iovcnt) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (_iov, iov_ptr, cnt) = iov_args(&mut storage, count, iovcnt); // _iov keeps the array alive
            let rc = if matches!(call, Call::Readv(..)) { fdsafe_readv(h, iov_ptr, cnt) } else { fdsafe_writev(h, iov_ptr, cnt) };
            (rc, stale)
        }
        Call::Wait(t, events, timeout) => {
            let (h, stale) = pool.pick(t);
            let timeout = if timeout >= -1 { 0 } else { timeout }; // never wait for ever
            (fdsafe_wait(h, events, timeout) as i64, stale)
        }
        Call::NonblockingGet(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_nonblocking_get(h) as i64, stale)
        }
        Call::NonblockingCycle(t) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return; // standard input: its mode is not ours to change
            }
            let rc = fdsafe_nonblocking_set(h, false);
            fdsafe_nonblocking_set(h, true); // keep every descriptor non-blocking
            (rc as i64, stale)
        }
        Call::EventfdRead(t, null) => {
            let (h, stale) = pool.pick(t);
            let p = if null { ptr::null_mut() } else { &mut out as *mut u64 };
            (fdsafe_eventfd_read(h, p) as i64, stale)
        }
        Call::EventfdWrite(t, v) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_eventfd_write(h, v) as i64, stale)
        }
        Call::PipeCapacity(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_pipe_get_capacity(h), stale)
        }
        Call::PipeSetCapacity(t, bytes) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_pipe_set_capacity(h, bytes as usize), stale)
        }
        Call::Kind(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_handle_kind(h) as i64, stale)
        }
        Call::KindName(k) => {
            assert!(!fdsafe_kind_name(k as i32).is_null());
            (0, false)
        }
        Call::Borrow(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_fd_borrow(h) as i64, stale)
        }
        Call::LastError(len, null) => {
            let p = if null { ptr::null_mut() } else { storage.as_mut_ptr().cast() };
            let n = (len as usize).min(storage.len());
            (fdsafe_last_error(p, n) as i64, false)
        }
        Call::ErrorText(code) => {
            assert!(!fdsafe_strerror(code.into()).is_null() && !fdsafe_error_name(code.into()).is_null());
            (0, false)
        }
        Call::StdinOpen { flags } => {
            // Never FDSAFE_STDIO_CLOSE_STREAM: that would point the process's stdin elsewhere.
            let rc = fdsafe_stdio_open(FDSAFE_STDIN, flags & !FDSAFE_STDIO_CLOSE_STREAM, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::UnixPair { ty, flags } => {
            let ty = match ty % 5 {
                0 => FDSAFE_SOCK_STREAM,
                1 => FDSAFE_SOCK_DGRAM,
                2 => FDSAFE_SOCK_SEQPACKET,
                3 => 0,
                _ => ty as u32,
            };
            let rc = fdsafe_unix_pair(ty, flags | FDSAFE_NONBLOCK, &mut out, &mut out2);
            if rc == 0 {
                pool.keep(out);
                pool.keep(out2);
            }
            (rc as i64, false)
        }
        Call::TcpTrio { backlog } => {
            let addr = CString::new("127.0.0.1:0").unwrap();
            let rc = fdsafe_tcp_listen(addr.as_ptr(), backlog as i32, FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                let listener = out;
                let mut text = [0 as libc::c_char; 128];
                assert!(fdsafe_socket_local_address(listener, text.as_mut_ptr(), text.len()) > 0);
                let crc = fdsafe_tcp_connect(text.as_ptr(), 0, FDSAFE_NONBLOCK, &mut out2);
                assert!(crc == 0 || crc == 1, "connect to our own listener: {crc}");
                let client = out2;
                let arc = fdsafe_socket_accept(listener, FDSAFE_NONBLOCK, &mut out, ptr::null_mut(), 0, ptr::null_mut());
                pool.keep(listener);
                pool.keep(client);
                if arc == 0 {
                    pool.keep(out);
                } else {
                    assert_eq!(arc, -libc::EAGAIN, "accept of a loopback connection");
                }
            }
            (rc as i64, false)
        }
        Call::UdpBind { flags } => {
            let addr = CString::new("127.0.0.1:0").unwrap();
            let rc = fdsafe_udp_bind(addr.as_ptr(), flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::SocketSend(t, len, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_socket_send(h, p, n, flags | FDSAFE_MSG_DONTWAIT), stale)
        }
        Call::SocketRecv(t, len, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_socket_recv(h, p, n, flags | FDSAFE_MSG_DONTWAIT), stale)
        }
        Call::SocketSendTo(t, len, flags, which) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            // Our own address (if a socket), a closed port, garbage, or NULL.
            let mut text = [0 as libc::c_char; 128];
            let own = fdsafe_socket_local_address(h, text.as_mut_ptr(), text.len()) > 0;
            let other = CString::new(match which % 3 {
                0 => "127.0.0.1:9",
                1 => "not an address",
                _ => "[::1]:9",
            })
            .unwrap();
            let addr = match which % 5 {
                3 if own => text.as_ptr(),
                4 => ptr::null(),
                _ => other.as_ptr(),
            };
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_socket_send_to(h, p, n, flags | FDSAFE_MSG_DONTWAIT, addr), stale)
        }
        Call::SocketRecvFrom(t, len, flags, cap) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut addr = [0u8; 256];
            let mut addr_len = 0usize;
            let (p, n) = buffer(len, &mut storage);
            let cap = (cap as usize).min(addr.len());
            (fdsafe_socket_recv_from(h, p, n, flags | FDSAFE_MSG_DONTWAIT, addr.as_mut_ptr().cast(), cap, &mut addr_len), stale)
        }
        Call::SocketShutdown(t, how) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_socket_shutdown(h, how) as i64, stale)
        }
        Call::SocketAccept(t, flags, cap) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut addr = [0u8; 256];
            let mut addr_len = 0usize;
            let cap = (cap as usize).min(addr.len());
            let rc = fdsafe_socket_accept(h, flags, &mut out, addr.as_mut_ptr().cast(), cap, &mut addr_len);
            if rc == 0 {
                if blocking(out) {
                    nonblocking(out);
                }
                pool.keep(out);
            }
            (rc as i64, stale)
        }
        Call::SocketOptionGet(t, level, name, null) => {
            let (h, stale) = pool.pick(t);
            let mut value = 0;
            let p = if null { ptr::null_mut() } else { &mut value as *mut i32 };
            (fdsafe_socket_option_get(h, option_level(level), name as i32 % 64, p) as i64, stale)
        }
        Call::SocketOptionSet(t, level, name, value) => {
            let (h, stale) = pool.pick(t);
            let (level, name) = (option_level(level), name as i32 % 64);
            // A lingering close would wait: linger only off.
            let value = if (level, name) == (FDSAFE_SOL_SOCKET, FDSAFE_SO_LINGER) && value > 0 { 0 } else { value };
            (fdsafe_socket_option_set(h, level, name, value) as i64, stale)
        }
        Call::SocketAddress(t, cap, peer) => {
            let (h, stale) = pool.pick(t);
            let mut text = [0 as libc::c_char; 512];
            let cap = (cap as usize).min(text.len());
            let p = if cap == 511 { ptr::null_mut() } else { text.as_mut_ptr() };
            let rc = if peer { fdsafe_socket_peer_address(h, p, cap) } else { fdsafe_socket_local_address(h, p, cap) };
            (rc as i64, stale)
        }
        Call::PeerCredentials(t, null) => {
            let (h, stale) = pool.pick(t);
            let mut creds = fdsafe_credentials::default();
            let p = if null { ptr::null_mut() } else { &mut creds as *mut _ };
            (fdsafe_socket_peer_credentials(h, p) as i64, stale)
        }
        Call::SendHandles(t, ref targets, len, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let picked: Vec<(u64, bool)> = targets.iter().take(300).map(|t| pool.pick(*t)).collect();
            let handles: Vec<u64> = picked.iter().map(|p| p.0).collect();
            let (p, n) = buffer(len, &mut storage);
            let hp = if targets.len() == 1 && matches!(targets[0], Target::Zero) { ptr::null() } else { handles.as_ptr() };
            let rc = fdsafe_socket_send_handles(h, p, n, hp, handles.len(), flags | FDSAFE_MSG_DONTWAIT);
            if picked.iter().any(|p| p.1) {
                assert!(rc < 0, "sent a stale handle: {rc}");
            }
            (rc, stale)
        }
        Call::SendFds(t, ref targets, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let fds: Vec<i32> = targets.iter().take(300).map(|t| fdsafe_fd_borrow(pool.pick(*t).0)).collect();
            let rc = fdsafe_socket_send_fds(h, storage.as_ptr().cast(), 1, fds.as_ptr(), fds.len(), flags | FDSAFE_MSG_DONTWAIT);
            (rc, stale)
        }
        Call::RecvHandles(t, len, cap, flags, null_info) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut handles = [0u64; 256];
            let mut info = fdsafe_recv_info::default();
            let (p, n) = buffer(len, &mut storage);
            let info_p = if null_info { ptr::null_mut() } else { &mut info as *mut _ };
            let rc = fdsafe_socket_recv_handles(h, p, n, flags | FDSAFE_MSG_DONTWAIT, handles.as_mut_ptr(), cap as usize, info_p);
            if rc >= 0 {
                assert!(info.handle_count <= cap as usize);
                for &got in &handles[..info.handle_count] {
                    assert!(fdsafe_handle_kind(got) > 0, "received a dead handle");
                    let fd = fdsafe_fd_borrow(got);
                    assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC != 0, "received without close-on-exec");
                    pool.keep(got);
                }
            }
            (rc, stale)
        }
        Call::EpollCreate => {
            let rc = fdsafe_epoll_create(&mut out);
            if rc == 0 {
                nonblocking(out);
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::EpollAdd(s, t, events, user) | Call::EpollModify(s, t, events, user) => {
            let (set, stale) = pool.pick(s);
            let (target, _) = pool.pick(t);
            let add = matches!(call, Call::EpollAdd(..));
            let rc = if add { fdsafe_epoll_add(set, target, events, user) } else { fdsafe_epoll_modify(set, target, events, user) };
            if rc == 0 && add {
                let targets = pool.registered.get(&set).expect("an epoll set outside the model");
                assert!(targets.borrow_mut().insert(target), "the same handle was added twice");
            }
            (rc as i64, stale)
        }
        Call::EpollDelete(s, t) => {
            let (set, stale) = pool.pick(s);
            let (target, _) = pool.pick(t);
            let rc = fdsafe_epoll_delete(set, target);
            if rc == 0 {
                let targets = pool.registered.get(&set).expect("an epoll set outside the model");
                assert!(targets.borrow_mut().remove(&target), "deleted a registration that was not there");
            }
            (rc as i64, stale)
        }
        Call::EpollWait(s, max, null) => {
            let (set, stale) = pool.pick(s);
            let mut events = [fdsafe_epoll_event::default(); 64];
            let max = (max as usize).min(events.len());
            let p = if null { ptr::null_mut() } else { events.as_mut_ptr() };
            let rc = fdsafe_epoll_wait(set, p, max, 0);
            for ev in &events[..rc.max(0) as usize] {
                assert!(fdsafe_handle_kind(ev.handle) > 0, "event names a dead handle: {ev:?}");
            }
            (rc as i64, stale)
        }
        Call::EpollCount(s) => {
            let (set, stale) = pool.pick(s);
            (fdsafe_epoll_count(set), stale)
        }
        Call::TimerfdCreate { clock, flags } => {
            let clock = if clock % 3 == 0 { FDSAFE_CLOCK_MONOTONIC } else { clock };
            let rc = fdsafe_timerfd_create(clock, flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::TimerfdSet(t, flags, value, interval, old) => {
            let (h, stale) = pool.pick(t);
            let mut previous = fdsafe_timer_value::default();
            let p = if old { &mut previous as *mut _ } else { ptr::null_mut() };
            // Mostly short timers so that some expire within a sequence.
            let value = if value >= 0 { value % 2_000_000 } else { value };
            (fdsafe_timerfd_set(h, flags, value, interval, p) as i64, stale)
        }
        Call::TimerfdGet(t, null) => {
            let (h, stale) = pool.pick(t);
            let mut value = fdsafe_timer_value::default();
            let p = if null { ptr::null_mut() } else { &mut value as *mut _ };
            (fdsafe_timerfd_get(h, p) as i64, stale)
        }
        Call::TimerfdRead(t, null) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let p = if null { ptr::null_mut() } else { &mut out as *mut u64 };
            (fdsafe_timerfd_read(h, p) as i64, stale)
        }
        Call::InotifyCreate { flags } => {
            let rc = fdsafe_inotify_create(flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::InotifyAddWatch(t, mask, which) => {
            let (h, stale) = pool.pick(t);
            let missing = CString::new("/nonexistent-fdsafe-fuzz/x").unwrap();
            let empty = CString::new("").unwrap();
            let path = match which % 4 {
                0 | 1 => dir.as_ptr(),
                2 => missing.as_ptr(),
                _ => if which & 4 != 0 { empty.as_ptr() } else { ptr::null() },
            };
            let mut wd = 0i32;
            let wdp = if which == 255 { ptr::null_mut() } else { &mut wd as *mut i32 };
            (fdsafe_inotify_add_watch(h, path, mask, wdp) as i64, stale)
        }
        Call::InotifyRemoveWatch(t, wd) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_inotify_remove_watch(h, wd) as i64, stale)
        }
        Call::InotifyRead(t, max, null) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut events: Vec<fdsafe_inotify_event> = Vec::with_capacity(32);
            let max = (max as usize).min(32);
            let p = if null { ptr::null_mut() } else { events.as_mut_ptr() };
            (fdsafe_inotify_read(h, p, max) as i64, stale)
        }
        Call::InotifyPending(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_inotify_pending(h) as i64, stale)
        }
        Call::MemfdCreate { flags, name_len } => {
            let name = CString::new("m".repeat((name_len % 300) as usize)).unwrap();
            let np = if name_len == u16::MAX { ptr::null() } else { name.as_ptr() };
            // No huge pages: they may not exist here.
            let rc = fdsafe_memfd_create(np, flags & !FDSAFE_MEMFD_HUGETLB, &mut out);
            if rc == 0 {
                nonblocking(out);
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::MemfdAddSeals(t, seals) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_memfd_add_seals(h, seals) as i64, stale)
        }
        Call::MemfdGetSeals(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_memfd_get_seals(h) as i64, stale)
        }
        Call::TmpfileOpen { flags, mode } => {
            let flags = FDSAFE_O_TMPFILE | FDSAFE_O_RDWR | FDSAFE_NONBLOCK
                | (flags as u32 & !(FDSAFE_O_CREAT | FDSAFE_O_TRUNC | FDSAFE_O_DIRECTORY));
            let rc = fdsafe_file_open(dir.as_ptr(), flags, mode as u32, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::FilePread(t, len, offset) | Call::FilePwrite(t, len, offset) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            // Offsets within 1 MiB, or absurd ones the kernel refuses.
            let offset = if offset >= 0 && offset < i64::MAX / 2 { offset % (1 << 20) } else { offset };
            let (p, n) = buffer(len, &mut storage);
            let rc = if matches!(call, Call::FilePread(..)) { fdsafe_file_pread(h, p, n, offset) } else { fdsafe_file_pwrite(h, p, n, offset) };
            (rc, stale)
        }
        Call::FileSize(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_file_size(h), stale)
        }
        Call::FileTruncate(t, length) => {
            let (h, stale) = pool.pick(t);
            let length = if length == u32::MAX { -1 } else { (length % (4 << 20)) as i64 };
            (fdsafe_file_truncate(h, length) as i64, stale)
        }
        Call::FileSeek(t, offset, whence) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_file_seek(h, offset, whence), stale)
        }
        Call::SignalfdCreate { flags, usr2 } => {
            // Only SIGUSR2 (blocked here already) or nothing: no other signal gets blocked.
            let mut set = fdsafe_sigset::default();
            if usr2 {
                fdsafe_sigset_add(&mut set, libc::SIGUSR2);
            }
            let rc = fdsafe_signalfd_create(&set, flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::SignalfdUpdate(t, null) => {
            let (h, stale) = pool.pick(t);
            let mut set = fdsafe_sigset::default();
            fdsafe_sigset_add(&mut set, libc::SIGUSR2);
            let p = if null { ptr::null() } else { &set as *const _ };
            (fdsafe_signalfd_update(h, p) as i64, stale)
        }
        Call::SignalfdRead(t, max, null) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut infos = [fdsafe_siginfo::default(); 8];
            let max = (max as usize).min(infos.len());
            let p = if null { ptr::null_mut() } else { infos.as_mut_ptr() };
            (fdsafe_signalfd_read(h, p, max) as i64, stale)
        }
        Call::MqOpen { flags, max_messages, message_size, with_attr } => {
            let name = mq_name();
            let attr = fdsafe_mq_attr { max_messages: max_messages as i64, message_size: message_size as i64, ..Default::default() };
            let ap = if with_attr { &attr as *const _ } else { ptr::null() };
            let flags = (flags & 0xff) | FDSAFE_O_CREAT | FDSAFE_O_EXCL | FDSAFE_NONBLOCK;
            let rc = fdsafe_mq_open(name.as_ptr(), flags, 0o600, ap, &mut out);
            if rc == 0 {
                assert_eq!(fdsafe_mq_unlink(name.as_ptr()), 0);
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::MqSend(t, len, priority) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (p, n) = buffer(len, &mut storage);
            (fdsafe_mq_send(h, p, n, priority % 40000, 0) as i64, stale)
        }
        Call::MqReceive(t, len, null_priority) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut big = vec![0u8; 16384];
            let (p, n) = match len {
                Length::Fits(n) => (big.as_mut_ptr().cast(), (n as usize).min(big.len())),
                other => buffer(other, &mut storage),
            };
            let mut priority = 0u32;
            let pp = if null_priority { ptr::null_mut() } else { &mut priority as *mut u32 };
            (fdsafe_mq_receive(h, p, n, pp, 0), stale)
        }
        Call::MqGetAttr(t, null) => {
            let (h, stale) = pool.pick(t);
            let mut attr = fdsafe_mq_attr::default();
            let p = if null { ptr::null_mut() } else { &mut attr as *mut _ };
            (fdsafe_mq_get_attr(h, p) as i64, stale)
        }
        Call::MqSetAttr(t, nonblocking_value, null_old) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let nb = if nonblocking_value % 4 == 0 { nonblocking_value } else { 1 }; // mostly stays non-blocking
            let attr = fdsafe_mq_attr { nonblocking: nb, ..Default::default() };
            let mut old = fdsafe_mq_attr::default();
            let op = if null_old { ptr::null_mut() } else { &mut old as *mut _ };
            let rc = fdsafe_mq_set_attr(h, &attr, op);
            if fdsafe_handle_kind(h) == FDSAFE_KIND_MQUEUE as i32 {
                let restore = fdsafe_mq_attr { nonblocking: 1, ..Default::default() };
                fdsafe_mq_set_attr(h, &restore, ptr::null_mut());
            }
            (rc as i64, stale)
        }
        Call::MqNotify(t, signo) => {
            let (h, stale) = pool.pick(t);
            // Only refused signal numbers: a real notification would signal the process.
            let signo = if (1..=64).contains(&signo) { -signo } else { signo };
            let rc = fdsafe_mq_notify_signal(h, signo, 0);
            fdsafe_mq_notify_none(h);
            (rc as i64, stale)
        }
        Call::PidfdSelf { flags } => {
            let rc = fdsafe_pidfd_open(std::process::id() as i32, flags | FDSAFE_NONBLOCK, &mut out);
            if rc == 0 {
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::PidfdSignal(t, invalid, flags) => {
            let (h, stale) = pool.pick(t);
            // Signal 0 (existence check) or a number that does not exist: nothing is delivered.
            let signal = if invalid { 65 } else { 0 };
            (fdsafe_pidfd_send_signal(h, signal, flags) as i64, stale)
        }
        Call::PidfdGetPid(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_pidfd_get_pid(h) as i64, stale)
        }
        Call::PidfdGetfd(t, of, raw, kind) => {
            let (h, stale) = pool.pick(t);
            // A pool handle's descriptor (borrowed), or a random number.
            let target_fd = if raw % 2 == 0 { fdsafe_fd_borrow(pool.pick(of).0) } else { raw };
            let rc = fdsafe_pidfd_getfd(h, target_fd, kind as i32, &mut out);
            if rc == 0 {
                if blocking(out) {
                    // A copy of a blocking descriptor that is not ours to change (stdin, stdout...).
                    assert_eq!(fdsafe_close(out), 0);
                    pool.gone(out);
                } else {
                    pool.keep(out);
                }
            }
            (rc as i64, stale)
        }

        Call::PidfdWait(t, flags, null) => {
            let (h, stale) = pool.pick(t);
            let mut exit = fdsafe_pidfd_exit::default();
            let p = if null { ptr::null_mut() } else { &mut exit as *mut _ };
            // Never wait: this process is no child of itself anyway (-ECHILD).
            (fdsafe_pidfd_wait(h, flags | FDSAFE_PIDFD_WAIT_NOHANG, p) as i64, stale)
        }
        Call::Splice(i, off_in, o, off_out, len, flags) => {
            let (hi, stale) = pool.pick(i);
            let (ho, _) = pool.pick(o);
            if blocking(hi) || blocking(ho) {
                return;
            }
            let (mut a, mut b) = (0i64, 0i64);
            let (pa, pb) = (offset(off_in, &mut a), offset(off_out, &mut b));
            (fdsafe_splice(hi, pa, ho, pb, len as usize, flags | FDSAFE_SPLICE_NONBLOCK), stale)
        }
        Call::Tee(i, o, len, flags) => {
            let (hi, stale) = pool.pick(i);
            let (ho, _) = pool.pick(o);
            if blocking(hi) || blocking(ho) {
                return;
            }
            (fdsafe_tee(hi, ho, len as usize, flags | FDSAFE_SPLICE_NONBLOCK), stale)
        }
        Call::Vmsplice(t, count, iovcnt, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let (_iov, iov_ptr, cnt) = iov_args(&mut storage, count, iovcnt); // _iov keeps the array alive
            // Never SPLICE_F_GIFT: the pages are this function's stack.
            (fdsafe_vmsplice(h, iov_ptr, cnt, (flags & !FDSAFE_SPLICE_GIFT) | FDSAFE_SPLICE_NONBLOCK), stale)
        }
        Call::Sendfile(i, off_in, o, count) => {
            let (hi, stale) = pool.pick(i);
            let (ho, _) = pool.pick(o);
            if blocking(hi) || blocking(ho) {
                return;
            }
            let mut a = 0i64;
            let pa = offset(off_in, &mut a);
            (fdsafe_sendfile(hi, pa, ho, count as usize), stale)
        }
        Call::CopyFileRange(i, off_in, o, off_out, len, flags) => {
            let (hi, stale) = pool.pick(i);
            let (ho, _) = pool.pick(o);
            if blocking(hi) || blocking(ho) {
                return;
            }
            let (mut a, mut b) = (0i64, 0i64);
            let (pa, pb) = (offset(off_in, &mut a), offset(off_out, &mut b));
            (fdsafe_copy_file_range(hi, pa, ho, pb, len as usize, flags), stale)
        }
        Call::SocketConnect(t, to, which) => {
            let (h, stale) = pool.pick(t);
            // Another pool socket's own address (a listener: a real connection), a closed
            // port, an abstract name nobody has, garbage, or NULL.
            let mut text = [0 as libc::c_char; 128];
            let own = fdsafe_socket_local_address(pool.pick(to).0, text.as_mut_ptr(), text.len()) > 0;
            let other = CString::new(match which % 4 {
                0 => "127.0.0.1:9",
                1 => "@fdsafe-fuzz-nobody",
                2 => "[::1]:9",
                _ => "not an address",
            })
            .unwrap();
            let addr = match which % 6 {
                4 if own => text.as_ptr(),
                5 => ptr::null(),
                _ => other.as_ptr(),
            };
            if blocking(h) {
                return;
            }
            (fdsafe_socket_connect(h, addr) as i64, stale)
        }
        Call::SocketConnectFinish(t) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_socket_connect_finish(h, 0) as i64, stale)
        }
        Call::SendBatch(t, count, len, own_addr, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut addr = [0u8; 128];
            let mut addr_len = 0usize;
            let have = own_addr && fdsafe_socket_local_sockaddr(h, addr.as_mut_ptr().cast(), addr.len(), &mut addr_len) == 0;
            let base = storage.as_mut_ptr();
            let len = (len as usize).min(512);
            let mut msgs: Vec<fdsafe_datagram> = (0..8)
                .map(|i| fdsafe_datagram {
                    data: unsafe { base.add(i * 512) }.cast(),
                    len,
                    addr: if have { addr.as_mut_ptr().cast() } else { ptr::null_mut() },
                    addr_len: if have { addr_len } else { 0 },
                    received: 0,
                    truncated: 0,
                })
                .collect();
            let n = (count % 9) as usize;
            let p = if count == 255 { ptr::null_mut() } else { msgs.as_mut_ptr() };
            (fdsafe_socket_send_batch(h, p, n, flags | FDSAFE_MSG_DONTWAIT), stale)
        }
        Call::RecvBatch(t, count, len, flags) => {
            let (h, stale) = pool.pick(t);
            if blocking(h) {
                return;
            }
            let mut addrs = [[0u8; 128]; 8];
            let base = storage.as_mut_ptr();
            let len = (len as usize).min(512);
            let mut msgs: Vec<fdsafe_datagram> = addrs
                .iter_mut()
                .enumerate()
                .map(|(i, a)| fdsafe_datagram {
                    data: unsafe { base.add(i * 512) }.cast(),
                    len,
                    addr: a.as_mut_ptr().cast(),
                    addr_len: if count & 0x80 != 0 { 3 } else { a.len() },
                    received: 0,
                    truncated: 0,
                })
                .collect();
            let n = (count % 9) as usize;
            let p = if count == 255 { ptr::null_mut() } else { msgs.as_mut_ptr() };
            let rc = fdsafe_socket_recv_batch(h, p, n, flags | FDSAFE_MSG_DONTWAIT);
            if rc > 0 {
                assert!(rc as usize <= n);
                for m in &msgs[..rc as usize] {
                    assert!(m.received <= len, "received more than the buffer: {m:?}");
                }
            }
            (rc, stale)
        }
        Call::PeerGroups(t, cap, null) => {
            let (h, stale) = pool.pick(t);
            let mut groups = [0u32; 256];
            let cap = (cap as usize).min(groups.len());
            let p = if null { ptr::null_mut() } else { groups.as_mut_ptr() };
            (fdsafe_socket_peer_groups(h, p, cap) as i64, stale)
        }
        Call::EpollWaitNs(s, max, null, with_mask) => {
            let (set, stale) = pool.pick(s);
            let mut events = [fdsafe_epoll_event::default(); 64];
            let max = (max as usize).min(events.len());
            let p = if null { ptr::null_mut() } else { events.as_mut_ptr() };
            // The mask during the wait: SIGUSR2 blocked, as it already is.
            let mut mask = fdsafe_sigset::default();
            fdsafe_sigset_add(&mut mask, libc::SIGUSR2);
            let mp = if with_mask { &mask as *const _ } else { ptr::null() };
            let rc = if max % 2 == 0 { fdsafe_epoll_wait_ns(set, p, max, 0, mp) } else { fdsafe_epoll_pwait(set, p, max, 0, mp) };
            for ev in &events[..rc.max(0) as usize] {
                assert!(fdsafe_handle_kind(ev.handle) > 0, "event names a dead handle: {ev:?}");
            }
            (rc as i64, stale)
        }
        Call::FileOpenAt(which, flags, mode, resolve) => {
            if pool.dir == 0 {
                assert_eq!(fdsafe_file_open(dir.as_ptr(), FDSAFE_O_DIRECTORY, 0, &mut pool.dir), 0);
            }
            // Names inside the private directory only ("sub/.." stays inside), or NULL.
            let names = [".", "a", "b", "a/..", "", "nonexistent/x"];
            let name = CString::new(names[which as usize % names.len()]).unwrap();
            let np = if which == 255 { ptr::null() } else { name.as_ptr() };
            // Never a path outside: BENEATH always, so ".." cannot leave the directory.
            let rc = fdsafe_file_open_at(pool.dir, np, flags | FDSAFE_NONBLOCK, mode % 0o10000, resolve | FDSAFE_RESOLVE_BENEATH, &mut out);
            if rc == 0 {
                if blocking(out) {
                    nonblocking(out);
                }
                pool.keep(out);
            }
            (rc as i64, false)
        }
        Call::FileSync(t, flags) => {
            let (h, stale) = pool.pick(t);
            (fdsafe_file_sync(h, flags) as i64, stale)
        }
    };
    check(rc, stale, call);
    check_epoll(pool);
}

fuzz_target!(|calls: Vec<Call>| {
    setup();
    let before = open_fds();
    let mut pool = Pool { live: Vec::new(), closed: Vec::new(), dir: 0, registered: BTreeMap::new() };
    for call in calls.iter().take(64) {
        run(&mut pool, call);
    }
    for h in pool.live.drain(..) {
        assert_eq!(fdsafe_close(h), 0, "a live handle could not be closed");
    }
    if pool.dir != 0 {
        assert_eq!(fdsafe_close(pool.dir), 0);
    }
    assert_eq!(fdsafe::handles::TABLE.live_count(), 0, "handles left alive");
    assert_eq!(open_fds(), before, "descriptors leaked or closed");
});
