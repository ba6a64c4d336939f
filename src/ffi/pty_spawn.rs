//! Controlling terminals: a child process started on a terminal (`login_tty`, `forkpty`).

use std::ffi::{c_char, c_int, CStr};
use std::os::fd::AsFd;

use super::file::{c_path, c_str};
use super::terminal::fdsafe_window_size;
use super::termios::{fdsafe_terminal_settings, settings_from_c, single};
use super::{call, fdsafe_handle, Out};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Handle};
use crate::kinds::pidfd::PidFd;
use crate::kinds::pty_spawn::{kill_and_reap, spawn, Command};
use crate::kinds::terminal::{Terminal, When};
use crate::sys;

/// More entries than this in `argv` or `envp` means a missing NULL terminator.
const MAX_ENTRIES: usize = 1 << 20;

/// The strings of a NULL-terminated array of C strings.
fn string_array<'a>(array: *const *const c_char, name: &str) -> Result<Vec<&'a CStr>> {
    if array.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    let mut items = Vec::new();
    for i in 0..MAX_ENTRIES {
        // SAFETY: the caller vouches for a NULL-terminated array; we stop at the NULL.
        let item = unsafe { *array.add(i) };
        if item.is_null() {
            return Ok(items);
        }
        items.push(c_str(item, name)?);
    }
    Err(Error::invalid(format!("{name} has no NULL terminator within {MAX_ENTRIES} entries")))
}

fn command<'a>(program: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> Result<Command<'a>> {
    let program = c_path(program, "program")?;
    let args = string_array(argv, "argv")?;
    if args.is_empty() {
        return Err(Error::invalid("argv is empty: it needs at least the program name"));
    }
    let env = if envp.is_null() { None } else { Some(string_array(envp, "envp")?) };
    Ok(Command { program, args, env })
}

/// Stores the pidfd as a handle, or, when the table refuses it (full), kills and reaps the
/// child through the pidfd, which comes back from the table for that: by pid, the signal and
/// the wait could reach another process that took the pid over.
fn pidfd_handle(pidfd: PidFd) -> Result<Handle> {
    handles::try_insert(Box::new(pidfd)).map_err(|(err, object)| {
        if let Some(pidfd) = object.downcast::<PidFd>() {
            kill_and_reap(pidfd);
        }
        handles::discard(object);
        err
    })
}

/// Starts `program` with the terminal `terminal` as its controlling terminal and its
/// standard input, output and error (the `login_tty` pattern): the child gets a new session
/// (`setsid`), takes the terminal (`TIOCSCTTY`), has every signal at its default action and
/// none blocked, and runs `program` (searched in this process's `PATH` when it has no `/`,
/// as `execvp` does) with the NULL-terminated `argv` (argument 0 included) and `envp` (NULL:
/// this process's environment). `terminal` is usually a pseudo-terminal's slave; it must not already be
/// another session's controlling terminal.
///
/// Safe in a multithreaded program: the child makes only system calls between `clone` and
/// `execve`, and the pidfd comes from `clone(CLONE_PIDFD)`, so it can never name another
/// process. The child inherits no fdsafe descriptor (all are close-on-exec).
///
/// Returns the child's pid (> 0), with `*pidfd_out` a handle of kind `FDSAFE_KIND_PIDFD`
/// once the program has been executed. If the child cannot set up or run the program, it is
/// reaped and its error returned (`-ENOENT` for a program not found).
/// Ownership: the caller owns `*pidfd_out` (reap the child with `fdsafe_pidfd_wait`) and
/// keeps `terminal`. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty `program`, a NULL or empty `argv`, an
/// array with no NULL among its first 1,048,576 entries, or a NULL `pidfd_out` (an array
/// that ends, unterminated, before that is read past its end: no C function can tell);
/// from the child: `-EPERM` if the terminal is
/// another session's controlling terminal, `-ENOENT`, `-ENAMETOOLONG`, `-EACCES`,
/// `-ENOEXEC`, `-E2BIG`;
/// `-EAGAIN` or `-ENOMEM` from `clone`; `-ENOSYS` if the kernel (before Linux 5.2) gave no
/// pidfd; `-EMFILE`, also when the handle table is full. With `-ENOSYS` or `-EMFILE` after
/// the child was started, it is killed (`SIGKILL`) and reaped before the call returns.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_spawn(terminal: fdsafe_handle, program: *const c_char, argv: *const *const c_char, envp: *const *const c_char, pidfd_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_terminal_spawn", || {
        let cmd = command(program, argv, envp)?;
        let out = Out::new(pidfd_out, "pidfd_out")?;
        let terminal = get_as::<Terminal>(Handle(terminal), "a terminal")?;
        terminal.untyped().mark_shared(); // the child's standard streams are its file
        let (pid, pidfd) = spawn(&terminal, &cmd)?;
        out.write(pidfd_handle(pidfd)?.0);
        Ok(pid)
    })
}

