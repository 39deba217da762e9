from __future__ import annotations

from twister_harness.device.device_adapter import DeviceAdapter
from twister_harness.device.hardware_adapter import HardwareAdapter
from twister_harness.exceptions import TwisterHarnessException


class DeviceFactory:
    # Only hardware is imitated: it is the only type pytest-slm meets under twister.
    _devices: dict[str, type[DeviceAdapter]] = {"hardware": HardwareAdapter}

    @classmethod
    def get_device(cls, name: str) -> type[DeviceAdapter]:
        try:
            return cls._devices[name]
        except KeyError as exc:
            raise TwisterHarnessException(f"There is no device with name {name!r}") from exc
