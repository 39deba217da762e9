"""SLM as shipped in NCS v2.0.x (``applications/serial_lte_modem``, tag v2.0.0).

``table.V20`` is the dialect; ``general`` holds the non-socket commands of
``slm_at_commands.c``, ``sockets`` and ``sockopts`` the commands of ``slm_at_socket.c``.
Importing this package registers them all.
"""

from __future__ import annotations

from firmware_ref.core.dialect import register_dialect
from firmware_ref.dialects.v20 import general, sockets, sockopts  # noqa: F401 (registration)
from firmware_ref.dialects.v20.table import SLM_VERSION, V20

register_dialect(V20)

__all__ = ["SLM_VERSION", "V20"]
