"""Reading a run for reports and exports: its episodes, with the rewards of its newest
re-scoring (`policy-agent evaluate`) in place of the recorded ones when there is one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from policy_agent.records import Episode
from policy_agent.report._evaluations import (
    EvaluationFileError,
    EvaluationManifest,
    evaluation_names,
    read_evaluation,
)
from policy_agent.simulation import SimulationConfig
from policy_agent.trajectory import RunManifest, RunStore, describe_validation_error

LATEST = "latest"
"""Use the run's newest evaluation, or the recorded rewards when it has none."""
RECORDED = "recorded"
"""Use the rewards recorded while the run ran, whatever evaluations there are."""


@dataclass(frozen=True, kw_only=True)
class LoadedRun:
    """A run's manifest and episodes, each episode carrying the reward the report uses.

    The episodes are each (task, trial)'s latest attempt: an attempt a resume ran again (after
    an infrastructure failure) is superseded and counts nowhere.
    """

    directory: Path
    manifest: RunManifest
    episodes: list[Episode]
    evaluation: EvaluationManifest | None
    """The re-scoring whose rewards replaced the recorded ones (None: recorded rewards)."""
    not_in_evaluation: int = 0
    """Episodes the evaluation does not cover (appended after it, by a resume, as new
    episodes or new attempts): they keep their recorded reward."""

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

    `tokens=False` leaves the generations' token traces out (None), unparsed: the report,
    a comparison and a re-scoring never look at them, and they are most of a line.

    Raises the store's `RunStoreError` for a folder that is not a run, `EvaluationFileError` for an
    evaluation that does not exist or cannot be read.
    """
    store = RunStore.open(path)
    episodes = [episode for _, episode in store.latest_episodes(tokens=tokens)]
    recorded = LoadedRun(
        directory=path, manifest=store.manifest, episodes=episodes, evaluation=None
    )
    if evaluation == RECORDED:
        return recorded
    if evaluation == LATEST:
        names = evaluation_names(path)
        if not names:
            return recorded
        evaluation = names[-1]
    used, lines = read_evaluation(path, evaluation)
    rescored = {line.key: line for line in lines}
    merged = []
    kept = 0
    for episode in episodes:
        line = rescored.get((*episode.key, episode.attempt))
        if line is None:
            kept += 1
            merged.append(episode)
        else:
            merged.append(episode.model_copy(update={"reward": line.reward}))
    return LoadedRun(
        directory=path,
        manifest=store.manifest,
        episodes=merged,
        evaluation=used,
        not_in_evaluation=kept,
    )


def run_config(directory: Path, manifest: RunManifest) -> SimulationConfig:
    """The resolved config stored in a run's run.json."""
    try:
        return SimulationConfig.model_validate(manifest.config)
    except ValidationError as error:
        raise EvaluationFileError(
            f"{directory / 'run.json'}: its config is not a simulation config this version "
            f"reads: {describe_validation_error(error)}"
        ) from None
