"""Writing a run in one of the export formats: its episodes selected and written as they stream.

No format holds the run: each episode is read (`LoadedRun.iter_episodes`), written and let go,
so memory does not grow with the number of episodes. tau2's single JSON file puts the tasks
before the simulations, so it reads the run more than once: first a slim copy of every line (what
the selection and the task list need), then, when a task starts from a message history, whole
episodes up to the first one of it, then every episode for its simulation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from policy_agent.domain import DomainPack
from policy_agent.export._chatml import chatml_turns
from policy_agent.export._prompts import prompt_agent
from policy_agent.export._rl import NoTokens, rl_checks, rl_records, usage_checks
from policy_agent.export._select import RewardFilter, Selection, Selector
from policy_agent.export._sft import sft_record
from policy_agent.export._tau2 import tau2_results_head, tau2_simulation
from policy_agent.records import ConversationRecord, Episode
from policy_agent.report import LoadedRun
from policy_agent.simulation import SimulationConfig

ExportFormat = Literal["sft", "chatml", "rl", "tau2"]
FORMATS: tuple[ExportFormat, ...] = ("sft", "chatml", "rl", "tau2")

_TOKEN_FIELDS = {"prompt_token_ids", "completion_token_ids", "completion_logprobs"}
"""chatml fields left out of a line whose turn kept no tokens."""

_SIMULATION_INDENT = " " * 8
"""How deep a simulation sits in tau2's Results JSON at indent 4: root object, then its list."""


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """What an export wrote."""

    selection: Selection
    records: int
    """Lines written (sft: episodes, chatml: agent turns), or simulations in the tau2 file."""
    inexact: int = 0
    """chatml lines with `exact: false`."""
    untokenized: int = 0
    """rl: episodes left out because a generation of theirs has no token ids."""
    inconsistent: tuple[str, ...] = ()
    """rl: what failed the consistency checks (`rl_checks`); those episodes are left out."""


def export_run(
    run: LoadedRun,
    pack: DomainPack,
    export_format: ExportFormat,
    out: TextIO,
    *,
    reward_filter: RewardFilter | None = None,
    allow_inexact: bool = False,
    include_oracle: bool = False,
) -> ExportResult:
    """Write `run`'s episodes that pass `reward_filter` to `out` in `export_format`, each as it
    is read (a problem in the run's file comes up after what was before it is written).

    sft and chatml leave out infrastructure failures (conversations cut by a failure outside
    the agent); tau2 keeps them as skipped samples, as tau2 does. Raises `PromptMismatch`
    (chatml), `UnknownTasks` (tau2, before writing anything) and `NoTokens` (rl, when no
    episode has token ids) as those formats say. The training formats (sft, chatml, rl) leave
    out a run played by the oracle unless `include_oracle`; tau2 keeps it (a results file, not
    training data). sft and tau2 never read token traces; chatml and rl read them as `run` was
    loaded (`load_run(tokens=...)`).
    """
    config = run.config()
    reward_filter = reward_filter or RewardFilter()
    if export_format == "tau2":
        return _write_tau2(run, config, pack, reward_filter, out)
    if config.is_oracle and not include_oracle:
        left_out = sum(1 for _ in run.iter_read_episodes())
        return ExportResult(selection=Selection(oracle=left_out), records=0)
    selector = Selector(reward_filter, keep_infrastructure=False)
    if export_format == "rl":
        return _write_rl(run, selector, out)
    server = run.manifest.agent_server
    agent = prompt_agent(config, pack, profile=server.profile if server is not None else None)
    records = inexact = 0
    tokens = None if export_format == "chatml" else False
    for episode in selector.kept(run.iter_episodes(tokens=tokens)):
        if export_format == "sft":
            out.write(sft_record(episode, agent).model_dump_json() + "\n")
            records += 1
            continue
        for turn in chatml_turns(episode, agent, allow_inexact=allow_inexact):
            recorded = turn.prompt_token_ids is not None or turn.completion_token_ids is not None
            unset = None if recorded else _TOKEN_FIELDS
            out.write(turn.model_dump_json(exclude=unset) + "\n")
            records += 1
            inexact += not turn.exact
    return ExportResult(selection=selector.selection, records=records, inexact=inexact)


def _write_rl(run: LoadedRun, selector: Selector, out: TextIO) -> ExportResult:
    records = untokenized = 0
    problems: list[str] = []
    first_missing: NoTokens | None = None
    for episode in selector.kept(run.iter_episodes()):
        try:
            turns, line = rl_records(episode, run.manifest.run_id)
        except NoTokens as missing:
            untokenized += 1
            first_missing = first_missing or missing
            continue
        found = rl_checks(turns, line) + usage_checks(episode)
        if found:
            problems += found
            continue
        for turn in turns:
            out.write(turn.model_dump_json() + "\n")
        out.write(line.model_dump_json() + "\n")
        records += len(turns) + 1
    if first_missing is not None and records == 0 and not problems:
        raise first_missing
    return ExportResult(
        selection=selector.selection,
        records=records,
        untokenized=untokenized,
        inconsistent=tuple(problems),
    )


def _write_tau2(
    run: LoadedRun,
    config: SimulationConfig,
    pack: DomainPack,
    reward_filter: RewardFilter,
    out: TextIO,
) -> ExportResult:
    """tau2's Results JSON, byte for byte what pydantic's `model_dump_json(indent=4)` of the
    whole `Tau2Results` gives, written one simulation at a time.

    A run still being written may grow between the passes: the simulations stay those of the
    first pass's tasks, at most as many as it kept, so that the file agrees with itself.
    """
    selector = Selector(reward_filter, keep_infrastructure=True)
    ran: set[str] = set()
    with_history: set[str] = set()
    for read in selector.kept(run.iter_read_episodes()):
        ran.add(read.task_id)
        if read.initial_messages:
            with_history.add(read.task_id)
    selection = selector.selection
    head = tau2_results_head(
        run, config, pack, ran, _histories(_kept(run, reward_filter), with_history)
    )
    # Simulations is the last field and empty: its `[]` is the file's last brackets.
    opening, closing = head.model_dump_json(indent=4).rsplit("[]", 1)
    out.write(opening + "[")
    written = 0
    for episode in _kept(run, reward_filter):
        if written == selection.kept:
            break
        if episode.task_id not in ran:
            continue
        dumped = tau2_simulation(run.manifest.run_id, episode).model_dump_json(indent=4)
        # A JSON string holds no raw newline, so every newline starts a line of the dump.
        indented = _SIMULATION_INDENT + dumped.replace("\n", "\n" + _SIMULATION_INDENT)
        out.write(("," if written else "") + "\n" + indented)
        written += 1
    out.write(("\n    ]" if written else "]") + closing + "\n")
    return ExportResult(selection=selection, records=written)


def _kept(run: LoadedRun, reward_filter: RewardFilter) -> Iterator[Episode]:
    """The episodes tau2 exports, whole (without token traces), in the run's order."""
    return Selector(reward_filter, keep_infrastructure=True).kept(run.iter_episodes(tokens=False))


def _histories(
    episodes: Iterator[Episode], tasks: set[str]
) -> dict[str, Sequence[ConversationRecord]]:
    """The message history of each of `tasks` from its first episode that has one: read only
    up to the last of them (early in a run, where each task's first trials are)."""
    histories: dict[str, Sequence[ConversationRecord]] = {}
    if not tasks:
        return histories
    for episode in episodes:
        if episode.initial_messages and episode.task_id in tasks:
            histories.setdefault(episode.task_id, episode.messages[: episode.initial_messages])
            if len(histories) == len(tasks):
                break
    return histories
