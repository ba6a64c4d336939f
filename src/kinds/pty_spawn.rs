//! Starting a program on a terminal as its controlling terminal (`login_tty`/`forkpty`): a
//! new session, `TIOCSCTTY`, the terminal as standard input, output and error.
//!
//! Safe in a multithreaded parent: everything that allocates (argument arrays, the `PATH`
//! candidates) is built before the fork; between `clone` and `execve` the child makes only
//! system calls (`sigaction`, `sigprocmask`, `setsid`, `ioctl`, `fcntl`, `dup2`, `execve`,
//! `write`, `_exit`), which are async-signal-safe. `clone` with `CLONE_PIDFD` gives the pidfd
//! atomically, so no other waiter (another thread's `waitpid(-1)`, `SIGCHLD` ignored) can
//! make it refer to the wrong process.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::kinds::pidfd::PidFd;
use crate::kinds::terminal::Terminal;
use crate::sys::{self, cvt};

/// What to run: the program (searched in `PATH` when it has no `/`), its arguments (argument
/// 0 included) and its environment (`None`: the caller's).
pub struct Command<'a> {
    pub program: &'a CStr,
    pub args: Vec<&'a CStr>,
    pub env: Option<Vec<&'a CStr>>,
}

/// The paths to try, in order, as `execvp` would: the program itself if it names a path,
/// else each `PATH` directory (`/bin:/usr/bin` when `PATH` is unset), an empty entry meaning
/// the current directory.
fn candidates(program: &CStr, path_var: Option<&[u8]>) -> Result<Vec<CString>> {
    let name = program.to_bytes();
    if name.is_empty() {
        return Err(Error::invalid("the program name is empty"));
    }
    if name.contains(&b'/') {
        return Ok(vec![program.to_owned()]);
    }
    let dirs = path_var.unwrap_or(b"/bin:/usr/bin");
    Ok(dirs
        .split(|&b| b == b':')
        .map(|dir| {
            let mut full = if dir.is_empty() { b".".to_vec() } else { dir.to_vec() };
            full.push(b'/');
            full.extend_from_slice(name);
            CString::new(full).expect("no NUL: both parts came from C strings")
        })
        .collect())
}

