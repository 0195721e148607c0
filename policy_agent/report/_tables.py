"""The report and the comparison as rich tables, for the terminal."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from policy_agent.evaluation import is_success
from policy_agent.records import TerminationReason
from policy_agent.report._model import (
    MetricComparison,
    MetricEstimate,
    RunComparisonReport,
    RunReport,
    TaskResult,
)
from policy_agent.report._plot import pass_hat_chart
from policy_agent.report._rules import render_rules


def render_report(report: RunReport) -> Group:
    """Every table of `policy-agent report`, in reading order."""
    parts: list[RenderableType] = [
        Text.assemble(
            (f"Run {report.run_id}", "bold"),
            f"  domain {report.domain} · agent {report.agent} · user {report.user}",
        ),
        Text(f"Rewards {report.rewards_from}", style="dim"),
        _overall(report),
    ]
    if report.pass_hat_k:
        shown = shown_k(len(report.pass_hat_k))
        parts.append(_pass_table(report, shown))
        if len(shown) < len(report.pass_hat_k):
            note = (
                f"k = 1..{ALL_K_UP_TO}, then powers of two and the last; "
                f"`report --json` has every k up to {len(report.pass_hat_k)}"
            )
            parts.append(Text(note, style="dim"))
        parts.append(pass_hat_chart([report.pass_hat_k[k - 1] for k in shown]))
    parts += [
        _tasks(report.tasks),
        _endings(report),
        _behaviour(report),
    ]
    if report.rules:
        parts.append(render_rules(report.rules, report.confidence))
    parts.append(_usage(report))
    return Group(*parts)


def render_comparison(comparison: RunComparisonReport) -> Group:
    """The metrics of run b against run a, the verdict on each, and the tasks that flipped."""
    parts: list[RenderableType] = [
        Text.assemble(("Compare ", "bold"), f"a = {comparison.run_a}, b = {comparison.run_b}"),
        Text(
            f"Rewards of a {comparison.rewards_from_a}; of b {comparison.rewards_from_b}",
            style="dim",
        ),
    ]
    level = f"{comparison.confidence:.0%}"
    table = _table(f"b − a over {comparison.shared_tasks} shared tasks (paired bootstrap)")
    for name in ("metric", "a", "b", "b − a", f"{level} interval", "verdict"):
        table.add_column(name, justify="left" if name in ("metric", "verdict") else "right")
    shown = _shown_metrics(comparison)
    for metric in shown:
        verdict = (
            Text("beyond noise", style="bold green" if metric.difference > 0 else "bold red")
            if metric.beyond_noise
            else Text("within noise", style="dim")
        )
        table.add_row(
            metric.metric,
            f"{metric.a:.3f}",
            f"{metric.b:.3f}",
            f"{metric.difference:+.3f}",
            f"[{metric.low:+.3f}, {metric.high:+.3f}]",
            verdict,
        )
    parts.append(table if comparison.metrics else Text("No shared scored tasks to compare."))
    if len(shown) < len(comparison.metrics):
        most = (len(comparison.metrics) - 1) // 2
        note = (
            f"pass^k and pass@k for k = 1..{ALL_K_UP_TO}, then powers of two and the last; "
            f"`compare --json` has every k up to {most}"
        )
        parts.append(Text(note, style="dim"))
    flips = _table(f"Tasks that flipped ({len(comparison.flipped)})")
    for name in ("task", "change", "a successes", "b successes"):
        # Task ids are what the reader acts on: fold long ones, never cut them.
        flips.add_column(name, overflow="fold" if name == "task" else "ellipsis")
    for flip in comparison.flipped:
        style = "green" if flip.change == "improved" else "red"
        flips.add_row(
            flip.task_id,
            Text(flip.change, style=style),
            f"{flip.successes_a}/{flip.trials_a}",
            f"{flip.successes_b}/{flip.trials_b}",
        )
    parts.append(flips if comparison.flipped else Text("No task flipped.", style="dim"))
    for label, tasks in (("only in a", comparison.only_in_a), ("only in b", comparison.only_in_b)):
        if tasks:
            parts.append(Text(f"Tasks {label} (not compared): {', '.join(tasks)}", style="yellow"))
    parts += [Text(f"Note: {note}", style="yellow") for note in comparison.notes]
    return Group(*parts)


def _shown_metrics(comparison: RunComparisonReport) -> list[MetricComparison]:
    """The average reward, and pass^k and pass@k for the k `shown_k` picks."""
    most = (len(comparison.metrics) - 1) // 2
    names = {"average_reward"} | {f"pass{kind}{k}" for kind in "^@" for k in shown_k(most)}
    return [metric for metric in comparison.metrics if metric.metric in names]


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)


def _wide_table(title: str) -> Table:
    """A table of many columns: no padding at its edges, one space between columns, so that it
    fits 80 columns (a pipe, a CI log) with its headers whole."""
    table = _table(title)
    table.pad_edge = False
    table.collapse_padding = True
    return table


def _interval(estimate: MetricEstimate) -> str:
    return f"[{estimate.low:.3f}, {estimate.high:.3f}]"


def _overall(report: RunReport) -> Table:
    counts = report.episodes
    table = _table("Overall")
    table.show_header = False
    table.add_column()
    table.add_column()
    table.add_row("episodes", f"{counts.total} of {counts.planned} planned")
    table.add_row("scored (the agent's)", f"{counts.scored}, of which {counts.successes} succeed")
    average = report.average_reward
    table.add_row(
        "average reward",
        "—" if average is None else f"{average.value:.3f}  {_interval(average)}",
    )
    left_out = (
        f"infrastructure failures {counts.infrastructure_failures}, "
        f"judge failures {counts.judge_failures}, unevaluated {counts.unevaluated}"
    )
    table.add_row("left out", left_out)
    return table


ALL_K_UP_TO = 8
"""With more than `MOST_K_SHOWN` k, the terminal shows k = 1..8, then powers of two..."""
MOST_K_SHOWN = 12
"""...and the last k; up to 12 k, every one (`report --json` always has every k)."""


def shown_k(most: int) -> list[int]:
    """The k of 1..`most` the terminal's pass^k table and chart show (see `MOST_K_SHOWN`)."""
    if most <= MOST_K_SHOWN:
        return list(range(1, most + 1))
    shown = list(range(1, ALL_K_UP_TO + 1))
    power = 2 * ALL_K_UP_TO
    while power < most:
        shown.append(power)
        power *= 2
    return [*shown, most]


