"""Where a value of a pack came from: which file, which line, and how to name its field."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_agent.domain._pack import Problem
from policy_agent.yamlsource import Document, Loc, field_path


@dataclass(kw_only=True)
class Locator:
    """Maps a location in the pack (`("tools", 2, "kind")`) to its file and line.

    A section (`tools`, `database`, ...) written in its own file is located in that file; the
    location inside it drops the section's name, since the file holds the section itself.
    """

    domain: Document
    sections: dict[str, Document] = field(default_factory=dict)

    def document(self, loc: Loc) -> tuple[Document, Loc]:
        """The document holding `loc` and the location inside it."""
        if loc and isinstance(loc[0], str) and loc[0] in self.sections:
            return self.sections[loc[0]], loc[1:]
        return self.domain, loc

    def line(self, loc: Loc) -> int | None:
        """The line of `loc` (or of its nearest ancestor with a known line)."""
        document, inner = self.document(loc)
        return document.line_of(inner)

    def problem(
        self, loc: Loc, message: str, *, field: Loc | None = None, line: int | None = None
    ) -> Problem:
        """A problem at `loc` (or at `line` when known better), naming `field` (default: `loc`)."""
        document, inner = self.document(loc)
        return Problem(
            file=document.file,
            line=line or document.line_of(inner),
            field=field_path(loc if field is None else field),
            message=message,
        )
