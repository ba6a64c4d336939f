"""memfd: anonymous in-memory files with seals."""
from __future__ import annotations

import ctypes
import operator
from typing import Optional

from ._buffers import c_string
from ._lib import c_handle, c_handle_p, declare, lib
from .errors import check
from .file import SeekableMixin
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_MEMFD", "MEMFD_ALLOW_SEALING", "MEMFD_NOEXEC_SEAL", "MEMFD_EXEC", "MEMFD_HUGETLB",
           "SEAL_SEAL", "SEAL_SHRINK", "SEAL_GROW", "SEAL_WRITE", "SEAL_FUTURE_WRITE", "SEAL_EXEC", "MemFd"]

_int, _u32, _str = ctypes.c_int, ctypes.c_uint32, ctypes.c_char_p

declare({
    "fdsafe_memfd_create": (_int, [_str, _u32, c_handle_p]),
    "fdsafe_memfd_add_seals": (_int, [c_handle, _u32]),
    "fdsafe_memfd_get_seals": (_int, [c_handle]),
})

KIND_MEMFD = _c.FDSAFE_KIND_MEMFD
MEMFD_ALLOW_SEALING, MEMFD_NOEXEC_SEAL, MEMFD_EXEC, MEMFD_HUGETLB = _c.FDSAFE_MEMFD_ALLOW_SEALING, _c.FDSAFE_MEMFD_NOEXEC_SEAL, _c.FDSAFE_MEMFD_EXEC, _c.FDSAFE_MEMFD_HUGETLB
SEAL_SEAL, SEAL_SHRINK, SEAL_GROW, SEAL_WRITE, SEAL_FUTURE_WRITE, SEAL_EXEC = _c.FDSAFE_SEAL_SEAL, _c.FDSAFE_SEAL_SHRINK, _c.FDSAFE_SEAL_GROW, _c.FDSAFE_SEAL_WRITE, _c.FDSAFE_SEAL_FUTURE_WRITE, _c.FDSAFE_SEAL_EXEC


class MemFd(SeekableMixin, RawIOHandle):
    """An anonymous file in memory (always close-on-exec); a seekable raw binary stream with
    ``pread``/``pwrite``/``size``/``truncate``, plus seals."""

    KIND = KIND_MEMFD

    @classmethod
    def create(cls, name: str = "fdsafe", *, allow_sealing: bool = True, noexec_seal: bool = False,
               executable: bool = False, hugetlb: bool = False,
               huge_page_size: Optional[int] = None) -> "MemFd":
        """A new empty memfd; ``name`` (shown in ``/proc/self/fd``) is a label only.
        ``allow_sealing`` permits :meth:`add_seals`; ``noexec_seal`` makes it never
        executable, ``executable`` asks for an executable one (kernel 6.3 or later);
        ``hugetlb`` backs it with huge pages, of ``huge_page_size`` bytes (a power of two:
        ``2 * 1024 * 1024`` for 2 MiB; implies ``hugetlb``) or the system's default size.
        It is a size, not an ``os.MFD_HUGE_*`` flag: those hold the size's logarithm, and
        are refused as not powers of two, all but ``os.MFD_HUGE_64KB``, whose value is
        ``1 << 30``, the size of a 1 GiB page. A size the machine has no huge pages of
        raises ``OSError`` (``ENODEV``, as ``os.memfd_create``); one that is not a power of
        two, ``ValueError``."""
        flags = ((MEMFD_ALLOW_SEALING if allow_sealing else 0) | (MEMFD_NOEXEC_SEAL if noexec_seal else 0)
                 | (MEMFD_EXEC if executable else 0) | (MEMFD_HUGETLB if hugetlb else 0))
        if huge_page_size is not None:
            size = operator.index(huge_page_size)
            if size <= 0 or size & (size - 1) or size.bit_length() - 1 > _c.FDSAFE_MEMFD_HUGE_MASK:
                raise ValueError(f"huge_page_size must be a power of two, not {size}")
            flags |= MEMFD_HUGETLB | (size.bit_length() - 1) << _c.FDSAFE_MEMFD_HUGE_SHIFT
        out = c_handle()
        check(lib.fdsafe_memfd_create(c_string(name), flags, ctypes.byref(out)))
        return cls(out.value)

    @property
    def seals(self) -> int:
        """The current ``SEAL_*`` bits."""
        return self._check(lib.fdsafe_memfd_get_seals(self._value))

    def add_seals(self, seals: int) -> None:
        """Adds ``SEAL_*`` bits; seals are permanent and hold in every process."""
        self._check(lib.fdsafe_memfd_add_seals(self._value, seals))
