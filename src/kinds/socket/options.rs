//! Socket options by number, each with get and set, checked against the socket's kind.
//! Every value is an `int`; the meaning of each is documented on [`SockOpt`].

use super::Socket;
use crate::error::{Error, Result};
use crate::handles::Kind;

/// `SO_BUSY_POLL` / `SO_INCOMING_CPU` / `SO_ZEROCOPY` / `TCP_USER_TIMEOUT` / `TCP_FASTOPEN`
/// numbers (present in libc, restated for clarity).
const SO_BUSY_POLL: i32 = 46;
const SO_INCOMING_CPU: i32 = 49;
const SO_ZEROCOPY: i32 = 60;

/// The options. The numbers are the C API's `FDSAFE_SOCKOPT_*` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    NoDelay = 1,
    KeepAlive = 2,
    KeepIdle = 3,
    KeepInterval = 4,
    KeepCount = 5,
    Linger = 6,
    RecvBuffer = 7,
    SendBuffer = 8,
    Ttl = 9,
    UserTimeout = 10,
    BusyPoll = 11,
    IncomingCpu = 12,
    Cork = 13,
    FastOpen = 14,
    Broadcast = 15,
    MulticastLoop = 16,
    MulticastTtl = 17,
    PassCred = 18,
    ReuseAddr = 19,
    ReusePort = 20,
    ZeroCopy = 21,
    V6Only = 22,
}

const ALL: [SockOpt; 22] = [
    SockOpt::NoDelay,
    SockOpt::KeepAlive,
    SockOpt::KeepIdle,
    SockOpt::KeepInterval,
    SockOpt::KeepCount,
    SockOpt::Linger,
    SockOpt::RecvBuffer,
    SockOpt::SendBuffer,
    SockOpt::Ttl,
    SockOpt::UserTimeout,
    SockOpt::BusyPoll,
    SockOpt::IncomingCpu,
    SockOpt::Cork,
    SockOpt::FastOpen,
    SockOpt::Broadcast,
    SockOpt::MulticastLoop,
    SockOpt::MulticastTtl,
    SockOpt::PassCred,
    SockOpt::ReuseAddr,
    SockOpt::ReusePort,
    SockOpt::ZeroCopy,
    SockOpt::V6Only,
];

impl SockOpt {
    pub fn from_u32(n: u32) -> Result<SockOpt> {
        ALL.iter().copied().find(|o| *o as u32 == n).ok_or_else(|| Error::invalid(format!("{n} is not an FDSAFE_SOCKOPT_* value")))
    }
}

fn is_tcp(k: Kind) -> bool {
    matches!(k, Kind::TcpListener | Kind::TcpStream)
}
fn is_inet(k: Kind) -> bool {
    is_tcp(k) || k == Kind::Udp
}

