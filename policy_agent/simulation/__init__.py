"""Simulations: episodes of a domain pack's tasks, run concurrently, appended as they finish.

```python
config = load_config(Path("simulations/hotel-demo.yaml"))       # SimulationConfig
simulation = Simulation(config, load_pack(config.domain))
store = RunStore.create(config.out, simulation.manifest())
tally = asyncio.run(simulation.run(store, observer))           # runs/<run-id>/episodes.jsonl
```
`run_episode` plays one conversation (user, agent, tools) to one of the `TerminationReason`s.
An `Executor` plays the episodes (`executor_for`: in this process, in `processes` children,
or on Ray actors with `executor: ray`) while this process alone records them. `OracleAgent`
performs a task's expected actions without a model (the demo, `policy-agent check`); seeds
come from `episode_seed(run seed, task, trial)`. Infrastructure failures are counted by cause
(`FailureTally`), and a run stops (`RunStopped`) when one role fails
`stop_after_infrastructure_failures` episodes in a row.
"""

from policy_agent.simulation._check import TaskCheck, check_pack
from policy_agent.simulation._config import (
    HASH_EXCLUDES,
    TAU2_GREETING,
    ConfigError,
    ModelAgentConfig,
    OracleAgentConfig,
    Overrides,
    SimulationConfig,
    apply_overrides,
    config_for_domain,
    load_config,
)
from policy_agent.simulation._executor import Executor, PackMismatch, executor_for
from policy_agent.simulation._failures import (
    FailureTally,
    InfrastructureCause,
    RunStopped,
    ServedModels,
    budget_warnings,
    infrastructure_cause,
)
from policy_agent.simulation._history import agent_moves_first, history_records
from policy_agent.simulation._loop import (
    AgentPlayer,
    EpisodeLimits,
    EpisodeTimeout,
    database_state,
    run_episode,
)
from policy_agent.simulation._oracle import BriefUser, OracleAgent
from policy_agent.simulation._processes import WorkerProcessFailed
from policy_agent.simulation._progress import (
    ProgressDisplay,
    RunObserver,
    RunTally,
    is_infrastructure_failure,
    is_pass,
)
from policy_agent.simulation._ray import RayUnavailable
from policy_agent.simulation._runner import PlannedEpisode, Simulation, plan
from policy_agent.simulation._seeds import episode_seed
from policy_agent.simulation._server import (
    CONFIG_SOURCE,
    agent_model_warnings,
    detect_agent_server,
)
from policy_agent.simulation._simulate import simulate

__all__ = [
    "CONFIG_SOURCE",
    "HASH_EXCLUDES",
    "TAU2_GREETING",
    "AgentPlayer",
    "BriefUser",
    "ConfigError",
    "EpisodeLimits",
    "EpisodeTimeout",
    "Executor",
    "FailureTally",
    "InfrastructureCause",
    "ModelAgentConfig",
    "OracleAgent",
    "OracleAgentConfig",
    "Overrides",
    "PackMismatch",
    "PlannedEpisode",
    "ProgressDisplay",
    "RayUnavailable",
    "RunObserver",
    "RunStopped",
    "RunTally",
    "ServedModels",
    "Simulation",
    "SimulationConfig",
    "TaskCheck",
    "WorkerProcessFailed",
    "agent_model_warnings",
    "agent_moves_first",
    "apply_overrides",
    "budget_warnings",
    "check_pack",
    "config_for_domain",
    "database_state",
    "detect_agent_server",
    "episode_seed",
    "executor_for",
    "history_records",
    "infrastructure_cause",
    "is_infrastructure_failure",
    "is_pass",
    "load_config",
    "plan",
    "run_episode",
    "simulate",
]
