"""The nRF91 modem side of the simulated board: what ``nrf_modem_at_cmd`` answers.

Every dialect forwards the lines that are not in its own table to the modem, so these handlers
are shared: a dialect passes ``MODEM_COMMANDS`` as its ``modem_base``. SLM re-frames the modem's
replies (``format_final_result``): ``\\r\\n`` before the first line and before the final result,
so ``AT+CFUN?`` comes back as ``\\r\\n+CFUN: 1\\r\\n\\r\\nOK\\r\\n``, the framing of SLM's own
commands; handlers here therefore use ``fw.respond`` like the SLM handlers do.

Registration (CFUN=1) is instantaneous apart from a short delay before the ``+CEREG``
notification, which a timer delivers, so no handler blocks.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from firmware_ref.core.dialect import CommandTable, Handler
from firmware_ref.core.errors import CmdType, CmeError, CommandError
from firmware_ref.core.modem import (
    CEREG_DELAY_S,
    CME_MEMORY_FULL,
    CME_NO_ACCESS,
    CME_NOT_ALLOWED_ACTIVE,
    CME_NOT_FOUND,
    CRED_STORE_CAPACITY,
    CRED_TYPES,
    MAX_CRED_SIZE,
    MAX_SEC_TAG,
    MODEM_FW_VERSION,
    SEARCH_DELAY_S,
    Credential,
    ModemState,
)

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params

MODEM_COMMANDS = CommandTable()
modem_command = MODEM_COMMANDS.modem_command

# Registration status and location fields the simulated cell reports.
_TAC = "0001"
_CELL_ID = "01A2B3C4"
_ACT = 7  # LTE-M


def cereg_fields(modem: ModemState, n: int, *, urc: bool) -> str:
    """The ``+CEREG`` payload for notification level ``n`` (27.007 §10.1.22 as the nRF91 prints).

    The read form starts with ``<n>``, the notification does not. Location fields from n=2 when
    the cell is known (registered) or still unknown (searching); PSM timers from n=4.
    """
    stat = modem.reg_stat
    parts: list[str] = [] if urc else [str(n)]
    parts.append(str(stat))
    if n >= 2 and stat in (1, 5):
        parts += [f'"{_TAC}"', f'"{_CELL_ID}"', str(_ACT)]
        if n >= 4:
            # <cause_type>,<reject_cause> (n=3/5 only, empty while registered), then the
            # granted PSM Active-Time and Periodic-TAU
            parts += ["", "", '"11100000"', '"11100000"']
    elif n >= 2 and stat == 2:
        parts += ['"FFFE"', '"FFFFFFFF"', str(_ACT)]
    return ",".join(parts)


def _notify_cereg(fw: Firmware) -> None:
    n = fw.modem.cereg_n
    if n >= 1:
        fw.urc(f"+CEREG: {cereg_fields(fw.modem, n, urc=True)}")


def _attach(fw: Firmware) -> None:
    """CFUN=1: search at once, register a little later, like a cell that is always there."""
    modem = fw.modem
    modem.attach_seq += 1
    seq = modem.attach_seq
    modem.reg_stat = 2

    def searching() -> None:
        if modem.attach_seq == seq:
            _notify_cereg(fw)
            # Chained, not a second timer: the two reports can never swap places.
            fw.call_later(CEREG_DELAY_S - SEARCH_DELAY_S, registered)

    def registered() -> None:
        if modem.attach_seq != seq:
            return
        modem.reg_stat = 1
        _notify_cereg(fw)
        if modem.cgerep:
            fw.urc("+CGEV: ME PDN ACT 0")

    fw.call_later(SEARCH_DELAY_S, searching)


def _detach(fw: Firmware) -> None:
    modem = fw.modem
    modem.attach_seq += 1
    seq = modem.attach_seq
    was_registered = modem.reg_stat in (1, 5)
    modem.reg_stat = 0

    def detached() -> None:
        if modem.attach_seq != seq:
            return
        _notify_cereg(fw)
        if modem.cgerep and was_registered:
            fw.urc("+CGEV: ME DETACH")

    fw.call_later(SEARCH_DELAY_S, detached)


@modem_command("AT")
def handle_at(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET or params.valid_count() > 1:
        raise CommandError("AT takes nothing")


@modem_command("AT+CFUN")
def handle_cfun(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    modem = fw.modem
    if cmd_type is CmdType.READ:
        fw.respond(f"+CFUN: {modem.cfun}")
        return
    if cmd_type is CmdType.TEST:
        fw.respond("+CFUN: (0,1,4,20,21,30,31,40,41,44)")
        return
    mode = params.get_int(1)
    if mode not in (0, 1, 4, 20, 21, 30, 31, 40, 41, 44):
        raise CommandError(f"CFUN mode {mode}")
    # The functional-mode variants for LTE only / GNSS only reduce to radio on or off here.
    new = 1 if mode in (1, 21) else (0 if mode == 0 else 4)
    was = modem.online
    modem.cfun = new
    fw.log(f"modem: CFUN={mode} -> {'online' if modem.online else 'offline'}")
    if modem.online and not was:
        _attach(fw)
    elif was and not modem.online:
        _detach(fw)


@modem_command("AT+CEREG")
def handle_cereg(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    modem = fw.modem
    if cmd_type is CmdType.READ:
        fw.respond(f"+CEREG: {cereg_fields(modem, modem.cereg_n, urc=False)}")
        return
    if cmd_type is CmdType.TEST:
        fw.respond("+CEREG: (0-5)")
        return
    n = params.get_int(1) if params.valid_count() > 1 else 0
    if n not in (0, 1, 2, 3, 4, 5):
        raise CommandError(f"CEREG n={n}")
    modem.cereg_n = n


@modem_command("AT+CGPADDR")
def handle_cgpaddr(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    modem = fw.modem
    if cmd_type is CmdType.TEST:
        if modem.online:
            fw.respond("+CGPADDR: (0)")
        return
    if cmd_type is CmdType.READ:
        raise CommandError("no read form")
    if params.valid_count() > 1 and params.get_int(1) != 0:
        raise CommandError("only context 0 exists")
    if not modem.online:
        # No active PDN: the modem lists nothing.
        return
    # The modem prints every group, without zero padding or "::" compression.
    v6 = ":".join(
        f"{int(g, 16):X}" for g in ipaddress.ip_address(modem.address6).exploded.split(":")
    )
    fw.respond(f'+CGPADDR: 0,"{modem.address}","{v6}"')


@modem_command("AT+CGSN")
def handle_cgsn(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.TEST:
        fw.respond("+CGSN: (0-3)")
        return
    if cmd_type is CmdType.READ:
        raise CommandError("no read form")
    snt = params.get_int(1) if params.valid_count() > 1 else 0
    imei = fw.modem.imei
    if snt == 0:
        fw.respond(imei)
    elif snt == 1:
        fw.respond(f'+CGSN: "{imei}"')
    elif snt == 2:
        fw.respond('+CGSN: "' + imei[:14] + '01"')
    elif snt == 3:
        fw.respond('+CGSN: "01"')
    else:
        raise CommandError(f"CGSN {snt}")


@modem_command("AT+CGMR")
def handle_cgmr(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.SET:
        fw.respond(MODEM_FW_VERSION)
    elif cmd_type is CmdType.READ:
        raise CommandError("no read form")


@modem_command("AT+CGMI")
def handle_cgmi(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.SET:
        fw.respond("Nordic Semiconductor ASA")


@modem_command("AT+CGMM")
def handle_cgmm(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.SET:
        fw.respond("nRF9160-SICA")


def _switch(command: str, attr: str, read: str, test: str) -> Handler:
    """A 0/1 setting of the modem kept in ``ModemState.<attr>``: the set form takes an optional
    <n> (0 when left out); ``read`` is the read answer's format, ``test`` the test answer."""
    name = command[3:]

    def handler(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
        if cmd_type is CmdType.READ:
            fw.respond(read.format(getattr(fw.modem, attr)))
            return
        if cmd_type is CmdType.TEST:
            fw.respond(test)
            return
        n = params.get_int(1) if params.valid_count() > 1 else 0
        if n not in (0, 1):
            raise CommandError(f"{name} {n}")
        setattr(fw.modem, attr, n)

    handler.__name__ = f"handle_{name.lower()}"
    return modem_command(command)(handler)


handle_cmee = _switch("AT+CMEE", "cmee", "+CMEE: {}", "+CMEE: (0,1)")
handle_cgerep = _switch("AT+CGEREP", "cgerep", "+CGEREP: {},0", "+CGEREP: (0,1),(0)")


@modem_command("AT+CGDCONT")
def handle_cgdcont(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.READ:
        if fw.modem.online:
            fw.respond(
                f'+CGDCONT: 0,"IPV4V6","sim.apn","{fw.modem.address} {fw.modem.address6}",0,0'
            )
        return
    if cmd_type is CmdType.TEST:
        fw.respond('+CGDCONT: (0-11),("IP","IPV6","IPV4V6","Non-IP"),,,(0),(0),,,,,(0,1)')
        return
    # Defining a context is accepted and has no effect on the simulated network.
    params.get_int(1)


def _slot(params: Params) -> tuple[int, int]:
    """%CMNG's <sec_tag> and <type>."""
    return params.get_uint(2), params.get_int(3)


@modem_command("AT%CMNG")
def handle_cmng(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    modem = fw.modem
    if cmd_type is CmdType.TEST:
        return
    if cmd_type is not CmdType.SET:
        raise CommandError("CMNG has no read form")
    opcode = params.get_int(1)
    if opcode == 0:  # write
        sec_tag, cred_type = _slot(params)
        if sec_tag > MAX_SEC_TAG or cred_type not in CRED_TYPES:
            raise CommandError("bad sec_tag or type")
        content = params.get_bytes(4)
        password = params.get_bytes(5) if params.valid_count() > 5 else None
        if modem.online:
            raise CmeError(CME_NOT_ALLOWED_ACTIVE)
        if not content or len(content) > MAX_CRED_SIZE:
            raise CommandError("bad content size")
        used = sum(
            len(c.content) for key, c in modem.credentials.items() if key != (sec_tag, cred_type)
        )
        if used + len(content) > CRED_STORE_CAPACITY:
            raise CmeError(CME_MEMORY_FULL)
        modem.credentials[(sec_tag, cred_type)] = Credential(content, password)
        # Never the content: only where it went and how big it is.
        fw.log(f"modem: stored {CRED_TYPES[cred_type]} sec_tag {sec_tag} ({len(content)} bytes)")
        return
    if opcode == 1:  # list
        tag_filter = params.get_uint(2) if params.valid_count() > 2 else None
        type_filter = params.get_int(3) if params.valid_count() > 3 else None
        for (tag, ctype), cred in sorted(modem.credentials.items()):
            if tag_filter is not None and tag != tag_filter:
                continue
            if type_filter is not None and ctype != type_filter:
                continue
            fw.respond(f'%CMNG: {tag},{ctype},"{cred.sha256()}"')
        return
    if opcode == 2:  # read: the modem refuses to give keys back, and certificates are CA-only
        sec_tag, cred_type = _slot(params)
        cred = modem.credentials.get((sec_tag, cred_type))
        if cred is None:
            raise CmeError(CME_NOT_FOUND)
        if cred_type != 0:
            raise CmeError(CME_NO_ACCESS)
        fw.respond(
            f'%CMNG: {sec_tag},{cred_type},"{cred.sha256()}","'
            + cred.content.decode("latin-1")
            + '"',
            secret=True,
        )
        return
    if opcode == 3:  # delete
        sec_tag, cred_type = _slot(params)
        if modem.online:
            raise CmeError(CME_NOT_ALLOWED_ACTIVE)
        if modem.credentials.pop((sec_tag, cred_type), None) is None:
            raise CmeError(CME_NOT_FOUND)
        fw.log(f"modem: deleted {CRED_TYPES.get(cred_type, cred_type)} sec_tag {sec_tag}")
        return
    raise CommandError(f"CMNG opcode {opcode}")
