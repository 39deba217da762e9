"""Package exports imported on first use (PEP 562), so that importing a package for one light
name does not import the modules behind all of its others.

Every pytest process in a venv with pytest-slm installed loads the plug-in, and with it
`pytest_slm/__init__.py`: a run that never opens a board should not pay for the AT client,
the typed DUT and the peers behind the package's exports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: `exports` maps a module (absolute, or relative
    to the package with a leading dot) to the names the package takes from it."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        # Kept on the package: the next lookup is an ordinary attribute, as after an import.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
