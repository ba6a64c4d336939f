//! Terminal settings: the kernel's words, and the friendly view over them.

use std::ffi::c_int;

use super::{call, fdsafe_handle, in_slice, Out};
use crate::error::{Error, Result};
use crate::handles::{get_as, Handle};
use crate::kinds::terminal::{Terminal, When};
use crate::kinds::termios::{self, Flow, Mode, Parity, Settings, View};

/// Number of control characters in `fdsafe_terminal_settings.cc` (the kernel's `NCCS` for
/// `termios2`; glibc's `struct termios` has more slots, unused by the kernel).
pub const FDSAFE_TERM_NCCS: usize = 19;
const _: () = assert!(FDSAFE_TERM_NCCS == termios::NCCS);

/// `fdsafe_terminal_view.mode`: raw, as `cfmakeraw`: no input or output processing, no line
/// editing, no echo, no signal characters, 8 data bits without parity, reads return after one
/// byte (`VMIN` 1, `VTIME` 0).
pub const FDSAFE_TERM_RAW: u32 = 0;
/// Canonical: line editing (`ICANON`). Setting it also turns on echo (`ECHO`, `ECHOE`,
/// `ECHOK`), signal characters (`ISIG`, `IEXTEN`), CR to NL on input (`ICRNL`, clearing
/// `INLCR`/`IGNCR`) and NL to CR NL on output (`OPOST`, `ONLCR`).
pub const FDSAFE_TERM_CANONICAL: u32 = 1;
/// None of the others, as read back for mixed settings; when setting, the mode bits are left
/// alone.
pub const FDSAFE_TERM_OTHER: u32 = 2;
/// cbreak: no line editing and no echo (`ICANON` and `ECHO` off), but signal characters and
/// output processing (`ISIG` and `OPOST` on); read back only for exactly that. Setting it
/// clears `ICANON` and `ECHO`, sets `ISIG` and `OPOST` and makes reads return after one byte
/// (`VMIN` 1, `VTIME` 0): from canonical settings, what Python's `tty.setcbreak` does.
pub const FDSAFE_TERM_CBREAK: u32 = 3;

/// Parity: none.
pub const FDSAFE_PARITY_NONE: u32 = 0;
/// Odd parity.
pub const FDSAFE_PARITY_ODD: u32 = 1;
/// Even parity.
pub const FDSAFE_PARITY_EVEN: u32 = 2;
/// Mark parity (the bit always 1; `CMSPAR`).
pub const FDSAFE_PARITY_MARK: u32 = 3;
/// Space parity (the bit always 0; `CMSPAR`).
pub const FDSAFE_PARITY_SPACE: u32 = 4;

/// Flow control: none (`CRTSCTS`, `IXON` and `IXOFF` all clear).
pub const FDSAFE_FLOW_NONE: u32 = 0;
/// Hardware flow control (`CRTSCTS`, without `IXON`/`IXOFF`).
pub const FDSAFE_FLOW_RTSCTS: u32 = 1;
/// Software flow control (`IXON | IXOFF`, without `CRTSCTS`).
pub const FDSAFE_FLOW_XONXOFF: u32 = 2;
/// A mix, such as a fresh terminal's `IXON` without `IXOFF`; when setting, left alone.
pub const FDSAFE_FLOW_OTHER: u32 = 3;

/// `fdsafe_terminal_set` timing: apply now (`TCSANOW`).
pub const FDSAFE_TERM_APPLY_NOW: u32 = 0;
/// Apply once all output has been sent (`TCSADRAIN`).
pub const FDSAFE_TERM_APPLY_DRAIN: u32 = 1;
/// Apply after sending output and discarding unread input (`TCSAFLUSH`).
pub const FDSAFE_TERM_APPLY_FLUSH: u32 = 2;
const _: () = assert!(FDSAFE_TERM_APPLY_NOW == libc::TCSANOW as u32 && FDSAFE_TERM_APPLY_DRAIN == libc::TCSADRAIN as u32);
const _: () = assert!(FDSAFE_TERM_APPLY_FLUSH == libc::TCSAFLUSH as u32);

