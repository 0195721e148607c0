"""Imported tau2 packs for the bridge's tests, made once per session in a temporary folder.

The packs are generated, never committed (airline's database is megabytes); the folder is named
`domains/` so that the packs' Python paths resolve against the folder above it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from policy_agent.domain import Action, DomainPack, Task, ToolSpec, load_pack
from policy_agent.tau2 import import_domain
from tests.simulation._support import call, say

_TEMPORARY = Path(tempfile.mkdtemp(prefix="policy-agent-tau2-"))
_ROOT = _TEMPORARY / "domains"
# Made at collection (the parity cases are sampled from the packs), so not a pytest tmp_path.
atexit.register(shutil.rmtree, _TEMPORARY, ignore_errors=True)

VARIANTS = ("gold", "missing_action", "wrong_argument", "silent")
"""The trajectories played per task: the expected one, and three that each fail one check."""


SPLITS: dict[str, str | None] = {"mock": None, "airline": None, "retail": None, "telecom": "base"}
"""The task split imported per domain: every task, but telecom's 114 `base` ones (of 2285)."""


@functools.cache
def imported(domain: str) -> DomainPack:
    """tau2's `domain` (the tasks of its SPLITS) as a pack, imported and loaded once per session."""
    folder = _ROOT / f"tau2-{domain}"
    import_domain(domain, folder, task_split=SPLITS[domain])
    return load_pack(folder)


@functools.cache
def tau2_tasks(domain: str) -> dict[str, Any]:
    """tau2's own tasks of `domain` (its SPLITS) by id."""
    import importlib

    module = importlib.import_module(f"tau2.domains.{domain}.environment")
    return {task.id: task for task in module.get_tasks(SPLITS[domain])}


def tau2_environment(domain: str) -> Any:
    """A fresh tau2 environment of `domain` at its initial state."""
    import importlib

    return importlib.import_module(f"tau2.domains.{domain}.environment").get_environment()


def gold_actions(task: Task) -> list[Action]:
    """The agent's expected actions of `task` (tau2 may list the user's too)."""
    return [a for a in task.evaluation_criteria.actions if a.requestor == "assistant"]


def agent_answers(tools: dict[str, ToolSpec], task: Task, variant: str) -> list[dict[str, Any]]:
    """The agent's scripted outputs for `task` (chat transport, card style) in one of VARIANTS.

    `gold`: the expected actions, then a message with the `communicate_info`; `missing_action`:
    without the last action; `wrong_argument`: the last action with a text argument changed;
    `silent`: a final message without the information.
    """
    actions = gold_actions(task)
    if variant == "missing_action" and actions:
        actions = actions[:-1]
    answers = []
    for position, action in enumerate(actions):
        arguments = dict(action.arguments)
        if variant == "wrong_argument" and position == len(actions) - 1:
            # A text argument without an enum: our environment checks arguments against the
            # schema before the tool runs, tau2 does not (see docs/tau2.md), so a value outside
            # the schema would be a known difference rather than a parity check.
            schemas = tools[action.name].parameters
            text = [
                name
                for name, value in arguments.items()
                if isinstance(value, str) and "enum" not in schemas.get(name, {})
            ]
            if text:
                arguments[text[-1]] = f"{arguments[text[-1]]}-wrong"
        answers.append(call(action.name, arguments))
    infos = task.evaluation_criteria.communicate_info
    said = "All done." if variant == "silent" or not infos else "Done: " + "; ".join(infos)
    return [*answers, say(said)]


def dual_answers(task: Task, variant: str) -> tuple[list[Any], list[Any]]:
    """The agent's and the user's scripted outputs for a dual-control task (telecom): the
    expected actions in order, each side making its own; `missing_action` leaves the last out.

    The user opens; before each of its calls the agent asks for it, and after it the user says
    it is done. The agent ends with a message, the user with a stop.
    """
    actions = list(task.evaluation_criteria.actions)
    if variant == "missing_action" and actions:
        actions = actions[:-1]
    agent: list[Any] = []
    user: list[Any] = ["Hi, my phone has a problem."]
    for action in actions:
        if action.requestor == "assistant":
            agent.append(call(action.name, dict(action.arguments)))
            continue
        agent.append(say(f"Please use {action.name} on your phone."))
        user.append({"tool_calls": [{"name": action.name, "arguments": dict(action.arguments)}]})
        user.append("Done.")
    agent.append(say("Is everything working now?"))
    user.append("Thank you. ###STOP###")
    return agent, user
