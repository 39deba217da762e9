"""Like the real harness's helper: it needs a Zephyr tree at import time.

`os.environ["ZEPHYR_BASE"]` is read when this module is imported (a KeyError without it), and
Zephyr's `scripts/pylib/build_helpers` is put on `sys.path` for its `domains` module. The real
`twister_harness_config` imports this, so the plugin cannot even be loaded outside a Zephyr
workspace; the stand-in keeps that so pytest-slm is tested against it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ZEPHYR_BASE = os.environ["ZEPHYR_BASE"]
sys.path.insert(0, str(Path(ZEPHYR_BASE) / "scripts" / "pylib" / "build_helpers"))

from domains import Domains  # noqa: E402


def get_default_domain_name(domains_file: Path | str) -> str:
    return Domains.from_file(domains_file).get_default_domain().name
