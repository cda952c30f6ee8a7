"""scripts/readme_table.py: README.md's results table is the one the measurements give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readme_table.py"


def test_readme_holds_the_table_of_the_release_measurements(load_script) -> None:
    module = load_script(SCRIPT)
    results = json.loads((ROOT / "docs" / "results" / "eval" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert module.replace_table(readme, module.table(results)) == readme


def test_replace_table_swaps_only_the_marked_part(load_script) -> None:
    module = load_script(SCRIPT)
    readme = f"intro\n{module.BEGIN}\nold\n{module.END}\noutro\n"
    expected = f"intro\n{module.BEGIN}\nnew\n{module.END}\noutro\n"
    assert module.replace_table(readme, "new\n") == expected
    with pytest.raises(SystemExit, match="lacks the markers"):
        module.replace_table("no markers here", "new\n")
