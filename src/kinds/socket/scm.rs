//! Control messages on Unix sockets: passing descriptors (`SCM_RIGHTS`) and credentials
//! (`SCM_CREDENTIALS`), and the peer's identity (`SO_PEERCRED`, `SO_PEERGROUPS`,
//! `SO_PEERPIDFD`).
//!
//! Receiving never leaks: every descriptor that arrives is either handed to the caller or
//! closed, and the result says which happened (and whether the kernel truncated the control
//! data, `MSG_CTRUNC`, in which case it already closed the descriptors that did not fit).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{RecvFlags, SendFlags, SockAddr, Socket};
use crate::handles::Kind;
use crate::error::{Error, Result};
use crate::sys::{self, cvt};

/// The most descriptors one message can carry (the kernel's `SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// `SO_PASSPIDFD` / `SO_PEERPIDFD`: glibc 2.36 lacks them.
pub const SO_PEERPIDFD: i32 = 77;

/// Process credentials (`struct ucred`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Credentials {
    /// What the kernel writes as `SCM_CREDENTIALS` for a message sent with none (queued before
    /// the receiver turned `SO_PASSCRED` on): pid 0 and the overflow ids, which name nobody. A
    /// sender whose pid and ids this process's namespaces cannot see reads the same, and is
    /// as unknown.
    pub fn is_placeholder(&self) -> bool {
        self.pid == 0 && (self.uid, self.gid) == overflow_ids()
    }
}

/// The ids the kernel gives for one it cannot map (`/proc/sys/kernel/overflowuid` and
/// `overflowgid`, read once; 65534, the kernel's default, where `/proc` is not mounted).
fn overflow_ids() -> (u32, u32) {
    static IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).ok().and_then(|text| text.trim().parse().ok())
        };
        (read("overflowuid").unwrap_or(65534), read("overflowgid").unwrap_or(65534))
    })
}

/// Descriptors just received, owned where the kernel wrote them (in the control buffer of
/// [`recv`], which they borrow): the ones not taken out by the caller are closed on drop.
pub struct ReceivedFds<'c> {
    /// The `SCM_RIGHTS` data: `len` descriptor numbers, possibly unaligned.
    data: *const u8,
    /// Entries `taken..len` are open descriptors owned here.
    taken: usize,
    len: usize,
    _control: std::marker::PhantomData<&'c mut ControlBuffer>,
}

impl ReceivedFds<'_> {
    fn none() -> ReceivedFds<'static> {
        ReceivedFds { data: std::ptr::null(), taken: 0, len: 0, _control: std::marker::PhantomData }
    }

    /// How many descriptors are still owned here.
    pub fn len(&self) -> usize {
        self.len - self.taken
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn number(&self, i: usize) -> RawFd {
        // SAFETY: i < len, and the kernel wrote `len` numbers at `data`.
        unsafe { self.data.cast::<RawFd>().add(i).read_unaligned() }
    }

    /// The descriptors still owned here, borrowed, in the order [`ReceivedFds::take_next`]
    /// hands them over (both skip a negative number, which the kernel never writes).
    pub fn iter(&self) -> impl Iterator<Item = BorrowedFd<'_>> + '_ {
        // SAFETY: every non-negative entry in the owned range is an open descriptor `self` owns.
        (self.taken..self.len).map(|i| self.number(i)).filter(|&fd| fd >= 0).map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// Hands the descriptors over one by one, in order; those not taken stay owned here
    /// (and are closed when `self` is dropped).
    #[inline]
    pub fn take_next(&mut self) -> Option<OwnedFd> {
        while self.taken < self.len {
            let fd = self.number(self.taken);
            self.taken += 1;
            if fd >= 0 {
                // SAFETY: the descriptor leaves our range, so it is owned once, by the result.
                return Some(unsafe { sys::owned(fd) });
            }
        }
        None
    }
}

impl Drop for ReceivedFds<'_> {
    fn drop(&mut self) {
        while let Some(fd) = self.take_next() {
            sys::direct::close(fd); // no cancellation point: receiving needs no guard
        }
    }
}

impl std::fmt::Debug for ReceivedFds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((self.taken..self.len).map(|i| self.number(i))).finish()
    }
}

