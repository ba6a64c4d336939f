//! Socket activation: the descriptors a service manager passed as 3, 4, ... with
//! `LISTEN_FDS=n`, `LISTEN_PID=<our pid>` and optionally `LISTEN_FDNAMES=a:b:...`.
//!
//! Everything is checked before anything changes: the variables are parsed, every descriptor
//! must be open, the names must match the count, and each descriptor's kind is asked of the
//! kernel. Only then are they registered in the handle table, all or none (a refusal releases
//! those already registered, leaving the descriptors as they were), and made close-on-exec.
//! The result is recorded for the process, so a second call does not adopt again.

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use super::{check_fd_name, env_bytes, names_this_process, parse_decimal};
use crate::error::{Error, Result};
use crate::handles::{Handle, Kind, Stored};
use crate::kinds::detect;
use crate::sys;

/// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// One activated descriptor.
#[derive(Clone, Debug)]
pub struct Listened {
    pub handle: Handle,
    pub kind: Kind,
    pub name: String,
}

/// What [`listen_fds`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `LISTEN_FDS` or `LISTEN_PID` is unset: not socket-activated.
    NotActivated,
    /// `LISTEN_PID` names another process (the variables were inherited): nothing adopted.
    OtherProcess,
    /// This many descriptors were adopted (possibly 0).
    Adopted(usize),
}

struct Record {
    pid: i32,
    fds: Vec<Listened>,
}

static RECORD: Mutex<Option<Record>> = Mutex::new(None);

fn record() -> std::sync::MutexGuard<'static, Option<Record>> {
    RECORD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unset_all() {
    for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
}

fn open_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    }
}

/// Reads the variables, checks and adopts the descriptors. With `unset_env`, the three
/// variables are removed whenever the call succeeds (also when nothing was adopted).
/// How [`listen_fds`] registers descriptors as handles, and undoes it, without this module
/// knowing the handle table: `register` takes ownership of the descriptor or gives it back
/// with the error; `unregister` gives the descriptor of a registered handle back.
pub struct Registry<'a> {
    pub register: &'a dyn Fn(Stored) -> std::result::Result<Handle, (Error, Stored)>,
    pub unregister: &'a dyn Fn(Handle) -> Option<OwnedFd>,
}

pub fn listen_fds(unset_env: bool, registry: &Registry<'_>) -> Result<Status> {
    let mut rec = record();
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    if let Some(r) = rec.as_ref().filter(|r| r.pid == pid) {
        let n = r.fds.len();
        if unset_env {
            unset_all();
        }
        return Ok(Status::Adopted(n));
    }
    let status = match adopt_from_env(registry)? {
        Ok(fds) => {
            let n = fds.len();
            *rec = Some(Record { pid, fds });
            Status::Adopted(n)
        }
        Err(status) => status,
    };
    if unset_env {
        unset_all();
    }
    Ok(status)
}

/// `Ok(Ok(fds))` when adopted, `Ok(Err(status))` when there was nothing to adopt.
fn adopt_from_env(registry: &Registry<'_>) -> Result<std::result::Result<Vec<Listened>, Status>> {
    let (Some(count), Some(_)) = (env_bytes("LISTEN_FDS"), env_bytes("LISTEN_PID")) else {
        return Ok(Err(Status::NotActivated));
    };
    if names_this_process("LISTEN_PID")? != Some(true) {
        return Ok(Err(Status::OtherProcess));
    }
    let n = parse_decimal("LISTEN_FDS", &count)?;
    let limit = open_limit();
    if n > limit.saturating_sub(FIRST_FD as u64) || n > (i32::MAX - FIRST_FD) as u64 {
        return Err(Error::invalid(format!("LISTEN_FDS={n} is more descriptors than this process can have open ({limit})")));
    }
    let n = n as usize;
    let names: Vec<String> = match env_bytes("LISTEN_FDNAMES") {
        None => vec!["unknown".to_string(); n],
        Some(text) if text.is_empty() && n == 0 => Vec::new(),
        Some(text) => {
            let parts: Vec<&[u8]> = text.split(|&b| b == b':').collect();
            if parts.len() != n {
                return Err(Error::invalid(format!("LISTEN_FDNAMES has {} names for LISTEN_FDS={n} descriptors", parts.len())));
            }
            parts
                .into_iter()
                .map(|p| check_fd_name(p, true).map(|()| String::from_utf8_lossy(p).into_owned()))
                .collect::<Result<_>>()?
        }
    };
    // Check every descriptor before touching any.
    let mut kinds = Vec::with_capacity(n);
    for i in 0..n {
        let fd = FIRST_FD + i as RawFd;
        sys::check_open(fd).map_err(|e| {
            Error::invalid(format!("LISTEN_FDS={n} but descriptor {fd} is not open ({e}): the variables do not describe this process"))
        })?;
        // SAFETY: open (just checked); borrowed only for the queries.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        kinds.push(detect::detect(borrowed).map_err(|e| e.context(format!("identifying activated descriptor {fd}")))?);
    }
    // Register all or none.
    let mut adopted: Vec<Listened> = Vec::with_capacity(n);
    let rollback = |adopted: &[Listened]| {
        for l in adopted {
            if let Some(fd) = (registry.unregister)(l.handle) {
                let _ = fd.into_raw_fd(); // back to how it was: open, owned by nobody in fdsafe
            }
        }
    };
    for (i, (&kind, name)) in kinds.iter().zip(&names).enumerate() {
        let fd = FIRST_FD + i as RawFd;
        // SAFETY: checked open above; the table owns it from here, or gives it back.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let object = crate::kinds::wrap_owned(owned, kind);
        match (registry.register)(object) {
            Ok(handle) => adopted.push(Listened { handle, kind, name: name.clone() }),
            Err((err, object)) => {
                let _ = object.into_fd().into_raw_fd(); // still the process's, untouched
                rollback(&adopted);
                return Err(err);
            }
        }
    }
    for (i, _) in adopted.iter().enumerate() {
        // SAFETY: registered above and alive (nobody else has the handles yet).
        let fd = unsafe { BorrowedFd::borrow_raw(FIRST_FD + i as RawFd) };
        if let Err(e) = sys::set_cloexec(fd) {
            rollback(&adopted);
            return Err(e.context(format!("making activated descriptor {} close-on-exec", FIRST_FD + i as RawFd)));
        }
    }
    Ok(Ok(adopted))
}

/// The recorded descriptors of this process (empty before a successful [`listen_fds`]).
pub fn recorded() -> Vec<Listened> {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    record().as_ref().filter(|r| r.pid == pid).map(|r| r.fds.clone()).unwrap_or_default()
}
