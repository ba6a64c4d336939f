//! Terminals, serial ports and pseudo-terminals: opening without becoming the controlling
//! terminal, settings through `termios2` (see `termios`), window size, modem lines, drain,
//! flush, flow, queue sizes, break and exclusive mode.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, fd_object};
use crate::kinds::fifo::EndFlags;
use crate::kinds::file::open_checked;
use crate::kinds::termios::Settings;
use crate::sys::{self, cvt};

#[derive(Debug)]
pub struct Terminal {
    fd: OwnedFd,
}

/// When [`Terminal::set`] applies the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Now,
    Drain,
    Flush,
}

fn ioctl_ptr<T>(fd: RawFd, request: libc::c_ulong, arg: *mut T, what: &str) -> Result<i32> {
    // SAFETY: `arg` points to the structure `request` reads or writes.
    cvt(unsafe { libc::ioctl(fd, request as _, arg) }).map_err(|e| e.context(what.to_string()))
}

fn ioctl_int(fd: RawFd, request: libc::c_ulong, arg: libc::c_int, what: &str) -> Result<i32> {
    // SAFETY: `request` takes an integer argument.
    cvt(unsafe { libc::ioctl(fd, request as _, arg) }).map_err(|e| e.context(what.to_string()))
}

impl Terminal {
    /// Opens a terminal device by path, never as the controlling terminal (`O_NOCTTY`);
    /// anything that is not a character device is refused unopened, and a character device
    /// that is not a terminal is closed again and refused.
    pub fn open(path: &CStr, flags: EndFlags) -> Result<Terminal> {
        let fd = open_checked(path, flags.oflags()?, crate::kinds::chardev::CharDevice::verify, "a terminal")?;
        Terminal::verify(fd.as_fd()).map_err(|_| Error::invalid(format!("{} is not a terminal", path.to_string_lossy())))?;
        let terminal = Terminal { fd };
        // Opening /dev/ptmx makes a new pseudo-terminal, locked until unlocked: that is what
        // `open_pty` does, and gives both ends.
        if terminal.pty_number().is_ok() {
            return Err(Error::invalid(format!(
                "{} makes a new pseudo-terminal master: use fdsafe_pty_open, which unlocks it and gives both ends",
                path.to_string_lossy()
            )));
        }
        Ok(terminal)
    }

    /// The number of the pseudo-terminal whose master this is (`TIOCGPTN`); fails for
    /// anything but a master.
    fn pty_number(&self) -> Result<u32> {
        let mut number: libc::c_uint = 0;
        ioctl_ptr(self.raw(), libc::TIOCGPTN as _, &mut number, "TIOCGPTN")?;
        Ok(number)
    }