/// What a receive brought besides data.
#[derive(Debug, Default)]
pub struct Received {
    /// Bytes of data.
    pub bytes: usize,
    /// `SCM_CREDENTIALS`, if the message carried them.
    pub credentials: Option<Credentials>,
    /// The control data was truncated (`MSG_CTRUNC`): descriptors that did not fit were
    /// closed by the kernel, or (at `RLIMIT_NOFILE`) never installed.
    pub control_truncated: bool,
    /// The data was truncated (`MSG_TRUNC`, datagram and seqpacket).
    pub data_truncated: bool,
    /// Descriptors from unexpected control messages (such as `SCM_PIDFD`), which were closed.
    pub unexpected_closed: usize,
    /// The kernel's `msg_flags` (`MSG_TRUNC`, `MSG_CTRUNC`, `MSG_EOR`, `MSG_OOB`...).
    pub msg_flags: i32,
}

/// `CMSG_SPACE` as a constant expression (`CMSG_ALIGN` of the header plus the data, both to
/// `size_t`); checked against libc's in the tests.
const fn space_for(len: usize) -> usize {
    const fn align(n: usize) -> usize {
        (n + std::mem::size_of::<usize>() - 1) & !(std::mem::size_of::<usize>() - 1)
    }
    align(std::mem::size_of::<libc::cmsghdr>()) + align(len)
}

/// `SCM_PIDFD`: the sender's pidfd, which the kernel adds to every message for a receiver
/// that turned `SO_PASSPIDFD` on (glibc 2.36 lacks the name). fdsafe closes it.
const SCM_PIDFD: i32 = 0x04;

/// Room for one descriptor's control message (the `SCM_PIDFD` fdsafe did not ask for).
const PIDFD_SPACE: usize = space_for(4);

/// The largest control data a send or receive of fdsafe uses: [`MAX_FDS`] descriptors, one
/// set of credentials and an `SCM_PIDFD`.
const CONTROL_MAX: usize = space_for(MAX_FDS * 4) + space_for(std::mem::size_of::<libc::ucred>()) + PIDFD_SPACE;

/// A `cmsghdr`-aligned control buffer on the stack (no allocation per message).
#[repr(C, align(8))]
struct Control([u8; CONTROL_MAX]);

/// Room for what [`recv`] receives, on the caller's stack; uninitialized until the kernel
/// writes it (only what it wrote is read).
pub struct ControlBuffer(std::mem::MaybeUninit<Control>);

impl ControlBuffer {
    #[inline(always)]
    pub fn new() -> ControlBuffer {
        ControlBuffer(std::mem::MaybeUninit::uninit())
    }
}

impl Default for ControlBuffer {
    fn default() -> ControlBuffer {
        ControlBuffer::new()
    }
}

/// The control data of a message carrying 1 to [`MAX_FDS`] descriptors and nothing else,
/// built in place: [`FdMessage::set`] each number, then [`FdMessage::send`]. For the owner's
/// path of `fdsafe_socket_send_handles`, which checked the arguments.
pub struct FdMessage(std::mem::MaybeUninit<Control>);

impl Default for FdMessage {
    fn default() -> FdMessage {
        FdMessage::new()
    }
}

/// Where a control message's data starts (`CMSG_DATA` of the first header).
const CMSG_HEADER: usize = space_for(0);

impl FdMessage {
    #[inline(always)]
    pub fn new() -> FdMessage {
        FdMessage(std::mem::MaybeUninit::uninit())
    }

    /// Sets descriptor number `i` (below [`MAX_FDS`]).
    #[inline(always)]
    pub fn set(&mut self, i: usize, fd: RawFd) {
        assert!(i < MAX_FDS);
        // SAFETY: descriptor `i` lies inside the buffer (CONTROL_MAX has room for MAX_FDS).
        unsafe { self.0.as_mut_ptr().cast::<u8>().add(CMSG_HEADER + 4 * i).cast::<i32>().write(fd) }
    }

