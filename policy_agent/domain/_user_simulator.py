"""What a pack tells the user simulator: its guidelines, and the layout of what the model reads.

By default the user model reads policy-agent's guidelines and the scenario and conversation in
policy-agent's layout (`policy_agent.user`). A pack may bring guidelines of its own, and may ask
for tau2-bench's layout instead (`format: tau2`): the guidelines byte for byte, the scenario as
tau2's `str(task.user_scenario)` writes it, the conversation as tau2's user simulator sends it.
`policy-agent import-tau2` writes both, so an imported pack's user model reads what it reads
under `tau2 run`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Discriminator, Field, Tag

from policy_agent.domain._models import _Strict, _text_or
from policy_agent.domain._tasks import StructuredInstructions, Task


class UserPromptFormat(StrEnum):
    """The layout of the user model's prompt: the scenario and the conversation around it."""

    POLICY_AGENT = "policy_agent"
    """Ours: each part trimmed, structured instructions as `Label:` blocks, standard messages."""
    TAU2 = "tau2"
    """tau2-bench's: the guidelines untouched, the scenario as `str(task.user_scenario)`
    (tab-indented), the messages as tau2's user simulator sends them."""


class GuidelinesFile(_Strict):
    """Guidelines kept in their own (Markdown) file next to `domain.yaml`."""

    file: str = Field(description="The file's path, relative to the pack's folder.")


class UserSimulatorSection(_Strict):
    """`user_simulator` in `domain.yaml`: how the pack's simulated customer is prompted."""

    guidelines: (
        Annotated[
            Annotated[str, Tag("text")] | Annotated[GuidelinesFile, Tag("file")],
            Discriminator(_text_or("file")),
        ]
        | None
    ) = Field(
        default=None,
        description=(
            "The simulation guidelines the user model reads before the scenario, replacing the "
            "built-in ones: the text, or `{file: user_guidelines.md}`. A run config's "
            "`user.guidelines` still replaces them."
        ),
    )
    format: UserPromptFormat = Field(
        default=UserPromptFormat.POLICY_AGENT,
        description=(
            "`policy_agent` (default): our layout. `tau2`: tau2-bench's, byte for byte: the "
            "guidelines as written, the scenario as `str(task.user_scenario)`, the messages "
            "as its user simulator sends them (what `import-tau2` sets)."
        ),
    )


class UserSimulatorSpec(_Strict):
    """The user simulator's part of a loaded pack: guidelines read, layout chosen."""

    guidelines: str | None = None
    """The guidelines text exactly as written (None: the built-in ones)."""
    format: UserPromptFormat = UserPromptFormat.POLICY_AGENT

    @property
    def is_default(self) -> bool:
        """Whether the pack leaves the user simulator as it is (then it is left out of the hash)."""
        return self.guidelines is None and self.format is UserPromptFormat.POLICY_AGENT


def tasks_tau2_cannot_show(layout: UserPromptFormat, tasks: list[tuple[int, Task]]) -> list[int]:
    """The indexes of the tasks whose scenario the layout cannot show as the pack means it.

    tau2's layout writes `Domain: <domain>` for every structured scenario (tau2 requires the
    field), so a structured scenario without `domain` would tell the user model `Domain: None`.
    """
    if layout is not UserPromptFormat.TAU2:
        return []
    return [
        index
        for index, task in tasks
        if isinstance(task.user_scenario.instructions, StructuredInstructions)
        and task.user_scenario.instructions.domain is None
    ]
