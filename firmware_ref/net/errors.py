"""The one error type the net layer raises: an errno, as the modem library would set it."""

from __future__ import annotations

import errno
import os


class NetError(OSError):
    """A failed socket call; ``errno`` is what ``zsock_*`` would have left in ``errno``."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail or os.strerror(code))

    @classmethod
    def from_os(cls, exc: OSError) -> NetError:
        if isinstance(exc, NetError):
            return exc
        return cls(exc.errno or errno.EIO, str(exc))
