"""Loading a domain pack from its folder, reporting every problem with its file and line."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from policy_agent.domain._checks import PackParts, check_pack
from policy_agent.domain._explain import explain
from policy_agent.domain._file import DomainFile, PolicyFile
from policy_agent.domain._jsonschema import describe
from policy_agent.domain._models import Identifier, Tables, ToolSpec
from policy_agent.domain._pack import DomainPack, PackError, Problem, display_path
from policy_agent.domain._rule_checks import RuleParts, check_rules
from policy_agent.domain._rules import AnyRule, Rule
from policy_agent.domain._source import Locator
from policy_agent.domain._tasks import Task
from policy_agent.domain._user_simulator import (
    GuidelinesFile,
    UserSimulatorSection,
    UserSimulatorSpec,
    tasks_tau2_cannot_show,
)
from policy_agent.yamlsource import (
    Document,
    Loc,
    SourceError,
    YamlCache,
    load_json,
    load_yaml,
    read_text,
    special_file_kind,
)

DOMAIN_FILE = "domain.yaml"
RULES_FILE = "rules.yaml"
"""Read as the `rules` section when `domain.yaml` has none."""
LIST_SECTIONS = {"tools": "tools", "user_tools": "tools", "tasks": "tasks", "rules": "rules"}
"""The sections holding a list, and what their items are called."""
TABLE_SECTIONS = ("database", "user_database")
SECTIONS = ("tools", "user_tools", "database", "user_database", "tasks", "rules")
DATA_SUFFIXES = (".yaml", ".yml", ".json")
M = TypeVar("M", bound=BaseModel)


def load_pack(path: str | Path) -> DomainPack:
    """Load the pack in folder `path` (or whose `domain.yaml` is `path`), checking it through.

    Files named in `domain.yaml` are relative to the pack's folder. Python tool paths are relative
    to the pack's *repository*: the nearest folder, from the pack's own upwards, that holds a
    `.git` or `pyproject.toml`; failing that, the folder above `domains/` when the pack sits in a
    `domains/` folder; failing that, the pack's folder.

    Raises `PackError` listing every problem found in every file, each with its file and line.
    """
    given = Path(path)
    domain_file = given if given.suffix in (".yaml", ".yml") else given / DOMAIN_FILE
    domain_file = domain_file.absolute()
    root = domain_file.parent
    try:
        document = load_yaml(domain_file)
    except SourceError as error:
        missing = SourceError(root, "no such folder; expected a pack folder")
        raise PackError([_source_problem(error if root.is_dir() else missing)], root=root) from None
    return _Loading(root=root, domain_file=domain_file, locator=Locator(domain=document)).run()


def find_repository(root: Path) -> Path:
    """The folder Python tool paths are resolved against (the rule is in `load_pack`)."""
    root = root.resolve()
    for folder in (root, *root.parents):
        if (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            return folder
    if root.parent.name == "domains":
        return root.parent.parent
    return root


@dataclass(kw_only=True)
class _Loading:
    """One load of one pack: the documents read so far and the problems found."""

    root: Path
    domain_file: Path
    locator: Locator
    problems: list[Problem] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    """Sections whose file could not be read (already reported; not validated further)."""

    def run(self) -> DomainPack:
        document = self.locator.domain
        self.add_issues(document, ())
        data = document.data
        if not isinstance(data, dict):
            found = "the file is empty" if data is None else f"found {describe(data)}"
            message = f"{found}; expected a mapping of keys (name, policy, tools, ...)"
            self.problems.append(self.locator.problem((), message))
            raise PackError(self.problems, root=self.root)
        repository = find_repository(self.root)
        sections = {name: self.section(name, data[name]) for name in SECTIONS if name in data}
        if "rules" not in data and (self.root / RULES_FILE).is_file():
            sections["rules"] = self.section("rules", RULES_FILE)
        header: DomainFile | None = self.validate(DomainFile, _with_placeholders(data), ())
        tables: dict[str, Tables | None] = {
            name: None if name in self.unreadable else self.tables(name, sections.get(name, {}))
            for name in TABLE_SECTIONS
        }
        policy = self.policy(header.policy) if header else None
        parts = PackParts(
            root=self.root,
            repository=repository,
            clock=header.clock if header else None,
            sync=header.sync if header else None,
            tools=self.items("tools", sections.get("tools", []), ToolSpec),
            user_tools=self.items("user_tools", sections.get("user_tools", []), ToolSpec),
            tasks=self.items("tasks", sections.get("tasks", []), Task),
            tool_names=_names(sections.get("tools", [])),
            user_tool_names=_names(sections.get("user_tools", [])),
            database=_mapping(sections.get("database")),
            user_database=_mapping(sections.get("user_database")),
        )
        self.problems.extend(check_pack(parts, self.locator))
        rules: list[tuple[int, AnyRule]] = self.any_items("rules", sections.get("rules", []), Rule)
        rule_parts = RuleParts(
            rules=rules,
            tasks=parts.tasks,
            tools=[tool for _, tool in parts.tools],
            user_tool_names=parts.user_tool_names or set(),
            tool_names=parts.tool_names,
            database=parts.database,
        )
        self.problems.extend(check_rules(rule_parts, self.locator))
        user_simulator = self.user_simulator(header.user_simulator, parts.tasks) if header else None
        if self.problems or header is None or policy is None or user_simulator is None:
            raise PackError(self.sorted_problems(), root=self.root)
        return DomainPack(
            root=self.root,
            repository=repository,
            name=header.name,
            description=header.description,
            version=header.version,
            policy=policy,
            clock=header.clock,
            sync=header.sync,
            tools=tuple(tool for _, tool in parts.tools),
            user_tools=tuple(tool for _, tool in parts.user_tools),
            database=tables["database"] or {},
            user_database=tables["user_database"] or {},
            tasks=tuple(task for _, task in parts.tasks),
            user_simulator=user_simulator,
            rules=tuple(rule for _, rule in rules),
        )

    def section(self, name: str, value: object) -> object:
        """A section's data: inline, or read from the file its string names (a big YAML one
        through the user's YAML cache: `YamlCache.from_environment`)."""
        if not isinstance(value, str):
            return value
        file = self.pack_file(value, (name,), suffixes=DATA_SUFFIXES)
        if file is None:
            self.unreadable.add(name)
            return None
        try:
            if file.suffix == ".json":
                document = load_json(file)
            else:
                document = load_yaml(file, cache=YamlCache.from_environment())
        except SourceError as error:
            self.problems.append(_source_problem(error))
            self.unreadable.add(name)
            return None
        self.locator.sections[name] = document
        self.add_issues(document, (name,))
        return document.data

    def tables(self, name: str, data: object) -> Tables | None:
        """A database section as `Tables`, or None with a problem for each thing wrong in it.

        The YAML and JSON loaders give JSON values only, so a section made of tables with
        identifiers for names, each a mapping of records that are mappings, is taken as it is:
        pydantic would only rebuild every value of every record (seconds, and twice the memory,
        at 100,000 records). Any other section is validated in full, for the problems to report.
        """
        if (
            isinstance(data, dict)
            and self.validate(list[Identifier], list(data), (name,), report=False) is not None
            and all(
                isinstance(records, dict) and all(isinstance(r, dict) for r in records.values())
                for records in data.values()
            )
        ):
            return data
        validated: Tables | None = self.validate(Tables, data, (name,))
        return validated

    def items(self, name: str, data: object, model: type[M]) -> list[tuple[int, M]]:
        """The valid items of a list section, with their indexes; problems for the others."""
        return self.any_items(name, data, model)

    def any_items(self, name: str, data: object, root: Any) -> list[tuple[int, Any]]:
        """`items` for any type `root` (a union such as `Rule`)."""
        if name in self.unreadable:
            return []
        if not isinstance(data, list):
            message = f"expected a list of {LIST_SECTIONS[name]}, found {describe(data)}"
            self.problems.append(self.locator.problem((name,), message))
            return []
        valid: list[tuple[int, Any]] = []
        for index, item in enumerate(data):
            result = self.validate(root, item, (name, index))
            if result is not None:
                valid.append((index, result))
        return valid

    def validate(self, root: Any, data: object, prefix: Loc, *, report: bool = True) -> Any:
        """`data` validated as the type `root`, or None with a problem for each error (if
        `report`)."""
        try:
            return _adapter(root).validate_python(data)
        except ValidationError as error:
            if not report:
                return None
            for detail in error.errors():
                found = explain(detail, root)
                self.problems.append(
                    self.locator.problem(
                        (*prefix, *found.loc), found.message, field=(*prefix, *found.field)
                    )
                )
            return None

    def policy(self, policy: str | PolicyFile) -> str | None:
        if isinstance(policy, PolicyFile):
            text = self.text_file(policy.file, ("policy", "file"), "policy")
        else:
            text = policy
        if text is not None and not text.strip():
            self.problems.append(self.locator.problem(("policy",), "the policy is empty"))
            return None
        return text

    def user_simulator(
        self, section: UserSimulatorSection, tasks: list[tuple[int, Task]]
    ) -> UserSimulatorSpec | None:
        """The section with its guidelines read, or None with a problem."""
        loc: Loc = ("user_simulator", "guidelines")
        for index in tasks_tau2_cannot_show(section.format, tasks):
            at = ("tasks", index, "user_scenario", "instructions")
            message = (
                "the pack's user_simulator format is tau2, whose scenario always shows "
                "`Domain:`; give `domain` (e.g. the pack's name)"
            )
            self.problems.append(self.locator.problem(at, message, field=(*at, "domain")))
        guidelines: str | None = None
        if isinstance(section.guidelines, GuidelinesFile):
            guidelines = self.text_file(section.guidelines.file, (*loc, "file"), "guidelines")
            if guidelines is None:
                return None
        else:
            guidelines = section.guidelines
        if guidelines is not None and not guidelines.strip():
            self.problems.append(self.locator.problem(loc, "the guidelines are empty"))
            return None
        return UserSimulatorSpec(guidelines=guidelines, format=section.format)

    def text_file(self, name: str, loc: Loc, what: str) -> str | None:
        """The text of the pack's file `name` (policy, guidelines), or None with a problem."""
        file = self.pack_file(name, loc, suffixes=None)
        if file is None:
            return None
        try:
            return read_text(file)
        except SourceError as error:
            message = f"cannot read the {what} file {display_path(file)}: {error.message}"
            self.problems.append(self.locator.problem(loc, message))
            return None

    def pack_file(self, name: str, loc: Loc, *, suffixes: tuple[str, ...] | None) -> Path | None:
        """The file `name` (relative to the pack's folder), or None with a problem."""
        posix, windows = PurePosixPath(name), PureWindowsPath(name)
        message = None
        if not name.strip():
            message = "expected a file name, found empty text"
        elif posix.is_absolute() or windows.is_absolute() or windows.drive:
            message = f"{name!r} is an absolute path; give a path relative to the pack's folder"
        elif ".." in posix.parts or ".." in windows.parts:
            message = f"{name!r} leaves the pack's folder ('..'); keep the pack's files inside it"
        elif suffixes and posix.suffix not in suffixes:
            message = f"{name!r} should be a {', '.join(suffixes)} file"
        if message is None:
            file = self.root / name
            if not file.resolve().is_relative_to(self.root.resolve()):
                message = f"{name!r} leads outside the pack's folder (through a link)"
            elif file.is_dir():
                message = f"{display_path(file)} is a folder; expected a file"
            elif kind := special_file_kind(file):
                message = f"{display_path(file)} is {kind}, not a regular file"
            elif not file.is_file():
                message = f"file not found: {display_path(file)}"
            else:
                return file
        self.problems.append(self.locator.problem(loc, message))
        return None

    def sorted_problems(self) -> list[Problem]:
        """By file, in the order `domain.yaml` lists its sections; by line within a file."""
        order = [self.domain_file]
        order += [self.locator.sections[s].file for s in SECTIONS if s in self.locator.sections]
        rank = {file: index for index, file in enumerate(order)}
        return sorted(
            self.problems, key=lambda p: (rank.get(p.file, len(order)), str(p.file), p.line or 0)
        )

    def add_issues(self, document: Document, prefix: Loc) -> None:
        for issue in document.issues:
            loc = (*prefix, *issue.loc)
            self.problems.append(self.locator.problem(loc, issue.message, line=issue.line))


def _with_placeholders(data: Mapping[str, object]) -> dict[str, object]:
    """`domain.yaml`'s keys, each section emptied: sections are validated on their own."""
    empty: dict[str, object] = {name: [] for name in LIST_SECTIONS}
    empty |= {name: {} for name in TABLE_SECTIONS}
    return {key: empty.get(key, value) for key, value in data.items()}


def _names(data: object) -> set[str] | None:
    """Every tool name written in a tools section, valid or not; None if the section is broken."""
    if not isinstance(data, list):
        return None
    return {
        item["name"]
        for item in data
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }


def _mapping(data: object) -> Mapping[str, object] | None:
    return data if isinstance(data, dict) else None


def _source_problem(error: SourceError) -> Problem:
    return Problem(
        file=error.file, line=error.line, column=error.column, field="", message=error.message
    )


@functools.cache
def _adapter(root: Any) -> TypeAdapter[Any]:
    return TypeAdapter(root)
