"""Cross-reference checks, run once every file of a pack has been read and validated.

Each file can be well-formed and the pack still wrong: an op on a table the database does not
have, a task expecting a call to a tool that does not exist, an expression naming an unknown
argument. These checks find such problems; none of them runs any code from the pack (Python tool
files are parsed with `ast`, never imported).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import assert_never

from policy_agent.domain._jsonschema import closest, value_issue
from policy_agent.domain._models import (
    CreateOp,
    DeclarativeOp,
    DeleteOp,
    FindOp,
    GetOp,
    ListOp,
    PythonImplementation,
    RespondOp,
    StepsImplementation,
    ToolKind,
    ToolSpec,
    UpdateOp,
    expression_names,
)
from policy_agent.domain._pack import Problem, display_path
from policy_agent.domain._python_source import parse_python
from policy_agent.domain._source import Locator
from policy_agent.domain._tasks import InitialState, Task
from policy_agent.expressions import ExpressionSyntaxError, compile_expression, compile_template
from policy_agent.records import RewardType
from policy_agent.yamlsource import Loc, special_file_kind

_BASIS_NEEDS = {
    RewardType.ACTION: ("actions", "expected actions"),
    RewardType.ENV_ASSERTION: ("env_assertions", "env_assertions"),
    RewardType.NL_ASSERTION: ("nl_assertions", "nl_assertions"),
}


@dataclass(frozen=True, kw_only=True)
class PackParts:
    """The validated parts of a pack, each with its index in its file, ready to cross-check."""

    root: Path
    repository: Path
    clock: str | None
    sync: str | None
    tools: list[tuple[int, ToolSpec]]
    user_tools: list[tuple[int, ToolSpec]]
    tasks: list[tuple[int, Task]]
    tool_names: set[str] | None = field(default_factory=set)
    """Every tool name written, valid tool or not: a broken tool is reported once, not per use.

    None when the section itself is broken (not a list, a missing file): names are not checked.
    """
    user_tool_names: set[str] | None = field(default_factory=set)
    database: Mapping[str, object] | None = None
    """The tables as written (None: the section is missing or not a mapping; skip table checks)."""
    user_database: Mapping[str, object] | None = None


def check_pack(parts: PackParts, locator: Locator) -> list[Problem]:
    """Every cross-reference problem of the pack, located in its files."""
    checker = _Checker(parts, locator)
    checker.clock()
    for tools, database in ((parts.tools, parts.database), (parts.user_tools, parts.user_database)):
        for _, tool in tools:
            for table, name in written_fields(tool):
                checker.written.setdefault((id(database), table), set()).add(name)
    for section, tools, database in (
        ("tools", parts.tools, parts.database),
        ("user_tools", parts.user_tools, parts.user_database),
    ):
        checker.unique(((section, i, "name"), t.name) for i, t in tools)
        for index, tool in tools:
            checker.tool((section, index), tool, database)
    for section, database in (("database", parts.database), ("user_database", parts.user_database)):
        checker.record_ids(section, database)
    checker.unique(((("tasks", i, "id"), task.id) for i, task in parts.tasks), what="task id")
    if parts.sync is not None:
        checker.sync(parts.sync)
    for index, task in parts.tasks:
        if task.initial_state is not None:
            checker.initial_state(("tasks", index, "initial_state"), task.initial_state)
        checker.task(("tasks", index, "evaluation_criteria"), task)
    return checker.problems


_TYPO = 0.8
"""How alike a new field's name and an existing one's must be for the new one to be taken as a
typo (`membre` and `member` are 0.83; `refill_order` and `refills_remaining` 0.62)."""


@dataclass
class _Checker:
    parts: PackParts
    locator: Locator
    problems: list[Problem] = field(default_factory=list)
    python_files: dict[Path, ast.Module | str] = field(default_factory=dict)
    record_fields: dict[tuple[int, str], set[str]] = field(default_factory=dict)
    """The fields some record of a table has, by the tables' id and the table: read once, as a
    table may hold 100,000 records and many tools name its fields."""
    written: dict[tuple[int, str], set[str]] = field(default_factory=dict)
    """The fields some tool's `values` or `set` writes, by the tables' id and the table: a new
    field is known once a tool writes it."""

    def report(self, loc: Loc, message: str) -> None:
        self.problems.append(self.locator.problem(loc, message))

    def clock(self) -> None:
        if self.parts.clock is None:
            return
        try:
            datetime.fromisoformat(self.parts.clock)
        except ValueError:
            self.report(("clock",), f"'{self.parts.clock}' is not an ISO 8601 time")

    def unique(self, named: Iterable[tuple[Loc, str]], *, what: str = "tool name") -> None:
        first: dict[str, Loc] = {}
        for loc, name in named:
            if name in first:
                line = self.locator.line(first[name])
                self.report(loc, f"duplicate {what} '{name}' (first at line {line})")
            else:
                first[name] = loc

    # ----------------------------------------------------------------------- tools

    def tool(self, loc: Loc, tool: ToolSpec, database: Mapping[str, object] | None) -> None:
        implementation, at = tool.implementation, (*loc, "implementation")
        if isinstance(implementation, PythonImplementation):
            self.python(at, implementation.python, tool.parameters)
        elif isinstance(implementation, StepsImplementation):
            for step, op in enumerate(implementation.steps):
                self.op((*at, "steps", step), tool, op, database, step)
        else:
            self.op(at, tool, implementation, database, None)

    def op(
        self,
        at: Loc,
        tool: ToolSpec,
        op: DeclarativeOp,
        database: Mapping[str, object] | None,
        step: int | None,
    ) -> None:
        scope = set(expression_names(tool, step))
        names = scope - {"record"}  # the key finds the record: it cannot use it
        table = None if isinstance(op, RespondOp) else op.table
        if table is not None and database is not None and table not in database:
            self.report((*at, "table"), _no_such("table", table, database, "the database"))
        own = table if "record" in scope else None
        if isinstance(op, GetOp | UpdateOp | DeleteOp):
            self.expression((*at, "key"), op.key, names, database)
        if isinstance(op, ListOp) and op.after is not None:
            self.expression((*at, "after"), op.after, scope, database, own)
        for i, precondition in enumerate(op.preconditions):
            check, error = precondition.check, precondition.error
            self.expression((*at, "preconditions", i, "check"), check, scope, database, own)
            self.template((*at, "preconditions", i, "error"), error, scope, database, own)
        if op.returns is not None:
            self.expression((*at, "returns"), op.returns, scope, database, own)
        key, values = _field_expressions(op)
        for name, source in values.items():
            self.expression((*at, key, name), source, scope, database, own)
            if key == "match":
                self.field((*at, key, name), table, name, database)
            else:
                self.written_field((*at, key, name), table, name, database)
        if isinstance(op, FindOp | ListOp):
            for i, name in enumerate(op.fields or []):
                self.field((*at, "fields", i), op.table, name, database)
        if isinstance(op, CreateOp) and op.id is not None:
            self.expression((*at, "id"), op.id, names, database)

    def field(
        self, loc: Loc, table: str | None, name: str, database: Mapping[str, object] | None
    ) -> None:
        """A field no record of a (non-empty) table has, and no tool writes, is most likely a
        typo."""
        message = self.unknown_field(table, name, database)
        if message is not None:
            self.report(loc, message)

    def written_field(
        self, loc: Loc, table: str | None, name: str, database: Mapping[str, object] | None
    ) -> None:
        """`values` and `set` may add a field no record has yet, unless its name is so close to
        an existing field's that it is most likely that field mistyped."""
        fields = self.fields_of(table, database)
        if fields is None or name in fields or not table or name == "id":
            return
        close = difflib.get_close_matches(name, sorted(fields), n=1, cutoff=_TYPO)
        if close:
            self.report(
                loc,
                f"no field '{name}' in the records of '{table}' (did you mean '{close[0]}'?); "
                f"to add '{name}' as a new field, give it to one record of '{table}' first",
            )

    def fields_of(
        self, table: str | None, database: Mapping[str, object] | None
    ) -> set[str] | None:
        """The fields some record of `table` has; None when unknown (no such table, or empty)."""
        if database is None or not table:
            return None
        records = database.get(table)
        if not isinstance(records, Mapping) or not records:
            return None
        fields = self.record_fields.get((id(database), table))
        if fields is None:
            fields = {
                key for record in records.values() if isinstance(record, Mapping) for key in record
            }
            self.record_fields[(id(database), table)] = fields
        return fields

    def unknown_field(
        self, table: str | None, name: str, database: Mapping[str, object] | None
    ) -> str | None:
        fields = self.fields_of(table, database)
        if fields is None or name == "id" or name in fields:
            return None
        assert table is not None and database is not None
        written = self.written.get((id(database), table), set())
        if name in written:
            return None
        return _no_such("field", name, fields | written, f"the records of '{table}'")

    def expression(
        self, loc: Loc, source: str, names: Collection[str], db: object, own: str | None = None
    ) -> None:
        self.compile(loc, source, names, db, own, template=False)

    def template(
        self, loc: Loc, source: str, names: Collection[str], db: object, own: str | None = None
    ) -> None:
        self.compile(loc, source, names, db, own, template=True)

    def compile(
        self,
        loc: Loc,
        source: str,
        names: Collection[str],
        db: object,
        own: str | None,
        *,
        template: bool,
    ) -> None:
        """Compile `source`; check the tables it names and the fields it reads (`own` is the
        table `record` comes from)."""
        try:
            compiled = (compile_template if template else compile_expression)(source, names=names)
        except ExpressionSyntaxError as error:
            self.report(loc, _syntax(error))
            return
        if not isinstance(db, Mapping):
            return
        for table in sorted(compiled.tables_used - set(db)):
            self.report(loc, _no_such("table", table, db, "the database"))
        for read_from, name, offset in sorted(compiled.fields_read, key=lambda read: read[2]):
            message = self.unknown_field(read_from or own, name, db)
            if message is not None:
                self.report(loc, f"{message}, read at column {offset + 1} of: {source}")

    def python(
        self, loc: Loc, reference: str, parameters: Collection[str] | None, *, key: str = "python"
    ) -> None:
        """The file exists inside the repository and defines the function, taking the parameters
        (`function(db, **arguments)`; None: the sync hook's `function(db, user_db)`)."""
        at = (*loc, key)
        repository = self.parts.repository
        path, function = reference.rsplit(":", 1)
        file = repository / path
        if not file.resolve().is_relative_to(repository.resolve()):
            self.report(at, f"'{path}' leads outside the repository (through a link)")
            return
        if file.is_dir():
            self.report(at, f"{display_path(file)} is a folder; expected a file")
            return
        if kind := special_file_kind(file):
            self.report(at, f"{display_path(file)} is {kind}, not a regular file")
            return
        if not file.is_file():
            where = display_path(repository)
            self.report(at, f"file not found: {display_path(file)} (in {where})")
            return
        module = self.python_files.get(file)
        if module is None:
            module = self.python_files[file] = parse_python(file)
        if isinstance(module, str):
            self.report(at, module)
            return
        functions = {
            node.name: node
            for node in module.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if function not in functions:
            message = _no_such("function", function, functions, display_path(file))
            self.report(at, message.replace("no function", "no top-level function"))
            return
        if isinstance(functions[function], ast.AsyncFunctionDef):
            # The environment calls tools and hooks inside an episode's synchronous step: nothing
            # would await the coroutine, and every call would fail with a value that is not JSON.
            message = f"{function}() is async; tools and hooks are called synchronously: use def"
            self.report(at, message)
            return
        if parameters is None:
            positional = [*functions[function].args.posonlyargs, *functions[function].args.args]
            if len(positional) < 2 and functions[function].args.vararg is None:
                name = functions[function].name
                message = f"{name}() must take both databases: def {name}(db, user_db)"
                self.report(at, message)
            return
        for message in _signature_problems(functions[function], parameters):
            self.report(at, message)

    # ----------------------------------------------------------------------- data

    def record_ids(self, section: str, database: Mapping[str, object] | None) -> None:
        """A record's own `id` field, when it has one, must be its key."""
        for table, records in (database or {}).items():
            if not isinstance(records, Mapping):
                continue
            for key, record in records.items():
                if isinstance(record, Mapping) and "id" in record and record["id"] != key:
                    message = f"the record's id {record['id']!r} differs from its key {key!r}"
                    self.report((section, table, key, "id"), message)

    # ----------------------------------------------------------------------- tasks

    def task(self, loc: Loc, task: Task) -> None:
        criteria = task.evaluation_criteria
        ids = (
            ((*loc, "actions", i, "action_id"), a.action_id) for i, a in enumerate(criteria.actions)
        )
        self.unique(ids, what="action_id")
        for i, action in enumerate(criteria.actions):
            at = (*loc, "actions", i)
            self.tool_call(at, action.name, action.arguments, user=action.requestor == "user")
            self.compared(at, action.arguments, action.compare_args)
        for i, assertion in enumerate(criteria.env_assertions):
            user = assertion.env_type == "user"
            database = self.parts.user_database if user else self.parts.database
            at = (*loc, "env_assertions", i)
            if assertion.python is not None:
                self.python(at, assertion.python, assertion.arguments)
            elif assertion.check is not None:
                self.expression((*at, "check"), assertion.check, {"now"}, database)
        for basis in criteria.reward_basis:
            key, what = _BASIS_NEEDS.get(basis, ("", ""))
            if key and not getattr(criteria, key):
                message = f"{basis.value} is in the reward basis but the task has no {what}"
                self.report((*loc, "reward_basis"), message)

    def sync(self, reference: str) -> None:
        self.python((), reference, None, key="sync")

    def initial_state(self, loc: Loc, state: InitialState) -> None:
        for section, tables in (
            ("database", self.parts.database),
            ("user_database", self.parts.user_database),
        ):
            for table in getattr(state, section):
                if tables is not None and table not in tables:
                    self.report(
                        (*loc, section, table),
                        _no_such("table", table, tables, f"the pack's {section}"),
                    )
        for i, action in enumerate(state.actions):
            at = (*loc, "actions", i)
            if action.python is not None:
                self.python(at, action.python, action.arguments)
            elif action.name is not None:
                self.tool_call(at, action.name, action.arguments, user=action.side == "user")
        for i, message in enumerate(state.messages):
            if message.tool_call is not None:
                call = message.tool_call
                at = (*loc, "messages", i, "tool_call")
                self.tool_call(at, call.name, call.arguments, user=message.role == "user")

    def tool_call(
        self, loc: Loc, name: str, arguments: Mapping[str, object], *, user: bool
    ) -> None:
        """A call of the agent's (or the user's) tool `name` with these arguments."""
        tools = self.parts.user_tools if user else self.parts.tools
        known = self.parts.user_tool_names if user else self.parts.tool_names
        if known is None:
            return
        if name not in known:
            self.report((*loc, "name"), self.unknown_tool(name, known, user=user))
            return
        tool = next((t for _, t in tools if t.name == name), None)
        if tool is not None:
            self.arguments(loc, arguments, tool)

    def unknown_tool(self, name: str, known: set[str], *, user: bool) -> str:
        other = (self.parts.tool_names if user else self.parts.user_tool_names) or set()
        whose = "user tools" if user else "agent's tools"
        message = _no_such("tool", name, known, f"the {whose}")
        if name in other:
            fix = (
                "an agent tool: remove requestor: user"
                if user
                else "a user tool: add requestor: user"
            )
            message += f"; it is {fix}"
        return message

    def arguments(self, loc: Loc, arguments: Mapping[str, object], tool: ToolSpec) -> None:
        for name, value in arguments.items():
            schema = tool.parameters.get(name)
            if schema is None:
                where = f"the parameters of '{tool.name}'"
                self.report(
                    (*loc, "arguments", name), _no_such("parameter", name, tool.parameters, where)
                )
                continue
            issue = value_issue(schema, value)
            if issue:
                self.report((*loc, "arguments", name), issue)
        for name in tool.required_parameters:
            if name not in arguments:
                self.report(
                    (*loc, "arguments"), f"missing required argument '{name}' of '{tool.name}'"
                )

    def compared(
        self, loc: Loc, arguments: Mapping[str, object], compare: list[str] | None
    ) -> None:
        for i, name in enumerate(compare or []):
            if name not in arguments:
                given = ", ".join(arguments) or "none"
                message = f"'{name}' is not one of the action's arguments ({given})"
                self.report((*loc, "compare_args", i), message)


def written_fields(tool: ToolSpec) -> list[tuple[str, str]]:
    """The (table, field) pairs a declarative tool's `values` or `set` writes."""
    implementation = tool.implementation
    if isinstance(implementation, PythonImplementation):
        return []
    ops = (
        implementation.steps
        if isinstance(implementation, StepsImplementation)
        else [implementation]
    )
    written = []
    for op in ops:
        key, values = _field_expressions(op)
        if key in ("values", "set") and not isinstance(op, RespondOp):
            written += [(op.table, name) for name in values]
    return written


def _field_expressions(op: DeclarativeOp) -> tuple[str, Mapping[str, str]]:
    """The op's expressions per record field, and the key they are written under."""
    match op:
        case FindOp():
            return "match", op.match
        case CreateOp():
            return "values", op.values
        case UpdateOp():
            return "set", op.set
        case GetOp() | ListOp() | DeleteOp() | RespondOp():
            return "", {}
        case _:
            assert_never(op)


def _signature_problems(
    function: ast.FunctionDef | ast.AsyncFunctionDef, parameters: Collection[str]
) -> list[str]:
    """Whether `function(db, **arguments)` can be called with these parameters."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    name = f"{function.name}()"
    if not positional:
        return [f"{name} must take the database first: def {function.name}(db, ...)"]
    # The first positional parameter receives the database; the arguments come as keywords.
    keywords = {a.arg for a in [*args.args, *args.kwonlyargs] if a is not positional[0]}
    problems = [
        f"{name} does not take the parameter '{p}'"
        for p in parameters
        if p not in keywords and args.kwarg is None
    ]
    defaults = len(args.defaults)
    required = [a.arg for a in positional[1 : len(positional) - defaults]]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    problems += [
        f"{name} requires '{p}', which is not a parameter of the tool"
        for p in required
        if p not in parameters
    ]
    return problems


def _no_such(what: str, name: str, choices: Iterable[str], where: str) -> str:
    options = sorted(choices)
    close = closest(name, options)
    if close:
        return f"no {what} '{name}' in {where} (did you mean '{close}'?)"
    listed = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"no {what} '{name}' in {where}; " + (
        f"there are: {listed}" if options else "it is empty"
    )


def _syntax(error: ExpressionSyntaxError) -> str:
    if error.offset is None or error.line is None or error.column is None:
        return f"{error.message}: {error.source}"
    text = error.source.split("\n")[error.line - 1]
    where = (
        f"line {error.line}, column {error.column}"
        if "\n" in error.source
        else f"column {error.column}"
    )
    return f"{error.message} (at {where} of: {text})"


def undescribed_tools(tools: Iterable[ToolSpec]) -> list[str]:
    """A warning for each tool without a description: vLLM renders it `<description>None`.

    Not an error (the pack works), but in template style the server hands the template
    `description: None`, so the model reads the word None where the description belongs.
    """
    return [
        f"tool {tool.name} has no description: the model sees <description>None</description> "
        "when the server renders the tools (template style); add one"
        for tool in tools
        if not tool.description.strip()
    ]


def passed_by_doing_nothing(tools: Iterable[ToolSpec], tasks: Iterable[Task]) -> list[str]:
    """A warning for each task an agent that refuses everything (and calls nothing) passes.

    A task whose expected actions change nothing (no write, nothing the user does) and whose
    reward looks only at the end state (DB, ENV_ASSERTION) cannot tell a correct refusal from a
    refusal of everything: both leave the database as it was. Something must look at the
    conversation: COMMUNICATE with `communicate_info`, ACTION with the reads expected, or the
    judge with `nl_assertions`.
    """
    kinds = {tool.name: tool.kind for tool in tools}
    changing = {ToolKind.WRITE, ToolKind.GENERIC}
    warnings = []
    for task in tasks:
        criteria = task.evaluation_criteria
        basis = set(criteria.reward_basis)
        if any(
            action.requestor == "user" or kinds.get(action.name, ToolKind.GENERIC) in changing
            for action in criteria.actions
        ):
            continue
        looks = (
            (RewardType.COMMUNICATE in basis and criteria.communicate_info)
            or (RewardType.ACTION in basis and criteria.actions)
            or (RewardType.NL_ASSERTION in basis and criteria.nl_assertions)
        )
        if not looks:
            scored = ", ".join(kind.value for kind in criteria.reward_basis) or "nothing"
            fix = (
                "add NL_ASSERTION to its reward_basis (it has nl_assertions), or COMMUNICATE"
                if criteria.nl_assertions
                else "add COMMUNICATE with communicate_info, or NL_ASSERTION with nl_assertions"
            )
            warnings.append(
                f"task {task.id} expects no change and is scored on {scored}: an agent that "
                f"refuses everything passes it; {fix} (docs/packs.md, Scoring a refusal)"
            )
    return warnings


SLOW_YAML_BYTES = 1_000_000
"""A YAML database file from this size on is worth writing as JSON (docs/scale.md, Loading)."""


def slow_yaml_databases(root: Path, sections: Mapping[str, object]) -> list[str]:
    """A warning for each database section of `domain.yaml` (`sections`, its mapping) read from
    a YAML file of 1 MB or more: PyYAML parses such a file at some 2.5 MB/s on each machine's
    first load (later loads read the user's YAML cache), where the same data as JSON loads
    some 10 times faster everywhere, CI's fresh machines included."""
    warnings = []
    for name in ("database", "user_database"):
        value = sections.get(name)
        if not isinstance(value, str) or Path(value).suffix not in (".yaml", ".yml"):
            continue
        try:
            size = (root / value).stat().st_size
        except OSError:
            continue  # the loader has said what is wrong with it
        if size >= SLOW_YAML_BYTES:
            warnings.append(
                f"{name}: {value} is {size / 1e6:.0f} MB of YAML: each machine's first load "
                "parses it slowly (later ones read the YAML cache); as JSON it loads some 10 "
                "times faster everywhere (docs/scale.md, 'For a pack with 100,000 records or "
                "more', converts it)"
            )
    return warnings
