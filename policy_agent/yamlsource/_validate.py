"""A document validated as a pydantic model, every problem reported at its file and line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from policy_agent.errors import PolicyAgentError
from policy_agent.yamlsource._explain import Explanation, explain, field_path
from policy_agent.yamlsource._yaml import Document

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, kw_only=True)
class SourceProblem:
    """One thing wrong in a file, at the line of the value it is about."""

    file: Path
    line: int | None
    """1-based line of the offending value (None only when the document has no lines)."""
    field: str
    """The offending value's path, e.g. `roles.agent.answers[2]`; empty for the whole file."""
    message: str
    """What is wrong and what was expected."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DocumentError(PolicyAgentError):
    """A document does not fit its model; `problems` lists each problem, in the file's order."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))

    def listing(self, subject: str) -> str:
        """The problems under a count of them: `2 problems in run.yaml:`, then one a line."""
        count = len(self.problems)
        listed = "".join(f"\n  {problem}" for problem in self.problems)
        return f"{count} problem{'s' if count != 1 else ''} in {subject}:{listed}"


Explain = Callable[[ErrorDetails, object], Explanation]
"""Turns one pydantic error about data validated as a type into a message and a location."""


def validate_document(document: Document, model: type[M], *, explain: Explain = explain) -> M:
    """`document`'s value as `model`, or `DocumentError` with every problem the file has.

    The document's own issues (duplicate keys, tags) are problems too, even when the value that
    was kept fits the model: a file that says two things must not pass as saying one. `explain`
    may say a model's own errors (its custom error types) better than the general one does.
    """
    problems = [
        SourceProblem(
            file=document.file, line=issue.line, field=field_path(issue.loc), message=issue.message
        )
        for issue in document.issues
    ]
    value: M | None = None
    try:
        value = model.model_validate(document.data)
    except ValidationError as error:
        for detail in error.errors():
            found = explain(detail, model)
            problems.append(
                SourceProblem(
                    file=document.file,
                    line=document.line_of(found.loc),
                    field=field_path(found.field),
                    message=found.message,
                )
            )
    if problems or value is None:
        raise DocumentError(sorted(problems, key=lambda problem: problem.line or 0))
    return value
