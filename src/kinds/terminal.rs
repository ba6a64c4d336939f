//! Terminals, serial ports and pseudo-terminals: opening without becoming the controlling
//! terminal, settings through `termios2` (any baud rate), window size, modem lines, drain,
//! flush, break and exclusive mode.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, fd_object};
use crate::kinds::fifo::EndFlags;
use crate::kinds::file::open_checked;
use crate::sys::{self, cvt};

#[derive(Debug)]
pub struct Terminal {
    fd: OwnedFd,
}

/// Line discipline mode of [`Settings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cfmakeraw`: bytes pass unchanged, no line editing, no signals, no output processing.
    Raw,
    /// Line editing (`ICANON`), signals, `CR`->`NL` on input, `NL`->`CRNL` on output.
    Canonical,
    /// Neither: leave the mode bits as they are (reading gives this for mixed settings).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    None,
    Odd,
    Even,
    Mark,
    Space,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    None,
    RtsCts,
    XonXoff,
}

/// When [`Terminal::set`] applies the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Now,
    Drain,
    Flush,
}

/// Terminal settings as plain values rather than termios bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    pub echo: bool,
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
    pub flow: Flow,
    pub vmin: u8,
    pub vtime: u8,
}

const RAW_IFLAG: u32 = libc::IGNBRK | libc::BRKINT | libc::PARMRK | libc::ISTRIP | libc::INLCR | libc::IGNCR | libc::ICRNL;
const RAW_LFLAG: u32 = libc::ICANON | libc::ISIG | libc::IEXTEN | libc::ECHONL;
const STANDARD_RATES: [(u32, u32); 31] = [
    (0, libc::B0), (50, libc::B50), (75, libc::B75), (110, libc::B110), (134, libc::B134), (150, libc::B150),
    (200, libc::B200), (300, libc::B300), (600, libc::B600), (1200, libc::B1200), (1800, libc::B1800),
    (2400, libc::B2400), (4800, libc::B4800), (9600, libc::B9600), (19200, libc::B19200), (38400, libc::B38400),
    (57600, libc::B57600), (115200, libc::B115200), (230400, libc::B230400), (460800, libc::B460800),
    (500000, libc::B500000), (576000, libc::B576000), (921600, libc::B921600), (1000000, libc::B1000000),
    (1152000, libc::B1152000), (1500000, libc::B1500000), (2000000, libc::B2000000), (2500000, libc::B2500000),
    (3000000, libc::B3000000), (3500000, libc::B3500000), (4000000, libc::B4000000),
];

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
        let fd = open_checked(path, flags.oflags()?, libc::S_IFCHR, "a terminal")?;
        Terminal::verify(fd.as_fd()).map_err(|_| Error::invalid(format!("{} is not a terminal", path.to_string_lossy())))?;
        Ok(Terminal { fd })
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
        let link = std::fs::read_link(format!("/proc/self/fd/{}", self.raw()))
            .map_err(|e| Error::from(e).context("reading /proc/self/fd"))?;
        Ok(link.to_string_lossy().into_owned())
    }

    /// The path of a master's slave (`/dev/pts/N`, from `TIOCGPTN`).
    pub fn peer_path(&self) -> Result<String> {
        let mut n: libc::c_uint = 0;
        ioctl_ptr(self.raw(), libc::TIOCGPTN as _, &mut n, "TIOCGPTN")?;
        Ok(format!("/dev/pts/{n}"))
    }

    fn get2(&self) -> Result<libc::termios2> {
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        ioctl_ptr(self.raw(), libc::TCGETS2 as _, &mut t, "TCGETS2")?;
        Ok(t)
    }

    pub fn get(&self) -> Result<Settings> {
        Ok(decode(&self.get2()?))
    }

    pub fn set(&self, s: &Settings, when: When) -> Result<()> {
        let mut t = self.get2()?;
        encode(s, &mut t)?;
        let request = match when {
            When::Now => libc::TCSETS2,
            When::Drain => libc::TCSETSW2,
            When::Flush => libc::TCSETSF2,
        };
        ioctl_ptr(self.raw(), request as _, &mut t, "setting the terminal attributes")?;
        Ok(())
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

/// The settings that `t` describes.
pub fn decode(t: &libc::termios2) -> Settings {
        let mode = if t.c_lflag & libc::ICANON != 0 {
            Mode::Canonical
        } else if t.c_lflag & RAW_LFLAG == 0 && t.c_iflag & RAW_IFLAG == 0 && t.c_oflag & libc::OPOST == 0 {
            Mode::Raw
        } else {
            Mode::Other
        };
        let data_bits = match t.c_cflag & libc::CSIZE {
            x if x == libc::CS5 => 5,
            x if x == libc::CS6 => 6,
            x if x == libc::CS7 => 7,
            _ => 8,
        };
        let c = t.c_cflag;
        let parity = if c & libc::PARENB == 0 {
            Parity::None
        } else {
            match (c & libc::CMSPAR != 0, c & libc::PARODD != 0) {
                (false, true) => Parity::Odd,
                (false, false) => Parity::Even,
                (true, true) => Parity::Mark,
                (true, false) => Parity::Space,
            }
        };
        let flow = if c & libc::CRTSCTS != 0 {
            Flow::RtsCts
        } else if t.c_iflag & (libc::IXON | libc::IXOFF) != 0 {
            Flow::XonXoff
        } else {
            Flow::None
        };
        Settings {
            mode,
            echo: t.c_lflag & libc::ECHO != 0,
            baud: t.c_ospeed,
            data_bits,
            parity,
            stop_bits: if c & libc::CSTOPB != 0 { 2 } else { 1 },
            flow,
            vmin: t.c_cc[libc::VMIN],
            vtime: t.c_cc[libc::VTIME],
        }
}

/// Changes `t` to describe `s`, leaving the bits `Settings` does not cover alone.
pub fn encode(s: &Settings, t: &mut libc::termios2) -> Result<()> {
        if !(5..=8).contains(&s.data_bits) {
            return Err(Error::invalid(format!("{} data bits; 5 to 8", s.data_bits)));
        }
        if !(1..=2).contains(&s.stop_bits) {
            return Err(Error::invalid(format!("{} stop bits; 1 or 2", s.stop_bits)));
        }
        let (iflag, oflag, lflag) = (&mut t.c_iflag, &mut t.c_oflag, &mut t.c_lflag);
        match s.mode {
            Mode::Raw => {
                *iflag &= !(RAW_IFLAG);
                *oflag &= !(libc::OPOST);
                *lflag &= !RAW_LFLAG;
            }
            Mode::Canonical => {
                *iflag = (*iflag & !(libc::INLCR | libc::IGNCR)) | libc::ICRNL | libc::BRKINT;
                *oflag |= libc::OPOST | libc::ONLCR;
                *lflag |= libc::ICANON | libc::ISIG | libc::IEXTEN;
            }
            Mode::Other => {}
        }
        let echo_bits = libc::ECHO | libc::ECHOE | libc::ECHOK;
        if s.echo {
            *lflag |= echo_bits;
        } else {
            *lflag &= !echo_bits;
        }
        let mut c = t.c_cflag & !(libc::CSIZE | libc::PARENB | libc::PARODD | libc::CSTOPB | libc::CRTSCTS | libc::CMSPAR);
        c |= match s.data_bits {
            5 => libc::CS5,
            6 => libc::CS6,
            7 => libc::CS7,
            _ => libc::CS8,
        };
        c |= match s.parity {
            Parity::None => 0,
            Parity::Odd => libc::PARENB | libc::PARODD,
            Parity::Even => libc::PARENB,
            Parity::Mark => (libc::PARENB | libc::PARODD) | libc::CMSPAR,
            Parity::Space => libc::PARENB | libc::CMSPAR,
        };
        if s.stop_bits == 2 {
            c |= libc::CSTOPB;
        }
        t.c_iflag &= !(libc::IXON | libc::IXOFF | libc::IXANY);
        match s.flow {
            Flow::None => {}
            Flow::RtsCts => c |= libc::CRTSCTS,
            Flow::XonXoff => t.c_iflag |= libc::IXON | libc::IXOFF,
        }
        c |= libc::CREAD;
        // Baud: a standard rate by its code, any other through BOTHER; input follows output.
        let cbaud = libc::CBAUD;
        c &= !(cbaud | (cbaud << libc::IBSHIFT));
        c |= STANDARD_RATES.iter().find(|(r, _)| *r == s.baud).map_or(libc::BOTHER, |(_, code)| *code);
        t.c_cflag = c;
        t.c_ispeed = s.baud;
        t.c_ospeed = s.baud;
        t.c_cc[libc::VMIN] = s.vmin;
        t.c_cc[libc::VTIME] = s.vtime;
        Ok(())
}

fd_object!(Terminal, Kind::Terminal);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_survives_encode_and_decode() {
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        for parity in [Parity::None, Parity::Odd, Parity::Even, Parity::Mark, Parity::Space] {
            for data_bits in 5..=8u8 {
                for (stop_bits, flow) in [(1u8, Flow::None), (2, Flow::RtsCts), (1, Flow::XonXoff)] {
                    for (mode, echo, baud) in [(Mode::Raw, false, 9600u32), (Mode::Canonical, true, 12345)] {
                        let s = Settings { mode, echo, baud, data_bits, parity, stop_bits, flow, vmin: 3, vtime: 4 };
                        encode(&s, &mut t).expect("valid settings");
                        assert_eq!(decode(&t), s);
                    }
                }
            }
        }
    }

    #[test]
    fn standard_rates_use_their_code_and_others_bother() {
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        let mut s = Settings { mode: Mode::Raw, echo: false, baud: 115200, data_bits: 8, parity: Parity::None, stop_bits: 1, flow: Flow::None, vmin: 1, vtime: 0 };
        encode(&s, &mut t).expect("valid");
        assert_eq!(t.c_cflag & libc::CBAUD, libc::B115200);
        s.baud = 250000;
        encode(&s, &mut t).expect("valid");
        assert_eq!(t.c_cflag & libc::CBAUD, libc::BOTHER);
        assert_eq!((t.c_ispeed, t.c_ospeed), (250000, 250000));
        s.data_bits = 9;
        assert!(encode(&s, &mut t).is_err());
    }
}
