"""The non-socket commands of SLM v2.0's ``slm_at_commands.c`` table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.host import min_time_limit
from firmware_ref.dialects.v20.table import SLM_VERSION, V20

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params


@V20.command("AT#XSLMVER", order=1)
def handle_slmver(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XSLMVER is set-only")
    fw.respond(f'#XSLMVER: "{SLM_VERSION}"')


@V20.command("AT#XRESET", order=4)
def handle_reset(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XRESET is set-only")
    fw.request_reset()


@V20.command("AT#XDATACTRL", order=7)
def handle_datactrl(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    minimum = min_time_limit(fw.config.effective_baud)
    if cmd_type is CmdType.SET:
        limit = params.get_ushort(1)
        if limit > 0 and limit < minimum:
            raise CommandError(f"time limit {limit} below minimum {minimum}")
        fw.datamode_time_limit = limit
    elif cmd_type is CmdType.READ:
        fw.respond(f"#XDATACTRL: {fw.datamode_time_limit},{minimum}")
    else:
        fw.respond("#XDATACTRL=<time_limit>")
