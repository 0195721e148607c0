"""`PolicyEnv`: a domain pack as a `gymnasium.Env`, one episode at a time (needs the `rl` extra).

```python
env = PolicyEnv.from_files("simulations/hotel-rl.yaml")
observation, info = env.reset(options={"task": "card_triplet_cribs", "trial": 0})
while True:
    completion = policy(observation["prompt"])                 # your model's text after it
    observation, reward, terminated, truncated, info = env.step(completion)
    if terminated or truncated:
        break                                                  # reward: the episode's
```
An observation is a dict: `prompt` (the ChatML text, generation opening included), `messages`
(the same prompt in OpenAI format), `turn` and `attempt`. An action is the completion text (or
an `AgentCompletion`, to keep the trainer's token ids and logprobs with the episode). `info`
holds `turn`, `records` (the conversation records since the last prompt, as JSON), `tool_results`,
`violation`, and at the end `termination_reason`, `reward_breakdown`, `reward_info` and
`episode` (the `Episode` itself). `reset`'s `seed` seeds the choice of task when `options` names
none; the episode's own seed is the one `policy-agent run` gives (task, trial).

The env runs its episode on its own event loop: use it from synchronous code. Async trainers
use `TrainerSimulation` directly (many episodes at once), or `serve-env` from another process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium
from gymnasium import spaces

from policy_agent.domain import DomainPack, load_pack
from policy_agent.llm import ModelClient
from policy_agent.rl._episode import (
    AgentCompletion,
    EnvError,
    LiveEpisode,
    StepOutcome,
    TrainerSimulation,
)
from policy_agent.rl._info import observation, step_info
from policy_agent.simulation import SimulationConfig, load_config

_ANY_TEXT = "".join(chr(c) for c in range(0x20, 0x7F)) + "\n\t"
"""The `Text` spaces' charset for sampling; prompts and completions hold any Unicode."""


class PolicyEnv(gymnasium.Env[dict[str, Any], str]):
    """One domain pack as a gymnasium environment: the agent's turns are the actions."""

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 (gymnasium's own class attribute)

    def __init__(
        self,
        config: SimulationConfig,
        pack: DomainPack | None = None,
        *,
        clients: Mapping[str, ModelClient] | None = None,
        render_mode: str | None = None,
    ) -> None:
        """`config`: a run config with a model agent (see `TrainerSimulation`); `pack` defaults
        to the config's domain; `clients` may replace the user's and the judge's."""
        import asyncio

        self._loop = asyncio.new_event_loop()
        self.simulation = TrainerSimulation(
            config, pack if pack is not None else load_pack(config.domain), clients=clients
        )
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {"prompt": spaces.Text(max_length=1 << 24, charset=_ANY_TEXT)}
        )
        self.action_space = spaces.Text(max_length=1 << 20, charset=_ANY_TEXT)
        self._episode: LiveEpisode | None = None
        self._last: StepOutcome | None = None

    @classmethod
    def from_files(cls, config: Path | str, **options: Any) -> PolicyEnv:
        """The env of a run-config YAML file (its domain pack loaded from its `domain`)."""
        return cls(load_config(Path(config)), **options)

    @property
    def task_ids(self) -> list[str]:
        """The tasks `reset` may play."""
        return list(self.simulation.tasks)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode: `options={"task": ID, "trial": N}` (a random task when none)."""
        super().reset(seed=seed)
        self._stop()
        options = options or {}
        task = options.get("task")
        if task is None:
            task = self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        trial = int(options.get("trial", 0))
        self._episode, outcome = self._loop.run_until_complete(
            self.simulation.start(str(task), trial)
        )
        self._last = outcome
        return observation(outcome), step_info(outcome, as_json=False)

    def step(
        self, action: str | AgentCompletion
    ) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Give the agent's completion; the next observation, reward, ends and info."""
        if self._episode is None:
            raise EnvError("call reset() before step()")
        outcome = self._loop.run_until_complete(self._episode.step(action))
        self._last = outcome
        return (
            observation(outcome),
            outcome.reward,
            outcome.terminated,
            outcome.truncated,
            step_info(outcome, as_json=False),
        )

    def render(self) -> str | None:
        """`ansi`: the prompt the agent is asked now (or the ending)."""
        if self.render_mode != "ansi" or self._last is None:
            return None
        if self._last.prompt is not None:
            return self._last.prompt.text
        episode = self._last.episode
        return "" if episode is None else f"ended: {episode.termination_reason.value}"

    def close(self) -> None:
        """Stop the episode in play and close the model clients."""
        self._stop()
        if not self._loop.is_closed():
            self._loop.run_until_complete(self.simulation.aclose())
            self._loop.close()

    def _stop(self) -> None:
        if self._episode is not None:
            self._loop.run_until_complete(self._episode.aclose())
            self._episode = None