/// A terminal's settings exactly as the kernel keeps them (`struct termios2`): reading them
/// with `fdsafe_terminal_get` and applying them with `fdsafe_terminal_set` changes nothing.
/// The flag words take the kernel's bits, the names of `<termios.h>` (`ICRNL`, `ONLCR`,
/// `CSTOPB`, `ECHO`...); any one can be set or cleared. For the friendly fields (mode,
/// speed, data bits, parity, stop bits, flow control) see `fdsafe_terminal_view`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_terminal_settings {
    /// Input flags (`c_iflag`).
    pub iflag: u32,
    /// Output flags (`c_oflag`).
    pub oflag: u32,
    /// Control flags (`c_cflag`), the speed codes (`CBAUD`, `CIBAUD`) included.
    pub cflag: u32,
    /// Local flags (`c_lflag`).
    pub lflag: u32,
    /// Line discipline (`c_line`; 0 is `N_TTY`).
    pub line: u8,
    /// Control characters, indexed by the kernel's `V*` numbers of `<termios.h>` (`VINTR`,
    /// `VEOF`, `VMIN`, `VTIME`...).
    pub cc: [u8; FDSAFE_TERM_NCCS],
    /// Input speed in bits per second (`c_ispeed`; with `BOTHER` in `CIBAUD`, any rate).
    pub ispeed: u32,
    /// Output speed in bits per second (`c_ospeed`; with `BOTHER` in `CBAUD`, any rate).
    pub ospeed: u32,
}

/// The friendly fields of `fdsafe_terminal_settings`, each computed from its words by
/// `fdsafe_terminal_view_get` and written back by `fdsafe_terminal_view_set`, which changes
/// only the bits of the fields whose value differs from what the words say.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_terminal_view {
    /// `FDSAFE_TERM_RAW`, `FDSAFE_TERM_CBREAK`, `FDSAFE_TERM_CANONICAL` or `FDSAFE_TERM_OTHER`.
    pub mode: u32,
    /// Output speed in bits per second, any rate (standard rates use their `B*` code, others
    /// `BOTHER`); setting it sets the input speed alike.
    pub baud: u32,
    /// Data bits: 5 to 8.
    pub data_bits: u32,
    /// `FDSAFE_PARITY_*`.
    pub parity: u32,
    /// Stop bits: 1 or 2.
    pub stop_bits: u32,
    /// `FDSAFE_FLOW_*`.
    pub flow: u32,
}

fn settings_to_c(s: &Settings) -> fdsafe_terminal_settings {
    fdsafe_terminal_settings { iflag: s.iflag, oflag: s.oflag, cflag: s.cflag, lflag: s.lflag, line: s.line, cc: s.cc, ispeed: s.ispeed, ospeed: s.ospeed }
}

pub(crate) fn settings_from_c(c: &fdsafe_terminal_settings) -> Settings {
    Settings { iflag: c.iflag, oflag: c.oflag, cflag: c.cflag, lflag: c.lflag, line: c.line, cc: c.cc, ispeed: c.ispeed, ospeed: c.ospeed }
}

fn view_to_c(v: View) -> fdsafe_terminal_view {
    fdsafe_terminal_view {
        mode: match v.mode {
            Mode::Raw => FDSAFE_TERM_RAW,
            Mode::Cbreak => FDSAFE_TERM_CBREAK,
            Mode::Canonical => FDSAFE_TERM_CANONICAL,
            Mode::Other => FDSAFE_TERM_OTHER,
        },
        baud: v.baud,
        data_bits: v.data_bits.into(),
        parity: match v.parity {
            Parity::None => FDSAFE_PARITY_NONE,
            Parity::Odd => FDSAFE_PARITY_ODD,
            Parity::Even => FDSAFE_PARITY_EVEN,
            Parity::Mark => FDSAFE_PARITY_MARK,
            Parity::Space => FDSAFE_PARITY_SPACE,
        },
        stop_bits: v.stop_bits.into(),
        flow: match v.flow {
            Flow::None => FDSAFE_FLOW_NONE,
            Flow::RtsCts => FDSAFE_FLOW_RTSCTS,
            Flow::XonXoff => FDSAFE_FLOW_XONXOFF,
            Flow::Other => FDSAFE_FLOW_OTHER,
        },
    }
}

fn small(value: u32, what: &str) -> Result<u8> {
    u8::try_from(value).map_err(|_| Error::invalid(format!("{value} {what}")))
}

fn view_from_c(c: &fdsafe_terminal_view) -> Result<View> {
    Ok(View {
        mode: match c.mode {
            FDSAFE_TERM_RAW => Mode::Raw,
            FDSAFE_TERM_CBREAK => Mode::Cbreak,
            FDSAFE_TERM_CANONICAL => Mode::Canonical,
            FDSAFE_TERM_OTHER => Mode::Other,
            m => return Err(Error::invalid(format!("mode {m} is not an FDSAFE_TERM_* mode"))),
        },
        baud: c.baud,
        data_bits: small(c.data_bits, "data bits; 5 to 8")?,
        parity: match c.parity {
            FDSAFE_PARITY_NONE => Parity::None,
            FDSAFE_PARITY_ODD => Parity::Odd,
            FDSAFE_PARITY_EVEN => Parity::Even,
            FDSAFE_PARITY_MARK => Parity::Mark,
            FDSAFE_PARITY_SPACE => Parity::Space,
            p => return Err(Error::invalid(format!("parity {p} is not an FDSAFE_PARITY_* value"))),
        },
        stop_bits: small(c.stop_bits, "stop bits; 1 or 2")?,
        flow: match c.flow {
            FDSAFE_FLOW_NONE => Flow::None,
            FDSAFE_FLOW_RTSCTS => Flow::RtsCts,
            FDSAFE_FLOW_XONXOFF => Flow::XonXoff,
            FDSAFE_FLOW_OTHER => Flow::Other,
            f => return Err(Error::invalid(format!("flow {f} is not an FDSAFE_FLOW_* value"))),
        },
    })
}