    /// A new pseudo-terminal: `(master, slave)`, both close-on-exec and `O_NOCTTY`.
    pub fn open_pty(nonblock: bool) -> Result<(Terminal, Terminal)> {
        let nb = if nonblock { libc::O_NONBLOCK } else { 0 };
        // SAFETY: new descriptor on success.
        let m = cvt(unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | nb) })
            .map_err(|e| e.context("opening /dev/ptmx"))?;
        let master = Terminal { fd: unsafe { sys::owned(m) } };
        let mut unlock: libc::c_int = 0;
        ioctl_ptr(m, libc::TIOCSPTLCK as _, &mut unlock, "unlocking the pseudo-terminal")?;
        let slave = master.peer(nonblock)?;
        Ok((master, slave))
    }

    /// The slave of a master (`TIOCGPTPEER`), opened without a path lookup.
    pub fn peer(&self, nonblock: bool) -> Result<Terminal> {
        let nb = if nonblock { libc::O_NONBLOCK } else { 0 };
        let s = ioctl_int(self.fd.as_raw_fd(), libc::TIOCGPTPEER as _, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | nb, "TIOCGPTPEER")?;
        Ok(Terminal { fd: unsafe { sys::owned(s) } })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        // SAFETY: isatty only queries.
        if unsafe { libc::isatty(fd.as_raw_fd()) } != 1 {
            return Err(Error::invalid(format!("descriptor {} is not a terminal", fd.as_raw_fd())));
        }
        Ok(())
    }

    pub fn from_fd(fd: OwnedFd) -> Terminal {
        Terminal { fd }
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The device path (`/dev/pts/3`, `/dev/ttyS0`; `/dev/ptmx` for a master).
    pub fn path(&self) -> Result<String> {
        let link = std::fs::read_link(sys::proc_fd_path(self.raw()))
            .map_err(|e| Error::from(e).context("reading /proc/thread-self/fd"))?;
        Ok(link.to_string_lossy().into_owned())
    }

    /// The path of a master's slave (`/dev/pts/N`, from `TIOCGPTN`).
    pub fn peer_path(&self) -> Result<String> {
        Ok(format!("/dev/pts/{}", self.pty_number()?))
    }

    fn get2(&self) -> Result<libc::termios2> {
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        ioctl_ptr(self.raw(), libc::TCGETS2 as _, &mut t, "TCGETS2")?;
        Ok(t)
    }

    /// The settings exactly as the kernel holds them (`TCGETS2`).
    pub fn get(&self) -> Result<Settings> {
        Ok(Settings::from_kernel(&self.get2()?))
    }

    /// Applies `s` word for word (`TCSETS2`, `TCSETSW2` or `TCSETSF2`).
    pub fn set(&self, s: &Settings, when: When) -> Result<()> {
        let mut t = s.to_kernel();
        let request = match when {
            When::Now => libc::TCSETS2,
            When::Drain => libc::TCSETSW2,
            When::Flush => libc::TCSETSF2,
        };
        ioctl_ptr(self.raw(), request as _, &mut t, "setting the terminal attributes")?;
        Ok(())
    }

    /// `tcflow`: `action` is `TCOOFF`, `TCOON`, `TCIOFF` or `TCION`.
    pub fn flow(&self, action: i32) -> Result<()> {
        // SAFETY: tcflow on our descriptor.
        cvt(unsafe { libc::tcflow(self.raw(), action) }).map_err(|e| e.context("tcflow"))?;
        Ok(())
    }

    /// Bytes waiting in the input queue (`FIONREAD`) or the output queue (`TIOCOUTQ`).
    pub fn queue_size(&self, output: bool) -> Result<usize> {
        let mut n: libc::c_int = 0;
        let (request, what) = if output { (libc::TIOCOUTQ, "TIOCOUTQ") } else { (libc::FIONREAD, "FIONREAD") };
        ioctl_ptr(self.raw(), request as _, &mut n, what)?;
        Ok(n.max(0) as usize)
    }

    pub fn window_size(&self) -> Result<libc::winsize> {
        let mut w: libc::winsize = unsafe { std::mem::zeroed() };
        ioctl_ptr(self.raw(), libc::TIOCGWINSZ as _, &mut w, "TIOCGWINSZ")?;
        Ok(w)
    }

    pub fn set_window_size(&self, mut w: libc::winsize) -> Result<()> {
        ioctl_ptr(self.raw(), libc::TIOCSWINSZ as _, &mut w, "TIOCSWINSZ")?;
        Ok(())
    }

    /// Modem line bits (`TIOCM_*`); `ENOTTY` on pseudo-terminals, which have none.
    pub fn modem_lines(&self) -> Result<u32> {
        let mut bits: libc::c_int = 0;
        ioctl_ptr(self.raw(), libc::TIOCMGET as _, &mut bits, "TIOCMGET")?;
        Ok(bits as u32)
    }

    pub fn modem_change(&self, set: u32, clear: u32) -> Result<()> {
        if set != 0 {
            let mut b = set as libc::c_int;
            ioctl_ptr(self.raw(), libc::TIOCMBIS as _, &mut b, "TIOCMBIS")?;
        }
        if clear != 0 {
            let mut b = clear as libc::c_int;
            ioctl_ptr(self.raw(), libc::TIOCMBIC as _, &mut b, "TIOCMBIC")?;
        }
        Ok(())
    }

    pub fn drain(&self) -> Result<()> {
        // SAFETY: tcdrain on our descriptor.
        cvt(unsafe { libc::tcdrain(self.raw()) })?;
        Ok(())
    }

    pub fn flush(&self, queue: i32) -> Result<()> {
        // SAFETY: tcflush on our descriptor.
        cvt(unsafe { libc::tcflush(self.raw(), queue) })?;
        Ok(())
    }

    /// A break: the standard length for `duration_ms == 0`, else rounded up to tenths of a
    /// second (`TCSBRKP`).
    pub fn send_break(&self, duration_ms: u32) -> Result<()> {
        if duration_ms == 0 {
            ioctl_int(self.raw(), libc::TCSBRK as _, 0, "TCSBRK")?;
        } else {
            let tenths = duration_ms.div_ceil(100).min(i32::MAX as u32) as libc::c_int;
            ioctl_int(self.raw(), libc::TCSBRKP as _, tenths, "TCSBRKP")?;
        }
        Ok(())
    }

    pub fn set_exclusive(&self, on: bool) -> Result<()> {
        let request = if on { libc::TIOCEXCL } else { libc::TIOCNXCL };
        // SAFETY: these requests take no argument; a zero is passed so that the variadic
        // slot holds a defined value (memory checkers read it).
        cvt(unsafe { libc::ioctl(self.raw(), request as _, 0) })?;
        Ok(())
    }

    pub fn exclusive(&self) -> Result<bool> {
        let mut on: libc::c_int = 0;
        ioctl_ptr(self.raw(), libc::TIOCGEXCL as _, &mut on, "TIOCGEXCL")?;
        Ok(on != 0)
    }
}

fd_object!(Terminal, Kind::Terminal);

