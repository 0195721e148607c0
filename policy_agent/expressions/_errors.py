"""Errors of the expression language, each pointing at a place in the expression's source."""

from __future__ import annotations

from policy_agent.errors import PolicyAgentError


class ExpressionError(PolicyAgentError):
    """An expression that cannot be compiled or evaluated; `str()` shows the source and a caret.

    `offset` is the 0-based index into `source` of the failing part (None: the whole of it).
    """

    def __init__(self, message: str, source: str, offset: int | None = None) -> None:
        # Every constructor argument goes into `args`, so the error survives pickling.
        super().__init__(message, source, offset)
        self.message = message
        self.source = source
        self.offset = offset

    @property
    def line(self) -> int | None:
        """1-based line of `offset` inside the source (multi-line YAML blocks have several)."""
        return None if self.offset is None else self.source.count("\n", 0, self.offset) + 1

    @property
    def column(self) -> int | None:
        """1-based column of `offset` inside its line."""
        if self.offset is None:
            return None
        return self.offset - (self.source.rfind("\n", 0, self.offset) + 1) + 1

    def __str__(self) -> str:
        if self.offset is None or self.line is None or self.column is None:
            return f"{self.message}\n    {self.source}"
        text = self.source.split("\n")[self.line - 1].removesuffix("\r")
        # Keep tabs in the caret line so the caret lines up under the same character.
        pad = "".join(c if c == "\t" else " " for c in text[: self.column - 1])
        where = f"line {self.line}, column {self.column}" if "\n" in self.source else None
        return f"{self.message}\n    {text}\n    {pad}^ ({where or f'column {self.column}'})"


class ExpressionSyntaxError(ExpressionError):
    """Bad syntax, an unknown name or function, or a wrong number of arguments (at compile time)."""


class ExpressionEvaluationError(ExpressionError):
    """A failure while evaluating: a type mismatch, division by zero, a bad date, no such table."""
