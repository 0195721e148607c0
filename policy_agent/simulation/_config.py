"""A run's configuration: `simulations/*.yaml`, validated with file:line errors, flags on top.

```yaml
domain: ../domains/hotel        # relative to this file
agent: {kind: oracle}           # or an AgentConfig: model, transport, style, violations
user: {kind: scripted}          # or {kind: llm, model: {...}}
trials: 1
```
The resolved config is stored in the run's `run.json` and hashed for resume; `HASH_EXCLUDES`
are the fields a resumed run may change (they do not change what an episode is).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from policy_agent.agent import AgentConfig
from policy_agent.domain import display_path, explain_pack_error
from policy_agent.errors import PolicyAgentError
from policy_agent.llm import ModelConfig
from policy_agent.user import UserConfig
from policy_agent.yamlsource import (
    DocumentError,
    Explanation,
    SourceError,
    describe,
    field_path,
    load_yaml,
    validate_document,
)

TAU2_GREETING = "Hi! How can I help you today?"
"""tau2-bench's fixed first agent message, our default greeting."""

HASH_EXCLUDES = (
    "concurrency",
    "domain",
    "executor",
    "out",
    "processes",
    "ray_address",
    "stop_after_infrastructure_failures",
)
"""Config fields left out of the resume hash: how fast, on how many processes and where, where the
pack lies (its content is hashed separately), where runs go, when a failing run stops.
Everything else changes what an episode is."""


class ConfigError(PolicyAgentError):
    """A run configuration is invalid; the message lists each problem with file and line."""


class OracleAgentConfig(BaseModel):
    """The built-in oracle: performs each task's expected actions, then tells the outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["oracle"]


class ModelAgentConfig(AgentConfig):
    """An agent played by a model (`kind: llm` may be left out)."""

    kind: Literal["llm"] = "llm"


def _agent_kind(value: object) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "oracle" if kind == "oracle" else "llm"


AgentSettings = Annotated[
    Annotated[ModelAgentConfig, Tag("llm")] | Annotated[OracleAgentConfig, Tag("oracle")],
    Discriminator(_agent_kind),
]


class SimulationConfig(BaseModel):
    """Everything that defines a run: the domain, who plays each role, which episodes, limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: Path = Field(description="The domain pack's folder, relative to the config file.")
    agent: AgentSettings = Field(description="`{kind: oracle}`, or the agent's model and format.")
    user: UserConfig = Field(description="`{kind: scripted}`, or `{kind: llm, model: {...}}`.")
    judge: ModelConfig | None = Field(
        default=None, description="The model judging NL assertions (none: they are not judged)."
    )
    tasks: list[str] | None = Field(
        default=None, min_length=1, description="Task ids to run, in this order (none: all)."
    )
    trials: int = Field(default=1, ge=1, description="Episodes per task.")
    concurrency: int = Field(default=8, ge=1, description="Episodes running at once.")
    processes: int = Field(
        default=1,
        ge=1,
        description="Runner processes sharing the episodes (one process's CPU serves ~500 model "
        "calls/s); the first process alone writes the run. With `executor: ray`, the number of "
        "Ray workers (actors).",
    )
    executor: Literal["local", "ray"] = Field(
        default="local",
        description="Where episodes play: `local` (this process, or `processes` children) or "
        "`ray` (Ray actors spread over a cluster's nodes; the `ray` extra). This process alone "
        "writes the run either way.",
    )
    ray_address: str | None = Field(
        default=None,
        description="With `executor: ray`, the cluster to join (`HOST:PORT` of `ray start "
        "--head`); none: a local Ray started for the run.",
    )
    max_steps: int = Field(
        default=100,
        ge=1,
        description="Records per episode (greeting, messages, tool calls, tool results) before "
        "it ends as max_steps; tau2-bench counts every hop the same way (its default is 200).",
    )
    max_errors: int = Field(
        default=10, ge=1, description="Tool calls returning errors before too_many_errors."
    )
    episode_timeout_s: float | None = Field(
        default=1800, gt=0, description="Wall-clock limit per episode (null: none)."
    )
    tool_timeout_s: float | None = Field(
        default=60,
        gt=0,
        description="Wall-clock limit of one Python tool call: one still running then is "
        "abandoned and returns a tool error naming it (null: none).",
    )
    stop_after_infrastructure_failures: int | None = Field(
        default=5,
        ge=1,
        description="Stop starting episodes after this many in a row failed on one role's "
        "infrastructure (its server dead, say); the run stays resumable (null: never stop).",
    )
    seed: int = Field(default=0, description="The run seed; each episode's seed derives from it.")
    greeting: str | None = Field(
        default=TAU2_GREETING,
        min_length=1,
        description="The agent's fixed first message (null: the user speaks first).",
    )
    out: Path = Field(
        default=Path("runs"), description="Where run folders go (relative to the working dir)."
    )

    @field_validator("tasks")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            repeated = sorted({t for t in value if value.count(t) > 1})
            raise ValueError(f"lists {', '.join(repeated)} more than once; use `trials` instead")
        return value

    @model_validator(mode="after")
    def _address_needs_ray(self) -> SimulationConfig:
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError("ray_address is for `executor: ray`; set it, or drop ray_address")
        return self

    @property
    def is_oracle(self) -> bool:
        """Whether the agent is the built-in oracle."""
        return isinstance(self.agent, OracleAgentConfig)

    def as_json(self) -> dict[str, JsonValue]:
        """The config as JSON values: what `run.json` stores and the resume hash covers."""
        data: dict[str, JsonValue] = self.model_dump(mode="json")
        return data


