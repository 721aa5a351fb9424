"""The benchmark suite runs end to end in quick mode and reports every figure it declares.

The benchmarks run in pairs, each pair as ``python -m benchmarks A B --quick``
(an odd one out alone): the same path as ``all`` (one child process per
benchmark, their figures merged into one JSON, one table), and the pairs run in
parallel under ``make test``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def registered_benchmarks() -> dict[str, str]:
    """``benchmarks.BENCHMARKS`` (benchmarks/ is not an installed package: read from its file)."""
    spec = importlib.util.spec_from_file_location("benchmarks_registry", ROOT / "benchmarks" / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.BENCHMARKS)


NAMES = list(registered_benchmarks())
#: Every registered benchmark in exactly one pair: together they are ``all``.
PAIRS = [NAMES[i : i + 2] for i in range(0, len(NAMES), 2)]


@pytest.mark.slow
@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_quick_run_reports_every_benchmarks_figures(
    pair: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m benchmarks A B --quick` exits 0 and its JSON has each benchmark's declared figures, none failed."""
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is not an installed package
    registry = importlib.import_module("benchmarks").BENCHMARKS
    benchmarks = {name: importlib.import_module(registry[name]) for name in pair}
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *pair, "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    assert {"cores", "python", "platform"} <= document["machine"].keys()
    assert document["benchmarks"].keys() == benchmarks.keys()
    for name, module in benchmarks.items():
        entry = document["benchmarks"][name]
        assert entry["error"] is None, f"{name}: {entry['error']}"
        assert set(entry["figures"]) == set(module.FIGURES), name
        # Without tmux or Prometheus a benchmark says "not available"; CI installs both, so there it must measure.
        unavailable = (
            any(note.startswith("not available") for note in entry["notes"]) and os.environ.get("CI") != "true"
        )
        assert unavailable or any(figure["value"] is not None for figure in entry["figures"].values()), (
            f"{name} measured nothing"
        )
    assert "benchmark" in result.stdout and "met?" in result.stdout  # the table was printed
