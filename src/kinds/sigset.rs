//! Signal sets as a plain 64-bit mask (bit `n - 1` is signal `n`), the form the kernel's own
//! `sigset_t` takes on Linux; converted to glibc's larger `sigset_t` where a call needs it.

use crate::error::{Error, Result};

/// The highest signal number Linux has (`_NSIG - 1`).
pub(crate) const MAX_SIGNAL: i32 = 64;

/// A set of signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);

/// glibc's own signals, 32 (thread cancellation) and 33 (`setuid` and the like across
/// threads), which glibc keeps out of every mask it sets: a thread that blocks 33 makes a
/// `setuid` in any other thread wait for it.
const LIBC_INTERNAL: u64 = (1 << 31) | (1 << 32);

impl SigSet {
    /// This set without glibc's own signals, for a mask given to the kernel directly (a
    /// pwait's), as glibc's `pthread_sigmask` would set it.
    pub fn for_kernel(self) -> SigSet {
        SigSet(self.0 & !LIBC_INTERNAL)
    }

    /// The calling thread's mask, exactly (glibc's own signals included), after setting it
    /// to `set` as it is, with `rt_sigprocmask`: for a mask saved and put back unchanged.
    pub fn swap_thread_mask(set: SigSet) -> Result<SigSet> {
        let mut old = 0u64;
        // SAFETY: two 8-byte kernel signal sets.
        let rc = unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &set.0 as *const u64, &mut old as *mut u64, 8usize) };
        if rc != 0 {
            return Err(Error::last_os().context("rt_sigprocmask"));
        }
        Ok(SigSet(old))
    }

    pub fn check(signo: i32) -> Result<u64> {
        if (1..=MAX_SIGNAL).contains(&signo) {
            Ok(1u64 << (signo - 1))
        } else {
            Err(Error::invalid(format!("{signo} is not a signal number (1..={MAX_SIGNAL})")))
        }
    }

    pub fn contains(self, signo: i32) -> bool {
        Self::check(signo).is_ok_and(|bit| self.0 & bit != 0)
    }

    /// The same set as glibc's `sigset_t`.
    pub fn to_libc(self) -> libc::sigset_t {
        // SAFETY: plain signal-set manipulation on a local set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signo in 1..=MAX_SIGNAL {
                if self.0 & (1u64 << (signo - 1)) != 0 {
                    // Fails only for numbers glibc reserves (32, 33); the kernel set below
                    // still carries them where it is used directly.
                    libc::sigaddset(&mut set, signo);
                }
            }
            set
        }
    }

    pub fn from_libc(set: &libc::sigset_t) -> SigSet {
        let mut bits = 0u64;
        for signo in 1..=MAX_SIGNAL {
            // SAFETY: sigismember only reads the set.
            if unsafe { libc::sigismember(set, signo) } == 1 {
                bits |= 1u64 << (signo - 1);
            }
        }
        SigSet(bits)
    }
}

/// Changes the calling thread's signal mask (`how`: `SIG_BLOCK`, `SIG_UNBLOCK`,
/// `SIG_SETMASK`) and returns the previous mask. glibc keeps its two internal signals (32 and
/// 33) out of any mask it is given.
pub fn thread_mask(how: i32, set: SigSet) -> Result<SigSet> {
    let wanted = set.to_libc();
    // SAFETY: plain signal-set manipulation.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::pthread_sigmask(how, &wanted, &mut old) };
    if rc != 0 {
        return Err(Error::from_errno(rc).context("pthread_sigmask"));
    }
    Ok(SigSet::from_libc(&old))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_glibc() {
        let set = SigSet((1 << (libc::SIGINT - 1)) | (1 << (libc::SIGCHLD - 1)) | (1 << 63));
        assert_eq!(SigSet::from_libc(&set.to_libc()), set);
        assert!(set.contains(libc::SIGINT) && !set.contains(libc::SIGTERM) && set.contains(64));
        assert!(SigSet::check(0).is_err() && SigSet::check(65).is_err());
    }
}
