"""Episodes whose agent completions come from a trainer: the run's own simulation, inverted.

A `TrainerSimulation` is a `Simulation` (the pack's environment and tools, the configured user
simulator, the evaluator) whose agent is the run's `Agent` (its system prompt, its reading of a
completion with the one-action parser, its violation strategy), but whose model client hands
each prompt out and waits for the trainer's completion:

```python
simulation = TrainerSimulation(config, pack)
episode, first = await simulation.start("card_triplet_cribs", trial=0)
outcome = await episode.step(AgentCompletion(text=policy(first.prompt.text)))
... until outcome.prompt is None (the episode ended; outcome.reward is its reward)
```
Nothing of the loop is rewritten here: `Simulation.play` runs the episode as `policy-agent run`
would, so the same completions get the same reward. The agent always reads completions as the
completions transport does (the text after the ChatML prompt, `parse_completion`), whatever the
config's transport; its style (card or template), thinking and violation strategy are the
config's. The episode's wall-clock limit is off (the trainer's time is not the episode's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from policy_agent.agent import Agent, AgentStep, to_openai_messages
from policy_agent.domain import DomainPack, Task
from policy_agent.errors import PolicyAgentError
from policy_agent.format import parse_completion, split_reasoning
from policy_agent.llm import Completion, ModelClient, ModelConfig, Usage
from policy_agent.records import (
    ChatAssistantMessage,
    ChatMessage,
    ChatUserMessage,
    ConversationRecord,
    Episode,
    RewardInfo,
    TerminationReason,
    TokenTrace,
    ToolResult,
    Violation,
)
from policy_agent.simulation import (
    ConfigError,
    ModelAgentConfig,
    PlannedEpisode,
    Simulation,
    SimulationConfig,
    episode_seed,
)

_TRUNCATIONS = {TerminationReason.MAX_STEPS, TerminationReason.TIMEOUT}
"""Endings that cut the episode short (gymnasium's `truncated`); every other one `terminated`."""


class EnvError(PolicyAgentError):
    """A request the environment cannot serve (unknown task, an episode that is not waiting)."""


@dataclass(frozen=True, kw_only=True)
class AgentCompletion:
    """What the trainer's policy wrote after the prompt: the action of one step."""

    text: str
    """The completion text after the prompt's generation opening (`<think>\\n` in thinking
    mode): `reasoning</think>\\n` then one message or one `<tool_call>`. Anything from the
    first `<|im_end|>` on is cut, as the server's stop string would."""
    finish_reason: str = "stop"
    """`length` when the trainer cut it at its token limit."""
    tokens: TokenTrace | None = None
    """The trainer's own token ids and logprobs, kept with the episode's generation."""


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """What the agent's model is asked next."""

    text: str
    """The ChatML prompt, generation opening included: exactly what the completions transport
    would send."""
    messages: list[dict[str, Any]]
    """The same prompt as OpenAI-format messages (what the chat transport would send)."""
    turn: int
    """This generation's index in the episode, from 0 (rejected attempts count)."""
    attempt: int
    """1, or n when the n - 1 completions before it were rejected by the violation strategy."""


@dataclass(frozen=True, kw_only=True)
class StepOutcome:
    """What one step (or the start) led to."""

    prompt: Prompt | None
    """The next prompt; None once the episode has ended."""
    reward: float
    """0 until the end; then the episode's τ²-style reward (0 when it has none)."""
    terminated: bool
    truncated: bool
    """The episode was cut short (`max_steps`)."""
    records: list[ConversationRecord] = field(default_factory=list)
    """What the conversation gained since the previous prompt: the agent's record, tool
    results, the user's messages."""
    violation: Violation | None = None
    """The parser's verdict on the completion just given, when it was not one action."""
    episode: Episode | None = None
    """The whole evaluated episode, once it has ended."""

    @property
    def tool_results(self) -> list[ToolResult]:
        """The results of the agent's tool calls among `records`."""
        return [r for r in self.records if isinstance(r, ToolResult) and r.requestor == "assistant"]

    @property
    def reward_info(self) -> RewardInfo | None:
        """The reward's breakdown, once the episode has ended and been evaluated."""
        return None if self.episode is None else self.episode.reward


_CURRENT: ContextVar[LiveEpisode] = ContextVar("policy_agent_rl_episode")
"""The episode a model call belongs to (one client serves every episode of a simulation)."""


class TrainerClient:
    """The agent's `ModelClient`: each call hands a prompt to the trainer (see `LiveEpisode`)."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.role = "agent"

    async def complete(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = ("<|im_end|>",),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """The trainer's completion of `prompt`, as the completions transport returns one.

        The trainer samples, so request fields (`extra_body`, a grammar) do not reach it."""
        return await _CURRENT.get().ask(prompt, stop)

    async def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """Never called: a `TrainerSimulation` sets the agent's transport to completions."""
        raise EnvError("the environment's agent asks with the completions transport only")

    async def aclose(self) -> None:
        """Nothing to release."""


class TrainerSimulation:
    """A run's simulation whose agent completions come from a trainer; many episodes at once."""

    def __init__(
        self,
        config: SimulationConfig,
        pack: DomainPack,
        *,
        clients: Mapping[str, ModelClient] | None = None,
    ) -> None:
        """`config` is a run config with a model agent (its format and violation strategy are
        used; its server is not); `clients` may replace the user's and the judge's."""
        if not isinstance(config.agent, ModelAgentConfig):
            raise ConfigError(
                "the environment needs a model agent config (agent: {model: ..., style: ...}): "
                "the trainer's policy plays the agent in its format; the oracle plays itself"
            )
        agent = config.agent.model_copy(update={"transport": "completions"})
        self.config = config.model_copy(update={"agent": agent, "episode_timeout_s": None})
        self.client = TrainerClient(agent.model)
        self.simulation = Simulation(
            self.config, pack, clients={**(clients or {}), "agent": self.client}
        )
        self.agent = Agent.from_pack(pack, agent, self.client)
        self.tasks: dict[str, Task] = {p.task.id: p.task for p in self.simulation.episodes}
        """The tasks an episode may play (the config's `tasks`, or all of the pack's)."""

    def planned(self, task_id: str, trial: int) -> PlannedEpisode:
        """The episode (task, trial) with the seed `policy-agent run` gives it."""
        task = self.tasks.get(task_id)
        if task is None:
            raise EnvError(f"no task {task_id!r}; the tasks are: {', '.join(self.tasks)}")
        if trial < 0:
            raise EnvError(f"trial {trial} is negative; trials count from 0")
        return PlannedEpisode(
            task=task, trial=trial, seed=episode_seed(self.config.seed, task_id, trial)
        )

    async def start(self, task_id: str, trial: int = 0) -> tuple[LiveEpisode, StepOutcome]:
        """Start the episode; its first prompt (or its end, when no agent turn came)."""
        episode = LiveEpisode(self, self.planned(task_id, trial))
        return episode, await episode.begin()

    async def aclose(self) -> None:
        """Close the user's and the judge's model clients."""
        await self.simulation.aclose()


@dataclass(frozen=True, kw_only=True)
class _Ask:
    prompt: Prompt
    answer: asyncio.Future[AgentCompletion]


class _TrainedAgent:
    """The run's agent, telling its episode where each turn starts."""

    def __init__(self, agent: Agent, live: LiveEpisode) -> None:
        self._agent = agent
        self._live = live

    async def act(
        self,
        history: Sequence[ConversationRecord],
        *,
        seed: int | None = None,
        session: str | None = None,
    ) -> AgentStep:
        self._live.turn_starts(history)
        return await self._agent.act(history, seed=seed, session=session)


class LiveEpisode:
    """One episode in play: it waits at each agent prompt for `step`'s completion."""

    def __init__(self, owner: TrainerSimulation, planned: PlannedEpisode) -> None:
        self._owner = owner
        self.planned = planned
        self._asks: asyncio.Queue[_Ask] = asyncio.Queue()
        self._waiting: _Ask | None = None
        self._task: asyncio.Task[Episode] | None = None
        self._history: Sequence[ConversationRecord] = ()
        self._reported = 0
        self._attempt = 0
        self._corrections: list[ChatMessage] = []
        self._last_text = ""
        self._generations = 0
        self.ended: Episode | None = None

    @property
    def waiting(self) -> bool:
        """Whether the episode waits for a completion (it has not ended)."""
        return self._waiting is not None

    async def begin(self) -> StepOutcome:
        """Start playing; the first prompt, or the ending if the episode ends before it."""
        if self._task is not None:
            raise EnvError("the episode has started already")
        self._task = asyncio.create_task(self._play())
        return await self._next(None)

    async def step(self, completion: AgentCompletion | str) -> StepOutcome:
        """Answer the waiting prompt with `completion`; the next prompt or the ending."""
        waiting = self._waiting
        if waiting is None:
            raise EnvError(
                "the episode is not waiting for a completion: it has ended (reset for a new "
                "one) or a step of it is still under way"
            )
        self._waiting = None
        if isinstance(completion, str):
            completion = AgentCompletion(text=completion)
        verdict = parse_completion(
            _cut(completion.text, ("<|im_end|>",)),
            self._owner.agent.functions,
            thinking=self._thinking,
        )
        waiting.answer.set_result(completion)
        return await self._next(verdict if isinstance(verdict, Violation) else None)

    async def aclose(self) -> None:
        """Stop the episode wherever it is (an episode that ended has nothing to stop)."""
        self._waiting = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def _thinking(self) -> bool:
        return self._owner.agent.config.model.thinking

    async def _play(self) -> Episode:
        _CURRENT.set(self)
        player = _TrainedAgent(self._owner.agent, self)
        return await self._owner.simulation.play(self.planned, agent=player)

    async def _next(self, violation: Violation | None) -> StepOutcome:
        assert self._task is not None
        asked = asyncio.ensure_future(self._asks.get())
        await asyncio.wait({asked, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if asked.done():
            ask = asked.result()
            self._waiting = ask
            records = list(self._history[self._reported :])
            self._reported = len(self._history)
            return StepOutcome(
                prompt=ask.prompt,
                reward=0.0,
                terminated=False,
                truncated=False,
                records=records,
                violation=violation,
            )
        asked.cancel()
        if self._task.cancelled():
            raise EnvError("the episode was closed while this step was under way")
        episode = self._task.result()  # Simulation.play never raises
        self.ended = episode
        truncated = episode.termination_reason in _TRUNCATIONS
        return StepOutcome(
            prompt=None,
            reward=0.0 if episode.reward is None else episode.reward.reward,
            terminated=not truncated,
            truncated=truncated,
            records=list(episode.messages[self._reported :]),
            violation=violation,
            episode=episode,
        )

    def turn_starts(self, history: Sequence[ConversationRecord]) -> None:
        """The agent starts a turn after `history` (the episode's live list of records)."""
        self._history = history
        self._attempt = 0
        self._corrections = []

    async def ask(self, prompt: str, stop: Sequence[str]) -> Completion:
        """Hand `prompt` to the trainer and wait for its completion (the agent's model call)."""
        agent = self._owner.agent
        self._attempt += 1
        policy = agent.config.violations
        if self._attempt > 1 and policy.strategy == "feedback":
            # The agent asks again with the rejected answer and a correction; the same pieces,
            # from the same parser, so the messages below are its prompt's (checked).
            verdict = parse_completion(self._last_text, agent.functions, thinking=self._thinking)
            detail = verdict.detail if isinstance(verdict, Violation) else ""
            answer = split_reasoning(self._last_text, opened=self._thinking).answer.strip()
            self._corrections += [
                ChatAssistantMessage(content=answer),
                ChatUserMessage(content=policy.correction(detail)),
            ]
        history = list(self._history)
        # Without corrections the prompt is the agent's rendering of `history` by construction;
        # with them, the rebuilt corrections are checked against what the agent sent.
        if self._corrections and agent.prompt(history, corrections=self._corrections) != prompt:
            raise EnvError(
                "the environment's copy of the agent's prompt differs from the prompt it sent "
                "(a bug in policy_agent.rl: report it with the pack and the completions)"
            )
        messages = to_openai_messages(agent.messages(history, corrections=self._corrections))
        loop = asyncio.get_running_loop()
        ask = _Ask(
            prompt=Prompt(
                text=prompt, messages=messages, turn=self._generations, attempt=self._attempt
            ),
            answer=loop.create_future(),
        )
        self._generations += 1
        self._asks.put_nowait(ask)
        given = await ask.answer
        text = _cut(given.text, stop)
        self._last_text = text
        trace = given.tokens
        usage = Usage()
        if trace is not None and trace.complete:
            prompt_tokens = len(trace.prompt_token_ids or [])
            completion_tokens = len(trace.completion_token_ids or [])
            usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
        return Completion(
            text=text,
            finish_reason=given.finish_reason,
            model=self._owner.client.config.model,
            prompt=prompt,
            usage=usage,
            tokens=trace,
        )


def _cut(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first stop string, as vLLM returns it."""
    cut = len(text)
    for candidate in stop:
        found = text.find(candidate) if candidate else -1
        if found != -1:
            cut = min(cut, found)
    return text[:cut]
