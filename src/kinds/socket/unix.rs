//! Binding Unix sockets to filesystem paths the way a careful daemon does.
//!
//! 1. Missing parent folders are created with the caller's mode (default `0700`).
//! 2. If something already has the path: a socket that nothing accepts on (connecting to it
//!    is refused) is a stale leftover and is removed; anything else (a live socket, a regular
//!    file, a folder, a symlink, a FIFO) is left untouched and the bind fails (`EADDRINUSE`
//!    for a live socket, `EEXIST` for anything that is not a socket). Nothing is followed.
//! 3. After `bind`, the socket file gets the caller's mode (default `0600`) before `listen`,
//!    through an `O_PATH|O_NOFOLLOW` descriptor checked to be that very socket file.
//! 4. On close, the path is removed only if it is still the same socket file (same device and
//!    inode as recorded at bind time).

use std::ffi::{CString, OsStr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use bitflags::bitflags;

use super::{Address, SockAddr, Socket};
use crate::error::{Error, Result};
use crate::handles::Kind;
use crate::sys::{self, cvt};

pub const DEFAULT_DIR_MODE: u32 = 0o700;
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;

bitflags! {
    /// Options for [`bind`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct BindFlags: u32 {
        /// The socket is non-blocking.
        const NONBLOCK = 1 << 0;
        /// Do not remove a stale socket file; fail with `EADDRINUSE` instead.
        const KEEP_STALE = 1 << 1;
        /// Do not remove the path when the handle is closed.
        const KEEP_PATH = 1 << 2;
        /// Do not create missing parent folders (`ENOENT` instead).
        const NO_MKDIR = 1 << 3;
        /// Leave the socket file's mode as `bind` made it (umask), ignoring `socket_mode`.
        const KEEP_MODE = 1 << 4;
    }
}

/// The path a socket was bound to, with the identity of the socket file, for removal when
/// the last descriptor of the socket closes. Duplicates made with `fdsafe_dup` carry a copy.
#[derive(Clone, Debug)]
pub struct BoundPath {
    path: CString,
    dev: u64,
    ino: u64,
    /// False once the descriptor was released to the caller: nothing is removed then.
    armed: bool,
}

