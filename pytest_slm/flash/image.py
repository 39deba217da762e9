"""What `--firmware` names: a .hex file, or a Zephyr build directory and the image it produced."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

# Where a build directory keeps the image to program, in order of preference: the application's
# merged image (MCUboot/TF-M/SPM included) of a plain build, then a sysbuild's top-level one.
IMAGE_CANDIDATES = ("zephyr/merged.hex", "merged.hex")
# A directory is a build directory `west flash` takes when it has one of these: a plain build's
# runner configuration, or the domain list of a sysbuild (NCS 2.7 and later).
BUILD_MARKERS = ("zephyr/runners.yaml", "domains.yaml")


class FirmwareError(Exception):
    """--firmware names nothing flashable."""


@dataclass(frozen=True)
class FirmwareImage:
    hex_path: Path
    # The build directory the image came from (needed by west); None for a bare .hex.
    build_dir: Path | None
    sha256: str

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_build_dir(path: Path) -> bool:
    return any((path / marker).is_file() for marker in BUILD_MARKERS)


def enclosing_build_dir(hex_path: Path) -> Path | None:
    """The build directory a .hex lies in (`build/zephyr/merged.hex` -> `build`), if any."""
    for parent in hex_path.resolve().parents:
        if is_build_dir(parent):
            return parent
    return None


def resolve_firmware(path: str | Path) -> FirmwareImage:
    p = Path(path).expanduser()
    if p.is_dir():
        for rel in IMAGE_CANDIDATES:
            image = p / rel
            if image.is_file():
                build_dir = p if is_build_dir(p) else enclosing_build_dir(image)
                return FirmwareImage(image.resolve(), build_dir and build_dir.resolve(),
                                     sha256_of(image))
        raise FirmwareError(
            f"--firmware {path}: the directory holds no image to flash (looked for "
            f"{' and '.join(IMAGE_CANDIDATES)}); is it a finished `west build` directory?"
        )
    if p.is_file():
        if p.suffix.lower() != ".hex":
            raise FirmwareError(
                f"--firmware {path}: expected an Intel HEX image (.hex) or a build directory"
            )
        return FirmwareImage(p.resolve(), enclosing_build_dir(p), sha256_of(p))
    raise FirmwareError(f"--firmware {path}: no such file or directory")
