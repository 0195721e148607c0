"""`policy-agent replay` and `show`: reading a run's conversations, full-screen or as text.

RUN is a run directory (`runs/<run-id>`) or a run id under `runs/`. An episode is named by its
id, `TASK_ID#TRIAL` (e.g. `card_triplet_cribs#0`), or by its line number in `episodes.jsonl`.
A run that cannot be read, or an episode that is not in it, exits 1 with a message saying why.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

    from rich.console import Console, RenderableType
    from rich.text import Text

    from policy_agent.trajectory import AgentServer, TornTail
    from policy_agent.tui import EpisodeEntry, ReplayRun

    _Row = tuple[str | Text, ...]
    """A row of `show`'s list: its cells (a `str` one unstyled)."""


class RunUnreadable(click.ClickException):
    """The run or the episode cannot be read; `Error: ...` on stderr, exit status 1."""

    exit_code = 1


def _open(run: str, evaluation: str, *, searchable: bool = True) -> ReplayRun:
    """The run RUN names, with the rewards of `evaluation` (`latest`: the newest re-scoring's,
    else those recorded), listed `searchable` or not (`EpisodeLog`); problems exit 1 with the
    store's words."""
    from policy_agent.report import (
        LATEST,
        RECORDED,
        EvaluationFileError,
        evaluation_names,
        open_evaluation,
    )
    from policy_agent.trajectory import RunStoreError
    from policy_agent.tui import ReplayRun, resolve_run

    try:
        directory = resolve_run(run)
        name = evaluation
        if evaluation == LATEST:
            names = evaluation_names(directory)
            name = names[-1] if names else RECORDED
        rewards = None
        if name != RECORDED:
            # Checked whole now, held as each line's place: an episode's reward is read with it.
            _, rewards = open_evaluation(directory, name, checked=True)
            click.echo(
                f"Rewards and rule results from evaluation {name} (`policy-agent evaluate`); "
                "--evaluation recorded shows the run's own.",
                err=True,
            )
        opened = ReplayRun(directory, rewards=rewards, searchable=searchable)
    except (RunStoreError, EvaluationFileError) as error:
        raise RunUnreadable(str(error)) from None
    return opened


_EVALUATION = click.option(
    "--evaluation",
    default="latest",
    show_default=True,
    help="Whose rewards and rule results: `latest` (the newest `evaluate`, else those recorded "
    "in the run), `recorded`, or an evaluation's name (see RUN/evaluations/).",
)


