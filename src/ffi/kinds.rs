//! Kind numbers (`FDSAFE_KIND_*`) and flag checking shared by the C functions.

use std::ffi::{c_char, c_int};

use bitflags::Flags;

use crate::error::{Error, Result};
use crate::handles::Kind;

/// The kind of a handle: an `FDSAFE_KIND_*` value (> 0), as `fdsafe_handle_kind` returns it
/// and `fdsafe_kind_name`, `fdsafe_fd_adopt`, `fdsafe_pidfd_getfd` and
/// `fdsafe_socket_recv_handles_as` take it. Signed, like every return value, so that
/// `fdsafe_handle_kind` returns a kind or a negative error code in the same type.
pub type fdsafe_kind = c_int;

pub const FDSAFE_KIND_PIPE: fdsafe_kind = 1;
pub const FDSAFE_KIND_EVENTFD: fdsafe_kind = 2;
/// A duplicate of standard input, output or error (`fdsafe_stdio_open`).
pub const FDSAFE_KIND_STDIO: fdsafe_kind = 3;
pub const FDSAFE_KIND_FILE: fdsafe_kind = 4;
pub const FDSAFE_KIND_FIFO: fdsafe_kind = 5;
pub const FDSAFE_KIND_CHARDEV: fdsafe_kind = 6;
pub const FDSAFE_KIND_TERMINAL: fdsafe_kind = 7;
pub const FDSAFE_KIND_MEMFD: fdsafe_kind = 8;
pub const FDSAFE_KIND_PIDFD: fdsafe_kind = 9;
pub const FDSAFE_KIND_EPOLL: fdsafe_kind = 10;
pub const FDSAFE_KIND_TIMERFD: fdsafe_kind = 11;
pub const FDSAFE_KIND_SIGNALFD: fdsafe_kind = 12;
pub const FDSAFE_KIND_INOTIFY: fdsafe_kind = 13;
pub const FDSAFE_KIND_FANOTIFY: fdsafe_kind = 14;
pub const FDSAFE_KIND_MQUEUE: fdsafe_kind = 15;
pub const FDSAFE_KIND_TCP_LISTENER: fdsafe_kind = 16;
pub const FDSAFE_KIND_TCP_STREAM: fdsafe_kind = 17;
pub const FDSAFE_KIND_UDP: fdsafe_kind = 18;
pub const FDSAFE_KIND_UNIX_LISTENER: fdsafe_kind = 19;
pub const FDSAFE_KIND_UNIX_STREAM: fdsafe_kind = 20;
pub const FDSAFE_KIND_UNIX_DATAGRAM: fdsafe_kind = 21;
pub const FDSAFE_KIND_UNIX_SEQPACKET_LISTENER: fdsafe_kind = 22;
pub const FDSAFE_KIND_UNIX_SEQPACKET: fdsafe_kind = 23;
/// A descriptor of a kind fdsafe has no type for (a block device, `userfaultfd`...; an
/// unattached `/dev/net/tun` is a character device, `FDSAFE_KIND_CHARDEV`), received over a
/// socket or adopted as such: the generic operations only.
/// `fdsafe_fd_adopt` accepts any open descriptor as this kind.
pub const FDSAFE_KIND_OTHER: fdsafe_kind = 24;
/// A socket of any family, type and protocol (netlink, packet, vsock, raw IP...), made by
/// `fdsafe_socket_create`, accepted on such a socket, or received or adopted when fdsafe has
/// no typed kind for its family: every socket operation, addresses as the kernel's sockaddr
/// bytes.
pub const FDSAFE_KIND_SOCKET: fdsafe_kind = 25;
/// `/dev/net/tun` attached to a TUN or TAP network interface (`fdsafe_tun_open`): one whole
/// packet per `fdsafe_read` and `fdsafe_write`.
pub const FDSAFE_KIND_TUN: fdsafe_kind = 26;

pub fn kind_from_c(kind: fdsafe_kind) -> Result<Kind> {
    kind_of(kind).ok_or_else(|| Error::invalid(format!("{kind} is not an FDSAFE_KIND_* value")))
}

/// Checks that `bits` holds only known flags of `F`.
pub fn parse_flags<F: Flags<Bits = u32>>(bits: u32, what: &str) -> Result<F> {
    F::from_bits(bits).ok_or_else(|| Error::invalid(format!("unknown {what} flag bits {:#x}", bits & !F::all().bits())))
}

/// Translates flags in the C API's values (the kernel's, or fdsafe-only ones) into the core's
/// flags: each `(value, flag)` pair whose bits are all present sets `flag`; any bit left over is
/// refused. Values may share bits (every fdsafe-only flag has `FDSAFE_OWN_FLAG`); a value all of
/// whose bits an earlier pair already took (`O_DIRECTORY` inside `O_TMPFILE`) is skipped.
pub fn map_flags<F: Flags<Bits = u32> + Copy>(bits: u32, table: &[(u32, F)], what: &str) -> Result<F> {
    let mut taken = 0;
    let mut out = F::empty();
    for &(value, flag) in table {
        if value != 0 && bits & value == value && value & !taken != 0 {
            taken |= value;
            out.insert(flag);
        }
    }
    let rest = bits & !taken;
    if rest != 0 {
        return Err(Error::invalid(format!("unknown {what} flag bits {rest:#x}")));
    }
    Ok(out)
}