def load_config(path: Path) -> SimulationConfig:
    """Read and validate a config file; `ConfigError` names each problem's file and line.

    `domain` is resolved against the config file's folder.
    """
    # Read by the name the messages show (relative to the working dir when inside it).
    shown = Path(display_path(path))
    try:
        config = validate_document(load_yaml(shown), SimulationConfig, explain=_explain)
    except SourceError as error:
        raise ConfigError(str(error)) from None
    except DocumentError as error:
        raise ConfigError(error.listing(str(shown))) from None
    return config.model_copy(update={"domain": (path.parent / config.domain).resolve()})


def _explain(error: ErrorDetails, root: object) -> Explanation:
    """The packs' explanations (a config's names, such as `api_key_env`, follow their rule), and
    a file that is not a mapping at all told what a config is."""
    found = explain_pack_error(error, root)
    if found.loc == () and error["type"] == "model_type":
        value = error.get("input")
        kind = "" if value is None else f"found {describe(value)}; "
        message = f"{kind}a run config is a mapping with at least domain, agent and user"
        return replace(found, message=message)
    return found


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """Command-line flags that replace config fields (None: keep the config's value)."""

    agent_model: str | None = None
    agent_api_base: str | None = None
    user_model: str | None = None
    user_api_base: str | None = None
    transport: str | None = None
    style: str | None = None
    server_profile: str | None = None
    instruct: bool = False
    constrain: str | None = None
    tasks: list[str] | None = None
    trials: int | None = None
    concurrency: int | None = None
    processes: int | None = None
    executor: str | None = None
    ray_address: str | None = None
    max_steps: int | None = None
    seed: int | None = None
    out: Path | None = None


def apply_overrides(config: SimulationConfig, flags: Overrides) -> SimulationConfig:
    """`config` with the flags' values in place; `ConfigError` names a flag that cannot apply."""
    data = config.model_dump(mode="json", exclude_unset=False)
    agent: dict[str, Any] = data["agent"]
    if flags.agent_model is not None:
        if agent.get("kind") == "oracle":
            agent = {"kind": "llm", "model": {"model": flags.agent_model}}
        else:
            agent["model"]["model"] = flags.agent_model
    needs_model = {
        "--agent-api-base": flags.agent_api_base is not None,
        "--transport": flags.transport is not None,
        "--style": flags.style is not None,
        "--server-profile": flags.server_profile is not None,
        "--instruct": flags.instruct,
        "--constrain": flags.constrain is not None,
    }
    if agent.get("kind") == "oracle" and any(needs_model.values()):
        named = ", ".join(flag for flag, given in needs_model.items() if given)
        raise ConfigError(
            f"{named}: the agent is the oracle, which has no model; add --agent-model"
        )
    if flags.agent_api_base is not None:
        agent["model"]["api_base"] = flags.agent_api_base
        agent["model"]["api_bases"] = []
    if flags.transport is not None:
        agent["transport"] = flags.transport
    if flags.style is not None:
        agent["style"] = flags.style
    if flags.server_profile is not None:
        agent["server_profile"] = flags.server_profile
    if flags.instruct:
        agent["model"]["thinking"] = False
    if flags.constrain is not None:
        agent["constrain"] = flags.constrain
    data["agent"] = agent
    data["user"] = _user_overrides(data["user"], flags)
    for name in (
        "tasks",
        "trials",
        "concurrency",
        "processes",
        "executor",
        "ray_address",
        "max_steps",
        "seed",
        "out",
    ):
        value = getattr(flags, name)
        if value is not None:
            data[name] = str(value) if isinstance(value, Path) else value
    if flags.executor == "local" and flags.ray_address is None:
        data["ray_address"] = None  # a Ray run resumed on this machine leaves its cluster
    try:
        return SimulationConfig.model_validate(data)
    except ValidationError as error:
        found = [_explain(detail, SimulationConfig) for detail in error.errors()]
        lines = [f"  {field_path(each.field)}: {each.message}" for each in found]
        raise ConfigError(
            "the command-line flags give an invalid config:\n" + "\n".join(lines)
        ) from None


def _user_overrides(user: dict[str, Any], flags: Overrides) -> dict[str, Any]:
    if flags.user_model is not None:
        if user.get("kind") == "scripted":
            user = {"kind": "llm", "model": {"model": flags.user_model}}
        else:
            user["model"]["model"] = flags.user_model
    if flags.user_api_base is not None:
        if user.get("kind") == "scripted":
            raise ConfigError(
                "--user-api-base: the user is scripted, which has no model; add --user-model"
            )
        user["model"]["api_base"] = flags.user_api_base
        user["model"]["api_bases"] = []
    return user


def config_for_domain(domain: Path, flags: Overrides) -> SimulationConfig:
    """The config of `run --domain DIR`: defaults, the flags, and a scripted user unless
    `--user-model` is given. The agent needs `--agent-model`."""
    if flags.agent_model is None:
        raise ConfigError(
            "--domain needs --agent-model (the agent's litellm model, e.g. "
            "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B); `policy-agent check DIR` runs the "
            "oracle instead"
        )
    base = SimulationConfig(
        domain=domain.resolve(),
        agent=OracleAgentConfig(kind="oracle"),
        user=UserConfig(kind="scripted"),
    )
    return apply_overrides(base, flags)