/// `(level, name)` for the option on this socket, or a wrong-kind error.
fn resolve(socket: &Socket, opt: SockOpt) -> Result<(i32, i32, &'static str)> {
    let kind = socket.kind();
    let wrong = |expected: &'static str| Err(Error::WrongKind { actual: kind, expected });
    let v6 = || -> Result<bool> { Ok(socket.get_int(libc::SOL_SOCKET, libc::SO_DOMAIN, "SO_DOMAIN")? == libc::AF_INET6) };
    use SockOpt::*;
    Ok(match opt {
        NoDelay | KeepIdle | KeepInterval | KeepCount | UserTimeout | Cork | FastOpen if !is_tcp(kind) => return wrong("a TCP socket"),
        NoDelay => (libc::IPPROTO_TCP, libc::TCP_NODELAY, "TCP_NODELAY"),
        KeepIdle => (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, "TCP_KEEPIDLE"),
        KeepInterval => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, "TCP_KEEPINTVL"),
        KeepCount => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, "TCP_KEEPCNT"),
        UserTimeout => (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"),
        Cork => (libc::IPPROTO_TCP, libc::TCP_CORK, "TCP_CORK"),
        FastOpen => (libc::IPPROTO_TCP, libc::TCP_FASTOPEN, "TCP_FASTOPEN"),
        KeepAlive => (libc::SOL_SOCKET, libc::SO_KEEPALIVE, "SO_KEEPALIVE"),
        Linger => (libc::SOL_SOCKET, libc::SO_LINGER, "SO_LINGER"),
        RecvBuffer => (libc::SOL_SOCKET, libc::SO_RCVBUF, "SO_RCVBUF"),
        SendBuffer => (libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF"),
        Ttl | BusyPoll | IncomingCpu | ReuseAddr | ReusePort | ZeroCopy | V6Only if !is_inet(kind) => {
            return wrong("a TCP or UDP socket")
        }
        Ttl if v6()? => (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
        Ttl => (libc::IPPROTO_IP, libc::IP_TTL, "IP_TTL"),
        BusyPoll => (libc::SOL_SOCKET, SO_BUSY_POLL, "SO_BUSY_POLL"),
        IncomingCpu => (libc::SOL_SOCKET, SO_INCOMING_CPU, "SO_INCOMING_CPU"),
        ReuseAddr => (libc::SOL_SOCKET, libc::SO_REUSEADDR, "SO_REUSEADDR"),
        ReusePort => (libc::SOL_SOCKET, libc::SO_REUSEPORT, "SO_REUSEPORT"),
        ZeroCopy => (libc::SOL_SOCKET, SO_ZEROCOPY, "SO_ZEROCOPY"),
        V6Only if !v6()? => return wrong("an IPv6 socket"),
        V6Only => (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, "IPV6_V6ONLY"),
        Broadcast | MulticastLoop | MulticastTtl if kind != Kind::Udp => return wrong("a UDP socket"),
        Broadcast => (libc::SOL_SOCKET, libc::SO_BROADCAST, "SO_BROADCAST"),
        MulticastLoop if v6()? => (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"),
        MulticastLoop => (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"),
        MulticastTtl if v6()? => (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"),
        MulticastTtl => (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, "IP_MULTICAST_TTL"),
        PassCred if !super::is_unix(kind) => return wrong("a Unix socket"),
        PassCred => (libc::SOL_SOCKET, libc::SO_PASSCRED, "SO_PASSCRED"),
    })
}

/// Reads an option. `Linger` gives the linger time in seconds, or -1 when lingering is off.
pub fn get(socket: &Socket, opt: SockOpt) -> Result<i32> {
    let (level, name, what) = resolve(socket, opt)?;
    if opt == SockOpt::Linger {
        let mut l = libc::linger { l_onoff: 0, l_linger: 0 };
        let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
        // SAFETY: a linger-sized buffer.
        crate::sys::cvt(unsafe {
            libc::getsockopt(std::os::fd::AsRawFd::as_raw_fd(&socket.fd()), level, name, (&mut l as *mut libc::linger).cast(), &mut len)
        })
        .map_err(|e| e.context("getsockopt SO_LINGER"))?;
        return Ok(if l.l_onoff == 0 { -1 } else { l.l_linger });
    }
    socket.get_int(level, name, what)
}

/// Sets an option. `Linger`: seconds (>= 0) turns lingering on, -1 turns it off.
pub fn set(socket: &Socket, opt: SockOpt, value: i32) -> Result<()> {
    let (level, name, what) = resolve(socket, opt)?;
    if opt == SockOpt::Linger {
        if value < -1 {
            return Err(Error::invalid(format!("linger {value}: seconds >= 0, or -1 for off")));
        }
        let l = libc::linger { l_onoff: i32::from(value >= 0), l_linger: value.max(0) };
        // SAFETY: a linger struct.
        crate::sys::cvt(unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket.fd()),
                level,
                name,
                (&l as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as _,
            )
        })
        .map_err(|e| e.context("setsockopt SO_LINGER"))?;
        return Ok(());
    }
    socket.set_int(level, name, value, what)
}