fn lstat(path: &CString) -> Result<Option<libc::stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: NUL-terminated path; lstat fills the struct on success.
    match cvt(unsafe { libc::lstat(path.as_ptr(), st.as_mut_ptr()) }) {
        Ok(_) => Ok(Some(unsafe { st.assume_init() })),
        Err(Error::Os { errno: libc::ENOENT, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl BoundPath {
    pub fn path(&self) -> &[u8] {
        self.path.as_bytes()
    }

    /// Gives up the removal (the descriptor was released to the caller), freeing the rest.
    pub fn disarm(mut self) {
        self.armed = false;
    }

    /// The socket file a `bind` of this process just made at `path`, identified now (device
    /// and inode, nothing followed), to be removed when dropped if it is still that file.
    /// `None` when nothing that is a socket is there (nothing would be removed).
    pub fn just_bound(path: &[u8]) -> Option<BoundPath> {
        let path = CString::new(path).ok()?;
        let st = lstat(&path).ok()??;
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        Some(BoundPath { path, dev: st.st_dev, ino: st.st_ino, armed: true })
    }
}

impl Drop for BoundPath {
    /// Runs after the socket's descriptor closed (see `Socket`). Another descriptor of the
    /// socket may live on: a duplicate, a forked child's copy, a worker it was sent to. The
    /// path is theirs too then, and removing it would cut them off from new clients, so it is
    /// removed only when the socket has no descriptor left anywhere, which the stale probe of
    /// `bind` tells (the kernel refuses its connect only when no socket is bound there).
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(addr) = SockAddr::from_address(&Address::Path(self.path.as_bytes().to_vec())) else { return };
        if !matches!(is_stale(&addr), Ok(true)) {
            return;
        }
        if let Ok(Some(st)) = lstat(&self.path) {
            if st.st_mode & libc::S_IFMT == libc::S_IFSOCK && st.st_dev == self.dev && st.st_ino == self.ino {
                // SAFETY: NUL-terminated path.
                unsafe { libc::unlink(self.path.as_ptr()) };
            }
        }
    }
}

/// Creates the missing folders above `path`, each with `mode`, and records in `made` each
/// one it created (outermost first).
fn make_parents(path: &[u8], mode: u32, made: &mut Vec<CString>) -> Result<()> {
    let Some(parent) = Path::new(OsStr::from_bytes(path)).parent() else { return Ok(()) };
    let mut missing = Vec::new();
    let mut dir = parent;
    while !dir.as_os_str().is_empty() && std::fs::symlink_metadata(dir).is_err() {
        missing.push(dir);
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    for dir in missing.into_iter().rev() {
        let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::invalid("NUL in path"))?;
        // SAFETY: NUL-terminated path.
        match cvt(unsafe { libc::mkdir(c.as_ptr(), mode as libc::mode_t) }) {
            Ok(_) => {
                made.push(c.clone());
                // mkdir's mode is filtered by the umask; the caller asked for exactly `mode`.
                // SAFETY: NUL-terminated path of a folder we just created.
                cvt(unsafe { libc::chmod(c.as_ptr(), mode as libc::mode_t) })
                    .map_err(|e| e.context(format!("chmod {}", dir.display())))?;
            }
            Err(Error::Os { errno: libc::EEXIST, .. }) => {}
            Err(e) => return Err(e.context(format!("creating folder {}", dir.display()))),
        }
    }
    Ok(())
}

/// Whether the socket file at `addr` is stale: no socket is bound to it any more. One
/// datagram socket asks, without a side effect on a live one: the kernel refuses its connect
/// with `ECONNREFUSED` only when no socket is bound to the file, with `EPROTOTYPE` when a
/// socket of another type is, and connects it (sending nothing) to a datagram socket. A
/// stream probe would have left a connection for a live listener to accept: a daemon started
/// twice handed its running twin an empty client.
fn is_stale(addr: &SockAddr) -> Result<bool> {
    let probe = Socket::new(Kind::UnixDatagram, libc::AF_UNIX, true)?;
    Ok(matches!(probe.connect_raw(addr), Err(Error::Os { errno: libc::ECONNREFUSED, .. })))
}

/// Binds a new Unix socket of `kind` to `address` (a path, an abstract name, or `None` for
/// autobind), applying the path rules of the module documentation, and listens with
/// `backlog` for listener kinds.
pub fn bind(kind: Kind, address: Option<&Address>, backlog: i32, flags: BindFlags, dir_mode: u32, socket_mode: u32) -> Result<Socket> {
    let mut made = Vec::new();
    let bound = bind_making(kind, address, backlog, flags, dir_mode, socket_mode, &mut made);
    if bound.is_err() {
        // A failed bind leaves nothing behind: the folders it made go too, innermost first
        // (the socket file, if any, went with the socket). One that is not empty any more
        // (someone else put a file there meanwhile) stays.
        for folder in made.iter().rev() {
            // SAFETY: NUL-terminated path.
            unsafe { libc::rmdir(folder.as_ptr()) };
        }
    }
    bound
}

/// [`bind`], recording in `made` the folders it creates.
fn bind_making(
    kind: Kind,
    address: Option<&Address>,
    backlog: i32,
    flags: BindFlags,
    dir_mode: u32,
    socket_mode: u32,
    made: &mut Vec<CString>,
) -> Result<Socket> {
    if dir_mode > 0o7777 || socket_mode > 0o7777 {
        return Err(Error::invalid(format!("modes {dir_mode:#o}/{socket_mode:#o} have bits beyond 07777")));
    }
    let stream_kind = super::stream_kind(kind);
    let mut socket = Socket::new(stream_kind, libc::AF_UNIX, flags.contains(BindFlags::NONBLOCK))?;
    match address {
        None => {
            // Autobind: an address of just the family; the kernel picks an abstract name.
            socket.bind(&SockAddr::from_address(&Address::Unnamed)?)?;
        }
        Some(a @ Address::Abstract(_)) => socket.bind(&SockAddr::from_address(a)?)?,
        Some(Address::Path(path)) => {
            let addr = SockAddr::from_address(&Address::Path(path.clone()))?;
            let cpath = CString::new(path.clone()).map_err(|_| Error::invalid("NUL in path"))?;
            if !flags.contains(BindFlags::NO_MKDIR) {
                make_parents(path, dir_mode, made)?;
            }
            let shown = String::from_utf8_lossy(path).into_owned();
            if let Some(st) = lstat(&cpath)? {
                if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
                    return Err(Error::Os {
                        errno: libc::EEXIST,
                        context: Some(format!("{shown} exists and is not a socket; left untouched").into()),
                    });
                }
                if flags.contains(BindFlags::KEEP_STALE) || !is_stale(&addr)? {
                    return Err(Error::Os {
                        errno: libc::EADDRINUSE,
                        context: Some(format!("{shown} is a socket in use (or KEEP_STALE was given); left untouched").into()),
                    });
                }
                // Remove it only if it is still the file we examined.
                if let Some(again) = lstat(&cpath)? {
                    if again.st_dev == st.st_dev && again.st_ino == st.st_ino {
                        // SAFETY: NUL-terminated path.
                        cvt(unsafe { libc::unlink(cpath.as_ptr()) }).map_err(|e| e.context(format!("removing stale {shown}")))?;
                    }
                }
            }
            socket.bind(&addr)?;
            // Identify the file we just made, without following anything.
            // SAFETY: NUL-terminated path; O_PATH opens nothing for I/O.
            let opath = cvt(unsafe { libc::open(cpath.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) })
                .map_err(|e| e.context(format!("opening {shown} after bind")));
            let cleanup = |e: Error| {
                // SAFETY: NUL-terminated path; we created it a moment ago.
                unsafe { libc::unlink(cpath.as_ptr()) };
                e
            };
            let opath = unsafe { sys::owned(opath.map_err(cleanup)?) };
            let st = sys::fstat(std::os::fd::AsFd::as_fd(&opath)).map_err(cleanup)?;
            if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
                return Err(Error::Os { errno: libc::EEXIST, context: Some(format!("{shown} was replaced during bind").into()) });
            }
            if !flags.contains(BindFlags::KEEP_MODE) {
                let proc_path = CString::new(sys::proc_fd_path(opath.as_raw_fd())).map_err(|_| Error::invalid("path"))?;
                // SAFETY: NUL-terminated path naming the O_PATH descriptor's inode.
                cvt(unsafe { libc::chmod(proc_path.as_ptr(), socket_mode as libc::mode_t) })
                    .map_err(|e| cleanup(e.context(format!("chmod {shown}"))))?;
            }
            if !flags.contains(BindFlags::KEEP_PATH) {
                socket.set_bound_path(BoundPath { path: cpath, dev: st.st_dev, ino: st.st_ino, armed: true });
            }
        }
        Some(other) => return Err(Error::invalid(format!("{} is not a Unix address", other.describe()))),
    }
    if super::is_listener(kind) {
        socket.listen(backlog)?;
    }
    Ok(socket)
}
