//! pidfd: a descriptor that refers to one process, immune to pid reuse.

use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt};

const PIDFD_NONBLOCK: libc::c_uint = libc::O_NONBLOCK as libc::c_uint;
const P_PIDFD: libc::idtype_t = 3;

/// What happened to a waited-for process: how it ended, or that it stopped or continued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub pid: i32,
    /// The kernel's `si_code`: `CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, `CLD_TRAPPED`,
    /// `CLD_STOPPED` or `CLD_CONTINUED`.
    pub code: i32,
    /// The exit status, or the signal number (the stopping signal, `SIGCONT` when continued).
    pub status: i32,
}

/// The `waitid` options [`PidFd::waitid`] accepts (the kernel's values).
pub const WAIT_OPTIONS: i32 = libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED | libc::WNOHANG | libc::WNOWAIT;
/// The state changes to wait for: `waitid` needs at least one.
const WAIT_STATES: i32 = libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED;

/// Refuses options [`PidFd::waitid`] does not take, or that ask for no state change.
pub fn check_wait_options(options: i32) -> Result<()> {
    if options & !WAIT_OPTIONS != 0 {
        return Err(Error::invalid(format!("unknown waitid option bits {:#x}", options & !WAIT_OPTIONS)));
    }
    if options & WAIT_STATES == 0 {
        return Err(Error::invalid("waitid needs WEXITED, WSTOPPED or WCONTINUED"));
    }
    Ok(())
}

/// Which side of [`PidFd::fork`] this is.
#[derive(Debug)]
pub enum Forked<T> {
    /// The new process.
    Child,
    /// The parent: the child's pid and what `register` made of its pidfd.
    Parent(i32, T),
}

