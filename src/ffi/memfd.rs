//! memfd.

use std::ffi::{c_char, c_int};

use super::kinds::{map_flags, parse_flags};
use super::{call, fdsafe_handle, Out};
use crate::handles::{self, get_as, Handle};
use crate::kinds::memfd::{MemFd, MemFdFlags, Seals};

/// `fdsafe_memfd_create` flag: seals can be added later (`MFD_ALLOW_SEALING`). Without it
/// the memfd starts sealed with `FDSAFE_SEAL_SEAL`. The `FDSAFE_MEMFD_*` values equal the
/// kernel's `MFD_*`.
pub const FDSAFE_MEMFD_ALLOW_SEALING: u32 = 0x2;
/// Accepted and always in force: the memfd is close-on-exec (`MFD_CLOEXEC`).
pub const FDSAFE_MEMFD_CLOEXEC: u32 = 0x1;
/// Backed by huge pages (`MFD_HUGETLB`); sizes must then be multiples of the huge page size.
pub const FDSAFE_MEMFD_HUGETLB: u32 = 0x4;
/// With `FDSAFE_MEMFD_HUGETLB`, the huge page size: its base-2 logarithm shifted left by
/// `FDSAFE_MEMFD_HUGE_SHIFT` (`MFD_HUGE_SHIFT`), as the kernel's `MFD_HUGE_2MB` and
/// `MFD_HUGE_1GB` are; without one, the system's default huge page size.
pub const FDSAFE_MEMFD_HUGE_SHIFT: u32 = 26;
/// The bits of a huge page size's logarithm, before the shift (`MFD_HUGE_MASK`).
pub const FDSAFE_MEMFD_HUGE_MASK: u32 = 0x3f;
/// 2 MiB huge pages (`MFD_HUGE_2MB`), with `FDSAFE_MEMFD_HUGETLB`.
pub const FDSAFE_MEMFD_HUGE_2MB: u32 = 21 << FDSAFE_MEMFD_HUGE_SHIFT;
/// 1 GiB huge pages (`MFD_HUGE_1GB`), with `FDSAFE_MEMFD_HUGETLB`.
pub const FDSAFE_MEMFD_HUGE_1GB: u32 = 30 << FDSAFE_MEMFD_HUGE_SHIFT;
/// Not executable, and sealed so (`MFD_NOEXEC_SEAL`; also allows sealing).
pub const FDSAFE_MEMFD_NOEXEC_SEAL: u32 = 0x8;
/// Executable (`MFD_EXEC`); contradicts `FDSAFE_MEMFD_NOEXEC_SEAL`.
pub const FDSAFE_MEMFD_EXEC: u32 = 0x10;

const _: () = assert!(FDSAFE_MEMFD_ALLOW_SEALING == libc::MFD_ALLOW_SEALING && FDSAFE_MEMFD_HUGETLB == libc::MFD_HUGETLB);
const _: () = assert!(FDSAFE_MEMFD_CLOEXEC == libc::MFD_CLOEXEC);
const _: () = assert!(FDSAFE_MEMFD_HUGE_SHIFT == libc::MFD_HUGE_SHIFT && FDSAFE_MEMFD_HUGE_MASK == libc::MFD_HUGE_MASK);
const _: () = assert!(FDSAFE_MEMFD_HUGE_2MB == libc::MFD_HUGE_2MB && FDSAFE_MEMFD_HUGE_1GB == libc::MFD_HUGE_1GB);
const _: () = assert!(FDSAFE_MEMFD_NOEXEC_SEAL == 0x8 && FDSAFE_MEMFD_EXEC == 0x10); // MFD_NOEXEC_SEAL, MFD_EXEC (Linux 6.3)
const _: () = assert!(FDSAFE_SEAL_SEAL == libc::F_SEAL_SEAL as u32 && FDSAFE_SEAL_SHRINK == libc::F_SEAL_SHRINK as u32);
const _: () = assert!(FDSAFE_SEAL_GROW == libc::F_SEAL_GROW as u32 && FDSAFE_SEAL_WRITE == libc::F_SEAL_WRITE as u32);

