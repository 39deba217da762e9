"""Whether labgrid is installed, asked without importing it (or this package's place client):
the labgrid source declares its options in every pytest process."""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "labgrid is not installed: pip install 'pytest-slm[labgrid]'"


def labgrid_missing() -> bool:
    return importlib.util.find_spec("labgrid") is None
