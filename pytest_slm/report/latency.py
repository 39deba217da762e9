"""The run's command latency table: one table for the whole run, xdist workers included.

Each board session hands its AT client's timings in when it closes. Under pytest-xdist every
worker sends what it collected to the controller with the worker's output, and the controller
prints the merged table once. Rows name real commands only: a command name the AT grammar does
not allow, or one that never answered OK in the run (the deliberately malformed and unknown
commands of the framing and parameter tests), says nothing about the board's speed and is left
out, with a count under the table.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable

import pytest

# What a row may be called: `AT`, a command name such as `#XSOCKET`, `+CFUN`, `%CMNG`, or the
# data-mode terminator.
_COMMAND_NAME = re.compile(r"^(AT|[+#%][A-Z][A-Z0-9]*|\+\+\+)$")
_WORKER_KEY = "slm_latency"


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--no-slm-latency",
        action="store_true",
        default=False,
        help="do not print the command latency table at the end of the run",
    )


class LatencyReport:
    """Collects (command, seconds, answered OK) samples from every session of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.sessions: list[str] = []
        # command name -> [(milliseconds, answered OK)]
        self.samples: dict[str, list[tuple[float, bool]]] = defaultdict(list)

    def add(self, session: str, timings: Iterable[tuple[str, float, bool]]) -> None:
        self.sessions.append(session)
        for name, seconds, ok in timings:
            self.samples[name.strip().rstrip(":")].append((seconds * 1000.0, ok))

    def _merge(self, data: dict) -> None:
        self.sessions.extend(data.get("sessions", []))
        for name, samples in data.get("samples", {}).items():
            self.samples[name].extend((float(ms), bool(ok)) for ms, ok in samples)

    def rows(self) -> tuple[list[str], int]:
        """The table's lines, and how many calls it leaves out."""
        lines = [f"{'command':<18}{'count':>7}{'median':>10}{'p95':>10}{'max':>10}  (ms)"]
        left_out = 0
        for name in sorted(self.samples):
            samples = self.samples[name]
            if not _COMMAND_NAME.match(name) or not any(ok for _, ok in samples):
                left_out += len(samples)
                continue
            values = sorted(ms for ms, _ in samples)
            p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
            lines.append(
                f"{name:<18}{len(values):>7}{statistics.median(values):>10.1f}{p95:>10.1f}"
                f"{values[-1]:>10.1f}"
            )
        return lines, left_out

    # xdist: a worker hands its samples to the controller; the controller merges them.
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = {
                "sessions": self.sessions,
                "samples": {name: [list(s) for s in v] for name, v in self.samples.items()},
            }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if data:
            self._merge(data)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.config.getoption("--no-slm-latency") or not self.samples:
            return
        title = "SLM command latency: " + ", ".join(self.sessions)
        terminalreporter.write_sep("-", title[:200])
        lines, left_out = self.rows()
        for line in lines:
            terminalreporter.write_line(line)
        if left_out:
            terminalreporter.write_line(
                f"(left out: {left_out} calls of malformed or never-successful commands)"
            )