/// A NULL-terminated array of pointers into `items` (which must outlive it).
fn pointer_array(items: &[&CStr]) -> Vec<*const libc::c_char> {
    items.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// The child's side, between `clone` and `execve`: only system calls. Never returns.
///
/// SAFETY: call only in the child of a fork-like clone; `argv`, `paths` and `envp` (NULL for
/// `environ`) are NULL-terminated arrays valid in the child's copy of memory.
unsafe fn child(terminal: RawFd, report: RawFd, sigmax: i32, paths: &[*const libc::c_char], argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> ! {
    let fail = |step: i32| -> ! {
        let err = [step, *libc::__errno_location()];
        libc::write(report, err.as_ptr().cast(), std::mem::size_of_val(&err));
        libc::_exit(127)
    };
    // A fresh session: every signal at its default action, none blocked (signals were all
    // blocked by the parent around the clone, so no handler of its runs here).
    let mut default: libc::sigaction = std::mem::zeroed();
    default.sa_sigaction = libc::SIG_DFL;
    for sig in 1..=sigmax {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::sigaction(sig, &default, std::ptr::null_mut());
        }
    }
    if libc::setsid() < 0 {
        fail(1);
    }
    if libc::ioctl(terminal, libc::TIOCSCTTY as _, 0) < 0 {
        fail(2);
    }
    // dup2 onto the same number would keep close-on-exec: move a low descriptor first.
    let mut fd = terminal;
    if fd <= 2 {
        fd = libc::fcntl(terminal, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            fail(3);
        }
    }
    for target in 0..3 {
        if libc::dup2(fd, target) < 0 {
            fail(3);
        }
    }
    let envp = if envp.is_null() { environ } else { envp };
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    // As execvp: go on past a directory that lacks the program, remember a permission error.
    let mut denied = false;
    for &path in paths.iter().take_while(|p| !p.is_null()) {
        libc::execve(path, argv, envp);
        match *libc::__errno_location() {
            libc::EACCES => denied = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => fail(4),
        }
    }
    if denied {
        *libc::__errno_location() = libc::EACCES;
    }
    fail(4)
}

const STEPS: [&str; 5] = ["", "setsid", "TIOCSCTTY", "dup2", "execve"];

/// Starts `cmd` with `terminal` as its controlling terminal and standard streams; returns
/// the child's pid and pidfd. The caller keeps `terminal`.
pub fn spawn(terminal: &Terminal, cmd: &Command<'_>) -> Result<(i32, PidFd)> {
    if cmd.args.is_empty() {
        return Err(Error::invalid("argv is empty: it needs at least the program name"));
    }
    let path_var = std::env::var_os("PATH").map(std::os::unix::ffi::OsStringExt::into_vec);
    let paths = candidates(cmd.program, path_var.as_deref())?;
    let path_refs: Vec<&CStr> = paths.iter().map(|p| p.as_c_str()).collect();
    let paths_ptr = pointer_array(&path_refs);
    let argv = pointer_array(&cmd.args);
    let envp = cmd.env.as_ref().map(|e| pointer_array(e));
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills `fds`.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(|e| e.context("pipe2"))?;
    // SAFETY: both new and ours.
    let (report_read, report_write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // When this process has 0, 1 or 2 closed, pipe2 hands those numbers out, and the child's
    // dup2 of the terminal onto them would replace the write end: its error report would be
    // lost, the parent would read end of file and take a failed exec for success.
    let (report_read, report_write) = (above_stdio(report_read)?, above_stdio(report_write)?);

    // NULL: the child uses `environ` as it finds it in its copy of memory (read here, another
    // thread's setenv could free the array before the clone).
    let envp_ptr = envp.as_ref().map_or(std::ptr::null(), |e| e.as_ptr());
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut pidfd: libc::c_int = -1;
    let sigmax = libc::SIGRTMAX();
    // SAFETY: blocks signals in this thread until the clone is done; the old mask is restored below.
    let pid = unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        // fork-like (no CLONE_VM: the child has its own copy of memory), with a pidfd.
        let pid = libc::syscall(libc::SYS_clone, (libc::CLONE_PIDFD | libc::SIGCHLD) as libc::c_ulong, 0usize, &mut pidfd as *mut libc::c_int, 0usize, 0usize);
        if pid == 0 {
            child(terminal.as_fd().as_raw_fd(), report_write.as_raw_fd(), sigmax, &paths_ptr, argv.as_ptr(), envp_ptr);
        }
        let saved = *libc::__errno_location();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        *libc::__errno_location() = saved;
        pid
    };
    cvt(pid).map_err(|e| e.context("clone"))?;
    let pid = pid as i32;
    if pidfd < 0 {
        // A kernel before 5.2 ignores CLONE_PIDFD (the bit was the long-dead CLONE_PID): the
        // child runs and there is no pidfd for it. Kill and reap it by pid: nobody else can
        // have reaped it yet unless SIGCHLD is ignored or another thread waits for any child,
        // so the pid is reused under us only in theory.
        kill_and_reap_pid(pid);
        return Err(Error::from_errno(libc::ENOSYS).context("clone gave no pidfd (CLONE_PIDFD needs Linux 5.2)"));
    }
    // SAFETY: CLONE_PIDFD stored a new descriptor (the kernel makes it close-on-exec).
    let pidfd = PidFd::from_fd(unsafe { sys::owned(pidfd) });
    drop(report_write);
    let mut report = [0i32; 2];
    let n = loop {
        // SAFETY: reads into `report`; end of file once the child has exec'd.
        let n = unsafe { libc::read(report_read.as_raw_fd(), report.as_mut_ptr().cast(), std::mem::size_of_val(&report)) };
        if n >= 0 {
            break n;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            // Not seen on a pipe we own (EINTR aside), but then we cannot tell whether the
            // program runs: kill it first, so that the reap cannot wait for as long as a
            // program that did start runs, and report the read's error.
            kill_and_reap(&pidfd);
            return Err(Error::from(err).context("reading the child's error report"));
        }
    };
    if n == 0 {
        return Ok((pid, pidfd));
    }
    // The child wrote its error (n > 0) and exits 127 right after: reap it, report the error.
    let _ = reap(&pidfd);
    if n as usize != std::mem::size_of_val(&report) {
        return Err(Error::Internal(format!("the child's error report had {n} bytes")));
    }
    let step = STEPS.get(report[0] as usize).copied().unwrap_or("?");
    let program = cmd.program.to_string_lossy();
    Err(Error::from_errno(report[1]).context(format!("starting {program}: {step}")))
}

/// `fd` itself if it is numbered 3 or above, else a close-on-exec duplicate that is (`fd`
/// closed).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    sys::dup_cloexec(fd.as_fd()).map_err(|e| e.context("moving the error-report pipe above descriptor 2"))
}

/// Kills a child of ours through its pidfd and reaps it, for a caller that cannot hand it
/// over (its handle could not be made). The pidfd names this very child until it is dropped,
/// so neither the signal nor the wait can reach a process that reused the pid.
pub fn kill_and_reap(pidfd: &PidFd) {
    let _ = pidfd.send_signal(libc::SIGKILL);
    let _ = reap(pidfd);
}

/// [`kill_and_reap`] by pid, when there is no pidfd.
fn kill_and_reap_pid(pid: i32) {
    // SAFETY: signals and waits for our own unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        while libc::waitpid(pid, std::ptr::null_mut(), 0) < 0 && *libc::__errno_location() == libc::EINTR {}
    }
}

fn reap(pidfd: &PidFd) -> Result<()> {
    loop {
        match pidfd.wait(false) {
            Err(e) if e.errno() == Some(libc::EINTR) => continue,
            other => return other.map(|_| ()),
        }
    }
}

extern "C" {
    static environ: *const *const libc::c_char;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_searched_as_execvp_does() {
        let with_slash = candidates(c"./x", Some(b"/a")).expect("valid");
        assert_eq!(with_slash, vec![c"./x".to_owned()]);
        let searched = candidates(c"sh", Some(b"/a::/b")).expect("valid");
        assert_eq!(searched, vec![c"/a/sh".to_owned(), c"./sh".to_owned(), c"/b/sh".to_owned()]);
        assert_eq!(candidates(c"sh", None).expect("valid")[0], c"/bin/sh".to_owned());
        assert!(candidates(c"", None).is_err());
    }
}
