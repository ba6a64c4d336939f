"""A base for handles that behave as Python raw binary streams (``io.RawIOBase``)."""
from __future__ import annotations

import fcntl
import io
import os
from typing import Optional, List

from .handle import Handle


class RawIOHandle(Handle, io.RawIOBase):
    """A handle usable wherever Python expects a raw binary file: ``io.BufferedReader``,
    ``io.TextIOWrapper``, ``shutil.copyfileobj``... ``read()`` without a size reads to the end.
    Closing (or collecting) it closes the handle, as for any :class:`Handle`."""

    def __init__(self, value: int, owned: bool = True):
        Handle.__init__(self, value, owned)

    def _access(self) -> int:
        return fcntl.fcntl(self.fileno(), fcntl.F_GETFL) & os.O_ACCMODE

    def readable(self) -> bool:
        return self._access() in (os.O_RDONLY, os.O_RDWR)

    def writable(self) -> bool:
        return self._access() in (os.O_WRONLY, os.O_RDWR)

    def seekable(self) -> bool:
        return False

    def read(self, size: Optional[int] = -1) -> bytes:  # type: ignore[override]
        if size is None or size < 0:
            return self.readall()
        return Handle.read(self, size)

    def readall(self) -> bytes:
        chunks: List[bytes] = []
        while True:
            chunk = Handle.read(self, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = Handle.read(self, len(view))
        view[: len(data)] = data
        return len(data)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return Handle.write(self, bytes(data))

    @property
    def closed(self) -> bool:  # type: ignore[override]
        return Handle.closed.fget(self)  # type: ignore[attr-defined]

    def close(self) -> None:
        Handle.close(self)

    def fileno(self) -> int:
        return Handle.fileno(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        Handle.__del__(self)
