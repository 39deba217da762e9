"""The harness's fixtures, with the same names and scopes as upstream."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from twister_harness.device.device_adapter import DeviceAdapter
from twister_harness.device.factory import DeviceFactory
from twister_harness.twister_harness_config import TwisterHarnessConfig


def determine_scope(fixture_name: str, config: pytest.Config) -> str:
    return config.getoption("--dut-scope") or "function"


@pytest.fixture(scope="session")
def twister_harness_config(request: pytest.FixtureRequest) -> TwisterHarnessConfig:
    return request.config.twister_harness_config  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def device_object(
    twister_harness_config: TwisterHarnessConfig,
) -> Generator[DeviceAdapter, None, None]:
    device_config = twister_harness_config.devices[0]
    device = DeviceFactory.get_device(device_config.type)(device_config)
    try:
        yield device
    finally:
        device.close()


@pytest.fixture(scope=determine_scope)
def unlaunched_dut(
    request: pytest.FixtureRequest, device_object: DeviceAdapter
) -> Generator[DeviceAdapter, None, None]:
    device_object.initialize_log_files(request.node.name)
    try:
        yield device_object
    finally:
        device_object.close()


@pytest.fixture(scope=determine_scope)
def dut(
    request: pytest.FixtureRequest, device_object: DeviceAdapter
) -> Generator[DeviceAdapter, None, None]:
    device_object.initialize_log_files(request.node.name)
    try:
        device_object.launch()
        yield device_object
    finally:
        device_object.close()