    /// `sendmsg` of `len` bytes at `data` with the first `count` descriptors
    /// (`MSG_NOSIGNAL`), returning the raw result.
    ///
    /// # Safety
    /// `data` is readable for `len` bytes; `count` is 1 to [`MAX_FDS`] and each of the first
    /// `count` descriptors was set.
    #[inline(always)]
    pub unsafe fn send(&mut self, socket: RawFd, data: *const u8, len: usize, count: usize) -> isize {
        let fd_bytes = 4 * count;
        let space = space_for(fd_bytes);
        let base = self.0.as_mut_ptr().cast::<u8>();
        let header = base.cast::<libc::cmsghdr>();
        (*header).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        if CMSG_HEADER + fd_bytes < space {
            // The padding after an odd count: all that sendmsg reads is initialized.
            base.add(CMSG_HEADER + fd_bytes).cast::<u32>().write(0);
        }
        let iov = libc::iovec { iov_base: data as *mut _, iov_len: len };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &iov as *const _ as *mut _;
        msg.msg_iovlen = 1;
        msg.msg_control = base.cast();
        msg.msg_controllen = space;
        sys::direct::sendmsg_raw(socket, &msg, libc::MSG_NOSIGNAL)
    }
}

fn cmsg_space(len: usize) -> usize {
    space_for(len)
}

/// A zeroed, `cmsghdr`-aligned control buffer of at least `len` bytes, for sends above
/// [`MAX_FDS`] descriptors (which the kernel refuses with `EINVAL`; the buffer is built so
/// that the refusal is the kernel's).
fn control_buffer(len: usize) -> Vec<u64> {
    vec![0u64; len.div_ceil(8).max(1)]
}

/// Sends `data` with descriptors and/or credentials in one `sendmsg` (`MSG_NOSIGNAL`).
/// On a stream socket, a message carrying descriptors must carry at least one byte of data.
pub fn send(socket: &Socket, data: &[u8], fds: &[BorrowedFd<'_>], credentials: Option<Credentials>, flags: SendFlags) -> Result<usize> {
    // SAFETY: `BorrowedFd` is `repr(transparent)` over `RawFd`, and every one is open for the
    // length of the borrow, which covers the call.
    let raw = unsafe { std::slice::from_raw_parts(fds.as_ptr().cast::<RawFd>(), fds.len()) };
    send_raw(socket, data, raw, credentials, flags)
}

/// [`send`] with descriptor numbers: the caller keeps each open for the call (a number that
/// is not open gets the kernel's `EBADF`). The control data is built on the stack. Inlined,
/// so that the system call returns through the caller's frame only (see `sys::direct`).
#[inline(always)]
pub fn send_raw(socket: &Socket, data: &[u8], fds: &[RawFd], credentials: Option<Credentials>, flags: SendFlags) -> Result<usize> {
    let iov = [libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() }];
    send_parts(socket, None, &iov, fds, credentials, flags)
}

/// One `sendmsg` (`MSG_NOSIGNAL`) of the data in `iov` to `to` (or the connected peer), with
/// descriptors and/or credentials. Descriptors and credentials travel on Unix sockets only;
/// with them a stream socket needs at least one byte of data (the kernel would drop them
/// with an empty send), while datagram and seqpacket sockets carry them in an empty message.
///
/// The caller keeps every `iov` buffer readable for its length and each descriptor open.
#[inline(always)]
pub fn send_parts(
    socket: &Socket,
    to: Option<&SockAddr>,
    iov: &[libc::iovec],
    fds: &[RawFd],
    credentials: Option<Credentials>,
    flags: SendFlags,
) -> Result<usize> {
    let carries = !fds.is_empty() || credentials.is_some();
    let kind = if carries { socket.typed_kind()? } else { socket.kind() };
    if carries && !super::is_unix(kind) {
        return Err(Error::invalid(format!("{} sockets cannot carry descriptors or credentials", kind.name())));
    }
    let empty = iov.iter().all(|v| v.iov_len == 0);
    if empty && carries && matches!(kind, Kind::UnixStream | Kind::UnixListener) {
        return Err(Error::invalid("on a stream socket, a message with descriptors or credentials needs at least one byte of data"));
    }
    if fds.len() > 4096 {
        return Err(Error::invalid(format!("{} descriptors in one message (the kernel takes at most {MAX_FDS})", fds.len())));
    }
    let fd_bytes = std::mem::size_of_val(fds);
    let cred_bytes = std::mem::size_of::<libc::ucred>();
    let mut space = 0;
    if !fds.is_empty() {
        space += cmsg_space(fd_bytes);
    }
    if credentials.is_some() {
        space += cmsg_space(cred_bytes);
    }
    let mut inline = std::mem::MaybeUninit::<Control>::uninit();
    let mut heap = Vec::new();
    let control_ptr: *mut u8 = if space <= CONTROL_MAX {
        // Zero what the message uses (padding included: valgrind checks what sendmsg reads).
        // SAFETY: `space` bytes fit in the buffer.
        unsafe { inline.as_mut_ptr().cast::<u8>().write_bytes(0, space) };
        inline.as_mut_ptr().cast()
    } else {
        heap = control_buffer(space);
        heap.as_mut_ptr().cast()
    };
    // SAFETY: zeroed msghdr is valid; we fill the fields below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = iov.len();
    if let Some(to) = to {
        msg.msg_name = to.as_ptr() as *mut _;
        msg.msg_namelen = to.len;
    }
    if space > 0 {
        msg.msg_control = control_ptr.cast();
        msg.msg_controllen = space;
        // SAFETY: the buffer holds `space` bytes, sized with CMSG_SPACE for each message.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            if !fds.is_empty() {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
                let out = libc::CMSG_DATA(cmsg).cast::<i32>();
                for (i, &fd) in fds.iter().enumerate() {
                    out.add(i).write_unaligned(fd);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if let Some(c) = credentials {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(cred_bytes as u32) as _;
                libc::CMSG_DATA(cmsg).cast::<libc::ucred>().write_unaligned(libc::ucred { pid: c.pid, uid: c.uid, gid: c.gid });
            }
        }
    }
    // SAFETY: the message points to live buffers. (Made directly: no cancellation point.)
    let n = unsafe { sys::direct::sendmsg(socket.fd().as_raw_fd(), &msg, flags.raw()) }.map_err(|e| e.context("sendmsg"))?;
    drop(heap);
    Ok(n as usize)
}

