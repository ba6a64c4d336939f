//! TUN/TAP devices (`FDSAFE_KIND_TUN`).

use std::ffi::{c_char, c_int};

use super::file::c_str;
use super::socket::write_bytes_text;
use super::{call, fdsafe_handle, Out, FDSAFE_NONBLOCK};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Handle};
use crate::kinds::tun::Tun;

/// `fdsafe_tun_open`: a TUN device, carrying IP packets (`IFF_TUN`).
pub const FDSAFE_IFF_TUN: u32 = 0x0001;
/// `fdsafe_tun_open`: a TAP device, carrying Ethernet frames (`IFF_TAP`).
pub const FDSAFE_IFF_TAP: u32 = 0x0002;
/// `fdsafe_tun_open`: packets without the 4-byte packet-information header (`IFF_NO_PI`).
pub const FDSAFE_IFF_NO_PI: u32 = 0x1000;
/// `fdsafe_tun_open`: one of several queues of the interface (`IFF_MULTI_QUEUE`); open the
/// same name again with it for each further queue.
pub const FDSAFE_IFF_MULTI_QUEUE: u32 = 0x0100;
/// `fdsafe_tun_open`: each packet starts with a `struct virtio_net_hdr` (`IFF_VNET_HDR`).
pub const FDSAFE_IFF_VNET_HDR: u32 = 0x4000;
/// `fdsafe_tun_flags` reports it for an interface kept after its last queue closes
/// (`IFF_PERSIST`; set with `fdsafe_tun_set_persist`, never passed to `fdsafe_tun_open`, where
/// this value means `FDSAFE_NONBLOCK`).
pub const FDSAFE_IFF_PERSIST: u32 = 0x0800;
/// Room for an interface name and its NUL (`IFNAMSIZ`).
pub const FDSAFE_IFNAMSIZ: u32 = 16;

mod kernel_values {
    use super::*;
    const _: () = assert!(FDSAFE_IFF_TUN == libc::IFF_TUN as u32 && FDSAFE_IFF_TAP == libc::IFF_TAP as u32);
    const _: () = assert!(FDSAFE_IFF_NO_PI == libc::IFF_NO_PI as u32 && FDSAFE_IFF_MULTI_QUEUE == libc::IFF_MULTI_QUEUE as u32);
    const _: () = assert!(FDSAFE_IFF_VNET_HDR == libc::IFF_VNET_HDR as u32 && FDSAFE_IFF_PERSIST == libc::IFF_PERSIST as u32);
    const _: () = assert!(FDSAFE_IFNAMSIZ as usize == libc::IFNAMSIZ);
}

fn tun_of(handle: fdsafe_handle) -> Result<handles::TypedGuard<Tun>> {
    get_as::<Tun>(Handle(handle), "a TUN/TAP device")
}

/// Opens `/dev/net/tun` and attaches it to the network interface `name` (made if it does
/// not exist; NULL or `""`: the kernel picks `tun%d` or `tap%d`), as a handle of kind
/// `FDSAFE_KIND_TUN`, close-on-exec. `flags`: `FDSAFE_IFF_TUN` or `FDSAFE_IFF_TAP`, plus
/// `FDSAFE_IFF_NO_PI`, `FDSAFE_IFF_MULTI_QUEUE`, `FDSAFE_IFF_VNET_HDR` (the kernel's `IFF_*`)
/// and `FDSAFE_NONBLOCK`. Each `fdsafe_read` returns one whole packet (cut to the buffer if
/// longer) and each `fdsafe_write` sends one; the handle works with `fdsafe_wait` and epoll.
/// The interface goes away with its last queue unless `fdsafe_tun_set_persist` kept it.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL
/// `handle_out`, unknown flags, neither or both of TUN and TAP, a name of 16 bytes or more
/// or with a `/`); `-EPERM` (no `CAP_NET_ADMIN` in the network namespace); `-EBUSY` (the
/// interface is attached already); `-EINVAL` (flags that do not match an existing interface,
/// `FDSAFE_IFF_MULTI_QUEUE` included); `-ENOENT` and `-ENODEV`
/// (no `/dev/net/tun`); `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tun_open(name: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_tun_open", || {
        let nonblock = flags & FDSAFE_NONBLOCK != 0;
        let name: &[u8] = if name.is_null() { b"" } else { c_str(name, "name")?.to_bytes() };
        let out = Out::new(handle_out, "handle_out")?;
        let tun = Tun::open(name, (flags & !FDSAFE_NONBLOCK) as c_int, nonblock)?;
        out.write(handles::insert(Box::new(tun))?.0);
        Ok(0)
    })
}

/// Writes the interface's name and its NUL into `name_out` (capacity `name_cap`;
/// `FDSAFE_IFNAMSIZ` always suffices) and returns the name's length. The name is the
/// kernel's bytes as they are: not necessarily UTF-8 (the kernel accepts any bytes but NUL,
/// `/`, `:` and white space).
///
/// Errors: `FDSAFE_E_WRONG_KIND` for other kinds; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `name_out`; `FDSAFE_E_BUFFER_TOO_SMALL`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tun_name(handle: fdsafe_handle, name_out: *mut c_char, name_cap: usize) -> c_int {
    call("fdsafe_tun_name", || {
        let name = tun_of(handle)?.name()?;
        write_bytes_text(&name, name_out, name_cap)
    })
}

/// The interface's flags (>= 0): `FDSAFE_IFF_TUN` or `FDSAFE_IFF_TAP`, `FDSAFE_IFF_NO_PI`,
/// `FDSAFE_IFF_MULTI_QUEUE`, `FDSAFE_IFF_VNET_HDR`, and `FDSAFE_IFF_PERSIST` once kept.
/// `FDSAFE_IFF_NO_PI` is as `fdsafe_tun_open` was asked; for a handle adopted from a
/// descriptor fdsafe did not open, it is the kernel's `TUNGETIFF` bit, which the kernel also
/// sets when no packet filter is attached (`IFF_NOFILTER` has the same value), so there it
/// cannot tell whether packets carry the 4-byte header.
///
/// Errors: `FDSAFE_E_WRONG_KIND` for other kinds. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tun_flags(handle: fdsafe_handle) -> c_int {
    call("fdsafe_tun_flags", || tun_of(handle)?.flags())
}

/// Keeps the interface after its last queue closes (`persist` 1), so a later
/// `fdsafe_tun_open` of the name attaches to it again, or lets it go with its last queue
/// (`persist` 0), as `TUNSETPERSIST`.
///
/// Errors: `FDSAFE_E_WRONG_KIND` for other kinds; `FDSAFE_E_INVALID_ARGUMENT` for `persist`
/// other than 0 or 1; `-EPERM`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tun_set_persist(handle: fdsafe_handle, persist: c_int) -> c_int {
    call("fdsafe_tun_set_persist", || {
        if !matches!(persist, 0 | 1) {
            return Err(Error::invalid(format!("persist {persist}: 0 or 1")));
        }
        tun_of(handle)?.set_persist(persist == 1)?;
        Ok(0)
    })
}
