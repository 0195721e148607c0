"""How messages name what an author wrote: a value's kind, the value itself, the key meant."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` was most likely meant to be: one it abbreviates, else the most similar."""
    options = sorted(choices)
    if len(word) >= 3:
        longer = [option for option in options if option.startswith(word)]
        if len(longer) == 1:
            return longer[0]
    close = difflib.get_close_matches(word, options, n=1)
    return close[0] if close else None


def describe(value: object) -> str:
    """A value's kind in plain words, with the value when it is short: `text 'abc'`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text '{value}'" if len(value) <= 40 else "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def show_value(value: object) -> str:
    """A value as the author would write it (`'abc'`, `5`, `true`, `null`), else its kind."""
    if isinstance(value, str):
        return f"'{value}'"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return describe(value)
