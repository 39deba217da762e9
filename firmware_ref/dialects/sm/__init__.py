"""Serial Modem (nrfconnect/ncs-serial-modem) as a dialect of the simulated board.

Importing this package registers the ``sm`` dialect: ``SmFirmware`` (the host loop of
``sm_at_host.c``) and its command table (``sm_at_commands.c``, ``sm_at_socket.c``). The
modelled release is ``version.CURRENT``.
"""

from firmware_ref.dialects.sm import sockets as _sockets  # noqa: F401  (registers commands)
from firmware_ref.dialects.sm.host import SmFirmware
from firmware_ref.dialects.sm.version import CURRENT, RELEASES, release

__all__ = ["CURRENT", "RELEASES", "SmFirmware", "release"]
