//! Service notification: state lines sent as one datagram to the Unix socket named by
//! `NOTIFY_SOCKET` (a path, or an abstract name written `@name`), with our credentials
//! (`SCM_CREDENTIALS`) and optionally descriptors (`SCM_RIGHTS`) in the same message; and
//! the watchdog interval from `WATCHDOG_USEC` / `WATCHDOG_PID`.

use std::os::fd::BorrowedFd;

use super::{check_fd_name, env_bytes, names_this_process, parse_decimal};
use crate::error::{Error, Result};
use crate::handles::Kind;
use crate::kinds::socket::addr::SUN_PATH_LEN;
use crate::kinds::socket::{scm, Address, SendFlags, SockAddr, Socket};

/// Checks a notification message: one or more `KEY=value` lines separated by `\n` (a single
/// trailing `\n` is allowed), each key made of `A-Z`, `0-9` and `_`, starting with a letter
/// or `_`, and no NUL byte anywhere.
pub fn check_state(state: &[u8]) -> Result<()> {
    if state.is_empty() {
        return Err(Error::invalid("an empty notification"));
    }
    if state.contains(&0) {
        return Err(Error::invalid("a notification cannot contain a NUL byte"));
    }
    let body = state.strip_suffix(b"\n").unwrap_or(state);
    for line in body.split(|&b| b == b'\n') {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err(Error::invalid(format!("notification line {:?} is not KEY=value", String::from_utf8_lossy(line))));
        };
        let key = &line[..eq];
        let valid = !key.is_empty()
            && !key[0].is_ascii_digit()
            && key.iter().all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Error::invalid(format!(
                "notification key {:?} is not made of A-Z, 0-9 and _",
                String::from_utf8_lossy(key)
            )));
        }
    }
    Ok(())
}

/// The manager's address from `NOTIFY_SOCKET`, or `None` when unset (or empty).
pub fn notify_address() -> Result<Option<SockAddr>> {
    let Some(value) = env_bytes("NOTIFY_SOCKET") else { return Ok(None) };
    if value.is_empty() {
        return Ok(None);
    }
    let address = match value[0] {
        // sd_notify wants room for the path's NUL, so a path filling sun_path (108 bytes,
        // which bind and connect take) is refused, as it refuses it.
        b'/' if value.len() >= SUN_PATH_LEN => {
            return Err(Error::Os { errno: libc::ENAMETOOLONG, context: Some(format!("NOTIFY_SOCKET path of {} bytes", value.len()).into()) })
        }
        b'/' => Address::Path(value),
        b'@' => Address::Abstract(value[1..].to_vec()),
        _ => {
            return Err(Error::invalid(format!(
                "NOTIFY_SOCKET={:?} is neither an absolute path nor an @abstract name (vsock is not supported)",
                String::from_utf8_lossy(&value)
            )))
        }
    };
    SockAddr::from_address(&address).map(Some).map_err(|e| e.context("NOTIFY_SOCKET"))
}

/// Sends `state` (already checked) with `fds` to the manager. `Ok(false)` when there is no
/// `NOTIFY_SOCKET`. With `unset_env`, `NOTIFY_SOCKET` is removed afterwards (also when the
/// send failed, as `sd_notify` does).
pub fn send(state: &[u8], fds: &[BorrowedFd<'_>], unset_env: bool) -> Result<bool> {
    check_state(state)?;
    if fds.len() > scm::MAX_FDS {
        return Err(Error::invalid(format!("{} descriptors in one notification (at most {})", fds.len(), scm::MAX_FDS)));
    }
    let result = send_to_manager(state, fds);
    if unset_env {
        std::env::remove_var("NOTIFY_SOCKET");
    }
    result
}

fn send_to_manager(state: &[u8], fds: &[BorrowedFd<'_>]) -> Result<bool> {
    let Some(addr) = notify_address()? else { return Ok(false) };
    let socket = Socket::new(Kind::UnixDatagram, libc::AF_UNIX, false)?;
    socket.connect_raw(&addr).map_err(|e| e.context(format!("connecting to NOTIFY_SOCKET {addr:?}")))?;
    // SAFETY: plain id queries.
    let me = unsafe { scm::Credentials { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() } };
    let sent = scm::send(&socket, state, fds, Some(me), SendFlags::empty()).map_err(|e| e.context("sending to NOTIFY_SOCKET"))?;
    if sent != state.len() {
        return Err(Error::from_errno(libc::EMSGSIZE).context("the notification was cut short"));
    }
    Ok(true)
}

/// `RELOADING=1` with `MONOTONIC_USEC=` (now, `CLOCK_MONOTONIC`), as systemd requires for
/// `Type=notify-reload` services.
pub fn reloading_message() -> Result<Vec<u8>> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the struct.
    crate::sys::cvt(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) })?;
    let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000;
    Ok(format!("RELOADING=1\nMONOTONIC_USEC={usec}").into_bytes())
}

/// `STATUS=text`; the text must be one line.
pub fn status_message(text: &[u8]) -> Result<Vec<u8>> {
    if text.contains(&b'\n') {
        return Err(Error::invalid("a status text must be a single line"));
    }
    let mut m = b"STATUS=".to_vec();
    m.extend_from_slice(text);
    Ok(m)
}

/// `FDSTORE=1` and `FDNAME=name` (name checked: 1 to 255 printable ASCII bytes, no `:`).
pub fn fdstore_message(name: &[u8]) -> Result<Vec<u8>> {
    check_fd_name(name, false)?;
    let mut m = b"FDSTORE=1\nFDNAME=".to_vec();
    m.extend_from_slice(name);
    Ok(m)
}

/// The watchdog interval in microseconds, or `None` when the watchdog is not enabled for
/// this process (`WATCHDOG_USEC` unset, or `WATCHDOG_PID` naming another process).
pub fn watchdog_usec(unset_env: bool) -> Result<Option<u64>> {
    let result = (|| {
        let Some(value) = env_bytes("WATCHDOG_USEC") else { return Ok(None) };
        if names_this_process("WATCHDOG_PID")? == Some(false) {
            return Ok(None);
        }
        let usec = parse_decimal("WATCHDOG_USEC", &value)?;
        if usec == 0 || usec == u64::MAX {
            // systemd writes u64::MAX for "infinity", no interval at all (sd_watchdog_enabled
            // refuses it likewise).
            return Err(Error::invalid(format!("WATCHDOG_USEC={usec} is not an interval")));
        }
        Ok(Some(usec))
    })()?;
    if unset_env {
        std::env::remove_var("WATCHDOG_USEC");
        std::env::remove_var("WATCHDOG_PID");
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        for good in [&b"READY=1"[..], b"READY=1\n", b"STATUS=a b=c\nERRNO=2", b"X_1="] {
            assert!(check_state(good).is_ok(), "{good:?}");
        }
        for bad in [&b""[..], b"\n", b"READY", b"ready=1", b"READY=1\n\n", b"=1", b"1A=2", b"READY=1\0"] {
            assert!(check_state(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(status_message(b"ok").unwrap(), b"STATUS=ok");
        assert!(status_message(b"a\nb").is_err());
        assert_eq!(fdstore_message(b"db").unwrap(), b"FDSTORE=1\nFDNAME=db");
        assert!(fdstore_message(b"").is_err());
        assert!(String::from_utf8(reloading_message().unwrap()).unwrap().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    }
}
