"""The one piece of a Zephyr tree the twister-harness stand-in imports: a sysbuild's domains
(`domains.yaml`: `default:` and `domains:`). Written for the stand-in; ZEPHYR_BASE points here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class Domain:
    name: str
    build_dir: str = ""


class Domains:
    def __init__(self, data: dict) -> None:
        self._default = str(data["default"])
        self._domains = [Domain(str(d["name"]), str(d.get("build_dir", "")))
                         for d in data.get("domains") or []]

    @classmethod
    def from_file(cls, path: Path | str) -> Domains:
        return cls(yaml.safe_load(Path(path).read_text(encoding="utf-8")))

    def get_default_domain(self) -> Domain:
        for domain in self._domains:
            if domain.name == self._default:
                return domain
        return Domain(self._default)
