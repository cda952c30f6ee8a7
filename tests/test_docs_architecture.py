"""docs/architecture.md maps the package: every module of pomai, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_pomai_module_is_in_the_package_map() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The package", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(pomai[\w.]*)` \|", section, flags=re.MULTILINE))
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "pomai").rglob("*.py")
    }
    assert sorted(modules - listed) == []  # a module without a line in the map
    assert sorted(listed - modules) == []  # a line for a module that does not exist
