"""The README's claims that can be checked mechanically: the render options table is the one
definition's, and the commands it shows exist."""
from __future__ import annotations

from pathlib import Path

from everzoom.options import options_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_option_table_is_the_definition():
    assert options_table() in README, "regenerate it: python -c 'from everzoom.options import options_table as t; print(t())'"
