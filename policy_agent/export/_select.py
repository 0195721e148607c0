"""Which episodes an export keeps: a filter on the reward, infrastructure failures left out.

An export streams a run, so the selection is made as the episodes go past (`Selector.kept`)
and only counted: nothing here holds an episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from policy_agent.evaluation import ScoredEpisode, is_infrastructure_failure, is_success

_EpisodeT = TypeVar("_EpisodeT", bound=ScoredEpisode)


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

    def admits(self, episode: ScoredEpisode) -> bool:
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
    """How many episodes an export kept, and how many it left out and why."""

    kept: int = 0
    infrastructure_failures: int = 0
    """Left out: a failure outside the agent cut or decided them."""
    filtered_out: int = 0
    """Left out by the reward filter."""
    oracle: int = 0
    """Left out: played by the oracle, which is no model (`--include-oracle` keeps them)."""

    def describe(self) -> str:
        """One sentence: kept and left out."""
        text = f"{self.kept} episodes"
        if self.infrastructure_failures:
            text += f"; left out {self.infrastructure_failures} infrastructure failures"
        if self.filtered_out:
            text += f"; left out {self.filtered_out} by the reward filter"
        if self.oracle:
            text += f"; left out {self.oracle} played by the oracle (--include-oracle keeps them)"
        return text


class Selector:
    """Keeps the episodes that pass a reward filter as they stream past, and counts them all.

    Infrastructure failures (conversations cut by a failure outside the agent) are kept only
    when `keep_infrastructure` is set. The episodes may be whole `Episode`s or a reader's slim
    copies (`ScoredEpisode`): the same lines give the same selection either way.
    """

    def __init__(self, reward_filter: RewardFilter, *, keep_infrastructure: bool) -> None:
        """Nothing counted yet."""
        self.reward_filter = reward_filter
        self.keep_infrastructure = keep_infrastructure
        self._kept = self._infrastructure = self._filtered = 0

    def admit(self, episode: ScoredEpisode) -> bool:
        """Whether `episode` is kept; counted either way."""
        if not self.keep_infrastructure and is_infrastructure_failure(episode):
            self._infrastructure += 1
            return False
        if not self.reward_filter.admits(episode):
            self._filtered += 1
            return False
        self._kept += 1
        return True

    def kept(self, episodes: Iterable[_EpisodeT]) -> Iterator[_EpisodeT]:
        """The episodes of `episodes` that pass, one at a time; the others counted."""
        return (episode for episode in episodes if self.admit(episode))

    @property
    def selection(self) -> Selection:
        """What it kept and left out so far."""
        return Selection(
            kept=self._kept,
            infrastructure_failures=self._infrastructure,
            filtered_out=self._filtered,
        )