/// A caller's input struct: NULL or misaligned is refused.
pub(crate) fn single<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    in_slice(ptr, 1, name)?.first().ok_or_else(|| Error::invalid(format!("{name} is NULL")))
}

/// Reads the terminal's settings, every flag word and control character, into
/// `*settings_out` (`TCGETS2`).
///
/// Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a
/// NULL `settings_out`; `-EIO` for a pty slave whose master was closed. Thread safety: any
/// thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_get(handle: fdsafe_handle, settings_out: *mut fdsafe_terminal_settings) -> c_int {
    call("fdsafe_terminal_get", || {
        let out = Out::new(settings_out, "settings_out")?;
        out.write(settings_to_c(&get_as::<Terminal>(Handle(handle), "a terminal")?.get()?));
        Ok(0)
    })
}

/// Applies `*settings` word for word (`TCSETS2`/`TCSETSW2`/`TCSETSF2`): `when` is
/// `FDSAFE_TERM_APPLY_NOW`, `_DRAIN` or `_FLUSH`. Settings read with `fdsafe_terminal_get`
/// and applied unchanged change nothing. The kernel may adjust what a device cannot do (a
/// pseudo-terminal forces `CS8` and clears `PARENB`); read back to see.
///
/// Returns 0. `_DRAIN` and `_FLUSH` wait for output to be sent; a signal gives `-EINTR`.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `settings` or an unknown `when`; `-EINVAL` from the kernel for a rate the device cannot
/// do; `-EINTR`. Thread safety: any thread; concurrent setters race as with `tcsetattr`.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_set(handle: fdsafe_handle, settings: *const fdsafe_terminal_settings, when: u32) -> c_int {
    call("fdsafe_terminal_set", || {
        let settings = settings_from_c(single(settings, "settings")?);
        let when = match when {
            FDSAFE_TERM_APPLY_NOW => When::Now,
            FDSAFE_TERM_APPLY_DRAIN => When::Drain,
            FDSAFE_TERM_APPLY_FLUSH => When::Flush,
            w => return Err(Error::invalid(format!("when {w} is not an FDSAFE_TERM_APPLY_* value"))),
        };
        get_as::<Terminal>(Handle(handle), "a terminal")?.set(&settings, when)?;
        Ok(0)
    })
}

/// Computes the friendly fields of `*settings` into `*view_out`: the mode (raw, cbreak,
/// canonical, or other), the output speed, data bits, parity, stop bits and flow control.
/// Touches no terminal.
///
/// Returns 0. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL pointer. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_view_get(settings: *const fdsafe_terminal_settings, view_out: *mut fdsafe_terminal_view) -> c_int {
    call("fdsafe_terminal_view_get", || {
        let s = settings_from_c(single(settings, "settings")?);
        Out::new(view_out, "view_out")?.write(view_to_c(s.view()));
        Ok(0)
    })
}

/// Writes the friendly fields of `*view` into `*settings`, changing only the bits of the
/// fields whose value differs from what `fdsafe_terminal_view_get` reads from `*settings`:
/// first the mode (`FDSAFE_TERM_RAW` as `cfmakeraw`, `FDSAFE_TERM_CBREAK`,
/// `FDSAFE_TERM_CANONICAL`, each as its constant says; `FDSAFE_TERM_OTHER` changes nothing), then each
/// other field against the view after the mode change. A view read and written back
/// unchanged changes nothing. Touches no terminal: apply the result with `fdsafe_terminal_set`.
///
/// Returns 0; on error `*settings` is unchanged. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a
/// NULL pointer, an unknown mode, parity or flow, data bits outside 5-8 or stop bits other
/// than 1 or 2. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_view_set(settings: *mut fdsafe_terminal_settings, view: *const fdsafe_terminal_view) -> c_int {
    call("fdsafe_terminal_view_set", || {
        let view = view_from_c(single(view, "view")?)?;
        let out = Out::new(settings, "settings")?;
        let mut s = settings_from_c(single(settings.cast_const(), "settings")?);
        s.set_view(&view).map_err(Error::invalid)?;
        out.write(settings_to_c(&s));
        Ok(0)
    })
}
