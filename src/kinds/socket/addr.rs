//! Socket addresses: parsed from the text a daemon reads from its configuration, formatted
//! back to text, and carried as the kernel's `sockaddr` bytes.
//!
//! Text forms: `127.0.0.1:8080`, `[::1]:8080`, `[fe80::1%eth0]:8080` (scope by interface
//! name or number), a Unix path containing a `/` (`/run/app.sock`, `./app.sock`), an
//! abstract Unix name written with a leading `@` (`@app`; bytes that are not printable ASCII,
//! and `\`, are written `\xNN`), and the empty text for an unnamed Unix socket. Anything else
//! is refused with a message; nothing is guessed.
//!
//! Every address fdsafe returns is accepted back: a relative path without a `/` (`a.sock`,
//! which a peer may bind) is written `./a.sock`, the same file from the same folder; a path
//! filling all 108 bytes of `sun_path` (legal, without a terminating NUL) is taken as is.

use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// Bytes in `sun_path`.
pub const SUN_PATH_LEN: usize = 108;
/// Offset of `sun_path` in `sockaddr_un` (after the 2-byte family).
pub const SUN_PATH_OFFSET: usize = 2;
/// `sizeof(struct sockaddr_un)`: the longest AF_UNIX address the kernel takes.
const UNIX_MAX: usize = SUN_PATH_OFFSET + SUN_PATH_LEN;

/// A socket address as the kernel sees it: `sockaddr_storage` bytes and the exact length.
#[derive(Clone, Copy)]
pub struct SockAddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

/// What an address names, in Rust terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    V4(Ipv4Addr, u16),
    V6(Ipv6Addr, u16, u32),
    /// A filesystem path (without a trailing NUL).
    Path(Vec<u8>),
    /// An abstract name (without the leading NUL byte).
    Abstract(Vec<u8>),
    /// An unnamed Unix socket (socket pairs, unbound clients).
    Unnamed,
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address() {
            Ok(a) => write!(f, "{}", a.describe()),
            Err(_) => write!(f, "<family {} length {}>", self.storage.ss_family, self.len),
        }
    }
}

impl SockAddr {
    pub fn empty() -> SockAddr {
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        SockAddr { storage: unsafe { std::mem::zeroed() }, len: std::mem::size_of::<libc::sockaddr_storage>() as _ }
    }

