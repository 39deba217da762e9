"""Serial Modem (nrfconnect/ncs-serial-modem) as a dialect of the simulated board.

``table.SM`` is the dialect; ``host.SmFirmware`` its host loop (``sm_at_host.c``: line
discipline, ``lib/at_parser``, data mode, idle-time URCs) and the generic commands of
``sm_at_commands.c``; ``sockets`` the commands of ``sm_at_socket.c``. The modelled release is
``version.CURRENT``. Importing this package registers them all.
"""

from __future__ import annotations

from firmware_ref.core.dialect import register_dialect
from firmware_ref.dialects.sm import sockets  # noqa: F401 (registration)
from firmware_ref.dialects.sm.host import SmFirmware
from firmware_ref.dialects.sm.table import SM
from firmware_ref.dialects.sm.version import CURRENT, RELEASES, release

SM.firmware_class = SmFirmware
register_dialect(SM)

__all__ = ["CURRENT", "RELEASES", "SM", "SmFirmware", "release"]