/// Receives data and up to `max_fds` descriptors (close-on-exec via `MSG_CMSG_CLOEXEC`),
/// plus credentials if `SO_PASSCRED` is on. The descriptors stay in `control`, owned by the
/// returned [`ReceivedFds`]. The system call is made directly (no cancellation point), and
/// inlined, so that it returns through the caller's frame only (see `sys::direct`).
#[inline(always)]
pub fn recv<'c>(
    socket: &Socket,
    buf: &mut [u8],
    max_fds: usize,
    flags: RecvFlags,
    control: &'c mut ControlBuffer,
) -> Result<(Received, ReceivedFds<'c>)> {
    let kind = socket.typed_kind()?;
    if !super::is_unix(kind) {
        return Err(Error::invalid(format!("{} sockets cannot carry descriptors or credentials", kind.name())));
    }
    if max_fds > MAX_FDS {
        return Err(Error::invalid(format!("room for {max_fds} descriptors; a message carries at most {MAX_FDS}")));
    }
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut msg = recv_header(&iov, control, max_fds);
    // SAFETY: the message points to live buffers of the stated sizes.
    let n = unsafe { recvmsg_raw(socket.fd().as_raw_fd(), &mut msg, flags.raw()) };
    let n = sys::direct::check(n).map_err(|e| e.context("recvmsg"))?;
    // SAFETY: the kernel has just written the message.
    Ok(unsafe { received(&msg, n, control) })
}

/// The header of a message to receive into `iov`, with room in `control` for `max_fds`
/// descriptors (at most [`MAX_FDS`]), one set of credentials and an `SCM_PIDFD` (a receiver
/// with both `SO_PASSCRED` and `SO_PASSPIDFD` on gets both with every message: without room
/// for the two, every message came with `MSG_CTRUNC`).
#[inline(always)]
pub fn recv_header(iov: &libc::iovec, control: &mut ControlBuffer, max_fds: usize) -> libc::msghdr {
    debug_assert!(max_fds <= MAX_FDS);
    let mut space = cmsg_space(std::mem::size_of::<libc::ucred>()) + PIDFD_SPACE;
    if max_fds > 0 {
        space += cmsg_space(max_fds * std::mem::size_of::<i32>());
    }
    // SAFETY: zeroed msghdr is valid; we fill the fields below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov as *const _ as *mut _;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space;
    msg
}

