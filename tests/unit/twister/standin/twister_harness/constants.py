"""Which API generation the stand-in imitates, fixed at import like a given Zephyr checkout."""

import os

CLASSIC = "classic"
GEN_2026 = "2026"

API_GENERATION = os.environ.get("TWISTER_HARNESS_STANDIN_API", CLASSIC)
if API_GENERATION not in (CLASSIC, GEN_2026):
    raise ImportError(
        f"TWISTER_HARNESS_STANDIN_API={API_GENERATION!r}: expected {CLASSIC!r} or {GEN_2026!r}"
    )