/// The flags of a call that makes descriptors and takes only `FDSAFE_NONBLOCK`: whether it
/// was given. `FDSAFE_O_CLOEXEC` (the kernel's `SOCK_CLOEXEC`, `O_CLOEXEC`...) is accepted,
/// always in force; anything else is refused.
pub fn nonblocking_flag(bits: u32, what: &str) -> Result<bool> {
    let rest = bits & !(super::FDSAFE_NONBLOCK | super::file::FDSAFE_O_CLOEXEC);
    if rest != 0 {
        return Err(Error::invalid(format!("unknown {what} flag bits {rest:#x}")));
    }
    Ok(bits & super::FDSAFE_NONBLOCK != 0)
}

/// Reads a flags argument that takes one flag: `false` for 0, `true` for exactly `flag`;
/// anything else (another flag, or part of this one, like `FDSAFE_OWN_FLAG` alone) is refused.
pub fn single_flag(bits: u32, flag: u32, what: &str) -> Result<bool> {
    match bits {
        0 => Ok(false),
        b if b == flag => Ok(true),
        b => Err(Error::invalid(format!("unknown {what} flag bits {b:#x}"))),
    }
}

/// The name of a kind (`"pipe"`, `"eventfd"`, `"tcp_stream"`...), or `"unknown"` for a number
/// that is not an `FDSAFE_KIND_*` value. A static string; never NULL.
/// Errors: none. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_kind_name(kind: fdsafe_kind) -> *const c_char {
    kind_of(kind).map_or(c"unknown".as_ptr(), |k| k.c_name().as_ptr())
}

/// The core kind of an `FDSAFE_KIND_*` number; `None` for anything else, negatives included.
fn kind_of(kind: fdsafe_kind) -> Option<Kind> {
    u32::try_from(kind).ok().and_then(Kind::from_u32)
}

pub(crate) fn kind_code(kind: Kind) -> fdsafe_kind {
    kind as fdsafe_kind
}

#[cfg(test)]
mod tests {
    use super::*;

    bitflags::bitflags! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        struct Test: u32 {
            const A = 1;
            const B = 2;
            const WIDE = 4;
            const INNER = 8;
        }
    }

    #[test]
    fn map_flags_takes_shared_bits_and_refuses_the_rest() {
        let own = crate::ffi::FDSAFE_OWN_FLAG;
        let table = [(own | 1, Test::A), (own | 2, Test::B), (0x30, Test::WIDE), (0x10, Test::INNER)];
        assert_eq!(map_flags(own | 1 | 2, &table, "t").unwrap(), Test::A | Test::B);
        assert_eq!(map_flags(0x30, &table, "t").unwrap(), Test::WIDE); // INNER's bit is inside WIDE
        assert_eq!(map_flags(0x10, &table, "t").unwrap(), Test::INNER);
        assert!(map_flags(1, &table, "t").is_err()); // the bit without the mark
        assert!(map_flags(own, &table, "t").is_err()); // the mark alone
        assert!(map_flags(own | 4, &table, "t").is_err());
    }

    #[test]
    fn kind_constants_match_the_core() {
        let table = [
            (FDSAFE_KIND_PIPE, Kind::Pipe),
            (FDSAFE_KIND_EVENTFD, Kind::EventFd),
            (FDSAFE_KIND_STDIO, Kind::Stdio),
            (FDSAFE_KIND_FILE, Kind::File),
            (FDSAFE_KIND_FIFO, Kind::Fifo),
            (FDSAFE_KIND_CHARDEV, Kind::CharDevice),
            (FDSAFE_KIND_TERMINAL, Kind::Terminal),
            (FDSAFE_KIND_MEMFD, Kind::MemFd),
            (FDSAFE_KIND_PIDFD, Kind::PidFd),
            (FDSAFE_KIND_EPOLL, Kind::Epoll),
            (FDSAFE_KIND_TIMERFD, Kind::TimerFd),
            (FDSAFE_KIND_SIGNALFD, Kind::SignalFd),
            (FDSAFE_KIND_INOTIFY, Kind::Inotify),
            (FDSAFE_KIND_FANOTIFY, Kind::Fanotify),
            (FDSAFE_KIND_MQUEUE, Kind::MessageQueue),
            (FDSAFE_KIND_TCP_LISTENER, Kind::TcpListener),
            (FDSAFE_KIND_TCP_STREAM, Kind::TcpStream),
            (FDSAFE_KIND_UDP, Kind::Udp),
            (FDSAFE_KIND_UNIX_LISTENER, Kind::UnixListener),
            (FDSAFE_KIND_UNIX_STREAM, Kind::UnixStream),
            (FDSAFE_KIND_UNIX_DATAGRAM, Kind::UnixDatagram),
            (FDSAFE_KIND_UNIX_SEQPACKET_LISTENER, Kind::UnixSeqpacketListener),
            (FDSAFE_KIND_UNIX_SEQPACKET, Kind::UnixSeqpacket),
            (FDSAFE_KIND_OTHER, Kind::Other),
            (FDSAFE_KIND_SOCKET, Kind::Socket),
            (FDSAFE_KIND_TUN, Kind::Tun),
        ];
        assert_eq!(table.len(), Kind::ALL.len());
        assert_eq!(kind_of(-1), None);
        for (number, kind) in table {
            assert_eq!(kind_of(number), Some(kind));
            assert_eq!(kind_code(kind), number);
        }
    }
}
