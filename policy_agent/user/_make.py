"""`make_user`: the user simulator a configuration asks for, for one task."""

from __future__ import annotations

from policy_agent.domain import DomainPack, Task
from policy_agent.errors import PolicyAgentError
from policy_agent.llm import LLMClient, ModelClient
from policy_agent.user._config import UserConfig
from policy_agent.user._llm import LLMUser
from policy_agent.user._scripted import ScriptedUser
from policy_agent.user._step import UserSimulator


class UserSetupError(PolicyAgentError, ValueError):
    """A user simulator cannot be made for a task (no script, a client for another model)."""


def make_user(
    config: UserConfig, task: Task, pack: DomainPack, *, client: ModelClient | None = None
) -> UserSimulator:
    """The user simulator of `task`: an `LLMUser` or a `ScriptedUser`, as `config.kind` says.

    `client` (LLM user) should be the run's one user-role client, shared by every episode;
    without it a new one is made from `config.model`. A scripted user ignores it.
    """
    if config.kind == "scripted":
        script = task.user_scenario.script
        if not script:
            raise UserSetupError(
                f"task {task.id} of domain {pack.name} has no user_scenario.script, which the "
                "scripted user says; add one, or use an llm user"
            )
        return ScriptedUser(task=task, lines=script)
    model = config.model
    if model is None:
        raise AssertionError("unreachable: UserConfig requires a model for an llm user")
    if client is not None and client.config != model:
        raise UserSetupError(
            f"the client is configured for model {client.config.model!r} with other settings "
            "than the user config's `model`; pass a client made from config.model, or none"
        )
    return LLMUser(
        task=task, pack=pack, config=config, client=client or LLMClient(model, role="user")
    )
