"""A stand-in for Zephyr's pytest-twister-harness (``twister_harness``), for tests only.

The real plugin is not on any package index and cannot be imported without a Zephyr tree
(``ZEPHYR_BASE``, twisterlib), so pytest-slm's tests load this package instead, with
``PYTHONPATH`` pointing at its parent folder and ``-p twister_harness.plugin``, the way twister
itself loads the real one. It follows ``twister-harness-contract.md`` section 5: the option names,
the fixtures, the ``DeviceConfig``/``DeviceAdapter`` members and the line-based reader, in both
API generations. Set ``TWISTER_HARNESS_STANDIN_API=2026`` in the environment for the newer one
(``serial_configs``, ``connection_index``, ``start_reader``/``stop_reader``).
"""

from twister_harness.constants import API_GENERATION
from twister_harness.device.device_adapter import DeviceAdapter

__version__ = "0.0.1"

__all__ = ["API_GENERATION", "DeviceAdapter", "__version__"]