/// Starts `program` on a new pseudo-terminal (the `forkpty` pattern): opens a pair, applies
/// `*settings` and `*size` to it when they are not NULL, starts the program with the slave
/// as controlling terminal and standard streams exactly as `fdsafe_terminal_spawn`, and
/// closes the slave in this process, so the master reads end of file (`-EIO`) once every
/// process on the terminal has closed it. `flags`: 0 or `FDSAFE_NONBLOCK` (the master only;
/// the child's streams always block); `FDSAFE_O_CLOEXEC` (the master's, always in force) is
/// accepted.
///
/// Returns the child's pid (> 0) with `*master_out` (kind `FDSAFE_KIND_TERMINAL`,
/// close-on-exec) and `*pidfd_out` (kind `FDSAFE_KIND_PIDFD`).
/// Ownership: the caller owns both handles; reap the child with `fdsafe_pidfd_wait`.
/// Errors: as `fdsafe_terminal_spawn`, and: `FDSAFE_E_INVALID_ARGUMENT` for unknown flags
/// or a NULL `master_out`; `-ENOSPC` at the pseudo-terminal limit. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pty_spawn(
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    settings: *const fdsafe_terminal_settings,
    size: *const fdsafe_window_size,
    flags: u32,
    master_out: *mut fdsafe_handle,
    pidfd_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_pty_spawn", || {
        let nonblocking = super::kinds::nonblocking_flag(flags, "pty spawn")?;
        let cmd = command(program, argv, envp)?;
        let (mo, po) = (Out::new(master_out, "master_out")?, Out::new(pidfd_out, "pidfd_out")?);
        let settings = if settings.is_null() { None } else { Some(settings_from_c(single(settings, "settings")?)) };
        let size = if size.is_null() { None } else { Some(*single(size, "size")?) };
        let (master, slave) = Terminal::open_pty(false)?;
        if let Some(s) = settings {
            slave.set(&s, When::Now)?;
        }
        if let Some(w) = size {
            slave.set_window_size(libc::winsize { ws_row: w.rows, ws_col: w.cols, ws_xpixel: w.xpixel, ws_ypixel: w.ypixel })?;
        }
        if nonblocking {
            sys::set_nonblocking(master.as_fd(), true)?;
        }
        let (pid, pidfd) = spawn(&slave, &cmd)?;
        drop(slave);
        // The master's handle first, while the pidfd is still ours: if the table refuses the
        // master, the child (whose terminal would then have no master) is killed and reaped
        // through the pidfd rather than left running and, once it exits, a zombie.
        let m = match handles::insert(Box::new(master)) {
            Ok(m) => m,
            Err(e) => {
                kill_and_reap(&pidfd);
                return Err(e);
            }
        };
        let p = match pidfd_handle(pidfd) {
            Ok(p) => p,
            Err(e) => {
                let _ = handles::close(m);
                return Err(e);
            }
        };
        mo.write(m.0);
        po.write(p.0);
        Ok(pid)
    })
}
