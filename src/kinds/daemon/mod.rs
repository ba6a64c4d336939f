//! Running under a service manager without libsystemd: socket activation ([`listen`],
//! `LISTEN_FDS` / `LISTEN_PID` / `LISTEN_FDNAMES`) and service notification ([`notify`],
//! `NOTIFY_SOCKET`, `WATCHDOG_USEC` / `WATCHDOG_PID`), following the protocol that
//! `sd_listen_fds(3)` and `sd_notify(3)` document.

pub mod listen;
pub mod notify;

use std::ffi::OsString;

use crate::error::{Error, Result};

/// The value of an environment variable as bytes, `None` when unset.
fn env_bytes(name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    std::env::var_os(name).map(OsString::into_vec)
}

/// Parses a decimal number the way the protocol writes it: ASCII digits only, no sign, no
/// spaces, no leading zeros beyond a single `0`, and no overflow.
fn parse_decimal(name: &str, value: &[u8]) -> Result<u64> {
    let bad = || Error::invalid(format!("{name}={:?} is not a decimal number", String::from_utf8_lossy(value)));
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) || (value.len() > 1 && value[0] == b'0') {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for &d in value {
        n = n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))).ok_or_else(bad)?;
    }
    Ok(n)
}

/// Whether `pid_var` (LISTEN_PID, WATCHDOG_PID) names this process. `Ok(None)` when unset.
fn names_this_process(pid_var: &str) -> Result<Option<bool>> {
    let Some(value) = env_bytes(pid_var) else { return Ok(None) };
    let pid = parse_decimal(pid_var, &value)?;
    if pid == 0 || pid > i32::MAX as u64 {
        return Err(Error::invalid(format!("{pid_var}={pid} is not a process id")));
    }
    // SAFETY: getpid cannot fail.
    Ok(Some(pid == unsafe { libc::getpid() } as u64))
}

/// A name for `LISTEN_FDNAMES` or `FDNAME=`: printable ASCII (0x20..=0x7e) without `:`, at
/// most 255 bytes. `allow_empty` for names read from `LISTEN_FDNAMES` (systemd allows empty
/// ones there).
pub fn check_fd_name(name: &[u8], allow_empty: bool) -> Result<()> {
    if name.is_empty() && !allow_empty {
        return Err(Error::invalid("a descriptor name must not be empty"));
    }
    if name.len() > 255 {
        return Err(Error::invalid(format!("a descriptor name of {} bytes (at most 255)", name.len())));
    }
    if let Some(&b) = name.iter().find(|&&b| !(0x20..=0x7e).contains(&b) || b == b':') {
        return Err(Error::invalid(format!(
            "descriptor name {:?} contains byte {b:#04x} (only printable ASCII without ':' is allowed)",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_numbers_are_strict() {
        assert_eq!(parse_decimal("X", b"0").unwrap(), 0);
        assert_eq!(parse_decimal("X", b"123").unwrap(), 123);
        for bad in [&b""[..], b"+1", b"-1", b" 1", b"1 ", b"01", b"1x", b"99999999999999999999999", b"0x10"] {
            assert!(parse_decimal("X", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fd_names() {
        assert!(check_fd_name(b"web", false).is_ok());
        assert!(check_fd_name(b"", true).is_ok());
        assert!(check_fd_name(b"", false).is_err());
        assert!(check_fd_name(b"a:b", false).is_err());
        assert!(check_fd_name(b"a\nb", false).is_err());
        assert!(check_fd_name(&[b'a'; 255], false).is_ok());
        assert!(check_fd_name(&[b'a'; 256], false).is_err());
    }
}
