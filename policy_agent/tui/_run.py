"""A run opened for reading: its manifest, its episode log, and its tasks' expected actions.

The expected actions come from the task in the domain pack the run was made with. The manifest
keeps the pack's path (in the run's config) and its content hash; a pack that moved, no longer
loads, or changed since the run is said so, and the replay falls back on what the episode holds
(the evaluator's checked actions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import JsonValue

from policy_agent.domain import DomainPack, PackError, load_pack
from policy_agent.records import RecordedAction, RewardInfo
from policy_agent.trajectory import NotARun, RunManifest, RunStore
from policy_agent.tui._log import EpisodeLog

RUNS_FOLDER = "runs"
"""Where `policy-agent run` puts runs by default: a bare run id is looked for there."""


@dataclass(frozen=True, kw_only=True)
class ExpectedActions:
    """A task's expected actions, or why they are not known."""

    actions: Sequence[RecordedAction] | None
    note: str | None = None
    """Why `actions` is None, or a warning about them (the pack changed since the run)."""


def resolve_run(text: str) -> Path:
    """The run directory `text` names: a path, or a run id under `runs/`.

    Raises `NotARun` naming both places looked at.
    """
    given = Path(text)
    if given.is_dir():
        return given
    under_runs = Path(RUNS_FOLDER) / text
    if under_runs.is_dir():
        return under_runs
    raise NotARun(given, f"no such folder, nor {under_runs}")


class ReplayRun:
    """One run's manifest and episodes, for the replay and `show`."""

    def __init__(
        self,
        directory: Path,
        *,
        rewards: Mapping[tuple[str, int, int], RewardInfo | None] | None = None,
        searchable: bool = True,
    ) -> None:
        """Open the run (raises `NotARun` when `directory` is not one); reads no episode yet.

        `rewards` (a re-scoring's, by episode key and attempt) replace the recorded ones they
        cover; `searchable=False` lists the episodes without their text (`EpisodeLog`).
        """
        store = RunStore.open(directory)
        self.directory = directory
        self.manifest: RunManifest = store.manifest
        self.log = EpisodeLog(store.episodes_path, rewards=rewards, searchable=searchable)
        self._pack: DomainPack | None = None
        self._pack_note: str | None = None
        self._pack_tried = False

    def refresh(self) -> None:
        """Read the manifest again (a followed run records when it finished)."""
        self.manifest = RunStore.open(self.directory).manifest

    @property
    def finished(self) -> bool:
        """Whether the run recorded its end (it may still be resumed later)."""
        return self.manifest.finished_at is not None

    def expected(self, task_id: str) -> ExpectedActions:
        """The expected actions of task `task_id` in the run's pack, or why they are unknown."""
        pack = self._load_pack()
        if pack is None:
            return ExpectedActions(actions=None, note=self._pack_note)
        try:
            task = pack.task(task_id)
        except KeyError:
            note = f"task {task_id} is no longer in {pack.root}; showing the checked actions."
            return ExpectedActions(actions=None, note=note)
        actions = [action.recorded() for action in task.evaluation_criteria.actions]
        return ExpectedActions(actions=actions, note=self._pack_note)

    def _load_pack(self) -> DomainPack | None:
        if self._pack_tried:
            return self._pack
        self._pack_tried = True
        path = self._pack_path()
        if path is None:
            self._pack_note = "The run's config names no domain pack; showing the checked actions."
            return None
        try:
            self._pack = load_pack(path)
        except PackError:
            self._pack_note = (
                f"The domain pack was not found or no longer loads ({path}); "
                "showing the checked actions."
            )
            return None
        if self._pack.content_hash != self.manifest.domain_hash:
            self._pack_note = f"{path} changed since this run: its expected actions may differ."
        return self._pack

    def _pack_path(self) -> Path | None:
        """The pack's folder: as recorded, else relative to the folders above the run."""
        recorded = pack_path_of(self.manifest.config)
        if recorded is None:
            return None
        if recorded.is_absolute() or recorded.exists():
            return recorded
        for folder in self.directory.resolve().parents:
            if (folder / recorded).exists():
                return folder / recorded
        return recorded


def pack_path_of(config: dict[str, JsonValue]) -> Path | None:
    """The domain pack's path in a run's config (`domain`), or None when it names none."""
    domain = config.get("domain")
    return Path(domain) if isinstance(domain, str) and domain else None
