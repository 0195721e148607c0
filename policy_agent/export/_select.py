"""Which episodes an export keeps: a filter on the reward, infrastructure failures left out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from policy_agent.evaluation import is_infrastructure_failure, is_success
from policy_agent.records import Episode


@dataclass(frozen=True, kw_only=True)
class RewardFilter:
    """Keep episodes by reward; an episode without a reward passes only the empty filter."""

    min_reward: float | None = None
    """Keep episodes whose reward is at least this."""
    only_success: bool = False
    """Keep episodes that succeeded (reward 1, within tau2-bench's tolerance)."""

    @property
    def is_empty(self) -> bool:
        """Whether the filter keeps every episode."""
        return self.min_reward is None and not self.only_success

    def admits(self, episode: Episode) -> bool:
        """Whether `episode` passes the filter."""
        if self.is_empty:
            return True
        if episode.reward is None:
            return False
        reward = episode.reward.reward
        if self.min_reward is not None and reward < self.min_reward:
            return False
        return not self.only_success or is_success(reward)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """The episodes an export keeps, and how many it left out and why."""

    episodes: list[Episode]
    infrastructure_failures: int = 0
    """Left out: a failure outside the agent cut or decided them."""
    filtered_out: int = 0
    """Left out by the reward filter."""
    oracle: int = 0
    """Left out: played by the oracle, which is no model (`--include-oracle` keeps them)."""

    def describe(self) -> str:
        """One sentence: kept and left out."""
        text = f"{len(self.episodes)} episodes"
        if self.infrastructure_failures:
            text += f"; left out {self.infrastructure_failures} infrastructure failures"
        if self.filtered_out:
            text += f"; left out {self.filtered_out} by the reward filter"
        if self.oracle:
            text += f"; left out {self.oracle} played by the oracle (--include-oracle keeps them)"
        return text


def select_episodes(
    episodes: Iterable[Episode],
    reward_filter: RewardFilter,
    *,
    keep_infrastructure: bool,
    oracle: bool = False,
) -> Selection:
    """The episodes that pass `reward_filter`; infrastructure failures (conversations cut by a
    failure outside the agent) are kept only when `keep_infrastructure` is set. `oracle`: the
    episodes were played by the oracle, and are all left out (its scripted messages would teach
    a model to talk like a test fixture)."""
    if oracle:
        return Selection(episodes=[], oracle=sum(1 for _ in episodes))
    kept = []
    infrastructure = filtered = 0
    for episode in episodes:
        if not keep_infrastructure and is_infrastructure_failure(episode):
            infrastructure += 1
        elif not reward_filter.admits(episode):
            filtered += 1
        else:
            kept.append(episode)
    return Selection(episodes=kept, infrastructure_failures=infrastructure, filtered_out=filtered)
