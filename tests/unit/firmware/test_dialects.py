"""The core/dialect split of the simulated board: registration, lookup, and import direction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import firmware_ref
from firmware_ref.core.dialect import Dialect, dialect_names, get_dialect
from firmware_ref.core.errors import CmdType
from firmware_ref.core.modem_commands import MODEM_COMMANDS
from firmware_ref.dialects.v20 import V20
from firmware_ref.testing import OK, FirmwareHarness, at, info, temporary_command

PACKAGE = Path(firmware_ref.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_core_imports_no_dialect_module():
    offenders = {
        path.name: sorted(m for m in _imports(path) if m.startswith("firmware_ref.dialects"))
        for path in (PACKAGE / "core").glob("*.py")
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_v20_is_the_default_and_found_by_folder_name():
    assert "v20" in dialect_names()
    assert get_dialect() is V20
    assert get_dialect("v20") is V20
    assert (V20.version_command, V20.version, V20.banner) == ("AT#XSLMVER", "2.0.0", b"Ready\r\n")


def test_unknown_dialect_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown dialect 'nope' \(known: .*v20"):
        get_dialect("nope")


def test_harness_boots_the_named_dialect():
    with FirmwareHarness(dialect="v20") as h:
        assert h.fw.dialect is V20
        assert at(h, "AT#XSLMVER") == info('#XSLMVER: "2.0.0"') + OK


def test_a_dialect_table_is_its_own():
    """A command registered on one dialect is unknown to another; modem commands are shared."""
    other = Dialect(
        name="probe",
        firmware="Probe",
        version="0",
        version_command="AT#XPROBEVER",
        banner=b"Hello\r\n",
        modem_base=MODEM_COMMANDS,
    )

    def probe(fw, cmd_type, params):
        fw.respond("#XPROBE: 1")

    other.command("AT#XPROBE", order=1)(probe)
    with FirmwareHarness(dialect=other, expect_ready=False) as h:
        h.wait_output(b"Hello\r\n")
        assert at(h, "AT#XPROBE") == info("#XPROBE: 1") + OK
        assert at(h, "AT#XSLMVER") == b"\r\nERROR\r\n"
        assert at(h, "AT+CFUN?") == info("+CFUN: 0") + OK
    with FirmwareHarness() as h:
        assert at(h, "AT#XPROBE") == b"\r\nERROR\r\n"


def test_datamode_answers_come_from_the_dialect():
    """Serial Modem-style entry OK and exit line through the two Dialect hooks."""
    dm = Dialect(
        name="dmprobe",
        firmware="Probe",
        version="0",
        version_command="AT#XPROBEVER",
        ok_on_datamode_entry=True,
        datamode_exit_response=lambda result: b"\r\n#XDATAMODE: %d\r\n" % result,
    )
    got: list[bytes] = []

    def enter(fw, cmd_type, params):
        fw.enter_data_mode(lambda chunk: got.append(chunk) or True)

    dm.command("AT#XDM", order=1)(enter)
    with FirmwareHarness(dialect=dm) as h:
        h.feed(b"AT#XDM\r\n")
        h.wait_output(OK)
        h.settle()
        h.feed(b"abc+++")
        h.wait_output(b"\r\n#XDATAMODE: 0\r\n")
    assert got == [b"abc"]


def test_temporary_command_goes_to_the_named_dialect():
    def hello(fw, cmd_type: CmdType, params):
        fw.respond("#XHELLO: 1")

    with temporary_command("AT#XHELLO", 99, hello, dialect="v20"):
        with FirmwareHarness() as h:
            assert at(h, "AT#XHELLO") == info("#XHELLO: 1") + OK
    assert all(e.name != "AT#XHELLO" for e in V20.table.ordered())
