"""Golden files: compare text with `tests/tui/golden/NAME`; `UPDATE_GOLDEN=1` rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    """`actual` must equal the golden file `name` byte for byte (rewritten with UPDATE_GOLDEN=1)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"differs from {path}; if the change is meant, UPDATE_GOLDEN=1"
