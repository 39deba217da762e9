"""Reaching a board: finding its port, opening its UART, holding it for a session."""

from pytest_slm.link.discovery import (
    Candidate,
    DiscoveryError,
    Located,
    SerialPort,
    attached,
    candidates,
    current_lister,
    find_port_again,
    locate,
    normalize_id,
    system_ports,
    usb_serial_of,
    use_port_lister,
)
from pytest_slm.link.lock import BoardBusy, BoardLock, default_lock_dir
from pytest_slm.link.port import (
    PortTimeout,
    is_local_device,
    open_serial,
    open_when_present,
    wait_for_port,
)

__all__ = [
    "BoardBusy",
    "BoardLock",
    "Candidate",
    "DiscoveryError",
    "Located",
    "PortTimeout",
    "SerialPort",
    "attached",
    "candidates",
    "current_lister",
    "default_lock_dir",
    "find_port_again",
    "is_local_device",
    "locate",
    "normalize_id",
    "open_serial",
    "open_when_present",
    "system_ports",
    "usb_serial_of",
    "use_port_lister",
    "wait_for_port",
]
