"""Domain packs as RL environments: the trainer's policy plays the agent, the run's code the rest.

- `TrainerSimulation` / `LiveEpisode` (async): a run's simulation whose agent completions come
  from outside; many episodes at once.
- `PolicyEnv`: the same as a `gymnasium.Env`, one episode at a time (the `rl` extra installs
  gymnasium; it is imported only when `PolicyEnv` is).
- `EnvServer` / `env_app`: the same over HTTP (`policy-agent serve-env PACK`), for a trainer in
  another process; the request and response schemas are `ResetRequest`, `StepRequest`, ...
- `oracle_policy`: completions that replay the oracle's actions, to smoke-test a trainer's loop.

docs/rl.md has a trainer's loop, the step's fields and the HTTP schemas.
"""

from typing import TYPE_CHECKING, Any

from policy_agent.rl._episode import (
    AgentCompletion,
    EnvError,
    LiveEpisode,
    Prompt,
    StepOutcome,
    TrainerClient,
    TrainerSimulation,
)
from policy_agent.rl._info import observation, step_info
from policy_agent.rl._oracle import oracle_completions, oracle_policy
from policy_agent.rl._schemas import (
    CloseRequest,
    CompletionBody,
    ErrorResponse,
    ObservationBody,
    ResetRequest,
    ResetResponse,
    StepRequest,
    StepResponse,
    TasksResponse,
)
from policy_agent.rl._server import EnvServer, env_app

if TYPE_CHECKING:
    from policy_agent.rl._gym import PolicyEnv

__all__ = [
    "AgentCompletion",
    "CloseRequest",
    "CompletionBody",
    "EnvError",
    "EnvServer",
    "ErrorResponse",
    "LiveEpisode",
    "ObservationBody",
    "PolicyEnv",
    "Prompt",
    "ResetRequest",
    "ResetResponse",
    "StepOutcome",
    "StepRequest",
    "StepResponse",
    "TasksResponse",
    "TrainerClient",
    "TrainerSimulation",
    "env_app",
    "observation",
    "oracle_completions",
    "oracle_policy",
    "step_info",
]


def __getattr__(name: str) -> Any:
    # gymnasium is an optional extra: only `PolicyEnv` needs it.
    if name == "PolicyEnv":
        try:
            from policy_agent.rl._gym import PolicyEnv
        except ModuleNotFoundError as missing:
            if missing.name != "gymnasium":
                raise
            raise ImportError("PolicyEnv needs gymnasium: pip install 'policy-agent[rl]'") from None
        return PolicyEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
