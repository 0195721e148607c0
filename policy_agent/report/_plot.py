"""pass^k against k: a bar chart drawn in the terminal, and a PNG (with the `plot` extra).

The terminal chart needs nothing beyond rich. The PNG is drawn by matplotlib, an optional
dependency (`pip install 'policy-agent[plot]'`), imported only when a PNG is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from policy_agent.errors import PolicyAgentError
from policy_agent.report._model import MetricEstimate, RunReport

BAR_WIDTH = 40
"""Character cells of a full bar (a value of 1)."""


class PlotUnavailable(PolicyAgentError):
    """A PNG was asked for but matplotlib is not installed."""


def pass_hat_chart(estimates: Sequence[MetricEstimate], *, width: int = BAR_WIDTH) -> Group:
    """One bar per k: solid up to the interval's low end, shaded to the value, light to its
    high end, so the bar's length is the value and its fuzzy end the uncertainty."""
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right")
    table.add_column()
    for estimate in estimates:
        low, value, high = (round(x * width) for x in (estimate.low, estimate.value, estimate.high))
        value = max(low, value)
        high = max(value, high)
        bar = Text.assemble(
            ("█" * low, "green"),
            ("▓" * (value - low), "green"),
            ("░" * (high - value), "green"),
            ("·" * (width - high), "dim"),
        )
        table.add_row(
            f"k={estimate.k}",
            bar,
            f"{estimate.value:.3f}",
            Text(f"[{estimate.low:.3f}, {estimate.high:.3f}]", style="dim"),
        )
    legend = Text(
        "pass^k against k: █ to the interval's low end, ▓ to the value, ░ to its high end",
        style="dim",
    )
    parts: list[RenderableType] = [legend, table]
    return Group(*parts)


def write_png(report: RunReport, path: Path) -> None:
    """Draw pass^k (with its interval as a band) and pass@k against k into the PNG `path`.

    `PlotUnavailable` names the extra to install when matplotlib is missing; ValueError when
    the run has no scored episodes to plot.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "writing a PNG needs matplotlib, which is not installed: "
            "pip install 'policy-agent[plot]' (or pip install 'matplotlib>=3.8')"
        ) from None
    if not report.pass_hat_k:
        raise ValueError(f"run {report.run_id} has no scored episodes: there is nothing to plot")
    ks = list(range(1, len(report.pass_hat_k) + 1))  # pass^k is listed for k = 1..K
    # No pyplot: a bare Figure keeps no global state and needs no display.
    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.fill_between(
        ks,
        [e.low for e in report.pass_hat_k],
        [e.high for e in report.pass_hat_k],
        alpha=0.25,
        label=f"pass^k, {report.confidence:.0%} interval",
    )
    axes.plot(ks, [e.value for e in report.pass_hat_k], marker="o", label="pass^k")
    axes.plot(ks, [e.value for e in report.pass_at_k], marker=".", linestyle="--", label="pass@k")
    axes.set_xticks(ks)
    axes.set_xlim(min(ks) - 0.25, max(ks) + 0.25)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("k (trials)")
    axes.set_ylabel("share of tasks")
    axes.set_title(f"{report.run_id}: {report.episodes.scored} scored episodes")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path, format="png")