    pub fn family(&self) -> i32 {
        self.storage.ss_family as i32
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    pub fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` never exceeds the storage size (checked wherever it is set).
        unsafe { std::slice::from_raw_parts(self.as_ptr().cast::<u8>(), self.len as usize) }
    }

    /// Copies a caller's `sockaddr` bytes, checking the family and length.
    pub fn from_bytes(bytes: &[u8]) -> Result<SockAddr> {
        let mut out = SockAddr::empty();
        if bytes.len() < 2 || bytes.len() > std::mem::size_of::<libc::sockaddr_storage>() {
            return Err(Error::invalid(format!("a sockaddr of {} bytes", bytes.len())));
        }
        // SAFETY: the storage holds at least `bytes.len()` bytes (checked).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr().cast::<u8>(), bytes.len()) };
        out.len = bytes.len() as _;
        out.address()?; // validates
        if out.family() == libc::AF_UNIX && bytes.len() > UNIX_MAX {
            // The kernel's own report for a path filling sun_path (a NUL past the structure,
            // checked by `address`); it refuses that length as an argument.
            out.len = UNIX_MAX as _;
        }
        Ok(out)
    }

    /// Interprets the bytes.
    pub fn address(&self) -> Result<Address> {
        let len = self.len as usize;
        match self.family() {
            libc::AF_INET => {
                if len < std::mem::size_of::<libc::sockaddr_in>() {
                    return Err(Error::invalid(format!("an AF_INET address of {len} bytes")));
                }
                // SAFETY: the family and length say this is a sockaddr_in.
                let sin = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in>() };
                Ok(Address::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)), u16::from_be(sin.sin_port)))
            }
            libc::AF_INET6 => {
                if len < std::mem::size_of::<libc::sockaddr_in6>() {
                    return Err(Error::invalid(format!("an AF_INET6 address of {len} bytes")));
                }
                // SAFETY: the family and length say this is a sockaddr_in6.
                let sin6 = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in6>() };
                Ok(Address::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr), u16::from_be(sin6.sin6_port), sin6.sin6_scope_id))
            }
            libc::AF_UNIX => {
                // getsockname and recvfrom report a path filling sun_path with one byte more:
                // the NUL the kernel keeps past the structure. Only a path: an abstract name
                // (a leading NUL) counts every byte, NULs too, and never exceeds sun_path.
                let is_path = len > SUN_PATH_OFFSET && self.bytes()[SUN_PATH_OFFSET] != 0;
                let nul_past_end = is_path && len == UNIX_MAX + 1 && self.bytes()[UNIX_MAX] == 0;
                if len > UNIX_MAX && !nul_past_end {
                    return Err(Error::invalid(format!("an AF_UNIX address of {len} bytes")));
                }
                let path = &self.bytes()[SUN_PATH_OFFSET.min(len)..];
                if path.is_empty() {
                    Ok(Address::Unnamed)
                } else if path[0] == 0 {
                    Ok(Address::Abstract(path[1..].to_vec()))
                } else {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    Ok(Address::Path(path[..end].to_vec()))
                }
            }
            other => Err(Error::invalid(format!("address family {other} is not AF_INET, AF_INET6 or AF_UNIX"))),
        }
    }

    pub fn from_address(address: &Address) -> Result<SockAddr> {
        let mut out = SockAddr::empty();
        match address {
            Address::V4(ip, port) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
                let sin = unsafe { &mut *out.as_mut_ptr().cast::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_INET as _;
                sin.sin_port = port.to_be();
                sin.sin_addr.s_addr = u32::from(*ip).to_be();
                out.len = std::mem::size_of::<libc::sockaddr_in>() as _;
            }
            Address::V6(ip, port, scope) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
                let sin6 = unsafe { &mut *out.as_mut_ptr().cast::<libc::sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as _;
                sin6.sin6_port = port.to_be();
                sin6.sin6_addr.s6_addr = ip.octets();
                sin6.sin6_scope_id = *scope;
                out.len = std::mem::size_of::<libc::sockaddr_in6>() as _;
            }
            Address::Path(path) => {
                if path.is_empty() || path.contains(&0) {
                    return Err(Error::invalid("a Unix path must be non-empty and contain no NUL byte"));
                }
                // A path of exactly 108 bytes fills sun_path with no NUL: the kernel takes it
                // (the address length bounds it), and a peer bound there must be reachable.
                if path.len() > SUN_PATH_LEN {
                    return Err(Error::Os {
                        errno: libc::ENAMETOOLONG,
                        context: Some(format!("Unix socket path of {} bytes: sun_path holds at most {SUN_PATH_LEN}", path.len()).into()),
                    });
                }
                out.set_unix(path, false);
            }
            Address::Abstract(name) => {
                if name.len() > SUN_PATH_LEN - 1 {
                    return Err(Error::Os {
                        errno: libc::ENAMETOOLONG,
                        context: Some(format!("abstract Unix name of {} bytes: at most {}", name.len(), SUN_PATH_LEN - 1).into()),
                    });
                }
                out.set_unix(name, true);
            }
            Address::Unnamed => {
                out.storage.ss_family = libc::AF_UNIX as _;
                out.len = SUN_PATH_OFFSET as _;
            }
        }
        Ok(out)
    }

    fn set_unix(&mut self, bytes: &[u8], abstract_name: bool) {
        self.storage.ss_family = libc::AF_UNIX as _;
        let start = SUN_PATH_OFFSET + usize::from(abstract_name);
        // SAFETY: start + len <= 2 + 108 (checked by the callers), within the storage.
        unsafe {
            let base = self.as_mut_ptr().cast::<u8>();
            if abstract_name {
                *base.add(SUN_PATH_OFFSET) = 0;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(start), bytes.len());
            if !abstract_name {
                *base.add(start + bytes.len()) = 0;
            }
        }
        // Abstract names are exactly as long as the name (no zero padding); paths count the
        // NUL, except a path that fills sun_path (the NUL written above lies past the address).
        self.len = (start + bytes.len() + usize::from(!abstract_name)).min(UNIX_MAX) as _;
    }

    pub fn parse(text: &str) -> Result<SockAddr> {
        SockAddr::from_address(&Address::parse(text)?)
    }

    pub fn to_text(&self) -> Result<String> {
        self.address()?.to_text()
    }
}

impl Address {
    /// Parses the text forms described in the module documentation.
    pub fn parse(text: &str) -> Result<Address> {
        let bad = |why: &str| Error::invalid(format!("address {text:?}: {why}"));
        if text.is_empty() {
            return Ok(Address::Unnamed);
        }
        if let Some(name) = text.strip_prefix('@') {
            return Ok(Address::Abstract(unescape(name).ok_or_else(|| bad("bad \\x escape in abstract name"))?));
        }
        if text.contains('/') {
            return Ok(Address::Path(text.as_bytes().to_vec()));
        }
        if let Some(rest) = text.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or_else(|| bad("IPv6 form is [address]:port"))?;
            let (ip, scope) = match host.split_once('%') {
                Some((ip, scope)) => (ip, scope_id(scope)?),
                None => (host, 0),
            };
            let ip: Ipv6Addr = ip.parse().map_err(|_| bad("not an IPv6 address"))?;
            return Ok(Address::V6(ip, parse_port(port).ok_or_else(|| bad("port must be 0 to 65535"))?, scope));
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(|| {
            bad("expected host:port, [v6]:port, a path containing '/' or an @abstract name")
        })?;
        let ip: Ipv4Addr = host.parse().map_err(|_| bad("not a dotted IPv4 address (IPv6 goes in brackets)"))?;
        Ok(Address::V4(ip, parse_port(port).ok_or_else(|| bad("port must be 0 to 65535"))?))
    }

    /// The text form, which [`Address::parse`] reads back as this very address. `EILSEQ`
    /// for a path that is not UTF-8: no text names it (written with U+FFFD it named another
    /// file, and a reply sent there reached another socket); its `sockaddr` form does.
    pub fn to_text(&self) -> Result<String> {
        if let Address::Path(p) = self {
            if std::str::from_utf8(p).is_err() {
                return Err(Error::from_errno(libc::EILSEQ)
                    .context(format!("the path {} is not UTF-8: no text names it (use its sockaddr)", self.describe())));
            }
        }
        Ok(self.describe())
    }

    /// The text form for messages: like [`Address::to_text`], with U+FFFD for the bytes of a
    /// path that are not UTF-8.
    pub fn describe(&self) -> String {
        match self {
            Address::V4(ip, port) => format!("{ip}:{port}"),
            Address::V6(ip, port, 0) => format!("[{ip}]:{port}"),
            Address::V6(ip, port, scope) => format!("[{ip}%{scope}]:{port}"),
            // A path without '/' would read back as no address at all, and a relative one
            // that starts with '@' as an abstract name (another socket): name it from "./".
            Address::Path(p) if !p.contains(&b'/') || p.starts_with(b"@") => {
                format!("./{}", String::from_utf8_lossy(p))
            }
            Address::Path(p) => String::from_utf8_lossy(p).into_owned(),
            Address::Abstract(name) => {
                let mut s = String::from("@");
                for &b in name {
                    if b.is_ascii_graphic() && b != b'\\' || b == b' ' {
                        s.push(b as char);
                    } else {
                        s.push_str(&format!("\\x{b:02x}"));
                    }
                }
                s
            }
            Address::Unnamed => String::new(),
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Address::Path(_) | Address::Abstract(_) | Address::Unnamed)
    }
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// An IPv6 scope: an interface index, or the name of an interface, which must exist
/// (`ENODEV` otherwise, as the kernel says when it binds to an index that names no
/// interface). An index is the kernel's to judge where the address is used: `bind` says
/// `ENODEV`, `connect` and `sendto` say `ENETUNREACH`.
fn scope_id(text: &str) -> Result<u32> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| Error::invalid(format!("scope {text} does not fit 32 bits")));
    }
    if text.is_empty() || text.len() >= libc::IFNAMSIZ || text.contains(['\0', '/']) {
        return Err(Error::invalid(format!("{text:?} is not an interface name or index")));
    }
    let name = CString::new(text).map_err(|_| Error::invalid("NUL in the scope"))?;
    // SAFETY: a NUL-terminated name.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(Error::Os { errno: libc::ENODEV, context: Some(format!("no interface is named {text:?}").into()) }),
        index => Ok(index),
    }
}

fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = bytes.get(i + 1..i + 4)?;
            if hex[0] != b'x' {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(&hex[1..]).ok()?, 16).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["127.0.0.1:8080", "[::1]:80", "/run/app.sock", "./x/y", "@app", "@a\\x00b", "[fe80::1%3]:9", "", "@"] {
            let addr = SockAddr::parse(text).unwrap();
            assert_eq!(addr.to_text().unwrap(), text);
        }
    }

    #[test]
    fn refuses_guesses() {
        for text in ["localhost:80", "127.0.0.1", "1.2.3.4:65536", "::1:80", "[::1]80", "app.sock", "1.2.3:80", "@\\xzz", "01.2.3.4:80", "1.2.3.4:+80"] {
            assert!(SockAddr::parse(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn unix_lengths() {
        let a = SockAddr::parse("@abc").unwrap();
        assert_eq!(a.len as usize, 2 + 1 + 3);
        let p = SockAddr::parse("/a").unwrap();
        assert_eq!(p.len as usize, 2 + 2 + 1);
        let long = format!("/{}", "x".repeat(108));
        assert!(matches!(SockAddr::parse(&long), Err(Error::Os { errno: libc::ENAMETOOLONG, .. })));
        let full = SockAddr::parse(&format!("/{}", "x".repeat(107))).unwrap();
        assert_eq!(full.len as usize, 2 + 108, "a full sun_path has no NUL");
        assert_eq!(full.to_text().unwrap(), format!("/{}", "x".repeat(107)));
        assert_eq!(SockAddr::parse(&format!("/{}", "x".repeat(106))).unwrap().len as usize, 2 + 107 + 1);
    }

    #[test]
    fn one_byte_past_sun_path_is_a_full_path_never_an_abstract_name() {
        let family = (libc::AF_UNIX as u16).to_ne_bytes();
        // A 108-byte path as getsockname reports it: 111 bytes, the NUL past sun_path.
        let mut path = family.to_vec();
        path.extend(std::iter::repeat(b'p').take(108));
        path.push(0);
        let full = SockAddr::from_bytes(&path).unwrap();
        assert_eq!((full.len as usize, full.address().unwrap()), (2 + 108, Address::Path(vec![b'p'; 108])));
        // An abstract name counts every byte: 111 is one more than any holds. connect(2)
        // says EINVAL; cutting the last NUL would reach another socket's name.
        let mut abstract_name = family.to_vec();
        abstract_name.push(0);
        abstract_name.extend(std::iter::repeat(b'A').take(106));
        abstract_name.extend([0, 0]);
        assert_eq!(abstract_name.len(), 111);
        assert!(SockAddr::from_bytes(&abstract_name).is_err());
    }

    #[test]
    fn every_returned_address_is_accepted_back() {
        let mut relative = SockAddr::empty();
        relative.set_unix(b"a.sock", false);
        assert_eq!(relative.to_text().unwrap(), "./a.sock");
        assert_eq!(SockAddr::parse("./a.sock").unwrap().address().unwrap(), Address::Path(b"./a.sock".to_vec()));
        // A relative path starting with '@' read back as the abstract name "d/c.sock": a
        // reply reached whichever socket had bound that name.
        for at_first in [&b"@d/c.sock"[..], b"@c.sock"] {
            let mut path = SockAddr::empty();
            path.set_unix(at_first, false);
            let text = path.to_text().unwrap();
            assert_eq!(text, format!("./{}", String::from_utf8_lossy(at_first)));
            assert!(matches!(SockAddr::parse(&text).unwrap().address().unwrap(), Address::Path(p) if p.ends_with(at_first)));
        }
        let unnamed = SockAddr::from_address(&Address::Unnamed).unwrap();
        assert_eq!(SockAddr::parse(&unnamed.to_text().unwrap()).unwrap().bytes(), unnamed.bytes());
        let any: Vec<u8> = (0..=106u8).map(|b| b.wrapping_mul(37)).collect();
        let abs = SockAddr::from_address(&Address::Abstract(any)).unwrap();
        assert_eq!(SockAddr::parse(&abs.to_text().unwrap()).unwrap().bytes(), abs.bytes());
    }
}
