"""Package exports imported on first use (PEP 562), so that importing a package for one light
name does not import the modules behind all of its others.

Every pytest process in a venv with pytest-slm installed loads the plug-in, and with it
`pytest_slm/__init__.py` and the packages the plug-in's option and fixture modules live in: a
run that never opens a board should not pay for the AT client, the DUTs and the peers behind
the packages' exports. Each such package keeps its exports in `__all__` and their imports under
`TYPE_CHECKING`, for type checkers.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Sequence


def lazy_exports(
    package: str, names: Iterable[str], modules: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: a name of `names` it does not hold yet is
    taken from the first of `modules` (absolute, or relative to the package with a leading dot)
    that defines it, imported then; list the cheap modules first."""
    wanted = frozenset(names)

    def __getattr__(name: str) -> object:
        if name in wanted:
            for module in modules:
                found = importlib.import_module(module, package)
                if hasattr(found, name):
                    value = getattr(found, name)
                    # Kept on the package: the next lookup is an ordinary attribute.
                    setattr(sys.modules[package], name, value)
                    return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | wanted)

    return __getattr__, __dir__
