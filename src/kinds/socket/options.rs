//! Socket options by the kernel's (level, name), each with get and set, checked against the socket's kind.
//! Every value is an `int`; the meaning of each is documented on [`SockOpt`].

use super::Socket;
use crate::error::{Error, Result};
use crate::handles::Kind;

/// `SO_BUSY_POLL` / `SO_INCOMING_CPU` / `SO_ZEROCOPY` numbers (present in libc, restated for
/// clarity).
const SO_BUSY_POLL: i32 = 46;
const SO_INCOMING_CPU: i32 = 49;
const SO_ZEROCOPY: i32 = 60;

/// The options fdsafe supports, each named by the kernel's `(level, name)` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    NoDelay,
    KeepAlive,
    KeepIdle,
    KeepInterval,
    KeepCount,
    Linger,
    RecvBuffer,
    SendBuffer,
    IpTtl,
    Ipv6UnicastHops,
    UserTimeout,
    BusyPoll,
    IncomingCpu,
    Cork,
    FastOpen,
    Broadcast,
    IpMulticastLoop,
    Ipv6MulticastLoop,
    IpMulticastTtl,
    Ipv6MulticastHops,
    PassCred,
    ReuseAddr,
    ReusePort,
    ZeroCopy,
    V6Only,
}

/// Every supported option with its `(level, name)` and the name to report.
pub const ALL: [(SockOpt, i32, i32, &str); 25] = [
    (SockOpt::NoDelay, libc::IPPROTO_TCP, libc::TCP_NODELAY, "TCP_NODELAY"),
    (SockOpt::KeepIdle, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, "TCP_KEEPIDLE"),
    (SockOpt::KeepInterval, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, "TCP_KEEPINTVL"),
    (SockOpt::KeepCount, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, "TCP_KEEPCNT"),
    (SockOpt::UserTimeout, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"),
    (SockOpt::Cork, libc::IPPROTO_TCP, libc::TCP_CORK, "TCP_CORK"),
    (SockOpt::FastOpen, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, "TCP_FASTOPEN"),
    (SockOpt::KeepAlive, libc::SOL_SOCKET, libc::SO_KEEPALIVE, "SO_KEEPALIVE"),
    (SockOpt::Linger, libc::SOL_SOCKET, libc::SO_LINGER, "SO_LINGER"),
    (SockOpt::RecvBuffer, libc::SOL_SOCKET, libc::SO_RCVBUF, "SO_RCVBUF"),
    (SockOpt::SendBuffer, libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF"),
    (SockOpt::BusyPoll, libc::SOL_SOCKET, SO_BUSY_POLL, "SO_BUSY_POLL"),
    (SockOpt::IncomingCpu, libc::SOL_SOCKET, SO_INCOMING_CPU, "SO_INCOMING_CPU"),
    (SockOpt::ReuseAddr, libc::SOL_SOCKET, libc::SO_REUSEADDR, "SO_REUSEADDR"),
    (SockOpt::ReusePort, libc::SOL_SOCKET, libc::SO_REUSEPORT, "SO_REUSEPORT"),
    (SockOpt::ZeroCopy, libc::SOL_SOCKET, SO_ZEROCOPY, "SO_ZEROCOPY"),
    (SockOpt::Broadcast, libc::SOL_SOCKET, libc::SO_BROADCAST, "SO_BROADCAST"),
    (SockOpt::PassCred, libc::SOL_SOCKET, libc::SO_PASSCRED, "SO_PASSCRED"),
    (SockOpt::IpTtl, libc::IPPROTO_IP, libc::IP_TTL, "IP_TTL"),
    (SockOpt::IpMulticastLoop, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"),
    (SockOpt::IpMulticastTtl, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, "IP_MULTICAST_TTL"),
    (SockOpt::Ipv6UnicastHops, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
    (SockOpt::Ipv6MulticastLoop, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"),
    (SockOpt::Ipv6MulticastHops, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"),
    (SockOpt::V6Only, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, "IPV6_V6ONLY"),
];

impl SockOpt {
    /// The option the kernel's `(level, name)` pair names, if fdsafe supports it.
    pub fn from_level_name(level: i32, name: i32) -> Result<SockOpt> {
        ALL.iter()
            .find(|o| o.1 == level && o.2 == name)
            .map(|o| o.0)
            .ok_or_else(|| Error::invalid(format!("option (level {level}, name {name}) is not one fdsafe supports")))
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
    let kind = socket.typed_kind()?;
    let wrong = |expected: &'static str| Err(Error::WrongKind { actual: kind, expected });
    let v6 = || -> Result<bool> { Ok(socket.get_int(libc::SOL_SOCKET, libc::SO_DOMAIN, "SO_DOMAIN")? == libc::AF_INET6) };
    use SockOpt::*;
    match opt {
        NoDelay | KeepIdle | KeepInterval | KeepCount | UserTimeout | Cork | FastOpen if !is_tcp(kind) => return wrong("a TCP socket"),
        IpTtl | Ipv6UnicastHops | BusyPoll | IncomingCpu | ReuseAddr | ReusePort | ZeroCopy | V6Only if !is_inet(kind) => {
            return wrong("a TCP or UDP socket")
        }
        Ipv6UnicastHops | V6Only if !v6()? => return wrong("an IPv6 socket"),
        Broadcast | IpMulticastLoop | IpMulticastTtl | Ipv6MulticastLoop | Ipv6MulticastHops if kind != Kind::Udp => {
            return wrong("a UDP socket")
        }
        Ipv6MulticastLoop | Ipv6MulticastHops if !v6()? => return wrong("an IPv6 socket"),
        PassCred if !super::is_unix(kind) => return wrong("a Unix socket"),
        _ => {}
    }
    let entry = ALL.iter().find(|o| o.0 == opt).expect("every option is in ALL");
    Ok((entry.1, entry.2, entry.3))
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
