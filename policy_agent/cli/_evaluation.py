"""`policy-agent report`, `compare`, `evaluate` and `export`: what a run scored, how two runs
differ, re-scoring a run, and its episodes for training or for tau2-bench.

Exit codes: 0 on success, 1 when a CI gate failed (`report --fail-under`/`--fail-on-rule`,
`compare --fail-if-worse`: one `gate failed: ...` line on stderr after the report), when an
export cannot be made as asked (a prompt that no longer matches its run) or the PNG or HTML
cannot be written; 2 for a usage problem (a folder that is not a run, a missing pack, an unknown
evaluation, a gate that cannot be read or names what the run does not have), said in one
message, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

import click

from policy_agent.cli import main
from policy_agent.cli._run import _ConfigProblem

if TYPE_CHECKING:
    from rich.console import Console

    from policy_agent.domain import DomainPack
    from policy_agent.export import ExportFormat, ExportResult
    from policy_agent.llm import LLMClient
    from policy_agent.report import (
        EvaluationDraft,
        LoadedRun,
        MetricThreshold,
        Rescoring,
        RuleGate,
        RunReport,
    )

_GATE_FAILED = 1
"""The exit code when a CI gate fails (the report itself was printed)."""

_RUN = click.Path(exists=True, file_okay=False, path_type=Path)

_evaluation_option = click.option(
    "--evaluation",
    default="latest",
    show_default=True,
    help="Whose rewards: `latest` (the newest `evaluate`, else those recorded in the run), "
    "`recorded`, or an evaluation's name (see RUN/evaluations/).",
)


def _thresholds(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[MetricThreshold]:
    from policy_agent.report import GateError, parse_threshold

    try:
        return [parse_threshold(value) for value in values]
    except GateError as error:
        raise click.BadParameter(str(error)) from None


def _rule_gates(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[RuleGate]:
    from policy_agent.report import GateError, parse_rule_gate

    try:
        return [parse_rule_gate(value) for value in values]
    except GateError as error:
        raise click.BadParameter(str(error)) from None


def _metric_names(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[str]:
    from policy_agent.report import GateError, parse_metric_name

    try:
        return [parse_metric_name(value) for value in values]
    except GateError as error:
        raise click.BadParameter(str(error)) from None


def _fail_gates(failures: list[str]) -> None:
    """Exit 1 with one line naming every failed gate; nothing when all passed."""
    if failures:
        click.echo(f"gate failed: {'; '.join(failures)}", err=True)
        raise SystemExit(_GATE_FAILED)


@main.command()
@click.argument("run_dirs", metavar="RUN [RUN ...]", type=_RUN, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write pass^k against k as a PNG (needs `pip install 'policy-agent[plot]'`).",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report, with every conversation, as one self-contained HTML file.",
)
@click.option(
    "--fail-under",
    "thresholds",
    metavar="METRIC=VALUE",
    multiple=True,
    callback=_thresholds,
    help="Exit 1 when METRIC (reward, pass^K, pass@K) is below VALUE. Repeatable.",
)
@click.option(
    "--fail-on-rule",
    "rule_gates",
    metavar="NAME|severity=LEVEL",
    multiple=True,
    callback=_rule_gates,
    help="Exit 1 when rule NAME, or any rule of LEVEL (critical, major, minor) or worse, was "
    "broken in a scored episode. Repeatable.",
)
@_evaluation_option
def report(
    run_dirs: tuple[Path, ...],
    as_json: bool,
    plot: Path | None,
    html_file: Path | None,
    thresholds: list[MetricThreshold],
    rule_gates: list[RuleGate],
    evaluation: str,
) -> None:
    """What run RUN scored: reward, pass^k for k = 1..trials, per-task results, how episodes
    ended, violations, the tool-error rate, and tokens, latency and cost per role.

    Infrastructure failures are left out of the agent's scores and counted apart. With several
    runs (one per domain, say), one row per run and their pass^k combined: the mean of the
    runs, each weighing the same, and all their tasks pooled.

    Gates (--fail-under, --fail-on-rule) are checked after the report is printed; a failed one
    exits 1 with one `gate failed: ...` line on stderr (docs/ci.md).
    """
    from policy_agent.report import (
        GateError,
        PlotUnavailable,
        build_report,
        render_report,
        report_gate_failures,
        write_png,
    )

    if len(run_dirs) > 1:
        if thresholds or rule_gates or html_file is not None:
            raise click.UsageError(
                "--fail-under, --fail-on-rule and --html are about one run; give a single RUN"
            )
        _report_runs(run_dirs, as_json=as_json, plot=plot, evaluation=evaluation)
        return
    run = _open(run_dirs[0], evaluation)
    said: set[str] = set()
    with _run_problems(said):
        built = build_report(run)
    try:
        failures = report_gate_failures(built, thresholds, rule_gates)
    except GateError as error:
        raise _ConfigProblem(str(error)) from None
    if as_json:
        click.echo(built.model_dump_json(indent=2))
    else:
        _console().print(render_report(built))
    if plot is not None:
        try:
            write_png(built, plot)
        except (PlotUnavailable, ValueError, OSError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Wrote {plot}", err=True)
    if html_file is not None:
        with _run_problems(said):
            _write_html(run, built, html_file)
    _fail_gates(failures)


def _report_runs(
    run_dirs: tuple[Path, ...], *, as_json: bool, plot: Path | None, evaluation: str
) -> None:
    from policy_agent.report import build_report, combine_reports, render_runs_summary

    if plot is not None:
        raise click.UsageError("--plot draws one run; give it a single RUN")
    runs = [_open(run, evaluation) for run in run_dirs]
    with _run_problems():
        summary = combine_reports([build_report(run) for run in runs])
    if as_json:
        click.echo(summary.model_dump_json(indent=2))
    else:
        _console().print(render_runs_summary(summary))


@main.command()
@click.argument("run_a", metavar="RUN_A", type=_RUN)
@click.argument("run_b", metavar="RUN_B", type=_RUN)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead.")
@click.option(
    "--fail-if-worse",
    "worse_metrics",
    metavar="METRIC",
    multiple=True,
    callback=_metric_names,
    help="Exit 1 when RUN_B is worse than RUN_A on METRIC (reward, pass^K, pass@K) beyond "
    "noise: the whole paired bootstrap interval of B - A below -TOLERANCE. Repeatable.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="How much worse --fail-if-worse accepts: fail only when B - A is surely below -T.",
)
@_evaluation_option
def compare(
    run_a: Path,
    run_b: Path,
    as_json: bool,
    worse_metrics: list[str],
    tolerance: float,
    evaluation: str,
) -> None:
    """Compare RUN_B against RUN_A over the tasks both scored: per metric the difference, its
    paired bootstrap interval and whether it is beyond noise; and the tasks that flipped.

    --fail-if-worse exits 1 with one `gate failed: ...` line when B is worse beyond noise."""
    from policy_agent.report import (
        GateError,
        build_comparison,
        comparison_gate_failures,
        render_comparison,
    )

    a, b = _open(run_a, evaluation), _open(run_b, evaluation)
    with _run_problems():
        built = build_comparison(a, b)
    try:
        failures = comparison_gate_failures(built, worse_metrics, tolerance)
    except GateError as error:
        raise _ConfigProblem(str(error)) from None
    if as_json:
        click.echo(built.model_dump_json(indent=2))
    else:
        _console().print(render_comparison(built))
    _fail_gates(failures)


@main.command()
@click.argument("run_dir", metavar="RUN", type=_RUN)
@click.option(
    "--pack",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Score with this pack (default: the run's, from run.json, as it is now).",
)
@click.option("--judge-model", help="The NL-assertion judge's litellm model (default: the run's).")
@click.option("--judge-api-base", help="The judge's server, e.g. http://127.0.0.1:8000/v1.")
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Judge calls."
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def evaluate(
    run_dir: Path,
    pack: Path | None,
    judge_model: str | None,
    judge_api_base: str | None,
    concurrency: int,
    dry_run: bool,
) -> None:
    """Score run RUN again with its pack as it is now (after a task was fixed, say), without
    calling the agent or user models: each episode's logged tool calls are replayed.

    The new rewards go to RUN/evaluations/<name>.jsonl (episodes.jsonl is never rewritten);
    `report`, `compare` and `export` use the newest evaluation from then on.
    """
    from policy_agent.evaluation import JudgeRequired
    from policy_agent.report import EvaluationFileError

    run = _open(run_dir, "latest")
    loaded = _pack(run, pack)
    judge = _judge(run, judge_model, judge_api_base)
    with _evaluation_draft(run_dir, dry_run) as draft:
        with _run_problems():
            try:
                rescoring = asyncio.run(_rescore(run, loaded, judge, concurrency, draft))
            except JudgeRequired as error:
                raise _ConfigProblem(f"{error}; or give --judge-model") from None
        manifest = rescoring.manifest
        changed = " (changed since the run)" if manifest.pack_changed else " (unchanged)"
        click.echo(
            f"Re-scored {manifest.episodes} episodes of {run_dir} with the pack in "
            f"{manifest.domain}{changed}; the rewards before were those {run.describe_rewards()}."
        )
        for change in rescoring.changes:
            before = "none" if change.before is None else f"{change.before:.2f}"
            after = "none" if change.after is None else f"{change.after:.2f}"
            click.echo(f"  {change.task_id} trial {change.trial}: {before} -> {after}")
        changed_count = len(rescoring.changes)
        click.echo(f"{changed_count} reward{'' if changed_count == 1 else 's'} changed.")
        for count in rescoring.rules:
            before = "new rule" if count.broken_before is None else f"before: {count.broken_before}"
            click.echo(
                f"  rule {count.rule}: broken in {count.broken} of {count.checked} episodes "
                f"where it applied ({before})"
            )
        for line in rescoring.unscored:
            click.echo(f"  not scored: {line.task_id} trial {line.trial}: {line.error}", err=True)
        if draft is None:
            click.echo("Dry run: nothing written.")
            return
        try:
            written = draft.commit(manifest)
        except (EvaluationFileError, OSError) as error:
            raise click.ClickException(f"the evaluation was not written: {error}") from None
    click.echo(
        f"Wrote {written}; `policy-agent report {run_dir}` uses it from now on "
        "(episodes.jsonl is unchanged)."
    )


@contextlib.contextmanager
def _evaluation_draft(run_dir: Path, dry_run: bool) -> Iterator[EvaluationDraft | None]:
    """Where `evaluate` streams its lines (None for a dry run): a folder it cannot write in is
    said before any episode is scored."""
    from policy_agent.report import EVALUATIONS_DIR, EvaluationDraft
    from policy_agent.trajectory import describe_os_error

    if dry_run:
        yield None
        return
    try:
        draft = EvaluationDraft(run_dir)
    except OSError as error:
        folder = run_dir / EVALUATIONS_DIR
        raise click.ClickException(
            f"the evaluation was not written: {describe_os_error(error, folder)}"
        ) from None
    with draft:
        yield draft


async def _rescore(
    run: LoadedRun,
    pack: DomainPack,
    judge: LLMClient | None,
    concurrency: int,
    draft: EvaluationDraft | None,
) -> Rescoring:
    from policy_agent.llm import close_connections
    from policy_agent.report import rescore_run

    # A dry run's lines are let go as they come: only what is said of them is kept.
    write = draft.write if draft is not None else lambda _: None
    try:
        return await rescore_run(run, pack, judge=judge, concurrency=concurrency, write=write)
    finally:
        if judge is not None:
            await judge.aclose()
            await close_connections()


@main.command()
@click.argument("run_dir", metavar="RUN", type=_RUN)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["sft", "chatml", "rl", "tau2"]),
    required=True,
    help="sft: one line per episode, OpenAI messages and tools. chatml: one line per agent "
    "turn, the exact prompt and completion with the episode's reward. rl: token ids, logprobs "
    "and loss masks per agent generation and per episode (runs with record_tokens). tau2: a "
    "tau2-bench Results JSON.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout)."
)
@click.option("--min-reward", type=float, help="Only episodes with at least this reward.")
@click.option("--only-success", is_flag=True, help="Only episodes that succeeded (reward 1).")
@click.option(
    "--pack",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The pack to rebuild prompts and tasks from (default: the run's, from run.json).",
)
@click.option(
    "--allow-inexact",
    is_flag=True,
    help="chatml: export prompts that no longer match their recorded hash, marked exact: false.",
)
@click.option(
    "--include-oracle",
    is_flag=True,
    help="sft, chatml, rl: export a run played by the oracle too (left out by default: it is "
    "no model, and its messages are a test fixture's).",
)
@_evaluation_option
def export(
    run_dir: Path,
    export_format: str,
    out: Path | None,
    min_reward: float | None,
    only_success: bool,
    pack: Path | None,
    allow_inexact: bool,
    include_oracle: bool,
    evaluation: str,
) -> None:
    """Write run RUN's episodes for training (sft, chatml) or for tau2-bench's tools (tau2).

    sft and chatml leave out infrastructure failures; the reward filters apply to every format.
    """
    from policy_agent.export import (
        NoTokens,
        PromptMismatch,
        RewardFilter,
        UnknownTasks,
        export_run,
    )
    from policy_agent.report import EvaluationFileError

    run = _open(run_dir, evaluation, tokens=export_format in ("rl", "chatml"))
    loaded = _pack(run, pack)
    if export_format != "tau2" and loaded.content_hash != run.manifest.domain_hash:
        click.echo(
            "Note: the pack differs from the one the run was made on; prompts are rebuilt from "
            "it as it is now, so a changed policy or tool changes them.",
            err=True,
        )
    try:
        with _output(out) as stream:
            with _run_problems():
                result = export_run(
                    run,
                    loaded,
                    cast("ExportFormat", export_format),  # click.Choice checked it
                    stream,
                    reward_filter=RewardFilter(min_reward=min_reward, only_success=only_success),
                    allow_inexact=allow_inexact,
                    include_oracle=include_oracle,
                )
            click.echo(
                f"{_exported(result, export_format)}; rewards {run.describe_rewards()}.", err=True
            )
            if result.inconsistent:
                # Inside `_output`: an export with problems leaves no file at --out.
                raise click.ClickException(_inconsistent(result, out))
    except PromptMismatch as error:
        raise click.ClickException(f"{error} (--allow-inexact)") from None
    except (UnknownTasks, NoTokens) as error:
        raise click.ClickException(str(error)) from None
    except EvaluationFileError as error:
        raise _ConfigProblem(str(error)) from None


def _exported(result: ExportResult, export_format: str) -> str:
    """What an export wrote and left out, in one sentence."""
    what = "turns" if export_format == "chatml" else "records"
    summary = f"Exported {result.records} {what} from {result.selection.describe()}"
    if result.inexact:
        summary += f"; {result.inexact} turns are not exact (chat transport or --allow-inexact)"
    if export_format == "chatml" and not result.records:
        summary += " (model turns only: an oracle run has none)"
    if result.untokenized:
        summary += f"; {result.untokenized} episodes left out: no token ids recorded"
    return summary


def _inconsistent(result: ExportResult, out: Path | None) -> str:
    shown = "\n  ".join(result.inconsistent[:10])
    if out is None:
        return (
            f"{len(result.inconsistent)} consistency problems; those episodes were left out:"
            f"\n  {shown}"
        )
    return (
        f"{len(result.inconsistent)} consistency problems, so --out {out} was not written "
        f"(fix them, or export to stdout, which leaves those episodes out):\n  {shown}"
    )


def _write_html(run: LoadedRun, built: RunReport, path: Path) -> None:
    from policy_agent.report import write_html
    from policy_agent.trajectory import describe_os_error

    try:
        write_html(run, built, path)
    except OSError as error:
        raise click.ClickException(f"--html {path}: {describe_os_error(error, path)}") from None
    click.echo(f"Wrote {path}", err=True)


def _open(run_dir: Path, evaluation: str, *, tokens: bool = False) -> LoadedRun:
    """The run opened for reading as it streams: its episodes are read as they are iterated,
    which a caller does inside `_run_problems`."""
    from policy_agent.report import load_run

    with _run_problems():
        return load_run(run_dir, evaluation=evaluation, tokens=tokens)


@contextlib.contextmanager
def _run_problems(said: set[str] | None = None) -> Iterator[None]:
    """Reading a run inside: a run that cannot be read exits 2 with what is wrong; what reading
    it found (a torn last line) is said once as `warning: ...`, as `show` says it; `said`
    carries what was said from one reading of the run to the next."""
    import warnings

    from policy_agent.report import EvaluationFileError
    from policy_agent.trajectory import RunStoreError, RunStoreWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunStoreWarning)
        try:
            yield
        except (RunStoreError, EvaluationFileError) as error:
            raise _ConfigProblem(str(error)) from None
        finally:
            said = set() if said is None else said
            for warning in caught:
                if not issubclass(warning.category, RunStoreWarning):
                    warnings.warn_explicit(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
                elif str(warning.message) not in said:
                    said.add(str(warning.message))
                    click.echo(f"warning: {warning.message}", err=True)


def _pack(run: LoadedRun, given: Path | None) -> DomainPack:
    from policy_agent.cli._domain import load_pack_or_exit
    from policy_agent.report import EvaluationFileError

    if given is not None:
        return load_pack_or_exit(given)
    try:
        path = run.config().domain
    except EvaluationFileError as error:
        raise _ConfigProblem(f"{error}; give the pack with --pack") from None
    if not path.is_dir():
        raise _ConfigProblem(
            f"the run's pack {path} (from its run.json) is not there any more; give it with --pack"
        )
    return load_pack_or_exit(path)


def _judge(run: LoadedRun, model: str | None, api_base: str | None) -> LLMClient | None:
    """The judge: --judge-model if given, else the run's (None when neither has one)."""
    from pydantic import ValidationError

    from policy_agent.llm import LLMClient, LLMError, ModelConfig
    from policy_agent.report import EvaluationFileError

    try:
        config = run.config().judge if model is None else ModelConfig(model=model)
    except EvaluationFileError as error:
        raise _ConfigProblem(f"{error}; give the judge with --judge-model") from None
    if config is None:
        if api_base is not None:
            raise _ConfigProblem("--judge-api-base: the run has no judge; add --judge-model")
        return None
    if api_base is not None:
        try:
            config = ModelConfig.model_validate(
                config.model_dump() | {"api_base": api_base, "api_bases": ()}
            )
        except ValidationError as error:
            raise _ConfigProblem(f"--judge-api-base: {error.errors()[0]['msg']}") from None
    try:
        return LLMClient(config, role="judge")
    except LLMError as error:
        raise _ConfigProblem(str(error)) from None


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or the file `path` written whole or not at all: to a temporary file beside it,
    renamed into place when the block ends without an exception, removed when it raises (an
    export that fails midway leaves neither). A `path` that is there and no regular file (a
    pipe, `/dev/null`, `/dev/stdout`) is written into as it goes, as stdout is: renaming over
    it would replace it. A folder that is missing or not writable exits 2.
    """
    from policy_agent.trajectory import PendingFile, describe_os_error

    if path is None:
        yield sys.stdout
        return
    if path.exists() and not path.is_file():
        try:
            stream = path.open("w", encoding="utf-8")
        except OSError as error:
            raise _ConfigProblem(f"--out {path}: {describe_os_error(error, path)}") from None
        with stream:
            yield stream
        return
    if not path.parent.is_dir():
        raise _ConfigProblem(
            f"--out {path}: the folder {path.parent} does not exist; create it first "
            f"(mkdir -p {path.parent})"
        )
    try:
        pending = PendingFile(path.parent, path.name)
    except OSError as error:
        raise _ConfigProblem(f"--out {path}: {describe_os_error(error, path)}") from None
    with pending:
        stream = io.TextIOWrapper(pending.file, encoding="utf-8")
        try:
            yield stream
            stream.flush()
        finally:
            stream.detach()  # the file is the PendingFile's to close
        try:
            pending.commit(path)
        except OSError as error:
            raise click.ClickException(f"--out {path}: {describe_os_error(error, path)}") from None


def _console() -> Console:
    from rich.console import Console

    return Console()
