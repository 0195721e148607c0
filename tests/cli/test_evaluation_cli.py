"""`policy-agent report`, `compare`, `evaluate` and `export` as a user types them, on the README's
demo run and on runs made to fail."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.report import RunComparisonReport, RunReport, evaluation_names
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.trajectory import EPISODES_NAME
from tests.report._support import (
    STRICT_TASK,
    copy_hotel,
    demo_run,
    make_stricter,
    mixed_episodes,
    run_of,
    write_run,
)
from tests.report.conftest import copied, demo

__all__ = ["copied", "demo"]  # the fixtures

TASKS = [f"t{n}" for n in range(10)]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------ report


def test_report_prints_the_tables_of_the_demo(demo: Path) -> None:
    result = invoke("report", demo)
    assert result.exit_code == 0, result.stderr
    for title in (
        "Overall",
        "pass^k and pass@k",
        "pass^k against k",
        "Results per task",
        "Termination reasons",
        "Tool calls",
        "Tokens and latency per role",
    ):
        assert title in result.stdout, title
    assert "24, of which 24 succeed" in result.stdout
    assert "Rewards as recorded during the run" in result.stdout


def test_report_json_is_the_report_model(demo: Path) -> None:
    result = invoke("report", demo, "--json")
    assert result.exit_code == 0, result.stderr
    report = RunReport.model_validate_json(result.stdout)
    assert report.episodes.successes == 24 and report.pass_hat_k[0].value == 1.0


def test_report_plot_writes_a_png(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", mixed_episodes(), trials=2)
    png = tmp_path / "pass.png"
    result = invoke("report", run, "--plot", png)
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Wrote {png}" in result.stderr
    assert "k=2" in result.stdout


def test_report_plot_names_the_extra_when_matplotlib_is_missing(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(__import__("sys").modules, name, None)
    result = invoke("report", demo, "--plot", tmp_path / "p.png")
    assert result.exit_code == 1
    assert "pip install 'policy-agent[plot]'" in result.stderr
    assert not (tmp_path / "p.png").exists()


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = invoke("report", tmp_path)
    assert result.exit_code == 2
    assert "not a readable run directory: there is no run.json" in result.stderr


def test_report_refuses_an_unknown_evaluation(demo: Path) -> None:
    result = invoke("report", demo, "--evaluation", "20990101-000000-000000")
    assert result.exit_code == 2
    assert "no such evaluation" in result.stderr and "its evaluations are: none" in result.stderr


# ----------------------------------------------------------------------------------- compare


def test_compare_says_beyond_noise_and_lists_the_flipped_tasks(tmp_path: Path) -> None:
    a = run_of(tmp_path / "a", {t: [1.0, 1.0] if t == "t0" else [0.0, 0.0] for t in TASKS})
    b = run_of(tmp_path / "b", {t: [1.0, 1.0] for t in TASKS})
    result = invoke("compare", a, b)
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert next(row[:4] for row in rows if row[:1] == ["average_reward"]) == [
        "average_reward",
        "0.100",
        "1.000",
        "+0.900",
    ]
    assert "beyond noise" in result.stdout and "Tasks that flipped (9)" in result.stdout
    comparison = RunComparisonReport.model_validate_json(invoke("compare", a, b, "--json").stdout)
    assert [f.task_id for f in comparison.flipped] == TASKS[1:]
    assert all(m.beyond_noise for m in comparison.metrics)


# ---------------------------------------------------------------------------------- evaluate


def test_evaluate_rescores_a_changed_task_and_never_touches_the_log(
    copied: tuple[Path, Path],
) -> None:
    run, pack = copied
    before = digest(run / EPISODES_NAME)
    make_stricter(pack)
    dry = invoke("evaluate", run, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "Dry run: nothing written." in dry.stdout and evaluation_names(run) == []

    result = invoke("evaluate", run)
    assert result.exit_code == 0, result.stderr
    assert "(changed since the run)" in result.stdout
    assert f"  {STRICT_TASK} trial 0: 1.00 -> 0.00\n1 reward changed." in result.stdout
    [name] = evaluation_names(run)
    assert f"Wrote {run / 'evaluations' / name}.jsonl" in result.stdout
    assert digest(run / EPISODES_NAME) == before

    report = RunReport.model_validate_json(invoke("report", run, "--json").stdout)
    assert (report.evaluation, report.episodes.successes) == (name, 23)
    assert report.rewards_from == f"from evaluation {name} (re-scored with a changed pack)"
    assert f"Rewards from evaluation {name}" in invoke("report", run).stdout
    recorded = invoke("report", run, "--json", "--evaluation", "recorded").stdout
    assert RunReport.model_validate_json(recorded).episodes.successes == 24

    # show's list and one episode read the evaluation's reward with the episode.
    shown = invoke("show", run, "--plain", "--width", "140")
    assert shown.exit_code == 0, shown.stderr
    assert f"Rewards and rule results from evaluation {name}" in shown.stderr
    [row] = [line for line in shown.stdout.splitlines() if f" {STRICT_TASK}#0 " in line]
    assert "0.00" in row
    one = invoke("show", run, "-e", f"{STRICT_TASK}#0", "--plain")
    assert one.exit_code == 0, one.stderr
    assert "0.00" in one.stdout
    kept = invoke("show", run, "-e", f"{STRICT_TASK}#0", "--plain", "--evaluation", "recorded")
    assert "1.00" in kept.stdout and "Rewards and rule results" not in kept.stderr


def test_evaluate_asks_for_a_judge_when_a_task_needs_one(copied: tuple[Path, Path]) -> None:
    run, pack = copied
    tasks = pack / "tasks.yaml"
    old = "reward_basis: [DB, ENV_ASSERTION, COMMUNICATE]"
    text = tasks.read_text(encoding="utf-8")
    tasks.write_text(text.replace(old, f"{old[:-1]}, NL_ASSERTION]", 1), encoding="utf-8")
    result = invoke("evaluate", run)
    assert result.exit_code == 2
    assert STRICT_TASK in result.stderr and "give --judge-model" in result.stderr
    assert invoke("evaluate", run, "--judge-api-base", "http://127.0.0.1:9/v1").exit_code == 2


def test_evaluate_asks_the_judge_given_on_the_command_line(tmp_path: Path) -> None:
    run = demo_run(tmp_path / "runs", tasks=[STRICT_TASK])
    with ScriptedServer(
        Script.model_validate({"roles": {"judge": {"answers": [judged()]}}})
    ) as server:
        result = invoke(
            "evaluate",
            run,
            "--judge-model",
            "hosted_vllm/judge",
            "--judge-api-base",
            server.base_url,
        )
        requests = len(server.requests)
    assert result.exit_code == 0, result.stderr
    assert requests == 1 and "0 rewards changed." in result.stdout
    report = RunReport.model_validate_json(invoke("report", run, "--json").stdout)
    judge = report.roles[2]
    assert (judge.role, judge.model, judge.calls) == ("judge", "hosted_vllm/judge", 1)


def judged() -> str:
    """The judge's answer for card_triplet_cribs: both NL assertions met."""
    from policy_agent.domain import load_pack
    from tests.report._support import HOTEL

    assertions = load_pack(HOTEL).task(STRICT_TASK).evaluation_criteria.nl_assertions
    results = [
        {"expectedOutcome": text, "reasoning": "It does.", "metExpectation": True}
        for text in assertions
    ]
    return json.dumps({"results": results})


