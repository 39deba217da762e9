"""Transcript.tail(): the last lines of the rendering, without rendering the rest."""

from __future__ import annotations

import random

import pytest

from pytest_slm.at import transcript as transcript_module
from pytest_slm.at.transcript import NOTE, RX, TX, Transcript

SECRET = b"-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----"


def _recorded(seed: int) -> Transcript:
    """Runs of both directions and notes, lines cut anywhere, a secret split across entries."""
    rng = random.Random(seed)
    t = Transcript()
    t.redact(SECRET)
    for _ in range(rng.randrange(0, 60)):
        kind = rng.random()
        if kind < 0.1:
            t.note(f"note {rng.randrange(100)}")
        elif kind < 0.2:
            cut = rng.randrange(len(SECRET))
            t.record(TX, b'AT%CMNG=0,1,0,"' + SECRET[:cut])
            t.record(TX, SECRET[cut:] + b'"\r\n')
        else:
            data = rng.choice([b"\r\nOK\r\n", b"AT+CFUN?\r\n", b"\r\n", b"\n", b"xy", b"\x00\xff"])
            t.record(rng.choice([TX, RX]), data[: rng.randrange(1, len(data) + 1)])
    return t


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("lines", [1, 2, 3, 12, 500])
def test_tail_is_the_end_of_the_rendering(seed, lines):
    t = _recorded(seed)
    assert t.tail(lines) == "\n".join(t.render().splitlines()[-lines:])
    assert "AAAABBBBCCCCDDDD" not in t.tail(lines)


def test_tail_escapes_only_its_own_lines(monkeypatch):
    t = Transcript()
    for i in range(1000):
        t.record(TX, f"AT+CGSN={i}\r\n".encode())
        t.record(RX, b"\r\nOK\r\n")
    t.note("done")
    escaped: list[bytes] = []
    real = transcript_module.escape

    def counting(data: bytes) -> str:
        escaped.append(data)
        return real(data)

    monkeypatch.setattr(transcript_module, "escape", counting)
    tail = t.tail(3)
    assert escaped == [b"done", b"OK\r\n", b"\r\n"]  # newest first, one call per line
    assert tail.splitlines()[0].endswith(f" {RX} \\r\\n")
    assert tail.splitlines()[1].endswith(f" {RX} OK\\r\\n")
    assert tail.splitlines()[2].endswith(f" {NOTE} done")


def test_tail_of_nothing():
    t = Transcript()
    assert t.tail() == ""
    t.record(RX, b"\r\nOK\r\n")
    assert t.tail(0) == ""