/// Seal: no more seals can be added (`F_SEAL_SEAL`). The `FDSAFE_SEAL_*` values equal the
/// kernel's `F_SEAL_*`.
pub const FDSAFE_SEAL_SEAL: u32 = 0x01;
/// The file cannot shrink (`F_SEAL_SHRINK`).
pub const FDSAFE_SEAL_SHRINK: u32 = 0x02;
/// The file cannot grow (`F_SEAL_GROW`).
pub const FDSAFE_SEAL_GROW: u32 = 0x04;
/// The contents cannot change (`F_SEAL_WRITE`); refused with `-EBUSY` while a writable
/// shared mapping exists.
pub const FDSAFE_SEAL_WRITE: u32 = 0x08;
/// No new writable mappings or writes; existing writable mappings keep working
/// (`F_SEAL_FUTURE_WRITE`).
pub const FDSAFE_SEAL_FUTURE_WRITE: u32 = 0x10;
/// The executable bits cannot change (`F_SEAL_EXEC`).
pub const FDSAFE_SEAL_EXEC: u32 = 0x20;

/// Creates a memfd, an anonymous file in memory, as a handle of kind `FDSAFE_KIND_MEMFD`.
/// It is always close-on-exec. `name` (at most 249 bytes) shows in `/proc/self/fd` as
/// `/memfd:<name>`; `flags`: any of `FDSAFE_MEMFD_*`, or 0; with `FDSAFE_MEMFD_HUGETLB`, a
/// huge page size such as `FDSAFE_MEMFD_HUGE_2MB` (the kernel's `MFD_HUGE_*`). Use
/// `fdsafe_read` / `fdsafe_write`, the positioned file functions (`fdsafe_file_pread`,
/// `_pwrite`, `_size`, `_truncate`, `_seek`), `fdsafe_sendfile` and `fdsafe_splice` on it.
///
/// Ownership: the caller owns `*handle_out`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `name` or `handle_out`, a name over 249
/// bytes, unknown flags, both `FDSAFE_MEMFD_EXEC` and `FDSAFE_MEMFD_NOEXEC_SEAL`, or a huge
/// page size without `FDSAFE_MEMFD_HUGETLB`; from the kernel `-EINVAL` for flags it does
/// not support, `-ENODEV` for a huge page size the machine does not have; `-ENOMEM`;
/// `-EMFILE`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_memfd_create(name: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_memfd_create", || {
        let name = super::file::c_str(name, "name")?;
        let huge_page_log2 = flags >> FDSAFE_MEMFD_HUGE_SHIFT & FDSAFE_MEMFD_HUGE_MASK;
        let flags = map_flags(
            flags & !(FDSAFE_MEMFD_HUGE_MASK << FDSAFE_MEMFD_HUGE_SHIFT),
            &[
                (FDSAFE_MEMFD_ALLOW_SEALING, MemFdFlags::ALLOW_SEALING),
                (FDSAFE_MEMFD_HUGETLB, MemFdFlags::HUGETLB),
                (FDSAFE_MEMFD_NOEXEC_SEAL, MemFdFlags::NOEXEC_SEAL),
                (FDSAFE_MEMFD_EXEC, MemFdFlags::EXEC),
                (FDSAFE_MEMFD_CLOEXEC, MemFdFlags::empty()),
            ],
            "memfd",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(MemFd::create(name, flags, huge_page_log2)?))?.0);
        Ok(0)
    })
}

/// Adds `seals` (`FDSAFE_SEAL_*` bits) to a memfd. Seals belong to the file, so they hold
/// for every descriptor of it, in every process, and can never be removed.
///
/// Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for
/// unknown seal bits; `-EPERM` if the memfd was created without `FDSAFE_MEMFD_ALLOW_SEALING`
/// or is sealed with `FDSAFE_SEAL_SEAL`; `-EBUSY` for `FDSAFE_SEAL_WRITE` while a writable
/// shared mapping exists. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_memfd_add_seals(handle: fdsafe_handle, seals: u32) -> c_int {
    call("fdsafe_memfd_add_seals", || {
        let seals = parse_flags::<Seals>(seals, "seal")?;
        get_as::<MemFd>(Handle(handle), "a memfd")?.add_seals(seals)?;
        Ok(0)
    })
}

/// The memfd's current seals: a combination of `FDSAFE_SEAL_*` bits (>= 0).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_memfd_get_seals(handle: fdsafe_handle) -> c_int {
    call("fdsafe_memfd_get_seals", || Ok(get_as::<MemFd>(Handle(handle), "a memfd")?.seals()?.bits() as c_int))
}
