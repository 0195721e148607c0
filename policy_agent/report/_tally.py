"""A run's report counted episode by episode, so that reading a run of any size holds one
episode at a time: what is kept is counts, sums, and a few numbers per episode (its key, its
reward, a 0/1 per rule it was checked against, a line per rule breach).

Sums of floats are added in the order the episodes come (file order), as summing lists of
every episode's values did, so the report's numbers are the same to the last bit.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import JsonValue

from policy_agent.evaluation import RunTally, is_infrastructure_failure
from policy_agent.report._model import RoleUsage, ToolUsage
from policy_agent.report._reading import (
    ReadEpisode,
    ReadGeneration,
    ReadJudgeUsage,
    ReadViolationEvent,
)
from policy_agent.report._rules import RuleTally


class _Sums:
    """Calls, tokens, latency and cost of one role, added up as they come."""

    def __init__(self) -> None:
        self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.latency_ms: float = 0
        self.cost_usd: float = 0
        self.priced = False

    def add(
        self,
        *,
        calls: int,
        prompt_tokens: int,
        completion_tokens: int,
        latency_ms: float,
        cost_usd: float | None,
    ) -> None:
        self.calls += calls
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.latency_ms += latency_ms
        if cost_usd is not None:
            self.cost_usd += cost_usd
            self.priced = True

    def add_judge(self, usage: ReadJudgeUsage, *, calls: int) -> None:
        self.add(
            calls=calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=usage.latency_ms,
            cost_usd=usage.cost_usd,
        )

    def usage(self, role: str, model: str | None, cached: int | None = None) -> RoleUsage:
        return RoleUsage.model_validate(
            {
                "role": role,
                "model": model,
                "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cached_prompt_tokens": cached,
                "latency_ms": self.latency_ms,
                "mean_latency_ms": self.latency_ms / self.calls if self.calls else None,
                # A role without a configured price has no cost at all, never a made-up 0.
                "cost_usd": self.cost_usd if self.priced else None,
            }
        )


class ReportTally:
    """Everything `build_report` needs of a run's episodes, fed one at a time (`add`)."""

    def __init__(self) -> None:
        """Nothing counted yet."""
        self.scores = RunTally()
        self.rules = RuleTally()
        self.task_ids: set[str] = set()
        self.terminations: Counter[str] = Counter()
        self.early: dict[str, Counter[str]] = {}
        """Per task, the scored episodes that ended early, by termination reason."""
        self.violations: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.agent_turns = 0
        self.tools: Counter[str] = Counter()
        self.roles = {"agent": _Sums(), "user": _Sums()}
        self.cached: dict[str, int] = {}
        self.judge_models: set[str] = set()
        self._judged = _Sums()
        self._ruled: list[ReadJudgeUsage] = []
        """The rules' judge usages: their sums come after every NL judge's, as they did."""

    def add(self, episode: ReadEpisode) -> None:
        """Count `episode` everywhere the report counts it."""
        self.scores.add(episode)
        self.rules.add(episode)
        self.task_ids.add(episode.task_id)
        reason = episode.termination_reason
        self.terminations[reason.value] += 1
        agents = not is_infrastructure_failure(episode)
        if agents and episode.reward is not None and not reason.is_normal_end:
            self.early.setdefault(episode.task_id, Counter())[reason.value] += 1
        if agents:
            self._add_agents(episode)
        self._add_usage(episode)

    def _add_agents(self, episode: ReadEpisode) -> None:
        """What only the agent's episodes count: violations, turns, tool calls."""
        for event in episode.events:
            if isinstance(event, ReadViolationEvent):
                self.violations[event.violation.code.value] += 1
                self.actions[event.action_taken] += 1
        if "agent" in episode.totals:
            self.agent_turns += episode.totals["agent"].calls
        for record in episode.messages:
            if record.is_tool_result:
                who = "agent" if record.requestor == "assistant" else "user"
                self.tools[f"{who}_calls"] += 1
                self.tools[f"{who}_errors"] += record.error
                self.tools[f"{who}_crashes"] += record.crashed

    def _add_usage(self, episode: ReadEpisode) -> None:
        """Each role's usage: agent and user from the totals, the judge from the reward."""
        for role, sums in self.roles.items():
            totals = episode.totals.get(role)
            if totals is not None:
                sums.add(
                    calls=totals.calls,
                    prompt_tokens=totals.prompt_tokens,
                    completion_tokens=totals.completion_tokens,
                    latency_ms=totals.latency_ms,
                    cost_usd=totals.cost_usd,
                )
        for event in episode.events:
            # A violation's rejected call was the agent's, unless its first call was kept.
            if isinstance(event, ReadViolationEvent) and event.action_taken != "keep_first":
                self._add_cached("agent", event.generation)
        for record in episode.messages:
            if record.generation is not None:
                role = "agent" if record.role == "assistant" else "user"
                self._add_cached(role, record.generation)
        reward = episode.reward
        if reward is not None and reward.judge is not None:
            self.judge_models.add(reward.judge.model)
            self._judged.add_judge(reward.judge, calls=1)
        # The judge's calls for the rules that ask it (one per write), kept apart in the reward.
        if reward is not None and reward.rules_judge is not None:
            self.judge_models.add(reward.rules_judge.model)
            self._ruled.append(reward.rules_judge)

    def _add_cached(self, role: str, generation: ReadGeneration) -> None:
        """Count the prompt tokens the role's server reported as cached (when it did)."""
        count = generation.usage.cached_prompt_tokens
        if count is not None:
            self.cached[role] = self.cached.get(role, 0) + count

    def tool_usage(self) -> ToolUsage:
        """The agent's and the user's tool calls, errors and crashes."""
        counts = self.tools
        calls = counts["agent_calls"]
        return ToolUsage(
            agent_calls=calls,
            agent_errors=counts["agent_errors"],
            agent_crashes=counts["agent_crashes"],
            agent_error_rate=counts["agent_errors"] / calls if calls else None,
            user_calls=counts["user_calls"],
            user_errors=counts["user_errors"],
        )

    def role_usage(self, config: Mapping[str, JsonValue]) -> list[RoleUsage]:
        """Agent, user and judge: calls, tokens, latency, cost."""
        roles = [
            sums.usage(role, role_model(config, role), self.cached.get(role))
            for role, sums in self.roles.items()
        ]
        judge = copy.copy(self._judged)
        for usage in self._ruled:
            judge.add_judge(usage, calls=usage.calls)
        models = sorted(self.judge_models)
        roles.append(
            judge.usage("judge", ", ".join(models) if models else role_model(config, "judge"))
        )
        return roles


def tally(episodes: Iterable[ReadEpisode]) -> ReportTally:
    """`episodes` counted."""
    counted = ReportTally()
    for episode in episodes:
        counted.add(episode)
    return counted


def role_model(config: Mapping[str, JsonValue], role: str) -> str | None:
    """The model string of `role` in a stored run config (None for the oracle or a script)."""
    part = config.get(role)
    if isinstance(part, dict) and role != "judge":
        part = part.get("model")
    if isinstance(part, dict) and isinstance(model := part.get("model"), str):
        return model
    return None