# ------------------------------------------------------------------------------------ export


@pytest.mark.parametrize(("export_format", "records"), [("sft", 24), ("tau2", 24), ("chatml", 0)])
def test_export_writes_each_format_of_the_demo(
    demo: Path, tmp_path: Path, export_format: str, records: int
) -> None:
    out = tmp_path / f"demo.{export_format}"
    result = invoke("export", demo, "--format", export_format, "--out", out, "--include-oracle")
    assert result.exit_code == 0, result.stderr
    what = "turns" if export_format == "chatml" else "records"
    assert result.stderr.startswith(f"Exported {records} {what} from 24 episodes")
    text = out.read_text(encoding="utf-8")
    if export_format == "tau2":
        assert len(json.loads(text)["simulations"]) == records
    else:
        assert len(text.splitlines()) == records
    if export_format == "chatml":
        assert "an oracle run has none" in result.stderr


@pytest.mark.parametrize("export_format", ["sft", "chatml", "rl"])
def test_export_leaves_an_oracle_run_out_of_training_data_unless_asked(
    demo: Path, export_format: str
) -> None:
    result = invoke("export", demo, "--format", export_format)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.startswith(
        f"Exported 0 {'turns' if export_format == 'chatml' else 'records'} from 0 episodes; "
        "left out 24 played by the oracle (--include-oracle keeps them)"
    )


def test_export_to_stdout_with_a_reward_filter(tmp_path: Path) -> None:
    run = run_of(tmp_path, {"card_triplet_cribs": [1.0, 0.0], "crib_too_late": [0.5, 1.0]})
    result = invoke("export", run, "--format", "sft", "--min-reward", "0.5", "--include-oracle")
    assert result.exit_code == 0, result.stderr
    kept = [(x["task_id"], x["trial"]) for x in map(json.loads, result.stdout.splitlines())]
    assert kept == [("card_triplet_cribs", 0), ("crib_too_late", 0), ("crib_too_late", 1)]
    assert "left out 1 by the reward filter" in result.stderr
    only = invoke(
        "export", run, "--format", "sft", "--only-success", "--include-oracle"
    ).stdout.splitlines()
    assert len(only) == 2


