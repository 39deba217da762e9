"""Bringing a board's modem to the state the suite expects, once per session.

The steps are those an engineer types at a terminal: wait until SLM answers, take the modem
offline (`AT+CFUN=4`, credentials can only be written then), write the suite's credentials with
`AT%CMNG`, ask for registration reports (`AT+CEREG=5`), go online (`AT+CFUN=1`) and wait for
`+CEREG` to say registered (home 1, roaming 5). Then the modem's IMEI, firmware and SLM version
are read for the report.

Credential contents never reach a transcript, a log or an error message: they are registered
with the transcript's redaction before they are sent, and errors about them name the sec_tag and
type only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from pytest_slm import dialects
from pytest_slm.at.errors import AtError, AtTimeout, SlmError
from pytest_slm.at.result import split_params
from pytest_slm.at.transcript import REDACTED

if TYPE_CHECKING:
    from pytest_slm.at.client import AtClient

# A sec_tag owned by the suite, far from those Nordic's samples and nRF Cloud use (16842753,
# 42, small numbers) and below the modem's reserved range (2147483648 and above), so
# provisioning never overwrites a lab board's own credentials.
DEFAULT_SEC_TAG = 71434
DEFAULT_ATTACH_TIMEOUT = 180.0
# How often a silent wait for registration says it is still waiting.
HEARTBEAT = 15.0
REGISTERED = {1: "registered, home network", 5: "registered, roaming"}
CEREG_STAT = {
    0: "not registered, not searching",
    1: "registered, home network",
    2: "not registered, searching",
    3: "registration denied",
    4: "unknown (e.g. out of coverage)",
    5: "registered, roaming",
    8: "attached for emergency bearer services only",
    90: "not registered, UICC failure",
}

Progress = Callable[[str], None]


class CredentialType(IntEnum):
    """`AT%CMNG` <type> values."""

    ROOT_CA = 0
    CLIENT_CERT = 1
    CLIENT_KEY = 2
    PSK = 3
    PSK_IDENTITY = 4
    PUBLIC_KEY = 5


@dataclass(frozen=True)
class Credential:
    sec_tag: int
    type: CredentialType
    # PEM text, or hex for a PSK. Kept out of repr() so it cannot leak through a traceback.
    content: str = field(repr=False)

    def describe(self) -> str:
        return f"sec_tag {self.sec_tag} type {int(self.type)} ({self.type.name.lower()})"


class BringupError(Exception):
    """The board could not be brought to the state the suite needs."""


class RegistrationTimeout(BringupError):
    pass


@dataclass
class ModemInfo:
    imei: str = ""
    modem_firmware: str = ""
    slm_version: str = ""
    registration: str = ""
    attach_seconds: float | None = None
    # The firmware generation the bring-up detected (`pytest_slm.dialects`): "v20", "sm".
    dialect: str = ""
    firmware: str = ""  # "Serial Modem v2.0.0-preview1 (dialect sm)"

    def as_dict(self) -> dict[str, str]:
        out = {
            "imei": self.imei,
            "modem_firmware": self.modem_firmware,
            "slm_version": self.slm_version,
            "dialect": self.dialect,
            "firmware": self.firmware,
            "registration": self.registration,
        }
        if self.attach_seconds is not None:
            out["attach_seconds"] = f"{self.attach_seconds:.1f}"
        return out


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def cereg_stat(line: str) -> int | None:
    """The <stat> of an unsolicited `+CEREG: <stat>[,...]` line."""
    head, _, rest = line.partition(":")
    if head.strip() != "+CEREG":
        return None
    values = split_params(rest.strip())
    return values[0] if values and isinstance(values[0], int) else None


def describe_cereg(line: str | None) -> str:
    if not line:
        return "+CEREG: none"
    stat = cereg_stat(line)
    meaning = CEREG_STAT.get(stat) if stat is not None else None
    return f"{line} ({meaning})" if meaning else line


def redact_credentials(client: AtClient, credentials: Iterable[Credential]) -> None:
    for cred in credentials:
        client.transcript.redact(cred.content)


def wait_until_answering(
    client: AtClient, timeout: float, progress: Progress | None = None
) -> None:
    _say(progress, f"waiting up to {timeout:g} s for SLM to answer (Ready or AT -> OK)")
    # A probe the booting board answers after its banner is abandoned by the client, whose
    # next command first proves the board back in step (AtClient._prove_in_step).
    client.wait_ready(timeout=timeout)


def provision(
    client: AtClient, credentials: Iterable[Credential], progress: Progress | None = None
) -> None:
    """Write each credential, deleting an older one in the same slot first (%CMNG write
    refuses to overwrite on some modem firmware). Needs the modem offline (CFUN=4)."""
    credentials = list(credentials)
    redact_credentials(client, credentials)
    for cred in credentials:
        slot = f"{cred.sec_tag},{int(cred.type)}"
        _say(progress, f"provisioning {cred.describe()}")
        listed = client.at(f"AT%CMNG=1,{slot}", timeout=10.0)
        if listed.with_prefix("%CMNG"):
            client.at(f"AT%CMNG=3,{slot}", timeout=10.0)
        if '"' in cred.content:
            raise BringupError(
                f"{cred.describe()}: the content holds a '\"', which %CMNG "
                "cannot carry inside its quoted string"
            )
        try:
            # No local holds the command: pytest --showlocals would print the key from it.
            client.at(f'AT%CMNG=0,{slot},"{cred.content}"', timeout=30.0)
        except SlmError as exc:
            # The client's own error quotes the command, i.e. the key; say what failed without it.
            raise BringupError(
                f"writing {cred.describe()} failed: {_redacted_reason(exc)}\n"
                f"  command:  'AT%CMNG=0,{slot},\"{REDACTED}\"'\n"
                f"  transcript tail:\n    " + "\n    ".join(client.transcript.tail().splitlines())
            ) from None


def _redacted_reason(exc: SlmError) -> str:
    if isinstance(exc, AtError):
        return f"the board answered {exc.final}"
    if isinstance(exc, AtTimeout):
        return "no final result (timeout)"
    return exc.kind


def go_online(
    client: AtClient, attach_timeout: float, progress: Progress | None = None
) -> tuple[str, float]:
    """`AT+CEREG=5`, `AT+CFUN=1`, then wait for `+CEREG` stat 1 or 5.

    Returns the registering line and how long registration took."""
    client.at("AT+CEREG=5")
    # A registration report from before CFUN=4 (a previous session's) must not count as this one.
    client.drain_urcs()
    started = time.monotonic()
    client.at("AT+CFUN=1", timeout=30.0)
    _say(progress, f"waiting up to {attach_timeout:g} s for LTE registration (+CEREG 1 or 5)")
    deadline = started + attach_timeout
    last: str | None = None
    # The modem may have registered before URCs were routed to us; its read form says so.
    read = client.at("AT+CEREG?").with_prefix("+CEREG")
    if read and "," in read[0]:
        # The read form is the notification with <n> in front.
        report = "+CEREG: " + read[0].split(",", 1)[1]
        if cereg_stat(report) in REGISTERED:
            return report, time.monotonic() - started
        last = report
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            line = client.wait_urc("+CEREG", timeout=min(left, HEARTBEAT))
        except AtTimeout:
            if deadline - time.monotonic() > 0:
                # A modem searching for a cell can be silent for minutes; say it is still on.
                _say(
                    progress,
                    f"still waiting for LTE registration "
                    f"({time.monotonic() - started:.0f} s, last {describe_cereg(last)})",
                )
            continue
        last = line
        stat = cereg_stat(line)
        _say(progress, f"{line} ({CEREG_STAT.get(stat, 'unknown stat')})")
        if stat in REGISTERED:
            return line, time.monotonic() - started
    raise RegistrationTimeout(
        f"no LTE registration after {attach_timeout:g} s, last {describe_cereg(last)} "
        "(check the SIM, the antenna and coverage; raise --attach-timeout for slow networks)"
    )


def _first_line(client: AtClient, command: str) -> str:
    result = client.at(command, check=False)
    if not result.ok or not result.lines:
        return ""
    line = result.lines[0]
    head, sep, rest = line.partition(":")
    if sep and head.startswith(("+", "%", "#")):
        values = split_params(rest.strip())
        return ", ".join(str(v) for v in values if v is not None)
    return line.strip()


def read_modem_info(client: AtClient) -> ModemInfo:
    return ModemInfo(
        imei=_first_line(client, "AT+CGSN"), modem_firmware=_first_line(client, "AT+CGMR")
    )


def detect_dialect(
    client: AtClient, requested: str = dialects.AUTO, progress: Progress | None = None
) -> dialects.Detected:
    """Which firmware generation answers (`#XSMVER` / `#XSLMVER` and the version), checked
    against `requested` (`--dialect`); from here on the client speaks it."""
    detected = dialects.resolve(
        requested, dialects.detect(lambda command: client.at(command, check=False))
    )
    # The dut classes live above the AT client; a bare AtClient only takes the framing.
    adopt = getattr(client, "use_dialect", None)
    if adopt is not None:
        adopt(detected.dialect, detected.version)
    else:
        client.framing = detected.dialect.framing
    _say(progress, f"firmware: {detected.describe()} ({detected.line})")
    return detected


def bring_up(
    client: AtClient,
    credentials: Iterable[Credential] = (),
    *,
    attach_timeout: float = DEFAULT_ATTACH_TIMEOUT,
    ready_timeout: float | None = 60.0,
    progress: Progress | None = None,
    dialect: str = dialects.AUTO,
) -> ModemInfo:
    """The whole session bring-up on an opened client; returns what the report records.

    `ready_timeout=None` when the caller has already seen SLM answer (`wait_until_answering`).
    The firmware generation is detected first (`dialect` other than auto must match it, or
    DialectError), so nothing after it is sent in the wrong dialect.
    """
    credentials = list(credentials)
    redact_credentials(client, credentials)
    if ready_timeout is not None:
        wait_until_answering(client, ready_timeout, progress)
    detected = detect_dialect(client, dialect, progress)
    _say(progress, "modem offline for provisioning (AT+CFUN=4)")
    client.at("AT+CFUN=4", timeout=30.0)
    provision(client, credentials, progress)
    line, took = go_online(client, attach_timeout, progress)
    info = read_modem_info(client)
    info.slm_version = detected.version
    info.dialect = detected.dialect.name
    info.firmware = detected.describe()
    info.registration = line
    info.attach_seconds = took
    _say(
        progress,
        f"online after {took:.1f} s: IMEI {info.imei or '?'}, modem firmware "
        f"{info.modem_firmware or '?'}, {detected.dialect.title} {detected.version}",
    )
    return info