def _pass_table(report: RunReport, shown: list[int]) -> Table:
    level = f"{report.confidence:.0%}"
    table = _table("pass^k and pass@k (bootstrap over tasks)")
    for name in ("k", "pass^k", f"{level} interval", "pass@k", f"{level} interval", "tasks"):
        table.add_column(name, justify="right")
    for k in shown:
        hat, at = report.pass_hat_k[k - 1], report.pass_at_k[k - 1]
        table.add_row(
            str(hat.k),
            f"{hat.value:.3f}",
            _interval(hat),
            f"{at.value:.3f}",
            _interval(at),
            str(hat.tasks),
        )
    return table


def _tasks(tasks: list[TaskResult]) -> Table:
    table = _wide_table("Results per task")
    for name in ("task", "trials", "passed", "rewards", "avg", "lost", "early ends"):
        table.add_column(
            name,
            justify="left" if name in ("task", "rewards") else "right",
            # Task ids are what the reader acts on: keep them whole (fold only very long ones)
            # and let the numeric columns' headers wrap instead.
            # 22 leaves the six other columns room at 80 columns; more makes rich cut them.
            min_width=min(22, max((len(t.task_id) for t in tasks), default=4))
            if name == "task"
            else None,
            # Headers wrap (`early` over `ends`) rather than being cut at 80 columns.
            overflow="fold",
        )
    for task in tasks:
        table.add_row(
            task.task_id,
            str(len(task.rewards)),
            str(task.successes),
            _reward_marks(task.rewards),
            "—" if task.average_reward is None else f"{task.average_reward:.2f}",
            str(task.trials_lost) if task.trials_lost else "",
            ", ".join(f"{reason} {n}" for reason, n in task.early_ends.items()),
        )
    return table


MOST_MARKS_SHOWN = 12
"""Up to 12 trials a task's rewards are a mark each, in trial order; past it, counted."""


def _reward_marks(rewards: list[float]) -> Text:
    if len(rewards) <= MOST_MARKS_SHOWN:
        return Text(" ").join(_reward_mark(r) for r in rewards)
    successes = sum(1 for r in rewards if is_success(r))
    failures = sum(1 for r in rewards if r == 0)
    counts = [
        Text(f"✓ {successes}", style="green"),
        Text(f"✗ {failures}", style="red"),
    ]
    if partial := len(rewards) - successes - failures:
        counts.append(Text(f"partial {partial}", style="red"))
    return Text("  ").join(counts)