def test_export_chatml_refuses_prompts_that_no_longer_match(tmp_path: Path) -> None:
    from tests.export.conftest import model_run_on

    pack = copy_hotel(tmp_path / "repo")
    run = model_run_on(tmp_path / "runs", "completions", "card", domain=pack).directory
    exact = invoke("export", run, "--format", "chatml")
    assert exact.exit_code == 0, exact.stderr
    assert [json.loads(x)["exact"] for x in exact.stdout.splitlines()] == [True] * 9
    policy = pack / "policy.md"
    policy.write_text(policy.read_text(encoding="utf-8") + "\nOne more rule.\n", encoding="utf-8")
    refused = invoke("export", run, "--format", "chatml")
    assert refused.exit_code == 1
    assert "does not match the sha256 recorded" in refused.stderr
    assert "the pack differs from the one the run was made on" in refused.stderr
    flagged = invoke("export", run, "--format", "chatml", "--allow-inexact")
    assert flagged.exit_code == 0
    assert "9 turns are not exact" in flagged.stderr


def test_export_needs_the_pack_when_it_moved(tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path / "repo")
    run = demo_run(tmp_path / "runs", domain=pack)
    moved = pack.parent / "hotel_moved"  # beside it: its Python tools still resolve
    pack.rename(moved)
    result = invoke("export", run, "--format", "sft")
    assert result.exit_code == 2
    assert f"the run's pack {pack} (from its run.json) is not there any more" in result.stderr
    assert invoke("export", run, "--format", "sft", "--pack", moved).exit_code == 0


# ------------------------------------------------------------- an unreadable run, a failed export


