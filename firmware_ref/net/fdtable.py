"""Zephyr's file-descriptor table as the nrf91 socket offload sees it."""

from __future__ import annotations

import errno
import threading
from typing import Generic, TypeVar

from firmware_ref.net.errors import NetError

T = TypeVar("T")

# CONFIG_POSIX_MAX_FDS=8 in SLM's prj.conf, and without POSIX_API stdio takes no slot.
MAX_FDS = 8


class FdTable(Generic[T]):
    """``z_reserve_fd``: the lowest free slot wins; every open object takes one.

    Listening sockets, accepted peers and anything else share the same slots, which is why an
    accepted peer can make the next ``socket()`` fail with ENFILE.
    """

    def __init__(self, size: int = MAX_FDS) -> None:
        self._slots: list[T | None] = [None] * size
        self._lock = threading.Lock()

    def reserve(self, obj: T) -> int:
        with self._lock:
            for fd, slot in enumerate(self._slots):
                if slot is None:
                    self._slots[fd] = obj
                    return fd
        raise NetError(errno.ENFILE, "no free file descriptor")

    def has_free(self) -> bool:
        with self._lock:
            return any(slot is None for slot in self._slots)

    def get(self, fd: int) -> T:
        with self._lock:
            if 0 <= fd < len(self._slots):
                obj = self._slots[fd]
                if obj is not None:
                    return obj
        raise NetError(errno.EBADF, f"fd {fd} is not open")

    def release(self, fd: int) -> T | None:
        with self._lock:
            if 0 <= fd < len(self._slots):
                obj, self._slots[fd] = self._slots[fd], None
                return obj
        return None

    def used(self) -> list[int]:
        with self._lock:
            return [fd for fd, slot in enumerate(self._slots) if slot is not None]

    def drain(self) -> list[T]:
        """Empty the table and hand back what it held (for closing at reset)."""
        with self._lock:
            objs = [s for s in self._slots if s is not None]
            self._slots = [None] * len(self._slots)
        return objs
