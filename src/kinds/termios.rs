//! Terminal settings as the kernel keeps them (`termios2`: the four flag words, every control
//! character, the speeds), and the friendly view over them (mode, speed, data bits, parity,
//! stop bits, flow control).
//!
//! The words are the truth: reading settings and writing them back changes nothing. A view
//! is computed from the words; setting a view changes only the bits of the fields whose value
//! differs from the view read from the same words, so a view read and set back unchanged is
//! a no-op too.

/// Number of control characters in `termios2` (`NCCS` of the kernel, 19 on x86).
pub(crate) const NCCS: usize = 19;
// Four flag words, the line discipline, the control characters, two speeds: no padding.
const _: () = assert!(std::mem::size_of::<libc::termios2>() == 16 + 1 + NCCS + 8);

/// The kernel's `termios2`, field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Settings {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
    pub ispeed: u32,
    pub ospeed: u32,
}

impl Settings {
    pub fn from_kernel(t: &libc::termios2) -> Settings {
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&t.c_cc[..NCCS]);
        Settings { iflag: t.c_iflag, oflag: t.c_oflag, cflag: t.c_cflag, lflag: t.c_lflag, line: t.c_line, cc, ispeed: t.c_ispeed, ospeed: t.c_ospeed }
    }

    pub fn to_kernel(&self) -> libc::termios2 {
        // SAFETY: termios2 is plain integers.
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        t.c_iflag = self.iflag;
        t.c_oflag = self.oflag;
        t.c_cflag = self.cflag;
        t.c_lflag = self.lflag;
        t.c_line = self.line;
        t.c_cc[..NCCS].copy_from_slice(&self.cc);
        t.c_ispeed = self.ispeed;
        t.c_ospeed = self.ospeed;
        t
    }
}

/// The line discipline mode a [`View`] reports or sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cfmakeraw`: no input or output processing, no line editing, no echo, no signal
    /// characters, 8 data bits without parity, reads return after 1 byte.
    Raw,
    /// No line editing and no echo, but signal characters and output processing; reads
    /// return after 1 byte. Set from canonical settings, Python's `tty.setcbreak`.
    Cbreak,
    /// Line editing (`ICANON`); set: also echo, signal characters, CR to NL on input and
    /// NL to CR NL on output (`stty cooked echo`).
    Canonical,
    /// None of these (reading); left alone (setting).
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
    /// A mix (e.g. `IXON` without `IXOFF`, a fresh terminal's setting); left alone when set.
    Other,
}

/// The friendly fields, each a view over the words of [`Settings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub mode: Mode,
    /// Output speed in bits per second (any rate; setting it sets input alike).
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
    pub flow: Flow,
}

/// The bits `cfmakeraw` clears, word by word.
const RAW_IFLAG: u32 = libc::IGNBRK | libc::BRKINT | libc::PARMRK | libc::ISTRIP | libc::INLCR | libc::IGNCR | libc::ICRNL | libc::IXON;
const RAW_LFLAG: u32 = libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN;
const CBREAK_LFLAG: u32 = libc::ECHO | libc::ICANON;
const COOKED_LFLAG: u32 = libc::ICANON | libc::ISIG | libc::IEXTEN | libc::ECHO | libc::ECHOE | libc::ECHOK;
const FLOW_BITS: (u32, u32) = (libc::IXON | libc::IXOFF, libc::CRTSCTS);

const STANDARD_RATES: [(u32, u32); 31] = [
    (0, libc::B0), (50, libc::B50), (75, libc::B75), (110, libc::B110), (134, libc::B134), (150, libc::B150),
    (200, libc::B200), (300, libc::B300), (600, libc::B600), (1200, libc::B1200), (1800, libc::B1800),
    (2400, libc::B2400), (4800, libc::B4800), (9600, libc::B9600), (19200, libc::B19200), (38400, libc::B38400),
    (57600, libc::B57600), (115200, libc::B115200), (230400, libc::B230400), (460800, libc::B460800),
    (500000, libc::B500000), (576000, libc::B576000), (921600, libc::B921600), (1000000, libc::B1000000),
    (1152000, libc::B1152000), (1500000, libc::B1500000), (2000000, libc::B2000000), (2500000, libc::B2500000),
    (3000000, libc::B3000000), (3500000, libc::B3500000), (4000000, libc::B4000000),
];

fn is_raw(s: &Settings) -> bool {
    s.iflag & RAW_IFLAG == 0
        && s.oflag & libc::OPOST == 0
        && s.lflag & RAW_LFLAG == 0
        && s.cflag & libc::CSIZE == libc::CS8
        && s.cflag & libc::PARENB == 0
}