/// `recvmsg` with `flags` and `MSG_CMSG_CLOEXEC`, returning the raw result. Made directly
/// (no cancellation point) and inlined, so that it returns through the caller's frame only.
///
/// # Safety
/// `msg` is a [`recv_header`] whose buffers are live.
#[inline(always)]
pub unsafe fn recvmsg_raw(socket: RawFd, msg: &mut libc::msghdr, flags: i32) -> isize {
    sys::direct::recvmsg_raw(socket, msg, flags | libc::MSG_CMSG_CLOEXEC)
}

/// What a `recvmsg` of `n` bytes into `msg` (a [`recv_header`] on `control`) received: the
/// descriptors become owned by the returned [`ReceivedFds`], or are closed here.
///
/// # Safety
/// The kernel has just written `msg` and `control` (the call returned `n`), and nothing has
/// taken its descriptors yet.
#[inline(always)]
pub unsafe fn received<'c>(msg: &libc::msghdr, n: usize, _control: &'c mut ControlBuffer) -> (Received, ReceivedFds<'c>) {
    let mut out = Received {
        bytes: n,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        data_truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        // The kernel echoes MSG_CMSG_CLOEXEC, which fdsafe always asks for: not news.
        msg_flags: msg.msg_flags & !libc::MSG_CMSG_CLOEXEC,
        ..Received::default()
    };
    let mut fds = ReceivedFds::none();
    // Every descriptor is owned before anything else can fail: by `fds`, or closed here.
    // Walking the control messages the kernel wrote, within msg_controllen.
    let mut cmsg = libc::CMSG_FIRSTHDR(msg);
    while !cmsg.is_null() {
        let data_len = ((*cmsg).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
        let data = libc::CMSG_DATA(cmsg);
        match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
            // Linux puts all of a message's descriptors in one SCM_RIGHTS message.
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) if fds.len == 0 => {
                fds = ReceivedFds { data, taken: 0, len: data_len / 4, _control: std::marker::PhantomData };
            }
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                let more = ReceivedFds { data, taken: 0, len: data_len / 4, _control: std::marker::PhantomData };
                out.unexpected_closed += more.len();
            }
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data_len >= std::mem::size_of::<libc::ucred>() => {
                let c = data.cast::<libc::ucred>().read_unaligned();
                let credentials = Credentials { pid: c.pid, uid: c.uid, gid: c.gid };
                out.credentials = (!credentials.is_placeholder()).then_some(credentials);
            }
            // SCM_PIDFD carries one descriptor: close it.
            (libc::SOL_SOCKET, SCM_PIDFD) if data_len >= 4 => {
                let pidfd = ReceivedFds { data, taken: 0, len: 1, _control: std::marker::PhantomData };
                out.unexpected_closed += 1;
                drop(pidfd);
            }
            _ => {}
        }
        cmsg = libc::CMSG_NXTHDR(msg, cmsg);
    }
    // The kernel never sends more than it was given room for, nor than SCM_MAX_FD.
    debug_assert!(fds.len() <= MAX_FDS);
    (out, fds)
}

/// The peer's credentials at connect time (`SO_PEERCRED`).
pub fn peer_credentials(socket: &Socket) -> Result<Credentials> {
    let mut c = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a ucred-sized buffer.
    cvt(unsafe {
        libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut c as *mut libc::ucred).cast(), &mut len)
    })
    .map_err(|e| e.context("SO_PEERCRED"))?;
    // With no peer credentials (an unconnected socket, or a datagram socket connected with
    // connect()) the kernel fills in pid 0 and ids -1. A real peer never has id -1: an id
    // its user namespace cannot map comes back as the overflow id (65534). So this is the
    // placeholder, answered as SO_PEERGROUPS and SO_PEERPIDFD answer it.
    if c.uid == u32::MAX && c.gid == u32::MAX {
        return Err(Error::Os { errno: libc::ENODATA, context: Some("SO_PEERCRED: the socket has no peer credentials".into()) });
    }
    Ok(Credentials { pid: c.pid, uid: c.uid, gid: c.gid })
}

