"""TUN/TAP devices: ``/dev/net/tun`` attached to a network interface by name. Each
``read`` returns one whole packet (IP for TUN, Ethernet for TAP), each ``write`` sends one;
``fileno()`` works with ``selectors`` and fdsafe's epoll."""
from __future__ import annotations

import ctypes
import os
from typing import Any, Union

from ._buffers import c_string
from ._lib import c_handle, c_handle_p, declare, lib
from .errors import check
from .handle import Handle
from . import _constants as _c

__all__ = ["KIND_TUN", "IFF_TUN", "IFF_TAP", "IFF_NO_PI", "IFF_MULTI_QUEUE", "IFF_VNET_HDR", "IFF_PERSIST",
           "IFNAMSIZ", "Tun", "tun_open"]

_int, _u32, _size, _str = ctypes.c_int, ctypes.c_uint32, ctypes.c_size_t, ctypes.c_char_p

declare({
    "fdsafe_tun_open": (_int, [_str, _u32, c_handle_p]),
    "fdsafe_tun_name": (_int, [c_handle, ctypes.c_char_p, _size]),
    "fdsafe_tun_flags": (_int, [c_handle]),
    "fdsafe_tun_set_persist": (_int, [c_handle, _int]),
})

KIND_TUN = _c.FDSAFE_KIND_TUN
IFF_TUN, IFF_TAP, IFF_NO_PI = _c.FDSAFE_IFF_TUN, _c.FDSAFE_IFF_TAP, _c.FDSAFE_IFF_NO_PI
IFF_MULTI_QUEUE, IFF_VNET_HDR, IFF_PERSIST = _c.FDSAFE_IFF_MULTI_QUEUE, _c.FDSAFE_IFF_VNET_HDR, _c.FDSAFE_IFF_PERSIST
IFNAMSIZ = _c.FDSAFE_IFNAMSIZ


class Tun(Handle):
    """A queue of a TUN or TAP interface (always close-on-exec)."""

    KIND = KIND_TUN

    @property
    def name(self) -> str:
        """The interface's name (``"tun0"``...), decoded with :func:`os.fsdecode` (bytes that
        are not UTF-8 become surrogates; :func:`os.fsencode` gives them back, and
        :func:`tun_open` takes the name either way)."""
        buf = ctypes.create_string_buffer(IFNAMSIZ)
        n = check(lib.fdsafe_tun_name(self._value, buf, IFNAMSIZ))
        return os.fsdecode(buf.raw[:n])

    @property
    def flags(self) -> int:
        """``IFF_TUN`` or ``IFF_TAP``, ``IFF_NO_PI``, ``IFF_MULTI_QUEUE``, ``IFF_VNET_HDR``, and
        ``IFF_PERSIST`` once :meth:`set_persist` kept the interface."""
        return check(lib.fdsafe_tun_flags(self._value))

    def set_persist(self, persist: bool = True) -> None:
        """Keeps the interface after its last queue closes (``TUNSETPERSIST``), or not."""
        check(lib.fdsafe_tun_set_persist(self._value, 1 if persist else 0))


def tun_open(name: Union[str, bytes] = "", tap: bool = False, packet_info: bool = False, multi_queue: bool = False,
             vnet_hdr: bool = False, nonblocking: bool = False) -> Tun:
    """Attaches to the interface ``name`` (made if missing; ``""``: the kernel picks
    ``tunN``/``tapN``): TUN (IP packets) unless ``tap`` (Ethernet frames), without the
    4-byte packet-information header unless ``packet_info``."""
    raw: Any = c_string(name) or None
    flags = ((IFF_TAP if tap else IFF_TUN) | (0 if packet_info else IFF_NO_PI) | (IFF_MULTI_QUEUE if multi_queue else 0)
             | (IFF_VNET_HDR if vnet_hdr else 0) | (_c.FDSAFE_NONBLOCK if nonblocking else 0))
    out = c_handle()
    check(lib.fdsafe_tun_open(raw, flags, ctypes.byref(out)))
    return Tun(out.value)