impl Settings {
    pub fn view(&self) -> View {
        let mode = if is_raw(self) {
            Mode::Raw
        } else if self.lflag & libc::ICANON != 0 {
            Mode::Canonical
        } else if self.lflag & (CBREAK_LFLAG | libc::ISIG) == libc::ISIG && self.oflag & libc::OPOST != 0 {
            Mode::Cbreak
        } else {
            Mode::Other
        };
        let data_bits = match self.cflag & libc::CSIZE {
            x if x == libc::CS5 => 5,
            x if x == libc::CS6 => 6,
            x if x == libc::CS7 => 7,
            _ => 8,
        };
        let c = self.cflag;
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
        let flow = match (self.iflag & FLOW_BITS.0, c & FLOW_BITS.1) {
            (0, 0) => Flow::None,
            (0, _) => Flow::RtsCts,
            (x, 0) if x == FLOW_BITS.0 => Flow::XonXoff,
            _ => Flow::Other,
        };
        View { mode, baud: self.ospeed, data_bits, parity, stop_bits: if c & libc::CSTOPB != 0 { 2 } else { 1 }, flow }
    }

    /// Sets the mode: `Raw` as `cfmakeraw`, `Cbreak` as Python's `tty.setcbreak` plus `ISIG`
    /// and `OPOST`, `Canonical` as `stty cooked echo`; `Other` changes nothing.
    pub fn make(&mut self, mode: Mode) {
        match mode {
            Mode::Raw => {
                self.iflag &= !RAW_IFLAG;
                self.oflag &= !libc::OPOST;
                self.lflag &= !RAW_LFLAG;
                self.cflag = (self.cflag & !(libc::CSIZE | libc::PARENB)) | libc::CS8;
                self.cc[libc::VMIN] = 1;
                self.cc[libc::VTIME] = 0;
            }
            Mode::Cbreak => {
                // ISIG and OPOST too, so that cbreak set from raw settings reads back as cbreak.
                self.lflag = (self.lflag & !CBREAK_LFLAG) | libc::ISIG;
                self.oflag |= libc::OPOST;
                self.cc[libc::VMIN] = 1;
                self.cc[libc::VTIME] = 0;
            }
            Mode::Canonical => {
                self.iflag = (self.iflag & !(libc::INLCR | libc::IGNCR)) | libc::ICRNL;
                self.oflag |= libc::OPOST | libc::ONLCR;
                self.lflag |= COOKED_LFLAG;
            }
            Mode::Other => {}
        }
    }

    /// Sets the speed, input and output alike: a standard rate by its `B*` code, any other
    /// through `BOTHER`.
    pub fn set_baud(&mut self, baud: u32) {
        let code = STANDARD_RATES.iter().find(|(r, _)| *r == baud).map_or(libc::BOTHER, |(_, code)| *code);
        // CIBAUD 0: input follows output.
        self.cflag = (self.cflag & !(libc::CBAUD | (libc::CBAUD << libc::IBSHIFT))) | code;
        self.ispeed = baud;
        self.ospeed = baud;
    }