def _check_episode_id(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> str | None:
    """Reject an --episode of neither form before the run is read."""
    from policy_agent.trajectory import parse_episode_id

    if value is not None:
        try:
            parse_episode_id(value)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return value


_EPISODE = click.option(
    "--episode",
    "-e",
    metavar="ID",
    callback=_check_episode_id,
    help="TASK_ID#TRIAL (e.g. card_triplet_cribs#0) or a line number of episodes.jsonl.",
)


@main.command()
@click.argument("run", metavar="RUN")
@_EPISODE
@_EVALUATION
@click.option("--plain", is_flag=True, help="No colour or styles, even in a terminal.")
@click.option(
    "--width",
    type=click.IntRange(min=40),
    help="Wrap at this many columns (default: the terminal's width, or 80).",
)
def show(run: str, episode: str | None, evaluation: str, plain: bool, width: int | None) -> None:
    """Print one conversation of RUN as text, for pipes, CI logs and bug reports.

    Every step is printed unfolded (reasoning, whole tool results, raw completions of
    violations, the policy rules a step broke), then the reward breakdown, every rule's result
    and the expected actions beside the actual calls. Long tool arguments and results wrap
    under their values to fit the width; nothing is cut.
    Without --episode, a run of one episode shows it; a larger run lists its episodes.
    One episode is read from its line alone, found through the run's episodes.index (written
    beside episodes.jsonl by the first show or replay of one episode).
    Colour is used in a terminal, or when FORCE_COLOR is set (NO_COLOR turns it off).
    """
    from rich.console import Console

    from policy_agent.trajectory import RunStoreError
    from policy_agent.tui import EpisodeNotFound

    # The list is printed, never searched: its entries need not keep each episode's text.
    replay = _open(run, evaluation, searchable=False)
    # Without a colour system rich writes no escape codes at all: no colour and no styles.
    console = Console(
        width=width, highlight=False, emoji=False, color_system=None if plain else "auto"
    )
    try:
        # One episode asked for: its line alone, found through the run's index.
        located = None if episode is None else replay.log.locate(episode)
    except (OSError, RunStoreError) as error:
        raise RunUnreadable(str(error)) from None
    if located is not None:
        entry, torn = located
        _warn_torn(replay, torn)
        _print(console, _episode(replay, entry), plain=plain)
        return
    if episode is None:
        _list(console, replay, plain=plain)
        return
    # The index could not answer alone (a bad line, or two lines of one attempt): the whole run.
    replay.log.poll()
    _warn_problems(replay)
    _warn_torn(replay, replay.log.torn_tail())
    try:
        found = replay.log.find(episode)
    except EpisodeNotFound as error:
        raise RunUnreadable(str(error)) from None
    _print(console, _episode(replay, found), plain=plain)


def _warn_problems(replay: ReplayRun) -> None:
    for problem in replay.log.problems:
        click.echo(f"warning: {problem}", err=True)


def _warn_torn(replay: ReplayRun, torn: TornTail | None) -> None:
    if torn is not None:
        click.echo(f"warning: {torn.describe(replay.log.path)}", err=True)


def _episode(replay: ReplayRun, entry: EpisodeEntry) -> RenderableType:
    from policy_agent.tui import render_episode

    episode = replay.log.load(entry, tokens=False)  # none is shown
    expected = replay.expected(episode.task_id)
    return render_episode(episode, expected=expected.actions, note=expected.note, line=entry.line)


LIST_PART_ROWS = 1_000
"""Rows of the list printed at a time (rich holds what one print writes until it ends)."""


def _list(console: Console, replay: ReplayRun, *, plain: bool) -> None:
    """The run's episodes, one a line, with the way to show one; a run of one episode shows it.

    A row is known to be its episode's latest attempt only once the whole run is read (a resume
    appends the attempt that supersedes an earlier one), and the columns' widths only then. So
    the rows go to a temporary file as the lines are read, and are printed from it in parts:
    the list takes memory that does not grow with the run (a 100,000-episode list is some
    7 MB of rows on disk).
    """
    import json

    from rich.text import Text

    from policy_agent.tui import RowColumn, RowLayout, RowTable, outcome_text

    columns = [
        RowColumn(header="line", justify="right", no_wrap=True),
        RowColumn(header="episode", no_wrap=True),
        RowColumn(header="reward", no_wrap=True),
        RowColumn(header="ended", no_wrap=True),
        RowColumn(header="turns", justify="right", no_wrap=True),
        RowColumn(header="violations"),
    ]
    outcomes: dict[tuple[bool | None, float | None], Text] = {}

    def row(line: int, id: str, success: bool | None, reward: float | None, *rest: str) -> _Row:
        # Rows of a few kinds of outcome share one Text each: a part need not hold one a row.
        if (success, reward) not in outcomes:
            outcomes[success, reward] = outcome_text(success, reward)
        return (str(line), id, outcomes[success, reward], *rest)

    log = replay.log
    last: EpisodeEntry | None = None
    with _spool() as spool:
        for entry in log.stream():
            fields = [entry.line, entry.id, entry.success, entry.reward, entry.termination.value]
            spool.write(json.dumps([*fields, str(entry.turns), ", ".join(entry.codes)]) + "\n")
            last = entry
        _warn_problems(replay)
        _warn_torn(replay, log.torn_tail())

        def rows() -> Iterator[tuple[bool, _Row]]:
            """(failed, row) of each latest attempt, in the run's order."""
            spool.seek(0)
            for text in spool:
                line, id, success, reward, *rest = json.loads(text)
                if line not in log.superseded_lines:
                    yield success is False, row(line, id, success, reward, *rest)

        layout = RowLayout(columns)
        listed = failed = 0
        for is_failed, cells in rows():
            layout.add(cells)
            listed += 1
            failed += is_failed
        if listed == 1 and last is not None:  # the last entry is never superseded
            _print(console, _episode(replay, last), plain=plain)
            return
        manifest = replay.manifest
        superseded = len(log.superseded_lines)
        heading = Text(
            f"{manifest.run_id}: {listed} of {manifest.episodes_planned} episodes, "
            f"{failed} failed"
            + (f" ({superseded} earlier attempts superseded, not listed)" if superseded else "")
            + _agent_server(manifest.agent_server),
            style="bold",
        )
        _print(console, heading, plain=plain)
        if not listed:
            return
        widths = layout.widths(console, console.options)
        _print(console, RowTable(columns, [], widths=widths), plain=plain)
        part: list[_Row] = []
        for _, cells in rows():
            part.append(cells)
            if len(part) == LIST_PART_ROWS:
                _print(console, RowTable(columns, part, widths=widths, header=False), plain=plain)
                part = []
        if part:
            _print(console, RowTable(columns, part, widths=widths, header=False), plain=plain)
    hint = Text("Show one with --episode ID (the episode column) or --episode LINE.", style="dim")
    _print(console, hint, plain=plain)


def _spool() -> IO[str]:
    """An unnamed temporary file for the list's rows; in memory where none can be made (no
    writable `TMPDIR`)."""
    import io
    import tempfile

    try:
        return tempfile.TemporaryFile("w+", encoding="utf-8")
    except OSError:
        return io.StringIO()


def _agent_server(server: AgentServer | None) -> str:
    """The run's server profile, for the heading (nothing for runs that did not record it)."""
    if server is None:
        return ""
    version = f" {server.version}" if server.version is not None else ""
    return f"; agent server {server.profile}{version}"


def _print(console: Console, renderable: RenderableType, *, plain: bool) -> None:
    """Print to stdout; plain text without the spaces tables pad lines with."""
    if not plain:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@main.command()
@click.argument("run", metavar="RUN")
@_EPISODE
@click.option(
    "--follow", "-f", is_flag=True, help="Add episodes as a running simulation writes them."
)
@click.option(
    "--filter",
    "filter_text",
    default="",
    metavar="TERMS",
    help='Start with this filter, e.g. "is:failed code:multiple_tool_calls".',
)
@_EVALUATION
def replay(run: str, episode: str | None, follow: bool, filter_text: str, evaluation: str) -> None:
    """Read the conversations of RUN in a full-screen terminal app.

    The list shows each episode's reward, how it ended, its turns and violations; filter it
    with / (is:failed, task:, reason:, code:, rule: and free words). Enter opens a
    conversation: step with → and ←, go to the next broken policy rule (b), unfold reasoning (r),
    tool results (t) and raw completions (v). Press ? for every key. Works over SSH in an 80×24
    terminal; the mouse works too.
    """
    from policy_agent.tui import ReplayApp

    opened = _open(run, evaluation)
    ReplayApp(opened, follow=follow, filter_text=filter_text, episode=episode).run()
