"""Policy rules as a pack carries them: where they are read from, how they are checked against
the pack, what a task changes, and the text matching of confirmations and forbidden text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.domain import (
    AGREED_BY,
    REFUSED_BY,
    ConfirmationRule,
    Description,
    ForbiddenTextRule,
    LimitRule,
    Task,
    load_pack,
    pack_schema,
)
from policy_agent.yamlsource import load_yaml
from tests.domain._support import BASE, pack_data, problems, write_pack

REPOSITORY = Path(__file__).resolve().parents[2]

LEND = {
    "name": "lend_book",
    "kind": "write",
    "parameters": {"book_id": {"type": "string"}, "member": {"type": "string"}},
    "implementation": {"op": "create", "table": "loans", "id": "book_id", "values": {}},
}
TOOLS = [*BASE["tools"], LEND]
TRANSFERS_ONCE = {"name": "one_loan", "kind": "limit", "tools": ["lend_book"], "max_calls": 1}


def _pack(folder: Path, rules: list[dict[str, Any]] | None, **changes: Any) -> Path:
    files = {"rules.yaml": yaml.safe_dump(rules)} if rules is not None else {}
    return write_pack(folder, pack_data(tools=TOOLS, **changes), files)


def test_rules_yaml_beside_domain_yaml_is_read_without_being_named(tmp_path: Path) -> None:
    pack = load_pack(_pack(tmp_path, [TRANSFERS_ONCE]))
    assert [rule.name for rule in pack.rules] == ["one_loan"]
    assert isinstance(pack.rules[0], LimitRule) and pack.rules[0].max_calls == 1


def test_rules_can_be_inline_or_in_a_file_named_by_domain_yaml(tmp_path: Path) -> None:
    inline = load_pack(write_pack(tmp_path / "a", pack_data(tools=TOOLS, rules=[TRANSFERS_ONCE])))
    named = write_pack(
        tmp_path / "b",
        pack_data(tools=TOOLS, rules="policy/rules.yaml"),
        {"policy/rules.yaml": yaml.safe_dump([TRANSFERS_ONCE])},
    )
    assert inline.rules == load_pack(named).rules


def test_a_rules_file_that_is_not_a_list_is_located(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, pack_data(tools=TOOLS), {"rules.yaml": "one_loan: {}\n"})
    assert problems(folder) == [("rules", "expected a list of rules, found a mapping")]


def test_a_pack_without_rules_hashes_as_before_and_rules_change_the_hash(tmp_path: Path) -> None:
    without = load_pack(_pack(tmp_path / "a", None))
    with_rules = load_pack(_pack(tmp_path / "b", [TRANSFERS_ONCE]))
    assert without.rules == () and with_rules.content_hash != without.content_hash
    # A task's dump leaves `rules` out when it changes none: the hash of old packs holds.
    assert "rules" not in without.tasks[0].model_dump(mode="json")


def test_confirmation_covers_every_write_tool_by_default(tmp_path: Path) -> None:
    rule = {"name": "yes", "kind": "confirmation"}
    pack = load_pack(_pack(tmp_path, [rule]))
    [confirmation] = pack.rules
    assert isinstance(confirmation, ConfirmationRule)
    assert confirmation.covered(pack.tools) == {"lend_book"}
    assert confirmation.described_by == Description(tool_words=True)
    assert confirmation.agreed_by == list(AGREED_BY) and confirmation.refused_by == list(REFUSED_BY)


def test_a_confirmation_with_nothing_to_confirm_is_refused(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path, pack_data(), {"rules.yaml": "- {name: yes, kind: confirmation}\n"}
    )
    assert problems(folder) == [
        ("rules[0]", "the pack has no tool of kind write; list the rule's `tools`")
    ]


def test_an_empty_description_is_refused(tmp_path: Path) -> None:
    rule = {"name": "yes", "kind": "confirmation", "described_by": {}}
    assert problems(_pack(tmp_path, [rule])) == [
        (
            "rules[0].described_by",
            "give at least one cue: tool_words: true, arguments or patterns",
        )
    ]


def test_one_subject_expression_is_checked_against_every_tool(tmp_path: Path) -> None:
    rule = {"name": "r", "kind": "after", "tools": ["lend_book"], "after": ["get_book"]}
    fine = load_pack(_pack(tmp_path / "a", [rule | {"subject": "book_id"}]))
    assert fine.rules[0].name == "r"
    # `member` is lend_book's, not get_book's.
    assert problems(_pack(tmp_path / "b", [rule | {"subject": "member"}])) == [
        (
            "rules[0].subject",
            "for get_book: unknown name `member`; known: args, book_id, false, now, null, "
            "result, true (at column 1 of: member)",
        )
    ]


def test_rules_in_the_basis_need_a_rule(tmp_path: Path) -> None:
    task = BASE["tasks"][0] | {
        "evaluation_criteria": {"reward_basis": ["DB", "RULES"]},
        "rules": {"disable": ["one_loan"]},
    }
    assert problems(_pack(tmp_path, [TRANSFERS_ONCE], tasks=[task])) == [
        (
            "tasks[0].evaluation_criteria.reward_basis",
            "RULES is in the reward basis but no rule applies to the task",
        )
    ]


def test_a_task_disables_pack_rules_and_adds_its_own(tmp_path: Path) -> None:
    own = {"name": "one_loan", "kind": "limit", "tools": ["lend_book"], "max_calls": 2}
    text = {"name": "polite", "kind": "forbidden_text", "patterns": ["rude"]}
    task = BASE["tasks"][0] | {"rules": {"disable": ["one_loan"], "add": [own, text]}}
    pack = load_pack(_pack(tmp_path, [TRANSFERS_ONCE], tasks=[task]))
    applied = pack.rules_for(pack.tasks[0])
    assert [(a.rule.name, a.source) for a in applied] == [("one_loan", "task"), ("polite", "task")]
    assert isinstance(applied[0].rule, LimitRule) and applied[0].rule.max_calls == 2


def test_the_committed_rules_schema_takes_the_hotels_rules_and_refuses_a_bad_kind() -> None:
    schema = json.loads((REPOSITORY / "schemas" / "rules.schema.json").read_text("utf-8"))
    assert schema == pack_schema("rules")
    rules_file = REPOSITORY / "domains" / "hotel" / "rules.yaml"
    first = rules_file.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/rules.schema.json"
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(load_yaml(rules_file).data)
    assert not validator.is_valid([{"name": "x", "kind": "forbiden_call", "tools": ["t"]}])
    assert not validator.is_valid([{"name": "x", "kind": "limit", "tools": ["t"], "max": 1}])


def test_a_task_with_rules_reads_back_from_its_dump() -> None:
    task = Task.model_validate(BASE["tasks"][0] | {"rules": {"add": [TRANSFERS_ONCE]}})
    assert Task.model_validate(task.model_dump(mode="json")) == task


# --------------------------------------------------------------------------- text matching


def _confirmation(**fields: Any) -> ConfirmationRule:
    return ConfirmationRule.model_validate({"name": "yes", "kind": "confirmation"} | fields)


def test_tool_words_are_whole_words_of_the_message() -> None:
    rule = _confirmation()
    assert rule.described_by.missing("Shall I cancel booking B1?", "cancel_booking", {}) == []
    assert rule.described_by.missing("Shall I cancel it?", "cancel_booking", {}) == [
        "the word 'booking'"
    ]
    # "bookings" is not the word "booking": no stemming.
    assert rule.described_by.missing("cancel your bookings?", "cancel_booking", {}) == [
        "the word 'booking'"
    ]


def test_argument_values_are_found_with_underscores_and_case_read_alike() -> None:
    description = Description(arguments=["amenity_id", "quantity", "note"])
    arguments: dict[str, Any] = {"amenity_id": "late_checkout", "quantity": 2}
    said = "I can add a Late Checkout for you, 2 of them?"
    assert description.missing(said, "request_amenity", arguments) == []
    assert description.missing("I can add a late check-out?", "request_amenity", arguments) == [
        "amenity_id 'late_checkout'",
        "quantity '2'",
    ]


def test_patterns_per_tool_apply_to_their_tool_only() -> None:
    description = Description(patterns={"cancel_booking": [r"\bcancel"]})
    assert description.missing("Shall I go ahead?", "change_room", {}) == []
    assert description.missing("Shall I go ahead?", "cancel_booking", {}) == [
        "a match for /\\bcancel/"
    ]


@pytest.mark.parametrize(
    ("reply", "agrees"),
    [
        ("Yes, please.", True),
        ("Okay, let's do the upgrade.", True),
        ("That sounds good.", True),
        ("Yes, no problem at all.", True),
        ("How much would that cost?", False),
        ("No, thanks.", False),
        ("Yes, but wait: how much is it?", False),
        ("Please don't cancel it yet.", False),
        ("Yesterday I called already.", False),
    ],
)
def test_the_default_agreement(reply: str, agrees: bool) -> None:
    assert _confirmation().agrees(reply) is agrees


def test_a_bad_pattern_names_itself() -> None:
    with pytest.raises(ValueError, match=r"not a regular expression: .* of '\[a-'"):
        _confirmation(agreed_by=["[a-"])


def test_forbidden_text_is_read_sentence_by_sentence() -> None:
    rule = ForbiddenTextRule.model_validate(
        {
            "name": "no_vouchers",
            "kind": "forbidden_text",
            "patterns": [r"\bvouchers?\b"],
            "unless": [r"\b(not|cannot|can't)\b"],
        }
    )
    assert rule.offending("I cannot offer a voucher. Sorry.") is None
    assert rule.offending("I cannot cancel it. But here is a VOUCHER!\nBye.") == (
        "But here is a VOUCHER!",
        r"\bvouchers?\b",
    )


_WORDS = st.text(alphabet="abcdefgh ", max_size=30)


@given(before=_WORDS, after=_WORDS)
def test_a_sentence_with_an_unless_pattern_is_never_offending(before: str, after: str) -> None:
    rule = ForbiddenTextRule.model_validate(
        {"name": "r", "kind": "forbidden_text", "patterns": ["voucher"], "unless": ["cannot"]}
    )
    sentence = f"{before} voucher {after} cannot"
    assert rule.offending(sentence) is None
    assert rule.offending(sentence.replace("cannot", "")) == (
        " ".join(sentence.replace("cannot", "").split(" ")).strip(),
        "voucher",
    )
