"""The non-socket commands of SLM v2.0's ``slm_at_commands.c`` table.

``order`` is each command's index in ``slm_at_cmd_list`` (``slm_at_commands.c`` 441-544) as the
nRF9160 DK build configures it (prj.conf + boards/nrf9160dk_nrf9160_ns.conf: SMS, GNSS, FTP,
MQTT, HTTP and GPIO on; native TLS, A-GPS, P-GPS, cell position, nRF52 DFU off; TWI off because
the DK's overlay disables i2c2 and the other I2C instances share UARTs in use). ``AT#XCLAC``
lists this table, and its order decides prefix matches.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.host import min_time_limit
from firmware_ref.dialects.v20.table import SLM_VERSION, V20

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params

# #XSLEEP shutdown modes (slm_at_commands.c 59-63) and their delay (158).
SHUTDOWN_MODE_SLEEP = 1
SHUTDOWN_MODE_IDLE = 2
SLEEP_DELAY_S = 0.1

# handle_at_slmuart's accepted rates (slm_at_commands.c 250-263).
UART_BAUD_RATES = (
    1200,
    2400,
    4800,
    9600,
    14400,
    19200,
    38400,
    57600,
    115200,
    230400,
    460800,
    921600,
    1000000,
)
# The simulated board has RTS/CTS (see firmware_ref/README.md): UART_CFG_FLOW_CTRL_RTS_CTS.
UART_FLOW_RTS_CTS = 1
UART_FLOW_NONE = 0


@V20.command("AT#XSLMVER", order=0)
def handle_slmver(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XSLMVER is set-only")
    fw.respond(f'#XSLMVER: "{SLM_VERSION}"')


@V20.command("AT#XSLEEP", order=1)
def handle_sleep(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    """``handle_at_sleep`` (slm_at_commands.c 148-170): OK now, power down 100 ms later."""
    if cmd_type is CmdType.TEST:
        fw.respond(f"#XSLEEP: ({SHUTDOWN_MODE_SLEEP},{SHUTDOWN_MODE_IDLE})")
        return
    if cmd_type is not CmdType.SET:
        raise CommandError("XSLEEP has no read form")
    mode = params.get_uint(1)
    if mode == SHUTDOWN_MODE_SLEEP:
        fw.call_later(SLEEP_DELAY_S, lambda: fw.power_down("sleep"))
    elif mode == SHUTDOWN_MODE_IDLE:
        fw.call_later(SLEEP_DELAY_S, lambda: fw.power_down("idle"))
    else:
        raise CommandError(f"shutdown mode {mode}")


@V20.command("AT#XRESET", order=2)
def handle_reset(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XRESET is set-only")
    fw.request_reset()


def device_uuid(imei: str) -> str:
    """The modem's device UUID (``modem_jwt_get_uuids``): fixed per device; here derived from
    the IMEI so every simulated board has its own, the same at every boot."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"nrf9160-{imei}"))


@V20.command("AT#XUUID", order=3)
def handle_uuid(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    """``handle_at_uuid`` (slm_at_commands.c 198-217): set form only."""
    if cmd_type is not CmdType.SET:
        raise CommandError("XUUID is set-only")
    fw.respond(f"#XUUID: {device_uuid(fw.modem.imei)}")


@V20.command("AT#XCLAC", order=4)
def handle_clac(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    """``handle_at_clac`` (slm_at_commands.c 546-561): every table entry as "<name>\\r\\n",
    without the CRLF other answers start with, then OK."""
    if cmd_type is not CmdType.SET:
        raise CommandError("XCLAC is set-only")
    fw.write(b"".join(e.name.encode() + b"\r\n" for e in V20.table.ordered()))


@V20.command("AT#XSLMUART", order=5)
def handle_slmuart(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    """``handle_at_slmuart`` (slm_at_commands.c 239-307), CONFIG_SLM_UART_HWFC_RUNTIME off.

    A missing or unreadable rate is skipped, not refused (``if (ret == 0)``, 249), and the flow
    control is set to none whatever was asked (281-283); the new setting is saved to flash.
    The simulator's transport keeps its own pacing: only what the firmware believes changes
    (the #XSLMUART? answer and the data-mode minimum time limit)."""
    settings = fw.modem.settings
    if cmd_type is CmdType.SET:
        try:
            baud = params.get_uint(1)
        except CommandError:
            baud = None
        if baud is not None:
            if baud not in UART_BAUD_RATES:
                raise CommandError(f"baud rate {baud}")
            settings["uart_baud"] = baud
        settings["uart_flow"] = UART_FLOW_NONE
    elif cmd_type is CmdType.READ:
        flow = settings.get("uart_flow", UART_FLOW_RTS_CTS)
        fw.respond(f"#XSLMUART: {fw.uart_baud},{flow}")
    else:
        fw.respond("#XSLMUART: (" + ",".join(str(b) for b in UART_BAUD_RATES) + ")")


@V20.command("AT#XDATACTRL", order=6)
def handle_datactrl(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    minimum = min_time_limit(fw.uart_baud)
    if cmd_type is CmdType.SET:
        limit = params.get_ushort(1)
        if limit > 0 and limit < minimum:
            raise CommandError(f"time limit {limit} below minimum {minimum}")
        fw.datamode_time_limit = limit
    elif cmd_type is CmdType.READ:
        fw.respond(f"#XDATACTRL: {fw.datamode_time_limit},{minimum}")
    else:
        fw.respond("#XDATACTRL=<time_limit>")


# The rest of the table: listed by #XCLAC and matched in table order, not modelled (the TCP/UDP
# proxies, ICMP, SMS, FOTA, GNSS, FTP, MQTT, HTTP and GPIO services have no simulated
# counterpart). Each answers ERROR, which is what its handler returns for most malformed
# lines; see firmware_ref/README.md.
NOT_MODELLED = {
    "AT#XTCPSVR": 7,
    "AT#XTCPCLI": 8,
    "AT#XTCPSEND": 9,
    "AT#XTCPHANGUP": 10,
    "AT#XUDPSVR": 11,
    "AT#XUDPCLI": 12,
    "AT#XUDPSEND": 13,
    "AT#XPING": 29,
    "AT#XSMS": 30,
    "AT#XFOTA": 31,
    "AT#XGPS": 32,
    "AT#XNRFCLOUD": 33,
    "AT#XFTP": 34,
    "AT#XMQTTCON": 35,
    "AT#XMQTTPUB": 36,
    "AT#XMQTTSUB": 37,
    "AT#XMQTTUNSUB": 38,
    "AT#XHTTPCCON": 39,
    "AT#XHTTPCREQ": 40,
    "AT#XGPIOCFG": 41,
    "AT#XGPIO": 42,
}


def _not_modelled(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    raise CommandError("this service is not modelled by the simulator")


for _name, _order in NOT_MODELLED.items():
    V20.command(_name, order=_order)(_not_modelled)
