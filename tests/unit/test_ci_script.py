"""`.ci/run` runs exactly the README's "all tests" command (the README promises it)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_all_tests_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("# all tests") :]
    readme_cmd = block.splitlines()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    exec_line = next(line for line in ci.splitlines() if line.startswith("exec "))
    setup = re.search(r"^scripts/setup --test$", ci, re.MULTILINE)
    assert setup, "the CI script sets up as the README's command does"
    assert shlex.split(readme_cmd) == [
        "scripts/setup",
        "--test",
        "&&",
        *shlex.split(exec_line)[1:-1],
    ]
    assert shlex.split(exec_line)[-1] == "$@"  # flake-hunt's extra arguments, nothing else
