"""The nRF91 modem's state on the simulated board; its commands are in ``modem_commands``.

Credentials live in the modem's flash and survive resets; the rest is per power-on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

MODEM_FW_VERSION = "mfw_nrf9160_1.3.2"
DEFAULT_IMEI = "352656100123457"  # 15 digits with a valid Luhn check digit

# +CME error codes of the nRF91 modem that the credential store uses.
CME_NOT_FOUND = 513
CME_NO_ACCESS = 514
CME_MEMORY_FULL = 515
CME_NOT_ALLOWED_ACTIVE = 518

SEARCH_DELAY_S = 0.01  # CFUN change to the first +CEREG (searching / not registered)
CEREG_DELAY_S = 0.1  # CFUN=1 to registered
CRED_TYPES = {
    0: "CA certificate",
    1: "client certificate",
    2: "private key",
    3: "PSK",
    4: "PSK identity",
}
MAX_SEC_TAG = 2147483647  # sec_tag is a positive int32 on nRF91
MAX_CRED_SIZE = 4077  # what fits in one AT%CMNG line after the command and quotes
# The modem's credential storage (NVM) is finite: a write that does not fit is +CME ERROR: 515
# "Memory full" (nRF91 AT Commands reference, %CMNG set command). Nordic publishes no size, so
# the model takes 16 credentials of the largest size SLM can pass (16 * 4077 bytes of content),
# far above the few kilobytes a test run provisions; see firmware_ref/README.md.
CRED_STORE_CAPACITY = 16 * MAX_CRED_SIZE


@dataclass
class Credential:
    content: bytes
    # The optional <passwd> of a private key; kept, never printed.
    password: bytes | None = None

    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest().upper()


@dataclass
class ModemState:
    """What the modem knows. Credentials live in its flash and survive resets, the rest does not."""

    address: str = "127.0.0.1"
    address6: str = "::1"
    imei: str = DEFAULT_IMEI
    credentials: dict[tuple[int, int], Credential] = field(default_factory=dict)
    cfun: int = 0
    reg_stat: int = 0  # +CEREG <stat>: 0 not registered, 2 searching, 1 registered home
    attach_seq: int = 0  # invalidates pending registration events after a CFUN change
    cereg_n: int = 0
    # +CMEE=0 after power-on: 27.007's default; SLM v2.0 never sets it (no CMEE in its source)
    # and nRF9160 logs show ERROR for modem failures until a host enables +CMEE.
    cmee: int = 0
    cgerep: int = 0
    # The application's settings page in flash (SLM: the UART configuration); survives resets.
    settings: dict = field(default_factory=dict)

    @property
    def online(self) -> bool:
        return self.cfun == 1

    def power_on_reset(self, online: bool) -> None:
        self.cfun = 1 if online else 0
        self.reg_stat = 1 if online else 0
        self.attach_seq += 1
        self.cereg_n = 0
        self.cgerep = 0
        self.cmee = 0


def redact_line(line: bytes) -> bytes:
    """The form of an input line that may be logged: credential contents blanked out."""
    if b"%CMNG" in line.upper():
        head, sep, _ = line.partition(b'"')
        return head + (b'"<redacted>"' if sep else b"")
    return line


__all__ = [
    "Credential",
    "ModemState",
    "redact_line",
    "MODEM_FW_VERSION",
    "DEFAULT_IMEI",
]
