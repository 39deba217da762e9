"""The SLM v2.0.x dialect object every command module of this folder registers on."""

from __future__ import annotations

from firmware_ref.core.dialect import Dialect
from firmware_ref.core.modem_commands import MODEM_COMMANDS

SLM_VERSION = "2.0.0"

V20 = Dialect(
    name="v20",
    firmware="SLM",
    version=SLM_VERSION,
    version_command="AT#XSLMVER",
    command_prefix="AT#X",
    banner=b"Ready\r\n",
    modem_base=MODEM_COMMANDS,
    # v2.0 enters data mode silently and answers OK when it leaves (slm_at_host.c).
    ok_on_datamode_entry=False,
)

__all__ = ["SLM_VERSION", "V20"]
