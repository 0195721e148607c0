"""`report --html`: one self-contained, valid HTML file made from the report model and the
run's episodes, where untrusted conversation text is escaped and breaches are marked."""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    RuleBreach,
    RuleResult,
    RuleSeverity,
    RuleStatus,
    ToolResult,
    UserMessage,
)
from policy_agent.report import build_report, load_run, render_html
from tests.report._support import episode, mixed_episodes, reward, write_run

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def assert_valid(document: str) -> None:
    """html5lib in strict mode raises on the first parse error of the WHATWG algorithm."""
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(document)


def hostile_run(runs: Path) -> Path:
    broken = reward(0.0).model_copy(
        update={
            "rules": [
                RuleResult(
                    rule="no_compensation_offered",
                    kind="forbidden_text",
                    severity=RuleSeverity.CRITICAL,
                    description="No <vouchers> & no refunds.",
                    status=RuleStatus.BROKEN,
                    applications=1,
                    breaches=[RuleBreach(record_index=3, message=f"the agent said {HOSTILE}")],
                )
            ]
        }
    )
    messages = [
        UserMessage(content=f"Hi {HOSTILE}"),
        AgentToolCall(call_id="c1", name="get_booking_details", arguments={"booking_id": HOSTILE}),
        ToolResult(
            call_id="c1",
            name="get_booking_details",
            content=f"Booking {HOSTILE} not found.",
            error=True,
        ),
        AgentMessage(content=f"Here is a voucher {HOSTILE}"),
    ]
    hostile = episode("evil</td>", 0, 0.0, messages=messages).model_copy(update={"reward": broken})
    return write_run(runs, [hostile, *mixed_episodes()[:2]])


def test_conversation_text_is_escaped_and_no_script_survives(tmp_path: Path) -> None:
    run = load_run(hostile_run(tmp_path))
    document = render_html(build_report(run, resamples=100), run.episodes)
    assert_valid(document)
    assert "<script" not in document and "<img" not in document
    assert document.count("&lt;script&gt;") == 5  # user, call, result, agent, breach
    assert "evil&lt;/td&gt;#0" in document
    assert "No &lt;vouchers&gt; &amp; no refunds." in document


def test_the_breach_is_marked_on_its_step(tmp_path: Path) -> None:
    run = load_run(hostile_run(tmp_path))
    document = render_html(build_report(run, resamples=100), run.episodes)
    [marked] = re.findall(r'<li value="(\d+)"><div class="step [a-z ]*breach">', document)
    assert marked == "4"
    assert "rule broken: no_compensation_offered: the agent said &lt;script&gt;" in document


def test_the_file_needs_nothing_from_the_network(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, mixed_episodes(), trials=2))
    document = render_html(build_report(run, resamples=100), run.episodes)
    assert_valid(document)
    assert re.findall(r"""(?:src|href)\s*=""", document) == []
    assert "<script" not in document and "@import" not in document
    assert document.count("<svg") == 1 and document.count("<circle") == 2  # pass^1, pass^2


def test_report_html_writes_the_file_and_says_so(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", mixed_episodes(), trials=2)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(run), "--html", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"Wrote {out}" in result.stderr and "Overall" in result.stdout
    assert_valid(out.read_text(encoding="utf-8"))


def test_report_html_into_a_missing_folder_exits_1_naming_it(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", mixed_episodes(), trials=2)
    out = tmp_path / "missing" / "report.html"
    result = CliRunner().invoke(main, ["report", str(run), "--html", str(out)])
    assert result.exit_code == 1 and f"--html {out}: " in result.stderr
