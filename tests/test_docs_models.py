"""docs/models.md holds the release measurements as scripts/evaluate_release.sh wrote them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def markdown_tables(text: str) -> list[str]:
    """Each run of consecutive lines that start with ``|``, joined."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def test_model_card_holds_every_table_of_the_release_evaluation() -> None:
    measured = (ROOT / "docs" / "results" / "eval" / "tables_by_dataset.md").read_text()
    card = (ROOT / "docs" / "models.md").read_text()
    tables = markdown_tables(measured)
    assert len(tables) == 7  # one per test set
    for table in tables:
        assert table in card, f"docs/models.md lacks this table of the release evaluation:\n{table}"


def test_markdown_tables_splits_at_other_lines() -> None:
    assert markdown_tables("a\n| x |\n| y |\nb\n| z |") == ["| x |\n| y |", "| z |"]
