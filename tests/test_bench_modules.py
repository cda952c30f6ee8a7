"""benchmarks.bench_modules: per-module forward times of a named config (smoke run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_modules as bench


def test_module_times_cover_the_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "reference_seconds", lambda threads: 2.0)
    out = tmp_path / "modules.json"
    record = bench.main(["--configs", "fast", "--size", "40x32", "--runs", "1", "--threads", "1",
                         "--json", str(out)])
    times = record["seconds"]["fast"]
    assert set(times) == {"total", *bench.MODULES}
    assert 0 < sum(times[m] for m in bench.MODULES) <= times["total"]
    assert json.loads(out.read_text())["reference_seconds"] == 2.0
