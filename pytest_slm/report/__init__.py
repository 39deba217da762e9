"""What a run leaves behind: per-test transcripts, failure sections, JUnit properties, latencies.

A failing test on a lab board is read later from CI output, so each failure carries its own
slice of the wire, and the JUnit report names the board, port and transcript file of each test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_slm.at.transcript import Transcript
from pytest_slm.report import latency

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def add_options(group: pytest.OptionGroup) -> None:
    latency.add_options(group)
    group.addoption(
        "--slm-log-dir",
        default=None,
        metavar="DIR",
        help="write each test's AT transcript (timestamped bytes both ways) to DIR/<test>.log",
    )


def transcript_file(log_dir: str | Path, nodeid: str) -> Path:
    return Path(log_dir) / (_UNSAFE.sub("_", nodeid).strip("_")[:200] + ".log")


class RunRecord:
    """Ties one test to the slice of its board's transcript that the test produced."""

    def __init__(
        self, transcript: Transcript, board: str, url: str, info: dict[str, str] | None = None
    ) -> None:
        self.transcript = transcript
        self.board = board
        self.url = url
        self.info = dict(info or {})
        self.worker = self.info.get("worker", "")
        self.mark = transcript.mark()

    def text(self) -> str:
        return self.transcript.render(since=self.mark)


def start_test(item: pytest.Item, record: RunRecord) -> None:
    record.transcript.note(f"test {item.nodeid} on {record.board} {record.url} ({record.worker})")
    item.user_properties.append(("slm_board", record.board))
    item.user_properties.append(("slm_port", record.url))
    # What the bring-up learnt (IMEI, modem firmware, SLM version, probe id, image hash), so a
    # JUnit report says which board and firmware each result belongs to.
    for key, value in sorted(record.info.items()):
        if value:
            item.user_properties.append((f"slm_{key}", str(value)))


def finish_test(item: pytest.Item, record: RunRecord, report: pytest.TestReport) -> None:
    """Add the transcript to a failing report, and to the log directory for every test."""
    if report.failed:
        firmware = record.info.get("firmware") or "firmware not identified"
        report.sections.append(
            (f"SLM transcript ({record.board} {record.url}, {firmware})", record.text())
        )
    log_dir = item.config.getoption("--slm-log-dir")
    if log_dir and report.when == "teardown":
        path = transcript_file(log_dir, item.nodeid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.text() + "\n")
        item.user_properties.append(("slm_transcript", str(path)))