def _reward_mark(reward: float) -> Text:
    if is_success(reward):
        return Text("✓", style="green")
    return Text("✗" if reward == 0 else f"{reward:.2f}", style="red")


def _endings(report: RunReport) -> Table:
    table = _table("Termination reasons")
    table.add_column("reason")
    table.add_column("episodes", justify="right")
    table.add_column("counts as")
    for reason, count in report.termination_reasons.items():
        kind = TerminationReason(reason)
        if kind.is_infrastructure:
            counted = Text("infrastructure failure (left out)", style="yellow")
        elif kind.is_normal_end:
            counted = Text("normal end (scored on its merits)")
        else:
            counted = Text("the agent's early end (scores 0)", style="red")
        table.add_row(reason, str(count), counted)
    return table


def _behaviour(report: RunReport) -> Group:
    tools = report.tools
    rate = "—" if tools.agent_error_rate is None else f"{tools.agent_error_rate:.1%}"
    lines: list[RenderableType] = [
        Text.assemble(
            ("Tool calls ", "bold"),
            f"agent {tools.agent_calls}, errors {tools.agent_errors} (tool-error rate {rate}), "
            f"of which crashes {tools.agent_crashes}",
            f"; user {tools.user_calls}, errors {tools.user_errors}" if tools.user_calls else "",
        )
    ]
    lines.append(_violation_rate(report))
    if not report.violations:
        lines.append(Text.assemble(("Violations ", "bold"), "none (every turn was one action)"))
        return Group(*lines)
    table = _table("Violations by code")
    table.add_column("code")
    table.add_column("count", justify="right")
    for code, count in report.violations.items():
        table.add_row(code, str(count))
    actions = ", ".join(f"{action} {n}" for action, n in report.violation_actions.items())
    lines += [
        table,
        Text(f"Turns that were not one action; what the agent did: {actions}", style="dim"),
    ]
    return Group(*lines)


def _violation_rate(report: RunReport) -> Text:
    """Always shown, so runs with and without the grammar compare."""
    rate = report.violations_per_100_agent_turns
    shown = "—" if rate is None else f"{rate:.1f}"
    count = sum(report.violations.values())
    return Text.assemble(
        ("Violations per 100 agent turns ", "bold"),
        f"{shown} ({count} in {report.agent_turns} agent model calls; "
        f"decoding constrained: {report.constrain})",
    )


def _usage(report: RunReport) -> Group:
    # Who played a role without a model: the oracle agent, the scripted user, no judge.
    stand_ins = {"agent": report.agent, "user": report.user, "judge": "none"}
    roles = report.roles
    table = _wide_table("Tokens and latency per role")
    for name in ("role", "model", "calls", "prompt tokens", "completion tokens", "latency"):
        left = name in ("role", "model")
        table.add_column(name, justify="left" if left else "right", overflow="fold")
    table.add_column("per call", justify="right", overflow="fold")
    table.add_column("cost (USD)", justify="right", overflow="fold")
    for role in roles:
        table.add_row(
            role.role,
            role.model or stand_ins[role.role],
            str(role.calls),
            f"{role.prompt_tokens:,}",
            f"{role.completion_tokens:,}",
            _duration(role.latency_ms),
            "—" if role.mean_latency_ms is None else _duration(role.mean_latency_ms),
            "—" if role.cost_usd is None else f"{role.cost_usd:.4f}",
        )
    parts: list[RenderableType] = [table]
    for role in roles:
        cached = role.cached_prompt_tokens
        if cached is not None and role.prompt_tokens:
            parts.append(
                Text(
                    f"Prefix cache ({role.role}): {cached:,} of {role.prompt_tokens:,} prompt "
                    f"tokens ({cached / role.prompt_tokens:.0%}) were served from the cache; "
                    f"{role.prompt_tokens - cached:,} were computed.",
                    style="dim",
                )
            )
    if any(role.calls and role.cost_usd is None for role in roles):
        parts.append(
            Text(
                "Cost shows only for roles with a price per token configured "
                "(price_per_input_token, price_per_output_token); self-hosted models have none.",
                style="dim",
            )
        )
    return Group(*parts)


def _duration(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"
