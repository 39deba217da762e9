"""What the repository's own test runs need (the plugin itself is loaded by its entry point)."""

import os
import threading

import pytest

# Inner pytest runs test the plugin as a user meets it; pytest only honours this at the root.
pytest_plugins = ["pytester"]


class HeldWrite:
    """os.write to `fd` from the thread named `writer` blocks until release(); os.close of `fd`
    is recorded. `events` says in which order the write returned and the descriptor closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fd: int, writer: str) -> None:
        self.events: list[str] = []
        self.writing = threading.Event()
        self.closed = threading.Event()
        self._release = threading.Event()
        real_write, real_close = os.write, os.close

        def held_write(target, data):
            if target == fd and threading.current_thread().name == writer:
                self.writing.set()
                self._release.wait(10)
                self.events.append("write returned")
            return real_write(target, data)

        def watched_close(target):
            if target == fd:
                self.events.append("closed")
                self.closed.set()
            return real_close(target)

        monkeypatch.setattr(os, "write", held_write)
        monkeypatch.setattr(os, "close", watched_close)

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def held_write(monkeypatch):
    """Make a HeldWrite(fd, writer thread name): for tests that a descriptor is never closed
    under a write in progress (the write would land on whatever reuses the number)."""
    made: list[HeldWrite] = []

    def make(fd: int, writer: str) -> HeldWrite:
        made.append(HeldWrite(monkeypatch, fd, writer))
        return made[-1]

    yield make
    for held in made:
        held.release()