def cut_short(run: Path, line: int) -> None:
    """Line `line` of the run's episodes.jsonl cut to its first half, newline kept: what a copy
    of a run pieced together by hand, or a bad sector, leaves in the middle of the file."""
    path = run / EPISODES_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1][: len(lines[line - 1]) // 2] + b"\n"
    path.write_bytes(b"".join(lines))


def test_an_export_to_stdout_streams_until_an_unreadable_line(tmp_path: Path) -> None:
    run = run_of(tmp_path, {"card_triplet_cribs": [1.0, 1.0], "crib_too_late": [1.0, 1.0]})
    cut_short(run, 3)
    result = invoke("export", run, "--format", "sft", "--include-oracle")
    assert result.exit_code == 2
    written = [(x["task_id"], x["trial"]) for x in map(json.loads, result.stdout.splitlines())]
    assert written == [("card_triplet_cribs", 0), ("card_triplet_cribs", 1)]
    assert f"{run / EPISODES_NAME}:3" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_export_to_a_pipe_writes_into_it_and_leaves_it_a_pipe(tmp_path: Path) -> None:
    # As `--out /dev/stdout`, `--out /dev/null` or `--out >(gzip > data.gz)` are: not a file to
    # replace (renaming a finished file over /dev/null, as root, would end /dev/null).
    run = run_of(tmp_path, {"card_triplet_cribs": [1.0, 1.0], "crib_too_late": [1.0]})
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = invoke("export", run, "--format", "sft", "--include-oracle", "--out", pipe)
    reader.join(timeout=120)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert [json.loads(line)["trial"] for line in received[0].splitlines()] == [0, 1, 0]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("export_format", ["sft", "tau2"])
def test_an_export_that_fails_midway_leaves_the_out_file_as_it_was(
    tmp_path: Path, export_format: str
) -> None:
    run = run_of(tmp_path, {"card_triplet_cribs": [1.0, 1.0], "crib_too_late": [1.0, 1.0]})
    cut_short(run, 3)
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "data.jsonl"
    out.write_text("the last export\n", encoding="utf-8")
    result = invoke("export", run, "--format", export_format, "--include-oracle", "--out", out)
    assert result.exit_code == 2
    assert f"{run / EPISODES_NAME}:3" in result.stderr
    assert out.read_text(encoding="utf-8") == "the last export\n"
    assert list(folder.iterdir()) == [out]  # no temporary file left beside it
    out.unlink()
    assert invoke("export", run, "--format", export_format, "--out", out).exit_code == 2
    assert list(folder.iterdir()) == []


def test_a_refused_chatml_export_writes_no_out_file(tmp_path: Path) -> None:
    from tests.export.conftest import model_run_on

    pack = copy_hotel(tmp_path / "repo")
    run = model_run_on(tmp_path / "runs", "completions", "card", domain=pack).directory
    policy = pack / "policy.md"
    policy.write_text(policy.read_text(encoding="utf-8") + "\nOne more rule.\n", encoding="utf-8")
    folder = tmp_path / "exports"
    folder.mkdir()
    refused = invoke("export", run, "--format", "chatml", "--out", folder / "turns.jsonl")
    assert refused.exit_code == 1
    assert "does not match the sha256 recorded" in refused.stderr
    assert list(folder.iterdir()) == []
    flagged = invoke(
        "export", run, "--format", "chatml", "--allow-inexact", "--out", folder / "turns.jsonl"
    )
    assert flagged.exit_code == 0
    assert len((folder / "turns.jsonl").read_text(encoding="utf-8").splitlines()) == 9
    assert list(folder.iterdir()) == [folder / "turns.jsonl"]


def test_evaluate_stops_at_an_unreadable_line_and_writes_no_evaluation(
    copied: tuple[Path, Path],
) -> None:
    run, _ = copied
    dry = invoke("evaluate", run, "--dry-run")
    assert dry.exit_code == 0 and not (run / "evaluations").exists()
    cut_short(run, 5)
    result = invoke("evaluate", run)
    assert result.exit_code == 2
    assert f"{run / EPISODES_NAME}:5" in result.stderr
    assert not (run / "evaluations").exists()  # nor a temporary file in it


def test_evaluate_that_fails_midway_leaves_no_temporary_file(copied: tuple[Path, Path]) -> None:
    run, _ = copied
    # A line edited by hand: still read for the episodes' tasks (which skips the seed), but no
    # episode any more, found only once the four lines before it were scored and written.
    path = run / EPISODES_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    assert b'"seed":' in lines[4]
    lines[4] = re.sub(rb'"seed":(\d+)', rb'"seed":"seed \1"', lines[4])
    path.write_bytes(b"".join(lines))
    result = invoke("evaluate", run, "--concurrency", "1")
    assert result.exit_code == 2
    assert f"{run / EPISODES_NAME}:5" in result.stderr
    assert not (run / "evaluations").exists()  # nor a temporary file in it


def test_a_bad_line_in_the_evaluation_is_named_when_its_episode_is_read(
    copied: tuple[Path, Path], tmp_path: Path
) -> None:
    run, _ = copied
    assert invoke("evaluate", run).exit_code == 0
    [name] = evaluation_names(run)
    path = run / "evaluations" / f"{name}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    # Edited by hand: the key still reads, the reward is no number.
    lines[6] = lines[6].replace(b'"reward":1.0', b'"reward":"full"', 1)
    path.write_bytes(b"".join(lines))
    out = tmp_path / "data.jsonl"
    for command in (["report", run], ["export", run, "--format", "sft", "--out", out]):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert f"{path}:7: not a line of an evaluation" in result.stderr
        assert "--evaluation" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert invoke("export", run, "--format", "sft", "--evaluation", "recorded").exit_code == 0
    # show checks the whole evaluation as it opens the run, the episode asked for or not.
    shown = invoke("show", run, "-e", "1", "--plain")
    assert shown.exit_code == 1, shown.output
    assert f"{path}:7: not a line of an evaluation" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_rl_consistency_problems_leave_no_out_file(tmp_path: Path) -> None:
    from policy_agent.records import Episode
    from policy_agent.trajectory import RunStore
    from tests.export.conftest import model_run_on

    made = model_run_on(tmp_path / "made", "completions", "card", record_tokens=True).directory
    [(_, good)] = list(RunStore.open(made).latest_episodes())
    value = good.model_dump(mode="json")
    first = next(m for m in value["messages"] if m.get("generation"))
    first["generation"]["usage"]["prompt_tokens"] += 1  # the server's usage, miscounted
    bad = Episode.model_validate(value | {"trial": 1})
    run = write_run(tmp_path / "runs", [good, bad], trials=2)
    folder = tmp_path / "exports"
    folder.mkdir()
    to_file = invoke("export", run, "--format", "rl", "--include-oracle", "--out", folder / "rl")
    assert to_file.exit_code == 1
    assert f"1 consistency problems, so --out {folder / 'rl'} was not written" in to_file.stderr
    assert f"{STRICT_TASK}#1 turn 0: usage says" in to_file.stderr
    assert list(folder.iterdir()) == []
    to_stdout = invoke("export", run, "--format", "rl", "--include-oracle")
    assert to_stdout.exit_code == 1
    assert "1 consistency problems; those episodes were left out" in to_stdout.stderr
    written = [json.loads(line) for line in to_stdout.stdout.splitlines()]
    assert {(x["task_id"], x["trial"]) for x in written} == {(STRICT_TASK, 0)}
