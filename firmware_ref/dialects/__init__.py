"""Firmware generations the simulated board speaks, one folder each.

Each sub-package registers a ``firmware_ref.core.dialect.Dialect`` when imported;
``firmware_ref.core.dialect.get_dialect(name)`` imports the folder of that name on first use.
This package imports none of them.
"""
