"""`matches(text, pattern)`: regular expressions that cannot hang an episode.

Python's `re` backtracks: `(a+)+$` against forty `a`s and a `b` takes longer than the universe
has. Patterns are run by RE2 instead, whose matching time is linear in the text's length (it has
no backreferences or lookaround, which is what buys that). Both sides are bounded as well: a
pattern of at most `PATTERN_MOST` characters whose compiled program fits in `PROGRAM_BYTES`,
against a text of at most `TEXT_MOST` characters; so one call's time has a fixed bound.
"""

from __future__ import annotations

import functools
from typing import Protocol, cast

import re2

from policy_agent.errors import PolicyAgentError

PATTERN_MOST = 1_000
"""The longest pattern accepted, in characters."""
TEXT_MOST = 100_000
"""The longest text matched, in characters."""
PROGRAM_BYTES = 1 << 20
"""The memory RE2 may give one compiled pattern (its default is 8 MiB)."""


class RegexError(PolicyAgentError):
    """A pattern RE2 refuses (a syntax error, a backreference, too large); the message says why."""


class _Compiled(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


def full_match(pattern: str, text: str) -> bool:
    """Whether all of `text` matches `pattern` (RE2 syntax); RegexError for a bad pattern.
    The caller keeps `text` within `TEXT_MOST`."""
    return _compiled(pattern).fullmatch(text) is not None


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used, or None: checked when a pack loads, for literal patterns."""
    try:
        _compiled(pattern)
    except RegexError as error:
        return str(error)
    return None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> _Compiled:
    if len(pattern) > PATTERN_MOST:
        raise RegexError(
            f"the pattern has {len(pattern):,} characters; matches() takes {PATTERN_MOST:,}"
        )
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern to stderr
    options.max_mem = PROGRAM_BYTES
    try:
        return cast(_Compiled, re2.compile(pattern, options))
    except re2.error as error:
        reason = error.args[0] if error.args else error
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise RegexError(f"not a pattern matches() can use: {text}") from None
