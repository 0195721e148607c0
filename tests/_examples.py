"""Property tests twice: a few examples in the fast suite, many more in the slow stage.

A property whose examples cost milliseconds each (a pack loaded from disk, a call rendered and
parsed back) is a large share of the fast suite at hundreds of examples. So the fast suite runs
`FAST_EXAMPLES` of it, and a twin marked `slow` (which `.ci/run`'s slow stage runs:
`pytest -m slow`) runs `THOROUGH_EXAMPLES`. Both draw from the same strategies and check the same
property, and share Hypothesis's database: a failure either finds is replayed by both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import settings

Check = TypeVar("Check", bound=Callable[..., None])

FAST_EXAMPLES = 100
"""Examples per property in the fast suite (Hypothesis's own default)."""

THOROUGH_EXAMPLES = 1000
"""Examples per property in the slow stage."""


def fast_and_thorough(
    given: Callable[[Check], Check], check: Check, **fields: Any
) -> tuple[Check, Check]:
    """The fast test and its thorough, `slow`-marked twin of `check` under `given` (one
    `hypothesis.given(...)`); `fields` are further settings for both. Bind the two to
    `test_...` names for pytest to collect them."""
    fast = settings(max_examples=FAST_EXAMPLES, **fields)(given(check))
    thorough = settings(max_examples=THOROUGH_EXAMPLES, **fields)(given(check))
    return fast, pytest.mark.slow(thorough)
