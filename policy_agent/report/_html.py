"""`policy-agent report RUN --html FILE`: the report as one self-contained HTML file.

Built from the same `RunReport` the terminal tables show, plus the run's episodes for the
conversations. Nothing is fetched when it is opened: the CSS is inline, the pass^k chart is an
inline SVG, there is no script. Every text that comes from a run (messages, tool arguments and
results, rule messages, task ids) is untrusted and goes through `html.escape`; nothing else
builds markup. Steps are numbered as `show` and `replay` number them (`record_index + 1`), and
each step that broke a rule is marked with the rule's name and message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import assert_never

from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Episode,
    ToolResult,
    UserMessage,
    UserToolCall,
)
from policy_agent.report._model import MetricEstimate, RunReport
from policy_agent.report._runs import LoadedRun
from policy_agent.trajectory import episode_id

__all__ = ["render_html", "write_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1d1d1f;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020;font-weight:600}.good{color:#1a7f37}.dim{color:#666}
details{margin:.4rem 0;border:1px solid #ddd;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer;font-weight:600}
ol.steps{padding-left:2.5rem}ol.steps li{margin:.3rem 0}
.user{background:#eef5ff}.agent{background:#f6f6f6}.call{background:#fff8e6}
.result{background:#f1fbf3}.result.error{background:#fdecee}
.step{padding:.3rem .5rem;border-radius:3px;white-space:pre-wrap;overflow-wrap:anywhere}
.breach{border-left:4px solid #b00020}
.breach-note{display:block;color:#b00020;font-weight:600;margin-top:.2rem}
.who{font-weight:600;margin-right:.4rem}
"""


def write_html(run: LoadedRun, report: RunReport, path: Path) -> None:
    """Write the report and every episode of `run` to `path` (OSError if it cannot), reading
    and writing one episode at a time."""
    with path.open("w", encoding="utf-8") as file:
        file.writelines(_document(report, run.iter_episodes()))


def render_html(report: RunReport, episodes: Iterable[Episode]) -> str:
    """The whole document: scores, pass^k chart, tasks, rules, then every conversation."""
    return "".join(_document(report, episodes))


def _document(report: RunReport, episodes: Iterable[Episode]) -> Iterator[str]:
    """`render_html`'s text in pieces, one per conversation after the report's part."""
    title = f"policy-agent report: {report.run_id}"
    head = [
        f"<h1>{escape(title)}</h1>",
        _facts(report),
        "<h2>Scores</h2>",
        _scores(report),
        "<h2>pass^k</h2>",
        _chart(report.pass_hat_k),
        "<h2>Tasks</h2>",
        _tasks(report),
        "<h2>Policy rules</h2>",
        _rules(report),
        "<h2>Conversations</h2>",
    ]
    yield (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(head)
    )
    for episode in episodes:
        yield "\n" + _episode(episode)
    yield "\n</body>\n</html>\n"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, caption: str = "") -> str:
    """A table from escaped cells: a cell starting `<td` or `<th` is kept as written."""
    names = list(headers)
    head = "".join(f"<th>{escape(h)}</th>" for h in names)
    lines = []
    for row in rows:
        cells = "".join(
            cell if cell.startswith(("<td", "<th")) else f"<td>{cell}</td>" for cell in row
        )
        lines.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if names else ""
    return f"<table>{cap}{thead}<tbody>{''.join(lines)}</tbody></table>"


def _number(text: str, css: str = "n") -> str:
    return f'<td class="{css}">{escape(text)}</td>'


def _facts(report: RunReport) -> str:
    counts = report.episodes
    rows = [
        ("domain", report.domain),
        ("agent", report.agent),
        ("user", report.user),
        ("rewards", report.rewards_from),
        (
            "episodes",
            f"{counts.total} of {counts.planned} planned; {counts.scored} scored, "
            f"{counts.successes} successes, {counts.infrastructure_failures} lost to "
            f"infrastructure, {counts.judge_failures} to the judge, {counts.unevaluated} "
            "unevaluated",
        ),
    ]
    return _table([], ([f"<th>{escape(k)}</th>", escape(v)] for k, v in rows))


def _interval(estimate: MetricEstimate) -> str:
    return f"[{estimate.low:.3f}, {estimate.high:.3f}]"


def _scores(report: RunReport) -> str:
    level = f"{report.confidence:.0%} interval"
    found = [report.average_reward, *report.pass_hat_k, *report.pass_at_k]
    rows = [
        [escape(e.metric), _number(f"{e.value:.3f}"), _number(_interval(e)), _number(str(e.tasks))]
        for e in found
        if e is not None
    ]
    if not rows:
        return '<p class="dim">Nothing was scored.</p>'
    return _table(["metric", "value", level, "tasks"], rows)


