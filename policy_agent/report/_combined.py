"""Several runs in one summary: `policy-agent report RUN RUN ...`.

A benchmark's headline number often spans runs: the model card's τ²-Bench score covers airline,
retail and telecom, one run each. The summary lists each run's pass^k and combines them two
ways, both from the runs' own estimates: the mean of the runs (each run, so each domain, weighs
the same) and all their tasks pooled (each task weighs the same). Neither carries an interval:
the runs' tasks are different populations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from policy_agent.report._model import MetricEstimate, RunReport


class CombinedMetric(BaseModel):
    """pass^k over several runs, for a k every run has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="`pass^1`, `pass^2`, ...")
    k: int
    value: float
    tasks: int = Field(description="Tasks behind the value, over every run.")


class RunsSummary(BaseModel):
    """Each run's report and their pass^k combined; `report --json` with several runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    runs: list[RunReport]
    mean_of_runs: list[CombinedMetric] = Field(
        description="pass^k averaged over the runs, each run weighing the same."
    )
    pooled: list[CombinedMetric] = Field(
        description="pass^k over every run's tasks together, each task weighing the same."
    )


def combine_reports(reports: Sequence[RunReport]) -> RunsSummary:
    """The runs' summary: pass^k combined for each k that every run measured."""
    if not reports:
        raise ValueError("combine at least one run")
    by_run = [
        {estimate.k: estimate for estimate in report.pass_hat_k if estimate.k is not None}
        for report in reports
    ]
    shared = sorted(set.intersection(*(set(run) for run in by_run)))

    def combined(weigh: Callable[[MetricEstimate], float]) -> list[CombinedMetric]:
        metrics = []
        for k in shared:
            estimates = [run[k] for run in by_run]
            weights = [weigh(estimate) for estimate in estimates]
            value = sum(w * e.value for w, e in zip(weights, estimates, strict=True)) / sum(weights)
            tasks = sum(estimate.tasks for estimate in estimates)
            metrics.append(CombinedMetric(metric=f"pass^{k}", k=k, value=value, tasks=tasks))
        return metrics

    return RunsSummary(
        runs=list(reports),
        mean_of_runs=combined(lambda estimate: 1.0),
        pooled=combined(lambda estimate: float(estimate.tasks)),
    )


def render_runs_summary(summary: RunsSummary) -> RenderableType:
    """One row per run (domain, tasks, pass^k), the two combinations, then the runs' models."""
    ks = [metric.k for metric in summary.mean_of_runs]
    table = Table(
        title=f"{len(summary.runs)} runs", title_justify="left", title_style="bold",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    table.add_column("run", overflow="fold")
    table.add_column("domain")
    table.add_column("tasks", justify="right")
    for k in ks:
        table.add_column(f"pass^{k}", justify="right")
    for report in summary.runs:
        values = {estimate.k: estimate.value for estimate in report.pass_hat_k}
        cells = (f"{values[k]:.3f}" for k in ks)
        table.add_row(report.run_id, report.domain, str(len(report.tasks)), *cells)
    table.add_section()
    for label, metrics in (
        ("mean of the runs", summary.mean_of_runs),
        ("all tasks pooled", summary.pooled),
    ):
        tasks = str(metrics[0].tasks) if metrics else ""
        table.add_row(label, "", tasks, *(f"{m.value:.3f}" for m in metrics))
    parts: list[RenderableType] = [table]
    if not ks:
        parts.append(Text("The runs share no k: some run has no scored episode.", style="yellow"))
    models = {(report.agent, report.user) for report in summary.runs}
    if len(models) == 1:
        [(agent, user)] = models
        parts.append(Text(f"agent {agent} · user {user}", style="dim"))
    else:
        for report in summary.runs:
            line = f"{report.run_id}: agent {report.agent} · user {report.user}"
            parts.append(Text(line, style="yellow"))
    return Group(*parts)
