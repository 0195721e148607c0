"""Reading a pack's Python files without running them: parsed with `ast`, every failure a message.

The loader checks that each referenced function exists and takes the tool's parameters, from
the parse tree alone. A file that Python cannot parse is a problem of the pack, located as
closely as Python allows, never a crash of `validate`, `check` or `run`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from policy_agent.domain._pack import display_path
from policy_agent.yamlsource import SourceError, read_text


def parse_python(file: Path) -> ast.Module | str:
    """The parsed module, or why it could not be parsed (its code is never run)."""
    shown = display_path(file)
    try:
        text = read_text(file)
    except SourceError as error:
        return f"{shown} {error.message}"
    if "\0" in text:
        # Python refuses the whole file without saying where; the line is what helps.
        line = text.count("\n", 0, text.index("\0")) + 1
        return f"{shown}:{line} is not valid Python: it holds a NUL byte (\\0)"
    try:
        return ast.parse(text, filename=str(file))
    except SyntaxError as error:
        return f"{shown}:{error.lineno} is not valid Python: {error.msg}"
    except RecursionError:
        # CPython's parser gives up on deeply nested code (`1+1+...+1`, `a.b.b...`) this way,
        return (
            f"{shown} cannot be parsed: an expression in it is nested too deeply for Python's "
            "parser (RecursionError); split it into smaller statements"
        )
    except MemoryError:
        # ... and on some (`- - - ... 1`, `not not ... x`) this way.
        return (
            f"{shown} cannot be parsed: Python's parser ran out of memory (MemoryError), as it "
            "does on an expression nested too deeply; split it into smaller statements"
        )
