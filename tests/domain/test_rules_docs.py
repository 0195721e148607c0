"""The examples of docs/rules.md are rules the hotel pack loads, and the task example is a task's
`rules` it accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from policy_agent.domain import load_pack
from tests.report._support import copy_hotel

DOC = Path(__file__).parents[2] / "docs" / "rules.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _examples() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rule examples and the task examples (whose elided keys, `...`, are dropped)."""
    rules: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for block in BLOCKS:
        data = yaml.safe_load(block.replace("  ...\n", ""))
        assert isinstance(data, list), block
        (tasks if "id" in data[0] else rules).extend(data)
    return rules, tasks


def test_the_guide_shows_every_kind() -> None:
    rules, tasks = _examples()
    kinds = {rule["kind"] for rule in rules}
    assert kinds == {"after", "forbidden_call", "confirmation", "forbidden_text", "limit"}
    assert [task["id"] for task in tasks] == ["complaint_transfer"]


def test_the_examples_load_with_the_hotel_pack(tmp_path: Path) -> None:
    rules, [example] = _examples()
    pack = copy_hotel(tmp_path)
    (pack / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    tasks = yaml.safe_load((pack / "tasks.yaml").read_text(encoding="utf-8"))
    for task in tasks:
        if task["id"] == example["id"]:
            task["rules"] = example["rules"]
            task["evaluation_criteria"]["reward_basis"] = example["evaluation_criteria"][
                "reward_basis"
            ]
    (pack / "tasks.yaml").write_text(yaml.safe_dump(tasks, sort_keys=False), encoding="utf-8")
    loaded = load_pack(pack)
    assert [rule.name for rule in loaded.rules] == [rule["name"] for rule in rules]
    applied = loaded.rules_for(loaded.task("complaint_transfer"))
    assert "at_most_one_transfer" not in [a.rule.name for a in applied]
    assert applied[-1].rule.name == "no_refund_promised" and applied[-1].source == "task"