    /// Applies the fields of `v` that differ from [`Settings::view`]: first the mode, then
    /// each other field against the view after the mode change. Nothing is changed when a
    /// field is invalid.
    pub fn set_view(&mut self, v: &View) -> Result<(), String> {
        if !(5..=8).contains(&v.data_bits) {
            return Err(format!("{} data bits; 5 to 8", v.data_bits));
        }
        if !(1..=2).contains(&v.stop_bits) {
            return Err(format!("{} stop bits; 1 or 2", v.stop_bits));
        }
        if v.mode != self.view().mode {
            self.make(v.mode);
        }
        let now = self.view();
        if v.baud != now.baud {
            self.set_baud(v.baud);
        }
        if v.data_bits != now.data_bits {
            let size = [libc::CS5, libc::CS6, libc::CS7, libc::CS8][(v.data_bits - 5) as usize];
            self.cflag = (self.cflag & !libc::CSIZE) | size;
        }
        if v.parity != now.parity {
            let bits = match v.parity {
                Parity::None => 0,
                Parity::Odd => libc::PARENB | libc::PARODD,
                Parity::Even => libc::PARENB,
                Parity::Mark => libc::PARENB | libc::PARODD | libc::CMSPAR,
                Parity::Space => libc::PARENB | libc::CMSPAR,
            };
            // None clears only PARENB: PARODD and CMSPAR mean nothing without it.
            let cleared = if v.parity == Parity::None { libc::PARENB } else { libc::PARENB | libc::PARODD | libc::CMSPAR };
            self.cflag = (self.cflag & !cleared) | bits;
        }
        if v.stop_bits != now.stop_bits {
            self.cflag ^= libc::CSTOPB;
        }
        if v.flow != now.flow && v.flow != Flow::Other {
            let (ix, rts) = match v.flow {
                Flow::RtsCts => (0, FLOW_BITS.1),
                Flow::XonXoff => (FLOW_BITS.0, 0),
                _ => (0, 0),
            };
            self.iflag = (self.iflag & !FLOW_BITS.0) | ix;
            self.cflag = (self.cflag & !FLOW_BITS.1) | rts;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_pty_like() -> Settings {
        // What a new pty reports: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD, ISIG|ICANON|ECHO...
        let mut s = Settings { iflag: libc::ICRNL | libc::IXON, oflag: libc::OPOST | libc::ONLCR, ..Default::default() };
        s.cflag = libc::B38400 | libc::CS8 | libc::CREAD;
        s.lflag = libc::ISIG | libc::ICANON | libc::ECHO | libc::ECHOE | libc::ECHOK | libc::IEXTEN | libc::ECHOCTL | libc::ECHOKE;
        s.ispeed = 38400;
        s.ospeed = 38400;
        s.cc[libc::VINTR] = 3;
        s.cc[libc::VMIN] = 1;
        s
    }

    #[test]
    fn a_view_set_back_unchanged_changes_nothing() {
        let base = fresh_pty_like();
        assert_eq!(base.view().flow, Flow::Other, "IXON without IXOFF is a mix");
        for iflag_bits in [0, libc::IXOFF, libc::IXON | libc::IXOFF, libc::BRKINT] {
            for cflag_bits in [0, libc::PARODD, libc::PARENB | libc::CMSPAR, libc::CSTOPB | libc::CRTSCTS] {
                let mut s = base;
                s.iflag ^= iflag_bits;
                s.cflag ^= cflag_bits;
                let before = s;
                s.set_view(&s.view()).expect("a read view is valid");
                assert_eq!(s, before);
            }
        }
    }

    #[test]
    fn every_field_of_a_view_round_trips() {
        let mut s = fresh_pty_like();
        for parity in [Parity::None, Parity::Odd, Parity::Even, Parity::Mark, Parity::Space] {
            for data_bits in 5..=8u8 {
                for (stop_bits, flow) in [(1u8, Flow::None), (2, Flow::RtsCts), (1, Flow::XonXoff)] {
                    for (mode, baud) in [(Mode::Canonical, 9600u32), (Mode::Cbreak, 12345), (Mode::Other, 50)] {
                        let v = View { mode, baud, data_bits, parity, stop_bits, flow };
                        s.set_view(&v).expect("valid");
                        let got = s.view();
                        assert_eq!((got.baud, got.data_bits, got.parity, got.stop_bits, got.flow), (baud, data_bits, parity, stop_bits, flow));
                    }
                }
            }
        }
    }

    #[test]
    fn raw_and_cbreak_mean_what_cfmakeraw_and_setcbreak_mean() {
        let mut s = fresh_pty_like();
        s.make(Mode::Cbreak);
        assert_eq!(s.lflag & (libc::ECHO | libc::ICANON), 0);
        assert_ne!(s.lflag & libc::ISIG, 0, "cbreak keeps signal characters");
        assert_ne!(s.oflag & libc::OPOST, 0, "cbreak keeps output processing");
        assert_ne!(s.iflag & libc::ICRNL, 0);
        assert_eq!(s.view().mode, Mode::Cbreak);
        let mut r = fresh_pty_like();
        r.cflag |= libc::PARENB;
        r.make(Mode::Raw);
        // SAFETY: plain integers; cfmakeraw only changes the struct.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let f = fresh_pty_like();
        (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag) = (f.iflag, f.oflag, f.cflag | libc::PARENB, f.lflag);
        unsafe { libc::cfmakeraw(&mut t) };
        assert_eq!((r.iflag, r.oflag, r.cflag, r.lflag), (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag));
        assert_eq!((r.cc[libc::VMIN], r.cc[libc::VTIME]), (1, 0));
        assert_eq!(r.view().mode, Mode::Raw);
    }

    /// Raw settings with one thing changed are a mix: without signal characters or output
    /// processing they are not cbreak (they once read back as cbreak).
    #[test]
    fn cbreak_is_read_only_with_signals_and_output_processing() {
        let mut raw = fresh_pty_like();
        raw.make(Mode::Raw);
        let changes: [fn(&mut Settings); 4] = [
            |s| s.cflag = (s.cflag & !libc::CSIZE) | libc::CS7,
            |s| s.lflag |= libc::ISIG,
            |s| s.oflag |= libc::OPOST,
            |s| s.iflag |= libc::ICRNL,
        ];
        for change in changes {
            let mut s = raw;
            change(&mut s);
            assert_eq!(s.view().mode, Mode::Other, "{s:?}");
        }
        let mut from_raw = raw;
        from_raw.make(Mode::Cbreak);
        assert_eq!(from_raw.view().mode, Mode::Cbreak, "cbreak set from raw reads back as cbreak");
        assert_ne!(from_raw.lflag & libc::ISIG, 0);
        let mut seven_bits = raw;
        let view = View { data_bits: 7, ..raw.view() };
        seven_bits.set_view(&view).expect("valid");
        assert_eq!(seven_bits.view().mode, Mode::Other, "raw with 7 data bits is no longer raw, nor cbreak");
    }

    #[test]
    fn standard_rates_use_their_code_and_others_bother() {
        let mut s = fresh_pty_like();
        s.set_baud(115200);
        assert_eq!(s.cflag & libc::CBAUD, libc::B115200);
        s.set_baud(250000);
        assert_eq!(s.cflag & libc::CBAUD, libc::BOTHER);
        assert_eq!((s.ispeed, s.ospeed), (250000, 250000));
        let mut v = s.view();
        v.data_bits = 9;
        assert!(s.set_view(&v).is_err());
    }
}
