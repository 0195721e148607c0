"""`policy-agent show`: one conversation as text (golden files), the episode index, errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from policy_agent.cli import main
from policy_agent.records import AgentToolCall, ToolResult
from policy_agent.tui import ReplayRun, render_episode
from tests.tui._golden import assert_golden
from tests.tui._runs import failed, long_values, successful, traced, write_run


def show(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["show", *args], env=env)


def test_a_failed_episode_in_plain_text(fixture_run: Path) -> None:
    result = show(
        str(fixture_run), "--episode", "card_triplet_cribs#1", "--plain", "--width", "100"
    )
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    assert_golden("show_failed.txt", result.stdout)


def test_trailing_events_and_a_user_retry_in_plain_text(fixture_run: Path) -> None:
    result = show(str(fixture_run), "-e", "4", "--plain", "--width", "100")
    assert result.exit_code == 0, result.output
    assert_golden("show_user_error.txt", result.stdout)


def test_a_failed_episode_in_colour(fixture_run: Path) -> None:
    run = ReplayRun(fixture_run)
    run.log.poll()
    episode = run.log.load(run.log.find("card_triplet_cribs#1"))
    expected = run.expected(episode.task_id)
    console = Console(
        file=io.StringIO(), record=True, width=100, force_terminal=True, color_system="truecolor"
    )
    console.print(render_episode(episode, expected=expected.actions, line=2))
    coloured = console.export_text(styles=True)
    assert "\x1b[1;37;41m VIOLATION \x1b[0m" in coloured  # violations stand out
    assert_golden("show_failed.ansi", coloured)


def test_the_command_colours_only_when_asked_or_in_a_terminal(fixture_run: Path) -> None:
    args = (str(fixture_run), "-e", "2", "--width", "100")
    assert "\x1b[" not in show(*args).stdout  # not a terminal
    assert "\x1b[" in show(*args, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in show(*args, "--plain", env={"FORCE_COLOR": "1"}).stdout


def test_the_id_and_the_line_number_show_the_same_episode(fixture_run: Path) -> None:
    by_id = show(str(fixture_run), "-e", "card_triplet_cribs#1", "--plain")
    assert by_id.stdout == show(str(fixture_run), "-e", "2", "--plain").stdout


def test_without_an_episode_a_run_lists_its_episodes(fixture_run: Path) -> None:
    result = show(str(fixture_run), "--plain", "--width", "100")
    assert result.exit_code == 0, result.output
    assert_golden("show_index.txt", result.stdout)


def test_the_list_in_colour_and_in_a_narrow_terminal(fixture_run: Path) -> None:
    # The list is printed as it is read (its rows kept in a temporary file, not in memory):
    # the bytes are those of one rich table, in colour and where cells wrap.
    coloured = show(str(fixture_run), "--width", "100", env={"FORCE_COLOR": "1"})
    assert coloured.exit_code == 0, coloured.output
    assert_golden("show_index.ansi", coloured.stdout)
    narrow = show(str(fixture_run), "--plain", "--width", "40")
    assert narrow.exit_code == 0, narrow.output
    assert_golden("show_index_40.txt", narrow.stdout)


def test_a_list_longer_than_a_part_has_every_row_once_in_the_same_columns(
    tmp_path: Path,
) -> None:
    # Printed a thousand rows at a time: the part after the first has the first's columns.
    episodes = [failed().model_copy(update={"trial": trial}) for trial in range(1_003)]
    episodes[1_001] = successful().model_copy(update={"trial": 1_001, "task_id": "a" * 40})
    result = show(str(write_run(tmp_path, episodes)), "--plain", "--width", "120")
    assert result.exit_code == 0, result.output
    heading, header, *rows, hint = result.stdout.splitlines()
    assert heading == "20250603-090000-hotel-abc123: 1003 of 4 episodes, 1002 failed"
    assert [int(row.split()[0]) for row in rows] == list(range(1, 1_004))
    # The widest id (row 1,002, in the second part) sets the column for every row, each part's.
    assert rows[1_001].split()[1] == "a" * 40 + "#1001"
    assert {row.index("✗") for row in rows[:1_001] + rows[1_002:]} == {header.index("reward")}
    assert rows[1_001].index("✓") == header.index("reward")
    assert hint.startswith("Show one with --episode ID")


def test_a_run_of_one_episode_shows_it(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    result = show(str(run), "--plain")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("card_triplet_cribs#0  ✓ 1.00  user_stop  15 turns")


def test_a_moved_pack_is_said_and_the_checked_actions_are_shown(tmp_path: Path) -> None:
    run = write_run(tmp_path, [failed()], domain=str(tmp_path / "gone"))
    result = show(str(run), "--plain", "--width", "100")
    assert "The domain pack was not found or no longer loads" in result.stdout
    assert str(tmp_path / "gone") in result.stdout.replace("\n", "")
    table = result.stdout.split("Expected and actual actions")[1]
    assert '✗  request_cribs(booking_id="B11246", count=3)' in table
    assert "change_room" not in table  # the task's other actions are in the pack only


def test_a_changed_pack_is_said(tmp_path: Path) -> None:
    run = write_run(tmp_path, [failed()])
    manifest = (run / "run.json").read_text()
    (run / "run.json").write_text(manifest.replace('"domain_hash": "', '"domain_hash": "0'))
    result = show(str(run), "--plain", "--width", "100")
    # The note names the pack's path, so where it wraps depends on where the checkout is.
    words = " ".join(result.stdout.split())
    assert "changed since this run: its expected actions may differ." in words


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-e", "card_triplet_cribs"], 2, "is neither TASK_ID#TRIAL"),
        (["-e", "card_triplet_cribs#9"], 1, "no episode 'card_triplet_cribs#9' among its 4"),
        (["-e", "12"], 1, "no line 12 among its 4 episodes"),
    ],
)
def test_an_unknown_episode_exits_with_the_reason(
    fixture_run: Path, args: list[str], code: int, message: str
) -> None:
    result = show(str(fixture_run), *args)
    assert result.exit_code == code
    assert message in result.stderr


def test_a_folder_that_is_no_run_exits_1(tmp_path: Path) -> None:
    result = show(str(tmp_path))
    assert result.exit_code == 1
    assert "not a readable run directory: there is no run.json" in result.stderr


def test_bad_lines_are_warned_about_and_the_rest_shown(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b"{oops\n")
    result = show(str(run), "--plain")
    assert result.exit_code == 0
    assert "warning: " in result.stderr and ":2: corrupt line" in result.stderr
    assert result.stdout.startswith("card_triplet_cribs#0")


def test_the_demo_run(demo_run: Path) -> None:
    index = show(str(demo_run), "--plain", "--width", "100")
    assert index.exit_code == 0, index.output
    assert "24 of 24 episodes, 0 failed" in index.stdout
    assert re.search(r"nonrefundable_emergency_transfer#0 +✓ 1\.00  transfer", index.stdout)
    result = show(str(demo_run), "-e", "card_triplet_cribs#0", "--plain", "--width", "100")
    text = result.stdout
    assert text.startswith("card_triplet_cribs#0  ✓ 1.00  user_stop  20 turns")
    assert " 1  agent " in text and "Hi! How can I help you today?" in text  # the greeting
    assert "database bookings[B11246] update\n      cribs: 0 → 3" in text
    assert 'room_id: "R0403" → "R0412"' in text
    assert "Reward ✓ 1.00 = DB × ENV_ASSERTION × COMMUNICATE" in text
    actions = text.split("Expected and actual actions\n")[1]
    assert actions.count(" ✓  ") == 5 and "✗" not in actions


def test_show_does_not_load_textual() -> None:
    # Only the full-screen replay needs Textual (a fifth of a second to import).
    code = (
        "import sys, policy_agent.cli, policy_agent.tui;"
        "from policy_agent.tui import render_episode;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _squashed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    ("colour", "golden"), [(False, "show_long_80.txt"), (True, "show_long_80.ansi")]
)
def test_at_80_columns_long_arguments_and_results_wrap_and_lose_nothing(
    tmp_path: Path, colour: bool, golden: str
) -> None:
    episode = long_values()
    run = write_run(tmp_path, [episode])
    # As in a pipe or a CI log: no --width, 80 columns.
    env = {"COLUMNS": "80", **({"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"})}
    result = show(str(run), *([] if colour else ["--plain"]), env=env)
    assert result.exit_code == 0, result.output
    assert_golden(golden, result.stdout)
    plain = Text.from_ansi(result.stdout).plain
    lines = [line.rstrip() for line in plain.splitlines()]  # a terminal keeps wrap spaces
    assert max(cell_len(line) for line in lines) == 80  # the header lines fill it, none exceeds
    assert "…" not in plain
    steps, actions = plain.split("Expected and actual actions")
    calls = [r for r in episode.messages if isinstance(r, AgentToolCall)]
    for call in calls:
        for value in call.arguments.values():
            whole = _squashed(json.dumps(value, ensure_ascii=False))
            assert whole in _squashed(steps) and whole in _squashed(actions), whole
    for record in episode.messages:
        if isinstance(record, ToolResult):
            assert _squashed(record.content) in _squashed(steps)
    # Wrapped under the value, words whole: the summary's second line starts under its first.
    assert '    summary: "Elena Marsh (G90920), booking B11246, Deluxe, June 5-8: three' in lines
    assert (
        "             cribs and a quiet room are in place; she asks for compensation for" in lines
    )


def test_one_episode_is_read_from_its_line_alone_through_the_index(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful(), failed()])
    # An episode line only its attempt fields make sense of: listing the run says so, showing
    # another episode never reads it.
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b'{"task_id": "card_triplet_cribs", "trial": 5}\n')
    listed = show(str(run), "--plain")
    assert ":3: not a valid Episode" in listed.stderr
    first = show(str(run), "-e", "card_triplet_cribs#1", "--plain", "--width", "100")
    assert first.exit_code == 0 and first.stderr == ""
    assert (run / "episodes.index").is_file()
    again = show(str(run), "-e", "card_triplet_cribs#1", "--plain", "--width", "100")
    assert again.stdout == first.stdout
    assert_golden("show_failed.txt", first.stdout)


def test_without_an_index_one_episode_shows_the_same(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful(), failed()])
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b"[1, 2]\n")  # no index is written for a run with a line that is no episode
    result = show(str(run), "-e", "card_triplet_cribs#1", "--plain", "--width", "100")
    assert result.exit_code == 0
    assert ":3: corrupt line" in result.stderr
    assert not (run / "episodes.index").exists()
    assert_golden("show_failed.txt", result.stdout)


def test_a_torn_last_line_is_warned_about_when_one_episode_is_shown(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful(), failed()])
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b'{"task_id": "card_')
    result = show(str(run), "-e", "2", "--plain", "--width", "100")
    assert result.exit_code == 0
    assert "episodes.jsonl:3: the last line (18 bytes) is torn" in result.stderr
    assert_golden("show_failed.txt", result.stdout)


def test_one_episode_is_shown_without_opening_its_token_traces(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful(), traced(failed())])
    (run / "tokens.jsonl").unlink()  # what show never prints, it never reads
    result = show(str(run), "-e", "card_triplet_cribs#1", "--plain", "--width", "100")
    assert result.exit_code == 0, result.output
    assert_golden("show_failed.txt", result.stdout)
