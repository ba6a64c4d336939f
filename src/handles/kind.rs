//! The kinds of descriptor a handle can hold. The numbers are part of the C ABI
//! (`FDSAFE_KIND_*`) and never change meaning.

/// The kind of a handle. `0` is not a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Pipe = 1,
    EventFd = 2,
    Stdio = 3,
    File = 4,
    Fifo = 5,
    CharDevice = 6,
    Terminal = 7,
    MemFd = 8,
    PidFd = 9,
    Epoll = 10,
    TimerFd = 11,
    SignalFd = 12,
    Inotify = 13,
    Fanotify = 14,
    MessageQueue = 15,
    TcpListener = 16,
    TcpStream = 17,
    Udp = 18,
    UnixListener = 19,
    UnixStream = 20,
    UnixDatagram = 21,
    UnixSeqpacketListener = 22,
    UnixSeqpacket = 23,
    /// A descriptor of a kind fdsafe has no type for (a block device, an unattached TUN device,
    /// `userfaultfd`...), received or adopted as such: the generic operations only.
    Other = 24,
    /// A socket of any family, type and protocol (netlink, packet, vsock, raw IP...) made
    /// by `fdsafe_socket_create`, or a received or adopted socket of a family fdsafe has no
    /// typed kind for: the operations every socket has, with the kernel's sockaddr bytes.
    Socket = 25,
    /// `/dev/net/tun` attached to a TUN or TAP interface.
    Tun = 26,
}

impl Kind {
    pub const ALL: [Kind; 26] = [
        Kind::Pipe,
        Kind::EventFd,
        Kind::Stdio,
        Kind::File,
        Kind::Fifo,
        Kind::CharDevice,
        Kind::Terminal,
        Kind::MemFd,
        Kind::PidFd,
        Kind::Epoll,
        Kind::TimerFd,
        Kind::SignalFd,
        Kind::Inotify,
        Kind::Fanotify,
        Kind::MessageQueue,
        Kind::TcpListener,
        Kind::TcpStream,
        Kind::Udp,
        Kind::UnixListener,
        Kind::UnixStream,
        Kind::UnixDatagram,
        Kind::UnixSeqpacketListener,
        Kind::UnixSeqpacket,
        Kind::Other,
        Kind::Socket,
        Kind::Tun,
    ];

    pub fn from_u32(value: u32) -> Option<Kind> {
        // The numbers run 1..=ALL.len() without gaps (checked by a test).
        let index = usize::try_from(value).ok()?.checked_sub(1)?;
        Kind::ALL.get(index).copied()
    }

    /// Whether handles of this kind hold a socket.
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            Kind::TcpListener
                | Kind::TcpStream
                | Kind::Udp
                | Kind::UnixListener
                | Kind::UnixStream
                | Kind::UnixDatagram
                | Kind::UnixSeqpacketListener
                | Kind::UnixSeqpacket
                | Kind::Socket
        )
    }

    /// A short lowercase name, as used in messages and by `fdsafe_kind_name`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII names")
    }

    /// The same name, NUL-terminated for C.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Kind::Pipe => c"pipe",
            Kind::EventFd => c"eventfd",
            Kind::Stdio => c"stdio",
            Kind::File => c"file",
            Kind::Fifo => c"fifo",
            Kind::CharDevice => c"chardev",
            Kind::Terminal => c"terminal",
            Kind::MemFd => c"memfd",
            Kind::PidFd => c"pidfd",
            Kind::Epoll => c"epoll",
            Kind::TimerFd => c"timerfd",
            Kind::SignalFd => c"signalfd",
            Kind::Inotify => c"inotify",
            Kind::Fanotify => c"fanotify",
            Kind::MessageQueue => c"mqueue",
            Kind::TcpListener => c"tcp_listener",
            Kind::TcpStream => c"tcp_stream",
            Kind::Udp => c"udp",
            Kind::UnixListener => c"unix_listener",
            Kind::UnixStream => c"unix_stream",
            Kind::UnixDatagram => c"unix_datagram",
            Kind::UnixSeqpacketListener => c"unix_seqpacket_listener",
            Kind::UnixSeqpacket => c"unix_seqpacket",
            Kind::Other => c"other",
            Kind::Socket => c"socket",
            Kind::Tun => c"tun",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn numbers_are_dense_and_round_trip() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i + 1);
            assert_eq!(Kind::from_u32(*kind as u32), Some(*kind));
        }
        assert_eq!(Kind::from_u32(0), None);
        assert_eq!(Kind::from_u32(Kind::ALL.len() as u32 + 1), None);
        assert_eq!(Kind::from_u32(u32::MAX), None);
    }
}
