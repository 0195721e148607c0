"""Reading a run for reports and exports: its episodes, with the rewards of its newest
re-scoring (`policy-agent evaluate`) in place of the recorded ones when there is one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from policy_agent.records import Episode, RewardInfo
from policy_agent.report._evaluations import (
    EvaluationFileError,
    EvaluationManifest,
    evaluation_names,
    open_evaluation,
)
from policy_agent.report._reading import ReadEpisode
from policy_agent.simulation import SimulationConfig
from policy_agent.trajectory import (
    RunManifest,
    RunStore,
    describe_validation_error,
    index_attempts,
    iter_latest_as,
)

LATEST = "latest"
"""Use the run's newest evaluation, or the recorded rewards when it has none."""
RECORDED = "recorded"
"""Use the rewards recorded while the run ran, whatever evaluations there are."""


@dataclass(frozen=True, kw_only=True)
class LoadedRun:
    """A run's manifest and a way to its episodes, each carrying the reward the report uses.

    The episodes are each (task, trial)'s latest attempt: an attempt a resume ran again (after
    an infrastructure failure) is superseded and counts nowhere. `iter_episodes` streams them
    from `episodes.jsonl` (memory does not grow with the run), `iter_read_episodes` streams only
    what the report reads of each (`ReadEpisode`, several times faster); `episodes` reads them
    all into a list once, for callers that need them together.
    """

    directory: Path
    manifest: RunManifest
    evaluation: EvaluationManifest | None
    """The re-scoring whose rewards replaced the recorded ones (None: recorded rewards)."""
    not_in_evaluation: int = 0
    """Episodes the evaluation does not cover (appended after it, by a resume, as new
    episodes or new attempts): they keep their recorded reward."""
    tokens: bool = True
    """Whether episodes are read with their token traces (see `load_run`)."""
    rescored: Mapping[tuple[str, int, int], RewardInfo | None] = field(default_factory=dict)
    """The evaluation's reward of each (task, trial, attempt) it scored."""
    given: Sequence[Episode] | None = None
    """Episodes held in memory (`with_episodes`) instead of read from the run's file."""

    def iter_episodes(self, *, tokens: bool | None = None) -> Iterator[Episode]:
        """The run's episodes in file order, one at a time, with the evaluation's rewards.

        `tokens` (default: as loaded) says whether token traces are read (see `load_run`).
        Raises what `RunStore.latest_episodes` raises, and `EvaluationFileError` for a line
        of the evaluation that is no reward.
        """
        if self.given is not None:
            yield from self.given
            return
        store = RunStore.open(self.directory)
        read_tokens = self.tokens if tokens is None else tokens
        for _, episode in store.latest_episodes(tokens=read_tokens):
            yield self._rewarded(episode)

    def iter_read_episodes(self) -> Iterator[ReadEpisode]:
        """`iter_episodes` read as `ReadEpisode`s: only what the report, a comparison and
        the coverage use, parsed from each line (the given episodes: as their lines would be).

        Raises what `iter_episodes` raises.
        """
        if self.given is not None:
            yield from (ReadEpisode.of(episode) for episode in self.given)
            return
        for _, episode in iter_latest_as(RunStore.open(self.directory).episodes_path, ReadEpisode):
            key = (episode.task_id, episode.trial, episode.attempt)
            yield episode.rewarded(self.rescored[key]) if key in self.rescored else episode

    @cached_property
    def episodes(self) -> list[Episode]:
        """All the run's episodes (`iter_episodes`), read once and kept."""
        return list(self.iter_episodes())

    def with_episodes(self, episodes: Sequence[Episode]) -> LoadedRun:
        """This run holding `episodes` (a selection of its own) in place of its file's."""
        return replace(self, given=list(episodes))

    def _rewarded(self, episode: Episode) -> Episode:
        key = (*episode.key, episode.attempt)
        if key not in self.rescored:
            return episode
        return episode.model_copy(update={"reward": self.rescored[key]})

    def config(self) -> SimulationConfig:
        """The run's resolved config from run.json; `EvaluationFileError` when it is not one."""
        return run_config(self.directory, self.manifest)

    def describe_rewards(self) -> str:
        """One sentence saying where the rewards come from."""
        if self.evaluation is None:
            return "as recorded during the run"
        text = f"from evaluation {self.evaluation.name}"
        if self.evaluation.pack_changed:
            text += " (re-scored with a changed pack)"
        if self.not_in_evaluation:
            text += f"; episodes newer than it keep their recorded reward: {self.not_in_evaluation}"
        return text


def load_run(path: Path, *, evaluation: str = LATEST, tokens: bool = True) -> LoadedRun:
    """Open the run at `path` with the rewards of `evaluation`: `LATEST`, `RECORDED` or a name.

    Reads the manifest, where each of the evaluation's rewards is (`EvaluationRewards`: each is
    read with its episode) and which line is each (task, trial)'s latest attempt; episodes are
    read as they are iterated (`LoadedRun.iter_episodes`).
    `tokens=False` leaves the generations' token traces out (None), unparsed: the report,
    a comparison and a re-scoring never look at them, and they are most of a line.

    Raises the store's `RunStoreError` for a folder that is not a run, `EvaluationFileError` for an
    evaluation that does not exist or whose files cannot be read.
    """
    store = RunStore.open(path)
    recorded = LoadedRun(directory=path, manifest=store.manifest, evaluation=None, tokens=tokens)
    if evaluation == RECORDED:
        return recorded
    if evaluation == LATEST:
        names = evaluation_names(path)
        if not names:
            return recorded
        evaluation = names[-1]
    used, rescored = open_evaluation(path, evaluation)
    latest = index_attempts(store.episodes_path).latest
    kept = sum((*key, attempt.attempt) not in rescored for key, attempt in latest.items())
    return replace(recorded, evaluation=used, not_in_evaluation=kept, rescored=rescored)


def run_config(directory: Path, manifest: RunManifest) -> SimulationConfig:
    """The resolved config stored in a run's run.json."""
    try:
        return SimulationConfig.model_validate(manifest.config)
    except ValidationError as error:
        raise EvaluationFileError(
            f"{directory / 'run.json'}: its config is not a simulation config this version "
            f"reads: {describe_validation_error(error)}"
        ) from None
