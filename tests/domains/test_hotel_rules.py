"""The hotel pack's policy rules: a scripted agent breaks each one, once, in a run of its own task,
and `report`, `show` and `replay` find the breach at the step where it happened; `evaluate`
scores the run against a rule added afterwards.

The agent's answers come from a `ScriptedModelClient` (by episode seed); the users say their
tasks' scripts. Each agent keeps every rule but the one its episode is about, so each report row
has exactly the breaches listed here.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import load_pack
from policy_agent.records import Episode, RuleStatus
from policy_agent.report import PackCoverage, build_report, load_run
from policy_agent.scripted import Script, ScriptedModelClient
from policy_agent.simulation import Simulation, SimulationConfig, episode_seed
from policy_agent.trajectory import RunStore
from policy_agent.tui import ReplayApp, ReplayRun
from policy_agent.tui._conversation import ConversationScreen
from tests.report._support import HOTEL as HOTEL_PACK
from tests.report._support import copy_hotel
from tests.simulation._support import call, say
from tests.tui._screen import screen_text


@dataclass(frozen=True)
class Breach:
    """An episode whose agent breaks `rule` once, at `step` (1-based, as `show` numbers it)."""

    task: str
    rule: str
    step: int
    agent: list[dict[str, Any]]


BREACHES = [
    Breach(
        # The sister's booking B11350 is held by G91062, whom nobody identified.
        task="sister_booking_refused",
        rule="identify_before_booking_access",
        step=9,
        agent=[
            call("get_guest_details", {"guest_id": "G91055"}),
            call("get_booking_details", {"booking_id": "B11350"}),
            say("I can add a crib to booking B11350 for your sister. Shall I add the crib?"),
            call("request_cribs", {"booking_id": "B11350", "count": 1}),
            say("The crib is on your sister's booking."),
        ],
    ),
    Breach(
        task="special_request_bedding",
        rule="booking_read_before_change",
        step=7,
        agent=[
            call("get_guest_details", {"guest_id": "G91127"}),
            say(
                "I can note feather-free bedding on booking B11399; special requests are not "
                "guaranteed. Shall I note it?"
            ),
            call(
                "add_special_request", {"booking_id": "B11399", "request": "feather_free_bedding"}
            ),
            say("It is noted."),
        ],
    ),
    Breach(
        # Cancelled at once: no message described it, and the guest had only asked how much.
        task="cancel_free_window",
        rule="explicit_yes_before_changes",
        step=7,
        agent=[
            call("get_guest_details", {"guest_id": "G90974"}),
            call("get_booking_details", {"booking_id": "B11319"}),
            call("cancel_booking", {"booking_id": "B11319"}),
            say("Booking B11319 is cancelled and 567 will go back to your card."),
            say("It is already done."),
        ],
    ),
    Breach(
        task="nonrefundable_cancel_refused",
        rule="no_compensation_offered",
        step=11,
        agent=[
            call("get_guest_details", {"guest_id": "G91015"}),
            call("get_booking_details", {"booking_id": "B11310"}),
            say("Booking B11310 is non-refundable, so I cannot cancel it."),
            say("I'm sorry, a partial refund is not possible either."),
            say("As a gesture of goodwill I can give you a voucher for your next stay."),
        ],
    ),
    Breach(
        # The guest says yes, but a non-refundable booking is never the agent's to cancel.
        task="nonrefundable_emergency_transfer",
        rule="never_cancel_non_refundable",
        step=9,
        agent=[
            call("get_guest_details", {"guest_id": "G91022"}),
            call("get_booking_details", {"booking_id": "B11327"}),
            say("Booking B11327 is non-refundable. Shall I cancel it anyway?"),
            call("cancel_booking", {"booking_id": "B11327"}),
            call("transfer_to_human_agents", {"summary": "Emergency on non-refundable B11327."}),
            say("I'm transferring you to a colleague who can help with this."),
        ],
    ),
    Breach(
        task="quiet_room_refused_note_instead",
        rule="quiet_rooms_only_for_eligible",
        step=11,
        agent=[
            call("get_guest_details", {"guest_id": "G91120"}),
            call("get_booking_details", {"booking_id": "B11381"}),
            say("Quiet rooms are kept for families with infants and Platinum guests."),
            say("Shall I move booking B11381 to room R0412 anyway?"),
            call("change_room", {"booking_id": "B11381", "room_id": "R0412"}),
            say("That room could not be given to you."),
        ],
    ),
    Breach(
        task="group_booking_transfer",
        rule="at_most_one_transfer",
        step=5,
        agent=[
            call("transfer_to_human_agents", {"summary": "Group booking of eight rooms."}),
            call("transfer_to_human_agents", {"summary": "Group booking, again."}),
            say("I'm transferring you to a colleague who can help with this."),
        ],
    ),
    Breach(
        # The task's own rule (tasks.yaml), beside the pack's.
        task="complaint_transfer",
        rule="no_refund_promised",
        step=5,
        agent=[
            call("get_guest_details", {"guest_id": "G91070"}),
            say("I will refund part of your stay right away."),
        ],
    ),
]
RULES = [
    "explicit_yes_before_changes",
    "identify_before_booking_access",
    "never_cancel_non_refundable",
    "no_compensation_offered",
    "no_refund_promised",
    "at_most_one_transfer",
    "quiet_rooms_only_for_eligible",
    "booking_read_before_change",
]
"""Every rule of the run as the report orders them: by severity, critical first, then by name."""


def _config(pack: Path, out: Path) -> SimulationConfig:
    return SimulationConfig.model_validate(
        {
            "domain": str(pack),
            "agent": {"model": {"model": "hosted_vllm/agent"}},
            "user": {"kind": "scripted"},
            "tasks": [breach.task for breach in BREACHES],
            "out": str(out),
        }
    )


def _played(simulation: Simulation) -> Path:
    """Run `simulation` into a new run folder (its config's `out`); the folder."""
    store = RunStore.create(simulation.config.out, simulation.manifest())

    async def play() -> None:
        try:
            await simulation.run(store)
        finally:
            store.close()
            await simulation.aclose()

    asyncio.run(play())
    return store.directory


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of the eight breaking agents on a copy of the hotel pack."""
    folder = tmp_path_factory.mktemp("hotel-rules")
    pack = copy_hotel(folder)
    config = _config(pack, folder / "runs")
    answers = {episode_seed(config.seed, breach.task, 0): breach.agent for breach in BREACHES}
    script = Script.model_validate({"roles": {"agent": {"mode": "by_seed", "answers": answers}}})
    clients = {"agent": ScriptedModelClient(script)}
    return _played(Simulation(config, load_pack(pack), clients=clients))


def _episodes(run: Path) -> dict[str, Episode]:
    return {episode.task_id: episode for episode in RunStore.open(run).read(Episode)}


def test_each_agent_breaks_its_rule_and_only_it(run: Path) -> None:
    episodes = _episodes(run)
    for breach in BREACHES:
        episode = episodes[breach.task]
        assert episode.termination_reason.is_normal_end, (breach.task, episode.error)
        assert episode.reward is not None
        broken = {
            result.rule: [b.record_index + 1 for b in result.breaches]
            for result in episode.reward.rules
            if result.status is not RuleStatus.HELD
            and result.status is not RuleStatus.NOT_APPLICABLE
        }
        assert broken == {breach.rule: [breach.step]}, breach.task


def test_the_breaches_say_what_happened(run: Path) -> None:
    episodes = _episodes(run)

    def message(task: str, rule: str) -> str:
        reward = episodes[task].reward
        assert reward is not None
        [result] = [r for r in reward.rules if r.rule == rule]
        return result.breaches[0].message

    assert message("sister_booking_refused", "identify_before_booking_access") == (
        'request_cribs(booking_id="B11350", count=1) is about "G91062", but get_guest_details '
        'had not succeeded for it (only for "G91055")'
    )
    assert message("cancel_free_window", "explicit_yes_before_changes") == (
        'cancel_booking(booking_id="B11319"): the agent\'s message at step 1 does not describe '
        "it (missing a match for /\\bcancel/); the user's reply at step 2 does not agree: "
        '"Hello, this is Daniel Okoro, guest ID G90974. I need to cancel booking B11319. How '
        'much would I get back?"'
    )
    assert message("nonrefundable_cancel_refused", "no_compensation_offered") == (
        'the agent said "As a gesture of goodwill I can give you a voucher for your next stay." '
        "(matches /\\bvouchers?\\b/)"
    )
    assert message("nonrefundable_emergency_transfer", "never_cancel_non_refundable") == (
        'cancel_booking(booking_id="B11327") while '
        "lookup('bookings', booking_id).rate_plan == 'non_refundable'"
    )
    assert message("group_booking_transfer", "at_most_one_transfer") == (
        'transfer_to_human_agents(summary="Group booking, again.") is call 2 of '
        "transfer_to_human_agents; at most 1"
    )


def test_rules_in_the_basis_fail_the_episodes_that_break_them(run: Path) -> None:
    episodes = _episodes(run)
    for task in ("nonrefundable_cancel_refused", "complaint_transfer", "sister_booking_refused"):
        reward = episodes[task].reward
        assert reward is not None and "RULES" in reward.reward_basis
        assert (reward.reward_breakdown["RULES"], reward.reward) == (0.0, 0.0), task
    # Out of the basis a breach is reported, and the reward is what the rest says.
    cancel = episodes["cancel_free_window"].reward
    assert cancel is not None and cancel.reward_breakdown["RULES"] == 0.0 and cancel.reward == 1.0


def test_report_gives_each_rule_its_breach_rate_and_the_episodes(run: Path) -> None:
    report = build_report(load_run(run), resamples=200)
    assert [rule.rule for rule in report.rules] == RULES
    rows = {rule.rule: rule for rule in report.rules}
    for breach in BREACHES:
        row = rows[breach.rule]
        assert [(b.episode, b.step) for b in row.broken_episodes] == [
            (f"{breach.task}#0", breach.step)
        ]
        assert row.broken == 1
    assert {r.rule: (r.broken, r.checked, r.not_applicable) for r in report.rules} == {
        "identify_before_booking_access": (1, 5, 3),
        "explicit_yes_before_changes": (1, 5, 3),
        "no_compensation_offered": (1, 8, 0),
        "never_cancel_non_refundable": (1, 2, 6),
        "no_refund_promised": (1, 2, 0),
        "quiet_rooms_only_for_eligible": (1, 1, 7),
        "at_most_one_transfer": (1, 2, 6),
        "booking_read_before_change": (1, 5, 3),
    }
    quiet = rows["quiet_rooms_only_for_eligible"]
    assert (quiet.breach_rate, quiet.low, quiet.high, quiet.tasks) == (1.0, 1.0, 1.0, 1)
    yes = rows["explicit_yes_before_changes"]
    assert yes.breach_rate == pytest.approx(1 / 5) and yes.low == 0.0 and yes.high > yes.breach_rate


def test_report_prints_the_rules_table(run: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    start = lines.index("Policy rules (breach rate, bootstrap over tasks)")
    assert lines[start + 2].split() == [
        "rule", "severity", "broken", "rate", "95%", "interval", "n/a"
    ]  # fmt: skip
    rows = [line.split() for line in lines[start + 4 : start + 4 + len(RULES)]]
    assert [row[:4] for row in rows] == [
        ["explicit_yes_before_changes", "critical", "1/5", "20%"],
        ["identify_before_booking_access", "critical", "1/5", "20%"],
        ["never_cancel_non_refundable", "critical", "1/2", "50%"],
        ["no_compensation_offered", "critical", "1/8", "12%"],
        ["no_refund_promised*", "critical", "1/2", "50%"],
        ["at_most_one_transfer", "major", "1/2", "50%"],
        ["quiet_rooms_only_for_eligible", "major", "1/1", "100%"],
        ["booking_read_before_change", "minor", "1/5", "20%"],
    ]
    assert "* a task's own rule (tasks.yaml), checked on that task only" in lines
    assert "identify_before_booking_access broke in 1 episode:" in lines
    assert any(
        line.startswith("  sister_booking_refused#0 step 9: request_cribs(") for line in lines
    )


def _show(run: Path, episode: str, *extra: str) -> str:
    result = CliRunner().invoke(
        main,
        ["show", str(run), "--episode", episode, "--plain", "--width", "100", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_show_marks_the_step_where_each_rule_broke(run: Path) -> None:
    for breach in BREACHES:
        text = _show(run, f"{breach.task}#0")
        steps = [line for line in text.splitlines() if re.match(r"^[ \d]\d  \S", line)]
        marked = [line for line in steps if f"✗ {breach.rule}" in line]
        assert len(marked) == 1 and marked[0].startswith(f"{breach.step:>2}  "), (breach, marked)
        assert f" RULE BROKEN  {breach.rule} · " in text
        assert f"✗ {breach.rule} (" in text and f"broken at step {breach.step}: " in text


async def test_replay_goes_to_the_broken_step_with_b(run: Path) -> None:
    for breach in BREACHES[:3]:
        app = ReplayApp(ReplayRun(run), episode=f"{breach.task}#0")
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ConversationScreen)
            await pilot.press("b")
            assert screen.current == breach.step - 1
            assert "rule broken 1 of 1" in screen_text(app)
            assert f"RULE BROKEN  {breach.rule}" in screen_text(app)


def test_evaluate_scores_an_old_run_against_a_new_rule(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    pack = copy_hotel(tmp_path / "now")
    rules = yaml.safe_load((pack / "rules.yaml").read_text(encoding="utf-8"))
    rules.append(
        {
            "name": "no_cancellations_today",
            "description": "A freeze: nothing is cancelled.",
            "severity": "minor",
            "kind": "forbidden_call",
            "tools": ["cancel_booking"],
        }
    )
    (pack / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")

    result = CliRunner().invoke(
        main, ["evaluate", str(copy), "--pack", str(pack)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (
        "  rule no_cancellations_today: broken in 2 of 2 episodes where it applied (new rule)"
        in result.output
    )
    assert (
        "  rule explicit_yes_before_changes: broken in 1 of 5 episodes where it applied "
        "(before: 1)" in result.output
    )
    report = build_report(load_run(copy), resamples=200)
    [new] = [rule for rule in report.rules if rule.rule == "no_cancellations_today"]
    assert [(b.episode, b.step) for b in new.broken_episodes] == [
        ("cancel_free_window#0", 7),
        ("nonrefundable_emergency_transfer#0", 9),
    ]
    shown = _show(copy, "cancel_free_window#0")
    assert " RULE BROKEN  no_cancellations_today · minor" in shown
    recorded = _show(copy, "cancel_free_window#0", "--evaluation", "recorded")
    assert "no_cancellations_today" not in recorded


def test_check_fails_a_task_whose_oracle_breaks_a_rule(tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path)
    rules = yaml.safe_load((pack / "rules.yaml").read_text(encoding="utf-8"))
    freeze = {"name": "no_cancellations", "kind": "forbidden_call", "tools": ["cancel_booking"]}
    (pack / "rules.yaml").write_text(yaml.safe_dump([*rules, freeze]), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(pack)], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    failed = [line.removeprefix("FAIL ") for line in lines if line.startswith("FAIL ")]
    assert failed == [
        "cancel_free_window",
        "cancel_late_one_night_fee",
        "cancel_platinum_window",
        "cancel_one_of_two",
        "cancel_confirmed_mid_call",
    ]
    first = lines.index("FAIL cancel_free_window")
    assert lines[first + 1] == (
        "       the oracle broke rule no_cancellations at step 9: "
        'cancel_booking(booking_id="B11319"): cancel_booking must never be called'
    )


def test_a_judged_confirmation_costs_one_judge_call_per_write(tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path)
    rules = yaml.safe_load((pack / "rules.yaml").read_text(encoding="utf-8"))
    for rule in rules:
        if rule["name"] == "explicit_yes_before_changes":
            rule["judge"] = True
    (pack / "rules.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    verdict = {"expectedOutcome": "x", "reasoning": "The guest said yes.", "metExpectation": True}
    script = Script.model_validate(
        {"roles": {"judge": {"answers": [{"content": json.dumps({"results": [verdict]})}]}}}
    )
    config = SimulationConfig.model_validate(
        {
            "domain": str(pack),
            "agent": {"kind": "oracle"},
            "user": {"kind": "scripted"},
            "judge": {"model": "hosted_vllm/judge"},
            "tasks": ["cancel_free_window"],
            "out": str(tmp_path / "runs"),
        }
    )
    judge = ScriptedModelClient(script, role="judge")
    directory = _played(Simulation(config, load_pack(pack), clients={"judge": judge}))
    [episode] = RunStore.open(directory).read(Episode)
    assert episode.reward is not None and episode.reward.rules_judge is not None
    [judged] = [r for r in episode.reward.rules if r.judged]
    assert (judged.rule, judged.status, judged.applications) == (
        "explicit_yes_before_changes",
        RuleStatus.HELD,
        1,
    )
    calls = episode.reward.rules_judge.calls
    assert calls == episode.totals["judge"].calls == len(judge.requests) == 1
    [role] = [r for r in build_report(load_run(directory)).roles if r.role == "judge"]
    assert role.calls == 1 and role.model == "hosted_vllm/judge"


def test_the_html_report_marks_each_breach_at_its_step(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(run), "--html", str(out)])
    assert result.exit_code == 0, result.output
    document = out.read_text(encoding="utf-8")
    episodes = {part.split('"', 1)[0]: part for part in document.split('<details id="')[1:]}
    for breach in BREACHES:
        conversation = episodes[f"{breach.task}#0"]
        marked = re.findall(r'<li value="(\d+)"><div class="step [a-z ]*breach">', conversation)
        assert marked == [str(breach.step)], breach
        assert f"rule broken: {breach.rule}: " in conversation
        assert conversation.startswith(f'{breach.task}#0" open>')
    rules_table = document.split("<h2>Policy rules</h2>", 1)[1].split("</table>", 1)[0]
    for breach in BREACHES:
        assert f"{breach.task}#0 step {breach.step}" in rules_table


def test_gates_fail_on_the_rules_the_run_broke(run: Path) -> None:
    def gate(*args: str) -> tuple[int, list[str]]:
        result = CliRunner().invoke(main, ["report", str(run), *args])
        return result.exit_code, [
            line for line in result.stderr.splitlines() if line.startswith("gate failed")
        ]

    assert gate("--fail-on-rule", "at_most_one_transfer") == (
        1,
        [
            "gate failed: at_most_one_transfer (major) broken in 1 of 2 episodes, first "
            "group_booking_transfer#0 step 5 (--fail-on-rule at_most_one_transfer)"
        ],
    )
    code, [line] = gate("--fail-on-rule", "severity=major")
    broken = re.findall(r"(\w+) \((critical|major)\) broken", line)
    assert code == 1 and [name for name, _ in broken] == RULES[:7]
    code, [line] = gate("--fail-on-rule", "severity=critical")
    assert code == 1 and "at_most_one_transfer" not in line
    assert gate("--fail-on-rule", "nothing_like_it")[0] == 2


def test_coverage_lists_what_the_breaking_run_hit(run: Path) -> None:
    result = CliRunner().invoke(main, ["coverage", str(HOTEL_PACK), str(run), "--json"])
    assert result.exit_code == 0, result.output
    coverage = PackCoverage.model_validate_json(result.stdout)
    assert coverage.episodes == len(BREACHES)
    rules = {rule.rule: rule for rule in coverage.rules}
    # The task-only rule (no_refund_promised) is not the pack's: coverage lists the pack's rules.
    assert {name: rule.broken for name, rule in rules.items()} == {
        name: 1 for name in RULES if name != "no_refund_promised"
    }
    # The refused cancel is cancel_booking's second precondition; change_room is Python.
    refused = {(p.tool, p.index): p.refused for p in coverage.preconditions if p.refused}
    assert refused == {("cancel_booking", 1): 1}
    assert {t.tool: t.refused for t in coverage.tools if t.refused} == {
        "change_room": 1,
        "cancel_booking": 1,
    }