def _chart(estimates: Sequence[MetricEstimate]) -> str:
    """pass^k against k as an inline SVG: points, the interval as a bar, the axes labelled."""
    if not estimates:
        return '<p class="dim">No pass^k: nothing was scored.</p>'
    width, height, left, bottom, top = 480, 240, 50, 40, 15
    plot_w, plot_h = width - left - 20, height - bottom - top
    step = plot_w / max(len(estimates), 1)

    def y(value: float) -> float:
        return top + (1.0 - value) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pass^k against k">',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{tick:.2f}</text>'
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" '
            'stroke="#eee"/>'
        )
    points = []
    for index, estimate in enumerate(estimates):
        x = left + step * (index + 0.5)
        points.append(f"{x:.1f},{y(estimate.value):.1f}")
        parts.append(
            f'<line x1="{x:.1f}" y1="{y(estimate.low):.1f}" x2="{x:.1f}" '
            f'y2="{y(estimate.high):.1f}" stroke="#7aa7e0" stroke-width="6"/>'
            f'<circle cx="{x:.1f}" cy="{y(estimate.value):.1f}" r="4" fill="#1f5fbf"/>'
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{estimate.k}</text>'
        )
    parts.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#1f5fbf"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="12" '
        'text-anchor="middle">k</text></svg>'
    )
    return "".join(parts)


def _tasks(report: RunReport) -> str:
    rows = []
    for task in report.tasks:
        rewards = " ".join(f"{reward:g}" for reward in task.rewards)
        average = "—" if task.average_reward is None else f"{task.average_reward:.2f}"
        ends = ", ".join(f"{reason} {count}" for reason, count in sorted(task.early_ends.items()))
        rows.append(
            [
                escape(task.task_id),
                _number(f"{task.successes}/{len(task.rewards)}"),
                _number(average),
                escape(rewards),
                _number(str(task.trials_lost) if task.trials_lost else ""),
                escape(ends),
            ]
        )
    headers = ["task", "successes", "reward", "rewards by trial", "lost", "ended early"]
    return _table(headers, rows)


def _rules(report: RunReport) -> str:
    if not report.rules:
        return '<p class="dim">The run\'s rewards hold no policy rules.</p>'
    rows = []
    for rule in report.rules:
        rate = "—" if rule.breach_rate is None else f"{rule.breach_rate:.0%}"
        interval = "—" if rule.low is None else f"[{rule.low:.0%}, {rule.high:.0%}]"
        broken = _number(f"{rule.broken}/{rule.checked}", "n bad" if rule.broken else "n")
        where = "; ".join(f"{breach.episode} step {breach.step}" for breach in rule.broken_episodes)
        rows.append(
            [
                f'<b>{escape(rule.rule)}</b><br><span class="dim">{escape(rule.description)}'
                "</span>",
                escape(rule.severity.value),
                broken,
                _number(rate),
                _number(interval),
                _number(str(rule.not_applicable)),
                escape(where),
            ]
        )
    level = f"{report.confidence:.0%} interval"
    headers = ["rule", "severity", "broken", "rate", level, "n/a", "broken at"]
    return _table(headers, rows)


def _breaches(episode: Episode) -> dict[int, list[str]]:
    """Record index -> `rule: message` for every breach in the episode's reward."""
    found: dict[int, list[str]] = {}
    for result in episode.reward.rules if episode.reward is not None else ():
        for breach in result.breaches:
            found.setdefault(breach.record_index, []).append(f"{result.rule}: {breach.message}")
    return found


def _episode(episode: Episode) -> str:
    name = episode_id(episode)
    reward = "no reward" if episode.reward is None else f"reward {episode.reward.reward:g}"
    breaches = _breaches(episode)
    count = len(breaches)
    marked = f", {count} step{'' if count == 1 else 's'} broke a rule" if breaches else ""
    steps = []
    for index, record in enumerate(episode.messages):
        notes = breaches.get(index, [])
        css = _css(record) + (" breach" if notes else "")
        marks = "".join(
            f'<span class="breach-note">rule broken: {escape(note)}</span>' for note in notes
        )
        steps.append(
            f'<li value="{index + 1}"><div class="step {css}">{_record(record)}{marks}</div></li>'
        )
    return (
        f'<details id="{escape(name)}"{" open" if breaches else ""}><summary>'
        f"{escape(name)} — {escape(episode.termination_reason.value)}, {escape(reward)}"
        f"{escape(marked)}</summary>"
        f'<ol class="steps">{"".join(steps)}</ol></details>'
    )


def _css(record: ConversationRecord) -> str:
    match record:
        case UserMessage():
            return "user"
        case AgentMessage():
            return "agent"
        case AgentToolCall() | UserToolCall():
            return "call"
        case ToolResult(error=error):
            return "result error" if error else "result"
        case _:
            assert_never(record)


def _arguments(arguments: Mapping[str, object]) -> str:
    """As `show` writes a call's arguments: `booking_id="B1", count=1`."""
    return ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in arguments.items()
    )


def _record(record: ConversationRecord) -> str:
    match record:
        case UserMessage(content=content):
            return f'<span class="who">user</span>{escape(content)}'
        case AgentMessage(content=content):
            return f'<span class="who">agent</span>{escape(content)}'
        case AgentToolCall(name=name, arguments=arguments):
            return (
                f'<span class="who">agent calls</span><code>{escape(name)}'
                f"({escape(_arguments(arguments))})</code>"
            )
        case UserToolCall(name=name, arguments=arguments):
            return (
                f'<span class="who">user calls</span><code>{escape(name)}'
                f"({escape(_arguments(arguments))})</code>"
            )
        case ToolResult(name=name, content=content, error=error):
            label = f"{name} refused" if error else f"{name} returned"
            return f'<span class="who">{escape(label)}</span><code>{escape(content)}</code>'
        case _:
            assert_never(record)