/// The peer's security label (`SO_PEERSEC`), as the security module wrote it (a trailing
/// NUL removed). `ENOPROTOOPT` when no security module provides labels; `ENODATA` (or
/// `ENOPROTOOPT`) when the peer has none.
pub fn peer_security_label(socket: &Socket) -> Result<Vec<u8>> {
    let mut label = vec![0u8; 256];
    loop {
        let mut len = label.len() as libc::socklen_t;
        // SAFETY: a buffer of `len` bytes.
        let r = cvt(unsafe {
            libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERSEC, label.as_mut_ptr().cast(), &mut len)
        });
        match r {
            Ok(_) => {
                label.truncate(len as usize);
                if label.last() == Some(&0) {
                    label.pop();
                }
                if label.is_empty() {
                    return Err(Error::Os { errno: libc::ENODATA, context: Some("SO_PEERSEC: the peer has no label".into()) });
                }
                return Ok(label);
            }
            Err(Error::Os { errno: libc::ERANGE, .. }) if len as usize > label.len() => label.resize(len as usize, 0),
            Err(Error::Os { errno: libc::ENOPROTOOPT, .. }) => {
                return Err(Error::Os {
                    errno: libc::ENOPROTOOPT,
                    context: Some("SO_PEERSEC: no security module on this kernel provides socket labels".into()),
                })
            }
            Err(e) => return Err(e.context("SO_PEERSEC")),
        }
    }
}

/// The peer's supplementary groups (`SO_PEERGROUPS`).
pub fn peer_groups(socket: &Socket) -> Result<Vec<u32>> {
    let mut groups = vec![0u32; 64];
    loop {
        let mut len = (groups.len() * 4) as libc::socklen_t;
        // SAFETY: a buffer of `len` bytes.
        let r = cvt(unsafe {
            libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERGROUPS, groups.as_mut_ptr().cast(), &mut len)
        });
        match r {
            Ok(_) => {
                groups.truncate(len as usize / 4);
                return Ok(groups);
            }
            Err(Error::Os { errno: libc::ERANGE, .. }) if (len as usize / 4) > groups.len() => {
                groups.resize(len as usize / 4, 0);
            }
            Err(e) => return Err(e.context("SO_PEERGROUPS")),
        }
    }
}

/// The peer's pidfd (`SO_PEERPIDFD`), close-on-exec. Never falls back to `pidfd_open` on the
/// pid, which could name a recycled process.
pub fn peer_pidfd(socket: &Socket) -> Result<OwnedFd> {
    let mut fd: i32 = -1;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int-sized buffer.
    cvt(unsafe { libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, SO_PEERPIDFD, (&mut fd as *mut i32).cast(), &mut len) })
        .map_err(|e| e.context("SO_PEERPIDFD (needs Linux 6.5)"))?;
    if fd < 0 {
        return Err(Error::Internal("SO_PEERPIDFD returned no descriptor".into()));
    }
    // SAFETY: the kernel installed a new descriptor (close-on-exec) for us.
    Ok(unsafe { sys::owned(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn control_space_matches_libc() {
        for len in [0, 4, 12, 4 * MAX_FDS, 4 * 4096] {
            // SAFETY: a size computation.
            let expected = unsafe { libc::CMSG_SPACE(len as u32) };
            assert_eq!(space_for(len), expected as usize, "{len} bytes");
        }
    }

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only queries.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0
    }

    #[test]
    fn received_descriptors_not_taken_are_closed() {
        let (a, b) = super::super::pair(crate::handles::Kind::UnixStream, false).unwrap();
        let fds: Vec<OwnedFd> = (0..5).map(|_| crate::sys::dup_cloexec(a.fd()).unwrap()).collect();
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
        assert_eq!(send(&a, b"x", &borrowed, None, SendFlags::empty()).unwrap(), 1);
        drop(borrowed);
        drop(fds);
        let mut buf = [0u8; 1];
        let mut control = ControlBuffer::new();
        let (r, mut got) = recv(&b, &mut buf, MAX_FDS, RecvFlags::empty(), &mut control).unwrap();
        assert_eq!((r.bytes, got.len(), r.control_truncated), (1, 5, false));
        let raw: Vec<RawFd> = got.iter().map(|f| f.as_raw_fd()).collect();
        assert!(raw.iter().all(|&fd| is_open(fd)));
        let first = got.take_next().unwrap();
        assert_eq!(first.as_raw_fd(), raw[0]);
        assert_eq!(got.len(), 4);
        drop(got);
        assert!(is_open(raw[0]), "the taken one is the caller's");
        assert!(raw[1..].iter().all(|&fd| !is_open(fd)), "the others were closed with the list");
    }
}
