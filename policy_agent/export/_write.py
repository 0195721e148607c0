"""Writing a run in one of the export formats: the selection, then one line (or one file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TextIO

from policy_agent.domain import DomainPack
from policy_agent.export._chatml import chatml_turns
from policy_agent.export._prompts import prompt_agent
from policy_agent.export._rl import NoTokens, rl_checks, rl_records, usage_checks
from policy_agent.export._select import RewardFilter, Selection, select_episodes
from policy_agent.export._sft import sft_record
from policy_agent.export._tau2 import tau2_results
from policy_agent.report import LoadedRun

ExportFormat = Literal["sft", "chatml", "rl", "tau2"]
FORMATS: tuple[ExportFormat, ...] = ("sft", "chatml", "rl", "tau2")

_TOKEN_FIELDS = {"prompt_token_ids", "completion_token_ids", "completion_logprobs"}
"""chatml fields left out of a line whose turn kept no tokens."""


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
    """Write `run`'s episodes that pass `reward_filter` to `out` in `export_format`.

    sft and chatml leave out infrastructure failures (conversations cut by a failure outside
    the agent); tau2 keeps them as skipped samples, as tau2 does. Raises `PromptMismatch`
    (chatml), `UnknownTasks` (tau2) and `NoTokens` (rl, when no episode has token ids) as those
    formats say. The training formats (sft, chatml, rl) leave out a run played by the oracle
    unless `include_oracle`; tau2 keeps it (a results file, not training data).
    """
    config = run.config()
    selection = select_episodes(
        run.episodes,
        reward_filter or RewardFilter(),
        keep_infrastructure=export_format == "tau2",
        oracle=config.is_oracle and export_format != "tau2" and not include_oracle,
    )
    if export_format == "tau2":
        kept = run.with_episodes(selection.episodes)
        results = tau2_results(kept, config, pack)
        # tau2's Results.save writes indent=4.
        out.write(results.model_dump_json(indent=4) + "\n")
        return ExportResult(selection=selection, records=len(results.simulations))
    if export_format == "rl":
        return _write_rl(run, selection, out)
    server = run.manifest.agent_server
    agent = prompt_agent(config, pack, profile=server.profile if server is not None else None)
    records = inexact = 0
    for episode in selection.episodes:
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
    return ExportResult(selection=selection, records=records, inexact=inexact)


def _write_rl(run: LoadedRun, selection: Selection, out: TextIO) -> ExportResult:
    records = untokenized = 0
    problems: list[str] = []
    first_missing: NoTokens | None = None
    for episode in selection.episodes:
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
        selection=selection,
        records=records,
        untokenized=untokenized,
        inconsistent=tuple(problems),
    )
