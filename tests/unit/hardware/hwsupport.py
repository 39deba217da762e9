"""Helpers shared by the hardware tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

from pytest_slm.link import SerialPort

FAKES_BIN = Path(__file__).resolve().parents[2] / "fakes" / "bin"

# A real Intel HEX image: an extended-address record, one data record, end of file.
HEX_IMAGE = ":020000040000FA\n:10000000000004200D0100001501000017010000AE\n:00000001FF\n"


def make_build_dir(root: Path, runners: tuple[str, ...] = ("nrfjprog", "nrfutil", "jlink",
                                                          "pyocd"), image: str = HEX_IMAGE) -> Path:
    """A finished `west build` directory as far as flashing is concerned."""
    (root / "zephyr").mkdir(parents=True, exist_ok=True)
    (root / "zephyr" / "runners.yaml").write_text(
        "# Available runners configured by board.cmake.\nrunners:\n"
        + "".join(f"- {r}\n" for r in runners)
        + f"\nflash-runner: {runners[0]}\n"
    )
    (root / "zephyr" / "merged.hex").write_text(image)
    return root


def dk_ports(usb_serial: str, first_acm: int = 0, by_id_dir: Path | None = None,
             interfaces: tuple[int, ...] = (0, 2, 4), bus: str = "1-3") -> list[SerialPort]:
    """The serial ports a J-Link OB shows on Linux: one CDC ACM per VCOM, interfaces 0, 2, 4."""
    ports = []
    for n, iface in enumerate(interfaces):
        by_id = None
        if by_id_dir is not None:
            by_id = str(by_id_dir / f"usb-SEGGER_J-Link_{usb_serial}-if{iface:02d}")
        ports.append(SerialPort(
            device=f"/dev/ttyACM{first_acm + n}", serial_number=usb_serial, interface=iface,
            by_id=by_id, vid=0x1366, pid=0x1055, manufacturer="SEGGER", product="J-Link",
            description="J-Link - CDC",
        ))
    return ports