#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// `pidfd_open(2)`; the descriptor is always close-on-exec.
    pub fn open(pid: i32, nonblock: bool) -> Result<PidFd> {
        if pid <= 0 {
            return Err(Error::invalid(format!("pid {pid}: a process id is positive")));
        }
        let flags = if nonblock { PIDFD_NONBLOCK } else { 0 };
        // SAFETY: pidfd_open returns a new descriptor on success.
        let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) }).map_err(|e| e.context(format!("pidfd_open {pid}")))?;
        Ok(PidFd { fd: unsafe { sys::owned(fd as RawFd) } })
    }

    /// `fork()` with a pidfd for the child, made before anything can reap the child. A
    /// child's pid is free for reuse once it is reaped, and a child that exits at once can be
    /// reaped before the parent opens its pidfd: by the kernel when `SIGCHLD` is ignored, by a
    /// `SIGCHLD` handler that calls `waitpid(-1)`, by another thread's wait. So the child
    /// waits at the fork, on a close-on-exec pipe, while the parent opens the pidfd and runs
    /// `register` on it; then the parent tells it to go on. If either fails, the child is told
    /// to exit (`_exit(127)`, never returning from the fork) and is reaped, and the error is
    /// returned. Nothing is ever signalled or reaped by a pid that may have been reused.
    pub fn fork<T>(register: impl FnOnce(PidFd) -> Result<T>) -> Result<Forked<T>> {
        const GO: u8 = b'g';
        const STOP: u8 = b's';
        let mut ends = [-1; 2];
        // SAFETY: pipe2 fills the array on success.
        cvt(unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(|e| e.context("pipe2 for fork"))?;
        // SAFETY: two new descriptors of ours.
        let (wait_end, word_end) = unsafe { (sys::owned(ends[0]), sys::owned(ends[1])) };
        // SAFETY: fork; the child runs only async-signal-safe calls before it returns.
        let pid = cvt(unsafe { libc::fork() }).map_err(|e| e.context("fork"))?;
        if pid == 0 {
            // SAFETY: plain system calls on our own copies of the pipe's ends.
            unsafe {
                libc::close(word_end.into_raw_fd()); // so the parent's death reads as the end
                let mut word = 0u8;
                let got = loop {
                    let got = libc::read(wait_end.as_raw_fd(), (&mut word as *mut u8).cast(), 1);
                    if got >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                        break got;
                    }
                };
                libc::close(wait_end.into_raw_fd());
                if got != 1 || word != GO {
                    libc::_exit(127);
                }
            }
            return Ok(Forked::Child);
        }
        let registered = PidFd::open(pid, false).and_then(register);
        let word = if registered.is_ok() { GO } else { STOP };
        // The parent still holds the read end, so this write cannot meet a pipe without
        // readers. Should it fail, closing the write end tells the child to exit all the same.
        // SAFETY: one byte from a local.
        let told = unsafe { libc::write(word_end.as_raw_fd(), (&word as *const u8).cast(), 1) } == 1;
        drop(word_end);
        drop(wait_end);
        match registered {
            Ok(registered) if told => Ok(Forked::Parent(pid, registered)),
            Ok(_) => Err(Error::Internal("could not tell the forked child to go on".into())),
            Err(err) => {
                // SAFETY: our child, unreaped until it exits (it waited for our word).
                unsafe {
                    while libc::waitpid(pid, std::ptr::null_mut(), 0) == -1
                        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
                    {}
                }
                Err(err)
            }
        }
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("pidfd") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not a pidfd", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> PidFd {
        PidFd { fd }
    }

    /// `pidfd_send_signal(2)` (signal 0 only checks that the process exists).
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        // SAFETY: no siginfo (NULL), no flags.
        cvt(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, self.fd.as_raw_fd(), signal, std::ptr::null::<libc::siginfo_t>(), 0u32) })
            .map_err(|e| e.context(format!("pidfd_send_signal {signal}")))?;
        Ok(())
    }

    /// `waitid(P_PIDFD, WEXITED)`: collects the exit of a child. `None` with `nohang` while
    /// it still runs.
    pub fn wait(&self, nohang: bool) -> Result<Option<Exit>> {
        self.waitid(libc::WEXITED | if nohang { libc::WNOHANG } else { 0 })
    }

    /// `waitid(P_PIDFD, options)` with any of [`WAIT_OPTIONS`], at least one of `WEXITED`,
    /// `WSTOPPED`, `WCONTINUED`. `None` with `WNOHANG` while no such change is pending.
    pub fn waitid(&self, options: i32) -> Result<Option<Exit>> {
        check_wait_options(options)?;
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid fills `info`.
        cvt(unsafe { libc::waitid(P_PIDFD, self.fd.as_raw_fd() as libc::id_t, &mut info, options) })?;
        // SAFETY: after a successful waitid the pid and status fields are valid (pid 0: none).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        Ok(Some(Exit { pid, code: info.si_code, status }))
    }

    /// `pidfd_getfd(2)`: a close-on-exec duplicate of the process's descriptor `target`.
    pub fn getfd(&self, target: i32) -> Result<OwnedFd> {
        if target < 0 {
            return Err(Error::bad_descriptor(target));
        }
        // SAFETY: returns a new descriptor (the kernel sets close-on-exec) on success.
        let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.fd.as_raw_fd(), target, 0u32) })
            .map_err(|e| e.context(format!("pidfd_getfd {target}")))?;
        Ok(unsafe { sys::owned(fd as RawFd) })
    }

    /// The process id, from `/proc/thread-self/fdinfo` (`ESRCH` once the process is gone).
    pub fn pid(&self) -> Result<i32> {
        let info = std::fs::read_to_string(sys::proc_fdinfo_path(self.fd.as_raw_fd()))
            .map_err(|e| Error::from(e).context("reading /proc/thread-self/fdinfo"))?;
        let pid = info
            .lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .and_then(|v| v.trim().parse::<i32>().ok())
            .ok_or_else(|| Error::Internal("no Pid line in the pidfd's fdinfo".into()))?;
        if pid <= 0 {
            return Err(Error::Os { errno: libc::ESRCH, context: Some("the process has exited".into()) });
        }
        Ok(pid)
    }
}

fd_object!(PidFd, Kind::PidFd, WriteGuard::None);
